//! Thin UDP and TCP listeners around the responder.
//!
//! UDP: one OS thread per socket (several sockets share a port with
//! SO_REUSEPORT), each with its own answer cache, receiving and sending in
//! batches (`recvmmsg`/`sendmmsg`): no task per packet, no allocation per
//! cached answer. TCP: tokio tasks,
//! bounded in total and per client, closed when idle.

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd as _, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::answer::{Catalog, Transport};
use crate::fast::AnswerCache;
use crate::rrl::{ResponseKind, Rrl, RrlAction, truncate_to_question};
use crate::xfr::Transfers;
use crate::{DnsConfig, DnsError};

/// Counters of the DNS listeners (read by the admin API's /metrics).
#[derive(Debug, Default)]
pub struct DnsStats {
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    rrl_dropped: AtomicU64,
    rrl_slipped: AtomicU64,
    tcp_refused: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DnsStatsSnapshot {
    /// UDP requests received.
    pub udp_queries: u64,
    /// TCP requests received.
    pub tcp_queries: u64,
    /// Responses dropped by response rate limiting.
    pub rrl_dropped: u64,
    /// Responses sent truncated (TC=1) by response rate limiting.
    pub rrl_slipped: u64,
    /// TCP connections closed at once because a client had too many.
    pub tcp_refused: u64,
}

impl DnsStats {
    /// The counters now.
    pub fn snapshot(&self) -> DnsStatsSnapshot {
        DnsStatsSnapshot {
            udp_queries: self.udp_queries.load(Ordering::Relaxed),
            tcp_queries: self.tcp_queries.load(Ordering::Relaxed),
            rrl_dropped: self.rrl_dropped.load(Ordering::Relaxed),
            rrl_slipped: self.rrl_slipped.load(Ordering::Relaxed),
            tcp_refused: self.tcp_refused.load(Ordering::Relaxed),
        }
    }
}

/// Everything the listeners share.
pub(crate) struct Listeners {
    pub(crate) tasks: Vec<JoinHandle<()>>,
    pub(crate) bound: Vec<SocketAddr>,
    pub(crate) stop: Arc<AtomicBool>,
}

/// Binds every configured address (UDP and TCP) and starts the listeners.
pub(crate) fn spawn_listeners(
    config: &DnsConfig,
    catalog: Arc<ArcSwap<Catalog>>,
    stats: Arc<DnsStats>,
    transfers: Arc<Transfers>,
) -> Result<Listeners, DnsError> {
    let mut tasks = Vec::new();
    let mut bound = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let rrl = Rrl::new(config.rrl.clone()).map(|r| Arc::new(Mutex::new(r)));
    let tcp = Arc::new(TcpLimits {
        total: Arc::new(Semaphore::new(config.tcp_max_connections.max(1))),
        per_client: Mutex::new(HashMap::new()),
        per_client_max: config.tcp_max_connections_per_client.max(1),
        idle: Duration::from_secs(config.tcp_idle_timeout_secs.max(1)),
    });
    for &configured in &config.listen {
        let workers = if configured.port() == 0 {
            1
        } else {
            config.udp_workers.max(1)
        };
        let mut addr = configured;
        for _ in 0..workers {
            let socket = udp_socket(addr, workers > 1).map_err(|source| DnsError::Bind {
                addr,
                proto: "udp",
                source,
            })?;
            // With port 0 the TCP listener takes the port UDP got.
            addr = socket.local_addr().unwrap_or(addr);
            bound.push(addr);
            let worker = UdpWorker {
                socket,
                catalog: Arc::clone(&catalog),
                transfers: Arc::clone(&transfers),
                rrl: rrl.clone(),
                stats: Arc::clone(&stats),
                stop: Arc::clone(&stop),
            };
            std::thread::Builder::new()
                .name(format!("dns-udp-{addr}"))
                .spawn(move || worker.run())
                .map_err(|source| DnsError::Bind {
                    addr,
                    proto: "udp",
                    source,
                })?;
        }
        let listener = tcp_listener(addr).map_err(|source| DnsError::Bind {
            addr,
            proto: "tcp",
            source,
        })?;
        tasks.push(tokio::spawn(serve_tcp(
            listener,
            Arc::clone(&catalog),
            Arc::clone(&tcp),
            Arc::clone(&stats),
            Arc::clone(&transfers),
        )));
    }
    Ok(Listeners { tasks, bound, stop })
}

fn udp_socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    // A burst of queries should queue in the kernel, not be dropped.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    // Wake up now and then to notice a stop request.
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    Ok(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

struct UdpWorker {
    socket: std::net::UdpSocket,
    catalog: Arc<ArcSwap<Catalog>>,
    transfers: Arc<Transfers>,
    rrl: Option<Arc<Mutex<Rrl>>>,
    stats: Arc<DnsStats>,
    stop: Arc<AtomicBool>,
}

/// Datagrams taken from the kernel (and answers given back) in one system call.
const BATCH: usize = 32;
/// Room for one request: the largest UDP payload.
const SLOT: usize = 65535;

impl UdpWorker {
    /// Receives up to [`BATCH`] queries with one `recvmmsg` (waiting only for
    /// the first), answers each, and sends the answers with one `sendmmsg`.
    fn run(self) {
        let fd = self.socket.as_raw_fd();
        let mut cache = AnswerCache::default();
        let mut slots = vec![0u8; BATCH * SLOT];
        let mut received = [Received::default(); BATCH];
        let mut answers: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(4096)).collect();
        let mut to = [None; BATCH];
        let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        while !self.stop.load(Ordering::Relaxed) {
            // Timeouts (to check `stop`) and ICMP errors from earlier sends.
            let Ok(count) = recv_batch(fd, &mut recv_headers, &mut slots, &mut received) else {
                continue;
            };
            self.stats
                .udp_queries
                .fetch_add(count as u64, Ordering::Relaxed);
            let catalog = self.catalog.load();
            let mut ready = 0;
            for (got, slot) in received[..count].iter().zip(slots.chunks_exact(SLOT)) {
                let (Some(peer), Some(request)) = (got.peer, slot.get(..got.len)) else {
                    continue; // no address, or larger than any UDP payload
                };
                let Some(ip) = peer_ip(&peer) else {
                    continue;
                };
                let Some(out) = answers.get_mut(ready) else {
                    break;
                };
                // A bug in answering one query must not take the listener
                // down with it: that query goes unanswered, is logged, and
                // the cache (perhaps left half-updated) starts afresh.
                let answered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    self.answer(&catalog, &mut cache, request, ip, out)
                }));
                match answered {
                    Ok(true) => {
                        to[ready] = Some(peer);
                        ready += 1;
                    }
                    Ok(false) => {}
                    Err(_) => {
                        tracing::error!(
                            peer = %ip,
                            query = %hex::encode(request),
                            "internal error answering a UDP query; it was dropped"
                        );
                        cache = AnswerCache::default();
                    }
                }
            }
            drop(catalog);
            send_batch(fd, &mut send_headers, &answers[..ready], &to[..ready]);
        }
    }

    /// Answers one request into `out`; false when nothing is to be sent.
    fn answer(
        &self,
        catalog: &Catalog,
        cache: &mut AnswerCache,
        request: &[u8],
        peer: IpAddr,
        out: &mut Vec<u8>,
    ) -> bool {
        // IXFR over UDP (RFC 1995 §2) is the transfer code's, with its
        // ACL and TSIG checks; everything else is answered from the cache.
        // An IXFR carries the client's SOA in its authority section, so a
        // query without one (nearly all) is passed on after one look at
        // the header.
        let ixfr = (request.get(8..10).is_some_and(|ns| ns != [0, 0])
            && crate::xfr::is_transfer(request))
        .then(|| {
            self.transfers.respond_udp(
                catalog,
                request,
                peer,
                u64::try_from(crate::dnssec::unix_now()).unwrap_or(0),
            )
        })
        .flatten();
        if let Some(reply) = ixfr {
            out.clear();
            out.extend_from_slice(&reply);
        } else if !cache.respond(catalog, request, Transport::Udp, out) {
            return false;
        }
        if let Some(rrl) = &self.rrl {
            let action = rrl
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .check(peer, ResponseKind::of(out), Instant::now());
            match action {
                RrlAction::Send => {}
                RrlAction::Slip => {
                    self.stats.rrl_slipped.fetch_add(1, Ordering::Relaxed);
                    truncate_to_question(out);
                }
                RrlAction::Drop => {
                    self.stats.rrl_dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
        true
    }
}

/// One datagram taken by [`recv_batch`].
#[derive(Debug, Clone, Copy, Default)]
struct Received {
    /// Its length in its slot; `usize::MAX` when the kernel cut it short.
    len: usize,
    /// Who sent it.
    peer: Option<SockaddrStorage>,
}

/// Takes up to [`BATCH`] datagrams into `slots` (one [`SLOT`] each), blocking
/// until the first arrives (or the socket's read timeout passes).
fn recv_batch(
    fd: RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    slots: &mut [u8],
    received: &mut [Received; BATCH],
) -> nix::Result<usize> {
    let mut chunks = slots.chunks_exact_mut(SLOT);
    let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
        std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
    let results = recvmmsg(fd, headers, &mut iovs, MsgFlags::MSG_WAITFORONE, None)?;
    let mut count = 0;
    for (msg, slot) in results.zip(received.iter_mut()) {
        slot.len = if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            usize::MAX
        } else {
            msg.bytes
        };
        slot.peer = msg.address;
        count += 1;
    }
    Ok(count)
}

/// Sends each answer to its peer, as few `sendmmsg` calls as the kernel
/// allows. An answer the kernel refuses (an unreachable peer, a full buffer)
/// is dropped, as a lost datagram would be.
fn send_batch(
    fd: RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    answers: &[Vec<u8>],
    to: &[Option<SockaddrStorage>],
) {
    let mut start = 0;
    while start < answers.len() {
        let pending = &answers[start..];
        let iovs: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(pending.get(i).map_or(&[][..], Vec::as_slice))]);
        let count = pending.len().min(BATCH);
        let no_cmsgs: [ControlMessage<'_>; 0] = [];
        match sendmmsg(
            fd,
            headers,
            &iovs[..count],
            &to[start..start + count],
            no_cmsgs,
            MsgFlags::empty(),
        ) {
            Ok(sent) => start += sent.count().max(1),
            Err(Errno::EINTR) => {}
            Err(e) => {
                tracing::debug!("udp send failed: {e}");
                start += 1;
            }
        }
    }
}

/// The IP address of a datagram's sender.
fn peer_ip(peer: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = peer.as_sockaddr_in() {
        Some(IpAddr::V4(v4.ip()))
    } else {
        peer.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
    }
}

struct TcpLimits {
    total: Arc<Semaphore>,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    per_client_max: usize,
    idle: Duration,
}

impl TcpLimits {
    fn enter(&self, ip: IpAddr) -> bool {
        let mut map = self
            .per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_client_max {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, ip: IpAddr) {
        let mut map = self
            .per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    catalog: Arc<ArcSwap<Catalog>>,
    limits: Arc<TcpLimits>,
    stats: Arc<DnsStats>,
    transfers: Arc<Transfers>,
) {
    loop {
        // Bounded: at most tcp_max_connections are served at once; the rest
        // wait in the kernel's backlog.
        let Ok(permit) = Arc::clone(&limits.total).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("tcp accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !limits.enter(peer.ip()) {
            stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let catalog = Arc::clone(&catalog);
        let limits = Arc::clone(&limits);
        let stats = Arc::clone(&stats);
        let transfers = Arc::clone(&transfers);
        tokio::spawn(async move {
            let conn = TcpConn {
                catalog: &catalog,
                idle: limits.idle,
                stats: &stats,
                transfers: &transfers,
                peer,
            };
            if let Err(e) = serve_tcp_connection(stream, conn).await {
                tracing::debug!("tcp connection from {peer}: {e}");
            }
            limits.leave(peer.ip());
            drop(permit);
        });
    }
}

/// What one TCP connection needs.
struct TcpConn<'a> {
    catalog: &'a ArcSwap<Catalog>,
    idle: Duration,
    stats: &'a DnsStats,
    transfers: &'a Arc<Transfers>,
    peer: SocketAddr,
}

/// RFC 1035 §4.2.2 / RFC 7766: two-byte length-prefixed messages, several per
/// connection and pipelined (every complete request in a read is answered,
/// and the answers go out in one write), closed after `idle` without a request.
/// Zone transfers (AXFR, IXFR) are answered in as many messages as needed
/// (RFC 5936 §2.2).
async fn serve_tcp_connection(mut stream: TcpStream, conn: TcpConn<'_>) -> std::io::Result<()> {
    let &TcpConn {
        catalog,
        idle,
        stats,
        ..
    } = &conn;
    let _ = stream.set_nodelay(true);
    let mut inbuf = vec![0u8; 2 * 65537];
    let mut filled = 0;
    let mut out = Vec::with_capacity(16384);
    let mut body = Vec::with_capacity(4096);
    let mut cache = AnswerCache::with_capacity(256);
    loop {
        let mut start = 0;
        out.clear();
        while let Some(len) = inbuf
            .get(start..start + 2)
            .filter(|_| start + 2 <= filled)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        {
            if filled - start - 2 < len {
                break;
            }
            let request = &inbuf[start + 2..start + 2 + len];
            start += 2 + len;
            stats.tcp_queries.fetch_add(1, Ordering::Relaxed);
            if crate::xfr::is_transfer(request) {
                // Answers to earlier pipelined requests go first.
                write_within(&mut stream, &out, idle).await?;
                out.clear();
                write_transfer(&mut stream, &conn, request).await?;
                continue;
            }
            if !cache.respond(&catalog.load(), request, Transport::Tcp, &mut body) {
                continue;
            }
            let Ok(rlen) = u16::try_from(body.len()) else {
                continue;
            };
            out.extend_from_slice(&rlen.to_be_bytes());
            out.extend_from_slice(&body);
            // Many pipelined requests for large answers: send what is
            // ready rather than let the buffer grow with them.
            if out.len() >= TCP_FLUSH {
                write_within(&mut stream, &out, idle).await?;
                out.clear();
            }
        }
        if !out.is_empty() {
            write_within(&mut stream, &out, idle).await?;
        }
        inbuf.copy_within(start..filled, 0);
        filled -= start;
        let n = match tokio::time::timeout(idle, stream.read(&mut inbuf[filled..])).await {
            Err(_) => return Ok(()),
            Ok(r) => r?,
        };
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
}

/// Answers waiting in one TCP connection's buffer before they are written.
const TCP_FLUSH: usize = 64 * 1024;

/// Writes `bytes`, giving up (and so closing the connection) when the client
/// has not taken them within `limit`: a client that stops reading cannot
/// hold a connection (and its slot) forever.
async fn write_within(
    stream: &mut TcpStream,
    bytes: &[u8],
    limit: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(limit, stream.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "client did not read its answers",
        )),
    }
}

/// Answers one AXFR/IXFR request with its messages, each length-prefixed;
/// each message must be taken by the client within the idle timeout.
async fn write_transfer(
    stream: &mut TcpStream,
    conn: &TcpConn<'_>,
    request: &[u8],
) -> std::io::Result<()> {
    let (peer, catalog) = (conn.peer, conn.catalog.load_full());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Building a large zone's messages is CPU work: off the async workers.
    let transfers = Arc::clone(conn.transfers);
    let request = request.to_vec();
    let messages =
        tokio::task::spawn_blocking(move || transfers.respond(&catalog, &request, peer.ip(), now))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
    let mut batch = Vec::with_capacity(65536 + 2);
    for message in messages {
        let Ok(len) = u16::try_from(message.len()) else {
            break;
        };
        batch.extend_from_slice(&len.to_be_bytes());
        batch.extend_from_slice(&message);
        write_within(stream, &batch, conn.idle).await?;
        batch.clear();
    }
    Ok(())
}
