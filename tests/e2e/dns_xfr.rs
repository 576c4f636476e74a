//! Zone transfers and NOTIFY against real secondaries: knotd and nsd transfer
//! from headend on loopback (AXFR at first), follow a change (in a plain and
//! in a DNSSEC-signed zone) through NOTIFY and IXFR, TSIG keys are checked both ways, the transfer ACL refuses other
//! addresses, a 100,000-record signed zone arrives whole, and SIGHUP replaces
//! ACLs, keys, NOTIFY targets, DNSSEC settings and the CHAOS/NSID answers.

use crate::common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use common::secondary::{Secondary, SecondaryZone, soa_serial};
use common::{Headend, free_port, require, run};

/// 32 random-looking bytes, base64 (hmac-sha256 secret).
const SECRET: &str = "3q2+7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWc=";
const WRONG: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn zone_text(origin: &str, serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster {serial} 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
         www A {www}\nmail A 192.0.2.25\n@ MX 10 mail\n@ TXT \"v=spf1 mx -all\"\n"
    )
}

fn kdig(args: &[&str]) -> (bool, String) {
    require("kdig");
    let out = Command::new("kdig").args(args).output().expect("run kdig");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Resource records in kdig's AXFR output (comment, blank and TSIG lines skipped).
fn records(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';') && !l.contains("\tTSIG\t"))
        .collect()
}

fn a_record(port: u16, name: &str) -> String {
    common::dig::short(port, name, "A")
}

#[test]
fn knot_and_nsd_follow_changes_through_notify_and_ixfr() {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("xfr.test.zone");
    let signed = dir.path().join("tsig.test.zone");
    std::fs::write(&plain, zone_text("xfr.test", 1, "192.0.2.10")).unwrap();
    std::fs::write(&signed, zone_text("tsig.test", 1, "192.0.2.10")).unwrap();
    let port = free_port();
    let knot_port = free_port();
    let nsd_port = free_port();
    let mut headend = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.tsig_key]]\nname = \"xfr-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
             [[dns.zone]]\norigin = \"xfr.test\"\nfile = \"xfr.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
             notify = [\"127.0.0.1:{knot_port}\"]\nalso_notify = [\"127.0.0.1:{nsd_port}\"]\n\
             [[dns.zone]]\norigin = \"tsig.test\"\nfile = \"tsig.test.zone\"\ntsig_key = \"xfr-key\"\n\
             dnssec = {{ denial = \"nsec3\" }}\n\
             notify = [\"127.0.0.1:{knot_port}\", \"127.0.0.1:{nsd_port}\"]\n"
        ),
    );
    let zones = [
        SecondaryZone {
            origin: "xfr.test",
            key: None,
        },
        SecondaryZone {
            origin: "tsig.test",
            key: Some(("xfr-key", SECRET)),
        },
    ];
    let knot = Secondary::knot(knot_port, port, &zones);
    let nsd = Secondary::nsd(nsd_port, port, &zones);
    // Initial transfers (AXFR: the secondaries hold nothing yet).
    for s in [&knot, &nsd] {
        s.wait_serial("xfr.test", 1, Duration::from_secs(30));
        s.wait_serial("tsig.test", 1, Duration::from_secs(30));
    }
    assert!(
        headend.count_logs("outgoing AXFR") >= 4,
        "{}",
        headend.logs().join("\n")
    );

    // A change in headend: new address, new serial, SIGHUP.
    std::fs::write(&plain, zone_text("xfr.test", 2, "192.0.2.20")).unwrap();
    std::fs::write(&signed, zone_text("tsig.test", 2, "192.0.2.20")).unwrap();
    headend.signal("HUP");
    headend.wait_for_log("sending NOTIFY", Duration::from_secs(10));
    for s in [&knot, &nsd] {
        // NOTIFY brings the change long before the 3600 s refresh would.
        s.wait_serial("xfr.test", 2, Duration::from_secs(20));
        s.wait_serial("tsig.test", 2, Duration::from_secs(20));
        assert_eq!(a_record(s.port, "www.xfr.test"), "192.0.2.20", "{}", s.kind);
        assert_eq!(
            a_record(s.port, "www.tsig.test"),
            "192.0.2.20",
            "{}",
            s.kind
        );
    }
    // Both came by IXFR: headend says so, and Knot's own log too.
    let ixfr = headend
        .logs()
        .into_iter()
        .filter(|l| {
            l.contains("outgoing IXFR") && !l.contains("full zone") && !l.contains("up to date")
        })
        .count();
    assert!(ixfr >= 4, "{}", headend.logs().join("\n"));
    assert!(
        knot.log().contains("IXFR, incoming"),
        "knot log lacks an incoming IXFR:\n{}",
        knot.log()
    );
    // Applied as increments (the signed zone's too: every RRSIG changed), no fallback.
    assert!(!knot.log().contains("fallback"), "{}", knot.log());
    assert!(
        nsd.log().contains("serial 1 is updated to 2"),
        "{}",
        nsd.log()
    );
    assert!(!nsd.log().contains("error"), "{}", nsd.log());
    assert!(
        headend.count_logs("NOTIFY acknowledged") >= 4,
        "{}",
        headend.logs().join("\n")
    );
    // The journal survives in the state dir.
    assert!(
        headend
            .dir
            .path()
            .join("state/journal/xfr.test.ixfr")
            .is_file()
    );
}

#[test]
fn transfer_acl_and_tsig_keys_are_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("acl.test.zone"),
        zone_text("acl.test", 7, "192.0.2.10"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("key.test.zone"),
        zone_text("key.test", 7, "192.0.2.10"),
    )
    .unwrap();
    let port = free_port();
    let headend = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.tsig_key]]\nname = \"xfr-key\"\nsecret = \"{SECRET}\"\n\
             [[dns.zone]]\norigin = \"acl.test\"\nfile = \"acl.test.zone\"\nallow_transfer = [\"127.0.0.2/32\"]\n\
             [[dns.zone]]\norigin = \"key.test\"\nfile = \"key.test.zone\"\ntsig_key = \"xfr-key\"\n"
        ),
    );
    let p = port.to_string();
    // Inside the ACL (source 127.0.0.2): the whole zone.
    let (_, text) = kdig(&[
        "@127.0.0.1",
        "-p",
        &p,
        "-b",
        "127.0.0.2",
        "AXFR",
        "acl.test",
    ]);
    assert_eq!(records(&text).len(), 8, "{text}");
    // Outside it (127.0.0.3): REFUSED, no records.
    let (_, text) = kdig(&[
        "@127.0.0.1",
        "-p",
        &p,
        "-b",
        "127.0.0.3",
        "AXFR",
        "acl.test",
    ]);
    assert!(text.contains("REFUSED"), "{text}");
    assert!(records(&text).is_empty(), "{text}");
    // IXFR over UDP (RFC 1995 §2), same ACL: inside it the current SOA alone
    // (up to date, or "ask again over TCP"), outside it REFUSED.
    for (from, serial) in [("127.0.0.2", "7"), ("127.0.0.2", "3")] {
        let ixfr = format!("IXFR={serial}");
        let (ok, text) = kdig(&[
            "@127.0.0.1",
            "-p",
            &p,
            "-b",
            from,
            "+notcp",
            &ixfr,
            "acl.test",
        ]);
        assert!(ok, "{text}");
        assert!(text.contains("(UDP)"), "{text}");
        let answer = records(&text);
        assert_eq!(answer.len(), 1, "{text}");
        assert!(
            answer[0].contains("SOA") && answer[0].contains(" 7 "),
            "{text}"
        );
    }
    let (_, text) = kdig(&[
        "@127.0.0.1",
        "-p",
        &p,
        "-b",
        "127.0.0.3",
        "+notcp",
        "IXFR=3",
        "acl.test",
    ]);
    assert!(text.contains("REFUSED"), "{text}");
    assert!(records(&text).is_empty(), "{text}");
    // A Knot secondary outside the ACL never gets the zone.
    let knot_port = free_port();
    let knot = Secondary::knot(
        knot_port,
        port,
        &[SecondaryZone {
            origin: "acl.test",
            key: None,
        }],
    );
    // Knot tried and was refused: its own log and headend's both say so.
    wait_until(Duration::from_secs(20), || {
        (knot.log().contains("REFUSED") || knot.log().contains("refused"))
            .then_some(())
            .ok_or_else(|| format!("knot log:\n{}", knot.log()))
    });
    wait_until(Duration::from_secs(10), || {
        (headend.count_logs("refused by the zone's transfer ACL") > 0)
            .then_some(())
            .ok_or_else(|| headend.logs().join("\n"))
    });
    assert_eq!(knot.serial("acl.test"), None);
    drop(knot);

    // TSIG zone: the right key transfers, a wrong key and no key do not.
    let good = format!("hmac-sha256:xfr-key:{SECRET}");
    let (ok, text) = kdig(&["@127.0.0.1", "-p", &p, "-y", &good, "AXFR", "key.test"]);
    assert!(ok, "{text}");
    assert_eq!(records(&text).len(), 8, "{text}");
    let bad = format!("hmac-sha256:xfr-key:{WRONG}");
    let (_, text) = kdig(&["@127.0.0.1", "-p", &p, "-y", &bad, "AXFR", "key.test"]);
    assert!(records(&text).is_empty(), "{text}");
    assert!(
        text.contains("NOTAUTH") || text.contains("BADSIG"),
        "{text}"
    );
    let (_, text) = kdig(&["@127.0.0.1", "-p", &p, "AXFR", "key.test"]);
    assert!(text.contains("REFUSED"), "{text}");
    // And over UDP: the key gets the signed current SOA, no key is refused.
    let (ok, text) = kdig(&[
        "@127.0.0.1",
        "-p",
        &p,
        "-y",
        &good,
        "+notcp",
        "IXFR=1",
        "key.test",
    ]);
    assert!(
        ok && text.contains("NOERROR") && text.contains("TSIG"),
        "{text}"
    );
    let (_, text) = kdig(&["@127.0.0.1", "-p", &p, "+notcp", "IXFR=1", "key.test"]);
    assert!(text.contains("REFUSED"), "{text}");
    // NSD with the wrong key does not get the zone either.
    let nsd_port = free_port();
    let nsd = Secondary::nsd(
        nsd_port,
        port,
        &[SecondaryZone {
            origin: "key.test",
            key: Some(("xfr-key", WRONG)),
        }],
    );
    // NSD tried with its key and was refused on the TSIG check: NSD reports
    // the bad signature headend answered with (headend's own warning for it
    // is the same line as kdig's wrong-key AXFR above, from the same
    // address, and identical warnings are logged once a minute), and NSD
    // serves nothing for the zone.
    assert!(
        headend.count_logs("refused: TSIG check failed") >= 1,
        "{}",
        headend.logs().join("\n")
    );
    wait_until(Duration::from_secs(20), || {
        let log = nsd.log();
        (log.contains("bad tsig signature") || log.contains("Bad Signature"))
            .then_some(())
            .ok_or_else(|| format!("headend:\n{}\nnsd:\n{log}", headend.logs().join("\n")))
    });
    assert_eq!(soa_serial(nsd_port, "key.test"), None, "{}", nsd.log());
}

/// Polls `check` every 100 ms until it holds; panics with its last message
/// after `timeout`.
fn wait_until(timeout: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(why) if std::time::Instant::now() > deadline => {
                panic!("not seen within {timeout:?}: {why}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn hundred_thousand_record_signed_zone_transfers_completely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n",
    );
    for i in 0..100_000u32 {
        let _ = writeln!(
            text,
            "h{i} A 10.{}.{}.{}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
    }
    std::fs::write(dir.path().join("big.test.zone"), text).unwrap();
    let port = free_port();
    let headend = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"big.test\"\nfile = \"big.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
             dnssec = {{ denial = \"nsec\", algorithm = \"ed25519\" }}\n"
        ),
    );
    let (ok, out) = kdig(&["@127.0.0.1", "-p", &port.to_string(), "AXFR", "big.test"]);
    assert!(ok, "{}", &out[out.len().saturating_sub(2000)..]);
    let recs = records(&out);
    let count = |t: &str| {
        recs.iter()
            .filter(|l| l.contains(&format!("\t{t}\t")))
            .count()
    };
    // Opening and closing SOA, the glue and the 100,000 host addresses, and
    // per name of the signed zone (apex, ns1, 100,000 hosts) an NSEC.
    assert_eq!(
        count("SOA"),
        2,
        "{}",
        &out[out.len().saturating_sub(2000)..]
    );
    assert_eq!(count("A"), 100_001);
    assert_eq!(count("NSEC"), 100_002);
    // Every authoritative RRset signed: A and NSEC per host, plus the apex's and ns1's.
    assert!(count("RRSIG") >= 200_004, "{}", count("RRSIG"));
    // And the chain and signatures verify: the whole NSEC chain, and the
    // signatures of a random tenth of the RRsets (all of them cost ldns 40 s
    // of CPU in a debug-build CI; tests/e2e/dnssec.rs verifies every
    // signature of smaller zones).
    let file = headend.dir.path().join("big.axfr");
    let body: String = recs
        .iter()
        .enumerate()
        .filter(|(i, l)| *i == 0 || !l.contains("\tSOA\t"))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(&file, body).unwrap();
    require("ldns-verify-zone");
    let verify = Command::new("ldns-verify-zone")
        .args(["-p", "10"])
        .arg(&file)
        .output()
        .expect("ldns-verify-zone");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let messages = headend
        .logs()
        .into_iter()
        .find(|l| l.contains("outgoing AXFR"))
        .expect("transfer logged");
    assert!(!messages.contains("messages=1 "), "{messages}");
}

/// SIGHUP replaces transfer ACLs, TSIG keys and the NSID answer, and names
/// the settings that need a restart (worker count, UDP size cap, TCP limit,
/// RRL) without applying them — as README's reload section says.
#[test]
fn sighup_replaces_acls_keys_and_nsid_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    for zone in ["acl.test", "key.test"] {
        std::fs::write(
            dir.path().join(format!("{zone}.zone")),
            zone_text(zone, 7, "192.0.2.10"),
        )
        .unwrap();
    }
    let port = free_port();
    let config = |acl: &str, secret: &str, nsid: &str, tuning: &str| {
        format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\nnsid = \"{nsid}\"\n{tuning}\n\
             [[dns.tsig_key]]\nname = \"xfr-key\"\nsecret = \"{secret}\"\n\
             [[dns.zone]]\norigin = \"acl.test\"\nfile = \"acl.test.zone\"\nallow_transfer = [\"{acl}\"]\n\
             [[dns.zone]]\norigin = \"key.test\"\nfile = \"key.test.zone\"\ntsig_key = \"xfr-key\"\n"
        )
    };
    let mut headend = Headend::start_in(
        dir,
        &config("127.0.0.2/32", SECRET, "ns-before", "udp_workers = 1"),
    );
    let p = port.to_string();
    let axfr_from = |source: &str| {
        let (_, text) = kdig(&["@127.0.0.1", "-p", &p, "-b", source, "AXFR", "acl.test"]);
        records(&text).len()
    };
    let axfr_with = |secret: &str| {
        let key = format!("hmac-sha256:xfr-key:{secret}");
        let (_, text) = kdig(&["@127.0.0.1", "-p", &p, "-y", &key, "AXFR", "key.test"]);
        records(&text).len()
    };
    let nsid = || {
        run(Command::new("dig").args([
            "@127.0.0.1",
            "-p",
            &p,
            "+nsid",
            "+norecurse",
            "acl.test",
            "SOA",
        ]))
    };
    assert_eq!(axfr_from("127.0.0.2"), 8);
    assert_eq!(axfr_from("127.0.0.3"), 0);
    assert_eq!(axfr_with(SECRET), 8);
    assert_eq!(axfr_with(WRONG), 0);
    assert!(nsid().contains("(\"ns-before\")"), "{}", nsid());

    // The edit: the ACL moves to 127.0.0.3, the key's secret changes, a new
    // NSID, and four settings that only a restart applies.
    std::fs::write(
        &headend.config,
        config(
            "127.0.0.3/32",
            WRONG,
            "ns-after",
            "udp_workers = 2\nudp_payload_max = 1400\ntcp_max_connections = 100\n\
             [dns.rrl]\nresponses_per_second = 50\n",
        ),
    )
    .unwrap();
    headend.signal("HUP");
    for key in ["udp_workers", "udp_payload_max", "tcp_*", "rrl"] {
        headend.wait_for_log(
            &format!("dns.{key} changed: it takes effect at the next restart"),
            Duration::from_secs(10),
        );
    }
    assert_eq!(axfr_from("127.0.0.3"), 8, "the new ACL applies");
    assert_eq!(axfr_from("127.0.0.2"), 0, "the old ACL is gone");
    assert_eq!(axfr_with(WRONG), 8, "the new secret applies");
    assert_eq!(axfr_with(SECRET), 0, "the old secret is refused");
    assert!(nsid().contains("(\"ns-after\")"), "{}", nsid());
}

/// A stand-in secondary that acknowledges every NOTIFY it gets and keeps the
/// (zone, serial) each announced.
struct NotifyListener {
    socket: std::net::UdpSocket,
    port: u16,
}

impl NotifyListener {
    fn bind() -> Self {
        let port = free_port();
        let socket = std::net::UdpSocket::bind(("127.0.0.1", port)).expect("bind listener");
        Self { socket, port }
    }

    /// The NOTIFYs received (and acknowledged) within `wait`: (zone, serial).
    fn received(&self, wait: Duration) -> Vec<(String, u32)> {
        use hickory_proto::op::{Message, MessageType, OpCode};
        use hickory_proto::rr::RData;
        let deadline = std::time::Instant::now() + wait;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return got;
            }
            self.socket.set_read_timeout(Some(left)).expect("timeout");
            let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                return got;
            };
            let m = Message::from_vec(&buf[..n]).expect("a DNS message");
            assert_eq!(m.metadata.op_code, OpCode::Notify, "{m:?}");
            let zone = m.queries[0].name().to_string();
            let serial = m
                .answers
                .iter()
                .find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(soa.serial),
                    _ => None,
                })
                .expect("the SOA hint");
            got.push((zone, serial));
            // RFC 1996 §4.7: the response echoes the id and opcode, QR=1.
            let mut ack = Message::new(m.metadata.id, MessageType::Response, OpCode::Notify);
            ack.metadata.authoritative = true;
            ack.add_query(m.queries[0].clone());
            self.socket
                .send_to(&ack.to_vec().expect("encode"), from)
                .expect("ack");
        }
    }

    /// Waits up to `timeout` for a NOTIFY of `zone` with `serial`.
    fn wait_for(&self, zone: &str, serial: u32, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            seen.extend(self.received(Duration::from_millis(200)));
            if seen.iter().any(|(z, s)| z == zone && *s == serial) {
                return;
            }
        }
        panic!(
            "no NOTIFY of {zone} serial {serial} on port {} within {timeout:?}: {seen:?}",
            self.port
        );
    }
}

/// SIGHUP moves NOTIFY to the new targets (the old ones hear nothing more),
/// turns DNSSEC signing on and switches its denial of existence, and
/// replaces the CHAOS version answer — the rest of README's reload list.
#[test]
fn sighup_replaces_notify_targets_dnssec_settings_and_the_version_answer() {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    let zone_file = dir.path().join("n.test.zone");
    std::fs::write(&zone_file, zone_text("n.test", 10, "192.0.2.10")).expect("zone");
    let port = free_port();
    let (old, new) = (NotifyListener::bind(), NotifyListener::bind());
    let config = |target: u16, version: &str, dnssec: &str| {
        format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\nversion = \"{version}\"\n\
             [[dns.zone]]\norigin = \"n.test\"\nfile = \"n.test.zone\"\n\
             notify = [\"127.0.0.1:{target}\"]\n{dnssec}"
        )
    };
    let headend = Headend::start_in(dir, &config(old.port, "v-before", ""));
    let version = || {
        run(Command::new("dig").args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "-c",
            "CH",
            "-t",
            "TXT",
            "+short",
            "version.bind",
        ]))
    };
    assert_eq!(version().trim(), "\"v-before\"");
    // The first target hears a serial change.
    std::fs::write(&zone_file, zone_text("n.test", 11, "192.0.2.11")).expect("zone");
    headend.signal("HUP");
    old.wait_for("n.test.", 11, Duration::from_secs(10));

    // New target, version answer and signing (NSEC) in one edit, with a new serial.
    std::fs::write(&zone_file, zone_text("n.test", 12, "192.0.2.12")).expect("zone");
    std::fs::write(
        &headend.config,
        config(new.port, "v-after", "dnssec = { denial = \"nsec\" }\n"),
    )
    .expect("config");
    headend.signal("HUP");
    let signed_serial = || {
        let a = common::dig::dig(port, "n.test", "SOA", &["+dnssec"]);
        let signed = !a.answer_rdata("RRSIG").is_empty();
        (signed, soa_serial(port, "n.test"))
    };
    wait_until(Duration::from_secs(20), || match signed_serial() {
        (true, Some(s)) if s >= 12 => Ok(()),
        other => Err(format!("not signed yet: {other:?}")),
    });
    let serial = soa_serial(port, "n.test").expect("serial");
    new.wait_for("n.test.", serial, Duration::from_secs(10));
    assert_eq!(version().trim(), "\"v-after\"");
    let dnskey = common::dig::dig(port, "n.test", "DNSKEY", &["+dnssec"]);
    assert!(!dnskey.answer_rdata("DNSKEY").is_empty(), "{}", dnskey.raw);
    let nx = common::dig::dig(port, "nope.n.test", "A", &["+dnssec"]);
    assert!(
        nx.authority.iter().any(|r| r.rtype == "NSEC"),
        "NSEC denial: {}",
        nx.raw
    );
    // The old target was dropped: no NOTIFY for the new serials reached it.
    let late = old.received(Duration::from_millis(500));
    assert!(
        late.iter().all(|(_, s)| *s <= 11),
        "the removed target still got NOTIFY: {late:?}"
    );

    // DNSSEC denial switched to NSEC3 by another SIGHUP.
    std::fs::write(
        &headend.config,
        config(new.port, "v-after", "dnssec = { denial = \"nsec3\" }\n"),
    )
    .expect("config");
    headend.signal("HUP");
    wait_until(Duration::from_secs(20), || {
        let nx = common::dig::dig(port, "nope.n.test", "A", &["+dnssec"]);
        if nx.authority.iter().any(|r| r.rtype == "NSEC3") {
            Ok(())
        } else {
            Err(nx.raw)
        }
    });
    let param = common::dig::dig(port, "n.test", "NSEC3PARAM", &[]);
    assert_eq!(param.answer_rdata("NSEC3PARAM").len(), 1, "{}", param.raw);
}

/// headend is stopped, both zone files are edited (the plain zone's serial
/// bumped by hand, the signed zone's data changed under the same file
/// serial, so headend bumps the signed serial), and headend started again:
/// it sends NOTIFY at once for both zones (their serials differ from the
/// last ones notified, kept in the state dir), and knotd catches up by IXFR
/// from the journal, which continued across the restart (the difference
/// computed against the version served before it), with no full transfer.
#[test]
fn a_restart_with_changed_zones_notifies_and_secondaries_follow_by_ixfr() {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("xfr.test.zone");
    let signed = dir.path().join("sig.test.zone");
    std::fs::write(&plain, zone_text("xfr.test", 1, "192.0.2.10")).unwrap();
    std::fs::write(&signed, zone_text("sig.test", 1, "192.0.2.10")).unwrap();
    let (port, knot_port) = (free_port(), free_port());
    let config = format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"xfr.test\"\nfile = \"xfr.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
         notify = [\"127.0.0.1:{knot_port}\"]\n\
         [[dns.zone]]\norigin = \"sig.test\"\nfile = \"sig.test.zone\"\nallow_transfer = [\"127.0.0.1/32\"]\n\
         notify = [\"127.0.0.1:{knot_port}\"]\ndnssec = {{ denial = \"nsec\" }}\n"
    );
    let mut headend = Headend::start_in(dir, &config);
    let signed_before = soa_serial(port, "sig.test").expect("signed serial");
    let zones = [
        SecondaryZone {
            origin: "xfr.test",
            key: None,
        },
        SecondaryZone {
            origin: "sig.test",
            key: None,
        },
    ];
    let knot = Secondary::knot(knot_port, port, &zones);
    knot.wait_serial("xfr.test", 1, Duration::from_secs(30));
    knot.wait_serial("sig.test", signed_before, Duration::from_secs(30));

    // Down; the files change; up again on the same state dir.
    headend.stop();
    let dir = std::mem::replace(&mut headend.dir, tempfile::tempdir().expect("tempdir"));
    drop(headend);
    std::fs::write(&plain, zone_text("xfr.test", 2, "192.0.2.20")).unwrap();
    std::fs::write(&signed, zone_text("sig.test", 1, "192.0.2.20")).unwrap();
    let mut headend = Headend::start_in(dir, &config);
    let signed_after = soa_serial(port, "sig.test").expect("signed serial");
    assert!(
        signed_after > signed_before,
        "{signed_after} after {signed_before}"
    );
    headend.wait_for_log("sending NOTIFY", Duration::from_secs(5));
    // knotd's refresh is an hour away: only the NOTIFY brings it.
    knot.wait_serial("xfr.test", 2, Duration::from_secs(20));
    knot.wait_serial("sig.test", signed_after, Duration::from_secs(20));
    assert_eq!(a_record(knot.port, "www.xfr.test"), "192.0.2.20");
    assert_eq!(a_record(knot.port, "www.sig.test"), "192.0.2.20");
    assert_eq!(
        headend.count_logs("the IXFR journal continues"),
        2,
        "{}",
        headend.logs().join("\n")
    );
    // Both by IXFR, none by a full zone.
    let logs = headend.logs();
    let transfers: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("outgoing AXFR") || l.contains("outgoing IXFR"))
        .collect();
    assert!(
        transfers
            .iter()
            .all(|l| l.contains("IXFR") && !l.contains("full zone")),
        "{transfers:#?}"
    );
    assert!(transfers.len() >= 2, "{transfers:#?}");
    assert!(
        knot.log().matches("IXFR, incoming").count() >= 2,
        "knot log:\n{}",
        knot.log()
    );
    assert!(!knot.log().contains("fallback"), "{}", knot.log());
    // A second restart with nothing changed sends no NOTIFY (those of a
    // start are sent before it logs that it is ready).
    headend.stop();
    let dir = std::mem::replace(&mut headend.dir, tempfile::tempdir().expect("tempdir"));
    drop(headend);
    let again = Headend::start_in(dir, &config);
    assert_eq!(
        again.count_logs("sending NOTIFY"),
        0,
        "{}",
        again.logs().join("\n")
    );
}
