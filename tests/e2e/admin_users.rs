//! End-to-end tests of user management and the second factor: deleting a
//! user (sessions and API keys revoked at once, audit kept), MFA status in
//! the lists, TOTP enrolment and two-step login. The real binary over real
//! TLS, driven with reqwest.

use crate::common;

use std::time::{Duration, Instant};

use common::admin::{self, AdminServer, client};
use reqwest::Method;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const FAST_LIMITS: &str = "[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\n";

fn send(
    s: &AdminServer,
    c: &reqwest::blocking::Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::blocking::Response {
    let mut r = c.request(
        Method::from_bytes(method.as_bytes()).expect("method"),
        s.url(path),
    );
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().expect("request")
}

fn status(r: reqwest::blocking::Response) -> u16 {
    r.status().as_u16()
}

#[test]
fn deleting_a_user_revokes_sessions_and_api_keys_at_once_and_keeps_the_audit() {
    let s = admin::start(FAST_LIMITS);
    for (u, r) in [("root", "admin"), ("eve", "admin"), ("dora", "operator")] {
        s.add_user(u, r, PW);
    }
    let c = client();
    let root = s.token(&c, "root", PW);
    let eve_login = s.login(&c, "eve", PW);
    let eve = eve_login["access_token"].as_str().unwrap().to_owned();
    let eve_refresh = eve_login["refresh_token"].as_str().unwrap().to_owned();
    let r = send(
        &s,
        &c,
        "POST",
        "/api/v1/apikeys",
        Some(&eve),
        Some(json!({"name": "eve-robot", "role": "viewer"})),
    );
    assert_eq!(r.status().as_u16(), 201);
    let key = r.json::<Value>().unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&key)), 200);
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&eve)), 200);

    // Non-admins may not delete; an admin may not delete themselves.
    let dora = s.token(&c, "dora", PW);
    assert_eq!(
        status(send(
            &s,
            &c,
            "DELETE",
            "/api/v1/users/eve",
            Some(&dora),
            None
        )),
        403
    );
    assert_eq!(
        status(send(
            &s,
            &c,
            "DELETE",
            "/api/v1/users/root",
            Some(&root),
            None
        )),
        409
    );
    assert_eq!(
        status(send(
            &s,
            &c,
            "DELETE",
            "/api/v1/users/nobody",
            Some(&root),
            None
        )),
        404
    );

    let r = send(&s, &c, "DELETE", "/api/v1/users/EVE", Some(&root), None);
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["user"], "eve");
    assert_eq!(v["revoked_sessions"], 1);
    assert_eq!(v["revoked_api_keys"], 1);
    // At once: the access token, the refresh token, the API key, the password.
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&eve)), 401);
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&key)), 401);
    let r = c
        .post(s.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": eve_refresh}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "eve", "password": PW}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Gone from the list, still in the audit log.
    let users: Value = send(&s, &c, "GET", "/api/v1/users", Some(&root), None)
        .json()
        .unwrap();
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dora", "root"]);
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["mfa"] == false && u.get("last_login").is_some())
    );
    let audit: Value = send(&s, &c, "GET", "/api/v1/audit", Some(&root), None)
        .json()
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "eve" && e["action"] == "apikey.create"),
        "eve's own entries stay: {audit}"
    );
    assert!(entries.iter().any(|e| e["actor"] == "root"
        && e["action"] == "user.delete"
        && e["target"] == "eve"
        && e["result"] == "ok"));

    // The last enabled admin cannot be deleted (through the API).
    s.add_user("ann", "admin", PW);
    let ann = s.token(&c, "ann", PW);
    assert_eq!(
        status(send(
            &s,
            &c,
            "DELETE",
            "/api/v1/users/root",
            Some(&ann),
            None
        )),
        200
    );
    // ann is now the only admin: she cannot delete herself.
    assert_eq!(
        status(send(
            &s,
            &c,
            "DELETE",
            "/api/v1/users/ann",
            Some(&ann),
            None
        )),
        409
    );

    // `headend user delete` on the state directory while the server runs:
    // dora's token dies within seconds.
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&dora)), 200);
    let out = s.user_cmd(&["delete", "dora"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted dora"));
    let deadline = Instant::now() + Duration::from_secs(6);
    while s.get_status(&c, "/api/v1/zones", Some(&dora)) == 200 {
        assert!(
            Instant::now() < deadline,
            "dora's token still works 6 s after `headend user delete`"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = s.user_cmd(&["list"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().next().unwrap().contains("MFA"), "{text}");
    assert!(!text.contains("dora"), "{text}");
    let out = s.user_cmd(&["delete", "dora"], "");
    assert!(!out.status.success());
    s.assert_no_secrets(&[PW.to_owned(), eve, root]);
}

/// RFC 4648 base32 (no padding) → bytes, for the seed the server shows.
fn unbase32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buf, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.bytes() {
        let v = alphabet.iter().position(|&a| a == c).expect("base32") as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

fn unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The code of the step `offset` steps from now.
fn code(seed: &[u8], offset: i64) -> String {
    let t = unix().saturating_add_signed(offset * 30);
    headend_admin::core::totp::code_at(seed, t)
}

fn post(
    s: &AdminServer,
    c: &reqwest::blocking::Client,
    path: &str,
    body: Value,
) -> reqwest::blocking::Response {
    c.post(s.url(path)).json(&body).send().expect("request")
}

fn password_step(s: &AdminServer, c: &reqwest::blocking::Client, user: &str) -> Value {
    let r = post(
        s,
        c,
        "/api/v1/auth/login",
        json!({"username": user, "password": PW}),
    );
    assert_eq!(r.status().as_u16(), 200, "password step of {user}");
    r.json().unwrap()
}

#[test]
fn totp_enrolment_two_step_login_replay_recovery_and_lockout() {
    let s = admin::start(
        "require_mfa_for = [\"admin\"]\n[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\nlockout_after = 8\nlockout_base = 60\nlockout_max = 60\n",
    );
    for (u, r) in [("root", "admin"), ("vic", "viewer"), ("otto", "operator")] {
        s.add_user(u, r, PW);
    }
    let c = client();

    // An admin must enrol before any token: the password step gives a
    // ticket only.
    let v = password_step(&s, &c, "root");
    assert_eq!(v["mfa_enrolment_required"], true, "{v}");
    assert!(v.get("access_token").is_none());
    let ticket = v["mfa_ticket"].as_str().unwrap().to_owned();
    // The ticket is no token.
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&ticket)), 401);
    let e: Value = post(
        &s,
        &c,
        "/api/v1/auth/mfa/enrol",
        json!({"mfa_ticket": ticket}),
    )
    .json()
    .unwrap();
    let secret = e["secret"].as_str().unwrap();
    assert!(e["otpauth_uri"].as_str().unwrap().contains(secret));
    assert!(e["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(e["qr_text"].as_str().unwrap().contains('█'));
    let seed = unbase32(secret);
    // A forged ticket and a wrong first code are refused.
    assert_eq!(
        post(
            &s,
            &c,
            "/api/v1/auth/mfa/confirm",
            json!({"mfa_ticket": "mfa_forged", "code": code(&seed, 0)})
        )
        .status()
        .as_u16(),
        401
    );
    assert_eq!(
        post(
            &s,
            &c,
            "/api/v1/auth/mfa/confirm",
            json!({"mfa_ticket": ticket, "code": code(&seed, -3)})
        )
        .status()
        .as_u16(),
        401
    );
    let first = code(&seed, 0);
    let r = post(
        &s,
        &c,
        "/api/v1/auth/mfa/confirm",
        json!({"mfa_ticket": ticket, "code": first}),
    );
    assert_eq!(r.status().as_u16(), 200);
    let done: Value = r.json().unwrap();
    let root = done["access_token"].as_str().unwrap().to_owned();
    let recovery: Vec<String> = done["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&root)), 200);
    // The ticket was spent with the login.
    assert_eq!(
        post(
            &s,
            &c,
            "/api/v1/auth/mfa/confirm",
            json!({"mfa_ticket": ticket, "code": code(&seed, 1)})
        )
        .status()
        .as_u16(),
        401
    );

    // Two-step login: the password gives a ticket; the code used at the
    // confirmation is a replay, an old code is refused, the next step's
    // code passes once and not twice.
    let login_code = |code: &str| -> reqwest::blocking::Response {
        let v = password_step(&s, &c, "root");
        assert_eq!(v["mfa_required"], true, "{v}");
        post(
            &s,
            &c,
            "/api/v1/auth/mfa",
            json!({"mfa_ticket": v["mfa_ticket"], "code": code}),
        )
    };
    assert_eq!(login_code(&first).status().as_u16(), 401, "replayed code");
    assert_eq!(login_code(&code(&seed, -3)).status().as_u16(), 401, "old");
    let next = code(&seed, 1);
    let r = login_code(&next);
    assert_eq!(r.status().as_u16(), 200, "valid code");
    let t = r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&t)), 200);
    assert_eq!(login_code(&next).status().as_u16(), 401, "reused code");
    // A recovery code works once.
    assert_eq!(login_code(&recovery[0]).status().as_u16(), 200);
    assert_eq!(login_code(&recovery[0]).status().as_u16(), 401);
    assert_eq!(
        login_code(&recovery[1].to_uppercase()).status().as_u16(),
        200
    );

    // A viewer is not forced, but may enrol; from then on their login
    // needs the code too.
    let vic = s.token(&c, "vic", PW);
    assert_eq!(
        send(&s, &c, "POST", "/api/v1/users/root/mfa", Some(&vic), None)
            .status()
            .as_u16(),
        403
    );
    let e: Value = send(&s, &c, "POST", "/api/v1/users/vic/mfa", Some(&vic), None)
        .json()
        .unwrap();
    let vseed = unbase32(e["secret"].as_str().unwrap());
    let r = send(
        &s,
        &c,
        "POST",
        "/api/v1/users/vic/mfa/confirm",
        Some(&vic),
        Some(json!({"code": code(&vseed, 0)})),
    );
    assert_eq!(r.status().as_u16(), 200);
    let vrec: Value = r.json().unwrap();
    assert_eq!(vrec["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(password_step(&s, &c, "vic")["mfa_required"], true);
    let users: Value = send(&s, &c, "GET", "/api/v1/users", Some(&root), None)
        .json()
        .unwrap();
    let mfa_of = |name: &str| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["mfa"]
            .clone()
    };
    assert_eq!(mfa_of("root"), true);
    assert_eq!(mfa_of("vic"), true);
    assert_eq!(mfa_of("otto"), false);
    // Removing it needs a current code (or a recovery code) from the user...
    assert_eq!(
        send(&s, &c, "DELETE", "/api/v1/users/vic/mfa", Some(&vic), None)
            .status()
            .as_u16(),
        401
    );
    let otto = s.token(&c, "otto", PW);
    assert_eq!(
        send(&s, &c, "DELETE", "/api/v1/users/vic/mfa", Some(&otto), None)
            .status()
            .as_u16(),
        403
    );
    let r = send(
        &s,
        &c,
        "DELETE",
        "/api/v1/users/vic/mfa",
        Some(&vic),
        Some(json!({"code": vrec["recovery_codes"][0]})),
    );
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().unwrap()["removed"], true);
    assert!(password_step(&s, &c, "vic").get("access_token").is_some());
    // ... or an admin who has a second factor.
    let e: Value = send(&s, &c, "POST", "/api/v1/users/vic/mfa", Some(&vic), None)
        .json()
        .unwrap();
    let vseed = unbase32(e["secret"].as_str().unwrap());
    assert_eq!(
        send(
            &s,
            &c,
            "POST",
            "/api/v1/users/vic/mfa/confirm",
            Some(&vic),
            Some(json!({"code": code(&vseed, 0)})),
        )
        .status()
        .as_u16(),
        200
    );
    assert_eq!(
        send(&s, &c, "DELETE", "/api/v1/users/vic/mfa", Some(&root), None)
            .status()
            .as_u16(),
        200
    );
    assert!(password_step(&s, &c, "vic").get("access_token").is_some());

    // Wrong codes lock the account like wrong passwords (lockout_after = 8,
    // counting the failures above): then even a right code is refused.
    let mut locked = false;
    for _ in 0..12 {
        let v = password_step_or_locked(&s, &c, "root");
        let Some(v) = v else {
            locked = true;
            break;
        };
        let st = post(
            &s,
            &c,
            "/api/v1/auth/mfa",
            json!({"mfa_ticket": v["mfa_ticket"], "code": "000000"}),
        )
        .status()
        .as_u16();
        if st == 429 {
            locked = true;
            break;
        }
        assert_eq!(st, 401);
    }
    assert!(locked, "no lockout after repeated bad codes");
    assert_eq!(
        post(
            &s,
            &c,
            "/api/v1/auth/login",
            json!({"username": "root", "password": PW})
        )
        .status()
        .as_u16(),
        429
    );
    let audit = s.user_cmd(&["list"], "");
    assert!(String::from_utf8_lossy(&audit.stdout).contains("totp"));
    s.assert_no_secrets(&[PW.to_owned(), root, vic, secret.to_owned()]);
}

/// The password step's answer, or `None` when the account is locked (429).
fn password_step_or_locked(
    s: &AdminServer,
    c: &reqwest::blocking::Client,
    user: &str,
) -> Option<Value> {
    let r = post(
        s,
        c,
        "/api/v1/auth/login",
        json!({"username": user, "password": PW}),
    );
    if r.status().as_u16() == 429 {
        return None;
    }
    assert_eq!(r.status().as_u16(), 200);
    Some(r.json().unwrap())
}

/// Enrols `user` (logged in with `token`) through the API; the seed.
fn enrol(s: &AdminServer, c: &reqwest::blocking::Client, user: &str, token: &str) -> Vec<u8> {
    let e: Value = send(
        s,
        c,
        "POST",
        &format!("/api/v1/users/{user}/mfa"),
        Some(token),
        None,
    )
    .json()
    .unwrap();
    let seed = unbase32(e["secret"].as_str().unwrap());
    let r = send(
        s,
        c,
        "POST",
        &format!("/api/v1/users/{user}/mfa/confirm"),
        Some(token),
        Some(json!({"code": code(&seed, 0)})),
    );
    assert_eq!(r.status().as_u16(), 200);
    seed
}

#[test]
fn ctl_logs_in_with_a_second_factor_and_manages_users() {
    let s = admin::start(FAST_LIMITS);
    s.add_user("root", "admin", PW);
    s.add_user("bob", "viewer", PW);
    let c = client();
    let root = s.token(&c, "root", PW);
    let seed = enrol(&s, &c, "root", &root);
    let bob = s.token(&c, "bob", PW);
    enrol(&s, &c, "bob", &bob);
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let out = admin::ctl(dir.path(), args, stdin);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A wrong code: no session.
    let (ok, _, err) = run(
        &["login", &s.base, "--user", "root", "--password-stdin"],
        &format!("{PW}\n000000\n"),
    );
    assert!(!ok, "{err}");
    let (ok, out, err) = run(
        &["login", &s.base, "--user", "root", "--password-stdin"],
        &format!("{PW}\n{}\n", code(&seed, 1)),
    );
    assert!(ok, "{err}");
    assert!(out.contains("logged in as root"), "{out}");
    let (ok, out, err) = run(&["user", "list"], "");
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("bob") && l.contains("totp")),
        "{out}"
    );
    // An admin with a second factor removes bob's without a code.
    let (ok, out, err) = run(&["mfa", "disable", "--user", "bob"], "");
    assert!(ok, "{err}");
    assert!(out.contains("removed"), "{out}");
    let (ok, out, err) = run(&["user", "delete", "bob"], "");
    assert!(ok, "{err}");
    assert!(out.contains("deleted bob"), "{out}");
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&bob)), 401);
}

/// A form body.
fn urlencoded(fields: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the hidden input `name` in a console page.
fn hidden(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + key.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn console_login_asks_for_the_code_and_forces_enrolment() {
    let s = admin::start(
        "require_mfa_for = [\"admin\"]\n[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\n",
    );
    s.add_user("root", "admin", PW);
    let c = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(
            headend_admin::cli::PinVerifier::new(None)
                .client_config()
                .unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |fields: &[(&str, &str)]| {
        c.post(s.url("/ui/login"))
            .header("Origin", &s.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(urlencoded(fields))
            .send()
            .unwrap()
    };
    let cookies = |r: &reqwest::blocking::Response| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("headend_ui=") && !v.starts_with("headend_ui=;"))
    };
    // The password step shows the QR code (forced enrolment), no session yet.
    let r = form(&[("username", "root"), ("password", PW), ("next", "/ui/")]);
    assert_eq!(r.status().as_u16(), 200);
    assert!(!cookies(&r));
    let page = r.text().unwrap();
    assert!(
        page.contains("id=\"mfa-qr\"") && page.contains("<svg"),
        "{page}"
    );
    let ticket = hidden(&page, "mfa_ticket");
    let start = page.find("id=\"mfa-secret\">").unwrap() + "id=\"mfa-secret\">".len();
    let secret = page[start..].split('<').next().unwrap().to_owned();
    let seed = unbase32(&secret);
    let r = form(&[
        ("username", "root"),
        ("next", "/ui/"),
        ("mfa_ticket", &ticket),
        ("mfa_step", "enrol"),
        ("code", &code(&seed, 0)),
    ]);
    assert_eq!(r.status().as_u16(), 200);
    assert!(cookies(&r), "enrolment ends the login");
    let page = r.text().unwrap();
    assert!(page.contains("id=\"recovery-codes\""), "{page}");
    // Next login: the code form; a wrong code shows it again, the right
    // one ends the login.
    let r = form(&[("username", "root"), ("password", PW), ("next", "/ui/")]);
    let page = r.text().unwrap();
    assert_eq!(hidden(&page, "mfa_step"), "code");
    let ticket = hidden(&page, "mfa_ticket");
    let r = form(&[
        ("username", "root"),
        ("next", "/ui/"),
        ("mfa_ticket", &ticket),
        ("mfa_step", "code"),
        ("code", "000000"),
    ]);
    assert_eq!(r.status().as_u16(), 401);
    assert!(!cookies(&r));
    assert!(r.text().unwrap().contains("id=\"mfa-form\""));
    let r = form(&[
        ("username", "root"),
        ("next", "/ui/"),
        ("mfa_ticket", &ticket),
        ("mfa_step", "code"),
        ("code", &code(&seed, 1)),
    ]);
    assert_eq!(r.status().as_u16(), 303);
    assert!(cookies(&r));
}

#[test]
fn console_account_enrols_a_second_factor_and_admins_delete_users() {
    let s = admin::start(FAST_LIMITS);
    s.add_user("root", "admin", PW);
    s.add_user("carl", "viewer", PW);
    let c = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(
            headend_admin::cli::PinVerifier::new(None)
                .client_config()
                .unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(s.url("/ui/login"))
        .header("Origin", &s.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(urlencoded(&[("username", "root"), ("password", PW)]))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let jar: String = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let get = |path: &str| {
        let r = c.get(s.url(path)).header("Cookie", &jar).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let post = |path: &str, fields: &[(&str, &str)]| {
        let r = c
            .post(s.url(path))
            .header("Cookie", &jar)
            .header("Origin", &s.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(urlencoded(fields))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (st, page) = get("/ui/account");
    assert_eq!(st, 200);
    assert!(page.contains("id=\"mfa-enrol\""), "{page}");
    let (st, page) = post("/ui/account/mfa", &[]);
    assert_eq!(st, 200);
    assert!(page.contains("id=\"mfa-qr\"") && page.contains("<svg"));
    let start = page.find("id=\"mfa-secret\">").unwrap() + "id=\"mfa-secret\">".len();
    let seed = unbase32(page[start..].split('<').next().unwrap());
    let (st, page) = post("/ui/account/mfa/confirm", &[("code", &code(&seed, 0))]);
    assert_eq!(st, 200);
    assert!(page.contains("id=\"recovery-codes\""), "{page}");
    let (_, page) = get("/ui/users");
    assert!(page.contains("TOTP"), "{page}");
    // Deleting asks first, then goes.
    let (st, page) = get("/ui/users/carl/delete");
    assert_eq!(st, 200);
    assert!(page.contains("cannot be undone"), "{page}");
    let (st, _) = post("/ui/users/carl/delete", &[]);
    assert_eq!(st, 303);
    let (_, page) = get("/ui/users?done=user-deleted");
    assert!(!page.contains("data-user=\"carl\""), "{page}");
    assert!(page.contains("was deleted"), "{page}");
}
