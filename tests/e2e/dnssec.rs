//! DNSSEC end to end: headend signs two zones (NSEC with ECDSA P-256 KSK+ZSK,
//! NSEC3 with an Ed25519 CSK); `delv` with the DS from `headend dnssec ds`
//! as trust anchor validates positive, NXDOMAIN, NODATA and wildcard
//! answers; `ldns-verify-zone` and `dnssec-verify` accept the zones as
//! transferred by AXFR; a ZSK rollover started from the command line is
//! picked up by the running server.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Headend, free_port, headend_bin, require, run};

fn zone_text(origin: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster 2026112401 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
         www A 192.0.2.10\nwww AAAA 2001:db8::10\n*.wild TXT \"from the wildcard\"\na.b.deep A 192.0.2.30\n\
         @ MX 10 mail\nmail A 192.0.2.25\n@ TXT \"v=spf1 mx -all\"\nsub NS ns.sub\nns.sub A 192.0.2.53\n"
    )
}

struct Signed {
    headend: Headend,
    port: u16,
}

fn start() -> Signed {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("nsec.test.zone"), zone_text("nsec.test")).unwrap();
    std::fs::write(dir.path().join("nsec3.test.zone"), zone_text("nsec3.test")).unwrap();
    let port = free_port();
    let headend = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"nsec.test\"\nfile = \"nsec.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
             dnssec = {{ algorithm = \"ecdsap256sha256\", denial = \"nsec\" }}\n\
             [[dns.zone]]\norigin = \"nsec3.test\"\nfile = \"nsec3.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
             dnssec = {{ algorithm = \"ed25519\", denial = \"nsec3\", keys = \"csk\" }}\n"
        ),
    );
    Signed { headend, port }
}

impl Signed {
    fn cli(&self, args: &[&str]) -> String {
        run(Command::new(headend_bin())
            .arg("dnssec")
            .arg("--config")
            .arg(&self.headend.config)
            .args(args))
    }

    /// A delv trust-anchors file holding the zone's DS records.
    fn anchors(&self, zone: &str) -> std::path::PathBuf {
        let ds = self.cli(&["ds", zone]);
        let mut text = String::from("trust-anchors {\n");
        for line in ds.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.get(3), Some(&"DS"), "{ds}");
            text.push_str(&format!(
                "  \"{}\" static-ds {} {} {} \"{}\";\n",
                f[0], f[4], f[5], f[6], f[7]
            ));
        }
        text.push_str("};\n");
        let path = self.headend.dir.path().join(format!("{zone}.anchors"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn delv(&self, zone: &str, anchors: &std::path::Path, name: &str, rtype: &str) -> String {
        let out = Command::new("delv")
            .args(["@127.0.0.1", "-p", &self.port.to_string(), "-a"])
            .arg(anchors)
            .arg(format!("+root={zone}"))
            .args(["+tcp", name, rtype])
            .output()
            .expect("run delv");
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        s
    }

    fn axfr_to_file(&self, zone: &str) -> std::path::PathBuf {
        let text = run(Command::new("kdig").args([
            "@127.0.0.1",
            "-p",
            &self.port.to_string(),
            "AXFR",
            zone,
            "+nocomments",
            "+nostats",
            "+noquestion",
        ]));
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with(';') && !l.is_empty())
            .enumerate()
            // The closing SOA repeats the first; zone verifiers want it once.
            .filter(|(i, l)| *i == 0 || !l.contains("\tSOA\t"))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let path = self.headend.dir.path().join(format!("{zone}.axfr"));
        std::fs::write(&path, body).unwrap();
        path
    }
}

#[test]
fn delv_validates_every_answer_kind_for_nsec_and_nsec3() {
    require("delv");
    let s = start();
    for zone in ["nsec.test", "nsec3.test"] {
        let anchors = s.anchors(zone);
        // (name, type, what the validated answer must hold): the data for
        // a positive answer; for negative ones the rcode delv settled on
        // (`$NXDOMAIN`, or `$NXRRSET` for NODATA and the empty non-terminal
        // b.deep) with the denial records that proved it.
        let denial = if zone == "nsec3.test" {
            "NSEC3"
        } else {
            "NSEC"
        };
        let cases = [
            (format!("www.{zone}"), "A", Some("192.0.2.10")),
            (format!("nothere.{zone}"), "A", None),
            (format!("www.{zone}"), "TXT", None),
            (format!("b.deep.{zone}"), "A", None),
            (
                format!("anything.wild.{zone}"),
                "TXT",
                Some("from the wildcard"),
            ),
        ];
        for (name, rtype, data) in cases {
            let out = s.delv(zone, &anchors, &name, rtype);
            assert!(
                out.contains("fully validated"),
                "{zone}: delv did not validate {name} {rtype}:\n{out}\nheadend logs:\n{}",
                s.headend.logs().join("\n")
            );
            match data {
                Some(data) => {
                    assert!(!out.contains("negative response"), "{name} {rtype}: {out}");
                    let answer = out
                        .lines()
                        .find(|l| l.starts_with(&format!("{name}.")) && l.contains(rtype))
                        .unwrap_or_else(|| panic!("{name} {rtype}: no answer line: {out}"));
                    assert!(answer.contains(data), "{name} {rtype}: {out}");
                    assert!(
                        out.lines()
                            .any(|l| l.starts_with(&format!("{name}.")) && l.contains("RRSIG")),
                        "{name} {rtype}: no RRSIG: {out}"
                    );
                }
                None => {
                    let rcode = if name.starts_with("nothere.") {
                        "$NXDOMAIN"
                    } else {
                        "$NXRRSET"
                    };
                    assert!(
                        out.contains("negative response, fully validated"),
                        "{name} {rtype}: {out}"
                    );
                    assert!(out.contains(rcode), "{name} {rtype}: want {rcode}: {out}");
                    let proofs = out
                        .lines()
                        .filter(|l| {
                            // delv prints the proof as comments: `; OWNER TYPE RDATA`.
                            let f: Vec<&str> =
                                l.trim_start_matches("; ").split_whitespace().collect();
                            f.get(1) == Some(&denial)
                        })
                        .count();
                    assert!(proofs >= 1, "{name} {rtype}: no {denial} proof: {out}");
                }
            }
        }
        // A wrong trust anchor does not validate.
        let wrong = s.headend.dir.path().join("wrong.anchors");
        std::fs::write(
            &wrong,
            format!("trust-anchors {{ \"{zone}.\" static-ds 1 13 2 \"0000000000000000000000000000000000000000000000000000000000000000\"; }};\n"),
        )
        .unwrap();
        let out = s.delv(zone, &wrong, &format!("www.{zone}"), "A");
        assert!(!out.contains("fully validated"), "{out}");
    }
}

#[test]
fn zone_verifiers_accept_the_transferred_signed_zones() {
    require("ldns-verify-zone");
    require("dnssec-verify");
    require("kdig");
    let s = start();
    for zone in ["nsec.test", "nsec3.test"] {
        let file = s.axfr_to_file(zone);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("RRSIG") && text.contains("DNSKEY") && text.contains("CDS"),
            "{text}"
        );
        run(Command::new("ldns-verify-zone").arg(&file));
        // -z: the NSEC3 zone has one combined key (CSK, SEP flag set) that signs everything.
        let mut verify = Command::new("dnssec-verify");
        if zone == "nsec3.test" {
            verify.arg("-z");
        }
        run(verify.args(["-o", zone]).arg(&file));
    }
}

#[test]
fn zsk_rollover_from_the_command_line_is_carried_out_by_the_server() {
    require("dig");
    let mut s = start();
    let count_keys = |s: &Signed| {
        let out = run(Command::new("dig").args([
            "@127.0.0.1",
            "-p",
            &s.port.to_string(),
            "+short",
            "nsec.test",
            "DNSKEY",
        ]));
        out.lines().count()
    };
    assert_eq!(count_keys(&s), 2);
    s.headend.mark_log();
    let summary = s.cli(&["rollover", "nsec.test", "--zsk"]);
    assert!(summary.contains("pre-publish"), "{summary}");
    // The scheduler notices the new key state within seconds and publishes the new ZSK.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_keys(&s) != 3 {
        assert!(
            Instant::now() < deadline,
            "new ZSK not published; logs:\n{}",
            s.headend.logs().join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    s.headend
        .wait_for_log("DNSSEC key state changed", Duration::from_secs(5));
    // Still valid with the same trust anchor.
    let anchors = s.anchors("nsec.test");
    let out = s.delv("nsec.test", &anchors, "www.nsec.test", "A");
    assert!(out.contains("fully validated"), "{out}");
}

#[test]
fn a_restart_keeps_the_signed_serial_and_signatures() {
    require("kdig");
    let mut s = start();
    let before: Vec<String> = ["nsec.test", "nsec3.test"]
        .iter()
        .map(|z| std::fs::read_to_string(s.axfr_to_file(z)).unwrap())
        .collect();
    s.headend.stop();
    let dir = std::mem::replace(&mut s.headend.dir, tempfile::tempdir().expect("tempdir"));
    let config = s.headend.config.clone();
    let mut again = Signed {
        headend: Headend::spawn(dir, config, &[]),
        port: s.port,
    };
    again.headend.wait_for_log(
        "serving the zone as signed before the restart",
        Duration::from_secs(10),
    );
    for (zone, before) in ["nsec.test", "nsec3.test"].iter().zip(&before) {
        let after = std::fs::read_to_string(again.axfr_to_file(zone)).unwrap();
        assert_eq!(
            &after, before,
            "{zone}: a restart with nothing changed must serve the same signed zone"
        );
    }
    assert_eq!(
        again.headend.count_logs("zone signed"),
        0,
        "{:?}",
        again.headend.logs()
    );
    drop(s);
}

/// knotd serving the parent zone `test.` with the given DS lines for
/// `child.test`; stopped by PID on drop.
struct Parent {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Parent {
    fn start(port: u16, serial: u32, ds_lines: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("test.zone"),
            format!(
                "$ORIGIN test.\n$TTL 60\n@ SOA ns hostmaster {serial} 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n\
                 child NS ns1.child\nns1.child A 192.0.2.1\n{ds_lines}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("knot.conf"),
            format!(
                "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
                 database:\n    storage: {d}\n\
                 zone:\n  - domain: test\n    file: {d}/test.zone\n    storage: {d}\n    journal-content: none\n    zonefile-load: whole\n"
            ),
        )
        .unwrap();
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.path().join("knot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start knotd");
        let parent = Self { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if common::secondary::soa_serial(port, "test.") == Some(serial) {
                return parent;
            }
            assert!(Instant::now() < deadline, "parent knotd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ksk_rollover_waits_until_the_parent_serves_the_new_ds() {
    require("knotd");
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("child.test.zone"), zone_text("child.test")).unwrap();
    let port = free_port();
    let parent_port = free_port();
    let mut headend = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"child.test\"\nfile = \"child.test.zone\"\n\
             dnssec = {{ algorithm = \"ecdsap256sha256\", denial = \"nsec\", dnskey_ttl = 1, \
             propagation_delay_secs = 1, parent_ds_ttl = 1, parent = [\"127.0.0.1:{parent_port}\"], \
             parent_check_interval_secs = 1 }}\n"
        ),
    );
    let config = headend.config.clone();
    let cli = |args: &[&str]| {
        run(Command::new(headend_bin())
            .arg("dnssec")
            .arg("--config")
            .arg(&config)
            .args(args))
    };
    let ksks = || {
        let out = run(Command::new("dig").args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "child.test",
            "DNSKEY",
        ]));
        out.lines().filter(|l| l.starts_with("257 ")).count()
    };
    let old_ds = cli(&["ds", "child.test"]);
    let parent = Parent::start(parent_port, 1, &old_ds);
    headend.mark_log();
    let summary = cli(&["rollover", "child.test", "--ksk"]);
    assert!(
        summary.contains("every parent serves the new DS")
            || summary.contains("after every parent serves"),
        "{summary}"
    );
    // The scheduler picks the new key up (it looks at the key state every
    // few seconds) and signs with both KSKs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ksks() != 2 {
        assert!(
            Instant::now() < deadline,
            "new KSK not published: {:?}",
            headend.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The parent still serves only the old DS: well past the timeline's
    // removal point (1 s TTLs), both KSKs stay, and the server says why.
    headend.wait_for_log("waiting for the parent", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        ksks(),
        2,
        "the old KSK must stay until the parent has the new DS"
    );

    // The parent publishes the new DS (both, as during a real change).
    let both_ds = cli(&["ds", "child.test"]);
    assert_eq!(both_ds.lines().count(), 2, "{both_ds}");
    drop(parent);
    headend.mark_log();
    let _parent = Parent::start(parent_port, 2, &both_ds);
    headend.wait_for_log(
        "every parent server serves the new KSK's DS",
        Duration::from_secs(15),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while ksks() != 1 {
        assert!(
            Instant::now() < deadline,
            "old KSK not removed: {:?}",
            headend.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
