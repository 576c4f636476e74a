//! The SQLite backend through the public interface: the conformance suite
//! (see `conformance`) on a fresh database file in a temp dir per test, and
//! what only a database file shows. WAL and `synchronous` details need the
//! backend's private items and are tested beside it in `src/sqlite.rs`.

#[macro_use]
mod conformance;

use std::path::PathBuf;

use conformance::Database;
use headend_store::{SQLITE_FILE, Store};
use tempfile::TempDir;

/// A state directory of its own, removed when dropped.
struct StateDir(TempDir);

impl StateDir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn file(&self) -> PathBuf {
        self.0.path().join(SQLITE_FILE)
    }
}

impl Database for StateDir {
    fn open(&self) -> Store {
        Store::open_sqlite(self.file()).unwrap()
    }

    fn open_existing(&self) -> Store {
        Store::open_sqlite_existing(self.file()).unwrap()
    }

    /// SQLite's busy handler sleeps between retries of the locked file.
    fn is_blocked(&self, tid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan"))
            .is_ok_and(|w| w.contains("nanosleep"))
    }
}

conformance_tests!(StateDir::new());

#[test]
fn existing_open_of_a_missing_file_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open_sqlite_existing(dir.path().join("nope.db")).unwrap_err();
    assert!(err.to_string().contains("nope.db"), "{err}");
}

#[test]
fn version_4_folds_user_names_and_parks_the_ones_that_collide() {
    use headend_store::migrate::SQLITE_MIGRATIONS;
    let dir = StateDir::new();
    {
        let conn = rusqlite::Connection::open(dir.file()).unwrap();
        for m in SQLITE_MIGRATIONS.iter().filter(|m| m.version <= 3) {
            conn.execute_batch(m.sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO auth_users (username, phc, role, created) VALUES
                 ('Admin', 'x', 'admin', 1), ('admin', 'y', 'viewer', 2),
                 ('OPS', 'z', 'operator', 3), ('ADMIN', 'w', 'admin', 4);
             INSERT INTO auth_families (id, username, created, expires, last_used)
                 VALUES ('f-ops', 'OPS', 1, 100, 1), ('f-admin', 'admin', 1, 100, 1);",
        )
        .unwrap();
    }
    let store = Store::open_sqlite(dir.file()).unwrap();
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
    assert!(
        auth.family("f-ops").unwrap().is_none(),
        "renamed user's session kept"
    );
    assert!(auth.family("f-admin").unwrap().is_some());
}
