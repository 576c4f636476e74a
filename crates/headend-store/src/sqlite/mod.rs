//! The embedded SQLite backend: one file under the state directory, WAL mode,
//! `synchronous=FULL` (a commit returns only once it is on disk).
//!
//! Writers are serialised through one connection; the DHCP service batches
//! many exchanges into one transaction (group commit), so one fsync covers
//! them all. Readers in other processes (`headend leases`) see the last
//! committed state without blocking the writer, as WAL allows.
//!
//! Pipelined commits ([`Backend::begin_unsynced`] then [`Backend::sync`]):
//! such a transaction commits with `synchronous=NORMAL`, so COMMIT writes its
//! WAL frames (commit frame included) into the `-wal` file with write() and
//! returns without an fsync; `sync` then calls fdatasync(2) on the `-wal` file
//! from another thread, without the connection lock. Durability is the same
//! as `synchronous=FULL` for every commit that returned before the `sync`
//! call began: FULL differs from NORMAL in WAL mode only by that one fsync of
//! the WAL at commit (SQLite still syncs the WAL header on a WAL restart and
//! the WAL then the database file around every checkpoint with NORMAL), and
//! fdatasync of any descriptor of the file flushes all of its written pages,
//! those of the writer connection's descriptor included. The WAL is written
//! sequentially and SQLite recovers it up to the last valid commit frame, so a
//! sync that covers commit N also covers every commit before N. The `-wal`
//! file is never deleted or truncated while this backend's connections are
//! open (no `journal_size_limit`), and the directory holding it is fsynced on
//! the first `sync`, so its name is durable too.

mod apikey;
mod auth;
mod checkpoint;
mod lease;
mod mfa;
mod signing;
mod sso;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, Params};

use self::checkpoint::Checkpointer;
use self::lease::SqliteTx;
use crate::lease::Lease;
use crate::migrate::{SQLITE_MIGRATIONS, latest_version};
use crate::row::{self, Column, Value};
use crate::{Backend, StoreError, Transaction};

/// A SQLite database file holding headend's state.
pub struct SqliteBackend {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Background WAL checkpoints for the writer (None for readers).
    checkpointer: Option<Checkpointer>,
    /// Set once the directory holding the `-wal` file has been fsynced.
    dir_synced: AtomicBool,
    /// A read-only connection for statistics ([`Backend::live_leases`]),
    /// opened at first use: in WAL mode it reads while the writer writes.
    reader: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // Password hashes and sessions live here: 0600 whatever the umask.
        if let Err(e) = headend_util::create_private_file(path) {
            tracing::warn!(db = %path.display(), "cannot pre-create the database with mode 0600: {e}");
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut backend = Self::configure(path, conn)?;
        backend.migrate()?;
        let checkpointer = Checkpointer::start(path, &backend.lock());
        backend.checkpointer = checkpointer;
        Ok(backend)
    }

    /// Opens an existing database without changing its schema (for readers
    /// such as `headend leases` while the server runs).
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let backend = Self::configure(path, conn)?;
        let found = backend.user_version()?;
        if found > latest_version() {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: latest_version(),
            });
        }
        Ok(backend)
    }

    fn configure(path: &Path, conn: Connection) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        // WAL: readers never block the writer; synchronous=FULL: a commit is
        // on disk when COMMIT returns (the WAL is fsynced on every commit).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        // Keep the whole working set (leases and indexes) in SQLite's cache.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            checkpointer: None,
            dir_synced: AtomicBool::new(false),
            reader: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (an
        // open transaction is rolled back by the guard's drop), so recover.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn user_version(&self) -> Result<u32, StoreError> {
        self.lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(StoreError::sql("schema version lookup"))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.user_version()?;
        if found > latest_version() {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known: latest_version(),
            });
        }
        let path = self.path.clone();
        let conn = self
            .conn
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for m in SQLITE_MIGRATIONS.iter().filter(|m| m.version > found) {
            let fail = |source| StoreError::Migration {
                path: path.clone(),
                version: m.version,
                name: m.name,
                source,
            };
            let tx = conn.transaction().map_err(fail)?;
            tx.execute_batch(m.sql).map_err(fail)?;
            tx.pragma_update(None, "user_version", m.version)
                .map_err(fail)?;
            tx.commit().map_err(fail)?;
            tracing::info!(db = %path.display(), version = m.version, name = m.name, "store schema migrated");
        }
        Ok(())
    }
}

impl Backend for SqliteBackend {
    fn begin(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        let conn = self.lock();
        // IMMEDIATE takes the write lock now, so two servers sharing the file
        // serialise whole exchanges and cannot claim the same address.
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::sql("begin"))?;
        Ok(Box::new(SqliteTx::new(conn, false)))
    }

    fn begin_unsynced(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        let conn = self.lock();
        // The safety level cannot change inside a transaction: set it first,
        // and back to FULL when this transaction ends (see the module doc).
        if let Err(source) = conn.execute_batch("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE") {
            let _ = conn.execute_batch("PRAGMA synchronous = FULL");
            return Err(StoreError::Sql {
                operation: "begin",
                source,
            });
        }
        Ok(Box::new(SqliteTx::new(conn, true)))
    }

    fn sync(&self) -> Result<(), StoreError> {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let failed = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Sync { path, source }
        };
        // Opened per call (once per batch, not per exchange), so the flush
        // always reaches the file SQLite is writing now.
        std::fs::File::open(&wal)
            .and_then(|f| f.sync_data())
            .map_err(failed(&wal))?;
        if !self.dir_synced.load(Ordering::Acquire) {
            let dir = match wal.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(failed(&dir))?;
            self.dir_synced.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        lease::all_leases(&self.lock())
    }

    fn live_leases(&self, now: u64) -> Result<Vec<crate::LiveLease>, StoreError> {
        let mut reader = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if reader.is_none() {
            let conn = Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|c| {
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                Ok(c)
            })
            .map_err(|source| StoreError::Open {
                path: self.path.clone(),
                source,
            })?;
            *reader = Some(conn);
        }
        match reader.as_ref() {
            Some(conn) => lease::live(conn, now),
            None => lease::live(&self.lock(), now),
        }
    }

    fn leases6(&self) -> Result<Vec<crate::Lease6>, StoreError> {
        lease::all_leases6(&self.lock())
    }

    fn lease_at(&self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        lease::at(&self.lock(), address)
    }

    fn leases_of_hwaddr(&self, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
        lease::of_hwaddr(&self.lock(), hwaddr)
    }

    fn heartbeat(&self, name: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO dhcp_servers (name, heartbeat_ms) \
             VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) \
             ON CONFLICT (name) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
            [name],
        )
        .map_err(StoreError::sql("heartbeat"))?;
        all(
            &conn,
            "heartbeat",
            "SELECT name, max(0, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) \
             - heartbeat_ms) FROM dhcp_servers ORDER BY name",
            [],
            |r| {
                Ok((
                    row::Row::get(r, 0)?,
                    u64::try_from(row::Row::get::<i64>(r, 1)?).unwrap_or(0),
                ))
            },
        )
    }

    fn lease_page(
        &self,
        filter: &crate::LeaseFilter,
        offset: u64,
        limit: u32,
    ) -> Result<crate::LeasePage, StoreError> {
        lease::page(&self.lock(), filter, offset, limit)
    }

    fn lease_counts(&self, now: u64) -> Result<Vec<crate::LeaseCount>, StoreError> {
        lease::counts(&self.lock(), now)
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

impl row::Row for rusqlite::Row<'_> {
    fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        Self::get(self, index).map_err(StoreError::sql("row decoding"))
    }
}

/// Binds values of the shared row mapping as SQLite parameters.
fn bind<'a>(values: &'a [&'a dyn Value]) -> impl Params + 'a {
    rusqlite::params_from_iter(values.iter().map(|v| v.sqlite()))
}

/// Every row of a (cached) query, each through `map`.
fn all<T>(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl Params,
    map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(StoreError::sql(operation))?;
    let mut rows = stmt.query(params).map_err(StoreError::sql(operation))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(StoreError::sql(operation))? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The first row of a (cached) query, if any, through `map`.
fn first<T>(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl Params,
    map: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(StoreError::sql(operation))?;
    let mut rows = stmt.query(params).map_err(StoreError::sql(operation))?;
    rows.next()
        .map_err(StoreError::sql(operation))?
        .map(map)
        .transpose()
}

/// The one number an aggregate query answers (`None` for NULL, e.g. the
/// `max` of no rows).
fn number(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl Params,
) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(StoreError::sql(operation))?;
    stmt.query_row(params, |r| r.get(0))
        .map_err(StoreError::sql(operation))
}

/// A `count(*)` query's answer.
fn count(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    params: impl Params,
) -> Result<u64, StoreError> {
    let n = number(conn, operation, sql, params)?.unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(b: &SqliteBackend) -> i64 {
        b.lock()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn unsynced_transactions_leave_the_connection_at_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("headend.db")).unwrap();
        assert_eq!(synchronous(&b), 2);
        b.begin_unsynced().unwrap().commit().unwrap();
        assert_eq!(synchronous(&b), 2, "after a commit");
        drop(b.begin_unsynced().unwrap());
        assert_eq!(synchronous(&b), 2, "after a rollback");
        b.sync().unwrap();
    }

    #[test]
    fn sync_without_a_wal_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("headend.db")).unwrap();
        let wal = dir.path().join("headend.db-wal");
        drop(b.begin_unsynced().unwrap());
        // Simulate a vanished log (e.g. the state directory was removed).
        let _ = std::fs::remove_file(&wal);
        let err = b.sync().unwrap_err();
        assert!(err.to_string().contains("headend.db-wal"), "{err}");
    }

    #[test]
    fn live_leases_skip_expired_rows_and_see_uncommitted_writes_only_once_committed() {
        use crate::LeaseState;
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("headend.db")).unwrap();
        let lease = |last: u8, state, expires, class: Option<&str>| Lease {
            address: Ipv4Addr::new(10, 0, 0, last),
            subnet: "lan".into(),
            client_key: vec![last],
            hwaddr: vec![last],
            client_id: None,
            hostname: None,
            state,
            expires,
            circuit_id: None,
            remote_id: None,
            class: class.map(str::to_owned),
            server: None,
        };
        let mut tx = b.begin().unwrap();
        tx.put(&lease(9, LeaseState::Bound, 2_000, Some("modem")))
            .unwrap();
        tx.put(&lease(5, LeaseState::Declined, 2_000, None))
            .unwrap();
        tx.put(&lease(7, LeaseState::Bound, 900, None)).unwrap();
        tx.commit().unwrap();
        // A write in progress on the writer does not block the reader.
        let mut open = b.begin().unwrap();
        open.put(&lease(8, LeaseState::Bound, 2_000, None)).unwrap();
        let live = b.live_leases(1_000).unwrap();
        drop(open);
        let got: Vec<_> = live
            .iter()
            .map(|l| (l.address.octets()[3], l.state, l.class.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, LeaseState::Declined, None),
                (9, LeaseState::Bound, Some("modem"))
            ]
        );
    }
}
