//! End-to-end tests of the authoritative DNS service: the real binary, queried
//! with dig and kdig over UDP and TCP.

use crate::common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use common::dig::{dig, kdig};
use common::{Headend, free_port, require, workspace_root};

fn test_zone() -> std::path::PathBuf {
    workspace_root().join("tests/data/dns/e2e.test.zone")
}

/// Starts headend serving a copy of the e2e test zone (so tests may edit it).
fn start() -> (Headend, u16) {
    start_with(|port| format!("listen = [\"127.0.0.1:{port}\"]"))
}

/// [`start`] with these `[dns]` settings (given the port) instead.
fn start_with(dns: impl Fn(u16) -> String) -> (Headend, u16) {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(test_zone(), dir.path().join("e2e.test.zone")).expect("copy zone");
    let port = free_port();
    let config = format!(
        "[general]\nstate_dir = \"state\"\n[dns]\n{}\n\
         [[dns.zone]]\norigin = \"e2e.test\"\nfile = \"e2e.test.zone\"\n",
        dns(port)
    );
    (Headend::start_in(dir, &config), port)
}

#[test]
fn positive_answer_is_authoritative_over_udp_and_tcp() {
    let (_h, port) = start();
    for extra in [&[][..], &["+tcp"][..]] {
        let a = dig(port, "www.e2e.test", "A", extra);
        assert_eq!(a.status, "NOERROR", "{}", a.raw);
        assert!(a.has_flag("aa"), "{}", a.raw);
        assert!(!a.has_flag("tc"));
        assert_eq!(a.answer_rdata("A"), vec!["192.0.2.80"]);
        assert_eq!(a.answer[0].ttl, 3600);
    }
    let k = kdig(port, "www.e2e.test", "AAAA", &["+tcp"]);
    assert_eq!(k.status, "NOERROR", "{}", k.raw);
    assert_eq!(k.answer_rdata("AAAA"), vec!["2001:db8::80"]);
}

#[test]
fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() {
    let (_h, port) = start();
    let nx = dig(port, "nope.e2e.test", "A", &[]);
    assert_eq!(nx.status, "NXDOMAIN", "{}", nx.raw);
    assert!(nx.has_flag("aa"));
    assert!(nx.answer.is_empty());
    assert_eq!(nx.authority.len(), 1, "{}", nx.raw);
    assert_eq!(nx.authority[0].rtype, "SOA");
    // RFC 2308 §3: TTL = min(SOA TTL 3600, MINIMUM 300).
    assert_eq!(nx.authority[0].ttl, 300);

    let nodata = kdig(port, "www.e2e.test", "MX", &[]);
    assert_eq!(nodata.status, "NOERROR", "{}", nodata.raw);
    assert!(nodata.answer.is_empty());
    assert_eq!(nodata.authority[0].rtype, "SOA");

    // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 4592 §2.2.2).
    let ent = dig(port, "ent.x.e2e.test", "A", &[]);
    assert_eq!(ent.status, "NOERROR", "{}", ent.raw);
    assert!(ent.answer.is_empty());
}

#[test]
fn referral_has_no_aa_and_carries_glue() {
    let (_h, port) = start();
    let r = dig(port, "host.sub.e2e.test", "A", &[]);
    assert_eq!(r.status, "NOERROR", "{}", r.raw);
    assert!(
        !r.has_flag("aa"),
        "a referral is not authoritative: {}",
        r.raw
    );
    assert!(r.answer.is_empty());
    let ns: Vec<_> = r.authority.iter().filter(|x| x.rtype == "NS").collect();
    assert_eq!(ns.len(), 2, "{}", r.raw);
    assert!(
        r.additional
            .iter()
            .any(|x| x.name == "ns.sub.e2e.test." && x.rdata == "192.0.2.53"),
        "glue missing: {}",
        r.raw
    );
    // DS at the cut is answered by the parent, authoritatively.
    let ds = dig(port, "sub.e2e.test", "DS", &[]);
    assert!(ds.has_flag("aa"), "{}", ds.raw);
    assert_eq!(ds.answer.len(), 1, "{}", ds.raw);
}

#[test]
fn cname_chains_are_followed_inside_the_zone() {
    let (_h, port) = start();
    let c = dig(port, "chain.e2e.test", "A", &[]);
    assert_eq!(c.status, "NOERROR", "{}", c.raw);
    let types: Vec<_> = c.answer.iter().map(|r| r.rtype.as_str()).collect();
    assert_eq!(types, vec!["CNAME", "CNAME", "A"], "{}", c.raw);
    // A dangling in-zone target: the CNAME plus NXDOMAIN (RFC 6604).
    let d = dig(port, "dangling.e2e.test", "A", &[]);
    assert_eq!(d.status, "NXDOMAIN", "{}", d.raw);
    assert_eq!(d.answer.len(), 1);
    // A target outside the zone is not chased.
    let e = dig(port, "external.e2e.test", "A", &[]);
    assert_eq!(e.status, "NOERROR");
    assert_eq!(e.answer.len(), 1);
    assert_eq!(e.answer[0].rtype, "CNAME");
}

#[test]
fn wildcards_synthesise_the_query_name() {
    let (_h, port) = start();
    let w = dig(port, "anything.wild.e2e.test", "A", &[]);
    assert_eq!(w.status, "NOERROR", "{}", w.raw);
    assert!(w.has_flag("aa"));
    assert_eq!(w.answer[0].name, "anything.wild.e2e.test.");
    assert_eq!(w.answer_rdata("A"), vec!["192.0.2.99"]);
    let t = kdig(port, "a.b.wild.e2e.test", "TXT", &[]);
    assert_eq!(t.answer_rdata("TXT"), vec!["\"wildcard\""]);
    // Wildcard NODATA.
    let n = dig(port, "x.wild.e2e.test", "MX", &[]);
    assert_eq!(n.status, "NOERROR");
    assert!(n.answer.is_empty());
    assert_eq!(n.authority[0].rtype, "SOA");
}

#[test]
fn any_gets_a_minimal_answer() {
    let (_h, port) = start();
    let a = dig(port, "www.e2e.test", "ANY", &[]);
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    let types: std::collections::BTreeSet<_> = a.answer.iter().map(|r| &r.rtype).collect();
    assert_eq!(types.len(), 1, "RFC 8482: one RRset, got {}", a.raw);
}

#[test]
fn names_outside_served_zones_are_refused() {
    let (_h, port) = start();
    let r = dig(port, "www.example.org", "A", &[]);
    assert_eq!(r.status, "REFUSED", "{}", r.raw);
    assert!(r.answer.is_empty());
}

#[test]
fn big_answer_is_truncated_over_udp_and_complete_over_tcp() {
    let (_h, port) = start();
    let udp = dig(port, "many.e2e.test", "A", &["+ignore", "+bufsize=1232"]);
    assert!(udp.has_flag("tc"), "{}", udp.raw);
    let small = dig(port, "many.e2e.test", "A", &["+ignore", "+noedns"]);
    assert!(small.has_flag("tc"), "{}", small.raw);
    let tcp = dig(port, "many.e2e.test", "A", &["+tcp"]);
    assert!(!tcp.has_flag("tc"));
    assert_eq!(tcp.answer.len(), 120, "{}", tcp.raw);
    let k = kdig(port, "many.e2e.test", "A", &[]);
    // kdig retries over TCP by itself after TC.
    assert_eq!(k.answer.len(), 120, "{}", k.raw);
}

#[test]
fn edns_payload_is_capped_and_question_case_preserved() {
    let (_h, port) = start();
    let a = dig(port, "WwW.E2e.TeSt", "A", &["+bufsize=4096"]);
    assert!(a.raw.contains("udp: 1232"), "EDNS payload cap: {}", a.raw);
    assert!(a.raw.contains(";WwW.E2e.TeSt."), "question case: {}", a.raw);
    let bad = dig(port, "www.e2e.test", "A", &["+edns=1", "+noednsneg"]);
    assert_eq!(bad.status, "BADVERS", "{}", bad.raw);
}

#[test]
fn txt_strings_and_srv_additional() {
    let (_h, port) = start();
    let t = dig(port, "multi.e2e.test", "TXT", &[]);
    assert_eq!(
        t.answer_rdata("TXT"),
        vec![r#""first string" "second \"quoted\" string" "third;semicolon""#],
        "{}",
        t.raw
    );
    let s = dig(port, "_sip._tcp.e2e.test", "SRV", &[]);
    assert_eq!(s.answer.len(), 1);
    assert!(
        s.additional.iter().any(|r| r.rdata == "192.0.2.60"),
        "{}",
        s.raw
    );
}

#[test]
fn malformed_packets_never_stop_the_server() {
    let (mut h, port) = start();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    let valid = {
        // A well-formed query for www.e2e.test A, as a base to mangle.
        let mut q = vec![0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["www", "e2e", "test"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut buf = [0u8; 2048];
    for i in 0..4000 {
        let pkt: Vec<u8> = match i % 4 {
            // Random bytes of random length.
            0 => (0..next() % 600).map(|_| next() as u8).collect(),
            // Truncated valid query.
            1 => valid[..(next() as usize % valid.len())].to_vec(),
            // Valid query with random bit flips.
            2 => {
                let mut p = valid.clone();
                for _ in 0..3 {
                    let idx = next() as usize % p.len();
                    p[idx] ^= 1 << (next() % 8);
                }
                p
            }
            // Header claiming many records, followed by garbage.
            _ => {
                let mut p = valid[..12].to_vec();
                p[2] &= 0x7f;
                p[5] = (next() % 255) as u8;
                p[7] = (next() % 255) as u8;
                p.extend((0..next() % 100).map(|_| next() as u8));
                p
            }
        };
        sock.send_to(&pkt, ("127.0.0.1", port)).expect("send");
        let _ = sock.recv_from(&mut buf);
    }
    let a = dig(port, "www.e2e.test", "A", &[]);
    assert_eq!(a.answer_rdata("A"), vec!["192.0.2.80"]);
    assert!(h.child.try_wait().expect("wait").is_none(), "server exited");
    h.stop();
}

#[test]
fn sighup_reloads_and_a_broken_file_keeps_the_old_zone() {
    let (mut h, port) = start();
    let zone = h.dir.path().join("e2e.test.zone");
    let text = std::fs::read_to_string(&zone).expect("read zone");
    let edited = text.replace("2026112401", "2026112402") + "new IN A 192.0.2.200\n";
    std::fs::write(&zone, &edited).expect("write zone");
    h.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = dig(port, "new.e2e.test", "A", &[]);
        if a.answer_rdata("A") == vec!["192.0.2.200"] {
            break;
        }
        assert!(Instant::now() < deadline, "reload not seen: {}", a.raw);
        std::thread::sleep(Duration::from_millis(100));
    }
    let soa = dig(port, "e2e.test", "SOA", &[]);
    assert!(soa.answer[0].rdata.contains("2026112402"), "{}", soa.raw);

    // Break it: a bad IPv4 address on a known line.
    let broken = edited.replace("2026112402", "2026112403") + "bad IN A 300.1.2.3\n";
    let bad_line = broken.lines().count();
    std::fs::write(&zone, &broken).expect("write zone");
    h.signal("HUP");
    let needle = format!("e2e.test.zone:{bad_line}");
    h.wait_for_log(&needle, Duration::from_secs(10));
    h.wait_for_log(
        "still serving the previous version",
        Duration::from_secs(10),
    );
    let soa = dig(port, "e2e.test", "SOA", &[]);
    assert!(soa.answer[0].rdata.contains("2026112402"), "{}", soa.raw);
    let a = dig(port, "new.e2e.test", "A", &[]);
    assert_eq!(a.answer_rdata("A"), vec!["192.0.2.200"]);
}

/// Runs `headend check --config FILE`: (exit success, stdout).
fn check(config: &std::path::Path) -> (bool, String) {
    let out = Command::new(common::headend_bin())
        .args(["check", "--config"])
        .arg(config)
        .output()
        .expect("run check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_command_prints_file_and_line_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("bad.zone");
    std::fs::write(
        &zone,
        "$TTL 300\n@ IN SOA ns1 hm 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\nx IN A 1.2.3\nc IN CNAME ns1\nc IN A 192.0.2.9\n",
    )
    .expect("write");
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        "[dns]\nlisten = [\"127.0.0.1:53\"]\n[[dns.zone]]\norigin = \"bad.test\"\nfile = \"bad.zone\"\n",
    )
    .expect("write");
    let (ok, stdout) = check(&config);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("bad.zone:5:"), "{stdout}");

    // The shipped demo config and zones pass.
    let demo = workspace_root().join("configs/demo.toml");
    let (ok, stdout) = check(&demo);
    assert!(ok, "{stdout}");
}

#[test]
fn config_errors_name_the_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        "[dns]\nlisten = [\"127.0.0.1:53\"]\nudp_payload = 4096\n",
    )
    .expect("write");
    let (ok, stdout) = check(&config);
    assert!(!ok);
    assert!(stdout.contains("h.toml"), "{stdout}");
    assert!(stdout.contains("udp_payload"), "{stdout}");
}

#[test]
fn check_compiles_the_dhcp_section_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        "[dhcp]\nserver_id = \"10.20.0.1\"\n[[dhcp.subnet]]\nname = \"lab\"\nsubnet = \"10.20.0.0/24\"\n\
         pools = [\"10.30.0.100-10.30.0.199\"]\n",
    )
    .expect("write");
    let (ok, stdout) = check(&config);
    assert!(!ok, "a pool outside its subnet must fail: {stdout}");
    // The finding names the file and line, the key path and the subnet's own range.
    assert!(stdout.contains("h.toml:6"), "{stdout}");
    assert!(stdout.contains("dhcp.subnet[0].pools[0]"), "{stdout}");
    assert!(stdout.contains("10.20.0.1 and 10.20.0.254"), "{stdout}");
}

#[test]
fn chaos_identity_version_and_nsid_as_configured() {
    let (_h, port) = start_with(|port| {
        format!("listen = [\"127.0.0.1:{port}\"]\nidentity = \"ns1.e2e.test\"\nnsid = \"ns1-lab\"")
    });
    let chaos = |name: &str, tcp: bool| {
        let out = Command::new("dig")
            .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=2"])
            .args(["-c", "CH", "-t", "TXT", "-q", name])
            .args(tcp.then_some("+tcp"))
            .output()
            .expect("run dig");
        common::dig::parse(&String::from_utf8_lossy(&out.stdout))
    };
    for tcp in [false, true] {
        let id = chaos("id.server", tcp);
        assert_eq!(id.status, "NOERROR", "{}", id.raw);
        assert!(id.has_flag("aa"), "{}", id.raw);
        let answered = |raw: &str, owner: &str| {
            raw.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.first() == Some(&owner)
                    && f.get(2..) == Some(&["CH", "TXT", "\"ns1.e2e.test\""][..])
            })
        };
        assert!(answered(&id.raw, "id.server."), "{}", id.raw);
        let host = chaos("hostname.bind", tcp);
        assert!(answered(&host.raw, "hostname.bind."), "{}", host.raw);
        // No version configured: not advertised.
        let version = chaos("version.bind", tcp);
        assert_eq!(version.status, "REFUSED", "{}", version.raw);
    }
    let with_nsid = dig(port, "www.e2e.test", "A", &["+nsid"]);
    assert_eq!(with_nsid.status, "NOERROR", "{}", with_nsid.raw);
    assert!(
        with_nsid
            .raw
            .contains("NSID: 6e 73 31 2d 6c 61 62 (\"ns1-lab\")"),
        "{}",
        with_nsid.raw
    );
    let without = dig(port, "www.e2e.test", "A", &[]);
    assert!(!without.raw.contains("NSID"), "{}", without.raw);
}

/// CH TXT id.server (the configured `identity`).
fn chaos_id(port: u16) -> common::dig::DigAnswer {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=2"])
        .args(["-c", "CH", "-t", "TXT", "-q", "id.server"])
        .output()
        .expect("run dig");
    common::dig::parse(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn sighup_adds_and_removes_zones_from_the_edited_config() {
    let (mut h, port) = start();
    let second = "$ORIGIN second.test.\n$TTL 300\n@ SOA ns1 hm 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.77\n";
    std::fs::write(h.dir.path().join("second.test.zone"), second).unwrap();
    assert_eq!(dig(port, "www.second.test", "A", &[]).status, "REFUSED");
    let original = std::fs::read_to_string(&h.config).unwrap();
    // Add second.test, drop e2e.test, and set an identity.
    let edited = original
        .replace("origin = \"e2e.test\"", "origin = \"second.test\"")
        .replace("file = \"e2e.test.zone\"", "file = \"second.test.zone\"")
        .replace("[dns]\n", "[dns]\nidentity = \"reloaded\"\n");
    std::fs::write(&h.config, &edited).unwrap();
    h.signal("HUP");
    h.wait_for_log("zone removed", Duration::from_secs(10));
    let a = dig(port, "www.second.test", "A", &[]);
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    assert_eq!(a.answer_rdata("A"), vec!["192.0.2.77"]);
    assert_eq!(dig(port, "www.e2e.test", "A", &[]).status, "REFUSED");
    assert!(h.logs().iter().any(|l| l.contains("zone added")));
    // The identity set in the same edit answers CH TXT id.server.
    let id = chaos_id(port);
    assert_eq!(id.status, "NOERROR", "{}", id.raw);
    assert!(id.raw.contains("\"reloaded\""), "{}", id.raw);
    // A config that does not load changes no setting, but zone files are
    // still re-read: an edit of second.test made beside it is served.
    std::fs::write(
        h.dir.path().join("second.test.zone"),
        second
            .replace("hm 1 3600", "hm 2 3600")
            .replace("192.0.2.77", "192.0.2.78"),
    )
    .unwrap();
    std::fs::write(
        &h.config,
        edited.replace("[dns]\n", "[dns]\nno_such_key = 1\n"),
    )
    .unwrap();
    h.signal("HUP");
    h.wait_for_log("the config file is not applied", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = dig(port, "www.second.test", "A", &[]);
        assert_eq!(a.status, "NOERROR", "{}", a.raw);
        if a.answer_rdata("A") == vec!["192.0.2.78"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "zone file not re-read: {}",
            a.raw
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let id = chaos_id(port);
    assert!(id.raw.contains("\"reloaded\""), "{}", id.raw);
    // A listen change is reported, not applied.
    std::fs::write(
        &h.config,
        edited.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:1"),
    )
    .unwrap();
    h.signal("HUP");
    h.wait_for_log("dns.listen changed", Duration::from_secs(10));
    assert_eq!(dig(port, "www.second.test", "A", &[]).status, "NOERROR");
}

/// An IPv6 listener answers over UDP (batched receive and send with IPv6
/// peer addresses) and TCP, and queries from both address families are
/// answered side by side.
#[test]
fn ipv6_and_ipv4_listeners_answer_over_udp_and_tcp() {
    let (_h, port) = start_with(|port| {
        format!("listen = [\"127.0.0.1:{port}\", \"[::1]:{port}\"]\nudp_workers = 2")
    });
    for server in ["@::1", "@127.0.0.1"] {
        for transport in ["+notcp", "+tcp"] {
            let out = Command::new("dig")
                .args([
                    server,
                    "-p",
                    &port.to_string(),
                    "+norecurse",
                    "+time=2",
                    "+tries=2",
                ])
                .args([transport, "www.e2e.test", "A"])
                .output()
                .expect("run dig");
            let a = common::dig::parse(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(a.status, "NOERROR", "{server} {transport}: {}", a.raw);
            assert_eq!(
                a.answer_rdata("A"),
                vec!["192.0.2.80"],
                "{server} {transport}"
            );
        }
    }
}

/// A zone whose only fault is a DKIM key that is not base64 (`p=`), as
/// Knot, NSD and BIND serve it.
fn zone_with_bad_dkim() -> &'static str {
    "$TTL 300\n@ IN SOA ns1 hm 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n\
     www IN A 192.0.2.80\n\
     sel._domainkey IN TXT \"v=DKIM1; k=rsa; p=MIGf!!not*base64!!\"\n"
}

/// A mail-authentication error does not take the zone off the air at start
/// or on SIGHUP: every name is served, the finding is logged with its line,
/// counted on /metrics and printed by `headend check`, which passes. With
/// `mail_lint = "error"` the same zone is refused, and `headend check` fails.
#[test]
fn a_zone_with_a_bad_dkim_key_is_served_and_the_finding_reported() {
    require("dig");
    require("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mail.zone"), zone_with_bad_dkim()).expect("zone");
    let (port, admin_port) = (free_port(), free_port());
    let config = |lint: &str| {
        format!(
            "[general]\nstate_dir = \"state\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\
             metrics_allow = [\"127.0.0.1/32\"]\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"mail.test\"\nfile = \"mail.zone\"\n{lint}"
        )
    };
    let mut h = Headend::start_in(dir, &config(""));
    let a = dig(port, "www.mail.test", "A", &[]);
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    assert_eq!(a.answer_rdata("A"), vec!["192.0.2.80"]);
    let txt = dig(port, "sel._domainkey.mail.test", "TXT", &[]);
    assert_eq!(txt.answer.len(), 1, "{}", txt.raw);
    let logged = h.wait_for_log("mail.zone:6:", Duration::from_secs(5));
    assert!(
        logged.contains("DKIM") || logged.contains("base64"),
        "{logged}"
    );
    assert_eq!(h.count_logs("not served"), 0);
    let gauge = || {
        let out = Command::new("curl")
            .args(["-sk", &format!("https://127.0.0.1:{admin_port}/metrics")])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("headend_dns_mail_lint_findings"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no mail lint gauge in /metrics:\n{text}"))
    };
    assert!(gauge() >= 1.0);

    // SIGHUP re-reads the zone: still served.
    h.signal("HUP");
    h.wait_for_log("zone loaded from", Duration::from_secs(10));
    assert_eq!(dig(port, "www.mail.test", "A", &[]).status, "NOERROR");

    let (ok, stdout) = check(&h.config);
    assert!(ok, "headend check failed on a mail finding:\n{stdout}");
    assert!(stdout.contains("mail.zone:6:"), "{stdout}");

    // An operator who wants such findings fatal says so per zone.
    std::fs::write(&h.config, config("mail_lint = \"error\"\n")).expect("config");
    let (ok, stdout) = check(&h.config);
    assert!(
        !ok,
        "mail_lint = \"error\" should fail the check:\n{stdout}"
    );
    assert!(stdout.contains("mail.zone:6:"), "{stdout}");
    h.stop();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mail.zone"), zone_with_bad_dkim()).expect("zone");
    let mut strict = Headend::start_in(dir, &config("mail_lint = \"error\"\n"));
    strict.wait_for_log("not served", Duration::from_secs(5));
    assert_eq!(
        dig(port, "www.mail.test", "A", &[]).status,
        "REFUSED",
        "the zone was served under mail_lint = \"error\""
    );
    // And `off` does not report it at all.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mail.zone"), zone_with_bad_dkim()).expect("zone");
    strict.stop();
    let quiet = Headend::start_in(dir, &config("mail_lint = \"off\"\n"));
    assert_eq!(dig(port, "www.mail.test", "A", &[]).status, "NOERROR");
    assert_eq!(quiet.count_logs("mail.zone:6:"), 0);
}
