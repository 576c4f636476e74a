//! Leases on the SQLite backend: the reads the [`Backend`](crate::Backend)
//! answers and the write transaction the DHCP core works in ([`LeaseTx`]).
//! Rows map to leases through [`crate::row`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::MutexGuard;

use rusqlite::{Connection, params};

use super::{all, bind, count, first, number};
use crate::lease::{Lease, LeaseTx};
use crate::lease6::{Lease6, Lease6Kind, Lease6Tx};
use crate::row::{self, Lease6Values, LeaseValues, addr, addr6, lease_columns, secs, unaddr};
use crate::sql::sqlite as q;
use crate::{StoreError, Transaction};

/// Every lease row, ordered by address.
pub(super) fn all_leases(conn: &Connection) -> Result<Vec<Lease>, StoreError> {
    all(conn, "lease listing", q::LEASES, [], |r| row::lease(r))
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

/// One open write transaction; rolled back on drop unless committed.
pub(super) struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
    /// Begun by `begin_unsynced`: restore `synchronous=FULL` when done.
    unsynced: bool,
    /// Unix time of BEGIN, stored as `updated`.
    now: u64,
}

impl<'a> SqliteTx<'a> {
    /// Takes over `conn`, on which `BEGIN IMMEDIATE` has just succeeded
    /// (after `synchronous = NORMAL` when `unsynced`).
    pub(super) fn new(conn: MutexGuard<'a, Connection>, unsynced: bool) -> Self {
        Self {
            conn,
            open: true,
            unsynced,
            now: headend_util::unix_now(),
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
        self.one_lease(
            "lease lookup by client",
            q::LEASE_BY_CLIENT,
            params![client_key, subnet],
        )
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
             expires = ?8, circuit_id = ?9, remote_id = ?10, class = ?11, updated = ?12 \
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
                ", updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
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
        self.one_lease6(
            "DHCPv6 binding lookup by client",
            q::LEASE6_BY_CLIENT,
            params![subnet, kind.as_str(), duid, i64::from(iaid)],
        )
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
}
