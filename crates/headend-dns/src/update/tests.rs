use std::path::Path;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;
use crate::zonefile::parse_zone_str;

const ZONE: &str = "$ORIGIN u.test.\n$TTL 300\n@ SOA ns1 hm 10 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\nwww A 192.0.2.81\nalias CNAME www\n";

fn model() -> Model {
    let origin = Name::from_ascii("u.test.").unwrap();
    let parsed = parse_zone_str(ZONE, Path::new("u.test.zone"), &origin).unwrap();
    Model::from_zone(&Zone::build(&parsed).unwrap(), false)
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(name: &str, last: u8) -> Record {
    Record::from_rdata(n(name), 60, RData::A(A::new(192, 0, 2, last)))
}

fn class(mut r: Record, c: DNSClass) -> Record {
    r.dns_class = c;
    r.ttl = 0;
    r
}

fn empty(name: &str, rtype: RecordType, c: DNSClass) -> Record {
    class(Record::update0(n(name), 0, rtype), c)
}

fn msg(prereqs: Vec<Record>, updates: Vec<Record>) -> Message {
    let mut m = Message::query();
    m.metadata.op_code = OpCode::Update;
    let mut q = Query::query(n("u.test."), RecordType::SOA);
    q.query_class = DNSClass::IN;
    m.add_query(q);
    m.answers = prereqs;
    m.authorities = updates;
    m
}

fn run(
    model: &mut Model,
    prereqs: Vec<Record>,
    updates: Vec<Record>,
) -> Result<Applied, ResponseCode> {
    process(model, &msg(prereqs, updates), |_| true)
}

fn has(model: &Model, name: &str, rtype: RecordType) -> usize {
    model
        .node(&n(name))
        .and_then(|node| node.set(rtype))
        .map_or(0, |s| s.rdatas.len())
}

#[test]
fn an_add_bumps_the_serial_once_per_message() {
    let mut m = model();
    let done = run(&mut m, vec![], vec![a("h1.u.test.", 1), a("h2.u.test.", 2)]).unwrap();
    assert_eq!(done.serial, 11);
    assert_eq!(done.journaled.len(), 2);
    assert_eq!(has(&m, "h1.u.test.", RecordType::A), 1);
    // Adding what is there changes nothing: no serial bump, nothing journaled.
    let again = run(&mut m, vec![], vec![a("h1.u.test.", 1)]).unwrap();
    assert_eq!(again.serial, 11);
    assert!(again.journaled.is_empty());
    assert_eq!(m.to_zone().unwrap().serial(), 11);
}

#[test]
fn each_prerequisite_kind_passes_and_fails_as_rfc_2136_says() {
    let mut m = model();
    let any = DNSClass::ANY;
    let none = DNSClass::NONE;
    let cases: Vec<(Record, Result<(), ResponseCode>)> = vec![
        // yxdomain
        (empty("www.u.test.", RecordType::ANY, any), Ok(())),
        (
            empty("nope.u.test.", RecordType::ANY, any),
            Err(ResponseCode::NXDomain),
        ),
        // yxrrset, value independent
        (empty("www.u.test.", RecordType::A, any), Ok(())),
        (
            empty("www.u.test.", RecordType::TXT, any),
            Err(ResponseCode::NXRRSet),
        ),
        // nxdomain
        (empty("nope.u.test.", RecordType::ANY, none), Ok(())),
        (
            empty("www.u.test.", RecordType::ANY, none),
            Err(ResponseCode::YXDomain),
        ),
        // nxrrset
        (empty("www.u.test.", RecordType::TXT, none), Ok(())),
        (
            empty("www.u.test.", RecordType::A, none),
            Err(ResponseCode::YXRRSet),
        ),
        // outside the zone
        (
            empty("www.other.", RecordType::A, any),
            Err(ResponseCode::NotZone),
        ),
    ];
    for (pre, want) in cases {
        let got = run(&mut m, vec![pre.clone()], vec![]).map(drop);
        assert_eq!(got, want, "{pre:?}");
    }
    // yxrrset, value dependent: the whole RRset must match.
    let whole = vec![
        class(a("www.u.test.", 80), DNSClass::IN),
        class(a("www.u.test.", 81), DNSClass::IN),
    ];
    assert!(run(&mut m, whole, vec![]).is_ok());
    let part = vec![class(a("www.u.test.", 80), DNSClass::IN)];
    assert_eq!(
        run(&mut m, part, vec![]).map(drop),
        Err(ResponseCode::NXRRSet)
    );
}

#[test]
fn a_failed_prerequisite_changes_nothing() {
    let mut m = model();
    let err = run(
        &mut m,
        vec![empty("www.u.test.", RecordType::ANY, DNSClass::NONE)],
        vec![a("h1.u.test.", 1)],
    );
    assert_eq!(err.map(drop), Err(ResponseCode::YXDomain));
    assert_eq!(has(&m, "h1.u.test.", RecordType::A), 0);
    assert_eq!(m.serial(), 10);
}

#[test]
fn delete_rr_rrset_and_name() {
    let mut m = model();
    run(
        &mut m,
        vec![],
        vec![class(a("www.u.test.", 80), DNSClass::NONE)],
    )
    .unwrap();
    assert_eq!(has(&m, "www.u.test.", RecordType::A), 1);
    run(
        &mut m,
        vec![],
        vec![Record::from_rdata(
            n("www.u.test."),
            60,
            RData::TXT(TXT::new(vec!["x".into()])),
        )],
    )
    .unwrap();
    run(
        &mut m,
        vec![],
        vec![empty("www.u.test.", RecordType::A, DNSClass::ANY)],
    )
    .unwrap();
    assert_eq!(has(&m, "www.u.test.", RecordType::A), 0);
    assert_eq!(has(&m, "www.u.test.", RecordType::TXT), 1);
    let done = run(
        &mut m,
        vec![],
        vec![empty("www.u.test.", RecordType::ANY, DNSClass::ANY)],
    )
    .unwrap();
    assert!(m.node(&n("www.u.test.")).is_none());
    assert_eq!(done.serial, 14);
}

#[test]
fn the_apex_soa_and_last_ns_cannot_be_deleted() {
    let mut m = model();
    let done = run(
        &mut m,
        vec![],
        vec![
            empty("u.test.", RecordType::ANY, DNSClass::ANY),
            empty("u.test.", RecordType::SOA, DNSClass::ANY),
            class(
                Record::from_rdata(
                    n("u.test."),
                    0,
                    RData::NS(hickory_proto::rr::rdata::NS(n("ns1.u.test."))),
                ),
                DNSClass::NONE,
            ),
        ],
    )
    .unwrap();
    assert!(done.journaled.is_empty());
    assert_eq!(has(&m, "u.test.", RecordType::SOA), 1);
    assert_eq!(has(&m, "u.test.", RecordType::NS), 1);
}

#[test]
fn cname_conflicts_are_ignored() {
    let mut m = model();
    let done = run(
        &mut m,
        vec![],
        vec![
            a("alias.u.test.", 5),
            Record::from_rdata(n("www.u.test."), 60, RData::CNAME(CNAME(n("ns1.u.test.")))),
        ],
    )
    .unwrap();
    assert!(done.journaled.is_empty());
    assert_eq!(has(&m, "alias.u.test.", RecordType::A), 0);
    assert_eq!(has(&m, "www.u.test.", RecordType::CNAME), 0);
}

#[test]
fn malformed_updates_are_formerr_and_outside_names_notzone() {
    let mut m = model();
    let mut bad_ttl = empty("www.u.test.", RecordType::A, DNSClass::ANY);
    bad_ttl.ttl = 5;
    assert_eq!(
        run(&mut m, vec![], vec![bad_ttl]).map(drop),
        Err(ResponseCode::FormErr)
    );
    assert_eq!(
        run(&mut m, vec![], vec![a("x.other.", 1)]).map(drop),
        Err(ResponseCode::NotZone)
    );
    let any_add = Record::update0(n("www.u.test."), 60, RecordType::ANY);
    assert_eq!(
        run(&mut m, vec![], vec![any_add]).map(drop),
        Err(ResponseCode::FormErr)
    );
    let mut pre_ttl = empty("www.u.test.", RecordType::ANY, DNSClass::ANY);
    pre_ttl.ttl = 1;
    assert_eq!(
        run(&mut m, vec![pre_ttl], vec![]).map(drop),
        Err(ResponseCode::FormErr)
    );
}

#[test]
fn permissions_refuse_the_whole_message() {
    let mut m = model();
    let got = process(
        &mut m,
        &msg(vec![], vec![a("ok.u.test.", 1), a("no.u.test.", 2)]),
        |r| r.name == n("ok.u.test."),
    );
    assert_eq!(got.map(drop), Err(ResponseCode::Refused));
    assert_eq!(has(&m, "ok.u.test.", RecordType::A), 0);
}

#[test]
fn replay_is_idempotent() {
    let mut m = model();
    let ups = vec![
        a("h1.u.test.", 1),
        empty("www.u.test.", RecordType::A, DNSClass::ANY),
        a("www.u.test.", 9),
        class(a("h1.u.test.", 1), DNSClass::NONE),
    ];
    assert!(m.replay(&ups));
    let once = m.to_parsed().records.len();
    m.replay(&ups);
    assert_eq!(m.to_parsed().records.len(), once);
    assert_eq!(has(&m, "www.u.test.", RecordType::A), 1);
    assert_eq!(has(&m, "h1.u.test.", RecordType::A), 0);
}

/// A zone's names and records in a comparable form: each name (empty
/// non-terminals included) with its records as text, sorted.
fn shape(zone: &Zone) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = zone
        .nodes()
        .map(|(name, node)| {
            let owner = Name::from(name.clone());
            let mut records: Vec<String> = node
                .rrsets()
                .iter()
                .flat_map(|set| set.records(&owner))
                .map(|r| r.to_string())
                .collect();
            records.sort();
            (name.to_string(), records)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_patched_zone_equals_the_rebuilt_one_after_every_update() {
    let origin = Name::from_ascii("u.test.").unwrap();
    let parsed = parse_zone_str(ZONE, Path::new("u.test.zone"), &origin).unwrap();
    let mut served = Zone::build(&parsed).unwrap();
    let mut m = Model::from_zone(&served, false);
    let txt = |name: &str, text: &str| {
        Record::from_rdata(n(name), 120, RData::TXT(TXT::new(vec![text.to_owned()])))
    };
    let steps: Vec<Vec<Record>> = vec![
        // A deep name makes empty non-terminals b.c and c.
        vec![a("a.b.c.u.test.", 1)],
        vec![a("x.b.c.u.test.", 2), txt("x.b.c.u.test.", "two")],
        // Its sibling keeps b.c once a.b.c goes.
        vec![class(a("a.b.c.u.test.", 1), DNSClass::NONE)],
        // The last name below goes: b.c and c go with it.
        vec![empty("x.b.c.u.test.", RecordType::ANY, DNSClass::ANY)],
        // A name that was an empty non-terminal gets records, then loses them
        // while a name below it remains.
        vec![a("d.e.u.test.", 3), a("e.u.test.", 4)],
        vec![empty("e.u.test.", RecordType::A, DNSClass::ANY)],
        // Replace a CNAME, add to a set, change a set's TTL, a wildcard.
        vec![Record::from_rdata(
            n("alias.u.test."),
            300,
            RData::CNAME(CNAME(n("ns1.u.test."))),
        )],
        vec![a("www.u.test.", 82), a("*.w.u.test.", 5)],
        vec![class(a("www.u.test.", 80), DNSClass::NONE)],
        vec![empty("www.u.test.", RecordType::ANY, DNSClass::ANY)],
    ];
    for (i, updates) in steps.into_iter().enumerate() {
        let touched: Vec<LowerName> = updates.iter().map(|r| LowerName::new(&r.name)).collect();
        run(&mut m, vec![], updates).unwrap();
        let rebuilt = m.to_zone().unwrap();
        let patched = m.patch(served.clone(), &touched).unwrap();
        assert_eq!(shape(&patched), shape(&rebuilt), "after step {i}");
        assert_eq!(patched.record_count(), rebuilt.record_count(), "step {i}");
        assert_eq!(patched.serial(), rebuilt.serial(), "step {i}");
        // Every name resolves to the same node through the index.
        for (name, _) in rebuilt.nodes() {
            assert!(patched.node(name).is_some(), "step {i}: {name} missing");
        }
        served = patched;
    }
    assert!(served.node(&LowerName::new(&n("c.u.test."))).is_none());
    assert!(
        served
            .node(&LowerName::new(&n("e.u.test.")))
            .unwrap()
            .is_empty()
    );
}
