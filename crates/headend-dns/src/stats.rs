//! Counters of the DNS listeners, read by the admin API's /metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::rr::LowerName;

use serde::Serialize;

use crate::answer::Catalog;
pub use crate::fast::FastCounts;
use crate::respond::Verdict;
use crate::zone::Zone;

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

/// A listener's local count of the responses it sent, by RCODE, query
/// type and zone, and of its answer cache's hits and misses: plain integers
/// on the packet path, added to the shared [`DnsStats`] once per batch
/// ([`DnsStats::merge`]).
#[derive(Debug, Clone)]
pub(crate) struct DnsTally {
    rcodes: [u64; 16],
    qtypes: [u64; QTYPE_SLOTS],
    /// Responses by the served zone their question falls in, since the
    /// last merge (at most one batch's worth of zones; the one counted last
    /// is at the end, where most responses find theirs).
    zones: Vec<(Arc<Zone>, u64)>,
    /// Responses whose question falls in no served zone.
    other_zone: u64,
    fast: FastCounts,
}

impl Default for DnsTally {
    fn default() -> Self {
        Self {
            rcodes: [0; 16],
            qtypes: [0; QTYPE_SLOTS],
            zones: Vec::new(),
            other_zone: 0,
            fast: FastCounts::default(),
        }
    }
}

impl DnsTally {
    /// Counts one response from its wire form: the header's RCODE, the
    /// echoed question's type and the served zone (in `catalog`) the
    /// question's name falls in, which is `zone` when the caller knows it
    /// (the answer cache does for the answers it keeps). A response without
    /// a question counts its RCODE only.
    pub(crate) fn response(&mut self, wire: &[u8], catalog: &Catalog, zone: Option<&Arc<Zone>>) {
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
            match zone.or_else(|| catalog.zone_of_question(wire)) {
                Some(zone) => self.count_zone(zone),
                None => self.other_zone += 1,
            }
        }
    }

    /// Nothing counted since the last merge.
    #[cfg(test)]
    fn is_clear(&self) -> bool {
        self.rcodes == [0; 16]
            && self.qtypes == [0; QTYPE_SLOTS]
            && self.zones.is_empty()
            && self.other_zone == 0
            && self.fast == FastCounts::default()
    }

    /// One more response for `zone`, told apart by identity (one catalog's
    /// zones are distinct), not by name: no hashing on the packet path.
    fn count_zone(&mut self, zone: &Arc<Zone>) {
        if let Some((last, n)) = self.zones.last_mut()
            && Arc::ptr_eq(last, zone)
        {
            *n += 1;
            return;
        }
        match self.zones.iter().position(|(z, _)| Arc::ptr_eq(z, zone)) {
            Some(i) => {
                let end = self.zones.len() - 1;
                self.zones.swap(i, end);
                if let Some((_, n)) = self.zones.last_mut() {
                    *n += 1;
                }
            }
            None => self.zones.push((Arc::clone(zone), 1)),
        }
    }

    /// Adds an answer cache's counts (taken from it) to the tally.
    pub(crate) fn fast_path(&mut self, c: FastCounts) {
        self.fast.hits += c.hits;
        self.fast.shared_hits += c.shared_hits;
        self.fast.misses += c.misses;
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
    /// Responses by zone (see [`DnsTally`]); zones no longer served are
    /// pruned when read ([`DnsStats::zone_queries`]).
    zone_queries: Mutex<HashMap<LowerName, u64>>,
    /// Responses to names in no served zone.
    other_zone_queries: AtomicU64,
    /// Answer cache hits, shared hits and misses.
    fast: [AtomicU64; 3],
    /// Zone transfers sent over TCP: AXFR ok, AXFR refused, IXFR ok, IXFR refused.
    transfers: [AtomicU64; 4],
}

/// Which zone transfer a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferKind {
    /// RFC 5936: the whole zone.
    Axfr,
    /// RFC 1995: the changes since the client's serial (or the whole zone).
    Ixfr,
}

/// Zone transfers answered over TCP, by kind and result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TransferCounts {
    /// AXFRs sent whole.
    pub axfr_ok: u64,
    /// AXFRs refused (an error RCODE: ACL, TSIG, zone not served).
    pub axfr_refused: u64,
    /// IXFRs sent whole (changes or the full zone).
    pub ixfr_ok: u64,
    /// IXFRs refused.
    pub ixfr_refused: u64,
}

/// Responses per served zone at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ZoneQueries {
    /// (zone apex, responses), one entry per zone served now that answered.
    pub zones: Vec<(String, u64)>,
    /// Responses to names in no served zone.
    pub other: u64,
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
            zone_queries: Mutex::new(HashMap::new()),
            other_zone_queries: AtomicU64::new(0),
            fast: std::array::from_fn(|_| AtomicU64::new(0)),
            transfers: std::array::from_fn(|_| AtomicU64::new(0)),
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
                .unwrap_or_else(PoisonError::into_inner)
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
        let FastCounts {
            hits,
            shared_hits,
            misses,
        } = tally.fast;
        for (a, n) in self.fast.iter().zip([hits, shared_hits, misses]) {
            if n != 0 {
                a.fetch_add(n, Ordering::Relaxed);
            }
        }
        if tally.other_zone != 0 {
            self.other_zone_queries
                .fetch_add(tally.other_zone, Ordering::Relaxed);
        }
        if !tally.zones.is_empty() {
            let mut map = self
                .zone_queries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (zone, n) in tally.zones.drain(..) {
                match map.get_mut(zone.lower_origin()) {
                    Some(total) => *total += n,
                    None => {
                        map.insert(zone.lower_origin().clone(), n);
                    }
                }
            }
        }
        tally.rcodes = [0; 16];
        tally.qtypes = [0; QTYPE_SLOTS];
        tally.other_zone = 0;
        tally.fast = FastCounts::default();
    }

    /// Responses so far per zone in `served` (the zones served now, in that
    /// order; a zone that has not answered yet shows 0), and to names in no
    /// served zone. Counts of zones no longer served are dropped.
    pub fn zone_queries(&self, served: &[LowerName]) -> ZoneQueries {
        let mut map = self
            .zone_queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|z, _| served.contains(z));
        ZoneQueries {
            zones: served
                .iter()
                .map(|z| (z.to_string(), map.get(z).copied().unwrap_or(0)))
                .collect(),
            other: self.other_zone_queries.load(Ordering::Relaxed),
        }
    }

    /// The answer caches' hits and misses so far.
    pub fn fast_path(&self) -> FastCounts {
        let [hits, shared_hits, misses] = self.fast.each_ref().map(|a| a.load(Ordering::Relaxed));
        FastCounts {
            hits,
            shared_hits,
            misses,
        }
    }

    /// Zone transfers answered over TCP so far.
    pub fn transfers(&self) -> TransferCounts {
        let [axfr_ok, axfr_refused, ixfr_ok, ixfr_refused] =
            self.transfers.each_ref().map(|a| a.load(Ordering::Relaxed));
        TransferCounts {
            axfr_ok,
            axfr_refused,
            ixfr_ok,
            ixfr_refused,
        }
    }

    /// Counts a zone transfer written whole to its client; `refused` when
    /// its answer carried an error RCODE.
    pub(crate) fn transfer(&self, kind: TransferKind, refused: bool) {
        let i = match (kind, refused) {
            (TransferKind::Axfr, false) => 0,
            (TransferKind::Axfr, true) => 1,
            (TransferKind::Ixfr, false) => 2,
            (TransferKind::Ixfr, true) => 3,
        };
        if let Some(c) = self.transfers.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
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
            .unwrap_or_else(PoisonError::into_inner);
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

    /// A catalog serving `example.test` and `sub.example.test`.
    fn catalog() -> Catalog {
        let mut catalog = Catalog::new(1232);
        for origin in ["example.test.", "sub.example.test."] {
            let text = format!(
                "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
            );
            let name = hickory_proto::rr::Name::from_ascii(origin).unwrap();
            let parsed =
                crate::zonefile::parse_zone_str(&text, std::path::Path::new("t.zone"), &name)
                    .unwrap();
            catalog.insert(Arc::new(Zone::build(&parsed).unwrap()));
        }
        catalog
    }

    /// A response like [`response`] for the name `labels`.
    fn response_for(labels: &[&str]) -> Vec<u8> {
        let mut w = vec![0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in labels {
            w.push(l.len() as u8);
            w.extend_from_slice(l.as_bytes());
        }
        w.extend_from_slice(&[0, 0, 1, 0, 1]);
        w
    }

    #[test]
    fn interleaved_zones_and_given_zones_are_counted_alike() {
        let catalog = catalog();
        let stats = DnsStats::default();
        let mut tally = DnsTally::default();
        let (mut top, mut sub) = (0, 0);
        for i in 0..300u32 {
            // Runs of either zone of varying length, some told by the caller.
            let wire = if i % 7 < 3 || i % 11 == 0 {
                sub += 1;
                response_for(&["a", "sub", "example", "test"])
            } else {
                top += 1;
                response_for(&["www", "example", "test"])
            };
            let given = catalog.zone_of_question(&wire).cloned();
            tally.response(&wire, &catalog, given.as_ref().filter(|_| i % 2 == 0));
            if i % 32 == 31 {
                stats.merge(&mut tally);
            }
        }
        stats.merge(&mut tally);
        let served: Vec<LowerName> = catalog.zones().map(|z| z.lower_origin().clone()).collect();
        let q = stats.zone_queries(&served);
        let get = |z: &str| q.zones.iter().find(|(n, _)| n == z).map(|(_, c)| *c);
        assert_eq!(get("example.test."), Some(top));
        assert_eq!(get("sub.example.test."), Some(sub));
        assert_eq!(q.other, 0);
    }

    #[test]
    fn responses_are_counted_by_the_most_specific_served_zone() {
        let catalog = catalog();
        let stats = DnsStats::default();
        let mut tally = DnsTally::default();
        tally.response(&response_for(&["WWW", "Example", "TEST"]), &catalog, None);
        tally.response(&response_for(&["example", "test"]), &catalog, None);
        tally.response(
            &response_for(&["a", "sub", "example", "test"]),
            &catalog,
            None,
        );
        tally.response(&response_for(&["elsewhere", "test"]), &catalog, None);
        tally.response(&response_for(&[]), &catalog, None);
        stats.merge(&mut tally);
        let served: Vec<LowerName> = catalog.zones().map(|z| z.lower_origin().clone()).collect();
        let q = stats.zone_queries(&served);
        let get = |z: &str| q.zones.iter().find(|(n, _)| n == z).map(|(_, c)| *c);
        assert_eq!(get("example.test."), Some(2));
        assert_eq!(get("sub.example.test."), Some(1));
        assert_eq!(q.other, 2);
        // A zone no longer served is no longer shown, nor kept.
        let only = [LowerName::from(
            hickory_proto::rr::Name::from_ascii("example.test.").unwrap(),
        )];
        assert_eq!(
            stats.zone_queries(&only).zones,
            vec![("example.test.".to_owned(), 2)]
        );
        assert_eq!(stats.zone_queries(&served).zones.len(), 2);
        assert_eq!(get("sub.example.test."), Some(1));
        let again = stats.zone_queries(&served);
        assert!(again.zones.contains(&("sub.example.test.".to_owned(), 0)));
    }

    #[test]
    fn transfers_and_fast_path_counts_add_up() {
        let stats = DnsStats::default();
        stats.transfer(TransferKind::Axfr, false);
        stats.transfer(TransferKind::Ixfr, true);
        stats.transfer(TransferKind::Ixfr, false);
        let t = stats.transfers();
        assert_eq!(
            (t.axfr_ok, t.axfr_refused, t.ixfr_ok, t.ixfr_refused),
            (1, 0, 1, 1)
        );
        let mut cache = crate::fast::AnswerCache::default();
        let catalog = catalog();
        let query = |name: &str| {
            let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            for l in name.split('.') {
                q.push(l.len() as u8);
                q.extend_from_slice(l.as_bytes());
            }
            q.extend_from_slice(&[0, 0, 1, 0, 1]);
            q
        };
        let mut out = Vec::new();
        for _ in 0..3 {
            assert!(cache.respond(
                &catalog,
                &query("ns1.example.test"),
                crate::answer::Transport::Udp,
                &mut out
            ));
        }
        let mut tally = DnsTally::default();
        tally.fast_path(cache.take_counts());
        stats.merge(&mut tally);
        let f = stats.fast_path();
        assert_eq!((f.hits, f.misses), (2, 1));
        // Moved, not copied: a second merge adds nothing.
        tally.fast_path(cache.take_counts());
        stats.merge(&mut tally);
        assert_eq!(stats.fast_path(), f);
    }

    #[test]
    fn responses_are_counted_by_rcode_and_bounded_qtype() {
        let stats = DnsStats::default();
        let mut tally = DnsTally::default();
        let catalog = Catalog::new(1232);
        tally.response(&response(0, 1), &catalog, None);
        tally.response(&response(3, 28), &catalog, None);
        tally.response(&response(0, 4242), &catalog, None); // unknown type: other
        tally.response(&[0, 0, 0x84, 5], &catalog, None); // cut short: RCODE only
        tally.response(&[], &catalog, None);
        stats.merge(&mut tally);
        assert!(tally.is_clear(), "{tally:?}");
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
