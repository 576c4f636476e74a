//! RFC 2136 dynamic updates, sans-I/O.
//!
//! [`Model`] is a zone's records in a form an update can change (the
//! served [`Zone`] is immutable); [`process`] runs one UPDATE message over
//! it in the order of RFC 2136 §3: zone section, permissions ([`policy`]),
//! prerequisites (§3.2), the update section's prescan (§3.4.1) and its
//! changes (§3.4.2). Nothing here reads a socket, a file or a clock: the
//! service feeds requests in batches, makes the accepted changes durable
//! in the update journal ([`journal`]) and only then answers.

pub(crate) mod dhcp;
pub(crate) mod journal;
pub(crate) mod policy;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use crate::zone::{Zone, serial_lt};
use crate::zonefile::{ParsedZone, SourceRecord};

/// Types a signing server makes itself: never taken from an update (and
/// dropped from the model of a zone headend signs).
pub(crate) fn is_dnssec_made(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::RRSIG
            | RecordType::NSEC
            | RecordType::NSEC3
            | RecordType::NSEC3PARAM
            | RecordType::DNSKEY
            | RecordType::CDS
            | RecordType::CDNSKEY
    )
}

/// One RRset of the model.
#[derive(Debug, Clone)]
struct Set {
    rtype: RecordType,
    ttl: u32,
    rdatas: Vec<RData>,
}

/// The records at one name.
#[derive(Debug, Clone)]
struct Node {
    name: Name,
    sets: Vec<Set>,
}

impl Node {
    fn set(&self, rtype: RecordType) -> Option<&Set> {
        self.sets.iter().find(|s| s.rtype == rtype)
    }
}

/// A zone's records, changeable.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    origin: Name,
    apex: LowerName,
    file: Arc<Path>,
    /// The names with records (a name whose last record goes is removed).
    names: HashMap<LowerName, Node>,
    /// For each name between a record's owner and the apex (both left
    /// out), how many names with records lie below it: such a name exists
    /// as an empty non-terminal while its count is above zero.
    below: HashMap<LowerName, u32>,
}

impl Model {
    /// The records of `zone`; with `unsigned`, without the records a signer
    /// makes (RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY).
    pub(crate) fn from_zone(zone: &Zone, unsigned: bool) -> Self {
        let mut names: HashMap<LowerName, Node> = HashMap::new();
        for (owner, node) in zone.nodes() {
            for set in node.rrsets() {
                if unsigned && is_dnssec_made(set.rtype) {
                    continue;
                }
                let rdatas: Vec<RData> = set.rdatas().map(std::borrow::Cow::into_owned).collect();
                let Some(first) = set.records(&Name::from(owner.clone())).next() else {
                    continue;
                };
                let entry = names.entry(owner.clone()).or_insert_with(|| Node {
                    name: first.name.clone(),
                    sets: Vec::new(),
                });
                entry.sets.push(Set {
                    rtype: set.rtype,
                    ttl: set.ttl(),
                    rdatas,
                });
            }
        }
        let mut model = Self {
            origin: zone.origin().clone(),
            apex: zone.lower_origin().clone(),
            file: Arc::from(zone.file().as_path()),
            names: HashMap::new(),
            below: HashMap::new(),
        };
        for name in names.keys() {
            model.count_below(name, true);
        }
        model.names = names;
        model
    }

    /// Counts `name` (a name gaining its first record, with `add`, or
    /// losing its last) at each name between it and the apex.
    fn count_below(&mut self, name: &LowerName, add: bool) {
        let mut above = name.base_name();
        while above != self.apex && self.apex.zone_of(&above) {
            if add {
                *self.below.entry(above.clone()).or_default() += 1;
            } else if let Some(count) = self.below.get_mut(&above) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.below.remove(&above);
                }
            }
            above = above.base_name();
        }
    }

    /// Removes the name `name` (its last record went).
    fn remove_name(&mut self, name: &LowerName) {
        if self.names.remove(name).is_some() {
            self.count_below(name, false);
        }
    }

    /// The served form of the model (`None` if it lost its SOA, which
    /// updates cannot do).
    pub(crate) fn to_zone(&self) -> Option<Zone> {
        Zone::from_parsed(self.to_parsed())
    }

    /// The zone's origin.
    pub(crate) fn origin(&self) -> &Name {
        &self.origin
    }

    /// `base`, the served version this model was made from, brought to
    /// the model at `touched` (the owner names the updates since changed)
    /// and their ancestors: the same zone [`Model::to_zone`] builds, in
    /// time proportional to the change. For an unsigned zone only (the
    /// records a signer makes are not in an unsigned model). `None` if the
    /// apex lost its SOA.
    pub(crate) fn patch(&self, mut base: Zone, touched: &[LowerName]) -> Option<Zone> {
        let mut names: HashSet<LowerName> = HashSet::new();
        names.insert(self.apex.clone());
        for name in touched {
            let mut name = name.clone();
            // Every ancestor below the apex may have become, or stopped
            // being, an empty non-terminal.
            while name != self.apex && self.apex.zone_of(&name) && names.insert(name.clone()) {
                name = name.base_name();
            }
        }
        for name in names {
            let records: Vec<(RecordType, u32, RData)> = self
                .names
                .get(&name)
                .map(|node| {
                    node.sets
                        .iter()
                        .flat_map(|set| {
                            set.rdatas.iter().map(|rd| (set.rtype, set.ttl, rd.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let below = records.is_empty() && self.below.contains_key(&name);
            base.set_node(name, records, below);
        }
        base.patched()
    }

    /// The model as a parsed zone (every record at line 0 of the zone file).
    pub(crate) fn to_parsed(&self) -> ParsedZone {
        // In canonical order, as a zone file lists them.
        let mut nodes: Vec<(&LowerName, &Node)> = self.names.iter().collect();
        nodes.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let records = nodes
            .into_iter()
            .flat_map(|(_, node)| {
                node.sets.iter().flat_map(move |set| {
                    set.rdatas.iter().map(move |rd| SourceRecord {
                        record: Record::from_rdata(node.name.clone(), set.ttl, rd.clone()),
                        file: Arc::clone(&self.file),
                        line: 0,
                    })
                })
            })
            .collect();
        ParsedZone {
            origin: self.origin.clone(),
            file: self.file.to_path_buf(),
            records,
        }
    }

    /// The SOA serial.
    pub(crate) fn serial(&self) -> u32 {
        self.soa().map_or(0, |s| s.serial)
    }

    fn soa(&self) -> Option<&hickory_proto::rr::rdata::SOA> {
        let set = self.names.get(&self.apex)?.set(RecordType::SOA)?;
        match set.rdatas.first()? {
            RData::SOA(soa) => Some(soa),
            _ => None,
        }
    }

    /// Sets the SOA serial.
    pub(crate) fn set_serial(&mut self, serial: u32) {
        if let Some(node) = self.names.get_mut(&self.apex)
            && let Some(set) = node.sets.iter_mut().find(|s| s.rtype == RecordType::SOA)
        {
            for rd in &mut set.rdatas {
                if let RData::SOA(soa) = rd {
                    soa.serial = serial;
                }
            }
        }
    }

    fn node(&self, name: &Name) -> Option<&Node> {
        self.names.get(&LowerName::new(name))
    }

    /// Applies update-section records that were accepted before (the
    /// journal's replay at load): the §3.4.2 rules, without prerequisites
    /// or permissions. Returns whether anything changed.
    pub(crate) fn replay(&mut self, updates: &[Record]) -> bool {
        let mut changed = false;
        for rr in updates {
            if prescan(&self.apex, rr).is_ok() {
                changed |= self.apply(rr);
            }
        }
        changed
    }

    /// RFC 2136 §3.4.2: one update RR. Returns whether the zone changed.
    fn apply(&mut self, rr: &Record) -> bool {
        let name = LowerName::new(&rr.name);
        let rtype = rr.record_type();
        let at_apex = name == self.apex;
        match rr.dns_class {
            // §3.4.2.2: "Any Update RR whose CLASS is the same as ZCLASS is
            // added to the zone."
            DNSClass::IN => {
                if rtype == RecordType::SOA {
                    // "If the TYPE is SOA and there is no Zone SOA RR, or the
                    // new SOA.SERIAL is lower ... than or equal to the current
                    // Zone SOA RR's SERIAL, the Update RR is ignored."
                    let RData::SOA(new) = &rr.data else {
                        return false;
                    };
                    if !at_apex || !serial_lt(self.serial(), new.serial) {
                        return false;
                    }
                    let Some(node) = self.names.get_mut(&name) else {
                        return false;
                    };
                    if let Some(set) = node.sets.iter_mut().find(|s| s.rtype == RecordType::SOA) {
                        set.rdatas = vec![rr.data.clone()];
                        set.ttl = rr.ttl;
                        return true;
                    }
                    return false;
                }
                if let Some(node) = self.names.get(&name) {
                    // "In the case of a CNAME Update RR and a non-CNAME Zone
                    // RRset or vice versa, ignore the CNAME Update RR".
                    let has_cname = node.set(RecordType::CNAME).is_some();
                    let has_other = node
                        .sets
                        .iter()
                        .any(|s| s.rtype != RecordType::CNAME && !is_dnssec_made(s.rtype));
                    if (rtype == RecordType::CNAME && has_other)
                        || (rtype != RecordType::CNAME && has_cname && !is_dnssec_made(rtype))
                    {
                        return false;
                    }
                }
                if !self.names.contains_key(&name) {
                    self.count_below(&name, true);
                }
                let node = self.names.entry(name).or_insert_with(|| Node {
                    name: rr.name.clone(),
                    sets: Vec::new(),
                });
                match node.sets.iter_mut().find(|s| s.rtype == rtype) {
                    Some(set) => {
                        // "otherwise replace the CNAME Zone RR with the CNAME
                        // Update RR" (a CNAME RRset holds one record).
                        if rtype == RecordType::CNAME {
                            let same = set.rdatas == [rr.data.clone()] && set.ttl == rr.ttl;
                            set.rdatas = vec![rr.data.clone()];
                            set.ttl = rr.ttl;
                            return !same;
                        }
                        // RFC 2181 §5.2: one TTL per RRset; the update's wins.
                        let mut changed = set.ttl != rr.ttl;
                        set.ttl = rr.ttl;
                        if !set.rdatas.contains(&rr.data) {
                            set.rdatas.push(rr.data.clone());
                            changed = true;
                        }
                        changed
                    }
                    None => {
                        node.sets.push(Set {
                            rtype,
                            ttl: rr.ttl,
                            rdatas: vec![rr.data.clone()],
                        });
                        true
                    }
                }
            }
            // §3.4.2.3: class ANY deletes an RRset or every RRset of a name.
            DNSClass::ANY => {
                let Some(node) = self.names.get_mut(&name) else {
                    return false;
                };
                let before = node.sets.len();
                if rtype == RecordType::ANY {
                    // "if the zone name is the same as ZNAME, then delete all
                    // RRsets except SOA and NS".
                    node.sets.retain(|s| {
                        is_dnssec_made(s.rtype)
                            || (at_apex && matches!(s.rtype, RecordType::SOA | RecordType::NS))
                    });
                } else {
                    if at_apex && matches!(rtype, RecordType::SOA | RecordType::NS) {
                        return false;
                    }
                    node.sets.retain(|s| s.rtype != rtype);
                }
                let changed = node.sets.len() != before;
                if node.sets.is_empty() {
                    self.remove_name(&name);
                }
                changed
            }
            // §3.4.2.4: class NONE deletes one RR.
            DNSClass::NONE => {
                if rtype == RecordType::SOA {
                    return false;
                }
                let Some(node) = self.names.get_mut(&name) else {
                    return false;
                };
                let Some(set) = node.sets.iter_mut().find(|s| s.rtype == rtype) else {
                    return false;
                };
                // "if the RR is an NS RR at the zone apex and it is the last
                // NS RR in the RRset, ignore it".
                if at_apex && rtype == RecordType::NS && set.rdatas.len() == 1 {
                    return false;
                }
                let before = set.rdatas.len();
                set.rdatas.retain(|rd| *rd != rr.data);
                let changed = set.rdatas.len() != before;
                node.sets.retain(|s| !s.rdatas.is_empty());
                if node.sets.is_empty() {
                    self.remove_name(&name);
                }
                changed
            }
            _ => false,
        }
    }
}

/// Meta types an update may not add (RFC 2136 §3.4.1.3).
fn is_meta(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::ANY
            | RecordType::AXFR
            | RecordType::IXFR
            | RecordType::OPT
            | RecordType::TSIG
            | RecordType::SIG
    ) || matches!(u16::from(rtype), 253 | 254)
}

/// RFC 2136 §3.4.1.3: is this update RR well formed?
fn prescan(apex: &LowerName, rr: &Record) -> Result<(), ResponseCode> {
    if !apex.zone_of(&LowerName::new(&rr.name)) {
        return Err(ResponseCode::NotZone);
    }
    let rtype = rr.record_type();
    let empty = matches!(rr.data, RData::Update0(_));
    match rr.dns_class {
        DNSClass::IN if !is_meta(rtype) && !empty => Ok(()),
        DNSClass::ANY if rr.ttl == 0 && empty && !matches!(u16::from(rtype), 251..=254) => Ok(()),
        DNSClass::NONE if rr.ttl == 0 && !is_meta(rtype) && !empty => Ok(()),
        _ => Err(ResponseCode::FormErr),
    }
}

/// RFC 2136 §3.2: the prerequisite section, checked against the model
/// before any change.
fn prerequisites(model: &Model, prereqs: &[Record]) -> Result<(), ResponseCode> {
    // (name, type) → the RDATAs a "RRset exists (value dependent)" asks for.
    let mut values: BTreeMap<(LowerName, u16), (Name, RecordType, Vec<RData>)> = BTreeMap::new();
    for rr in prereqs {
        // §3.2.1: "if TTL is nonzero ... FORMERR"; "if zone_of(rr.name) is
        // not ZNAME ... NOTZONE".
        if rr.ttl != 0 {
            return Err(ResponseCode::FormErr);
        }
        if !model.apex.zone_of(&LowerName::new(&rr.name)) {
            return Err(ResponseCode::NotZone);
        }
        let rtype = rr.record_type();
        let empty = matches!(rr.data, RData::Update0(_));
        let node = model.node(&rr.name);
        match rr.dns_class {
            DNSClass::ANY => {
                if !empty {
                    return Err(ResponseCode::FormErr);
                }
                if rtype == RecordType::ANY {
                    // §2.4.4 "Name Is In Use" (yxdomain).
                    if node.is_none() {
                        return Err(ResponseCode::NXDomain);
                    }
                } else if node.and_then(|n| n.set(rtype)).is_none() {
                    // §2.4.1 "RRset Exists (Value Independent)" (yxrrset).
                    return Err(ResponseCode::NXRRSet);
                }
            }
            DNSClass::NONE => {
                if !empty {
                    return Err(ResponseCode::FormErr);
                }
                if rtype == RecordType::ANY {
                    // §2.4.5 "Name Is Not In Use" (nxdomain).
                    if node.is_some() {
                        return Err(ResponseCode::YXDomain);
                    }
                } else if node.and_then(|n| n.set(rtype)).is_some() {
                    // §2.4.3 "RRset Does Not Exist" (nxrrset).
                    return Err(ResponseCode::YXRRSet);
                }
            }
            // §2.4.2 "RRset Exists (Value Dependent)": collected, compared
            // as whole RRsets below.
            DNSClass::IN => {
                if empty || is_meta(rtype) {
                    return Err(ResponseCode::FormErr);
                }
                let entry = values
                    .entry((LowerName::new(&rr.name), u16::from(rtype)))
                    .or_insert_with(|| (rr.name.clone(), rtype, Vec::new()));
                if !entry.2.contains(&rr.data) {
                    entry.2.push(rr.data.clone());
                }
            }
            _ => return Err(ResponseCode::FormErr),
        }
    }
    for (name, rtype, wanted) in values.values() {
        let have = model.node(name).and_then(|n| n.set(*rtype));
        let same = have.is_some_and(|set| {
            set.rdatas.len() == wanted.len() && wanted.iter().all(|w| set.rdatas.contains(w))
        });
        if !same {
            return Err(ResponseCode::NXRRSet);
        }
    }
    Ok(())
}

/// What one UPDATE did to the model.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The update section, to journal (empty when nothing changed).
    pub(crate) journaled: Vec<Record>,
    /// The serial after the message.
    pub(crate) serial: u32,
}

/// Runs the prerequisites and updates of one UPDATE (whose zone section
/// was already matched to `model` and whose sender was allowed) over the
/// model. On any error the model is as before. When something changed,
/// the SOA serial went up once (RFC 2136 §3.7: "the SOA SERIAL ... must be
/// incremented"), unless the update itself raised it.
pub(crate) fn process(
    model: &mut Model,
    message: &Message,
    permit: impl Fn(&Record) -> bool,
) -> Result<Applied, ResponseCode> {
    prerequisites(model, &message.answers)?;
    let updates = &message.authorities;
    // §3.4.1: prescan the whole section before changing anything.
    for rr in updates {
        prescan(&model.apex, rr)?;
        if is_dnssec_made(rr.record_type()) {
            return Err(ResponseCode::Refused);
        }
    }
    // §3.3: permissions per update RR.
    if !updates.iter().all(permit) {
        return Err(ResponseCode::Refused);
    }
    let before = model.serial();
    let mut changed = false;
    for rr in updates {
        changed |= model.apply(rr);
    }
    if !changed {
        return Ok(Applied {
            journaled: Vec::new(),
            serial: before,
        });
    }
    if model.serial() == before {
        model.set_serial(before.wrapping_add(1).max(1));
    }
    Ok(Applied {
        journaled: updates.clone(),
        serial: model.serial(),
    })
}

/// The zone section of an UPDATE (RFC 2136 §2.3, §3.1.1): one record of
/// type SOA; `Err(FORMERR)` otherwise.
pub(crate) fn zone_of(message: &Message) -> Result<&Name, ResponseCode> {
    match message.queries.as_slice() {
        [q] if q.query_type == RecordType::SOA && q.query_class == DNSClass::IN => Ok(&q.name),
        _ => Err(ResponseCode::FormErr),
    }
}

/// Whether `raw` is an UPDATE request (opcode 5, QR=0).
pub(crate) fn is_update(raw: &[u8]) -> bool {
    raw.get(2).is_some_and(|b| b & 0xf8 == 5 << 3)
}

/// The answer header of an UPDATE: the request's ID and zone section,
/// with `rcode`.
pub(crate) fn response(request: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::response(request.metadata.id, OpCode::Update);
    m.metadata.response_code = rcode;
    m.queries = request.queries.clone();
    m
}

/// A bare answer (header only, `rcode`) to a request of which only the
/// header can be trusted.
fn bare(raw: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let header = raw.get(..12)?;
    let mut out = header.to_vec();
    // QR=1, opcode kept, RCODE set, counts zero.
    out[2] = (header[2] & 0x78) | 0x80;
    out[3] = rcode;
    out[4..12].fill(0);
    Some(out)
}

/// FORMERR for bytes that do not parse as a message.
pub(crate) fn formerr_for(raw: &[u8]) -> Option<Vec<u8>> {
    bare(raw, 1)
}

/// SERVFAIL for an update that could not be queued.
pub(crate) fn servfail_for(raw: &[u8]) -> Option<Vec<u8>> {
    bare(raw, 2)
}

/// Where the answer to a queued UPDATE goes.
#[derive(Debug)]
pub(crate) enum ReplyTo {
    /// Sent from this UDP socket to the peer.
    Udp(Arc<std::net::UdpSocket>),
    /// Handed back to the TCP connection that read it.
    Tcp(tokio::sync::oneshot::Sender<Vec<u8>>),
    /// Handed back to a caller in this process (DHCP names): trusted, not
    /// subject to the zone's update policy.
    Local(std::sync::mpsc::SyncSender<Vec<u8>>),
}

/// An UPDATE waiting for the service's update thread.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The request as received.
    pub(crate) request: Vec<u8>,
    /// Who sent it.
    pub(crate) peer: std::net::SocketAddr,
    /// Where its answer goes.
    pub(crate) reply: ReplyTo,
}

/// The listeners' end of the update queue (bounded: a full queue drops a
/// UDP update, which the client retries, and fails a TCP one with SERVFAIL).
pub(crate) type Queue = std::sync::mpsc::SyncSender<Pending>;

/// Most UPDATEs waiting at once.
pub(crate) const QUEUE_DEPTH: usize = 4096;

#[cfg(test)]
mod tests;
