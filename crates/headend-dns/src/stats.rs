//! Counters of the DNS listeners, read by the admin API's /metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::rr::LowerName;

use serde::Serialize;

use crate::respond::Verdict;

/// Counters of the DNS listeners (read by the admin API's /metrics).
#[derive(Debug, Default)]
pub struct DnsStats {
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    rrl_dropped: AtomicU64,
    rrl_slipped: AtomicU64,
    tcp_refused: AtomicU64,
    tcp_evicted: AtomicU64,
    zone_load_failures: AtomicU64,
    /// Mail-authentication findings of each served zone at its last load.
    mail_lint: Mutex<HashMap<LowerName, usize>>,
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
    /// TCP connections closed to make room for a new one (the table was full).
    pub tcp_evicted: u64,
    /// Mail-authentication findings (SPF, DMARC, DKIM) in the served zones
    /// at their last load: served anyway, see the log or `headend check`.
    pub mail_lint_findings: u64,
    /// Zone loads (start, reload, edit) that failed: the previous version,
    /// if any, kept being served.
    pub zone_load_failures: u64,
}

/// The signing state of one DNSSEC-signed zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedZone {
    /// The zone's origin as configured.
    pub origin: String,
    /// Unix seconds of the earliest RRSIG expiration in the served version
    /// (`None` before its first signing).
    pub rrsig_expires: Option<i64>,
    /// Unix seconds of the next key event (publish, activate, retire, ...).
    pub next_key_event: Option<i64>,
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
            tcp_evicted: self.tcp_evicted.load(Ordering::Relaxed),
            zone_load_failures: self.zone_load_failures.load(Ordering::Relaxed),
            mail_lint_findings: self
                .mail_lint
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .values()
                .map(|&n| n as u64)
                .sum(),
        }
    }

    /// Counts `n` UDP requests received.
    pub(crate) fn udp_received(&self, n: usize) {
        self.udp_queries.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts one TCP request received.
    pub(crate) fn tcp_received(&self) {
        self.tcp_queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a TCP connection refused for its client's cap.
    pub(crate) fn tcp_refused(&self) {
        self.tcp_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how many mail-authentication findings `zone` had at its load
    /// (0 when it is no longer served).
    pub(crate) fn set_mail_lint_findings(&self, zone: &LowerName, findings: usize) {
        let mut map = self
            .mail_lint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if findings == 0 {
            map.remove(zone);
        } else {
            map.insert(zone.clone(), findings);
        }
    }

    /// Counts a zone load that failed.
    pub(crate) fn zone_load_failed(&self) {
        self.zone_load_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a TCP connection closed to make room for a new one.
    pub(crate) fn tcp_evicted(&self) {
        self.tcp_evicted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts what response rate limiting did to one response.
    pub(crate) fn verdict(&self, verdict: Verdict) {
        match verdict {
            Verdict::Slip => self.rrl_slipped.fetch_add(1, Ordering::Relaxed),
            Verdict::Drop => self.rrl_dropped.fetch_add(1, Ordering::Relaxed),
            Verdict::Send | Verdict::Ignore | Verdict::Transfer => return,
        };
    }
}
