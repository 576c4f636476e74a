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

/// `[admin]` serving /metrics to loopback without a token.
fn admin_section(admin_port: u16) -> String {
    format!("[admin]\nlisten = \"127.0.0.1:{admin_port}\"\nmetrics_allow = [\"127.0.0.1/32\"]\n")
}

/// What the server counted, from the admin API's /metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters {
    udp: u64,
    tcp: u64,
    slipped: u64,
    dropped: u64,
}

fn counters(admin_port: u16) -> Counters {
    let out = Command::new("curl")
        .args(["-sk", &format!("https://127.0.0.1:{admin_port}/metrics")])
        .output()
        .expect("curl");
    let metrics = String::from_utf8_lossy(&out.stdout);
    let value = |needle: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(needle))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{needle} missing from /metrics:\n{metrics}"))
    };
    Counters {
        udp: value("headend_dns_queries_total{transport=\"udp\"}"),
        tcp: value("headend_dns_queries_total{transport=\"tcp\"}"),
        slipped: value("headend_dns_rrl_responses_total{action=\"slipped\"}"),
        dropped: value("headend_dns_rrl_responses_total{action=\"dropped\"}"),
    }
}

/// The counters once the server has worked through what the kernel queued
/// (two reads 200 ms apart agree, within 10 s), and a moment before the
/// first read that showed them: every response counted was made by then.
fn settled_counters(admin_port: u16) -> (Counters, Instant) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut read_at = Instant::now();
    let mut last = counters(admin_port);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now_at = Instant::now();
        let now = counters(admin_port);
        if now == last {
            return (now, read_at);
        }
        assert!(
            Instant::now() < deadline,
            "the counters kept moving: {last:?} then {now:?}"
        );
        (last, read_at) = (now, now_at);
    }
}

/// Asks `name` from `socket` up to three times (500 ms each): whether a full
/// answer came, and how many queries were sent.
fn ask_with_retries(socket: &UdpSocket, port: u16, id: u16, name: &str) -> (bool, u64) {
    let mut buf = [0u8; 1500];
    for attempt in 1..=3 {
        socket
            .send_to(&query(id, name), ("127.0.0.1", port))
            .expect("send");
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            let Ok((n, _)) = socket.recv_from(&mut buf) else {
                break;
            };
            // An answer to an earlier attempt counts too (same id).
            if n > 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x02 == 0 && buf[7] == 1 {
                return (true, attempt);
            }
        }
    }
    (false, 3)
}

#[test]
fn rrl_limits_a_flooding_prefix_and_spares_other_clients() {
    flood_one_prefix(1);
}

/// Two UDP workers each hold their own limiter: the flooding prefix, whose
/// sources the kernel spreads over both, still gets the rate once, not twice.
#[test]
fn rrl_with_two_udp_workers_allows_the_rate_once() {
    flood_one_prefix(2);
}

/// 20 sources of one /24 flood at about 2,000 queries a second for 2 s,
/// against a limit of 20 a second with slip = 2; a client in another /24
/// asks 5 times a second. What the server did is read from its own counters
/// (a datagram the kernel drops under the flood is no answer the server
/// sent), and the other client may retry as a real one would.
fn flood_one_prefix(workers: u64) {
    require("curl");
    let admin_port = free_port();
    let (_h, port) = start(&format!(
        "udp_workers = {workers}\ntcp_max_connections_per_client = 64\n\
         [dns.rrl]\nresponses_per_second = 20\nslip = 2\n{}",
        admin_section(admin_port)
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
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let q = query(7, "www.e2e.test");
    let (mut full, mut truncated) = (0u64, 0u64);
    let (mut legit_asked, mut legit_ok, mut legit_sent) = (0u64, 0u64, 0u64);
    let mut buf = [0u8; 1500];
    let before = counters(admin_port);
    let start = Instant::now();
    let mut round = 0u16;
    // 2 seconds, bounded at 200 rounds of 20 packets.
    while start.elapsed() < Duration::from_secs(2) && round < 200 {
        round += 1;
        for s in &flooders {
            let _ = s.send_to(&q, ("127.0.0.1", port));
        }
        // The flood's pace: 20 datagrams every 10 ms.
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
            legit_asked += 1;
            let (ok, sent) = ask_with_retries(&legit, port, 1000 + round, "www.e2e.test");
            legit_ok += u64::from(ok);
            legit_sent += sent;
        }
    }
    // Every response the server made falls inside this window.
    let (after, end) = settled_counters(admin_port);
    let secs = end.duration_since(start).as_secs_f64();
    let received = after.udp - before.udp;
    let (slipped, dropped) = (
        after.slipped - before.slipped,
        after.dropped - before.dropped,
    );
    let limited = slipped + dropped;
    // The other client is never limited: the server answered each of its
    // queries that arrived, at least the ones answered here, at most the
    // ones sent.
    let prefix_full_max = received - limited - legit_ok;
    let prefix_full_min = received.saturating_sub(limited + legit_sent);
    eprintln!(
        "flood: {} sent in {secs:.1}s; server: {received} received, {slipped} slipped, \
         {dropped} dropped; client: {full} full answers, {truncated} truncated; \
         legit {legit_ok}/{legit_asked} in {legit_sent} queries",
        u32::from(round) * 20
    );
    // Rate 20/s over the whole window plus the initial burst of 20.
    let allowed = (20.0 * secs + 20.0).ceil() as u64;
    assert!(
        prefix_full_max <= allowed,
        "the server sent up to {prefix_full_max} full answers to the prefix, over the limit {allowed}"
    );
    assert!(
        prefix_full_min >= 20,
        "the prefix should still get its rate: {prefix_full_min}"
    );
    // slip = 2: every second limited response is truncated, the others
    // dropped (counted per worker's limiter).
    assert!(slipped > 0, "slip should send some truncated answers");
    assert!(
        slipped.abs_diff(dropped) <= workers,
        "{slipped} slipped and {dropped} dropped of {limited} limited"
    );
    // What arrived cannot exceed what the server sent.
    assert!(
        truncated <= slipped,
        "{truncated} truncated > {slipped} slipped"
    );
    assert!(full <= prefix_full_max, "{full} full > {prefix_full_max}");
    assert_eq!(
        legit_ok, legit_asked,
        "the legitimate client got {legit_ok}/{legit_asked} answers in {legit_sent} queries"
    );
}

#[test]
fn a_slipped_answer_makes_dig_retry_over_tcp_and_is_counted_in_metrics() {
    require("curl");
    let admin_port = free_port();
    let (_h, port) = start(&format!(
        "[dns.rrl]\nresponses_per_second = 1\nslip = 1\n{}",
        admin_section(admin_port)
    ));
    // Another host of the /24 keeps the prefix over its rate while dig asks
    // (every 5 ms, for at most 30 s).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.6.1:0").expect("bind");
            let started = Instant::now();
            let mut id = 0u16;
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(30)
            {
                id = id.wrapping_add(1);
                let _ = s.send_to(&query(id, "www.e2e.test"), ("127.0.0.1", port));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // The prefix is limited once the server slips its first response.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters(admin_port).slipped == 0 {
        assert!(Instant::now() < deadline, "the prefix was never limited");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = counters(admin_port);
    // dig's query may just catch the token that refills every second: then
    // it gets a full answer over UDP, and asks again (at most 5 times).
    let mut outputs = Vec::new();
    let mut retried = None;
    for _ in 0..5 {
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
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("Truncated, retrying in TCP mode") {
            retried = Some(text);
            break;
        }
        outputs.push(text);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().expect("flood thread");
    let text = retried.unwrap_or_else(|| panic!("dig never got a truncated answer: {outputs:?}"));
    assert!(text.contains("192.0.2.80"), "{text}");

    // The limiter's counters are on the admin API's /metrics: dig's retry
    // came over TCP.
    let after = counters(admin_port);
    assert!(after.slipped > before.slipped, "{before:?} {after:?}");
    assert!(after.udp > before.udp, "{before:?} {after:?}");
    assert_eq!(after.tcp, before.tcp + 1, "{before:?} {after:?}");
}

/// Sends a query on `c` and reads its answer: whether the server answered
/// (within the stream's read timeout).
fn answered_on(c: &mut TcpStream, id: u16) -> bool {
    let mut buf = [0u8; 512];
    c.write_all(&tcp_framed(&query(id, "www.e2e.test"))).is_ok()
        && c.read(&mut buf)
            .is_ok_and(|n| n > 2 + 12 && buf[2..4] == id.to_be_bytes())
}

/// A TCP connection from `source` with a read timeout.
fn connect_from(source: &str, port: u16, timeout: Duration) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let source: std::net::SocketAddr = format!("{source}:0").parse().expect("address");
    socket.bind(&source.into()).expect("bind");
    socket.connect(&common::lo(port).into()).expect("connect");
    let c: TcpStream = socket.into();
    c.set_read_timeout(Some(timeout)).expect("timeout");
    c
}

#[test]
fn tcp_connections_are_capped_per_client() {
    let (_h, port) = start("tcp_max_connections_per_client = 4\ntcp_idle_timeout_secs = 30\n");
    // Four connections, each answered: the server holds all four.
    let held: Vec<TcpStream> = (0..4u16)
        .map(|i| {
            let mut c = connect_from("127.0.0.1", port, Duration::from_secs(3));
            assert!(answered_on(&mut c, 100 + i), "connection {i} not served");
            c
        })
        .collect();
    let mut extra = connect_from("127.0.0.1", port, Duration::from_secs(3));
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
    // Once they are gone, the first client is served again (the server
    // notices the closed connections within the deadline).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = dig(port, "www.e2e.test", "A", &["+tcp"]);
        if again.answer_rdata("A") == vec!["192.0.2.80"] {
            break;
        }
        assert!(Instant::now() < deadline, "not served again: {}", again.raw);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads one counter from the admin API's /metrics.
fn metric(admin_port: u16, name: &str) -> u64 {
    let out = Command::new("curl")
        .args(["-sk", &format!("https://127.0.0.1:{admin_port}/metrics")])
        .output()
        .expect("curl");
    let metrics = String::from_utf8_lossy(&out.stdout);
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
}

/// Whether the server has closed `c` (EOF or reset), without waiting.
fn closed(c: &TcpStream) -> bool {
    c.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 512];
    let gone = match (&*c).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    c.set_nonblocking(false).expect("blocking");
    gone
}

/// `tcp_max_connections` caps the connections open at once across all
/// clients: with a cap of 4, each connection from its own address (so no
/// client reaches its own cap), a fifth is served at once and the
/// connection that has gone longest without a request is closed to make
/// room for it (RFC 7766 §6.2.3), and counted on /metrics.
#[test]
fn a_full_tcp_table_closes_the_connection_idle_longest() {
    require("curl");
    let admin_port = free_port();
    let (_h, port) = start(&format!(
        "tcp_max_connections = 4\ntcp_max_connections_per_client = 4\ntcp_idle_timeout_secs = 30\n{}",
        admin_section(admin_port)
    ));
    let mut held: Vec<TcpStream> = (1..=4u16)
        .map(|i| {
            let mut c = connect_from(&format!("127.0.7.{i}"), port, Duration::from_secs(3));
            assert!(
                answered_on(&mut c, i),
                "connection from 127.0.7.{i} not served"
            );
            c
        })
        .collect();
    // The first asks again: the second is now the one idle longest.
    assert!(answered_on(&mut held[0], 10));
    assert_eq!(metric(admin_port, "headend_dns_tcp_evicted_total"), 0);
    let started = Instant::now();
    let mut fifth = connect_from("127.0.7.5", port, Duration::from_secs(3));
    assert!(
        answered_on(&mut fifth, 5),
        "a fifth connection was not served on a full table"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // The second connection was closed for it; the others still answer.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !closed(&held[1]) {
        assert!(
            Instant::now() < deadline,
            "the idle-longest connection is still open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for (i, c) in [(20u16, 0usize), (22, 2), (23, 3)] {
        assert!(
            answered_on(&mut held[c], i),
            "connection {c} lost its service"
        );
    }
    assert_eq!(metric(admin_port, "headend_dns_tcp_evicted_total"), 1);
}

/// The attacks that filled every slot before: connections that drip a
/// request a byte at a time, and connections that ask once and then hold
/// their slot, from 32 loopback addresses, twice as many as the table holds.
/// Throughout, `dig +tcp` from another address gets every answer; the
/// dripping connections are closed once their message is late
/// (`tcp_io_timeout_ms`), and the holders make room as they idle longest.
#[test]
fn dripping_and_table_filling_clients_do_not_lock_out_dig_over_tcp() {
    require("curl");
    let admin_port = free_port();
    let (_h, port) = start(&format!(
        "tcp_max_connections = 64\ntcp_max_connections_per_client = 4\n\
         tcp_idle_timeout_secs = 30\ntcp_io_timeout_ms = 1500\n{}",
        admin_section(admin_port)
    ));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // dig +tcp every 300 ms from its own address, one try of 3 s each.
    let digger = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut results = Vec::new();
            // Bounded: at most 40 queries.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && results.len() < 40 {
                let asked = Instant::now();
                let out = Command::new("dig")
                    .args(["-b", "127.0.12.1", "@127.0.0.1", "-p", &port.to_string()])
                    .args(["+tcp", "+short", "+time=3", "+tries=1"])
                    .args(["www.e2e.test", "A"])
                    .output()
                    .expect("dig");
                let answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                results.push((answer, asked.elapsed()));
                std::thread::sleep(Duration::from_millis(300));
            }
            results
        })
    };
    // 64 drippers (127.0.10.1-16, 4 each) and 64 holders (127.0.11.1-16).
    struct Attacker {
        source: String,
        drip: bool,
        conn: TcpStream,
        opened: Instant,
    }
    let open = |source: &str, drip: bool| -> Option<Attacker> {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        let from: std::net::SocketAddr = format!("{source}:0").parse().ok()?;
        socket.bind(&from.into()).ok()?;
        socket.connect(&common::lo(port).into()).ok()?;
        let mut conn: TcpStream = socket.into();
        conn.set_write_timeout(Some(Duration::from_millis(200)))
            .ok()?;
        if drip {
            // The first byte of a length of 257: the message has begun.
            conn.write_all(&[1]).ok()?;
        } else {
            conn.write_all(&tcp_framed(&query(1, "www.e2e.test")))
                .ok()?;
        }
        Some(Attacker {
            source: source.to_owned(),
            drip,
            conn,
            opened: Instant::now(),
        })
    };
    let mut attackers: Vec<Attacker> = Vec::new();
    for host in 1..=16 {
        for _ in 0..4 {
            attackers.extend(open(&format!("127.0.10.{host}"), true));
            attackers.extend(open(&format!("127.0.11.{host}"), false));
        }
    }
    let (mut drips_closed, mut longest_drip, mut reconnects) = (0u32, Duration::ZERO, 0u32);
    let started = Instant::now();
    // 8 seconds, and at most 4,000 reconnections.
    while started.elapsed() < Duration::from_secs(8) && reconnects < 4000 {
        for a in &mut attackers {
            let gone = closed(&a.conn) || (a.drip && (&a.conn).write_all(&[1]).is_err());
            if !gone {
                continue;
            }
            if a.drip {
                drips_closed += 1;
                longest_drip = longest_drip.max(a.opened.elapsed());
            }
            if let Some(again) = open(&a.source, a.drip) {
                *a = again;
                reconnects += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let results = digger.join().expect("dig thread");
    let evicted = metric(admin_port, "headend_dns_tcp_evicted_total");
    eprintln!(
        "{} dig +tcp queries, slowest {:?}; {drips_closed} dripping connections closed, \
         the longest after {longest_drip:?}; {reconnects} reconnections; {evicted} evicted",
        results.len(),
        results.iter().map(|r| r.1).max()
    );
    assert!(
        results.len() >= 10,
        "dig asked only {} times",
        results.len()
    );
    for (answer, took) in &results {
        assert_eq!(
            answer, "192.0.2.80",
            "dig +tcp got no answer (after {took:?})"
        );
    }
    assert!(drips_closed > 0, "no dripping connection was ever closed");
    // 1.5 s for the message, one 500 ms drip round and slack for a busy machine.
    assert!(
        longest_drip < Duration::from_millis(4000),
        "a dripping connection lived {longest_drip:?}"
    );
    assert!(evicted > 0, "the table never filled");
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
