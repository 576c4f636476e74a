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
