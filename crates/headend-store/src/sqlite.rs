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

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::lease::{Lease, LeaseState, LeaseTx};
use crate::migrate::{SQLITE_MIGRATIONS, latest_version};
use crate::{Backend, StoreError, Transaction};

#[path = "sqlite_auth.rs"]
mod auth;

const LEASE_COLUMNS: &str = "address, subnet, client_key, hwaddr, client_id, hostname, state, expires, circuit_id, remote_id";

/// A SQLite database file holding headend's state.
pub struct SqliteBackend {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Background WAL checkpoints for the writer (None for readers).
    checkpointer: Option<crate::checkpoint::Checkpointer>,
    /// Set once the directory holding the `-wal` file has been fsynced.
    dir_synced: AtomicBool,
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
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut backend = Self::configure(path, conn)?;
        backend.migrate()?;
        let checkpointer = crate::checkpoint::Checkpointer::start(path, &backend.lock());
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
        Ok(Box::new(SqliteTx {
            conn,
            open: true,
            unsynced: false,
            now: unix_now(),
        }))
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
        Ok(Box::new(SqliteTx {
            conn,
            open: true,
            unsynced: true,
            now: unix_now(),
        }))
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
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEASE_COLUMNS} FROM dhcp_leases ORDER BY address"
            ))
            .map_err(StoreError::sql("lease listing"))?;
        let rows = stmt
            .query_map([], read_lease)
            .map_err(StoreError::sql("lease listing"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(StoreError::sql("lease listing"))??);
        }
        Ok(out)
    }

    fn lease_at(&self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEASE_COLUMNS} FROM dhcp_leases WHERE address = ?1"
            ))
            .map_err(StoreError::sql("lease lookup"))?;
        let mut rows = stmt
            .query_map([u32::from(address)], read_lease)
            .map_err(StoreError::sql("lease lookup"))?;
        match rows.next() {
            Some(row) => Ok(Some(row.map_err(StoreError::sql("lease lookup"))??)),
            None => Ok(None),
        }
    }

    fn leases_of_hwaddr(&self, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {LEASE_COLUMNS} FROM dhcp_leases WHERE hwaddr = ?1 ORDER BY expires DESC"
            ))
            .map_err(StoreError::sql("lease lookup"))?;
        let rows = stmt
            .query_map([hwaddr], read_lease)
            .map_err(StoreError::sql("lease lookup"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(StoreError::sql("lease lookup"))??);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Row → lease; the inner Result carries decoding errors of our own columns.
fn read_lease(row: &Row<'_>) -> rusqlite::Result<Result<Lease, StoreError>> {
    let address: u32 = row.get(0)?;
    let state: String = row.get(6)?;
    let expires: i64 = row.get(7)?;
    let state = match LeaseState::parse(&state) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Lease {
        address: Ipv4Addr::from(address),
        subnet: row.get(1)?,
        client_key: row.get(2)?,
        hwaddr: row.get(3)?,
        client_id: row.get(4)?,
        hostname: row.get(5)?,
        state,
        expires: u64::try_from(expires).unwrap_or(0),
        circuit_id: row.get(8)?,
        remote_id: row.get(9)?,
    }))
}

fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One open write transaction; rolled back on drop unless committed.
struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
    /// Begun by `begin_unsynced`: restore `synchronous=FULL` when done.
    unsynced: bool,
    now: u64,
}

impl SqliteTx<'_> {
    /// Back to `synchronous=FULL` for the connection's other users (the admin
    /// API's writes), once out of the transaction.
    fn restore_full(&mut self) {
        if std::mem::take(&mut self.unsynced)
            && let Err(e) = self.conn.execute_batch("PRAGMA synchronous = FULL")
        {
            tracing::warn!("store: cannot restore synchronous=FULL: {e}");
        }
    }
}

impl SqliteTx<'_> {
    fn one_lease(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Lease>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(StoreError::sql(op))?;
        stmt.query_row(params, read_lease)
            .optional()
            .map_err(StoreError::sql(op))?
            .transpose()
    }

    fn count(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(StoreError::sql(op))?;
        let n: i64 = stmt
            .query_row(params, |r| r.get(0))
            .map_err(StoreError::sql(op))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!("store rollback failed: {e}");
        }
        self.restore_full();
    }
}

impl Transaction for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.open = false;
        if let Err(source) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(StoreError::Sql {
                operation: "commit",
                source,
            });
        }
        Ok(())
    }
}

impl LeaseTx for SqliteTx<'_> {
    fn lease_by_address(&mut self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "lease lookup by address",
            &format!("SELECT {LEASE_COLUMNS} FROM dhcp_leases WHERE address = ?1"),
            params![u32::from(address)],
        )
    }

    fn lease_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
    ) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "lease lookup by client",
            &format!(
                "SELECT {LEASE_COLUMNS} FROM dhcp_leases WHERE client_key = ?1 AND subnet = ?2 \
                 AND state <> 'declined' ORDER BY updated DESC, expires DESC LIMIT 1"
            ),
            params![client_key, subnet],
        )
    }

    fn highest_claimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT max(address) FROM dhcp_leases WHERE address BETWEEN ?1 AND ?2")
            .map_err(StoreError::sql("pool scan"))?;
        let max: Option<u32> = stmt
            .query_row(params![u32::from(first), u32::from(last)], |r| r.get(0))
            .map_err(StoreError::sql("pool scan"))?;
        Ok(max.map(Ipv4Addr::from))
    }

    fn lowest_unclaimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        let (lo, hi) = (u32::from(first), u32::from(last));
        if lo > hi {
            return Ok(None);
        }
        let first_taken = self.count(
            "pool gap scan",
            "SELECT count(*) FROM dhcp_leases WHERE address = ?1",
            params![lo],
        )? > 0;
        if !first_taken {
            return Ok(Some(first));
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.address + 1 FROM dhcp_leases a WHERE a.address >= ?1 AND a.address < ?2 \
                 AND NOT EXISTS (SELECT 1 FROM dhcp_leases b WHERE b.address = a.address + 1) \
                 ORDER BY a.address LIMIT 1",
            )
            .map_err(StoreError::sql("pool gap scan"))?;
        let gap: Option<u32> = stmt
            .query_row(params![lo, hi], |r| r.get(0))
            .optional()
            .map_err(StoreError::sql("pool gap scan"))?;
        Ok(gap.map(Ipv4Addr::from))
    }

    fn oldest_expired(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
        now: u64,
    ) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "expired lease scan",
            &format!(
                "SELECT {LEASE_COLUMNS} FROM dhcp_leases WHERE expires <= ?3 \
                 AND address BETWEEN ?1 AND ?2 ORDER BY expires LIMIT 1"
            ),
            params![u32::from(first), u32::from(last), secs(now)],
        )
    }

    fn count_live_by_circuit(
        &mut self,
        subnet: &str,
        circuit_id: &[u8],
        except_client: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.count(
            "circuit-id count",
            "SELECT count(*) FROM dhcp_leases WHERE subnet = ?1 AND circuit_id = ?2 \
             AND client_key <> ?3 AND expires > ?4 AND state IN ('offered', 'bound')",
            params![subnet, circuit_id, except_client, secs(now)],
        )
    }

    fn count_live_by_remote(
        &mut self,
        subnet: &str,
        remote_id: &[u8],
        except_client: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.count(
            "remote-id count",
            "SELECT count(*) FROM dhcp_leases WHERE subnet = ?1 AND remote_id = ?2 \
             AND client_key <> ?3 AND expires > ?4 AND state IN ('offered', 'bound')",
            params![subnet, remote_id, except_client, secs(now)],
        )
    }

    fn claim(&mut self, lease: &Lease) -> Result<bool, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO dhcp_leases (address, subnet, client_key, hwaddr, client_id, hostname, \
                 state, expires, circuit_id, remote_id, updated) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (address) DO NOTHING",
            )
            .map_err(StoreError::sql("address claim"))?;
        let n = stmt
            .execute(lease_params(lease, self.now))
            .map_err(StoreError::sql("address claim"))?;
        Ok(n == 1)
    }

    fn put(&mut self, lease: &Lease) -> Result<(), StoreError> {
        // The common case (OFFER then REQUEST, renewals) rewrites the same
        // client's row: an UPDATE that leaves client_key and subnet alone
        // touches no random page of their index, so a group commit writes
        // fewer WAL frames. Otherwise replace the whole row.
        let mut update = self
            .conn
            .prepare_cached(
                "UPDATE dhcp_leases SET hwaddr = ?4, client_id = ?5, hostname = ?6, state = ?7, \
                 expires = ?8, circuit_id = ?9, remote_id = ?10, updated = ?11 \
                 WHERE address = ?1 AND subnet = ?2 AND client_key = ?3",
            )
            .map_err(StoreError::sql("lease write"))?;
        let changed = update
            .execute(lease_params(lease, self.now))
            .map_err(StoreError::sql("lease write"))?;
        if changed == 1 {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO dhcp_leases (address, subnet, client_key, hwaddr, client_id, \
                 hostname, state, expires, circuit_id, remote_id, updated) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(StoreError::sql("lease write"))?;
        stmt.execute(lease_params(lease, self.now))
            .map_err(StoreError::sql("lease write"))?;
        Ok(())
    }

    fn api_reservation(
        &mut self,
        subnet: &str,
        hwaddr: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError> {
        self.api_reservation_row(subnet, hwaddr)
    }

    fn api_reserved(&mut self, subnet: &str, address: Ipv4Addr) -> Result<bool, StoreError> {
        Ok(self.count(
            "reservation lookup",
            "SELECT count(*) FROM dhcp_reservations WHERE subnet = ?1 AND address = ?2",
            params![subnet, u32::from(address)],
        )? > 0)
    }
}

impl SqliteTx<'_> {
    fn api_reservation_row(
        &mut self,
        subnet: &str,
        hwaddr: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError> {
        let mac = crate::lease::mac_text(hwaddr);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT address, hostname FROM dhcp_reservations WHERE subnet = ?1 AND hwaddr = ?2",
            )
            .map_err(StoreError::sql("reservation lookup"))?;
        stmt.query_row(params![subnet, mac], |r| {
            Ok((Ipv4Addr::from(r.get::<_, u32>(0)?), r.get(1)?))
        })
        .optional()
        .map_err(StoreError::sql("reservation lookup"))
    }
}

fn lease_params(lease: &Lease, now: u64) -> impl rusqlite::Params + '_ {
    (
        u32::from(lease.address),
        lease.subnet.as_str(),
        lease.client_key.as_slice(),
        lease.hwaddr.as_slice(),
        lease.client_id.as_deref(),
        lease.hostname.as_deref(),
        lease.state.as_str(),
        secs(lease.expires),
        lease.circuit_id.as_deref(),
        lease.remote_id.as_deref(),
        secs(now),
    )
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
}
