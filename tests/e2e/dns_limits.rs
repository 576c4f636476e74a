//! Response rate limiting and TCP connection caps, against the real binary.
//! Floods come from loopback addresses (127.0.5.0/24) and stop by themselves.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::dig::dig;
use common::{Headend, free_port, require, workspace_root};

fn start(extra: &str) -> (Headend, u16) {
    require("dig");
    let port = free_port();
    let zone = workspace_root().join("tests/data/dns/e2e.test.zone");
    let h = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n{extra}\n\
         [[dns.zone]]\norigin = \"e2e.test\"\nfile = \"{}\"\n",
        zone.display()
    ));
    (h, port)
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// A message as sent over TCP: its two-byte length first (RFC 1035 §4.2.2).
fn tcp_framed(message: &[u8]) -> Vec<u8> {
    let mut framed = (message.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    framed
}

#[test]
fn rrl_limits_a_flooding_prefix_and_spares_other_clients() {
    flood_one_prefix("");
}

/// Two UDP workers each hold their own limiter: the flooding prefix, whose
/// sources the kernel spreads over both, still gets the rate once, not twice.
#[test]
fn rrl_with_two_udp_workers_allows_the_rate_once() {
    flood_one_prefix("udp_workers = 2\n");
}

/// 20 sources of one /24 flood at about 2,000 queries a second for 2 s,
/// against a limit of 20 a second with slip = 2; a client in another /24
/// asks 5 times a second.
fn flood_one_prefix(extra: &str) {
    let (_h, port) = start(&format!(
        "{extra}tcp_max_connections_per_client = 64\n[dns.rrl]\nresponses_per_second = 20\nslip = 2\n"
    ));
    // 20 flooding sources in one /24.
    let flooders: Vec<UdpSocket> = (1..=20)
        .map(|i| {
            let s = UdpSocket::bind(("127.0.5.".to_owned() + &i.to_string(), 0)).expect("bind");
            s.set_nonblocking(true).expect("nonblocking");
            s
        })
        .collect();
    let legit = UdpSocket::bind("127.0.9.1:0").expect("bind legit");
    legit
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let q = query(7, "www.e2e.test");
    let (mut full, mut truncated, mut legit_ok, mut legit_sent) = (0, 0, 0, 0);
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    let mut round = 0u32;
    // 2 seconds, bounded at 200 rounds of 20 packets.
    while start.elapsed() < Duration::from_secs(2) && round < 200 {
        round += 1;
        for s in &flooders {
            let _ = s.send_to(&q, ("127.0.0.1", port));
        }
        std::thread::sleep(Duration::from_millis(10));
        for s in &flooders {
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                if n >= 12 && buf[2] & 0x02 != 0 {
                    truncated += 1;
                } else if n >= 12 {
                    full += 1;
                }
            }
        }
        // The legitimate client (another /24) asks 5 times a second.
        if round.is_multiple_of(20) {
            legit_sent += 1;
            legit
                .send_to(&query(9, "www.e2e.test"), ("127.0.0.1", port))
                .expect("send");
            if let Ok((n, _)) = legit.recv_from(&mut buf)
                && n > 12
                && buf[2] & 0x02 == 0
                && buf[7] == 1
            {
                legit_ok += 1;
            }
        }
    }
    let sent = round * 20;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "flood: {sent} sent in {secs:.1}s, {full} full answers, {truncated} truncated; legit {legit_ok}/{legit_sent}"
    );
    // Rate 20/s plus the initial burst of 20, with a little slack for timing.
    let allowed = (20.0 * secs + 20.0 + 10.0) as u32;
    assert!(
        full <= allowed,
        "{full} full answers exceed the limit {allowed}"
    );
    assert!(full >= 20, "the prefix should still get its rate: {full}");
    assert!(truncated > 0, "slip should send some truncated answers");
    // slip = 2: every second limited response is truncated, the others dropped.
    let limited = sent - full;
    let dropped = limited - truncated;
    assert!(
        truncated.abs_diff(limited / 2) <= 20,
        "{truncated} truncated of {limited} limited"
    );
    assert!(
        dropped >= limited / 2 - 20,
        "{dropped} dropped of {limited} limited"
    );
    assert!(
        legit_ok * 100 >= legit_sent * 99,
        "legitimate client got {legit_ok}/{legit_sent}"
    );
}

#[test]
fn a_slipped_answer_makes_dig_retry_over_tcp_and_is_counted_in_metrics() {
    require("curl");
    let admin_port = free_port();
    let (_h, port) = start(&format!(
        "[dns.rrl]\nresponses_per_second = 1\nslip = 1\n\
         [admin]\nlisten = \"127.0.0.1:{admin_port}\"\nmetrics_allow = [\"127.0.0.1/32\"]\n"
    ));
    // Use up the prefix's budget, then ask with dig from the same /24.
    let s = UdpSocket::bind("127.0.6.1:0").expect("bind");
    for i in 0..10 {
        s.send_to(&query(i, "www.e2e.test"), ("127.0.0.1", port))
            .expect("send");
    }
    let out = Command::new("dig")
        .args([
            "-b",
            "127.0.6.2",
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+time=2",
            "+tries=2",
        ])
        .args(["www.e2e.test", "A"])
        .output()
        .expect("dig");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Truncated, retrying in TCP mode"), "{text}");
    assert!(text.contains("192.0.2.80"), "{text}");

    // The limiter's counters are on the admin API's /metrics.
    let metrics = Command::new("curl")
        .args(["-sk", &format!("https://127.0.0.1:{admin_port}/metrics")])
        .output()
        .expect("curl");
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    let value = |needle: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{needle} missing from /metrics:\n{metrics}"))
    };
    assert!(value("headend_dns_rrl_responses_total{action=\"slipped\"}") >= 1);
    assert!(value("headend_dns_queries_total{transport=\"udp\"}") >= 11);
    assert!(value("headend_dns_queries_total{transport=\"tcp\"}") >= 1);
}

#[test]
fn tcp_connections_are_capped_per_client() {
    let (_h, port) = start("tcp_max_connections_per_client = 4\ntcp_idle_timeout_secs = 30\n");
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    extra
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let q = query(1, "www.e2e.test");
    let _ = extra.write_all(&tcp_framed(&q));
    let mut buf = [0u8; 512];
    let n = extra.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "a fifth connection from one client must be closed");
    // Another client address is still served over TCP.
    let other = Command::new("dig")
        .args([
            "-b",
            "127.0.0.2",
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+tcp",
            "+short",
        ])
        .args(["www.e2e.test", "A"])
        .output()
        .expect("dig");
    assert_eq!(String::from_utf8_lossy(&other.stdout).trim(), "192.0.2.80");
    drop(held);
    // Once they are gone, the first client is served again.
    std::thread::sleep(Duration::from_millis(300));
    let again = dig(port, "www.e2e.test", "A", &["+tcp"]);
    assert_eq!(again.answer_rdata("A"), vec!["192.0.2.80"]);
}

#[test]
fn idle_tcp_connections_are_closed() {
    let (_h, port) = start("tcp_idle_timeout_secs = 1\n");
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(4));
}

/// A client that pipelines requests for large answers and never reads them
/// cannot hold its connection (and its slot) past the idle timeout: the
/// server's writes give up, and the same client can connect again.
#[test]
fn a_client_that_never_reads_its_answers_loses_the_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("big.test.zone");
    let mut text = String::from("$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    for i in 0..12 {
        text.push_str(&format!("big TXT \"{i:02}{}\"\n", "x".repeat(240)));
    }
    std::fs::write(&zone, text).expect("zone");
    require("dig");
    let port = free_port();
    let _h = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         tcp_max_connections_per_client = 1\ntcp_idle_timeout_secs = 1\n\
         [[dns.zone]]\norigin = \"big.test\"\nfile = \"{}\"\n",
        zone.display()
    ));
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stuck
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    // 20,000 requests for a ~3 KB answer: about 60 MB of answers, far more
    // than the socket buffers hold. Writing stops when the server stops
    // reading; bounded by the count and the write timeout.
    let mut q = query(3, "big.big.test");
    let n = q.len();
    q[n - 3] = 16; // TXT
    let batch: Vec<u8> = tcp_framed(&q).repeat(500);
    for _ in 0..40 {
        if stuck.write_all(&batch).is_err() {
            break;
        }
    }
    // The server gives up on the stalled writes after the idle timeout and
    // the slot is free again for the same client.
    let answered = || {
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        let q = query(4, "ns.big.test");
        let mut buf = [0u8; 512];
        c.write_all(&tcp_framed(&q)).is_ok()
            && c.read(&mut buf)
                .is_ok_and(|n| n > 2 + 12 && buf[2..4] == [0, 4])
    };
    // While the stalled connection is served, the client has no other slot.
    assert!(!answered(), "a second connection got a slot");
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        if answered() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stalled connection still holds the client's only slot"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stuck);
}
