//! UDP sending in batches, and the remedy to add to a socket error, only
//! when it is its cause.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

/// Sends datagrams on `socket` with as few `sendmmsg` calls as the kernel
/// allows (one system call per 64 rather than one each); afterwards
/// `sent[i]` says whether `out[i]` left. A datagram the kernel refuses (an
/// unreachable peer, a full buffer on a non-blocking socket) is skipped and
/// the rest still go, as they would one `send_to` at a time.
pub fn send_many(socket: &impl AsRawFd, out: &[(&[u8], SocketAddr)], sent: &mut Vec<bool>) {
    sent.clear();
    let mut start = 0;
    while let Some(rest) = out.get(start..).filter(|r| !r.is_empty()) {
        match send_some(socket, rest) {
            Ok(n) => {
                sent.extend(std::iter::repeat_n(true, n));
                start += n;
            }
            Err(_) => {
                sent.push(false);
                start += 1;
            }
        }
    }
}

/// One `sendmmsg` of the first datagrams of `out` (at most 64): how many
/// left, at least one. The error is the first datagram's: `WouldBlock` when
/// a non-blocking socket's send buffer is full (the caller waits until it
/// is writable and sends the rest), any other one refuses that datagram
/// alone.
pub fn send_some(socket: &impl AsRawFd, out: &[(&[u8], SocketAddr)]) -> std::io::Result<usize> {
    const CHUNK: usize = 64;
    let pending = &out[..out.len().min(CHUNK)];
    if pending.is_empty() {
        return Ok(0);
    }
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(pending.len(), None);
    let iovs: Vec<[IoSlice<'_>; 1]> = pending.iter().map(|(b, _)| [IoSlice::new(b)]).collect();
    let to: Vec<Option<SockaddrStorage>> = pending
        .iter()
        .map(|(_, a)| Some(SockaddrStorage::from(*a)))
        .collect();
    let no_cmsgs: [ControlMessage<'_>; 0] = [];
    loop {
        match sendmmsg(
            socket.as_raw_fd(),
            &mut headers,
            &iovs,
            &to,
            no_cmsgs,
            MsgFlags::empty(),
        ) {
            Ok(done) => return Ok(done.count().clamp(1, pending.len())),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(std::io::Error::from(e)),
        }
    }
}

/// The largest UDP payload whose IPv4 datagram fits the smallest path MTU
/// Linux ever uses (`net.ipv4.route.min_pmtu`, 552 bytes, less 28 bytes of
/// IP and UDP header): see [`set_dont_fragment`].
pub const UNFRAGMENTED_PAYLOAD: usize = 552 - 28;

/// Sends every IPv4 datagram of `socket` with Don't Fragment set and never
/// fragments one on this host (`IP_PMTUDISC_DO`).
///
/// For a socket whose datagrams all carry at most [`UNFRAGMENTED_PAYLOAD`]
/// bytes this changes nothing on the wire: by default (`IP_PMTUDISC_WANT`)
/// Linux already sets DF on every datagram that fits the route's MTU. What
/// it changes is the IP ID: a datagram that may still be fragmented on this
/// host gets an ID from a keyed hash and a shared counter, one per datagram;
/// with DF enforced the kernel sends 0, which RFC 6864 §4.1 allows for an
/// atomic datagram (DF set, never fragmented). A larger datagram than the
/// path takes would fail with `EMSGSIZE` instead of leaving in fragments,
/// which is why the caller keeps such sockets for small datagrams.
pub fn set_dont_fragment(socket: &impl AsFd) -> std::io::Result<()> {
    use rustix::net::sockopt::{Ipv4PathMtuDiscovery, set_ip_mtu_discover};
    set_ip_mtu_discover(socket, Ipv4PathMtuDiscovery::DO).map_err(std::io::Error::from)
}

/// `" (ports below 1024 need root or CAP_NET_BIND_SERVICE)"` when binding
/// `port` was refused for lack of privilege, `" (another server holds the
/// port: stop it)"` when the port is taken, else nothing: a hint that names
/// the wrong cause sends the operator the wrong way.
pub fn bind_hint(port: u16, e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied if port < 1024 => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        }
        std::io::ErrorKind::AddrInUse => " (another server holds the port: stop it)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::{UNFRAGMENTED_PAYLOAD, bind_hint, send_many, send_some, set_dont_fragment};
    use std::io::{Error, ErrorKind};
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn send_many_delivers_every_datagram_in_order_and_skips_a_refused_one() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        // 150 datagrams: three sendmmsg chunks; one to port 0 is refused.
        let bodies: Vec<Vec<u8>> = (0..150u8).map(|i| vec![i; 1 + usize::from(i)]).collect();
        let mut out: Vec<(&[u8], std::net::SocketAddr)> =
            bodies.iter().map(|b| (b.as_slice(), to)).collect();
        let refused = "127.0.0.1:0".parse().unwrap();
        out.insert(70, (b"x", refused));
        let mut sent = Vec::new();
        send_many(&tx, &out, &mut sent);
        assert_eq!(sent.len(), out.len());
        assert!(!sent[70], "a datagram to port 0 cannot leave");
        assert_eq!(sent.iter().filter(|s| **s).count(), 150);
        let mut buf = [0u8; 512];
        for want in &bodies {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want.as_slice());
        }
    }

    #[test]
    fn send_some_sends_one_chunk_and_names_the_first_datagrams_error() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let bodies: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 3]).collect();
        let out: Vec<(&[u8], std::net::SocketAddr)> =
            bodies.iter().map(|b| (b.as_slice(), to)).collect();
        assert_eq!(send_some(&tx, &out).unwrap(), 64, "one chunk per call");
        assert_eq!(send_some(&tx, &out[64..]).unwrap(), 36);
        assert_eq!(send_some(&tx, &[]).unwrap(), 0);
        let mut buf = [0u8; 16];
        for want in &bodies {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want.as_slice());
        }
        let refused = "127.0.0.1:0".parse().unwrap();
        let first_bad = [(&b"x"[..], refused), (&b"y"[..], to)];
        assert!(send_some(&tx, &first_bad).is_err());
        assert_eq!(send_some(&tx, &first_bad[1..]).unwrap(), 1);
    }

    #[test]
    fn the_privilege_hint_appears_only_when_it_is_the_cause() {
        let denied = Error::from(ErrorKind::PermissionDenied);
        assert!(bind_hint(69, &denied).contains("CAP_NET_BIND_SERVICE"));
        assert_eq!(bind_hint(6969, &denied), "");
        let in_use = Error::from(ErrorKind::AddrInUse);
        assert!(
            !bind_hint(69, &in_use).contains("root"),
            "in use is not privilege"
        );
        assert!(bind_hint(69, &in_use).contains("another server"));
        assert_eq!(bind_hint(69, &Error::from(ErrorKind::AddrNotAvailable)), "");
    }

    #[test]
    fn a_dont_fragment_socket_has_df_enforced_and_sends_the_largest_small_datagram() {
        use rustix::net::sockopt::{Ipv4PathMtuDiscovery, ip_mtu_discover};
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(ip_mtu_discover(&tx).unwrap(), Ipv4PathMtuDiscovery::WANT);
        set_dont_fragment(&tx).unwrap();
        assert_eq!(ip_mtu_discover(&tx).unwrap(), Ipv4PathMtuDiscovery::DO);
        let small = vec![7u8; UNFRAGMENTED_PAYLOAD];
        tx.send_to(&small, rx.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 2048];
        assert_eq!(rx.recv(&mut buf).unwrap(), UNFRAGMENTED_PAYLOAD);
    }
}
