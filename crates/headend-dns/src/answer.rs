//! The sans-I/O responder: one request in, one response out.
//!
//! [`Catalog::respond`] is a pure function of the request bytes, the served
//! zones and the transport; the listeners in [`crate::listen`] only move bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable as _;

use crate::zone::{RRset, Zone};

/// How a request arrived; it decides the response size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: responses are limited to the client's EDNS buffer size (512 without
    /// EDNS) and the server's own cap, and truncated (TC=1) beyond.
    Udp,
    /// TCP: responses up to 65535 bytes.
    Tcp,
}

/// The set of zones being served: swapped whole on reload.
#[derive(Debug, Default)]
pub struct Catalog {
    info: Arc<ServerInfo>,
    zones: HashMap<LowerName, Arc<Zone>>,
    /// The same zones by lower-cased wire-form apex (the fast path looks
    /// names up in wire form, without building a `Name`).
    by_wire: hashbrown::HashMap<Box<[u8]>, Arc<Zone>>,
    udp_payload_max: u16,
    generation: u64,
}

/// Source of catalog generations: every catalog built gets a new one, so
/// caches keyed by generation can never confuse two versions.
static GENERATION: AtomicU64 = AtomicU64::new(1);

impl Clone for Catalog {
    /// A copy with a generation of its own (it is about to be changed).
    fn clone(&self) -> Self {
        Self {
            info: Arc::clone(&self.info),
            zones: self.zones.clone(),
            by_wire: self.by_wire.clone(),
            udp_payload_max: self.udp_payload_max,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Longest CNAME chain followed inside a zone before giving up (loop guard).
const MAX_CNAME_CHAIN: usize = 16;

/// What the server says about itself: the CHAOS-class names of RFC 4892
/// (`id.server`, `hostname.bind`, `version.bind`, `version.server`) and the
/// EDNS NSID option (RFC 5001). Each is off unless configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerInfo {
    identity: Option<String>,
    version: Option<String>,
    pub(crate) nsid: Option<Vec<u8>>,
}

/// Longest NSID accepted in the config (the option can carry more; an
/// identifier this long is already unusual).
const MAX_NSID: usize = 128;

impl ServerInfo {
    /// Reads and checks the `identity`, `version` and `nsid` settings of `[dns]`.
    pub fn from_config(config: &crate::DnsConfig) -> Result<Self, crate::DnsError> {
        let bad = |key: &str, reason: String| crate::DnsError::Config {
            key: format!("dns.{key}"),
            reason,
        };
        for (key, value) in [("identity", &config.identity), ("version", &config.version)] {
            if let Some(v) = value
                && (v.is_empty() || v.len() > 255)
            {
                return Err(bad(
                    key,
                    format!("must be 1 to 255 bytes (one TXT string), not {}", v.len()),
                ));
            }
        }
        let nsid = match config.nsid.as_deref() {
            None => None,
            Some(text) => {
                let bytes = match text.strip_prefix("hex:") {
                    Some(digits) => hex::decode(digits)
                        .map_err(|e| bad("nsid", format!("`{text}` is not hex: {e}")))?,
                    None => text.as_bytes().to_vec(),
                };
                if bytes.is_empty() || bytes.len() > MAX_NSID {
                    return Err(bad(
                        "nsid",
                        format!("must be 1 to {MAX_NSID} bytes, not {}", bytes.len()),
                    ));
                }
                Some(bytes)
            }
        };
        Ok(Self {
            identity: config.identity.clone(),
            version: config.version.clone(),
            nsid,
        })
    }
}

impl Catalog {
    /// An empty catalog whose UDP responses are capped at `udp_payload_max` bytes.
    pub fn new(udp_payload_max: u16) -> Self {
        Self {
            info: Arc::default(),
            zones: HashMap::new(),
            by_wire: hashbrown::HashMap::new(),
            udp_payload_max: udp_payload_max.max(512),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Sets what the server says about itself (CHAOS names, NSID).
    pub fn set_server_info(&mut self, info: Arc<ServerInfo>) {
        self.info = info;
    }

    /// What the server says about itself.
    pub fn server_info(&self) -> &Arc<ServerInfo> {
        &self.info
    }

    /// This catalog version's unique number (answer caches are keyed by it).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds or replaces a zone.
    pub fn insert(&mut self, zone: Arc<Zone>) {
        if let Ok(wire) = zone.lower_origin().to_bytes() {
            self.by_wire
                .insert(wire.into_boxed_slice(), Arc::clone(&zone));
        }
        self.zones.insert(zone.lower_origin().clone(), zone);
    }

    /// Keeps only the zones `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&LowerName) -> bool) {
        self.zones.retain(|origin, _| keep(origin));
        let zones = &self.zones;
        self.by_wire
            .retain(|_, zone| zones.contains_key(zone.lower_origin()));
    }

    /// The zone with this apex, if served.
    pub fn get(&self, origin: &LowerName) -> Option<&Arc<Zone>> {
        self.zones.get(origin)
    }

    /// The zone whose apex is `wire` (lower-cased, uncompressed wire form).
    pub(crate) fn zone_by_wire(&self, wire: &[u8]) -> Option<&Arc<Zone>> {
        self.by_wire.get(wire)
    }

    /// The most specific served zone holding the question name of `wire` (a
    /// message whose question has an uncompressed name, as every response
    /// echoes it), looked up by its lower-cased wire form as the answer
    /// cache does.
    pub(crate) fn zone_of_question(&self, wire: &[u8]) -> Option<&Arc<Zone>> {
        let mut name = [0u8; 255];
        let mut len = 0;
        let mut at = 12;
        loop {
            let l = usize::from(*wire.get(at)?);
            if l & 0xc0 != 0 {
                return None;
            }
            let label = wire.get(at..at + 1 + l)?;
            name.get_mut(len..len + label.len())?
                .iter_mut()
                .zip(label)
                .for_each(|(d, s)| *d = s.to_ascii_lowercase());
            len += label.len();
            at += 1 + l;
            if l == 0 {
                break;
            }
        }
        self.zone_of_wire_name(&name[..len]).map(|(zone, _)| zone)
    }

    /// The most specific served zone holding `name` (a lower-cased wire-form
    /// name), as [`find_zone`](Self::find_zone) picks it, and where the
    /// zone's origin starts in `name`.
    pub(crate) fn zone_of_wire_name(&self, name: &[u8]) -> Option<(&Arc<Zone>, usize)> {
        let mut at = 0;
        loop {
            if let Some(zone) = self.zone_by_wire(name.get(at..)?) {
                return Some((zone, at));
            }
            match *name.get(at)? {
                0 => return None,
                l => at += 1 + usize::from(l),
            }
        }
    }

    /// Every served zone.
    pub fn zones(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
    }

    /// The most specific served zone containing `name`.
    pub fn find_zone(&self, name: &Name) -> Option<&Arc<Zone>> {
        let mut lower = LowerName::new(name);
        loop {
            if let Some(zone) = self.zones.get(&lower) {
                return Some(zone);
            }
            if lower.is_root() {
                return None;
            }
            lower = lower.base_name();
        }
    }

    /// The largest response allowed: 65535 over TCP; over UDP the client's
    /// EDNS payload size (512 without EDNS, RFC 6891 §6.2.5) capped by ours.
    pub fn size_limit(&self, transport: Transport, client_payload: Option<u16>) -> u16 {
        match transport {
            Transport::Tcp => u16::MAX,
            Transport::Udp => client_payload
                .map_or(512, |p| p.max(512))
                .min(self.udp_payload_max),
        }
    }

    /// Answers one DNS message. Returns `None` when nothing should be sent
    /// (the bytes are not a request: too short, or a response).
    pub fn respond(&self, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let raw = request;
        // RFC 1035 §4.1.1: a 12-byte header; QR=1 means a response, never answered
        // (answering responses would let two servers ping-pong forever).
        let header = request.get(..12)?;
        if header[2] & 0x80 != 0 {
            return None;
        }
        let id = u16::from_be_bytes([header[0], header[1]]);
        let Ok(request) = Message::from_vec(request) else {
            return Some(error_response(id, header, ResponseCode::FormErr));
        };
        let response = self.answer(&request);
        let mut bytes = self.encode(response, &request, transport);
        restore_question_case(&mut bytes, raw);
        Some(bytes)
    }

    /// Builds the response message for a parsed request.
    fn answer(&self, request: &Message) -> Message {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.checking_disabled = request.metadata.checking_disabled;
        // The question is encoded lower-cased and its case restored afterwards
        // (see `restore_question_case`), so the layout of a response (name
        // compression) never depends on the case the client used.
        response.queries = request
            .queries
            .iter()
            .map(|q| {
                let mut q = q.clone();
                q.name = q.name.to_lowercase();
                q
            })
            .collect();
        if let Some(req_edns) = &request.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(self.udp_payload_max);
            edns.set_dnssec_ok(req_edns.flags().dnssec_ok);
            response.edns = Some(edns);
            // RFC 6891 §6.1.3: a version we do not implement gets BADVERS.
            if req_edns.version() > 0 {
                response.metadata.response_code = ResponseCode::BADVERS;
                return response;
            }
            // RFC 5001 §2.1: the identifier goes only to queries that ask for it.
            if let (Some(nsid), Some(_)) = (&self.info.nsid, req_edns.option(EdnsCode::NSID))
                && let Ok(payload) = NSIDPayload::new(nsid.clone())
                && let Some(edns) = response.edns.as_mut()
            {
                edns.options_mut().insert(EdnsOption::NSID(payload));
            }
        }
        if request.metadata.op_code != OpCode::Query {
            response.metadata.response_code = ResponseCode::NotImp;
            return response;
        }
        // RFC 9619: a QUERY carries exactly one question.
        let [query] = request.queries.as_slice() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return response;
        };
        if query.query_class == DNSClass::CH {
            self.chaos(query, &mut response);
            return response;
        }
        if query.query_class != DNSClass::IN {
            response.metadata.response_code = ResponseCode::Refused;
            return response;
        }
        if matches!(
            query.query_type,
            RecordType::AXFR | RecordType::IXFR | RecordType::OPT
        ) {
            // Zone transfers are not offered (yet): refuse rather than mislead.
            response.metadata.response_code = ResponseCode::Refused;
            return response;
        }
        let Some(zone) = self.find_zone(&query.name) else {
            // No recursion: names in no served zone are refused.
            response.metadata.response_code = ResponseCode::Refused;
            return response;
        };
        resolve(zone, query, &mut response);
        // RFC 4035 §3.1: DO=1 answers from a signed zone carry RRSIGs and denial proofs.
        if let (Some(denial), Some(edns)) = (zone.dnssec(), &request.edns)
            && edns.flags().dnssec_ok
        {
            crate::dnssec::add_proofs(zone, denial, query, &mut response);
        }
        response
    }

    /// RFC 4892 §2: `id.server` (and BIND's `hostname.bind`) name the server,
    /// `version.bind`/`version.server` its version, as class CH TXT records;
    /// each only when configured. Everything else in class CH is refused.
    fn chaos(&self, query: &Query, response: &mut Message) {
        let name = query.name.to_lowercase().to_ascii();
        let value = match name.trim_end_matches('.') {
            "id.server" | "hostname.bind" => self.info.identity.as_deref(),
            "version.bind" | "version.server" => self.info.version.as_deref(),
            _ => None,
        };
        let Some(value) = value else {
            response.metadata.response_code = ResponseCode::Refused;
            return;
        };
        response.metadata.authoritative = true;
        if matches!(query.query_type, RecordType::TXT | RecordType::ANY) {
            let mut record = Record::from_rdata(
                query.name.to_lowercase(),
                0,
                RData::TXT(TXT::new(vec![value.to_owned()])),
            );
            record.dns_class = DNSClass::CH;
            response.answers.push(record);
        }
    }

    /// Encodes a response, applying the UDP size limit (RFC 1035 §4.2.1,
    /// RFC 6891 §6.2.5, RFC 2181 §9).
    fn encode(&self, mut response: Message, request: &Message, transport: Transport) -> Vec<u8> {
        let limit =
            usize::from(self.size_limit(transport, request.edns.as_ref().map(Edns::max_payload)));
        if let Ok(bytes) = response.to_vec()
            && bytes.len() <= limit
        {
            return bytes;
        }
        // RFC 2181 §9: the additional section can be dropped without setting TC.
        response.additionals.clear();
        if let Ok(bytes) = response.to_vec()
            && bytes.len() <= limit
        {
            return bytes;
        }
        // Still too big: an empty truncated answer; the client retries over TCP.
        response.answers.clear();
        response.authorities.clear();
        response.metadata.truncation = true;
        response.to_vec().unwrap_or_else(|_| {
            error_response(request.metadata.id, &[0; 12], ResponseCode::ServFail)
        })
    }
}

/// Copies the question name's bytes (its case) from the request into the
/// response: both hold the same name at offset 12, uncompressed.
pub(crate) fn restore_question_case(response: &mut [u8], request: &[u8]) {
    if response.get(4..6) != Some(&[0, 1]) || request.get(4..6) != Some(&[0, 1]) {
        return;
    }
    let mut pos = 12;
    loop {
        let Some(&len) = request.get(pos) else {
            return;
        };
        if len > 63 {
            return;
        }
        pos += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    if let (Some(dst), Some(src)) = (response.get_mut(12..pos), request.get(12..pos))
        && dst.eq_ignore_ascii_case(src)
    {
        dst.copy_from_slice(src);
    }
}

/// A bare error response when the request could not be parsed.
fn error_response(id: u16, header: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out[..2].copy_from_slice(&id.to_be_bytes());
    // QR=1, opcode copied, RD copied.
    let flags_hi = header.get(2).copied().unwrap_or(0);
    out[2] = 0x80 | (flags_hi & 0x79);
    out[3] = rcode.low();
    out
}

/// RFC 1034 §4.3.2, steps 3a–3c, inside one zone, following CNAMEs that stay
/// inside the zone.
fn resolve(zone: &Zone, query: &Query, response: &mut Message) {
    let qtype = query.query_type;
    let mut qname = query.name.to_lowercase();
    response.metadata.authoritative = true;
    for _ in 0..MAX_CNAME_CHAIN {
        // Step 3b: a delegation at or above the name means a referral, except
        // for DS at the cut itself, which the parent side owns (RFC 4035 §3.1.4.1).
        if let Some((cut, ns)) = zone.find_cut(&qname) {
            let ds_at_cut =
                qtype == RecordType::DS && LowerName::new(&cut) == LowerName::new(&qname);
            if !ds_at_cut {
                if response.answers.is_empty() {
                    response.metadata.authoritative = false;
                }
                response.authorities.extend(ns.records(&cut));
                add_glue(zone, ns, response, true);
                return;
            }
        }
        // RFC 6672 §3.2 (step 3b's DNAME branch): a DNAME at an ancestor
        // rewrites the name; the answer holds the DNAME and a CNAME
        // synthesised with the DNAME's TTL, then the new name is followed.
        if let Some((owner, dname)) = zone.find_dname(&qname) {
            response.answers.extend(dname.records(&owner));
            let target = dname.first_rdata().and_then(|r| Zone::dname_target(&r));
            let Some(target) = target else { return };
            let keep = usize::from(qname.num_labels()) - usize::from(owner.num_labels());
            let labels: Vec<&[u8]> = qname.iter().take(keep).chain(target.iter()).collect();
            let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
            let rewritten = (wire_len <= 255)
                .then(|| Name::from_labels(labels).ok())
                .flatten();
            let Some(rewritten) = rewritten else {
                // RFC 6672 §2.2: the result is longer than a name may be.
                response.metadata.response_code = ResponseCode::YXDomain;
                return;
            };
            let cname = Record::from_rdata(
                qname.clone(),
                dname.ttl(),
                RData::CNAME(hickory_proto::rr::rdata::CNAME(rewritten.clone())),
            );
            response.answers.push(cname);
            if qtype == RecordType::CNAME
                || !zone.lower_origin().zone_of(&LowerName::new(&rewritten))
                || response
                    .answers
                    .iter()
                    .any(|r| LowerName::new(&r.name) == LowerName::new(&rewritten))
            {
                return;
            }
            qname = rewritten.to_lowercase();
            continue;
        }
        let lower = LowerName::new(&qname);
        let node = match zone.node(&lower) {
            Some(node) => node,
            None => {
                // RFC 4592 §3.3.1: the source of synthesis is `*.<closest encloser>`.
                let encloser = zone.closest_encloser(&qname);
                let wildcard = encloser
                    .prepend_label("*")
                    .ok()
                    .and_then(|w| zone.node(&LowerName::new(&w)));
                match wildcard {
                    Some(node) => node,
                    None => {
                        // Step 3c: the name does not exist.
                        response.metadata.response_code = ResponseCode::NXDomain;
                        response.authorities.push(zone.negative_soa());
                        return;
                    }
                }
            }
        };
        // The owner is the name asked for (for a wildcard, the synthesised
        // name, RFC 4592 §3.3.1); written like the question, it compresses
        // to a pointer to it.
        let owned = |set: &RRset| -> Vec<Record> { set.records(&qname).collect() };
        // RFC 8482 §4.2: answer ANY with one RRset, not everything.
        let wanted = if qtype == RecordType::ANY {
            node.rrsets().first()
        } else {
            node.rrset(qtype)
        };
        if let Some(set) = wanted {
            response.answers.extend(owned(set));
            add_glue(zone, set, response, false);
            return;
        }
        if let Some(cname) = node.rrset(RecordType::CNAME) {
            // RFC 1034 §4.3.2 step 3a: copy the CNAME and restart at its target.
            response.answers.extend(owned(cname));
            let first = cname.first_rdata();
            let Some(RData::CNAME(target)) = first.as_deref() else {
                return;
            };
            let target = target.0.clone();
            if !zone.lower_origin().zone_of(&LowerName::new(&target)) {
                return;
            }
            if response
                .answers
                .iter()
                .any(|r| LowerName::new(&r.name) == LowerName::new(&target))
            {
                return; // a CNAME loop
            }
            qname = target.to_lowercase();
            continue;
        }
        // NODATA (RFC 2308 §2.2): the name exists but not with this type.
        response.authorities.push(zone.negative_soa());
        return;
    }
}

/// Additional-section processing (RFC 1034 §4.3.2 step 6, RFC 1035 §3.3):
/// addresses of in-zone NS, MX and SRV targets. For a referral the addresses
/// below the cut are glue and are included too.
fn add_glue(zone: &Zone, set: &RRset, response: &mut Message, referral: bool) {
    for rdata in set.rdatas() {
        let target = match &*rdata {
            RData::NS(ns) => &ns.0,
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            _ => continue,
        };
        let lower = LowerName::new(target);
        if !zone.lower_origin().zone_of(&lower) {
            continue;
        }
        // Addresses occluded by a delegation are only glue for that referral.
        if !referral && zone.find_cut(target).is_some() {
            continue;
        }
        let Some(node) = zone.node(&lower) else {
            continue;
        };
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(addrs) = node.rrset(rtype) {
                for addr in addrs.records(target) {
                    if !response.additionals.contains(&addr) {
                        response.additionals.push(addr);
                    }
                }
            }
        }
    }
}
