//! Checks of a zone signed before it was loaded (`headend check`): every
//! authoritative RRset has an RRSIG from an apex DNSKEY that verifies
//! (RFC 4035 §2.2, §5.3), no signature is expired or not yet valid (expiry
//! within a week is a warning), and the NSEC (RFC 4034 §4.1.1) or NSEC3
//! (RFC 5155 §7.1) chain covers every name and closes. Pure: zone and time in,
//! findings out; nothing is re-signed.

use hickory_proto::dnssec::Verifier as _;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::sign::nsec3_hash;
use crate::zone::{Denial, Zone};

/// A signature expiring sooner than this is reported as a warning.
const EXPIRY_WARNING_SECS: i64 = 7 * 86_400;
/// At most this many findings of one kind are listed (then a count).
const MAX_LISTED: usize = 20;

/// What the checks found: errors (the zone would not validate) and warnings.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

impl Findings {
    fn error(&mut self, message: String) {
        self.errors.push(message);
    }
}

/// The signature time `t` (RFC 4034 §3.1.5, serial arithmetic) nearest `now`.
fn sig_time(t: u32, now: i64) -> i64 {
    let now32 = u32::try_from(now.rem_euclid(1 << 32)).unwrap_or(0);
    now + i64::from(t.wrapping_sub(now32) as i32)
}

/// Checks the signatures and the denial chain of a pre-signed zone at `now`.
pub(crate) fn presigned(zone: &Zone, denial: &Denial, now: i64) -> Findings {
    let mut out = Findings::default();
    let origin = zone.origin();
    let keys: Vec<(u16, DNSKEY)> = zone
        .node(zone.lower_origin())
        .and_then(|apex| apex.rrset(RecordType::DNSKEY))
        .map(|set| {
            set.rdatas()
                .filter_map(|r| match &*r {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => {
                        Some((k.calculate_key_tag().ok()?, k.clone()))
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let (mut bad, mut missing, mut expired, mut expiring) = (0usize, 0usize, 0usize, 0usize);
    let mut first_expiry: Option<(i64, String)> = None;
    let mut authoritative: Vec<Name> = Vec::new();
    for (lower, node) in zone.nodes() {
        let owner = Name::from(lower.clone());
        let cut = zone.find_cut(&owner).map(|(c, _)| c);
        let at_cut = cut.as_ref().is_some_and(|c| LowerName::new(c) == *lower);
        if cut.is_some() && !at_cut {
            continue; // glue, not signed (RFC 4035 §2.2)
        }
        if !node.rrsets().is_empty() {
            authoritative.push(owner.clone());
        }
        let sigs: Vec<RRSIG> = node
            .rrset(RecordType::RRSIG)
            .map(|set| {
                set.rdatas()
                    .filter_map(|r| match &*r {
                        RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for set in node.rrsets() {
            let rtype = set.rtype;
            if rtype == RecordType::RRSIG
                || (at_cut && !matches!(rtype, RecordType::DS | RecordType::NSEC))
            {
                continue;
            }
            let records: Vec<Record> = set.records(&owner).collect();
            let covering: Vec<&RRSIG> = sigs
                .iter()
                .filter(|s| s.input().type_covered == rtype)
                .collect();
            if covering.is_empty() {
                missing += 1;
                if missing <= MAX_LISTED {
                    out.error(format!("{owner} {rtype} has no RRSIG"));
                }
                continue;
            }
            let mut valid = false;
            for sig in covering {
                let input = sig.input();
                let expiration = sig_time(input.sig_expiration.get(), now);
                let inception = sig_time(input.sig_inception.get(), now);
                if expiration < now || inception > now {
                    expired += 1;
                    if expired <= MAX_LISTED {
                        out.error(format!(
                            "{owner} {rtype}: RRSIG by key {} is valid from {} to {} only (now {})",
                            input.key_tag,
                            headend_util::time::utc(inception),
                            headend_util::time::utc(expiration),
                            headend_util::time::utc(now)
                        ));
                    }
                    continue;
                }
                let verified = input.signer_name == *origin
                    && keys.iter().any(|(tag, key)| {
                        *tag == input.key_tag
                            && key
                                .verify_rrsig(&owner, DNSClass::IN, sig, records.iter())
                                .is_ok()
                    });
                if verified {
                    valid = true;
                    if expiration - now < EXPIRY_WARNING_SECS {
                        expiring += 1;
                    }
                    if first_expiry.as_ref().is_none_or(|(t, _)| expiration < *t) {
                        first_expiry = Some((expiration, format!("{owner} {rtype}")));
                    }
                }
            }
            if !valid {
                bad += 1;
                if bad <= MAX_LISTED {
                    out.error(format!(
                        "{owner} {rtype}: no RRSIG verifies with the apex DNSKEYs (tags {:?})",
                        keys.iter().map(|(t, _)| *t).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    for (count, what) in [
        (missing, "RRsets without an RRSIG"),
        (bad, "RRsets whose signatures do not verify"),
        (expired, "signatures outside their validity period"),
    ] {
        if count > MAX_LISTED {
            out.error(format!("{count} {what} in all"));
        }
    }
    if expiring > 0
        && let Some((t, what)) = &first_expiry
    {
        out.warnings.push(format!(
            "{expiring} signature(s) expire within a week, the first ({what}) at {}: re-sign the zone",
            headend_util::time::utc(*t)
        ));
    }
    chain(zone, denial, &authoritative, &mut out);
    out
}

/// The NSEC or NSEC3 chain: every authoritative name covered, each record
/// pointing at the next one, the last back at the first.
fn chain(zone: &Zone, denial: &Denial, authoritative: &[Name], out: &mut Findings) {
    let mut broken = 0usize;
    let mut report = |out: &mut Findings, message: String| {
        broken += 1;
        if broken <= MAX_LISTED {
            out.error(message);
        }
    };
    match denial {
        Denial::Nsec(owners) => {
            let mut names: Vec<Name> = authoritative.to_vec();
            names.sort();
            for (i, name) in names.iter().enumerate() {
                let Some(node) = zone.node(&LowerName::new(name)) else {
                    continue;
                };
                let nsec = node.rrset(RecordType::NSEC).and_then(|s| s.first_rdata());
                let Some(RData::DNSSEC(DNSSECRData::NSEC(nsec))) = nsec.as_deref() else {
                    report(
                        out,
                        format!("{name} has no NSEC record: the chain skips it"),
                    );
                    continue;
                };
                let want = names.get(i + 1).or_else(|| names.first());
                if want.is_some_and(|w| *w != *nsec.next_domain_name()) {
                    report(
                        out,
                        format!(
                            "NSEC at {name} points at {} but the next name is {}",
                            nsec.next_domain_name(),
                            want.map(ToString::to_string).unwrap_or_default()
                        ),
                    );
                }
            }
            if owners.len() != names.len() {
                report(
                    out,
                    format!(
                        "{} NSEC records for {} authoritative names",
                        owners.len(),
                        names.len()
                    ),
                );
            }
        }
        Denial::Nsec3 {
            salt,
            iterations,
            hashes,
        } => {
            let opt_out = hashes.iter().any(|(_, owner)| {
                zone.node(owner)
                    .and_then(|n| n.rrset(RecordType::NSEC3))
                    .and_then(|s| s.first_rdata())
                    .is_some_and(
                        |r| matches!(&*r, RData::DNSSEC(DNSSECRData::NSEC3(n)) if n.opt_out()),
                    )
            });
            // RFC 5155 §7.1: every authoritative name and the empty
            // non-terminals between it and the apex.
            let apex_labels = zone.origin().num_labels();
            let mut names: Vec<Name> = Vec::new();
            for name in authoritative {
                if zone.find_cut(name).is_some() && opt_out {
                    continue;
                }
                let mut n = name.clone();
                while n.num_labels() > apex_labels {
                    names.push(n.clone());
                    n = n.base_name();
                }
                names.push(n);
            }
            names.sort();
            names.dedup();
            for name in names.iter().filter(|n| {
                // The NSEC3 records' own owners are not hashed again.
                zone.node(&LowerName::new(n)).is_none_or(|node| {
                    node.rrsets().is_empty()
                        || node
                            .rrsets()
                            .iter()
                            .any(|s| !matches!(s.rtype, RecordType::NSEC3 | RecordType::RRSIG))
                })
            }) {
                let Some(h) = nsec3_hash(name, salt, *iterations) else {
                    continue;
                };
                if hashes.binary_search_by(|(x, _)| x.cmp(&h)).is_err() {
                    report(out, format!("{name} has no NSEC3 record matching its hash"));
                }
            }
            for (i, (_, owner)) in hashes.iter().enumerate() {
                let next = hashes.get(i + 1).or_else(|| hashes.first()).map(|(h, _)| h);
                let rdata = zone
                    .node(owner)
                    .and_then(|n| n.rrset(RecordType::NSEC3))
                    .and_then(|s| s.first_rdata());
                if let Some(RData::DNSSEC(DNSSECRData::NSEC3(n))) = rdata.as_deref()
                    && next.is_some_and(|h| h.as_slice() != n.next_hashed_owner_name())
                {
                    report(
                        out,
                        format!("NSEC3 at {owner} does not point at the next hash of the chain"),
                    );
                }
            }
        }
    }
    if broken > MAX_LISTED {
        out.error(format!("{broken} breaks of the denial chain in all"));
    }
}
