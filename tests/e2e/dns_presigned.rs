//! Zones signed offline are served as signed: one signed by BIND's
//! `dnssec-signzone` (NSEC) and one by `ldns-signzone -n` (NSEC3), loaded
//! with no `dnssec` setting; `delv`, anchored at the DS the signer wrote,
//! validates positive, NXDOMAIN, NODATA, wildcard, CNAME and DNAME answers whose
//! RRSIGs and denial proofs come from the files. `headend check` verifies the
//! signatures and the chains, and finds a changed record and a broken chain.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Headend, free_port, require, run};

const UNSIGNED: &str = "$TTL 300
@ SOA ns1 hostmaster 1 3600 900 604800 300
  NS ns1
  MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.2
www A 192.0.2.3
 AAAA 2001:db8::3
*.wild TXT \"from the wildcard\"
alias CNAME www
a.deep A 192.0.2.4
sub NS ns.sub
ns.sub A 192.0.2.53
old DNAME new
www.new A 192.0.2.77
";

/// Writes `zone` unsigned into `dir` and signs it with dnssec-signzone
/// (NSEC); returns the signed file and the DS lines of the KSK.
fn bind_signed(dir: &Path, zone: &str) -> (PathBuf, String) {
    let unsigned = dir.join(format!("{zone}.zone"));
    std::fs::write(&unsigned, format!("$ORIGIN {zone}.\n{UNSIGNED}")).expect("write zone");
    for extra in [&["-f", "KSK"][..], &[][..]] {
        run(Command::new("dnssec-keygen")
            .current_dir(dir)
            .args(["-q", "-a", "ECDSAP256SHA256"])
            .args(extra)
            .arg(zone));
    }
    let signed = dir.join(format!("{zone}.signed"));
    run(Command::new("dnssec-signzone")
        .current_dir(dir)
        .args(["-q", "-S", "-K", ".", "-o", zone, "-f"])
        .arg(&signed)
        .arg(&unsigned));
    let ds = std::fs::read_to_string(dir.join(format!("dsset-{zone}."))).expect("dsset");
    (signed, ds)
}

/// The same with ldns-signzone -n (NSEC3, salted, 5 iterations).
fn ldns_signed(dir: &Path, zone: &str) -> (PathBuf, String) {
    let unsigned = dir.join(format!("{zone}.zone"));
    std::fs::write(&unsigned, format!("$ORIGIN {zone}.\n{UNSIGNED}")).expect("write zone");
    let ksk = run(Command::new("ldns-keygen").current_dir(dir).args([
        "-a",
        "ECDSAP256SHA256",
        "-k",
        zone,
    ]))
    .trim()
    .to_owned();
    let zsk =
        run(Command::new("ldns-keygen")
            .current_dir(dir)
            .args(["-a", "ECDSAP256SHA256", zone]))
        .trim()
        .to_owned();
    let signed = dir.join(format!("{zone}.signed"));
    run(Command::new("ldns-signzone")
        .current_dir(dir)
        .args(["-n", "-s", "c0ffee", "-t", "5", "-o", zone, "-f"])
        .arg(&signed)
        .arg(&unsigned)
        .args([&ksk, &zsk]));
    let ds = std::fs::read_to_string(dir.join(format!("{ksk}.ds"))).expect("ds file");
    (signed, ds)
}

/// A delv trust-anchors file from DS lines (`owner [ttl] IN DS tag alg type digest...`).
fn anchors(dir: &Path, zone: &str, ds: &str) -> PathBuf {
    let mut text = String::from("trust-anchors {\n");
    for line in ds.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let at = f.iter().position(|w| *w == "DS").expect("a DS line");
        let digest: String = f.get(at + 4..).unwrap_or_default().concat();
        text.push_str(&format!(
            "  \"{}\" static-ds {} {} {} \"{digest}\";\n",
            f[0],
            f[at + 1],
            f[at + 2],
            f[at + 3]
        ));
    }
    text.push_str("};\n");
    let path = dir.join(format!("{zone}.anchors"));
    std::fs::write(&path, text).expect("write anchors");
    path
}

fn delv(port: u16, zone: &str, anchors: &Path, name: &str, rtype: &str) -> String {
    let out = Command::new("delv")
        .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
        .arg(anchors)
        .arg(format!("+root={zone}"))
        .args(["+tcp", name, rtype])
        .output()
        .expect("run delv");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

#[test]
fn zones_signed_by_bind_and_ldns_are_served_signed_and_validate() {
    for tool in [
        "dnssec-keygen",
        "dnssec-signzone",
        "ldns-keygen",
        "ldns-signzone",
        "delv",
    ] {
        require(tool);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (nsec_file, nsec_ds) = bind_signed(dir.path(), "nsec.pre.test");
    let (nsec3_file, nsec3_ds) = ldns_signed(dir.path(), "nsec3.pre.test");
    let port = free_port();
    let headend = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"nsec.pre.test\"\nfile = \"{}\"\n\
         [[dns.zone]]\norigin = \"nsec3.pre.test\"\nfile = \"{}\"\n",
        nsec_file.display(),
        nsec3_file.display()
    ));
    let mut validated = 0;
    for (zone, ds, denial) in [
        ("nsec.pre.test", &nsec_ds, "NSEC"),
        ("nsec3.pre.test", &nsec3_ds, "NSEC3"),
    ] {
        let anchors = anchors(dir.path(), zone, ds);
        // (name, type, data of a positive answer or the negative rcode)
        let cases = [
            ("www", "A", "192.0.2.3"),
            ("www", "AAAA", "2001:db8::3"),
            ("alias", "A", "192.0.2.3"),
            ("anything.wild", "TXT", "from the wildcard"),
            ("nothere", "A", "$NXDOMAIN"),
            ("x.y.deep", "A", "$NXDOMAIN"),
            ("www", "TXT", "$NXRRSET"),
            ("deep", "A", "$NXRRSET"),
            ("sub", "DS", "$NXRRSET"),
            // RFC 6672: the signed DNAME proves the synthesised CNAME.
            ("www.old", "A", "192.0.2.77"),
            ("x.old", "A", "$NXDOMAIN"),
        ];
        for (label, rtype, want) in cases {
            let name = format!("{label}.{zone}");
            let out = delv(port, zone, &anchors, &name, rtype);
            assert!(
                out.contains("fully validated"),
                "{zone}: delv did not validate {name} {rtype}:\n{out}\nheadend logs:\n{}",
                headend.logs().join("\n")
            );
            if want.starts_with('$') {
                assert!(
                    out.contains(want) && out.contains("resolution failed: ncache"),
                    "{name} {rtype}: want {want}: {out}"
                );
                // The proof delv printed is the chain the signer wrote.
                assert!(
                    out.lines()
                        .any(|l| l.starts_with("; ") && l.split_whitespace().any(|w| w == denial)),
                    "{name} {rtype}: no {denial} proof: {out}"
                );
            } else {
                assert!(
                    out.lines()
                        .any(|l| !l.starts_with(';') && l.contains(rtype) && l.contains(want)),
                    "{name} {rtype}: no answer with {want}: {out}"
                );
                assert!(out.contains("RRSIG"), "{name} {rtype}: no RRSIG: {out}");
            }
            validated += 1;
        }
    }
    assert_eq!(validated, 22);
    drop(headend);

    // `headend check`: the files as signed pass; a record changed after
    // signing and an NSEC3 record taken out are found.
    let config = |nsec: &Path, nsec3: &Path| {
        let path = dir.path().join("check.toml");
        std::fs::write(
            &path,
            format!(
                "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
                 [[dns.zone]]\norigin = \"nsec.pre.test\"\nfile = \"{}\"\n\
                 [[dns.zone]]\norigin = \"nsec3.pre.test\"\nfile = \"{}\"\n",
                nsec.display(),
                nsec3.display()
            ),
        )
        .expect("write config");
        Command::new(common::headend_bin())
            .args(["check", "-c"])
            .arg(&path)
            .output()
            .expect("run headend check")
    };
    let good = config(&nsec_file, &nsec3_file);
    assert!(good.status.success(), "{good:?}");
    let text = std::fs::read_to_string(&nsec_file).expect("read");
    assert!(text.contains("192.0.2.3"));
    let changed = dir.path().join("changed.zone");
    std::fs::write(&changed, text.replace("192.0.2.3", "192.0.2.99")).expect("write");
    let text = std::fs::read_to_string(&nsec3_file).expect("read");
    let first_nsec3 = text
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("NSEC3"))
        .expect("an NSEC3 line");
    let broken = dir.path().join("broken.zone");
    std::fs::write(&broken, text.replace(first_nsec3, "")).expect("write");
    let bad = config(&changed, &broken);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(!bad.status.success(), "{out}");
    assert!(
        out.contains("www.nsec.pre.test. A: no RRSIG verifies"),
        "{out}"
    );
    assert!(
        out.contains("has no NSEC3 record matching its hash"),
        "{out}"
    );
    assert!(out.contains("does not point at the next hash"), "{out}");
}
