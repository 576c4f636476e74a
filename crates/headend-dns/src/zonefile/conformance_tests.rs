//! Conformance tests: the parser reads what BIND reads, and never panics.

use std::collections::HashMap;
use std::path::Path;

use hickory_proto::rr::{Name, RData, RecordType};
use proptest::prelude::*;

use super::*;

fn origin() -> Name {
    Name::from_ascii("example.test.").unwrap()
}

// ---- agreement with BIND ---------------------------------------------------

/// Every construct above in one zone, for the comparison with BIND.
const TRICKY: &str = r#"$TTL 1h
@ SOA ns1 hostmaster ( 1 2h 30m 2w 5m )
  NS ns1
ns1 IN 300 A 192.0.2.1
 300 IN AAAA 2001:db8::1
Mixed\.Dot\032x CLASS1 TXT "a\"b" "c\;d" \065BC "\255"
$ORIGIN sub.example.test.
www 1W2d3h4m5s A 192.0.2.2
@ MX 10 @
$ORIGIN example.test.
gen TYPE65280 \# 3 abcdef
gen2 A \# 4 C0000203
caa CAA 128 issue "ca.example.net; account=1"
_x._tcp SRV 0 5 443 www.sub
n NAPTR 100 10 "S" "SIP+D2U" "!^.*$!sip:info@example.test!" _sip._udp
ds DS 12345 ECDSAP256SHA256 2 ( 3B6E6F1B2C4D5E6F7A8B9C0D1E2F3A4B
     5C6D7E8F9A0B1C2D3E4F5A6B7C8D9E0F )
t TLSA 3 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
s SSHFP 4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
p PTR www.sub
c CNAME ns1
e TXT ""
$GENERATE 1-20/3 dyn-${0,3,d} 600 IN A 198.51.100.$
$GENERATE 1-17 ${0,7,n}.rev PTR host-${-1,2,X}.example.net.
$GENERATE 2-3 t$ TXT "gen $ x$$y"
$GENERATE 1-2 c$ CNAME dyn-${4,3}
$GENERATE 1-2 m$ MX "10 mx$"
"#;

type Key = (Name, RecordType, u32, RData);

fn multiset(zone: &ParsedZone) -> HashMap<Key, usize> {
    let mut m = HashMap::new();
    for r in &zone.records {
        let rec = &r.record;
        *m.entry((
            rec.name.clone(),
            rec.record_type(),
            rec.ttl,
            rec.data.clone(),
        ))
        .or_insert(0) += 1;
    }
    m
}

/// Parses `file` with headend and with BIND's `named-compilezone` (whose
/// canonical output headend then reads back) and asserts the same records.
fn assert_same_as_bind(file: &Path, origin_text: &str) {
    let origin = Name::from_ascii(origin_text).unwrap();
    let ours = parse_zone_file(file, &origin).unwrap_or_else(|e| {
        panic!(
            "{:?}",
            e.iter().map(ToString::to_string).collect::<Vec<_>>()
        )
    });
    let out = std::process::Command::new("named-compilezone")
        .args(["-q", "-i", "none", "-s", "full", "-o", "-", origin_text])
        .arg(file)
        .output()
        .expect("named-compilezone (Debian package bind9-utils) must be installed");
    assert!(
        out.status.success(),
        "named-compilezone failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = parse_zone_bytes(
        &out.stdout,
        Path::new("bind-output"),
        &Name::root(),
        &ParseOptions::without_include(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "{:?}",
            e.iter().map(ToString::to_string).collect::<Vec<_>>()
        )
    });
    let (ours, theirs) = (multiset(&ours), multiset(&theirs));
    for key in ours.keys() {
        assert!(theirs.contains_key(key), "only headend has {key:?}");
    }
    for key in theirs.keys() {
        assert!(ours.contains_key(key), "only BIND has {key:?}");
    }
    assert_eq!(ours.len(), theirs.len());
}

#[test]
fn tricky_zone_reads_the_same_as_with_bind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tricky.zone");
    std::fs::write(&file, TRICKY).unwrap();
    assert_same_as_bind(&file, "example.test.");
}

#[test]
fn example_zones_read_the_same_as_with_bind() {
    let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones");
    assert_same_as_bind(&zones.join("example.test.zone"), "example.test.");
    assert_same_as_bind(
        &zones.join("2.0.192.in-addr.arpa.zone"),
        "2.0.192.in-addr.arpa.",
    );
}

// ---- agreement with BIND and Knot on what is broken -------------------------

const HEAD: &str =
    "$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n";

/// Runs a reference zone checker; true when it accepts the zone.
fn accepted_by(program: &str, args: &[&str], file: &Path) -> bool {
    std::process::Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} must be installed (bind9-utils, knot-dnssecutils): {e}")
        })
        .status
        .success()
}

fn accepted_by_headend(file: &Path) -> bool {
    match parse_zone_file(file, &origin()) {
        Ok(zone) => crate::check::check_zone(&zone)
            .iter()
            .all(|f| f.severity != crate::check::Severity::Error),
        Err(_) => false,
    }
}

#[test]
fn zones_bind_and_knot_reject_are_rejected() {
    let long_label = "a".repeat(64);
    let cases = [
        "www A 300.1.2.3".to_string(),
        format!("{long_label} A 192.0.2.9"),
        "x SOA ( 1 2".to_string(),
        "www CNAME ns1\nwww TXT \"x\"".to_string(),
        "@ NS ns2".to_string(),
        "v CH TXT \"x\"".to_string(),
        "x FOO bar".to_string(),
        "x TYPE65280 \\# 4 abcdef".to_string(),
        "x A".to_string(),
        "$FOO bar".to_string(),
        "x MX 70000 ns1".to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, body) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.zone"));
        std::fs::write(&file, format!("{HEAD}{body}\n")).unwrap();
        assert!(
            !accepted_by(
                "named-checkzone",
                &["-q", "-i", "local", "example.test"],
                &file
            ),
            "BIND accepts {body:?}"
        );
        assert!(
            !accepted_by("kzonecheck", &["-o", "example.test"], &file),
            "Knot accepts {body:?}"
        );
        assert!(!accepted_by_headend(&file), "headend accepts {body:?}");
    }
}

#[test]
fn zones_bind_rejects_are_rejected() {
    let cases = [
        format!("k TXT \"{}\"", "p".repeat(256)),
        "@ SOA ns1 h 2 3 4 5 6".to_string(),
        "x CAA 0 is-sue \"a\"".to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, body) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.zone"));
        std::fs::write(&file, format!("{HEAD}{body}\n")).unwrap();
        assert!(
            !accepted_by(
                "named-checkzone",
                &["-q", "-i", "local", "example.test"],
                &file
            ),
            "BIND accepts {body:?}"
        );
        assert!(!accepted_by_headend(&file), "headend accepts {body:?}");
    }
}

#[test]
fn example_zones_load_in_bind_and_knot() {
    let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones");
    for (file, origin) in [
        ("example.test.zone", "example.test"),
        ("2.0.192.in-addr.arpa.zone", "2.0.192.in-addr.arpa"),
    ] {
        let path = zones.join(file);
        assert!(
            accepted_by("named-checkzone", &["-q", "-i", "local", origin], &path),
            "BIND rejects {file}"
        );
        assert!(
            accepted_by("kzonecheck", &["-o", origin], &path),
            "Knot rejects {file}"
        );
    }
}

// ---- robustness -------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_zone_bytes(&bytes, Path::new("fuzz.zone"), &origin(), &ParseOptions::without_include());
    }

    #[test]
    fn random_zone_like_lines_never_panic(lines in proptest::collection::vec(
        prop_oneof![
            Just("@".to_string()), Just(" ".to_string()), Just("(".to_string()), Just(")".to_string()),
            Just("\"".to_string()), Just("\\".to_string()), Just(";".to_string()), Just("\n".to_string()),
            Just("$TTL".to_string()), Just("$ORIGIN".to_string()), Just("$INCLUDE".to_string()),
            Just("IN".to_string()), Just("SOA".to_string()), Just("TXT".to_string()), Just("A".to_string()),
            Just("MX".to_string()), Just("CAA".to_string()), Just("DS".to_string()), Just("NAPTR".to_string()),
            Just("\\#".to_string()), Just("TYPE65280".to_string()), Just("CLASS1".to_string()),
            "[0-9]{1,12}", "[a-z0-9.\\\\]{1,20}", "[0-9a-f]{0,8}", "[0-9smhdw]{1,6}",
        ],
        0..64,
    )) {
        let text = lines.join(" ");
        let _ = parse_zone_bytes(text.as_bytes(), Path::new("fuzz.zone"), &origin(), &ParseOptions::without_include());
    }
}
