//! Sockets only: the request listener on each configured address, the
//! per-transfer socket loop (its own socket = its own TID, RFC 1350 §4), and
//! the loop of a shared transfer socket that serves many lock-step downloads
//! at once (each told apart by its peer, see [`tid_mux`](crate::tid_mux)).
//! Both feed the sans-I/O [`core`](crate::core) packets and the time and send
//! what it answers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd as _, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use headend_util::net::UNFRAGMENTED_PAYLOAD;
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvfrom, recvmmsg, recvmsg,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::TftpError;
use crate::admission::{self, Shared, Slot};
use crate::config::TransferSockets;
use crate::core::machine::Machine;
use crate::core::packet::{self, ErrorCode, Packet};
use crate::core::request::{self, Incoming};
use crate::core::transfer::{Abort, Step};
use crate::files;
use crate::tid_mux::MuxTable;

/// Receives one request; with `pktinfo`, also the local address it was sent to.
fn recv_request(
    sock: &UdpSocket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Option<IpAddr>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(sock.as_raw_fd(), &mut iov, Some(cmsg), MsgFlags::empty())
        .map_err(std::io::Error::from)?;
    let mut local = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv4PacketInfo(info) => {
                    local = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        info.ipi_spec_dst.s_addr,
                    ))));
                }
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    local = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                _ => {}
            }
        }
    }
    let peer = msg.address.and_then(|a: SockaddrStorage| {
        if let Some(v4) = a.as_sockaddr_in() {
            Some(SocketAddr::from((v4.ip(), v4.port())))
        } else {
            a.as_sockaddr_in6()
                .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
        }
    });
    let n = msg.bytes;
    let peer = peer.ok_or_else(|| std::io::Error::other("datagram without a source address"))?;
    Ok((n, peer, local))
}

/// Serves requests arriving on one listen socket, forever. With `wildcard`
/// (bound to 0.0.0.0 or ::) each request's local address comes from
/// IP_PKTINFO, so replies leave from the address the client asked.
pub(crate) async fn serve(sock: UdpSocket, wildcard: bool, shared: Arc<Shared>, muxes: Arc<Muxes>) {
    let mut buf = vec![0u8; 65536];
    let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo);
    let bound = sock.local_addr().map(|a| a.ip()).ok();
    loop {
        let got = if wildcard {
            sock.async_io(Interest::READABLE, || {
                recv_request(&sock, &mut buf, &mut cmsg)
            })
            .await
        } else {
            sock.recv_from(&mut buf)
                .await
                .map(|(n, peer)| (n, peer, bound))
        };
        let (n, peer, local) = match got {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!("TFTP listen socket error: {e}");
                continue;
            }
        };
        let local = local.or(bound).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        handle_datagram(
            &shared,
            &muxes,
            buf.get(..n).unwrap_or_default(),
            peer,
            local,
        );
    }
}

/// Sends a one-off ERROR from a fresh socket on the request's local address.
fn refuse(
    shared: &Shared,
    local: IpAddr,
    peer: SocketAddr,
    name: &str,
    abort: &Abort,
    stage: &AtomicU64,
) {
    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    stage.fetch_add(1, Ordering::Relaxed);
    tracing::info!(client = %peer, file = %name, code = abort.code as u16, reason = %abort.message, "TFTP refused: {name} to {peer}");
    let dg = packet::error(abort.code, &abort.message);
    match std::net::UdpSocket::bind(SocketAddr::new(local, 0)) {
        Ok(s) => {
            let _ = s.send_to(&dg, peer);
        }
        Err(e) => tracing::debug!("cannot open a socket to send an ERROR: {e}"),
    }
}

/// One datagram on a listen port: refuse it, drop it, or admit it and start
/// its transfer on a new socket.
fn handle_datagram(
    shared: &Arc<Shared>,
    muxes: &Arc<Muxes>,
    dg: &[u8],
    peer: SocketAddr,
    local: IpAddr,
) {
    let (req, write) = match request::classify(dg) {
        Incoming::Request { req, write } => (req, write),
        Incoming::Refuse(a) => {
            return refuse(shared, local, peer, "", &a, &shared.stats.refused_request);
        }
        Incoming::Stray => {
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let shown = String::from_utf8_lossy(req.filename).into_owned();
    let slot = match admission::admit(shared, peer.ip()) {
        Ok(slot) => slot,
        Err(a) => {
            let stage = &shared.stats.refused_admission;
            return refuse(shared, local, peer, &shown, &a, stage);
        }
    };
    let (name, machine) = match files::prepare(shared, &req, write, peer, Instant::now()) {
        Ok(v) => v,
        Err(a) => return refuse(shared, local, peer, &shown, &a, &shared.stats.refused_file),
    };
    let share = match shared.config.transfer_sockets {
        TransferSockets::Own => false,
        TransferSockets::Shared => machine.is_lock_step_read(),
        // A nearly idle server gives a transfer its own socket and polls it
        // for the next ACK; under load the shared sockets' batches win.
        TransferSockets::Auto => {
            machine.is_lock_step_read() && shared.admission.active() > SPIN_MAX_ACTIVE
        }
    };
    let job = Job {
        peer,
        name,
        machine,
        slot,
    };
    let job = if share {
        match submit(shared, muxes, local, job) {
            None => return,
            Some(job) => job,
        }
    } else {
        job
    };
    start_own(shared, local, job, &shown);
}

/// Starts `job` on a socket of its own: RFC 1350 §4's port (TID) per
/// transfer on the server side, a finished transfer's socket that did not
/// last serve this peer, or a new one.
fn start_own(shared: &Arc<Shared>, local: IpAddr, job: Job, shown: &str) {
    let Job {
        peer,
        name,
        machine,
        slot,
        ..
    } = job;
    let taken = shared.sockets.take(local, peer);
    let (sock, uses) = match taken.map_or_else(|| transfer_socket(local).map(|s| (s, 0)), Ok) {
        Ok(s) => s,
        Err(e) => {
            let a = Abort::new(
                ErrorCode::NotDefined,
                format!("server cannot open a socket: {e}"),
            );
            // Out of sockets: a limit of the server, counted with admission.
            shared.admission.refused_by(admission::Rule::ServerLimit);
            let stage = &shared.stats.refused_admission;
            return refuse(shared, local, peer, shown, &a, stage);
        }
    };
    tracing::debug!(%peer, file = %name, write = machine.is_write(), "TFTP transfer start");
    let transfer = Transfer {
        sock,
        local,
        peer,
        uses,
    };
    tokio::spawn(run(transfer, name, machine, Arc::clone(shared), slot));
}

/// A transfer admitted and ready to start, on its own socket or a shared one.
pub(crate) struct Job {
    peer: SocketAddr,
    name: String,
    machine: Machine,
    slot: Slot,
}

/// The shared transfer sockets of the service: each a channel to its loop.
pub(crate) type Muxes = std::sync::Mutex<MuxTable<Lane, mpsc::UnboundedSender<Job>>>;

/// The shared sockets a transfer may go on: those of its local address,
/// and apart from the rest, for IPv4 downloads whose every datagram fits
/// the smallest path MTU ([`UNFRAGMENTED_PAYLOAD`]: blksize 512, RFC
/// 1350's default, and below), sockets that never fragment (see
/// [`headend_util::net::set_dont_fragment`]). Their datagrams leave exactly
/// as before, DF set, but the kernel skips the hashed IP ID it computes for
/// every datagram that it might still fragment, a few per cent of a small
/// file's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Lane {
    local: IpAddr,
    unfragmented: bool,
}

impl Lane {
    fn of(local: IpAddr, machine: &Machine) -> Self {
        let unfragmented = local.is_ipv4()
            && machine
                .largest_sent()
                .is_some_and(|n| n <= UNFRAGMENTED_PAYLOAD);
        Self {
            local,
            unfragmented,
        }
    }
}

/// Bytes of receive buffer asked for a shared socket (ACKs of many
/// transfers queue there between two reads).
const MUX_RCVBUF: usize = 1 << 20;

/// Hands `job` to a shared socket on `local` (opening one when the table
/// says so); the job comes back when no shared socket could take it.
fn submit(shared: &Arc<Shared>, muxes: &Arc<Muxes>, local: IpAddr, job: Job) -> Option<Job> {
    let lane = Lane::of(local, &job.machine);
    let mut table = muxes.lock().unwrap_or_else(|p| p.into_inner());
    let picked = table.pick(lane, job.peer, Instant::now(), |id| {
        let sock = transfer_socket(local)?;
        let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(MUX_RCVBUF);
        if lane.unfragmented {
            headend_util::net::set_dont_fragment(&sock)?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(mux_loop(
            sock,
            local,
            id,
            rx,
            Arc::clone(shared),
            Arc::downgrade(muxes),
        ));
        Ok::<_, std::io::Error>(tx)
    });
    match picked {
        Ok((id, tx)) => {
            tracing::debug!(peer = %job.peer, file = %job.name, mux = id, "TFTP transfer start (shared socket)");
            tx.send(job).err().map(|e| e.0)
        }
        Err(e) => {
            tracing::debug!("cannot open a shared transfer socket: {e}");
            Some(job)
        }
    }
}

/// A transfer's socket and where it talks.
struct Transfer {
    sock: UdpSocket,
    local: IpAddr,
    peer: SocketAddr,
    /// Transfers the socket served before this one.
    uses: u32,
}

/// Drives one transfer until it ends, then keeps its socket for another.
async fn run(t: Transfer, name: String, machine: Machine, shared: Arc<Shared>, _slot: Slot) {
    drive(&t.sock, t.peer, name, machine, &shared).await;
    // What is still queued (a duplicate ACK, a late retransmission) belongs
    // to this transfer: drop it before the socket serves another.
    // A socket something keeps sending to is closed instead.
    let mut scrap = [0u8; 4];
    let mut queued = 0;
    // (No system call when the last read left the queue empty and nothing
    // came since: tokio then knows the socket is not readable.)
    while queued <= MAX_DRAINED && t.sock.try_recv_from(&mut scrap).is_ok() {
        queued += 1;
    }
    if queued <= MAX_DRAINED {
        drop(shared.sockets.give(t.sock, t.local, t.peer, t.uses + 1));
    }
}

/// Datagrams dropped from a finished transfer's socket before it is
/// closed instead of kept.
const MAX_DRAINED: usize = 16;

/// A non-blocking UDP socket on `local`, port chosen by the kernel (the new TID).
fn transfer_socket(local: IpAddr) -> std::io::Result<UdpSocket> {
    let addr = SocketAddr::new(local, 0);
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM.nonblocking().cloexec(),
        None,
    )?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

/// Sends a window of datagrams. Runs of equal-sized datagrams (a window of
/// full blocks, the last possibly shorter) leave in one `sendmsg` with UDP
/// generic segmentation offload (Linux 4.18+), which the kernel cuts into the
/// same datagrams: one trip down the stack per run instead of one per block.
async fn send_all(sock: &UdpSocket, peer: SocketAddr, datagrams: &[Vec<u8>], shared: &Shared) {
    let mut rest = datagrams;
    while !rest.is_empty() {
        let run = gso_run(rest);
        if run >= 2 && GSO.load(Ordering::Relaxed) {
            let (batch, tail) = rest.split_at(run);
            match send_gso(sock, peer, batch).await {
                Ok(()) => {
                    shared
                        .stats
                        .datagrams_sent
                        .fetch_add(run as u64, Ordering::Relaxed);
                    rest = tail;
                    continue;
                }
                Err(e) if gso_unsupported(&e) => {
                    // Sent one by one below, and from now on.
                    GSO.store(false, Ordering::Relaxed);
                    tracing::info!(
                        "UDP segmentation offload refused ({e}); TFTP sends one datagram per call"
                    );
                }
                Err(e) => {
                    tracing::debug!(%peer, "TFTP send failed: {e}");
                    rest = tail;
                    continue;
                }
            }
        }
        let Some((d, tail)) = rest.split_first() else {
            break;
        };
        match sock.send_to(d, peer).await {
            Ok(_) => {
                shared.stats.datagrams_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(%peer, "TFTP send failed: {e}"),
        }
        rest = tail;
    }
}

/// Whether UDP segmentation offload is used (cleared at its first refusal).
static GSO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
/// Most datagrams in one segmented send (the kernel's UDP_MAX_SEGMENTS).
const GSO_MAX_SEGMENTS: usize = 64;
/// Most bytes in one segmented send: it is one UDP datagram until cut.
const GSO_MAX_BYTES: usize = 65_000;

/// How many leading datagrams can go in one segmented send: equal sizes,
/// the last of the run possibly shorter, within the kernel's limits.
fn gso_run(datagrams: &[Vec<u8>]) -> usize {
    let Some(size) = datagrams.first().map(Vec::len) else {
        return 0;
    };
    let (mut n, mut total) = (0, 0);
    for d in datagrams {
        if n == GSO_MAX_SEGMENTS || d.len() > size || total + d.len() > GSO_MAX_BYTES {
            break;
        }
        n += 1;
        total += d.len();
        if d.len() < size {
            break;
        }
    }
    n
}

/// The errors that mean the socket or device cannot segment (not a failure
/// of this one send).
fn gso_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EIO | Errno::EINVAL | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP)
    )
}

/// One `sendmsg` of `batch` (equal-sized datagrams, the last possibly
/// shorter) with a UDP_SEGMENT control message of the first one's size.
async fn send_gso(sock: &UdpSocket, peer: SocketAddr, batch: &[Vec<u8>]) -> std::io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let seg = batch
        .first()
        .and_then(|d| u16::try_from(d.len()).ok())
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let iov: Vec<std::io::IoSlice<'_>> = batch.iter().map(|d| std::io::IoSlice::new(d)).collect();
    let addr = SockaddrStorage::from(peer);
    loop {
        sock.writable().await?;
        match sock.try_io(Interest::WRITABLE, || {
            let cmsg = [ControlMessage::UdpGsoSegments(&seg)];
            sendmsg(
                sock.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::empty(),
                Some(&addr),
            )
            .map_err(std::io::Error::from)
        }) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// At most this many transfers in progress for the low-load busy poll.
const SPIN_MAX_ACTIVE: usize = 2;
/// How long a lightly loaded server polls for the next packet before sleeping.
const SPIN_BUDGET: Duration = Duration::from_micros(200);
/// Polls that found nothing in a row before a transfer stops polling (a peer
/// whose round trip is longer than the budget gains nothing from it).
const SPIN_MAX_MISSES: u32 = 3;

/// What woke the loop.
enum Input {
    Datagram(usize, SocketAddr),
    Timer,
    Nothing,
}

/// Reads a transfer's socket, two datagrams a call at most, so that it
/// knows when it emptied the socket's queue: then tokio's readiness is
/// cleared at once and the next wait goes straight to epoll, instead of
/// costing one more read that finds nothing (tokio clears readiness only on
/// EAGAIN). On small transfers those empty reads were about 7 of 12 reads
/// per transfer. A second datagram taken with the first is kept for the
/// next call.
struct TidReader {
    second: Vec<u8>,
    /// The length and sender of a datagram waiting in `second`.
    pending: Option<(usize, SocketAddr)>,
}

impl TidReader {
    fn new(size: usize) -> Self {
        Self {
            second: vec![0; size],
            pending: None,
        }
    }

    async fn recv(
        &mut self,
        sock: &UdpSocket,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, SocketAddr)> {
        if let Some((n, from)) = self.pending.take() {
            let n = n.min(buf.len()).min(self.second.len());
            buf[..n].copy_from_slice(&self.second[..n]);
            return Ok((n, from));
        }
        loop {
            sock.readable().await?;
            let mut first = None;
            let (second, pending) = (&mut self.second, &mut self.pending);
            let fd = sock.as_raw_fd();
            let read = sock.try_io(Interest::READABLE, || {
                // The message headers are the thread's: they hold raw
                // pointers, so they cannot live in the task across awaits.
                RECV_HEADERS.with_borrow_mut(|headers| {
                    let mut iovs = [[IoSliceMut::new(&mut *buf)], [IoSliceMut::new(second)]];
                    let results = recvmmsg(fd, headers, &mut iovs, MsgFlags::MSG_DONTWAIT, None)
                        .map_err(std::io::Error::from)?;
                    let mut count = 0;
                    for msg in results {
                        let from = msg.address.as_ref().and_then(socket_addr);
                        if count == 0 {
                            first = from.map(|f| (msg.bytes, f));
                        } else {
                            *pending = from.map(|f| (msg.bytes, f));
                        }
                        count += 1;
                    }
                    if count < 2 {
                        // The queue is empty now: have tokio forget the readiness.
                        Err(std::io::Error::from(std::io::ErrorKind::WouldBlock))
                    } else {
                        Ok(())
                    }
                })
            });
            if let Some(got) = first {
                return Ok(got);
            }
            match read {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
                // Two datagrams, neither with an IP sender (cannot happen on
                // a UDP socket): read on.
                Ok(()) => {}
            }
        }
    }
}

thread_local! {
    /// [`TidReader`]'s message headers, one set per runtime thread.
    static RECV_HEADERS: std::cell::RefCell<MultiHeaders<SockaddrStorage>> =
        std::cell::RefCell::new(MultiHeaders::preallocate(2, None));
}

/// An IPv4 or IPv6 sender's address.
fn socket_addr(from: &SockaddrStorage) -> Option<SocketAddr> {
    from.as_sockaddr_in()
        .map(|a| SocketAddr::from((a.ip(), a.port())))
        .or_else(|| {
            from.as_sockaddr_in6()
                .map(|a| SocketAddr::from((a.ip(), a.port())))
        })
}

/// Polls the socket directly for a short while when the server is lightly
/// loaded: the peer's ACK usually arrives within microseconds on a LAN, and
/// sleeping in epoll and being woken costs more than that. Other tasks still
/// run in between (each miss yields to the runtime).
async fn spin_recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    let until = Instant::now() + SPIN_BUDGET;
    loop {
        match recvfrom::<SockaddrStorage>(sock.as_raw_fd(), buf) {
            Ok((n, Some(from))) => return Some((n, socket_addr(&from)?)),
            Err(Errno::EAGAIN) if Instant::now() < until => tokio::task::yield_now().await,
            _ => return None,
        }
    }
}

/// After an upload's final ACK, stay a moment to acknowledge again should
/// the client resend its last DATA because that ACK was lost (RFC 1350 §6:
/// the acknowledger of the final packet may "dally").
async fn dally(
    sock: &UdpSocket,
    peer: SocketAddr,
    last: &[Vec<u8>],
    buf: &mut [u8],
    shared: &Shared,
) {
    let until = tokio::time::Instant::now() + DALLY;
    while let Ok(Ok((n, from))) = tokio::time::timeout_at(until, sock.recv_from(buf)).await {
        let data = matches!(
            Packet::parse(buf.get(..n).unwrap_or_default()),
            Ok(Packet::Data { .. })
        );
        if from == peer && data {
            send_all(sock, peer, last, shared).await;
        }
    }
}

/// How long an upload's socket stays open after the final ACK.
const DALLY: Duration = Duration::from_secs(1);

/// Adds a transfer's data bytes to the sent or received total.
fn count_bytes(shared: &Shared, machine: &Machine) {
    let counter = if machine.is_write() {
        &shared.stats.bytes_received
    } else {
        &shared.stats.bytes_sent
    };
    counter.fetch_add(machine.bytes(), Ordering::Relaxed);
}

/// Counts and logs a transfer that succeeded.
fn completed(shared: &Shared, peer: SocketAddr, name: &str, machine: &Machine, started: Instant) {
    shared.stats.transfers_ok.fetch_add(1, Ordering::Relaxed);
    count_bytes(shared, machine);
    shared.stats.duration.observe(started.elapsed());
    // One info line per transfer, as tftpd-hpa's `RRQ from ...`.
    tracing::info!(
        client = %peer,
        file = %name,
        bytes = machine.bytes(),
        ms = started.elapsed().as_millis() as u64,
        "TFTP transfer complete: {name} to {peer}"
    );
}

/// Counts and logs a transfer that failed (its bytes already counted).
fn failed(
    shared: &Shared,
    peer: SocketAddr,
    name: &str,
    bytes: u64,
    started: Instant,
    error: &TftpError,
) {
    shared
        .stats
        .transfers_failed
        .fetch_add(1, Ordering::Relaxed);
    if matches!(error, TftpError::Unconfirmed { .. }) {
        shared.stats.unconfirmed.fetch_add(1, Ordering::Relaxed);
    }
    tracing::info!(
        client = %peer,
        file = %name,
        bytes,
        ms = started.elapsed().as_millis() as u64,
        reason = %error,
        "TFTP transfer failed: {name} to {peer}"
    );
}

/// Datagrams read from a shared socket per `recvmmsg`.
const MUX_BATCH: usize = 32;
/// Batches read before the loop sends what they asked for.
const MUX_READS: usize = 4;

/// One transfer on a shared socket.
struct MuxEntry {
    machine: Machine,
    name: String,
    started: Instant,
    /// The deadline in the timer heap for it, if any.
    armed: Option<Instant>,
    _slot: Slot,
}

/// A shared socket's transfers, keyed by peer, with their timers and what
/// is to be sent. No I/O: the loop below reads and sends for it.
struct Mux {
    local: IpAddr,
    /// Its id in the table.
    id: u64,
    transfers: HashMap<SocketAddr, MuxEntry>,
    /// Deadlines, earliest first; an entry whose transfer has another
    /// deadline (or has ended) is skipped when it comes up.
    timers: BinaryHeap<Reverse<(Instant, SocketAddr)>>,
    out: Vec<(Vec<u8>, SocketAddr)>,
    /// Peers whose transfer ended since the table was last told.
    ended: Vec<SocketAddr>,
}

impl Mux {
    fn start(&mut self, job: Job, shared: &Arc<Shared>) {
        if self.transfers.contains_key(&job.peer) {
            // The table never gives a peer the socket it is running on;
            // should it happen, that transfer gets a socket of its own.
            let shown = job.name.clone();
            return start_own(shared, self.local, job, &shown);
        }
        let now = Instant::now();
        let mut machine = job.machine;
        let step = machine.start(now);
        self.transfers.insert(
            job.peer,
            MuxEntry {
                machine,
                name: job.name,
                started: now,
                armed: None,
                _slot: job.slot,
            },
        );
        self.apply(job.peer, step, shared);
    }

    fn apply(&mut self, peer: SocketAddr, step: Step, shared: &Shared) {
        match step {
            Step::Send { datagrams, until } => {
                self.out.extend(datagrams.into_iter().map(|d| (d, peer)));
                self.arm(peer, until);
            }
            Step::Wait(until) => self.arm(peer, until),
            Step::Done(datagrams) => {
                self.out.extend(datagrams.into_iter().map(|d| (d, peer)));
                if let Some(e) = self.transfers.remove(&peer) {
                    completed(shared, peer, &e.name, &e.machine, e.started);
                    self.ended.push(peer);
                }
            }
            Step::Fail { datagrams, error } => {
                if let Some(e) = self.transfers.remove(&peer) {
                    let bytes = e.machine.bytes();
                    count_bytes(shared, &e.machine);
                    failed(shared, peer, &e.name, bytes, e.started, &error);
                    self.ended.push(peer);
                }
                self.out.extend(datagrams.into_iter().map(|d| (d, peer)));
            }
        }
    }

    /// The timer of `peer`'s transfer at `until` (re-armed only when it
    /// moves earlier; fired early, the machine answers with a later wait).
    fn arm(&mut self, peer: SocketAddr, until: Instant) {
        if let Some(e) = self.transfers.get_mut(&peer)
            && e.armed.is_none_or(|a| until < a)
        {
            e.armed = Some(until);
            self.timers.push(Reverse((until, peer)));
        }
    }

    fn on_datagram(&mut self, dg: &[u8], from: SocketAddr, now: Instant, shared: &Shared) {
        let Some(e) = self.transfers.get_mut(&from) else {
            // RFC 1350 §4: a packet from an unknown TID gets ERROR 5 (an
            // ERROR is never answered, so two servers cannot ping-pong).
            if !matches!(Packet::parse(dg), Ok(Packet::Error { .. })) {
                let err = packet::error(ErrorCode::UnknownTid, "unknown transfer ID");
                self.out.push((err, from));
            }
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match Packet::parse(dg) {
            Ok(pkt) => {
                let step = e.machine.on_packet(pkt, now);
                self.apply(from, step, shared);
            }
            Err(_) => {
                shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Fires every timer due at `now`.
    fn fire_timers(&mut self, now: Instant, shared: &Shared) {
        while let Some(&Reverse((at, peer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(e) = self.transfers.get_mut(&peer) else {
                continue;
            };
            if e.armed == Some(at) {
                e.armed = None;
                let step = e.machine.on_timeout(now);
                self.apply(peer, step, shared);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|r| r.0.0)
    }
}

/// Reads one batch from a shared socket into `bufs`, noting each datagram's
/// length and sender in `got`; `WouldBlock` (with what was read) when the
/// batch was not full, so tokio forgets the readiness of an empty queue.
fn recv_batch(
    fd: RawFd,
    bufs: &mut [Vec<u8>],
    got: &mut Vec<(usize, Option<SocketAddr>)>,
) -> std::io::Result<()> {
    MUX_HEADERS.with_borrow_mut(|headers| {
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
            bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let results = recvmmsg(fd, headers, &mut iovs, MsgFlags::MSG_DONTWAIT, None)
            .map_err(std::io::Error::from)?;
        for msg in results {
            got.push((msg.bytes, msg.address.as_ref().and_then(socket_addr)));
        }
        if got.len() < MUX_BATCH {
            Err(std::io::Error::from(std::io::ErrorKind::WouldBlock))
        } else {
            Ok(())
        }
    })
}

thread_local! {
    /// [`recv_batch`]'s message headers, one set per runtime thread.
    static MUX_HEADERS: std::cell::RefCell<MultiHeaders<SockaddrStorage>> =
        std::cell::RefCell::new(MultiHeaders::preallocate(MUX_BATCH, None));
}

/// Sends `out` from a shared socket, 64 datagrams a system call. A full
/// send buffer (many transfers' blocks on one socket, a slow NIC) is waited
/// out rather than dropping datagrams for retransmission to recover; a
/// datagram the kernel refuses for another reason is skipped.
async fn send_out(sock: &UdpSocket, out: &[(Vec<u8>, SocketAddr)], shared: &Shared) {
    let out: Vec<(&[u8], SocketAddr)> = out.iter().map(|(d, p)| (d.as_slice(), *p)).collect();
    let mut rest = out.as_slice();
    while !rest.is_empty() {
        match sock.try_io(Interest::WRITABLE, || {
            headend_util::net::send_some(sock, rest)
        }) {
            Ok(n) => {
                shared
                    .stats
                    .datagrams_sent
                    .fetch_add(n as u64, Ordering::Relaxed);
                rest = rest.get(n..).unwrap_or_default();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Err(e) = sock.writable().await {
                    tracing::debug!("TFTP shared socket error: {e}");
                    return;
                }
            }
            Err(e) => {
                if let Some(((_, peer), tail)) = rest.split_first() {
                    tracing::debug!(%peer, "TFTP send failed: {e}");
                    rest = tail;
                }
            }
        }
    }
}

/// The loop of one shared socket: takes new transfers from `jobs`, reads
/// the peers' datagrams in batches, fires timers and sends what the
/// transfers answer in batches. Ends once the table let it go (retired, or
/// the service stopped) and its last transfer ended.
async fn mux_loop(
    sock: UdpSocket,
    local: IpAddr,
    id: u64,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
    muxes: Weak<Muxes>,
) {
    let mut mux = Mux {
        local,
        id,
        transfers: HashMap::new(),
        timers: BinaryHeap::new(),
        out: Vec::new(),
        ended: Vec::new(),
    };
    let mut bufs = vec![vec![0u8; 1024]; MUX_BATCH];
    let mut got = Vec::with_capacity(MUX_BATCH);
    let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    let mut open = true;
    loop {
        if !mux.out.is_empty() {
            send_out(&sock, &mux.out, &shared).await;
            mux.out.clear();
        }
        if !mux.ended.is_empty() {
            if let Some(table) = muxes.upgrade() {
                let now = Instant::now();
                let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
                for peer in mux.ended.drain(..) {
                    table.finished(peer, mux.id, now);
                }
            } else {
                mux.ended.clear();
            }
        }
        if !open && mux.transfers.is_empty() {
            return;
        }
        let next = mux.next_deadline();
        if next != armed {
            if let Some(at) = next {
                sleep.as_mut().reset(at.into());
            }
            armed = next;
        }
        tokio::select! {
            biased;
            job = jobs.recv(), if open => match job {
                Some(job) => {
                    mux.start(job, &shared);
                    while let Ok(job) = jobs.try_recv() {
                        mux.start(job, &shared);
                    }
                }
                None => open = false,
            },
            r = sock.readable() => {
                if let Err(e) = r {
                    tracing::debug!("TFTP shared socket error: {e}");
                    continue;
                }
                let fd = sock.as_raw_fd();
                for _ in 0..MUX_READS {
                    got.clear();
                    let read = sock.try_io(Interest::READABLE, || recv_batch(fd, &mut bufs, &mut got));
                    // One clock reading per batch, not per datagram.
                    let now = Instant::now();
                    for (i, &(n, from)) in got.iter().enumerate() {
                        if let (Some(from), Some(dg)) = (from, bufs.get(i).and_then(|b| b.get(..n))) {
                            mux.on_datagram(dg, from, now, &shared);
                        }
                    }
                    if read.is_err() {
                        break;
                    }
                }
            }
            () = &mut sleep, if armed.is_some() => armed = None,
        }
        mux.fire_timers(Instant::now(), &shared);
    }
}

/// Drives one transfer until it ends.
async fn drive(
    sock: &UdpSocket,
    peer: SocketAddr,
    name: String,
    mut machine: Machine,
    shared: &Shared,
) {
    let started = Instant::now();
    let mut buf = vec![0u8; machine.recv_size()];
    let mut step = machine.start(started);
    let sleep = tokio::time::sleep_until(started.into());
    tokio::pin!(sleep);
    // The timer is re-armed only when the deadline moves earlier; when it
    // fires early the machine answers Wait(later) and it is re-armed then.
    let mut armed: Option<Instant> = None;
    let mut spin_misses = 0;
    let mut reader = TidReader::new(buf.len());
    loop {
        let (until, sent) = match step {
            Step::Send { datagrams, until } => {
                send_all(sock, peer, &datagrams, shared).await;
                (until, true)
            }
            Step::Wait(until) => (until, false),
            Step::Done(datagrams) => {
                send_all(sock, peer, &datagrams, shared).await;
                if machine.is_write() {
                    dally(sock, peer, &datagrams, &mut buf, shared).await;
                }
                completed(shared, peer, &name, &machine, started);
                return;
            }
            Step::Fail { datagrams, error } => {
                // Clean up first (an aborted upload's temporary file is
                // removed when its sink drops), then tell the peer.
                let bytes = machine.bytes();
                count_bytes(shared, &machine);
                drop(machine);
                send_all(sock, peer, &datagrams, shared).await;
                failed(shared, peer, &name, bytes, started, &error);
                return;
            }
        };
        if armed.is_none_or(|a| until < a) {
            sleep.as_mut().reset(until.into());
            armed = Some(until);
        }
        let waiting_since = Instant::now();
        // A datagram the reader holds comes before anything polled now.
        let spun = if sent
            && reader.pending.is_none()
            && spin_misses < SPIN_MAX_MISSES
            && shared.admission.active() <= SPIN_MAX_ACTIVE
        {
            let got = spin_recv(sock, &mut buf).await;
            spin_misses = if got.is_some() { 0 } else { spin_misses + 1 };
            got
        } else {
            None
        };
        let input = match spun {
            Some((n, from)) => Input::Datagram(n, from),
            None => tokio::select! {
                biased;
                r = reader.recv(sock, &mut buf) => match r {
                    Ok((n, from)) => {
                        // A quick answer makes polling worth trying again.
                        if sent && waiting_since.elapsed() < SPIN_BUDGET {
                            spin_misses = 0;
                        }
                        Input::Datagram(n, from)
                    }
                    Err(e) => {
                        tracing::debug!(%peer, "TFTP receive error: {e}");
                        Input::Nothing
                    }
                },
                () = &mut sleep => Input::Timer,
            },
        };
        step = match input {
            Input::Datagram(n, from) if from == peer => {
                match Packet::parse(buf.get(..n).unwrap_or_default()) {
                    Ok(pkt) => machine.on_packet(pkt, Instant::now()),
                    Err(_) => {
                        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        Step::Wait(until)
                    }
                }
            }
            Input::Datagram(_, from) => {
                // RFC 1350 §4: a packet from an unknown TID gets ERROR 5
                // and does not disturb the transfer.
                let err = packet::error(ErrorCode::UnknownTid, "unknown transfer ID");
                let _ = sock.send_to(&err, from).await;
                shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Step::Wait(until)
            }
            Input::Timer => {
                armed = None;
                machine.on_timeout(Instant::now())
            }
            Input::Nothing => Step::Wait(until),
        };
    }
}

#[cfg(test)]
mod gso_tests {
    use super::*;

    fn sizes(s: &[usize]) -> Vec<Vec<u8>> {
        s.iter().map(|&n| vec![0; n]).collect()
    }

    #[test]
    fn runs_are_equal_sizes_with_a_shorter_last_within_the_limits() {
        assert_eq!(gso_run(&sizes(&[])), 0);
        assert_eq!(gso_run(&sizes(&[1472])), 1);
        assert_eq!(gso_run(&sizes(&[1472; 16])), 16);
        assert_eq!(
            gso_run(&sizes(&[1472, 1472, 100, 1472])),
            3,
            "a short block ends the run"
        );
        assert_eq!(
            gso_run(&sizes(&[100, 1472])),
            1,
            "a longer block never follows"
        );
        assert_eq!(gso_run(&sizes(&[1472; 64])), 44, "64 KB per send");
        assert_eq!(gso_run(&sizes(&[516; 100])), GSO_MAX_SEGMENTS);
        assert_eq!(gso_run(&sizes(&[8196; 16])), 7);
        assert_eq!(gso_run(&sizes(&[65_000, 65_000])), 1);
    }
}
