//! ZONEMD (RFC 8976): the digest of a whole zone, verified when the zone
//! file carries one, so that a truncated or altered file is refused.
//!
//! RFC 8976 §3.3.1 (SIMPLE scheme): every RR of the zone in RFC 4034 §6.2
//! canonical form and §6.3 canonical order, duplicates removed, the apex
//! ZONEMD RRset and the RRSIGs covering it left out, hashed in one pass.

use hickory_proto::dnssec::DigestType;
use hickory_proto::dnssec::crypto::Digest;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::zonefile::{ParsedZone, SourceRecord, emit_uncompressed};

/// The ZONEMD type code (hickory has no variant for it).
const ZONEMD: u16 = 63;

/// What the apex ZONEMD says about the zone.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No ZONEMD at the apex (or none for the SOA serial): nothing to verify.
    Absent,
    /// A supported digest matches.
    Matches,
    /// Only schemes or hash algorithms headend does not compute (RFC 8976 §4:
    /// such a zone is not refused).
    Unsupported,
    /// Every supported digest differs: the file is not the zone that was digested.
    Mismatch {
        /// The digest in the file (hex).
        expected: String,
        /// The digest of the records read (hex).
        computed: String,
    },
}

/// RFC 8976 §4: verifies the apex ZONEMD records whose serial is the SOA's.
#[cfg(test)]
pub(crate) fn verify(zone: &ParsedZone) -> Verdict {
    let apex: Vec<&SourceRecord> = zone
        .records
        .iter()
        .filter(|r| r.record.name == zone.origin)
        .collect();
    verify_apex(zone, &apex)
}

/// [`verify`] with the apex's records (in file order) already found: a zone
/// without ZONEMD is then decided without a pass over all its records.
pub(crate) fn verify_apex(zone: &ParsedZone, apex: &[&SourceRecord]) -> Verdict {
    let origin = &zone.origin;
    let serial = apex.iter().find_map(|r| match &r.record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    });
    let Some(serial) = serial else {
        return Verdict::Absent;
    };
    // (scheme, hash algorithm, digest) of each apex ZONEMD for this serial.
    let zonemds: Vec<(u8, u8, Vec<u8>)> = apex
        .iter()
        .filter(|r| u16::from(r.record.record_type()) == ZONEMD)
        .filter_map(|r| {
            let wire = emit_uncompressed(&r.record.data)?;
            let (head, digest) = wire.split_at_checked(6)?;
            let [s1, s2, s3, s4, scheme, hash] = head else {
                return None;
            };
            (u32::from_be_bytes([*s1, *s2, *s3, *s4]) == serial)
                .then(|| (*scheme, *hash, digest.to_vec()))
        })
        .collect();
    if zonemds.is_empty() {
        return Verdict::Absent;
    }
    let supported: Vec<&Vec<u8>> = zonemds
        .iter()
        .filter(|(scheme, hash, _)| *scheme == 1 && *hash == 1)
        .map(|(_, _, d)| d)
        .collect();
    let Some(first) = supported.first() else {
        return Verdict::Unsupported;
    };
    let Some(computed) = simple_sha384(origin, zone.records.iter().map(|r| &r.record)) else {
        return Verdict::Unsupported;
    };
    if supported
        .iter()
        .any(|d| d.as_slice() == computed.as_slice())
    {
        Verdict::Matches
    } else {
        Verdict::Mismatch {
            expected: hex::encode(first),
            computed: hex::encode(computed),
        }
    }
}

/// The SIMPLE/SHA384 digest of the zone's records (RFC 8976 §3.3.1): the
/// apex ZONEMD RRset and the RRSIGs covering it left out.
pub(crate) fn simple_sha384<'r>(
    origin: &Name,
    records: impl Iterator<Item = &'r Record>,
) -> Option<Vec<u8>> {
    let mut rrs: Vec<(Name, u16, Vec<u8>, u32)> = records
        .filter(|r| origin.zone_of(&r.name))
        .filter(|r| {
            let rtype = r.record_type();
            let apex = r.name == *origin;
            let covers_zonemd = match &r.data {
                RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) => {
                    u16::from(s.input().type_covered) == ZONEMD
                }
                _ => false,
            };
            !apex || (u16::from(rtype) != ZONEMD && !covers_zonemd)
        })
        .filter_map(|r| {
            let code = u16::from(r.record_type());
            let rdata = canonical_rdata(code, emit_uncompressed(&r.data)?);
            Some((r.name.to_lowercase(), code, rdata, r.ttl))
        })
        .collect();
    // RFC 4034 §6.3: by owner (canonical name order), then type, then RDATA.
    rrs.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
    rrs.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    let mut wire = Vec::new();
    for (name, code, rdata, ttl) in &rrs {
        for label in name.iter() {
            wire.push(u8::try_from(label.len()).ok()?);
            wire.extend_from_slice(label);
        }
        wire.push(0);
        wire.extend_from_slice(&code.to_be_bytes());
        wire.extend_from_slice(&1u16.to_be_bytes());
        wire.extend_from_slice(&ttl.to_be_bytes());
        wire.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
        wire.extend_from_slice(rdata);
    }
    let digest = Digest::from_iter([wire.as_slice()], DigestType::SHA384).ok()?;
    Some(digest.as_ref().to_vec())
}

/// A ZONEMD RDATA (RFC 8976 §2.2): `serial`, scheme SIMPLE (1), hash
/// SHA384 (1) and `digest`.
pub(crate) fn simple_sha384_rdata(serial: u32, digest: &[u8]) -> RData {
    let mut wire = Vec::with_capacity(6 + digest.len());
    wire.extend_from_slice(&serial.to_be_bytes());
    wire.extend_from_slice(&[1, 1]);
    wire.extend_from_slice(digest);
    RData::Unknown {
        code: RecordType::from(ZONEMD),
        rdata: NULL::with(wire),
    }
}

/// The ZONEMD record type.
pub(crate) fn zonemd_type() -> RecordType {
    RecordType::from(ZONEMD)
}

/// Whether `rtype` is ZONEMD.
pub(crate) fn is_zonemd(rtype: RecordType) -> bool {
    u16::from(rtype) == ZONEMD
}

/// RFC 4034 §6.2 item 3 (as amended by RFC 6840 §5.1, which leaves NSEC
/// alone): the domain names inside the RDATA of these older types are
/// lower-cased. Other types' RDATA is taken as it is.
pub(crate) fn canonical_rdata(code: u16, mut wire: Vec<u8>) -> Vec<u8> {
    // (offset of the first name, how many names follow one another there)
    let names: Option<(usize, usize)> = match code {
        // NS MD MF CNAME MB MG MR PTR DNAME
        2..=5 | 7..=9 | 12 | 39 => Some((0, 1)),
        // SOA, MINFO, RP
        6 | 14 | 17 => Some((0, 2)),
        // MX AFSDB RT KX
        15 | 18 | 21 | 36 => Some((2, 1)),
        // PX
        26 => Some((2, 2)),
        // SRV
        33 => Some((6, 1)),
        // SIG RRSIG: the signer's name after 18 octets.
        24 | 46 => Some((18, 1)),
        // NAPTR: after order, preference and three strings.
        35 => {
            let mut at = 4;
            for _ in 0..3 {
                at += 1 + usize::from(wire.get(at).copied().unwrap_or(0));
            }
            Some((at, 1))
        }
        _ => None,
    };
    if let Some((mut at, count)) = names {
        for _ in 0..count {
            while let Some(&len) = wire.get(at) {
                at += 1;
                if len == 0 {
                    break;
                }
                let end = (at + usize::from(len)).min(wire.len());
                if let Some(label) = wire.get_mut(at..end) {
                    label.make_ascii_lowercase();
                }
                at = end;
            }
        }
    }
    wire
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::zonefile::parse_zone_str;

    fn zone(edit: impl Fn(&str) -> String) -> ParsedZone {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/dns/zonemd.test.zone"),
        )
        .unwrap();
        let origin = Name::from_ascii("zonemd.test.").unwrap();
        parse_zone_str(&edit(&text), Path::new("zonemd.test.zone"), &origin).unwrap()
    }

    #[test]
    fn a_digest_made_by_ldns_matches() {
        assert_eq!(verify(&zone(str::to_owned)), Verdict::Matches);
    }

    #[test]
    fn a_changed_record_is_a_mismatch() {
        let altered = zone(|t| t.replace("192.0.2.3", "192.0.2.4"));
        assert!(matches!(verify(&altered), Verdict::Mismatch { .. }));
        // Case inside RDATA of the RFC 4034 §6.2 types does not change the digest.
        let recased = zone(|t| t.replace("Admin.Zonemd.Test.", "admin.zonemd.test."));
        assert_eq!(verify(&recased), Verdict::Matches);
    }

    #[test]
    fn other_serials_and_hashes_are_not_verified() {
        let other_serial = zone(|t| t.replace("ZONEMD\t2026120501", "ZONEMD\t2026120500"));
        assert_eq!(verify(&other_serial), Verdict::Absent);
        let sha512 = zone(|t| t.replace("2026120501 1 1 ", "2026120501 1 2 "));
        assert_eq!(verify(&sha512), Verdict::Unsupported);
    }
}
