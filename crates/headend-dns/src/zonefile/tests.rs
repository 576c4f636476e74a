//! Parser tests: one behaviour each, on small inline zones.

use std::path::Path;

use hickory_proto::rr::rdata::{CAA, MX, NAPTR, SOA, SRV, SSHFP, TLSA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;

const HEAD: &str =
    "$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";

fn origin() -> Name {
    Name::from_ascii("example.test.").unwrap()
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn parse(text: &str) -> ParsedZone {
    match parse_zone_str(text, Path::new("t.zone"), &origin()) {
        Ok(z) => z,
        Err(errors) => panic!(
            "unexpected errors: {:?}",
            errors.iter().map(ToString::to_string).collect::<Vec<_>>()
        ),
    }
}

fn errors(text: &str) -> Vec<(usize, String)> {
    match parse_zone_str(text, Path::new("t.zone"), &origin()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| match e {
                DnsError::Parse { line, reason, .. } => (line, reason),
                other => (0, other.to_string()),
            })
            .collect(),
    }
}

/// The only error of `text`, asserting there is exactly one.
fn one_error(text: &str) -> (usize, String) {
    let mut e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:?}");
    e.remove(0)
}

/// Records after the three of `HEAD`.
fn body(text: &str) -> Vec<SourceRecord> {
    let zone = parse(&format!("{HEAD}{text}"));
    zone.records.into_iter().skip(3).collect()
}

fn only(text: &str) -> Record {
    let mut recs = body(text);
    assert_eq!(recs.len(), 1, "expected one record: {recs:?}");
    recs.remove(0).record
}

fn txt_strings(rdata: &RData) -> Vec<Vec<u8>> {
    match rdata {
        RData::TXT(t) => t.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("not TXT: {other:?}"),
    }
}

// ---- directives -------------------------------------------------------------

#[test]
fn origin_directive_changes_relative_names() {
    let r = only("$ORIGIN sub.example.test.\nwww A 192.0.2.9\n");
    assert_eq!(r.name, n("www.sub.example.test."));
}

#[test]
fn relative_origin_directive_is_relative_to_the_current_origin() {
    let r = only("$ORIGIN sub\nwww A 192.0.2.9\n");
    assert_eq!(r.name, n("www.sub.example.test."));
}

#[test]
fn ttl_directive_sets_the_default_ttl() {
    let r = only("$TTL 1h30m\nwww A 192.0.2.9\n");
    assert_eq!(r.ttl, 5400);
}

#[test]
fn explicit_ttl_overrides_the_default() {
    let r = only("www 60 A 192.0.2.9\n");
    assert_eq!(r.ttl, 60);
}

#[test]
fn ttl_with_units_on_a_record() {
    assert_eq!(only("www 2d A 192.0.2.9\n").ttl, 172_800);
}

#[test]
fn soa_minimum_is_the_ttl_when_soa_comes_first_without_any_ttl() {
    let zone = parse("@ SOA ns1 hostmaster 1 2 3 4 900\n@ NS ns1\nns1 A 192.0.2.1\n");
    assert!(zone.records.iter().all(|r| r.record.ttl == 900));
}

#[test]
fn missing_ttl_without_default_is_an_error() {
    let (line, reason) = one_error("ns1 A 192.0.2.1\n");
    assert_eq!(line, 1);
    assert!(reason.contains("$TTL"), "{reason}");
}

#[test]
fn without_ttl_directive_the_previous_ttl_is_reused() {
    let zone = parse("@ 600 SOA ns1 hostmaster 1 2 3 4 900\n@ NS ns1\n");
    assert_eq!(zone.records[1].record.ttl, 600);
}

#[test]
fn unknown_directive_is_an_error() {
    let (line, reason) = one_error(&format!("{HEAD}$FOO bar\n"));
    assert_eq!(line, 5);
    assert!(reason.contains("$FOO"));
}

/// Each record as `owner ttl rdata`.
fn shown(recs: &[SourceRecord]) -> Vec<String> {
    recs.iter()
        .map(|r| format!("{} {} {}", r.record.name, r.record.ttl, r.record.data))
        .collect()
}

#[test]
fn generate_makes_one_record_per_value() {
    let recs = body("$GENERATE 1-3 h$ A 192.0.2.$\nafter A 192.0.2.99\n");
    let got = shown(&recs);
    assert_eq!(
        got,
        vec![
            "h1.example.test. 3600 192.0.2.1",
            "h2.example.test. 3600 192.0.2.2",
            "h3.example.test. 3600 192.0.2.3",
            "after.example.test. 3600 192.0.2.99",
        ]
    );
    // Every generated record points at the directive's line.
    assert!(recs.iter().take(3).all(|r| r.line == recs[0].line));
}

#[test]
fn generate_reverse_zones_with_ttl_class_step_and_modifiers() {
    let recs = body(
        "$GENERATE 10-14/2 ${0,3}.r 300 IN PTR host-${100,4,x}.example.net.\n\
         $GENERATE 0-1 ${0,7,n}.v6 PTR h${0,2,X}.example.net.\n",
    );
    let got = shown(&recs);
    assert_eq!(
        got,
        vec![
            "010.r.example.test. 300 host-006e.example.net.",
            "012.r.example.test. 300 host-0070.example.net.",
            "014.r.example.test. 300 host-0072.example.net.",
            "0.0.0.0.v6.example.test. 3600 h00.example.net.",
            "1.0.0.0.v6.example.test. 3600 h01.example.net.",
        ]
    );
}

#[test]
fn generate_errors_name_the_value_and_keep_the_blank_owner_rule() {
    let (line, reason) = one_error(&format!("{HEAD}$GENERATE 250-260 h$ A 192.0.2.$\n"));
    assert_eq!(line, HEAD.lines().count() + 1);
    assert!(reason.contains("$GENERATE at 256"), "{reason}");
    let (_, reason) = one_error(&format!("{HEAD}$GENERATE 5-1 h$ A 192.0.2.$\n"));
    assert!(reason.contains("starts above its end"), "{reason}");
    let (_, reason) = one_error(&format!("{HEAD}$GENERATE 1-2 h$ A\n"));
    assert!(reason.contains("takes a range"), "{reason}");
    let (_, reason) = one_error(&format!("{HEAD}$GENERATE 1-2 h${{1,2,q}} A 192.0.2.1\n"));
    assert!(reason.contains("bad modifier"), "{reason}");
    // A blank owner after $GENERATE repeats the record before it, not a generated one.
    let recs = body("before A 192.0.2.1\n$GENERATE 1-2 g$ A 192.0.2.$\n  TXT \"t\"\n");
    let txt = recs.last().unwrap();
    assert_eq!(txt.record.name.to_string(), "before.example.test.");
}

// ---- $INCLUDE ---------------------------------------------------------------

#[test]
fn include_reads_a_file_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hosts.inc"), "www A 192.0.2.80\n").unwrap();
    let main = dir.path().join("main.zone");
    std::fs::write(
        &main,
        format!("{HEAD}$INCLUDE hosts.inc\nafter A 192.0.2.81\n"),
    )
    .unwrap();
    let zone = parse_zone_file(&main, &origin()).unwrap();
    let www = &zone.records[3];
    assert_eq!(www.record.name, n("www.example.test."));
    assert_eq!(*www.file, *dir.path().join("hosts.inc"));
    assert_eq!(www.line, 1);
    assert_eq!(zone.records[4].line, 6);
    assert_eq!(*zone.records[4].file, *main);
}

#[test]
fn include_with_origin_uses_it_and_restores_the_outer_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sub.inc"), "www A 192.0.2.80\n").unwrap();
    let main = dir.path().join("main.zone");
    std::fs::write(
        &main,
        format!("{HEAD}$INCLUDE \"sub.inc\" lab\nwww A 192.0.2.81\n"),
    )
    .unwrap();
    let zone = parse_zone_file(&main, &origin()).unwrap();
    assert_eq!(zone.records[3].record.name, n("www.lab.example.test."));
    assert_eq!(zone.records[4].record.name, n("www.example.test."));
}

#[test]
fn include_origin_set_inside_does_not_leak_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.inc"),
        "$ORIGIN other.test.\nwww A 192.0.2.80\n",
    )
    .unwrap();
    let main = dir.path().join("main.zone");
    std::fs::write(&main, format!("{HEAD}$INCLUDE x.inc\nmail A 192.0.2.81\n")).unwrap();
    let zone = parse_zone_file(&main, &origin()).unwrap();
    assert_eq!(zone.records[3].record.name, n("www.other.test."));
    assert_eq!(zone.records[4].record.name, n("mail.example.test."));
}

#[test]
fn include_loop_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.inc"), "$INCLUDE b.inc\n").unwrap();
    std::fs::write(dir.path().join("b.inc"), "$INCLUDE a.inc\n").unwrap();
    let main = dir.path().join("main.zone");
    std::fs::write(&main, format!("{HEAD}$INCLUDE a.inc\n")).unwrap();
    let errs = parse_zone_file(&main, &origin()).unwrap_err();
    assert_eq!(errs.len(), 1);
    let text = errs[0].to_string();
    assert!(text.contains("loop"), "{text}");
    assert!(text.contains("b.inc:1:"), "{text}");
}

#[test]
fn include_depth_is_limited() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        std::fs::write(
            dir.path().join(format!("{i}.inc")),
            format!("$INCLUDE {}.inc\n", i + 1),
        )
        .unwrap();
    }
    let main = dir.path().join("main.zone");
    std::fs::write(&main, format!("{HEAD}$INCLUDE 0.inc\n")).unwrap();
    let errs = parse_zone_file(&main, &origin()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].to_string().contains("nest more than"),
        "{}",
        errs[0]
    );
}

#[test]
fn include_of_a_missing_file_names_it_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.zone");
    std::fs::write(&main, format!("{HEAD}$INCLUDE nope.inc\n")).unwrap();
    let errs = parse_zone_file(&main, &origin()).unwrap_err();
    let text = errs[0].to_string();
    assert!(
        text.contains("main.zone:5:") && text.contains("nope.inc"),
        "{text}"
    );
}

#[test]
fn include_is_refused_when_disabled() {
    let errs = parse_zone_bytes(
        format!("{HEAD}$INCLUDE /etc/hostname\n").as_bytes(),
        Path::new("t.zone"),
        &origin(),
        &ParseOptions::without_include(),
    )
    .unwrap_err();
    assert!(errs[0].to_string().contains("not allowed"));
}

#[test]
fn missing_zone_file_is_an_io_error() {
    let errs = parse_zone_file(Path::new("/nonexistent/zone"), &origin()).unwrap_err();
    assert!(matches!(errs[0], DnsError::Io { .. }));
}

// ---- owners, names, TTL and class fields ------------------------------------

#[test]
fn at_sign_owner_is_the_origin() {
    assert_eq!(only("@ TXT hello\n").name, origin());
}

#[test]
fn blank_owner_repeats_the_previous_owner() {
    let recs = body("www A 192.0.2.9\n  A 192.0.2.10\n\tAAAA 2001:db8::9\n");
    assert!(recs.iter().all(|r| r.record.name == n("www.example.test.")));
}

#[test]
fn blank_owner_on_the_first_record_is_an_error() {
    let (line, reason) = one_error("$TTL 1h\n  A 192.0.2.1\n");
    assert_eq!(line, 2);
    assert!(reason.contains("no owner"));
}

#[test]
fn absolute_owner_is_kept() {
    assert_eq!(
        only("host.example.test. A 192.0.2.9\n").name,
        n("host.example.test.")
    );
}

#[test]
fn owner_case_is_preserved() {
    let r = only("MixedCase A 192.0.2.9\n");
    assert_eq!(r.name.iter().next().unwrap(), b"MixedCase");
}

#[test]
fn escaped_dot_in_owner_is_part_of_the_label() {
    let r = only("john\\.doe A 192.0.2.9\n");
    assert_eq!(r.name.iter().next().unwrap(), b"john.doe");
    assert_eq!(r.name.num_labels(), 3);
}

#[test]
fn decimal_escape_in_owner_is_one_octet() {
    let r = only("a\\095b TXT x\n");
    assert_eq!(r.name.iter().next().unwrap(), b"a_b");
}

#[test]
fn wildcard_owner_is_accepted() {
    assert!(only("*.wild A 192.0.2.9\n").name.is_wildcard());
}

#[test]
fn ttl_then_class_order_is_accepted() {
    let r = only("www 300 IN A 192.0.2.9\n");
    assert_eq!((r.ttl, r.dns_class), (300, DNSClass::IN));
}

#[test]
fn class_then_ttl_order_is_accepted() {
    assert_eq!(only("www IN 300 A 192.0.2.9\n").ttl, 300);
}

#[test]
fn class_alone_is_accepted() {
    assert_eq!(only("www in A 192.0.2.9\n").ttl, 3600);
}

#[test]
fn class1_is_in() {
    assert_eq!(only("www CLASS1 A 192.0.2.9\n").dns_class, DNSClass::IN);
}

#[test]
fn class_other_than_in_is_an_error_with_its_line() {
    let (line, reason) = one_error(&format!("{HEAD}version CH TXT \"1\"\n"));
    assert_eq!(line, 5);
    assert!(reason.contains("class IN only"), "{reason}");
}

#[test]
fn generic_class_other_than_one_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}x CLASS3 TXT a\n"));
    assert!(reason.contains("CLASS3"));
}

#[test]
fn two_ttls_in_one_record_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}www 300 600 A 192.0.2.9\n"));
    assert!(reason.contains("second TTL"));
}

#[test]
fn bad_ttl_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}www 5x A 192.0.2.9\n"));
    assert!(reason.contains("not a TTL"), "{reason}");
}

#[test]
fn ttl_above_2_31_is_parsed_for_the_check_to_report() {
    assert_eq!(only("www 4294967295 A 192.0.2.9\n").ttl, u32::MAX);
}

#[test]
fn label_over_63_bytes_in_owner_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}{} A 192.0.2.9\n", "a".repeat(64)));
    assert!(reason.contains("at most 63"));
}

#[test]
fn name_over_255_bytes_in_rdata_is_an_error() {
    let long = vec!["a".repeat(63); 4].join(".");
    let (_, reason) = one_error(&format!("{HEAD}x CNAME {long}\n"));
    assert!(reason.contains("at most 255"), "{reason}");
}

// ---- lexical structure ------------------------------------------------------

#[test]
fn parentheses_span_lines() {
    let zone = parse(
        "$TTL 1h\n@ IN SOA ns1.example.test. hostmaster.example.test. (\n    2024010101 ; serial\n    2h ; refresh\n    30m\n    2w\n    5m )\n@ NS ns1\n",
    );
    let RData::SOA(soa) = &zone.records[0].record.data else {
        panic!("not SOA");
    };
    assert_eq!(soa.serial, 2_024_010_101);
    assert_eq!(
        (soa.refresh, soa.retry, soa.expire, soa.minimum),
        (7200, 1800, 1_209_600, 300)
    );
    assert_eq!(zone.records[1].line, 8);
}

#[test]
fn comments_are_ignored() {
    let r = only("; a comment line\nwww A 192.0.2.9 ; trailing comment\n");
    assert_eq!(r.data, RData::A("192.0.2.9".parse().unwrap()));
}

#[test]
fn multi_line_dkim_txt_in_parentheses_keeps_every_string() {
    let r = only(
        "sel1._domainkey IN TXT ( \"v=DKIM1; k=rsa; \"\n        \"p=MIIBIjANBgkqh...part1\"\n        \"part2...\" )  ; comment\n",
    );
    assert_eq!(r.name, n("sel1._domainkey.example.test."));
    assert_eq!(
        txt_strings(&r.data),
        vec![
            b"v=DKIM1; k=rsa; ".to_vec(),
            b"p=MIIBIjANBgkqh...part1".to_vec(),
            b"part2...".to_vec()
        ]
    );
}

#[test]
fn txt_with_several_strings_keeps_them_apart() {
    let r = only("x TXT \"one\" \"two\" three\n");
    assert_eq!(
        txt_strings(&r.data),
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
}

#[test]
fn quoted_string_escapes_are_resolved() {
    let r = only("x TXT \"q\\\"q\" \"semi\\;colon\" \"back\\\\slash\" \"\\233\"\n");
    assert_eq!(
        txt_strings(&r.data),
        vec![
            b"q\"q".to_vec(),
            b"semi;colon".to_vec(),
            b"back\\slash".to_vec(),
            vec![233]
        ]
    );
}

#[test]
fn semicolon_inside_a_quoted_string_is_not_a_comment() {
    let r = only("_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:d@example.test\"\n");
    assert_eq!(
        txt_strings(&r.data),
        vec![b"v=DMARC1; p=reject; rua=mailto:d@example.test".to_vec()]
    );
}

#[test]
fn empty_quoted_string_is_an_empty_txt_string() {
    assert_eq!(
        txt_strings(&only("x TXT \"\"\n").data),
        vec![Vec::<u8>::new()]
    );
}

#[test]
fn txt_string_over_255_bytes_is_kept_for_the_check() {
    let long = "k".repeat(300);
    let r = only(&format!("x TXT \"{long}\"\n"));
    assert_eq!(txt_strings(&r.data)[0].len(), 300);
}

#[test]
fn txt_without_strings_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}x TXT\n"));
    assert!(reason.contains("at least one string"));
}

#[test]
fn unterminated_quote_is_an_error_and_parsing_goes_on() {
    let e = errors(&format!(
        "{HEAD}x TXT \"open\ny A 192.0.2.300\nz A 192.0.2.1\n"
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].0, 5);
    assert_eq!(e[1].0, 6);
}

#[test]
fn every_error_of_a_file_is_reported_with_its_line() {
    let e = errors(&format!(
        "{HEAD}a A 300.1.2.3\nb A 192.0.2.1\nc MX ten mail\nd FOO bar\n"
    ));
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![5, 7, 8]);
}

#[test]
fn non_utf8_bytes_in_txt_are_kept() {
    let mut text = format!("{HEAD}x TXT \"caf").into_bytes();
    text.push(0xe9);
    text.extend_from_slice(b"\"\n");
    let zone = parse_zone_bytes(
        &text,
        Path::new("t.zone"),
        &origin(),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(
        txt_strings(&zone.records[3].record.data),
        vec![b"caf\xe9".to_vec()]
    );
}

// ---- record types -----------------------------------------------------------

#[test]
fn a_record() {
    assert_eq!(
        only("www A 192.0.2.9\n").data,
        RData::A("192.0.2.9".parse().unwrap())
    );
}

#[test]
fn a_record_with_a_bad_address_names_it() {
    let (_, reason) = one_error(&format!("{HEAD}www A 300.1.2.3\n"));
    assert_eq!(reason, "A record: `300.1.2.3` is not an IPv4 address");
}

#[test]
fn aaaa_record() {
    assert_eq!(
        only("www AAAA 2001:db8::1\n").data,
        RData::AAAA("2001:db8::1".parse().unwrap())
    );
}

#[test]
fn aaaa_record_with_a_bad_address_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}www AAAA 2001:db8::zz\n"));
    assert!(reason.contains("not an IPv6 address"));
}

#[test]
fn ns_record_target_is_made_absolute() {
    let r = only("sub NS ns1.sub\n");
    assert_eq!(
        r.data,
        RData::NS(hickory_proto::rr::rdata::NS(n("ns1.sub.example.test.")))
    );
}

#[test]
fn cname_record() {
    let r = only("alias CNAME www.other.test.\n");
    assert_eq!(
        r.data,
        RData::CNAME(hickory_proto::rr::rdata::CNAME(n("www.other.test.")))
    );
}

#[test]
fn ptr_record() {
    let r = only("9 PTR www\n");
    assert_eq!(
        r.data,
        RData::PTR(hickory_proto::rr::rdata::PTR(n("www.example.test.")))
    );
}

#[test]
fn mx_record() {
    let r = only("@ MX 10 mail\n");
    assert_eq!(r.data, RData::MX(MX::new(10, n("mail.example.test."))));
}

#[test]
fn at_sign_inside_rdata_is_the_origin() {
    let r = only("@ MX 10 @\n");
    assert_eq!(r.data, RData::MX(MX::new(10, origin())));
}

#[test]
fn mx_with_a_bad_preference_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}@ MX 70000 mail\n"));
    assert!(reason.contains("preference `70000`"), "{reason}");
}

#[test]
fn soa_record_fields() {
    let zone = parse("$TTL 1h\n@ SOA ns1 hostmaster.example.test. 42 1h 15m 1w 5m\n");
    let RData::SOA(soa) = &zone.records[0].record.data else {
        panic!()
    };
    let want = SOA::new(
        n("ns1.example.test."),
        n("hostmaster.example.test."),
        42,
        3600,
        900,
        604_800,
        300,
    );
    assert_eq!(soa, &want);
}

#[test]
fn soa_with_a_missing_field_is_an_error() {
    let (_, reason) = one_error("$TTL 1h\n@ SOA ns1 hostmaster 1 2 3 4\n");
    assert!(reason.contains("minimum is missing"), "{reason}");
}

#[test]
fn srv_record() {
    let r = only("_sip._tcp SRV 10 60 5060 sip\n");
    assert_eq!(
        r.data,
        RData::SRV(SRV::new(10, 60, 5060, n("sip.example.test.")))
    );
}

#[test]
fn caa_record() {
    let r = only("@ CAA 0 issue \"ca.example.net\"\n");
    let RData::CAA(caa) = &r.data else { panic!() };
    assert_eq!(caa.tag, "issue");
    assert_eq!(caa.value, b"ca.example.net");
    assert!(!caa.issuer_critical);
}

#[test]
fn caa_with_a_bad_tag_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}@ CAA 0 is-sue \"x\"\n"));
    assert!(reason.contains("tag"));
}

#[test]
fn caa_critical_flag_is_kept() {
    let RData::CAA(caa) = only("@ CAA 128 iodef \"mailto:sec@example.test\"\n").data else {
        panic!()
    };
    assert!(caa.issuer_critical);
    let _: &CAA = &caa;
}

#[test]
fn ds_record_with_hex_split_by_blanks() {
    let r = only(
        "sub DS 12345 13 2 ( 3B6E6F1B2C4D5E6F7A8B9C0D1E2F3A4B\n 5C6D7E8F9A0B1C2D3E4F5A6B7C8D9E0F )\n",
    );
    assert_eq!(r.record_type(), RecordType::DS);
    let RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DS(ds)) = &r.data else {
        panic!()
    };
    assert_eq!(ds.key_tag(), 12345);
    assert_eq!(ds.digest().len(), 32);
}

#[test]
fn ds_accepts_an_algorithm_mnemonic() {
    let r = only("sub DS 1 ECDSAP256SHA256 2 00ff\n");
    assert_eq!(r.record_type(), RecordType::DS);
}

#[test]
fn tlsa_record() {
    let r = only("_443._tcp.www TLSA 3 1 1 ( 0011 2233 )\n");
    let RData::TLSA(tlsa) = &r.data else { panic!() };
    let _: &TLSA = tlsa;
    assert_eq!(&*tlsa.cert_data, &[0x00, 0x11, 0x22, 0x33]);
}

#[test]
fn sshfp_record() {
    let r = only("host SSHFP 4 2 0123456789abcdef\n");
    let RData::SSHFP(s) = &r.data else { panic!() };
    let _: &SSHFP = s;
    assert_eq!(
        &*s.fingerprint,
        &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
    );
}

#[test]
fn naptr_record() {
    let r = only("@ NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp\n");
    let RData::NAPTR(naptr) = &r.data else {
        panic!()
    };
    let _: &NAPTR = naptr;
    assert_eq!(naptr.order, 100);
    assert_eq!(&*naptr.services, b"SIP+D2U");
    assert_eq!(&naptr.replacement, &n("_sip._udp.example.test."));
}

#[test]
fn generic_type_with_generic_rdata() {
    let r = only("x TYPE65280 \\# 3 abcdef\n");
    assert_eq!(r.record_type(), RecordType::Unknown(65280));
}

#[test]
fn generic_rdata_for_a_known_type_is_decoded() {
    let r = only("x A \\# 4 C0000209\n");
    assert_eq!(r.data, RData::A("192.0.2.9".parse().unwrap()));
}

#[test]
fn generic_type_number_of_a_known_type_is_that_type() {
    assert_eq!(
        only("x TYPE1 192.0.2.9\n").data,
        RData::A("192.0.2.9".parse().unwrap())
    );
}

#[test]
fn generic_rdata_of_zero_length() {
    assert_eq!(
        only("x TYPE65280 \\# 0\n").record_type(),
        RecordType::Unknown(65280)
    );
}

#[test]
fn generic_rdata_length_mismatch_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}x TYPE65280 \\# 4 abcdef\n"));
    assert!(reason.contains("says 4 bytes"), "{reason}");
}

#[test]
fn generic_rdata_that_is_invalid_for_the_type_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}x A \\# 3 C00002\n"));
    assert!(reason.starts_with("A record"), "{reason}");
}

#[test]
fn unknown_type_number_needs_the_generic_form() {
    let (_, reason) = one_error(&format!("{HEAD}x TYPE65280 hello\n"));
    assert!(reason.contains("\\#"), "{reason}");
}

#[test]
fn unknown_mnemonic_is_named_in_the_error() {
    let (_, reason) = one_error(&format!("{HEAD}x SFP \"v=spf1 -all\"\n"));
    assert_eq!(reason, "unknown record type `SFP`");
}

#[test]
fn meta_type_is_refused() {
    let (_, reason) = one_error(&format!("{HEAD}x TYPE255 \\# 0\n"));
    assert!(reason.contains("cannot be served"), "{reason}");
}

#[test]
fn type_mnemonic_is_case_insensitive() {
    assert_eq!(only("www a 192.0.2.9\n").record_type(), RecordType::A);
}

#[test]
fn trailing_fields_are_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}www A 192.0.2.9 192.0.2.10\n"));
    assert!(reason.contains("unexpected `192.0.2.10`"), "{reason}");
}

#[test]
fn record_without_type_is_an_error() {
    let (_, reason) = one_error(&format!("{HEAD}www 300 IN\n"));
    assert!(reason.contains("no type"));
}

#[test]
fn txt_rdata_equals_hickory_txt() {
    assert_eq!(
        only("x TXT a\n").data,
        RData::TXT(TXT::new(vec!["a".to_string()]))
    );
}
