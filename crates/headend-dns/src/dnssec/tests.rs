//! Signing, key timelines and proofs, with the clock passed in.

use std::path::Path;
use std::sync::Arc;

use hickory_proto::dnssec::Verifier as _;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::keys::KeyStore;
use super::sign::{base32hex, sign_zone};
use super::*;
use crate::DnsConfig;
use crate::answer::{Catalog, Transport};
use crate::config::DnssecConfig;
use crate::config::{Denial as DenialKind, DnssecAlgorithm, KeyScheme};
use crate::zone::Zone;
use crate::zonefile::parse_zone_str;

const T0: i64 = 1_800_000_000;

fn unsigned() -> Zone {
    let text = "$ORIGIN s.test.\n$TTL 300\n@ SOA ns1 hm 10 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n\
                www A 192.0.2.10\n*.wild TXT \"w\"\na.b.c A 192.0.2.11\nsub NS ns.sub\nns.sub A 192.0.2.53\n\
                sec NS ns.sec\nsec DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n";
    let parsed = parse_zone_str(
        text,
        Path::new("s.zone"),
        &Name::from_ascii("s.test.").unwrap(),
    )
    .unwrap();
    Zone::build(&parsed).unwrap()
}

fn config(denial: DenialKind, alg: DnssecAlgorithm, scheme: KeyScheme) -> DnssecConfig {
    DnssecConfig {
        algorithm: alg,
        denial,
        nsec3_iterations: 0,
        nsec3_salt: String::new(),
        keys: scheme,
        signature_validity_days: 14,
        refresh_days: 7,
        dnskey_ttl: 3600,
        propagation_delay_secs: 300,
        parent_ds_ttl: 86400,
        parent: Vec::new(),
        parent_check_interval_secs: 3600,
        zonemd: None,
    }
}

fn dnskeys(zone: &Zone) -> Vec<DNSKEY> {
    zone.node(zone.lower_origin())
        .and_then(|n| n.rrset(RecordType::DNSKEY))
        .map(|s| {
            s.rdatas()
                .filter_map(|r| match &*r {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Verifies every RRSIG in the zone against its RRset and the zone's DNSKEYs;
/// returns how many RRsets were signed.
fn verify_all(zone: &Zone) -> usize {
    let keys = dnskeys(zone);
    let mut verified = 0;
    for (owner, node) in zone.nodes() {
        let Some(sigs) = node.rrset(RecordType::RRSIG) else {
            continue;
        };
        for sig in sigs.records(owner) {
            let RData::DNSSEC(DNSSECRData::RRSIG(rrsig)) = &sig.data else {
                panic!("not an RRSIG");
            };
            let covered = rrsig.input().type_covered;
            let set = node.rrset(covered).expect("signed RRset exists");
            let key = keys
                .iter()
                .find(|k| k.calculate_key_tag().unwrap() == rrsig.input().key_tag)
                .expect("signing key published");
            let records: Vec<_> = set.records(owner).collect();
            key.verify_rrsig(&sig.name, DNSClass::IN, rrsig, records.iter())
                .unwrap_or_else(|e| panic!("{} {covered}: {e}", sig.name));
            verified += 1;
        }
    }
    verified
}

#[test]
fn state_folders_keep_the_names_earlier_releases_gave_them() {
    let state = Path::new("/var/lib/headend");
    assert_eq!(
        keys::zone_dir(state, "Example.TEST."),
        state.join("dnssec").join("example.test")
    );
    assert_eq!(
        keys::zone_dir(state, "a b/c.test"),
        state.join("dnssec").join("a_b_c.test")
    );
}

#[test]
fn keys_are_generated_once_with_private_files_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        DenialKind::Nsec,
        DnssecAlgorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
    );
    let a = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    assert_eq!(a.state.keys.len(), 2);
    for k in &a.state.keys {
        let f = keys::zone_dir(dir.path(), "s.test").join(&k.file);
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let b = KeyStore::load(dir.path(), "s.test", &c, T0 + 10).unwrap();
    assert_eq!(a.state, b.state, "the second start reuses the keys");
}

#[test]
fn nsec_signed_zone_verifies_and_skips_glue_and_delegation_ns() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        DenialKind::Nsec,
        DnssecAlgorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
    );
    let keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    let (zone, denial, sig) = sign_zone(&unsigned(), &keys, &c, 11, T0, None).unwrap();
    assert_eq!(zone.serial(), 11);
    assert_eq!(sig.expires, T0 + 14 * 86_400);
    assert!(verify_all(&zone) > 10);
    let node = |n: &str| {
        zone.node(&LowerName::new(&Name::from_ascii(n).unwrap()))
            .unwrap()
    };
    // Glue and the NS at a cut are not signed; DS and NSEC at a cut are.
    assert!(node("ns.sub.s.test.").rrset(RecordType::RRSIG).is_none());
    let cut_sigs: Vec<RecordType> = node("sec.s.test.")
        .rrset(RecordType::RRSIG)
        .unwrap()
        .rdatas()
        .filter_map(|r| match &*r {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().type_covered),
            _ => None,
        })
        .collect();
    assert!(cut_sigs.contains(&RecordType::DS) && !cut_sigs.contains(&RecordType::NS));
    // The chain is closed and skips glue.
    let Denial::Nsec(names) = denial else {
        panic!()
    };
    assert!(!names.iter().any(|n| n.to_string() == "ns.sub.s.test."));
    assert!(names.windows(2).all(|w| w[0] < w[1]), "canonical order");
}

#[test]
fn ed25519_csk_nsec3_zone_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(DenialKind::Nsec3, DnssecAlgorithm::Ed25519, KeyScheme::Csk);
    let keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    assert_eq!(keys.state.keys.len(), 1);
    let (zone, denial, _) = sign_zone(&unsigned(), &keys, &c, 11, T0, None).unwrap();
    assert!(verify_all(&zone) > 10);
    let Denial::Nsec3 { hashes, .. } = denial else {
        panic!()
    };
    // Names, plus the empty non-terminals b.c and c.
    assert!(hashes.len() >= 9, "{}", hashes.len());
    assert!(
        zone.node(zone.lower_origin())
            .unwrap()
            .rrset(RecordType::NSEC3PARAM)
            .is_some()
    );
}

#[test]
fn base32hex_matches_rfc4648_vectors() {
    assert_eq!(base32hex(b"f"), "co");
    assert_eq!(base32hex(b"foobar"), "cpnmuoj1e8");
}

#[test]
fn resigning_happens_at_the_refresh_point_before_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let dc = signed_s_test(config(
        DenialKind::Nsec,
        DnssecAlgorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
    ));
    let signer = Signer::new(&dc, dir.path()).unwrap();
    let first = signer.prepare(unsigned(), T0).unwrap();
    let origin = first.lower_origin().clone();
    assert!(signer.due(T0 + 86_400).is_empty());
    assert!(signer.due(T0 + 7 * 86_400 - 1).is_empty());
    // Seven days on (the clock moved, nothing else): due, long before the 14-day expiry.
    let later = T0 + 7 * 86_400;
    assert_eq!(signer.due(later), vec![origin.clone()]);
    let second = signer.resign(&origin, later).unwrap().unwrap();
    assert_eq!(
        second.serial(),
        first.serial() + 1,
        "a re-sign is a new version"
    );
    let expirations = |z: &Zone| -> Vec<u32> {
        z.nodes()
            .filter_map(|(_, n)| n.rrset(RecordType::RRSIG))
            .flat_map(|s| s.rdatas())
            .filter_map(|r| match &*r {
                RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().sig_expiration.get()),
                _ => None,
            })
            .collect()
    };
    let min_new = expirations(&second).into_iter().min().unwrap();
    assert_eq!(i64::from(min_new), later + 14 * 86_400);
    assert!(i64::from(min_new) > T0 + 14 * 86_400);
    assert!(signer.due(later + 60).is_empty());
    // The same unsigned zone loaded again is not re-signed (same serial).
    assert_eq!(
        signer.prepare(unsigned(), later + 120).unwrap().serial(),
        second.serial()
    );
}

#[test]
fn zsk_rollover_pre_publishes_switches_then_removes() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        DenialKind::Nsec,
        DnssecAlgorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
    );
    let mut keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    let old = keys.zone_signer(T0).unwrap().record.tag;
    let new = keys.rollover_zsk(&c, 300, T0 + 100).unwrap();
    // Published at once, not signing yet.
    let at = T0 + 101;
    assert!(keys.published(at).any(|k| k.record.tag == new));
    assert_eq!(keys.zone_signer(at).unwrap().record.tag, old);
    // After DNSKEY TTL + propagation: the new key signs, the old is still published.
    let switch = T0 + 100 + 3600 + 300;
    assert_eq!(keys.zone_signer(switch).unwrap().record.tag, new);
    assert!(keys.published(switch).any(|k| k.record.tag == old));
    // After the zone's max TTL + propagation: the old key is gone.
    let gone = switch + 300 + 300;
    assert!(!keys.published(gone).any(|k| k.record.tag == old));
    assert_ne!(keys.epoch(at), keys.epoch(switch));
    assert_eq!(keys.next_event(at), Some(switch));
    // The rollover survives a restart.
    let reloaded = KeyStore::load(dir.path(), "s.test", &c, at).unwrap();
    assert_eq!(reloaded.state, keys.state);
}

#[test]
fn ksk_rollover_double_signs_and_moves_the_cds() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        DenialKind::Nsec,
        DnssecAlgorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
    );
    let mut keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    let old = keys.key_signers(T0)[0].record.tag;
    let new = keys.rollover_ksk(&c, T0).unwrap();
    assert_eq!(
        keys.key_signers(T0 + 1).len(),
        2,
        "both KSKs sign the DNSKEY RRset"
    );
    let cds = |t| keys.ds_keys(t).map(|k| k.record.tag).collect::<Vec<_>>();
    assert_eq!(cds(T0 + 1), vec![old]);
    assert_eq!(cds(T0 + 3600 + 300), vec![new]);
    let gone = T0 + 3600 + 300 + 86400 + 300;
    assert_eq!(keys.key_signers(gone).len(), 1);
    let (zone, _, _) = sign_zone(&unsigned(), &keys, &c, 12, T0 + 1, None).unwrap();
    verify_all(&zone);
}

/// A `[dns]` section serving s.test (file s.zone) signed with `dnssec`.
fn signed_s_test(dnssec: DnssecConfig) -> DnsConfig {
    let mut dc = DnsConfig::default();
    dc.zones.push(crate::ZoneConfig {
        origin: "s.test".to_owned(),
        file: "s.zone".into(),
        dnssec: Some(dnssec),
        ..crate::ZoneConfig::default()
    });
    dc
}

/// KSK+ZSK with NSEC and a parent server to check for the DS.
fn with_parent() -> DnssecConfig {
    let mut c = config(
        DenialKind::Nsec,
        DnssecAlgorithm::EcdsaP256Sha256,
        KeyScheme::KskZsk,
    );
    c.parent = vec!["127.0.0.1:53".parse().unwrap()];
    c
}

#[test]
fn with_parent_servers_the_old_ksk_waits_for_the_new_ds() {
    let dir = tempfile::tempdir().unwrap();
    let c = with_parent();
    let mut keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    assert!(
        keys.awaiting_ds(T0).is_none(),
        "no rollover, nothing awaited"
    );
    let old = keys.key_signers(T0)[0].record.tag;
    let new = keys.rollover_ksk(&c, T0).unwrap();
    let switch = T0 + 3600 + 300;
    assert!(keys.awaiting_ds(switch - 1).is_none(), "CDS not out yet");
    assert_eq!(keys.awaiting_ds(switch).map(|k| k.tag), Some(new));
    // Far beyond the timeline's removal point the old KSK still signs: the
    // parent was never seen serving the new DS.
    let much_later = switch + 30 * 86_400;
    assert_eq!(keys.key_signers(much_later).len(), 2);
    assert_eq!(keys.awaiting_ds(much_later).map(|k| k.tag), Some(new));
    // Seen at `seen`: the old KSK goes after the parent's DS TTL and propagation.
    let seen = switch + 7200;
    let removal = keys.ksk_submitted(&c, new, seen).unwrap();
    assert_eq!(removal, Some(seen + 86_400 + 300));
    assert!(keys.awaiting_ds(seen).is_none());
    assert_eq!(keys.key_signers(seen + 86_400 + 299).len(), 2);
    let signers: Vec<u16> = keys
        .key_signers(seen + 86_400 + 300)
        .iter()
        .map(|k| k.record.tag)
        .collect();
    assert_eq!(
        signers,
        vec![new],
        "only the new KSK once the old DS expired"
    );
    assert_ne!(old, new);
    // The state on disk says the same (the running server reloads it).
    let again = KeyStore::load(dir.path(), "s.test", &c, seen).unwrap();
    assert_eq!(again.state, keys.state);
}

#[test]
fn the_signer_asks_the_parent_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = with_parent();
    c.parent_check_interval_secs = 600;
    let dc = signed_s_test(c.clone());
    let signer = Signer::new(&dc, dir.path()).unwrap();
    signer.prepare(unsigned(), T0).unwrap();
    assert!(signer.submissions_due(T0).is_empty());
    let mut keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    let new = keys.rollover_ksk(&c, T0).unwrap();
    let switch = T0 + 3600 + 300;
    // The scheduler notices the new key state, re-signs, then asks.
    assert!(!signer.due(switch).is_empty());
    let origin = LowerName::new(&Name::from_ascii("s.test.").unwrap());
    signer.resign(&origin, switch).unwrap().unwrap();
    assert!(signer.next_wakeup(switch).is_some_and(|t| t <= switch));
    let due = signer.submissions_due(switch);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].tag, new);
    assert_eq!(due[0].zone.to_ascii(), "s.test.");
    assert!(
        signer.submissions_due(switch + 599).is_empty(),
        "not again before the interval"
    );
    assert_eq!(signer.submissions_due(switch + 600).len(), 1);
    assert_eq!(
        signer.ds_seen(&origin, new, switch + 700).unwrap(),
        Some(switch + 700 + 86_400 + 300)
    );
    assert!(
        signer.submissions_due(switch + 2000).is_empty(),
        "nothing awaited any more"
    );
}

/// A catalog serving the test zone signed with ECDSA P-256 (KSK and ZSK)
/// and the given denial.
fn signed_catalog(denial: DenialKind) -> Catalog {
    let dir = tempfile::tempdir().unwrap();
    let c = config(denial, DnssecAlgorithm::EcdsaP256Sha256, KeyScheme::KskZsk);
    let keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
    let (zone, d, _) = sign_zone(&unsigned(), &keys, &c, 11, T0, None).unwrap();
    let mut catalog = Catalog::new(1232);
    catalog.insert(Arc::new(zone.with_dnssec(d)));
    catalog
}

fn ask(catalog: &Catalog, name: &str, rtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(4096);
    m.edns = Some(edns);
    Message::from_vec(
        &catalog
            .respond(&m.to_vec().unwrap(), Transport::Tcp)
            .unwrap(),
    )
    .unwrap()
}

/// Random missing names in a signed zone, DO=1 over UDP: the fast path's
/// answers (mostly NXDOMAIN answers shared by names with the same encloser
/// and covering NSEC/NSEC3) are the full responder's bytes.
#[test]
fn missing_names_in_signed_zones_share_answers_with_identical_proofs() {
    for denial in [DenialKind::Nsec, DenialKind::Nsec3] {
        let catalog = signed_catalog(denial);
        let mut cache = crate::fast::AnswerCache::default();
        let mut out = Vec::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..3000u16 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Below the apex, an existing name, an empty non-terminal, a
            // wildcard, a delegation; one or two new labels.
            let parent = ["", "www.", "c.", "b.c.", "wild.", "sub.", "x.y."][rng as usize % 7];
            let label = format!("{:x}", (rng >> 8) as u16 % 0x200);
            let name = if rng >> 30 & 1 == 0 {
                format!("{label}.{parent}s.test.")
            } else {
                format!("a{label}.{label}.{parent}s.test.")
            };
            let rtype = [RecordType::A, RecordType::TXT, RecordType::DS][(rng >> 40) as usize % 3];
            let mut m = Message::query();
            m.metadata.id = i;
            m.add_query(Query::query(Name::from_ascii(&name).unwrap(), rtype));
            let mut edns = Edns::new();
            edns.set_dnssec_ok(rng >> 50 & 3 != 0);
            edns.set_max_payload(1232);
            m.edns = Some(edns);
            let req = m.to_vec().unwrap();
            let sent = cache.respond(&catalog, &req, Transport::Udp, &mut out);
            let slow = catalog.respond(&req, Transport::Udp);
            assert_eq!(sent.then(|| out.clone()), slow, "{denial:?} {name} {rtype}");
        }
        assert!(
            cache.negative_hits > 1000,
            "{denial:?}: {} shared answers",
            cache.negative_hits
        );
    }
}

fn types(records: &[Record]) -> Vec<RecordType> {
    records.iter().map(Record::record_type).collect()
}

#[test]
fn do_answers_carry_signatures_and_denial_proofs() {
    for denial in [DenialKind::Nsec, DenialKind::Nsec3] {
        let catalog = signed_catalog(denial);
        let proof = if denial == DenialKind::Nsec {
            RecordType::NSEC
        } else {
            RecordType::NSEC3
        };
        // Positive.
        let r = ask(&catalog, "www.s.test.", RecordType::A);
        assert_eq!(types(&r.answers), vec![RecordType::A, RecordType::RRSIG]);
        // NXDOMAIN: SOA + RRSIG + proofs.
        let r = ask(&catalog, "nope.s.test.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        let t = types(&r.authorities);
        assert!(
            t.contains(&RecordType::SOA) && t.contains(&proof) && t.contains(&RecordType::RRSIG),
            "{t:?}"
        );
        // NODATA.
        let r = ask(&catalog, "www.s.test.", RecordType::AAAA);
        assert!(r.answers.is_empty());
        assert!(types(&r.authorities).contains(&proof));
        // Empty non-terminal NODATA.
        let r = ask(&catalog, "b.c.s.test.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(types(&r.authorities).contains(&proof));
        // Wildcard: signed answer plus proof the name itself does not exist.
        let r = ask(&catalog, "x.wild.s.test.", RecordType::TXT);
        assert_eq!(types(&r.answers), vec![RecordType::TXT, RecordType::RRSIG]);
        assert!(
            types(&r.authorities).contains(&proof),
            "{:?}",
            types(&r.authorities)
        );
        // Insecure delegation: proof of no DS; secure one: DS + RRSIG.
        let r = ask(&catalog, "host.sub.s.test.", RecordType::A);
        assert!(types(&r.authorities).contains(&proof));
        let r = ask(&catalog, "host.sec.s.test.", RecordType::A);
        let t = types(&r.authorities);
        assert!(
            t.contains(&RecordType::DS) && t.contains(&RecordType::RRSIG),
            "{t:?}"
        );
        // DO=0: nothing added.
        let mut m = Message::query();
        m.add_query(Query::query(
            Name::from_ascii("nope.s.test.").unwrap(),
            RecordType::A,
        ));
        let r = Message::from_vec(
            &catalog
                .respond(&m.to_vec().unwrap(), Transport::Tcp)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(types(&r.authorities), vec![RecordType::SOA]);
    }
}

/// Every record of a zone in one comparable form (owner, type, TTL, RDATA).
fn all_records(zone: &Zone) -> Vec<String> {
    let mut out: Vec<String> = zone
        .nodes()
        .flat_map(|(owner, n)| n.rrsets().iter().map(move |s| (owner, s)))
        .flat_map(|(owner, s)| s.records(owner))
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect();
    out.sort();
    out
}

#[test]
fn a_restart_serves_the_zone_as_signed_before_unless_something_changed() {
    for denial in [DenialKind::Nsec, DenialKind::Nsec3] {
        let dir = tempfile::tempdir().unwrap();
        let dc = signed_s_test(config(
            denial,
            DnssecAlgorithm::EcdsaP256Sha256,
            KeyScheme::KskZsk,
        ));
        let first = Signer::new(&dc, dir.path())
            .unwrap()
            .prepare(unsigned(), T0)
            .unwrap();
        // A new signer over the same state directory is a restart: same
        // serial, the very same signatures, and the same denial chain.
        let again = Signer::new(&dc, dir.path())
            .unwrap()
            .prepare(unsigned(), T0 + 3600)
            .unwrap();
        assert_eq!(again.serial(), first.serial(), "{denial:?}");
        assert_eq!(all_records(&again), all_records(&first), "{denial:?}");
        assert_eq!(again.dnssec(), first.dnssec(), "{denial:?}");
        assert_eq!(verify_all(&again), verify_all(&first));
        // Proofs still work from the resumed zone.
        let mut catalog = Catalog::new(1232);
        catalog.insert(Arc::new(again));
        let r = ask(&catalog, "nope.s.test.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        assert!(types(&r.authorities).contains(&RecordType::RRSIG));

        // Signatures due for refresh at restart time: signed afresh.
        let late = T0 + 8 * 86_400;
        let refreshed = Signer::new(&dc, dir.path())
            .unwrap()
            .prepare(unsigned(), late)
            .unwrap();
        assert_eq!(refreshed.serial(), first.serial() + 1, "{denial:?}");

        // Changed data with the file's serial unchanged: signed afresh, new serial.
        let text = "$ORIGIN s.test.\n$TTL 300\n@ SOA ns1 hm 10 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n\
                    www A 192.0.2.99\n";
        let changed = || {
            Zone::build(
                &parse_zone_str(
                    text,
                    Path::new("s.zone"),
                    &Name::from_ascii("s.test.").unwrap(),
                )
                .unwrap(),
            )
            .unwrap()
        };
        let resigned = Signer::new(&dc, dir.path())
            .unwrap()
            .prepare(changed(), late + 60)
            .unwrap();
        assert_eq!(resigned.serial(), first.serial() + 2, "{denial:?}");
        let resumed = Signer::new(&dc, dir.path())
            .unwrap()
            .prepare(changed(), late + 120)
            .unwrap();
        assert_eq!(resumed.serial(), resigned.serial(), "{denial:?}");

        // A damaged saved zone is ignored, not trusted: signed afresh.
        let wire = keys::zone_dir(dir.path(), "s.test").join("signed.wire");
        let mut bytes = std::fs::read(&wire).unwrap();
        let n = bytes.len();
        bytes.truncate(n - 3);
        std::fs::write(&wire, bytes).unwrap();
        let after_damage = Signer::new(&dc, dir.path())
            .unwrap()
            .prepare(changed(), late + 180)
            .unwrap();
        assert_eq!(after_damage.serial(), first.serial() + 3, "{denial:?}");
    }
}

/// A zone with one more name than [`unsigned`].
fn unsigned_plus_one() -> Zone {
    let mut parsed = crate::zonefile::ParsedZone {
        origin: Name::from_ascii("s.test.").unwrap(),
        file: "s.zone".into(),
        records: Vec::new(),
    };
    let base = unsigned();
    for (owner, node) in base.nodes() {
        for set in node.rrsets() {
            for r in set.records(&Name::from(owner.clone())) {
                parsed.records.push(crate::zonefile::SourceRecord {
                    record: r,
                    file: Arc::from(Path::new("s.zone")),
                    line: 0,
                });
            }
        }
    }
    parsed.records.push(crate::zonefile::SourceRecord {
        record: Record::from_rdata(
            Name::from_ascii("new.s.test.").unwrap(),
            300,
            RData::A(hickory_proto::rr::rdata::A::new(192, 0, 2, 99)),
        ),
        file: Arc::from(Path::new("s.zone")),
        line: 0,
    });
    Zone::build(&parsed).unwrap()
}

#[test]
fn re_signing_after_one_added_name_keeps_every_other_signature() {
    for denial in [DenialKind::Nsec, DenialKind::Nsec3] {
        let dir = tempfile::tempdir().unwrap();
        let c = config(denial, DnssecAlgorithm::EcdsaP256Sha256, KeyScheme::KskZsk);
        let keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
        let (first, _, _) = sign_zone(&unsigned(), &keys, &c, 11, T0, None).unwrap();
        let (second, _, sig) =
            sign_zone(&unsigned_plus_one(), &keys, &c, 12, T0 + 60, Some(&first)).unwrap();
        assert!(verify_all(&second) > 10);
        let diff = crate::zone::Diff::between(&first, &second);
        // The new A, its RRSIG, the SOA's RRSIG, the denial records that
        // changed (one or two) and their RRSIGs: the rest is kept.
        let changed = diff.added.len() + diff.removed.len();
        assert!(
            changed <= 12,
            "{denial:?}: {changed} records changed: {diff:?}"
        );
        assert!(diff.added.len() >= 3, "{denial:?}: {diff:?}");
        // The oldest kept signature decides the next refresh.
        assert_eq!(sig.signed_at, T0, "{denial:?}");
        // Without the previous version everything is signed again.
        let (full, _, _) = sign_zone(&unsigned_plus_one(), &keys, &c, 12, T0 + 60, None).unwrap();
        let full_changed = crate::zone::Diff::between(&first, &full);
        assert!(full_changed.added.len() > changed, "{denial:?}");
        // Past the refresh window nothing old is kept.
        let late = T0 + 8 * 86_400;
        let (refreshed, _, sig) =
            sign_zone(&unsigned_plus_one(), &keys, &c, 13, late, Some(&second)).unwrap();
        assert_eq!(sig.signed_at, late, "{denial:?}");
        assert!(verify_all(&refreshed) > 10);
    }
}

/// The served zone's records as a parsed zone (for the ZONEMD check).
fn as_parsed(zone: &Zone) -> crate::zonefile::ParsedZone {
    let file: Arc<Path> = Arc::from(Path::new("signed.zone"));
    let records = zone
        .nodes()
        .flat_map(|(owner, node)| {
            let owner = Name::from(owner.clone());
            node.rrsets()
                .iter()
                .flat_map(|set| set.records(&owner).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .map(|record| crate::zonefile::SourceRecord {
            record,
            file: Arc::clone(&file),
            line: 0,
        })
        .collect();
    crate::zonefile::ParsedZone {
        origin: zone.origin().clone(),
        file: "signed.zone".into(),
        records,
    }
}

#[test]
fn a_zonemd_is_made_for_each_signed_serial_signed_and_verifiable() {
    use crate::config::ZonemdHash;
    use crate::zone::zonemd::{self, Verdict};
    for denial in [DenialKind::Nsec, DenialKind::Nsec3] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(denial, DnssecAlgorithm::EcdsaP256Sha256, KeyScheme::KskZsk);
        c.zonemd = Some(ZonemdHash::Sha384);
        let keys = KeyStore::load(dir.path(), "s.test", &c, T0).unwrap();
        let (first, _, _) = sign_zone(&unsigned(), &keys, &c, 11, T0, None).unwrap();
        let (zone, _, _) =
            sign_zone(&unsigned_plus_one(), &keys, &c, 12, T0 + 60, Some(&first)).unwrap();
        for (z, serial) in [(&first, 11u32), (&zone, 12)] {
            let apex = z.node(z.lower_origin()).unwrap();
            let set = apex
                .rrset(zonemd::zonemd_type())
                .expect("a ZONEMD at the apex");
            assert_eq!(set.len(), 1);
            let wire = crate::zonefile::emit_uncompressed(&set.first_rdata().unwrap()).unwrap();
            assert_eq!(&wire[..6], [&serial.to_be_bytes()[..], &[1, 1]].concat());
            assert_eq!(wire.len(), 6 + 48);
            assert_eq!(
                zonemd::verify(&as_parsed(z)),
                Verdict::Matches,
                "{denial:?}"
            );
            // Signed like every RRset, and in the apex's denial bitmap.
            let covered: Vec<RecordType> = apex
                .rrset(RecordType::RRSIG)
                .unwrap()
                .rdatas()
                .filter_map(|r| match &*r {
                    RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().type_covered),
                    _ => None,
                })
                .collect();
            assert!(covered.contains(&zonemd::zonemd_type()), "{covered:?}");
            assert!(verify_all(z) > 10);
        }
        // Without the setting there is none.
        c.zonemd = None;
        let (plain, _, _) = sign_zone(&unsigned(), &keys, &c, 11, T0, None).unwrap();
        let apex = plain.node(plain.lower_origin()).unwrap();
        assert!(apex.rrset(zonemd::zonemd_type()).is_none());
    }
}
