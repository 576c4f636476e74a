//! The service: listen sockets, request admission (allow-list, rate and
//! concurrency limits), path resolution, and one task per transfer.

use std::collections::HashMap;
use std::fs::File;
use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::TftpError;
use crate::config::TftpConfig;
use crate::core::netascii;
use crate::core::options::{self, Limits};
use crate::core::packet::{self, ErrorCode, Mode, Packet, PacketError, Request};
use crate::core::receive::Receive;
use crate::core::transfer::{Abort, BlockSource, Transfer};
use crate::lookup::LeaseLookup;
use crate::path::{self, Remap};
use crate::session::{self, FileSink, FileSource, Machine};
use crate::template::Templates;

/// Largest file served in netascii mode (it is translated in memory).
const MAX_NETASCII: u64 = 16 * 1024 * 1024;
/// Files up to this size are read into memory in one go when the request arrives.
const SMALL_FILE: u64 = 64 * 1024;

/// Counters of the running service.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) transfers_ok: AtomicU64,
    pub(crate) transfers_failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) datagrams_sent: AtomicU64,
}

/// A snapshot of the service's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TftpStats {
    /// Requests (RRQ/WRQ) received.
    pub requests: u64,
    /// Requests refused with an ERROR (path, access, limits).
    pub refused: u64,
    /// Transfers completed.
    pub transfers_ok: u64,
    /// Transfers ended by an error or timeout.
    pub transfers_failed: u64,
    /// Malformed or stray datagrams dropped.
    pub dropped: u64,
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Transfers in progress now.
    pub active: usize,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    active: usize,
}

/// State shared by the listeners and the transfers.
pub(crate) struct Shared {
    root: PathBuf,
    root_fd: File,
    write_root: Option<PathBuf>,
    remaps: Vec<Remap>,
    templates: Templates,
    lookup: Arc<dyn LeaseLookup>,
    config: TftpConfig,
    limits: Limits,
    clients: Mutex<HashMap<IpAddr, Bucket>>,
    active: AtomicUsize,
    pub(crate) stats: Stats,
}

impl Shared {
    /// Transfers in progress.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

/// A reserved transfer slot; released on drop.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut clients) = self.shared.clients.lock()
            && let Some(b) = clients.get_mut(&self.ip)
        {
            b.active = b.active.saturating_sub(1);
        }
    }
}

/// Cloneable handle to the running TFTP service.
#[derive(Clone)]
pub struct TftpHandle {
    shared: Arc<Shared>,
    local: Arc<Vec<SocketAddr>>,
    stop: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for TftpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TftpHandle")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl TftpHandle {
    /// The bound listen addresses (with the real port when 0 was configured).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local.as_ref().clone()
    }

    /// The counters so far.
    pub fn stats(&self) -> TftpStats {
        let s = &self.shared.stats;
        TftpStats {
            requests: s.requests.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            transfers_ok: s.transfers_ok.load(Ordering::Relaxed),
            transfers_failed: s.transfers_failed.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            datagrams_sent: s.datagrams_sent.load(Ordering::Relaxed),
            active: self.shared.active.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting requests (transfers in progress run to their end).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

/// Entry point of the TFTP service.
#[derive(Debug)]
pub struct TftpService;

fn root_error(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TftpError {
    TftpError::Root {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn check_dir(what: &'static str, path: &Path) -> Result<PathBuf, TftpError> {
    let canonical = path.canonicalize().map_err(|e| {
        root_error(
            what,
            path,
            format!("{e} (create the folder or fix the path)"),
        )
    })?;
    if !canonical.is_dir() {
        return Err(root_error(what, path, "is not a folder"));
    }
    Ok(canonical)
}

fn validate(config: &TftpConfig) -> Result<(), TftpError> {
    let bad = |key: &str, reason: &str| {
        Err(TftpError::Config {
            key: key.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if !(options::MIN_BLKSIZE..=options::MAX_BLKSIZE).contains(&config.max_blksize) {
        return bad("max_blksize", "must be between 8 and 65464 (RFC 2348)");
    }
    if !(1..=options::MAX_WINDOWSIZE).contains(&config.max_windowsize) {
        return bad("max_windowsize", "must be between 1 and 64");
    }
    if config.timeout_ms == 0 || config.timeout_ms > 255_000 {
        return bad("timeout_ms", "must be between 1 and 255000");
    }
    if config.max_transfers == 0 || config.max_transfers_per_client == 0 {
        return bad("max_transfers", "limits must be at least 1");
    }
    if config.client_rate.is_nan() || config.client_rate < 0.0 {
        return bad(
            "client_rate",
            "must be 0 (no limit) or a positive rate per second",
        );
    }
    if config.listen.is_empty() {
        return bad("listen", "give at least one address, e.g. [\"0.0.0.0:69\"]");
    }
    Ok(())
}

fn is_wildcard(ip: IpAddr) -> bool {
    ip.is_unspecified()
}

impl TftpService {
    /// Checks the config, opens the roots, binds every listen address and
    /// starts serving. `lookup` answers lease questions for templates.
    pub async fn start(
        config: TftpConfig,
        lookup: Arc<dyn LeaseLookup>,
    ) -> Result<TftpHandle, TftpError> {
        validate(&config)?;
        let root = check_dir("root", &config.root)?;
        let root_fd = File::open(&root).map_err(|e| root_error("root", &root, e))?;
        let write_root = match &config.write_root {
            Some(w) => Some(check_dir("write_root", w)?),
            None => None,
        };
        let remaps = Remap::compile(&config.remap)?;
        let templates = Templates::compile(&config.templates)?;
        let limits = Limits {
            max_blksize: config.max_blksize,
            max_windowsize: config.max_windowsize,
            default_timeout: Duration::from_millis(config.timeout_ms),
        };
        let mut sockets = Vec::new();
        for &addr in &config.listen {
            let sock = UdpSocket::bind(addr)
                .await
                .map_err(|source| TftpError::Bind { addr, source })?;
            let wildcard = is_wildcard(addr.ip());
            if wildcard {
                // Reply from the address each request arrived on (IP_PKTINFO).
                let set = match addr {
                    SocketAddr::V4(_) => setsockopt(&sock, sockopt::Ipv4PacketInfo, &true),
                    SocketAddr::V6(_) => setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true),
                };
                set.map_err(|e| TftpError::Bind {
                    addr,
                    source: std::io::Error::from(e),
                })?;
            }
            sockets.push((sock, wildcard));
        }
        let local: Vec<SocketAddr> = sockets
            .iter()
            .filter_map(|(s, _)| s.local_addr().ok())
            .collect();
        let shared = Arc::new(Shared {
            root,
            root_fd,
            write_root,
            remaps,
            templates,
            lookup,
            config,
            limits,
            clients: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            stats: Stats::default(),
        });
        let (stop, _) = watch::channel(false);
        for (sock, wildcard) in sockets {
            let shared = Arc::clone(&shared);
            let mut stopped = stop.subscribe();
            tokio::spawn(async move {
                tokio::select! {
                    () = listen(sock, wildcard, shared) => {}
                    _ = stopped.wait_for(|s| *s) => {}
                }
            });
        }
        tracing::info!(listen = ?local, root = %shared.root.display(), "TFTP serving");
        Ok(TftpHandle {
            shared,
            local: Arc::new(local),
            stop: Arc::new(stop),
        })
    }
}

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

async fn listen(sock: UdpSocket, wildcard: bool, shared: Arc<Shared>) {
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
        handle_datagram(&shared, buf.get(..n).unwrap_or_default(), peer, local);
    }
}

/// Sends a one-off ERROR from a fresh socket on the request's local address.
fn refuse(shared: &Shared, local: IpAddr, peer: SocketAddr, name: &str, abort: &Abort) {
    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%peer, file = name, code = abort.code as u16, "TFTP refused: {}", abort.message);
    let dg = packet::error(abort.code, &abort.message);
    match std::net::UdpSocket::bind(SocketAddr::new(local, 0)) {
        Ok(s) => {
            let _ = s.send_to(&dg, peer);
        }
        Err(e) => tracing::debug!("cannot open a socket to send an ERROR: {e}"),
    }
}

fn abort(code: ErrorCode, message: impl Into<String>) -> Abort {
    Abort {
        code,
        message: message.into(),
    }
}

fn handle_datagram(shared: &Arc<Shared>, dg: &[u8], peer: SocketAddr, local: IpAddr) {
    let (req, write) = match Packet::parse(dg) {
        Ok(Packet::Rrq(req)) => (req, false),
        Ok(Packet::Wrq(req)) => (req, true),
        Err(PacketError::BadMode(mode)) => {
            // A mode that is no word means the name held a NUL byte
            // (`name\0../x\0octet\0`): refuse it as an access violation.
            let a = if mode.chars().all(|c| c.is_ascii_alphabetic()) {
                abort(
                    ErrorCode::IllegalOperation,
                    format!("unsupported mode {mode:?}"),
                )
            } else {
                abort(ErrorCode::AccessViolation, "NUL byte in file name")
            };
            return refuse(shared, local, peer, "", &a);
        }
        Err(PacketError::Unterminated | PacketError::OptionWithoutValue)
            if matches!(dg.get(..2), Some([0, 1 | 2])) =>
        {
            let a = abort(ErrorCode::IllegalOperation, "malformed request");
            return refuse(shared, local, peer, "", &a);
        }
        _ => {
            // Not a request (or garbage) on the listen port: drop and count.
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let shown = String::from_utf8_lossy(req.filename).into_owned();
    let slot = match admit(shared, peer.ip()) {
        Ok(slot) => slot,
        Err(a) => return refuse(shared, local, peer, &shown, &a),
    };
    let now = Instant::now();
    let prepared = if write {
        prepare_write(shared, &req, peer, now)
    } else {
        prepare_read(shared, &req, peer, now)
    };
    let (name, machine) = match prepared {
        Ok(v) => v,
        Err(a) => return refuse(shared, local, peer, &shown, &a),
    };
    // RFC 1350 §4: each transfer gets a new port (TID) on the server side.
    let sock = transfer_socket(local);
    let sock = match sock {
        Ok(s) => s,
        Err(e) => {
            let a = abort(
                ErrorCode::NotDefined,
                format!("server cannot open a socket: {e}"),
            );
            return refuse(shared, local, peer, &shown, &a);
        }
    };
    tracing::debug!(%peer, file = %name, write, "TFTP transfer start");
    tokio::spawn(session::run(
        sock,
        peer,
        name,
        machine,
        Arc::clone(shared),
        slot,
    ));
}

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

/// Allow-list, rate and concurrency checks; reserves a transfer slot.
fn admit(shared: &Arc<Shared>, ip: IpAddr) -> Result<Slot, Abort> {
    let cfg = &shared.config;
    if !cfg.allow.is_empty() && !cfg.allow.iter().any(|net: &IpNet| net.contains(&ip)) {
        return Err(abort(ErrorCode::AccessViolation, "access denied"));
    }
    let now = Instant::now();
    let mut clients = shared
        .clients
        .lock()
        .map_err(|_| abort(ErrorCode::NotDefined, "server busy"))?;
    if clients.len() > 65_536 {
        clients.retain(|_, b| b.active > 0 || now.duration_since(b.last) < Duration::from_secs(60));
    }
    let burst = f64::from(cfg.client_burst.max(1));
    let bucket = clients.entry(ip).or_insert(Bucket {
        tokens: burst,
        last: now,
        active: 0,
    });
    if cfg.client_rate > 0.0 {
        let refill = now.duration_since(bucket.last).as_secs_f64() * cfg.client_rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            return Err(abort(
                ErrorCode::NotDefined,
                "too many requests from this address; try again later",
            ));
        }
        bucket.tokens -= 1.0;
    }
    if bucket.active >= cfg.max_transfers_per_client {
        return Err(abort(
            ErrorCode::NotDefined,
            "too many transfers from this address; try again later",
        ));
    }
    if shared.active.load(Ordering::Relaxed) >= cfg.max_transfers {
        return Err(abort(ErrorCode::NotDefined, "server busy; try again later"));
    }
    bucket.active += 1;
    shared.active.fetch_add(1, Ordering::Relaxed);
    Ok(Slot {
        shared: Arc::clone(shared),
        ip,
    })
}

fn prepare_read(
    shared: &Shared,
    req: &Request<'_>,
    peer: SocketAddr,
    now: Instant,
) -> Result<(String, Machine), Abort> {
    let cfg = &shared.config;
    let rel = path::normalize(
        req.filename,
        &shared.root,
        &shared.remaps,
        cfg.max_filename_len,
    )?;
    let source: Box<dyn BlockSource> =
        match shared
            .templates
            .resolve(&rel, peer.ip(), shared.lookup.as_ref())
        {
            Some(rendered) => {
                let bytes = rendered?;
                match req.mode {
                    Mode::Octet => Box::new(bytes),
                    Mode::Netascii => Box::new(netascii::encode(&bytes)),
                }
            }
            None => {
                let (file, len) = path::open_beneath(&shared.root_fd, &shared.root, &rel)?;
                match req.mode {
                    // Small files (modem configs) are read at once and closed.
                    Mode::Octet if len <= SMALL_FILE => {
                        let mut data = vec![0u8; len as usize];
                        let n = FileSource { file, len }.read_at(0, &mut data)?;
                        data.truncate(n);
                        Box::new(data)
                    }
                    Mode::Octet => Box::new(FileSource { file, len }),
                    Mode::Netascii => {
                        if len > MAX_NETASCII {
                            return Err(abort(
                                ErrorCode::NotDefined,
                                "file too large for netascii; use octet mode",
                            ));
                        }
                        let mut raw = vec![0u8; len as usize];
                        let mut src = FileSource { file, len };
                        let n = src.read_at(0, &mut raw)?;
                        raw.truncate(n);
                        Box::new(netascii::encode(&raw))
                    }
                }
            }
        };
    let negotiated = options::negotiate(&req.options, shared.limits, Some(source.size()), true);
    let t = Transfer::new(peer, source, &negotiated, cfg.max_retries, now);
    Ok((rel, Machine::Read(t)))
}

fn prepare_write(
    shared: &Shared,
    req: &Request<'_>,
    peer: SocketAddr,
    now: Instant,
) -> Result<(String, Machine), Abort> {
    let cfg = &shared.config;
    let Some(write_root) = &shared.write_root else {
        return Err(abort(
            ErrorCode::AccessViolation,
            "uploads are disabled on this server",
        ));
    };
    let rel = path::normalize(
        req.filename,
        write_root,
        &shared.remaps,
        cfg.max_filename_len,
    )?;
    let (dir, file_name) = path::upload_target(write_root, &rel)?;
    let target = dir.join(&file_name);
    if !cfg.allow_overwrite && std::fs::symlink_metadata(&target).is_ok() {
        return Err(abort(ErrorCode::FileExists, "file already exists"));
    }
    if std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Err(abort(ErrorCode::AccessViolation, "not a regular file"));
    }
    let negotiated = options::negotiate(&req.options, shared.limits, None, false);
    if negotiated
        .announced_size
        .is_some_and(|s| s > cfg.max_upload_bytes)
    {
        return Err(abort(
            ErrorCode::DiskFull,
            format!("upload exceeds the {} byte limit", cfg.max_upload_bytes),
        ));
    }
    static UPLOADS: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{file_name}.upload-{}-{}",
        std::process::id(),
        UPLOADS.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| {
            abort(
                ErrorCode::AccessViolation,
                format!("cannot create upload: {e}"),
            )
        })?;
    let sink = FileSink {
        file: Some(file),
        tmp,
        target,
        overwrite: cfg.allow_overwrite,
        netascii: (req.mode == Mode::Netascii).then(netascii::Decoder::default),
        scratch: Vec::new(),
    };
    let r = Receive::new(
        peer,
        Box::new(sink),
        &negotiated,
        cfg.max_upload_bytes,
        cfg.max_retries,
        now,
    );
    Ok((rel, Machine::Write(r)))
}
