//! The fast path: answers to plain queries, cached as finished wire messages.
//!
//! A plain query (QUERY opcode, one question in class IN without compression,
//! at most an EDNS(0) OPT record) is keyed by (transport, size limit, DO bit,
//! EDNS presence, QTYPE, lower-cased QNAME). The first such query is answered
//! by the full responder ([`Catalog::respond`]) and its response stored; later
//! ones copy it and patch the ID, the RD and CD bits and the question's case.
//! A name that does not exist is not cached by name: its answer (NXDOMAIN,
//! or synthesised from a wildcard) is shared by every missing name of the
//! same class (zone, closest encloser, covering NSEC/NSEC3, name length), so
//! a flood of random names costs a few hash lookups per query, not the full
//! responder's work.
//! The cache belongs to one worker (no locks) and is emptied whenever the
//! catalog is swapped (reload, edit), so it never serves stale data. Anything
//! else falls through to the full responder, so correctness never depends on
//! this module.

use std::sync::Arc;

use hashbrown::HashMap;
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinDecodable as _;
use serde::Serialize;

use crate::answer::{Catalog, Transport};
use crate::request::{HEADER_LEN, Request};
use crate::zone::Zone;

/// Most answers kept per worker before the cache starts over.
const DEFAULT_CAPACITY: usize = 200_000;
/// Most shared answers to missing names (one per closest encloser, proof
/// and name length) kept per worker before they start over.
const NEGATIVE_CAPACITY: usize = 65_536;
/// Longest key: 6 bytes of header plus a 255-byte name.
const MAX_KEY: usize = 6 + 255;

/// What a worker's answer cache did with
/// the plain queries it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FastCounts {
    /// Answers copied from the cache.
    pub hits: u64,
    /// Answers to missing names copied from the answer shared by their class.
    pub shared_hits: u64,
    /// Plain queries the full responder answered (then cached if it could).
    pub misses: u64,
}

/// A per-worker cache of finished responses.
///
/// Names that exist are keyed by name. Names that do not (a flood of random
/// names, say) would each take an entry and the full responder's time, so
/// their answers (NXDOMAIN, or synthesised from a wildcard) are keyed instead
/// by what they depend on: the zone, the closest encloser, the denial record
/// covering the name when signed proofs are asked for, and the name's length
/// (compression pointers into the question must land on the same labels).
/// One answer then serves every name in its class; see [`NegativeKey`].
#[derive(Debug)]
pub struct AnswerCache {
    generation: u64,
    map: HashMap<Box<[u8]>, Kept>,
    /// The zones of the answers in `map` (an answer names its zone by its
    /// place here, so serving it touches no reference count shared with
    /// other listeners), and each one's place by its address.
    zones: Vec<Arc<Zone>>,
    zone_at: HashMap<usize, u32>,
    /// The zone of the answer the last call served from `map`.
    last_zone: Option<u32>,
    /// The answer shared by each class of missing names met; `None` for a
    /// class whose answers cannot be shared (its names go in `map`).
    shared: HashMap<NegativeKey, Option<Box<[u8]>>>,
    capacity: usize,
    key: [u8; MAX_KEY],
    /// Answers served from the cache.
    pub hits: u64,
    /// Answers to missing names served from an answer shared by their class.
    pub negative_hits: u64,
    /// Plain queries answered by the full responder (and then cached).
    pub misses: u64,
}

/// An answer kept for its question, with the served zone the question
/// falls in (for the per-zone response counts).
#[derive(Debug)]
struct Kept {
    answer: Box<[u8]>,
    /// The zone's place in [`AnswerCache::zones`].
    zone: Option<u32>,
}

/// What the answer to a missing name depends on (RFC 1034 §4.3.2 step 3c,
/// RFC 4592 §3.3.1, RFC 4035 §3.1.3, RFC 5155 §7.2), the question's bytes
/// (and the synthesised owner, which is the question's name) apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct NegativeKey {
    /// Transport, EDNS flags, size limit and QTYPE, as in the exact key.
    head: [u8; 6],
    /// The zone's address: an identity while its catalog is served.
    zone: usize,
    encloser: usize,
    /// The covering NSEC or NSEC3 when proofs are sent, else 0.
    proof: usize,
    qname_len: usize,
    encloser_at: usize,
    /// The answer is synthesised from a wildcard (else an NXDOMAIN).
    wildcard: bool,
}

/// The class of `name` (lower-cased wire form) when it is missing from a
/// served zone and not below a delegation; `None` otherwise.
fn class_of(catalog: &Catalog, name: &[u8], head: [u8; 6]) -> Option<NegativeKey> {
    let (served, at) = catalog.zone_of_wire_name(name)?;
    let zone = Arc::as_ptr(served) as usize;
    let missing = served.missing(name, name.len() - at)?;
    let dnssec_ok = head[1] & 2 != 0;
    let proof = match served.dnssec() {
        Some(denial) if dnssec_ok => {
            let qname = Name::from_bytes(name).ok()?;
            crate::dnssec::nxdomain_interval(denial, &qname, missing.encloser_labels)?
        }
        _ => 0,
    };
    Some(NegativeKey {
        head,
        zone,
        encloser: missing.encloser,
        proof,
        qname_len: name.len(),
        encloser_at: missing.encloser_at,
        wildcard: missing.wildcard,
    })
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl AnswerCache {
    /// The hits and misses counted since the last call (the fields are
    /// zeroed), for the service's counters.
    pub fn take_counts(&mut self) -> FastCounts {
        let c = FastCounts {
            hits: self.hits,
            shared_hits: self.negative_hits,
            misses: self.misses,
        };
        self.hits = 0;
        self.negative_hits = 0;
        self.misses = 0;
        c
    }

    /// A cache holding at most `capacity` answers.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            generation: 0,
            map: HashMap::new(),
            zones: Vec::new(),
            zone_at: HashMap::new(),
            last_zone: None,
            shared: HashMap::new(),
            capacity: capacity.max(1),
            key: [0; MAX_KEY],
            hits: 0,
            negative_hits: 0,
            misses: 0,
        }
    }

    /// Answers the request `req` into `out` (cleared first). Returns false
    /// when nothing should be sent.
    pub fn respond(
        &mut self,
        catalog: &Catalog,
        req: &[u8],
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        match Request::parse(req) {
            Some(request) => self.answer(catalog, &request, transport, out),
            None => {
                out.clear();
                false
            }
        }
    }

    /// Answers a request already read into `out` (cleared first). Returns
    /// false when nothing should be sent.
    pub fn answer(
        &mut self,
        catalog: &Catalog,
        request: &Request<'_>,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        self.last_zone = None;
        self.forget_stale(catalog);
        let req = request.bytes();
        let full = |out: &mut Vec<u8>| match catalog.respond(req, transport) {
            Some(resp) => {
                out.extend_from_slice(&resp);
                true
            }
            None => false,
        };
        let Some(query) = request.plain() else {
            return full(out);
        };
        // The key: 6 bytes of header, then the name lower-cased (label
        // lengths, at most 63, are below every ASCII letter).
        let key_len = 6 + query.qname_len;
        let (Some(key), Some(name)) = (
            self.key.get_mut(6..key_len),
            req.get(HEADER_LEN..HEADER_LEN + query.qname_len),
        ) else {
            return full(out);
        };
        for (dst, src) in key.iter_mut().zip(name) {
            *dst = src.to_ascii_lowercase();
        }
        let limit = catalog.size_limit(transport, query.edns.map(|e| e.0));
        let flags =
            u8::from(query.edns.is_some()) | (u8::from(query.edns.is_some_and(|e| e.1)) << 1);
        self.key[0] = u8::from(transport == Transport::Tcp);
        self.key[1] = flags;
        self.key[2..4].copy_from_slice(&limit.to_be_bytes());
        self.key[4..6].copy_from_slice(&query.qtype.to_be_bytes());
        let key = &self.key[..key_len];
        if let Some(kept) = self.map.get(key) {
            self.hits += 1;
            self.last_zone = kept.zone;
            out.extend_from_slice(&kept.answer);
            patch(out, req, query.qname_len);
            return true;
        }
        // A name that does not exist shares its answer with its class.
        let (head, name) = self.key[..key_len].split_at(6);
        let class = head
            .try_into()
            .ok()
            .and_then(|head| class_of(catalog, name, head));
        if let Some(class) = &class
            && let Some(Some(shared)) = self.shared.get(class)
            && !spells_out_question(shared, req, class)
        {
            self.negative_hits += 1;
            out.extend_from_slice(shared);
            patch(out, req, query.qname_len);
            return true;
        }
        self.misses += 1;
        let Some(resp) = catalog.respond(req, transport) else {
            return false;
        };
        out.extend_from_slice(&resp);
        if !cacheable(&resp, req, query.qname_len) {
            return true;
        }
        if let Some(class) = class
            && !self.shared.contains_key(&class)
        {
            let shareable = if class.wildcard {
                probe_agrees(catalog, req, transport, &resp, class)
            } else {
                resp.get(3).map(|b| b & 0x0f) == Some(3)
                    && relocatable(&resp, 12 + query.qname_len + 4, class.encloser_at)
            };
            if self.shared.len() >= self.capacity.min(NEGATIVE_CAPACITY) {
                self.shared.clear();
            }
            if shareable {
                self.shared.insert(class, Some(resp.into_boxed_slice()));
                return true;
            }
            // A class that cannot share is remembered too: its names are
            // then cached one by one, without asking again.
            self.shared.insert(class, None);
        }
        let key: Box<[u8]> = key.into();
        if self.map.len() >= self.capacity {
            self.clear_answers();
        }
        // The key's name is the question's, lower-cased already.
        let zone = key
            .get(6..)
            .and_then(|name| catalog.zone_of_wire_name(name))
            .and_then(|(z, _)| self.zone_place(z));
        let answer = resp.into_boxed_slice();
        self.map.insert(key, Kept { answer, zone });
        true
    }

    /// The served zone of the answer the last [`answer`](Self::answer) call
    /// took from the cache; `None` when it built or shared one.
    pub fn last_zone(&self) -> Option<&Arc<Zone>> {
        self.last_zone
            .and_then(|i| self.zones.get(usize::try_from(i).ok()?))
    }

    /// Drops everything kept when `catalog` is not the one it was kept for,
    /// so an idle listener that looks now and then (see `listen.rs`) holds
    /// no replaced zone alive.
    pub fn forget_stale(&mut self, catalog: &Catalog) {
        if catalog.generation() != self.generation {
            self.clear_answers();
            self.shared.clear();
            self.generation = catalog.generation();
        }
    }

    fn clear_answers(&mut self) {
        self.map.clear();
        self.zones.clear();
        self.zone_at.clear();
        self.last_zone = None;
    }

    /// `zone`'s place in [`zones`](Self::zones), given one if it has none.
    fn zone_place(&mut self, zone: &Arc<Zone>) -> Option<u32> {
        let id = Arc::as_ptr(zone) as usize;
        if let Some(&at) = self.zone_at.get(&id) {
            return Some(at);
        }
        let at = u32::try_from(self.zones.len()).ok()?;
        self.zones.push(Arc::clone(zone));
        self.zone_at.insert(id, at);
        Some(at)
    }
}

/// Whether `resp`, the answer to `req` (a name synthesised from a
/// wildcard), answers every name of its class once given that name's
/// question: the full responder is asked again for a probe, the same name
/// with every byte of the labels below the closest encloser changed, and
/// must give `resp` with the probe's question. The owner of synthesised
/// records is the question name and compresses to it, so it changes with
/// the question; any other name compressed into those labels (a record
/// naming the very name asked for) would not match, and neither would
/// proofs that differ for the probe.
fn probe_agrees(
    catalog: &Catalog,
    req: &[u8],
    transport: Transport,
    resp: &[u8],
    class: NegativeKey,
) -> bool {
    let mut probe = req.to_vec();
    let mut pos = 12;
    while pos < 12 + class.encloser_at {
        let Some(len) = probe.get(pos).copied().map(usize::from) else {
            return false;
        };
        for b in probe.iter_mut().skip(pos + 1).take(len) {
            *b = if b.eq_ignore_ascii_case(&b'x') {
                b'y'
            } else {
                b'x'
            };
        }
        pos += 1 + len;
    }
    // The probe must be of the same class (not a name of the zone, the
    // same covering proof).
    let Some(wire) = probe.get(12..12 + class.qname_len) else {
        return false;
    };
    let lower: Vec<u8> = wire.iter().map(u8::to_ascii_lowercase).collect();
    if class_of(catalog, &lower, class.head) != Some(class) {
        return false;
    }
    let Some(expected) = catalog.respond(&probe, transport) else {
        return false;
    };
    let mut shared = resp.to_vec();
    patch(&mut shared, &probe, class.qname_len);
    shared == expected
}

/// Whether `shared`, the answer shared by `class`, spells out a name that
/// the full responder would compress into the labels of `req`'s question
/// below the closest encloser (a record naming the very name asked for, or
/// a name ending in it): such a name in `req`'s own answer points into the
/// question and takes its case, so the shared bytes would differ. Any such
/// name holds the question's last label below the encloser, so finding that
/// label anywhere after the question (without regard to case) is enough;
/// this may send a name to the full responder needlessly, never the reverse.
fn spells_out_question(shared: &[u8], req: &[u8], class: &NegativeKey) -> bool {
    let end = 12 + class.encloser_at;
    let mut pos = 12;
    let mut last = None;
    while pos < end {
        let Some(len) = req.get(pos).copied().map(usize::from) else {
            return true;
        };
        last = Some(pos);
        pos += 1 + len;
    }
    let (Some(start), Some(after)) = (last, shared.get(12 + class.qname_len + 4..)) else {
        return true;
    };
    let Some(label) = req.get(start..end) else {
        return true;
    };
    after
        .windows(label.len())
        .any(|w| w.eq_ignore_ascii_case(label))
}

/// Only NOERROR and NXDOMAIN answers that echo the question are reused.
fn cacheable(resp: &[u8], req: &[u8], qname_len: usize) -> bool {
    let rcode = resp.get(3).map(|b| b & 0x0f);
    let end = 12 + qname_len;
    matches!(rcode, Some(0 | 3))
        && resp.get(4..6) == Some(&[0, 1])
        && resp.len() >= end
        && req.len() >= end
        && resp[12..end].eq_ignore_ascii_case(&req[12..end])
}

/// True when no compression pointer after the question (which ends at
/// `question_end`) points into the first `prefix` bytes of the question's
/// name: the labels below the closest encloser, which differ between the
/// names sharing an NXDOMAIN answer. Every two bytes that could be such a
/// pointer count, so this may refuse an answer that was fine, never accept
/// one that was not.
fn relocatable(resp: &[u8], question_end: usize, prefix: usize) -> bool {
    let Some(rest) = resp.get(question_end..) else {
        return false;
    };
    let names_differ = 12..12 + prefix;
    !rest.windows(2).any(|w| {
        w[0] & 0xc0 == 0xc0
            && names_differ.contains(&((usize::from(w[0] & 0x3f) << 8) | usize::from(w[1])))
    })
}

/// Gives a cached response the request's ID, RD and CD bits and question case.
fn patch(out: &mut [u8], req: &[u8], qname_len: usize) {
    let end = 12 + qname_len;
    if out.len() < end || req.len() < end {
        return;
    }
    out[..2].copy_from_slice(&req[..2]);
    out[2] = (out[2] & !0x01) | (req[2] & 0x01);
    out[3] = (out[3] & !0x10) | (req[3] & 0x10);
    out[12..end].copy_from_slice(&req[12..end]);
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    use hickory_proto::rr::{DNSClass, LowerName, Name};
    use proptest::prelude::*;

    use super::*;
    use crate::answer::ServerInfo;
    use crate::zone::Zone;
    use crate::zonefile::parse_zone_file;

    fn catalog() -> Catalog {
        let mut catalog = Catalog::new(1232);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (origin, file) in [
            ("e2e.test.", "tests/data/dns/e2e.test.zone"),
            ("example.test.", "zones/example.test.zone"),
            ("2.0.192.in-addr.arpa.", "zones/2.0.192.in-addr.arpa.zone"),
        ] {
            let parsed =
                parse_zone_file(&root.join(file), &Name::from_ascii(origin).unwrap()).unwrap();
            catalog.insert(Arc::new(Zone::build(&parsed).unwrap()));
        }
        catalog
    }

    /// A query in wire form, with the name's letters in the case given by `case_bits`.
    fn query(
        id: u16,
        name: &str,
        qtype: u16,
        rd: bool,
        edns: Option<(u16, bool)>,
        case_bits: u64,
    ) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[
            u8::from(rd),
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            u8::from(edns.is_some()),
        ]);
        let mut bit = 0;
        for label in name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            q.push(label.len() as u8);
            for b in label.bytes() {
                let upper = case_bits >> (bit % 64) & 1 == 1;
                bit += 1;
                q.push(if upper {
                    b.to_ascii_uppercase()
                } else {
                    b.to_ascii_lowercase()
                });
            }
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        if let Some((payload, dnssec_ok)) = edns {
            q.push(0);
            q.extend_from_slice(&[0, 41]);
            q.extend_from_slice(&payload.to_be_bytes());
            q.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        q
    }

    fn all_names(catalog: &Catalog) -> Vec<String> {
        let mut names: Vec<String> = catalog
            .zones()
            .flat_map(|z| z.nodes().map(|(n, _)| n.to_string()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names
    }

    const TYPES: [u16; 12] = [1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 257, 65000];

    /// For a request, the fast path (after a first, differently-cased query
    /// with another ID filled the cache) gives exactly the full responder's bytes.
    fn assert_same(
        cache: &mut AnswerCache,
        catalog: &Catalog,
        name: &str,
        qtype: u16,
        edns: Option<(u16, bool)>,
        transport: Transport,
        seed: u64,
    ) {
        let prime = query(seed as u16 ^ 0x5a5a, name, qtype, false, edns, !seed);
        let mut out = Vec::new();
        cache.respond(catalog, &prime, transport, &mut out);
        let req = query(seed as u16, name, qtype, seed & 1 == 1, edns, seed);
        let fast = if cache.respond(catalog, &req, transport, &mut out) {
            Some(out.clone())
        } else {
            None
        };
        let slow = catalog.respond(&req, transport);
        assert_eq!(
            fast, slow,
            "{name} type {qtype} edns {edns:?} {transport:?}"
        );
    }

    #[test]
    fn a_kept_answer_names_the_zone_its_question_falls_in() {
        let catalog = catalog();
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        for name in all_names(&catalog) {
            let q = query(7, &name, 1, false, None, 0);
            assert!(cache.respond(&catalog, &q, Transport::Udp, &mut out));
            assert!(cache.last_zone().is_none(), "{name}: built, not kept");
            assert!(cache.respond(&catalog, &q, Transport::Udp, &mut out));
            let expected = catalog.zone_of_question(&out);
            assert!(expected.is_some(), "{name}");
            match (cache.last_zone(), expected) {
                (Some(kept), Some(z)) => assert!(Arc::ptr_eq(kept, z), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_cache_holds_no_zone_of_a_replaced_catalog_once_it_looks() {
        let catalog = catalog();
        let zone = catalog.zones().next().cloned().expect("a zone");
        let before = Arc::strong_count(&zone);
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        let name = zone.origin().to_string();
        let q = query(7, &name, 6, false, None, 0);
        assert!(cache.respond(&catalog, &q, Transport::Udp, &mut out));
        assert!(
            Arc::strong_count(&zone) > before,
            "the kept answer names its zone"
        );
        // The same catalog: nothing is dropped.
        cache.forget_stale(&catalog);
        assert!(Arc::strong_count(&zone) > before);
        // A new catalog (a reload): the old one's zones are let go.
        let replaced = catalog.clone();
        cache.forget_stale(&replaced);
        drop(replaced);
        assert_eq!(Arc::strong_count(&zone), before);
    }

    #[test]
    fn fast_path_equals_full_responder_for_every_name_and_type() {
        let catalog = catalog();
        let mut cache = AnswerCache::default();
        let names = all_names(&catalog);
        assert!(names.len() > 50);
        for (i, name) in names.iter().enumerate() {
            for qtype in TYPES {
                for edns in [
                    None,
                    Some((1232, false)),
                    Some((4096, true)),
                    Some((512, false)),
                ] {
                    for transport in [Transport::Udp, Transport::Tcp] {
                        assert_same(
                            &mut cache,
                            &catalog,
                            name,
                            qtype,
                            edns,
                            transport,
                            i as u64 * 7919 + u64::from(qtype),
                        );
                    }
                }
            }
        }
        assert!(
            cache.hits > 1000,
            "the cache was not exercised: {} hits",
            cache.hits
        );
    }

    /// A `query` with EDNS (its OPT record last, no options yet) given
    /// these options (code, data).
    fn with_options(mut q: Vec<u8>, options: &[(u16, &[u8])]) -> Vec<u8> {
        let n = q.len();
        let rdlen: usize = options.iter().map(|(_, d)| 4 + d.len()).sum();
        q[n - 2..].copy_from_slice(&(rdlen as u16).to_be_bytes());
        for (code, data) in options {
            q.extend_from_slice(&code.to_be_bytes());
            q.extend_from_slice(&(data.len() as u16).to_be_bytes());
            q.extend_from_slice(data);
        }
        q
    }

    fn server_info(
        identity: Option<&str>,
        version: Option<&str>,
        nsid: Option<&str>,
    ) -> Arc<ServerInfo> {
        let config = crate::DnsConfig {
            identity: identity.map(str::to_owned),
            version: version.map(str::to_owned),
            nsid: nsid.map(str::to_owned),
            ..crate::DnsConfig::default()
        };
        Arc::new(ServerInfo::from_config(&config).unwrap())
    }

    #[test]
    fn nsid_is_returned_only_when_asked_and_never_from_the_cache() {
        let mut catalog = catalog();
        catalog.set_server_info(server_info(None, None, Some("ns1.lab")));
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        let plain = query(7, "www.example.test", 1, false, Some((1232, false)), 0);
        assert!(cache.respond(&catalog, &plain, Transport::Udp, &mut out));
        let m = Message::from_vec(&out).unwrap();
        assert!(m.edns.unwrap().option(EdnsCode::NSID).is_none());
        // The same question with NSID (and a cookie before it) after the
        // plain one was cached: the identifier comes back.
        let asking = with_options(plain.clone(), &[(10, &[1; 8]), (3, &[])]);
        for _ in 0..2 {
            assert!(cache.respond(&catalog, &asking, Transport::Udp, &mut out));
            let m = Message::from_vec(&out).unwrap();
            assert_eq!(m.answers.len(), 1);
            match m.edns.unwrap().option(EdnsCode::NSID) {
                Some(EdnsOption::NSID(p)) => assert_eq!(p.as_ref(), b"ns1.lab"),
                other => panic!("no NSID: {other:?}"),
            }
        }
        // A cookie alone does not change the answer: the fast path still answers it.
        let hits = cache.hits;
        let cookie = with_options(plain.clone(), &[(10, &[2; 8])]);
        assert!(cache.respond(&catalog, &cookie, Transport::Udp, &mut out));
        assert_eq!(cache.hits, hits + 1);
        // Without an NSID configured, asking for one gets nothing extra.
        let mut quiet = catalog.clone();
        quiet.set_server_info(server_info(None, None, None));
        let m = Message::from_vec(&quiet.respond(&asking, Transport::Udp).unwrap()).unwrap();
        assert!(m.edns.unwrap().option(EdnsCode::NSID).is_none());
    }

    #[test]
    fn chaos_names_answer_only_when_configured() {
        let mut catalog = catalog();
        let ch = |name: &str, qtype: u16| {
            let mut q = query(9, name, qtype, false, None, 0);
            let n = q.len();
            q[n - 1] = 3; // class CH
            q
        };
        let ask = |c: &Catalog, q: &[u8]| {
            Message::from_vec(&c.respond(q, Transport::Udp).unwrap()).unwrap()
        };
        // Nothing configured: refused, version hidden.
        for name in [
            "id.server",
            "hostname.bind",
            "version.bind",
            "version.server",
        ] {
            let m = ask(&catalog, &ch(name, 16));
            assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}");
        }
        catalog.set_server_info(server_info(Some("ns1.lab.example"), Some("headend"), None));
        for (name, want) in [
            ("id.server", "ns1.lab.example"),
            ("HOSTNAME.bind", "ns1.lab.example"),
            ("version.bind", "headend"),
            ("version.server", "headend"),
        ] {
            let m = ask(&catalog, &ch(name, 16));
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
            assert!(m.metadata.authoritative);
            let [answer] = m.answers.as_slice() else {
                panic!("{name}: {:?}", m.answers)
            };
            assert_eq!(answer.dns_class, DNSClass::CH);
            assert_eq!(answer.data.to_string(), want, "{name}");
        }
        // Other CH names are refused; class IN for the same name is not CHAOS.
        assert_eq!(
            ask(&catalog, &ch("authors.bind", 16))
                .metadata
                .response_code,
            ResponseCode::Refused
        );
        let m = ask(&catalog, &query(9, "id.server", 16, false, None, 0));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn server_info_settings_are_checked() {
        let bad = |identity: Option<&str>, nsid: Option<&str>| {
            let config = crate::DnsConfig {
                identity: identity.map(str::to_owned),
                nsid: nsid.map(str::to_owned),
                ..crate::DnsConfig::default()
            };
            ServerInfo::from_config(&config).unwrap_err().to_string()
        };
        assert!(bad(Some(""), None).contains("dns.identity"));
        assert!(bad(Some(&"x".repeat(256)), None).contains("dns.identity"));
        assert!(bad(None, Some("hex:zz")).contains("dns.nsid"));
        assert!(bad(None, Some(&"x".repeat(200))).contains("dns.nsid"));
        let ok = crate::DnsConfig {
            nsid: Some("hex:6e7331".to_owned()),
            ..crate::DnsConfig::default()
        };
        assert_eq!(
            ServerInfo::from_config(&ok).unwrap().nsid.as_deref(),
            Some(&b"ns1"[..])
        );
    }

    /// Random names that do not exist, one after another, as in a flood of
    /// random subdomains: every answer is the full responder's, most come
    /// from answers shared by their class, and the classes stay few.
    #[test]
    fn missing_names_share_answers_equal_to_the_full_responder() {
        let catalog = catalog();
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let apexes = ["e2e.test", "example.test", "2.0.192.in-addr.arpa"];
        for i in 0..6000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let parent =
                ["", "www.", "q.", "sub.", "*.", "wild.", "x.wild."][(rng >> 32) as usize % 7];
            let name = format!(
                "{:06x}.{parent}{}",
                rng as u32 & 0xff_ffff,
                apexes[i as usize % 3]
            );
            let qtype = TYPES[(rng >> 40) as usize % TYPES.len()];
            let edns = [None, Some((1232, false)), Some((4096, true))][(rng >> 52) as usize % 3];
            let transport = if rng >> 60 == 0 {
                Transport::Tcp
            } else {
                Transport::Udp
            };
            let req = query(i as u16, &name, qtype, rng & 1 == 1, edns, rng);
            let sent = cache.respond(&catalog, &req, transport, &mut out);
            let slow = catalog.respond(&req, transport);
            assert_eq!(
                sent.then(|| out.clone()),
                slow,
                "{name} type {qtype} {edns:?}"
            );
        }
        assert!(cache.negative_hits > 3000, "{}", cache.negative_hits);
        assert!(cache.shared.len() < 1500, "{} classes", cache.shared.len());
        assert!(cache.map.len() < 1000, "missing names kept one by one");
        let wildcards = cache
            .shared
            .iter()
            .filter(|(class, shared)| class.wildcard && shared.is_some())
            .count();
        assert!(wildcards > 20, "{wildcards} wildcard classes shared");
    }

    /// A wildcard whose data names the very name asked for: that answer is
    /// not shared (other names must not get their own name as the target),
    /// and every answer still equals the full responder's.
    #[test]
    fn a_wildcard_answer_naming_the_question_is_not_shared() {
        let text = "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
                    *.w MX 10 mail.w\n*.w A 192.0.2.7\n";
        let origin = Name::from_ascii("t.test.").unwrap();
        let parsed = crate::zonefile::parse_zone_str(text, Path::new("t.zone"), &origin).unwrap();
        let mut catalog = Catalog::new(1232);
        catalog.insert(Arc::new(Zone::build(&parsed).unwrap()));
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        for (i, (name, qtype)) in [
            ("mail.w.t.test", 15),
            ("abcd.w.t.test", 15),
            ("wxyz.w.t.test", 15),
            ("host.w.t.test", 1),
            ("abcd.w.t.test", 1),
            ("wxyz.w.t.test", 1),
        ]
        .into_iter()
        .enumerate()
        {
            let req = query(i as u16, name, qtype, false, None, 0);
            assert!(cache.respond(&catalog, &req, Transport::Udp, &mut out));
            assert_eq!(
                Some(out.clone()),
                catalog.respond(&req, Transport::Udp),
                "{name}"
            );
        }
        // The MX class is remembered as not shared; the A class is shared.
        assert_eq!(cache.negative_hits, 2);
        assert_eq!(cache.map.len(), 3);
    }

    /// `hostmaster.example.test` does not exist, but the SOA names it, so
    /// its NXDOMAIN answer compresses the SOA's RNAME into the question:
    /// that answer must not serve another ten-letter name.
    #[test]
    fn an_answer_naming_the_question_is_not_shared() {
        let catalog = catalog();
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        for (i, name) in ["hostmaster.example.test", "abcdefghij.example.test"]
            .into_iter()
            .enumerate()
        {
            let req = query(i as u16, name, 1, false, None, 0);
            assert!(cache.respond(&catalog, &req, Transport::Udp, &mut out));
            assert_eq!(
                Some(out.clone()),
                catalog.respond(&req, Transport::Udp),
                "{name}"
            );
            let m = Message::from_vec(&out).unwrap();
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
            assert_eq!(
                m.authorities[0].data.to_string(),
                catalog
                    .get(&LowerName::from(Name::from_ascii("example.test.").unwrap()))
                    .unwrap()
                    .negative_soa()
                    .data
                    .to_string()
            );
        }
        assert_eq!(cache.negative_hits, 0);
    }

    /// The reverse order: a ten-letter name fills the shared NXDOMAIN
    /// answer, then `hostmaster.example.test`, which the SOA names, asks.
    /// The full responder compresses the SOA's RNAME into that question (in
    /// the question's case); the shared answer spells it out. The question
    /// is answered by the full responder, byte for byte.
    #[test]
    fn a_shared_answer_is_not_served_to_a_name_it_spells_out() {
        let catalog = catalog();
        let mut cache = AnswerCache::default();
        let mut out = Vec::new();
        // "HostMaster": letters 0 and 4 upper case.
        for (i, (name, case_bits)) in [
            ("abcdefghij.example.test", 0),
            ("hostmaster.example.test", 0b1_0001),
            ("klmnopqrst.example.test", 0),
        ]
        .into_iter()
        .enumerate()
        {
            let req = query(i as u16, name, 6, false, None, case_bits);
            assert!(cache.respond(&catalog, &req, Transport::Udp, &mut out));
            assert_eq!(
                Some(out.clone()),
                catalog.respond(&req, Transport::Udp),
                "{name}"
            );
        }
        // The first and third share one answer; hostmaster was answered in full.
        assert_eq!(cache.negative_hits, 1);
        assert_eq!(cache.misses, 2);
    }

    #[test]
    fn a_shared_answer_never_points_into_the_labels_that_differ() {
        // Header, question "abc.x." (offsets 12..18), then a pointer to 12.
        let mut resp = vec![0u8; 12];
        resp.extend_from_slice(b"\x03abc\x01x\x00\x00\x01\x00\x01");
        let question_end = resp.len();
        resp.extend_from_slice(&[0xc0, 12]);
        assert!(!relocatable(&resp, question_end, 4));
        // A pointer to the encloser "x." (offset 16) is the same for every name.
        resp.truncate(question_end);
        resp.extend_from_slice(&[0xc0, 16]);
        assert!(relocatable(&resp, question_end, 4));
    }

    #[test]
    fn cache_is_emptied_when_the_catalog_changes() {
        let first = catalog();
        let mut cache = AnswerCache::default();
        let req = query(1, "www.e2e.test", 1, false, None, 0);
        let mut out = Vec::new();
        assert!(cache.respond(&first, &req, Transport::Udp, &mut out));
        assert!(cache.respond(&first, &req, Transport::Udp, &mut out));
        assert_eq!(cache.hits, 1);
        let second = first.clone();
        assert!(cache.respond(&second, &req, Transport::Udp, &mut out));
        assert_eq!(
            cache.hits, 1,
            "a new catalog must not be answered from the old cache"
        );
    }

    proptest! {
        #[test]
        fn fast_path_equals_full_responder_for_random_names(
            labels in prop::collection::vec("[a-zA-Z0-9_*-]{1,12}", 0..4),
            zone in 0usize..3,
            qtype in prop::sample::select(TYPES.to_vec()),
            seed in any::<u64>(),
            do_bit in any::<bool>(),
        ) {
            let catalog = catalog();
            let mut cache = AnswerCache::default();
            let apex = ["e2e.test", "example.test", "2.0.192.in-addr.arpa"][zone];
            let mut name = labels.join(".");
            if !name.is_empty() { name.push('.'); }
            name.push_str(apex);
            assert_same(&mut cache, &catalog, &name, qtype, Some((1232, do_bit)), Transport::Udp, seed);
        }

        /// One cache, many names (a mix of existing, missing, wildcard and
        /// delegated ones, with the zones' own labels to make classes
        /// collide, and names the zones' records name): every answer is the
        /// full responder's, byte for byte.
        #[test]
        fn one_cache_answers_a_run_of_names_as_the_full_responder_does(
            run in prop::collection::vec(
                (
                    prop::collection::vec("www|wild|x|sub|ns1|hostmaster|mail|\\*|[a-z0-9]{1,4}", 0..4),
                    0usize..3,
                    prop::sample::select(TYPES.to_vec()),
                    0usize..3,
                    any::<u64>(),
                ),
                1..40,
            ),
        ) {
            let catalog = catalog();
            let mut cache = AnswerCache::with_capacity(64);
            let mut out = Vec::new();
            for (i, (labels, zone, qtype, edns, seed)) in run.into_iter().enumerate() {
                let apex = ["e2e.test", "example.test", "2.0.192.in-addr.arpa"][zone];
                let mut name = labels.join(".");
                if !name.is_empty() { name.push('.'); }
                name.push_str(apex);
                let edns = [None, Some((1232, false)), Some((1232, true))][edns];
                let req = query(i as u16, &name, qtype, seed & 1 == 1, edns, seed);
                let sent = cache.respond(&catalog, &req, Transport::Udp, &mut out);
                let slow = catalog.respond(&req, Transport::Udp);
                prop_assert_eq!(sent, slow.is_some());
                if let Some(slow) = slow {
                    prop_assert_eq!(&out, &slow, "{} type {}", name, qtype);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_match_the_full_responder(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let catalog = catalog();
            let mut cache = AnswerCache::default();
            let mut out = Vec::new();
            let sent = cache.respond(&catalog, &bytes, Transport::Udp, &mut out);
            let slow = catalog.respond(&bytes, Transport::Udp);
            prop_assert_eq!(sent, slow.is_some());
            if let Some(slow) = slow { prop_assert_eq!(out, slow); }
        }
    }
}
