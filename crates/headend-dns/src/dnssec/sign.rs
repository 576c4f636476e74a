//! Signing a zone's serving copy (RFC 4035 §2): DNSKEY, CDS/CDNSKEY
//! (RFC 7344), the NSEC (RFC 4034 §4) or NSEC3 (RFC 5155 §7.1) chain, and
//! an RRSIG over every authoritative RRset. Pure: keys, zone and time in,
//! signed zone out.

use std::collections::{BTreeMap, HashSet};

use hickory_proto::dnssec::rdata::{
    CDNSKEY, CDS, DNSSECRData, NSEC, NSEC3, NSEC3PARAM, RRSIG, SigInput,
};
use hickory_proto::dnssec::{DigestType, Nsec3HashAlgorithm, PublicKey as _, TBS};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType, SerialNumber};

use super::keys::{KeyStore, LoadedKey};
use crate::DnsError;
use crate::config::{Denial as DenialKind, DnssecConfig};
use crate::zone::{Denial, Zone, zonemd};
use crate::zonefile::{ParsedZone, SourceRecord};

/// What signing produced, besides the zone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signature {
    /// When the zone was signed.
    pub(crate) signed_at: i64,
    /// The earliest RRSIG expiration in it.
    pub(crate) expires: i64,
}

/// Types whose records the signer makes itself; any in the zone file are dropped.
fn generated(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::RRSIG
            | RecordType::NSEC
            | RecordType::NSEC3
            | RecordType::NSEC3PARAM
            | RecordType::DNSKEY
            | RecordType::CDS
            | RecordType::CDNSKEY
    )
}

/// RFC 4648 §7 base32hex, lower case, no padding (the NSEC3 owner label).
pub(crate) fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The NSEC3 hash of `name` (RFC 5155 §5).
pub(crate) fn nsec3_hash(name: &Name, salt: &[u8], iterations: u16) -> Option<Vec<u8>> {
    Nsec3HashAlgorithm::SHA1
        .hash(salt, name, iterations)
        .ok()
        .map(|d| d.as_ref().to_vec())
}

/// Signs `unsigned` with the keys active at `now`, giving it `serial`.
///
/// Incremental when `previous` (the version signed before) is given: an
/// RRset it holds with the same records and TTL keeps its RRSIG by the same
/// key while that signature is inside its refresh window (younger than
/// `refresh_days`, as Knot keeps them); only changed RRsets (the SOA, the
/// records an update or edit touched, the NSEC/NSEC3 records around them)
/// are signed again, so the IXFR that follows carries about the change.
pub(crate) fn sign_zone(
    unsigned: &Zone,
    keys: &KeyStore,
    config: &DnssecConfig,
    serial: u32,
    now: i64,
    previous: Option<&Zone>,
) -> Result<(Zone, Denial, Signature), DnsError> {
    let origin = unsigned.origin().clone();
    let lower_origin = unsigned.lower_origin().clone();
    let fail = |reason: String| DnsError::Signing {
        zone: origin.to_string(),
        reason,
    };
    let zone_key = keys
        .zone_signer(now)
        .ok_or_else(|| fail("no active zone-signing key".to_owned()))?;
    let key_keys = keys.key_signers(now);
    if key_keys.is_empty() {
        return Err(fail("no active key-signing key".to_owned()));
    }
    let inception = now - 3600; // clock skew of validators
    let expiration = now + i64::from(config.signature_validity_days) * 86_400;

    // Every RRset to serve, by owner then type (BTreeMap: canonical order).
    let mut rrsets: BTreeMap<Name, BTreeMap<u16, Vec<Record>>> = BTreeMap::new();
    for (owner, node) in unsigned.nodes() {
        for set in node.rrsets() {
            if generated(set.rtype) {
                continue;
            }
            for mut r in set.records(owner) {
                if let RData::SOA(soa) = &mut r.data {
                    soa.serial = serial;
                }
                rrsets
                    .entry(r.name.clone())
                    .or_default()
                    .entry(u16::from(set.rtype))
                    .or_default()
                    .push(r);
            }
        }
    }
    let negative_ttl = unsigned.negative_soa().ttl;
    let apex = rrsets.entry(origin.clone()).or_default();
    for k in keys.published(now) {
        apex.entry(u16::from(RecordType::DNSKEY))
            .or_default()
            .push(Record::from_rdata(
                origin.clone(),
                config.dnskey_ttl,
                RData::DNSSEC(DNSSECRData::DNSKEY(k.dnskey.clone())),
            ));
    }
    // RFC 7344 §3: CDS/CDNSKEY name the keys the parent's DS should point at.
    for k in keys.ds_keys(now) {
        let digest = k
            .dnskey
            .to_digest(&origin, DigestType::SHA256)
            .map_err(|e| fail(e.to_string()))?;
        let tag = k
            .dnskey
            .calculate_key_tag()
            .map_err(|e| fail(e.to_string()))?;
        apex.entry(u16::from(RecordType::CDS))
            .or_default()
            .push(Record::from_rdata(
                origin.clone(),
                config.dnskey_ttl,
                RData::DNSSEC(DNSSECRData::CDS(CDS::new(
                    tag,
                    Some(k.dnskey.public_key().algorithm()),
                    DigestType::SHA256,
                    digest.as_ref().to_vec(),
                ))),
            ));
        apex.entry(u16::from(RecordType::CDNSKEY))
            .or_default()
            .push(Record::from_rdata(
                origin.clone(),
                config.dnskey_ttl,
                RData::DNSSEC(DNSSECRData::CDNSKEY(CDNSKEY::with_flags(
                    k.dnskey.flags(),
                    Some(k.dnskey.public_key().algorithm()),
                    k.dnskey.public_key().public_bytes().to_vec(),
                ))),
            ));
    }

    // RFC 8976 §3: a ZONEMD at the apex, its digest filled in once every
    // other record (NSEC/NSEC3 and RRSIGs included) is final; it is in the
    // apex's type bitmap like any RRset. One from the file is replaced.
    let zonemd_ttl = unsigned.soa().ttl;
    if config.zonemd.is_some() {
        let apex = rrsets.entry(origin.clone()).or_default();
        apex.retain(|&t, _| !zonemd::is_zonemd(RecordType::from(t)));
        apex.insert(
            u16::from(zonemd::zonemd_type()),
            vec![Record::from_rdata(
                origin.clone(),
                zonemd_ttl,
                zonemd::simple_sha384_rdata(serial, &[0; 48]),
            )],
        );
    }

    // Zone cuts: owners of NS below the apex (RFC 4035 §2.2: only DS and NSEC
    // are signed there; names below a cut are glue and not signed at all).
    let cuts: HashSet<Name> = rrsets
        .iter()
        .filter(|(n, sets)| **n != origin && sets.contains_key(&u16::from(RecordType::NS)))
        .map(|(n, _)| n.clone())
        .collect();
    let below_cut = |name: &Name| {
        // Most zones delegate nothing: no walk up every name's ancestors.
        if cuts.is_empty() {
            return false;
        }
        let mut n = name.base_name();
        while n.num_labels() > origin.num_labels() {
            if cuts.contains(&n) {
                return true;
            }
            n = n.base_name();
        }
        false
    };
    let authoritative: Vec<Name> = rrsets.keys().filter(|n| !below_cut(n)).cloned().collect();

    // The denial chain.
    let denial = match config.denial {
        DenialKind::Nsec => {
            for (i, name) in authoritative.iter().enumerate() {
                let next = authoritative
                    .get(i + 1)
                    .or_else(|| authoritative.first())
                    .cloned()
                    .unwrap_or_else(|| origin.clone());
                let sets = rrsets.entry(name.clone()).or_default();
                let mut types: Vec<RecordType> =
                    sets.keys().map(|&t| RecordType::from(t)).collect();
                types.push(RecordType::NSEC);
                types.push(RecordType::RRSIG);
                sets.insert(
                    u16::from(RecordType::NSEC),
                    vec![Record::from_rdata(
                        name.clone(),
                        negative_ttl,
                        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(next, types))),
                    )],
                );
            }
            Denial::Nsec(authoritative)
        }
        DenialKind::Nsec3 => {
            let salt = hex::decode(&config.nsec3_salt)
                .map_err(|e| fail(format!("nsec3_salt is not hex: {e}")))?;
            let iterations = config.nsec3_iterations;
            // RFC 5155 §7.1: every authoritative name and every empty
            // non-terminal between them and the apex.
            let mut names: HashSet<Name> = HashSet::new();
            for n in &authoritative {
                let mut a = n.clone();
                while a.num_labels() >= origin.num_labels() && names.insert(a.clone()) {
                    if a.num_labels() == origin.num_labels() {
                        break;
                    }
                    a = a.base_name();
                }
            }
            let mut hashed: Vec<(Vec<u8>, Name)> = names
                .into_iter()
                .filter_map(|n| Some((nsec3_hash(&n, &salt, iterations)?, n)))
                .collect();
            hashed.sort();
            hashed.dedup_by(|a, b| a.0 == b.0);
            let mut index = Vec::with_capacity(hashed.len());
            for (i, (hash, name)) in hashed.iter().enumerate() {
                let next = hashed
                    .get(i + 1)
                    .or_else(|| hashed.first())
                    .map(|(h, _)| h.clone())
                    .unwrap_or_default();
                let mut types: Vec<RecordType> = rrsets
                    .get(name)
                    .map(|s| s.keys().map(|&t| RecordType::from(t)).collect())
                    .unwrap_or_default();
                let insecure_cut = cuts.contains(name) && !types.contains(&RecordType::DS);
                if !types.is_empty() && !insecure_cut {
                    types.push(RecordType::RRSIG);
                }
                if *name == origin {
                    types.push(RecordType::NSEC3PARAM);
                }
                let owner = Name::from_ascii(base32hex(hash))
                    .and_then(|l| l.append_domain(&origin))
                    .map_err(|e| fail(e.to_string()))?;
                index.push((hash.clone(), LowerName::new(&owner)));
                rrsets.entry(owner.clone()).or_default().insert(
                    u16::from(RecordType::NSEC3),
                    vec![Record::from_rdata(
                        owner,
                        negative_ttl,
                        RData::DNSSEC(DNSSECRData::NSEC3(NSEC3::new(
                            Nsec3HashAlgorithm::SHA1,
                            false,
                            iterations,
                            salt.clone(),
                            next,
                            types,
                        ))),
                    )],
                );
            }
            rrsets.entry(origin.clone()).or_default().insert(
                u16::from(RecordType::NSEC3PARAM),
                vec![Record::from_rdata(
                    origin.clone(),
                    0,
                    RData::DNSSEC(DNSSECRData::NSEC3PARAM(NSEC3PARAM::new(
                        Nsec3HashAlgorithm::SHA1,
                        false,
                        iterations,
                        salt.clone(),
                    ))),
                )],
            );
            Denial::Nsec3 {
                salt,
                iterations,
                hashes: index,
            }
        }
    };

    // Sign every authoritative RRset; the signatures are computed on every
    // core (they dominate the cost of signing a large zone).
    let mut out: Vec<SourceRecord> = Vec::new();
    let file: std::sync::Arc<std::path::Path> = std::sync::Arc::from(unsigned.file().as_path());
    let place = |record: Record| SourceRecord {
        record,
        file: std::sync::Arc::clone(&file),
        line: 0,
    };
    let mut jobs: Vec<(&Name, RecordType, &[Record], &LoadedKey)> = Vec::new();
    for (name, sets) in &rrsets {
        let glue = below_cut(name);
        let at_cut = cuts.contains(name);
        for (&t, records) in sets {
            let rtype = RecordType::from(t);
            for r in records {
                out.push(place(r.clone()));
            }
            if glue || (at_cut && !matches!(rtype, RecordType::DS | RecordType::NSEC)) {
                continue;
            }
            // Signed below, once its digest is known.
            if config.zonemd.is_some() && *name == origin && zonemd::is_zonemd(rtype) {
                continue;
            }
            if matches!(
                rtype,
                RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY
            ) {
                for key in &key_keys {
                    jobs.push((name, rtype, records, key));
                }
            } else {
                jobs.push((name, rtype, records, zone_key));
            }
        }
    }
    let refresh = i64::from(config.refresh_days) * 86_400;
    let keep = |name: &Name, rtype: RecordType, records: &[Record], key: &LoadedKey| {
        reusable(previous?, name, rtype, records, key, now, refresh)
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = jobs.len().div_ceil(threads).max(256);
    let signed: Vec<Result<Vec<Record>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let origin = &origin;
                scope.spawn(move || {
                    part.iter()
                        .map(|(name, rtype, records, key)| {
                            if let Some(kept) = keep(name, *rtype, records, key) {
                                return Ok(kept);
                            }
                            rrsig(name, *rtype, records, key, origin, inception, expiration)
                                .map_err(|e| format!("signing {name} {rtype}: {e}"))
                        })
                        .collect::<Result<Vec<Record>, String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a signing thread failed".to_owned()))
            })
            .collect()
    });
    // The oldest signature decides when the zone is due for refresh, the
    // first to expire when it must be re-signed at the latest.
    let mut signed_at = now;
    let mut earliest = expiration;
    for part in signed {
        for r in part.map_err(fail)? {
            if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data {
                let input = sig.input();
                signed_at = signed_at.min(i64::from(input.sig_inception.get()) + 3600);
                earliest = earliest.min(i64::from(input.sig_expiration.get()));
            }
            out.push(place(r));
        }
    }
    if config.zonemd.is_some() {
        let digest = zonemd::simple_sha384(&origin, out.iter().map(|r| &r.record))
            .ok_or_else(|| fail("the ZONEMD digest cannot be computed".to_owned()))?;
        let record = Record::from_rdata(
            origin.clone(),
            zonemd_ttl,
            zonemd::simple_sha384_rdata(serial, &digest),
        );
        let sig = rrsig(
            &origin,
            record.record_type(),
            std::slice::from_ref(&record),
            zone_key,
            &origin,
            inception,
            expiration,
        )
        .map_err(|e| fail(format!("signing the ZONEMD: {e}")))?;
        for r in &mut out {
            if r.record.name == origin && zonemd::is_zonemd(r.record.record_type()) {
                r.record = record.clone();
            }
        }
        out.push(place(sig));
    }
    let parsed = ParsedZone {
        origin: origin.clone(),
        file: unsigned.file().clone(),
        records: out,
    };
    let zone = Zone::build(&parsed).ok_or_else(|| fail("the signed zone has no SOA".to_owned()))?;
    debug_assert_eq!(zone.lower_origin(), &lower_origin);
    Ok((
        zone,
        denial,
        Signature {
            signed_at,
            expires: earliest,
        },
    ))
}

/// `record` with the domain names in an opaque RDATA lower-cased (RFC 4034
/// §6.2); every other record as it is.
fn canonical_opaque(record: &Record) -> Record {
    match &record.data {
        RData::Unknown { code, rdata } if !rdata.anything.is_empty() => {
            let wire = crate::zone::canonical_rdata(u16::from(*code), rdata.anything.clone());
            Record::from_rdata(
                record.name.clone(),
                record.ttl,
                RData::Unknown {
                    code: *code,
                    rdata: hickory_proto::rr::rdata::NULL::with(wire),
                },
            )
        }
        _ => record.clone(),
    }
}

/// The RRSIG `previous` holds over the same RRset (same records, same TTL)
/// by `key`, when it is younger than `refresh` seconds and not near expiry.
fn reusable(
    previous: &Zone,
    name: &Name,
    rtype: RecordType,
    records: &[Record],
    key: &LoadedKey,
    now: i64,
    refresh: i64,
) -> Option<Record> {
    let node = previous.node(&LowerName::new(name))?;
    let set = node.rrset(rtype)?;
    let ttl = records.first()?.ttl;
    if set.ttl() != ttl || set.len() != records.len() {
        return None;
    }
    let old: Vec<_> = set.rdatas().collect();
    if !records.iter().all(|r| old.iter().any(|o| **o == r.data)) {
        return None;
    }
    let algorithm = key.dnskey.public_key().algorithm();
    node.rrset(RecordType::RRSIG)?.rdatas().find_map(|rd| {
        let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &*rd else {
            return None;
        };
        let input = sig.input();
        let signed_at = i64::from(input.sig_inception.get()) + 3600;
        let expires = i64::from(input.sig_expiration.get());
        (input.type_covered == rtype
            && input.key_tag == key.record.tag
            && input.algorithm == algorithm
            && now < signed_at + refresh
            && now < expires - 3600)
            .then(|| Record::from_rdata(name.clone(), ttl, rd.clone().into_owned()))
    })
}

/// One RRSIG over `records` (RFC 4034 §3, RFC 4035 §2.2).
fn rrsig(
    name: &Name,
    rtype: RecordType,
    records: &[Record],
    key: &LoadedKey,
    origin: &Name,
    inception: i64,
    expiration: i64,
) -> Result<Record, String> {
    let ttl = records.first().map_or(0, |r| r.ttl);
    let input = SigInput {
        type_covered: rtype,
        algorithm: key.dnskey.public_key().algorithm(),
        num_labels: name.num_labels(),
        original_ttl: ttl,
        sig_expiration: SerialNumber::new(u32::try_from(expiration).unwrap_or(u32::MAX)),
        sig_inception: SerialNumber::new(u32::try_from(inception).unwrap_or(0)),
        key_tag: key.record.tag,
        signer_name: origin.clone(),
    };
    // RFC 4034 §6.2 item 3: names inside the RDATA of the older types are
    // lower-cased for signing. hickory does that for the types it decodes;
    // the ones it keeps as opaque bytes (RP, AFSDB, KX, RT, PX, MINFO, DNAME,
    // ...) are made canonical here, so a mixed-case name in their RDATA
    // still validates.
    let canonical: Vec<Record> = records.iter().map(canonical_opaque).collect();
    let tbs =
        TBS::from_input(name, DNSClass::IN, &input, canonical.iter()).map_err(|e| e.to_string())?;
    let sig = key.key.sign(&tbs).map_err(|e| e.to_string())?;
    Ok(Record::from_rdata(
        name.clone(),
        ttl,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
    ))
}
