//! Zone management for the admin API: listing, per-zone reload, and record
//! edits written back to the zone file atomically with the SOA serial bumped.

use std::path::{Path, PathBuf};

use headend_util::write_atomic;
use hickory_proto::rr::{LowerName, Name, RData, RecordType};
use serde::Serialize;

use crate::check::{Severity, check_zone_with};
use crate::present::{rdata_text, record_line};
use crate::zone::Zone;
use crate::zonefile::{ParsedZone, SourceRecord, parse_zone_file, parse_zone_str};
use crate::{DnsError, ZoneConfig};

/// One served zone, as listed by the admin API.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ZoneSummary {
    /// The apex, e.g. `example.test.`.
    pub origin: String,
    /// The SOA serial being served.
    pub serial: u32,
    /// Number of records served.
    pub records: usize,
    /// The zone file.
    pub file: PathBuf,
}

/// One record in presentation form.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordView {
    /// Owner name, absolute.
    pub name: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Type mnemonic (`A`, `TXT`, `TYPE65534`...).
    pub rtype: String,
    /// RDATA in zone-file syntax.
    pub rdata: String,
}

/// A change to one RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneEdit {
    /// Replace the RRset `name`/`rtype` with these RDATA values (zone-file syntax).
    Set {
        /// Owner: relative to the zone, `@`, or absolute with a trailing dot.
        name: String,
        /// Type mnemonic.
        rtype: String,
        /// TTL; the zone's current TTL for that RRset (or the SOA MINIMUM) when absent.
        ttl: Option<u32>,
        /// One RDATA per record.
        rdata: Vec<String>,
    },
    /// Delete the RRset `name`/`rtype`, or only the record with this RDATA.
    Delete {
        /// Owner: relative to the zone, `@`, or absolute with a trailing dot.
        name: String,
        /// Type mnemonic.
        rtype: String,
        /// Only this record of the RRset, when given.
        rdata: Option<String>,
    },
}

pub(crate) fn summary(zone: &Zone) -> ZoneSummary {
    ZoneSummary {
        origin: zone.origin().to_string(),
        serial: zone.serial(),
        records: zone.record_count(),
        file: zone.file().clone(),
    }
}

pub(crate) fn records(zone: &Zone) -> Vec<RecordView> {
    let mut out: Vec<RecordView> = zone
        .nodes()
        .flat_map(|(owner, node)| node.rrsets().iter().map(move |s| (owner, s)))
        .flat_map(|(owner, set)| set.records(owner))
        .map(|r| RecordView {
            name: r.name.to_string(),
            ttl: r.ttl,
            rtype: crate::present::type_text(&r),
            rdata: rdata_text(&r),
        })
        .collect();
    out.sort_by(|a, b| {
        (a.rtype != "SOA", a.name.to_lowercase(), &a.rtype).cmp(&(
            b.rtype != "SOA",
            b.name.to_lowercase(),
            &b.rtype,
        ))
    });
    out
}

/// Applies `edit` to the zone file of `config`, checks the result, bumps the
/// serial and writes the file atomically. Returns the new zone.
pub(crate) fn apply(
    config: &ZoneConfig,
    origin: &Name,
    edit: &ZoneEdit,
    expected_serial: Option<u32>,
    others: &[&Zone],
) -> Result<Zone, DnsError> {
    let parsed = parse_zone_file(&config.file, origin).map_err(first_error)?;
    let current = soa_serial(&parsed).ok_or_else(|| DnsError::BadEdit {
        reason: "the zone file has no SOA record".to_owned(),
    })?;
    if let Some(expected) = expected_serial
        && expected != current
    {
        return Err(DnsError::SerialMismatch { expected, current });
    }
    let mut records = parsed.records.clone();
    match edit {
        ZoneEdit::Set {
            name,
            rtype,
            ttl,
            rdata,
        } => {
            if rdata.is_empty() {
                return Err(DnsError::BadEdit {
                    reason: "a set needs at least one RDATA value".to_owned(),
                });
            }
            let owner = owner_name(name, origin)?;
            let rtype_parsed = record_type(rtype)?;
            if rtype_parsed == RecordType::SOA {
                return Err(DnsError::BadEdit {
                    reason: "the SOA is managed by headend (its serial is bumped on every edit)"
                        .to_owned(),
                });
            }
            let ttl = ttl
                .or_else(|| {
                    records
                        .iter()
                        .find(|r| same_set(r, &owner, rtype_parsed))
                        .map(|r| r.record.ttl)
                })
                .unwrap_or_else(|| default_ttl(&parsed));
            let text: String = rdata
                .iter()
                .map(|rd| {
                    if rd.contains('\n') {
                        String::new()
                    } else {
                        format!("{owner} {ttl} IN {rtype} {rd}\n")
                    }
                })
                .collect();
            if text.lines().count() != rdata.len() {
                return Err(DnsError::BadEdit {
                    reason: "RDATA must not contain line breaks".to_owned(),
                });
            }
            let new = parse_zone_str(&text, Path::new("(edit)"), origin).map_err(first_error)?;
            records.retain(|r| !same_set(r, &owner, rtype_parsed));
            records.extend(new.records);
        }
        ZoneEdit::Delete { name, rtype, rdata } => {
            let owner = owner_name(name, origin)?;
            let rtype_parsed = record_type(rtype)?;
            if rtype_parsed == RecordType::SOA {
                return Err(DnsError::BadEdit {
                    reason: "the SOA cannot be deleted".to_owned(),
                });
            }
            let before = records.len();
            match rdata {
                None => records.retain(|r| !same_set(r, &owner, rtype_parsed)),
                Some(rd) => {
                    let line = format!("{owner} 0 IN {rtype} {rd}\n");
                    let target = parse_zone_str(&line, Path::new("(edit)"), origin)
                        .map_err(first_error)?
                        .records
                        .into_iter()
                        .next()
                        .ok_or_else(|| DnsError::BadEdit {
                            reason: "no RDATA given".to_owned(),
                        })?;
                    records.retain(|r| {
                        !(same_set(r, &owner, rtype_parsed) && r.record.data == target.record.data)
                    });
                }
            }
            if records.len() == before {
                return Err(DnsError::BadEdit {
                    reason: format!("no {rtype} record at {owner} matches"),
                });
            }
        }
    }
    // RFC 1982 serial arithmetic: +1 wraps.
    let serial = current.wrapping_add(1).max(1);
    for r in &mut records {
        if let RData::SOA(soa) = &mut r.record.data {
            soa.serial = serial;
        }
    }
    let edited = ParsedZone {
        origin: parsed.origin.clone(),
        file: parsed.file,
        records,
    };
    let errors: Vec<_> = check_zone_with(&edited, others)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        return Err(DnsError::Invalid {
            zone: config.origin.clone(),
            findings: errors,
        });
    }
    let zone = Zone::build(&edited).ok_or_else(|| DnsError::BadEdit {
        reason: "the edited zone has no SOA".to_owned(),
    })?;
    write_atomically(&config.file, &render(&edited, serial))?;
    Ok(zone)
}

fn first_error(mut errors: Vec<DnsError>) -> DnsError {
    if errors.is_empty() {
        DnsError::BadEdit {
            reason: "unparseable".to_owned(),
        }
    } else {
        errors.swap_remove(0)
    }
}

fn soa_serial(zone: &ParsedZone) -> Option<u32> {
    zone.records.iter().find_map(|r| match &r.record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

fn default_ttl(zone: &ParsedZone) -> u32 {
    zone.records
        .iter()
        .find_map(|r| match &r.record.data {
            RData::SOA(soa) => Some(soa.minimum.max(r.record.ttl.min(3600))),
            _ => None,
        })
        .unwrap_or(3600)
}

fn same_set(r: &SourceRecord, owner: &Name, rtype: RecordType) -> bool {
    r.record.record_type() == rtype && LowerName::new(&r.record.name) == LowerName::new(owner)
}

fn owner_name(name: &str, origin: &Name) -> Result<Name, DnsError> {
    let name = name.trim();
    let bad = |reason: String| DnsError::BadEdit { reason };
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == ';' || c == '"')
    {
        return Err(bad(format!("{name:?} is not a domain name")));
    }
    let owner = if name == "@" {
        origin.clone()
    } else {
        Name::parse(name, Some(origin)).map_err(|e| bad(format!("{name:?}: {e}")))?
    };
    if !origin.zone_of(&owner) {
        return Err(bad(format!("{owner} is not inside zone {origin}")));
    }
    Ok(owner)
}

fn record_type(rtype: &str) -> Result<RecordType, DnsError> {
    crate::zonefile::record_type(rtype.trim().as_bytes()).ok_or_else(|| DnsError::BadEdit {
        reason: format!("{rtype:?} is not a record type"),
    })
}

/// The zone file as headend writes it: SOA first, then names in order.
fn render(zone: &ParsedZone, serial: u32) -> String {
    let mut records: Vec<_> = zone.records.iter().map(|r| &r.record).collect();
    records.sort_by(|a, b| {
        let key = |r: &hickory_proto::rr::Record| {
            (
                r.record_type() != RecordType::SOA,
                LowerName::new(&r.name),
                u16::from(r.record_type()),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out = format!(
        "; zone {} written by headend (serial {serial}); edits through the admin API rewrite this file\n$ORIGIN {}\n",
        zone.origin, zone.origin
    );
    for r in records {
        out.push_str(&record_line(r));
        out.push('\n');
    }
    out
}

/// Replaces the zone file so that a crash leaves either the old or the new
/// file ([`write_atomic`]: temporary file, fsync, rename, fsync of the folder).
fn write_atomically(path: &Path, text: &str) -> Result<(), DnsError> {
    write_atomic(path, text.as_bytes(), 0o644).map_err(|source| DnsError::Write {
        file: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "$ORIGIN t.test.\n$TTL 300\n@ IN SOA ns1 hm 41 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.80\n; a comment\n";

    fn setup() -> (tempfile::TempDir, ZoneConfig, Name) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.test.zone");
        std::fs::write(&file, ZONE).unwrap();
        let zc = ZoneConfig {
            origin: "t.test".to_owned(),
            file,
            ..ZoneConfig::default()
        };
        let name = Name::from_ascii("t.test.").unwrap();
        (dir, zc, name)
    }

    fn set(name: &str, rtype: &str, rdata: &[&str]) -> ZoneEdit {
        ZoneEdit::Set {
            name: name.to_owned(),
            rtype: rtype.to_owned(),
            ttl: None,
            rdata: rdata.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn set_replaces_the_rrset_bumps_the_serial_and_rewrites_the_file() {
        let (_d, zc, origin) = setup();
        let zone = apply(
            &zc,
            &origin,
            &set("www", "A", &["192.0.2.10", "192.0.2.11"]),
            Some(41),
            &[],
        )
        .unwrap();
        assert_eq!(zone.serial(), 42);
        let text = std::fs::read_to_string(&zc.file).unwrap();
        assert!(text.contains("www.t.test. 300 IN A 192.0.2.10"), "{text}");
        assert!(!text.contains("192.0.2.80"), "{text}");
        // The written file loads again with the same data.
        let reparsed = parse_zone_file(&zc.file, &origin).unwrap();
        assert_eq!(soa_serial(&reparsed), Some(42));
    }

    #[test]
    fn txt_with_spaces_and_quotes_survives_the_rewrite() {
        let (_d, zc, origin) = setup();
        apply(
            &zc,
            &origin,
            &set("info", "TXT", &[r#""v=DMARC1; p=reject" "x\"y""#]),
            None,
            &[],
        )
        .unwrap();
        let zone = parse_zone_file(&zc.file, &origin).unwrap();
        let txt = zone
            .records
            .iter()
            .find(|r| r.record.record_type() == RecordType::TXT)
            .unwrap();
        assert_eq!(rdata_text(&txt.record), r#""v=DMARC1; p=reject" "x\"y""#);
    }

    #[test]
    fn an_edit_that_breaks_the_zone_is_refused_and_the_file_unchanged() {
        let (_d, zc, origin) = setup();
        let err = apply(&zc, &origin, &set("www", "CNAME", &["ns1"]), None, &[]).unwrap_err();
        assert!(matches!(err, DnsError::Invalid { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&zc.file).unwrap(), ZONE);
    }

    #[test]
    fn a_stale_serial_is_refused() {
        let (_d, zc, origin) = setup();
        let err = apply(
            &zc,
            &origin,
            &set("www", "A", &["192.0.2.9"]),
            Some(40),
            &[],
        )
        .unwrap_err();
        assert!(matches!(
            err,
            DnsError::SerialMismatch {
                expected: 40,
                current: 41
            }
        ));
    }

    #[test]
    fn delete_removes_one_record_or_the_rrset() {
        let (_d, zc, origin) = setup();
        apply(
            &zc,
            &origin,
            &set("www", "A", &["192.0.2.10", "192.0.2.11"]),
            None,
            &[],
        )
        .unwrap();
        let del_one = ZoneEdit::Delete {
            name: "www".into(),
            rtype: "A".into(),
            rdata: Some("192.0.2.10".into()),
        };
        let zone = apply(&zc, &origin, &del_one, None, &[]).unwrap();
        assert_eq!(zone.serial(), 43);
        let text = std::fs::read_to_string(&zc.file).unwrap();
        assert!(
            !text.contains("192.0.2.10") && text.contains("192.0.2.11"),
            "{text}"
        );
        let missing = apply(&zc, &origin, &del_one, None, &[]).unwrap_err();
        assert!(matches!(missing, DnsError::BadEdit { .. }));
    }

    #[test]
    fn bad_names_types_and_rdata_are_refused() {
        let (_d, zc, origin) = setup();
        for edit in [
            set("www.other.example.", "A", &["192.0.2.1"]),
            set("www", "NOPE", &["x"]),
            set("www", "A", &["300.1.1.1"]),
            set("www", "A", &["192.0.2.1\nevil IN A 192.0.2.2"]),
            set("www", "SOA", &["a b 1 2 3 4 5"]),
            set("www", "A", &[]),
        ] {
            assert!(apply(&zc, &origin, &edit, None, &[]).is_err(), "{edit:?}");
        }
        assert_eq!(std::fs::read_to_string(&zc.file).unwrap(), ZONE);
    }
}
