//! The admin listener under hostile clients: slow-header (slowloris) TLS
//! clients and a flood of idle TCP connections fill the API's own connection
//! budget and nothing more. DNS over TCP (dig +tcp) and TFTP (curl) keep
//! answering while headend runs with a small descriptor limit, connections
//! over the caps are closed at once, a slow-header client is closed after
//! the header timeout however it drips, and a body that stalls gets 408.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, Headend, free_port, headend_bin, workspace_root};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TCP connection to 127.0.0.1:`port` from `from` (any 127/8 address).
fn tcp_from(from: Ipv4Addr, port: u16) -> TcpStream {
    let s =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    s.bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())
        .expect("bind source");
    s.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .expect("connect");
    s.into()
}

/// A completed TLS handshake from `from`.
fn tls_from(from: Ipv4Addr, port: u16) -> Tls {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let verifier = headend_admin::cli::PinVerifier::new(None);
    let config = Arc::new(verifier.client_config().expect("tls config"));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let conn = rustls::ClientConnection::new(config, name).expect("client connection");
    let tcp = tcp_from(from, port);
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("handshake");
    }
    stream
}

/// True once the server has ended the connection (EOF, reset, or TLS
/// alert); reads whatever it sent before. Waits at most `wait`.
fn server_closed<S: std::io::Read>(s: &mut S, sock: &TcpStream, wait: Duration) -> bool {
    sock.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

struct Setup {
    headend: Headend,
    admin: u16,
    dns: u16,
    tftp: u16,
}

/// headend with DNS, TFTP and the admin API, under a descriptor limit of
/// `nofile` (prlimit), with a small admin budget.
fn start(nofile: u32) -> Setup {
    common::require("prlimit");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        workspace_root().join("tests/data/dns/e2e.test.zone"),
        dir.path().join("e2e.test.zone"),
    )
    .expect("copy zone");
    let root = dir.path().join("tftp");
    std::fs::create_dir(&root).expect("tftp root");
    std::fs::write(root.join("boot.cfg"), b"hello from tftp\n").expect("tftp file");
    let (admin, dns, tftp) = (free_port(), free_port(), free_port());
    let config = format!(
        r#"
[general]
state_dir = "state"

[dns]
listen = ["127.0.0.1:{dns}"]
tcp_max_connections = 64

[[dns.zone]]
origin = "e2e.test"
file = "e2e.test.zone"

[tftp]
listen = ["127.0.0.1:{tftp}"]
root = "tftp"
max_transfers = 32

[admin]
listen = "127.0.0.1:{admin}"

[admin.connections]
max_connections = 24
max_connections_per_source = 8
handshake_timeout_secs = 4
header_timeout_secs = 4
body_timeout_secs = 3

[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#
    );
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, config).expect("write config");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={nofile}:{nofile}"))
        .arg("--")
        .arg(headend_bin());
    let headend = Headend::spawn_with(cmd, dir, path);
    Setup {
        headend,
        admin,
        dns,
        tftp,
    }
}

fn dns_tcp_answers(port: u16) {
    let a = common::dig::dig(port, "e2e.test", "SOA", &["+tcp"]);
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    assert_eq!(a.answer_rdata("SOA").len(), 1, "{}", a.raw);
}

fn tftp_answers(port: u16) {
    common::require("curl");
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "10"])
        .arg(format!("tftp://127.0.0.1:{port}/boot.cfg"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "TFTP fetch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello from tftp\n");
}

#[test]
fn slow_clients_fill_only_the_admin_budget_and_dns_and_tftp_keep_answering() {
    // 24 (admin) + 66 (DNS) + 66 (TFTP) + store + slack fits under 300; an
    // unbounded listener would run out after ~270 connections.
    let s = start(300);

    // 24 slow-header TLS clients from three addresses fill the total cap
    // (and each address's cap of 8).
    let sources = [2u8, 3, 4].map(|n| Ipv4Addr::new(127, 0, 0, n));
    let mut slow: Vec<(Tls, Instant)> = Vec::new();
    for src in sources {
        for _ in 0..8 {
            let mut t = tls_from(src, s.admin);
            t.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .expect("partial head");
            t.flush().expect("flush");
            slow.push((t, Instant::now()));
        }
    }

    // A ninth connection from a full source, and 300 more from six fresh
    // addresses (over the total cap), are closed at once.
    let mut extra = tcp_from(sources[0], s.admin);
    let probe = extra.try_clone().expect("clone");
    assert!(
        server_closed(&mut extra, &probe, Duration::from_secs(2)),
        "a connection over the per-source cap was not closed at once"
    );
    let mut flood = Vec::new();
    for n in 5..11u8 {
        for _ in 0..50 {
            flood.push(tcp_from(Ipv4Addr::new(127, 0, 0, n), s.admin));
        }
    }
    let t = Instant::now();
    let mut closed = 0;
    for c in &mut flood {
        let probe = c.try_clone().expect("clone");
        if server_closed(c, &probe, Duration::from_secs(2)) {
            closed += 1;
        }
    }
    assert_eq!(
        closed,
        flood.len(),
        "connections over the cap must be closed"
    );
    eprintln!(
        "{} connections over the cap closed in {:?}",
        flood.len(),
        t.elapsed()
    );

    // The other services do not share the admin API's budget.
    for _ in 0..5 {
        dns_tcp_answers(s.dns);
        tftp_answers(s.tftp);
    }

    // Slowloris: one header byte every 500 ms does not extend the 4 s
    // header deadline.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut lifetimes = Vec::new();
    while !slow.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        slow.retain_mut(|(t, since)| {
            let _ = t.write_all(b"X");
            let _ = t.flush();
            let sock = t.sock.try_clone().expect("clone");
            if server_closed(t, &sock, Duration::from_millis(10)) {
                lifetimes.push(since.elapsed());
                false
            } else {
                true
            }
        });
    }
    assert!(
        slow.is_empty(),
        "{} slow-header connections still open after 15 s",
        slow.len()
    );
    let (min, max) = (
        lifetimes.iter().min().copied().unwrap_or_default(),
        lifetimes.iter().max().copied().unwrap_or_default(),
    );
    eprintln!("slow-header connections closed after {min:?}..{max:?}");
    assert!(
        min >= Duration::from_secs(3),
        "closed before the header timeout: {min:?}"
    );

    // The budget is free again.
    let c = common::admin::client();
    let r = c
        .get(format!("https://127.0.0.1:{}/health", s.admin))
        .send()
        .expect("health");
    assert_eq!(r.status().as_u16(), 200);
    dns_tcp_answers(s.dns);
    let logs = s.headend.logs().join("\n");
    assert!(
        !logs.contains("Too many open files"),
        "a service ran out of descriptors:\n{logs}"
    );
}

#[test]
fn a_body_that_stalls_gets_408_and_the_connection_closes() {
    let s = start(1024);
    let mut t = tls_from(Ipv4Addr::LOCALHOST, s.admin);
    t.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":",
    )
    .expect("write");
    t.flush().expect("flush");
    let started = Instant::now();
    t.sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = t.read_to_end(&mut answer);
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "answer: {text:?}");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "408 after {waited:?}"
    );
}

#[test]
fn a_silent_connection_is_dropped_after_the_handshake_timeout() {
    let s = start(1024);
    let mut c = tcp_from(Ipv4Addr::LOCALHOST, s.admin);
    let probe = c.try_clone().expect("clone");
    let t = Instant::now();
    assert!(
        server_closed(&mut c, &probe, Duration::from_secs(10)),
        "a connection that never starts TLS stayed open"
    );
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn check_refuses_caps_that_do_not_fit_the_descriptor_limit() {
    common::require("prlimit");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("headend.toml");
    std::fs::write(
        &path,
        "[general]\nstate_dir = \"state\"\n\n[admin]\n\n[admin.connections]\nmax_connections = 500\n",
    )
    .expect("write");
    let run = |nofile: u32| {
        let out = Command::new("prlimit")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(headend_bin())
            .args(["check", "-c"])
            .arg(&path)
            .output()
            .expect("run check");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, text) = run(256);
    assert!(
        !ok,
        "a 501-connection admin budget passed under 256: {text}"
    );
    assert!(
        text.contains("file descriptors: 581 needed of 256 available"),
        "{text}"
    );
    let (ok, text) = run(4096);
    assert!(ok, "{text}");
    assert!(
        text.contains("file descriptors: 581 needed of 4096 available"),
        "{text}"
    );
    // serve refuses the same config at start.
    let out = Command::new("prlimit")
        .arg("--nofile=256:256")
        .arg("--")
        .arg(headend_bin())
        .args(["serve", "-c"])
        .arg(&path)
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("581 needed of 256 available"), "{err}");
}

/// Holds `n` TCP connections to `host:port` (from inside a namespace), then
/// prints how many the server closed within 1 s, and keeps the rest open
/// until its stdin closes.
const FLOOD: &str = r#"
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conns = [socket.create_connection((host, port), timeout=5) for _ in range(n)]
time.sleep(1)
closed = 0
for s in conns:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(closed, flush=True)
sys.stdin.read()
"#;

#[test]
fn dhcp_answers_while_the_admin_budget_is_full() {
    use std::io::BufRead as _;

    use crate::common::dhcp::{Netns, veth};
    for p in ["udhcpc", "ip", "prlimit", "python3"] {
        common::require(p);
    }
    let server = Netns::new("s");
    let client = Netns::new("c");
    let (siface, ciface) = veth(&server, "10.77.0.1/24", &client, "10.77.0.9/24", None);
    let port = free_port();
    let config = format!(
        r#"
[general]
state_dir = "state"

[dhcp]
interfaces = ["{siface}"]
server_id = "10.77.0.1"

[[dhcp.subnet]]
name = "lan"
subnet = "10.77.0.0/24"
interface = "{siface}"
pools = ["10.77.0.100-10.77.0.150"]

[admin]
listen = "10.77.0.1:{port}"

[admin.connections]
max_connections = 24
max_connections_per_source = 24
handshake_timeout_secs = 20

[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, config).expect("config");
    let mut cmd = server.cmd("prlimit");
    cmd.args(["--nofile=200:200", "--"]).arg(headend_bin());
    let _headend = Headend::spawn_with(cmd, dir, path);

    // 300 connections from the client's namespace: 24 are held (until the
    // 20 s handshake deadline), the other 276 closed at once.
    let mut flood = client
        .cmd("python3")
        .args(["-c", FLOOD, "10.77.0.1", &port.to_string(), "300"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("flood");
    let mut line = String::new();
    std::io::BufReader::new(flood.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("flood output");
    let closed: usize = line.trim().parse().expect("count");
    assert_eq!(
        closed, 276,
        "connections over the admin cap were not closed"
    );

    // DHCP, with the admin budget full, still hands out a lease.
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("udhcpc.out");
    let hook = work.path().join("hook.sh");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho \"$1 $ip\" >> {}\n", out.display()),
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let status = client
        .cmd("udhcpc")
        .args(["-i", &ciface, "-q", "-f", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&hook)
        .output()
        .expect("udhcpc");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        status.status.success() && text.contains("bound 10.77.0."),
        "no lease while the admin budget was full: {text}\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    drop(flood.stdin.take());
    let _ = flood.wait();
}
