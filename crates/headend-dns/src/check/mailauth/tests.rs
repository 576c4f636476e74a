//! Good and bad SPF, DMARC and DKIM records in the forms admins write them.

use std::path::Path;

use hickory_proto::rr::Name;

use crate::check::{Finding, Severity, check_zone, check_zone_with};
use crate::zone::Zone;
use crate::zonefile::{ParsedZone, parse_zone_str};

const HEAD: &str =
    "$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";

/// A real 2048-bit RSA DKIM key (the one in zones/example.test.zone), split
/// over several strings the way DKIM generators print it.
const RSA2048: &str = "( \"v=DKIM1; k=rsa; \"\n \"p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA8ZAQlbA4ZWqE9LATl7WVZcsEToNQeczvTAp9iTd277Zcj9zc+X5yc0GiQyrh92MzZZFLdHWrgfDmC5ZC7GpQ\"\n \"BJ3XJxsYpGUuDun0e0CqRw2Eb1PdJEk/wDioMu2snqH5m5YlxUpdiWhsNqNxQMqkCsUEppuq8T85m6GFZcPZbjj7bAOGWjLJ+ZLglYa2IGNtJ2+qDo2tLq9y5ppYIy8L\"\n \"QBWDkzsMy7Ufxm/3VIozGihXu5Gr3KdABR/gKNeGNpJXYf/ZOxJ6rfXc2ULx8dKTHjND5q9Dx1s++PIreFlNRVgRcGmltwcg19tMUowtZzlESxQ7x/TgXt5NASlnk1qi\"\n \"cwIDAQAB\" )";

const RSA1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCprXCOVjtjfZps0MRW4y8hcIutRr7B8OdiyfZpUdPlGuNnrCjNRvyii0NkWAhS+uAQVP7vqkWSrfduC/6QIlyz9EfcUAKUGizJ0XRxzydozuv2DOnQ6Gsb5YqWYbnpxvNW2BJZzJlAAp9Eih0dQ3y0MqVchQm3iYQotI7PT/k9VQIDAQAB";

const RSA512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMmAy60B5ALg1PQEAARIcYCIdua/YOg0EzE4RnEIqB/azkT597yemuNLS/UMFm4ILOzWXR2ODHf5Jy3zpHo60aMCAwEAAQ==";

const ED25519: &str = "/NUwRja6E348wnWIf6/TQj+sYWRriGIrIVyTGDhJYLY=";

fn parse(origin: &str, text: &str) -> ParsedZone {
    let origin = Name::from_ascii(origin).unwrap();
    parse_zone_str(text, Path::new("t.zone"), &origin).unwrap_or_else(|e| {
        panic!(
            "parse failed: {:?}",
            e.iter().map(ToString::to_string).collect::<Vec<_>>()
        )
    })
}

fn check(records: &str) -> Vec<Finding> {
    check_zone(&parse("example.test.", &format!("{HEAD}{records}")))
}

fn with_severity(f: &[Finding], severity: Severity) -> Vec<&Finding> {
    f.iter().filter(|x| x.severity == severity).collect()
}

/// Asserts exactly one finding, of `severity`, on line 5, containing `needle`.
fn assert_one(records: &str, severity: Severity, needle: &str) {
    let f = check(records);
    assert_eq!(f.len(), 1, "expected one finding, got {f:#?}");
    assert_eq!(f[0].severity, severity, "{}", f[0]);
    assert_eq!(f[0].line, 5, "{}", f[0]);
    assert!(
        f[0].message.contains(needle),
        "`{}` lacks `{needle}`",
        f[0].message
    );
}

fn assert_clean(records: &str) {
    let f = check(records);
    assert!(f.is_empty(), "{f:#?}");
}

// ---- SPF -----------------------------------------------------------------

#[test]
fn common_spf_records_are_clean() {
    assert_clean(
        "@ TXT \"v=spf1 mx a:mail.example.test ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.google.com ~all\"\nmail A 192.0.2.25\n@ MX 10 mail\n",
    );
    assert_clean("@ TXT \"v=spf1 -all\"\n");
    assert_clean(
        "@ TXT \"v=spf1 a/24 mx//64 a:mail.example.test/24//64 ?all\"\nmail A 192.0.2.25\n",
    );
    assert_clean("@ TXT \"v=spf1 redirect=_spf.example.net\"\n");
    assert_clean("@ TXT \"v=spf1 exists:%{i}._spf.example.net -all\"\n");
}

#[test]
fn spf_split_over_strings_is_joined_without_spaces() {
    // RFC 7208 §3.3: the strings are concatenated with no separator.
    assert_clean(
        "@ TXT \"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 \" \"ip4:203.0.113.0/24 -all\"\n",
    );
    assert_one(
        "@ TXT \"v=spf1 ip4:192.0.2.0/24\" \"-all\"\n",
        Severity::Error,
        "`/24-all`",
    );
}

#[test]
fn spf_split_at_its_spaces_is_an_error() {
    // What `ctl record set ... TXT 'v=spf1 include:x +all'` stored before
    // values were quoted: three strings that read `v=spf1include:x+all`.
    assert_one(
        "@ TXT v=spf1 include:x.example.test +all\n",
        Severity::Error,
        "not an SPF record",
    );
    assert_one(
        "@ TXT \"v=spf1\" \"-all\"\n",
        Severity::Error,
        "joined with nothing between",
    );
}

#[test]
fn two_spf_records_at_one_name_are_an_error() {
    let f = check("@ TXT \"v=spf1 mx -all\"\n@ TXT \"v=spf1 ip4:192.0.2.1 -all\"\n");
    let errors = with_severity(&f, Severity::Error);
    assert_eq!(errors.len(), 1, "{f:#?}");
    assert_eq!(errors[0].line, 6);
    assert!(errors[0].message.contains("second v=spf1"), "{}", errors[0]);
}

#[test]
fn spf2_and_other_txt_are_not_spf() {
    assert_clean("@ TXT \"v=spf10 whatever\"\n@ TXT \"google-site-verification=abc\"\n");
}

#[test]
fn unknown_spf_mechanism_is_an_error() {
    assert_one(
        "@ TXT \"v=spf1 ipv4:192.0.2.1 -all\"\n",
        Severity::Error,
        "not an SPF mechanism",
    );
}

#[test]
fn bad_spf_prefix_length_is_an_error() {
    assert_one(
        "@ TXT \"v=spf1 ip4:192.0.2.0/33 -all\"\n",
        Severity::Error,
        "prefix length",
    );
    assert_one(
        "@ TXT \"v=spf1 ip6:2001:db8::/129 -all\"\n",
        Severity::Error,
        "prefix length",
    );
}

#[test]
fn plus_all_is_flagged() {
    assert_one(
        "@ TXT \"v=spf1 mx +all\"\n",
        Severity::Warning,
        "every host",
    );
    assert_one("@ TXT \"v=spf1 mx all\"\n", Severity::Warning, "every host");
}

#[test]
fn ptr_is_flagged_as_deprecated() {
    assert_one(
        "@ TXT \"v=spf1 ptr -all\"\n",
        Severity::Warning,
        "deprecated",
    );
}

#[test]
fn include_without_domain_is_an_error() {
    assert_one(
        "@ TXT \"v=spf1 include -all\"\n",
        Severity::Error,
        "needs a domain",
    );
    assert_one(
        "@ TXT \"v=spf1 include:localhost -all\"\n",
        Severity::Error,
        "fully qualified",
    );
}

#[test]
fn duplicate_redirect_is_an_error() {
    assert_one(
        "@ TXT \"v=spf1 redirect=_spf.example.net redirect=_spf.example.org\"\n",
        Severity::Error,
        "twice",
    );
}

#[test]
fn redirect_with_all_is_ignored_and_flagged() {
    assert_one(
        "@ TXT \"v=spf1 -all redirect=_spf.example.net\"\n",
        Severity::Warning,
        "ignored",
    );
}

#[test]
fn mechanisms_after_all_are_flagged() {
    assert_one(
        "@ TXT \"v=spf1 -all ip4:192.0.2.1\"\n",
        Severity::Warning,
        "never evaluated",
    );
}

#[test]
fn eleven_lookups_are_a_permerror() {
    let mechs: Vec<String> = (1..=11)
        .map(|i| format!("include:s{i}.example.net"))
        .collect();
    assert_one(
        &format!(
            "@ TXT \"v=spf1 {} \" \"{} -all\"\n",
            mechs[..6].join(" "),
            mechs[6..].join(" ")
        ),
        Severity::Error,
        "at least 11 DNS lookups",
    );
}

#[test]
fn ten_lookups_with_outside_includes_warn() {
    let mechs: Vec<String> = (1..=10)
        .map(|i| format!("include:s{i}.example.net"))
        .collect();
    assert_one(
        &format!("@ TXT \"v=spf1 {} -all\"\n", mechs.join(" ")),
        Severity::Warning,
        "already takes 10",
    );
}

#[test]
fn lookups_are_counted_through_includes_in_the_same_zone() {
    // 1 (include) + 5 (a, mx, a, a, a in _spf) + 1 (include) + 4 in _spf2 = 11.
    let f = check(
        "@ TXT \"v=spf1 include:_spf.example.test -all\"\n\
         _spf TXT \"v=spf1 a mx a:x.example.test a:y.example.test a:z.example.test include:_spf2.example.test -all\"\n\
         _spf2 TXT \"v=spf1 a mx a:x.example.test exists:x.example.test -all\"\n\
         x A 192.0.2.1\ny A 192.0.2.2\nz A 192.0.2.3\n@ MX 10 x\n",
    );
    let errors = with_severity(&f, Severity::Error);
    assert_eq!(errors.len(), 1, "{f:#?}");
    assert_eq!(errors[0].line, 5);
    assert!(
        errors[0].message.contains("takes 11 DNS lookups"),
        "{}",
        errors[0]
    );
}

#[test]
fn lookups_are_counted_through_includes_in_other_served_zones() {
    let other = parse(
        "example.net.",
        &format!(
            "{}_spf TXT \"v=spf1 include:_a.example.net include:_b.example.net include:_c.example.net -all\"\n\
             _a TXT \"v=spf1 a:h1.example.net a:h2.example.net a:h3.example.net -all\"\n\
             _b TXT \"v=spf1 a:h1.example.net a:h2.example.net -all\"\n\
             _c TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
             h1 A 192.0.2.1\nh2 A 192.0.2.2\nh3 A 192.0.2.3\n",
            HEAD.replace("ns1", "ns1.example.net.")
        ),
    );
    let other = Zone::build(&other).unwrap();
    let zone = parse(
        "example.test.",
        &format!("{HEAD}@ TXT \"v=spf1 mx include:_spf.example.net a -all\"\n@ MX 10 ns1\n"),
    );
    // Alone: 3 lookups, clean.
    assert!(check_zone(&zone).is_empty(), "{:#?}", check_zone(&zone));
    // With example.net served: mx + include(1 + 3 + 3 + 2 + 0) + a = 11.
    let f = check_zone_with(&zone, &[&other]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].message.contains("takes 11 DNS lookups"), "{}", f[0]);
}

#[test]
fn include_of_a_served_name_without_spf_is_an_error() {
    assert_one(
        "@ TXT \"v=spf1 include:_spf.example.test -all\"\n_spf TXT \"hello\"\n",
        Severity::Error,
        "has no v=spf1 record",
    );
    assert_one(
        "@ TXT \"v=spf1 include:_nothing.example.test -all\"\n",
        Severity::Error,
        "does not exist",
    );
}

#[test]
fn include_loop_is_an_error() {
    let f = check(
        "@ TXT \"v=spf1 include:_a.example.test -all\"\n_a TXT \"v=spf1 include:example.test -all\"\n",
    );
    assert!(
        f.iter()
            .any(|x| x.severity == Severity::Error && x.message.contains("loops")),
        "{f:#?}"
    );
}

#[test]
fn three_void_lookups_are_an_error() {
    let f =
        check("@ TXT \"v=spf1 a:n1.example.test a:n2.example.test exists:n3.example.test -all\"\n");
    let errors = with_severity(&f, Severity::Error);
    assert_eq!(errors.len(), 1, "{f:#?}");
    assert!(
        errors[0].message.contains("3 void lookups"),
        "{}",
        errors[0]
    );
    assert_eq!(with_severity(&f, Severity::Warning).len(), 3);
}

#[test]
fn over_long_spf_string_gets_the_split_hint() {
    let long = format!("v=spf1 {} -all", "ip4:192.0.2.1 ".repeat(20));
    let f = check(&format!("@ TXT \"{long}\"\n"));
    assert!(
        f.iter()
            .any(|x| x.severity == Severity::Error && x.message.contains("split it")),
        "{f:#?}"
    );
}

// ---- DMARC ---------------------------------------------------------------

#[test]
fn common_dmarc_records_are_clean() {
    assert_clean("_dmarc TXT \"v=DMARC1; p=none\"\n");
    assert_clean(
        "_dmarc TXT \"v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; fo=1:d; rf=afrf; ri=86400; rua=mailto:dmarc@example.test,mailto:agg@example.test!10m; ruf=mailto:forensic@example.test;\"\n",
    );
    assert_clean("_dmarc.sub TXT \"v=DMARC1;p=quarantine;rua=mailto:d@example.test\"\n");
}

#[test]
fn dmarc_without_policy_is_an_error() {
    assert_one(
        "_dmarc TXT \"v=DMARC1; rua=mailto:d@example.test\"\n",
        Severity::Error,
        "no `p=`",
    );
}

#[test]
fn dmarc_version_not_first_is_an_error() {
    assert_one(
        "_dmarc TXT \"p=reject; v=DMARC1\"\n",
        Severity::Error,
        "first tag",
    );
}

#[test]
fn dmarc_bad_values_are_errors() {
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=block\"\n",
        Severity::Error,
        "none, quarantine or reject",
    );
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; pct=150\"\n",
        Severity::Error,
        "0 to 100",
    );
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; adkim=strict\"\n",
        Severity::Error,
        "relaxed",
    );
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; fo=2\"\n",
        Severity::Error,
        "0, 1, d, s",
    );
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; ri=daily\"\n",
        Severity::Error,
        "seconds",
    );
}

#[test]
fn dmarc_report_uri_must_be_mailto() {
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; rua=dmarc@example.test\"\n",
        Severity::Error,
        "not a mailto: URI",
    );
}

#[test]
fn external_dmarc_report_destination_is_noted() {
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; rua=mailto:abc@dmarc.example.net\"\n",
        Severity::Warning,
        "example.test._report._dmarc.dmarc.example.net",
    );
}

#[test]
fn external_destination_authorised_in_a_served_zone_is_clean() {
    let other = parse(
        "example.net.",
        &format!(
            "{}example.test._report._dmarc TXT \"v=DMARC1\"\n",
            HEAD.replace("ns1", "ns1.example.net.")
        ),
    );
    let other = Zone::build(&other).unwrap();
    let zone = parse(
        "example.test.",
        &format!("{HEAD}_dmarc TXT \"v=DMARC1; p=none; rua=mailto:r@example.net\"\n"),
    );
    assert!(check_zone_with(&zone, &[&other]).is_empty());
    assert_eq!(check_zone(&zone).len(), 1);
}

#[test]
fn two_dmarc_records_are_an_error() {
    let f = check("_dmarc TXT \"v=DMARC1; p=none\"\n_dmarc TXT \"v=DMARC1; p=reject\"\n");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].line, 6);
    assert!(f[0].message.contains("second DMARC"));
}

#[test]
fn unknown_dmarc_tag_warns() {
    assert_one(
        "_dmarc TXT \"v=DMARC1; p=none; rue=mailto:x@example.test\"\n",
        Severity::Warning,
        "unknown tag",
    );
}

// ---- DKIM ----------------------------------------------------------------

#[test]
fn rsa2048_key_split_over_strings_is_clean() {
    assert_clean(&format!("sel1._domainkey TXT {RSA2048}\n"));
}

#[test]
fn ed25519_key_is_clean() {
    assert_clean(&format!(
        "ed._domainkey TXT \"v=DKIM1; k=ed25519; p={ED25519}\"\n"
    ));
}

#[test]
fn rsa1024_key_warns() {
    assert_one(
        &format!("s._domainkey TXT \"v=DKIM1; k=rsa; p={RSA1024}\"\n"),
        Severity::Warning,
        "1024 bits",
    );
}

#[test]
fn rsa512_key_is_an_error() {
    assert_one(
        &format!("s._domainkey TXT \"v=DKIM1; p={RSA512}\"\n"),
        Severity::Error,
        "512 bits",
    );
}

#[test]
fn truncated_key_is_an_error() {
    // A key where one of the strings was lost while copying.
    let truncated = &RSA1024[..RSA1024.len() - 40];
    let f = check(&format!("s._domainkey TXT \"v=DKIM1; p={truncated}\"\n"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
}

#[test]
fn bad_base64_is_an_error() {
    assert_one(
        "s._domainkey TXT \"v=DKIM1; p=MIGf*MA0G\"\n",
        Severity::Error,
        "not valid base64",
    );
}

#[test]
fn empty_p_means_revoked() {
    assert_one(
        "s._domainkey TXT \"v=DKIM1; p=\"\n",
        Severity::Warning,
        "revoked",
    );
}

#[test]
fn dkim_version_must_be_first_and_exact() {
    assert_one(
        &format!(
            "s._domainkey TXT \"k=rsa; v=DKIM1; p={RSA2048_B64}\"\n",
            RSA2048_B64 = rsa2048_b64()
        ),
        Severity::Error,
        "first tag",
    );
    assert_one(
        &format!("s._domainkey TXT \"v=DKIM2; p={}\"\n", rsa2048_b64()),
        Severity::Error,
        "v=DKIM1",
    );
}

#[test]
fn unknown_key_type_is_an_error() {
    assert_one(
        &format!("s._domainkey TXT \"v=DKIM1; k=dsa; p={ED25519}\"\n"),
        Severity::Error,
        "unknown",
    );
}

#[test]
fn rsa_key_declared_ed25519_is_an_error() {
    assert_one(
        &format!("s._domainkey TXT \"v=DKIM1; k=ed25519; p={RSA1024}\"\n"),
        Severity::Error,
        "32 bytes",
    );
}

#[test]
fn missing_p_is_an_error() {
    assert_one(
        "s._domainkey TXT \"v=DKIM1; k=rsa\"\n",
        Severity::Error,
        "no `p=`",
    );
}

#[test]
fn pkcs1_modulus_size_is_read() {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(RSA512)
        .unwrap();
    assert_eq!(super::dkim::modulus_bits_for_tests(&der), Some(512));
    // The bare RSAPublicKey inside the SubjectPublicKeyInfo (skip its 22-byte header + 1 unused-bits byte... found by search).
    let pos = der
        .windows(3)
        .rposition(|w| w == [0x30, 0x48, 0x02])
        .unwrap();
    assert_eq!(super::dkim::modulus_bits_for_tests(&der[pos..]), Some(512));
}

#[test]
fn example_zone_is_free_of_mail_auth_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones/example.test.zone");
    let origin = Name::from_ascii("example.test.").unwrap();
    let zone = crate::zonefile::parse_zone_file(&root, &origin).unwrap();
    let f = check_zone(&zone);
    assert!(with_severity(&f, Severity::Error).is_empty(), "{f:#?}");
}

/// The 2048-bit key's base64 as quoted strings of at most 255 bytes.
fn rsa2048_b64() -> String {
    let b64: String = RSA2048
        .split('"')
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c) || c == '=')
                || s.starts_with("p=")
        })
        .collect::<String>()
        .trim_start_matches("p=")
        .to_owned();
    let (a, b) = b64.split_at(200);
    format!("{a}\" \"{b}")
}

#[test]
fn non_key_txt_under_domainkey_only_warns() {
    assert_one(
        "_adsp._domainkey TXT \"dkim=unknown\"\n",
        Severity::Warning,
        "not a key record",
    );
}

#[test]
fn report_destinations_in_the_same_organizational_domain_need_no_authorisation() {
    assert!(
        super::psl::system().is_some(),
        "the Public Suffix List ({}) is not installed: apt-get install publicsuffix",
        super::psl::SYSTEM_LIST
    );
    // mail.example.com is its own zone; reports go to example.com's
    // organization (a sibling zone): no authorisation record is needed.
    let zone = parse(
        "mail.example.com.",
        &format!("{HEAD}_dmarc TXT \"v=DMARC1; p=none; rua=mailto:r@reports.example.com\"\n"),
    );
    let findings = check_zone_with(&zone, &[]);
    assert!(findings.is_empty(), "{findings:?}");
    // example.co.uk and other.co.uk share only a public suffix: two
    // organizations, so the destination must authorise the reports.
    let zone = parse(
        "example.co.uk.",
        &format!("{HEAD}_dmarc TXT \"v=DMARC1; p=none; rua=mailto:r@other.co.uk\"\n"),
    );
    let findings = check_zone_with(&zone, &[]);
    assert!(
        findings.iter().any(|f| f
            .message
            .contains("example.co.uk._report._dmarc.other.co.uk")),
        "{findings:?}"
    );
}
