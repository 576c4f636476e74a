//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong opening or using the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("{}: cannot open the database: {source} (check that the state directory exists and is writable by headend)", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying SQLite error.
        source: rusqlite::Error,
    },
    /// A schema migration failed; the database is left at the previous version.
    #[error("{}: schema migration {version} ({name}) failed: {source}", path.display())]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The migration's version number.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// The underlying SQLite error.
        source: rusqlite::Error,
    },
    /// The database was written by a newer headend than this one.
    #[error("{}: schema version {found} is newer than this headend knows ({known}); upgrade headend or restore a matching backup", path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
    /// A query or commit failed.
    #[error("store {operation} failed: {source}")]
    Sql {
        /// What was being done, e.g. `commit` or `lease lookup`.
        operation: &'static str,
        /// The underlying SQLite error.
        source: rusqlite::Error,
    },
    /// The write-ahead log could not be flushed to disk after a commit; the
    /// commit's effects must not be acted on (no ACK leaves).
    #[error("{}: cannot flush the write-ahead log to disk: {source} (check the disk holding the state directory)", path.display())]
    Sync {
        /// The file that was being flushed (the database's `-wal` file or its directory).
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A row holds a value this build cannot interpret (e.g. an unknown lease state).
    #[error("store row is corrupt: {reason}")]
    Corrupt {
        /// What was wrong with the row.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sql { operation, source }
    }
}
