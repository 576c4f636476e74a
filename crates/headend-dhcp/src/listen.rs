//! The sockets, and nothing else: one UDP socket per configured interface
//! (SO_BINDTODEVICE, SO_BROADCAST, SO_REUSEADDR). With one socket, the
//! worker reads it itself (its kernel receive buffer is the queue; no
//! hand-off, no wake-up per datagram); with several, each is read by its own
//! thread, which only queues datagrams. Either way a datagram is read by
//! [`Listener::recv`], the one receive step. Decisions are the core's; the
//! batches and their commit are [`crate::commit`]'s.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::DhcpError;
use crate::stats::DhcpStats;

/// How often blocked threads look at the stop flag.
pub(crate) const TICK: Duration = Duration::from_millis(200);
/// How long the worker waits for another request while the previous batch
/// is being synced, before looking at the flush thread again; also the
/// pause after a receive error.
pub(crate) const POLL: Duration = Duration::from_micros(200);
/// Datagrams queued between the socket threads and the worker, in batches:
/// a deeper queue only answers requests the clients have given up on.
const QUEUE_BATCHES: usize = 4;
/// The largest UDP payload.
const DATAGRAM_MAX: usize = 65_536;

/// A datagram received.
pub(crate) struct Job {
    /// Its bytes.
    pub(crate) data: Vec<u8>,
    /// The index of the listener it arrived on.
    pub(crate) socket: usize,
    /// Its sender (a relay, or the client itself).
    pub(crate) source: SocketAddrV4,
}

/// One socket and the interface it is bound to.
pub(crate) struct Listener {
    /// The interface (None: every interface).
    pub(crate) interface: Option<String>,
    socket: UdpSocket,
}

/// What one read of a socket gave.
enum Received {
    Job(Job),
    /// Nothing within the socket's wait (or a non-IPv4 sender).
    Nothing,
    /// The read failed (logged).
    Failed,
}

impl Listener {
    /// Opens, configures and binds the socket for `interface` (None: every
    /// interface) on `port`.
    pub(crate) fn open(interface: Option<String>, port: u16) -> Result<Self, DhcpError> {
        let err = |action| {
            let interface = interface.clone();
            move |source| DhcpError::Socket {
                action,
                interface,
                hint: crate::error::socket_hint(action, port, &source),
                source,
            }
        };
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err("open"))?;
        s.set_reuse_address(true)
            .map_err(err("set SO_REUSEADDR on"))?;
        s.set_broadcast(true).map_err(err("set SO_BROADCAST on"))?;
        if let Some(i) = &interface {
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
        Ok(Self { interface, socket })
    }

    /// The interface's name for logs.
    pub(crate) fn name(&self) -> &str {
        self.interface.as_deref().unwrap_or("(all)")
    }

    /// Reads one datagram (as the socket's blocking mode and timeout allow)
    /// into `buf`, and copies it out as the job of listener `index`.
    fn recv(&self, index: usize, buf: &mut [u8]) -> Received {
        match self.socket.recv_from(buf) {
            Ok((n, SocketAddr::V4(source))) => Received::Job(Job {
                data: buf.get(..n).unwrap_or_default().to_vec(),
                socket: index,
                source,
            }),
            Ok(_) => Received::Nothing,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Received::Nothing
            }
            Err(e) => {
                tracing::warn!(interface = self.name(), "DHCP receive failed: {e}");
                Received::Failed
            }
        }
    }

    /// Sends datagrams with as few system calls as the kernel allows;
    /// `sent[i]` says whether `out[i]` left. With one socket the worker may
    /// have left it in non-blocking mode: a UDP send never waits with an
    /// 8 MiB send buffer, and one that would fails (the caller counts it as
    /// `send_error`).
    pub(crate) fn send_many(&self, out: &[(&[u8], SocketAddr)], sent: &mut Vec<bool>) {
        headend_util::net::send_many(&self.socket, out, sent);
    }
}

/// Opens one listener per configured interface (one on every interface
/// when none is configured).
pub(crate) fn open_all(interfaces: &[String], port: u16) -> Result<Vec<Listener>, DhcpError> {
    if interfaces.is_empty() {
        return Ok(vec![Listener::open(None, port)?]);
    }
    interfaces
        .iter()
        .map(|i| Listener::open(Some(i.clone()), port))
        .collect()
}

/// Starts a thread (named for `ps` and panics).
pub(crate) fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), DhcpError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map(|_| ())
        .map_err(|source| DhcpError::Thread {
            name: name.to_owned(),
            source,
        })
}

/// A socket thread (several sockets): reads its socket and queues each
/// datagram for the worker, counting `queue_full` when the queue is full.
fn receive(
    listeners: &[Listener],
    index: usize,
    stop: &AtomicBool,
    stats: &DhcpStats,
    tx: &SyncSender<Job>,
) {
    let Some(l) = listeners.get(index) else {
        return;
    };
    let mut buf = vec![0u8; DATAGRAM_MAX];
    while !stop.load(Ordering::Relaxed) {
        match l.recv(index, &mut buf) {
            Received::Job(job) => match tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    stats.queue_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => return,
            },
            Received::Nothing => {}
            Received::Failed => std::thread::sleep(TICK),
        }
    }
}

/// Where the worker gets its datagrams.
pub(crate) enum Intake {
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
pub(crate) enum Next {
    Job(Job),
    /// Nothing within the wait.
    Empty,
    /// The socket threads are gone.
    Closed,
}

impl Intake {
    /// The worker's intake for `listeners`: the only socket itself, or a
    /// queue of `batch * QUEUE_BATCHES` datagrams fed by one thread per
    /// socket (started here; they end when `stop` is set).
    pub(crate) fn start(
        listeners: &Arc<Vec<Listener>>,
        batch: usize,
        stop: &Arc<AtomicBool>,
        stats: &Arc<DhcpStats>,
    ) -> Result<Self, DhcpError> {
        if listeners.len() == 1 {
            return Ok(Self::Socket {
                listeners: Arc::clone(listeners),
                buf: vec![0u8; DATAGRAM_MAX],
                timeout: Some(TICK),
                nonblocking: false,
            });
        }
        let (tx, rx) = sync_channel(batch.max(256) * QUEUE_BATCHES);
        for (i, l) in listeners.iter().enumerate() {
            let name = format!("dhcp-rx-{}", l.interface.as_deref().unwrap_or("any"));
            let (listeners, stop, stats, tx) = (
                Arc::clone(listeners),
                Arc::clone(stop),
                Arc::clone(stats),
                tx.clone(),
            );
            spawn(&name, move || receive(&listeners, i, &stop, &stats, &tx))?;
        }
        Ok(Self::Queue(rx))
    }

    /// The next datagram: without waiting (`None`), or waiting up to `wait`.
    pub(crate) fn next(&mut self, wait: Option<Duration>) -> Next {
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
                // share the mode (see [`Listener::send`]).
                let want_nb = wait.is_none();
                if *nonblocking != want_nb && l.socket.set_nonblocking(want_nb).is_ok() {
                    *nonblocking = want_nb;
                }
                if wait.is_some() && *timeout != wait && l.socket.set_read_timeout(wait).is_ok() {
                    *timeout = wait;
                }
                match l.recv(0, buf) {
                    Received::Job(job) => Next::Job(job),
                    Received::Nothing => Next::Empty,
                    Received::Failed => {
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
