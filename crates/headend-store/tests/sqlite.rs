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
