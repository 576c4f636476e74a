//! Which shared transfer socket a new transfer goes on.
//!
//! Under load, lock-step downloads share a few server sockets per local
//! address instead of one socket each: a transfer is told apart by its peer
//! (address and port) on the socket it was given, and the socket's loop reads
//! and sends for all its transfers in batches (`recvmmsg`/`sendmmsg`), one
//! system call for many datagrams where a socket per transfer costs one per
//! datagram. To each client the server's side still looks as RFC 1350 §4
//! asks: a port other than 69 that stays the same for the whole transfer.
//! The rules keep what a fresh TID is for:
//!
//! - a peer never gets the shared socket its previous transfer used, so a late
//!   duplicate of an old transfer's ACK (a client that sends every request
//!   from one port) reaches a socket where that peer has no transfer, or
//!   another transfer's socket, never the new transfer;
//! - a peer with a transfer running on a socket gets another one;
//! - a socket takes at most [`MAX_USES`] transfers, then is retired (it ends
//!   once its last transfer ends) and a new one with a new port takes its
//!   place, so ports keep changing.
//!
//! Sans-I/O: generic over the lane a socket serves (the caller's key: its
//! local address, and what kind of transfer it carries) and over the handle
//! of a shared socket, so the rules are tested without sockets.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Transfers one shared socket takes before it is retired.
pub(crate) const MAX_USES: u32 = 4096;
/// Shared sockets in service per lane (two let a peer alternate).
pub(crate) const PER_ADDRESS: usize = 2;
/// How long a peer's last socket is remembered after its transfer ended.
const REMEMBER: Duration = Duration::from_secs(60);
/// Peers remembered at most; beyond that the idle ones are forgotten early.
const MAX_PEERS: usize = 65_536;
/// Picks between sweeps of the peers that were forgotten.
const SWEEP_EVERY: usize = 4096;

/// A shared socket in service.
struct Socket<H> {
    id: u64,
    handle: H,
    uses: u32,
}

/// A peer's last shared socket.
struct Mark {
    socket: u64,
    running: bool,
    at: Instant,
}

/// The shared sockets of every lane and each peer's last one (socket ids
/// are unique over all lanes, so the rules hold across lanes too).
pub(crate) struct MuxTable<K, H> {
    sockets: HashMap<K, Vec<Socket<H>>>,
    peers: HashMap<SocketAddr, Mark>,
    next_id: u64,
    picks: usize,
}

impl<K, H> Default for MuxTable<K, H> {
    fn default() -> Self {
        Self {
            sockets: HashMap::new(),
            peers: HashMap::new(),
            next_id: 1,
            picks: 0,
        }
    }
}

impl<K: Eq + Hash, H> MuxTable<K, H> {
    /// The shared socket of `lane` for a new transfer of `peer` at `now`:
    /// its id and handle. `open` makes a new one, given its id, when none
    /// may be used;
    /// its error is handed back (the caller then gives the transfer a
    /// socket of its own). Handles of retired sockets are dropped here.
    pub(crate) fn pick<E>(
        &mut self,
        lane: K,
        peer: SocketAddr,
        now: Instant,
        open: impl FnOnce(u64) -> Result<H, E>,
    ) -> Result<(u64, &H), E> {
        self.picks += 1;
        if self.picks.is_multiple_of(SWEEP_EVERY) || self.peers.len() > MAX_PEERS {
            self.sweep(now);
        }
        let avoid = self.peers.get(&peer).map(|m| m.socket);
        let list = self.sockets.entry(lane).or_default();
        list.retain(|s| s.uses < MAX_USES);
        // The least used socket the peer may have; a new one while there is
        // room (two to alternate on), or in place of the oldest when the
        // only one is the socket to avoid.
        let found = (0..list.len())
            .filter(|&i| Some(list[i].id) != avoid)
            .min_by_key(|&i| list[i].uses);
        let at = match found {
            Some(at) if list.len() >= PER_ADDRESS => at,
            _ => {
                let id = self.next_id;
                let handle = open(id)?;
                self.next_id += 1;
                if list.len() >= PER_ADDRESS {
                    list.remove(0);
                }
                list.push(Socket {
                    id,
                    handle,
                    uses: 0,
                });
                list.len() - 1
            }
        };
        let s = &mut list[at];
        s.uses += 1;
        self.peers.insert(
            peer,
            Mark {
                socket: s.id,
                running: true,
                at: now,
            },
        );
        Ok((s.id, &s.handle))
    }

    /// The transfer of `peer` on socket `id` ended at `now`.
    pub(crate) fn finished(&mut self, peer: SocketAddr, id: u64, now: Instant) {
        if let Some(m) = self.peers.get_mut(&peer)
            && m.socket == id
        {
            m.running = false;
            m.at = now;
        }
    }

    /// Forgets the peers whose transfer ended long ago, and every idle one
    /// when too many are remembered.
    fn sweep(&mut self, now: Instant) {
        self.peers
            .retain(|_, m| m.running || now.saturating_duration_since(m.at) < REMEMBER);
        if self.peers.len() > MAX_PEERS {
            self.peers.retain(|_, m| m.running);
        }
    }

    /// Peers remembered (for tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 7], port))
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn pick(t: &mut MuxTable<IpAddr, u32>, p: SocketAddr, now: Instant, opened: &mut u32) -> u64 {
        let (id, _) = t
            .pick(LOCAL, p, now, |_| {
                *opened += 1;
                Ok::<_, ()>(*opened)
            })
            .expect("opened");
        id
    }

    #[test]
    fn a_peer_never_gets_the_socket_of_its_previous_transfer() {
        let mut t = MuxTable::default();
        let now = Instant::now();
        let mut opened = 0;
        let mut last = None;
        for _ in 0..100 {
            let id = pick(&mut t, peer(4000), now, &mut opened);
            assert_ne!(Some(id), last, "the same socket twice in a row");
            t.finished(peer(4000), id, now);
            last = Some(id);
        }
        assert_eq!(opened, PER_ADDRESS as u32, "two sockets to alternate on");
    }

    #[test]
    fn a_running_transfer_keeps_its_peer_off_its_socket() {
        let mut t = MuxTable::default();
        let now = Instant::now();
        let mut opened = 0;
        let first = pick(&mut t, peer(5000), now, &mut opened);
        // The client asks again before the first transfer ended (its
        // request was answered late): the second transfer goes elsewhere.
        let second = pick(&mut t, peer(5000), now, &mut opened);
        assert_ne!(first, second);
    }

    #[test]
    fn other_peers_share_the_sockets() {
        let mut t = MuxTable::default();
        let now = Instant::now();
        let mut opened = 0;
        for port in 1..=500 {
            pick(&mut t, peer(port), now, &mut opened);
        }
        assert_eq!(opened, PER_ADDRESS as u32);
    }

    #[test]
    fn a_socket_is_retired_after_its_uses_and_a_new_port_takes_over() {
        let mut t = MuxTable::default();
        let now = Instant::now();
        let mut opened = 0;
        let mut uses = HashMap::new();
        let picks = 3 * MAX_USES as usize + 10;
        for i in 0..picks {
            let p = peer(u16::try_from(i % 60_000).expect("port") + 1);
            let id = pick(&mut t, p, now, &mut opened);
            t.finished(p, id, now);
            *uses.entry(id).or_insert(0u32) += 1;
        }
        assert!(uses.values().all(|&n| n <= MAX_USES), "{uses:?}");
        assert!(uses.len() >= picks.div_ceil(MAX_USES as usize), "{uses:?}");
        assert_eq!(t.sockets[&LOCAL].len(), PER_ADDRESS);
    }

    #[test]
    fn an_open_error_is_handed_back() {
        let mut t: MuxTable<IpAddr, u32> = MuxTable::default();
        let r = t.pick(LOCAL, peer(1), Instant::now(), |_| Err("no socket"));
        assert_eq!(r.err(), Some("no socket"));
    }

    #[test]
    fn peers_are_forgotten_a_while_after_their_transfer() {
        let mut t = MuxTable::default();
        let start = Instant::now();
        let mut opened = 0;
        for port in 1..=100 {
            let id = pick(&mut t, peer(port), start, &mut opened);
            if port > 10 {
                t.finished(peer(port), id, start);
            }
        }
        t.sweep(start + REMEMBER + Duration::from_secs(1));
        assert_eq!(t.remembered(), 10, "only the running transfers' peers");
    }

    #[test]
    fn each_lane_has_sockets_of_its_own() {
        let mut t: MuxTable<(IpAddr, bool), u32> = MuxTable::default();
        let now = Instant::now();
        let mut opened = 0;
        let mut open = |lane, p| {
            t.pick(lane, p, now, |_| {
                opened += 1;
                Ok::<_, ()>(opened)
            })
            .map(|(id, &h)| (id, h))
            .expect("opened")
        };
        let small = (LOCAL, true);
        let large = (LOCAL, false);
        let mut last = None;
        for port in 1..=50 {
            // One peer going back and forth between the lanes, others
            // filling both.
            let lane = if port % 2 == 0 { small } else { large };
            let (id, _) = open(lane, peer(9000));
            assert_ne!(Some(id), last, "the same socket twice in a row");
            last = Some(id);
            open(small, peer(port));
            open(large, peer(port));
        }
        assert_eq!(opened, 2 * PER_ADDRESS as u32, "two sockets a lane");
        assert_eq!(t.sockets[&small].len(), PER_ADDRESS);
        assert_eq!(t.sockets[&large].len(), PER_ADDRESS);
    }
}
