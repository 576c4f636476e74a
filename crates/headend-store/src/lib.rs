//! Persistence for headend: DHCP leases, users, refresh-token families, the
//! audit log and the reservations managed through the admin API.
//!
//! The entry point is [`Store`], a cloneable handle over a [`Backend`], opened
//! from the `[store]` section ([`StoreConfig`]) with [`Store::open`]. Two
//! backends: SQLite, the embedded default ([`SqliteBackend`]: one file in the
//! state directory, WAL, `synchronous=FULL`), and PostgreSQL
//! ([`PostgresBackend`]: one database shared by several headend servers, lease
//! transactions at REPEATABLE READ with address-keyed upserts so two servers
//! never hand out one address twice; TLS with a verified server certificate when `tls_ca_file` is set). Writers work inside a [`Transaction`] that implements [`LeaseTx`],
//! so a caller can put many exchanges in one durable commit (group commit).
//! The schema grows through the numbered migrations in [`migrate`], the same
//! numbers for both backends. The backends share their column lists and row
//! mapping (`row`) and every statement the two dialects write alike (`sql`);
//! each keeps only its own connection handling and the SQL that really
//! differs. This crate does not decide anything about DHCP
//! or auth: it stores rows and answers the questions the DHCP core and the
//! admin API's auth core ask.

pub mod apikey;
pub mod auth;
mod config;
mod error;
mod lease;
mod lease6;
pub mod mfa;
pub mod migrate;
mod postgres;
mod row;
pub mod signing;
mod sql;
mod sqlite;
pub mod sso;

use std::path::Path;
use std::sync::Arc;

pub use self::postgres::PostgresBackend;
pub use apikey::{ApiKeyRecord, ApiKeyStore};
pub use auth::AuthStore;
pub use config::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_POOL, PASSWORD_CREDENTIAL, PostgresConfig, StoreConfig,
};
pub use error::StoreError;
pub use lease::{
    Lease, LeaseCount, LeaseFilter, LeasePage, LeaseState, LeaseTx, LiveLease, Released, counts_of,
    page_of,
};
pub use lease6::{Lease6, Lease6Kind, Lease6Tx, Reservation6, Reservation6Key};
pub use mfa::{MfaRecord, MfaStore};
pub use signing::{KeyStore, Purge, Purged, SigningKeyRecord};
pub use sqlite::SqliteBackend;
pub use sso::{SsoRecord, SsoStore};

/// The SQLite database's file name inside the state directory.
pub const SQLITE_FILE: &str = "headend.db";

/// A storage engine: SQLite or PostgreSQL behind one interface.
pub trait Backend:
    AuthStore + ApiKeyStore + KeyStore + MfaStore + SsoStore + Send + Sync + 'static
{
    /// Starts a write transaction; writers are serialised.
    fn begin(&self) -> Result<Box<dyn Transaction + '_>, StoreError>;
    /// Every lease row, ordered by address.
    fn leases(&self) -> Result<Vec<Lease>, StoreError>;
    /// The unexpired lease rows (`expires > now`), ordered by address, in
    /// short form; for statistics read while the server runs. The default
    /// filters [`Backend::leases`]; a backend may read them without
    /// holding up its writers.
    fn live_leases(&self, now: u64) -> Result<Vec<LiveLease>, StoreError> {
        Ok(self
            .leases()?
            .into_iter()
            .filter(|l| l.is_live(now))
            .map(|l| LiveLease {
                address: l.address,
                state: l.state,
                class: l.class,
            })
            .collect())
    }
    /// Every DHCPv6 binding (addresses and delegated prefixes), by address.
    fn leases6(&self) -> Result<Vec<Lease6>, StoreError>;
    /// The lease row of one address, read without taking the write lock.
    fn lease_at(&self, address: std::net::Ipv4Addr) -> Result<Option<Lease>, StoreError>;
    /// The lease rows of one hardware address, newest expiry first.
    fn leases_of_hwaddr(&self, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError>;
    /// A short description for logs, e.g. `sqlite:/var/lib/headend/headend.db`
    /// or `postgres:db.example:5432/headend` (never a password).
    fn describe(&self) -> String;
    /// Starts a write transaction whose commit may return before its writes
    /// are on disk (they are in the log, visible to later transactions, and
    /// survive a crash of this process, but not yet a power loss). Nothing may
    /// act on such a commit outside the store (no ACK leaves) until a later
    /// [`Backend::sync`] has returned. The default is [`Backend::begin`],
    /// whose commit is already durable.
    fn begin_unsynced(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        self.begin()
    }
    /// Makes every transaction committed before this call durable. Needs no
    /// write lock, so the next transaction can run while it waits for the disk.
    /// The default does nothing (for backends whose commits are durable).
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records that the server `name` is alive now, by the store's clock
    /// (the `dhcp_servers` heartbeat row), and answers every recorded
    /// server's name with the milliseconds since its last heartbeat, by
    /// the same clock: hosts with skewed clocks agree on who is alive.
    fn heartbeat(&self, name: &str) -> Result<Vec<(String, u64)>, StoreError>;
    /// One page (`limit` rows from `offset`, by address) of the leases that
    /// pass `filter`, with the number that pass in all. The default filters
    /// [`Backend::leases`]; a backend answers it with one indexed query.
    fn lease_page(
        &self,
        filter: &LeaseFilter,
        offset: u64,
        limit: u32,
    ) -> Result<LeasePage, StoreError> {
        Ok(page_of(self.leases()?, filter, offset, limit))
    }
    /// Lease rows by subnet and state, live at `now` or not. The default
    /// counts [`Backend::leases`].
    fn lease_counts(&self, now: u64) -> Result<Vec<LeaseCount>, StoreError> {
        Ok(counts_of(&self.leases()?, now))
    }
}

/// An open write transaction: [`LeaseTx`] operations plus commit. Dropping it
/// without committing rolls everything back.
pub trait Transaction: LeaseTx + Lease6Tx {
    /// Makes every write of this transaction durable (or fails and keeps none).
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// The store's clock when the transaction began (time since the Unix
    /// epoch), for a store that several hosts share (PostgreSQL's `now()`):
    /// leases are judged live or expired by one clock, not by each host's.
    /// `None`: the store runs on this host, whose clock is the one to use.
    fn clock(&self) -> Option<std::time::Duration> {
        None
    }
}

/// A cloneable handle to headend's store, shared by the services and the admin API.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.describe())
            .finish()
    }
}

impl Store {
    /// Opens the configured backend and migrates it to the current schema:
    /// SQLite at `state_dir/headend.db` (created if missing), or the
    /// PostgreSQL database of `url` (which must exist; its tables are created).
    pub fn open(config: &StoreConfig, state_dir: &Path) -> Result<Self, StoreError> {
        match config {
            StoreConfig::Sqlite => Self::open_sqlite(state_dir.join(SQLITE_FILE)),
            StoreConfig::Postgres(pg) => {
                Ok(Self::from_backend(Arc::new(PostgresBackend::open(pg)?)))
            }
        }
    }

    /// Opens the configured backend without migrating it, for tools that run
    /// beside the server (e.g. `headend leases`); refuses a schema newer than
    /// this build.
    pub fn open_existing(config: &StoreConfig, state_dir: &Path) -> Result<Self, StoreError> {
        match config {
            StoreConfig::Sqlite => Self::open_sqlite_existing(state_dir.join(SQLITE_FILE)),
            StoreConfig::Postgres(pg) => Ok(Self::from_backend(Arc::new(
                PostgresBackend::open_existing(pg)?,
            ))),
        }
    }

    /// Opens or creates the SQLite database at `path` and migrates it to the
    /// current schema.
    pub fn open_sqlite(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self::from_backend(Arc::new(SqliteBackend::open(
            path.as_ref(),
        )?)))
    }

    /// Opens an existing SQLite database without migrating it, e.g. to list
    /// leases while the server runs.
    pub fn open_sqlite_existing(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self::from_backend(Arc::new(SqliteBackend::open_existing(
            path.as_ref(),
        )?)))
    }

    /// Wraps any backend.
    pub fn from_backend(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// Starts a write transaction.
    pub fn begin(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        self.backend.begin()
    }

    /// Starts a write transaction whose commit is durable only once a later
    /// [`Store::sync`] returns (see [`Backend::begin_unsynced`]): lets a caller
    /// decide the next batch while the previous one is being flushed.
    pub fn begin_unsynced(&self) -> Result<Box<dyn Transaction + '_>, StoreError> {
        self.backend.begin_unsynced()
    }

    /// Makes every transaction committed before this call durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.backend.sync()
    }

    /// Records server `name`'s heartbeat and answers every server's age in
    /// milliseconds, by the store's clock (see [`Backend::heartbeat`]).
    pub fn heartbeat(&self, name: &str) -> Result<Vec<(String, u64)>, StoreError> {
        self.backend.heartbeat(name)
    }

    /// Every lease row, ordered by address.
    pub fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.backend.leases()
    }

    /// The unexpired leases at Unix time `now`, ordered by address, in short
    /// form (for pool statistics; SQLite reads them on a connection of
    /// their own, so DHCP commits go on meanwhile).
    pub fn live_leases(&self, now: u64) -> Result<Vec<LiveLease>, StoreError> {
        self.backend.live_leases(now)
    }

    /// Every DHCPv6 binding, ordered by address.
    pub fn leases6(&self) -> Result<Vec<Lease6>, StoreError> {
        self.backend.leases6()
    }

    /// The lease row of one address (for other services, e.g. TFTP templates).
    pub fn lease_at(&self, address: std::net::Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.backend.lease_at(address)
    }

    /// The lease rows of one hardware address, newest expiry first.
    pub fn leases_of_hwaddr(&self, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
        self.backend.leases_of_hwaddr(hwaddr)
    }

    /// One page of the leases that pass `filter` (see [`Backend::lease_page`]).
    pub fn lease_page(
        &self,
        filter: &LeaseFilter,
        offset: u64,
        limit: u32,
    ) -> Result<LeasePage, StoreError> {
        self.backend.lease_page(filter, offset, limit)
    }

    /// Lease rows by subnet and state (see [`Backend::lease_counts`]).
    pub fn lease_counts(&self, now: u64) -> Result<Vec<LeaseCount>, StoreError> {
        self.backend.lease_counts(now)
    }

    /// What this store is, for logs.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Users, sessions, the audit log and reservations (for the admin API).
    pub fn auth(&self) -> &dyn AuthStore {
        &*self.backend
    }

    /// The API keys of machine clients (for the admin API).
    pub fn api_keys(&self) -> &dyn ApiKeyStore {
        &*self.backend
    }

    /// The JWT signing keys and the retention sweep (for the admin API).
    pub fn keys(&self) -> &dyn KeyStore {
        &*self.backend
    }

    /// Second factors: TOTP enrolments and recovery codes (for the admin API).
    pub fn mfa(&self) -> &dyn MfaStore {
        &*self.backend
    }

    /// Single sign-on sessions' sealed provider tokens (for the admin API).
    pub fn sso(&self) -> &dyn SsoStore {
        &*self.backend
    }
}
