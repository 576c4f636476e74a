//! Authentication details an attacker or an auditor checks: lockout of
//! names that do not exist (same answers and comparable timing as real
//! accounts), HSTS, private state files under a permissive umask,
//! case-folded user names, role changes and disabling that take effect on
//! live access tokens at once, and the audit of rate-limited attempts and
//! refreshes.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use crate::common::admin::{self, AdminServer, client, header};
use crate::common::{Headend, headend_bin};

const PW: &str = "correct horse battery";

fn login(s: &AdminServer, c: &Client, user: &str, pw: &str) -> Response {
    c.post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .expect("login")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The admin API with a real Argon2 cost (19 MiB, 2 passes: the OWASP
/// minimum), so that timing compares hashing and not noise.
fn start_with_real_argon2(limits: &str) -> AdminServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = crate::common::free_port();
    let config = format!(
        "[general]\nstate_dir = \"state\"\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n{limits}\n[admin.argon2]\nmemory_kib = 19456\niterations = 2\nparallelism = 1\n"
    );
    AdminServer {
        headend: Headend::start_in(dir, &config),
        port,
        dns_port: 0,
        base: format!("https://127.0.0.1:{port}"),
    }
}

#[test]
fn an_unknown_name_locks_exactly_like_a_real_account() {
    let s = start_with_real_argon2(
        "[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\nlockout_after = 5\nlockout_base = 30\nlockout_max = 60\n",
    );
    s.add_user("alice", "viewer", PW);
    let c = client();
    // Warm up the connection so the first sample is not a handshake.
    assert_eq!(s.get_status(&c, "/health", None), 200);
    // Interleaved, so that load from other tests hits both names alike.
    let mut took = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (i, name) in ["alice", "ghost"].into_iter().enumerate() {
            let t = Instant::now();
            let r = login(&s, &c, name, "wrong password");
            took[i].push(t.elapsed());
            assert_eq!(r.status().as_u16(), 401, "{name}");
            let body: Value = r.json().expect("json");
            assert_eq!(body["message"], "invalid username or password");
        }
    }
    for name in ["alice", "ghost"] {
        // The sixth attempt, even with the right password, is locked out.
        let r = login(&s, &c, name, PW);
        assert_eq!(r.status().as_u16(), 429, "{name} not locked");
        let retry: u64 = header(&r, "retry-after")
            .expect("Retry-After")
            .parse()
            .expect("number");
        assert!((29..=30).contains(&retry), "{name}: Retry-After {retry}");
        let body: Value = r.json().expect("json");
        assert_eq!(body["error"], "rate_limited", "{name}");
    }
    let [known, unknown] = took.map(median);
    eprintln!("median failed login: known {known:?}, unknown {unknown:?}");
    // Both run Argon2 (the unknown name against a dummy hash).
    assert!(
        unknown * 3 >= known && known * 3 >= unknown,
        "timing tells names apart: known {known:?}, unknown {unknown:?}"
    );
    // Another spelling of the locked name is the same name.
    assert_eq!(login(&s, &c, "GHOST", PW).status().as_u16(), 429);
}

#[test]
fn every_answer_carries_strict_transport_security() {
    let s = admin::start("");
    let c = client();
    for (path, status) in [
        ("/health", 200),
        ("/api/v1/me", 401),
        ("/no/such/route", 404),
    ] {
        let r = c.get(s.url(path)).send().expect("get");
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(
            header(&r, "strict-transport-security").as_deref(),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let s = admin::start("hsts_max_age = 63072000\n");
    let r = c.get(s.url("/health")).send().expect("get");
    assert_eq!(
        header(&r, "strict-transport-security").as_deref(),
        Some("max-age=63072000")
    );
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[test]
fn state_files_are_private_under_umask_022_and_exposed_ones_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = crate::common::free_port();
    let config = format!(
        "[general]\nstate_dir = \"state\"\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n[admin.argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
    );
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, config).expect("config");
    let under_umask = || {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "umask 022 && exec \"$0\" \"$@\""])
            .arg(headend_bin());
        cmd
    };
    let h = Headend::spawn_with(under_umask(), dir, path.clone());
    // Adding a user writes the database (and its WAL) while the server runs.
    let out = Command::new(headend_bin())
        .args(["user", "-c"])
        .arg(&path)
        .args(["add", "alice", "--role", "viewer", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write as _;
            ch.stdin
                .take()
                .expect("stdin")
                .write_all(b"correct horse battery\n")?;
            ch.wait()
        })
        .expect("user add");
    assert!(out.success());
    let state = h.dir.path().join("state");
    assert_eq!(mode(&state), 0o700, "state directory");
    let mut checked = 0;
    for entry in std::fs::read_dir(&state).expect("read state") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            assert_eq!(
                mode(&entry.path()),
                0o600,
                "{} is not private",
                entry.path().display()
            );
            checked += 1;
        }
    }
    assert!(
        state.join("headend.db").exists() && checked >= 3,
        "expected the database and the keys, checked {checked}"
    );
    assert!(!h.logs().iter().any(|l| l.contains("readable by group")));

    // A file made readable (an older version, a careless copy) is reported at start.
    let mut h = h;
    h.stop();
    std::fs::set_permissions(
        state.join("headend.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let dir = std::mem::replace(&mut h.dir, tempfile::tempdir().expect("tempdir"));
    let h2 = Headend::spawn_with(under_umask(), dir, path);
    let warned = h2
        .logs()
        .iter()
        .any(|l| l.contains("readable by group or others") && l.contains("headend.db"));
    assert!(warned, "no warning:\n{}", h2.logs().join("\n"));
}

#[test]
fn user_names_are_case_folded() {
    let s = admin::start("[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\n");
    s.add_user("Alice", "admin", PW);
    let out = s.user_cmd(&["list"], "");
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(list.contains("alice ") && !list.contains("Alice"), "{list}");
    // The same name in another case is the same account.
    let dup = s.user_cmd(
        &["add", "ALICE", "--role", "viewer", "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(!dup.status.success(), "ALICE added beside alice");
    let c = client();
    let r = login(&s, &c, "ALICE", PW);
    assert_eq!(r.status().as_u16(), 200);
    let token = r.json::<Value>().expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me: Value = c
        .get(s.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .expect("me")
        .json()
        .expect("json");
    assert_eq!(me["user"], "alice");
    let add = |name: &str| {
        c.post(s.url("/api/v1/users"))
            .bearer_auth(&token)
            .json(&json!({"username": name, "password": PW, "role": "viewer"}))
            .send()
            .expect("add")
    };
    let r = add("Bob");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.json::<Value>().expect("json")["username"], "bob");
    assert_eq!(add("BOB").status().as_u16(), 409);
    assert_eq!(login(&s, &c, "bOb", PW).status().as_u16(), 200);
}

fn status(c: &Client, s: &AdminServer, method: &str, path: &str, token: &str) -> u16 {
    let r = match method {
        "POST" => c.post(s.url(path)),
        _ => c.get(s.url(path)),
    };
    r.bearer_auth(token)
        .send()
        .expect("request")
        .status()
        .as_u16()
}

#[test]
fn lowering_a_role_or_disabling_a_user_takes_effect_on_live_tokens_at_once() {
    let s = admin::start("[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\n");
    s.add_user("root", "admin", PW);
    s.add_user("op", "operator", PW);
    let c = client();
    let admin_token = s.token(&c, "root", PW);
    let op = s.login(&c, "op", PW);
    let op_token = op["access_token"].as_str().expect("token").to_owned();
    let reload = "/api/v1/zones/e2e.test/reload";
    assert_eq!(status(&c, &s, "POST", reload, &op_token), 200);

    // Lowered through the API: the operator token stops working at once.
    let r = c
        .put(s.url("/api/v1/users/OP/role"))
        .bearer_auth(&admin_token)
        .json(&json!({"role": "viewer"}))
        .send()
        .expect("role");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status(&c, &s, "POST", reload, &op_token), 401);
    assert_eq!(status(&c, &s, "GET", "/api/v1/me", &op_token), 401);
    // The session lives on: a refresh gets a token with the new role.
    let refreshed: Value = c
        .post(s.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": op["refresh_token"]}))
        .send()
        .expect("refresh")
        .json()
        .expect("json");
    let viewer_token = refreshed["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(status(&c, &s, "GET", "/api/v1/me", &viewer_token), 200);
    assert_eq!(status(&c, &s, "POST", reload, &viewer_token), 403);

    // Raised with the CLI on the state directory: the running server picks
    // the change up within seconds, and the viewer token dies.
    let out = s.user_cmd(&["role", "op", "operator"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(6);
    while status(&c, &s, "GET", "/api/v1/me", &viewer_token) != 401 {
        assert!(Instant::now() < deadline, "CLI role change not picked up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Disabled: every live token of the user dies at once.
    let op_token = s.token(&c, "op", PW);
    assert_eq!(status(&c, &s, "POST", reload, &op_token), 200);
    let r = c
        .post(s.url("/api/v1/users/op/disable"))
        .bearer_auth(&admin_token)
        .send()
        .expect("disable");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status(&c, &s, "GET", "/api/v1/me", &op_token), 401);
}

#[test]
fn rate_limited_logins_and_successful_refreshes_are_audited() {
    let s = admin::start("[admin.limits]\nlogin_per_minute = 1\nlogin_burst = 3\n");
    s.add_user("root", "admin", PW);
    let c = client();
    let first = s.login(&c, "root", PW);
    let token = first["access_token"].as_str().expect("token").to_owned();
    let r = c
        .post(s.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": first["refresh_token"]}))
        .send()
        .expect("refresh");
    assert_eq!(r.status().as_u16(), 200);
    let mut limited = 0;
    for i in 0..12 {
        let r = login(&s, &c, &format!("nobody{i}"), "x");
        if r.status().as_u16() == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 9, "only {limited} attempts were rate limited");
    let audit: Value = c
        .get(s.url("/api/v1/audit?limit=1000"))
        .bearer_auth(&token)
        .send()
        .expect("audit")
        .json()
        .expect("json");
    let entries = audit["entries"].as_array().expect("entries");
    let with = |action: &str, result: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["result"] == result)
            .count()
    };
    assert_eq!(with("refresh", "ok"), 1, "{audit:#}");
    // Aggregated: one entry for the first refusal of the minute, the rest
    // summed when the minute is over (not one entry per attempt).
    let refused = with("login", "rate limited");
    assert!(
        (1..=2).contains(&refused),
        "{refused} rate-limit entries for {limited} refusals: {audit:#}"
    );
}
