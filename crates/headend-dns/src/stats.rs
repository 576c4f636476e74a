//! Counters of the DNS listeners, read by the admin API's /metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::rr::LowerName;

use serde::Serialize;

use crate::respond::Verdict;

/// The query types counted by name; every other type is counted as `other`.
pub const QTYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (35, "NAPTR"),
    (43, "DS"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (50, "NSEC3"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (251, "IXFR"),
    (252, "AXFR"),
    (255, "ANY"),
    (257, "CAA"),
];

/// Slots of [`DnsTally::qtypes`]: one per [`QTYPES`] entry, then `other`.
const QTYPE_SLOTS: usize = QTYPES.len() + 1;

/// The RCODE names of the 4-bit header field (RFC 1035 §4.1.1, RFC 2136
/// §2.2); unassigned values are shown by number.
pub const RCODES: [&str; 16] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "11", "12", "13", "14", "15",
];

/// A listener's local count of the responses it sent, by RCODE and query
/// type: plain integers on the packet path, added to the shared
/// [`DnsStats`] once per batch ([`DnsStats::merge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DnsTally {
    rcodes: [u64; 16],
    qtypes: [u64; QTYPE_SLOTS],
}

impl Default for DnsTally {
    fn default() -> Self {
        Self {
            rcodes: [0; 16],
            qtypes: [0; QTYPE_SLOTS],
        }
    }
}

impl DnsTally {
    /// Counts one response from its wire form: the header's RCODE and the
    /// echoed question's type. A response without a question counts its
    /// RCODE only.
    pub(crate) fn response(&mut self, wire: &[u8]) {
        let Some(&flags) = wire.get(3) else {
            return;
        };
        if let Some(c) = self.rcodes.get_mut(usize::from(flags & 0x0f)) {
            *c += 1;
        }
        if wire.get(4..6) != Some(&[0, 1]) {
            return;
        }
        if let Some(qtype) = question_type(wire) {
            let slot = QTYPES
                .iter()
                .position(|&(t, _)| t == qtype)
                .unwrap_or(QTYPES.len());
            if let Some(c) = self.qtypes.get_mut(slot) {
                *c += 1;
            }
        }
    }
}

/// The QTYPE of the first question of a message (RFC 1035 §4.1.2), if the
/// name is uncompressed and whole (as in every question a server echoes).
fn question_type(wire: &[u8]) -> Option<u16> {
    let mut at = 12;
    loop {
        let len = usize::from(*wire.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
    }
    let t = wire.get(at..at + 2)?;
    Some(u16::from_be_bytes([t[0], t[1]]))
}

/// How one NOTIFY to one secondary ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotifyOutcome {
    /// The secondary acknowledged it.
    Acked,
    /// The secondary answered with an error RCODE.
    Refused,
    /// No answer after every attempt.
    Unanswered,
    /// Not sent: no socket, or the message could not be built.
    Failed,
}

/// Counters of the DNS listeners (read by the admin API's /metrics).
#[derive(Debug)]
pub struct DnsStats {
    /// Responses sent, by RCODE (index = RCODE).
    rcodes: [AtomicU64; 16],
    /// Responses sent, by query type (see [`QTYPES`], then `other`).
    qtypes: [AtomicU64; QTYPE_SLOTS],
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    rrl_dropped: AtomicU64,
    rrl_slipped: AtomicU64,
    tcp_refused: AtomicU64,
    tcp_evicted: AtomicU64,
    zone_load_failures: AtomicU64,
    /// NOTIFY outcomes: acked, refused, unanswered, failed.
    notify: [AtomicU64; 4],
    /// Mail-authentication findings of each served zone at its last load.
    mail_lint: Mutex<HashMap<LowerName, usize>>,
}

impl Default for DnsStats {
    fn default() -> Self {
        Self {
            rcodes: std::array::from_fn(|_| AtomicU64::new(0)),
            qtypes: std::array::from_fn(|_| AtomicU64::new(0)),
            udp_queries: AtomicU64::new(0),
            tcp_queries: AtomicU64::new(0),
            rrl_dropped: AtomicU64::new(0),
            rrl_slipped: AtomicU64::new(0),
            tcp_refused: AtomicU64::new(0),
            tcp_evicted: AtomicU64::new(0),
            zone_load_failures: AtomicU64::new(0),
            notify: std::array::from_fn(|_| AtomicU64::new(0)),
            mail_lint: Mutex::new(HashMap::new()),
        }
    }
}

/// Responses sent by RCODE and by query type, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsResponses {
    /// (RCODE name, responses), every RCODE of the 4-bit field.
    pub by_rcode: Vec<(&'static str, u64)>,
    /// (query type, responses): the types of [`QTYPES`], then `other`.
    pub by_qtype: Vec<(&'static str, u64)>,
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
    /// NOTIFY messages acknowledged by a secondary.
    pub notify_acked: u64,
    /// NOTIFY messages a secondary answered with an error RCODE.
    pub notify_refused: u64,
    /// NOTIFY messages never answered (after every retry).
    pub notify_unanswered: u64,
    /// NOTIFY messages that could not be sent.
    pub notify_failed: u64,
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
            notify_acked: self.notify[0].load(Ordering::Relaxed),
            notify_refused: self.notify[1].load(Ordering::Relaxed),
            notify_unanswered: self.notify[2].load(Ordering::Relaxed),
            notify_failed: self.notify[3].load(Ordering::Relaxed),
            mail_lint_findings: self
                .mail_lint
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .values()
                .map(|&n| n as u64)
                .sum(),
        }
    }

    /// Adds a listener's tally and empties it.
    pub(crate) fn merge(&self, tally: &mut DnsTally) {
        for (a, &n) in self.rcodes.iter().zip(&tally.rcodes) {
            if n != 0 {
                a.fetch_add(n, Ordering::Relaxed);
            }
        }
        for (a, &n) in self.qtypes.iter().zip(&tally.qtypes) {
            if n != 0 {
                a.fetch_add(n, Ordering::Relaxed);
            }
        }
        *tally = DnsTally::default();
    }

    /// Responses sent so far by RCODE and query type.
    pub fn responses(&self) -> DnsResponses {
        DnsResponses {
            by_rcode: RCODES
                .iter()
                .zip(&self.rcodes)
                .map(|(&name, a)| (name, a.load(Ordering::Relaxed)))
                .collect(),
            by_qtype: QTYPES
                .iter()
                .map(|&(_, name)| name)
                .chain(["other"])
                .zip(&self.qtypes)
                .map(|(name, a)| (name, a.load(Ordering::Relaxed)))
                .collect(),
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

    /// Counts how one NOTIFY ended.
    pub(crate) fn notify(&self, outcome: NotifyOutcome) {
        use NotifyOutcome as O;
        let i = match outcome {
            O::Acked => 0,
            O::Refused => 1,
            O::Unanswered => 2,
            O::Failed => 3,
        };
        if let Some(c) = self.notify.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
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
            Verdict::Send | Verdict::Ignore | Verdict::Transfer | Verdict::Update => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response header (ID 0, QR, `rcode`) with one question `name`/`qtype`.
    fn response(rcode: u8, qtype: u16) -> Vec<u8> {
        let mut w = vec![0, 0, 0x84, rcode, 0, 1, 0, 0, 0, 0, 0, 0];
        w.extend_from_slice(b"\x03www\x07example\x04test\x00");
        w.extend_from_slice(&qtype.to_be_bytes());
        w.extend_from_slice(&[0, 1]);
        w
    }

    #[test]
    fn responses_are_counted_by_rcode_and_bounded_qtype() {
        let stats = DnsStats::default();
        let mut tally = DnsTally::default();
        tally.response(&response(0, 1));
        tally.response(&response(3, 28));
        tally.response(&response(0, 4242)); // unknown type: other
        tally.response(&[0, 0, 0x84, 5]); // cut short: RCODE only
        tally.response(&[]);
        stats.merge(&mut tally);
        assert_eq!(tally, DnsTally::default());
        let r = stats.responses();
        let get = |v: &[(&str, u64)], k: &str| v.iter().find(|(n, _)| *n == k).map(|(_, c)| *c);
        assert_eq!(get(&r.by_rcode, "NOERROR"), Some(2));
        assert_eq!(get(&r.by_rcode, "NXDOMAIN"), Some(1));
        assert_eq!(get(&r.by_rcode, "REFUSED"), Some(1));
        assert_eq!(get(&r.by_qtype, "A"), Some(1));
        assert_eq!(get(&r.by_qtype, "AAAA"), Some(1));
        assert_eq!(get(&r.by_qtype, "other"), Some(1));
        assert_eq!(r.by_qtype.len(), QTYPES.len() + 1);
    }

    #[test]
    fn a_compressed_or_cut_question_has_no_type() {
        let mut w = vec![0; 12];
        w.extend_from_slice(&[0xc0, 0x0c, 0, 1]);
        assert_eq!(question_type(&w), None);
        assert_eq!(question_type(&response(0, 16)[..20]), None);
        assert_eq!(question_type(&response(0, 16)), Some(16));
    }
}
