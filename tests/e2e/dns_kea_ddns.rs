//! Kea's DHCP-DDNS daemon (kea-dhcp-ddns, "D2") as headend's update client:
//! name change requests (NCRs) sent to D2's UDP JSON listener become
//! TSIG-signed RFC 2136 updates with RFC 4703 conflict resolution, and
//! headend's zone follows: an add appears, a second client's add for the
//! same name is refused by its DHCID prerequisite, a remove takes it away.
//! One D2 (and one headend) for the whole scenario.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::dhcp::Proc;
use common::{Headend, free_port, require};

const SECRET: &str = "3q2+7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWc=";
const ZONE: &str = "$ORIGIN kea.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n\
@ NS ns1\nns1 A 192.0.2.1\n";
const REV: &str = "$ORIGIN 2.0.192.in-addr.arpa.\n$TTL 300\n\
@ SOA ns1.kea.test. hostmaster.kea.test. 1 3600 600 86400 60\n@ NS ns1.kea.test.\n";

/// Sends one NCR (Kea's JSON, behind a 2-octet length) to D2.
fn ncr(d2_port: u16, add: bool, fqdn: &str, ip: &str, dhcid: &str) {
    let body = format!(
        r#"{{"change-type":{},"forward-change":true,"reverse-change":true,"fqdn":"{fqdn}","ip-address":"{ip}","dhcid":"{dhcid}","lease-expires-on":"20300101000000","lease-length":1300,"use-conflict-resolution":true}}"#,
        u8::from(!add)
    );
    let mut datagram = u16::try_from(body.len())
        .expect("short NCR")
        .to_be_bytes()
        .to_vec();
    datagram.extend_from_slice(body.as_bytes());
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.send_to(&datagram, ("127.0.0.1", d2_port))
        .expect("send NCR");
}

fn short(port: u16, name: &str, qtype: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+short", name, qtype])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn kea_dhcp_ddns_updates_a_headend_zone() {
    require("kea-dhcp-ddns");
    require("dig");
    let (dns_port, d2_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kea.zone"), ZONE).expect("zone");
    std::fs::write(dir.path().join("rev.zone"), REV).expect("zone");
    let config = format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{dns_port}\"]\n\
         [[dns.tsig_key]]\nname = \"kea-key\"\nsecret = \"{SECRET}\"\n\
         [[dns.zone]]\norigin = \"kea.test\"\nfile = \"kea.zone\"\n\
         update_policy = [ {{ key = \"kea-key\" }} ]\n\
         [[dns.zone]]\norigin = \"2.0.192.in-addr.arpa\"\nfile = \"rev.zone\"\n\
         update_policy = [ {{ key = \"kea-key\" }} ]\n"
    );
    let _h = Headend::start_in(dir, &config);
    let kea = tempfile::tempdir().expect("tempdir");
    let d2_conf = kea.path().join("d2.json");
    let server = format!(r#"[{{"ip-address": "127.0.0.1", "port": {dns_port}}}]"#);
    std::fs::write(
        &d2_conf,
        format!(
            r#"{{"DhcpDdns": {{
  "ip-address": "127.0.0.1", "port": {d2_port}, "dns-server-timeout": 2000,
  "ncr-protocol": "UDP", "ncr-format": "JSON",
  "tsig-keys": [{{"name": "kea-key", "algorithm": "HMAC-SHA256", "secret": "{SECRET}"}}],
  "forward-ddns": {{"ddns-domains": [{{"name": "kea.test.", "key-name": "kea-key", "dns-servers": {server}}}]}},
  "reverse-ddns": {{"ddns-domains": [{{"name": "2.0.192.in-addr.arpa.", "key-name": "kea-key", "dns-servers": {server}}}]}},
  "loggers": [{{"name": "kea-dhcp-ddns", "severity": "INFO", "output_options": [{{"output": "{}"}}]}}]
}}}}"#,
            kea.path().join("d2.log").display()
        ),
    )
    .expect("d2 config");
    let mut cmd = Command::new("kea-dhcp-ddns");
    cmd.arg("-c")
        .arg(&d2_conf)
        .env("KEA_PIDFILE_DIR", kea.path())
        .env("KEA_LOCKFILE_DIR", kea.path());
    let _d2 = Proc::spawn(cmd, false);
    let log = kea.path().join("d2.log");
    assert!(
        until(10, || std::fs::read_to_string(&log).is_ok_and(|t| t
            .contains("DHCP_DDNS_STARTED")
            || t.contains("QUEUE_MGR_STARTED"))),
        "kea-dhcp-ddns did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // The first client's name: A + DHCID forward, PTR reverse.
    let add_seen = || {
        short(dns_port, "host1.kea.test", "A") == ["192.0.2.50"]
            && short(dns_port, "50.2.0.192.in-addr.arpa", "PTR") == ["host1.kea.test."]
    };
    // D2 listens a moment after it logs its start: resend until served.
    assert!(
        until(20, || {
            ncr(
                d2_port,
                true,
                "host1.kea.test.",
                "192.0.2.50",
                "000102030405060708",
            );
            until(2, add_seen)
        }),
        "the NCR's name never appeared: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(short(dns_port, "host1.kea.test", "DHCID").len(), 1);
    // Another client (another DHCID) asking for the same name: refused.
    ncr(
        d2_port,
        true,
        "host1.kea.test.",
        "192.0.2.51",
        "00010a0b0c0d0e0f10",
    );
    assert!(
        until(10, || std::fs::read_to_string(&log).is_ok_and(
            |t| t.contains("DHCP_DDNS_FORWARD_REPLACE_REJECTED")
        )),
        "D2 did not report the conflict: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(short(dns_port, "host1.kea.test", "A"), ["192.0.2.50"]);
    // The owner's remove takes the names away.
    ncr(
        d2_port,
        false,
        "host1.kea.test.",
        "192.0.2.50",
        "000102030405060708",
    );
    assert!(
        until(10, || short(dns_port, "host1.kea.test", "A").is_empty()
            && short(dns_port, "50.2.0.192.in-addr.arpa", "PTR")
                .is_empty()),
        "the remove NCR left names behind: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
