//! The PostgreSQL backend against a real PostgreSQL server: the conformance
//! suite (see `conformance`, shared with `tests/sqlite.rs`), and what only
//! PostgreSQL shows: its schema and migrations, two servers racing,
//! connections, configuration. A private cluster per test process (see
//! `pg_cluster`), a fresh database per test. Two `Store`s on one database
//! stand for two headend servers. Auth under concurrency: `postgres_auth.rs`.

#[macro_use]
mod conformance;
mod pg_cluster;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use conformance::Database;
use conformance::leases::{assert_no_row_in_a_new_transaction, claim_and_commit, lease};
use headend_store::auth::AuditRecord;
use headend_store::migrate::{POSTGRES_MIGRATIONS, latest_version};
use headend_store::{LeaseState, PostgresConfig, Store, StoreConfig, StoreError};
use pg_cluster::{Cluster, Db, Options};

fn no_state_dir() -> &'static Path {
    Path::new("/nonexistent-state-dir")
}

impl Database for Db {
    fn open(&self) -> Store {
        self.store()
    }

    fn open_existing(&self) -> Store {
        Store::open_existing(&self.config(1), no_state_dir()).unwrap()
    }

    /// A session of this database waits for a lock (the thread's own
    /// connection is the only other one in the conformance scenarios).
    fn is_blocked(&self, _tid: u32) -> bool {
        self.value(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ) != "0"
    }
}

conformance_tests!(Db::new());

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
fn reopening_applies_no_migration_twice() {
    let db = Db::new();
    drop(db.store());
    drop(db.store());
    drop(db.open_existing());
    assert_eq!(
        db.value("SELECT count(*) FROM headend_schema"),
        POSTGRES_MIGRATIONS.len().to_string()
    );
    assert_eq!(
        db.value("SELECT max(version) FROM headend_schema"),
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
        POSTGRES_MIGRATIONS
            .iter()
            .map(|m| Some(m.version.to_string()))
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
    let store = db.open_existing();
    assert_eq!(db.value("SELECT to_regclass('dhcp_leases') IS NULL"), "t");
    // Like SQLite on an empty file: queries fail, naming what was done.
    let err = store.leases().unwrap_err();
    assert!(err.to_string().contains("lease listing"), "{err}");
}

// ---- leases ------------------------------------------------------------------

#[test]
fn a_server_reads_committed_rows_while_its_own_writer_is_open() {
    let db = Db::new();
    let store = db.store();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 2], b"b", LeaseState::Bound, 100))
        .unwrap();
    // Reads take a pooled connection, not the writer's (SQLite's one
    // connection makes them wait for the transaction instead).
    assert!(store.leases().unwrap().is_empty(), "own pool, own snapshot");
    tx.commit().unwrap();
    assert_eq!(store.leases().unwrap().len(), 1);
}

/// WAL positions as numbers (`pg_lsn` minus the zero position).
fn lsn(db: &Db, expr: &str) -> u64 {
    db.value(&format!("SELECT ({expr} - '0/0'::pg_lsn)::bigint"))
        .parse()
        .unwrap()
}

#[test]
fn an_unsynced_commit_is_visible_at_once_and_durable_once_sync_returns() {
    let db = Db::new();
    let store = db.store();
    let other = db.store();
    // Quiet the WAL writer (it flushes a partly filled WAL page only every
    // wal_writer_delay), so the flush checked below is sync's own.
    db.exec("ALTER SYSTEM SET wal_writer_delay = '10s'");
    db.value("SELECT pg_reload_conf()");
    // The reload is asynchronous: wait until a new session sees it.
    poll_until("the reloaded wal_writer_delay", || {
        db.value("SHOW wal_writer_delay") == "10s"
    });
    assert_eq!(db.value("SHOW wal_writer_delay"), "10s");
    for round in 0..3u8 {
        let mut tx = store.begin_unsynced().unwrap();
        tx.put(&lease([10, 0, 1, round], b"u", LeaseState::Bound, 100))
            .unwrap();
        tx.commit().unwrap();
        let committed = lsn(&db, "pg_current_wal_insert_lsn()");
        // Visible to another server before any sync.
        assert!(
            other
                .lease_at(Ipv4Addr::new(10, 0, 1, round))
                .unwrap()
                .is_some()
        );
        store.sync().unwrap();
        let flushed = lsn(&db, "pg_current_wal_flush_lsn()");
        assert!(
            flushed >= committed,
            "round {round}: WAL flushed to {flushed}, the commit ends at {committed}"
        );
    }
    db.exec("ALTER SYSTEM RESET wal_writer_delay");
    db.value("SELECT pg_reload_conf()");
}

// ---- two servers on one database -------------------------------------------

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
    assert!(claim_and_commit(
        &store,
        &lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100)
    ));
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
    poll_until("connections survived termination", || {
        db.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        ) == "0"
    });
}

/// Checks `done` every 20 ms until it holds; panics with `what` when it
/// still does not after 10 s.
fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
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
    // Writes are held until the next lookup the database must answer, or
    // the commit: that call fails.
    tx.put(&lease([10, 0, 0, 2], b"b", LeaseState::Bound, 100))
        .unwrap();
    assert!(tx.lease_by_address(Ipv4Addr::new(10, 0, 0, 9)).is_err());
    // Later calls of the dead transaction do not run on a new connection.
    tx.put(&lease([10, 0, 0, 3], b"c", LeaseState::Bound, 100))
        .unwrap();
    assert!(tx.lease_by_address(Ipv4Addr::new(10, 0, 0, 8)).is_err());
    assert!(tx.commit().is_err());
    assert_no_row_in_a_new_transaction(&store, Ipv4Addr::new(10, 0, 0, 3));
    store.leases().unwrap_err();
    assert!(store.leases().unwrap().is_empty());
}

#[test]
fn password_file_is_read_and_describe_hides_passwords() {
    let db = Db::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg-password");
    std::fs::write(&file, "not-needed-with-trust\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
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

/// A cluster of its own that asks TCP clients for a password
/// (SCRAM-SHA-256), with the role `app` (password `pw`) owning `appdb`.
fn password_cluster(pw: &str) -> Cluster {
    let cluster = Cluster::start_with(Options {
        hba_conf: Some("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n".to_owned()),
        ..Options::default()
    });
    cluster.exec(
        "postgres",
        &format!("CREATE ROLE app LOGIN PASSWORD '{pw}'"),
    );
    cluster.exec("postgres", "CREATE DATABASE appdb OWNER app");
    cluster
}

#[test]
fn a_password_from_a_private_file_logs_in_and_a_shared_file_is_refused() {
    const PW: &str = "pg-Pa55word-never-shown";
    let cluster = password_cluster(PW);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg-password");
    std::fs::write(&file, format!("{PW}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut pg = PostgresConfig::new(format!("postgresql://app@127.0.0.1:{}/appdb", cluster.port));
    pg.pool = 1;
    pg.connect_timeout_secs = 5;
    let open =
        |pg: &PostgresConfig| Store::open(&StoreConfig::Postgres(pg.clone()), no_state_dir());
    let err = |pg: &PostgresConfig| match open(pg) {
        Ok(_) => panic!("open succeeded"),
        Err(e) => format!("{e} {e:?}"),
    };

    // Without the password the server refuses the login.
    let e = err(&pg);
    assert!(e.contains("password"), "{e}");

    pg.password_file = Some(file.clone());
    let store = open(&pg).unwrap();
    store.leases().unwrap();
    assert!(!format!("{:?} {}", store, store.describe()).contains(PW));
    drop(store);

    // A file its group may read is refused before any connection.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = err(&pg);
    assert!(e.contains("chmod 600") && e.contains("pg-password"), "{e}");
    assert!(!e.contains(PW), "{e}");

    // A wrong password: the server's refusal, without either password.
    std::fs::write(&file, "wrong-Pa55word\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = err(&pg);
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains("wrong-Pa55word") && !e.contains(PW), "{e}");
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

#[test]
fn version_4_folds_user_names_and_parks_the_ones_that_collide() {
    use headend_store::migrate::POSTGRES_MIGRATIONS;
    let db = Db::new();
    {
        let mut c = ::postgres::Client::connect(&db.url(), ::postgres::NoTls).unwrap();
        c.batch_execute(
            "CREATE TABLE headend_schema (
                 version INTEGER PRIMARY KEY,
                 name    TEXT NOT NULL,
                 applied TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .unwrap();
        for m in POSTGRES_MIGRATIONS.iter().filter(|m| m.version <= 3) {
            c.batch_execute(m.sql).unwrap();
            let v = i32::try_from(m.version).unwrap();
            c.execute(
                "INSERT INTO headend_schema (version, name) VALUES ($1, $2)",
                &[&v, &m.name],
            )
            .unwrap();
        }
        c.batch_execute(
            "INSERT INTO auth_users (username, phc, role, created) VALUES
                 ('Admin', 'x', 'admin', 1), ('admin', 'y', 'viewer', 2),
                 ('OPS', 'z', 'operator', 3), ('ADMIN', 'w', 'admin', 4);
             INSERT INTO auth_families (id, username, created, expires, last_used)
                 VALUES ('f-ops', 'OPS', 1, 100, 1), ('f-admin', 'admin', 1, 100, 1);",
        )
        .unwrap();
    }
    let store = db.store();
    assert_eq!(
        db.value("SELECT max(version) FROM headend_schema"),
        latest_version().to_string()
    );
    let auth = store.auth();
    let users: Vec<_> = auth
        .users()
        .unwrap()
        .into_iter()
        .map(|u| (u.username, u.phc, u.disabled))
        .collect();
    assert_eq!(
        users,
        [
            ("admin".to_owned(), "y".to_owned(), false),
            ("admin.dup2".to_owned(), "x".to_owned(), true),
            ("admin.dup3".to_owned(), "w".to_owned(), true),
            ("ops".to_owned(), "z".to_owned(), false),
        ]
    );
    assert!(auth.family("f-ops").unwrap().is_none());
    assert!(auth.family("f-admin").unwrap().is_some());
    let mut raw = auth.user("ops").unwrap().unwrap();
    raw.username = "Ops".into();
    assert!(
        !auth.user_insert(&raw).unwrap(),
        "unique on the folded name"
    );
}
