//! [`AuthStore`](headend_store::AuthStore): users and lockouts, refresh-token
//! families, the audit log and reservations, one server at a time.

use std::net::Ipv4Addr;

use headend_store::Store;
use headend_store::auth::{AuditRecord, FamilyRecord, Reservation};

use super::Database;
use super::users::{family, user};

/// Opens the store with user `alice` signed in once per `(family id, first
/// refresh token, login time)`.
fn alice_signed_in(db: &dyn Database, logins: &[(&str, &[u8], u64)]) -> Store {
    let store = db.open();
    store.auth().user_insert(&user("alice")).unwrap();
    for &(id, token, at) in logins {
        store
            .auth()
            .family_start(&family(id, "alice", at), token, at)
            .unwrap();
    }
    store
}

pub(crate) fn duplicate_user_is_refused_whatever_its_case(db: &dyn Database) {
    let store = db.open();
    let auth = store.auth();
    for name in ["bob", "alice"] {
        assert!(auth.user_insert(&user(name)).unwrap());
    }
    // `UserRecord::new` folds the name ...
    assert!(!auth.user_insert(&user("Bob")).unwrap());
    assert_eq!(user("Bob").username, "bob");
    // ... and the database refuses an unfolded spelling of a taken name.
    let mut raw = user("alice");
    raw.username = "ALICE".into();
    assert!(!auth.user_insert(&raw).unwrap());
    assert!(!auth.user_insert(&user("alice")).unwrap());
    let names: Vec<_> = auth
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(auth.user("alice").unwrap().unwrap(), user("alice"));
    assert!(auth.user("carol").unwrap().is_none());
}

pub(crate) fn role_change_kills_older_access_tokens(db: &dyn Database) {
    let store = db.open();
    let auth = store.auth();
    assert!(auth.user_insert(&user("alice")).unwrap());
    assert!(auth.user_set_role("alice", "viewer", 70).unwrap());
    let u = auth.user("alice").unwrap().unwrap();
    assert_eq!((u.role.as_str(), u.not_before), ("viewer", 70));
    assert!(!auth.user_set_role("nobody", "viewer", 70).unwrap());
}

pub(crate) fn password_change_and_disable_revoke_sessions(db: &dyn Database) {
    let store = alice_signed_in(db, &[("f1", b"h1", 10), ("f2", b"k1", 20)]);
    let auth = store.auth();
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

pub(crate) fn failures_count_up_and_lock_until_unlocked(db: &dyn Database) {
    let store = db.open();
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

pub(crate) fn rotation_spends_the_old_token_once(db: &dyn Database) {
    let store = alice_signed_in(db, &[("f1", b"h1", 10)]);
    let auth = store.auth();
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

pub(crate) fn revoked_family_cannot_rotate_and_families_are_listed(db: &dyn Database) {
    let store = alice_signed_in(db, &[("f1", b"h1", 10), ("f2", b"k1", 20)]);
    let auth = store.auth();
    auth.user_insert(&user("bob")).unwrap();
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

/// Revoking a user's families (token reuse) revokes all live ones at once.
pub(crate) fn revoking_a_users_families_revokes_every_live_one(db: &dyn Database) {
    let store = alice_signed_in(db, &[("f1", b"h1", 10), ("f2", b"k1", 10)]);
    let auth = store.auth();
    let mut revoked = auth.families_revoke_user("alice", 30, "reuse").unwrap();
    revoked.sort();
    assert_eq!(revoked, ["f1", "f2"]);
    assert!(!auth.refresh_rotate(b"k1", b"k2", 31).unwrap());
    assert_eq!(auth.families_revoked_since(30).unwrap().len(), 2);
    assert!(auth.families(Some("alice"), Some(31)).unwrap().is_empty());
}

pub(crate) fn family_of_an_unknown_user_is_refused_whole(db: &dyn Database) {
    let store = db.open();
    let err = store
        .auth()
        .family_start(&family("f1", "ghost", 10), b"h1", 10)
        .unwrap_err();
    assert!(err.to_string().contains("session start"), "{err}");
    assert!(store.auth().family("f1").unwrap().is_none());
    assert!(store.auth().refresh_lookup(b"h1").unwrap().is_none());
}

pub(crate) fn audit_lists_newest_first_up_to_the_limit(db: &dyn Database) {
    let store = db.open();
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

pub(crate) fn reservation_address_belongs_to_one_client(db: &dyn Database) {
    let store = db.open();
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

pub(crate) fn reservation_attributes_are_set_patched_and_go_with_the_reservation(
    db: &dyn Database,
) {
    let store = db.open();
    let auth = store.auth();
    let change = |pairs: &[(&str, Option<&str>)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let attrs = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let mac = "aa:bb:cc:dd:ee:01";
    // No reservation: nothing to read, nothing written.
    assert_eq!(auth.reservation_attributes("lan", mac).unwrap(), None);
    let set = change(&[("tier", Some("gold"))]);
    assert_eq!(
        auth.reservation_attributes_update("lan", mac, &set, true)
            .unwrap(),
        None
    );
    let r = Reservation {
        subnet: "lan".into(),
        hwaddr: mac.into(),
        address: Ipv4Addr::new(10, 0, 0, 9),
        hostname: None,
        created: 1,
    };
    assert!(auth.reservation_put(&r).unwrap());
    assert_eq!(
        auth.reservation_attributes("lan", mac).unwrap(),
        Some(attrs(&[]))
    );
    let put = change(&[("tier", Some("gold")), ("max_cpe", Some("4"))]);
    assert_eq!(
        auth.reservation_attributes_update("lan", mac, &put, true)
            .unwrap(),
        Some(attrs(&[("max_cpe", "4"), ("tier", "gold")]))
    );
    // A patch changes one, removes one, adds one and keeps the rest.
    let patch = change(&[
        ("tier", Some("silver")),
        ("max_cpe", None),
        ("rate", Some("100M")),
    ]);
    assert_eq!(
        auth.reservation_attributes_update("lan", mac, &patch, false)
            .unwrap(),
        Some(attrs(&[("rate", "100M"), ("tier", "silver")]))
    );
    // A re-put of the reservation keeps them; a put replaces them all.
    assert!(
        auth.reservation_put(&Reservation {
            address: Ipv4Addr::new(10, 0, 0, 8),
            ..r.clone()
        })
        .unwrap()
    );
    assert_eq!(
        db.open().auth().reservation_attributes("lan", mac).unwrap(),
        Some(attrs(&[("rate", "100M"), ("tier", "silver")]))
    );
    assert_eq!(
        auth.reservation_attributes_update("lan", mac, &change(&[("x", Some("1"))]), true)
            .unwrap(),
        Some(attrs(&[("x", "1")]))
    );
    // Deleting the reservation deletes them: a new one starts empty.
    assert!(auth.reservation_delete("lan", mac).unwrap());
    assert_eq!(auth.reservation_attributes("lan", mac).unwrap(), None);
    assert!(auth.reservation_put(&r).unwrap());
    assert_eq!(
        auth.reservation_attributes("lan", mac).unwrap(),
        Some(attrs(&[]))
    );
}

fn api_key(
    name: &str,
    revoked: Option<u64>,
    prev_until: Option<u64>,
) -> headend_store::ApiKeyRecord {
    headend_store::ApiKeyRecord {
        prefix: format!("hk_{name}"),
        name: name.into(),
        role: "viewer".into(),
        scopes: Vec::new(),
        allow: Vec::new(),
        hash: vec![1; 32],
        prev_hash: prev_until.map(|_| vec![2; 32]),
        prev_until,
        rate: None,
        created: 10,
        created_by: "alice".into(),
        expires: None,
        last_used: None,
        revoked,
    }
}

/// The retention sweep deletes sessions that ended, audit entries and API
/// keys past their horizons, and nothing else.
pub(crate) fn retention_sweep_deletes_only_rows_past_their_horizon(db: &dyn Database) {
    // f1 expires at 1000, f2 is revoked at 500, f4 lives until 5000.
    let store = alice_signed_in(db, &[("f1", b"h1", 10), ("f2", b"k1", 20)]);
    assert!(store.auth().family_revoke("f2", 500, "logout").unwrap());
    let mut long = family("f4", "alice", 30);
    long.expires = 5000;
    store.auth().family_start(&long, b"n1", 30).unwrap();
    for at in [100, 200, 3000] {
        store
            .auth()
            .audit_append(&AuditRecord {
                id: 0,
                at,
                actor: "alice".into(),
                source: None,
                action: "x".into(),
                target: None,
                result: "ok".into(),
                detail: None,
            })
            .unwrap();
    }
    let keys = store.api_keys();
    assert!(
        keys.api_key_insert(&api_key("old", Some(100), None))
            .unwrap()
    );
    assert!(
        keys.api_key_insert(&api_key("live", None, Some(150)))
            .unwrap()
    );
    assert!(
        keys.api_key_insert(&api_key("late", Some(2500), None))
            .unwrap()
    );

    let purged = store
        .keys()
        .purge(&headend_store::Purge {
            families_before: 2000,
            audit_before: Some(1000),
            api_keys_before: 2000,
        })
        .unwrap();
    // f1 (expired at 1000) and f2 (revoked at 500) go with their refresh
    // tokens; f4 (expires at 5000) stays.
    assert_eq!(
        (purged.families, purged.refresh_tokens),
        (2, 2),
        "{purged:?}"
    );
    assert_eq!(purged.audit, 2);
    assert_eq!(
        purged.api_keys, 2,
        "one key deleted, one previous secret cleared"
    );
    let left: Vec<String> = store
        .auth()
        .families(None, None)
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(left, ["f4"]);
    assert!(store.auth().refresh_lookup(b"h1").unwrap().is_none());
    assert!(store.auth().refresh_lookup(b"n1").unwrap().is_some());
    assert_eq!(store.auth().audit(10).unwrap().len(), 1);
    let names: Vec<String> = keys
        .api_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["late", "live"]);
    assert_eq!(keys.api_key_named("live").unwrap().unwrap().prev_hash, None);
    // Without an audit horizon, the audit log is kept.
    let again = store
        .keys()
        .purge(&headend_store::Purge {
            families_before: 2000,
            audit_before: None,
            api_keys_before: 2000,
        })
        .unwrap();
    assert_eq!(again, headend_store::Purged::default());
}

/// Signing keys: one per instant (two servers making the same next key
/// agree on one), listed by start, deleted by kid.
pub(crate) fn signing_keys_are_one_per_instant(db: &dyn Database) {
    let store = db.open();
    let other = db.open();
    let key = |kid: &str, from: u64| headend_store::SigningKeyRecord {
        kid: kid.into(),
        sealed: vec![7; 60],
        kek_id: "k".into(),
        signs_from: from,
        created: 1,
    };
    assert!(store.keys().signing_key_insert(&key("b", 200)).unwrap());
    assert!(store.keys().signing_key_insert(&key("a", 100)).unwrap());
    assert!(
        !other.keys().signing_key_insert(&key("c", 200)).unwrap(),
        "instant taken"
    );
    assert!(
        !other.keys().signing_key_insert(&key("a", 300)).unwrap(),
        "kid taken"
    );
    let kids: Vec<(String, u64)> = other
        .keys()
        .signing_keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.signs_from))
        .collect();
    assert_eq!(kids, [("a".to_owned(), 100), ("b".to_owned(), 200)]);
    assert!(other.keys().signing_key_delete("a").unwrap());
    assert!(!store.keys().signing_key_delete("a").unwrap());
    assert_eq!(store.keys().signing_keys().unwrap().len(), 1);
}

pub(crate) fn deleting_a_user_revokes_sessions_and_their_api_keys_and_is_noted(db: &dyn Database) {
    let store = alice_signed_in(db, &[("f1", b"t1", 10), ("f2", b"t2", 11)]);
    let auth = store.auth();
    assert!(auth.user_insert(&user("bob")).unwrap());
    let key = |name: &str, by: &str| headend_store::ApiKeyRecord {
        prefix: format!("hk_{name}"),
        name: name.into(),
        role: "viewer".into(),
        scopes: Vec::new(),
        allow: Vec::new(),
        hash: vec![1; 32],
        prev_hash: None,
        prev_until: None,
        rate: None,
        created: 5,
        created_by: by.into(),
        expires: None,
        last_used: None,
        revoked: None,
    };
    for (name, by) in [("a1", "alice"), ("a2", "alice"), ("b1", "bob")] {
        assert!(store.api_keys().api_key_insert(&key(name, by)).unwrap());
    }
    assert!(store.mfa().mfa_begin("alice", b"sealed", 12).unwrap());
    let d = auth
        .user_delete("alice", 20)
        .unwrap()
        .expect("alice exists");
    let mut sessions = d.sessions.clone();
    sessions.sort();
    assert_eq!(sessions, ["f1", "f2"]);
    assert_eq!(d.api_keys, ["hk_a1", "hk_a2"]);
    assert!(auth.user("alice").unwrap().is_none());
    assert!(auth.family("f1").unwrap().is_none());
    assert!(store.mfa().mfa("alice").unwrap().is_none());
    let keys = store.api_keys();
    assert_eq!(keys.api_key_named("a1").unwrap().unwrap().revoked, Some(20));
    assert_eq!(keys.api_key_named("b1").unwrap().unwrap().revoked, None);
    assert_eq!(
        auth.users_deleted_since(20).unwrap(),
        [("alice".to_owned(), 20)]
    );
    assert!(auth.users_deleted_since(21).unwrap().is_empty());
    assert!(auth.user_delete("alice", 21).unwrap().is_none());
    // The audit log is not touched; the name can be used again.
    assert!(auth.user_insert(&user("alice")).unwrap());
}

pub(crate) fn a_second_factor_step_and_recovery_code_are_spent_once(db: &dyn Database) {
    let store = db.open();
    store.auth().user_insert(&user("alice")).unwrap();
    let mfa = store.mfa();
    assert!(!mfa.mfa_begin("nobody", b"s", 1).unwrap());
    assert!(mfa.mfa_begin("alice", b"s1", 1).unwrap());
    // Restarting a pending enrolment replaces its seed.
    assert!(mfa.mfa_begin("alice", b"s2", 2).unwrap());
    let rec = mfa.mfa("alice").unwrap().unwrap();
    assert_eq!(
        (rec.secret.as_slice(), rec.confirmed),
        (b"s2".as_slice(), None)
    );
    assert!(mfa.mfa_users().unwrap().is_empty());
    // Steps cannot be spent before the confirmation.
    assert!(!mfa.mfa_spend_step("alice", 5).unwrap());
    let codes = [vec![1u8; 32], vec![2u8; 32]];
    assert!(mfa.mfa_confirm("alice", 100, &codes, 3).unwrap());
    assert!(!mfa.mfa_confirm("alice", 101, &codes, 3).unwrap());
    assert!(
        !mfa.mfa_begin("alice", b"s3", 4).unwrap(),
        "confirmed stays"
    );
    assert_eq!(mfa.mfa_users().unwrap(), ["alice"]);
    assert!(
        !mfa.mfa_spend_step("alice", 100).unwrap(),
        "the confirming step"
    );
    assert!(mfa.mfa_spend_step("alice", 101).unwrap());
    assert!(!mfa.mfa_spend_step("alice", 101).unwrap(), "replay");
    assert!(!mfa.mfa_spend_step("alice", 99).unwrap(), "older");
    assert_eq!(mfa.mfa_recovery_left("alice").unwrap(), 2);
    assert!(mfa.mfa_spend_recovery("alice", &codes[0], 5).unwrap());
    assert!(!mfa.mfa_spend_recovery("alice", &codes[0], 6).unwrap());
    assert!(!mfa.mfa_spend_recovery("alice", &[9u8; 32], 6).unwrap());
    assert_eq!(mfa.mfa_recovery_left("alice").unwrap(), 1);
    assert!(mfa.mfa_remove("alice").unwrap());
    assert!(!mfa.mfa_remove("alice").unwrap());
    assert_eq!(mfa.mfa_recovery_left("alice").unwrap(), 0);
}

pub(crate) fn sso_sessions_are_kept_replaced_and_go_with_their_family(db: &dyn Database) {
    let store = alice_signed_in(db, &[("f1", b"t1", 10), ("f2", b"t2", 11)]);
    let sso = store.sso();
    let rec = |family: &str, sealed: &[u8], checked: u64| headend_store::SsoRecord {
        family: family.into(),
        sealed: sealed.to_vec(),
        kek_id: "0123456789ab".into(),
        checked,
        started: 10,
    };
    assert!(!sso.sso_put(&rec("nofamily", b"x", 10)).unwrap());
    assert!(sso.sso_get("nofamily").unwrap().is_none());
    assert!(sso.sso_put(&rec("f1", b"sealed1", 10)).unwrap());
    assert!(sso.sso_put(&rec("f2", b"sealed2", 11)).unwrap());
    // Another server (or this one after a restart) reads it back.
    let again = db.open();
    assert_eq!(
        again.sso().sso_get("f1").unwrap(),
        Some(rec("f1", b"sealed1", 10))
    );
    // A check replaces the tokens and the time.
    assert!(again.sso().sso_put(&rec("f1", b"sealed1b", 300)).unwrap());
    assert_eq!(
        sso.sso_get("f1").unwrap(),
        Some(rec("f1", b"sealed1b", 300))
    );
    assert!(sso.sso_delete("f1").unwrap());
    assert!(!sso.sso_delete("f1").unwrap());
    assert!(sso.sso_get("f1").unwrap().is_none());
    // Deleting the user deletes its families and so their sessions.
    assert!(sso.sso_get("f2").unwrap().is_some());
    store
        .auth()
        .user_delete("alice", 20)
        .unwrap()
        .expect("alice");
    assert!(sso.sso_get("f2").unwrap().is_none());
}
