//! Leases on the SQLite backend: the reads the [`Backend`](crate::Backend)
//! answers and the write transaction the DHCP core works in ([`LeaseTx`]).
//! Rows map to leases through [`crate::row`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::MutexGuard;

use rusqlite::{Connection, params};

use super::{all, bind, count, first, number};
use crate::lease::{Lease, LeaseCount, LeaseFilter, LeasePage, LeaseState, LeaseTx};
use crate::lease6::{Lease6, Lease6Kind, Lease6Tx};
use crate::row::{
    self, Lease6Values, LeaseValues, addr, addr6, lease_columns, lease6_columns, secs, unaddr,
    unsecs,
};
use crate::sql::sqlite as q;
use crate::{StoreError, Transaction};

/// A client's rows with their write time as the last column and no
/// `ORDER BY`: SQLite would build a temporary b-tree for every lookup to
/// sort what is nearly always one row, so the newest is picked here.
const LEASES_OF_CLIENT: &str = concat!(
    "SELECT ",
    lease_columns!(),
    ", updated FROM dhcp_leases WHERE client_key = ?1 AND subnet = ?2 AND state <> 'declined'"
);
/// As [`LEASES_OF_CLIENT`], for DHCPv6 bindings of one IA.
const LEASES6_OF_CLIENT: &str = concat!(
    "SELECT ",
    lease6_columns!(),
    ", updated FROM dhcp6_leases WHERE duid = ?3 AND iaid = ?4 AND kind = ?2 AND subnet = ?1 \
     AND state <> 'declined'"
);
/// Every binding of one client in a subnet, for [`LEASES6_OF_CLIENT`]'s
/// pick per IA.
const LEASES6_OF_DUID: &str = concat!(
    "SELECT ",
    lease6_columns!(),
    ", updated FROM dhcp6_leases WHERE duid = ?2 AND subnet = ?1 AND state <> 'declined'"
);

/// The number of columns in a comma-separated column list.
const fn columns(list: &str) -> usize {
    let b = list.as_bytes();
    let (mut i, mut n) = (0, 1);
    while i < b.len() {
        if b[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The row of a client query written last (then the one expiring last),
/// as `ORDER BY updated DESC, expires DESC LIMIT 1` would pick it.
fn newest<T>(
    conn: &Connection,
    op: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
    width: usize,
    map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    expires: impl Fn(&T) -> u64,
) -> Result<Option<T>, StoreError> {
    let rows = all(conn, op, sql, params, |r| {
        Ok((map(r)?, row::Row::get::<i64>(r, width)?))
    })?;
    Ok(rows
        .into_iter()
        .max_by_key(|(t, updated)| (*updated, expires(t)))
        .map(|(t, _)| t))
}

/// Every lease row, ordered by address.
pub(super) fn all_leases(conn: &Connection) -> Result<Vec<Lease>, StoreError> {
    all(conn, "lease listing", q::LEASES, [], |r| row::lease(r))
}

/// The unexpired leases in short form, by address (the rowid: no sort).
pub(super) fn live(conn: &Connection, now: u64) -> Result<Vec<crate::LiveLease>, StoreError> {
    let now = secs(now);
    let op = "live lease listing";
    let mut stmt = conn
        .prepare_cached("SELECT address, state, expires, class FROM dhcp_leases ORDER BY address")
        .map_err(StoreError::sql(op))?;
    let mut rows = stmt.query([]).map_err(StoreError::sql(op))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(StoreError::sql(op))? {
        let expires: i64 = row.get(2).map_err(StoreError::sql(op))?;
        if expires <= now {
            continue;
        }
        let state = match row.get_ref(1).map_err(StoreError::sql(op))? {
            rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or_default(),
            _ => "",
        };
        out.push(crate::LiveLease {
            address: unaddr(row.get(0).map_err(StoreError::sql(op))?)?,
            state: LeaseState::parse(state)?,
            class: row.get(3).map_err(StoreError::sql(op))?,
        });
    }
    Ok(out)
}

/// The lease row of one address.
pub(super) fn at(conn: &Connection, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
    first(conn, "lease lookup", q::LEASE_AT, [addr(address)], |r| {
        row::lease(r)
    })
}

/// The lease rows of one hardware address, newest expiry first.
pub(super) fn of_hwaddr(conn: &Connection, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
    all(conn, "lease lookup", q::LEASES_OF_HWADDR, [hwaddr], |r| {
        row::lease(r)
    })
}

/// The WHERE clause and parameters of a lease search.
fn filter_sql(filter: &LeaseFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut terms = Vec::new();
    let mut values = Vec::new();
    let mut push = |term: &str, v: V| {
        values.push(v);
        terms.push(term.replace('#', &format!("?{}", values.len())));
    };
    if let Some(a) = filter.address {
        push("address = #", V::Integer(addr(a)));
    }
    if let Some(h) = &filter.hwaddr {
        push("hwaddr = #", V::Blob(h.clone()));
    }
    if let Some(part) = &filter.hostname {
        let escaped = part
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        // LIKE ignores ASCII case in SQLite (case_sensitive_like is off).
        push(
            "hostname LIKE # ESCAPE '\\'",
            V::Text(format!("%{escaped}%")),
        );
    }
    if let Some(c) = &filter.circuit_id {
        push("circuit_id = #", V::Blob(c.clone()));
    }
    if let Some(s) = &filter.subnet {
        push("subnet = #", V::Text(s.clone()));
    }
    if let Some(st) = filter.state {
        push("state = #", V::Text(st.as_str().to_owned()));
    }
    let clause = if terms.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", terms.join(" AND "))
    };
    (clause, values)
}

/// One page of the leases that pass `filter`, by address, with their count.
pub(super) fn page(
    conn: &Connection,
    filter: &LeaseFilter,
    offset: u64,
    limit: u32,
) -> Result<LeasePage, StoreError> {
    let (clause, values) = filter_sql(filter);
    let total = count(
        conn,
        "lease search",
        &format!("SELECT count(*) FROM dhcp_leases{clause}"),
        rusqlite::params_from_iter(values.iter()),
    )?;
    let sql = format!(
        "SELECT {} FROM dhcp_leases{clause} ORDER BY address LIMIT {} OFFSET {}",
        lease_columns!(),
        limit,
        secs(offset)
    );
    let leases = all(
        conn,
        "lease search",
        &sql,
        rusqlite::params_from_iter(values.iter()),
        |r| row::lease(r),
    )?;
    Ok(LeasePage { leases, total })
}

/// Lease rows by subnet and state, live at `now` or not.
pub(super) fn counts(conn: &Connection, now: u64) -> Result<Vec<LeaseCount>, StoreError> {
    all(
        conn,
        "lease counts",
        "SELECT subnet, state, sum(expires > ?1), count(*) FROM dhcp_leases \
         GROUP BY subnet, state ORDER BY subnet, state",
        [secs(now)],
        |r| {
            Ok(LeaseCount {
                subnet: r.get(0).map_err(StoreError::sql("lease counts"))?,
                state: LeaseState::parse(
                    &r.get::<_, String>(1)
                        .map_err(StoreError::sql("lease counts"))?,
                )?,
                live: unsecs(r.get(2).map_err(StoreError::sql("lease counts"))?),
                total: unsecs(r.get(3).map_err(StoreError::sql("lease counts"))?),
            })
        },
    )
}

/// One open write transaction; rolled back on drop unless committed.
pub(super) struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
    /// Begun by `begin_unsynced`: restore `synchronous=FULL` when done.
    unsynced: bool,
    /// Unix time of BEGIN, stored as `updated`.
    now: u64,
    /// Whether `dhcp6_reservations` has any row, read once per transaction
    /// (the DHCPv6 worker asks for every IA and every candidate address,
    /// and nothing in its transaction adds reservations).
    any_reservation6: Option<bool>,
    /// The same for `dhcp_reservations` (DHCPv4: asked for every request
    /// and every candidate address).
    any_reservation4: Option<bool>,
}

impl<'a> SqliteTx<'a> {
    /// Whether any DHCPv6 API reservation exists (see `any_reservation6`).
    fn any_reservation6(&mut self) -> Result<bool, StoreError> {
        if let Some(any) = self.any_reservation6 {
            return Ok(any);
        }
        let any = self.any_row("dhcp6_reservations")?;
        self.any_reservation6 = Some(any);
        Ok(any)
    }

    /// Whether any DHCPv4 API reservation exists (see `any_reservation4`).
    fn any_reservation4(&mut self) -> Result<bool, StoreError> {
        if let Some(any) = self.any_reservation4 {
            return Ok(any);
        }
        let any = self.any_row("dhcp_reservations")?;
        self.any_reservation4 = Some(any);
        Ok(any)
    }

    fn any_row(&self, table: &'static str) -> Result<bool, StoreError> {
        Ok(count(
            &self.conn,
            "reservation lookup",
            &format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)"),
            params![],
        )? > 0)
    }

    /// Takes over `conn`, on which `BEGIN IMMEDIATE` has just succeeded
    /// (after `synchronous = NORMAL` when `unsynced`).
    pub(super) fn new(conn: MutexGuard<'a, Connection>, unsynced: bool) -> Self {
        Self {
            conn,
            open: true,
            unsynced,
            now: headend_util::unix_now(),
            any_reservation6: None,
            any_reservation4: None,
        }
    }

    /// Back to `synchronous=FULL` for the connection's other users (the admin
    /// API's writes), once out of the transaction.
    fn restore_full(&mut self) {
        if std::mem::take(&mut self.unsynced)
            && let Err(e) = self.conn.execute_batch("PRAGMA synchronous = FULL")
        {
            tracing::warn!("store: cannot restore synchronous=FULL: {e}");
        }
    }

    fn one_lease(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Lease>, StoreError> {
        first(&self.conn, op, sql, params, |r| row::lease(r))
    }

    /// Writes `lease` with `sql`, which binds [`LeaseValues`]; the rows changed.
    fn write(&self, op: &'static str, sql: &str, lease: &Lease) -> Result<usize, StoreError> {
        let row = LeaseValues::new(lease, self.now);
        let mut stmt = self.conn.prepare_cached(sql).map_err(StoreError::sql(op))?;
        stmt.execute(bind(&row.values()))
            .map_err(StoreError::sql(op))
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
            q::LEASE_AT,
            params![addr(address)],
        )
    }

    fn lease_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
    ) -> Result<Option<Lease>, StoreError> {
        newest(
            &self.conn,
            "lease lookup by client",
            LEASES_OF_CLIENT,
            params![client_key, subnet],
            columns(lease_columns!()),
            |r| row::lease(r),
            |l| l.expires,
        )
    }

    fn offer_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
        server: Ipv4Addr,
    ) -> Result<Option<Lease>, StoreError> {
        let rows = all(
            &self.conn,
            "offer lookup by client",
            LEASES_OF_CLIENT,
            params![client_key, subnet],
            |r| {
                Ok((
                    row::lease(r)?,
                    row::Row::get::<i64>(r, columns(lease_columns!()))?,
                ))
            },
        )?;
        Ok(rows
            .into_iter()
            .filter(|(l, _)| l.state == LeaseState::Offered && l.server == Some(server))
            .max_by_key(|(l, updated)| (*updated, l.expires))
            .map(|(l, _)| l))
    }

    fn highest_claimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        number(
            &self.conn,
            "pool scan",
            q::HIGHEST_CLAIMED,
            params![addr(first), addr(last)],
        )?
        .map(unaddr)
        .transpose()
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
        let first_taken = count(&self.conn, "pool gap scan", q::ADDRESS_TAKEN, params![lo])? > 0;
        if !first_taken {
            return Ok(Some(first));
        }
        super::first(
            &self.conn,
            "pool gap scan",
            q::FIRST_GAP,
            params![lo, hi],
            |r| unaddr(row::Row::get(r, 0)?),
        )
    }

    fn oldest_expired(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
        now: u64,
    ) -> Result<Option<Lease>, StoreError> {
        self.one_lease(
            "expired lease scan",
            q::OLDEST_EXPIRED,
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
        count(
            &self.conn,
            "circuit-id count",
            q::LIVE_BY_CIRCUIT,
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
        count(
            &self.conn,
            "remote-id count",
            q::LIVE_BY_REMOTE,
            params![subnet, remote_id, except_client, secs(now)],
        )
    }

    fn claim(&mut self, lease: &Lease) -> Result<bool, StoreError> {
        let n = self.write("address claim", q::CLAIM, lease)?;
        Ok(n == 1)
    }

    fn put(&mut self, lease: &Lease) -> Result<(), StoreError> {
        // The common case (OFFER then REQUEST, renewals) rewrites the same
        // client's row: an UPDATE that leaves client_key and subnet alone
        // touches no random page of their index, so a group commit writes
        // fewer WAL frames. Otherwise replace the whole row.
        let changed = self.write(
            "lease write",
            "UPDATE dhcp_leases SET hwaddr = ?4, client_id = ?5, hostname = ?6, state = ?7, \
             expires = ?8, circuit_id = ?9, remote_id = ?10, class = ?11, server = ?12, updated = ?13 \
             WHERE address = ?1 AND subnet = ?2 AND client_key = ?3",
            lease,
        )?;
        if changed == 1 {
            return Ok(());
        }
        self.write(
            "lease write",
            concat!(
                "INSERT OR REPLACE INTO dhcp_leases (",
                lease_columns!(),
                ", updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            lease,
        )?;
        Ok(())
    }

    fn api_reservation(
        &mut self,
        subnet: &str,
        hwaddr: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError> {
        if !self.any_reservation4()? {
            return Ok(None);
        }
        let mac = crate::lease::mac_text(hwaddr);
        first(
            &self.conn,
            "reservation lookup",
            q::API_RESERVATION,
            params![subnet, mac],
            |r| Ok((unaddr(row::Row::get(r, 0)?)?, row::Row::get(r, 1)?)),
        )
    }

    fn api_reserved(&mut self, subnet: &str, address: Ipv4Addr) -> Result<bool, StoreError> {
        if !self.any_reservation4()? {
            return Ok(false);
        }
        Ok(count(
            &self.conn,
            "reservation lookup",
            q::API_RESERVED,
            params![subnet, addr(address)],
        )? > 0)
    }
}

/// Every DHCPv6 binding, ordered by address.
pub(super) fn all_leases6(conn: &Connection) -> Result<Vec<Lease6>, StoreError> {
    all(conn, "DHCPv6 binding listing", q::LEASES6, [], |r| {
        row::lease6(r)
    })
}

impl SqliteTx<'_> {
    fn one_lease6(
        &self,
        op: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<Lease6>, StoreError> {
        first(&self.conn, op, sql, params, |r| row::lease6(r))
    }

    fn write6(&self, op: &'static str, sql: &str, lease: &Lease6) -> Result<usize, StoreError> {
        let row = Lease6Values::new(lease, self.now);
        let mut stmt = self.conn.prepare_cached(sql).map_err(StoreError::sql(op))?;
        stmt.execute(bind(&row.values()))
            .map_err(StoreError::sql(op))
    }
}

impl Lease6Tx for SqliteTx<'_> {
    fn lease6_at(&mut self, address: Ipv6Addr) -> Result<Option<Lease6>, StoreError> {
        self.one_lease6(
            "DHCPv6 binding lookup",
            q::LEASE6_AT,
            params![addr6(address)],
        )
    }

    fn lease6_by_client(
        &mut self,
        subnet: &str,
        kind: Lease6Kind,
        duid: &[u8],
        iaid: u32,
    ) -> Result<Option<Lease6>, StoreError> {
        newest(
            &self.conn,
            "DHCPv6 binding lookup by client",
            LEASES6_OF_CLIENT,
            params![subnet, kind.as_str(), duid, i64::from(iaid)],
            columns(lease6_columns!()),
            |r| row::lease6(r),
            |l| l.expires,
        )
    }

    fn lease6_by_client_ias(
        &mut self,
        subnet: &str,
        duid: &[u8],
        ias: &[(Lease6Kind, u32)],
    ) -> Result<Vec<Option<Lease6>>, StoreError> {
        let width = columns(lease6_columns!());
        let rows = all(
            &self.conn,
            "DHCPv6 binding lookup by client",
            LEASES6_OF_DUID,
            params![subnet, duid],
            |r| Ok((row::lease6(r)?, row::Row::get::<i64>(r, width)?)),
        )?;
        Ok(ias
            .iter()
            .map(|&(kind, iaid)| {
                rows.iter()
                    .filter(|(l, _)| l.kind == kind && l.iaid == iaid)
                    .max_by_key(|(l, updated)| (*updated, l.expires))
                    .map(|(l, _)| l.clone())
            })
            .collect())
    }

    fn lease6_highest(
        &mut self,
        first_addr: Ipv6Addr,
        last: Ipv6Addr,
    ) -> Result<Option<Ipv6Addr>, StoreError> {
        let max: Option<Vec<u8>> = first(
            &self.conn,
            "DHCPv6 pool scan",
            q::LEASE6_HIGHEST,
            params![addr6(first_addr), addr6(last)],
            |r| row::Row::get(r, 0),
        )?;
        Ok(max.and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok().map(Ipv6Addr::from)))
    }

    fn lease6_oldest_expired(
        &mut self,
        first: Ipv6Addr,
        last: Ipv6Addr,
        now: u64,
    ) -> Result<Option<Lease6>, StoreError> {
        self.one_lease6(
            "expired DHCPv6 binding scan",
            q::LEASE6_OLDEST_EXPIRED,
            params![addr6(first), addr6(last), secs(now)],
        )
    }

    fn lease6_claim(&mut self, lease: &Lease6) -> Result<bool, StoreError> {
        Ok(self.write6("DHCPv6 claim", q::LEASE6_CLAIM, lease)? == 1)
    }

    fn lease6_put(&mut self, lease: &Lease6) -> Result<(), StoreError> {
        self.write6("DHCPv6 binding write", q::LEASE6_PUT, lease)?;
        Ok(())
    }

    fn lease6_clients_by_remote_id(
        &mut self,
        subnet: &str,
        remote_id: &[u8],
        except_duid: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        count(
            &self.conn,
            "DHCPv6 relay cap",
            q::LEASE6_CLIENTS_BY_REMOTE,
            params![subnet, remote_id, except_duid, secs(now)],
        )
    }

    fn lease6_clients_by_interface_id(
        &mut self,
        subnet: &str,
        interface_id: &[u8],
        except_duid: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        count(
            &self.conn,
            "DHCPv6 relay cap",
            q::LEASE6_CLIENTS_BY_INTERFACE,
            params![subnet, interface_id, except_duid, secs(now)],
        )
    }

    fn api_reservation6(
        &mut self,
        subnet: &str,
        duid: &[u8],
        hwaddr: Option<&[u8]>,
        remote_id: Option<&[u8]>,
    ) -> Result<Option<crate::Reservation6>, StoreError> {
        if !self.any_reservation6()? {
            return Ok(None);
        }
        first(
            &self.conn,
            "DHCPv6 reservation lookup",
            q::API_RESERVATION6,
            params![
                subnet,
                crate::lease::mac_text(duid),
                hwaddr.map(crate::lease::mac_text),
                remote_id.map(crate::lease::mac_text)
            ],
            |r| row::reservation6(r),
        )
    }

    fn api_reserved6(
        &mut self,
        subnet: &str,
        address: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<bool, StoreError> {
        if !self.any_reservation6()? {
            return Ok(false);
        }
        Ok(count(
            &self.conn,
            "DHCPv6 reservation lookup",
            q::API_RESERVED6,
            params![
                subnet,
                address.to_string(),
                crate::lease6::prefix_text((address, prefix_len))
            ],
        )? > 0)
    }
}
