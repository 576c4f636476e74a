//! The statements both backends run alike, written once: each names its
//! parameters `{1}`, `{2}`, ..., which become `?1` in [`sqlite`] and `$1` in
//! [`postgres`]. Statements whose SQL really differs between the dialects
//! (upserts, `MAX`/`GREATEST`, casts, locking) stay beside their backend.
//! The column lists come from [`crate::row`], so every statement reads and
//! binds columns in the order the shared row mapping expects.

/// Builds one statement from string pieces, column-list macros (`name!()`)
/// and `{N}` for the N-th parameter, written `"?N"` or `"$N"` as the
/// placeholder `$p` says.
macro_rules! sql {
    ($p:literal; $($t:tt)*) => {
        sql!(@ $p [] $($t)*)
    };
    (@ $p:literal [$($out:tt)*] {$n:literal} $($rest:tt)*) => {
        sql!(@ $p [$($out)* $p, $n,] $($rest)*)
    };
    (@ $p:literal [$($out:tt)*] $m:ident ! () $($rest:tt)*) => {
        sql!(@ $p [$($out)* $m!(),] $($rest)*)
    };
    (@ $p:literal [$($out:tt)*] $s:literal $($rest:tt)*) => {
        sql!(@ $p [$($out)* $s,] $($rest)*)
    };
    (@ $p:literal [$($out:tt)*]) => {
        concat!($($out)*)
    };
}

/// The shared statements, with the placeholder `$p` (`"?"` or `"$"`).
macro_rules! statements {
    ($p:literal) => {
        use crate::row::{
            audit_columns, family_columns, lease_columns, lease6_columns, refresh_join,
            reservation_columns, user_columns,
        };
        use crate::signing::signing_key_columns;

        /// Every DHCPv6 binding, by address.
        pub(crate) const LEASES6: &str =
            sql!($p; "SELECT " lease6_columns!() " FROM dhcp6_leases ORDER BY address");
        /// The DHCPv6 binding at address {1}.
        pub(crate) const LEASE6_AT: &str =
            sql!($p; "SELECT " lease6_columns!() " FROM dhcp6_leases WHERE address = " {1});
        /// The highest DHCPv6 address with a row in {1}..={2} (ORDER BY,
        /// not max(): PostgreSQL has no max over bytea).
        pub(crate) const LEASE6_HIGHEST: &str = sql!($p;
            "SELECT address FROM dhcp6_leases WHERE address BETWEEN " {1} " AND " {2}
            " ORDER BY address DESC LIMIT 1");
        /// The DHCPv6 binding in {1}..={2} that expired (at {3} or before) longest ago.
        pub(crate) const LEASE6_OLDEST_EXPIRED: &str = sql!($p;
            "SELECT " lease6_columns!() " FROM dhcp6_leases WHERE expires <= " {3}
            " AND address BETWEEN " {1} " AND " {2} " ORDER BY expires LIMIT 1");
        /// Inserts a binding ([`Lease6Values`](crate::row::Lease6Values)) only
        /// if its address has none.
        pub(crate) const LEASE6_CLAIM: &str = sql!($p;
            "INSERT INTO dhcp6_leases (" lease6_columns!() ", updated) VALUES ("
            {1} ", " {2} ", " {3} ", " {4} ", " {5} ", " {6} ", " {7} ", "
            {8} ", " {9} ", " {10} ", " {11} ", " {12} ", " {13} ", " {14}
            ") ON CONFLICT (address) DO NOTHING");
        /// Inserts or replaces a binding ([`Lease6Values`](crate::row::Lease6Values)).
        pub(crate) const LEASE6_PUT: &str = sql!($p;
            "INSERT INTO dhcp6_leases (" lease6_columns!() ", updated) VALUES ("
            {1} ", " {2} ", " {3} ", " {4} ", " {5} ", " {6} ", " {7} ", "
            {8} ", " {9} ", " {10} ", " {11} ", " {12} ", " {13} ", " {14}
            ") ON CONFLICT (address) DO UPDATE SET plen = excluded.plen, kind = excluded.kind, \
             subnet = excluded.subnet, duid = excluded.duid, iaid = excluded.iaid, \
             hwaddr = excluded.hwaddr, state = excluded.state, preferred = excluded.preferred, \
             expires = excluded.expires, class = excluded.class, remote_id = excluded.remote_id, \
             interface_id = excluded.interface_id, updated = excluded.updated");

        /// Every lease, by address.
        pub(crate) const LEASES: &str =
            sql!($p; "SELECT " lease_columns!() " FROM dhcp_leases ORDER BY address");
        /// The lease of address {1}.
        pub(crate) const LEASE_AT: &str =
            sql!($p; "SELECT " lease_columns!() " FROM dhcp_leases WHERE address = " {1});
        /// The leases of hardware address {1}, newest expiry first.
        pub(crate) const LEASES_OF_HWADDR: &str = sql!($p;
            "SELECT " lease_columns!() " FROM dhcp_leases WHERE hwaddr = " {1}
            " ORDER BY expires DESC");
        /// The highest address with a row in {1}..={2}.
        pub(crate) const HIGHEST_CLAIMED: &str = sql!($p;
            "SELECT max(address) FROM dhcp_leases WHERE address BETWEEN " {1} " AND " {2});
        /// 1 if address {1} has a row, else 0.
        pub(crate) const ADDRESS_TAKEN: &str =
            sql!($p; "SELECT count(*) FROM dhcp_leases WHERE address = " {1});
        /// The first address without a row just above one with a row, in {1}..{2}.
        pub(crate) const FIRST_GAP: &str = sql!($p;
            "SELECT a.address + 1 FROM dhcp_leases a WHERE a.address >= " {1}
            " AND a.address < " {2}
            " AND NOT EXISTS (SELECT 1 FROM dhcp_leases b WHERE b.address = a.address + 1) \
             ORDER BY a.address LIMIT 1");
        /// The lease in {1}..={2} that expired (at {3} or before) longest ago.
        pub(crate) const OLDEST_EXPIRED: &str = sql!($p;
            "SELECT " lease_columns!() " FROM dhcp_leases WHERE expires <= " {3}
            " AND address BETWEEN " {1} " AND " {2} " ORDER BY expires LIMIT 1");
        /// Live leases in subnet {1} with circuit-id {2}, client {3} not
        /// counted, at time {4}.
        pub(crate) const LIVE_BY_CIRCUIT: &str = sql!($p;
            "SELECT count(*) FROM dhcp_leases WHERE subnet = " {1} " AND circuit_id = " {2}
            " AND client_key <> " {3} " AND expires > " {4}
            " AND state IN ('offered', 'bound')");
        /// Live leases in subnet {1} with remote-id {2}, client {3} not
        /// counted, at time {4}.
        pub(crate) const LIVE_BY_REMOTE: &str = sql!($p;
            "SELECT count(*) FROM dhcp_leases WHERE subnet = " {1} " AND remote_id = " {2}
            " AND client_key <> " {3} " AND expires > " {4}
            " AND state IN ('offered', 'bound')");
        /// The API reservation of hardware address {2} in subnet {1}: address, host name.
        pub(crate) const API_RESERVATION: &str = sql!($p;
            "SELECT address, hostname FROM dhcp_reservations WHERE subnet = " {1}
            " AND hwaddr = " {2});
        /// Live clients in subnet {1} behind remote-id {2}, DUID {3} not
        /// counted, at time {4}.
        pub(crate) const LEASE6_CLIENTS_BY_REMOTE: &str = sql!($p;
            "SELECT count(DISTINCT duid) FROM dhcp6_leases WHERE subnet = " {1}
            " AND remote_id = " {2} " AND duid <> " {3} " AND expires > " {4}
            " AND state IN ('offered', 'bound')");
        /// Live clients in subnet {1} behind interface-id {2}, DUID {3} not
        /// counted, at time {4}.
        pub(crate) const LEASE6_CLIENTS_BY_INTERFACE: &str = sql!($p;
            "SELECT count(DISTINCT duid) FROM dhcp6_leases WHERE subnet = " {1}
            " AND interface_id = " {2} " AND duid <> " {3} " AND expires > " {4}
            " AND state IN ('offered', 'bound')");
        /// Every DHCPv6 API reservation.
        pub(crate) const RESERVATIONS6: &str = sql!($p;
            "SELECT subnet, key_kind, key, address, prefix, created FROM dhcp6_reservations \
             ORDER BY subnet, key_kind, key");
        /// The DHCPv6 API reservation in subnet {1} for DUID {2}, else
        /// link-layer address {3}, else remote-id {4} (keys as colon hex).
        pub(crate) const API_RESERVATION6: &str = sql!($p;
            "SELECT subnet, key_kind, key, address, prefix, created FROM dhcp6_reservations \
             WHERE subnet = " {1} " AND ((key_kind = 'duid' AND key = " {2}
            ") OR (key_kind = 'hwaddr' AND key = " {3}
            ") OR (key_kind = 'remote_id' AND key = " {4}
            ")) ORDER BY CASE key_kind WHEN 'duid' THEN 0 WHEN 'hwaddr' THEN 1 ELSE 2 END LIMIT 1");
        /// 1 or more if a DHCPv6 API reservation in subnet {1} holds address
        /// {2} or prefix {3} (as text).
        pub(crate) const API_RESERVED6: &str = sql!($p;
            "SELECT count(*) FROM dhcp6_reservations WHERE subnet = " {1}
            " AND (address = " {2} " OR prefix = " {3} ")");
        /// The subnet of a DHCPv6 reservation holding address {1} or prefix
        /// {2} for another client than (subnet {3}, kind {4}, key {5}).
        pub(crate) const RESERVATION6_TAKEN: &str = sql!($p;
            "SELECT subnet FROM dhcp6_reservations WHERE (address = " {1} " OR prefix = " {2}
            ") AND NOT (subnet = " {3} " AND key_kind = " {4} " AND key = " {5} ") LIMIT 1");
        /// Removes the DHCPv6 reservation (subnet {1}, kind {2}, key {3}).
        pub(crate) const RESERVATION6_DELETE: &str = sql!($p;
            "DELETE FROM dhcp6_reservations WHERE subnet = " {1} " AND key_kind = " {2}
            " AND key = " {3});
        /// Writes a DHCPv6 reservation (subnet, kind, key, address, prefix, created).
        pub(crate) const RESERVATION6_PUT: &str = sql!($p;
            "INSERT INTO dhcp6_reservations (subnet, key_kind, key, address, prefix, created) \
             VALUES (" {1} ", " {2} ", " {3} ", " {4} ", " {5} ", " {6}
            ") ON CONFLICT (subnet, key_kind, key) DO UPDATE SET address = excluded.address, \
             prefix = excluded.prefix, created = excluded.created");
        /// 1 if an API reservation in subnet {1} holds address {2}, else 0.
        pub(crate) const API_RESERVED: &str = sql!($p;
            "SELECT count(*) FROM dhcp_reservations WHERE subnet = " {1} " AND address = " {2});

        /// The user named {1}.
        pub(crate) const USER: &str =
            sql!($p; "SELECT " user_columns!() " FROM auth_users WHERE username = " {1});
        /// Every user, by name.
        pub(crate) const USERS: &str =
            sql!($p; "SELECT " user_columns!() " FROM auth_users ORDER BY username");
        /// New password hash {2} for user {1}, tokens before {3} refused, lockout cleared.
        pub(crate) const USER_SET_PASSWORD: &str = sql!($p;
            "UPDATE auth_users SET phc = " {2} ", not_before = " {3}
            ", failures = 0, locked_until = 0 WHERE username = " {1});
        /// New role {2} for user {1}; access tokens issued before {3} refused
        /// (they carry the old role).
        pub(crate) const USER_SET_ROLE: &str = sql!($p;
            "UPDATE auth_users SET role = " {2} ", not_before = " {3} " WHERE username = " {1});
        /// Clears the failures and lockout of user {1}.
        pub(crate) const USER_UNLOCK: &str = sql!($p;
            "UPDATE auth_users SET failures = 0, locked_until = 0 WHERE username = " {1});
        /// Counts a failed login of user {1}; answers the new count.
        pub(crate) const USER_FAILURE: &str = sql!($p;
            "UPDATE auth_users SET failures = failures + 1 WHERE username = " {1}
            " RETURNING failures");

        /// Inserts a new family ([`FamilyValues`](crate::row::FamilyValues)), not revoked.
        pub(crate) const FAMILY_START: &str = sql!($p;
            "INSERT INTO auth_families (" family_columns!() ") VALUES ("
            {1} ", " {2} ", " {3} ", " {4} ", " {5} ", " {6} ", NULL, NULL)");
        /// Inserts unspent refresh token {1} of family {2}, issued at {3}.
        pub(crate) const REFRESH_INSERT: &str = sql!($p;
            "INSERT INTO auth_refresh_tokens (hash, family, issued, used) VALUES ("
            {1} ", " {2} ", " {3} ", NULL)");
        /// The refresh token with hash {1}, with its family.
        pub(crate) const REFRESH_LOOKUP: &str = sql!($p; refresh_join!() " WHERE t.hash = " {1});
        /// Marks family {1} used at {2}.
        pub(crate) const FAMILY_TOUCH: &str =
            sql!($p; "UPDATE auth_families SET last_used = " {2} " WHERE id = " {1});
        /// Revokes family {1} at {2} for reason {3}, unless already revoked.
        pub(crate) const FAMILY_REVOKE: &str = sql!($p;
            "UPDATE auth_families SET revoked = " {2} ", revoke_reason = " {3}
            " WHERE id = " {1} " AND revoked IS NULL");
        /// The family with id {1}.
        pub(crate) const FAMILY: &str =
            sql!($p; "SELECT " family_columns!() " FROM auth_families WHERE id = " {1});

        /// Appends an audit entry ([`AuditValues`](crate::row::AuditValues)).
        pub(crate) const AUDIT_APPEND: &str = sql!($p;
            "INSERT INTO audit_log (" audit_columns!() ") VALUES ("
            {1} ", " {2} ", " {3} ", " {4} ", " {5} ", " {6} ", " {7} ")");
        /// The newest {1} audit entries, newest first.
        pub(crate) const AUDIT: &str = sql!($p;
            "SELECT id, " audit_columns!() " FROM audit_log ORDER BY id DESC LIMIT " {1});

        /// The client of subnet {1} other than {3} that reserves address {2}.
        pub(crate) const RESERVATION_TAKEN: &str = sql!($p;
            "SELECT hwaddr FROM dhcp_reservations WHERE subnet = " {1} " AND address = " {2}
            " AND hwaddr <> " {3});
        /// Every reservation, by subnet and address.
        pub(crate) const RESERVATIONS: &str = sql!($p;
            "SELECT " reservation_columns!() " FROM dhcp_reservations ORDER BY subnet, address");
        /// A row if hardware address {2} has a reservation in subnet {1}.
        pub(crate) const RESERVATION_EXISTS: &str = sql!($p;
            "SELECT 1 FROM dhcp_reservations WHERE subnet = " {1} " AND hwaddr = " {2});
        /// The attributes of the reservation of hardware address {2} in
        /// subnet {1}: name, value, by name.
        pub(crate) const ATTRIBUTES: &str = sql!($p;
            "SELECT name, value FROM dhcp_reservation_attributes WHERE subnet = " {1}
            " AND hwaddr = " {2} " ORDER BY name");
        /// Removes every attribute of the reservation {1}, {2}.
        pub(crate) const ATTRIBUTES_CLEAR: &str = sql!($p;
            "DELETE FROM dhcp_reservation_attributes WHERE subnet = " {1} " AND hwaddr = " {2});
        /// Removes attribute {3} of the reservation {1}, {2}.
        pub(crate) const ATTRIBUTE_DELETE: &str = sql!($p;
            "DELETE FROM dhcp_reservation_attributes WHERE subnet = " {1} " AND hwaddr = " {2}
            " AND name = " {3});
        /// Sets attribute {3} of the reservation {1}, {2} to {4}.
        pub(crate) const ATTRIBUTE_SET: &str = sql!($p;
            "INSERT INTO dhcp_reservation_attributes (subnet, hwaddr, name, value) VALUES ("
            {1} ", " {2} ", " {3} ", " {4}
            ") ON CONFLICT (subnet, hwaddr, name) DO UPDATE SET value = excluded.value");
        /// Every signing key, oldest first.
        pub(crate) const SIGNING_KEYS: &str = sql!($p;
            "SELECT " signing_key_columns!() " FROM auth_signing_keys ORDER BY signs_from");
        /// Adds signing key {1}..{5} unless its kid or instant is taken.
        pub(crate) const SIGNING_KEY_INSERT: &str = sql!($p;
            "INSERT INTO auth_signing_keys (" signing_key_columns!() ") VALUES ("
            {1} ", " {2} ", " {3} ", " {4} ", " {5} ") ON CONFLICT DO NOTHING");
        /// Deletes signing key {1}.
        pub(crate) const SIGNING_KEY_DELETE: &str = sql!($p;
            "DELETE FROM auth_signing_keys WHERE kid = " {1});
        /// Retention: the refresh tokens of families expired or revoked before {1}.
        pub(crate) const PURGE_REFRESH: &str = sql!($p;
            "DELETE FROM auth_refresh_tokens WHERE family IN (SELECT id FROM auth_families \
             WHERE expires < " {1} " OR (revoked IS NOT NULL AND revoked < " {1} "))");
        /// Retention: families expired or revoked before {1}.
        pub(crate) const PURGE_FAMILIES: &str = sql!($p;
            "DELETE FROM auth_families WHERE expires < " {1}
            " OR (revoked IS NOT NULL AND revoked < " {1} ")");
        /// Retention: audit entries older than {1}.
        pub(crate) const PURGE_AUDIT: &str = sql!($p; "DELETE FROM audit_log WHERE at < " {1});
        /// Retention: API keys revoked or expired before {1}.
        pub(crate) const PURGE_API_KEYS: &str = sql!($p;
            "DELETE FROM auth_api_keys WHERE (revoked IS NOT NULL AND revoked < " {1}
            ") OR (expires IS NOT NULL AND expires < " {1} ")");
        /// Retention: previous secrets of rotated keys whose grace ended before {1}.
        pub(crate) const PURGE_API_KEY_PREV: &str = sql!($p;
            "UPDATE auth_api_keys SET prev_hash = NULL, prev_until = NULL \
             WHERE prev_until IS NOT NULL AND prev_until < " {1});
        /// Removes the reservation of hardware address {2} in subnet {1}.
        pub(crate) const RESERVATION_DELETE: &str = sql!($p;
            "DELETE FROM dhcp_reservations WHERE subnet = " {1} " AND hwaddr = " {2});
    };
}

/// The shared statements with SQLite's `?N` parameters.
pub(crate) mod sqlite {
    statements!("?");

    // Only SQLite runs this; PostgreSQL writes rows by the batch (see
    // `postgres::lease`). SQLite's client lookups are in sqlite/lease.rs:
    // they pick the newest row themselves, sparing a temporary b-tree.

    /// Inserts a lease row ([`LeaseValues`](crate::row::LeaseValues))
    /// only if its address has none.
    pub(crate) const CLAIM: &str = sql!("?";
        "INSERT INTO dhcp_leases (" lease_columns!() ", updated) VALUES ("
        {1} ", " {2} ", " {3} ", " {4} ", " {5} ", " {6} ", "
        {7} ", " {8} ", " {9} ", " {10} ", " {11} ", " {12} ", " {13}
        ") ON CONFLICT (address) DO NOTHING");
}

/// The shared statements with PostgreSQL's `$N` parameters.
pub(crate) mod postgres {
    statements!("$");

    // The DHCPv6 client lookup sorts in SQL here; SQLite picks the newest
    // row itself (sqlite/lease.rs), which spares it a temporary b-tree.
    /// The newest binding of subnet {1}, kind {2}, DUID {3}, IAID {4},
    /// declined ones excepted.
    pub(crate) const LEASE6_BY_CLIENT: &str = sql!("$";
        "SELECT " lease6_columns!() " FROM dhcp6_leases WHERE duid = " {3}
        " AND iaid = " {4} " AND kind = " {2} " AND subnet = " {1}
        " AND state <> 'declined' ORDER BY updated DESC, expires DESC LIMIT 1");

    /// The lease search's condition: each of $1 address, $2 hwaddr, $3
    /// host-name pattern (`%part%`, `\` escapes), $4 circuit-id, $5
    /// subnet, $6 state applies unless NULL (typed, so a NULL is accepted).
    macro_rules! lease_search {
        () => {
            " WHERE ($1::bigint IS NULL OR address = $1::bigint) \
             AND ($2::bytea IS NULL OR hwaddr = $2::bytea) \
             AND ($3::text IS NULL OR lower(hostname) LIKE lower($3::text) ESCAPE '\\') \
             AND ($4::bytea IS NULL OR circuit_id = $4::bytea) \
             AND ($5::text IS NULL OR subnet = $5::text) \
             AND ($6::text IS NULL OR state = $6::text)"
        };
    }

    /// How many leases pass the search ($1..$6, see `lease_search`).
    pub(crate) const LEASE_SEARCH_COUNT: &str =
        concat!("SELECT count(*) FROM dhcp_leases", lease_search!());
    /// One page of the leases that pass the search: $7 rows from row $8.
    pub(crate) const LEASE_SEARCH_PAGE: &str = concat!(
        "SELECT ",
        crate::row::lease_columns!(),
        " FROM dhcp_leases",
        lease_search!(),
        " ORDER BY address LIMIT $7 OFFSET $8"
    );
    /// Lease rows by subnet and state: all, and those live after $1.
    pub(crate) const LEASE_COUNTS: &str = "SELECT subnet, state, \
         count(*) FILTER (WHERE expires > $1), count(*) FROM dhcp_leases \
         GROUP BY subnet, state ORDER BY subnet, state";
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_follow_each_dialect() {
        assert_eq!(
            super::sqlite::USER_UNLOCK,
            "UPDATE auth_users SET failures = 0, locked_until = 0 WHERE username = ?1"
        );
        assert_eq!(
            super::postgres::OLDEST_EXPIRED,
            "SELECT address, subnet, client_key, hwaddr, client_id, hostname, state, expires, \
             circuit_id, remote_id, class, server FROM dhcp_leases WHERE expires <= $3 \
             AND address BETWEEN $1 AND $2 ORDER BY expires LIMIT 1"
        );
        assert!(
            super::sqlite::CLAIM
                .contains("(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")
        );
    }
}
