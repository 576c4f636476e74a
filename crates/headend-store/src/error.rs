//! The store's error type.

use std::path::PathBuf;

use ::postgres::error::SqlState;

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
    /// A transaction lost a race with a concurrent one (PostgreSQL
    /// serialization failure, SQLSTATE 40001, or deadlock, 40P01), typically
    /// another headend server sharing the database handing out the same
    /// address. Nothing of the transaction was kept; running it again (e.g.
    /// letting the DHCP client retry) is the cure.
    #[error(
        "store {operation} conflicted with a concurrent transaction (another headend server sharing the database?) and was rolled back; retrying it is safe"
    )]
    Conflict {
        /// What was being done, e.g. `commit` or `lease write`.
        operation: &'static str,
        /// True for a deadlock (40P01), false for a serialization failure.
        deadlock: bool,
    },
    /// The `[store]` section of the configuration is invalid.
    #[error("[store] {key}: {reason}")]
    Config {
        /// The offending key, e.g. `url`.
        key: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The PostgreSQL password file (`password_file`, or the systemd
    /// credential `headend-pg-password`) could not be read or was refused.
    #[error("{}: cannot use the PostgreSQL password file ([store] password_file or the credential headend-pg-password): {source}", path.display())]
    PasswordFile {
        /// The password file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The PostgreSQL CA file (`tls_ca_file`) could not be read or holds no
    /// usable CA certificate.
    #[error("{}: cannot use the PostgreSQL CA file ([store] tls_ca_file): {reason}", path.display())]
    TlsCaFile {
        /// The CA file.
        path: PathBuf,
        /// What was wrong and what to do.
        reason: String,
    },
    /// No connection to the PostgreSQL server could be made.
    #[error(
        "{target}: cannot connect to PostgreSQL: {detail} (check [store] url, password_file (or the credential headend-pg-password) and tls_ca_file, that the server runs, and that it accepts this user from this host)"
    )]
    Connect {
        /// Where, e.g. `postgres:db.example:5432/headend` (never the password).
        target: String,
        /// The error with its causes, as the server or client library put it.
        detail: String,
        /// The underlying client error.
        source: ::postgres::Error,
    },
    /// A PostgreSQL query or commit failed.
    #[error("store {operation} failed: {detail}")]
    Postgres {
        /// What was being done, e.g. `commit` or `lease lookup`.
        operation: &'static str,
        /// The error with its causes (the server's message, SQLSTATE, detail and hint).
        detail: String,
        /// The underlying client error.
        source: ::postgres::Error,
    },
    /// A PostgreSQL schema migration failed; the database is left at the
    /// previous version.
    #[error("{target}: schema migration {version} ({name}) failed: {detail}")]
    PostgresMigration {
        /// The database, e.g. `postgres:db.example:5432/headend`.
        target: String,
        /// The migration's version number.
        version: u32,
        /// The migration's name.
        name: &'static str,
        /// The error with its causes.
        detail: String,
        /// The underlying client error.
        source: ::postgres::Error,
    },
    /// The PostgreSQL database was migrated by a newer headend than this one.
    #[error(
        "{target}: schema version {found} is newer than this headend knows ({known}); upgrade every headend server sharing this database, or restore a matching backup"
    )]
    PostgresTooNew {
        /// The database, e.g. `postgres:db.example:5432/headend`.
        target: String,
        /// The schema version found in the database.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
    /// The PostgreSQL connection could not serve the call: it gave no answer
    /// in time, its thread stopped, or it was lost inside a transaction.
    #[error("{target}: {reason}")]
    Unavailable {
        /// The database, e.g. `postgres:db.example:5432/headend`.
        target: String,
        /// What happened.
        reason: String,
    },
}

impl StoreError {
    /// Maps a SQLite error met while doing `operation`.
    pub(crate) fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sql { operation, source }
    }

    /// Maps a PostgreSQL client error met while doing `operation`:
    /// serialization failures and deadlocks become [`StoreError::Conflict`].
    pub(crate) fn pg(operation: &'static str) -> impl Fn(::postgres::Error) -> Self {
        move |source| {
            match source.code() {
                Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE => {
                    return Self::Conflict {
                        operation,
                        deadlock: false,
                    };
                }
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => {
                    return Self::Conflict {
                        operation,
                        deadlock: true,
                    };
                }
                _ => {}
            }
            Self::Postgres {
                operation,
                detail: render_pg(&source),
                source,
            }
        }
    }
}

/// One line for an operator: the PostgreSQL server's severity, SQLSTATE,
/// message, detail and hint, or the client error with its causes.
pub(crate) fn render_pg(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut out = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
        if let Some(d) = db.detail() {
            out.push_str("; detail: ");
            out.push_str(d);
        }
        if let Some(h) = db.hint() {
            out.push_str("; hint: ");
            out.push_str(h);
        }
        return out;
    }
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
