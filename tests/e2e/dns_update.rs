//! RFC 2136 dynamic updates driven by the real clients: BIND's nsupdate
//! (UDP, and TCP with -v) and Knot's knsupdate, TSIG-signed, against a zone
//! with a Knot-style update_policy. Every prerequisite kind (RFC 2136 §2.4),
//! the add and delete forms, a wrong secret, a key outside its policy, an
//! unsigned update and a zone not served; the result checked with dig and
//! with a Knot secondary that follows by IXFR. Then durability: kill -9 right
//! after nsupdate reported success loses nothing, and zonefile_sync writes
//! the changes into the zone file.

use crate::common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::secondary::{Secondary, SecondaryZone, soa_serial};
use common::{Headend, free_port, require};

const DHCP_SECRET: &str = "3q2+7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWc=";
const ADMIN_SECRET: &str = "ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA=";
const OTHER_SECRET: &str = "qrvM3e7/ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJk=";
const WRONG: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const ZONE: &str = "; the dynamic zone, kept by hand too\n$ORIGIN dyn.test.\n$TTL 300\n\
@ SOA ns1 hostmaster 100 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n\
www A 192.0.2.80 ; the web server\n";

fn config(port: u16, extra_zone: &str) -> String {
    format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.tsig_key]]\nname = \"dhcp-key\"\nsecret = \"{DHCP_SECRET}\"\n\
         [[dns.tsig_key]]\nname = \"admin-key\"\nsecret = \"{ADMIN_SECRET}\"\n\
         [[dns.tsig_key]]\nname = \"other-key\"\nsecret = \"{OTHER_SECRET}\"\n\
         [[dns.zone]]\norigin = \"dyn.test\"\nfile = \"dyn.test.zone\"\n\
         allow_update = [\"127.0.0.0/8\"]\n\
         update_policy = [\n  {{ key = \"dhcp-key\", names = \"*.hosts.dyn.test.\", types = [\"A\", \"AAAA\", \"PTR\", \"TXT\"] }},\n  {{ key = \"admin-key\" }},\n]\n\
         {extra_zone}"
    )
}

/// Runs nsupdate (or knsupdate) with `script` on stdin; the exit status and
/// everything it printed.
fn client(program: &str, args: &[&str], script: &str) -> (bool, String) {
    require(program);
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("wait");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// nsupdate with `key:secret` (hmac-sha256), or unsigned; `tcp` adds -v.
fn nsupdate(port: u16, key: Option<(&str, &str)>, tcp: bool, body: &str) -> (bool, String) {
    let mut args: Vec<String> = Vec::new();
    if let Some((name, secret)) = key {
        args.push("-y".into());
        args.push(format!("hmac-sha256:{name}:{secret}"));
    }
    if tcp {
        args.push("-v".into());
    }
    args.push("-t".into());
    args.push("5".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    client(
        "nsupdate",
        &args,
        &format!("server 127.0.0.1 {port}\nzone dyn.test\n{body}\nsend\n"),
    )
}

fn knsupdate(port: u16, key: (&str, &str), body: &str) -> (bool, String) {
    let k = format!("hmac-sha256:{}:{}", key.0, key.1);
    client(
        "knsupdate",
        &["-y", &k, "-t", "5"],
        &format!(
            "server 127.0.0.1 {port}\nzone dyn.test.\norigin dyn.test.\n{body}\nsend\nanswer\n"
        ),
    )
}

fn dhcp() -> Option<(&'static str, &'static str)> {
    Some(("dhcp-key", DHCP_SECRET))
}

fn admin() -> Option<(&'static str, &'static str)> {
    Some(("admin-key", ADMIN_SECRET))
}

fn a(port: u16, name: &str, qtype: &str) -> Vec<String> {
    let mut v = common::dig::dig(port, name, qtype, &[]).answer_rdata(qtype);
    v.sort();
    v
}

/// Asserts an update succeeded.
#[track_caller]
fn ok((success, text): (bool, String)) {
    assert!(success, "update failed:\n{text}");
}

/// Asserts an update failed with `rcode` in the client's words.
#[track_caller]
fn fails((success, text): (bool, String), rcode: &str) {
    assert!(!success, "update succeeded, expected {rcode}:\n{text}");
    assert!(text.contains(rcode), "expected {rcode}:\n{text}");
}

#[test]
fn nsupdate_and_knsupdate_follow_rfc_2136_and_knot_follows_by_ixfr() {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dyn.test.zone"), ZONE).unwrap();
    let port = free_port();
    let knot_port = free_port();
    let mut headend = Headend::start_in(
        dir,
        &config(
            port,
            &format!("allow_transfer = [\"127.0.0.1/32\"]\nnotify = [\"127.0.0.1:{knot_port}\"]\n"),
        ),
    );
    let knot = Secondary::knot(
        knot_port,
        port,
        &[SecondaryZone {
            origin: "dyn.test",
            key: None,
        }],
    );
    knot.wait_serial("dyn.test", 100, Duration::from_secs(30));

    // Add, over UDP and over TCP; one serial step per message.
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "update add h1.hosts.dyn.test 300 A 192.0.2.11\nupdate add h1.hosts.dyn.test 300 A 192.0.2.12",
    ));
    assert_eq!(
        a(port, "h1.hosts.dyn.test", "A"),
        ["192.0.2.11", "192.0.2.12"]
    );
    assert_eq!(soa_serial(port, "dyn.test"), Some(101));
    ok(nsupdate(
        port,
        dhcp(),
        true,
        "update add h2.hosts.dyn.test 300 AAAA 2001:db8::2",
    ));
    assert_eq!(a(port, "h2.hosts.dyn.test", "AAAA"), ["2001:db8::2"]);
    assert_eq!(soa_serial(port, "dyn.test"), Some(102));

    // RFC 2136 §2.4.4 yxdomain and §2.4.5 nxdomain.
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "prereq yxdomain h1.hosts.dyn.test\nupdate add h1.hosts.dyn.test 300 TXT \"owner=1\"",
    ));
    assert_eq!(a(port, "h1.hosts.dyn.test", "TXT"), ["\"owner=1\""]);
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "prereq yxdomain h9.hosts.dyn.test\nupdate add h9.hosts.dyn.test 300 A 192.0.2.99",
        ),
        "NXDOMAIN",
    );
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "prereq nxdomain h3.hosts.dyn.test\nupdate add h3.hosts.dyn.test 300 A 192.0.2.13",
    ));
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "prereq nxdomain h3.hosts.dyn.test\nupdate add h3.hosts.dyn.test 300 A 192.0.2.99",
        ),
        "YXDOMAIN",
    );
    // §2.4.1 yxrrset without value, §2.4.2 with value, §2.4.3 nxrrset.
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "prereq yxrrset h3.hosts.dyn.test A\nupdate add h3.hosts.dyn.test 300 TXT \"a\"",
    ));
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "prereq yxrrset h3.hosts.dyn.test AAAA\nupdate add h3.hosts.dyn.test 300 TXT \"b\"",
        ),
        "NXRRSET",
    );
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "prereq yxrrset h1.hosts.dyn.test A 192.0.2.11\nprereq yxrrset h1.hosts.dyn.test A 192.0.2.12\nupdate add h1.hosts.dyn.test 300 AAAA 2001:db8::1",
    ));
    // Value dependent: the whole RRset must match, a part does not.
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "prereq yxrrset h1.hosts.dyn.test A 192.0.2.11\nupdate add h1.hosts.dyn.test 300 TXT \"c\"",
        ),
        "NXRRSET",
    );
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "prereq nxrrset h3.hosts.dyn.test AAAA\nupdate add h3.hosts.dyn.test 300 AAAA 2001:db8::3",
    ));
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "prereq nxrrset h3.hosts.dyn.test A\nupdate add h3.hosts.dyn.test 300 TXT \"d\"",
        ),
        "YXRRSET",
    );
    assert_eq!(a(port, "h3.hosts.dyn.test", "TXT"), ["\"a\""]);

    // Delete one RR, an RRset, a name (the last needs a key allowed every type).
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "update delete h1.hosts.dyn.test A 192.0.2.11",
    ));
    assert_eq!(a(port, "h1.hosts.dyn.test", "A"), ["192.0.2.12"]);
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "update delete h1.hosts.dyn.test TXT",
    ));
    assert!(a(port, "h1.hosts.dyn.test", "TXT").is_empty());
    fails(
        nsupdate(port, dhcp(), false, "update delete h3.hosts.dyn.test"),
        "REFUSED",
    );
    ok(nsupdate(
        port,
        admin(),
        false,
        "update delete h3.hosts.dyn.test",
    ));
    let gone = common::dig::dig(port, "h3.hosts.dyn.test", "A", &[]);
    assert!(gone.has_flag("aa"));
    assert_eq!(gone.status, "NXDOMAIN");

    // knsupdate too: add and delete.
    ok(knsupdate(
        port,
        ("dhcp-key", DHCP_SECRET),
        "add k1.hosts.dyn.test. 300 A 192.0.2.21\nadd k1.hosts.dyn.test. 300 PTR k1.example.",
    ));
    assert_eq!(a(port, "k1.hosts.dyn.test", "A"), ["192.0.2.21"]);
    ok(knsupdate(
        port,
        ("dhcp-key", DHCP_SECRET),
        "del k1.hosts.dyn.test. PTR",
    ));
    assert!(a(port, "k1.hosts.dyn.test", "PTR").is_empty());

    let before = soa_serial(port, "dyn.test");
    // Wrong secret: NOTAUTH (BADSIG); a key outside its policy, another
    // key, unsigned: REFUSED; a zone not served: NOTAUTH. Nothing changes.
    let (success, text) = nsupdate(
        port,
        Some(("dhcp-key", WRONG)),
        false,
        "update add w1.hosts.dyn.test 300 A 192.0.2.31",
    );
    assert!(!success, "{text}");
    assert!(
        text.contains("NOTAUTH") || text.contains("BADSIG") || text.contains("tsig"),
        "{text}"
    );
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "update add www.dyn.test 300 A 192.0.2.32",
        ),
        "REFUSED",
    );
    fails(
        nsupdate(
            port,
            dhcp(),
            false,
            "update add w2.hosts.dyn.test 300 MX 10 www.dyn.test.",
        ),
        "REFUSED",
    );
    fails(
        nsupdate(
            port,
            Some(("other-key", OTHER_SECRET)),
            false,
            "update add w3.hosts.dyn.test 300 A 192.0.2.33",
        ),
        "REFUSED",
    );
    fails(
        nsupdate(
            port,
            None,
            false,
            "update add w4.hosts.dyn.test 300 A 192.0.2.34",
        ),
        "REFUSED",
    );
    let (success, text) = client(
        "nsupdate",
        &[
            "-y",
            &format!("hmac-sha256:admin-key:{ADMIN_SECRET}"),
            "-t",
            "5",
        ],
        &format!(
            "server 127.0.0.1 {port}\nzone elsewhere.test\nupdate add x.elsewhere.test 300 A 192.0.2.1\nsend\n"
        ),
    );
    assert!(!success && text.contains("NOTAUTH"), "{text}");
    assert_eq!(soa_serial(port, "dyn.test"), before);
    for name in ["w1", "w2", "w3", "w4"] {
        let r = common::dig::dig(port, &format!("{name}.hosts.dyn.test"), "ANY", &[]);
        assert_eq!(r.status, "NXDOMAIN", "{name}");
    }

    // The secondary follows by IXFR to the same serial and data.
    let serial = before.expect("serial");
    knot.wait_serial("dyn.test", serial, Duration::from_secs(20));
    assert_eq!(a(knot.port, "h1.hosts.dyn.test", "A"), ["192.0.2.12"]);
    assert_eq!(a(knot.port, "h2.hosts.dyn.test", "AAAA"), ["2001:db8::2"]);
    assert_eq!(a(knot.port, "h1.hosts.dyn.test", "AAAA"), ["2001:db8::1"]);
    assert_eq!(
        common::dig::dig(knot.port, "h3.hosts.dyn.test", "A", &[]).status,
        "NXDOMAIN"
    );
    let incremental = headend
        .logs()
        .iter()
        .filter(|l| {
            l.contains("outgoing IXFR") && !l.contains("full zone") && !l.contains("up to date")
        })
        .count();
    assert!(incremental >= 1, "{}", headend.logs().join("\n"));
    assert!(
        knot.log().contains("IXFR, incoming"),
        "knot did not follow by IXFR:\n{}",
        knot.log()
    );
    headend.stop();
}

/// Kills `server` with SIGKILL and gives back its folder and config.
fn kill_9(mut server: Headend) -> (tempfile::TempDir, PathBuf) {
    server.signal("KILL");
    let _ = server.child.wait();
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    (dir, server.config.clone())
}

#[test]
fn kill_9_after_nsupdate_success_loses_nothing_and_zonefile_sync_writes_it_back() {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    let zone_file = dir.path().join("dyn.test.zone");
    std::fs::write(&zone_file, ZONE).unwrap();
    let port = free_port();
    let server = Headend::start_in(dir, &config(port, ""));
    // Each update acknowledged, then at once kill -9 after the last.
    let n = 25;
    for i in 0..n {
        ok(nsupdate(
            port,
            dhcp(),
            i % 2 == 1,
            &format!("update add d{i}.hosts.dyn.test 300 A 192.0.2.{}", 100 + i),
        ));
    }
    let (dir, config_path) = kill_9(server);
    // The zone file is as it was: the updates live in the journal.
    assert_eq!(std::fs::read_to_string(&zone_file).unwrap(), ZONE);
    let mut server = Headend::spawn(dir, config_path.clone(), &[]);
    for i in 0..n {
        assert_eq!(
            a(port, &format!("d{i}.hosts.dyn.test"), "A"),
            [format!("192.0.2.{}", 100 + i)],
            "update {i} lost"
        );
    }
    assert_eq!(soa_serial(port, "dyn.test"), Some(100 + n));
    // A SIGHUP (reload) keeps them too.
    server.signal("HUP");
    server.wait_for_log("dynamic updates from", Duration::from_secs(10));
    assert_eq!(a(port, "d0.hosts.dyn.test", "A"), ["192.0.2.100"]);

    // zonefile_sync writes them into the file, comments kept, and empties
    // the journal; the next start serves the same from the file alone.
    server.stop();
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        text.replace("allow_update =", "zonefile_sync_secs = 1\nallow_update ="),
    )
    .unwrap();
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("tempdir"));
    let mut server = Headend::spawn(dir, config_path, &[]);
    server.wait_for_log("zone written back", Duration::from_secs(20));
    let written = std::fs::read_to_string(&zone_file).unwrap();
    assert!(
        written.contains("; the dynamic zone, kept by hand too"),
        "{written}"
    );
    assert!(
        written.contains("www A 192.0.2.80 ; the web server"),
        "{written}"
    );
    assert!(written.contains(&format!("{}", 100 + n)), "{written}");
    for i in 0..n {
        assert!(
            written.contains(&format!(
                "d{i}.hosts.dyn.test. 300 IN A 192.0.2.{}",
                100 + i
            )),
            "{written}"
        );
    }
    let journal = server.dir.path().join("state/update/dyn.test.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&journal).map_or(0, |m| m.len()) > 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::metadata(&journal).map(|m| m.len()).ok(), Some(4));
    // One more update after the flush, then kill -9: file + journal again.
    ok(nsupdate(
        port,
        dhcp(),
        false,
        "update delete d0.hosts.dyn.test A",
    ));
    let (dir, config_path) = kill_9(server);
    let server = Headend::spawn(dir, config_path, &[]);
    assert_eq!(
        common::dig::dig(port, "d0.hosts.dyn.test", "A", &[]).status,
        "NXDOMAIN"
    );
    assert_eq!(a(port, "d1.hosts.dyn.test", "A"), ["192.0.2.101"]);
    drop(server);
}

/// A signed zone of `n` extra names.
fn big_zone(origin: &str, n: usize) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\n"
    );
    for i in 0..n {
        text.push_str(&format!(
            "h{i} A 10.{}.{}.{}\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    text
}

fn kdig_records(port: u16, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("kdig");
    cmd.args(["@127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .args(["+nocomments", "+nostats", "+noquestion"]);
    common::run(&mut cmd)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn signed_zones_are_re_signed_incrementally_and_validate_after_a_thousand_updates() {
    require("kdig");
    require("ldns-verify-zone");
    require("delv");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("big.test.zone"),
        big_zone("big.test", 10_000),
    )
    .unwrap();
    std::fs::write(dir.path().join("dyn.test.zone"), ZONE).unwrap();
    let port = free_port();
    let signed = "dnssec = { algorithm = \"ecdsap256sha256\", denial = \"nsec3\" }\nallow_transfer = [\"127.0.0.1/32\"]\n";
    let headend = Headend::start_in(
        dir,
        &config(
            port,
            &format!(
                "{signed}[[dns.zone]]\norigin = \"big.test\"\nfile = \"big.test.zone\"\n\
                 update_policy = [{{ key = \"admin-key\" }}]\n{signed}"
            ),
        ),
    );
    // One record added to the 10,000-record signed zone: the IXFR carries
    // the change, not the zone.
    let before = soa_serial(port, "big.test").expect("serial");
    let (success, text) = client(
        "nsupdate",
        &[
            "-y",
            &format!("hmac-sha256:admin-key:{ADMIN_SECRET}"),
            "-t",
            "10",
        ],
        &format!(
            "server 127.0.0.1 {port}\nzone big.test\nupdate add new.big.test 300 A 192.0.2.200\nsend\n"
        ),
    );
    assert!(success, "{text}");
    let ixfr = kdig_records(port, &[&format!("IXFR={before}"), "big.test"]);
    assert!(
        ixfr.len() < 20,
        "IXFR of one added record has {} records:\n{}",
        ixfr.len(),
        ixfr.join("\n")
    );
    assert!(
        ixfr.iter().any(|l| l.contains("192.0.2.200")),
        "{}",
        ixfr.join("\n")
    );

    // A thousand updates (600 adds, then 400 deletes) to a signed zone
    // from 4 nsupdate processes at once (the server takes them in batches,
    // one journal sync and one re-sign per batch); the zone then verifies
    // whole and delv validates a dynamic name and the NXDOMAIN of a removed
    // one.
    let key = format!("hmac-sha256:dhcp-key:{DHCP_SECRET}");
    let run_parallel = |scripts: Vec<String>| {
        std::thread::scope(|scope| {
            let runs: Vec<_> = scripts
                .iter()
                .map(|script| scope.spawn(|| client("nsupdate", &["-y", &key, "-t", "20"], script)))
                .collect();
            for r in runs {
                let (success, text) = r.join().expect("nsupdate thread");
                assert!(success, "{text}");
            }
        });
    };
    let head = format!("server 127.0.0.1 {port}\nzone dyn.test\n");
    let mut adds = vec![head.clone(); 4];
    for i in 0..600 {
        adds[i % 4].push_str(&format!(
            "update add n{i}.hosts.dyn.test 300 A 198.51.{}.{}\nsend\n",
            i / 250,
            i % 250
        ));
    }
    run_parallel(adds);
    // Deleted: every name but those with i % 3 == 2 (400 of 600).
    let mut deletes = vec![head; 4];
    for (k, i) in (0..600).filter(|i| i % 3 != 2).enumerate() {
        deletes[k % 4].push_str(&format!("update delete n{i}.hosts.dyn.test A\nsend\n"));
    }
    run_parallel(deletes);
    for i in [0, 1, 2, 299, 599] {
        let want: Vec<String> = if i % 3 == 2 {
            vec![format!("198.51.{}.{}", i / 250, i % 250)]
        } else {
            Vec::new()
        };
        assert_eq!(a(port, &format!("n{i}.hosts.dyn.test"), "A"), want, "n{i}");
    }
    // One serial step per message.
    assert_eq!(soa_serial(port, "dyn.test"), Some(100 + 1000));
    let axfr = kdig_records(port, &["AXFR", "dyn.test"]);
    let body: String = axfr
        .iter()
        .enumerate()
        .filter(|(i, l)| *i == 0 || !l.contains("\tSOA\t"))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let file = headend.dir.path().join("dyn.test.axfr");
    std::fs::write(&file, body).unwrap();
    common::run(Command::new("ldns-verify-zone").arg(&file));

    // delv with the DS from `headend dnssec ds` as trust anchor.
    let ds = common::run(
        Command::new(common::headend_bin())
            .args(["dnssec", "--config"])
            .arg(&headend.config)
            .args(["ds", "dyn.test"]),
    );
    let mut anchors = String::from("trust-anchors {\n");
    for line in ds.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        anchors.push_str(&format!(
            "  \"{}\" static-ds {} {} {} \"{}\";\n",
            f[0], f[4], f[5], f[6], f[7]
        ));
    }
    anchors.push_str("};\n");
    let anchors_file = headend.dir.path().join("dyn.anchors");
    std::fs::write(&anchors_file, anchors).unwrap();
    let delv = |name: &str| {
        let out = Command::new("delv")
            .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
            .arg(&anchors_file)
            .args(["+root=dyn.test", "+tcp", name, "A"])
            .output()
            .expect("run delv");
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        s
    };
    let kept = delv("n2.hosts.dyn.test");
    assert!(
        kept.contains("; fully validated") && kept.contains("198.51.0.2"),
        "{kept}"
    );
    let removed = delv("n0.hosts.dyn.test");
    assert!(
        removed.contains("resolution failed: ncache nxdomain")
            || removed.contains("; negative response, fully validated"),
        "{removed}"
    );
}
