//! [`AuthStore`](headend_store::AuthStore) on PostgreSQL against a real
//! server, where only PostgreSQL can show it: several servers changing one
//! user, one token family and one address at the same time. What every
//! backend does one call at a time is the conformance suite
//! (`conformance/auth.rs`), which `tests/postgres.rs` runs on PostgreSQL. A
//! private cluster per test process (see `pg_cluster`), a fresh database per
//! test; two `Store`s on one database stand for two headend servers.

// Shared with tests/postgres.rs, which uses all of it.
#[allow(dead_code)]
mod pg_cluster;
#[path = "conformance/users.rs"]
mod users;

use std::net::Ipv4Addr;
use std::sync::Barrier;

use headend_store::Store;
use headend_store::auth::Reservation;
use pg_cluster::Db;
use users::{family, user};

/// Runs `attempt(store, i)` for i in `0..n` on as many threads, on the two
/// servers in turn, all released at once; what each returned, in order of i.
fn race(servers: &[Store; 2], n: u8, attempt: impl Fn(&Store, u8) -> bool + Sync) -> Vec<bool> {
    let start = Barrier::new(usize::from(n));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (store, start, attempt) = (&servers[usize::from(i % 2)], &start, &attempt);
                scope.spawn(move || {
                    start.wait();
                    attempt(store, i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// ---- several servers at once ---------------------------------------------------

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
        let wins = race(&servers, 8, |store, i| {
            store
                .auth()
                .refresh_rotate(&old, &[b'n', round, i], 30)
                .unwrap()
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
fn concurrent_reservations_of_one_address_have_one_winner() {
    let db = Db::new();
    let servers = [db.store(), db.store()];
    let wins = race(&servers, 6, |store, i| {
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
    });
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    assert_eq!(servers[0].auth().reservations().unwrap().len(), 1);
}
