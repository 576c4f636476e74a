//! The PostgreSQL backend: one database shared by several headend servers,
//! so they hand out leases from the same pools and share users and sessions.
//!
//! Connections: a small pool for reads and the admin API, and one connection
//! kept for lease write transactions; each is owned by a thread of its own
//! (see `conn`), so the store may be called from anywhere, tokio tasks
//! included. A [`Transaction`] holds its connection from `BEGIN` to commit or
//! drop (drop rolls back).
//!
//! Concurrency between servers: lease transactions run at `ISOLATION LEVEL
//! REPEATABLE READ` and every lease row is written by an upsert keyed by
//! address, so two servers that both pick the same free or expired address
//! cannot both commit: the second upsert meets a row version its snapshot
//! does not see (inserted or updated by the other, committed meanwhile) and
//! fails with a serialization failure, or one gets a deadlock;
//! [`StoreError::Conflict`] (SQLSTATE 40001/40P01), and the DHCP worker
//! decides the requests again. The address is the one invariant between
//! servers, and it is a row's; `SERIALIZABLE`'s predicate locks (index-page
//! and heap-page granular) made servers working on disjoint clients and
//! addresses abort each other's whole batches, so they are not used. Each admin-API change is one
//! transaction; refresh-token rotation locks the family row, so of two
//! concurrent rotations of one token exactly one wins.
//!
//! Commits are durable when they return (the server's `synchronous_commit`),
//! except those of [`Backend::begin_unsynced`] (`synchronous_commit = off`
//! for that transaction), which [`Backend::sync`] makes durable afterwards
//! with a commit of its own on another connection: the DHCP worker decides
//! its next batch while the last one's WAL is flushed, as with SQLite.
//!
//! TLS: with `[store] tls_ca_file`, TCP connections require TLS and verify
//! the server's certificate (chain and host name, see `tls`); without it
//! they are plaintext, for a local socket (`host=/run/postgresql`, where
//! PostgreSQL offers no TLS anyway) or a trusted network.

mod apikey;
mod auth;
mod conn;
mod lease;
mod mfa;
mod signing;
mod sso;
mod tls;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ::postgres::Row;

use self::conn::{Pool, Pooled, Session, Target};
use self::lease::PgTx;
use crate::config::PostgresConfig;
use crate::error::render_pg;
use crate::lease::Lease;
use crate::migrate::{POSTGRES_MIGRATIONS, latest_version};
use crate::row::{self, Column, Value};
use crate::{Backend, StoreError, Transaction};

/// Key of the advisory lock that serialises migrations of one database
/// ("headend" in ASCII).
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"headend\0");

/// A PostgreSQL database holding headend's state.
pub struct PostgresBackend {
    target: Arc<Target>,
    /// The connection reserved for lease write transactions.
    writer: Pool,
    /// Connections for reads and the admin API.
    readers: Pool,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("target", &self.target.describe)
            .finish_non_exhaustive()
    }
}

impl PostgresBackend {
    /// Connects and brings the schema up to date (several servers starting
    /// at once migrate it once).
    pub fn open(config: &PostgresConfig) -> Result<Self, StoreError> {
        let backend = Self::connect(config)?;
        backend.migrate()?;
        Ok(backend)
    }

    /// Connects without changing the schema (for readers such as `headend
    /// leases` while the servers run); refuses a schema newer than this build.
    pub fn open_existing(config: &PostgresConfig) -> Result<Self, StoreError> {
        let backend = Self::connect(config)?;
        let found = backend.readers.get()?.conn().run(|s| {
            let row = s
                .query_first("SELECT to_regclass('headend_schema') IS NOT NULL", &[])
                .map_err(StoreError::pg("schema version lookup"))?;
            let exists = match row {
                Some(r) => get::<bool>(&r, 0)?,
                None => false,
            };
            if !exists {
                return Ok(0);
            }
            schema_version(s).map_err(StoreError::pg("schema version lookup"))
        })?;
        backend.check_version(found)?;
        Ok(backend)
    }

    fn connect(config: &PostgresConfig) -> Result<Self, StoreError> {
        let mut pg_config = config.check()?;
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        if let Some(password) = config.load_password(credentials.as_deref())? {
            pg_config.password(password);
        }
        // Read even for Unix-socket hosts (where check() turned TLS off), so
        // a broken tls_ca_file shows at start whatever the url.
        let tls = config
            .tls_ca_file
            .as_deref()
            .map(tls::connector)
            .transpose()?;
        let target = Arc::new(Target::new(
            pg_config,
            tls,
            Duration::from_secs(config.connect_timeout_secs),
        ));
        let writer = Pool::new(&target, 1, "writer")?;
        let readers = Pool::new(&target, config.pool, "pool")?;
        // Connect now, so a wrong URL or password shows at start.
        readers.get()?.conn().run(|_| Ok(()))?;
        Ok(Self {
            target,
            writer,
            readers,
        })
    }

    fn check_version(&self, found: u32) -> Result<(), StoreError> {
        if found > latest_version() {
            return Err(StoreError::PostgresTooNew {
                target: self.target.describe.clone(),
                found,
                known: latest_version(),
            });
        }
        Ok(())
    }

    /// Applies the missing migrations, each in its own transaction under a
    /// transaction-level advisory lock (so concurrent servers wait for each
    /// other and apply every step once).
    fn migrate(&self) -> Result<(), StoreError> {
        let target = self.target.describe.clone();
        let conn = self.writer.get()?;
        loop {
            let target = target.clone();
            let step = conn.conn().run(move |s| {
                let fail = |version: u32, name: &'static str| {
                    let target = target.clone();
                    move |source: ::postgres::Error| StoreError::PostgresMigration {
                        target,
                        version,
                        name,
                        detail: render_pg(&source),
                        source,
                    }
                };
                s.batch("BEGIN").map_err(fail(0, "schema version table"))?;
                let result = migrate_one(s, &fail);
                let end = if matches!(result, Ok(Step::Applied { .. })) {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                let ended = s.batch(end);
                let step = result?;
                if let Step::Applied { version, name } = step {
                    ended.map_err(fail(version, name))?;
                }
                Ok(step)
            })?;
            match step {
                Step::Applied { version, name } => {
                    tracing::info!(db = %self.target.describe, version, name, "store schema migrated");
                }
                Step::Current => return Ok(()),
                Step::TooNew(found) => return self.check_version(found),
            }
        }
    }
}

/// What one migration transaction did.
enum Step {
    Applied { version: u32, name: &'static str },
    Current,
    TooNew(u32),
}

/// Inside an open transaction: takes the lock, reads the version and applies
/// the next migration, if any.
fn migrate_one<F, E>(s: &mut Session, fail: &F) -> Result<Step, StoreError>
where
    F: Fn(u32, &'static str) -> E,
    E: FnOnce(::postgres::Error) -> StoreError,
{
    s.batch(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
         CREATE TABLE IF NOT EXISTS headend_schema (
             version INTEGER PRIMARY KEY,
             name    TEXT NOT NULL,
             applied TIMESTAMPTZ NOT NULL DEFAULT now()
         )"
    ))
    .map_err(fail(0, "schema version table"))?;
    let found = schema_version(s).map_err(fail(0, "schema version table"))?;
    if found > latest_version() {
        return Ok(Step::TooNew(found));
    }
    let Some(m) = POSTGRES_MIGRATIONS.iter().find(|m| m.version > found) else {
        return Ok(Step::Current);
    };
    s.batch(m.sql).map_err(fail(m.version, m.name))?;
    let version = i32::try_from(m.version).unwrap_or(i32::MAX);
    s.execute(
        "INSERT INTO headend_schema (version, name) VALUES ($1, $2)",
        &[&version, &m.name],
    )
    .map_err(fail(m.version, m.name))?;
    Ok(Step::Applied {
        version: m.version,
        name: m.name,
    })
}

fn schema_version(s: &mut Session) -> Result<u32, ::postgres::Error> {
    let rows = s.query("SELECT coalesce(max(version), 0) FROM headend_schema", &[])?;
    let v: i32 = match rows.first() {
        Some(r) => r.try_get(0)?,
        None => 0,
    };
    Ok(u32::try_from(v).unwrap_or(0))
}

impl Backend for PostgresBackend {
    fn begin(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        self.begin_lease_tx(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             SET LOCAL plan_cache_mode = force_custom_plan",
        )
    }

    /// As [`begin`](Backend::begin), with `synchronous_commit` off for this
    /// transaction: its commit returns once the commit record is in the
    /// WAL buffers (visible to every later transaction, this server's and
    /// the others'), without waiting for the flush. The DHCP worker goes on
    /// deciding the next batch meanwhile; the flush thread's
    /// [`sync`](Backend::sync) makes it durable before any reply leaves.
    fn begin_unsynced(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        self.begin_lease_tx(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             SET LOCAL plan_cache_mode = force_custom_plan; \
             SET LOCAL synchronous_commit = off",
        )
    }

    /// One small write (this connection's row of `store_sync`), on a
    /// connection of its own (not the writer's, which is deciding the next
    /// batch): a transaction that wrote WAL waits at commit, at the
    /// database's own `synchronous_commit` (local flush, or a synchronous
    /// standby's as the operator set it), for the WAL up to its commit
    /// record, so every transaction committed before it, unsynced ones
    /// included, is as durable as a plain commit would have made it. (A
    /// transaction that wrote nothing, even one holding a transaction ID,
    /// commits without that wait.)
    fn sync(&self) -> Result<(), StoreError> {
        self.reader()?.conn().run(|s| {
            s.batch(
                "INSERT INTO store_sync (pid, n) VALUES (pg_backend_pid(), 1) \
                 ON CONFLICT (pid) DO UPDATE SET n = store_sync.n + 1",
            )
            .map_err(StoreError::pg("sync"))
        })
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.reader()?.conn().run(lease::all_leases)
    }

    fn leases6(&self) -> Result<Vec<crate::Lease6>, StoreError> {
        self.reader()?.conn().run(lease::all_leases6)
    }

    fn lease_at(&self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.reader()?.conn().run(move |s| lease::at(s, address))
    }

    fn leases_of_hwaddr(&self, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
        let hwaddr = hwaddr.to_vec();
        self.reader()?
            .conn()
            .run(move |s| lease::of_hwaddr(s, &hwaddr))
    }

    fn heartbeat(&self, name: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let name = name.to_owned();
        self.reader()?.conn().run(move |s| {
            s.execute(
                "INSERT INTO dhcp_servers (name, heartbeat_ms) \
                 VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint) \
                 ON CONFLICT (name) DO UPDATE SET heartbeat_ms = EXCLUDED.heartbeat_ms",
                &[&name],
            )
            .map_err(StoreError::pg("heartbeat"))?;
            let rows = s
                .query(
                    "SELECT name, greatest(0, (extract(epoch FROM clock_timestamp()) * 1000)::bigint \
                     - heartbeat_ms) FROM dhcp_servers ORDER BY name",
                    &[],
                )
                .map_err(StoreError::pg("heartbeat"))?;
            rows.iter()
                .map(|r| Ok((get(r, 0)?, u64::try_from(get::<i64>(r, 1)?).unwrap_or(0))))
                .collect()
        })
    }

    fn lease_page(
        &self,
        filter: &crate::LeaseFilter,
        offset: u64,
        limit: u32,
    ) -> Result<crate::LeasePage, StoreError> {
        let filter = filter.clone();
        self.reader()?
            .conn()
            .run(move |s| lease::page(s, &filter, offset, limit))
    }

    fn lease_counts(&self, now: u64) -> Result<Vec<crate::LeaseCount>, StoreError> {
        self.reader()?.conn().run(move |s| lease::counts(s, now))
    }

    fn describe(&self) -> String {
        self.target.describe.clone()
    }
}

impl PostgresBackend {
    /// A lease write transaction begun by `begin_sql`.
    fn begin_lease_tx(
        &self,
        begin_sql: &'static str,
    ) -> Result<Box<dyn Transaction + '_>, StoreError> {
        let slot = self.writer.get()?;
        // REPEATABLE READ: two servers choosing the same address cannot
        // both commit; the loser's upsert gets a serialization failure
        // (Conflict), see the module's notes.
        // One round trip: BEGIN and the database's clock, by which leases
        // are judged live (every server sharing the database agrees on it).
        // Every statement planned for its parameters and the table as it
        // is now (a batch's lookups are few, planning them costs little;
        // a cached generic plan can be a scan of the whole table).
        // And whether any API reservation exists: when none does (the
        // common case), the per-request reservation lookups are skipped.
        let (tx, clock, reservations) = slot
            .conn()
            .begin_timed(begin_sql, "EXISTS (SELECT 1 FROM dhcp_reservations)")?;
        Ok(Box::new(PgTx::new(tx, slot, clock, reservations)))
    }

    /// A connection for one read or admin-API change.
    fn reader(&self) -> Result<Pooled<'_>, StoreError> {
        self.readers.get()
    }
}

impl row::Row for Row {
    fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        self.try_get(index).map_err(StoreError::pg("row decoding"))
    }
}

/// One column of a PostgreSQL row.
fn get<T: Column>(row: &Row, index: usize) -> Result<T, StoreError> {
    row::Row::get(row, index)
}

/// Values of the shared row mapping as PostgreSQL parameters.
fn bind<const N: usize>(values: [&dyn Value; N]) -> [&(dyn ::postgres::types::ToSql + Sync); N] {
    values.map(|v| v.pg())
}
