//! Zone management for the admin API: listing, per-zone reload, and record
//! edits written back to the zone file atomically with the SOA serial bumped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use headend_util::write_atomic;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use serde::Serialize;

use crate::check::{Check, Finding, Severity, check_zone_with};
use crate::present::{rdata_text, record_line};
use crate::zone::Zone;
use crate::zonefile::splice::{self, Splice};
use crate::zonefile::{
    ParseOptions, ParsedZone, SourceRecord, parse_zone_bytes, parse_zone_file, parse_zone_str,
    type_name,
};
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

impl std::fmt::Display for ZoneEdit {
    /// `set www A 192.0.2.1 | 192.0.2.2`, `delete www A *`: the edit as a log field.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Set {
                name, rtype, rdata, ..
            } => write!(f, "set {name} {rtype} {}", rdata.join(" | ")),
            Self::Delete { name, rtype, rdata } => write!(
                f,
                "delete {name} {rtype} {}",
                rdata.as_deref().unwrap_or("*")
            ),
        }
    }
}

/// What an accepted edit leaves: the serial now served and the warnings the
/// edit brought in (`file:line: warning: ...`), for the editor to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditOutcome {
    /// The SOA serial now served.
    pub serial: u32,
    /// Findings that do not stop the zone from being served.
    pub warnings: Vec<String>,
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
/// serial and writes the file atomically. Returns the new zone and the
/// warnings the edit brought in (the checks run on what is stored).
pub(crate) fn apply(
    config: &ZoneConfig,
    origin: &Name,
    edit: &ZoneEdit,
    expected_serial: Option<u32>,
    others: &[&Zone],
) -> Result<(Zone, Vec<Finding>), DnsError> {
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
    let mut added: Vec<Record> = Vec::new();
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
            added.extend(new.records.iter().map(|r| r.record.clone()));
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
        file: parsed.file.clone(),
        records,
    };
    // Structural errors are refused whatever the zone held before; other
    // errors (mail authentication, glue), which a load only logs, are refused
    // when the edit introduces them, so that a zone loaded with one can
    // still be edited elsewhere.
    // A record kept from the file has the same place before and after.
    // Warnings are reported when the edit brings them in.
    let existing: HashSet<Finding> = check_zone_with(&parsed, others)
        .into_iter()
        .filter(|f| !(f.severity == Severity::Error && f.check == Check::Structure))
        .collect();
    let (errors, warnings): (Vec<_>, Vec<_>) = check_zone_with(&edited, others)
        .into_iter()
        .filter(|f| {
            (f.severity == Severity::Error && f.check == Check::Structure) || !existing.contains(f)
        })
        .partition(|f| f.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(DnsError::Invalid {
            zone: config.origin.clone(),
            findings: errors,
        });
    }
    let zone = Zone::build(&edited).ok_or_else(|| DnsError::BadEdit {
        reason: "the edited zone has no SOA".to_owned(),
    })?;
    let text = minimal_edit(config, &parsed, &edited, &added, serial)?;
    write_atomically(&config.file, &text)?;
    Ok((zone, warnings))
}

/// Writes `desired`, a whole zone (a served zone with its dynamic
/// changes), back to the zone file with `serial`: records the file holds
/// and `desired` keeps stay where they are, with their comments; records
/// gone are cut out, new ones go beside their owner's last entry (or at the
/// end). Where that is impossible (a change to a `$GENERATE`d or
/// `$INCLUDE`d record) the file is rewritten whole, `$ORIGIN` first and one
/// record per line. In a zone headend signs (`dnssec`), DNSSEC records the
/// file holds stay as they are. The write is atomic ([`write_atomic`]).
pub(crate) fn write_back(
    config: &ZoneConfig,
    origin: &Name,
    desired: &ParsedZone,
    serial: u32,
) -> Result<(), DnsError> {
    let before = parse_zone_file(&config.file, origin).map_err(first_error)?;
    type Key = (LowerName, u16, u32, Option<Vec<u8>>);
    let key = |r: &Record| -> Key {
        (
            LowerName::new(&r.name),
            u16::from(r.record_type()),
            r.ttl,
            crate::zonefile::emit_uncompressed(&r.data),
        )
    };
    let is_soa = |r: &Record| r.record_type() == RecordType::SOA;
    let want: HashSet<Key> = desired
        .records
        .iter()
        .filter(|r| !is_soa(&r.record))
        .map(|r| key(&r.record))
        .collect();
    let have: HashSet<Key> = before
        .records
        .iter()
        .filter(|r| !is_soa(&r.record))
        .map(|r| key(&r.record))
        .collect();
    let signer_made =
        |r: &Record| config.dnssec.is_some() && crate::update::is_dnssec_made(r.record_type());
    let mut records: Vec<SourceRecord> = Vec::new();
    for r in &before.records {
        if is_soa(&r.record) {
            let mut soa = r.clone();
            if let RData::SOA(s) = &mut soa.record.data {
                s.serial = serial;
            }
            records.push(soa);
        } else if want.contains(&key(&r.record)) || signer_made(&r.record) {
            records.push(r.clone());
        }
    }
    let added: Vec<Record> = desired
        .records
        .iter()
        .filter(|r| !is_soa(&r.record) && !have.contains(&key(&r.record)))
        .map(|r| r.record.clone())
        .collect();
    let main: Arc<Path> = Arc::from(config.file.as_path());
    records.extend(added.iter().map(|r| SourceRecord {
        record: r.clone(),
        file: Arc::clone(&main),
        line: 0,
    }));
    let edited = ParsedZone {
        origin: before.origin.clone(),
        file: before.file.clone(),
        records,
    };
    let text = match minimal_edit(config, &before, &edited, &added, serial) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(zone = %origin, "{e}: the zone file is written whole");
            let mut text = format!("; written by headend (dns flush)\n$ORIGIN {origin}\n");
            let mut all: Vec<&SourceRecord> = edited.records.iter().collect();
            all.sort_by_key(|r| !is_soa(&r.record));
            for r in all {
                text.push_str(&record_line(&r.record));
                text.push('\n');
            }
            text.into_bytes()
        }
    };
    write_atomically(&config.file, &text)
}

/// The zone file with only the edit applied: the entries of removed records
/// cut out, new records beside their owner's last entry, the SOA serial
/// replaced in place; comments, blank lines, directives and layout kept.
/// Refused (file untouched) when the edit would touch a record that comes
/// from `$GENERATE` or an `$INCLUDE`d file, or when the result would not
/// read back as the edited zone.
fn minimal_edit(
    config: &ZoneConfig,
    before: &ParsedZone,
    edited: &ParsedZone,
    added: &[Record],
    serial: u32,
) -> Result<Vec<u8>, DnsError> {
    let refuse = |reason: String| DnsError::BadEdit { reason };
    let main: &Path = &config.file;
    let src = std::fs::read(main).map_err(|source| DnsError::Io {
        file: main.to_path_buf(),
        source,
    })?;
    let kept = |r: &SourceRecord| {
        edited
            .records
            .iter()
            .any(|e| e.line == r.line && *e.file == *r.file && e.record == r.record)
    };
    let mut splice = Splice::default();
    for r in &before.records {
        if r.record.record_type() == RecordType::SOA || kept(r) {
            continue;
        }
        if *r.file != *main {
            return Err(refuse(format!(
                "{} {} comes from {} (an $INCLUDE): edit that file",
                r.record.name,
                type_name(r.record.record_type()),
                r.file.display()
            )));
        }
        splice.remove.push(r.line);
    }
    splice.remove.sort_unstable();
    splice.remove.dedup();
    let soa = before
        .records
        .iter()
        .find(|r| r.record.record_type() == RecordType::SOA)
        .ok_or_else(|| refuse("the zone file has no SOA record".to_owned()))?;
    if *soa.file != *main {
        return Err(refuse(format!(
            "the SOA comes from {} (an $INCLUDE): edit that file",
            soa.file.display()
        )));
    }
    splice.serial = Some((soa.line, serial));
    for r in added {
        let place = before
            .records
            .iter()
            .filter(|b| *b.file == *main && b.record.name == r.name)
            .map(|b| b.line)
            .max();
        splice.add.push((place, record_line(r)));
    }
    let text = splice::apply(&src, &splice)
        .map_err(|e| refuse(format!("cannot edit {} in place: {e}", main.display())))?;
    // The result must read back as exactly the edited zone.
    let key = |z: &ParsedZone| {
        let mut v: Vec<(LowerName, u16, u32, Option<Vec<u8>>)> = z
            .records
            .iter()
            .map(|r| {
                (
                    LowerName::new(&r.record.name),
                    u16::from(r.record.record_type()),
                    r.record.ttl,
                    crate::zonefile::emit_uncompressed(&r.record.data),
                )
            })
            .collect();
        v.sort();
        v
    };
    let reread =
        parse_zone_bytes(&text, main, &edited.origin, &ParseOptions::default()).map_err(|e| {
            refuse(format!(
                "the edited file would not read back: {}",
                first_error(e)
            ))
        })?;
    if key(&reread) != key(edited) {
        return Err(refuse(format!(
            "{} cannot be edited in place without changing other records (owner names carried between lines?); edit it by hand",
            main.display()
        )));
    }
    Ok(text)
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

/// Replaces the zone file so that a crash leaves either the old or the new
/// file ([`write_atomic`]: temporary file, fsync, rename, fsync of the folder).
fn write_atomically(path: &Path, text: &[u8]) -> Result<(), DnsError> {
    write_atomic(path, text, 0o644).map_err(|source| DnsError::Write {
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
        .unwrap()
        .0;
        assert_eq!(zone.serial(), 42);
        let text = std::fs::read_to_string(&zc.file).unwrap();
        assert!(text.contains("www.t.test. 300 IN A 192.0.2.10"), "{text}");
        assert!(!text.contains("192.0.2.80"), "{text}");
        // The written file loads again with the same data.
        let reparsed = parse_zone_file(&zc.file, &origin).unwrap();
        assert_eq!(soa_serial(&reparsed), Some(42));
    }

    #[test]
    fn an_edit_introducing_a_bad_dkim_key_is_refused() {
        let (_d, zc, origin) = setup();
        let err = apply(
            &zc,
            &origin,
            &set(
                "sel._domainkey",
                "TXT",
                &[r#""v=DKIM1; k=rsa; p=!!nope!!""#],
            ),
            None,
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, DnsError::Invalid { .. }), "{err}");
    }

    #[test]
    fn an_edit_reports_the_warnings_it_brings_in() {
        let (_d, zc, origin) = setup();
        let value = crate::present::txt_rdata("v=spf1 include:x.example.test +all");
        let (_, warnings) = apply(&zc, &origin, &set("spf", "TXT", &[&value]), None, &[]).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].message.contains("+all"), "{}", warnings[0]);
        // The record is stored as one string.
        let text = std::fs::read_to_string(&zc.file).unwrap();
        assert!(
            text.contains(r#"IN TXT "v=spf1 include:x.example.test +all""#),
            "{text}"
        );
        // An unrelated edit afterwards reports nothing.
        let (_, warnings) =
            apply(&zc, &origin, &set("www", "A", &["192.0.2.10"]), None, &[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn an_spf_policy_split_at_its_spaces_is_refused() {
        let (_d, zc, origin) = setup();
        let err = apply(
            &zc,
            &origin,
            &set("spf", "TXT", &["v=spf1 include:x.example.test +all"]),
            None,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an SPF record"), "{err}");
    }

    #[test]
    fn a_zone_served_with_a_bad_dkim_key_can_still_be_edited_elsewhere() {
        let (_d, zc, origin) = setup();
        let mut text = ZONE.to_owned();
        text.push_str("sel._domainkey IN TXT \"v=DKIM1; k=rsa; p=!!nope!!\"\n");
        std::fs::write(&zc.file, text).unwrap();
        let zone = apply(&zc, &origin, &set("www", "A", &["192.0.2.10"]), None, &[])
            .unwrap()
            .0;
        assert_eq!(zone.serial(), 42);
        // A second bad key is a new finding: refused.
        let err = apply(
            &zc,
            &origin,
            &set(
                "other._domainkey",
                "TXT",
                &[r#""v=DKIM1; k=rsa; p=!!also!!""#],
            ),
            None,
            &[],
        );
        assert!(err.is_err());
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
        let zone = apply(&zc, &origin, &del_one, None, &[]).unwrap().0;
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

    const COMMENTED: &str = "; zone of the lab, kept by hand\n$ORIGIN t.test.\n$TTL 300\n\n@ IN SOA ns1 hm ( 41 ; serial\n        7200 3600 1209600 60 )\n  IN NS ns1 ; the only server\n\n; hosts\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.80 ; web\n    IN AAAA 2001:db8::80\n    TXT \"web server\"\n$GENERATE 1-3 host$ A 192.0.2.$\nkey IN DNSKEY 256 3 13 ( AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n                          Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw== )\n; trailing comment\n";

    fn setup_commented() -> (tempfile::TempDir, ZoneConfig, Name) {
        let (dir, zc, name) = setup();
        std::fs::write(&zc.file, COMMENTED).unwrap();
        (dir, zc, name)
    }

    /// Lines of `after` not in `before` and the other way round.
    fn changed_lines(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
        let a: Vec<&str> = before.lines().collect();
        let b: Vec<&str> = after.lines().collect();
        (
            b.iter()
                .filter(|l| !a.contains(l))
                .map(|l| (*l).to_owned())
                .collect(),
            a.iter()
                .filter(|l| !b.contains(l))
                .map(|l| (*l).to_owned())
                .collect(),
        )
    }

    #[test]
    fn an_edit_changes_only_its_records_and_the_serial_line() {
        let (_d, zc, origin) = setup_commented();
        apply(
            &zc,
            &origin,
            &set("www", "A", &["192.0.2.81"]),
            Some(41),
            &[],
        )
        .unwrap();
        let after = std::fs::read_to_string(&zc.file).unwrap();
        let (added, removed) = changed_lines(COMMENTED, &after);
        assert_eq!(
            added,
            [
                "@ IN SOA ns1 hm ( 42 ; serial",
                "www    IN AAAA 2001:db8::80",
                "www.t.test. 300 IN A 192.0.2.81"
            ],
            "{after}"
        );
        assert_eq!(
            removed,
            [
                "@ IN SOA ns1 hm ( 41 ; serial",
                "www IN A 192.0.2.80 ; web",
                "    IN AAAA 2001:db8::80"
            ],
            "{after}"
        );
        // A new name goes at the end, a deleted record's lines go, the
        // multi-line DNSKEY in its text form is untouched.
        apply(
            &zc,
            &origin,
            &set("mail", "CAA", &["0 issue \"ca.example\""]),
            None,
            &[],
        )
        .unwrap();
        let del = ZoneEdit::Delete {
            name: "www".to_owned(),
            rtype: "TXT".to_owned(),
            rdata: None,
        };
        apply(&zc, &origin, &del, None, &[]).unwrap();
        let last = std::fs::read_to_string(&zc.file).unwrap();
        assert!(
            last.contains("mail.t.test. 300 IN CAA 0 issue \"ca.example\"\n"),
            "{last}"
        );
        assert!(!last.contains("web server"), "{last}");
        assert!(last.contains("; trailing comment\n"), "{last}");
        assert!(
            last.contains("Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw== )"),
            "{last}"
        );
        assert!(last.contains("@ IN SOA ns1 hm ( 44 ; serial"), "{last}");
    }

    #[test]
    fn a_record_made_by_generate_is_refused_with_the_file_unchanged() {
        let (_d, zc, origin) = setup_commented();
        let err = apply(&zc, &origin, &set("host2", "A", &["192.0.2.9"]), None, &[]).unwrap_err();
        assert!(err.to_string().contains("$GENERATE"), "{err}");
        assert_eq!(std::fs::read_to_string(&zc.file).unwrap(), COMMENTED);
    }
}
