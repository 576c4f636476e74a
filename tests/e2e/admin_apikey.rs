//! API keys end to end: made with `headend ctl apikey`, used as
//! `Authorization: Bearer hk_...` and `X-API-Key`, narrowed by scopes,
//! allowed sources and expiry, rate-limited per key with the IETF RateLimit
//! headers, audited with the key's name, rotated with a grace period and
//! revoked; on a shared PostgreSQL store a key revoked through one server is
//! refused by the other within 2 s. No key secret reaches the logs, the
//! audit log or the database.

use crate::common;

use std::time::{Duration, Instant};

use common::admin::{self, AdminServer, client, ctl, header};
use common::{Headend, headend_bin};
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

const PW: &str = "correct horse battery";

fn with_key(
    s_url: &str,
    c: &Client,
    method: &str,
    path: &str,
    key: &str,
    x_api_key: bool,
    body: Option<Value>,
) -> Response {
    let mut r = c.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{s_url}{path}"),
    );
    r = if x_api_key {
        r.header("X-API-Key", key)
    } else {
        r.bearer_auth(key)
    };
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().expect("request")
}

fn ok_ctl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = ctl(dir, args, "");
    assert!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn put_lease(s: &AdminServer, last: u8) {
    let store =
        headend_store::Store::open_sqlite_existing(s.state_dir().join("headend.db")).unwrap();
    let mut tx = store.begin().unwrap();
    tx.put(&headend_store::Lease {
        address: std::net::Ipv4Addr::new(10, 0, 0, last),
        subnet: "lan".into(),
        client_key: vec![1, last],
        hwaddr: vec![0, 1, 2, 3, 4, last],
        client_id: None,
        hostname: None,
        state: headend_store::LeaseState::Bound,
        expires: u64::MAX / 4,
        circuit_id: None,
        remote_id: None,
        class: None,
        server: None,
    })
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn api_key_from_ctl_is_scoped_limited_audited_rotated_and_revoked() {
    let s = admin::start("[admin.api_keys]\nrate_per_second = 1000\n");
    s.add_user("ada", "admin", PW);
    s.add_user("vic", "viewer", PW);
    put_lease(&s, 5);
    let c = client();
    let dir = tempfile::tempdir().unwrap();
    let out = ctl(
        dir.path(),
        &["login", &s.base, "--user", "ada", "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Made once, printed once: hk_ + 16 hex + _ + 43 base64url.
    let key = ok_ctl(
        dir.path(),
        &[
            "apikey",
            "create",
            "--name",
            "billing",
            "--role",
            "operator",
            "--scope",
            "zone:e2e.test",
            "--expires",
            "90d",
            "--allow",
            "127.0.0.0/8",
        ],
    )
    .trim()
    .to_owned();
    assert!(
        key.starts_with("hk_") && key.len() == 3 + 16 + 1 + 43,
        "{key}"
    );
    let prefix = &key[..19];

    // Both headers work; the answer carries the rate-limit state.
    for x in [false, true] {
        let r = with_key(&s.base, &c, "GET", "/api/v1/me", &key, x, None);
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            header(&r, "ratelimit-policy").as_deref(),
            Some("\"key\";q=1000;w=1")
        );
        assert!(header(&r, "ratelimit").unwrap().starts_with("\"key\";r="));
        let me: Value = r.json().unwrap();
        assert_eq!(me["user"], "apikey:billing");
        assert_eq!(me["role"], "operator");
    }
    // In its zone: an edit works, and is audited with the key's name.
    let r = with_key(
        &s.base,
        &c,
        "PUT",
        "/api/v1/zones/e2e.test/records/billing/A",
        &key,
        false,
        Some(json!({"ttl": 60, "rdata": ["192.0.2.77"]})),
    );
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    // Another zone, a lease, a reservation, users: 403.
    let r = with_key(
        &s.base,
        &c,
        "GET",
        "/api/v1/zones/other.test",
        &key,
        false,
        None,
    );
    assert_eq!(r.status().as_u16(), 403);
    let r = with_key(
        &s.base,
        &c,
        "POST",
        "/api/v1/leases/10.0.0.5/release",
        &key,
        false,
        None,
    );
    assert_eq!(r.status().as_u16(), 403);
    let body = json!({"subnet": "lan", "hwaddr": "aa:bb:cc:dd:ee:01", "address": "10.0.0.50"});
    let r = with_key(
        &s.base,
        &c,
        "POST",
        "/api/v1/reservations",
        &key,
        false,
        Some(body),
    );
    assert_eq!(r.status().as_u16(), 403);
    let r = with_key(&s.base, &c, "GET", "/api/v1/leases", &key, false, None);
    let leases: Value = r.json().unwrap();
    assert_eq!(leases["leases"], json!([]), "no lease is in a zone scope");
    let r = with_key(&s.base, &c, "GET", "/api/v1/users", &key, false, None);
    assert_eq!(r.status().as_u16(), 403);
    // A viewer may not manage keys; a bad key, or a JWT, is not a key.
    let vic = s.token(&c, "vic", PW);
    assert_eq!(s.get_status(&c, "/api/v1/apikeys", Some(&vic)), 403);
    let wrong = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    let r = with_key(&s.base, &c, "GET", "/api/v1/me", &wrong, false, None);
    assert_eq!(r.status().as_u16(), 401);
    let r = with_key(&s.base, &c, "GET", "/api/v1/me", &vic, true, None);
    assert_eq!(r.status().as_u16(), 401, "a JWT in X-API-Key");

    // The listing shows the key without its secret.
    let list = ok_ctl(dir.path(), &["apikey", "list"]);
    assert!(
        list.contains(prefix) && list.contains("billing") && list.contains("zone:e2e.test"),
        "{list}"
    );
    assert!(!list.contains(&key[20..]), "the secret is listed: {list}");

    // Allowed sources: a key for 192.0.2.0/24 only is refused from loopback.
    let far = ok_ctl(
        dir.path(),
        &[
            "apikey",
            "create",
            "--name",
            "far",
            "--allow",
            "192.0.2.0/24",
        ],
    );
    let r = with_key(&s.base, &c, "GET", "/api/v1/me", far.trim(), false, None);
    assert_eq!(r.status().as_u16(), 403);
    // Expiry.
    let brief = ok_ctl(
        dir.path(),
        &["apikey", "create", "--name", "brief", "--expires", "1s"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while with_key(&s.base, &c, "GET", "/api/v1/me", brief.trim(), false, None)
        .status()
        .as_u16()
        != 401
    {
        assert!(Instant::now() < deadline, "the expired key still works");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Its own rate: 3 per second, then 429 with Retry-After.
    let slow = ok_ctl(
        dir.path(),
        &["apikey", "create", "--name", "slow", "--rate", "3"],
    );
    let codes: Vec<(u16, Option<String>, Option<String>)> = (0..6)
        .map(|_| {
            let r = with_key(
                &s.base,
                &c,
                "GET",
                "/api/v1/zones",
                slow.trim(),
                false,
                None,
            );
            (
                r.status().as_u16(),
                header(&r, "retry-after"),
                header(&r, "ratelimit"),
            )
        })
        .collect();
    assert!(codes[..3].iter().all(|(c, _, _)| *c == 200), "{codes:?}");
    let limited: Vec<_> = codes.iter().filter(|(c, _, _)| *c == 429).collect();
    assert!(!limited.is_empty(), "{codes:?}");
    assert!(
        limited
            .iter()
            .all(|(_, ra, rl)| ra.is_some() && rl.as_deref().is_some_and(|v| v.contains("r=0"))),
        "{codes:?}"
    );

    // Rotation: the new secret works, the old one during the grace period,
    // not after a rotation with no grace.
    let new = ok_ctl(
        dir.path(),
        &["apikey", "rotate", "billing", "--grace", "1h"],
    )
    .trim()
    .to_owned();
    assert_ne!(new, key);
    assert!(new.starts_with(prefix), "the prefix stays");
    for k in [&key, &new] {
        assert_eq!(
            with_key(&s.base, &c, "GET", "/api/v1/me", k, false, None)
                .status()
                .as_u16(),
            200
        );
    }
    let newer = ok_ctl(dir.path(), &["apikey", "rotate", "billing", "--grace", "0"])
        .trim()
        .to_owned();
    assert_eq!(
        with_key(&s.base, &c, "GET", "/api/v1/me", &newer, false, None)
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        with_key(&s.base, &c, "GET", "/api/v1/me", &new, false, None)
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        with_key(&s.base, &c, "GET", "/api/v1/me", &key, false, None)
            .status()
            .as_u16(),
        401
    );

    // Revocation: the next request is refused.
    ok_ctl(dir.path(), &["apikey", "revoke", "billing"]);
    assert_eq!(
        with_key(&s.base, &c, "GET", "/api/v1/me", &newer, true, None)
            .status()
            .as_u16(),
        401
    );

    // Audit: the key's name as the actor of its edit, the admin of the key's life.
    let ada = s.token(&c, "ada", PW);
    let audit: Value = c
        .get(s.url("/api/v1/audit"))
        .bearer_auth(&ada)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let entries = audit["entries"].as_array().expect("entries");
    let has = |actor: &str, action: &str, result: &str| {
        entries
            .iter()
            .any(|e| e["actor"] == actor && e["action"] == action && e["result"] == result)
    };
    assert!(has("apikey:billing", "record.set", "ok"), "{audit}");
    assert!(has("ada", "apikey.create", "ok"), "{audit}");
    assert!(has("ada", "apikey.rotate", "ok"), "{audit}");
    assert!(has("ada", "apikey.revoke", "ok"), "{audit}");

    let secrets: Vec<String> = [&key, &new, &newer, &far, &brief, &slow]
        .iter()
        .map(|k| k.trim()[20..].to_owned())
        .collect();
    s.assert_no_secrets(&secrets);
}

/// `[general]` and `[store]` on the shared database with the admin API.
fn pg_config(url: &str, state: &str, port: u16, kek: &std::path::Path) -> String {
    format!(
        r#"
[general]
state_dir = "{state}"
[store]
backend = "postgres"
url = "{url}"
pool = 2
[admin]
listen = "127.0.0.1:{port}"
kek_file = "{kek}"
[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#,
        kek = kek.display()
    )
}

#[test]
fn a_key_revoked_on_one_server_is_refused_by_the_other_within_two_seconds() {
    let db = crate::store_postgres::pg_cluster::Db::new();
    let (pa, pb) = (common::free_port(), common::free_port());
    let shared = tempfile::tempdir().expect("tempdir");
    let kek = crate::admin_keys_shared::shared_kek(shared.path());
    let a = Headend::start(&pg_config(&db.socket_url(), "state-a", pa, &kek));
    let b = Headend::start(&pg_config(&db.socket_url(), "state-b", pb, &kek));
    let out = std::process::Command::new(headend_bin())
        .args(["user", "-c"])
        .arg(&a.config)
        .args(["add", "ada", "--role", "admin", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{PW}\n").as_bytes())?;
            child.wait_with_output()
        })
        .expect("headend user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (url_a, url_b) = (
        format!("https://127.0.0.1:{pa}"),
        format!("https://127.0.0.1:{pb}"),
    );
    let c = client();
    let login: Value = c
        .post(format!("{url_a}/api/v1/auth/login"))
        .json(&json!({"username": "ada", "password": PW}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["access_token"].as_str().expect("token").to_owned();
    let made: Value = c
        .post(format!("{url_a}/api/v1/apikeys"))
        .bearer_auth(&token)
        .json(&json!({"name": "monitor", "role": "viewer"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let key = made["key"].as_str().expect("key").to_owned();
    // Made on A, good on B.
    assert_eq!(
        with_key(&url_b, &c, "GET", "/api/v1/me", &key, false, None)
            .status()
            .as_u16(),
        200
    );
    let r = c
        .post(format!("{url_a}/api/v1/apikeys/monitor/revoke"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let revoked = Instant::now();
    assert_eq!(
        with_key(&url_a, &c, "GET", "/api/v1/me", &key, false, None)
            .status()
            .as_u16(),
        401
    );
    let refused_after = loop {
        let st = with_key(&url_b, &c, "GET", "/api/v1/me", &key, true, None)
            .status()
            .as_u16();
        if st == 401 {
            break revoked.elapsed();
        }
        assert_eq!(st, 200);
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "B still takes the revoked key"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("revoked key refused by the other server after {refused_after:?}");
    // The database holds the key's hash, not its secret.
    let rows = crate::store_postgres::pg_cluster::cluster().query(
        &db.name,
        "SELECT encode(hash, 'hex') || prefix || name || scopes FROM auth_api_keys",
    );
    let secret = &key[20..];
    assert!(rows.iter().flatten().all(|r| !r.contains(secret)));
    let logs = [a.logs(), b.logs()].concat().join("\n");
    assert!(!logs.contains(secret), "the key's secret is in a log");
    drop((a, b));
}

#[test]
fn every_authenticated_route_is_rate_limited_per_user_and_per_address() {
    let s = admin::start(
        "[admin.rate_limit]\nper_second = 1\nburst = 4\nexpensive_cost = 3\nper_address_per_second = 1\nper_address_burst = 9\n",
    );
    s.add_user("ada", "admin", PW);
    s.add_user("bob", "viewer", PW);
    let c = client();
    let ada = s.token(&c, "ada", PW);
    let get = |path: &str, token: &str| {
        let r = c.get(s.url(path)).bearer_auth(token).send().unwrap();
        (
            r.status().as_u16(),
            header(&r, "retry-after"),
            header(&r, "ratelimit-policy"),
            header(&r, "ratelimit"),
        )
    };
    // The audit log costs 3 of ada's 4 tokens; then one cheap request; then 429.
    let (st, _, policy, state) = get("/api/v1/audit", &ada);
    assert_eq!(st, 200);
    assert_eq!(policy.as_deref(), Some("\"user\";q=4;w=1"));
    assert_eq!(
        state.as_deref().map(|v| v.starts_with("\"user\";r=1;")),
        Some(true),
        "{state:?}"
    );
    assert_eq!(get("/api/v1/me", &ada).0, 200);
    let (st, retry, _, state) = get("/api/v1/me", &ada);
    assert_eq!(st, 429);
    assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|r| r >= 1)));
    assert!(state.is_some_and(|v| v.contains("r=0")));
    // Another user from the same address has a bucket of their own, until
    // the address's bucket (9: ada took 4, plus the refused one took none) runs dry.
    let bob = s.token(&c, "bob", PW);
    let codes: Vec<u16> = (0..6).map(|_| get("/api/v1/me", &bob).0).collect();
    assert_eq!(&codes[..4], &[200, 200, 200, 200], "{codes:?}");
    assert!(codes[4..].iter().all(|&c| c == 429), "{codes:?}");
    // Tokens come back with time.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get("/api/v1/me", &ada).0 != 200 {
        assert!(Instant::now() < deadline, "the bucket never refills");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_user_narrowed_to_a_zone_reaches_only_that_zone_until_the_scope_is_cleared() {
    let s = admin::start("");
    s.add_user("zed", "operator", PW);
    put_lease(&s, 5);
    let out = s.user_cmd(&["scope", "zed", "--scope", "zone:e2e.test"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = client();
    let token = s.token(&c, "zed", PW);
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        let mut r = c
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                s.url(path),
            )
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().unwrap().status().as_u16()
    };
    let record = Some(json!({"ttl": 60, "rdata": ["192.0.2.78"]}));
    assert_eq!(
        call(
            "PUT",
            "/api/v1/zones/e2e.test/records/zed/A",
            &token,
            record
        ),
        200
    );
    assert_eq!(call("GET", "/api/v1/zones/other.test", &token, None), 403);
    assert_eq!(
        call("POST", "/api/v1/leases/10.0.0.5/release", &token, None),
        403
    );
    // Cleared: the scoped token dies (the server reads the change within
    // seconds); a new login reaches the lease.
    let out = s.user_cmd(&["scope", "zed"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    while call("GET", "/api/v1/me", &token, None) == 200 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the old token still works"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A login in the second of the change may still be cut by it
    // (not_before has one-second resolution): log in again until one passes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = s.token(&c, "zed", PW);
        if call("POST", "/api/v1/leases/10.0.0.5/release", &fresh, None) == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a fresh login never reaches the lease"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
