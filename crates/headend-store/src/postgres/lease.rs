//! Leases on the PostgreSQL backend: the reads the
//! [`Backend`](crate::Backend) answers and the SERIALIZABLE write transaction
//! the DHCP core works in ([`LeaseTx`]). Rows map to leases through
//! [`crate::row`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ::postgres::Row;

use super::conn::{OpenTx, Pooled, Session};
use super::{bind, get};
use crate::lease::{Lease, LeaseCount, LeaseFilter, LeasePage, LeaseState, LeaseTx};
use crate::lease6::{Lease6, Lease6Kind, Lease6Tx};
use crate::row::{self, Lease6Values, LeaseValues, addr, addr6, lease_columns, secs, unaddr};
use crate::sql::postgres as q;
use crate::{StoreError, Transaction};

/// Every lease row, ordered by address.
pub(super) fn all_leases(s: &mut Session) -> Result<Vec<Lease>, StoreError> {
    let rows = s
        .query(q::LEASES, &[])
        .map_err(StoreError::pg("lease listing"))?;
    rows.iter().map(row::lease).collect()
}

/// The lease row of one address.
pub(super) fn at(s: &mut Session, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
    s.query_first(q::LEASE_AT, &[&addr(address)])
        .map_err(StoreError::pg("lease lookup"))?
        .as_ref()
        .map(row::lease)
        .transpose()
}

/// The lease rows of one hardware address, newest expiry first.
pub(super) fn of_hwaddr(s: &mut Session, hwaddr: &[u8]) -> Result<Vec<Lease>, StoreError> {
    let rows = s
        .query(q::LEASES_OF_HWADDR, &[&hwaddr])
        .map_err(StoreError::pg("lease lookup"))?;
    rows.iter().map(row::lease).collect()
}

/// One page of the leases that pass `filter`, by address, with their count.
pub(super) fn page(
    s: &mut Session,
    filter: &LeaseFilter,
    offset: u64,
    limit: u32,
) -> Result<LeasePage, StoreError> {
    let address = filter.address.map(addr);
    let hostname = filter.hostname.as_ref().map(|part| {
        let escaped = part
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let state = filter.state.map(|st| st.as_str().to_owned());
    let (limit, offset) = (i64::from(limit), secs(offset));
    let params: [&(dyn ::postgres::types::ToSql + Sync); 6] = [
        &address,
        &filter.hwaddr,
        &hostname,
        &filter.circuit_id,
        &filter.subnet,
        &state,
    ];
    let total = count(
        s.query_first(q::LEASE_SEARCH_COUNT, &params)
            .map_err(StoreError::pg("lease search"))?,
    )?;
    let mut all = params.to_vec();
    all.push(&limit);
    all.push(&offset);
    let rows = s
        .query(q::LEASE_SEARCH_PAGE, &all)
        .map_err(StoreError::pg("lease search"))?;
    let leases = rows.iter().map(row::lease).collect::<Result<_, _>>()?;
    Ok(LeasePage { leases, total })
}

/// Lease rows by subnet and state, live at `now` or not.
pub(super) fn counts(s: &mut Session, now: u64) -> Result<Vec<LeaseCount>, StoreError> {
    let rows = s
        .query(q::LEASE_COUNTS, &[&secs(now)])
        .map_err(StoreError::pg("lease counts"))?;
    rows.iter()
        .map(|r| {
            Ok(LeaseCount {
                subnet: get(r, 0)?,
                state: LeaseState::parse(&get::<String>(r, 1)?)?,
                live: u64::try_from(get::<i64>(r, 2)?).unwrap_or(0),
                total: u64::try_from(get::<i64>(r, 3)?).unwrap_or(0),
            })
        })
        .collect()
}

/// The number a `count(*)` query answers.
fn count(row: Option<Row>) -> Result<u64, StoreError> {
    match row {
        Some(r) => Ok(u64::try_from(get::<i64>(&r, 0)?).unwrap_or(0)),
        None => Ok(0),
    }
}

/// One open lease transaction on the writer connection; rolled back on drop
/// unless committed.
pub(super) struct PgTx<'a> {
    // Field order matters: the transaction is ended (its ROLLBACK queued)
    // before the connection goes back to the pool.
    tx: OpenTx<'a>,
    _slot: Pooled<'a>,
    /// The database's clock at BEGIN (unix seconds), stored as `updated`.
    now: u64,
    /// The same, to the microsecond.
    clock: Duration,
}

impl<'a> PgTx<'a> {
    /// Wraps `tx`, just begun on the connection `slot` holds when the
    /// database's clock read `clock` (since the Unix epoch).
    pub(super) fn new(tx: OpenTx<'a>, slot: Pooled<'a>, clock: Duration) -> Self {
        Self {
            tx,
            _slot: slot,
            now: clock.as_secs(),
            clock,
        }
    }
}

impl Transaction for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let this = *self;
        this.tx.commit()
    }

    fn clock(&self) -> Option<Duration> {
        Some(self.clock)
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
                .map_err(StoreError::pg(op))?
                .as_ref()
                .map(row::lease)
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
            count(s.query_first(sql, &refs).map_err(StoreError::pg(op))?)
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

    /// Writes `lease` with `sql`, which binds [`LeaseValues`]; the rows changed.
    fn write(&self, op: &'static str, sql: &'static str, lease: &Lease) -> Result<u64, StoreError> {
        let lease = lease.clone();
        let now = self.now;
        self.tx.run(move |s| {
            let row = LeaseValues::new(&lease, now);
            s.execute(sql, &bind(row.values()))
                .map_err(StoreError::pg(op))
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
                .query_first(q::HIGHEST_CLAIMED, &[&lo, &hi])
                .map_err(StoreError::pg("pool scan"))?;
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
                s.query_first(q::ADDRESS_TAKEN, &[&lo])
                    .map_err(StoreError::pg("pool gap scan"))?,
            )? > 0;
            if !first_taken {
                return Ok(Some(first));
            }
            let row = s
                .query_first(q::FIRST_GAP, &[&lo, &hi])
                .map_err(StoreError::pg("pool gap scan"))?;
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
        self.count_live(
            "circuit-id count",
            q::LIVE_BY_CIRCUIT,
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
            q::LIVE_BY_REMOTE,
            (subnet, remote_id, except_client, now),
        )
    }

    fn claim(&mut self, lease: &Lease) -> Result<bool, StoreError> {
        // Atomic: the row is inserted only if the address has none. A row
        // inserted meanwhile by another server's uncommitted transaction
        // makes this wait for it, then fail with a serialization failure
        // (Conflict) if that one commits.
        let n = self.write("address claim", q::CLAIM, lease)?;
        Ok(n == 1)
    }

    fn put(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.write(
            "lease write",
            concat!(
                "INSERT INTO dhcp_leases (",
                lease_columns!(),
                ", updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (address) DO UPDATE SET subnet = EXCLUDED.subnet, \
                 client_key = EXCLUDED.client_key, hwaddr = EXCLUDED.hwaddr, \
                 client_id = EXCLUDED.client_id, hostname = EXCLUDED.hostname, \
                 state = EXCLUDED.state, expires = EXCLUDED.expires, \
                 circuit_id = EXCLUDED.circuit_id, remote_id = EXCLUDED.remote_id, \
                 class = EXCLUDED.class, server = EXCLUDED.server, \
                 updated = EXCLUDED.updated"
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
        let subnet = subnet.to_owned();
        self.tx.run(move |s| {
            let row = s
                .query_first(q::API_RESERVATION, &[&subnet, &mac])
                .map_err(StoreError::pg("reservation lookup"))?;
            row.map(|r| Ok((unaddr(get(&r, 0)?)?, get(&r, 1)?)))
                .transpose()
        })
    }

    fn api_reserved(&mut self, subnet: &str, address: Ipv4Addr) -> Result<bool, StoreError> {
        Ok(self.count(
            "reservation lookup",
            q::API_RESERVED,
            params![subnet.to_owned(), addr(address)],
        )? > 0)
    }
}

/// Every DHCPv6 binding, ordered by address.
pub(super) fn all_leases6(s: &mut Session) -> Result<Vec<Lease6>, StoreError> {
    let rows = s
        .query(q::LEASES6, &[])
        .map_err(StoreError::pg("DHCPv6 binding listing"))?;
    rows.iter().map(row::lease6).collect()
}

impl PgTx<'_> {
    fn one_lease6(
        &self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Box<dyn ::postgres::types::ToSql + Send + Sync>>,
    ) -> Result<Option<Lease6>, StoreError> {
        self.tx.run(move |s| {
            let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                params.iter().map(|p| &**p as _).collect();
            s.query_first(sql, &refs)
                .map_err(StoreError::pg(op))?
                .as_ref()
                .map(row::lease6)
                .transpose()
        })
    }

    fn write6(
        &self,
        op: &'static str,
        sql: &'static str,
        lease: &Lease6,
    ) -> Result<u64, StoreError> {
        let lease = lease.clone();
        let now = self.now;
        self.tx.run(move |s| {
            let row = Lease6Values::new(&lease, now);
            s.execute(sql, &bind(row.values()))
                .map_err(StoreError::pg(op))
        })
    }
}

impl Lease6Tx for PgTx<'_> {
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
            params![
                subnet.to_owned(),
                kind.as_str(),
                duid.to_vec(),
                i64::from(iaid)
            ],
        )
    }

    fn lease6_highest(
        &mut self,
        first: Ipv6Addr,
        last: Ipv6Addr,
    ) -> Result<Option<Ipv6Addr>, StoreError> {
        let (lo, hi) = (addr6(first), addr6(last));
        self.tx.run(move |s| {
            let row = s
                .query_first(q::LEASE6_HIGHEST, &[&lo, &hi])
                .map_err(StoreError::pg("DHCPv6 pool scan"))?;
            let max: Option<Vec<u8>> = match &row {
                Some(r) => get(r, 0)?,
                None => None,
            };
            Ok(max.and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok().map(Ipv6Addr::from)))
        })
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
        self.count(
            "DHCPv6 relay cap",
            q::LEASE6_CLIENTS_BY_REMOTE,
            params![
                subnet.to_owned(),
                remote_id.to_vec(),
                except_duid.to_vec(),
                secs(now)
            ],
        )
    }

    fn lease6_clients_by_interface_id(
        &mut self,
        subnet: &str,
        interface_id: &[u8],
        except_duid: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.count(
            "DHCPv6 relay cap",
            q::LEASE6_CLIENTS_BY_INTERFACE,
            params![
                subnet.to_owned(),
                interface_id.to_vec(),
                except_duid.to_vec(),
                secs(now)
            ],
        )
    }

    fn api_reservation6(
        &mut self,
        subnet: &str,
        duid: &[u8],
        hwaddr: Option<&[u8]>,
        remote_id: Option<&[u8]>,
    ) -> Result<Option<crate::Reservation6>, StoreError> {
        let subnet = subnet.to_owned();
        let duid = crate::lease::mac_text(duid);
        let hwaddr = hwaddr.map(crate::lease::mac_text);
        let remote_id = remote_id.map(crate::lease::mac_text);
        self.tx.run(move |s| {
            s.query_first(q::API_RESERVATION6, &[&subnet, &duid, &hwaddr, &remote_id])
                .map_err(StoreError::pg("DHCPv6 reservation lookup"))?
                .map(|r| row::reservation6(&r))
                .transpose()
        })
    }

    fn api_reserved6(
        &mut self,
        subnet: &str,
        address: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<bool, StoreError> {
        Ok(self.count(
            "DHCPv6 reservation lookup",
            q::API_RESERVED6,
            params![
                subnet.to_owned(),
                address.to_string(),
                crate::lease6::prefix_text((address, prefix_len))
            ],
        )? > 0)
    }
}
