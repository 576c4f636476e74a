//! [`AuthStore`](headend_store::AuthStore) on PostgreSQL against a real
//! server: users, lockouts, refresh-token families (rotation under
//! concurrency), the audit log and reservations. A private cluster per test
//! process (see `pg_cluster`), a fresh database per test; two `Store`s on one
//! database stand for two headend servers.

// Shared with tests/postgres.rs, which uses all of it.
#[allow(dead_code)]
mod pg_cluster;

use std::net::Ipv4Addr;
use std::sync::Barrier;

use headend_store::auth::{AuditRecord, FamilyRecord, Reservation, UserRecord};
use pg_cluster::Db;

fn user(name: &str) -> UserRecord {
    UserRecord {
        username: name.into(),
        phc: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: "operator".into(),
        disabled: false,
        failures: 0,
        locked_until: 0,
        last_login: None,
        not_before: 0,
        created: 1,
    }
}

fn family(id: &str, name: &str, created: u64) -> FamilyRecord {
    FamilyRecord {
        id: id.into(),
        username: name.into(),
        created,
        expires: 1000,
        last_used: created,
        source: Some("127.0.0.1".into()),
        revoked: None,
        revoke_reason: None,
    }
}

// ---- auth --------------------------------------------------------------------

#[test]
fn duplicate_user_is_refused_and_users_sort_bytewise() {
    let db = Db::new();
    let store = db.store();
    let auth = store.auth();
    for name in ["bob", "alice", "Bob"] {
        assert!(auth.user_insert(&user(name)).unwrap());
    }
    assert!(!auth.user_insert(&user("alice")).unwrap());
    let names: Vec<_> = auth
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["Bob", "alice", "bob"]);
    assert_eq!(auth.user("alice").unwrap().unwrap(), user("alice"));
    assert!(auth.user("carol").unwrap().is_none());
}

#[test]
fn password_change_and_disable_revoke_sessions() {
    let db = Db::new();
    let store = db.store();
    let auth = store.auth();
    auth.user_insert(&user("alice")).unwrap();
    auth.family_start(&family("f1", "alice", 10), b"h1", 10)
        .unwrap();
    auth.family_start(&family("f2", "alice", 20), b"k1", 20)
        .unwrap();
    auth.user_record_failure("alice", &|_| 500).unwrap();
    let ids = auth.user_set_password("alice", "new", 50).unwrap().unwrap();
    assert_eq!(ids, ["f1", "f2"]);
    let u = auth.user("alice").unwrap().unwrap();
    assert_eq!(
        (u.phc.as_str(), u.not_before, u.failures, u.locked_until),
        ("new", 50, 0, 0)
    );
    let f = auth.family("f1").unwrap().unwrap();
    assert_eq!(
        (f.revoked, f.revoke_reason.as_deref()),
        (Some(50), Some("password changed"))
    );
    assert!(auth.user_set_password("bob", "x", 50).unwrap().is_none());

    auth.family_start(&family("f3", "alice", 60), b"m1", 60)
        .unwrap();
    assert_eq!(
        auth.user_set_disabled("alice", true, 70).unwrap().unwrap(),
        ["f3"]
    );
    let u = auth.user("alice").unwrap().unwrap();
    assert!(u.disabled);
    assert_eq!(u.not_before, 70);
    assert_eq!(
        auth.family("f3").unwrap().unwrap().revoke_reason.as_deref(),
        Some("user disabled")
    );
    assert_eq!(
        auth.user_set_disabled("alice", false, 80).unwrap(),
        Some(vec![])
    );
    let u = auth.user("alice").unwrap().unwrap();
    assert!(!u.disabled);
    assert_eq!(u.not_before, 70);
    assert!(auth.user_set_disabled("bob", true, 80).unwrap().is_none());
}

#[test]
fn failures_count_up_and_lock_until_unlocked() {
    let db = Db::new();
    let store = db.store();
    let auth = store.auth();
    auth.user_insert(&user("alice")).unwrap();
    let lock = |n: u32| if n >= 2 { 100 + u64::from(n) } else { 0 };
    assert_eq!(auth.user_record_failure("alice", &lock).unwrap(), Some(1));
    assert_eq!(auth.user("alice").unwrap().unwrap().locked_until, 0);
    assert_eq!(auth.user_record_failure("alice", &lock).unwrap(), Some(2));
    assert_eq!(auth.user("alice").unwrap().unwrap().locked_until, 102);
    // A shorter lockout never shortens the one in force.
    assert_eq!(auth.user_record_failure("alice", &|_| 50).unwrap(), Some(3));
    assert_eq!(auth.user("alice").unwrap().unwrap().locked_until, 102);
    assert!(auth.user_unlock("alice").unwrap());
    let u = auth.user("alice").unwrap().unwrap();
    assert_eq!((u.failures, u.locked_until), (0, 0));
    assert!(!auth.user_unlock("nobody").unwrap());
    assert_eq!(auth.user_record_failure("nobody", &lock).unwrap(), None);
    // Unknown user: the transaction was rolled back, the connection is fine.
    assert_eq!(auth.user_record_failure("alice", &lock).unwrap(), Some(1));

    auth.user_login_ok("alice", 500, None).unwrap();
    let u = auth.user("alice").unwrap().unwrap();
    assert_eq!(
        (u.failures, u.last_login, u.phc.as_str()),
        (0, Some(500), user("alice").phc.as_str())
    );
    auth.user_login_ok("alice", 600, Some("rehashed")).unwrap();
    let u = auth.user("alice").unwrap().unwrap();
    assert_eq!((u.last_login, u.phc.as_str()), (Some(600), "rehashed"));
}

#[test]
fn concurrent_failures_are_all_counted() {
    let db = Db::new();
    let servers = [db.store(), db.store()];
    servers[0].auth().user_insert(&user("alice")).unwrap();
    std::thread::scope(|scope| {
        for store in &servers {
            for _ in 0..4 {
                scope.spawn(move || {
                    for _ in 0..5 {
                        store.auth().user_record_failure("alice", &|_| 0).unwrap();
                    }
                });
            }
        }
    });
    assert_eq!(
        servers[1].auth().user("alice").unwrap().unwrap().failures,
        40
    );
}

#[test]
fn rotation_spends_the_old_token_once() {
    let db = Db::new();
    let store = db.store();
    let auth = store.auth();
    auth.user_insert(&user("alice")).unwrap();
    auth.family_start(&family("f1", "alice", 10), b"h1", 10)
        .unwrap();
    let (tok, fam) = auth.refresh_lookup(b"h1").unwrap().unwrap();
    assert_eq!(
        (tok.family.as_str(), tok.issued, tok.used),
        ("f1", 10, None)
    );
    assert_eq!(fam, family("f1", "alice", 10));
    assert!(auth.refresh_rotate(b"h1", b"h2", 20).unwrap());
    assert!(!auth.refresh_rotate(b"h1", b"h3", 21).unwrap());
    let (tok, fam) = auth.refresh_lookup(b"h1").unwrap().unwrap();
    assert_eq!(tok.used, Some(20));
    assert_eq!(fam.last_used, 20);
    let (tok, _) = auth.refresh_lookup(b"h2").unwrap().unwrap();
    assert_eq!((tok.issued, tok.used), (20, None));
    assert!(auth.refresh_lookup(b"h3").unwrap().is_none());
    assert!(!auth.refresh_rotate(b"nope", b"h4", 22).unwrap());
}

#[test]
fn concurrent_rotations_of_one_token_have_exactly_one_winner() {
    let db = Db::new();
    let servers = [db.store(), db.store()];
    servers[0].auth().user_insert(&user("alice")).unwrap();
    for round in 0..5u8 {
        let old = [b'o', round];
        let id = format!("f{round}");
        servers[0]
            .auth()
            .family_start(&family(&id, "alice", 10), &old, 10)
            .unwrap();
        let start = Barrier::new(8);
        let wins: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let (store, start) = (&servers[usize::from(i % 2)], &start);
                    scope.spawn(move || {
                        start.wait();
                        store
                            .auth()
                            .refresh_rotate(&old, &[b'n', round, i], 30)
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "round {round}: {wins:?}"
        );
        // The family has the spent token and exactly one new one.
        assert_eq!(
            db.value(&format!(
                "SELECT count(*) FROM auth_refresh_tokens WHERE family = '{id}' AND used IS NULL"
            )),
            "1"
        );
    }
}

#[test]
fn revoked_family_cannot_rotate_and_families_are_listed() {
    let db = Db::new();
    let store = db.store();
    let auth = store.auth();
    auth.user_insert(&user("alice")).unwrap();
    auth.user_insert(&user("bob")).unwrap();
    auth.family_start(&family("f1", "alice", 10), b"h1", 10)
        .unwrap();
    auth.family_start(&family("f2", "alice", 20), b"k1", 20)
        .unwrap();
    let mut short = family("g1", "bob", 30);
    short.expires = 40;
    auth.family_start(&short, b"b1", 30).unwrap();
    let ids = |v: Vec<FamilyRecord>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(ids(auth.families(None, None).unwrap()), ["g1", "f2", "f1"]);
    assert_eq!(
        ids(auth.families(Some("alice"), None).unwrap()),
        ["f2", "f1"]
    );
    assert_eq!(ids(auth.families(None, Some(45)).unwrap()), ["f2", "f1"]);
    assert!(auth.family_revoke("f1", 25, "logout").unwrap());
    assert!(!auth.family_revoke("f1", 26, "logout").unwrap());
    assert!(!auth.family_revoke("nope", 26, "logout").unwrap());
    assert_eq!(ids(auth.families(Some("alice"), Some(30)).unwrap()), ["f2"]);
    assert_eq!(
        auth.families_revoke_user("alice", 30, "reuse").unwrap(),
        ["f2"]
    );
    assert!(!auth.refresh_rotate(b"k1", b"k2", 31).unwrap());
    assert!(!auth.refresh_rotate(b"h1", b"h2", 31).unwrap());
    assert_eq!(ids(auth.families_revoked_since(25).unwrap()), ["f1", "f2"]);
    assert_eq!(ids(auth.families_revoked_since(30).unwrap()), ["f2"]);
    assert!(auth.families(Some("alice"), Some(31)).unwrap().is_empty());
    let f2 = auth.family("f2").unwrap().unwrap();
    assert_eq!(
        (f2.revoked, f2.revoke_reason.as_deref()),
        (Some(30), Some("reuse"))
    );
    assert!(auth.family("nope").unwrap().is_none());
}

#[test]
fn family_of_an_unknown_user_is_refused_whole() {
    let db = Db::new();
    let store = db.store();
    let err = store
        .auth()
        .family_start(&family("f1", "ghost", 10), b"h1", 10)
        .unwrap_err();
    assert!(err.to_string().contains("session start"), "{err}");
    assert!(store.auth().family("f1").unwrap().is_none());
    assert!(store.auth().refresh_lookup(b"h1").unwrap().is_none());
}

#[test]
fn audit_lists_newest_first_up_to_the_limit() {
    let db = Db::new();
    let store = db.store();
    for (i, action) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        store
            .auth()
            .audit_append(&AuditRecord {
                id: 0,
                at: 100 + i as u64,
                actor: "alice".into(),
                source: Some("127.0.0.1".into()),
                action: action.into(),
                target: None,
                result: "ok".into(),
                detail: (i == 4).then(|| "last".to_owned()),
            })
            .unwrap();
    }
    let all = store.auth().audit(3).unwrap();
    assert_eq!(
        all.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["e", "d", "c"]
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!((all[0].at, all[0].detail.as_deref()), (104, Some("last")));
    assert_eq!(all[0].source.as_deref(), Some("127.0.0.1"));
    assert_eq!(store.auth().audit(100).unwrap().len(), 5);
    assert!(store.auth().audit(0).unwrap().is_empty());
}

#[test]
fn reservation_address_belongs_to_one_client() {
    let db = Db::new();
    let store = db.store();
    let auth = store.auth();
    let r = Reservation {
        subnet: "lan".into(),
        hwaddr: "aa:bb:cc:dd:ee:ff".into(),
        address: Ipv4Addr::new(10, 0, 0, 5),
        hostname: None,
        created: 1,
    };
    assert!(auth.reservation_put(&r).unwrap());
    let other = Reservation {
        hwaddr: "11:22:33:44:55:66".into(),
        ..r.clone()
    };
    assert!(!auth.reservation_put(&other).unwrap());
    assert!(auth.reservation_put(&r).unwrap());
    // Another subnet may use the same address; a client may move.
    let wan = Reservation {
        subnet: "WAN".into(),
        ..other.clone()
    };
    assert!(auth.reservation_put(&wan).unwrap());
    let moved = Reservation {
        address: Ipv4Addr::new(10, 0, 0, 4),
        hostname: Some("moved".into()),
        ..r
    };
    assert!(auth.reservation_put(&moved).unwrap());
    assert!(auth.reservation_put(&other).unwrap());
    assert_eq!(auth.reservations().unwrap(), vec![wan, moved, other]);
    assert!(auth.reservation_delete("lan", "aa:bb:cc:dd:ee:ff").unwrap());
    assert!(!auth.reservation_delete("lan", "aa:bb:cc:dd:ee:ff").unwrap());
    assert_eq!(auth.reservations().unwrap().len(), 2);
}

#[test]
fn concurrent_reservations_of_one_address_have_one_winner() {
    let db = Db::new();
    let servers = [db.store(), db.store()];
    let start = Barrier::new(6);
    let wins: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6u8)
            .map(|i| {
                let (store, start) = (&servers[usize::from(i % 2)], &start);
                scope.spawn(move || {
                    start.wait();
                    store
                        .auth()
                        .reservation_put(&Reservation {
                            subnet: "lan".into(),
                            hwaddr: format!("02:00:00:00:00:{i:02x}"),
                            address: Ipv4Addr::new(10, 0, 0, 9),
                            hostname: None,
                            created: 1,
                        })
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    assert_eq!(servers[0].auth().reservations().unwrap().len(), 1);
}
