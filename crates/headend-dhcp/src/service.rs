//! The thin socket layer and the group-commit loop.
//!
//! One UDP socket per configured interface (SO_BINDTODEVICE, SO_BROADCAST,
//! SO_REUSEADDR). With one socket, the worker thread reads it itself (its
//! kernel receive buffer is the queue; no hand-off, no wake-up per datagram);
//! with several, each is read by its own thread, which only queues datagrams.
//! The worker takes whatever has queued (up to `max_batch`), opens one
//! store transaction, runs every request through the [`Server`] and commits
//! it without waiting for the disk ([`Store::begin_unsynced`]); it hands the
//! batch's replies to the flush thread and goes on with the next batch. The
//! flush thread takes every batch committed so far, makes them durable with
//! one [`Store::sync`] (an fdatasync of the SQLite WAL) and only then sends
//! their replies. So no reply (no ACK) leaves before its lease is on disk,
//! the disk's latency overlaps the next batch's work instead of stalling it,
//! and one fsync serves many exchanges (group commit).
//!
//! A reload ([`DhcpHandle::reload`]) compiles the new configuration on the
//! caller's thread and swaps it into the [`Server`] atomically; the worker
//! reads the current one per request (and its batch and log settings per
//! batch), so it never waits for a reload. Sockets, leases, rate buckets and
//! counters are untouched.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use headend_store::{Lease, Store, StoreError};
use socket2::{Domain, Protocol, Socket, Type};

use crate::core::{Ingress, Outcome, Reply, Server, Silence};
use crate::plan::Plan;
use crate::reload::{self, Listen, ReloadReport};
use crate::wire::{self, MessageType};
use crate::{DhcpConfig, DhcpError};

/// Counter name → value, as logged in `dhcp stats` lines.
pub type Stats = BTreeMap<&'static str, u64>;

/// Datagrams queued between the socket threads and the worker, in batches:
/// a deeper queue only answers requests the clients have given up on.
const QUEUE_BATCHES: usize = 4;
/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// Committed batches waiting for the flush thread; when it falls this far
/// behind (a slow disk), the worker waits and requests queue (then drop) at
/// the sockets instead.
const FLUSH_BATCHES: usize = 8;
/// How long the worker waits for another request while the previous batch
/// is being synced, before looking at the flush thread again.
const POLL: Duration = Duration::from_micros(200);

/// A committed (not yet durable) batch's replies: (listener index, reply).
type Committed = Vec<(usize, Reply)>;

struct Job {
    data: Vec<u8>,
    socket: usize,
    source: SocketAddrV4,
}

struct Listener {
    interface: Option<String>,
    socket: UdpSocket,
}

struct Shared {
    stop: AtomicBool,
    queue_full: AtomicU64,
    /// Committed batches handed to the flush thread and not yet sent.
    in_flight: AtomicUsize,
    stats: Mutex<Stats>,
    store: Store,
    /// The decision logic and its current configuration.
    server: Server,
    /// The section now in effect; held while reloading, so reloads run one
    /// at a time (the packet path never takes it).
    config: Mutex<DhcpConfig>,
    /// What the sockets were opened for.
    listen: Listen,
}

/// Starts the DHCP service.
#[derive(Debug)]
pub struct DhcpService;

/// A cloneable handle to the running DHCP service.
#[derive(Clone)]
pub struct DhcpHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DhcpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpHandle").finish_non_exhaustive()
    }
}

impl DhcpHandle {
    /// A snapshot of the counters (requests, replies, and drops by reason).
    pub fn stats(&self) -> Stats {
        let mut s = self
            .shared
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        s.insert("queue_full", self.shared.queue_full.load(Ordering::Relaxed));
        s
    }

    /// Every lease in the store.
    pub fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.shared.store.leases()
    }

    /// Stops the socket and worker threads (within a fraction of a second).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Replaces the running configuration (SIGHUP): the new section is
    /// compiled and checked exactly as at start; if it fails, the error is
    /// returned and the running configuration stays. Otherwise subnets,
    /// pools, options, classes, reservations, lease times and limits apply
    /// from the next request on (requests being decided finish under the old
    /// one). Leases stay in the store: a client whose address is still in a
    /// pool of its subnet keeps it; one whose address left the pools gets a
    /// NAK at its next renewal, then a new address. Socket settings
    /// (`interfaces`, `port`) are not applied: the report names them under
    /// `needs_restart`. Counters carry on. Logs the outcome (info, and a
    /// warning per [`ReloadReport::warnings`] entry).
    pub fn reload(&self, config: DhcpConfig) -> Result<ReloadReport, DhcpError> {
        let mut current = self
            .shared
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let plan = match Plan::compile(&config) {
            Ok(plan) => plan,
            Err(e) => {
                tracing::error!(
                    "DHCP configuration reload refused, the running configuration stays: {e}"
                );
                self.count("config_reload_refused");
                return Err(e);
            }
        };
        let old_plan = self.shared.server.plan();
        let report = reload::diff(&current, &old_plan, &config, &plan, &self.shared.listen);
        self.shared.server.install(plan);
        *current = config;
        drop(current);
        self.count("config_reloads");
        tracing::info!("DHCP configuration reloaded: {report}");
        for w in &report.warnings {
            tracing::warn!("DHCP reload: {w}");
        }
        Ok(report)
    }

    fn count(&self, name: &'static str) {
        let mut counts = Stats::from([(name, 1)]);
        merge(&self.shared, &mut counts);
    }
}

impl DhcpService {
    /// Compiles the config, opens the sockets and starts the threads.
    pub fn start(config: DhcpConfig, store: Store) -> Result<DhcpHandle, DhcpError> {
        let server = Server::new(&config)?;
        let ifaces: Vec<Option<String>> = if config.interfaces.is_empty() {
            vec![None]
        } else {
            config.interfaces.iter().cloned().map(Some).collect()
        };
        let listeners = ifaces
            .into_iter()
            .map(|iface| {
                let socket = open_socket(iface.as_deref(), config.port)?;
                Ok(Listener {
                    interface: iface,
                    socket,
                })
            })
            .collect::<Result<Vec<_>, DhcpError>>()?;
        let listeners = Arc::new(listeners);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            queue_full: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            stats: Mutex::new(Stats::new()),
            store,
            server,
            listen: Listen::of(&config),
            config: Mutex::new(config.clone()),
        });
        let intake = if listeners.len() == 1 {
            Intake::Socket {
                listeners: Arc::clone(&listeners),
                buf: vec![0u8; 65_536],
                timeout: Some(TICK),
                nonblocking: false,
            }
        } else {
            let (tx, rx) = sync_channel(config.max_batch.max(256) * QUEUE_BATCHES);
            for (i, l) in listeners.iter().enumerate() {
                let name = format!("dhcp-rx-{}", l.interface.as_deref().unwrap_or("any"));
                let (listeners, shared, tx) =
                    (Arc::clone(&listeners), Arc::clone(&shared), tx.clone());
                spawn(&name, move || receive(&listeners, i, &shared, &tx))?;
            }
            Intake::Queue(rx)
        };
        for l in listeners.iter() {
            tracing::info!(
                interface = l.interface.as_deref().unwrap_or("(all)"),
                port = config.port,
                "DHCP listening"
            );
        }
        let (flush_tx, flush_rx) = sync_channel(FLUSH_BATCHES);
        {
            let (listeners, shared) = (Arc::clone(&listeners), Arc::clone(&shared));
            spawn("dhcp-flush", move || flush(&listeners, &shared, &flush_rx))?;
        }
        let worker = Worker {
            listeners,
            flush: flush_tx,
            shared: Arc::clone(&shared),
            exhausted: HashMap::new(),
        };
        spawn("dhcp-worker", move || worker.run(intake))?;
        tracing::info!(store = %shared.store.describe(), subnets = config.subnets.len(), "DHCP service started");
        Ok(DhcpHandle { shared })
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), DhcpError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map(|_| ())
        .map_err(|source| DhcpError::Thread {
            name: name.to_owned(),
            source,
        })
}

fn open_socket(iface: Option<&str>, port: u16) -> Result<UdpSocket, DhcpError> {
    let err = |action| {
        let interface = iface.map(str::to_owned);
        move |source| DhcpError::Socket {
            action,
            interface,
            source,
        }
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err("open"))?;
    s.set_reuse_address(true)
        .map_err(err("set SO_REUSEADDR on"))?;
    s.set_broadcast(true).map_err(err("set SO_BROADCAST on"))?;
    if let Some(i) = iface {
        s.bind_device(Some(i.as_bytes()))
            .map_err(err("bind to its interface (SO_BINDTODEVICE)"))?;
    }
    // Bursts of thousands of requests queue here while a commit is on disk.
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    s.bind(&SocketAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())
        .map_err(err("bind"))?;
    let socket: UdpSocket = s.into();
    socket
        .set_read_timeout(Some(TICK))
        .map_err(err("set a read timeout on"))?;
    Ok(socket)
}

fn receive(listeners: &[Listener], index: usize, shared: &Shared, tx: &SyncSender<Job>) {
    let Some(l) = listeners.get(index) else {
        return;
    };
    let mut buf = vec![0u8; 65_536];
    while !shared.stop.load(Ordering::Relaxed) {
        match l.socket.recv_from(&mut buf) {
            Ok((n, SocketAddr::V4(source))) => {
                let job = Job {
                    data: buf.get(..n).unwrap_or_default().to_vec(),
                    socket: index,
                    source,
                };
                match tx.try_send(job) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        shared.queue_full.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return,
                }
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                tracing::warn!(
                    interface = l.interface.as_deref().unwrap_or("(all)"),
                    "DHCP receive failed: {e}"
                );
                std::thread::sleep(TICK);
            }
        }
    }
}

/// Where the worker gets its datagrams.
enum Intake {
    /// From the socket threads (several sockets).
    Queue(Receiver<Job>),
    /// Straight from the only socket.
    Socket {
        listeners: Arc<Vec<Listener>>,
        buf: Vec<u8>,
        /// The read timeout set on the socket now.
        timeout: Option<Duration>,
        /// Whether the socket is in non-blocking mode now.
        nonblocking: bool,
    },
}

/// What [`Intake::next`] found.
enum Next {
    Job(Job),
    /// Nothing within the wait.
    Empty,
    /// The socket threads are gone.
    Closed,
}

impl Intake {
    /// The next datagram: without waiting (`None`), or waiting up to `wait`.
    fn next(&mut self, wait: Option<Duration>) -> Next {
        match self {
            Self::Queue(rx) => match wait {
                None => rx.try_recv().map_or(Next::Empty, Next::Job),
                Some(d) => match rx.recv_timeout(d) {
                    Ok(j) => Next::Job(j),
                    Err(RecvTimeoutError::Timeout) => Next::Empty,
                    Err(RecvTimeoutError::Disconnected) => Next::Closed,
                },
            },
            Self::Socket {
                listeners,
                buf,
                timeout,
                nonblocking,
            } => {
                let Some(l) = listeners.first() else {
                    return Next::Closed;
                };
                // Mode switches are one syscall each, and happen only when a
                // batch runs dry, not per datagram. The flush thread's sends
                // share the mode: a UDP send never waits with an 8 MiB send
                // buffer, and one that would is counted as `send_error`.
                let want_nb = wait.is_none();
                if *nonblocking != want_nb && l.socket.set_nonblocking(want_nb).is_ok() {
                    *nonblocking = want_nb;
                }
                if wait.is_some() && *timeout != wait && l.socket.set_read_timeout(wait).is_ok() {
                    *timeout = wait;
                }
                match l.socket.recv_from(buf) {
                    Ok((n, SocketAddr::V4(source))) => Next::Job(Job {
                        data: buf.get(..n).unwrap_or_default().to_vec(),
                        socket: 0,
                        source,
                    }),
                    Ok(_) => Next::Empty,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        Next::Empty
                    }
                    Err(e) => {
                        tracing::warn!(
                            interface = l.interface.as_deref().unwrap_or("(all)"),
                            "DHCP receive failed: {e}"
                        );
                        if wait.is_some() {
                            std::thread::sleep(POLL);
                        }
                        Next::Empty
                    }
                }
            }
        }
    }
}

struct Worker {
    listeners: Arc<Vec<Listener>>,
    /// To the flush thread, which sends each batch's replies once it is durable.
    flush: SyncSender<Committed>,
    shared: Arc<Shared>,
    /// Per subnet: when exhaustion was last logged, and misses since.
    exhausted: HashMap<String, (Option<Instant>, u64)>,
}

impl Worker {
    fn run(mut self, mut rx: Intake) {
        let mut last_stats = Instant::now();
        let mut counts = Stats::new();
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(every) = self.shared.server.plan().stats_every
                && last_stats.elapsed() >= every
            {
                last_stats = Instant::now();
                self.log_stats();
            }
            let first = match rx.next(Some(TICK)) {
                Next::Job(j) => j,
                Next::Empty => continue,
                Next::Closed => break,
            };
            self.batch(first, &mut rx, &mut counts);
            merge(&self.shared, &mut counts);
        }
        self.log_stats();
    }

    fn log_stats(&self) {
        let stats = DhcpHandle {
            shared: Arc::clone(&self.shared),
        }
        .stats();
        let line: Vec<String> = stats.iter().map(|(k, v)| format!("{k}={v}")).collect();
        tracing::info!("dhcp stats: {}", line.join(" "));
    }

    /// One group commit: opens a transaction with `first` and keeps adding
    /// queued requests to it while the flush thread is still syncing the
    /// previous batch (so the decisions overlap the fsync, and a slower disk
    /// makes bigger batches rather than more commits), up to `max_batch`;
    /// then commits without waiting for the disk and hands the replies over.
    fn batch(&mut self, first: Job, rx: &mut Intake, counts: &mut Stats) {
        let shared = Arc::clone(&self.shared);
        // Batch and hop limits as configured when the batch began; each
        // request is decided under the configuration current when it is.
        let plan = shared.server.plan();
        let (max_hops, max_batch) = (plan.max_hops, plan.max_batch.max(1));
        let exhaustion_every = plan.exhaustion_every;
        drop(plan);
        let mut tx = match shared.store.begin_unsynced() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!("DHCP: cannot start a lease transaction, request dropped: {e}");
                *counts.entry("store_error").or_default() += 1;
                return;
            }
        };
        let mut replies: Committed = Vec::new();
        let mut silences = Vec::new();
        let mut taken = 0usize;
        let mut next = Some(first);
        loop {
            if let Some(job) = next.take() {
                taken += 1;
                *counts.entry("received").or_default() += 1;
                let req = match wire::parse(&job.data, max_hops) {
                    Ok(req) => req,
                    Err(m) => {
                        tracing::debug!(source = %job.source, reason = m.as_str(), "DHCP datagram dropped: {m}");
                        *counts.entry(m.as_str()).or_default() += 1;
                        continue;
                    }
                };
                let ctx = Ingress {
                    interface: self
                        .listeners
                        .get(job.socket)
                        .and_then(|l| l.interface.clone()),
                    source: job.source,
                };
                match shared
                    .server
                    .handle(&req, &ctx, &mut *tx, SystemTime::now())
                {
                    Ok(Outcome::Reply(r)) => replies.push((job.socket, r)),
                    Ok(Outcome::Silent(s)) => silences.push(s),
                    Err(e) => {
                        note_store_failure(counts, taken, &e, "batch rolled back");
                        return;
                    }
                }
            }
            if taken >= max_batch {
                break;
            }
            match rx.next(None) {
                Next::Job(j) => {
                    next = Some(j);
                    continue;
                }
                Next::Empty => {}
                Next::Closed => break,
            }
            // Nothing queued: commit now if the disk is free, else wait a
            // little for more requests to share the next sync.
            if shared.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            match rx.next(Some(POLL)) {
                Next::Job(j) => next = Some(j),
                Next::Empty => {}
                Next::Closed => break,
            }
        }
        // In the log, not yet on disk: the flush thread sends the replies
        // only after a sync that began after this commit returned.
        if let Err(e) = tx.commit() {
            note_store_failure(counts, taken, &e, "commit failed, no reply sent");
            return;
        }
        for s in silences {
            *counts.entry(s.as_str()).or_default() += 1;
            if let Silence::PoolExhausted { subnet } = s {
                self.note_exhaustion(subnet, exhaustion_every);
            }
        }
        if replies.is_empty() {
            return;
        }
        let n = replies.len() as u64;
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        if self.flush.send(replies).is_err() {
            // The flush thread is gone (stopping): these replies never leave.
            shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            *counts.entry("store_error").or_default() += n;
        }
    }

    /// A full pool is logged with the subnet's name, at most once per interval.
    fn note_exhaustion(&mut self, subnet: String, every: Duration) {
        let entry = self.exhausted.entry(subnet.clone()).or_insert((None, 0));
        entry.1 += 1;
        if entry.0.is_none_or(|t| t.elapsed() >= every) {
            tracing::warn!(
                subnet = %subnet,
                misses = entry.1,
                "DHCP pool exhausted: subnet {subnet} has no free address ({} request(s) unanswered since the last report)",
                entry.1
            );
            *entry = (Some(Instant::now()), 0);
        }
    }
}

/// Adds a thread's counts to the shared counters.
fn merge(shared: &Shared, counts: &mut Stats) {
    if counts.is_empty() {
        return;
    }
    if let Ok(mut s) = shared.stats.lock() {
        for (k, v) in std::mem::take(counts) {
            *s.entry(k).or_default() += v;
        }
    }
}

/// The flush thread: takes every batch committed so far, makes them all
/// durable with one sync (which begins after each of their commits returned),
/// then sends their replies in commit order. A failed sync sends nothing.
fn flush(listeners: &[Listener], shared: &Shared, rx: &Receiver<Committed>) {
    let mut counts = Stats::new();
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batches = vec![first];
        while let Ok(b) = rx.try_recv() {
            batches.push(b);
        }
        let taken = batches.len();
        if let Err(e) = shared.store.sync() {
            let lost: usize = batches.iter().map(Vec::len).sum();
            tracing::error!("DHCP: leases not flushed to disk, {lost} repl(ies) not sent: {e}");
            *counts.entry("store_error").or_default() += lost as u64;
            shared.in_flight.fetch_sub(taken, Ordering::AcqRel);
            merge(shared, &mut counts);
            continue;
        }
        for (socket, r) in batches.into_iter().flatten() {
            let Some(l) = listeners.get(socket) else {
                continue;
            };
            let name = match r.kind {
                MessageType::Offer => "offer",
                MessageType::Ack => "ack",
                MessageType::Nak => "nak",
                _ => "other_reply",
            };
            match l.socket.send_to(&r.bytes, r.to) {
                Ok(_) => {
                    *counts.entry(name).or_default() += 1;
                    tracing::debug!(kind = name, yiaddr = %r.yiaddr, to = %r.to, "DHCP reply sent");
                }
                Err(e) => {
                    *counts.entry("send_error").or_default() += 1;
                    tracing::debug!(to = %r.to, "DHCP send failed: {e}");
                }
            }
        }
        shared.in_flight.fetch_sub(taken, Ordering::AcqRel);
        merge(shared, &mut counts);
    }
}

/// A batch lost to the store: counted, and logged as an error, except when
/// another server sharing the database changed the same leases first
/// (PostgreSQL serialization conflict). That is expected when several
/// servers answer one client, and its clients simply retry.
fn note_store_failure(counts: &mut Stats, taken: usize, e: &StoreError, what: &str) {
    if matches!(e, StoreError::Conflict { .. }) {
        tracing::debug!(
            "DHCP: {taken} request(s) lost to another server's change ({what}); their clients retry: {e}"
        );
        *counts.entry("store_conflict").or_default() += taken as u64;
    } else {
        tracing::error!("DHCP: lease store failed, {taken} request(s) dropped ({what}): {e}");
        *counts.entry("store_error").or_default() += taken as u64;
    }
}
