//! Admission: which requests may become transfers (the allow-list, each
//! client's request rate and transfer count, the server-wide transfer limit),
//! and the state the listeners and the transfers share.

use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use headend_util::TokenBucket;
use ipnet::IpNet;

use crate::config::TftpConfig;
use crate::core::options::Limits;
use crate::core::packet::ErrorCode;
use crate::core::transfer::Abort;
use crate::lookup::LeaseLookup;
use crate::path::Remap;
use crate::template::Templates;

/// Clients remembered before idle ones are forgotten.
const MAX_CLIENTS: usize = 65_536;
/// Seconds after its last request that a client without transfers may be
/// forgotten.
const FORGET_AFTER_SECS: f64 = 60.0;

/// Counters of the running service.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) transfers_ok: AtomicU64,
    pub(crate) transfers_failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) datagrams_sent: AtomicU64,
    pub(crate) unconfirmed: AtomicU64,
    /// Refusals by stage: the request itself, admission (allow-list and
    /// limits), the file (path, lease binding, missing, template).
    pub(crate) refused_request: AtomicU64,
    pub(crate) refused_admission: AtomicU64,
    pub(crate) refused_file: AtomicU64,
    /// Bytes of file data sent by completed and failed reads.
    pub(crate) bytes_sent: AtomicU64,
    /// Bytes of file data received by uploads.
    pub(crate) bytes_received: AtomicU64,
    /// How long completed transfers took.
    pub(crate) duration: headend_util::Histogram,
}

/// State shared by the listeners and the transfers: what is served (fixed
/// at start), the admission state and the counters.
pub(crate) struct Shared {
    /// The canonical root folder.
    pub(crate) root: PathBuf,
    /// The root folder, open, for openat2(2) beneath it.
    pub(crate) root_fd: File,
    /// The canonical upload folder, when uploads are enabled.
    pub(crate) write_root: Option<PathBuf>,
    /// Compiled remap rules.
    pub(crate) remaps: Vec<Remap>,
    /// Compiled per-device templates.
    pub(crate) templates: Templates,
    /// Lease facts for the templates.
    pub(crate) lookup: Arc<dyn LeaseLookup>,
    /// The `[tftp]` section as started.
    pub(crate) config: TftpConfig,
    /// The option limits derived from the config.
    pub(crate) limits: Limits,
    /// Who is transferring how much.
    pub(crate) admission: Admission,
    /// The counters.
    pub(crate) stats: Stats,
    /// Finished transfers' sockets, for the next transfers.
    pub(crate) sockets: crate::tid_pool::TidPool<tokio::net::UdpSocket>,
    /// Small files read before.
    pub(crate) small_files: crate::file_cache::SmallFiles,
}

/// One client's request rate and transfers in progress.
struct Client {
    bucket: TokenBucket,
    active: usize,
}

/// Transfers in progress, by client and in all.
pub(crate) struct Admission {
    clients: Mutex<HashMap<IpAddr, Client>>,
    active: AtomicUsize,
    /// The zero of the buckets' clock (seconds since this instant).
    epoch: Instant,
    /// Requests refused, by [`Rule`].
    refused: [AtomicU64; 4],
}

/// The admission rule that refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `tftp.allow`: the client is in no allowed prefix.
    AllowList = 0,
    /// `tftp.client_rate`: the client asked too often.
    ClientRate = 1,
    /// `tftp.max_transfers_per_client`.
    ClientLimit = 2,
    /// `tftp.max_transfers`, or the server is out of sockets.
    ServerLimit = 3,
}

impl Admission {
    /// No client, no transfer.
    pub(crate) fn new() -> Self {
        Self {
            clients: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            epoch: Instant::now(),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts a refusal by `rule`.
    pub(crate) fn refused_by(&self, rule: Rule) {
        if let Some(c) = self.refused.get(rule as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refusals so far: allow-list, client rate, per-client limit, server limit.
    pub(crate) fn refusals(&self) -> [u64; 4] {
        self.refused.each_ref().map(|a| a.load(Ordering::Relaxed))
    }

    /// Transfers in progress.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Allow-list, rate and concurrency checks for a request from `ip` at
    /// `now` (seconds on the admission clock); on success one transfer is
    /// counted for `ip` until [`release`](Self::release).
    fn reserve(&self, ip: IpAddr, cfg: &TftpConfig, now: f64) -> Result<(), Abort> {
        if !cfg.allow.is_empty() && !cfg.allow.iter().any(|net: &IpNet| net.contains(&ip)) {
            self.refused_by(Rule::AllowList);
            return Err(Abort::new(ErrorCode::AccessViolation, "access denied"));
        }
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Abort::new(ErrorCode::NotDefined, "server busy"))?;
        if clients.len() > MAX_CLIENTS {
            clients.retain(|_, c| c.active > 0 || now - c.bucket.last() < FORGET_AFTER_SECS);
        }
        let burst = f64::from(cfg.client_burst.max(1));
        let client = clients.entry(ip).or_insert_with(|| Client {
            bucket: TokenBucket::full(now, burst),
            active: 0,
        });
        if cfg.client_rate > 0.0 && !client.bucket.take(now, cfg.client_rate, burst) {
            self.refused_by(Rule::ClientRate);
            return Err(Abort::new(
                ErrorCode::NotDefined,
                "too many requests from this address; try again later",
            ));
        }
        if client.active >= cfg.max_transfers_per_client {
            self.refused_by(Rule::ClientLimit);
            return Err(Abort::new(
                ErrorCode::NotDefined,
                "too many transfers from this address; try again later",
            ));
        }
        if self.active.load(Ordering::Relaxed) >= cfg.max_transfers {
            self.refused_by(Rule::ServerLimit);
            return Err(Abort::new(
                ErrorCode::NotDefined,
                "server busy; try again later",
            ));
        }
        client.active += 1;
        self.active.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// One transfer of `ip` ended.
    fn release(&self, ip: IpAddr) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut clients) = self.clients.lock()
            && let Some(c) = clients.get_mut(&ip)
        {
            c.active = c.active.saturating_sub(1);
        }
    }
}

/// A reserved transfer slot; released on drop.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.admission.release(self.ip);
    }
}

/// Admits a request from `ip` (allow-list, rate and concurrency limits of
/// the config) and reserves its transfer slot, or says why not.
pub(crate) fn admit(shared: &Arc<Shared>, ip: IpAddr) -> Result<Slot, Abort> {
    let a = &shared.admission;
    let now = a.epoch.elapsed().as_secs_f64();
    a.reserve(ip, &shared.config, now)?;
    Ok(Slot {
        shared: Arc::clone(shared),
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn config() -> TftpConfig {
        TftpConfig {
            client_rate: 0.0,
            max_transfers: 100,
            max_transfers_per_client: 100,
            ..TftpConfig::default()
        }
    }

    #[test]
    fn outside_the_allow_list_is_an_access_violation() {
        let cfg = TftpConfig {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            ..config()
        };
        let a = Admission::new();
        let e = a.reserve(A, &cfg, 0.0).unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessViolation);
        assert!(a.reserve("10.1.2.3".parse().unwrap(), &cfg, 0.0).is_ok());
        assert_eq!(a.refusals(), [1, 0, 0, 0]);
    }

    #[test]
    fn a_client_gets_its_burst_then_its_rate() {
        let cfg = TftpConfig {
            client_rate: 2.0,
            client_burst: 3,
            ..config()
        };
        let a = Admission::new();
        let ok = (0..10).filter(|_| a.reserve(A, &cfg, 0.0).is_ok()).count();
        assert_eq!(ok, 3);
        let ok = (0..10).filter(|_| a.reserve(A, &cfg, 1.0).is_ok()).count();
        assert_eq!(ok, 2, "two tokens a second later");
        assert!(a.reserve(B, &cfg, 1.0).is_ok(), "other clients unaffected");
        assert_eq!(a.refusals(), [0, 15, 0, 0]);
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let a = Admission::new();
        assert!((0..50).all(|_| a.reserve(A, &config(), 0.0).is_ok()));
    }

    #[test]
    fn per_client_and_server_limits_hold_until_a_transfer_ends() {
        let cfg = TftpConfig {
            max_transfers: 3,
            max_transfers_per_client: 2,
            ..config()
        };
        let a = Admission::new();
        a.reserve(A, &cfg, 0.0).unwrap();
        a.reserve(A, &cfg, 0.0).unwrap();
        let e = a.reserve(A, &cfg, 0.0).unwrap_err();
        assert!(e.message.contains("too many transfers"), "{e:?}");
        a.reserve(B, &cfg, 0.0).unwrap();
        let e = a.reserve(B, &cfg, 0.0).unwrap_err();
        assert!(e.message.contains("server busy"), "{e:?}");
        assert_eq!(a.active(), 3);
        a.release(A);
        assert_eq!(a.active(), 2);
        a.reserve(B, &cfg, 0.0).unwrap();
        assert_eq!(a.refusals(), [0, 0, 1, 1]);
    }
}
