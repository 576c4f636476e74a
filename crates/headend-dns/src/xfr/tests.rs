//! Transfers driven with crafted requests, no sockets.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigner};

use super::*;
use crate::config::{TsigKeyConfig, ZoneConfig};
use crate::zonefile::parse_zone_str;

const SECRET: [u8; 32] = [0x5a; 32];

fn zone(serial: u32, extra: &str) -> Zone {
    let text = format!(
        "$ORIGIN x.test.\n$TTL 300\n@ SOA ns1 hm {serial} 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\n{extra}"
    );
    let parsed = parse_zone_str(
        &text,
        Path::new("x.zone"),
        &Name::from_ascii("x.test.").unwrap(),
    )
    .unwrap();
    Zone::build(&parsed).unwrap()
}

fn config(allow: &[&str], key: Option<&str>) -> DnsConfig {
    DnsConfig {
        zones: vec![ZoneConfig {
            origin: "x.test".to_owned(),
            file: "x.zone".into(),
            allow_transfer: allow.iter().map(|a| a.parse().unwrap()).collect(),
            tsig_key: key.map(str::to_owned),
            ..ZoneConfig::default()
        }],
        tsig_keys: vec![TsigKeyConfig {
            name: "xfr-key".to_owned(),
            algorithm: "hmac-sha256".to_owned(),
            secret: base64::engine::general_purpose::STANDARD.encode(SECRET),
            secret_file: None,
            secret_inline: true,
        }],
        ..DnsConfig::default()
    }
}

fn catalog(z: Zone) -> Catalog {
    let mut c = Catalog::new(1232);
    c.insert(Arc::new(z));
    c
}

fn request(kind: RecordType, client_serial: Option<u32>) -> Message {
    let mut m = Message::query();
    m.metadata.id = 321;
    m.metadata.op_code = OpCode::Query;
    let origin = Name::from_ascii("x.test.").unwrap();
    m.add_query(Query::query(origin.clone(), kind));
    if let Some(serial) = client_serial {
        m.authorities.push(Record::from_rdata(
            origin.clone(),
            0,
            RData::SOA(hickory_proto::rr::rdata::SOA::new(
                origin.clone(),
                origin,
                serial,
                0,
                0,
                0,
                0,
            )),
        ));
    }
    m
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// All answer records of a response stream, and the rcode of the first message.
fn answers(messages: &[Vec<u8>]) -> (ResponseCode, Vec<Record>) {
    let mut out = Vec::new();
    let mut rcode = ResponseCode::NoError;
    for (i, bytes) in messages.iter().enumerate() {
        assert!(bytes.len() <= 65535);
        let m = Message::from_vec(bytes).unwrap();
        if i == 0 {
            rcode = m.metadata.response_code;
        }
        out.extend(m.answers);
    }
    (rcode, out)
}

fn serial(r: &Record) -> Option<u32> {
    match &r.data {
        RData::SOA(s) => Some(s.serial),
        _ => None,
    }
}

#[test]
fn detects_transfer_requests_only() {
    assert!(is_transfer(
        &request(RecordType::AXFR, None).to_vec().unwrap()
    ));
    assert!(is_transfer(
        &request(RecordType::IXFR, Some(1)).to_vec().unwrap()
    ));
    assert!(!is_transfer(
        &request(RecordType::SOA, None).to_vec().unwrap()
    ));
    assert!(!is_transfer(&[0u8; 5]));
}

#[test]
fn axfr_to_an_allowed_address_is_soa_records_soa() {
    let t = Transfers::new(&config(&["127.0.0.0/8"], None), None).unwrap();
    let raw = request(RecordType::AXFR, None).to_vec().unwrap();
    let msgs = t
        .respond(&catalog(zone(5, "")), &raw, ip("127.0.0.1"), 0)
        .unwrap();
    let (rcode, recs) = answers(&msgs);
    assert_eq!(rcode, ResponseCode::NoError);
    assert_eq!(recs.len(), 5); // SOA, NS, A, A, SOA
    assert_eq!(serial(&recs[0]), Some(5));
    assert_eq!(serial(&recs[4]), Some(5));
    assert!(
        recs[1..4]
            .iter()
            .all(|r| r.record_type() != RecordType::SOA)
    );
}

#[test]
fn axfr_from_outside_the_acl_is_refused() {
    let t = Transfers::new(&config(&["192.0.2.0/24"], None), None).unwrap();
    let raw = request(RecordType::AXFR, None).to_vec().unwrap();
    let msgs = t
        .respond(&catalog(zone(5, "")), &raw, ip("127.0.0.1"), 0)
        .unwrap();
    let (rcode, recs) = answers(&msgs);
    assert_eq!(rcode, ResponseCode::Refused);
    assert!(recs.is_empty());
    // No ACL at all: nobody may transfer.
    let t = Transfers::new(&config(&[], None), None).unwrap();
    let msgs = t
        .respond(&catalog(zone(5, "")), &raw, ip("192.0.2.1"), 0)
        .unwrap();
    assert_eq!(answers(&msgs).0, ResponseCode::Refused);
}

#[test]
fn axfr_for_a_zone_not_served_is_notauth() {
    let t = Transfers::new(&config(&["127.0.0.0/8"], None), None).unwrap();
    let mut m = Message::query();
    m.add_query(Query::query(
        Name::from_ascii("other.test.").unwrap(),
        RecordType::AXFR,
    ));
    let msgs = t
        .respond(
            &catalog(zone(5, "")),
            &m.to_vec().unwrap(),
            ip("127.0.0.1"),
            0,
        )
        .unwrap();
    assert_eq!(answers(&msgs).0, ResponseCode::NotAuth);
}

#[test]
fn large_zone_is_split_over_many_messages_and_arrives_whole() {
    let mut extra = String::new();
    for i in 0..30_000 {
        let _ = writeln!(
            extra,
            "h{i} A 10.{}.{}.{}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
    }
    let z = zone(9, &extra);
    let count = z.record_count();
    let t = Transfers::new(&config(&["127.0.0.1/32"], None), None).unwrap();
    let raw = request(RecordType::AXFR, None).to_vec().unwrap();
    let msgs = t.respond(&catalog(z), &raw, ip("127.0.0.1"), 0).unwrap();
    assert!(msgs.len() > 5, "{} messages", msgs.len());
    let (_, recs) = answers(&msgs);
    // Every record once, plus the closing SOA.
    assert_eq!(recs.len(), count + 1);
    // Only the first message carries the question.
    assert_eq!(Message::from_vec(&msgs[1]).unwrap().queries.len(), 0);
}

#[test]
fn ixfr_answers_from_the_journal() {
    let t = Transfers::new(&config(&["127.0.0.1/32"], None), None).unwrap();
    let z1 = zone(1, "old A 192.0.2.50\n");
    let z2 = zone(2, "new A 192.0.2.51\n");
    t.record_change(&z1, &z2);
    let raw = request(RecordType::IXFR, Some(1)).to_vec().unwrap();
    let msgs = t.respond(&catalog(z2), &raw, ip("127.0.0.1"), 0).unwrap();
    let (_, recs) = answers(&msgs);
    // RFC 1995 §4: SOA(2), SOA(1), removed, SOA(2), added, SOA(2).
    let serials: Vec<Option<u32>> = recs.iter().map(serial).collect();
    assert_eq!(
        serials,
        vec![Some(2), Some(1), None, Some(2), None, Some(2)]
    );
    assert_eq!(recs[2].name.to_string(), "old.x.test.");
    assert_eq!(recs[4].name.to_string(), "new.x.test.");
}

#[test]
fn ixfr_from_an_unknown_serial_falls_back_to_the_full_zone() {
    let t = Transfers::new(&config(&["127.0.0.1/32"], None), None).unwrap();
    let raw = request(RecordType::IXFR, Some(1)).to_vec().unwrap();
    let msgs = t
        .respond(&catalog(zone(3, "")), &raw, ip("127.0.0.1"), 0)
        .unwrap();
    let (_, recs) = answers(&msgs);
    assert_eq!(recs.len(), 5);
    assert_eq!(serial(&recs[1]), None, "AXFR form: no old SOA second");
}

#[test]
fn ixfr_from_the_current_serial_is_one_soa() {
    let t = Transfers::new(&config(&["127.0.0.1/32"], None), None).unwrap();
    let raw = request(RecordType::IXFR, Some(3)).to_vec().unwrap();
    let msgs = t
        .respond(&catalog(zone(3, "")), &raw, ip("127.0.0.1"), 0)
        .unwrap();
    let (_, recs) = answers(&msgs);
    assert_eq!(recs.len(), 1);
    assert_eq!(serial(&recs[0]), Some(3));
}

fn signed(kind: RecordType, secret: &[u8], now: u64) -> (Vec<u8>, hickory_proto::rr::TSigVerifier) {
    let signer = TSigner::new(
        secret.to_vec(),
        hickory_proto::rr::rdata::tsig::TsigAlgorithm::HmacSha256,
        Name::from_ascii("xfr-key.").unwrap(),
        300,
    )
    .unwrap();
    let mut m = request(kind, None);
    let (rec, verifier) = signer.sign_message(&m, now).unwrap();
    m.set_signature(rec);
    (m.to_vec().unwrap(), verifier.unwrap())
}

#[test]
fn tsig_zone_needs_the_key_and_signs_every_message() {
    let t = Transfers::new(&config(&[], Some("xfr-key")), None).unwrap();
    let mut extra = String::new();
    for i in 0..8_000 {
        let _ = writeln!(extra, "h{i} TXT \"record number {i}\"");
    }
    let cat = catalog(zone(4, &extra));
    let now = 1_700_000_000;
    // Unsigned: refused.
    let raw = request(RecordType::AXFR, None).to_vec().unwrap();
    let msgs = t.respond(&cat, &raw, ip("127.0.0.1"), now).unwrap();
    assert_eq!(answers(&msgs).0, ResponseCode::Refused);
    // Right key: the whole zone, every message verifies in sequence.
    let (raw, mut verifier) = signed(RecordType::AXFR, &SECRET, now);
    let msgs = t.respond(&cat, &raw, ip("127.0.0.1"), now).unwrap();
    assert!(msgs.len() > 1);
    for m in &msgs {
        verifier.verify(m).unwrap();
    }
    assert_eq!(answers(&msgs).1.len(), 8_000 + 4 + 1);
    // Wrong secret: NOTAUTH.
    let (raw, _) = signed(RecordType::AXFR, &[1u8; 32], now);
    let msgs = t.respond(&cat, &raw, ip("127.0.0.1"), now).unwrap();
    assert_eq!(answers(&msgs).0, ResponseCode::NotAuth);
}

#[test]
fn unknown_tsig_key_in_a_zone_is_a_config_error() {
    let err = Transfers::new(&config(&[], Some("nokey")), None).unwrap_err();
    assert!(err.to_string().contains("nokey"), "{err}");
}

/// A restart with a zone changed while down: the journal continues with the
/// difference from the version last served, so a secondary at any earlier
/// recorded serial gets an IXFR chain to the new one.
#[test]
fn the_journal_continues_across_a_restart_with_a_changed_zone() {
    let state = tempfile::tempdir().unwrap();
    let cfg = config(&["127.0.0.1/32"], None);
    let (z1, z2, z3) = (
        zone(1, ""),
        zone(2, "a A 192.0.2.2\n"),
        zone(3, "a A 192.0.2.3\n"),
    );
    let before = Transfers::new(&cfg, Some(state.path())).unwrap();
    before.load_journal(&z1);
    before.record_change(&z1, &z2);
    drop(before);
    // Restarted with serial 3 in the file.
    let after = Transfers::new(&cfg, Some(state.path())).unwrap();
    after.load_journal(&z3);
    let journals = after.journals();
    let j = journals.get(z3.lower_origin()).expect("journal kept");
    assert_eq!(j.since(1, 3).map(|c| c.len()), Some(2));
    let last = &j.since(2, 3).unwrap()[0];
    assert_eq!((last.removed.len(), last.added.len()), (1, 1), "{last:?}");
}

/// Without a version kept (no secondaries configured) or when the journal
/// and the kept version disagree, the journal starts over.
#[test]
fn the_journal_starts_over_when_nothing_describes_the_change() {
    let state = tempfile::tempdir().unwrap();
    let cfg = config(&[], None);
    let before = Transfers::new(&cfg, Some(state.path())).unwrap();
    before.record_change(&zone(1, ""), &zone(2, "a A 192.0.2.2\n"));
    drop(before);
    let after = Transfers::new(&cfg, Some(state.path())).unwrap();
    let z3 = zone(3, "a A 192.0.2.3\n");
    after.load_journal(&z3);
    assert!(after.journals().get(z3.lower_origin()).is_none());
}

#[test]
fn the_serial_notified_is_kept_across_restarts() {
    let state = tempfile::tempdir().unwrap();
    let cfg = config(&["127.0.0.1/32"], None);
    let z = zone(7, "");
    let before = Transfers::new(&cfg, Some(state.path())).unwrap();
    assert_eq!(before.notified_serial(&z), None);
    before.set_notified(&z);
    let after = Transfers::new(&cfg, Some(state.path())).unwrap();
    assert_eq!(after.notified_serial(&z), Some(7));
}
