//! An immutable, in-memory authoritative zone built from a parsed zone file.
//!
//! A `Zone` is built once per load (file read, reload or edit) and never
//! mutated; the catalog swaps whole zones, so readers never see a half-built
//! zone.

use std::collections::HashMap;
use std::path::PathBuf;

use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use crate::zonefile::ParsedZone;

/// All records of one name and one type.
#[derive(Debug, Clone)]
pub struct RRset {
    /// The type shared by every record.
    pub rtype: RecordType,
    /// The records, in file order, duplicates removed; all carry one TTL.
    pub records: Vec<Record>,
}

impl RRset {
    /// The RRset's TTL (RFC 2181 §5.2: one TTL per RRset; the first record's wins).
    pub fn ttl(&self) -> u32 {
        self.records.first().map_or(0, |r| r.ttl)
    }
}

/// The data at one owner name. An empty node is an empty non-terminal
/// (RFC 4592 §2.2.2): it exists, so it answers NODATA, not NXDOMAIN.
#[derive(Debug, Clone, Default)]
pub struct Node {
    rrsets: Vec<RRset>,
}

impl Node {
    /// The RRset of type `rtype`, if any.
    pub fn rrset(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// Every RRset at this name, ordered by type code.
    pub fn rrsets(&self) -> &[RRset] {
        &self.rrsets
    }

    /// True for an empty non-terminal.
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }

    fn add(&mut self, record: Record) -> bool {
        let rtype = record.record_type();
        match self.rrsets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => {
                if set.records.iter().any(|r| r.data == record.data) {
                    return false;
                }
                let mut record = record;
                // An RRSIG takes the TTL of the RRset it covers (RFC 4034 §3).
                if rtype != RecordType::RRSIG {
                    record.ttl = set.ttl();
                }
                set.records.push(record);
            }
            None => {
                let pos = self
                    .rrsets
                    .iter()
                    .position(|s| u16::from(s.rtype) > u16::from(rtype))
                    .unwrap_or(self.rrsets.len());
                self.rrsets.insert(
                    pos,
                    RRset {
                        rtype,
                        records: vec![record],
                    },
                );
            }
        }
        true
    }
}

/// One authoritative zone, ready to answer from.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    lower_origin: LowerName,
    nodes: HashMap<LowerName, Node>,
    soa: Record,
    file: PathBuf,
    records: usize,
    dnssec: Option<std::sync::Arc<crate::dnssec::Denial>>,
}

impl Zone {
    /// Builds a zone from a parsed zone file that passed its checks.
    ///
    /// Returns `None` when the zone has no SOA at its apex (the checks report
    /// that as an error, so a checked zone always builds). Duplicate records
    /// are dropped; records outside the zone are ignored.
    pub fn build(parsed: &ParsedZone) -> Option<Self> {
        Self::from_parsed(parsed.clone())
    }

    /// Like [`Zone::build`], consuming the parsed zone (no copy of the records:
    /// what a large zone's load time and peak memory want).
    pub fn from_parsed(parsed: ParsedZone) -> Option<Self> {
        let origin = parsed.origin.clone();
        let lower_origin = LowerName::new(&origin);
        let mut nodes: HashMap<LowerName, Node> = HashMap::new();
        nodes.insert(lower_origin.clone(), Node::default());
        let mut records = 0;
        let file = parsed.file;
        for source in parsed.records {
            let owner = LowerName::new(&source.record.name);
            if !lower_origin.zone_of(&owner) {
                continue;
            }
            let node = nodes.entry(owner.clone()).or_default();
            if node.add(source.record) {
                records += 1;
            }
            // Every ancestor up to the apex exists, possibly as an empty
            // non-terminal; once one exists, so do all of its ancestors.
            let mut name = owner.base_name();
            while name.num_labels() > lower_origin.num_labels() && !nodes.contains_key(&name) {
                let parent = name.base_name();
                nodes.insert(name, Node::default());
                name = parent;
            }
        }
        let soa = nodes
            .get(&lower_origin)?
            .rrset(RecordType::SOA)?
            .records
            .first()?
            .clone();
        Some(Self {
            origin,
            lower_origin,
            nodes,
            soa,
            file,
            records,
            dnssec: None,
        })
    }

    /// This zone as signed, with its denial chain (answers to DO=1 queries carry proofs).
    pub(crate) fn with_dnssec(mut self, denial: crate::dnssec::Denial) -> Self {
        self.dnssec = Some(std::sync::Arc::new(denial));
        self
    }

    /// The denial chain when the zone is signed.
    pub fn dnssec(&self) -> Option<&crate::dnssec::Denial> {
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
        self.nodes.iter()
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

    /// The closest encloser of a name that does not exist: its longest
    /// existing ancestor (RFC 4592 §3.3.1).
    pub fn closest_encloser(&self, name: &Name) -> Name {
        let apex_labels = usize::from(self.lower_origin.num_labels());
        let mut n = usize::from(name.num_labels());
        while n > apex_labels {
            n -= 1;
            let ancestor = name.trim_to(n);
            if self.nodes.contains_key(&LowerName::new(&ancestor)) {
                return ancestor;
            }
        }
        self.origin.clone()
    }
}
