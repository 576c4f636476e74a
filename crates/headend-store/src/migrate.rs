//! The schema ladder: numbered migrations applied in order, each once.
//!
//! To extend the schema (users, refresh-token families, API tokens, the audit
//! log...), append a [`Migration`] with the next version number to
//! [`SQLITE_MIGRATIONS`]; never edit or reorder one that has shipped. The
//! version reached is kept in SQLite's `PRAGMA user_version`, and every
//! migration runs in its own transaction together with the version bump, so a
//! failure leaves the file at the previous version. The PostgreSQL backend
//! keeps a parallel list, [`POSTGRES_MIGRATIONS`], with the same version
//! numbers; append to both.

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
}, Migration {
    version: 2,
    name: "admin auth, audit log, reservations",
    sql: "
        CREATE TABLE auth_users (
            username     TEXT    PRIMARY KEY,
            phc          TEXT    NOT NULL,          -- Argon2id PHC string
            role         TEXT    NOT NULL,          -- viewer | operator | admin
            disabled     INTEGER NOT NULL DEFAULT 0,
            failures     INTEGER NOT NULL DEFAULT 0,
            locked_until INTEGER NOT NULL DEFAULT 0, -- unix seconds
            last_login   INTEGER,
            not_before   INTEGER NOT NULL DEFAULT 0, -- access tokens issued before are dead
            created      INTEGER NOT NULL
        );
        CREATE TABLE auth_families (
            id            TEXT    PRIMARY KEY,
            username      TEXT    NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
            created       INTEGER NOT NULL,
            expires       INTEGER NOT NULL,         -- absolute, from the login
            last_used     INTEGER NOT NULL,
            source        TEXT,
            revoked       INTEGER,
            revoke_reason TEXT
        );
        CREATE INDEX auth_families_user ON auth_families (username);
        CREATE INDEX auth_families_revoked ON auth_families (revoked) WHERE revoked IS NOT NULL;
        CREATE TABLE auth_refresh_tokens (
            hash   BLOB    PRIMARY KEY,             -- SHA-256 of the token, never the token
            family TEXT    NOT NULL REFERENCES auth_families (id) ON DELETE CASCADE,
            issued INTEGER NOT NULL,
            used   INTEGER                          -- set when rotated
        );
        CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family);
        CREATE TABLE audit_log (
            id     INTEGER PRIMARY KEY AUTOINCREMENT,
            at     INTEGER NOT NULL,
            actor  TEXT    NOT NULL,
            source TEXT,
            action TEXT    NOT NULL,
            target TEXT,
            result TEXT    NOT NULL,
            detail TEXT
        );
        CREATE TABLE dhcp_reservations (
            subnet   TEXT    NOT NULL,
            hwaddr   TEXT    NOT NULL,              -- aa:bb:cc:dd:ee:ff
            address  INTEGER NOT NULL,              -- IPv4 as a 32-bit number
            hostname TEXT,
            created  INTEGER NOT NULL,
            PRIMARY KEY (subnet, hwaddr)
        );
        CREATE INDEX dhcp_reservations_address ON dhcp_reservations (subnet, address);
    ",
}, Migration {
    version: 3,
    name: "lease lookup by hardware address",
    sql: "
        CREATE INDEX dhcp_leases_hwaddr ON dhcp_leases (hwaddr);
    ",
}, Migration {
    version: 4,
    name: "user names case-folded",
    // User names are matched case-insensitively: existing names are folded
    // to lower case and the unique constraint is on the folded form. Where
    // two names fold to the same one (`ADMIN` and `admin`), the one already
    // in lower case (else the oldest) keeps it; the others are renamed
    // `NAME.dupN` and disabled for an admin to sort out. Sessions of renamed
    // users end (their refresh tokens name the old spelling).
    sql: "
        CREATE TEMP TABLE auth_fold AS
            SELECT username AS old, lower(username) AS folded,
                   ROW_NUMBER() OVER (PARTITION BY lower(username)
                                      ORDER BY (username = lower(username)) DESC, created, username) AS n
            FROM auth_users;
        DELETE FROM auth_families
            WHERE username IN (SELECT old FROM auth_fold WHERE old <> folded OR n > 1);
        UPDATE auth_users
            SET username = (SELECT CASE WHEN n = 1 THEN folded ELSE folded || '.dup' || n END
                            FROM auth_fold WHERE old = auth_users.username),
                disabled = (SELECT CASE WHEN n = 1 THEN auth_users.disabled ELSE 1 END
                            FROM auth_fold WHERE old = auth_users.username)
            WHERE username IN (SELECT old FROM auth_fold WHERE old <> folded OR n > 1);
        DROP TABLE auth_fold;
        CREATE UNIQUE INDEX auth_users_folded ON auth_users (lower(username));
    ",
}, Migration {
    version: 5,
    name: "the DHCP class a lease matched",
    sql: "
        ALTER TABLE dhcp_leases ADD COLUMN class TEXT;
    ",
}, Migration {
    version: 6,
    name: "reservation attributes",
    sql: "
        CREATE TABLE dhcp_reservation_attributes (
            subnet TEXT NOT NULL,
            hwaddr TEXT NOT NULL,                   -- as in dhcp_reservations
            name   TEXT NOT NULL,
            value  TEXT NOT NULL,
            PRIMARY KEY (subnet, hwaddr, name)
        );
    ",
}, Migration {
    version: 7,
    name: "lease server and server heartbeats (shared DHCP)",
    sql: "
        ALTER TABLE dhcp_leases ADD COLUMN server INTEGER;  -- option 54 of the server that wrote it
        CREATE TABLE dhcp_servers (
            name         TEXT    PRIMARY KEY,       -- [dhcp.ha] this_server
            heartbeat_ms INTEGER NOT NULL           -- the store's clock, unix milliseconds
        );
    ",
}, Migration {
    version: 8,
    name: "api keys and user scopes",
    sql: "
        CREATE TABLE auth_api_keys (
            prefix     TEXT    PRIMARY KEY,         -- hk_ + 16 hex digits, public
            name       TEXT    NOT NULL UNIQUE,
            role       TEXT    NOT NULL,            -- viewer | operator | admin
            scopes     TEXT    NOT NULL DEFAULT '', -- space-separated zone:/subnet: scopes
            allow      TEXT    NOT NULL DEFAULT '', -- space-separated source prefixes
            hash       BLOB    NOT NULL,            -- keyed SHA-256 of the secret, never the secret
            prev_hash  BLOB,                        -- the secret a rotation replaced
            prev_until INTEGER,                     -- ... valid until then
            rate       INTEGER,                     -- requests per second, NULL: server default
            created    INTEGER NOT NULL,
            created_by TEXT    NOT NULL,
            expires    INTEGER,
            last_used  INTEGER,
            revoked    INTEGER
        );
        ALTER TABLE auth_users ADD COLUMN scopes TEXT NOT NULL DEFAULT ''; -- space-separated
    ",
}, Migration {
    version: 9,
    name: "dhcpv6 bindings (IA_NA, IA_PD)",
    sql: "
        CREATE TABLE dhcp6_leases (
            address      BLOB    PRIMARY KEY,   -- 16 bytes: the address, or the first address of the prefix
            plen         INTEGER NOT NULL,      -- 128 for an address, else the prefix length
            kind         TEXT    NOT NULL,      -- na | pd
            subnet       TEXT    NOT NULL,
            duid         BLOB    NOT NULL,
            iaid         INTEGER NOT NULL,
            hwaddr       BLOB,
            state        TEXT    NOT NULL,      -- offered | bound | released | declined
            preferred    INTEGER NOT NULL,      -- unix seconds
            expires      INTEGER NOT NULL,      -- unix seconds
            class        TEXT,
            remote_id    BLOB,
            interface_id BLOB,
            updated      INTEGER NOT NULL
        );
        CREATE INDEX dhcp6_leases_client  ON dhcp6_leases (duid, iaid, kind, subnet);
        CREATE INDEX dhcp6_leases_expires ON dhcp6_leases (expires);
    ",
}, Migration {
    version: 10,
    name: "jwt signing keys (sealed) and retention indexes",
    sql: "
        CREATE TABLE auth_signing_keys (
            kid        TEXT    PRIMARY KEY,         -- public: derived from the public key
            sealed     BLOB    NOT NULL,            -- PKCS#8 sealed with the KEK (AES-256-GCM), never plain
            kek_id     TEXT    NOT NULL,            -- which KEK sealed it (public id)
            signs_from INTEGER NOT NULL UNIQUE,     -- unix seconds it starts signing; one key per instant
            created    INTEGER NOT NULL
        );
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE INDEX auth_families_expires ON auth_families (expires);
    ",
}, Migration {
    version: 11,
    name: "second factor (TOTP) and recovery codes",
    sql: "
        CREATE TABLE auth_mfa (
            username  TEXT    PRIMARY KEY REFERENCES auth_users (username) ON DELETE CASCADE,
            secret    BLOB    NOT NULL,             -- the TOTP seed sealed with the KEK, never in clear
            confirmed INTEGER,                      -- unix seconds of the first good code; NULL while enrolling
            last_step INTEGER NOT NULL DEFAULT 0,   -- newest 30 s step accepted: it and older ones are replays
            created   INTEGER NOT NULL
        );
        CREATE TABLE auth_recovery_codes (
            username TEXT    NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
            hash     BLOB    NOT NULL,              -- SHA-256 of user name and code, never the code
            used     INTEGER,                       -- unix seconds it was spent
            PRIMARY KEY (username, hash)
        );
        CREATE TABLE auth_deleted_users (           -- so every server drops their live tokens
            username TEXT    NOT NULL,
            at       INTEGER NOT NULL               -- unix seconds of the deletion
        );
        CREATE INDEX auth_deleted_users_at ON auth_deleted_users (at);
    ",
}, Migration {
    version: 12,
    name: "dhcpv6 reservations from the admin API, relay id indexes",
    sql: "
        CREATE TABLE dhcp6_reservations (
            subnet   TEXT    NOT NULL,
            key_kind TEXT    NOT NULL,          -- duid | hwaddr | remote_id
            key      TEXT    NOT NULL,          -- lower-case hex octets joined by colons
            address  TEXT,                      -- IA_NA address, canonical text
            prefix   TEXT,                      -- IA_PD prefix, canonical address/len
            created  INTEGER NOT NULL,
            PRIMARY KEY (subnet, key_kind, key)
        );
        CREATE UNIQUE INDEX dhcp6_reservations_address ON dhcp6_reservations (address) WHERE address IS NOT NULL;
        CREATE UNIQUE INDEX dhcp6_reservations_prefix  ON dhcp6_reservations (prefix)  WHERE prefix IS NOT NULL;
        CREATE INDEX dhcp6_leases_remote    ON dhcp6_leases (subnet, remote_id)    WHERE remote_id IS NOT NULL;
        CREATE INDEX dhcp6_leases_interface ON dhcp6_leases (subnet, interface_id) WHERE interface_id IS NOT NULL;
    ",
}, Migration {
    version: 13,
    name: "single sign-on sessions' provider tokens",
    sql: "
        CREATE TABLE auth_sso_sessions (           -- one row per single sign-on session
            family  TEXT    PRIMARY KEY REFERENCES auth_families (id) ON DELETE CASCADE,
            sealed  BLOB    NOT NULL,               -- the provider's tokens sealed with the KEK, never in clear
            kek_id  TEXT    NOT NULL,               -- the KEK that sealed them
            checked INTEGER NOT NULL,               -- unix seconds the provider last confirmed the user
            started INTEGER NOT NULL                -- unix seconds of the login
        );
    ",
}, Migration {
    version: 14,
    name: "sync marks (written by PostgreSQL's sync only)",
    sql: "
        CREATE TABLE store_sync (                  -- one row per database connection that synced
            pid INTEGER PRIMARY KEY,
            n   INTEGER NOT NULL
        );
    ",
}];

/// The PostgreSQL schema ladder, oldest first: the same versions and tables
/// as [`SQLITE_MIGRATIONS`] in PostgreSQL's dialect (BYTEA for blobs, BIGINT
/// for unix times and IPv4 addresses, BOOLEAN for flags). Keys that are
/// listed in order use the "C" collation, so they sort bytewise as in
/// SQLite. The version reached is kept in the table `headend_schema`.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "dhcp leases",
        sql: r#"
        CREATE TABLE dhcp_leases (
            address    BIGINT PRIMARY KEY CHECK (address BETWEEN 0 AND 4294967295), -- IPv4 as a number
            subnet     TEXT COLLATE "C" NOT NULL,
            client_key BYTEA  NOT NULL,     -- option 61, else htype + chaddr
            hwaddr     BYTEA  NOT NULL,
            client_id  BYTEA,
            hostname   TEXT,
            state      TEXT   NOT NULL,     -- offered | bound | released | declined
            expires    BIGINT NOT NULL,     -- unix seconds
            circuit_id BYTEA,
            remote_id  BYTEA,
            updated    BIGINT NOT NULL      -- unix seconds of the last write
        );
        CREATE INDEX dhcp_leases_client  ON dhcp_leases (client_key, subnet);
        CREATE INDEX dhcp_leases_expires ON dhcp_leases (expires);
        CREATE INDEX dhcp_leases_circuit ON dhcp_leases (subnet, circuit_id) WHERE circuit_id IS NOT NULL;
        CREATE INDEX dhcp_leases_remote  ON dhcp_leases (subnet, remote_id) WHERE remote_id IS NOT NULL;
    "#,
    },
    Migration {
        version: 2,
        name: "admin auth, audit log, reservations",
        sql: r#"
        CREATE TABLE auth_users (
            username     TEXT COLLATE "C" PRIMARY KEY,
            phc          TEXT    NOT NULL,          -- Argon2id PHC string
            role         TEXT    NOT NULL,          -- viewer | operator | admin
            disabled     BOOLEAN NOT NULL DEFAULT FALSE,
            failures     BIGINT  NOT NULL DEFAULT 0,
            locked_until BIGINT  NOT NULL DEFAULT 0, -- unix seconds
            last_login   BIGINT,
            not_before   BIGINT  NOT NULL DEFAULT 0, -- access tokens issued before are dead
            created      BIGINT  NOT NULL
        );
        CREATE TABLE auth_families (
            id            TEXT COLLATE "C" PRIMARY KEY,
            username      TEXT COLLATE "C" NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
            created       BIGINT NOT NULL,
            expires       BIGINT NOT NULL,          -- absolute, from the login
            last_used     BIGINT NOT NULL,
            source        TEXT,
            revoked       BIGINT,
            revoke_reason TEXT
        );
        CREATE INDEX auth_families_user ON auth_families (username);
        CREATE INDEX auth_families_revoked ON auth_families (revoked) WHERE revoked IS NOT NULL;
        CREATE TABLE auth_refresh_tokens (
            hash   BYTEA  PRIMARY KEY,              -- SHA-256 of the token, never the token
            family TEXT COLLATE "C" NOT NULL REFERENCES auth_families (id) ON DELETE CASCADE,
            issued BIGINT NOT NULL,
            used   BIGINT                           -- set when rotated
        );
        CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family);
        CREATE TABLE audit_log (
            id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at     BIGINT NOT NULL,
            actor  TEXT   NOT NULL,
            source TEXT,
            action TEXT   NOT NULL,
            target TEXT,
            result TEXT   NOT NULL,
            detail TEXT
        );
        CREATE TABLE dhcp_reservations (
            subnet   TEXT COLLATE "C" NOT NULL,
            hwaddr   TEXT COLLATE "C" NOT NULL,     -- aa:bb:cc:dd:ee:ff
            address  BIGINT NOT NULL,               -- IPv4 as a number
            hostname TEXT,
            created  BIGINT NOT NULL,
            PRIMARY KEY (subnet, hwaddr)
        );
        CREATE INDEX dhcp_reservations_address ON dhcp_reservations (subnet, address);
    "#,
    },
    Migration {
        version: 3,
        name: "lease lookup by hardware address",
        sql: "
        CREATE INDEX dhcp_leases_hwaddr ON dhcp_leases (hwaddr);
    ",
    },
    Migration {
        version: 4,
        name: "user names case-folded",
        sql: r#"
        CREATE TEMP TABLE auth_fold AS
            SELECT username AS old, lower(username) AS folded,
                   ROW_NUMBER() OVER (PARTITION BY lower(username)
                                      ORDER BY (username = lower(username)) DESC, created, username) AS n
            FROM auth_users;
        DELETE FROM auth_families
            WHERE username IN (SELECT old FROM auth_fold WHERE old <> folded OR n > 1);
        UPDATE auth_users
            SET username = CASE WHEN f.n = 1 THEN f.folded ELSE f.folded || '.dup' || f.n END,
                disabled = CASE WHEN f.n = 1 THEN auth_users.disabled ELSE TRUE END
            FROM auth_fold f
            WHERE f.old = auth_users.username AND (f.old <> f.folded OR f.n > 1);
        DROP TABLE auth_fold;
        CREATE UNIQUE INDEX auth_users_folded ON auth_users (lower(username));
        "#,
    },
    Migration {
        version: 5,
        name: "the DHCP class a lease matched",
        sql: "
        ALTER TABLE dhcp_leases ADD COLUMN class TEXT;
    ",
    },
    Migration {
        version: 6,
        name: "reservation attributes",
        sql: r#"
        CREATE TABLE dhcp_reservation_attributes (
            subnet TEXT COLLATE "C" NOT NULL,
            hwaddr TEXT COLLATE "C" NOT NULL,       -- as in dhcp_reservations
            name   TEXT COLLATE "C" NOT NULL,
            value  TEXT NOT NULL,
            PRIMARY KEY (subnet, hwaddr, name)
        );
    "#,
    },
    Migration {
        version: 7,
        name: "lease server and server heartbeats (shared DHCP)",
        sql: r#"
        ALTER TABLE dhcp_leases ADD COLUMN server BIGINT;   -- option 54 of the server that wrote it
        CREATE TABLE dhcp_servers (
            name         TEXT COLLATE "C" PRIMARY KEY, -- [dhcp.ha] this_server
            heartbeat_ms BIGINT NOT NULL               -- the database's clock, unix milliseconds
        );
    "#,
    },
    Migration {
        version: 8,
        name: "api keys and user scopes",
        sql: r#"
        CREATE TABLE auth_api_keys (
            prefix     TEXT COLLATE "C" PRIMARY KEY, -- hk_ + 16 hex digits, public
            name       TEXT COLLATE "C" NOT NULL UNIQUE,
            role       TEXT   NOT NULL,             -- viewer | operator | admin
            scopes     TEXT   NOT NULL DEFAULT '',  -- space-separated zone:/subnet: scopes
            allow      TEXT   NOT NULL DEFAULT '',  -- space-separated source prefixes
            hash       BYTEA  NOT NULL,             -- keyed SHA-256 of the secret, never the secret
            prev_hash  BYTEA,                       -- the secret a rotation replaced
            prev_until BIGINT,                      -- ... valid until then
            rate       BIGINT,                      -- requests per second, NULL: server default
            created    BIGINT NOT NULL,
            created_by TEXT   NOT NULL,
            expires    BIGINT,
            last_used  BIGINT,
            revoked    BIGINT
        );
        ALTER TABLE auth_users ADD COLUMN scopes TEXT NOT NULL DEFAULT ''; -- space-separated
    "#,
    },
    Migration {
        version: 9,
        name: "dhcpv6 bindings (IA_NA, IA_PD)",
        sql: r#"
        CREATE TABLE dhcp6_leases (
            address      BYTEA  PRIMARY KEY CHECK (length(address) = 16),
            plen         BIGINT NOT NULL,
            kind         TEXT   NOT NULL,      -- na | pd
            subnet       TEXT COLLATE "C" NOT NULL,
            duid         BYTEA  NOT NULL,
            iaid         BIGINT NOT NULL,
            hwaddr       BYTEA,
            state        TEXT   NOT NULL,      -- offered | bound | released | declined
            preferred    BIGINT NOT NULL,      -- unix seconds
            expires      BIGINT NOT NULL,      -- unix seconds
            class        TEXT,
            remote_id    BYTEA,
            interface_id BYTEA,
            updated      BIGINT NOT NULL
        );
        CREATE INDEX dhcp6_leases_client  ON dhcp6_leases (duid, iaid, kind, subnet);
        CREATE INDEX dhcp6_leases_expires ON dhcp6_leases (expires);
    "#,
    },
    Migration {
        version: 10,
        name: "jwt signing keys (sealed) and retention indexes",
        sql: r#"
        CREATE TABLE auth_signing_keys (
            kid        TEXT COLLATE "C" PRIMARY KEY, -- public: derived from the public key
            sealed     BYTEA  NOT NULL,              -- PKCS#8 sealed with the KEK (AES-256-GCM), never plain
            kek_id     TEXT   NOT NULL,              -- which KEK sealed it (public id)
            signs_from BIGINT NOT NULL UNIQUE,       -- unix seconds it starts signing; one key per instant
            created    BIGINT NOT NULL
        );
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE INDEX auth_families_expires ON auth_families (expires);
    "#,
    },
    Migration {
        version: 11,
        name: "second factor (TOTP) and recovery codes",
        sql: r#"
        CREATE TABLE auth_mfa (
            username  TEXT COLLATE "C" PRIMARY KEY REFERENCES auth_users (username) ON DELETE CASCADE,
            secret    BYTEA  NOT NULL,              -- the TOTP seed sealed with the KEK, never in clear
            confirmed BIGINT,                       -- unix seconds of the first good code; NULL while enrolling
            last_step BIGINT NOT NULL DEFAULT 0,    -- newest 30 s step accepted: it and older ones are replays
            created   BIGINT NOT NULL
        );
        CREATE TABLE auth_recovery_codes (
            username TEXT COLLATE "C" NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
            hash     BYTEA  NOT NULL,               -- SHA-256 of user name and code, never the code
            used     BIGINT,                        -- unix seconds it was spent
            PRIMARY KEY (username, hash)
        );
        CREATE TABLE auth_deleted_users (           -- so every server drops their live tokens
            username TEXT COLLATE "C" NOT NULL,
            at       BIGINT NOT NULL                -- unix seconds of the deletion
        );
        CREATE INDEX auth_deleted_users_at ON auth_deleted_users (at);
    "#,
    },
    Migration {
        version: 12,
        name: "dhcpv6 reservations from the admin API, relay id indexes",
        sql: r#"
        CREATE TABLE dhcp6_reservations (
            subnet   TEXT COLLATE "C" NOT NULL,
            key_kind TEXT COLLATE "C" NOT NULL,  -- duid | hwaddr | remote_id
            key      TEXT COLLATE "C" NOT NULL,  -- lower-case hex octets joined by colons
            address  TEXT,                       -- IA_NA address, canonical text
            prefix   TEXT,                       -- IA_PD prefix, canonical address/len
            created  BIGINT NOT NULL,
            PRIMARY KEY (subnet, key_kind, key)
        );
        CREATE UNIQUE INDEX dhcp6_reservations_address ON dhcp6_reservations (address) WHERE address IS NOT NULL;
        CREATE UNIQUE INDEX dhcp6_reservations_prefix  ON dhcp6_reservations (prefix)  WHERE prefix IS NOT NULL;
        CREATE INDEX dhcp6_leases_remote    ON dhcp6_leases (subnet, remote_id)    WHERE remote_id IS NOT NULL;
        CREATE INDEX dhcp6_leases_interface ON dhcp6_leases (subnet, interface_id) WHERE interface_id IS NOT NULL;
    "#,
    },
    Migration {
        version: 13,
        name: "single sign-on sessions' provider tokens",
        sql: r#"
        CREATE TABLE auth_sso_sessions (           -- one row per single sign-on session
            family  TEXT COLLATE "C" PRIMARY KEY REFERENCES auth_families (id) ON DELETE CASCADE,
            sealed  BYTEA  NOT NULL,                -- the provider's tokens sealed with the KEK, never in clear
            kek_id  TEXT   NOT NULL,                -- the KEK that sealed them
            checked BIGINT NOT NULL,                -- unix seconds the provider last confirmed the user
            started BIGINT NOT NULL                 -- unix seconds of the login
        );
    "#,
    },
    Migration {
        version: 14,
        name: "sync marks (written by PostgreSQL's sync only)",
        sql: r#"
        -- Backend::sync writes one row here (its connection's backend pid):
        -- a transaction that wrote WAL commits with a flush, so every
        -- commit before it, synchronous_commit = off ones included, is
        -- durable when it returns. A transaction that wrote nothing would
        -- commit without waiting for the flush.
        CREATE TABLE store_sync (
            pid INTEGER PRIMARY KEY,
            n   BIGINT  NOT NULL
        );
    "#,
    },
];

/// The newest schema version this build knows (both ladders reach it).
pub fn latest_version() -> u32 {
    SQLITE_MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ladders_have_the_same_steps() {
        let steps = |l: &[Migration]| l.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(steps(SQLITE_MIGRATIONS), steps(POSTGRES_MIGRATIONS));
        // Versions are 1, 2, 3, ... with no gap: the runner applies every
        // step above the version found, in order, so a gap left for a step
        // added later would never be applied to a database already past it.
        for (i, m) in SQLITE_MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
    }
}
