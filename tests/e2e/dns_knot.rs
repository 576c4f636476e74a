//! Differential tests: headend and Knot (knotd) serve the same zone file on
//! two loopback ports; for several hundred queries covering every answer kind
//! the response code, AA/TC flags and the answer, authority and additional
//! RRsets must be equal (order-insensitive). A zone with several records of
//! every type that has a presentation format is read by BIND
//! (named-compilezone), Knot (kzonecheck) and headend, and headend's AXFR
//! equals Knot's and BIND's reading of the same file.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dig::dig;
use common::{Headend, free_port, require, workspace_root};

/// knotd on a loopback port, stopped by PID on drop.
struct Knot {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Knot {
    fn start(port: u16, origin: &str, zone: &std::path::Path) -> Self {
        require("knotd");
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("knot.conf");
        let d = dir.path().display();
        std::fs::write(
            &conf,
            format!(
                "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
                 database:\n    storage: {d}\n\
                 log:\n  - target: stderr\n    any: warning\n\
                 acl:\n  - id: local\n    address: 127.0.0.1\n    action: transfer\n\
                 zone:\n  - domain: {origin}\n    file: {}\n    storage: {d}\n    acl: local\n",
                zone.display()
            ),
        )
        .expect("write knot.conf");
        let child = Command::new("knotd")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn knotd");
        let knot = Self { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if !common::dig::short(port, origin, "SOA").is_empty() {
                return knot;
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn headend_answers_like_knot() {
    require("dig");
    let zone = workspace_root().join("tests/data/dns/e2e.test.zone");
    let knot_port = free_port();
    let knot = Knot::start(knot_port, "e2e.test", &zone);
    let port = free_port();
    let headend = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"e2e.test\"\nfile = \"{}\"\n",
        zone.display()
    ));

    let names = [
        "e2e.test",
        "ns1",
        "ns2",
        "mail",
        "www",
        "WwW2",
        "alias",
        "chain",
        "dangling",
        "external",
        "wildalias",
        "foo.wild",
        "a.b.wild",
        "wild",
        "deep.ent.x",
        "ent.x",
        "x",
        "_sip._tcp",
        "_tcp",
        "sip",
        "sub",
        "ns.sub",
        "host.sub",
        "a.b.sub",
        "_dmarc",
        "multi",
        "caa",
        "ptr",
        "nonexistent",
        "nx.nonexistent",
        "nothere",
    ];
    let types = [
        "A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "DS", "CAA", "PTR",
    ];
    let mut compared = 0;
    let mut mismatches = Vec::new();
    // Kinds of answer seen, so the comparison is known to cover them all.
    let (mut positive, mut nxdomain, mut nodata, mut referral, mut with_additional) =
        (0, 0, 0, 0, 0);
    for name in names {
        let fqdn = if name == "e2e.test" {
            name.to_owned()
        } else {
            format!("{name}.e2e.test")
        };
        for qtype in types {
            let opts: &[&str] = &["+bufsize=1232"];
            let h = dig(port, &fqdn, qtype, opts);
            let k = dig(knot_port, &fqdn, qtype, opts);
            compared += 1;
            match (h.status.as_str(), h.answer.is_empty(), h.has_flag("aa")) {
                ("NXDOMAIN", _, _) => nxdomain += 1,
                ("NOERROR", false, _) => positive += 1,
                ("NOERROR", true, true) => nodata += 1,
                ("NOERROR", true, false) => referral += 1,
                _ => {}
            }
            if !h.additional.is_empty() {
                with_additional += 1;
            }
            let same = h.status == k.status
                && h.has_flag("aa") == k.has_flag("aa")
                && h.has_flag("tc") == k.has_flag("tc")
                && h.sections() == k.sections();
            if !same {
                mismatches.push(format!(
                    "{fqdn} {qtype}:\n--- headend ---\n{}\n--- knot ---\n{}",
                    h.raw, k.raw
                ));
            }
        }
    }
    // The large RRset over TCP.
    for qtype in ["A", "AAAA"] {
        let h = dig(port, "many.e2e.test", qtype, &["+tcp"]);
        let k = dig(knot_port, "many.e2e.test", qtype, &["+tcp"]);
        compared += 1;
        if h.status != k.status || h.sections() != k.sections() {
            mismatches.push(format!("many {qtype} tcp:\n{}\n{}", h.raw, k.raw));
        }
    }
    eprintln!(
        "compared {compared}: {positive} positive, {nxdomain} NXDOMAIN, {nodata} NODATA, \
         {referral} referrals, {with_additional} with additional records"
    );
    assert!(positive >= 30 && nxdomain >= 20 && nodata >= 50 && referral >= 20);
    assert!(with_additional >= 20);
    assert!(compared >= 100, "only {compared} queries compared");
    assert!(
        mismatches.is_empty(),
        "{} of {compared} answers differ from Knot's:\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
    drop(headend);
    drop(knot);
}

/// The records of dig's AXFR output or of a zone file BIND wrote
/// (named-compilezone, one record a line), blanks collapsed, sorted, the
/// closing SOA of a transfer left out.
fn record_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

fn axfr(port: u16, origin: &str) -> Vec<String> {
    let out = common::run(Command::new("dig").args([
        "@127.0.0.1",
        "-p",
        &port.to_string(),
        "+nocmd",
        "+nostats",
        "+nocomments",
        "+time=5",
        "AXFR",
        origin,
    ]));
    record_lines(&out)
}

/// What BIND reads from `zone`: named-compilezone writes it back one record a line.
fn bind_reading(origin: &str, zone: &std::path::Path) -> Vec<String> {
    require("named-compilezone");
    let out = Command::new("named-compilezone")
        .args(["-q", "-i", "none", "-o", "-", origin])
        .arg(zone)
        .output()
        .expect("run named-compilezone");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "named-compilezone refused {}: {text}{}",
        zone.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    record_lines(&text)
}

/// The owner of a record line, its type and how many lines there are of each type.
fn types_in(lines: &[String]) -> std::collections::BTreeMap<String, usize> {
    let mut types = std::collections::BTreeMap::new();
    for l in lines {
        if let Some(t) = l.split(' ').nth(3) {
            *types.entry(t.to_owned()).or_insert(0) += 1;
        }
    }
    types
}

/// Every type the reader and writer must know (the list); checked
/// against the test zones so none of them is missing or read generically.
const EVERY_TYPE: &[&str] = &[
    "A",
    "NS",
    "CNAME",
    "SOA",
    "PTR",
    "HINFO",
    "MX",
    "TXT",
    "RP",
    "AFSDB",
    "SIG",
    "KEY",
    "AAAA",
    "LOC",
    "SRV",
    "NAPTR",
    "KX",
    "CERT",
    "APL",
    "DS",
    "SSHFP",
    "IPSECKEY",
    "RRSIG",
    "NSEC",
    "DNSKEY",
    "DHCID",
    "NSEC3",
    "NSEC3PARAM",
    "TLSA",
    "SMIMEA",
    "HIP",
    "CDS",
    "CDNSKEY",
    "OPENPGPKEY",
    "CSYNC",
    "ZONEMD",
    "SVCB",
    "HTTPS",
    "SPF",
    "NID",
    "L32",
    "L64",
    "LP",
    "EUI48",
    "EUI64",
    "URI",
    "CAA",
];

#[test]
fn every_record_type_transfers_as_knot_and_bind_read_it() {
    require("dig");
    require("kzonecheck");
    let data = workspace_root().join("tests/data/dns");
    let zone = data.join("types.test.zone");
    let bind_only = data.join("types-bind-only.test.zone");
    let status = Command::new("kzonecheck")
        .args(["-o", "types.test"])
        .arg(&zone)
        .status()
        .expect("run kzonecheck");
    assert!(status.success(), "kzonecheck refused {}", zone.display());

    let knot_port = free_port();
    let knot = Knot::start(knot_port, "types.test", &zone);
    let port = free_port();
    let headend = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"types.test\"\nfile = \"{}\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
         [[dns.zone]]\norigin = \"bind-only.test\"\nfile = \"{}\"\nallow_transfer = [\"127.0.0.1/32\"]\n",
        zone.display(),
        bind_only.display()
    ));

    let ours = axfr(port, "types.test");
    let knots = axfr(knot_port, "types.test");
    let bind = bind_reading("types.test", &zone);
    let ours_bind_only = axfr(port, "bind-only.test");
    let bind_bind_only = bind_reading("bind-only.test", &bind_only);

    let mut types = types_in(&ours);
    for (t, n) in types_in(&ours_bind_only) {
        *types.entry(t).or_insert(0) += n;
    }
    for want in EVERY_TYPE {
        let n = types.get(*want).copied().unwrap_or(0);
        assert!(
            n >= if *want == "SOA" { 1 } else { 2 },
            "{n} {want} record(s) in headend's transfers: {types:?}"
        );
    }
    assert!(
        !ours
            .iter()
            .chain(&ours_bind_only)
            .filter(|l| !l.split(' ').nth(3).is_some_and(|t| t.starts_with("TYPE")))
            .any(|l| l.contains("\\#")),
        "a record was transferred in a form dig prints generically"
    );
    let diff = |a: &[String], b: &[String]| -> Vec<String> {
        let only_a = a
            .iter()
            .filter(|l| !b.contains(l))
            .map(|l| format!("headend: {l}"));
        let only_b = b
            .iter()
            .filter(|l| !a.contains(l))
            .map(|l| format!("other:   {l}"));
        only_a.chain(only_b).collect()
    };
    eprintln!(
        "types.test: {} records of {} types; bind-only.test: {}",
        ours.len(),
        types.len(),
        ours_bind_only.len()
    );
    assert!(ours.len() >= 100, "only {} records transferred", ours.len());
    let vs_knot = diff(&ours, &knots);
    assert!(
        vs_knot.is_empty(),
        "AXFR differs from Knot's:\n{}",
        vs_knot.join("\n")
    );
    let vs_bind = diff(&ours, &bind);
    assert!(
        vs_bind.is_empty(),
        "AXFR differs from BIND's reading:\n{}",
        vs_bind.join("\n")
    );
    let vs_bind = diff(&ours_bind_only, &bind_bind_only);
    assert!(
        vs_bind.is_empty(),
        "bind-only.test AXFR differs from BIND's reading:\n{}",
        vs_bind.join("\n")
    );
    drop(headend);
    drop(knot);
}

/// RFC 6672: names under a DNAME get the DNAME, a CNAME synthesised with its
/// TTL and the target's answer when it is in the zone; YXDOMAIN when the
/// rewritten name is too long. Every section equals Knot's.
#[test]
fn dname_answers_equal_knots() {
    require("dig");
    let zone = workspace_root().join("tests/data/dns/dname.test.zone");
    let knot_port = free_port();
    let knot = Knot::start(knot_port, "dname.test", &zone);
    let port = free_port();
    let headend = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"dname.test\"\nfile = \"{}\"\n",
        zone.display()
    ));
    let long_prefix = format!("{0}.{0}.{0}", "b".repeat(40));
    let names = [
        "old",
        "www.old",
        "WWW.Old",
        "mail.old",
        "x.old",
        "a.b.www.old",
        "new",
        "www.new",
        "www.chain",
        "mail.chain",
        "foo.ext",
        "alias",
        "x.self",
        "y.x.self",
        "short.long",
        long_prefix.as_str(),
        "nothere",
    ];
    let mut compared = 0;
    let (mut synthesised, mut yxdomain) = (0, 0);
    let mut mismatches = Vec::new();
    for name in names {
        let fqdn = if name == long_prefix {
            format!("{name}.long.dname.test")
        } else {
            format!("{name}.dname.test")
        };
        for qtype in ["A", "AAAA", "MX", "TXT", "CNAME", "DNAME", "NS"] {
            let h = dig(port, &fqdn, qtype, &["+bufsize=1232"]);
            let k = dig(knot_port, &fqdn, qtype, &["+bufsize=1232"]);
            compared += 1;
            if h.answer.iter().any(|r| r.rtype == "DNAME") {
                synthesised += 1;
            }
            if h.status == "YXDOMAIN" {
                yxdomain += 1;
            }
            let same = h.status == k.status
                && h.has_flag("aa") == k.has_flag("aa")
                && h.sections() == k.sections();
            if !same {
                mismatches.push(format!(
                    "{fqdn} {qtype}:\n--- headend ---\n{}\n--- knot ---\n{}",
                    h.raw, k.raw
                ));
            }
        }
    }
    eprintln!("compared {compared}: {synthesised} with a DNAME, {yxdomain} YXDOMAIN");
    assert!(
        synthesised >= 50 && yxdomain >= 5,
        "{synthesised} {yxdomain}"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} answers differ from Knot's:\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
    drop(headend);
    drop(knot);
}
