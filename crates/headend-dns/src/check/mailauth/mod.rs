//! Mail-authentication lint: SPF (RFC 7208), DMARC (RFC 7489) and DKIM
//! (RFC 6376) records checked the way a receiving mail server would read them.
//!
//! The checks see the zone being loaded plus the other served zones (for SPF
//! `include:`/`redirect=` chains and DMARC report authorisations); names in no
//! served zone are unknown and never produce an error.

mod dkim;
mod dmarc;
mod psl;
mod spf;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use hickory_proto::rr::{LowerName, Name, RData};

use super::{Check, Finding, Owners, Severity};
use crate::zone::Zone;
use crate::zonefile::{ParsedZone, SourceRecord};

/// What a name looks like to a resolver asking the served zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    /// The name is in no served zone: what it holds is unknown here.
    Outside,
    /// The name is inside a served zone but does not exist (NXDOMAIN).
    Missing,
    /// The name exists; these are its TXT records, each one's strings joined
    /// without separator (RFC 7208 §3.3, RFC 7489 §6.6.3, RFC 6376 §3.6.2.2).
    Txt(Vec<String>),
}

/// The zone being checked plus the other served zones, searchable by name.
pub(super) struct Names<'a> {
    origin: &'a Name,
    owners: &'a Owners<'a>,
    /// Each owner of TXT records with them, in the order of its first TXT
    /// record in the file.
    txt: Vec<(LowerName, Vec<(String, &'a SourceRecord)>)>,
    /// Where each owner is in `txt`.
    txt_at: HashMap<LowerName, usize>,
    others: &'a [&'a Zone],
    /// The Public Suffix List, when installed (organizational domains).
    psl: Option<&'static psl::Psl>,
}

impl<'a> Names<'a> {
    fn new(
        zone: &'a ParsedZone,
        txts: &[&'a SourceRecord],
        owners: &'a Owners<'a>,
        others: &'a [&'a Zone],
    ) -> Self {
        let mut txt: Vec<(LowerName, Vec<(String, &SourceRecord)>)> = Vec::new();
        let mut txt_at = HashMap::new();
        for &rec in txts {
            if let RData::TXT(t) = &rec.record.data {
                let owner = LowerName::new(&rec.record.name);
                let at = *txt_at.entry(owner.clone()).or_insert_with(|| {
                    txt.push((owner, Vec::new()));
                    txt.len() - 1
                });
                if let Some((_, recs)) = txt.get_mut(at) {
                    recs.push((joined(t), rec));
                }
            }
        }
        Self {
            origin: &zone.origin,
            owners,
            txt,
            txt_at,
            others,
            psl: psl::system(),
        }
    }

    /// Every TXT record of the zone being checked, with its joined text, by
    /// owner in the order of the owners' first TXT record in the file.
    fn own_txt(&self) -> impl Iterator<Item = (&LowerName, &[(String, &'a SourceRecord)])> {
        self.txt.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// What `name` holds, looked up in the most specific served zone containing it.
    pub(super) fn lookup(&self, name: &Name) -> Found {
        let lower = LowerName::new(name);
        let other = self
            .others
            .iter()
            .filter(|z| z.lower_origin().zone_of(&lower))
            .max_by_key(|z| z.lower_origin().num_labels());
        let own_labels = self.origin.zone_of(name).then(|| self.origin.num_labels());
        match (own_labels, other) {
            (Some(own), Some(z)) if z.lower_origin().num_labels() > own => other_lookup(z, &lower),
            (Some(_), _) => {
                if !self.owners.exists(name) {
                    return Found::Missing;
                }
                Found::Txt(
                    self.txt_at
                        .get(&lower)
                        .and_then(|&at| self.txt.get(at))
                        .map(|(_, v)| v)
                        .map(|v| v.iter().map(|(s, _)| s.clone()).collect())
                        .unwrap_or_default(),
                )
            }
            (None, Some(z)) => other_lookup(z, &lower),
            (None, None) => Found::Outside,
        }
    }
}

fn other_lookup(zone: &Zone, name: &LowerName) -> Found {
    match zone.node(name) {
        None => Found::Missing,
        Some(node) => Found::Txt(
            node.rrset(hickory_proto::rr::RecordType::TXT)
                .map(|set| {
                    set.rdatas()
                        .filter_map(|r| match &*r {
                            RData::TXT(t) => Some(joined(t)),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
    }
}

/// A TXT record's strings concatenated without separator.
fn joined(txt: &hickory_proto::rr::rdata::TXT) -> String {
    let mut out = String::new();
    for s in &txt.txt_data {
        out.push_str(&String::from_utf8_lossy(s));
    }
    out
}

/// Collects findings against records of the zone being checked.
pub(super) struct Out<'a> {
    findings: Vec<(&'a SourceRecord, Severity, String)>,
}

impl<'a> Out<'a> {
    pub(super) fn error(&mut self, rec: &'a SourceRecord, message: String) {
        self.findings.push((rec, Severity::Error, message));
    }

    pub(super) fn warn(&mut self, rec: &'a SourceRecord, message: String) {
        self.findings.push((rec, Severity::Warning, message));
    }
}

/// Runs the SPF, DMARC and DKIM checks on `zone`, whose TXT records (at or
/// below the apex, in file order) are `txts`; `others` are the other served
/// zones. Returns each finding with the record it is about.
pub(super) fn check<'a>(
    zone: &'a ParsedZone,
    txts: &[&'a SourceRecord],
    owners: &'a Owners<'a>,
    others: &'a [&'a Zone],
) -> Vec<(&'a SourceRecord, Finding)> {
    let names = Names::new(zone, txts, owners, others);
    let mut out = Out {
        findings: Vec::new(),
    };
    // Owners in file order: deterministic, and the order the findings are
    // reported in (the caller sorts them by record, stably).
    for (owner, recs) in names.own_txt() {
        spf::check_owner(&names, owner, recs, &mut out);
        let first = owner.to_string();
        let mut labels = first.split('.');
        let label1 = labels.next().unwrap_or_default().to_ascii_lowercase();
        let label2 = labels.next().unwrap_or_default().to_ascii_lowercase();
        if label1 == "_dmarc" {
            dmarc::check_owner(&names, owner, recs, &mut out);
        } else if label2 == "_domainkey" && !label1.is_empty() {
            dkim::check_owner(recs, &mut out);
        }
    }
    out.findings
        .into_iter()
        .map(|(rec, severity, message)| {
            (
                rec,
                Finding {
                    severity,
                    check: Check::MailAuth,
                    file: rec.file.to_path_buf(),
                    line: rec.line,
                    message,
                },
            )
        })
        .collect()
}

/// Splits `tag=value` lists (DMARC RFC 7489 §6.4, DKIM RFC 6376 §3.2): `;`
/// separated, whitespace around tags and values ignored, a trailing `;` allowed.
/// Returns (tag, value) pairs in order, or the first malformed piece.
pub(super) fn tag_list(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for piece in text.split(';') {
        let piece = piece.trim_matches(|c: char| c.is_ascii_whitespace());
        if piece.is_empty() {
            continue;
        }
        let Some((tag, value)) = piece.split_once('=') else {
            return Err(piece.to_owned());
        };
        let tag = tag.trim_matches(|c: char| c.is_ascii_whitespace());
        if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(piece.to_owned());
        }
        out.push((
            tag.to_owned(),
            value
                .trim_matches(|c: char| c.is_ascii_whitespace())
                .to_owned(),
        ));
    }
    Ok(out)
}
