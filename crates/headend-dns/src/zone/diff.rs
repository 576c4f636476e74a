//! The difference between two versions of a zone: what IXFR sends (RFC 1995
//! §4) and what the signer compares to decide whether a saved signed version
//! still matches the zone file.

use std::collections::HashMap;

use hickory_proto::rr::{RData, Record, RecordType};
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

    /// Records removed and added between two versions of a zone.
    pub(crate) fn between(old: &Zone, new: &Zone) -> Self {
        let old_set = wire_set(old);
        let new_set = wire_set(new);
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

/// Every record of a zone but the SOA, keyed by canonical wire form.
fn wire_set(zone: &Zone) -> HashMap<Vec<u8>, Record> {
    zone.nodes()
        .flat_map(|(owner, n)| n.rrsets().iter().map(move |s| (owner, s)))
        .filter(|(_, s)| s.rtype != RecordType::SOA)
        .flat_map(|(owner, s)| s.records(owner))
        .filter_map(|r| wire(&r).map(|w| (w, r)))
        .collect()
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
}
