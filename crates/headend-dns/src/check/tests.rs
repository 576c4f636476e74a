//! One small zone per check, each triggering exactly that finding.

use std::path::Path;

use hickory_proto::rr::Name;

use super::*;
use crate::zonefile::parse_zone_str;

const HEAD: &str =
    "$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";

fn check(text: &str) -> Vec<Finding> {
    let origin = Name::from_ascii("example.test.").unwrap();
    let zone = parse_zone_str(text, Path::new("t.zone"), &origin).unwrap_or_else(|e| {
        panic!(
            "parse failed: {:?}",
            e.iter().map(ToString::to_string).collect::<Vec<_>>()
        )
    });
    check_zone(&zone)
}

/// Asserts exactly one finding, of `severity`, at `line`, whose message contains `needle`.
fn assert_one(text: &str, severity: Severity, line: usize, needle: &str) {
    let f = check(text);
    assert_eq!(f.len(), 1, "expected exactly one finding, got {:#?}", f);
    assert_eq!(f[0].severity, severity, "{}", f[0]);
    assert_eq!(f[0].line, line, "{}", f[0]);
    assert!(
        f[0].message.contains(needle),
        "`{}` lacks `{needle}`",
        f[0].message
    );
}

#[test]
fn clean_zone_has_no_findings() {
    let f = check(&format!(
        "{HEAD}www A 192.0.2.10\nalias CNAME www\n@ MX 10 mail\nmail A 192.0.2.25\n*.wild A 192.0.2.30\n_sip._tcp SRV 0 0 5060 www\nsub NS ns1.sub\nns1.sub A 192.0.2.53\n"
    ));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn zone_without_soa_is_an_error() {
    assert_one(
        "$TTL 1h\n@ NS ns1\nns1 A 192.0.2.1\n",
        Severity::Error,
        0,
        "no SOA",
    );
}

#[test]
fn second_soa_is_an_error() {
    assert_one(
        &format!("{HEAD}@ SOA ns1 hostmaster 2 7200 3600 1209600 300\n"),
        Severity::Error,
        5,
        "second SOA",
    );
}

#[test]
fn soa_below_the_apex_is_an_error() {
    assert_one(
        &format!("{HEAD}sub SOA ns1 hostmaster 2 7200 3600 1209600 300\n"),
        Severity::Error,
        5,
        "not at the zone apex",
    );
}

#[test]
fn missing_apex_ns_is_an_error() {
    assert_one(
        "$TTL 1h\n@ SOA ns1 hostmaster 1 2 3 4 5\nns1 A 192.0.2.1\n",
        Severity::Error,
        2,
        "no NS records at the zone apex",
    );
}

#[test]
fn cname_beside_other_data_is_an_error() {
    assert_one(
        &format!("{HEAD}www CNAME host.other.test.\nwww TXT \"x\"\n"),
        Severity::Error,
        5,
        "CNAME and other data (TXT at line 6)",
    );
}

#[test]
fn cname_at_the_apex_is_an_error() {
    assert_one(
        &format!("{HEAD}@ CNAME host.other.test.\n"),
        Severity::Error,
        5,
        "CNAME and other data",
    );
}

#[test]
fn two_cnames_at_one_name_is_an_error() {
    assert_one(
        &format!("{HEAD}www CNAME a.other.test.\nwww CNAME b.other.test.\n"),
        Severity::Error,
        6,
        "more than one CNAME",
    );
}

#[test]
fn record_outside_the_zone_is_an_error() {
    assert_one(
        &format!("{HEAD}www.other.test. A 192.0.2.9\n"),
        Severity::Error,
        5,
        "outside the zone",
    );
}

#[test]
fn data_below_a_delegation_is_occluded() {
    assert_one(
        &format!("{HEAD}sub NS ns1.sub\nns1.sub A 192.0.2.53\nwww.sub A 192.0.2.54\n"),
        Severity::Warning,
        7,
        "below the delegation point",
    );
}

#[test]
fn non_glue_data_at_a_delegation_point_is_occluded() {
    assert_one(
        &format!("{HEAD}sub NS ns1.sub\nns1.sub A 192.0.2.53\nsub TXT \"x\"\n"),
        Severity::Warning,
        7,
        "delegation point",
    );
}

#[test]
fn ds_and_glue_at_a_delegation_are_fine() {
    let f = check(&format!(
        "{HEAD}sub NS ns1.sub\nsub DS 1 13 2 00ff\nns1.sub A 192.0.2.53\nns1.sub AAAA 2001:db8::53\n"
    ));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn missing_glue_for_an_apex_name_server_is_an_error() {
    assert_one(
        &format!("{HEAD}@ NS ns2\n"),
        Severity::Error,
        5,
        "missing glue: name server `ns2.example.test.`",
    );
}

#[test]
fn missing_glue_below_a_delegation_is_an_error() {
    assert_one(
        &format!("{HEAD}sub NS ns1.sub\n"),
        Severity::Error,
        5,
        "missing glue",
    );
}

#[test]
fn out_of_zone_name_server_needs_no_glue() {
    assert!(check(&format!("{HEAD}sub NS ns.other.test.\n")).is_empty());
}

#[test]
fn duplicate_record_is_a_warning() {
    assert_one(
        &format!("{HEAD}www A 192.0.2.9\nWWW A 192.0.2.9\n"),
        Severity::Warning,
        6,
        "duplicate record, ignored",
    );
}

#[test]
fn duplicate_with_names_differing_in_case_in_rdata_is_a_duplicate() {
    assert_one(
        &format!("{HEAD}@ MX 10 ns1\n@ MX 10 NS1\n"),
        Severity::Warning,
        6,
        "duplicate record",
    );
}

#[test]
fn ttl_above_2_31_minus_1_is_an_error() {
    assert_one(
        &format!("{HEAD}www 2147483648 A 192.0.2.9\n"),
        Severity::Error,
        5,
        "RFC 2181 §8",
    );
}

#[test]
fn ttl_of_2_31_minus_1_is_fine() {
    assert!(check(&format!("{HEAD}www 2147483647 A 192.0.2.9\n")).is_empty());
}

#[test]
fn txt_string_over_255_bytes_is_an_error_with_the_split_hint() {
    let long = "p".repeat(256);
    assert_one(
        &format!("{HEAD}k TXT \"{long}\"\n"),
        Severity::Error,
        5,
        "split it into several quoted strings of at most 255 bytes: \"part1\" \"part2\"",
    );
}

#[test]
fn txt_string_of_255_bytes_is_fine() {
    let s = "p".repeat(255);
    assert!(check(&format!("{HEAD}k TXT \"{s}\" \"{s}\"\n")).is_empty());
}

#[test]
fn cname_to_a_missing_in_zone_name_is_a_warning() {
    assert_one(
        &format!("{HEAD}alias CNAME nothing\n"),
        Severity::Warning,
        5,
        "CNAME target `nothing.example.test.`",
    );
}

#[test]
fn cname_chain_inside_the_zone_is_fine() {
    assert!(check(&format!("{HEAD}a CNAME b\nb CNAME ns1\n")).is_empty());
}

#[test]
fn mx_to_an_in_zone_name_without_address_is_a_warning() {
    assert_one(
        &format!("{HEAD}@ MX 10 mail\nmail TXT \"no address\"\n"),
        Severity::Warning,
        5,
        "MX target `mail.example.test.`",
    );
}

#[test]
fn mx_target_covered_by_a_wildcard_is_fine() {
    assert!(check(&format!("{HEAD}@ MX 10 mx.wild\n*.wild A 192.0.2.9\n")).is_empty());
}

#[test]
fn srv_to_an_in_zone_name_without_address_is_a_warning() {
    assert_one(
        &format!("{HEAD}_x._tcp SRV 0 0 80 nohost\n"),
        Severity::Warning,
        5,
        "SRV target",
    );
}

#[test]
fn rrset_with_differing_ttls_is_a_warning() {
    assert_one(
        &format!("{HEAD}www 300 A 192.0.2.9\nwww 600 A 192.0.2.10\nwww 900 A 192.0.2.11\n"),
        Severity::Warning,
        6,
        "RFC 2181 §5.2",
    );
}

#[test]
fn errors_come_before_warnings() {
    let f = check(&format!(
        "{HEAD}www A 192.0.2.9\nwww A 192.0.2.9\nx 4294967295 A 192.0.2.1\n"
    ));
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[1].severity, Severity::Warning);
}

#[test]
fn finding_display_is_file_line_severity_message() {
    let f = check(&format!("{HEAD}www.other.test. A 192.0.2.9\n"));
    assert!(
        f[0].to_string()
            .starts_with("t.zone:5: error: `www.other.test.` is outside"),
        "{}",
        f[0]
    );
}

#[test]
fn shipped_example_zones_have_no_errors() {
    let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones");
    for (file, origin) in [
        ("example.test.zone", "example.test."),
        ("2.0.192.in-addr.arpa.zone", "2.0.192.in-addr.arpa."),
    ] {
        let path = zones.join(file);
        let origin = Name::from_ascii(origin).unwrap();
        let zone = crate::zonefile::parse_zone_file(&path, &origin).unwrap_or_else(|e| {
            panic!(
                "{file}: {:?}",
                e.iter().map(ToString::to_string).collect::<Vec<_>>()
            )
        });
        assert!(zone.records.len() > 5, "{file} is nearly empty");
        let findings = check_zone(&zone);
        assert!(findings.is_empty(), "{file}: {findings:#?}");
    }
}

#[test]
fn each_finding_names_its_family() {
    let family = |text: &str| {
        let f = check(text);
        assert_eq!(f.len(), 1, "{f:#?}");
        (f[0].severity, f[0].check)
    };
    assert_eq!(
        family(&format!("{HEAD}c CNAME ns1\nc A 192.0.2.9\n")),
        (Severity::Error, Check::Structure)
    );
    assert_eq!(
        family(&format!("{HEAD}sub NS ns.sub\n")),
        (Severity::Error, Check::Delegation)
    );
    assert_eq!(
        family(&format!(
            "{HEAD}sel._domainkey TXT \"v=DKIM1; k=rsa; p=!!not*base64!!\"\n"
        )),
        (Severity::Error, Check::MailAuth)
    );
}

#[test]
fn dname_beside_other_data_is_clean() {
    // RFC 6672 §2.4 allows other types beside a DNAME (unlike a CNAME).
    assert!(
        check(&format!(
            "{HEAD}old DNAME new.example.net.\nold TXT \"x\"\n"
        ))
        .is_empty()
    );
}

#[test]
fn two_dnames_at_one_name_are_an_error() {
    assert_one(
        &format!("{HEAD}old DNAME a.example.net.\nold DNAME b.example.net.\n"),
        Severity::Error,
        6,
        "more than one DNAME",
    );
}

#[test]
fn data_below_a_dname_is_an_error() {
    assert_one(
        &format!("{HEAD}old DNAME new.example.net.\nwww.old A 192.0.2.9\n"),
        Severity::Error,
        6,
        "below the DNAME",
    );
}

#[test]
fn dname_beside_a_cname_is_an_error() {
    assert_one(
        &format!("{HEAD}old CNAME www\nold DNAME new.example.net.\nwww A 192.0.2.9\n"),
        Severity::Error,
        5,
        "CNAME and other data",
    );
}
