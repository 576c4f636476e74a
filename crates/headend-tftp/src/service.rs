//! The service: start (check the config, open the roots, bind the listen
//! addresses), the handle the rest of the program holds, and statistics.
//! The TFTP service has no reload: a changed `[tftp]` section takes effect
//! at the next start.

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::TftpError;
use crate::admission::{Admission, Shared, Stats};
use crate::config::TftpConfig;
use crate::core::options::{self, Limits};
use crate::format::{Formatter, TextOnly};
use crate::listen;
use crate::lookup::LeaseLookup;
use crate::path::Remap;
use crate::template::Templates;

/// A snapshot of the service's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Transfers abandoned because the peer never acknowledged the first
    /// packet (sent at most twice): a lost client, or a request with a
    /// spoofed source address trying to use the server as a reflector.
    /// Also counted in `transfers_failed`.
    pub unconfirmed: u64,
    /// Transfers in progress now.
    pub active: usize,
    /// Requests refused because their template failed to render or format
    /// (each also logged).
    pub template_errors: u64,
    /// Formatted template outputs (compiled DOCSIS files) served from the cache.
    pub template_cache_hits: u64,
    /// Formatted template outputs built (e.g. DOCSIS files compiled).
    pub template_cache_misses: u64,
    /// Templates rendered.
    pub template_renders: u64,
    /// Requests refused by admission rule: the allow-list (`tftp.allow`).
    pub refused_allow_list: u64,
    /// Requests refused by `tftp.client_rate`.
    pub refused_client_rate: u64,
    /// Requests refused by `tftp.max_transfers_per_client`.
    pub refused_client_limit: u64,
    /// Requests refused by `tftp.max_transfers` (or out of sockets).
    pub refused_server_limit: u64,
    /// Requests refused because the file is bound to another device's lease.
    pub refused_lease_binding: u64,
    /// Requests refused as malformed or not allowed (e.g. a write with
    /// uploads off). Part of `refused`.
    pub refused_request: u64,
    /// Requests refused by admission: the client allow-list and the
    /// transfer limits. Part of `refused`.
    pub refused_admission: u64,
    /// Requests refused for their file: path outside the root, a file bound
    /// to another device's lease, missing, or a template that failed. Part
    /// of `refused`.
    pub refused_file: u64,
    /// File data bytes sent by reads.
    pub bytes_sent: u64,
    /// File data bytes received by uploads.
    pub bytes_received: u64,
    /// Durations of completed transfers.
    pub duration: headend_util::HistogramSnapshot,
}

impl std::fmt::Display for TftpStats {
    /// `requests=3 refused=0 ...`: one `name=value` per counter, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests={} refused={} transfers_ok={} transfers_failed={} unconfirmed={} dropped={} datagrams_sent={} active={} template_errors={} template_cache_hits={} template_cache_misses={}",
            self.requests,
            self.refused,
            self.transfers_ok,
            self.transfers_failed,
            self.unconfirmed,
            self.dropped,
            self.datagrams_sent,
            self.active,
            self.template_errors,
            self.template_cache_hits,
            self.template_cache_misses
        )
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
        let t = self.shared.templates.stats();
        let rules = self.shared.admission.refusals();
        TftpStats {
            requests: s.requests.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            transfers_ok: s.transfers_ok.load(Ordering::Relaxed),
            transfers_failed: s.transfers_failed.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            datagrams_sent: s.datagrams_sent.load(Ordering::Relaxed),
            unconfirmed: s.unconfirmed.load(Ordering::Relaxed),
            active: self.shared.admission.active(),
            template_errors: t.errors,
            template_cache_hits: t.cache_hits,
            template_cache_misses: t.cache_misses,
            template_renders: t.renders,
            refused_allow_list: rules[0],
            refused_client_rate: rules[1],
            refused_client_limit: rules[2],
            refused_server_limit: rules[3],
            refused_lease_binding: t.lease_refused,
            refused_request: s.refused_request.load(Ordering::Relaxed),
            refused_admission: s.refused_admission.load(Ordering::Relaxed),
            refused_file: s.refused_file.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
            bytes_received: s.bytes_received.load(Ordering::Relaxed),
            duration: s.duration.snapshot(),
        }
    }

    /// Prepares the templates' output formats again (re-reading shared
    /// secrets) and empties the compiled-file cache (SIGHUP).
    pub fn reload_templates(&self) -> Result<(), TftpError> {
        self.shared.templates.reload_formats()
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
    /// Templates produce text only; see [`TftpService::start_with`].
    pub async fn start(
        config: TftpConfig,
        lookup: Arc<dyn LeaseLookup>,
    ) -> Result<TftpHandle, TftpError> {
        Self::start_with(config, lookup, Arc::new(TextOnly)).await
    }

    /// As [`TftpService::start`], with `formatter` turning rendered
    /// templates into their output format (e.g. compiled DOCSIS files).
    pub async fn start_with(
        config: TftpConfig,
        lookup: Arc<dyn LeaseLookup>,
        formatter: Arc<dyn Formatter>,
    ) -> Result<TftpHandle, TftpError> {
        validate(&config)?;
        let root = check_dir("root", &config.root)?;
        let root_fd = File::open(&root).map_err(|e| root_error("root", &root, e))?;
        let write_root = match &config.write_root {
            Some(w) => Some(check_dir("write_root", w)?),
            None => None,
        };
        let remaps = Remap::compile(&config.remap)?;
        let templates = Templates::compile_with(&config.templates, formatter)?;
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
            admission: Admission::new(),
            stats: Stats::default(),
            sockets: Default::default(),
            small_files: Default::default(),
        });
        let (stop, _) = watch::channel(false);
        // The shared transfer sockets live while a listener does: once the
        // service stops, each ends after its last transfer.
        let muxes = Arc::new(listen::Muxes::default());
        for (sock, wildcard) in sockets {
            let shared = Arc::clone(&shared);
            let muxes = Arc::clone(&muxes);
            let mut stopped = stop.subscribe();
            tokio::spawn(async move {
                tokio::select! {
                    () = listen::serve(sock, wildcard, shared, muxes) => {}
                    _ = stopped.wait_for(|s| *s) => {}
                }
            });
        }
        let listen: Vec<String> = local.iter().map(ToString::to_string).collect();
        tracing::info!(listen = %listen.join(","), root = %shared.root.display(), "TFTP serving");
        Ok(TftpHandle {
            shared,
            local: Arc::new(local),
            stop: Arc::new(stop),
        })
    }
}
