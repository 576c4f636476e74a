//! TFTP end to end: the real headend binary serving a root, fetched with the
//! real clients (tftp-hpa `tftp`, `atftp`, `curl`), plus protocol details
//! checked with a raw client (ERROR 8 after OACK, unknown TID, limits,
//! replies from the request's address on a wildcard bind).

use crate::common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tftp::{Fetch, config, make_file, raw_get, raw_get_from, sha256_file};
use common::{Headend, free_port, lo, require, run};

const BIG: usize = 64 * 1024 * 1024;

/// A root with a 64 MiB pseudo-random file; returns (dir, server, sha256).
fn big_server(extra: &str) -> (Headend, String, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let sha = make_file(&root.join("big.bin"), BIG, 64);
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, extra));
    (h, sha, port)
}

fn bounded(program: &str) -> Command {
    require(program);
    let mut c = Command::new("timeout");
    c.arg("240").arg(program);
    c
}

fn check_big(h: &Headend, out: &Path, sha: &str, what: &str, started: Instant) {
    let got = sha256_file(out);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{what}: 64 MiB in {secs:.1} s ({:.1} MB/s)",
        BIG as f64 / secs / 1e6
    );
    assert_eq!(
        got,
        sha,
        "{what}: content differs; logs:\n{}",
        h.logs().join("\n")
    );
}

#[test]
fn tftp_hpa_fetches_64_mib_at_512_byte_blocks_past_rollover() {
    let (h, sha, port) = big_server("");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    run(bounded("tftp")
        .args([
            "-m",
            "binary",
            "127.0.0.1",
            &port.to_string(),
            "-c",
            "get",
            "big.bin",
        ])
        .arg(&out));
    check_big(&h, &out, &sha, "tftp-hpa 512", t);
}

fn atftp_get(port: u16, out: &Path, opts: &[&str]) {
    let mut cmd = bounded("atftp");
    cmd.args(["-g", "-r", "big.bin", "-l"]).arg(out);
    for o in opts {
        cmd.args(["--option", o]);
    }
    cmd.args(["127.0.0.1", &port.to_string()]);
    run(&mut cmd);
}

#[test]
fn atftp_fetches_64_mib_at_512_byte_blocks() {
    let (h, sha, port) = big_server("");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    atftp_get(port, &out, &["blksize 512"]);
    check_big(&h, &out, &sha, "atftp 512", t);
}

#[test]
fn atftp_fetches_64_mib_at_1468_with_window_16() {
    let (h, sha, port) = big_server("");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    atftp_get(port, &out, &["blksize 1468", "windowsize 16"]);
    check_big(&h, &out, &sha, "atftp 1468x16", t);
}

#[test]
fn atftp_fetches_64_mib_at_8192_byte_blocks() {
    let (h, sha, port) = big_server("max_blksize = 8192");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    atftp_get(port, &out, &["blksize 8192"]);
    check_big(&h, &out, &sha, "atftp 8192", t);
}

fn curl_get(port: u16, out: &Path, blksize: u32) {
    run(bounded("curl")
        .args([
            "-sS",
            "--fail",
            "--tftp-blksize",
            &blksize.to_string(),
            "-o",
        ])
        .arg(out)
        .arg(format!("tftp://127.0.0.1:{port}/big.bin")));
}

#[test]
fn curl_fetches_64_mib_at_512_byte_blocks() {
    let (h, sha, port) = big_server("");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    curl_get(port, &out, 512);
    check_big(&h, &out, &sha, "curl 512", t);
}

#[test]
fn curl_fetches_64_mib_at_1468_byte_blocks() {
    let (h, sha, port) = big_server("");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    curl_get(port, &out, 1468);
    check_big(&h, &out, &sha, "curl 1468", t);
    // One info line for the transfer: client, file, bytes, duration.
    let mut h = h;
    let line = h.wait_for_log("TFTP transfer complete", Duration::from_secs(5));
    for want in ["INFO", "client=127.0.0.1:", "bytes=67108864", "ms="] {
        assert!(line.contains(want), "no {want} in {line}");
    }
    assert!(!line.contains("Debug") && !line.contains('{'), "{line}");
}

#[test]
fn curl_fetches_64_mib_at_8192_byte_blocks() {
    let (h, sha, port) = big_server("max_blksize = 8192");
    let out = h.dir.path().join("out.bin");
    let t = Instant::now();
    curl_get(port, &out, 8192);
    check_big(&h, &out, &sha, "curl 8192", t);
}

#[test]
fn thousand_small_configs_with_50_parallel_clients_all_arrive_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("cm")).expect("root");
    let mut shas = Vec::new();
    for i in 0..1000 {
        let size = 2048 + (i * 37) % 6144;
        shas.push(make_file(
            &root.join(format!("cm/{i:04}.cfg")),
            size,
            i as u64 + 1,
        ));
    }
    let port = free_port();
    let h = Headend::start_in(
        dir,
        &config(
            &root,
            port,
            "client_rate = 0.0\nmax_transfers_per_client = 100",
        ),
    );
    let outdir = h.dir.path().join("out");
    std::fs::create_dir(&outdir).expect("out");
    let t = Instant::now();
    // 50 clients at once, each a curl process fetching its 20 files in turn.
    let workers: Vec<_> = (0..50)
        .map(|w| {
            let outdir = outdir.clone();
            std::thread::spawn(move || {
                let mut cmd = bounded("curl");
                cmd.args(["-sS", "--fail", "--tftp-blksize", "1468"]);
                for i in (w..1000).step_by(50) {
                    cmd.arg("-o")
                        .arg(outdir.join(format!("{i:04}.cfg")))
                        .arg(format!("tftp://127.0.0.1:{port}/cm/{i:04}.cfg"));
                }
                cmd.output().expect("run curl").status.success()
            })
        })
        .collect();
    let ok = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .filter(|ok| *ok)
        .count();
    eprintln!(
        "1000 small files, 50 clients: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let failures = (0..1000)
        .filter(|i| {
            let out = outdir.join(format!("{i:04}.cfg"));
            !out.exists() || sha256_file(&out) != shas[*i]
        })
        .count();
    assert_eq!((ok, failures), (50, 0), "logs:\n{}", h.logs().join("\n"));
}

#[test]
fn netascii_text_arrives_with_local_line_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let text = "line one\nline two\n\nend\n".repeat(200);
    std::fs::write(root.join("notes.txt"), &text).expect("write");
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, ""));
    let out = h.dir.path().join("notes.txt");
    run(bounded("tftp")
        .args([
            "-m",
            "netascii",
            "127.0.0.1",
            &port.to_string(),
            "-c",
            "get",
            "notes.txt",
        ])
        .arg(&out));
    assert_eq!(std::fs::read_to_string(&out).expect("read"), text);
    // Octet mode serves the same file byte for byte, untranslated.
    let Fetch::Data(raw, _) = raw_get(lo(port), b"notes.txt", &[]) else {
        panic!("raw fetch failed")
    };
    assert_eq!(raw, text.as_bytes(), "octet mode is untranslated");
}

#[test]
fn tsize_probe_answered_by_error_8_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("pxelinux.0"), 40_000, 3);
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, "timeout_ms = 300"));
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    sock.send_to(b"\x00\x01pxelinux.0\x00octet\x00tsize\x000\x00", lo(port))
        .expect("send");
    let mut buf = [0u8; 1024];
    let (n, from) = sock.recv_from(&mut buf).expect("OACK");
    assert_eq!(&buf[..n], b"\x00\x06tsize\x0040000\x00");
    // PXE firmware: ERROR 8 after reading tsize, then a new request.
    sock.send_to(b"\x00\x05\x00\x08tsize probe\x00", from)
        .expect("send");
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "nothing more after the client's ERROR"
    );
    assert!(matches!(
        raw_get(lo(port), b"pxelinux.0", &[("tsize", "0"), ("blksize", "1456")]),
        Fetch::Data(d, o) if d.len() == 40_000 && o.contains(&("tsize".into(), "40000".into()))
    ));
    drop(h);
}

#[test]
fn packet_from_an_unknown_tid_gets_error_5_and_the_transfer_goes_on() {
    unknown_tid_gets_error_5("");
}

#[test]
fn packet_from_an_unknown_tid_gets_error_5_on_a_shared_transfer_socket_too() {
    unknown_tid_gets_error_5("transfer_sockets = \"shared\"");
}

fn unknown_tid_gets_error_5(extra: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("f.bin"), 3000, 4);
    let port = free_port();
    let _h = Headend::start_in(dir, &config(&root, port, extra));
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    client
        .send_to(b"\x00\x01f.bin\x00octet\x00", lo(port))
        .expect("send");
    let mut buf = [0u8; 1024];
    let (_, tid) = client.recv_from(&mut buf).expect("DATA 1");
    assert_eq!(&buf[..4], &[0, 3, 0, 1]);
    let stranger = UdpSocket::bind("127.0.0.1:0").expect("bind");
    stranger
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    stranger.send_to(&[0, 4, 0, 1], tid).expect("send");
    let (n, _) = stranger.recv_from(&mut buf).expect("ERROR 5");
    assert_eq!(&buf[..4], &[0, 5, 0, 5], "{:?}", &buf[..n]);
    client.send_to(&[0, 4, 0, 1], tid).expect("ack");
    let (_, _) = client.recv_from(&mut buf).expect("DATA 2");
    assert_eq!(&buf[..4], &[0, 3, 0, 2]);
}

/// Sends a plain RRQ for `name` from `sock`.
fn send_rrq(sock: &UdpSocket, server: SocketAddr, name: &str) {
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(name.as_bytes());
    rrq.extend_from_slice(b"\0octet\0");
    sock.send_to(&rrq, server).expect("RRQ");
}

/// Takes one DATA on `sock` and acknowledges it: the block's bytes, the
/// server's port (TID) and whether it was the last block.
fn take_block(sock: &UdpSocket) -> (u16, Vec<u8>, SocketAddr, bool) {
    let mut buf = [0u8; 1024];
    let (n, from) = sock.recv_from(&mut buf).expect("DATA");
    assert_eq!(&buf[..2], &[0, 3], "not DATA: {:?}", &buf[..n]);
    sock.send_to(&[0, 4, buf[2], buf[3]], from).expect("ACK");
    let block = u16::from_be_bytes([buf[2], buf[3]]);
    (block, buf[4..n].to_vec(), from, n < 516)
}

/// One lock-step fetch from `sock`: the file and the server's port, which
/// must not change within the transfer.
fn fetch_on(sock: &UdpSocket, server: SocketAddr, name: &str) -> (Vec<u8>, SocketAddr) {
    send_rrq(sock, server, name);
    let (mut out, mut tid, mut expect) = (Vec::new(), None, 1);
    loop {
        let (block, data, from, last) = take_block(sock);
        assert!(tid.is_none_or(|t| t == from), "the server's port changed");
        tid = Some(from);
        if block == expect {
            out.extend_from_slice(&data);
            expect += 1;
        }
        if last {
            return (out, from);
        }
    }
}

#[test]
fn shared_transfer_sockets_serve_many_clients_and_never_one_client_port_twice_in_a_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let files: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            let path = root.join(format!("f{i}.bin"));
            make_file(&path, 2000 + 97 * i, i as u64 + 40);
            std::fs::read(&path).expect("file")
        })
        .collect();
    let port = free_port();
    let _h = Headend::start_in(
        dir,
        &config(
            &root,
            port,
            "transfer_sockets = \"shared\"\nclient_rate = 0.0\nmax_transfers_per_client = 100",
        ),
    );
    let client = || {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        s
    };
    // A client that sends every request from one port: each transfer is
    // on another server port than the one before, never port 69's.
    let one = client();
    let mut last = None;
    for _ in 0..6 {
        let (data, tid) = fetch_on(&one, lo(port), "f0.bin");
        assert_eq!(data, files[0]);
        assert_ne!(tid.port(), port);
        assert_ne!(Some(tid), last, "the same server port twice in a row");
        last = Some(tid);
    }
    // Twenty clients at once, their blocks interleaved: every file arrives
    // intact, and the transfers share the server's few ports.
    let socks: Vec<UdpSocket> = (0..20).map(|_| client()).collect();
    for (i, s) in socks.iter().enumerate() {
        send_rrq(s, lo(port), &format!("f{i}.bin"));
    }
    let mut got = vec![Vec::new(); socks.len()];
    let mut tids = vec![None; socks.len()];
    let mut open: Vec<usize> = (0..socks.len()).collect();
    while !open.is_empty() {
        open.retain(|&i| {
            let (block, data, from, last) = take_block(&socks[i]);
            assert!(
                tids[i].is_none_or(|t| t == from),
                "client {i}: port changed"
            );
            tids[i] = Some(from);
            if usize::from(block) == got[i].len() / 512 + 1 {
                got[i].extend_from_slice(&data);
            }
            !last
        });
    }
    assert_eq!(got, files);
    let ports: std::collections::BTreeSet<u16> =
        tids.iter().flatten().map(SocketAddr::port).collect();
    assert!(
        (1..=2).contains(&ports.len()),
        "20 transfers on {} server ports",
        ports.len()
    );
    // Larger blocks than the smallest path MTU carries go on shared sockets
    // of their own (those of 512-byte blocks never fragment): they arrive
    // intact too, and a 512-byte fetch after them still does.
    for (i, blksize) in [(3, "1468"), (4, "8192"), (5, "512")] {
        match raw_get(
            lo(port),
            format!("f{i}.bin").as_bytes(),
            &[("blksize", blksize)],
        ) {
            Fetch::Data(d, o) => {
                assert_eq!(d, files[i], "blksize {blksize}");
                // 8192 is cut to the server's max_blksize.
                let granted = o
                    .iter()
                    .find(|(k, _)| k == "blksize")
                    .map(|(_, v)| v.as_str());
                if blksize == "512" {
                    assert_eq!(granted, Some("512"));
                } else {
                    let n: usize = granted.and_then(|v| v.parse().ok()).expect("blksize");
                    assert!(n >= 1468, "{o:?}");
                }
            }
            other => panic!("blksize {blksize}: {other:?}"),
        }
    }
}

#[test]
fn requests_over_the_per_client_limit_get_an_error_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("f.bin"), 3000, 5);
    let port = free_port();
    let mut h = Headend::start_in(dir, &config(&root, port, "max_transfers_per_client = 1"));
    // First transfer left hanging (never acknowledged) holds the one slot.
    let first = UdpSocket::bind("127.0.0.1:0").expect("bind");
    first
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    first
        .send_to(b"\x00\x01f.bin\x00octet\x00", lo(port))
        .expect("send");
    let mut buf = [0u8; 1024];
    first.recv_from(&mut buf).expect("DATA 1");
    match raw_get(lo(port), b"f.bin", &[]) {
        Fetch::Error(0, msg) => assert!(msg.contains("too many transfers"), "{msg}"),
        other => panic!("expected ERROR 0, got {other:?}"),
    }
    let line = h.wait_for_log("TFTP refused", Duration::from_secs(5));
    assert!(
        line.contains("reason=") && line.contains("file=f.bin"),
        "{line}"
    );
}

#[test]
fn request_rate_over_the_limit_gets_an_error_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("f.bin"), 100, 6);
    let port = free_port();
    let _h = Headend::start_in(
        dir,
        &config(&root, port, "client_rate = 0.5\nclient_burst = 3"),
    );
    let answers: Vec<Fetch> = (0..5).map(|_| raw_get(lo(port), b"f.bin", &[])).collect();
    assert!(matches!(answers[0], Fetch::Data(..)));
    assert!(
        matches!(&answers[4], Fetch::Error(0, m) if m.contains("too many requests")),
        "{answers:?}"
    );
}

#[test]
fn clients_outside_the_allow_list_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("f.bin"), 100, 7);
    let port = free_port();
    let _h = Headend::start_in(dir, &config(&root, port, "allow = [\"127.0.0.2/32\"]"));
    assert!(matches!(
        raw_get(lo(port), b"f.bin", &[]),
        Fetch::Error(2, _)
    ));
    assert!(matches!(
        raw_get_from("127.0.0.2:0", lo(port), b"f.bin", &[]),
        Fetch::Data(d, _) if d.len() == 100
    ));
}

#[test]
fn wildcard_listener_replies_from_the_address_the_request_went_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("f.bin"), 100, 8);
    let port = free_port();
    let cfg = format!(
        "[general]\nstate_dir = \"state\"\n[tftp]\nlisten = [\"0.0.0.0:{port}\"]\nroot = \"{}\"\n",
        root.display()
    );
    let _h = Headend::start_in(dir, &cfg);
    for target in ["127.0.0.1", "127.0.0.3"] {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        let server: SocketAddr = format!("{target}:{port}").parse().expect("addr");
        sock.send_to(b"\x00\x01f.bin\x00octet\x00", server)
            .expect("send");
        let mut buf = [0u8; 1024];
        let (_, from) = sock.recv_from(&mut buf).expect("DATA 1");
        assert_eq!(from.ip().to_string(), target, "reply source");
        assert_ne!(from.port(), port, "a new TID");
    }
}

/// Sends `request` from a fresh socket that never acknowledges anything and
/// counts what comes back until the server gives the transfer up.
fn reflected(h: &Headend, port: u16, request: &[u8]) -> Vec<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let me = sock.local_addr().expect("local addr");
    sock.send_to(request, lo(port)).expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    let needle = format!("client {me} never acknowledged");
    // Read until the server has logged the end of the transfer, then a
    // little longer for anything sent late.
    let mut gave_up: Option<Instant> = None;
    while gave_up.is_none_or(|t| t.elapsed() < Duration::from_millis(500)) {
        assert!(
            Instant::now() < deadline,
            "transfer never ended; logs:\n{}",
            h.logs().join("\n")
        );
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        if gave_up.is_none() && h.count_logs(&needle) > 0 {
            gave_up = Some(Instant::now());
        }
    }
    got
}

#[test]
fn bare_rrq_from_a_silent_peer_draws_the_first_data_at_most_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    make_file(&root.join("big.bin"), 100_000, 9);
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, "timeout_ms = 200"));
    let request = b"\x00\x01big.bin\x00octet\x00";
    let got = reflected(&h, port, request);
    assert_eq!(got.len(), 2, "{got:?}");
    for dg in &got {
        assert_eq!(&dg[..4], &[0, 3, 0, 1], "DATA 1 only");
        assert_eq!(dg.len(), 516);
    }
    let sent: usize = got.iter().map(Vec::len).sum();
    eprintln!(
        "bare RRQ: {} bytes in, {} datagrams / {sent} bytes out (factor {:.1})",
        request.len(),
        got.len(),
        sent as f64 / request.len() as f64
    );

    // With options the OACK is what gets resent, also at most twice, and
    // no DATA follows it whatever window was asked for.
    let got = reflected(
        &h,
        port,
        b"\x00\x01big.bin\x00octet\x00blksize\x001468\x00windowsize\x0016\x00tsize\x000\x00",
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|d| d.starts_with(&[0, 6])), "{got:?}");
}
