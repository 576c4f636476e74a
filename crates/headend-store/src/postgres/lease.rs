//! Leases on the PostgreSQL backend: the reads the
//! [`Backend`](crate::Backend) answers and the REPEATABLE READ write transaction
//! the DHCP core works in ([`LeaseTx`]). Rows map to leases through
//! [`crate::row`].

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ::postgres::Row;

use super::conn::{OpenTx, Pooled, Session};
use super::{bind, get};
use crate::lease::{Lease, LeaseCount, LeaseFilter, LeasePage, LeaseState, LeaseTx};
use crate::lease6::{Lease6, Lease6Kind, Lease6Tx};
use crate::row::{self, Lease6Values, addr, addr6, lease_columns, secs, unaddr};
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
///
/// Round trips are what limits a server on PostgreSQL, so the transaction
/// keeps what it learnt and what it wrote on this side:
/// - every row read (by address, by client, or fetched ahead for a batch by
///   [`LeaseTx::prefetch`]) is remembered, and read again from memory: at
///   `REPEATABLE READ` the snapshot does not change inside the transaction, so
///   the memory is exact;
/// - an answer of `highest_claimed` is remembered per range, and an address
///   above it that this transaction did not write is known to have no row;
/// - writes (`claim`, `put`) are held and sent together, as one multi-row
///   upsert in address order (one lock order for every server, so batches
///   of two servers cannot deadlock on each other), before any query that
///   memory cannot answer and at commit, in the commit's own call. A row
///   another server wrote after this transaction's snapshot still makes the
///   upsert fail with a serialization failure ([`StoreError::Conflict`]),
///   as the single-row statements did.
pub(super) struct PgTx<'a> {
    // Field order matters: the transaction is ended (its ROLLBACK queued)
    // before the connection goes back to the pool.
    tx: OpenTx<'a>,
    _slot: Pooled<'a>,
    /// The database's clock at BEGIN (unix seconds), stored as `updated`.
    now: u64,
    /// The same, to the microsecond.
    clock: Duration,
    /// Whether any admin-API reservation existed at BEGIN.
    reservations: bool,
    /// What this transaction knows of the lease rows.
    known: Known,
}

/// The lease rows a [`PgTx`] has read or written.
#[derive(Default)]
struct Known {
    /// The row of an address as this transaction sees it (`None`: no row).
    rows: HashMap<Ipv4Addr, Option<Lease>>,
    /// `updated` of rows read from the database (not written here).
    updated: HashMap<Ipv4Addr, i64>,
    /// Clients whose every row was fetched, with their rows' addresses.
    clients: HashMap<Vec<u8>, Vec<Ipv4Addr>>,
    /// Addresses written by this transaction, sent or not.
    written: BTreeSet<Ipv4Addr>,
    /// The same by client key (the row may have changed client since).
    written_by_client: HashMap<Vec<u8>, Vec<Ipv4Addr>>,
    /// Writes not yet sent to the database.
    pending: BTreeSet<Ipv4Addr>,
    /// `highest_claimed` answers of the database, by range.
    highest: HashMap<(Ipv4Addr, Ipv4Addr), Option<Ipv4Addr>>,
}

impl Known {
    /// Remembers a row read from the database, unless this transaction
    /// wrote that address (its own write is newer).
    fn read(&mut self, address: Ipv4Addr, row: Option<(Lease, i64)>) {
        if self.written.contains(&address) {
            return;
        }
        match row {
            Some((lease, updated)) => {
                self.updated.insert(address, updated);
                self.rows.insert(address, Some(lease));
            }
            None => {
                self.rows.insert(address, None);
            }
        }
    }

    /// The row of `address` if known without asking the database.
    fn row(&self, address: Ipv4Addr) -> Option<Option<Lease>> {
        if let Some(r) = self.rows.get(&address) {
            return Some(r.clone());
        }
        // Above the highest row of a range the database answered for, no
        // row exists in this snapshot (and this transaction wrote none, or
        // it would be in `rows`).
        let above = self
            .highest
            .iter()
            .any(|(&(lo, hi), h)| lo <= address && address <= hi && h.is_none_or(|h| address > h));
        above.then_some(None)
    }

    /// Records a write of `lease`.
    fn write(&mut self, lease: &Lease) {
        let a = lease.address;
        self.written.insert(a);
        self.pending.insert(a);
        self.updated.remove(&a);
        self.written_by_client
            .entry(lease.client_key.clone())
            .or_default()
            .push(a);
        self.rows.insert(a, Some(lease.clone()));
    }

    /// A row that `lease_by_client` may answer: the client's, in the
    /// subnet, not declined.
    fn fits<'l>(&'l self, a: &Ipv4Addr, subnet: &str, key: &[u8]) -> Option<&'l Lease> {
        self.rows
            .get(a)?
            .as_ref()
            .filter(|l| l.client_key == key && l.subnet == subnet)
            .filter(|l| l.state != LeaseState::Declined)
    }

    /// The client's newest row written by this transaction, by the order
    /// of `LEASE_BY_CLIENT` (`updated`, then `expires`, both descending).
    fn newest_written(&self, subnet: &str, key: &[u8], now: i64) -> Option<(i64, Lease)> {
        self.written_by_client
            .get(key)?
            .iter()
            .filter_map(|a| self.fits(a, subnet, key))
            .max_by_key(|l| l.expires)
            .map(|l| (now, l.clone()))
    }

    /// Takes the writes not yet sent, as the arrays of [`q_flush`].
    fn take_pending(&mut self, now: u64) -> Option<Flush> {
        if self.pending.is_empty() {
            return None;
        }
        let mut f = Flush {
            updated: secs(now),
            ..Flush::default()
        };
        for a in std::mem::take(&mut self.pending) {
            let Some(Some(l)) = self.rows.get(&a) else {
                continue;
            };
            f.address.push(addr(a));
            f.subnet.push(l.subnet.clone());
            f.client_key.push(l.client_key.clone());
            f.hwaddr.push(l.hwaddr.clone());
            f.client_id.push(l.client_id.clone());
            f.hostname.push(l.hostname.clone());
            f.state.push(l.state.as_str().to_owned());
            f.expires.push(secs(l.expires));
            f.circuit_id.push(l.circuit_id.clone());
            f.remote_id.push(l.remote_id.clone());
            f.class.push(l.class.clone());
            f.server.push(l.server.map(addr));
        }
        Some(f)
    }
}

/// Held lease writes, column by column, for one multi-row upsert.
#[derive(Default)]
struct Flush {
    address: Vec<i64>,
    subnet: Vec<String>,
    client_key: Vec<Vec<u8>>,
    hwaddr: Vec<Vec<u8>>,
    client_id: Vec<Option<Vec<u8>>>,
    hostname: Vec<Option<String>>,
    state: Vec<String>,
    expires: Vec<i64>,
    circuit_id: Vec<Option<Vec<u8>>>,
    remote_id: Vec<Option<Vec<u8>>>,
    class: Vec<Option<String>>,
    server: Vec<Option<i64>>,
    updated: i64,
}

/// Writes (inserts or replaces) many lease rows at once, in the order given.
const FLUSH: &str = concat!(
    "INSERT INTO dhcp_leases (",
    lease_columns!(),
    ", updated) SELECT ",
    lease_columns!(),
    ", $13::bigint FROM unnest($1::bigint[], $2::text[], \
     $3::bytea[], $4::bytea[], $5::bytea[], $6::text[], $7::text[], $8::bigint[], \
     $9::bytea[], $10::bytea[], $11::text[], $12::bigint[]) \
     WITH ORDINALITY AS t(address, subnet, client_key, hwaddr, client_id, hostname, \
     state, expires, circuit_id, remote_id, class, server, n) ORDER BY t.n \
     ON CONFLICT (address) DO UPDATE SET subnet = EXCLUDED.subnet, \
     client_key = EXCLUDED.client_key, hwaddr = EXCLUDED.hwaddr, \
     client_id = EXCLUDED.client_id, hostname = EXCLUDED.hostname, \
     state = EXCLUDED.state, expires = EXCLUDED.expires, \
     circuit_id = EXCLUDED.circuit_id, remote_id = EXCLUDED.remote_id, \
     class = EXCLUDED.class, server = EXCLUDED.server, \
     updated = EXCLUDED.updated"
);

/// The rows of the clients {1} and of the addresses {2}, with `updated`.
/// Lease transactions plan every statement afresh (`plan_cache_mode`, see
/// `PostgresBackend::begin`): a generic plan of this made while the table
/// was nearly empty scans the whole table ever after (10 ms a batch at
/// 20,000 rows, against well under 1 ms for the two index probes).
const PREFETCH: &str = concat!(
    "SELECT ",
    lease_columns!(),
    ", updated FROM dhcp_leases WHERE client_key = ANY($1) OR address = ANY($2)"
);

/// The row of address {1}, with `updated`.
const LEASE_AT_UPDATED: &str = concat!(
    "SELECT ",
    lease_columns!(),
    ", updated FROM dhcp_leases WHERE address = $1"
);

/// `LEASE_BY_CLIENT` with `updated`, the addresses {3} left out (this
/// transaction wrote them: its memory has their rows).
const LEASE_BY_CLIENT_EXCEPT: &str = concat!(
    "SELECT ",
    lease_columns!(),
    ", updated FROM dhcp_leases WHERE client_key = $1 AND subnet = $2 \
     AND state <> 'declined' AND address <> ALL($3) \
     ORDER BY updated DESC, expires DESC LIMIT 1"
);

/// The newest offer of client {1} in subnet {2} made by server {3},
/// except at the addresses {4} this transaction wrote.
const OFFER_BY_CLIENT_EXCEPT: &str = concat!(
    "SELECT ",
    lease_columns!(),
    ", updated FROM dhcp_leases WHERE client_key = $1 AND subnet = $2 \
     AND state = 'offered' AND server = $3 AND address <> ALL($4) \
     ORDER BY updated DESC, expires DESC LIMIT 1"
);

/// Sends `f` (if any) as one upsert.
fn send_flush(s: &mut Session, f: Option<Flush>) -> Result<(), StoreError> {
    let Some(f) = f else {
        return Ok(());
    };
    s.execute(
        FLUSH,
        &[
            &f.address,
            &f.subnet,
            &f.client_key,
            &f.hwaddr,
            &f.client_id,
            &f.hostname,
            &f.state,
            &f.expires,
            &f.circuit_id,
            &f.remote_id,
            &f.class,
            &f.server,
            &f.updated,
        ],
    )
    .map_err(StoreError::pg("lease write"))?;
    Ok(())
}

/// A lease row followed by its `updated` column.
fn lease_updated(r: &Row) -> Result<(Lease, i64), StoreError> {
    Ok((row::lease(r)?, get(r, 12)?))
}

impl<'a> PgTx<'a> {
    /// Wraps `tx`, just begun on the connection `slot` holds when the
    /// database's clock read `clock` (since the Unix epoch) and whether any
    /// admin-API reservation existed then.
    pub(super) fn new(
        tx: OpenTx<'a>,
        slot: Pooled<'a>,
        clock: Duration,
        reservations: bool,
    ) -> Self {
        Self {
            tx,
            _slot: slot,
            now: clock.as_secs(),
            clock,
            reservations,
            known: Known::default(),
        }
    }
}

impl Transaction for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let mut this = *self;
        let f = this.known.take_pending(this.now);
        this.tx.commit_after(move |s| send_flush(s, f))
    }

    fn clock(&self) -> Option<Duration> {
        Some(self.clock)
    }
}

impl PgTx<'_> {
    /// Runs `f` inside the transaction after sending the held writes (so
    /// that `f` sees them), in one call to the connection thread.
    fn run_flushed<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let pending = self.known.take_pending(self.now);
        self.tx.run(move |s| {
            send_flush(s, pending)?;
            f(s)
        })
    }

    fn one_lease(
        &mut self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Box<dyn ::postgres::types::ToSql + Send + Sync>>,
    ) -> Result<Option<Lease>, StoreError> {
        self.run_flushed(move |s| {
            let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                params.iter().map(|p| &**p as _).collect();
            s.query_first(sql, &refs)
                .map_err(StoreError::pg(op))?
                .as_ref()
                .map(row::lease)
                .transpose()
        })
    }

    /// The first row `sql` finds with its `updated` (the held writes are not
    /// sent first: callers exclude the addresses this transaction wrote),
    /// kept as read.
    fn first_row(
        &mut self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Box<dyn ::postgres::types::ToSql + Send + Sync>>,
    ) -> Result<Option<(Lease, i64)>, StoreError> {
        let row = self.tx.run(move |s| {
            let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                params.iter().map(|p| &**p as _).collect();
            s.query_first(sql, &refs)
                .map_err(StoreError::pg(op))?
                .as_ref()
                .map(lease_updated)
                .transpose()
        })?;
        if let Some((l, u)) = &row {
            self.known.read(l.address, Some((l.clone(), *u)));
        }
        Ok(row)
    }

    fn count(
        &mut self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Box<dyn ::postgres::types::ToSql + Send + Sync>>,
    ) -> Result<u64, StoreError> {
        self.run_flushed(move |s| {
            let refs: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
                params.iter().map(|p| &**p as _).collect();
            count(s.query_first(sql, &refs).map_err(StoreError::pg(op))?)
        })
    }

    /// A live-lease count by option 82 sub-option: `sql` takes the subnet,
    /// the sub-option's value, the client to leave out and the time.
    fn count_live(
        &mut self,
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
}

/// Boxes owned query parameters so they can travel to the connection thread.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        vec![$(Box::new($p) as Box<dyn ::postgres::types::ToSql + Send + Sync>),*]
    };
}

impl LeaseTx for PgTx<'_> {
    fn wants_prefetch(&self) -> bool {
        true
    }

    fn prefetch(
        &mut self,
        client_keys: &[Vec<u8>],
        addresses: &[Ipv4Addr],
    ) -> Result<(), StoreError> {
        let keys: Vec<Vec<u8>> = client_keys
            .iter()
            .filter(|k| !self.known.clients.contains_key(*k))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let wanted: Vec<Ipv4Addr> = addresses
            .iter()
            .filter(|a| self.known.row(**a).is_none())
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if keys.is_empty() && wanted.is_empty() {
            return Ok(());
        }
        let (k, w) = (
            keys.clone(),
            wanted.iter().map(|a| addr(*a)).collect::<Vec<_>>(),
        );
        let rows = self.tx.run(move |s| {
            let rows = s
                .query(PREFETCH, &[&k, &w])
                .map_err(StoreError::pg("lease prefetch"))?;
            rows.iter()
                .map(lease_updated)
                .collect::<Result<Vec<_>, _>>()
        })?;
        for a in wanted {
            self.known.read(a, None);
        }
        for k in keys {
            self.known.clients.entry(k).or_default();
        }
        for (lease, updated) in rows {
            let a = lease.address;
            if let Some(list) = self.known.clients.get_mut(&lease.client_key) {
                list.push(a);
            }
            self.known.read(a, Some((lease, updated)));
        }
        Ok(())
    }

    fn lease_by_address(&mut self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        if let Some(r) = self.known.row(address) {
            return Ok(r);
        }
        let a = addr(address);
        let row = self.tx.run(move |s| {
            s.query_first(LEASE_AT_UPDATED, &[&a])
                .map_err(StoreError::pg("lease lookup by address"))?
                .as_ref()
                .map(lease_updated)
                .transpose()
        })?;
        let lease = row.as_ref().map(|(l, _)| l.clone());
        self.known.read(address, row);
        Ok(lease)
    }

    fn lease_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
    ) -> Result<Option<Lease>, StoreError> {
        let local = self
            .known
            .newest_written(subnet, client_key, secs(self.now));
        // The newest row of the snapshot that this transaction did not write.
        let stored = if let Some(list) = self.known.clients.get(client_key) {
            list.iter()
                .filter(|a| !self.known.written.contains(*a))
                .filter_map(|a| {
                    let l = self.known.fits(a, subnet, client_key)?;
                    let updated = self.known.updated.get(a).copied().unwrap_or(0);
                    Some((updated, l.clone()))
                })
                .max_by_key(|(u, l)| (*u, l.expires))
        } else {
            let except: Vec<i64> = self.known.written.iter().map(|a| addr(*a)).collect();
            let row = self.first_row(
                "lease lookup by client",
                LEASE_BY_CLIENT_EXCEPT,
                vec![
                    Box::new(client_key.to_vec()),
                    Box::new(subnet.to_owned()),
                    Box::new(except),
                ],
            )?;
            row.map(|(l, u)| (u, l))
        };
        Ok(match (local, stored) {
            (Some(a), Some(b)) => {
                // This transaction's rows are the newest on a tie of `updated`
                // only by `expires`, as the database would order them.
                if (b.0, b.1.expires) > (a.0, a.1.expires) {
                    Some(b.1)
                } else {
                    Some(a.1)
                }
            }
            (a, b) => a.or(b).map(|(_, l)| l),
        })
    }

    fn offer_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
        server: Ipv4Addr,
    ) -> Result<Option<Lease>, StoreError> {
        let offered = |l: &Lease| l.state == LeaseState::Offered && l.server == Some(server);
        // An offer this transaction wrote is the newest.
        let local = self
            .known
            .written_by_client
            .get(client_key)
            .into_iter()
            .flatten()
            .filter_map(|a| self.known.fits(a, subnet, client_key))
            .filter(|l| offered(l))
            .max_by_key(|l| l.expires)
            .cloned();
        if local.is_some() {
            return Ok(local);
        }
        if let Some(list) = self.known.clients.get(client_key) {
            return Ok(list
                .iter()
                .filter(|a| !self.known.written.contains(*a))
                .filter_map(|a| {
                    let l = self.known.fits(a, subnet, client_key)?;
                    let updated = self.known.updated.get(a).copied().unwrap_or(0);
                    offered(l).then_some((updated, l))
                })
                .max_by_key(|(u, l)| (*u, l.expires))
                .map(|(_, l)| l.clone()));
        }
        let except: Vec<i64> = self.known.written.iter().map(|a| addr(*a)).collect();
        let row = self.first_row(
            "offer lookup by client",
            OFFER_BY_CLIENT_EXCEPT,
            vec![
                Box::new(client_key.to_vec()),
                Box::new(subnet.to_owned()),
                Box::new(addr(server)),
                Box::new(except),
            ],
        )?;
        Ok(row.map(|(l, _)| l))
    }

    fn highest_claimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        let stored = match self.known.highest.get(&(first, last)) {
            Some(h) => *h,
            None => {
                let (lo, hi) = (addr(first), addr(last));
                let h = self.tx.run(move |s| {
                    let row = s
                        .query_first(q::HIGHEST_CLAIMED, &[&lo, &hi])
                        .map_err(StoreError::pg("pool scan"))?;
                    let max: Option<i64> = match &row {
                        Some(r) => get(r, 0)?,
                        None => None,
                    };
                    max.map(unaddr).transpose()
                })?;
                self.known.highest.insert((first, last), h);
                h
            }
        };
        let written = if first <= last {
            self.known.written.range(first..=last).next_back().copied()
        } else {
            None
        };
        Ok(stored.max(written))
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
        self.run_flushed(move |s| {
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
        // Claimed only if the address has no row in this snapshot (nor a
        // write of this transaction). A row another server inserts
        // meanwhile makes the upsert wait for it, then fail with a
        // serialization failure (Conflict) if that one commits.
        if self.lease_by_address(lease.address)?.is_some() {
            return Ok(false);
        }
        self.known.write(lease);
        Ok(true)
    }

    fn put(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.known.write(lease);
        Ok(())
    }

    fn api_reservation(
        &mut self,
        subnet: &str,
        hwaddr: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError> {
        if !self.reservations {
            return Ok(None);
        }
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
        if !self.reservations {
            return Ok(false);
        }
        let (subnet, a) = (subnet.to_owned(), addr(address));
        self.tx.run(move |s| {
            Ok(count(
                s.query_first(q::API_RESERVED, &[&subnet, &a])
                    .map_err(StoreError::pg("reservation lookup"))?,
            )? > 0)
        })
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
