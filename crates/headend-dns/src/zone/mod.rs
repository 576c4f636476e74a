//! An immutable, in-memory authoritative zone built from a parsed zone file.
//!
//! A `Zone` is built once per load (file read, reload or edit) and never
//! mutated; the catalog swaps whole zones, so readers never see a half-built
//! zone.
//!
//! Storage is laid out for large zones (a million records must fit in about
//! the memory Knot uses): the nodes sit in one `Vec`, found through a hash
//! table of indices (a few bytes per name instead of a second copy of every
//! name), and a node with one RRset keeps it inline rather than in its own
//! allocation.
//!
//! This module is the bottom of the crate's layering, with the zone-file
//! parser beneath it: what every feature above needs to know about a zone
//! lives here — RFC 1982 serial arithmetic ([`serial`]), the difference
//! between two versions ([`diff`]) and, once signed, the denial-of-existence
//! chain the proofs read ([`Denial`]). The checks, the signer, the responder
//! and zone transfers build on it; it uses none of them.

mod denial;
pub(crate) mod diff;
pub(crate) mod image;
pub(crate) mod serial;
pub(crate) mod zonemd;

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use hashbrown::HashTable;

use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use crate::DnsError;
use crate::zonefile::{ParsedZone, SourceRecord};

pub use denial::Denial;
pub(crate) use diff::Diff;
pub(crate) use serial::serial_lt;
pub(crate) use zonemd::canonical_rdata;

/// Parses a zone's origin as written in the config (always fully qualified).
pub fn parse_origin(origin: &str) -> Result<Name, DnsError> {
    let mut name = Name::from_ascii(origin).map_err(|e| DnsError::BadOrigin {
        origin: origin.to_owned(),
        reason: e.to_string(),
    })?;
    name.set_fqdn(true);
    Ok(name)
}

/// All records of one name and one type, stored compactly: the owner is the
/// node's name (not repeated per record), one TTL for the set, and A/AAAA
/// data inline, so a name with one address record costs no allocation.
/// Records are materialised (owner, TTL, RDATA) only when an answer is built.
#[derive(Debug, Clone, PartialEq)]
pub struct RRset {
    /// The type shared by every record.
    pub rtype: RecordType,
    /// The set's TTL (RFC 2181 §5.2: one TTL per RRset; the first record's wins).
    ttl: u32,
    data: Rdatas,
}

/// One record's RDATA. RRSIGs keep their own TTL (each covers an RRset
/// with its own), which `Other` carries at no extra size.
#[derive(Debug, Clone, PartialEq)]
enum Rdata {
    A(std::net::Ipv4Addr),
    Aaaa(std::net::Ipv6Addr),
    Other { ttl: u32, data: Box<RData> },
}

impl Rdata {
    fn new(data: RData, ttl: u32) -> Self {
        match data {
            RData::A(a) => Self::A(a.0),
            RData::AAAA(a) => Self::Aaaa(a.0),
            data => Self::Other {
                ttl,
                data: Box::new(data),
            },
        }
    }

    fn get(&self) -> Cow<'_, RData> {
        match self {
            Self::A(a) => Cow::Owned(RData::A((*a).into())),
            Self::Aaaa(a) => Cow::Owned(RData::AAAA((*a).into())),
            Self::Other { data, .. } => Cow::Borrowed(data),
        }
    }

    fn same(&self, other: &RData) -> bool {
        match (self, other) {
            (Self::A(a), RData::A(b)) => *a == b.0,
            (Self::Aaaa(a), RData::AAAA(b)) => *a == b.0,
            (Self::Other { data, .. }, other) => **data == *other,
            _ => false,
        }
    }
}

/// A set's RDATAs: most sets hold one, kept inline.
#[derive(Debug, Clone, PartialEq)]
enum Rdatas {
    One(Rdata),
    Many(Vec<Rdata>),
}

impl Rdatas {
    fn as_slice(&self) -> &[Rdata] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

impl RRset {
    fn new(rtype: RecordType, ttl: u32, data: RData) -> Self {
        Self {
            rtype,
            ttl,
            data: Rdatas::One(Rdata::new(data, ttl)),
        }
    }

    /// The RRset's TTL.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.data.as_slice().len()
    }

    /// True when the set holds no record (never, for a set in a zone).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each record's RDATA, in file order (borrowed unless it is an address).
    pub fn rdatas(&self) -> impl Iterator<Item = Cow<'_, RData>> + '_ {
        self.data.as_slice().iter().map(Rdata::get)
    }

    /// The first record's RDATA (a CNAME's target, the SOA).
    pub fn first_rdata(&self) -> Option<Cow<'_, RData>> {
        self.data.as_slice().first().map(Rdata::get)
    }

    /// The records, in file order, with `owner` as their name.
    pub fn records<'a>(&'a self, owner: &'a Name) -> impl Iterator<Item = Record> + 'a {
        self.data.as_slice().iter().map(move |d| {
            let ttl = match d {
                Rdata::Other { ttl, .. } if self.rtype == RecordType::RRSIG => *ttl,
                _ => self.ttl,
            };
            Record::from_rdata(owner.clone(), ttl, d.get().into_owned())
        })
    }

    /// Adds a record of this set's type unless an equal one is there.
    fn push(&mut self, ttl: u32, data: RData) -> bool {
        if self.data.as_slice().iter().any(|d| d.same(&data)) {
            return false;
        }
        let rdata = Rdata::new(data, ttl);
        self.data = match std::mem::replace(&mut self.data, Rdatas::Many(Vec::new())) {
            Rdatas::One(first) => Rdatas::Many(vec![first, rdata]),
            Rdatas::Many(mut many) => {
                many.push(rdata);
                Rdatas::Many(many)
            }
        };
        true
    }
}

/// The data at one owner name. An empty node is an empty non-terminal
/// (RFC 4592 §2.2.2): it exists, so it answers NODATA, not NXDOMAIN.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    rrsets: RRsets,
}

/// A node's RRsets: most names hold one, kept inline (no allocation).
#[derive(Debug, Clone, PartialEq, Default)]
enum RRsets {
    #[default]
    Empty,
    One(RRset),
    Many(Vec<RRset>),
}

impl Node {
    /// The RRset of type `rtype`, if any.
    pub fn rrset(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets().iter().find(|s| s.rtype == rtype)
    }

    /// Every RRset at this name, ordered by type code.
    pub fn rrsets(&self) -> &[RRset] {
        match &self.rrsets {
            RRsets::Empty => &[],
            RRsets::One(set) => std::slice::from_ref(set),
            RRsets::Many(sets) => sets,
        }
    }

    /// True for an empty non-terminal.
    pub fn is_empty(&self) -> bool {
        self.rrsets().is_empty()
    }

    /// Adds a record (its type, TTL and RDATA; the owner is this node's)
    /// unless an equal one is there.
    fn add(&mut self, rtype: RecordType, ttl: u32, data: RData) -> bool {
        let sets: &mut [RRset] = match &mut self.rrsets {
            RRsets::Empty => &mut [],
            RRsets::One(set) => std::slice::from_mut(set),
            RRsets::Many(sets) => sets,
        };
        match sets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => set.push(ttl, data),
            None => {
                let set = RRset::new(rtype, ttl, data);
                self.rrsets = match std::mem::take(&mut self.rrsets) {
                    RRsets::Empty => RRsets::One(set),
                    RRsets::One(first) => {
                        let mut sets = vec![first];
                        insert_by_type(&mut sets, set);
                        RRsets::Many(sets)
                    }
                    RRsets::Many(mut sets) => {
                        insert_by_type(&mut sets, set);
                        RRsets::Many(sets)
                    }
                };
                true
            }
        }
    }
}

/// Inserts `set` keeping `sets` ordered by type code.
fn insert_by_type(sets: &mut Vec<RRset>, set: RRset) {
    let code = u16::from(set.rtype);
    let pos = sets
        .iter()
        .position(|s| u16::from(s.rtype) > code)
        .unwrap_or(sets.len());
    sets.insert(pos, set);
}

/// True when `body` (wire-form labels without the root label, lower-cased)
/// spells the fully qualified `name`.
fn same_name(name: &LowerName, mut body: &[u8]) -> bool {
    if !name.is_fqdn() {
        return false;
    }
    for label in name.iter() {
        let Some((&len, rest)) = body.split_first() else {
            return false;
        };
        match rest.split_at_checked(usize::from(len)) {
            Some((text, rest)) if text == label => body = rest,
            _ => return false,
        }
    }
    body.is_empty()
}

/// Where a name missing from a zone stands: see [`Zone::missing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing {
    /// The closest encloser's node number (an identity within this zone).
    pub(crate) encloser: usize,
    /// Offset of the closest encloser (RFC 4592 §3.3.1) in the wire name.
    pub(crate) encloser_at: usize,
    /// Its number of labels (the root not counted).
    pub(crate) encloser_labels: usize,
    /// A wildcard at the encloser synthesises the name (RFC 4592 §3.3.1).
    pub(crate) wildcard: bool,
}

/// Every label of `name`, a leading `*` included (`num_labels` leaves it
/// out, RFC 4034 §3.1.3); without walking the labels.
fn label_count(name: &LowerName) -> usize {
    usize::from(name.num_labels()) + usize::from(name.is_wildcard())
}

/// Hashes a name the way its `Eq` compares (case-insensitively, with its
/// FQDN flag) in one write: the wire form without the root label, where
/// hickory's own `Hash` feeds the hasher byte by byte. A `LowerName`'s
/// labels are lower-cased already, so they are copied as they are;
/// [`Names::find_wire`] hashes a wire-form name the same way.
fn name_hash(build: &impl BuildHasher, name: &LowerName) -> u64 {
    let mut buf = [0u8; 256];
    let mut len = 0;
    for label in name.iter() {
        let Some(dst) = buf.get_mut(len..len + 1 + label.len()) else {
            break; // longer than any valid name (255 octets): hash the prefix
        };
        if let Some((first, rest)) = dst.split_first_mut() {
            *first = label.len() as u8;
            rest.copy_from_slice(label);
        }
        len += 1 + label.len();
    }
    wire_hash(build, name.is_fqdn(), buf.get(..len).unwrap_or_default())
}

/// The hash of a name given as its FQDN flag and its wire-form labels
/// without the root label: the one recipe of [`name_hash`] and
/// [`Names::find_wire`].
fn wire_hash(build: &impl BuildHasher, fqdn: bool, body: &[u8]) -> u64 {
    let mut state = build.build_hasher();
    state.write_u8(u8::from(fqdn));
    state.write(body);
    state.finish()
}

/// The zone's names: nodes in insertion order, found through a table of indices.
#[derive(Debug, Clone, Default)]
struct Names {
    entries: Vec<(LowerName, Node)>,
    index: HashTable<usize>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Names {
    fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }

    fn find(&self, name: &LowerName) -> Option<usize> {
        self.find_hashed(name_hash(&self.hasher, name), name)
    }

    fn find_hashed(&self, hash: u64, name: &LowerName) -> Option<usize> {
        self.index
            .find(hash, |&i| {
                self.entries.get(i).is_some_and(|(n, _)| n == name)
            })
            .copied()
    }

    fn get(&self, name: &LowerName) -> Option<&Node> {
        let i = self.find(name)?;
        self.entries.get(i).map(|(_, node)| node)
    }

    fn contains(&self, name: &LowerName) -> bool {
        self.find(name).is_some()
    }

    /// The node named by `wire`: a lower-cased, uncompressed name in wire
    /// form ending in the root label. Hashed as [`name_hash`] hashes a
    /// fully qualified name, without building one.
    fn find_wire(&self, wire: &[u8]) -> Option<(usize, &Node)> {
        let body = wire.strip_suffix(&[0])?;
        let hash = wire_hash(&self.hasher, true, body);
        let &i = self.index.find(hash, |&i| {
            self.entries.get(i).is_some_and(|(n, _)| same_name(n, body))
        })?;
        self.entries.get(i).map(|(_, node)| (i, node))
    }

    /// The index of the node at `name`, created empty if missing: one
    /// probe of the table either way.
    fn entry(&mut self, name: LowerName) -> usize {
        let hash = name_hash(&self.hasher, &name);
        let (entries, hasher) = (&mut self.entries, &self.hasher);
        match self.index.entry(
            hash,
            |&i| entries.get(i).is_some_and(|(n, _)| *n == name),
            |&j| entries.get(j).map_or(0, |(n, _)| name_hash(hasher, n)),
        ) {
            hashbrown::hash_table::Entry::Occupied(found) => *found.get(),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                let i = entries.len();
                entries.push((name, Node::default()));
                slot.insert(i);
                i
            }
        }
    }

    /// Adds a name known to be missing; returns its index.
    fn insert_new(&mut self, name: LowerName) -> usize {
        self.insert_hashed(name_hash(&self.hasher, &name), name)
    }

    /// [`Names::insert_new`] with the name's hash already computed.
    fn insert_hashed(&mut self, hash: u64, name: LowerName) -> usize {
        let i = self.entries.len();
        self.entries.push((name, Node::default()));
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(hash, i, |&j| {
            entries.get(j).map_or(0, |(n, _)| name_hash(hasher, n))
        });
        i
    }

    /// Removes the node at `name`, if there; the last node takes its
    /// index (one probe to unlink it, one to renumber the moved one).
    fn remove(&mut self, name: &LowerName) -> Option<Node> {
        let hash = name_hash(&self.hasher, name);
        let entries = &self.entries;
        let (i, _) = self
            .index
            .find_entry(hash, |&i| entries.get(i).is_some_and(|(n, _)| n == name))
            .ok()?
            .remove();
        let last = self.entries.len().checked_sub(1)?;
        if i != last
            && let Some((moved, _)) = self.entries.get(last)
        {
            let moved_hash = name_hash(&self.hasher, moved);
            if let Some(slot) = self.index.find_mut(moved_hash, |&j| j == last) {
                *slot = i;
            }
        }
        Some(self.entries.swap_remove(i).1)
    }

    fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .shrink_to_fit(|&j| entries.get(j).map_or(0, |(n, _)| name_hash(hasher, n)));
    }
}

/// A parsed zone's names, built once and shared by the checks and the
/// [`Zone`] (a large zone's load hashes each name once, not once for the
/// checks and again for the zone): every in-zone owner and empty
/// non-terminal, and the node of each record. The nodes stay empty until
/// [`Indexed::into_zone`] moves the records' data into them.
#[derive(Debug)]
pub(crate) struct Indexed {
    lower_origin: LowerName,
    nodes: Names,
    /// The node of each parsed record, by record index; `u32::MAX` for a
    /// record outside the zone.
    node_of: Vec<u32>,
}

impl Indexed {
    /// Indexes `parsed`: one pass in file order.
    pub(crate) fn build(parsed: &ParsedZone) -> Self {
        let lower_origin = LowerName::new(&parsed.origin);
        let origin_labels = label_count(&lower_origin);
        // Usually about one name per record; trimmed once built.
        let mut nodes = Names::with_capacity(parsed.records.len() + 1);
        nodes.insert_new(lower_origin.clone());
        let mut node_of = Vec::with_capacity(parsed.records.len());
        for source in &parsed.records {
            let owner = LowerName::new(&source.record.name);
            if !lower_origin.zone_of(&owner) {
                node_of.push(u32::MAX);
                continue;
            }
            // Every ancestor up to the apex exists, possibly as an empty
            // non-terminal; once one exists, so do all of its ancestors.
            // (A child of the apex has nothing to add: the apex is there.
            // `label_count` counts a leading `*` too.)
            if label_count(&owner) > origin_labels + 1 {
                let mut name = owner.base_name();
                while name.num_labels() > lower_origin.num_labels() && !nodes.contains(&name) {
                    let parent = name.base_name();
                    nodes.insert_new(name);
                    name = parent;
                }
            }
            let i = nodes.entry(owner);
            node_of.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        Self {
            lower_origin,
            nodes,
            node_of,
        }
    }

    /// The node index of the parsed record at `record` (`None` outside the zone).
    pub(crate) fn node_of(&self, record: usize) -> Option<usize> {
        self.node_of
            .get(record)
            .filter(|&&i| i != u32::MAX)
            .map(|&i| i as usize)
    }

    /// The node index of `name`, if it exists (possibly as an empty non-terminal).
    pub(crate) fn find(&self, name: &LowerName) -> Option<usize> {
        self.nodes.find(name)
    }

    /// The parsed records at the apex, in file order (a pass over the node
    /// numbers, not over the records).
    pub(crate) fn apex_records<'p>(&self, parsed: &'p ParsedZone) -> Vec<&'p SourceRecord> {
        // The apex is the first node (see `build`).
        self.node_of
            .iter()
            .zip(&parsed.records)
            .filter(|(node, _)| **node == 0)
            .map(|(_, record)| record)
            .collect()
    }

    /// How many nodes (names) there are.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.entries.len()
    }

    /// The zone, or `None` without an SOA at the apex. The records' data
    /// moves into the zone (a large zone's load copies none of it).
    pub(crate) fn into_zone(self, parsed: ParsedZone) -> Option<Zone> {
        let ParsedZone {
            origin,
            file,
            records,
        } = parsed;
        let data = records
            .into_iter()
            .map(|source| (source.record.ttl, source.record.data));
        self.fill(origin, file, data)
    }

    /// The zone from each parsed record's TTL and RDATA, in file order
    /// (the owners are known by record index); `None` without an SOA at
    /// the apex. Duplicate records are dropped.
    fn fill(
        self,
        origin: Name,
        file: PathBuf,
        data: impl Iterator<Item = (u32, RData)>,
    ) -> Option<Zone> {
        let Self {
            lower_origin,
            mut nodes,
            node_of,
        } = self;
        let mut records = 0;
        let mut has_dname = false;
        for (&node, (ttl, data)) in node_of.iter().zip(data) {
            let rtype = data.record_type();
            has_dname |= rtype == RecordType::DNAME;
            if node == u32::MAX {
                continue; // outside the zone
            }
            if let Some((_, node)) = nodes.entries.get_mut(node as usize)
                && node.add(rtype, ttl, data)
            {
                records += 1;
            }
        }
        nodes.shrink_to_fit();
        let soa = nodes
            .get(&lower_origin)?
            .rrset(RecordType::SOA)?
            .records(&origin)
            .next()?;
        Some(Zone {
            origin,
            lower_origin,
            nodes,
            soa,
            file,
            records,
            dnssec: None,
            has_dname,
        })
    }
}

/// One authoritative zone, ready to answer from.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    lower_origin: LowerName,
    nodes: Names,
    soa: Record,
    file: PathBuf,
    records: usize,
    dnssec: Option<std::sync::Arc<Denial>>,
    /// Whether any name has a DNAME (most zones have none: no lookups then).
    has_dname: bool,
}

impl Zone {
    /// Builds a zone from a parsed zone file that passed its checks.
    ///
    /// Returns `None` when the zone has no SOA at its apex (the checks report
    /// that as an error, so a checked zone always builds). Duplicate records
    /// are dropped; records outside the zone are ignored.
    pub fn build(parsed: &ParsedZone) -> Option<Self> {
        let data = parsed
            .records
            .iter()
            .map(|source| (source.record.ttl, source.record.data.clone()));
        Indexed::build(parsed).fill(parsed.origin.clone(), parsed.file.clone(), data)
    }

    /// Like [`Zone::build`], consuming the parsed zone (its records' data
    /// moves into the zone).
    pub fn from_parsed(parsed: ParsedZone) -> Option<Self> {
        Indexed::build(&parsed).into_zone(parsed)
    }

    /// Sets the records at `name`, a name inside the zone, to `records`
    /// (type, TTL and RDATA; the owner is `name`), as a dynamic update left
    /// them: a copy of the served zone is patched at the names an update
    /// changed instead of rebuilt, which costs time in proportion to the
    /// change, not to the zone. With no records the name stays as an
    /// empty non-terminal when `empty_non_terminal` (it has names below
    /// it), else it goes. Only for a zone without a denial chain (a signed
    /// zone is re-signed from a rebuild). Call [`Zone::patched`] after the
    /// last change.
    pub(crate) fn set_node(
        &mut self,
        name: LowerName,
        records: impl IntoIterator<Item = (RecordType, u32, RData)>,
        empty_non_terminal: bool,
    ) {
        let mut node = Node::default();
        let mut added = 0;
        for (rtype, ttl, data) in records {
            self.has_dname |= rtype == RecordType::DNAME;
            added += usize::from(node.add(rtype, ttl, data));
        }
        let old = if node.is_empty() && !empty_non_terminal {
            self.nodes.remove(&name)
        } else {
            let i = self.nodes.entry(name);
            self.nodes
                .entries
                .get_mut(i)
                .map(|(_, slot)| std::mem::replace(slot, node))
        };
        let removed: usize = old.map_or(0, |old| old.rrsets().iter().map(RRset::len).sum());
        self.records = self.records.saturating_sub(removed) + added;
    }

    /// Ends a run of [`Zone::set_node`]: the SOA is read again from the
    /// apex. `None` if the apex lost its SOA (an update cannot do that).
    pub(crate) fn patched(mut self) -> Option<Self> {
        self.soa = self
            .nodes
            .get(&self.lower_origin)?
            .rrset(RecordType::SOA)?
            .records(&self.origin)
            .next()?;
        Some(self)
    }

    /// This zone as signed, with its denial chain (answers to DO=1 queries carry proofs).
    pub(crate) fn with_dnssec(mut self, denial: Denial) -> Self {
        self.dnssec = Some(std::sync::Arc::new(denial));
        self
    }

    /// The denial chain of a zone signed before it was loaded (by
    /// dnssec-signzone, ldns-signzone, another server's signed dump): `None`
    /// unless the apex has a DNSKEY and signatures and the zone holds an NSEC
    /// or NSEC3 chain. With NSEC3PARAM at the apex the chain is NSEC3 (hashes
    /// read from the owners' first labels), else NSEC (owners in canonical order).
    pub(crate) fn file_denial(&self) -> Option<Denial> {
        use hickory_proto::dnssec::rdata::DNSSECRData;
        let apex = self.nodes.get(&self.lower_origin)?;
        apex.rrset(RecordType::DNSKEY)?;
        apex.rrset(RecordType::RRSIG)?;
        if let Some(param) = apex.rrset(RecordType::NSEC3PARAM) {
            let first = param.first_rdata()?;
            let RData::DNSSEC(DNSSECRData::NSEC3PARAM(param)) = &*first else {
                return None;
            };
            let mut hashes: Vec<(Vec<u8>, LowerName)> = self
                .nodes()
                .filter(|(_, node)| node.rrset(RecordType::NSEC3).is_some())
                .filter_map(|(owner, _)| {
                    let label = owner.iter().next()?;
                    Some((
                        crate::zonefile::base32hex_decode(label).ok()?,
                        owner.clone(),
                    ))
                })
                .collect();
            if hashes.is_empty() {
                return None;
            }
            hashes.sort();
            return Some(Denial::Nsec3 {
                salt: param.salt().to_vec(),
                iterations: param.iterations(),
                hashes,
            });
        }
        let mut names: Vec<Name> = self
            .nodes()
            .filter(|(_, node)| node.rrset(RecordType::NSEC).is_some())
            .map(|(owner, _)| Name::from(owner.clone()))
            .collect();
        if names.is_empty() {
            return None;
        }
        names.sort();
        Some(Denial::Nsec(names))
    }

    /// The denial chain when the zone is signed.
    pub fn dnssec(&self) -> Option<&Denial> {
        self.dnssec.as_deref()
    }

    /// The zone's apex as written in the config.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The apex, lower-cased, for lookups.
    pub fn lower_origin(&self) -> &LowerName {
        &self.lower_origin
    }

    /// The zone file it was built from.
    pub fn file(&self) -> &PathBuf {
        &self.file
    }

    /// Number of distinct records.
    pub fn record_count(&self) -> usize {
        self.records
    }

    /// The SOA record.
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        match &self.soa.data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        }
    }

    /// The SOA to put in the authority section of a negative answer: its TTL is
    /// min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
    pub fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        if let RData::SOA(data) = &self.soa.data {
            soa.ttl = soa.ttl.min(data.minimum);
        }
        soa
    }

    /// The node at `name`, if the name exists (possibly as an empty non-terminal).
    pub fn node(&self, name: &LowerName) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// Every owner name and its node (order unspecified).
    pub fn nodes(&self) -> impl Iterator<Item = (&LowerName, &Node)> {
        self.nodes.entries.iter().map(|(name, node)| (name, node))
    }

    /// The highest delegation point (a non-apex name with NS) at or above
    /// `name`, with its NS RRset (RFC 1034 §4.3.2 step 3b).
    pub fn find_cut(&self, name: &Name) -> Option<(Name, &RRset)> {
        let apex_labels = usize::from(self.lower_origin.num_labels());
        let labels = usize::from(name.num_labels());
        for n in apex_labels + 1..=labels {
            let ancestor = name.trim_to(n);
            let node = self.nodes.get(&LowerName::new(&ancestor))?;
            if let Some(ns) = node.rrset(RecordType::NS) {
                return Some((ancestor, ns));
            }
        }
        None
    }

    /// For `wire`, a lower-cased uncompressed name in wire form whose last
    /// `apex_len` bytes are this zone's apex: `Some` when the name does not
    /// exist and no delegation is at or above it, so that its answer is an
    /// NXDOMAIN (RFC 1034 §4.3.2 step 3c) or, with a wildcard at its closest
    /// encloser, synthesised from that (RFC 4592 §3.3.1). Every such name
    /// with the same closest encloser gets the same answer, but for the
    /// question, the owner of synthesised records and, in a signed zone,
    /// the proof records that cover the name itself.
    pub(crate) fn missing(&self, wire: &[u8], apex_len: usize) -> Option<Missing> {
        let apex_at = wire.len().checked_sub(apex_len)?;
        // Label offsets, the name's own first, then the apex's (at most 128
        // labels in 255 bytes).
        let mut starts = [0usize; 128];
        let mut count = 0;
        let mut pos = 0;
        while pos < apex_at {
            *starts.get_mut(count)? = pos;
            count += 1;
            pos += 1 + usize::from(*wire.get(pos)?);
        }
        if pos != apex_at || count == 0 || self.nodes.find_wire(wire).is_some() {
            return None;
        }
        *starts.get_mut(count)? = apex_at;
        // The closest encloser: the longest ancestor that exists (the apex
        // at the latest); every name between it and the apex exists too.
        let (depth, encloser_node, node) = (1..=count).find_map(|depth| {
            let (i, node) = self.nodes.find_wire(&wire[starts[depth]..])?;
            Some((depth, i, node))
        })?;
        let encloser_at = starts[depth];
        // A delegation at the encloser or between it and the apex (the
        // apex's own NS are no delegation).
        let delegated = |node: &Node| node.rrset(RecordType::NS).is_some();
        if encloser_at < apex_at && delegated(node) {
            return None;
        }
        // Below a DNAME the answer is synthesised from the whole name (RFC 6672 §3.2).
        if self.has_dname && node.rrset(RecordType::DNAME).is_some() {
            return None;
        }
        for &at in starts.get(depth + 1..count).unwrap_or_default() {
            if self.nodes.find_wire(&wire[at..]).is_some_and(|(_, n)| {
                delegated(n) || (self.has_dname && n.rrset(RecordType::DNAME).is_some())
            }) {
                return None;
            }
        }
        let mut star = [0u8; 257];
        let encloser = &wire[encloser_at..];
        star[..2].copy_from_slice(b"\x01*");
        star.get_mut(2..2 + encloser.len())?
            .copy_from_slice(encloser);
        let wildcard = self.nodes.find_wire(&star[..2 + encloser.len()]).is_some();
        Some(Missing {
            encloser: encloser_node,
            encloser_at,
            // The labels below the apex from the encloser on, and the apex's.
            encloser_labels: count - depth + usize::from(self.lower_origin.num_labels()),
            wildcard,
        })
    }

    /// The DNAME at the nearest proper ancestor of `name` (the apex
    /// included), with that ancestor: RFC 6672 §3.2, a DNAME redirects the
    /// names below its owner, not the owner itself.
    pub fn find_dname(&self, name: &Name) -> Option<(Name, &RRset)> {
        if !self.has_dname {
            return None;
        }
        let apex_labels = usize::from(self.lower_origin.num_labels());
        let labels = usize::from(name.num_labels());
        (apex_labels..labels).find_map(|n| {
            let ancestor = name.trim_to(n);
            let set = self
                .nodes
                .get(&LowerName::new(&ancestor))?
                .rrset(RecordType::DNAME)?;
            Some((ancestor, set))
        })
    }

    /// The target of a DNAME record (RFC 6672 §2.1), which hickory keeps as bytes.
    pub fn dname_target(rdata: &RData) -> Option<Name> {
        use hickory_proto::serialize::binary::{BinDecodable as _, BinDecoder};
        let RData::Unknown { rdata, .. } = rdata else {
            return None;
        };
        let bytes = rdata.anything.as_slice();
        let mut decoder = BinDecoder::new(bytes);
        let name = Name::read(&mut decoder).ok()?;
        (decoder.index() == bytes.len()).then_some(name)
    }

    /// The closest encloser of a name that does not exist: its longest
    /// existing ancestor (RFC 4592 §3.3.1).
    pub fn closest_encloser(&self, name: &Name) -> Name {
        let apex_labels = usize::from(self.lower_origin.num_labels());
        let mut n = usize::from(name.num_labels());
        while n > apex_labels {
            n -= 1;
            let ancestor = name.trim_to(n);
            if self.nodes.contains(&LowerName::new(&ancestor)) {
                return ancestor;
            }
        }
        self.origin.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::zonefile::parse_zone_str;

    fn zone(body: &str) -> Zone {
        let text = format!("$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n{body}");
        let origin = Name::from_ascii("example.").unwrap();
        Zone::build(&parse_zone_str(&text, Path::new("t.zone"), &origin).unwrap()).unwrap()
    }

    fn lower(name: &str) -> LowerName {
        LowerName::new(&Name::from_ascii(name).unwrap())
    }

    #[test]
    fn ancestors_of_deep_and_wildcard_owners_are_empty_non_terminals() {
        let z = zone("*.a.b A 192.0.2.2\nx.y.z.c TXT \"t\"\nh1 A 192.0.2.3\n");
        for ent in [
            "a.b.example.",
            "b.example.",
            "y.z.c.example.",
            "z.c.example.",
            "c.example.",
        ] {
            let node = z
                .node(&lower(ent))
                .unwrap_or_else(|| panic!("{ent} missing"));
            assert!(node.is_empty(), "{ent}");
        }
        for owner in [
            "*.a.b.example.",
            "x.y.z.c.example.",
            "h1.example.",
            "ns.example.",
        ] {
            assert!(!z.node(&lower(owner)).unwrap().is_empty(), "{owner}");
        }
        assert!(z.node(&lower("q.example.")).is_none());
        assert!(z.node(&lower("x.b.example.")).is_none());
        // apex, ns, h1, the wildcard and the TXT owner, and 5 empty non-terminals.
        assert_eq!(z.nodes().count(), 10);
        assert_eq!(z.record_count(), 6);
    }

    #[test]
    fn a_node_keeps_its_rrsets_by_type_code_without_duplicates() {
        let z = zone(
            "Www TXT \"b\"\nwww A 192.0.2.9\nWWW MX 10 ns\nwww A 192.0.2.9\nwww A 192.0.2.8\n",
        );
        let node = z.node(&lower("wWw.EXAMPLE.")).unwrap();
        let types: Vec<RecordType> = node.rrsets().iter().map(|s| s.rtype).collect();
        assert_eq!(types, [RecordType::A, RecordType::MX, RecordType::TXT]);
        assert_eq!(node.rrset(RecordType::A).unwrap().len(), 2);
        assert!(node.rrset(RecordType::AAAA).is_none());
        // SOA, NS, glue A, then TXT, A, MX, A (the repeated A is dropped).
        assert_eq!(z.record_count(), 7);
        let (names, nodes): (Vec<_>, Vec<_>) = z.nodes().unzip();
        assert_eq!(names.len(), 3);
        assert!(nodes.iter().all(|n| !n.is_empty()));
    }
}
