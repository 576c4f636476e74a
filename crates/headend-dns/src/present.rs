//! Presentation format (RFC 1035 §5.1) of records, for zone files headend
//! writes itself (API edits) and for showing records to an operator.
//!
//! Every type is written in a form headend's own parser reads back to the
//! same record; types without a known-good text form are written in the
//! RFC 3597 generic form `TYPEnnn \# len hex`.

use std::fmt::Write as _;

use hickory_proto::rr::{RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

/// The RDATA of `record` in zone-file syntax.
pub fn rdata_text(record: &Record) -> String {
    match &record.data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(" "),
        RData::A(_)
        | RData::AAAA(_)
        | RData::NS(_)
        | RData::CNAME(_)
        | RData::PTR(_)
        | RData::MX(_)
        | RData::SOA(_)
        | RData::SRV(_) => record.data.to_string(),
        other => generic(other),
    }
}

/// The record type as written in a zone file (`TYPEnnn` for unknown ones).
pub fn type_text(record: &Record) -> String {
    match &record.data {
        RData::TXT(_)
        | RData::A(_)
        | RData::AAAA(_)
        | RData::NS(_)
        | RData::CNAME(_)
        | RData::PTR(_)
        | RData::MX(_)
        | RData::SOA(_)
        | RData::SRV(_) => record.record_type().to_string(),
        _ => format!("TYPE{}", u16::from(record.record_type())),
    }
}

/// One zone-file line for the record, owner name absolute.
pub fn record_line(record: &Record) -> String {
    format!(
        "{} {} IN {} {}",
        record.name,
        record.ttl,
        type_text(record),
        rdata_text(record)
    )
}

/// The presentation name of a type for display (`A`, `CAA`, `TYPE65534`).
pub fn type_name(rtype: RecordType) -> String {
    rtype.to_string()
}

/// A character-string in double quotes with `"`, `\` and non-printable bytes escaped.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

/// RFC 3597 §5: `\# <length> <hex>`.
fn generic(rdata: &RData) -> String {
    let mut wire = Vec::new();
    let mut encoder = BinEncoder::new(&mut wire);
    // Canonical form: no name compression inside the RDATA.
    encoder.set_canonical_form(true);
    if rdata.emit(&mut encoder).is_err() {
        return "\\# 0".to_owned();
    }
    if wire.is_empty() {
        "\\# 0".to_owned()
    } else {
        format!("\\# {} {}", wire.len(), hex::encode_upper(&wire))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hickory_proto::rr::Name;

    use super::*;
    use crate::zonefile::parse_zone_str;

    #[test]
    fn every_record_of_the_test_zone_round_trips_through_presentation() {
        let origin = Name::from_ascii("e2e.test.").unwrap();
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/dns/e2e.test.zone"),
        )
        .unwrap();
        let parsed = parse_zone_str(&text, Path::new("e2e.test.zone"), &origin).unwrap();
        let written: String = parsed
            .records
            .iter()
            .map(|r| record_line(&r.record) + "\n")
            .collect();
        let reparsed = parse_zone_str(&written, Path::new("written"), &origin).unwrap();
        assert_eq!(parsed.records.len(), reparsed.records.len());
        for (a, b) in parsed.records.iter().zip(&reparsed.records) {
            assert_eq!(
                a.record,
                b.record,
                "line written: {}",
                record_line(&a.record)
            );
            assert_eq!(a.record.ttl, b.record.ttl);
        }
    }

    #[test]
    fn txt_quotes_and_escapes() {
        assert_eq!(quote(b"a\"b\\c;d\x01"), r#""a\"b\\c;d\001""#);
    }
}
