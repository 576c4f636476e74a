//! The schema ladder: numbered migrations applied in order, each once.
//!
//! To extend the schema (users, refresh-token families, API tokens, the audit
//! log...), append a [`Migration`] with the next version number to
//! [`SQLITE_MIGRATIONS`]; never edit or reorder one that has shipped. The
//! version reached is kept in SQLite's `PRAGMA user_version`, and every
//! migration runs in its own transaction together with the version bump, so a
//! failure leaves the file at the previous version. A PostgreSQL backend keeps
//! a parallel list with the same version numbers.

/// One step of the schema ladder.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3, ...: the schema version after this step.
    pub version: u32,
    /// A short name for logs and errors.
    pub name: &'static str,
    /// The statements to run (may hold several, separated by `;`).
    pub sql: &'static str,
}

/// The SQLite schema ladder, oldest first.
pub const SQLITE_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "dhcp leases",
    sql: "
        CREATE TABLE dhcp_leases (
            address    INTEGER PRIMARY KEY,  -- IPv4 address as a 32-bit number
            subnet     TEXT    NOT NULL,
            client_key BLOB    NOT NULL,     -- option 61, else htype + chaddr
            hwaddr     BLOB    NOT NULL,
            client_id  BLOB,
            hostname   TEXT,
            state      TEXT    NOT NULL,     -- offered | bound | released | declined
            expires    INTEGER NOT NULL,     -- unix seconds
            circuit_id BLOB,
            remote_id  BLOB,
            updated    INTEGER NOT NULL      -- unix seconds of the last write
        );
        CREATE INDEX dhcp_leases_client  ON dhcp_leases (client_key, subnet);
        CREATE INDEX dhcp_leases_expires ON dhcp_leases (expires);
        CREATE INDEX dhcp_leases_circuit ON dhcp_leases (subnet, circuit_id) WHERE circuit_id IS NOT NULL;
        CREATE INDEX dhcp_leases_remote  ON dhcp_leases (subnet, remote_id) WHERE remote_id IS NOT NULL;
    ",
}];

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    SQLITE_MIGRATIONS.last().map_or(0, |m| m.version)
}
