//! The difference between two versions of a zone: what IXFR sends (RFC 1995
//! §4) and what the signer compares to decide whether a saved signed version
//! still matches the zone file.

use std::collections::HashMap;

use hickory_proto::rr::{LowerName, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::Zone;

/// The change from one serial to the next.
#[derive(Debug, Clone)]
pub(crate) struct Diff {
    /// The SOA before.
    pub(crate) old_soa: Record,
    /// The SOA after.
    pub(crate) new_soa: Record,
    /// Records removed (SOA excluded).
    pub(crate) removed: Vec<Record>,
    /// Records added (SOA excluded).
    pub(crate) added: Vec<Record>,
    /// Size of the removed and added records in wire form (what a journal
    /// bounds).
    pub(crate) bytes: usize,
}

fn serial_of(soa: &Record) -> u32 {
    match &soa.data {
        RData::SOA(s) => s.serial,
        _ => 0,
    }
}

impl Diff {
    /// The serial this difference starts from.
    pub(crate) fn old_serial(&self) -> u32 {
        serial_of(&self.old_soa)
    }

    /// The serial it leads to.
    pub(crate) fn new_serial(&self) -> u32 {
        serial_of(&self.new_soa)
    }

    /// Records removed and added between two versions of a zone. Names
    /// whose data is equal in both are passed over without building their
    /// records, so a small change to a large (or signed) zone costs one
    /// comparison per name, not a wire form per record.
    pub(crate) fn between(old: &Zone, new: &Zone) -> Self {
        let mut changed: Vec<&LowerName> = new
            .nodes()
            .filter(|(name, node)| old.node(name) != Some(*node))
            .map(|(name, _)| name)
            .collect();
        changed.extend(
            old.nodes()
                .filter(|(name, _)| new.node(name).is_none())
                .map(|(name, _)| name),
        );
        Self::between_at(old, new, changed.iter().copied())
    }

    /// Like [`Diff::between`] when the versions differ at most at `names`
    /// (and in the SOA): reads only those names, not the whole zone (an
    /// unsigned zone after an UPDATE whose owner names these are).
    pub(crate) fn between_at<'a>(
        old: &Zone,
        new: &Zone,
        names: impl IntoIterator<Item = &'a LowerName> + Clone,
    ) -> Self {
        let old_set = wire_set_at(old, names.clone());
        let new_set = wire_set_at(new, names);
        Self::of_sets(old, new, old_set, new_set)
    }

    fn of_sets(
        old: &Zone,
        new: &Zone,
        old_set: HashMap<Vec<u8>, Record>,
        new_set: HashMap<Vec<u8>, Record>,
    ) -> Self {
        let mut bytes = 0;
        let mut removed = Vec::new();
        for (wire, rec) in &old_set {
            if !new_set.contains_key(wire) {
                bytes += wire.len();
                removed.push(rec.clone());
            }
        }
        let mut added = Vec::new();
        for (wire, rec) in &new_set {
            if !old_set.contains_key(wire) {
                bytes += wire.len();
                added.push(rec.clone());
            }
        }
        Self {
            old_soa: old.soa().clone(),
            new_soa: new.soa().clone(),
            removed,
            added,
            bytes,
        }
    }
}

/// The records (but the SOA) at `names` of a zone, keyed by canonical wire form.
fn wire_set_at<'a>(
    zone: &Zone,
    names: impl IntoIterator<Item = &'a LowerName>,
) -> HashMap<Vec<u8>, Record> {
    let mut out = HashMap::new();
    for owner in names {
        let Some(node) = zone.node(owner) else {
            continue;
        };
        for set in node.rrsets().iter().filter(|s| s.rtype != RecordType::SOA) {
            for r in set.records(owner) {
                if let Some(w) = wire(&r) {
                    out.insert(w, r);
                }
            }
        }
    }
    out
}

/// A record's uncompressed, lower-cased wire form (RFC 4034 §6.2).
pub(crate) fn wire(record: &Record) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(64);
    let mut enc = BinEncoder::new(&mut buf);
    enc.set_canonical_form(true);
    record.emit(&mut enc).ok()?;
    Some(buf)
}

/// A small `j.test.` zone with this serial and these records after its
/// SOA, NS and glue, for the diff and journal tests.
#[cfg(test)]
pub(crate) fn test_zone(serial: u32, body: &str) -> Zone {
    let text = format!(
        "$ORIGIN j.test.\n$TTL 300\n@ SOA ns1 hm {serial} 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n{body}"
    );
    let parsed = crate::zonefile::parse_zone_str(
        &text,
        std::path::Path::new("j.zone"),
        &hickory_proto::rr::Name::from_ascii("j.test.").unwrap(),
    )
    .unwrap();
    Zone::build(&parsed).unwrap()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::test_zone as zone;
    use super::*;

    fn names(list: &[Record]) -> HashSet<String> {
        list.iter()
            .map(|r| format!("{} {}", r.name, r.record_type()))
            .collect()
    }

    #[test]
    fn diff_holds_exactly_the_changed_records() {
        let a = zone(1, "www A 192.0.2.10\nold A 192.0.2.11\n");
        let b = zone(2, "www A 192.0.2.20\nnew A 192.0.2.12\n");
        let d = Diff::between(&a, &b);
        assert_eq!((d.old_serial(), d.new_serial()), (1, 2));
        assert_eq!(
            names(&d.removed),
            HashSet::from(["www.j.test. A".to_owned(), "old.j.test. A".to_owned()])
        );
        assert_eq!(
            names(&d.added),
            HashSet::from(["www.j.test. A".to_owned(), "new.j.test. A".to_owned()])
        );
    }

    #[test]
    fn diff_at_the_changed_names_equals_the_whole_zone_diff() {
        let a = zone(1, "www A 192.0.2.10\nold A 192.0.2.11\nkeep A 192.0.2.9\n");
        let b = zone(2, "www A 192.0.2.20\nnew A 192.0.2.12\nkeep A 192.0.2.9\n");
        let at: Vec<LowerName> = ["www.j.test.", "old.j.test.", "new.j.test."]
            .iter()
            .map(|n| LowerName::new(&hickory_proto::rr::Name::from_ascii(n).unwrap()))
            .collect();
        let whole = Diff::between(&a, &b);
        let part = Diff::between_at(&a, &b, &at);
        assert_eq!(names(&part.removed), names(&whole.removed));
        assert_eq!(names(&part.added), names(&whole.added));
        assert_eq!(part.bytes, whole.bytes);
        assert_eq!((part.old_serial(), part.new_serial()), (1, 2));
        // Names left out are not read: a diff at none of them is empty.
        let none = Diff::between_at(&a, &b, &at[..0]);
        assert!(none.removed.is_empty() && none.added.is_empty());
    }

    /// Every record but the SOA as "owner ttl type rdata" text: the whole
    /// zone compared record by record, the reference for `between`.
    fn all_records(z: &Zone) -> HashSet<String> {
        z.nodes()
            .flat_map(|(owner, n)| n.rrsets().iter().map(move |s| (owner, s)))
            .filter(|(_, s)| s.rtype != RecordType::SOA)
            .flat_map(|(owner, s)| s.records(owner))
            .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
            .collect()
    }

    fn texts(list: &[Record]) -> HashSet<String> {
        list.iter()
            .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
            .collect()
    }

    #[test]
    fn names_with_equal_data_are_skipped_and_every_change_is_still_found() {
        // A TTL change, a record added to a set, a type added at a name,
        // the same set in another order (no change), a removed name and
        // an added one, among names left as they were.
        let mut before = String::new();
        let mut after = String::new();
        for i in 0..50 {
            before.push_str(&format!("same{i} A 192.0.2.{i}\n"));
            after.push_str(&format!("same{i} A 192.0.2.{i}\n"));
        }
        before.push_str("ttl 300 A 192.0.2.100\nmore A 192.0.2.101\ntyped A 192.0.2.102\n");
        before.push_str("order A 192.0.2.1\norder A 192.0.2.2\ngone TXT \"x\"\n");
        after.push_str("ttl 600 A 192.0.2.100\nmore A 192.0.2.101\nmore A 192.0.2.103\n");
        after.push_str("typed A 192.0.2.102\ntyped AAAA 2001:db8::1\n");
        after.push_str("order A 192.0.2.2\norder A 192.0.2.1\nborn TXT \"y\"\n");
        let (a, b) = (zone(1, &before), zone(2, &after));
        let d = Diff::between(&a, &b);
        let (old, new) = (all_records(&a), all_records(&b));
        let removed: HashSet<String> = old.difference(&new).cloned().collect();
        let added: HashSet<String> = new.difference(&old).cloned().collect();
        assert_eq!(texts(&d.removed), removed);
        assert_eq!(texts(&d.added), added);
        assert_eq!(d.removed.len(), 2, "ttl and gone: {:?}", d.removed);
        assert_eq!(d.added.len(), 4, "ttl, more, typed, born: {:?}", d.added);
    }
}
