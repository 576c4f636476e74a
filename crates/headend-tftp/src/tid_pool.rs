//! Transfer sockets kept for reuse. Each transfer needs a port of its own
//! (its TID, RFC 1350 §4), and opening, registering and closing a socket per
//! transfer was 15 % of the server's CPU on small files. A finished
//! transfer's socket is drained and kept here for the next one, with two
//! rules that keep what the TID is for:
//!
//! - a socket is never handed to the peer (address and port) it last served,
//!   so a late duplicate of an old transfer's ACK can never be taken for the
//!   new transfer's: it comes from a TID the new transfer does not know and
//!   gets ERROR 5, as RFC 1350 says;
//! - a socket serves at most [`MAX_USES`] transfers and the pool holds at most
//!   [`MAX_KEPT`], so ports keep changing as the kernel picks new ones.
//!
//! Sans-I/O: generic over what is kept, so the rules are tested without sockets.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

/// Transfers one socket may serve before it is closed.
pub(crate) const MAX_USES: u32 = 64;
/// Sockets kept at most (beyond that a finished transfer's socket is closed).
pub(crate) const MAX_KEPT: usize = 256;
/// How far from the newest a taker looks for a socket it may use.
const SEARCH: usize = 8;

struct Kept<T> {
    item: T,
    local: IpAddr,
    last_peer: SocketAddr,
    uses: u32,
}

/// Finished transfers' sockets, newest last.
pub(crate) struct TidPool<T> {
    kept: Mutex<Vec<Kept<T>>>,
}

impl<T> Default for TidPool<T> {
    fn default() -> Self {
        Self {
            kept: Mutex::new(Vec::new()),
        }
    }
}

impl<T> TidPool<T> {
    /// A kept socket bound to `local` that did not last serve `peer`, with
    /// the number of transfers it has served; `None` when there is none.
    pub(crate) fn take(&self, local: IpAddr, peer: SocketAddr) -> Option<(T, u32)> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let len = kept.len();
        let at = (len.saturating_sub(SEARCH)..len)
            .rev()
            .find(|&i| kept[i].local == local && kept[i].last_peer != peer)?;
        let k = kept.swap_remove(at);
        Some((k.item, k.uses))
    }

    /// Keeps a finished transfer's socket (bound to `local`, last used for
    /// `peer`, `uses` transfers so far); gives it back when it has served
    /// its share or the pool is full, for the caller to close.
    pub(crate) fn give(&self, item: T, local: IpAddr, peer: SocketAddr, uses: u32) -> Option<T> {
        if uses >= MAX_USES {
            return Some(item);
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= MAX_KEPT {
            return Some(item);
        }
        kept.push(Kept {
            item,
            local,
            last_peer: peer,
            uses,
        });
        None
    }

    /// Sockets kept now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept.lock().map(|k| k.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const LOCAL: &str = "127.0.0.1";

    #[test]
    fn a_socket_never_goes_back_to_the_peer_it_last_served() {
        let pool = TidPool::default();
        let local: IpAddr = LOCAL.parse().unwrap();
        assert!(pool.give("a", local, addr("10.0.0.1:1000"), 1).is_none());
        assert_eq!(pool.take(local, addr("10.0.0.1:1000")), None);
        // Another port of the same host is another TID.
        assert_eq!(pool.take(local, addr("10.0.0.1:1001")), Some(("a", 1)));
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn a_socket_bound_elsewhere_is_not_handed_out() {
        let pool = TidPool::default();
        assert!(
            pool.give("v6", "::1".parse().unwrap(), addr("[::1]:9"), 1)
                .is_none()
        );
        assert_eq!(pool.take(LOCAL.parse().unwrap(), addr("10.0.0.1:1")), None);
        assert_eq!(
            pool.take("::1".parse().unwrap(), addr("[::1]:10")),
            Some(("v6", 1))
        );
    }

    #[test]
    fn worn_sockets_and_those_beyond_the_cap_are_handed_back_to_close() {
        let pool = TidPool::default();
        let local: IpAddr = LOCAL.parse().unwrap();
        assert_eq!(pool.give(7, local, addr("10.0.0.1:1"), MAX_USES), Some(7));
        for i in 0..MAX_KEPT {
            assert!(pool.give(i, local, addr("10.0.0.1:1"), 1).is_none());
        }
        assert_eq!(pool.give(9999, local, addr("10.0.0.1:1"), 1), Some(9999));
        assert_eq!(pool.len(), MAX_KEPT);
    }

    #[test]
    fn the_newest_usable_socket_is_taken_first() {
        let pool = TidPool::default();
        let local: IpAddr = LOCAL.parse().unwrap();
        assert!(pool.give("old", local, addr("10.0.0.2:5"), 3).is_none());
        assert!(pool.give("new", local, addr("10.0.0.1:5"), 2).is_none());
        // "new" last served this peer: the older one is used instead.
        assert_eq!(pool.take(local, addr("10.0.0.1:5")), Some(("old", 3)));
        assert_eq!(pool.take(local, addr("10.0.0.3:5")), Some(("new", 2)));
    }
}
