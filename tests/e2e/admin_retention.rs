//! Retention and audit forwarding: audit entries are forwarded as JSON
//! lines to a file as they are written; on start (then hourly) the
//! retention sweep deletes audit entries older than
//! `audit_retention_days`, sessions that ended, and API keys revoked that
//! long ago, and keeps everything else.

use crate::common;

use std::time::{Duration, Instant};

use common::Headend;
use common::admin::{self, client};
use headend_store::Store;
use headend_store::auth::{AuditRecord, FamilyRecord};
use serde_json::Value;

const PW: &str = "correct horse battery";
const DAY: u64 = 86_400;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn forwarded(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn audit_is_forwarded_as_json_lines_and_old_rows_are_swept() {
    let out = tempfile::tempdir().expect("tempdir");
    let fwd = out.path().join("audit.jsonl");
    let s = admin::start(&format!(
        "audit_retention_days = 30\n[admin.audit]\nforward = \"file:{}\"\n",
        fwd.display()
    ));
    s.add_user("ada", "admin", PW);
    let c = client();
    let token = s.token(&c, "ada", PW);
    let r = c
        .post(s.url("/api/v1/apikeys"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "gone", "role": "viewer"}))
        .send()
        .expect("create key");
    assert!(r.status().is_success(), "{}", r.status());
    let key: Value = r.json().expect("key json");
    let secret = key["key"].as_str().expect("key").to_owned();

    // Forwarded as written: the login and the key's creation, as JSON.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = forwarded(&fwd);
        if lines
            .iter()
            .any(|l| l["actor"] == "ada" && l["action"] == "apikey.create" && l["result"] == "ok")
        {
            assert!(lines.iter().any(|l| l["action"] == "login"), "{lines:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not forwarded: {lines:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !std::fs::read_to_string(&fwd)
            .unwrap()
            .contains(&secret[20..]),
        "the key's secret is forwarded"
    );

    // With the server stopped, rows from long ago are added.
    let admin::AdminServer { mut headend, .. } = s;
    headend.stop();
    let dir = std::mem::replace(&mut headend.dir, tempfile::tempdir().expect("tempdir"));
    let config = headend.config.clone();
    drop(headend);
    let db = dir.path().join("state/headend.db");
    {
        let store = Store::open_sqlite_existing(&db).expect("open store");
        let t = now();
        store
            .auth()
            .audit_append(&AuditRecord {
                id: 0,
                at: t - 40 * DAY,
                actor: "ada".into(),
                source: None,
                action: "ancient".into(),
                target: None,
                result: "ok".into(),
                detail: None,
            })
            .unwrap();
        store
            .auth()
            .family_start(
                &FamilyRecord {
                    id: "ended".into(),
                    username: "ada".into(),
                    created: t - 10 * DAY,
                    expires: t - 3 * DAY,
                    last_used: t - 4 * DAY,
                    source: None,
                    revoked: None,
                    revoke_reason: None,
                },
                b"old refresh hash",
                t - 10 * DAY,
            )
            .unwrap();
        assert!(
            store
                .api_keys()
                .api_key_revoke("gone", t - 31 * DAY)
                .unwrap()
        );
    }
    let mut h = Headend::spawn(dir, config, &[]);
    let line = h.wait_for_log("retention sweep done", Duration::from_secs(30));
    for part in ["audit=1", "families=1", "refresh_tokens=1", "api_keys=1"] {
        assert!(line.contains(part), "{part}: {line}");
    }
    let store = Store::open_sqlite_existing(&db).expect("open store");
    let audit = store.auth().audit(1000).unwrap();
    assert!(audit.iter().all(|r| r.action != "ancient"));
    assert!(
        audit.iter().any(|r| r.action == "apikey.create"),
        "recent entries stay"
    );
    assert!(store.auth().family("ended").unwrap().is_none());
    assert!(store.api_keys().api_key_named("gone").unwrap().is_none());
    assert!(store.auth().user("ada").unwrap().is_some());
    drop(h);
}
