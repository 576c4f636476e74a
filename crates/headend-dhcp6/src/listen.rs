//! The sockets, and nothing else: one UDP socket per interface (bound to
//! it, joined to All_DHCP_Relay_Agents_and_Servers ff02::1:2), or one on
//! every interface for relayed traffic. Each is read by its own thread,
//! which only queues datagrams (with whether they were sent to a unicast
//! address, from IPV6_PKTINFO) for the worker.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::Dhcp6Error;
use crate::stats::Dhcp6Stats;

/// How often blocked threads look at the stop flag.
pub(crate) const TICK: Duration = Duration::from_millis(200);
/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
pub const ALL_AGENTS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
const DATAGRAM_MAX: usize = 65_536;

/// A datagram received.
pub(crate) struct Job {
    pub(crate) data: Vec<u8>,
    /// Index of the listener it arrived on.
    pub(crate) socket: usize,
    pub(crate) source: SocketAddrV6,
    /// Sent to a unicast address (not a multicast group).
    pub(crate) unicast: bool,
}

/// One socket and its interface.
pub(crate) struct Listener {
    pub(crate) interface: Option<String>,
    socket: UdpSocket,
}

impl Listener {
    fn open(interface: Option<String>, port: u16) -> Result<Self, Dhcp6Error> {
        let err = |action| {
            let interface = interface.clone();
            move |source| Dhcp6Error::Socket {
                action,
                interface,
                source,
            }
        };
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).map_err(err("open"))?;
        s.set_only_v6(true).map_err(err("set IPV6_V6ONLY on"))?;
        s.set_reuse_address(true)
            .map_err(err("set SO_REUSEADDR on"))?;
        let _ = s.set_recv_buffer_size(8 << 20);
        let _ = s.set_send_buffer_size(8 << 20);
        if let Some(i) = &interface {
            s.bind_device(Some(i.as_bytes()))
                .map_err(err("bind to its interface (SO_BINDTODEVICE)"))?;
            let index = nix::net::if_::if_nametoindex(i.as_str())
                .map_err(|e| err("find the interface index of")(std::io::Error::from(e)))?;
            s.join_multicast_v6(&ALL_AGENTS, index)
                .map_err(err("join ff02::1:2 with"))?;
        }
        s.bind(&SocketAddr::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)).into())
            .map_err(err("bind"))?;
        let socket: UdpSocket = s.into();
        setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(|e| err("set IPV6_RECVPKTINFO on")(std::io::Error::from(e)))?;
        socket
            .set_read_timeout(Some(TICK))
            .map_err(err("set a read timeout on"))?;
        Ok(Self { interface, socket })
    }

    /// The interface's name for logs.
    pub(crate) fn name(&self) -> &str {
        self.interface.as_deref().unwrap_or("(all)")
    }

    /// The bound port (for logs and tests).
    pub(crate) fn port(&self) -> Option<u16> {
        self.socket.local_addr().ok().map(|a| a.port())
    }

    /// Reads one datagram, with its destination kind; None on timeout.
    fn recv(&self, index: usize, buf: &mut [u8]) -> std::io::Result<Option<Job>> {
        let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo);
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let r = match recvmsg::<SockaddrIn6>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        ) {
            Ok(r) => r,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let n = r.bytes;
        let Some(source) = r.address.map(SocketAddrV6::from) else {
            return Ok(None);
        };
        let mut unicast = false;
        if let Ok(cmsgs) = r.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::Ipv6PacketInfo(pi) = c {
                    unicast = !Ipv6Addr::from(pi.ipi6_addr.s6_addr).is_multicast();
                }
            }
        }
        let data = iov[0].get(..n).unwrap_or_default().to_vec();
        Ok(Some(Job {
            data,
            socket: index,
            source,
            unicast,
        }))
    }

    /// Sends datagrams with as few system calls as the kernel allows;
    /// `sent[i]` says whether `out[i]` left.
    pub(crate) fn send_many(&self, out: &[(&[u8], SocketAddr)], sent: &mut Vec<bool>) {
        headend_util::net::send_many(&self.socket, out, sent);
    }
}

/// Opens one listener per interface (one on every interface when none).
pub(crate) fn open_all(interfaces: &[String], port: u16) -> Result<Vec<Listener>, Dhcp6Error> {
    if interfaces.is_empty() {
        return Ok(vec![Listener::open(None, port)?]);
    }
    interfaces
        .iter()
        .map(|i| Listener::open(Some(i.clone()), port))
        .collect()
}

/// Starts a named thread.
pub(crate) fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), Dhcp6Error> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map(|_| ())
        .map_err(|source| Dhcp6Error::Thread {
            name: name.to_owned(),
            source,
        })
}

/// Starts one reader thread per listener; returns the worker's queue.
pub(crate) fn start_readers(
    listeners: &Arc<Vec<Listener>>,
    depth: usize,
    stop: &Arc<AtomicBool>,
    stats: &Arc<Dhcp6Stats>,
) -> Result<Receiver<Job>, Dhcp6Error> {
    let (tx, rx) = sync_channel(depth);
    for i in 0..listeners.len() {
        let (listeners, stop, stats, tx) = (
            Arc::clone(listeners),
            Arc::clone(stop),
            Arc::clone(stats),
            tx.clone(),
        );
        let name = format!("dhcp6-rx-{i}");
        spawn(&name, move || read_loop(&listeners, i, &stop, &stats, &tx))?;
    }
    Ok(rx)
}

fn read_loop(
    listeners: &[Listener],
    index: usize,
    stop: &AtomicBool,
    stats: &Dhcp6Stats,
    tx: &SyncSender<Job>,
) {
    let Some(l) = listeners.get(index) else {
        return;
    };
    let mut buf = vec![0u8; DATAGRAM_MAX];
    while !stop.load(Ordering::Relaxed) {
        match l.recv(index, &mut buf) {
            Ok(Some(job)) => match tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    stats.queue_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => return,
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(interface = l.name(), "DHCPv6 receive failed: {e}");
                std::thread::sleep(TICK);
            }
        }
    }
}
