//! DNSSEC end to end: headend signs two zones (NSEC with ECDSA P-256 KSK+ZSK,
//! NSEC3 with an Ed25519 CSK); `delv` with the DS from `headend dnssec ds`
//! as trust anchor validates positive, NXDOMAIN, NODATA and wildcard
//! answers; `ldns-verify-zone` and `dnssec-verify` accept the zones as
//! transferred by AXFR, with the signed ZONEMD (RFC 8976) headend adds; a ZSK rollover started from the command line is
//! picked up by the running server.

use crate::common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Headend, free_port, headend_bin, require, run};

fn zone_text(origin: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster 2026112401 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
         www A 192.0.2.10\nwww AAAA 2001:db8::10\n*.wild TXT \"from the wildcard\"\na.b.deep A 192.0.2.30\n\
         @ MX 10 mail\nmail A 192.0.2.25\n@ TXT \"v=spf1 mx -all\"\nsub NS ns.sub\nns.sub A 192.0.2.53\n\
         people RP Admin.Mail People-Info\nPeople-Info TXT \"the admins\"\nafs AFSDB 1 AFS-Host\n\
         AFS-Host A 192.0.2.40\nkx KX 10 Mail\n"
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
             dnssec = {{ algorithm = \"ecdsap256sha256\", denial = \"nsec\", zonemd = \"sha384\" }}\n\
             [[dns.zone]]\norigin = \"nsec3.test\"\nfile = \"nsec3.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
             dnssec = {{ algorithm = \"ed25519\", denial = \"nsec3\", keys = \"csk\", zonemd = \"sha384\" }}\n"
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
            // Mixed-case names in RP RDATA are signed in canonical (lower) case.
            (format!("people.{zone}"), "RP", Some("Admin.Mail")),
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
        // -ZZ: a ZONEMD must be there, match the records and be signed.
        assert!(text.contains("ZONEMD"), "{text}");
        run(Command::new("ldns-verify-zone").arg("-ZZ").arg(&file));
        // The same zone without its ZONEMD fails that check, and with one
        // record altered the digest no longer matches.
        let stripped = s.headend.dir.path().join(format!("{zone}.nozonemd"));
        let kept: String = text
            .lines()
            .filter(|l| !l.contains("\tZONEMD\t"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&stripped, kept).unwrap();
        let out = Command::new("ldns-verify-zone")
            .arg("-ZZZ")
            .arg(&stripped)
            .output()
            .unwrap();
        assert!(!out.status.success(), "no ZONEMD accepted");
        let altered = s.headend.dir.path().join(format!("{zone}.altered"));
        std::fs::write(&altered, text.replace("192.0.2.30", "192.0.2.31")).unwrap();
        let out = Command::new("ldns-verify-zone")
            .arg("-ZZZ")
            .arg(&altered)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "an altered zone passed: {said}");
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
    // This wait is the scenario, not a wait for a condition: the removal
    // point passes while the parent still serves only the old DS.
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

/// A stand-in secondary on its own loopback address: it records the serial
/// of every NOTIFY it receives (the SOA in the answer section, RFC 1996
/// §3.7) and acknowledges it (§4.7). Stops within 200 ms of being dropped,
/// and after 120 s in any case.
struct NotifySink {
    addr: std::net::SocketAddr,
    serials: Arc<Mutex<Vec<u32>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NotifySink {
    fn start(ip: &str) -> Self {
        use hickory_proto::op::{Message, MessageType, OpCode};
        let socket = std::net::UdpSocket::bind((ip, 0)).expect("bind the NOTIFY sink");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let addr = socket.local_addr().expect("address");
        let serials: Arc<Mutex<Vec<u32>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let thread = {
            let serials = Arc::clone(&serials);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120)
                {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(mut m) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    if m.metadata.op_code != OpCode::Notify
                        || m.metadata.message_type != MessageType::Query
                    {
                        continue;
                    }
                    let serial = m.answers.iter().find_map(|r| match &r.data {
                        hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
                        _ => None,
                    });
                    if let Some(serial) = serial {
                        serials.lock().expect("lock").push(serial);
                    }
                    m.metadata.message_type = MessageType::Response;
                    m.answers.clear();
                    if let Ok(reply) = m.to_vec() {
                        let _ = socket.send_to(&reply, from);
                    }
                }
            })
        };
        Self {
            addr,
            serials,
            stop,
            thread: Some(thread),
        }
    }

    fn serials(&self) -> Vec<u32> {
        self.serials.lock().expect("lock").clone()
    }
}

impl Drop for NotifySink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A zone re-signed with no change to its data (here: the re-sign that
/// starts a ZSK rollover ordered from the command line) gets a new serial,
/// and its secondaries a NOTIFY carrying that serial, which they acknowledge.
#[test]
fn a_re_signed_zone_notifies_its_secondaries_with_the_new_serial() {
    require("dig");
    let sink = NotifySink::start("127.0.8.53");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("nsec.test.zone"), zone_text("nsec.test")).unwrap();
    let port = free_port();
    let mut headend = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"nsec.test\"\nfile = \"nsec.test.zone\"\n\
             notify = [\"{}\"]\n\
             dnssec = {{ algorithm = \"ecdsap256sha256\", denial = \"nsec\" }}\n",
            sink.addr
        ),
    );
    let serial = || common::secondary::soa_serial(port, "nsec.test").expect("SOA serial");
    let before = serial();
    headend.mark_log();
    run(Command::new(headend_bin())
        .arg("dnssec")
        .arg("--config")
        .arg(&headend.config)
        .args(["rollover", "nsec.test", "--zsk"]));
    // The scheduler picks the new key up within seconds and re-signs.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let now = serial();
        if now > before {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "not re-signed: serial still {now}; logs:\n{}",
            headend.logs().join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sink.serials().contains(&after) {
        assert!(
            Instant::now() < deadline,
            "no NOTIFY with serial {after} (was {before}); NOTIFY serials seen: {:?}; logs:\n{}",
            sink.serials(),
            headend.logs().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    headend.wait_for_log("NOTIFY acknowledged", Duration::from_secs(10));
}

/// A validating resolver that follows the signed zone down to its unsigned
/// child (stopped by PID on drop).
struct Unbound {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Unbound {
    /// unbound (serving `test.` from the stubs, not as its built-in
    /// RFC 6761 local zone) on a free loopback port trusting `anchors` (DS lines), with
    /// a stub zone for each (zone, server port); the first server is also
    /// the stub for the root, so that nothing is asked off loopback.
    fn start(anchors: &[String], stubs: &[(&str, u16)]) -> Self {
        require("unbound");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let port = free_port();
        let mut conf = format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-daemonize: no\n  username: \"\"\n\
             \x20 chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n\
             \x20 verbosity: 1\n  val-log-level: 2\n  num-threads: 1\n  so-reuseport: no\n  do-ip6: no\n\
             \x20 do-not-query-localhost: no\n  outgoing-interface: 127.0.0.1\n\
             \x20 access-control: 127.0.0.0/8 allow\n  module-config: \"validator iterator\"\n\
             \x20 target-fetch-policy: \"0 0 0 0 0\"\n  qname-minimisation: no\n\
             \x20 local-zone: \"test.\" nodefault\n"
        );
        for ds in anchors {
            conf.push_str(&format!("  trust-anchor: \"{}\"\n", ds.trim()));
        }
        let root = stubs.first().map(|&(_, server)| (".", server));
        for (zone, server) in stubs.iter().copied().chain(root) {
            conf.push_str(&format!(
                "stub-zone:\n  name: \"{zone}\"\n  stub-addr: 127.0.0.1@{server}\n"
            ));
        }
        let path = dir.path().join("unbound.conf");
        std::fs::write(&path, conf).unwrap();
        run(Command::new("unbound-checkconf").arg(&path));
        let log = dir.path().join("unbound.log");
        let child = Command::new("unbound")
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start unbound");
        let unbound = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        // Ready once it answers anything (SERVFAIL included).
        let deadline = Instant::now() + Duration::from_secs(15);
        let probe = stubs.first().map_or(".", |(zone, _)| zone);
        // Until unbound has bound its port, dig fails with "connection refused".
        while !common::dig::try_dig(port, probe, "SOA", &[])
            .is_ok_and(|answer| answer.raw.contains("status:"))
        {
            assert!(
                Instant::now() < deadline,
                "unbound did not start: {}",
                unbound.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        unbound
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks with recursion desired and DO set.
    fn ask(&self, name: &str, rtype: &str) -> common::dig::DigAnswer {
        common::dig::dig(self.port, name, rtype, &["+recurse", "+dnssec"])
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// unbound, trusting the DS of the signed zones, validates what they say
/// about their unsigned delegation `sub`: the NSEC (or NSEC3) proof that
/// there is no DS makes the child's answer insecure (no AD, no SERVFAIL),
/// while answers from the signed zones are secure (AD). The child is a
/// second headend serving `sub.nsec.test` and `sub.nsec3.test` unsigned;
/// unbound reaches it through a stub zone (a delegation's glue names no
/// port, and the tests talk to loopback ports only), and asks the parent
/// for the DS as it would on any referral.
#[test]
fn unbound_validates_the_proofs_for_unsigned_delegations() {
    require("dig");
    let s = start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = String::new();
    for parent in ["nsec.test", "nsec3.test"] {
        let zone = format!("sub.{parent}");
        std::fs::write(
            dir.path().join(format!("{zone}.zone")),
            format!(
                "$ORIGIN {zone}.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\n\
                 ns A 192.0.2.53\nwww A 192.0.2.99\n"
            ),
        )
        .unwrap();
        config.push_str(&format!(
            "[[dns.zone]]\norigin = \"{zone}\"\nfile = \"{zone}.zone\"\n"
        ));
    }
    let child_port = free_port();
    let _child = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{child_port}\"]\n{config}"
        ),
    );
    let anchors: Vec<String> = ["nsec.test", "nsec3.test"]
        .iter()
        .flat_map(|zone| {
            s.cli(&["ds", zone])
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let unbound = Unbound::start(
        &anchors,
        &[
            ("nsec.test", s.port),
            ("nsec3.test", s.port),
            ("sub.nsec.test", child_port),
            ("sub.nsec3.test", child_port),
        ],
    );
    for parent in ["nsec.test", "nsec3.test"] {
        let signed = unbound.ask(&format!("www.{parent}"), "A");
        assert_eq!(
            signed.status,
            "NOERROR",
            "{}\n{}",
            signed.raw,
            unbound.log()
        );
        assert!(signed.has_flag("ad"), "{parent}: no AD:\n{}", signed.raw);
        assert_eq!(
            signed.answer_rdata("A"),
            vec!["192.0.2.10"],
            "{}",
            signed.raw
        );

        let insecure = unbound.ask(&format!("www.sub.{parent}"), "A");
        assert_eq!(
            insecure.status,
            "NOERROR",
            "{parent}: the unsigned child was not proven insecure:\n{}\n{}",
            insecure.raw,
            unbound.log()
        );
        assert!(
            !insecure.has_flag("ad"),
            "{parent}: AD on an insecure answer:\n{}",
            insecure.raw
        );
        assert_eq!(
            insecure.answer_rdata("A"),
            vec!["192.0.2.99"],
            "{}",
            insecure.raw
        );

        // The proof itself, as unbound validated it: no DS, secure denial.
        let ds = unbound.ask(&format!("sub.{parent}"), "DS");
        assert_eq!(ds.status, "NOERROR", "{}", ds.raw);
        assert!(ds.answer.is_empty(), "{}", ds.raw);
        assert!(
            ds.has_flag("ad"),
            "{parent}: the no-DS proof was not validated:\n{}",
            ds.raw
        );
    }
}
