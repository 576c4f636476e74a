//! DNSSEC additions to a response for a DO=1 query (RFC 4035 §3.1): RRSIGs
//! with every authoritative RRset, and NSEC (RFC 4035 §3.1.3) or NSEC3
//! (RFC 5155 §7.2) records proving NXDOMAIN, NODATA, wildcard answers and
//! unsigned delegations. Pure: zone and response in, response out.

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::sign::nsec3_hash;
use crate::zone::{Denial, Node, Zone};

/// The RRSIGs at `node` covering `rtype`, with `owner` as their name.
fn sigs(node: &Node, rtype: RecordType, owner: &Name) -> Vec<Record> {
    node.rrset(RecordType::RRSIG)
        .map(|set| {
            set.records(owner)
                .filter(|r| matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype))
                .collect()
        })
        .unwrap_or_default()
}

/// The node holding `name`'s data: its own, or the wildcard that synthesises it.
fn source<'z>(zone: &'z Zone, name: &Name) -> Option<(&'z Node, bool)> {
    if let Some(n) = zone.node(&LowerName::new(name)) {
        return Some((n, false));
    }
    let ce = zone.closest_encloser(name);
    let wild = ce.prepend_label("*").ok()?;
    zone.node(&LowerName::new(&wild)).map(|n| (n, true))
}

fn push_unique(section: &mut Vec<Record>, records: Vec<Record>) {
    for r in records {
        if !section.contains(&r) {
            section.push(r);
        }
    }
}

/// Adds the NSEC or NSEC3 record at `owner` (with its RRSIG) to the authority section.
fn add_denial_record(zone: &Zone, owner: &LowerName, out: &mut Vec<Record>) {
    let Some(node) = zone.node(owner) else {
        return;
    };
    for t in [RecordType::NSEC, RecordType::NSEC3] {
        if let Some(set) = node.rrset(t) {
            push_unique(out, set.records(owner).collect());
            push_unique(out, sigs(node, t, owner));
        }
    }
}

/// NSEC: the record at `name` (`Ok`) or the one covering it (`Err`), RFC 4035 §3.1.3.
fn nsec_for(names: &[Name], name: &Name) -> Option<Result<Name, Name>> {
    let i = names.partition_point(|n| n < name);
    if names.get(i) == Some(name) {
        return Some(Ok(name.clone()));
    }
    let prev = if i == 0 {
        names.last()?
    } else {
        names.get(i - 1)?
    };
    Some(Err(prev.clone()))
}

/// NSEC3: the owner of the record matching (`Ok`) or covering (`Err`) `name`'s hash.
fn nsec3_for(
    hashes: &[(Vec<u8>, LowerName)],
    salt: &[u8],
    iterations: u16,
    name: &Name,
) -> Option<Result<LowerName, LowerName>> {
    let h = nsec3_hash(name, salt, iterations)?;
    let i = hashes.partition_point(|(x, _)| *x < h);
    if let Some((x, owner)) = hashes.get(i)
        && *x == h
    {
        return Some(Ok(owner.clone()));
    }
    let prev = if i == 0 {
        hashes.last()?
    } else {
        hashes.get(i - 1)?
    };
    Some(Err(prev.1.clone()))
}

fn either<T>(r: Result<T, T>) -> T {
    match r {
        Ok(v) | Err(v) => v,
    }
}

/// Adds signatures and denial proofs to `response` for `query` against a signed zone.
pub(crate) fn add(zone: &Zone, denial: &Denial, query: &Query, response: &mut Message) {
    let origin = zone.lower_origin();
    // Answer RRsets: their RRSIGs; a wildcard expansion also needs proof that
    // the name itself does not exist (RFC 4035 §3.1.3.3).
    let mut extra = Vec::new();
    let mut wildcard_names = Vec::new();
    let mut seen: Vec<(LowerName, RecordType)> = Vec::new();
    for r in &response.answers {
        let key = (LowerName::new(&r.name), r.record_type());
        if seen.contains(&key) || !origin.zone_of(&key.0) {
            continue;
        }
        seen.push(key);
        if let Some((node, wild)) = source(zone, &r.name) {
            extra.extend(sigs(node, r.record_type(), &r.name));
            if wild {
                wildcard_names.push(r.name.clone());
            }
        }
    }
    push_unique(&mut response.answers, extra);

    // The name the answer ended at (after CNAMEs inside the zone).
    let mut last = query.name.to_lowercase();
    for _ in 0..16 {
        let next = response.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if LowerName::new(&r.name) == LowerName::new(&last) => {
                Some(c.0.to_lowercase())
            }
            _ => None,
        });
        match next {
            Some(n) if n != last => last = n,
            _ => break,
        }
    }
    let last_in_zone = origin.zone_of(&LowerName::new(&last));
    let soa_in_authority = response
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA);
    let referral = !response.metadata.authoritative
        && response
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NS);

    let mut auth = Vec::new();
    if soa_in_authority {
        let apex = zone.node(origin);
        if let Some(node) = apex {
            // The SOA of a negative answer carries the negative TTL (RFC 2308
            // §3); its RRSIG the same (RFC 4035 §3.1.3: as the RRset it covers).
            let ttl = zone.negative_soa().ttl;
            auth.extend(
                sigs(node, RecordType::SOA, zone.origin())
                    .into_iter()
                    .map(|mut r| {
                        r.ttl = ttl;
                        r
                    }),
            );
        }
    }
    if referral {
        // RFC 4035 §3.1.4: DS and its RRSIG, or proof there is no DS.
        let cut = response
            .authorities
            .iter()
            .find(|r| r.record_type() == RecordType::NS)
            .map(|r| r.name.clone());
        if let Some(cut) = cut
            && let Some(node) = zone.node(&LowerName::new(&cut))
        {
            match node.rrset(RecordType::DS) {
                Some(ds) => {
                    auth.extend(ds.records(&cut));
                    auth.extend(sigs(node, RecordType::DS, &cut));
                }
                None => match denial {
                    Denial::Nsec(_) => add_denial_record(zone, &LowerName::new(&cut), &mut auth),
                    Denial::Nsec3 {
                        salt,
                        iterations,
                        hashes,
                    } => {
                        if let Some(r) = nsec3_for(hashes, salt, *iterations, &cut) {
                            add_denial_record(zone, &either(r), &mut auth);
                        }
                    }
                },
            }
        }
    } else if last_in_zone && response.metadata.response_code == ResponseCode::NXDomain {
        nxdomain(zone, denial, &last, &mut auth);
    } else if last_in_zone
        && soa_in_authority
        && response.metadata.response_code == ResponseCode::NoError
    {
        nodata(zone, denial, &last, &mut auth);
    }
    for name in wildcard_names {
        // RFC 4035 §3.1.3.3 / RFC 5155 §7.2.6: the name itself does not exist.
        match denial {
            Denial::Nsec(names) => {
                if let Some(Err(prev)) = nsec_for(names, &name) {
                    add_denial_record(zone, &LowerName::new(&prev), &mut auth);
                }
            }
            Denial::Nsec3 {
                salt,
                iterations,
                hashes,
            } => {
                let ce = zone.closest_encloser(&name);
                let next_closer = name.trim_to(usize::from(ce.num_labels()) + 1);
                if let Some(r) = nsec3_for(hashes, salt, *iterations, &next_closer) {
                    add_denial_record(zone, &either(r), &mut auth);
                }
            }
        }
    }
    push_unique(&mut response.authorities, auth);
}

/// What the NXDOMAIN proof for a missing `name` depends on besides its
/// closest encloser (the wildcard and encloser proofs follow from that):
/// the position of the name among the NSEC owners, or of its next closer
/// name's hash among the NSEC3 hashes (RFC 5155 §7.2.1), with whether the
/// hash matches. Two missing names with the same encloser and the same
/// value get the same records from [`nxdomain`].
pub(crate) fn nxdomain_interval(
    denial: &Denial,
    name: &Name,
    encloser_labels: usize,
) -> Option<usize> {
    match denial {
        Denial::Nsec(names) => {
            let i = names.partition_point(|n| n < name);
            Some(2 * i + usize::from(names.get(i) == Some(name)))
        }
        Denial::Nsec3 {
            salt,
            iterations,
            hashes,
        } => {
            let next_closer = name.trim_to(encloser_labels + 1);
            let h = nsec3_hash(&next_closer, salt, *iterations)?;
            let i = hashes.partition_point(|(x, _)| *x < h);
            Some(2 * i + usize::from(hashes.get(i).is_some_and(|(x, _)| *x == h)))
        }
    }
}

/// RFC 4035 §3.1.3.2 / RFC 5155 §7.2.2: the name does not exist, nor a wildcard that could match it.
fn nxdomain(zone: &Zone, denial: &Denial, name: &Name, auth: &mut Vec<Record>) {
    let ce = zone.closest_encloser(name);
    let Ok(wild) = ce.prepend_label("*") else {
        return;
    };
    match denial {
        Denial::Nsec(names) => {
            if let Some(r) = nsec_for(names, name) {
                add_denial_record(zone, &LowerName::new(&either(r)), auth);
            }
            if let Some(r) = nsec_for(names, &wild) {
                add_denial_record(zone, &LowerName::new(&either(r)), auth);
            }
        }
        Denial::Nsec3 {
            salt,
            iterations,
            hashes,
        } => {
            let next_closer = name.trim_to(usize::from(ce.num_labels()) + 1);
            for n in [&ce, &next_closer, &wild] {
                if let Some(r) = nsec3_for(hashes, salt, *iterations, n) {
                    add_denial_record(zone, &either(r), auth);
                }
            }
        }
    }
}

/// RFC 4035 §3.1.3.1 / RFC 5155 §7.2.3-5: the name exists without the type
/// (or only a wildcard matches it, without the type).
fn nodata(zone: &Zone, denial: &Denial, name: &Name, auth: &mut Vec<Record>) {
    let exists = zone.node(&LowerName::new(name)).is_some();
    match denial {
        Denial::Nsec(names) => {
            if let Some(r) = nsec_for(names, name) {
                // At the name itself, or (empty non-terminal) the one covering it.
                add_denial_record(zone, &LowerName::new(&either(r)), auth);
            }
            if !exists {
                let ce = zone.closest_encloser(name);
                if let Ok(wild) = ce.prepend_label("*") {
                    add_denial_record(zone, &LowerName::new(&wild), auth);
                }
            }
        }
        Denial::Nsec3 {
            salt,
            iterations,
            hashes,
        } => {
            if exists {
                if let Some(r) = nsec3_for(hashes, salt, *iterations, name) {
                    add_denial_record(zone, &either(r), auth);
                }
            } else {
                let ce = zone.closest_encloser(name);
                let next_closer = name.trim_to(usize::from(ce.num_labels()) + 1);
                let wild = ce.prepend_label("*").ok();
                for n in [Some(&ce), Some(&next_closer), wild.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if let Some(r) = nsec3_for(hashes, salt, *iterations, n) {
                        add_denial_record(zone, &either(r), auth);
                    }
                }
            }
        }
    }
}
