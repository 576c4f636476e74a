//! End-to-end tests of the admin API and its token auth layer: the real
//! binary over real TLS, driven with reqwest (rustls) and curl.

use crate::common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::admin::{self, AdminServer, client, curl, header};
use headend_admin::core::Role;
use headend_admin::core::tokens::{Claims, TokenKeys};
use reqwest::Method;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const FAST_LIMITS: &str = "[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\n";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// RFC 4648 base32 (no padding) → bytes.
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

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

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

/// Every protected route, with a concrete path, as (method, path, body).
fn protected_routes() -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "/metrics".into(), None),
        ("GET", "/api/v1/me".into(), None),
        ("GET", "/api/v1/zones".into(), None),
        ("GET", "/api/v1/zones/e2e.test".into(), None),
        ("POST", "/api/v1/zones/e2e.test/reload".into(), None),
        (
            "PUT",
            "/api/v1/zones/e2e.test/records/x/A".into(),
            Some(json!({"rdata": ["192.0.2.9"]})),
        ),
        ("DELETE", "/api/v1/zones/e2e.test/records/x/A".into(), None),
        ("GET", "/api/v1/leases".into(), None),
        ("POST", "/api/v1/leases/10.0.0.5/release".into(), None),
        ("GET", "/api/v1/reservations".into(), None),
        (
            "POST",
            "/api/v1/reservations".into(),
            Some(json!({"subnet": "lan", "hwaddr": "aa:bb:cc:dd:ee:01", "address": "10.0.0.50"})),
        ),
        (
            "DELETE",
            "/api/v1/reservations/lan/aa:bb:cc:dd:ee:01".into(),
            None,
        ),
        ("GET", "/api/v1/sessions".into(), None),
        ("DELETE", "/api/v1/sessions/abc".into(), None),
        ("GET", "/api/v1/users".into(), None),
        (
            "POST",
            "/api/v1/users".into(),
            Some(json!({"username": "x", "password": "12345678", "role": "viewer"})),
        ),
        (
            "PUT",
            "/api/v1/users/x/password".into(),
            Some(json!({"password": "12345678"})),
        ),
        ("POST", "/api/v1/users/x/disable".into(), None),
        ("POST", "/api/v1/users/x/enable".into(), None),
        ("POST", "/api/v1/users/x/unlock".into(), None),
        ("DELETE", "/api/v1/users/x".into(), None),
        ("POST", "/api/v1/users/x/mfa".into(), None),
        ("POST", "/api/v1/users/x/mfa/confirm".into(), None),
        ("DELETE", "/api/v1/users/x/mfa".into(), None),
        ("GET", "/api/v1/audit".into(), None),
    ]
}

#[test]
fn every_protected_route_without_a_token_is_401_and_public_routes_answer() {
    // /metrics is open to loopback by default; `metrics_allow = []` makes it
    // need a token like every other protected route.
    let s = admin::start(&format!("metrics_allow = []\n{FAST_LIMITS}"));
    let c = client();
    for (method, path, body) in protected_routes() {
        let r = send(&s, &c, method, &path, None, body.clone());
        assert_eq!(r.status().as_u16(), 401, "{method} {path} without a token");
        let r = send(&s, &c, method, &path, Some("not.a.token"), body);
        assert_eq!(r.status().as_u16(), 401, "{method} {path} with garbage");
    }
    // The same with curl, for a read and a write.
    let (status, _, _) = curl(&[&s.url("/api/v1/zones")]);
    assert_eq!(status, 401);
    let (status, _, _) = curl(&[
        "-X",
        "PUT",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"rdata":["192.0.2.1"]}"#,
        &s.url("/api/v1/zones/e2e.test/records/x/A"),
    ]);
    assert_eq!(status, 401);
    // Public routes answer without a token.
    for path in ["/health", "/.well-known/jwks.json", "/api/v1/openapi.json"] {
        assert_eq!(s.get_status(&c, path, None), 200, "{path}");
    }
    let jwks: Value = c
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
}

/// The server's current signing key, read from the store and opened with
/// the key-encryption key it generated in its state directory.
fn signing_keys(s: &AdminServer) -> TokenKeys {
    let kek = std::fs::read_to_string(s.state_dir().join("kek")).expect("kek");
    let kek = headend_admin::core::kek::Kek::parse(&kek).expect("kek parses");
    let store = headend_store::Store::open_sqlite_existing(s.state_dir().join("headend.db"))
        .expect("open store");
    let rows = store.keys().signing_keys().expect("signing keys");
    let row = rows
        .iter()
        .rev()
        .find(|r| r.signs_from <= now())
        .expect("a key that signs");
    let der = kek
        .open(&row.sealed, format!("jwt-key:{}", row.kid).as_bytes())
        .expect("the key opens");
    TokenKeys::from_pkcs8(&der).expect("key")
}

#[test]
fn forged_expired_and_misaddressed_tokens_are_refused() {
    let s = admin::start(FAST_LIMITS);
    s.add_user("alice", "admin", PW);
    let c = client();
    let login = s.login(&c, "alice", PW);
    let good = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&good)), 200);
    let real: Claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(&good)
        .unwrap()
        .claims;
    let keys = signing_keys(&s);

    // A token we sign ourselves with the server's key and correct claims passes
    // (so the refusals below are about the one thing each changes).
    let mut ok = real.clone();
    ok.jti = "test-control".into();
    assert_eq!(
        s.get_status(&c, "/api/v1/me", Some(&keys.sign(&ok).unwrap())),
        200
    );

    let variants: Vec<(&str, Claims)> = vec![
        (
            "expired",
            Claims {
                iat: now() - 3600,
                nbf: now() - 3600,
                exp: now() - 1800,
                ..real.clone()
            },
        ),
        (
            "not yet valid",
            Claims {
                nbf: now() + 3600,
                ..real.clone()
            },
        ),
        (
            "wrong aud",
            Claims {
                aud: "someone-else".into(),
                ..real.clone()
            },
        ),
        (
            "wrong iss",
            Claims {
                iss: "evil".into(),
                ..real.clone()
            },
        ),
    ];
    for (what, claims) in variants {
        let t = keys.sign(&claims).unwrap();
        assert_eq!(s.get_status(&c, "/api/v1/me", Some(&t)), 401, "{what}");
    }
    // Tampered payload: a viewer... made admin, signature kept.
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims = serde_json::to_value(&real).unwrap();
    claims["sub"] = json!("mallory");
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(
        s.get_status(&c, "/api/v1/me", Some(&tampered)),
        401,
        "tampered"
    );
    // alg: none.
    let header = json!({"alg": "none", "typ": "JWT", "kid": keys.kid()});
    let none = format!("{}.{}.", b64(&header), parts[1]);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&none)), 401, "alg none");
    // HS256 keyed with the public key (raw bytes, and the JWKS x string).
    let jwks: Value = c
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let raw = URL_SAFE_NO_PAD.decode(&x).unwrap();
    for secret in [raw.as_slice(), x.as_bytes()] {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some(keys.kid().to_owned());
        let hs = jsonwebtoken::encode(&h, &real, &jsonwebtoken::EncodingKey::from_secret(secret))
            .unwrap();
        assert_eq!(
            s.get_status(&c, "/api/v1/me", Some(&hs)),
            401,
            "HS256 with the public key"
        );
    }
    // Another Ed25519 key with our kid.
    let other = TokenKeys::generate().unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    h.kid = Some(keys.kid().to_owned());
    let foreign = jsonwebtoken::encode(
        &h,
        &real,
        &jsonwebtoken::EncodingKey::from_ed_der(other.pkcs8()),
    )
    .unwrap();
    assert_eq!(
        s.get_status(&c, "/api/v1/me", Some(&foreign)),
        401,
        "other key"
    );
    s.assert_no_secrets(&[
        PW.to_owned(),
        good,
        login["refresh_token"].as_str().unwrap().to_owned(),
    ]);
}

/// Adds a DHCPv6 binding (2001:db8:1::LAST) directly in the store.
fn put_lease6(s: &AdminServer, last: u16) {
    let store =
        headend_store::Store::open_sqlite_existing(s.state_dir().join("headend.db")).unwrap();
    let mut tx = store.begin().unwrap();
    tx.lease6_put(&headend_store::Lease6 {
        address: std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, last),
        prefix_len: 128,
        kind: headend_store::Lease6Kind::Address,
        subnet: "v6lan".into(),
        duid: vec![0, 3, 0, 1, 2, 0, 0, 0, 0, last as u8],
        iaid: 1,
        hwaddr: None,
        state: headend_store::LeaseState::Bound,
        preferred: now() + 1800,
        expires: now() + 3600,
        class: None,
        remote_id: None,
        interface_id: None,
    })
    .unwrap();
    tx.commit().unwrap();
}

/// Adds a lease row directly in the store so lease release has something to release.
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
        hostname: Some("pc".into()),
        state: headend_store::LeaseState::Bound,
        expires: now() + 3600,
        circuit_id: None,
        remote_id: None,
        class: None,
        server: None,
    })
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn route_role_matrix_covers_every_route() {
    // Without the loopback default of metrics_allow, /metrics needs a token.
    let s = admin::start(&format!("metrics_allow = []\n{FAST_LIMITS}"));
    for (u, r) in [
        ("vic", "viewer"),
        ("oscar", "operator"),
        ("ada", "admin"),
        ("target", "viewer"),
        ("gone-ada", "viewer"),
    ] {
        s.add_user(u, r, PW);
    }
    let c = client();
    put_lease(&s, 5);
    put_lease6(&s, 5);
    let tokens: Vec<(Role, &str, String)> = [
        (Role::Viewer, "vic"),
        (Role::Operator, "oscar"),
        (Role::Admin, "ada"),
    ]
    .into_iter()
    .map(|(role, u)| (role, u, s.token(&c, u, PW)))
    .collect();
    // route, min role; paths use the role name so each role's change is its own.
    type MakeRequest = Box<dyn Fn(&str) -> (String, Option<Value>)>;
    let table: Vec<(&str, &str, Role, MakeRequest)> = vec![
        (
            "GET",
            "/metrics",
            Role::Viewer,
            Box::new(|_| ("/metrics".into(), None)),
        ),
        (
            "GET",
            "/api/v1/me",
            Role::Viewer,
            Box::new(|_| ("/api/v1/me".into(), None)),
        ),
        (
            "GET",
            "/api/v1/zones",
            Role::Viewer,
            Box::new(|_| ("/api/v1/zones".into(), None)),
        ),
        (
            "GET",
            "/api/v1/zones/{zone}",
            Role::Viewer,
            Box::new(|_| ("/api/v1/zones/e2e.test".into(), None)),
        ),
        (
            "POST",
            "/api/v1/zones/{zone}/reload",
            Role::Operator,
            Box::new(|_| ("/api/v1/zones/e2e.test/reload".into(), None)),
        ),
        (
            "POST",
            "/api/v1/zones/{zone}/flush",
            Role::Operator,
            Box::new(|_| ("/api/v1/zones/e2e.test/flush".into(), None)),
        ),
        (
            "PUT",
            "/api/v1/zones/{zone}/records/{name}/{rtype}",
            Role::Operator,
            Box::new(|u| {
                (
                    format!("/api/v1/zones/e2e.test/records/m-{u}/A"),
                    Some(json!({"ttl": 60, "rdata": ["192.0.2.200"]})),
                )
            }),
        ),
        (
            "DELETE",
            "/api/v1/zones/{zone}/records/{name}/{rtype}",
            Role::Operator,
            Box::new(|u| (format!("/api/v1/zones/e2e.test/records/m-{u}/A"), None)),
        ),
        (
            "GET",
            "/api/v1/leases",
            Role::Viewer,
            Box::new(|_| ("/api/v1/leases".into(), None)),
        ),
        (
            "POST",
            "/api/v1/leases/{address}/release",
            Role::Operator,
            Box::new(|_| ("/api/v1/leases/10.0.0.5/release".into(), None)),
        ),
        (
            "GET",
            "/api/v1/reservations",
            Role::Viewer,
            Box::new(|_| ("/api/v1/reservations".into(), None)),
        ),
        (
            "POST",
            "/api/v1/reservations",
            Role::Operator,
            Box::new(|u| {
                (
                    "/api/v1/reservations".into(),
                    Some(
                        json!({"subnet": "lan", "hwaddr": format!("aa:bb:cc:dd:ee:{:02x}", u.len()), "address": format!("10.0.1.{}", u.len())}),
                    ),
                )
            }),
        ),
        // The reservations the POST above made (per user name length) carry
        // attributes until the DELETE below.
        (
            "GET",
            "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
            Role::Viewer,
            Box::new(|u| {
                (
                    format!(
                        "/api/v1/reservations/lan/aa:bb:cc:dd:ee:{:02x}/attributes",
                        u.len()
                    ),
                    None,
                )
            }),
        ),
        (
            "PUT",
            "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
            Role::Operator,
            Box::new(|u| {
                (
                    format!(
                        "/api/v1/reservations/lan/aa:bb:cc:dd:ee:{:02x}/attributes",
                        u.len()
                    ),
                    Some(json!({"tier": "gold"})),
                )
            }),
        ),
        (
            "PATCH",
            "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
            Role::Operator,
            Box::new(|u| {
                (
                    format!(
                        "/api/v1/reservations/lan/aa:bb:cc:dd:ee:{:02x}/attributes",
                        u.len()
                    ),
                    Some(json!({"tier": null, "rate": "100M"})),
                )
            }),
        ),
        (
            "DELETE",
            "/api/v1/reservations/{subnet}/{hwaddr}",
            Role::Operator,
            Box::new(|u| {
                (
                    format!("/api/v1/reservations/lan/aa:bb:cc:dd:ee:{:02x}", u.len()),
                    None,
                )
            }),
        ),
        (
            "GET",
            "/api/v1/leases6",
            Role::Viewer,
            Box::new(|_| ("/api/v1/leases6?kind=na&limit=10".into(), None)),
        ),
        (
            "POST",
            "/api/v1/leases6/{address}/release",
            Role::Operator,
            Box::new(|_| ("/api/v1/leases6/2001:db8:1::5/release".into(), None)),
        ),
        (
            "GET",
            "/api/v1/reservations6",
            Role::Viewer,
            Box::new(|_| ("/api/v1/reservations6".into(), None)),
        ),
        (
            "POST",
            "/api/v1/reservations6",
            Role::Operator,
            Box::new(|u| {
                (
                    "/api/v1/reservations6".into(),
                    Some(json!({
                        "subnet": "v6lan",
                        "duid": format!("00:03:00:01:aa:bb:cc:dd:ee:{:02x}", u.len()),
                        "address": format!("2001:db8:1::1:{:x}", u.len()),
                        "prefix": format!("2001:db8:1{:02x}::/56", u.len()),
                    })),
                )
            }),
        ),
        (
            "DELETE",
            "/api/v1/reservations6/{subnet}/{kind}/{key}",
            Role::Operator,
            Box::new(|u| {
                (
                    format!(
                        "/api/v1/reservations6/v6lan/duid/00:03:00:01:aa:bb:cc:dd:ee:{:02x}",
                        u.len()
                    ),
                    None,
                )
            }),
        ),
        (
            "GET",
            "/api/v1/sessions",
            Role::Viewer,
            Box::new(|_| ("/api/v1/sessions".into(), None)),
        ),
        (
            "GET",
            "/api/v1/users",
            Role::Admin,
            Box::new(|_| ("/api/v1/users".into(), None)),
        ),
        (
            "POST",
            "/api/v1/users",
            Role::Admin,
            Box::new(|u| {
                (
                    "/api/v1/users".into(),
                    Some(json!({"username": format!("new-{u}"), "password": PW, "role": "viewer"})),
                )
            }),
        ),
        (
            "PUT",
            "/api/v1/users/{name}/password",
            Role::Admin,
            Box::new(|_| {
                (
                    "/api/v1/users/target/password".into(),
                    Some(json!({"password": PW})),
                )
            }),
        ),
        (
            "PUT",
            "/api/v1/users/{name}/role",
            Role::Admin,
            Box::new(|_| {
                (
                    "/api/v1/users/target/role".into(),
                    Some(json!({"role": "viewer"})),
                )
            }),
        ),
        (
            "POST",
            "/api/v1/users/{name}/disable",
            Role::Admin,
            Box::new(|_| ("/api/v1/users/target/disable".into(), None)),
        ),
        (
            "POST",
            "/api/v1/users/{name}/enable",
            Role::Admin,
            Box::new(|_| ("/api/v1/users/target/enable".into(), None)),
        ),
        (
            "POST",
            "/api/v1/users/{name}/unlock",
            Role::Admin,
            Box::new(|_| ("/api/v1/users/target/unlock".into(), None)),
        ),
        (
            "DELETE",
            "/api/v1/users/{name}",
            Role::Admin,
            Box::new(|u| (format!("/api/v1/users/gone-{u}"), None)),
        ),
        // Every role enrols its own second factor, then drops the pending
        // enrolment (no code needed before it is confirmed).
        (
            "POST",
            "/api/v1/users/{name}/mfa",
            Role::Viewer,
            Box::new(|u| (format!("/api/v1/users/{u}/mfa"), None)),
        ),
        (
            "DELETE",
            "/api/v1/users/{name}/mfa",
            Role::Viewer,
            Box::new(|u| (format!("/api/v1/users/{u}/mfa"), None)),
        ),
        (
            "GET",
            "/api/v1/audit",
            Role::Admin,
            Box::new(|_| ("/api/v1/audit".into(), None)),
        ),
        (
            "POST",
            "/api/v1/keys/rotate",
            Role::Admin,
            Box::new(|_| ("/api/v1/keys/rotate".into(), None)),
        ),
        (
            "POST",
            "/api/v1/apikeys",
            Role::Admin,
            Box::new(|u| {
                (
                    "/api/v1/apikeys".into(),
                    Some(json!({"name": format!("k-{u}"), "role": "viewer"})),
                )
            }),
        ),
        (
            "GET",
            "/api/v1/apikeys",
            Role::Admin,
            Box::new(|_| ("/api/v1/apikeys".into(), None)),
        ),
        (
            "POST",
            "/api/v1/apikeys/{name}/rotate",
            Role::Admin,
            Box::new(|u| (format!("/api/v1/apikeys/k-{u}/rotate"), None)),
        ),
        (
            "POST",
            "/api/v1/apikeys/{name}/revoke",
            Role::Admin,
            Box::new(|u| (format!("/api/v1/apikeys/k-{u}/revoke"), None)),
        ),
    ];
    let mut covered: Vec<(String, String)> = table
        .iter()
        .map(|(m, p, _, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    for (method, route, min, make) in &table {
        let (path, body) = make("anon");
        assert_eq!(
            send(&s, &c, method, &path, None, body).status().as_u16(),
            401,
            "{method} {route} without a token"
        );
        for (role, user, token) in &tokens {
            let (path, body) = make(user);
            let got = send(&s, &c, method, &path, Some(token), body)
                .status()
                .as_u16();
            if role >= min {
                assert!(
                    (200..300).contains(&got),
                    "{method} {route} as {role}: got {got}, expected 2xx"
                );
            } else {
                assert_eq!(got, 403, "{method} {route} as {role}");
            }
        }
    }
    // DELETE /api/v1/sessions/{id}: every role may end its own (second) session.
    for (role, user, _) in &tokens {
        let second = s.login(&c, user, PW);
        let t = second["access_token"].as_str().unwrap().to_owned();
        let me: Value = send(&s, &c, "GET", "/api/v1/me", Some(&t), None)
            .json()
            .unwrap();
        let sid = me["session"].as_str().unwrap().to_owned();
        let got = send(
            &s,
            &c,
            "DELETE",
            &format!("/api/v1/sessions/{sid}"),
            Some(&t),
            None,
        )
        .status()
        .as_u16();
        assert_eq!(got, 200, "DELETE own session as {role}");
        assert_eq!(
            send(
                &s,
                &c,
                "DELETE",
                &format!("/api/v1/sessions/{sid}"),
                None,
                None
            )
            .status()
            .as_u16(),
            401
        );
        assert_eq!(
            s.get_status(&c, "/api/v1/me", Some(&t)),
            401,
            "the ended session's token is dead ({role})"
        );
    }
    covered.push(("DELETE".into(), "/api/v1/sessions/{id}".into()));
    // The scope dimension: operator API keys whose scopes reach the e2e zone
    // and the 10.0.0.0/16 leases and reservations, and keys whose scopes
    // reach neither (another zone and another prefix; or only the zone).
    // Each zone and DHCP route taken out of scope is 403 (the out-of-scope
    // key goes first, so the resource it is refused exists), in scope 2xx.
    let admin_token = &tokens[2].2;
    let make_key = |name: &str, scopes: Value| {
        let r = send(
            &s,
            &c,
            "POST",
            "/api/v1/apikeys",
            Some(admin_token),
            Some(json!({"name": name, "role": "operator", "scopes": scopes})),
        );
        assert_eq!(r.status().as_u16(), 201, "key {name}");
        r.json::<Value>().unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let inside = make_key(
        "in-scope",
        json!([
            "zone:e2e.test",
            "subnet:10.0.0.0/16",
            "subnet:2001:db8::/32"
        ]),
    );
    let outside = make_key(
        "out-scope",
        json!([
            "zone:other.test",
            "subnet:10.9.0.0/16",
            "subnet:2001:db8:9::/48"
        ]),
    );
    let zone_only = make_key("zone-only", json!(["zone:e2e.test"]));
    put_lease(&s, 5);
    put_lease6(&s, 5);
    for (method, route, _, make) in &table {
        let zone_route = route.starts_with("/api/v1/zones/");
        let dhcp_route = route.starts_with("/api/v1/leases/")
            || route.starts_with("/api/v1/reservations/")
            || route.starts_with("/api/v1/leases6/")
            || route.starts_with("/api/v1/reservations6");
        if !zone_route && !dhcp_route && *route != "/api/v1/reservations" {
            continue;
        }
        if *method == "GET"
            && (*route == "/api/v1/reservations" || *route == "/api/v1/reservations6")
        {
            continue;
        }
        let (path, body) = make("scoped-key");
        let mut refused = vec![&outside];
        if dhcp_route || *route == "/api/v1/reservations" {
            refused.push(&zone_only);
        }
        for key in refused {
            let got = send(&s, &c, method, &path, Some(key), body.clone())
                .status()
                .as_u16();
            assert_eq!(got, 403, "{method} {route} out of scope");
        }
        let got = send(&s, &c, method, &path, Some(&inside), body)
            .status()
            .as_u16();
        assert!(
            (200..300).contains(&got),
            "{method} {route} in scope: got {got}"
        );
    }
    // Listings show only what the scopes reach.
    put_lease(&s, 6);
    let listed = |key: &str, path: &str, field: &str| -> usize {
        let v: Value = send(&s, &c, "GET", path, Some(key), None).json().unwrap();
        v[field].as_array().unwrap().len()
    };
    assert_eq!(listed(&inside, "/api/v1/zones", "zones"), 1);
    assert_eq!(listed(&outside, "/api/v1/zones", "zones"), 0);
    assert!(listed(&inside, "/api/v1/leases", "leases") >= 1);
    assert_eq!(listed(&outside, "/api/v1/leases", "leases"), 0);
    assert_eq!(listed(&zone_only, "/api/v1/leases", "leases"), 0);
    // POST /api/v1/users/{name}/mfa/confirm: every role confirms its own
    // enrolment with a first code (and no one another's).
    let path = "/api/v1/users/{name}/mfa/confirm";
    assert_eq!(
        send(
            &s,
            &c,
            "POST",
            "/api/v1/users/vic/mfa/confirm",
            None,
            Some(json!({"code": "000000"}))
        )
        .status()
        .as_u16(),
        401
    );
    for (role, user, token) in &tokens {
        let e: Value = send(
            &s,
            &c,
            "POST",
            &format!("/api/v1/users/{user}/mfa"),
            Some(token),
            None,
        )
        .json()
        .unwrap();
        let secret = e["secret"].as_str().unwrap();
        let seed = unbase32(secret);
        let code = headend_admin::core::totp::code_at(&seed, now());
        let other = if *user == "vic" { "oscar" } else { "vic" };
        let got = send(
            &s,
            &c,
            "POST",
            &format!("/api/v1/users/{other}/mfa/confirm"),
            Some(token),
            Some(json!({"code": code})),
        )
        .status()
        .as_u16();
        assert_eq!(got, 403, "{path} of another user as {role}");
        let got = send(
            &s,
            &c,
            "POST",
            &format!("/api/v1/users/{user}/mfa/confirm"),
            Some(token),
            Some(json!({"code": code})),
        )
        .status()
        .as_u16();
        assert_eq!(got, 200, "{path} as {role}");
    }
    covered.push(("POST".into(), path.into()));
    put_lease6(&s, 6);
    assert!(listed(&inside, "/api/v1/leases6", "leases") >= 1);
    assert_eq!(listed(&outside, "/api/v1/leases6", "leases"), 0);
    assert_eq!(listed(&zone_only, "/api/v1/leases6", "leases"), 0);
    // Every non-public route of the API is in the table.
    let doc: Value = c
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op["x-minimum-role"] == "public" {
                continue;
            }
            let key = (method.to_ascii_uppercase(), path.clone());
            assert!(
                covered.contains(&key),
                "route {key:?} is missing from the role matrix"
            );
        }
    }
    let mut secrets = vec![PW.to_owned()];
    secrets.extend(tokens.iter().map(|(_, _, t)| t.clone()));
    s.assert_no_secrets(&secrets);
}

fn refresh(
    s: &AdminServer,
    c: &reqwest::blocking::Client,
    token: &str,
) -> reqwest::blocking::Response {
    c.post(s.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .expect("refresh")
}

#[test]
fn reused_refresh_token_revokes_every_session_of_the_user() {
    let s = admin::start(FAST_LIMITS);
    s.add_user("alice", "operator", PW);
    s.add_user("bob", "operator", PW);
    let c = client();
    let first = s.login(&c, "alice", PW);
    let second = s.login(&c, "alice", PW);
    let bob = s.login(&c, "bob", PW);
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    // Rotation works once.
    let resp = refresh(&s, &c, &r1);
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let rotated: Value = resp.json().unwrap();
    let r2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    let a2 = rotated["access_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&a2)), 200);
    let a_second = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&a_second)), 200);

    // Reusing the rotated token: 401, and every session of alice is dead.
    assert_eq!(refresh(&s, &c, &r1).status().as_u16(), 401);
    assert_eq!(
        refresh(&s, &c, &r2).status().as_u16(),
        401,
        "the new token of the same family"
    );
    assert_eq!(
        refresh(&s, &c, second["refresh_token"].as_str().unwrap())
            .status()
            .as_u16(),
        401,
        "the second login's family"
    );
    for (what, t) in [
        ("rotated access token", &a2),
        ("second login's access token", &a_second),
        (
            "first access token",
            &first["access_token"].as_str().unwrap().to_owned(),
        ),
    ] {
        assert_eq!(s.get_status(&c, "/api/v1/me", Some(t)), 401, "{what}");
    }
    // Bob is untouched.
    assert_eq!(
        s.get_status(
            &c,
            "/api/v1/me",
            Some(bob["access_token"].as_str().unwrap())
        ),
        200
    );
    assert_eq!(
        refresh(&s, &c, bob["refresh_token"].as_str().unwrap())
            .status()
            .as_u16(),
        200
    );
    // Logged as a security event.
    assert!(
        s.headend
            .logs()
            .iter()
            .any(|l| l.contains("SECURITY") && l.contains("alice")),
        "no security log line"
    );
    // Alice can log in again.
    let again = s.token(&c, "alice", PW);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&again)), 200);

    // Logout ends the current family; --all every family.
    let l1 = s.login(&c, "alice", PW);
    let l2 = s.login(&c, "alice", PW);
    let r = c
        .post(s.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": l1["refresh_token"]}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        s.get_status(&c, "/api/v1/me", Some(l1["access_token"].as_str().unwrap())),
        401
    );
    assert_eq!(
        s.get_status(&c, "/api/v1/me", Some(l2["access_token"].as_str().unwrap())),
        200
    );
    let r = c
        .post(s.url("/api/v1/auth/logout?all=true"))
        .bearer_auth(l2["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&again)), 401);
    assert_eq!(
        refresh(&s, &c, l2["refresh_token"].as_str().unwrap())
            .status()
            .as_u16(),
        401
    );

    let mut secrets = vec![PW.to_owned(), r1, r2, a2, a_second];
    for v in [&first, &second, &bob, &l1, &l2] {
        secrets.push(v["access_token"].as_str().unwrap().to_owned());
        secrets.push(v["refresh_token"].as_str().unwrap().to_owned());
    }
    s.assert_no_secrets(&secrets);
}

#[test]
fn disabled_user_or_changed_password_kills_live_access_tokens_at_once() {
    let s = admin::start(FAST_LIMITS);
    for (u, r) in [
        ("root", "admin"),
        ("alice", "operator"),
        ("bob", "operator"),
        ("carol", "viewer"),
    ] {
        s.add_user(u, r, PW);
    }
    let c = client();
    let root = s.token(&c, "root", PW);
    let alice = s.token(&c, "alice", PW);
    let bob = s.token(&c, "bob", PW);
    let carol = s.token(&c, "carol", PW);
    for t in [&alice, &bob, &carol] {
        assert_eq!(s.get_status(&c, "/api/v1/zones", Some(t)), 200);
    }
    // Disable through the API: alice's next request fails, and she cannot log in.
    assert_eq!(
        send(
            &s,
            &c,
            "POST",
            "/api/v1/users/alice/disable",
            Some(&root),
            None
        )
        .status()
        .as_u16(),
        200
    );
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&alice)), 401);
    let r = c
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "alice", "password": PW}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Password change: bob's token dies, the new password works, the old does not.
    let new_pw = "a whole new password";
    assert_eq!(
        send(
            &s,
            &c,
            "PUT",
            "/api/v1/users/bob/password",
            Some(&root),
            Some(json!({"password": new_pw}))
        )
        .status()
        .as_u16(),
        200
    );
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&bob)), 401);
    let r = c
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "bob", "password": PW}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let bob2 = s.token(&c, "bob", new_pw);
    assert_eq!(s.get_status(&c, "/api/v1/zones", Some(&bob2)), 200);
    // Disabled locally with `headend user disable` while the server runs:
    // the server picks it up from the store within seconds.
    let out = s.user_cmd(&["disable", "carol"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(6);
    while s.get_status(&c, "/api/v1/zones", Some(&carol)) == 200 {
        assert!(
            Instant::now() < deadline,
            "carol's token still works 6 s after `headend user disable`"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `user list` shows the state; `user unlock` and `enable` work locally.
    let out = s.user_cmd(&["list"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("carol") && l.contains("disabled")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("root") && l.contains("ago")),
        "{text}"
    );
    s.assert_no_secrets(&[
        PW.to_owned(),
        new_pw.to_owned(),
        root,
        alice,
        bob,
        bob2,
        carol,
    ]);
}

#[test]
fn refresh_cookie_needs_our_origin_and_auth_answers_are_not_cached() {
    let s = admin::start(FAST_LIMITS);
    s.add_user("alice", "viewer", PW);
    // Login with curl: the cookie attributes, no-store, no CORS headers.
    let body = format!(r#"{{"username":"alice","password":"{PW}"}}"#);
    let (status, head, answer) = curl(&[
        "-H",
        "content-type: application/json",
        "-H",
        "Origin: https://evil.example",
        "-d",
        &body,
        &s.url("/api/v1/auth/login"),
    ]);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(
        !head.contains("access-control-"),
        "CORS headers sent: {head}"
    );
    let cookie_line = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("set-cookie")
        .to_owned();
    for attr in ["httponly", "secure", "samesite=strict", "path=/api/v1/auth"] {
        assert!(cookie_line.contains(attr), "{cookie_line}");
    }
    let login: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.len() >= 43, "refresh token shorter than 256 bits");
    let cookie = format!("headend_refresh={refresh}");
    // Cookie with a foreign Origin, or with none at all: 403, token still valid.
    let (status, head, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Cookie: {cookie}"),
        "-H",
        "Origin: https://evil.example",
        &s.url("/api/v1/auth/refresh"),
    ]);
    assert_eq!(status, 403);
    assert!(head.contains("cache-control: no-store"), "{head}");
    let (status, _, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Cookie: {cookie}"),
        &s.url("/api/v1/auth/refresh"),
    ]);
    assert_eq!(status, 403, "cookie without Origin or Referer");
    let (status, _, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Cookie: {cookie}"),
        "-H",
        "Referer: https://evil.example/x",
        &s.url("/api/v1/auth/refresh"),
    ]);
    assert_eq!(status, 403, "foreign Referer");
    // Our own Origin: the cookie refreshes.
    let origin = format!("Origin: https://127.0.0.1:{}", s.port);
    let (status, head, answer) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Cookie: {cookie}"),
        "-H",
        &origin,
        &s.url("/api/v1/auth/refresh"),
    ]);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("cache-control: no-store"));
    let rotated: Value = serde_json::from_str(&answer).unwrap();
    // Failed login: 401, one generic message for unknown user and wrong password.
    let c = client();
    let mut messages = Vec::new();
    for (u, p) in [("alice", "wrong password"), ("nobody", PW)] {
        let r = c
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": u, "password": p}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
        let v: Value = r.json().unwrap();
        messages.push(v["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(messages[0], messages[1]);
    // Logout by cookie also needs our Origin.
    let new_cookie = format!(
        "headend_refresh={}",
        rotated["refresh_token"].as_str().unwrap()
    );
    let (status, _, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Cookie: {new_cookie}"),
        "-H",
        "Origin: https://evil.example",
        &s.url("/api/v1/auth/logout"),
    ]);
    assert_eq!(status, 403);
    let (status, head, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Cookie: {new_cookie}"),
        "-H",
        &origin,
        &s.url("/api/v1/auth/logout"),
    ]);
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-store"));
    s.assert_no_secrets(&[
        PW.to_owned(),
        refresh,
        rotated["refresh_token"].as_str().unwrap().to_owned(),
        login["access_token"].as_str().unwrap().to_owned(),
    ]);
}

#[test]
fn brute_force_is_rate_limited_and_locks_the_account_until_it_expires() {
    let s = admin::start(
        "[admin.limits]\nlogin_per_minute = 600\nlogin_burst = 20\nlockout_after = 3\nlockout_base = 2\nlockout_max = 2\n",
    );
    s.add_user("alice", "viewer", PW);
    let c = client();
    let attempt = |pw: &str| {
        c.post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": "alice", "password": pw}))
            .send()
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(attempt("wrong password").status().as_u16(), 401);
    }
    // Locked: even the right password is refused, with Retry-After.
    let r = attempt(PW);
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = header(&r, "retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let out = s.user_cmd(&["list"], "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("locked"),
        "user list shows no lock"
    );
    // The lockout expires.
    std::thread::sleep(Duration::from_secs(retry + 1));
    assert_eq!(attempt(PW).status().as_u16(), 200);
    // `headend user unlock` clears a lockout at once.
    for _ in 0..3 {
        assert_eq!(attempt("wrong password").status().as_u16(), 401);
    }
    assert_eq!(attempt(PW).status().as_u16(), 429);
    assert!(s.user_cmd(&["unlock", "alice"], "").status.success());
    assert_eq!(attempt(PW).status().as_u16(), 200);
    // Per-address rate limit: a burst of attempts (each for another name
    // that does not exist, so no lockout is involved) ends in 429 with
    // Retry-After.
    let mut limited = None;
    for i in 0..40 {
        let r = c
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": format!("nobody{i}"), "password": "x"}))
            .send()
            .unwrap();
        if r.status().as_u16() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status().as_u16(), 401);
    }
    let r = limited.expect("no 429 within 40 rapid attempts");
    assert!(header(&r, "retry-after").is_some());
    s.assert_no_secrets(&[PW.to_owned()]);
}

#[test]
fn plain_http_to_the_tls_port_gets_no_api_response() {
    let s = admin::start(FAST_LIMITS);
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains("HTTP/1."),
        "plain HTTP got an HTTP answer: {text:?}"
    );
    assert!(!text.contains("status"), "{text:?}");
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("http://127.0.0.1:{}/health", s.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "000",
        "curl over plain HTTP got a status"
    );
    // The port still serves TLS afterwards.
    assert_eq!(s.get_status(&client(), "/health", None), 200);
}

#[test]
fn only_tls_1_2_and_1_3_are_spoken() {
    let s = admin::start(FAST_LIMITS);
    let code = |args: &[&str]| {
        let out = std::process::Command::new("curl")
            .args([
                "-sk",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(args)
            .arg(s.url("/health"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    common::require("curl");
    assert_eq!(code(&["--tlsv1.2", "--tls-max", "1.2"]), "200", "TLS 1.2");
    assert_eq!(code(&["--tlsv1.3"]), "200", "TLS 1.3");
    assert_eq!(
        code(&["--tlsv1.0", "--tls-max", "1.1"]),
        "000",
        "TLS 1.1 or older was accepted"
    );
}

#[test]
fn allow_list_refuses_other_sources_and_metrics_allow_skips_the_token() {
    // 127.0.0.1 is outside the allow list: everything, even /health and login, is refused.
    let s = admin::start("allow = [\"10.0.0.0/8\", \"::1/128\"]\n");
    let c = client();
    assert_eq!(s.get_status(&c, "/health", None), 403);
    let r = c
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "a", "password": "b"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    drop(s);
    // Inside the allow list and in metrics_allow: /metrics without a token.
    let s = admin::start("allow = [\"127.0.0.0/8\"]\nmetrics_allow = [\"127.0.0.1/32\"]\n");
    assert_eq!(s.get_status(&c, "/health", None), 200);
    let r = c.get(s.url("/metrics")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().unwrap();
    assert!(text.contains("headend_admin_requests_total"), "{text}");
    assert_eq!(
        s.get_status(&c, "/api/v1/zones", None),
        401,
        "metrics_allow opens /metrics only"
    );
}

#[test]
fn a_forced_rotation_publishes_the_next_key_before_it_signs_and_keeps_the_old_one_until_its_tokens_expire()
 {
    // Tokens live 2 s (+1 s leeway): the next key signs 3 s after it is published.
    let s = admin::start(&format!(
        "{FAST_LIMITS}[admin.tokens]\naccess_ttl = 2\nleeway = 1\n"
    ));
    s.add_user("root", "admin", PW);
    let c = client();
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    let jwks = || -> Vec<String> {
        let v: Value = c
            .get(s.url("/.well-known/jwks.json"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = s.token(&c, "root", PW);
    let old = kid(&before);
    let r = send(&s, &c, "POST", "/api/v1/keys/rotate", Some(&before), None);
    assert_eq!(r.status().as_u16(), 200);
    let rotated: Value = r.json().unwrap();
    assert_eq!(rotated["previous_kid"].as_str(), Some(old.as_str()));
    let new = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["signs_from"].as_u64().unwrap() >= now() + 2);
    // Published at once, beside the key that still signs.
    assert_eq!(jwks(), vec![old.clone(), new.clone()]);
    assert_eq!(
        kid(&s.token(&c, "root", PW)),
        old,
        "the next key waits its turn"
    );
    // Log in until the new key signs; the last token of the old key still
    // passes after the switch.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last_old = before;
    let first_new = loop {
        let t = s.token(&c, "root", PW);
        if kid(&t) == new {
            break t;
        }
        last_old = t;
        assert!(Instant::now() < deadline, "the next key never signed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&last_old)), 200);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&first_new)), 200);
    // Once its last token expired, the old key leaves the set.
    let deadline = Instant::now() + Duration::from_secs(15);
    while jwks().contains(&old) {
        assert!(Instant::now() < deadline, "the old key stays published");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&last_old)), 401);
    s.assert_no_secrets(&[PW.to_owned(), last_old, first_new]);
}

#[test]
fn raised_argon2_parameters_rehash_the_password_at_the_next_login() {
    let s = admin::start(FAST_LIMITS);
    // Add the user with weaker parameters through a second config on the same state dir.
    let low = s.headend.dir.path().join("low.toml");
    std::fs::write(
        &low,
        "[general]\nstate_dir = \"state\"\n[admin]\n[admin.argon2]\nmemory_kib = 512\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(common::headend_bin())
        .args(["user", "-c"])
        .arg(&low)
        .args(["add", "old", "--role", "viewer", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PW}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let store =
        headend_store::Store::open_sqlite_existing(s.state_dir().join("headend.db")).unwrap();
    let phc = |store: &headend_store::Store| store.auth().user("old").unwrap().unwrap().phc;
    assert!(phc(&store).contains("m=512,t=1"), "{}", phc(&store));
    // A failed login changes nothing; a successful one re-hashes with the server's parameters.
    let c = client();
    let r = c
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "old", "password": "wrong password"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(phc(&store).contains("m=512,t=1"));
    let token = s.token(&c, "old", PW);
    assert!(
        phc(&store).starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{}",
        phc(&store)
    );
    // And the new hash still verifies.
    let again = s.token(&c, "old", PW);
    s.assert_no_secrets(&[PW.to_owned(), token, again]);
}
