//! Zone checks run by `headend check` and on every zone load.
//!
//! [`check_zone`] looks at a parsed zone as a whole, the way `named-checkzone`
//! and `kzonecheck` do, and returns every problem as a [`Finding`] that points
//! at the file and line of the offending record. Errors that make a zone
//! unservable or unsafe ([`Check::Structure`]) keep it from loading (the
//! previous version keeps serving); other errors are logged at load (mail
//! authentication as the zone's `mail_lint` says) and refuse only the API
//! edits that introduce them; warnings are logged.
//! The mail-authentication lint ([`mailauth`]: SPF, DMARC, DKIM) runs as part
//! of them; [`check_zone_with`] lets it follow SPF includes into the other
//! served zones.

mod mailauth;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

use hashbrown::{HashMap, HashSet};

use hickory_proto::rr::{LowerName, Name, RData, RecordType};

use crate::zone::Indexed;
use crate::zonefile::{ParsedZone, SourceRecord, type_name};

/// Largest TTL RFC 2181 §8 allows: "a TTL value is an unsigned number, with a
/// minimum value of 0, and a maximum value of 2147483647".
pub const MAX_TTL: u32 = i32::MAX as u32;

/// Longest character string in a TXT record (one length octet, RFC 1035 §3.3).
pub const MAX_TXT_STRING: usize = 255;

/// How serious a finding is: errors stop a zone from loading, warnings are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Printed and logged; the zone still loads.
    Warning,
    /// The zone is not loaded (the previous version keeps serving).
    Error,
}

/// Which family of checks a finding comes from, which decides what a zone
/// load does with an error (API edits refuse every error they introduce).
///
/// Only what makes a zone unservable or unsafe refuses a load, as Knot's
/// mandatory semantic checks do: no SOA, an SOA off the apex or a second
/// one, no NS at the apex, a CNAME beside other data or a second CNAME,
/// records outside the zone, a TTL above 2^31-1, a TXT string over 255
/// bytes. The rest are served and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The zone's structure: an error refuses the load.
    Structure,
    /// Delegation hygiene (missing glue): an error is logged at load and the
    /// zone served.
    Delegation,
    /// Mail authentication (SPF, DMARC, DKIM): at load, the zone's
    /// `mail_lint` setting decides.
    MailAuth,
}

/// One problem found in a zone, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The family of checks it comes from.
    pub check: Check,
    /// The file holding the offending record.
    pub file: PathBuf,
    /// 1-based line of the offending record (0 when the problem is the zone as a whole).
    pub line: usize,
    /// What is wrong and, where there is one, a hint to fix it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{}:{}: {sev}: {}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// Runs every zone check on a parsed zone and returns the findings, errors first.
/// Names in other zones count as unknown (see [`check_zone_with`]).
pub fn check_zone(zone: &ParsedZone) -> Vec<Finding> {
    check_zone_with(zone, &[])
}

/// Runs every zone check on a parsed zone, looking up names outside it (SPF
/// include/redirect chains, DMARC report authorisations) in `others`, the
/// other served zones. Returns the findings, errors first.
pub fn check_zone_with(zone: &ParsedZone, others: &[&crate::zone::Zone]) -> Vec<Finding> {
    check_indexed(zone, &Indexed::build(zone), others)
}

/// [`check_zone_with`] over the zone's names already indexed (the load path
/// indexes once for the checks and the served zone).
pub(crate) fn check_indexed(
    zone: &ParsedZone,
    index: &Indexed,
    others: &[&crate::zone::Zone],
) -> Vec<Finding> {
    let mut c = Checker::new(zone, index);
    c.soa();
    c.apex_ns();
    c.cname_exclusive();
    c.dname_rules();
    c.delegations();
    c.glue();
    c.targets();
    c.duplicates_and_ttls();
    for (rec, finding) in mailauth::check(zone, &c.txts, &c.owners, others) {
        let order = c.order(rec);
        c.findings.push((order, finding));
    }
    let mut findings = c.findings;
    // Errors first; within a severity, in the order of the records in the file.
    findings.sort_by_key(|(order, f)| (std::cmp::Reverse(f.severity), *order));
    findings.into_iter().map(|(_, f)| f).collect()
}

/// Checks that look at one record alone: zone membership, TTL, TXT string
/// length. Each finding is an error, kept with the record's index `order`.
fn record_checks(
    zone: &ParsedZone,
    order: usize,
    rec: &SourceRecord,
    in_zone: bool,
    findings: &mut Vec<(usize, Finding)>,
) {
    let r = &rec.record;
    let mut error = |message: String| {
        let finding = Finding {
            severity: Severity::Error,
            check: Check::Structure,
            file: rec.file.to_path_buf(),
            line: rec.line,
            message,
        };
        findings.push((order, finding));
    };
    if !in_zone {
        error(format!(
            "`{}` is outside the zone `{}`: every record must be at or below the apex (a missing or extra trailing dot?)",
            r.name, zone.origin
        ));
    }
    // RFC 2181 §8: TTLs above 2^31-1 are to be treated as zero by resolvers.
    if r.ttl > MAX_TTL {
        error(format!(
            "TTL {} is above {MAX_TTL} (2^31-1), the largest RFC 2181 §8 allows",
            r.ttl
        ));
    }
    if let RData::TXT(txt) = &r.data {
        for (i, s) in txt.txt_data.iter().enumerate() {
            if s.len() > MAX_TXT_STRING {
                error(format!(
                    "TXT string {} is {} bytes but one string holds at most {MAX_TXT_STRING} (RFC 1035 §3.3): split it into several quoted strings of at most 255 bytes: \"part1\" \"part2\"",
                    i + 1,
                    s.len()
                ));
            }
        }
    }
}

/// Where a record is, for messages: `line N` in the same file, `FILE:N` otherwise.
fn place(here: &SourceRecord, there: &SourceRecord) -> String {
    if here.file == there.file {
        format!("line {}", there.line)
    } else {
        format!("{}:{}", there.file.display(), there.line)
    }
}

/// The records of one owner, in file order; one record needs no allocation.
#[derive(Debug, Clone)]
pub(crate) enum Recs<'z> {
    One([&'z SourceRecord; 1]),
    Many(Vec<&'z SourceRecord>),
}

impl<'z> Recs<'z> {
    fn push(&mut self, rec: &'z SourceRecord) {
        match self {
            Recs::One([first]) => *self = Recs::Many(vec![*first, rec]),
            Recs::Many(v) => v.push(rec),
        }
    }

    /// The records, in file order.
    pub(crate) fn as_slice(&self) -> &[&'z SourceRecord] {
        match self {
            Recs::One(one) => one,
            Recs::Many(v) => v,
        }
    }
}

/// The names of the zone being checked (its owners and the empty
/// non-terminals above them, from the shared [`Indexed`] names) and each
/// owner's records.
pub(crate) struct Owners<'z> {
    index: &'z Indexed,
    /// In-zone records by node index; `None` for an empty non-terminal.
    by_node: Vec<Option<Recs<'z>>>,
    /// Whether the zone has any record (the apex exists only then).
    any: bool,
}

impl<'z> Owners<'z> {
    /// True when `name` exists in the zone: it owns records or is an ancestor
    /// of a name that does (RFC 4592 §2.2.2).
    pub(crate) fn exists(&self, name: &Name) -> bool {
        // The apex (node 0) is always indexed; it exists once the zone has
        // any name, and every other node is an owner or an ancestor of one.
        self.any && self.index.find(&LowerName::new(name)).is_some()
    }

    fn get(&self, name: &Name) -> Option<&Recs<'z>> {
        self.at(self.index.find(&LowerName::new(name))?)
    }

    fn at(&self, node: usize) -> Option<&Recs<'z>> {
        self.by_node.get(node)?.as_ref()
    }
}

struct Checker<'z> {
    zone: &'z ParsedZone,
    /// In-zone records by owner, and the names that exist.
    owners: Owners<'z>,
    /// Owners of NS records below the apex: the zone cuts (RFC 1034 §4.2.1).
    cuts: HashSet<&'z Name>,
    /// Every NS target named in the zone.
    ns_targets: HashSet<&'z Name>,
    /// Whether each record (by index) is at or below the apex.
    in_zone: Vec<bool>,
    /// Nodes of owners of more than one record (where duplicates can be).
    shared: Vec<usize>,
    /// Nodes of owners of a CNAME.
    with_cname: Vec<usize>,
    /// Every SOA record, in file order.
    soas: Vec<&'z SourceRecord>,
    /// The zone's DNAME records, in file order.
    dnames: Vec<&'z SourceRecord>,
    /// The zone's CNAME, MX and SRV records (whose targets are checked), in file order.
    pointers: Vec<&'z SourceRecord>,
    /// The zone's TXT records (for the mail-authentication lint), in file order.
    txts: Vec<&'z SourceRecord>,
    /// (record index, finding)
    findings: Vec<(usize, Finding)>,
}

impl<'z> Checker<'z> {
    fn new(zone: &'z ParsedZone, index: &'z Indexed) -> Self {
        let apex = &zone.origin;
        let mut by_node: Vec<Option<Recs<'_>>> = Vec::new();
        by_node.resize_with(index.node_count(), || None);
        let mut cuts = HashSet::new();
        let mut ns_targets = HashSet::new();
        let mut in_zone = Vec::with_capacity(zone.records.len());
        let mut shared = HashSet::new();
        let mut with_cname = HashSet::new();
        let (mut soas, mut dnames, mut pointers, mut txts) = (vec![], vec![], vec![], vec![]);
        let mut any = false;
        let mut findings = Vec::new();
        // One pass in file order, so that no later step has to visit every
        // owner or every record (a large zone's owners are mostly single
        // records, and most records interest no check but their own).
        for (i, rec) in zone.records.iter().enumerate() {
            let owner = &rec.record.name;
            let node = index.node_of(i);
            in_zone.push(node.is_some());
            record_checks(zone, i, rec, node.is_some(), &mut findings);
            if matches!(rec.record.data, RData::SOA(_)) {
                soas.push(rec);
            }
            let Some((node, slot)) = node.and_then(|n| Some((n, by_node.get_mut(n)?))) else {
                continue;
            };
            any = true;
            match slot {
                Some(recs) => {
                    recs.push(rec);
                    shared.insert(node);
                }
                None => *slot = Some(Recs::One([rec])),
            }
            match &rec.record.data {
                RData::NS(ns) => {
                    ns_targets.insert(&ns.0);
                    if owner != apex {
                        cuts.insert(owner);
                    }
                }
                RData::CNAME(_) => {
                    with_cname.insert(node);
                    pointers.push(rec);
                }
                RData::MX(_) | RData::SRV(_) => pointers.push(rec),
                RData::TXT(_) => txts.push(rec),
                data if data.record_type() == RecordType::DNAME => dnames.push(rec),
                _ => {}
            }
        }
        Self {
            zone,
            owners: Owners {
                index,
                by_node,
                any,
            },
            cuts,
            ns_targets,
            in_zone,
            shared: shared.into_iter().collect(),
            with_cname: with_cname.into_iter().collect(),
            soas,
            dnames,
            pointers,
            txts,
            findings,
        }
    }

    /// The position of `rec` in the zone's records (for ordering findings).
    fn order(&self, rec: &SourceRecord) -> usize {
        let base = self.zone.records.as_ptr().addr();
        let size = size_of::<SourceRecord>().max(1);
        std::ptr::from_ref(rec)
            .addr()
            .checked_sub(base)
            .map(|offset| offset / size)
            .filter(|&i| i < self.zone.records.len())
            .unwrap_or(0)
    }

    fn push(&mut self, rec: Option<&SourceRecord>, severity: Severity, message: String) {
        self.push_as(Check::Structure, rec, severity, message);
    }

    fn push_as(
        &mut self,
        check: Check,
        rec: Option<&SourceRecord>,
        severity: Severity,
        message: String,
    ) {
        let (order, file, line) = match rec {
            Some(r) => (self.order(r), r.file.to_path_buf(), r.line),
            None => (0, self.zone.file.clone(), 0),
        };
        self.findings.push((
            order,
            Finding {
                severity,
                check,
                file,
                line,
                message,
            },
        ));
    }

    fn apex(&self) -> &'z Name {
        &self.zone.origin
    }

    /// The zone cut at or above `name` (below the apex), the highest one if nested.
    fn cut_above(&self, name: &Name) -> Option<Name> {
        if self.cuts.is_empty() {
            return None;
        }
        let apex_labels = self.apex().num_labels();
        let mut found = None;
        let mut n = name.clone();
        while n.num_labels() > apex_labels {
            if self.cuts.contains(&n) {
                found = Some(n.clone());
            }
            n = n.base_name();
        }
        found
    }

    /// RFC 1035 §5.2: exactly one SOA, at the top of the zone.
    fn soa(&mut self) {
        let zone = self.zone;
        let soas = std::mem::take(&mut self.soas);
        let Some(first_at_apex) = soas.iter().find(|r| &r.record.name == self.apex()).copied()
        else {
            if soas.is_empty() {
                self.push(
                    None,
                    Severity::Error,
                    format!(
                        "the zone has no SOA record: it needs exactly one, at the apex `{}`",
                        zone.origin
                    ),
                );
            }
            for rec in soas {
                self.push(
                    Some(rec),
                    Severity::Error,
                    format!(
                        "SOA record at `{}` is not at the zone apex `{}`",
                        rec.record.name, zone.origin
                    ),
                );
            }
            return;
        };
        for rec in soas {
            if std::ptr::eq(rec, first_at_apex) {
                continue;
            }
            let message = if &rec.record.name == self.apex() {
                format!(
                    "a second SOA record (the first is at {}): a zone has exactly one",
                    place(rec, first_at_apex)
                )
            } else {
                format!(
                    "SOA record at `{}` is not at the zone apex `{}`",
                    rec.record.name, zone.origin
                )
            };
            self.push(Some(rec), Severity::Error, message);
        }
    }

    /// RFC 1034 §4.2.1: the apex carries the zone's NS RRset.
    fn apex_ns(&mut self) {
        let apex = self.apex();
        let recs = self.owners.get(apex).map(Recs::as_slice);
        let has_ns =
            recs.is_some_and(|v| v.iter().any(|r| r.record.record_type() == RecordType::NS));
        if !has_ns {
            let soa = recs.and_then(|v| {
                v.iter()
                    .find(|r| r.record.record_type() == RecordType::SOA)
                    .copied()
            });
            self.push(
                soa,
                Severity::Error,
                format!("no NS records at the zone apex `{apex}`: a zone needs at least one"),
            );
        }
    }

    /// RFC 1034 §3.6.2 "If a CNAME RR is present at a node, no other data should
    /// be present"; RFC 2181 §10.1 "there may be only one such canonical name";
    /// RFC 4035 §2.5 allows the DNSSEC RRSIG and NSEC beside it.
    fn cname_exclusive(&mut self) {
        let mut found = Vec::new();
        for &node in &self.with_cname {
            let Some(recs) = self.owners.at(node) else {
                continue;
            };
            let recs = recs.as_slice();
            let cnames: Vec<&SourceRecord> = recs
                .iter()
                .filter(|r| r.record.record_type() == RecordType::CNAME)
                .copied()
                .collect();
            let Some(first) = cnames.first().copied() else {
                continue;
            };
            let others: Vec<&SourceRecord> = recs
                .iter()
                .filter(|r| {
                    !matches!(
                        r.record.record_type(),
                        RecordType::CNAME | RecordType::RRSIG | RecordType::NSEC
                    )
                })
                .copied()
                .collect();
            if let Some(other) = others.first() {
                let mut types: Vec<String> = others
                    .iter()
                    .map(|r| type_name(r.record.record_type()))
                    .collect();
                types.sort();
                types.dedup();
                found.push((
                    first,
                    format!(
                        "`{}` has a CNAME and other data ({} at {}): a CNAME must be the only record at its name (RFC 1034 §3.6.2, RFC 2181 §10.1)",
                        first.record.name,
                        types.join(", "),
                        place(first, other)
                    ),
                ));
            }
            let mut distinct: Vec<&SourceRecord> = Vec::new();
            for c in &cnames {
                if distinct.iter().any(|d| d.record.data == c.record.data) {
                    continue;
                }
                if !distinct.is_empty() {
                    found.push((
                        c,
                        format!(
                            "`{}` has more than one CNAME (the first is at {}): an alias has exactly one target (RFC 2181 §10.1)",
                            c.record.name,
                            place(c, first)
                        ),
                    ));
                }
                distinct.push(c);
            }
        }
        for (rec, message) in found {
            self.push(Some(rec), Severity::Error, message);
        }
    }

    /// RFC 6672 §2.4 "There MUST NOT be more than one DNAME RR per owner";
    /// §2.3 "Resource records MUST NOT exist at any subdomain of the owner
    /// of a DNAME RR" (they could never be reached). A DNAME beside a CNAME
    /// is reported by [`Self::cname_exclusive`].
    fn dname_rules(&mut self) {
        let zone = self.zone;
        let dnames = std::mem::take(&mut self.dnames);
        if dnames.is_empty() {
            return;
        }
        let mut found = Vec::new();
        let mut owners: HashMap<LowerName, &SourceRecord> = HashMap::new();
        for d in &dnames {
            let owner = LowerName::new(&d.record.name);
            match owners.get(&owner) {
                Some(first) if first.record.data != d.record.data => found.push((
                    *d,
                    format!(
                        "`{}` has more than one DNAME (the first is at {}): a name is redirected to one target only (RFC 6672 §2.4)",
                        d.record.name,
                        place(d, first)
                    ),
                )),
                Some(_) => {}
                None => {
                    owners.insert(owner, d);
                }
            }
        }
        for rec in &zone.records {
            let name = &rec.record.name;
            let labels = name.num_labels();
            let below = (1..labels).rev().find_map(|n| {
                owners
                    .get(&LowerName::new(&name.trim_to(usize::from(n))))
                    .copied()
            });
            if let Some(d) = below {
                found.push((
                    rec,
                    format!(
                        "`{name}` is below the DNAME at `{}` ({}): names under a DNAME are redirected and can never be answered (RFC 6672 §2.3)",
                        d.record.name,
                        place(rec, d)
                    ),
                ));
            }
        }
        for (rec, message) in found {
            self.push(Some(rec), Severity::Error, message);
        }
    }

    /// RFC 1034 §4.2.1: below a zone cut only glue belongs; other data is occluded.
    fn delegations(&mut self) {
        if self.cuts.is_empty() {
            return;
        }
        let zone = self.zone;
        for rec in &zone.records {
            let owner = &rec.record.name;
            if !zone.origin.zone_of(owner) {
                continue;
            }
            let Some(cut) = self.cut_above(owner) else {
                continue;
            };
            let rtype = rec.record.record_type();
            let is_glue = matches!(rtype, RecordType::A | RecordType::AAAA)
                && self.ns_targets.contains(owner);
            let at_cut = owner == &cut;
            let allowed = is_glue
                || (at_cut
                    && matches!(
                        rtype,
                        RecordType::NS | RecordType::DS | RecordType::RRSIG | RecordType::NSEC
                    ));
            if !allowed {
                let message = if at_cut {
                    format!(
                        "{} record at the delegation point `{cut}` is occluded: only NS, DS and glue belong at a zone cut; put it in the child zone",
                        type_name(rtype)
                    )
                } else {
                    format!(
                        "{} record at `{owner}` is below the delegation point `{cut}` and occluded (never served): only glue address records for the child's name servers belong there",
                        type_name(rtype)
                    )
                };
                self.push(Some(rec), Severity::Warning, message);
            }
        }
    }

    /// Name servers inside the zone need address records in it (glue), or
    /// resolvers cannot reach them (RFC 1034 §4.2.1, RFC 9471).
    fn glue(&mut self) {
        let zone = self.zone;
        for rec in &zone.records {
            let RData::NS(ns) = &rec.record.data else {
                continue;
            };
            if !zone.origin.zone_of(&rec.record.name) || !zone.origin.zone_of(&ns.0) {
                continue;
            }
            if !self.has_address(&ns.0) {
                self.push_as(
                    Check::Delegation,
                    Some(rec),
                    Severity::Error,
                    format!(
                        "missing glue: name server `{}` is inside the zone but has no A or AAAA record in it; add its address",
                        ns.0
                    ),
                );
            }
        }
    }

    fn has_address(&self, name: &Name) -> bool {
        self.owners.get(name).is_some_and(|v| {
            v.as_slice()
                .iter()
                .any(|r| matches!(r.record.record_type(), RecordType::A | RecordType::AAAA))
        })
    }

    /// The records a query for `name` would find in this zone: its own, or by
    /// RFC 4592 wildcard synthesis when the name does not exist.
    fn records_for(&self, name: &Name) -> Option<&[&'z SourceRecord]> {
        if let Some(v) = self.owners.get(name) {
            return Some(v.as_slice());
        }
        if self.owners.exists(name) {
            return None; // empty non-terminal: NODATA, no wildcard
        }
        let apex_labels = self.apex().num_labels();
        let mut ce = name.clone();
        while ce.num_labels() > apex_labels {
            ce = ce.base_name();
            if self.owners.exists(&ce) {
                break;
            }
        }
        let wildcard = ce.prepend_label("*").ok()?;
        self.owners.get(&wildcard).map(Recs::as_slice)
    }

    /// CNAME, MX and SRV targets inside the zone should lead somewhere
    /// (RFC 2181 §10.3: MX and SRV targets need address records).
    fn targets(&mut self) {
        let zone = self.zone;
        let mut found = Vec::new();
        for &rec in &self.pointers {
            let (target, what, needs_address) = match &rec.record.data {
                RData::CNAME(c) => (&c.0, "CNAME", false),
                RData::MX(mx) => (&mx.exchange, "MX", true),
                RData::SRV(srv) => (&srv.target, "SRV", true),
                _ => continue,
            };
            if target.is_root() || !zone.origin.zone_of(target) || self.cut_above(target).is_some()
            {
                continue;
            }
            let recs = self.records_for(target);
            let ok = if needs_address {
                recs.is_some_and(|v| {
                    v.iter()
                        .any(|r| matches!(r.record.record_type(), RecordType::A | RecordType::AAAA))
                })
            } else {
                recs.is_some_and(|v| !v.is_empty())
            };
            if !ok {
                let message = if needs_address {
                    format!(
                        "{what} target `{target}` is inside the zone but has no A or AAAA record (RFC 2181 §10.3: it must not be an alias either)"
                    )
                } else {
                    format!(
                        "CNAME target `{target}` is inside the zone but has no records: the alias leads nowhere"
                    )
                };
                found.push((rec, message));
            }
        }
        for (rec, message) in found {
            self.push(Some(rec), Severity::Warning, message);
        }
    }

    /// Duplicate records (same name, type and data) and RRsets whose records
    /// disagree on the TTL (RFC 2181 §5.2: "the TTLs of all RRs in an RRSet must be the same").
    fn duplicates_and_ttls(&mut self) {
        let zone = self.zone;
        // Records outside the zone (already an error) are grouped here; the
        // zone's own are grouped by owner already. Each group is in file order.
        let mut outside: HashMap<&Name, Vec<&SourceRecord>> = HashMap::new();
        for (rec, &in_zone) in zone.records.iter().zip(&self.in_zone) {
            if !in_zone {
                outside.entry(&rec.record.name).or_default().push(rec);
            }
        }
        let mut found = Vec::new();
        let groups = self
            .shared
            .iter()
            .filter_map(|&node| self.owners.at(node))
            .map(Recs::as_slice)
            .chain(outside.values().map(Vec::as_slice));
        for group in groups {
            if group.len() > 1 {
                duplicates_in(group, &mut found);
            }
        }
        for (rec, severity, message) in found {
            self.push(Some(rec), severity, message);
        }
    }
}

/// Duplicate and TTL findings among the records of one owner, in file order.
fn duplicates_in<'z>(
    group: &[&'z SourceRecord],
    found: &mut Vec<(&'z SourceRecord, Severity, String)>,
) {
    let mut rrsets: Vec<(RecordType, Vec<&SourceRecord>)> = Vec::new();
    for &rec in group {
        let rtype = rec.record.record_type();
        let index = match rrsets.iter().position(|(t, _)| *t == rtype) {
            Some(i) => i,
            None => {
                rrsets.push((rtype, Vec::new()));
                rrsets.len() - 1
            }
        };
        let Some((_, set)) = rrsets.get_mut(index) else {
            continue;
        };
        if let Some(first) = set.iter().find(|r| r.record.data == rec.record.data) {
            found.push((
                rec,
                Severity::Warning,
                format!(
                    "duplicate record, ignored: same {} {} as at {}",
                    rec.record.name,
                    type_name(rec.record.record_type()),
                    place(rec, first)
                ),
            ));
            continue;
        }
        // RRSIGs take the TTL of the RRset each one covers, so theirs may differ.
        if let Some(first) = set.first()
            && rec.record.record_type() != RecordType::RRSIG
            && first.record.ttl != rec.record.ttl
            && set.iter().all(|r| r.record.ttl == first.record.ttl)
        {
            found.push((
                rec,
                Severity::Warning,
                format!(
                    "TTL {} differs from TTL {} of the same {} {} RRset at {}: all records of an RRset must have one TTL (RFC 2181 §5.2)",
                    rec.record.ttl,
                    first.record.ttl,
                    rec.record.name,
                    type_name(rec.record.record_type()),
                    place(rec, first)
                ),
            ));
        }
        set.push(rec);
    }
}
