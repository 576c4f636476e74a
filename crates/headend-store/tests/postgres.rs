//! The PostgreSQL backend against a real PostgreSQL server: schema, leases,
//! two servers racing, connections, configuration. A private cluster per
//! test process (see `pg_cluster`), a fresh database per test. Two `Store`s
//! on one database stand for two headend servers. Auth: `postgres_auth.rs`.

mod pg_cluster;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use headend_store::auth::{AuditRecord, Reservation};
use headend_store::migrate::latest_version;
use headend_store::{Lease, LeaseState, PostgresConfig, Store, StoreConfig, StoreError};
use pg_cluster::Db;

fn lease(addr: [u8; 4], client: &[u8], state: LeaseState, expires: u64) -> Lease {
    Lease {
        address: Ipv4Addr::from(addr),
        subnet: "lan".into(),
        client_key: client.to_vec(),
        hwaddr: client.to_vec(),
        client_id: None,
        hostname: Some("host".into()),
        state,
        expires,
        circuit_id: Some(b"eth0".to_vec()),
        remote_id: None,
    }
}

fn no_state_dir() -> &'static Path {
    Path::new("/nonexistent-state-dir")
}

// ---- schema ----------------------------------------------------------------

#[test]
fn fresh_database_is_migrated_to_the_latest_version() {
    let db = Db::new();
    let store = db.store();
    assert_eq!(
        db.value("SELECT max(version) FROM headend_schema"),
        latest_version().to_string()
    );
    for table in [
        "dhcp_leases",
        "auth_users",
        "auth_families",
        "auth_refresh_tokens",
        "audit_log",
        "dhcp_reservations",
    ] {
        assert_eq!(
            db.value(&format!("SELECT to_regclass('{table}') IS NOT NULL")),
            "t",
            "{table}"
        );
    }
    assert_eq!(
        db.value("SELECT to_regclass('dhcp_leases_hwaddr') IS NOT NULL"),
        "t"
    );
    assert_eq!(
        store.describe(),
        format!("postgres:127.0.0.1:{}/{}", db.port, db.name)
    );
}

#[test]
fn reopening_keeps_data_and_applies_nothing_twice() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    assert!(
        tx.claim(&lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100))
            .unwrap()
    );
    tx.commit().unwrap();
    drop(store);
    let store = db.store();
    let reader = Store::open_existing(&db.config(1), no_state_dir()).unwrap();
    assert_eq!(
        store.leases().unwrap(),
        vec![lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100)]
    );
    assert_eq!(reader.leases().unwrap(), store.leases().unwrap());
    assert_eq!(
        db.value("SELECT count(*) FROM headend_schema"),
        latest_version().to_string()
    );
}

#[test]
fn servers_starting_together_migrate_once() {
    let db = Arc::new(Db::new());
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (db, start) = (Arc::clone(&db), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                Store::open(&db.config(1), no_state_dir()).map(|_| ())
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    assert_eq!(
        db.query("SELECT version FROM headend_schema ORDER BY version"),
        (1..=latest_version())
            .map(|v| Some(v.to_string()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn newer_schema_is_refused_by_open_and_open_existing() {
    let db = Db::new();
    drop(db.store());
    db.exec("INSERT INTO headend_schema (version, name) VALUES (99, 'from the future')");
    for result in [
        Store::open(&db.config(1), no_state_dir()),
        Store::open_existing(&db.config(1), no_state_dir()),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(err, StoreError::PostgresTooNew { found: 99, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("99") && text.contains(&db.name), "{text}");
    }
}

#[test]
fn open_existing_does_not_migrate() {
    let db = Db::new();
    let store = Store::open_existing(&db.config(1), no_state_dir()).unwrap();
    assert_eq!(db.value("SELECT to_regclass('dhcp_leases') IS NULL"), "t");
    // Like SQLite on an empty file: queries fail, naming what was done.
    let err = store.leases().unwrap_err();
    assert!(err.to_string().contains("lease listing"), "{err}");
}

// ---- leases ------------------------------------------------------------------

#[test]
fn unsynced_commit_is_seen_by_the_next_transaction_and_kept_after_sync() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin_unsynced().unwrap();
    assert!(
        tx.claim(&lease([10, 0, 0, 6], b"b", LeaseState::Offered, 50))
            .unwrap()
    );
    tx.commit().unwrap();
    let mut tx = store.begin_unsynced().unwrap();
    assert!(
        !tx.claim(&lease([10, 0, 0, 6], b"c", LeaseState::Offered, 50))
            .unwrap()
    );
    tx.put(&lease([10, 0, 0, 6], b"b", LeaseState::Bound, 100))
        .unwrap();
    tx.commit().unwrap();
    store.sync().unwrap();
    drop(store);
    assert_eq!(
        db.store().leases().unwrap(),
        vec![lease([10, 0, 0, 6], b"b", LeaseState::Bound, 100)]
    );
}

#[test]
fn dropped_transaction_rolls_back() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100))
        .unwrap();
    drop(tx);
    assert!(store.leases().unwrap().is_empty());
    // The connection is usable again right away.
    let mut tx = store.begin().unwrap();
    assert!(
        tx.lease_by_address(Ipv4Addr::new(10, 0, 0, 5))
            .unwrap()
            .is_none()
    );
    tx.commit().unwrap();
}

#[test]
fn claim_refuses_an_address_that_has_a_row() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    assert!(
        tx.claim(&lease([10, 0, 0, 5], b"a", LeaseState::Offered, 100))
            .unwrap()
    );
    assert!(
        !tx.claim(&lease([10, 0, 0, 5], b"b", LeaseState::Offered, 100))
            .unwrap()
    );
    tx.commit().unwrap();
    assert_eq!(store.leases().unwrap()[0].client_key, b"a");
}

#[test]
fn pool_queries_find_highest_gap_and_oldest_expired() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    let (first, end) = (Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 20));
    assert_eq!(tx.highest_claimed(first, end).unwrap(), None);
    assert_eq!(tx.lowest_unclaimed(first, end).unwrap(), Some(first));
    for (last, exp) in [(10u8, 50u64), (11, 20), (13, 30)] {
        tx.put(&lease([10, 0, 0, last], &[last], LeaseState::Bound, exp))
            .unwrap();
    }
    assert_eq!(
        tx.highest_claimed(first, end).unwrap(),
        Some(Ipv4Addr::new(10, 0, 0, 13))
    );
    assert_eq!(
        tx.lowest_unclaimed(first, end).unwrap(),
        Some(Ipv4Addr::new(10, 0, 0, 12))
    );
    assert_eq!(
        tx.lowest_unclaimed(Ipv4Addr::new(10, 0, 0, 9), end)
            .unwrap(),
        Some(Ipv4Addr::new(10, 0, 0, 9))
    );
    // A full range and an empty (reversed) range have no gap.
    assert_eq!(
        tx.lowest_unclaimed(first, Ipv4Addr::new(10, 0, 0, 11))
            .unwrap(),
        None
    );
    assert_eq!(tx.lowest_unclaimed(end, first).unwrap(), None);
    assert!(tx.oldest_expired(first, end, 19).unwrap().is_none());
    let old = tx.oldest_expired(first, end, 40).unwrap().unwrap();
    assert_eq!(old.address, Ipv4Addr::new(10, 0, 0, 11));
    // The top of the address space round-trips (stored as BIGINT).
    let top = Ipv4Addr::new(255, 255, 255, 255);
    tx.put(&lease(top.octets(), b"t", LeaseState::Bound, 1))
        .unwrap();
    assert_eq!(tx.highest_claimed(top, top).unwrap(), Some(top));
    assert_eq!(tx.lease_by_address(top).unwrap().unwrap().address, top);
    tx.commit().unwrap();
}

#[test]
fn client_lookup_skips_declined_and_counts_exclude_the_client() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 1], b"a", LeaseState::Declined, 100))
        .unwrap();
    assert!(tx.lease_by_client("lan", b"a").unwrap().is_none());
    tx.put(&lease([10, 0, 0, 2], b"a", LeaseState::Bound, 100))
        .unwrap();
    tx.put(&lease([10, 0, 0, 3], b"b", LeaseState::Offered, 100))
        .unwrap();
    tx.put(&lease([10, 0, 0, 4], b"c", LeaseState::Bound, 10))
        .unwrap();
    let mut released = lease([10, 0, 0, 5], b"d", LeaseState::Released, 100);
    released.remote_id = Some(b"modem".to_vec());
    tx.put(&released).unwrap();
    let mut remote = lease([10, 0, 0, 6], b"e", LeaseState::Bound, 100);
    remote.remote_id = Some(b"modem".to_vec());
    tx.put(&remote).unwrap();
    assert_eq!(
        tx.lease_by_client("lan", b"a").unwrap().unwrap().address,
        Ipv4Addr::new(10, 0, 0, 2)
    );
    assert!(tx.lease_by_client("other", b"a").unwrap().is_none());
    assert_eq!(
        tx.count_live_by_circuit("lan", b"eth0", b"a", 50).unwrap(),
        2
    );
    assert_eq!(
        tx.count_live_by_circuit("lan", b"eth0", b"z", 50).unwrap(),
        3
    );
    assert_eq!(
        tx.count_live_by_circuit("other", b"eth0", b"z", 50)
            .unwrap(),
        0
    );
    // Released leases are not live; the client's own lease does not count.
    assert_eq!(
        tx.count_live_by_remote("lan", b"modem", b"z", 50).unwrap(),
        1
    );
    assert_eq!(
        tx.count_live_by_remote("lan", b"modem", b"e", 50).unwrap(),
        0
    );
    tx.commit().unwrap();
}

#[test]
fn put_replaces_another_clients_row_and_reads_outside_the_transaction() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    let mut a = lease([10, 0, 0, 7], b"a", LeaseState::Bound, 10);
    a.client_id = Some(b"\x01id".to_vec());
    a.remote_id = Some(b"r".to_vec());
    tx.put(&a).unwrap();
    tx.put(&lease([10, 0, 0, 8], b"a", LeaseState::Released, 30))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(store.lease_at(Ipv4Addr::new(10, 0, 0, 7)).unwrap(), Some(a));
    let mine = store.leases_of_hwaddr(b"a").unwrap();
    assert_eq!(
        mine.iter().map(|l| l.expires).collect::<Vec<_>>(),
        [30, 10],
        "newest expiry first"
    );
    let mut tx = store.begin().unwrap();
    let b = lease([10, 0, 0, 7], b"b", LeaseState::Offered, 60);
    tx.put(&b).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.lease_at(Ipv4Addr::new(10, 0, 0, 7)).unwrap(), Some(b));
    assert!(
        store
            .lease_at(Ipv4Addr::new(10, 0, 0, 9))
            .unwrap()
            .is_none()
    );
    assert_eq!(store.leases_of_hwaddr(b"a").unwrap().len(), 1);
    assert_eq!(store.leases().unwrap().len(), 2);
}

#[test]
fn reader_sees_committed_rows_while_writer_is_open() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 1], b"a", LeaseState::Bound, 100))
        .unwrap();
    tx.commit().unwrap();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 2], b"b", LeaseState::Bound, 100))
        .unwrap();
    let reader = Store::open_existing(&db.config(1), no_state_dir()).unwrap();
    assert_eq!(reader.leases().unwrap().len(), 1);
    assert_eq!(store.leases().unwrap().len(), 1, "own pool, own snapshot");
    tx.commit().unwrap();
    assert_eq!(reader.leases().unwrap().len(), 2);
}

#[test]
fn api_reservations_are_seen_inside_lease_transactions() {
    let db = Db::new();
    let store = db.store();
    let r = Reservation {
        subnet: "lan".into(),
        hwaddr: "aa:bb:cc:dd:ee:0f".into(),
        address: Ipv4Addr::new(10, 0, 0, 50),
        hostname: Some("printer".into()),
        created: 1,
    };
    assert!(store.auth().reservation_put(&r).unwrap());
    let mut tx = store.begin().unwrap();
    assert_eq!(
        tx.api_reservation("lan", &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f])
            .unwrap(),
        Some((Ipv4Addr::new(10, 0, 0, 50), Some("printer".into())))
    );
    assert!(
        tx.api_reservation("wan", &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f])
            .unwrap()
            .is_none()
    );
    assert!(tx.api_reserved("lan", Ipv4Addr::new(10, 0, 0, 50)).unwrap());
    assert!(!tx.api_reserved("lan", Ipv4Addr::new(10, 0, 0, 51)).unwrap());
    tx.commit().unwrap();
}

// ---- two servers on one database -------------------------------------------

#[test]
fn claim_of_one_address_by_two_servers_lets_one_win() {
    let db = Db::new();
    let (one, two) = (db.store(), db.store());
    let mut tx1 = one.begin().unwrap();
    assert!(
        tx1.claim(&lease([10, 0, 0, 5], b"a", LeaseState::Offered, 100))
            .unwrap()
    );
    let other = std::thread::spawn(move || {
        let mut tx2 = two.begin()?;
        // Waits for server one's transaction, then sees its row.
        let claimed = tx2.claim(&lease([10, 0, 0, 5], b"b", LeaseState::Offered, 100))?;
        tx2.commit()?;
        Ok::<_, StoreError>(claimed)
    });
    std::thread::sleep(Duration::from_millis(300));
    tx1.commit().unwrap();
    match other.join().unwrap() {
        Ok(claimed) => assert!(!claimed, "both servers claimed 10.0.0.5"),
        Err(StoreError::Conflict { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
    assert_eq!(one.leases().unwrap()[0].client_key, b"a");
}

#[test]
fn two_servers_reusing_one_expired_address_cannot_both_commit() {
    let db = Db::new();
    let servers = [db.store(), db.store()];
    for round in 0..5u8 {
        // The address expired long ago; each server wants it for its client.
        let mut tx = servers[0].begin().unwrap();
        tx.put(&lease([10, 0, 1, round], b"old", LeaseState::Bound, 1))
            .unwrap();
        tx.commit().unwrap();
        let both_read = Arc::new(Barrier::new(2));
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = servers
                .iter()
                .enumerate()
                .map(|(i, store)| {
                    let both_read = Arc::clone(&both_read);
                    scope.spawn(move || {
                        let client = [b'c', u8::try_from(i).unwrap()];
                        let mut tx = store.begin()?;
                        let found = tx.oldest_expired(
                            Ipv4Addr::new(10, 0, 1, round),
                            Ipv4Addr::new(10, 0, 1, round),
                            1000,
                        );
                        both_read.wait();
                        let old = found?.expect("both see the expired lease");
                        let mut new =
                            lease(old.address.octets(), &client, LeaseState::Offered, 2000);
                        new.hwaddr = client.to_vec();
                        tx.put(&new)?;
                        tx.commit()?;
                        Ok::<_, StoreError>(client)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            matches!(loser, StoreError::Conflict { .. }),
            "round {round}: {loser:?}"
        );
        assert!(loser.to_string().contains("retry"), "{loser}");
        let row = servers[1]
            .lease_at(Ipv4Addr::new(10, 0, 1, round))
            .unwrap()
            .unwrap();
        assert_eq!(&row.client_key, &winners[0].to_vec());
        // The loser's server goes on working.
        let mut tx = servers[1].begin().unwrap();
        tx.lease_by_address(Ipv4Addr::new(10, 0, 1, round)).unwrap();
        tx.commit().unwrap();
    }
}

// ---- runtime, connections, configuration --------------------------------------

#[tokio::test]
async fn store_works_when_called_from_inside_a_tokio_runtime() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    assert!(
        tx.claim(&lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100))
            .unwrap()
    );
    tx.commit().unwrap();
    assert_eq!(store.leases().unwrap().len(), 1);
    let entry = AuditRecord {
        id: 0,
        at: 1,
        actor: "alice".into(),
        source: None,
        action: "login".into(),
        target: None,
        result: "ok".into(),
        detail: None,
    };
    store.auth().audit_append(&entry).unwrap();
    // And from a blocking task, as the admin API does.
    let moved = store.clone();
    let audit = tokio::task::spawn_blocking(move || moved.auth().audit(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(audit.len(), 1);
    drop(store);
}

/// Terminates every connection to `db` but the caller's, and waits until
/// they are gone.
fn kill_connections(db: &Db) {
    db.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.value(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    ) != "0"
    {
        assert!(Instant::now() < deadline, "connections survived termination");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killed_connections_fail_one_call_then_reconnect() {
    let db = Db::new();
    let store = Store::open(&db.config(1), no_state_dir()).unwrap();
    store.begin().unwrap().commit().unwrap();
    assert!(store.leases().unwrap().is_empty());
    kill_connections(&db);
    let err = store.leases().unwrap_err();
    assert!(err.to_string().contains("lease listing"), "{err}");
    assert!(store.leases().unwrap().is_empty());
    assert!(
        store.begin().is_err(),
        "the writer connection was killed too"
    );
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 1], b"a", LeaseState::Bound, 100))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(store.leases().unwrap().len(), 1);
}

#[test]
fn connection_lost_inside_a_transaction_never_autocommits() {
    let db = Db::new();
    let store = Store::open(&db.config(1), no_state_dir()).unwrap();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 1], b"a", LeaseState::Bound, 100))
        .unwrap();
    kill_connections(&db);
    assert!(
        tx.put(&lease([10, 0, 0, 2], b"b", LeaseState::Bound, 100))
            .is_err()
    );
    // Later calls of the dead transaction do not run on a new connection.
    assert!(
        tx.put(&lease([10, 0, 0, 3], b"c", LeaseState::Bound, 100))
            .is_err()
    );
    assert!(tx.commit().is_err());
    let mut tx = store.begin().unwrap();
    assert!(
        tx.lease_by_address(Ipv4Addr::new(10, 0, 0, 3))
            .unwrap()
            .is_none()
    );
    tx.commit().unwrap();
    store.leases().unwrap_err();
    assert!(store.leases().unwrap().is_empty());
}

#[test]
fn password_file_is_read_and_describe_hides_passwords() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg-password");
    std::fs::write(&file, "not-needed-with-trust\n").unwrap();
    let mut pg = PostgresConfig::new(db.url());
    pg.password_file = Some(file);
    let store = Store::open(&StoreConfig::Postgres(pg.clone()), no_state_dir()).unwrap();
    assert_eq!(
        store.describe(),
        format!("postgres:127.0.0.1:{}/{}", db.port, db.name)
    );
    pg.password_file = Some(dir.path().join("missing"));
    let err = Store::open(&StoreConfig::Postgres(pg), no_state_dir()).unwrap_err();
    assert!(matches!(err, StoreError::PasswordFile { .. }), "{err:?}");
    assert!(err.to_string().contains("missing"), "{err}");

    let with_password = PostgresConfig::new(format!(
        "postgresql://headend:hunter2@127.0.0.1:{}/{}",
        db.port, db.name
    ));
    let store = Store::open(&StoreConfig::Postgres(with_password), no_state_dir()).unwrap();
    assert!(!store.describe().contains("hunter2"));
    assert!(!format!("{store:?}").contains("hunter2"));
}

#[test]
fn unreachable_server_is_a_connect_error_naming_the_target() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut pg = PostgresConfig::new(format!(
        "postgresql://headend:hunter2@127.0.0.1:{port}/headend"
    ));
    pg.connect_timeout_secs = 2;
    let started = Instant::now();
    let err = Store::open(&StoreConfig::Postgres(pg), no_state_dir()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("postgres:127.0.0.1:{port}/headend")),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn missing_database_is_a_connect_error() {
    let db = Db::new();
    let pg = PostgresConfig::new(format!(
        "postgresql://headend@127.0.0.1:{}/no_such_db",
        db.port
    ));
    let err = Store::open(&StoreConfig::Postgres(pg), no_state_dir()).unwrap_err();
    assert!(err.to_string().contains("no_such_db"), "{err}");
}

#[test]
fn config_file_with_a_postgres_section_opens_the_database() {
    #[derive(serde::Deserialize)]
    struct File {
        store: StoreConfig,
    }
    let db = Db::new();
    let text = format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{}\"\npool = 2\nconnect_timeout_secs = 3\n",
        db.url()
    );
    let file: File = toml::from_str(&text).unwrap();
    let StoreConfig::Postgres(pg) = &file.store else {
        panic!("not postgres");
    };
    assert_eq!((pg.pool, pg.connect_timeout_secs), (2, 3));
    let store = Store::open(&file.store, no_state_dir()).unwrap();
    assert!(store.leases().unwrap().is_empty());
    // The same section with SQLite opens state_dir/headend.db.
    let dir = tempfile::tempdir().unwrap();
    let file: File = toml::from_str("[store]\nbackend = \"sqlite\"\n").unwrap();
    let store = Store::open(&file.store, dir.path()).unwrap();
    assert!(
        store.describe().ends_with("headend.db"),
        "{}",
        store.describe()
    );
    assert!(dir.path().join("headend.db").exists());
    let err = Store::open_existing(&file.store, &dir.path().join("nope")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
