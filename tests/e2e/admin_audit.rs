//! "Every change is audited": user, zone and reservation changes made through
//! the admin API leave audit entries naming who did what to which target and
//! how it ended; and the zone checks' mail-authentication lint refuses an API
//! edit that would publish a broken DKIM or SPF record.

use crate::common;

use reqwest::Method;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use common::admin::{self, AdminServer, client};
use common::dig::dig;
use common::require;

const PW: &str = "correct horse battery";

fn send(
    s: &AdminServer,
    c: &Client,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut r = c
        .request(
            Method::from_bytes(method.as_bytes()).expect("method"),
            s.url(path),
        )
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().expect("request")
}

/// The audit log through the API, oldest first.
fn audit(s: &AdminServer, c: &Client, token: &str) -> Vec<Value> {
    let r = send(s, c, "GET", "/api/v1/audit?limit=1000", token, None);
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().expect("audit json");
    let mut entries = body["entries"].as_array().expect("entries").clone();
    entries.reverse();
    entries
}

#[test]
fn user_zone_and_reservation_changes_are_audited_with_actor_action_target_and_result() {
    require("dig");
    let s = admin::start("");
    s.add_user("alice", "admin", PW);
    s.add_user("oscar", "operator", PW);
    let c = client();
    let alice = s.token(&c, "alice", PW);
    let oscar = s.token(&c, "oscar", PW);
    let seen = audit(&s, &c, &alice)
        .last()
        .and_then(|e| e["id"].as_i64())
        .expect("the logins are audited");

    let expect_status = |r: Response, want: u16, what: &str| {
        let status = r.status().as_u16();
        let text = r.text().unwrap_or_default();
        assert_eq!(status, want, "{what}: {text}");
    };
    // Users (admin).
    expect_status(
        send(
            &s,
            &c,
            "POST",
            "/api/v1/users",
            &alice,
            Some(json!({"username": "bob", "password": "bob's long password", "role": "viewer"})),
        ),
        201,
        "user add",
    );
    expect_status(
        send(
            &s,
            &c,
            "PUT",
            "/api/v1/users/bob/password",
            &alice,
            Some(json!({"password": "bob's new long password"})),
        ),
        200,
        "password",
    );
    expect_status(
        send(&s, &c, "POST", "/api/v1/users/bob/disable", &alice, None),
        200,
        "disable",
    );
    // Zone records (operator): a change, a refused change, a deletion.
    expect_status(
        send(
            &s,
            &c,
            "PUT",
            "/api/v1/zones/e2e.test/records/audited/A",
            &oscar,
            Some(json!({"ttl": 300, "rdata": ["192.0.2.44"]})),
        ),
        200,
        "record set",
    );
    assert_eq!(
        dig(s.dns_port, "audited.e2e.test", "A", &[]).answer_rdata("A"),
        vec!["192.0.2.44"]
    );
    expect_status(
        send(
            &s,
            &c,
            "PUT",
            "/api/v1/zones/e2e.test/records/@/CNAME",
            &oscar,
            Some(json!({"rdata": ["www"]})),
        ),
        422,
        "CNAME at the apex",
    );
    expect_status(
        send(
            &s,
            &c,
            "DELETE",
            "/api/v1/zones/e2e.test/records/audited/A",
            &oscar,
            None,
        ),
        200,
        "record delete",
    );
    // Reservations (operator).
    expect_status(
        send(
            &s,
            &c,
            "POST",
            "/api/v1/reservations",
            &oscar,
            Some(json!({"subnet": "lan", "hwaddr": "02:AA:00:00:00:42", "address": "10.0.0.42"})),
        ),
        201,
        "reservation add",
    );
    expect_status(
        send(
            &s,
            &c,
            "DELETE",
            "/api/v1/reservations/lan/02:aa:00:00:00:42",
            &oscar,
            None,
        ),
        200,
        "reservation delete",
    );

    let entries: Vec<Value> = audit(&s, &c, &alice)
        .into_iter()
        .filter(|e| e["id"].as_i64().is_some_and(|id| id > seen))
        .collect();
    let got: Vec<[String; 4]> = entries
        .iter()
        .map(|e| {
            ["actor", "action", "target", "result"]
                .map(|k| e[k].as_str().unwrap_or("<none>").to_owned())
        })
        .collect();
    let want: Vec<[String; 4]> = [
        ["alice", "user.add", "bob (viewer)", "ok"],
        ["alice", "user.passwd", "bob", "ok"],
        ["alice", "user.disable", "bob", "ok"],
        ["oscar", "record.set", "e2e.test audited A 192.0.2.44", "ok"],
        ["oscar", "record.set", "e2e.test @ CNAME www", "refused 422"],
        ["oscar", "record.delete", "e2e.test audited A *", "ok"],
        [
            "oscar",
            "reservation.add",
            "lan 02:aa:00:00:00:42 10.0.0.42",
            "ok",
        ],
        ["oscar", "reservation.delete", "lan 02:aa:00:00:00:42", "ok"],
    ]
    .map(|row| row.map(str::to_owned))
    .to_vec();
    assert_eq!(got, want, "audit entries: {entries:#?}");
    for e in &entries {
        assert_eq!(e["source"], "127.0.0.1", "{e}");
        let at = e["at"].as_u64().expect("at");
        let now = unix_now();
        assert!(at <= now && now - at < 600, "{e}");
    }
    // Nobody but an admin reads it.
    assert_eq!(s.get_status(&c, "/api/v1/audit", Some(&oscar)), 403);
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[test]
fn an_api_edit_publishing_a_broken_dkim_or_spf_record_is_refused_with_the_finding() {
    require("dig");
    let s = admin::start("");
    s.add_user("oscar", "operator", PW);
    let c = client();
    let oscar = s.token(&c, "oscar", PW);
    let file = s.headend.dir.path().join("e2e.test.zone");
    let before = std::fs::read(&file).expect("zone file");

    let refused = |path: &str, rdata: &[&str]| -> Vec<String> {
        let r = send(
            &s,
            &c,
            "PUT",
            path,
            &oscar,
            Some(json!({"ttl": 300, "rdata": rdata})),
        );
        assert_eq!(r.status().as_u16(), 422, "{path} {rdata:?}");
        let body: Value = r.json().expect("error json");
        assert_eq!(body["error"], "invalid_zone", "{body}");
        body["details"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f.as_str().expect("finding text").to_owned())
            .collect()
    };

    // A DKIM key whose p= is not base64.
    let findings = refused(
        "/api/v1/zones/e2e.test/records/sel._domainkey/TXT",
        &["\"v=DKIM1; k=rsa; p=not*base64!\""],
    );
    assert!(
        findings
            .iter()
            .any(|f| f.contains("DKIM: `p=` is not valid base64")),
        "{findings:?}"
    );
    // A second SPF policy beside the zone's `v=spf1 mx -all`: permerror.
    let findings = refused(
        "/api/v1/zones/e2e.test/records/@/TXT",
        &["\"v=spf1 mx -all\"", "\"v=spf1 a -all\""],
    );
    assert!(
        findings
            .iter()
            .any(|f| f.contains("a second v=spf1 record")),
        "{findings:?}"
    );
    // An SPF term no receiver understands.
    let findings = refused(
        "/api/v1/zones/e2e.test/records/mail/TXT",
        &["\"v=spf1 ip4:192.0.2.300 -all\""],
    );
    assert!(findings.iter().any(|f| f.contains("SPF:")), "{findings:?}");

    // Nothing was written or served.
    assert_eq!(std::fs::read(&file).expect("zone file"), before);
    let dkim = dig(s.dns_port, "sel._domainkey.e2e.test", "TXT", &[]);
    assert_eq!(dkim.status, "NXDOMAIN", "{}", dkim.raw);
    let spf = dig(s.dns_port, "e2e.test", "TXT", &[]);
    assert_eq!(spf.answer_rdata("TXT"), vec!["\"v=spf1 mx -all\""]);

    // A good DKIM record (an ed25519 key, 32 bytes) is accepted.
    let r = send(
        &s,
        &c,
        "PUT",
        "/api/v1/zones/e2e.test/records/sel._domainkey/TXT",
        &oscar,
        Some(
            json!({"rdata": ["\"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\""]}),
        ),
    );
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
    let dkim = dig(s.dns_port, "sel._domainkey.e2e.test", "TXT", &[]);
    assert_eq!(dkim.status, "NOERROR", "{}", dkim.raw);
}
