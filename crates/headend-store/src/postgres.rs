//! The PostgreSQL backend: one database shared by several headend servers,
//! so they hand out leases from the same pools and share users and sessions.
//!
//! Connections: a small pool for reads and the admin API, and one connection
//! kept for lease write transactions; each is owned by a thread of its own
//! (see `pg_conn`), so the store may be called from anywhere, tokio tasks
//! included. A [`Transaction`] holds its connection from `BEGIN` to commit or
//! drop (drop rolls back).
//!
//! Concurrency between servers: lease transactions run at `ISOLATION LEVEL
//! SERIALIZABLE`, so two servers that both pick the same free or expired
//! address cannot both commit: one gets [`StoreError::Conflict`] (SQLSTATE
//! 40001/40P01), the DHCP client retries. Each admin-API change is one
//! transaction; refresh-token rotation locks the family row, so of two
//! concurrent rotations of one token exactly one wins.
//!
//! Commits are durable when they return (the server's `synchronous_commit`),
//! so [`Backend::begin_unsynced`] and [`Backend::sync`] keep their defaults.
//!
//! TLS: with `[store] tls_ca_file`, TCP connections require TLS and verify
//! the server's certificate (chain and host name, see `pg_tls`); without it
//! they are plaintext, for a local socket (`host=/run/postgresql`, where
//! PostgreSQL offers no TLS anyway) or a trusted network.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::postgres::Row;
use ::postgres::error::SqlState;
use ::postgres::types::FromSql;

use crate::config::PostgresConfig;
use crate::lease::{Lease, LeaseState, LeaseTx};
use crate::migrate::{POSTGRES_MIGRATIONS, latest_version};
use crate::pg_conn::{OpenTx, Pool, Pooled, Session, Target};
use crate::{Backend, StoreError, Transaction};

#[path = "postgres_auth.rs"]
mod auth;

/// The lease columns, in the order [`read_lease`] reads them.
macro_rules! lease_columns {
    () => {
        "address, subnet, client_key, hwaddr, client_id, hostname, state, expires, circuit_id, remote_id"
    };
}

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
                .map_err(pg("schema version lookup"))?;
            let exists = match row {
                Some(r) => get::<bool>(&r, 0)?,
                None => false,
            };
            if !exists {
                return Ok(0);
            }
            schema_version(s).map_err(pg("schema version lookup"))
        })?;
        backend.check_version(found)?;
        Ok(backend)
    }

    fn connect(config: &PostgresConfig) -> Result<Self, StoreError> {
        let mut pg_config = config.check()?;
        if let Some(path) = &config.password_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| StoreError::PasswordFile {
                    path: path.clone(),
                    source,
                })?;
            pg_config.password(text.trim_end_matches(['\r', '\n']));
        }
        // Read even for Unix-socket hosts (where check() turned TLS off), so
        // a broken tls_ca_file shows at start whatever the url.
        let tls = config
            .tls_ca_file
            .as_deref()
            .map(crate::pg_tls::connector)
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
                        detail: render(&source),
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

/// One line for an operator: the server's severity, SQLSTATE, message,
/// detail and hint, or the client error with its causes.
pub(crate) fn render(e: &::postgres::Error) -> String {
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

/// Maps a client error to [`StoreError`]: serialization failures and
/// deadlocks become [`StoreError::Conflict`].
pub(crate) fn pg(operation: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
    move |source| {
        if matches!(
            source.code(),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        ) {
            return StoreError::Conflict { operation };
        }
        StoreError::Postgres {
            operation,
            detail: render(&source),
            source,
        }
    }
}

/// One column of a row.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(pg("row decoding"))
}

/// Unix seconds → BIGINT.
pub(crate) fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// BIGINT → unix seconds.
pub(crate) fn unsecs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// An IPv4 address as stored (BIGINT).
pub(crate) fn addr(a: Ipv4Addr) -> i64 {
    i64::from(u32::from(a))
}

/// A stored address back to IPv4.
pub(crate) fn unaddr(v: i64) -> Result<Ipv4Addr, StoreError> {
    u32::try_from(v)
        .map(Ipv4Addr::from)
        .map_err(|_| StoreError::Corrupt {
            reason: format!("address {v} is not an IPv4 address"),
        })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_lease(row: &Row) -> Result<Lease, StoreError> {
    Ok(Lease {
        address: unaddr(get(row, 0)?)?,
        subnet: get(row, 1)?,
        client_key: get(row, 2)?,
        hwaddr: get(row, 3)?,
        client_id: get(row, 4)?,
        hostname: get(row, 5)?,
        state: LeaseState::parse(get(row, 6)?)?,
        expires: unsecs(get(row, 7)?),
        circuit_id: get(row, 8)?,
        remote_id: get(row, 9)?,
    })
}

fn read_leases(rows: &[Row]) -> Result<Vec<Lease>, StoreError> {
    rows.iter().map(read_lease).collect()
}

fn count(row: Option<Row>) -> Result<u64, StoreError> {
    match row {
        Some(r) => Ok(u64::try_from(get::<i64>(&r, 0)?).unwrap_or(0)),
        None => Ok(0),
    }
}

impl Backend for PostgresBackend {
    fn begin(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        let slot = self.writer.get()?;
        // SERIALIZABLE: two servers choosing the same address cannot both
        // commit; the loser gets a serialization failure (Conflict).
        let tx = slot.conn().begin("BEGIN ISOLATION LEVEL SERIALIZABLE")?;
        Ok(Box::new(PgTx {
            tx,
            _slot: slot,
            now: unix_now(),
        }))
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.readers.get()?.conn().run(|s| {
            let rows = s
                .query(
                    concat!(
                        "SELECT ",
                        lease_columns!(),
                        " FROM dhcp_leases ORDER BY address"
                    ),
                    &[],
                )
                .map_err(pg("lease listing"))?;
            read_leases(&rows)
        })
    }

    fn lease_at(&self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.readers.get()?.conn().run(move |s| {
            s.query_first(
                concat!(
                    "SELECT ",
                    lease_columns!(),
                    " FROM dhcp_leases WHERE address = $1"
                ),
                &[&addr(address)],
            )
            .map_err(pg("lease lookup"))?
            .as_ref()
            .map(read_lease)
            .transpose()
        })
    }

    fn leases_of_hwaddr(&self, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
        let hwaddr = hwaddr.to_vec();
        self.readers.get()?.conn().run(move |s| {
            let rows = s
                .query(
                    concat!(
                        "SELECT ",
                        lease_columns!(),
                        " FROM dhcp_leases WHERE hwaddr = $1 ORDER BY expires DESC"
                    ),
                    &[&hwaddr],
                )
                .map_err(pg("lease lookup"))?;
            read_leases(&rows)
        })
    }

    fn describe(&self) -> String {
        self.target.describe.clone()
    }
}

impl PostgresBackend {
    /// A connection for one read or admin-API change.
    fn reader(&self) -> Result<Pooled<'_>, StoreError> {
        self.readers.get()
    }
}

/// One open lease transaction on the writer connection; rolled back on drop
/// unless committed.
struct PgTx<'a> {
    // Field order matters: the transaction is ended (its ROLLBACK queued)
    // before the connection goes back to the pool.
    tx: OpenTx<'a>,
    _slot: Pooled<'a>,
    /// Unix time of BEGIN, stored as `updated`.
    now: u64,
}

impl Transaction for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        this.tx.commit()
    }
}

impl PgTx<'_> {
    fn one_lease(
        &self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Box<dyn ::postgres::types::ToSql + Send + Sync>>,
    ) -> Result<Option<Lease>, StoreError> {
        self.tx.run(move |s| {
            let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                params.iter().map(|p| &**p as _).collect();
            s.query_first(sql, &refs)
                .map_err(pg(op))?
                .as_ref()
                .map(read_lease)
                .transpose()
        })
    }

    fn count(
        &self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Box<dyn ::postgres::types::ToSql + Send + Sync>>,
    ) -> Result<u64, StoreError> {
        self.tx.run(move |s| {
            let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                params.iter().map(|p| &**p as _).collect();
            count(s.query_first(sql, &refs).map_err(pg(op))?)
        })
    }

    /// A live-lease count by option 82 sub-option: `sql` takes the subnet,
    /// the sub-option's value, the client to leave out and the time.
    fn count_live(
        &self,
        op: &'static str,
        sql: &'static str,
        (subnet, id, except_client, now): (&str, &[u8], &[u8], u64),
    ) -> Result<u64, StoreError> {
        self.count(
            op,
            sql,
            vec![
                Box::new(subnet.to_owned()),
                Box::new(id.to_vec()),
                Box::new(except_client.to_vec()),
                Box::new(secs(now)),
            ],
        )
    }

    fn write(&self, op: &'static str, sql: &'static str, lease: &Lease) -> Result<u64, StoreError> {
        let lease = lease.clone();
        let now = secs(self.now);
        self.tx.run(move |s| {
            s.execute(
                sql,
                &[
                    &addr(lease.address),
                    &lease.subnet,
                    &lease.client_key,
                    &lease.hwaddr,
                    &lease.client_id,
                    &lease.hostname,
                    &lease.state.as_str(),
                    &secs(lease.expires),
                    &lease.circuit_id,
                    &lease.remote_id,
                    &now,
                ],
            )
            .map_err(pg(op))
        })
    }
}

/// Boxes owned query parameters so they can travel to the connection thread.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        vec![$(Box::new($p) as Box<dyn ::postgres::types::ToSql + Send + Sync>),*]
    };
}

impl LeaseTx for PgTx<'_> {
    fn lease_by_address(&mut self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "lease lookup by address",
            concat!(
                "SELECT ",
                lease_columns!(),
                " FROM dhcp_leases WHERE address = $1"
            ),
            params![addr(address)],
        )
    }

    fn lease_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
    ) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "lease lookup by client",
            concat!(
                "SELECT ",
                lease_columns!(),
                " FROM dhcp_leases WHERE client_key = $1 AND subnet = $2 \
                 AND state <> 'declined' ORDER BY updated DESC, expires DESC LIMIT 1"
            ),
            params![client_key.to_vec(), subnet.to_owned()],
        )
    }

    fn highest_claimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        let (lo, hi) = (addr(first), addr(last));
        self.tx.run(move |s| {
            let row = s
                .query_first(
                    "SELECT max(address) FROM dhcp_leases WHERE address BETWEEN $1 AND $2",
                    &[&lo, &hi],
                )
                .map_err(pg("pool scan"))?;
            let max: Option<i64> = match &row {
                Some(r) => get(r, 0)?,
                None => None,
            };
            max.map(unaddr).transpose()
        })
    }

    fn lowest_unclaimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        let (lo, hi) = (addr(first), addr(last));
        if lo > hi {
            return Ok(None);
        }
        self.tx.run(move |s| {
            let first_taken = count(
                s.query_first("SELECT count(*) FROM dhcp_leases WHERE address = $1", &[&lo])
                    .map_err(pg("pool gap scan"))?,
            )? > 0;
            if !first_taken {
                return Ok(Some(first));
            }
            let row = s
                .query_first(
                    "SELECT a.address + 1 FROM dhcp_leases a WHERE a.address >= $1 AND a.address < $2 \
                     AND NOT EXISTS (SELECT 1 FROM dhcp_leases b WHERE b.address = a.address + 1) \
                     ORDER BY a.address LIMIT 1",
                    &[&lo, &hi],
                )
                .map_err(pg("pool gap scan"))?;
            row.map(|r| get::<i64>(&r, 0).and_then(unaddr)).transpose()
        })
    }

    fn oldest_expired(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
        now: u64,
    ) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "expired lease scan",
            concat!(
                "SELECT ",
                lease_columns!(),
                " FROM dhcp_leases WHERE expires <= $3 \
                 AND address BETWEEN $1 AND $2 ORDER BY expires LIMIT 1"
            ),
            params![addr(first), addr(last), secs(now)],
        )
    }

    fn count_live_by_circuit(
        &mut self,
        subnet: &str,
        circuit_id: &[u8],
        except_client: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.count_live(
            "circuit-id count",
            "SELECT count(*) FROM dhcp_leases WHERE subnet = $1 AND circuit_id = $2 \
             AND client_key <> $3 AND expires > $4 AND state IN ('offered', 'bound')",
            (subnet, circuit_id, except_client, now),
        )
    }

    fn count_live_by_remote(
        &mut self,
        subnet: &str,
        remote_id: &[u8],
        except_client: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.count_live(
            "remote-id count",
            "SELECT count(*) FROM dhcp_leases WHERE subnet = $1 AND remote_id = $2 \
             AND client_key <> $3 AND expires > $4 AND state IN ('offered', 'bound')",
            (subnet, remote_id, except_client, now),
        )
    }

    fn claim(&mut self, lease: &Lease) -> Result<bool, StoreError> {
        // Atomic: the row is inserted only if the address has none. A row
        // inserted meanwhile by another server's uncommitted transaction
        // makes this wait for it, then fail with a serialization failure
        // (Conflict) if that one commits.
        let n = self.write(
            "address claim",
            "INSERT INTO dhcp_leases (address, subnet, client_key, hwaddr, client_id, hostname, \
             state, expires, circuit_id, remote_id, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (address) DO NOTHING",
            lease,
        )?;
        Ok(n == 1)
    }

    fn put(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.write(
            "lease write",
            "INSERT INTO dhcp_leases (address, subnet, client_key, hwaddr, client_id, hostname, \
             state, expires, circuit_id, remote_id, updated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (address) DO UPDATE SET subnet = EXCLUDED.subnet, \
             client_key = EXCLUDED.client_key, hwaddr = EXCLUDED.hwaddr, \
             client_id = EXCLUDED.client_id, hostname = EXCLUDED.hostname, \
             state = EXCLUDED.state, expires = EXCLUDED.expires, \
             circuit_id = EXCLUDED.circuit_id, remote_id = EXCLUDED.remote_id, \
             updated = EXCLUDED.updated",
            lease,
        )?;
        Ok(())
    }

    fn api_reservation(
        &mut self,
        subnet: &str,
        hwaddr: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError> {
        let mac = crate::lease::mac_text(hwaddr);
        let subnet = subnet.to_owned();
        self.tx.run(move |s| {
            let row = s
                .query_first(
                    "SELECT address, hostname FROM dhcp_reservations WHERE subnet = $1 AND hwaddr = $2",
                    &[&subnet, &mac],
                )
                .map_err(pg("reservation lookup"))?;
            row.map(|r| Ok((unaddr(get(&r, 0)?)?, get(&r, 1)?)))
                .transpose()
        })
    }

    fn api_reserved(&mut self, subnet: &str, address: Ipv4Addr) -> Result<bool, StoreError> {
        Ok(self.count(
            "reservation lookup",
            "SELECT count(*) FROM dhcp_reservations WHERE subnet = $1 AND address = $2",
            params![subnet.to_owned(), addr(address)],
        )? > 0)
    }
}
