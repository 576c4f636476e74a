//! The table of open DNS-over-TCP connections: who may come in, and whom
//! to close to make room. Sans-I/O: it is fed addresses and times, and the
//! listener ([`crate::listen`]) acts on its answers.
//!
//! RFC 7766 §6.2.3: "servers ... MAY close ... connections ... when
//! resources are scarce", preferring the ones idle longest. When the table is
//! full, a new connection is taken and the connection that has waited
//! longest without completing a request is closed, so that clients holding
//! slots open (or dripping a byte at a time) cannot lock everyone else out.
//! A connection busy answering (a zone transfer being written) is never
//! chosen.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// A connection's number in the table.
pub(crate) type ConnId = u64;

/// What the table says about a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Taken, with room to spare.
    Taken(ConnId),
    /// Taken; `victim` (idle longest) must be closed to make room.
    Evict {
        /// The new connection.
        id: ConnId,
        /// The connection to close.
        victim: ConnId,
    },
    /// Its client already has `tcp_max_connections_per_client` open: close it.
    ClientFull,
    /// Every slot is busy answering: wait until one leaves, then ask again.
    Full,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    ip: IpAddr,
    /// When it last completed a request (or was accepted).
    last_request: Instant,
    /// Answering right now (not to be evicted).
    busy: bool,
    /// Already chosen for eviction (not to be chosen twice).
    evicted: bool,
}

/// Open connections, bounded in total and per client address.
#[derive(Debug)]
pub(crate) struct TcpTable {
    max: usize,
    per_client_max: usize,
    next_id: ConnId,
    conns: HashMap<ConnId, Entry>,
    per_client: HashMap<IpAddr, usize>,
}

impl TcpTable {
    /// A table of at most `max` connections, `per_client_max` per address.
    pub(crate) fn new(max: usize, per_client_max: usize) -> Self {
        Self {
            max: max.max(1),
            per_client_max: per_client_max.max(1),
            next_id: 0,
            conns: HashMap::new(),
            per_client: HashMap::new(),
        }
    }

    /// A connection from `ip` arrived at `now`.
    pub(crate) fn admit(&mut self, ip: IpAddr, now: Instant) -> Admit {
        if self.per_client.get(&ip).copied().unwrap_or(0) >= self.per_client_max {
            return Admit::ClientFull;
        }
        let open = self.conns.values().filter(|e| !e.evicted).count();
        let victim = if open >= self.max {
            let Some(victim) = self.idle_longest() else {
                return Admit::Full;
            };
            if let Some(e) = self.conns.get_mut(&victim) {
                e.evicted = true;
            }
            Some(victim)
        } else {
            None
        };
        let id = self.next_id;
        self.next_id += 1;
        self.conns.insert(
            id,
            Entry {
                ip,
                last_request: now,
                busy: false,
                evicted: false,
            },
        );
        *self.per_client.entry(ip).or_insert(0) += 1;
        match victim {
            Some(victim) => Admit::Evict { id, victim },
            None => Admit::Taken(id),
        }
    }

    /// The connection not busy and not yet evicted whose last complete
    /// request is oldest.
    fn idle_longest(&self) -> Option<ConnId> {
        self.conns
            .iter()
            .filter(|(_, e)| !e.busy && !e.evicted)
            .min_by_key(|(id, e)| (e.last_request, **id))
            .map(|(id, _)| *id)
    }

    /// `id` completed a request at `now` and is answering it.
    pub(crate) fn request(&mut self, id: ConnId, now: Instant) {
        if let Some(e) = self.conns.get_mut(&id) {
            e.last_request = now;
            e.busy = true;
        }
    }

    /// `id` has sent its answers and waits for the next request.
    pub(crate) fn answered(&mut self, id: ConnId) {
        if let Some(e) = self.conns.get_mut(&id) {
            e.busy = false;
        }
    }

    /// `id` closed.
    pub(crate) fn leave(&mut self, id: ConnId) {
        let Some(e) = self.conns.remove(&id) else {
            return;
        };
        if let Some(n) = self.per_client.get_mut(&e.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&e.ip);
            }
        }
    }

    /// Connections open (evicted ones included until they are gone).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.conns.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_full_table_evicts_the_connection_idle_longest() {
        let t0 = Instant::now();
        let mut table = TcpTable::new(3, 8);
        let ids: Vec<ConnId> = (0..3)
            .map(|i| match table.admit(ip(1), t0 + Duration::from_secs(i)) {
                Admit::Taken(id) => id,
                other => panic!("{other:?}"),
            })
            .collect();
        // The first connection asked something later than the second.
        table.request(ids[0], t0 + Duration::from_secs(5));
        table.answered(ids[0]);
        match table.admit(ip(2), t0 + Duration::from_secs(6)) {
            Admit::Evict { victim, .. } => assert_eq!(victim, ids[1]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_connection_being_answered_is_not_evicted() {
        let t0 = Instant::now();
        let mut table = TcpTable::new(2, 8);
        let Admit::Taken(a) = table.admit(ip(1), t0) else {
            panic!()
        };
        let Admit::Taken(b) = table.admit(ip(2), t0) else {
            panic!()
        };
        table.request(a, t0);
        table.request(b, t0);
        assert_eq!(table.admit(ip(3), t0), Admit::Full);
        table.answered(b);
        assert!(matches!(
            table.admit(ip(3), t0),
            Admit::Evict { victim, .. } if victim == b
        ));
    }

    #[test]
    fn an_evicted_connection_is_chosen_once() {
        let t0 = Instant::now();
        let mut table = TcpTable::new(2, 8);
        let Admit::Taken(a) = table.admit(ip(1), t0) else {
            panic!()
        };
        let Admit::Taken(b) = table.admit(ip(2), t0 + Duration::from_secs(1)) else {
            panic!()
        };
        let later = t0 + Duration::from_secs(2);
        let Admit::Evict { id: c, victim } = table.admit(ip(3), later) else {
            panic!()
        };
        assert_eq!(victim, a);
        // `a` has not closed yet: the next newcomer takes `b`'s slot, not `a`'s again.
        let Admit::Evict { victim, .. } = table.admit(ip(4), later) else {
            panic!()
        };
        assert_eq!(victim, b);
        table.leave(a);
        table.leave(b);
        assert_eq!(table.len(), 2);
        assert!(table.conns.contains_key(&c));
    }

    #[test]
    fn a_client_over_its_cap_is_refused_and_let_in_again_after_one_leaves() {
        let t0 = Instant::now();
        let mut table = TcpTable::new(10, 2);
        let Admit::Taken(a) = table.admit(ip(1), t0) else {
            panic!()
        };
        assert!(matches!(table.admit(ip(1), t0), Admit::Taken(_)));
        assert_eq!(table.admit(ip(1), t0), Admit::ClientFull);
        assert!(matches!(table.admit(ip(2), t0), Admit::Taken(_)));
        table.leave(a);
        assert!(matches!(table.admit(ip(1), t0), Admit::Taken(_)));
    }
}
