//! The UDP and TCP listeners: sockets only.
//!
//! UDP: one OS thread per socket (several sockets share a port with
//! SO_REUSEPORT), each with its own answer cache and its own share of
//! response rate limiting, receiving and sending in batches
//! (`recvmmsg`/`sendmmsg`): no task per packet, no allocation per cached
//! answer, no lock. TCP: tokio tasks, bounded in total and per client
//! (the connection idle longest makes room for a new one), closed when
//! idle, when a message takes too long to arrive, and at the end of their
//! lifetime. Every request goes to [`respond`], which decides what
//! it is and what to send; the loops here move bytes and act on its
//! [`Verdict`].

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd as _, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::answer::{Catalog, Transport};
use crate::fast::AnswerCache;
use crate::respond::{Now, Served, Verdict, Worker, respond, transfer};
use crate::rrl::{Rrl, RrlConfig};
use crate::stats::{DnsStats, TransferKind};
use crate::tcp_table::{Admit, ConnId, TcpTable};
use crate::update::{Pending, Queue, ReplyTo};
use crate::xfr::Transfers;
use crate::{DnsConfig, DnsError};

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
    updates: Queue,
) -> Result<Listeners, DnsError> {
    let mut tasks = Vec::new();
    let mut bound = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let tcp = Arc::new(TcpLimits {
        conns: Mutex::new(Conns {
            table: TcpTable::new(
                config.tcp_max_connections,
                config.tcp_max_connections_per_client,
            ),
            closers: HashMap::new(),
        }),
        freed: Notify::new(),
        idle: Duration::from_secs(config.tcp_idle_timeout_secs.max(1)),
        io: Duration::from_millis(config.tcp_io_timeout_ms.max(1)),
        lifetime: Duration::from_secs(config.tcp_lifetime_secs.max(1)),
    });
    let workers_at = |addr: &SocketAddr| {
        if addr.port() == 0 {
            1
        } else {
            config.udp_workers.max(1)
        }
    };
    // A source reaches every UDP socket of its address family: its rate is
    // divided between all of them (see crate::rrl).
    let sharing = |family_v4: bool| -> usize {
        config
            .listen
            .iter()
            .filter(|a| a.is_ipv4() == family_v4)
            .map(workers_at)
            .sum()
    };
    for &configured in &config.listen {
        let workers = workers_at(&configured);
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
                rrl: config.rrl.clone(),
                rrl_shares: sharing(configured.is_ipv4()),
                stats: Arc::clone(&stats),
                stop: Arc::clone(&stop),
                updates: updates.clone(),
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
            updates.clone(),
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
    rrl: RrlConfig,
    /// The UDP workers the rate limit is divided between.
    rrl_shares: usize,
    stats: Arc<DnsStats>,
    stop: Arc<AtomicBool>,
    updates: Queue,
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
        let mut worker = Worker {
            cache: AnswerCache::default(),
            rrl: Rrl::share(self.rrl.clone(), self.rrl_shares),
        };
        let mut slots = vec![0u8; BATCH * SLOT];
        let mut received = [Received::default(); BATCH];
        let mut answers: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(4096)).collect();
        let mut to = [None; BATCH];
        let mut tally = crate::stats::DnsTally::default();
        let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        // UPDATEs are answered by the update thread, from this socket.
        let reply_socket = self.socket.try_clone().ok().map(Arc::new);
        while !self.stop.load(Ordering::Relaxed) {
            // Timeouts (to check `stop`) and ICMP errors from earlier sends.
            let Ok(count) = recv_batch(fd, &mut recv_headers, &mut slots, &mut received) else {
                // Idle (or an ICMP error): let go of the zones a reload replaced.
                worker.cache.forget_stale(&self.catalog.load());
                continue;
            };
            self.stats.udp_received(count);
            let catalog = self.catalog.load();
            let served = Served {
                catalog: &catalog,
                transfers: &self.transfers,
            };
            // One batch arrived at one moment.
            let now = Now::read();
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
                let verdict = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    respond(served, request, ip, Transport::Udp, now, &mut worker, out)
                }));
                match verdict {
                    Ok(verdict @ (Verdict::Send | Verdict::Slip)) => {
                        self.stats.verdict(verdict);
                        tally.response(out, &catalog, worker.cache.last_zone());
                        to[ready] = Some(peer);
                        ready += 1;
                    }
                    Ok(Verdict::Update) => {
                        if let (Some(socket), Some(addr)) = (&reply_socket, socket_addr(&peer)) {
                            let _ = self.updates.try_send(Pending {
                                request: request.to_vec(),
                                peer: addr,
                                reply: ReplyTo::Udp(Arc::clone(socket)),
                            });
                        }
                    }
                    Ok(verdict) => self.stats.verdict(verdict),
                    Err(_) => {
                        tracing::error!(
                            peer = %ip,
                            query = %hex::encode(request),
                            "internal error answering a UDP query; it was dropped"
                        );
                        worker.cache = AnswerCache::default();
                    }
                }
            }
            drop(catalog);
            send_batch(fd, &mut send_headers, &answers[..ready], &to[..ready]);
            tally.fast_path(worker.cache.take_counts());
            self.stats.merge(&mut tally);
        }
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
fn socket_addr(peer: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = peer.as_sockaddr_in() {
        Some(SocketAddr::from((v4.ip(), v4.port())))
    } else {
        peer.as_sockaddr_in6()
            .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
    }
}

fn peer_ip(peer: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = peer.as_sockaddr_in() {
        Some(IpAddr::V4(v4.ip()))
    } else {
        peer.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
    }
}

/// The TCP listeners' limits and the table of open connections.
struct TcpLimits {
    conns: Mutex<Conns>,
    /// Signalled whenever a connection closes (for an accept waiting on a
    /// table where every connection is busy).
    freed: Notify,
    /// Longest wait for the first byte of the next request.
    idle: Duration,
    /// Longest time one message (length and body) may take to arrive, and
    /// an answer to be taken by the client.
    io: Duration,
    /// Longest life of one connection.
    lifetime: Duration,
}

/// The table, with the signal that closes each connection.
struct Conns {
    table: TcpTable,
    closers: HashMap<ConnId, Arc<Notify>>,
}

impl TcpLimits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Conns> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the table about a connection from `ip`; a connection taken gets
    /// its close signal, and an evicted one is signalled.
    fn admit(&self, ip: IpAddr) -> (Admit, Option<Arc<Notify>>) {
        let mut conns = self.lock();
        let admit = conns.table.admit(ip, Instant::now());
        let id = match admit {
            Admit::Taken(id) => id,
            Admit::Evict { id, victim } => {
                if let Some(closer) = conns.closers.get(&victim) {
                    // Stored if the victim is not waiting on it right now.
                    closer.notify_one();
                }
                id
            }
            Admit::ClientFull | Admit::Full => return (admit, None),
        };
        let closer = Arc::new(Notify::new());
        conns.closers.insert(id, Arc::clone(&closer));
        (admit, Some(closer))
    }

    fn request(&self, id: ConnId) {
        self.lock().table.request(id, Instant::now());
    }

    fn answered(&self, id: ConnId) {
        self.lock().table.answered(id);
    }

    fn leave(&self, id: ConnId) {
        {
            let mut conns = self.lock();
            conns.table.leave(id);
            conns.closers.remove(&id);
        }
        self.freed.notify_one();
    }
}

async fn serve_tcp(
    listener: TcpListener,
    catalog: Arc<ArcSwap<Catalog>>,
    limits: Arc<TcpLimits>,
    stats: Arc<DnsStats>,
    transfers: Arc<Transfers>,
    updates: Queue,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("tcp accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Bounded: at most tcp_max_connections are open at once; when the
        // table is full the connection idle longest makes room (see
        // crate::tcp_table), and only when every one is busy answering does
        // this one wait.
        let (id, closer) = loop {
            match limits.admit(peer.ip()) {
                (Admit::Taken(id), Some(closer)) => break (Some(id), closer),
                (Admit::Evict { id, victim }, Some(closer)) => {
                    tracing::debug!(%peer, victim, "tcp table full: closing the connection idle longest");
                    stats.tcp_evicted();
                    break (Some(id), closer);
                }
                (Admit::Full, _) => limits.freed.notified().await,
                _ => {
                    stats.tcp_refused();
                    break (None, Arc::new(Notify::new()));
                }
            }
        };
        let Some(id) = id else {
            drop(stream);
            continue;
        };
        let catalog = Arc::clone(&catalog);
        let limits = Arc::clone(&limits);
        let stats = Arc::clone(&stats);
        let transfers = Arc::clone(&transfers);
        let updates = updates.clone();
        tokio::spawn(async move {
            let conn = TcpConn {
                catalog: &catalog,
                limits: &limits,
                id,
                stats: &stats,
                transfers: &transfers,
                peer,
                updates: &updates,
            };
            tokio::select! {
                served = serve_tcp_connection(stream, conn) => {
                    if let Err(e) = served {
                        tracing::debug!("tcp connection from {peer}: {e}");
                    }
                }
                () = closer.notified() => {
                    tracing::debug!("tcp connection from {peer} closed to make room");
                }
            }
            limits.leave(id);
        });
    }
}

/// What one TCP connection needs.
struct TcpConn<'a> {
    catalog: &'a ArcSwap<Catalog>,
    limits: &'a TcpLimits,
    id: ConnId,
    stats: &'a DnsStats,
    transfers: &'a Arc<Transfers>,
    peer: SocketAddr,
    updates: &'a Queue,
}

/// RFC 1035 §4.2.2 / RFC 7766: two-byte length-prefixed messages, several per
/// connection and pipelined (every complete request in a read is answered,
/// and the answers go out in one write). Three deadlines, as Knot's
/// tcp-idle-timeout and tcp-io-timeout: `idle` for the first byte of the
/// next request, `io` for a whole message once it has begun (so a client
/// dripping a byte at a time cannot hold the connection), and `lifetime` for
/// the connection. Zone transfers (AXFR, IXFR) are answered in as many
/// messages as needed (RFC 5936 §2.2).
async fn serve_tcp_connection(mut stream: TcpStream, conn: TcpConn<'_>) -> std::io::Result<()> {
    let &TcpConn {
        catalog,
        limits,
        id,
        stats,
        ..
    } = &conn;
    let _ = stream.set_nodelay(true);
    let ends = tokio::time::Instant::now() + limits.lifetime;
    let mut inbuf = vec![0u8; 2 * 65537];
    let mut filled = 0;
    // When the first byte of the message not yet complete arrived.
    let mut partial_since: Option<tokio::time::Instant> = None;
    let mut last_read = tokio::time::Instant::now();
    let mut out = Vec::with_capacity(16384);
    let mut body = Vec::with_capacity(4096);
    // No rate limiting over TCP: a client that completed a handshake is
    // no spoofed source.
    let mut worker = Worker {
        cache: AnswerCache::with_capacity(256),
        rrl: None,
    };
    let mut tally = crate::stats::DnsTally::default();
    loop {
        let mut start = 0;
        out.clear();
        let now = Now::read();
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
            stats.tcp_received();
            limits.request(id);
            let verdict = {
                let catalog = catalog.load();
                let served = Served {
                    catalog: &catalog,
                    transfers: conn.transfers,
                };
                respond(
                    served,
                    request,
                    conn.peer.ip(),
                    Transport::Tcp,
                    now,
                    &mut worker,
                    &mut body,
                )
            };
            match verdict {
                Verdict::Send | Verdict::Slip => {}
                Verdict::Drop | Verdict::Ignore => continue,
                Verdict::Update => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let queued = conn.updates.try_send(Pending {
                        request: request.to_vec(),
                        peer: conn.peer,
                        reply: ReplyTo::Tcp(tx),
                    });
                    body.clear();
                    match queued {
                        Ok(()) => {
                            if let Ok(answer) = rx.await {
                                body = answer;
                            }
                        }
                        Err(_) => {
                            if let Some(fail) = crate::update::servfail_for(request) {
                                body = fail;
                            }
                        }
                    }
                    if body.is_empty() {
                        continue;
                    }
                }
                Verdict::Transfer => {
                    // Answers to earlier pipelined requests go first.
                    write_within(&mut stream, &out, limits.io).await?;
                    out.clear();
                    write_transfer(&mut stream, &conn, request).await?;
                    continue;
                }
            }
            let Ok(rlen) = u16::try_from(body.len()) else {
                continue;
            };
            tally.response(&body, &catalog.load(), None);
            out.extend_from_slice(&rlen.to_be_bytes());
            out.extend_from_slice(&body);
            // Many pipelined requests for large answers: send what is
            // ready rather than let the buffer grow with them.
            if out.len() >= TCP_FLUSH {
                write_within(&mut stream, &out, limits.io).await?;
                out.clear();
            }
        }
        if !out.is_empty() {
            write_within(&mut stream, &out, limits.io).await?;
        }
        tally.fast_path(worker.cache.take_counts());
        stats.merge(&mut tally);
        limits.answered(id);
        inbuf.copy_within(start..filled, 0);
        filled -= start;
        if start > 0 {
            // What is left began with the last read.
            partial_since = (filled > 0).then_some(last_read);
        }
        let deadline = match partial_since {
            Some(began) => began + limits.io,
            None => tokio::time::Instant::now() + limits.idle,
        }
        .min(ends);
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut inbuf[filled..])).await {
            Err(_) => return Ok(()),
            Ok(r) => r?,
        };
        if n == 0 {
            return Ok(());
        }
        last_read = tokio::time::Instant::now();
        partial_since.get_or_insert(last_read);
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
    let now = Now::read();
    // Building a large zone's messages is CPU work: off the async workers.
    let transfers = Arc::clone(conn.transfers);
    let request_copy = request;
    let request = request.to_vec();
    let messages = tokio::task::spawn_blocking(move || {
        let served = Served {
            catalog: &catalog,
            transfers: &transfers,
        };
        transfer(served, &request, peer.ip(), now)
    })
    .await
    .unwrap_or_default();
    // The kind asked for, and whether the answer was an error (RCODE in
    // the first message).
    let kind = match crate::request::Request::parse(request_copy).and_then(|r| r.question()) {
        Some(q) if q.qtype == 251 => TransferKind::Ixfr,
        _ => TransferKind::Axfr,
    };
    let refused = messages
        .first()
        .and_then(|m| m.get(3))
        .is_some_and(|flags| flags & 0x0f != 0);
    let mut batch = Vec::with_capacity(65536 + 2);
    let mut whole = !messages.is_empty();
    for message in messages {
        let Ok(len) = u16::try_from(message.len()) else {
            whole = false;
            break;
        };
        batch.extend_from_slice(&len.to_be_bytes());
        batch.extend_from_slice(&message);
        write_within(stream, &batch, conn.limits.idle.max(conn.limits.io)).await?;
        batch.clear();
    }
    if whole {
        conn.stats.transfer(kind, refused);
    }
    Ok(())
}
