//! The thin socket loop around one transfer (its own socket = its own TID),
//! and the file-backed source and sink the state machines read and write.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{SockaddrStorage, recvfrom};
use tokio::net::UdpSocket;

use crate::core::netascii;
use crate::core::packet::{self, ErrorCode, Packet};
use crate::core::receive::{BlockSink, Receive};
use crate::core::transfer::{Abort, BlockSource, Step, Transfer};
use crate::server::{Shared, Slot};

/// A file opened beneath the root, served with positional reads.
pub(crate) struct FileSource {
    pub(crate) file: File,
    pub(crate) len: u64,
}

impl BlockSource for FileSource {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, Abort> {
        let want = usize::try_from(self.len.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let mut done = 0;
        while done < want {
            match self
                .file
                .read_at(&mut buf[done..want], offset + done as u64)
            {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Abort {
                        code: ErrorCode::NotDefined,
                        message: format!("read error: {e}"),
                    });
                }
            }
        }
        Ok(done)
    }
}

/// An upload written to a temporary file beside its target, made visible
/// only when complete (hard link: never replaces an existing file unless
/// overwriting is allowed, then rename).
pub(crate) struct FileSink {
    pub(crate) file: Option<File>,
    pub(crate) tmp: PathBuf,
    pub(crate) target: PathBuf,
    pub(crate) overwrite: bool,
    pub(crate) netascii: Option<netascii::Decoder>,
    pub(crate) scratch: Vec<u8>,
}

fn io_abort(e: &std::io::Error) -> Abort {
    Abort {
        code: ErrorCode::DiskFull,
        message: format!("cannot write upload: {e}"),
    }
}

impl BlockSink for FileSink {
    fn write(&mut self, data: &[u8]) -> Result<(), Abort> {
        let Some(file) = self.file.as_mut() else {
            return Err(io_abort(&std::io::Error::other("upload already closed")));
        };
        match self.netascii.as_mut() {
            Some(dec) => {
                self.scratch.clear();
                dec.feed(data, &mut self.scratch);
                file.write_all(&self.scratch).map_err(|e| io_abort(&e))
            }
            None => file.write_all(data).map_err(|e| io_abort(&e)),
        }
    }

    fn finish(&mut self) -> Result<(), Abort> {
        let Some(mut file) = self.file.take() else {
            return Err(io_abort(&std::io::Error::other("upload already closed")));
        };
        if let Some(dec) = self.netascii.as_mut() {
            self.scratch.clear();
            dec.finish(&mut self.scratch);
            file.write_all(&self.scratch).map_err(|e| io_abort(&e))?;
        }
        file.sync_all().map_err(|e| io_abort(&e))?;
        drop(file);
        if self.overwrite {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| io_abort(&e))
        } else {
            // link(2) fails if the target exists: no overwrite, even in a race.
            let linked = std::fs::hard_link(&self.tmp, &self.target);
            let _ = std::fs::remove_file(&self.tmp);
            linked.map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Abort {
                    code: ErrorCode::FileExists,
                    message: "file already exists".into(),
                },
                _ => io_abort(&e),
            })
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Unfinished upload: leave nothing behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Either direction's state machine.
pub(crate) enum Machine {
    /// RRQ.
    Read(Transfer),
    /// WRQ.
    Write(Receive),
}

impl Machine {
    fn start(&mut self, now: Instant) -> Step {
        match self {
            Self::Read(t) => t.start(now),
            Self::Write(r) => r.start(now),
        }
    }

    fn on_packet(&mut self, pkt: Packet<'_>, now: Instant) -> Step {
        match self {
            Self::Read(t) => t.on_packet(pkt, now),
            Self::Write(r) => r.on_packet(pkt, now),
        }
    }

    fn on_timeout(&mut self, now: Instant) -> Step {
        match self {
            Self::Read(t) => t.on_timeout(now),
            Self::Write(r) => r.on_timeout(now),
        }
    }

    /// Largest datagram expected from the peer (+1 to spot oversize ones).
    fn recv_size(&self) -> usize {
        match self {
            // ACKs and ERRORs only.
            Self::Read(_) => 1024,
            Self::Write(r) => r.blksize() + 5,
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Self::Read(t) => t.bytes_acked(),
            Self::Write(r) => r.bytes(),
        }
    }
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
        match sock.try_io(tokio::io::Interest::WRITABLE, || {
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

/// Polls the socket directly for a short while when the server is lightly
/// loaded: the peer's ACK usually arrives within microseconds on a LAN, and
/// sleeping in epoll and being woken costs more than that. Other tasks still
/// run in between (each miss yields to the runtime).
async fn spin_recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    let until = Instant::now() + SPIN_BUDGET;
    loop {
        match recvfrom::<SockaddrStorage>(sock.as_raw_fd(), buf) {
            Ok((n, Some(from))) => {
                let from = from
                    .as_sockaddr_in()
                    .map(|a| SocketAddr::from((a.ip(), a.port())))
                    .or_else(|| {
                        from.as_sockaddr_in6()
                            .map(|a| SocketAddr::from((a.ip(), a.port())))
                    })?;
                return Some((n, from));
            }
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

/// Drives one transfer until it ends.
pub(crate) async fn run(
    sock: UdpSocket,
    peer: SocketAddr,
    name: String,
    mut machine: Machine,
    shared: Arc<Shared>,
    _slot: Slot,
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
    loop {
        let (until, sent) = match step {
            Step::Send { datagrams, until } => {
                send_all(&sock, peer, &datagrams, &shared).await;
                (until, true)
            }
            Step::Wait(until) => (until, false),
            Step::Done(datagrams) => {
                send_all(&sock, peer, &datagrams, &shared).await;
                if matches!(machine, Machine::Write(_)) {
                    dally(&sock, peer, &datagrams, &mut buf, &shared).await;
                }
                shared.stats.transfers_ok.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    %peer,
                    file = %name,
                    bytes = machine.bytes(),
                    ms = started.elapsed().as_millis() as u64,
                    "TFTP transfer complete"
                );
                return;
            }
            Step::Fail { datagrams, error } => {
                // Clean up first (an aborted upload's temporary file is
                // removed when its sink drops), then tell the peer.
                let bytes = machine.bytes();
                drop(machine);
                send_all(&sock, peer, &datagrams, &shared).await;
                shared
                    .stats
                    .transfers_failed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, file = %name, bytes, "TFTP transfer ended: {error}");
                return;
            }
        };
        if armed.is_none_or(|a| until < a) {
            sleep.as_mut().reset(until.into());
            armed = Some(until);
        }
        let waiting_since = Instant::now();
        let spun = if sent && spin_misses < SPIN_MAX_MISSES && shared.active() <= SPIN_MAX_ACTIVE {
            let got = spin_recv(&sock, &mut buf).await;
            spin_misses = if got.is_some() { 0 } else { spin_misses + 1 };
            got
        } else {
            None
        };
        let input = match spun {
            Some((n, from)) => Input::Datagram(n, from),
            None => tokio::select! {
                biased;
                r = sock.recv_from(&mut buf) => match r {
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
