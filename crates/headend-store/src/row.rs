//! The one mapping between the store's records and table rows, shared by
//! both backends: the column lists, the functions that turn a row's columns
//! into a [`Lease`], a [`UserRecord`], a session ([`FamilyRecord`] and
//! [`RefreshRecord`]), an [`AuditRecord`] or a [`Reservation`], and the
//! values an INSERT binds for each. The SQL around them stays per dialect
//! (`?1` or `$1` placeholders, `INSERT OR IGNORE` or `ON CONFLICT`), and so
//! does the way each backend runs it; the order and meaning of the columns
//! is written here once.
//!
//! Both schemas store times as integer unix seconds and IPv4 addresses as
//! integers (SQLite INTEGER, PostgreSQL BIGINT), so one mapping serves both.

use std::net::Ipv4Addr;

use crate::StoreError;
use crate::auth::{AuditRecord, FamilyRecord, RefreshRecord, Reservation, UserRecord};
use crate::lease::{Lease, LeaseState};
use crate::lease6::{Lease6, Lease6Kind};

/// The columns of `dhcp_leases` that make a [`Lease`], in the order [`lease`]
/// reads them; a write binds `updated` after them ([`LeaseValues`]).
macro_rules! lease_columns {
    () => {
        "address, subnet, client_key, hwaddr, client_id, hostname, state, expires, circuit_id, remote_id, class, server"
    };
}

/// The columns of `auth_users`, in the order [`user`] reads them and
/// [`UserValues`] binds them.
macro_rules! user_columns {
    () => {
        "username, phc, role, disabled, failures, locked_until, last_login, not_before, created"
    };
}

/// The columns of `auth_families`, in the order [`family`] reads them; a new
/// family binds the first six ([`FamilyValues`]) and leaves the revocation
/// NULL.
macro_rules! family_columns {
    () => {
        "id, username, created, expires, last_used, source, revoked, revoke_reason"
    };
}

/// A refresh token joined to its family (`t` and `f`), in the order
/// [`refresh`] then [`family`] read them; the caller adds the `WHERE`.
macro_rules! refresh_join {
    () => {
        "SELECT t.hash, t.family, t.issued, t.used, \
         f.id, f.username, f.created, f.expires, f.last_used, f.source, f.revoked, f.revoke_reason \
         FROM auth_refresh_tokens t JOIN auth_families f ON f.id = t.family"
    };
}

/// The columns of `audit_log` an append binds ([`AuditValues`]); [`audit`]
/// reads `id` before them.
macro_rules! audit_columns {
    () => {
        "at, actor, source, action, target, result, detail"
    };
}

/// The columns of `dhcp_reservations`, in the order [`reservation`] reads
/// them and [`ReservationValues`] binds them.
macro_rules! reservation_columns {
    () => {
        "subnet, hwaddr, address, hostname, created"
    };
}

/// The columns of `dhcp6_leases` that make a [`Lease6`], in the order
/// [`lease6`] reads them; a write binds `updated` after them ([`Lease6Values`]).
macro_rules! lease6_columns {
    () => {
        "address, plen, kind, subnet, duid, iaid, hwaddr, state, preferred, expires, class, remote_id, interface_id"
    };
}

pub(crate) use {
    audit_columns, family_columns, lease_columns, lease6_columns, refresh_join,
    reservation_columns, user_columns,
};

/// A value a column holds, readable from a row of either backend.
pub(crate) trait Column:
    rusqlite::types::FromSql + for<'a> ::postgres::types::FromSql<'a>
{
}

impl<T> Column for T where T: rusqlite::types::FromSql + for<'a> ::postgres::types::FromSql<'a> {}

/// One result row of either backend: its columns by position.
pub(crate) trait Row {
    /// The column at `index`, converted to `T`.
    fn get<T: Column>(&self, index: usize) -> Result<T, StoreError>;
}

/// A value a statement binds, for either backend.
pub(crate) trait Value: rusqlite::ToSql + ::postgres::types::ToSql + Sync {
    /// As a SQLite parameter.
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    /// As a PostgreSQL parameter.
    fn pg(&self) -> &(dyn ::postgres::types::ToSql + Sync);
}

impl<T> Value for T
where
    T: rusqlite::ToSql + ::postgres::types::ToSql + Sync,
{
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }

    fn pg(&self) -> &(dyn ::postgres::types::ToSql + Sync) {
        self
    }
}

/// Unix seconds → the stored integer.
pub(crate) fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The stored integer → unix seconds.
pub(crate) fn unsecs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// An IPv4 address as stored.
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

/// The columns of [`lease_columns!`] → a lease.
pub(crate) fn lease(row: &impl Row) -> Result<Lease, StoreError> {
    Ok(Lease {
        address: unaddr(row.get(0)?)?,
        subnet: row.get(1)?,
        client_key: row.get(2)?,
        hwaddr: row.get(3)?,
        client_id: row.get(4)?,
        hostname: row.get(5)?,
        state: LeaseState::parse(&row.get::<String>(6)?)?,
        expires: unsecs(row.get(7)?),
        circuit_id: row.get(8)?,
        remote_id: row.get(9)?,
        class: row.get(10)?,
        server: row.get::<Option<i64>>(11)?.map(unaddr).transpose()?,
    })
}

/// An IPv6 address as stored: its 16 bytes, which sort as the number.
pub(crate) fn addr6(a: std::net::Ipv6Addr) -> Vec<u8> {
    a.octets().to_vec()
}

/// The columns of [`lease6_columns!`] → a DHCPv6 binding.
pub(crate) fn lease6(row: &impl Row) -> Result<Lease6, StoreError> {
    let bytes: Vec<u8> = row.get(0)?;
    let octets: [u8; 16] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt {
            reason: format!("DHCPv6 binding address of {} bytes", bytes.len()),
        })?;
    Ok(Lease6 {
        address: std::net::Ipv6Addr::from(octets),
        prefix_len: u8::try_from(row.get::<i64>(1)?).unwrap_or(128).min(128),
        kind: Lease6Kind::parse(&row.get::<String>(2)?)?,
        subnet: row.get(3)?,
        duid: row.get(4)?,
        iaid: u32::try_from(row.get::<i64>(5)?).unwrap_or(0),
        hwaddr: row.get(6)?,
        state: LeaseState::parse(&row.get::<String>(7)?)?,
        preferred: unsecs(row.get(8)?),
        expires: unsecs(row.get(9)?),
        class: row.get(10)?,
        remote_id: row.get(11)?,
        interface_id: row.get(12)?,
    })
}

/// A DHCPv6 binding as its row binds it: [`lease6_columns!`] then `updated`.
pub(crate) struct Lease6Values<'a> {
    lease: &'a Lease6,
    address: Vec<u8>,
    plen: i64,
    kind: &'static str,
    iaid: i64,
    state: &'static str,
    preferred: i64,
    expires: i64,
    updated: i64,
}

impl<'a> Lease6Values<'a> {
    /// The row of `lease`, written at `now`.
    pub(crate) fn new(lease: &'a Lease6, now: u64) -> Self {
        Self {
            lease,
            address: addr6(lease.address),
            plen: i64::from(lease.prefix_len),
            kind: lease.kind.as_str(),
            iaid: i64::from(lease.iaid),
            state: lease.state.as_str(),
            preferred: secs(lease.preferred),
            expires: secs(lease.expires),
            updated: secs(now),
        }
    }

    /// The values, in column order (`?1`..`?14` / `$1`..`$14`).
    pub(crate) fn values(&self) -> [&dyn Value; 14] {
        let l = self.lease;
        [
            &self.address,
            &self.plen,
            &self.kind,
            &l.subnet,
            &l.duid,
            &self.iaid,
            &l.hwaddr,
            &self.state,
            &self.preferred,
            &self.expires,
            &l.class,
            &l.remote_id,
            &l.interface_id,
            &self.updated,
        ]
    }
}

/// The columns of [`user_columns!`] → a user.
pub(crate) fn user(row: &impl Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: row.get(0)?,
        phc: row.get(1)?,
        role: row.get(2)?,
        disabled: row.get(3)?,
        failures: u32::try_from(row.get::<i64>(4)?).unwrap_or(u32::MAX),
        locked_until: unsecs(row.get(5)?),
        last_login: row.get::<Option<i64>>(6)?.map(unsecs),
        not_before: unsecs(row.get(7)?),
        created: unsecs(row.get(8)?),
    })
}

/// The columns of [`family_columns!`], starting at `at` → a family.
pub(crate) fn family(row: &impl Row, at: usize) -> Result<FamilyRecord, StoreError> {
    Ok(FamilyRecord {
        id: row.get(at)?,
        username: row.get(at + 1)?,
        created: unsecs(row.get(at + 2)?),
        expires: unsecs(row.get(at + 3)?),
        last_used: unsecs(row.get(at + 4)?),
        source: row.get(at + 5)?,
        revoked: row.get::<Option<i64>>(at + 6)?.map(unsecs),
        revoke_reason: row.get(at + 7)?,
    })
}

/// A row of [`refresh_join!`] → the token and its family.
pub(crate) fn refresh(row: &impl Row) -> Result<(RefreshRecord, FamilyRecord), StoreError> {
    let token = RefreshRecord {
        hash: row.get(0)?,
        family: row.get(1)?,
        issued: unsecs(row.get(2)?),
        used: row.get::<Option<i64>>(3)?.map(unsecs),
    };
    Ok((token, family(row, 4)?))
}

/// `id` then the columns of [`audit_columns!`] → an audit entry.
pub(crate) fn audit(row: &impl Row) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.get(0)?,
        at: unsecs(row.get(1)?),
        actor: row.get(2)?,
        source: row.get(3)?,
        action: row.get(4)?,
        target: row.get(5)?,
        result: row.get(6)?,
        detail: row.get(7)?,
    })
}

/// The columns of [`reservation_columns!`] → a reservation.
pub(crate) fn reservation(row: &impl Row) -> Result<Reservation, StoreError> {
    Ok(Reservation {
        subnet: row.get(0)?,
        hwaddr: row.get(1)?,
        address: unaddr(row.get(2)?)?,
        hostname: row.get(3)?,
        created: unsecs(row.get(4)?),
    })
}

/// A DHCPv6 reservation from `subnet, key_kind, key, address, prefix, created`.
pub(crate) fn reservation6(row: &impl Row) -> Result<crate::Reservation6, StoreError> {
    let kind: String = row.get(1)?;
    let key: String = row.get(2)?;
    let address: Option<String> = row.get(3)?;
    let prefix: Option<String> = row.get(4)?;
    Ok(crate::Reservation6 {
        subnet: row.get(0)?,
        key: crate::Reservation6Key::parse(&kind, &key)?,
        address: address
            .map(|a| {
                a.parse().map_err(|_| StoreError::Corrupt {
                    reason: format!("bad DHCPv6 reserved address {a:?}"),
                })
            })
            .transpose()?,
        prefix: prefix
            .as_deref()
            .map(crate::lease6::parse_prefix)
            .transpose()?,
        created: unsecs(row.get(5)?),
    })
}

/// The values a DHCPv6 reservation binds, in [`RESERVATION6_PUT`](crate::sql) order.
pub(crate) struct Reservation6Values {
    subnet: String,
    kind: &'static str,
    key: String,
    address: Option<String>,
    prefix: Option<String>,
    created: i64,
}

impl Reservation6Values {
    pub(crate) fn new(r: &crate::Reservation6) -> Self {
        Self {
            subnet: r.subnet.clone(),
            kind: r.key.kind(),
            key: r.key.text(),
            address: r.address.map(|a| a.to_string()),
            prefix: r.prefix.map(crate::lease6::prefix_text),
            created: secs(r.created),
        }
    }

    /// The six values.
    pub(crate) fn values(&self) -> [&dyn Value; 6] {
        [
            &self.subnet,
            &self.kind,
            &self.key,
            &self.address,
            &self.prefix,
            &self.created,
        ]
    }

    /// The parameters of [`RESERVATION6_TAKEN`](crate::sql).
    pub(crate) fn taken(&self) -> [&dyn Value; 5] {
        [
            &self.address,
            &self.prefix,
            &self.subnet,
            &self.kind,
            &self.key,
        ]
    }
}

/// A lease as its row binds it: [`lease_columns!`] then `updated`.
pub(crate) struct LeaseValues<'a> {
    lease: &'a Lease,
    address: i64,
    state: &'static str,
    expires: i64,
    server: Option<i64>,
    updated: i64,
}

impl<'a> LeaseValues<'a> {
    /// The row of `lease`, written at `now`.
    pub(crate) fn new(lease: &'a Lease, now: u64) -> Self {
        Self {
            lease,
            address: addr(lease.address),
            state: lease.state.as_str(),
            expires: secs(lease.expires),
            server: lease.server.map(addr),
            updated: secs(now),
        }
    }

    /// The values, in column order (`?1`..`?13` / `$1`..`$13`).
    pub(crate) fn values(&self) -> [&dyn Value; 13] {
        let l = self.lease;
        [
            &self.address,
            &l.subnet,
            &l.client_key,
            &l.hwaddr,
            &l.client_id,
            &l.hostname,
            &self.state,
            &self.expires,
            &l.circuit_id,
            &l.remote_id,
            &l.class,
            &self.server,
            &self.updated,
        ]
    }
}

/// A user as its row binds it ([`user_columns!`]).
pub(crate) struct UserValues<'a> {
    user: &'a UserRecord,
    failures: i64,
    locked_until: i64,
    last_login: Option<i64>,
    not_before: i64,
    created: i64,
}

impl<'a> UserValues<'a> {
    /// The row of `user`.
    pub(crate) fn new(user: &'a UserRecord) -> Self {
        Self {
            user,
            failures: i64::from(user.failures),
            locked_until: secs(user.locked_until),
            last_login: user.last_login.map(secs),
            not_before: secs(user.not_before),
            created: secs(user.created),
        }
    }

    /// The values, in column order (`?1`..`?9` / `$1`..`$9`).
    pub(crate) fn values(&self) -> [&dyn Value; 9] {
        let u = self.user;
        [
            &u.username,
            &u.phc,
            &u.role,
            &u.disabled,
            &self.failures,
            &self.locked_until,
            &self.last_login,
            &self.not_before,
            &self.created,
        ]
    }
}

/// A new family as its row binds it: the first six of [`family_columns!`].
pub(crate) struct FamilyValues<'a> {
    family: &'a FamilyRecord,
    created: i64,
    expires: i64,
    last_used: i64,
}

impl<'a> FamilyValues<'a> {
    /// The row of `family`, not revoked.
    pub(crate) fn new(family: &'a FamilyRecord) -> Self {
        Self {
            family,
            created: secs(family.created),
            expires: secs(family.expires),
            last_used: secs(family.last_used),
        }
    }

    /// The values, in column order (`?1`..`?6` / `$1`..`$6`).
    pub(crate) fn values(&self) -> [&dyn Value; 6] {
        let f = self.family;
        [
            &f.id,
            &f.username,
            &self.created,
            &self.expires,
            &self.last_used,
            &f.source,
        ]
    }
}

/// An audit entry as its row binds it ([`audit_columns!`]; the store
/// assigns `id`).
pub(crate) struct AuditValues<'a> {
    record: &'a AuditRecord,
    at: i64,
}

impl<'a> AuditValues<'a> {
    /// The row of `record`.
    pub(crate) fn new(record: &'a AuditRecord) -> Self {
        Self {
            record,
            at: secs(record.at),
        }
    }

    /// The values, in column order (`?1`..`?7` / `$1`..`$7`).
    pub(crate) fn values(&self) -> [&dyn Value; 7] {
        let r = self.record;
        [
            &self.at, &r.actor, &r.source, &r.action, &r.target, &r.result, &r.detail,
        ]
    }
}

/// A reservation as its row binds it ([`reservation_columns!`]).
pub(crate) struct ReservationValues<'a> {
    reservation: &'a Reservation,
    address: i64,
    created: i64,
}

impl<'a> ReservationValues<'a> {
    /// The row of `reservation`.
    pub(crate) fn new(reservation: &'a Reservation) -> Self {
        Self {
            reservation,
            address: addr(reservation.address),
            created: secs(reservation.created),
        }
    }

    /// The values, in column order (`?1`..`?5` / `$1`..`$5`).
    pub(crate) fn values(&self) -> [&dyn Value; 5] {
        let r = self.reservation;
        [
            &r.subnet,
            &r.hwaddr,
            &self.address,
            &r.hostname,
            &self.created,
        ]
    }
}
