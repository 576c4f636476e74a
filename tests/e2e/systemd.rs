//! The systemd unit: `headend serve` speaks the `Type=notify` protocol
//! (sd_notify(3)) on the datagram socket named by `NOTIFY_SOCKET`, and the
//! unit file in systemd/ passes `systemd-analyze verify`.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::dig::dig;
use common::{Headend, free_port, require, workspace_root};

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares
/// `MONOTONIC_USEC` with.
fn monotonic_usec() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    u64::try_from(t.tv_sec()).expect("secs") * 1_000_000
        + u64::try_from(t.tv_nsec()).expect("nanos") / 1_000
}

/// The next state message headend sends, within `timeout`.
fn next_message(sock: &UnixDatagram, timeout: Duration) -> String {
    sock.set_read_timeout(Some(timeout)).expect("timeout");
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no sd_notify message within {timeout:?}: {e}"));
    String::from_utf8(buf[..n].to_vec()).expect("sd_notify messages are text")
}

/// The fields of one message (`KEY=VALUE` lines).
fn fields(message: &str) -> Vec<(&str, &str)> {
    message
        .lines()
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect()
}

#[test]
fn notify_socket_gets_ready_then_reloading_and_ready_again_on_sighup() {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("e2e.test.zone");
    std::fs::copy(workspace_root().join("tests/data/dns/e2e.test.zone"), &zone).expect("zone");
    let socket_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    let port = free_port();
    let config = dir.path().join("headend.toml");
    std::fs::write(
        &config,
        format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"e2e.test\"\nfile = \"e2e.test.zone\"\n"
        ),
    )
    .expect("config");
    let socket_env = socket_path.to_str().expect("utf-8 path").to_owned();
    let h = Headend::spawn(dir, config, &[("NOTIFY_SOCKET", &socket_env)]);

    // Readiness: sent once every listener is up (the harness already saw
    // "headend ready"), so it is waiting in the socket.
    let ready = next_message(&sock, Duration::from_secs(10));
    assert_eq!(fields(&ready), vec![("READY", "1")], "{ready:?}");
    assert_eq!(
        dig(port, "www.e2e.test", "A", &[]).answer_rdata("A"),
        vec!["192.0.2.80"]
    );

    // A reload that changes an answer, so READY=1 can be checked to come
    // after the new zone is served.
    let text = std::fs::read_to_string(&zone).expect("read zone");
    let text = text
        .replace("2026112401 ; serial", "2026112402 ; serial")
        .replace(
            "www      IN A    192.0.2.80",
            "www      IN A    192.0.2.180",
        );
    std::fs::write(&zone, text).expect("edit zone");
    let before = monotonic_usec();
    h.signal("HUP");

    let reloading = next_message(&sock, Duration::from_secs(10));
    let after = monotonic_usec();
    let got = fields(&reloading);
    assert_eq!(
        got.len(),
        2,
        "RELOADING=1 and MONOTONIC_USEC: {reloading:?}"
    );
    assert_eq!(got[0], ("RELOADING", "1"), "{reloading:?}");
    assert_eq!(got[1].0, "MONOTONIC_USEC", "{reloading:?}");
    let usec: u64 = got[1].1.parse().expect("MONOTONIC_USEC is a number");
    assert!(
        (before..=after).contains(&usec),
        "MONOTONIC_USEC={usec} is not the reload's time on CLOCK_MONOTONIC ({before}..={after})"
    );

    let ready_again = next_message(&sock, Duration::from_secs(30));
    assert_eq!(
        fields(&ready_again),
        vec![("READY", "1")],
        "{ready_again:?}"
    );
    assert_eq!(
        dig(port, "www.e2e.test", "A", &[]).answer_rdata("A"),
        vec!["192.0.2.180"],
        "READY=1 came before the reloaded zone was served"
    );

    // Nothing else was sent in between (one reload, one pair of messages).
    sock.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 64];
    assert!(sock.recv(&mut buf).is_err(), "an unexpected extra message");
}

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    require("systemd-analyze");
    // The unit names the installed binary (/usr/bin/headend); verify checks
    // that every command is executable, so a copy names the built one. The
    // file name must stay headend.service.
    let unit = std::fs::read_to_string(workspace_root().join("systemd/headend.service"))
        .expect("read the unit");
    assert!(unit.contains("Type=notify"), "the unit must be Type=notify");
    assert!(
        unit.contains("ExecReload=/bin/kill -HUP $MAINPID"),
        "{unit}"
    );
    // The credentials headend reads, as commented examples; verified
    // uncommented, so that their syntax holds once an operator enables them.
    for name in [
        "tsig.",
        "headend-kek:",
        "headend-pg-password:",
        "headend-docsis-secret:",
        "headend-tls-key:",
    ] {
        assert!(
            unit.contains(&format!("#LoadCredential={name}")),
            "the unit shows no LoadCredential={name}"
        );
    }
    let bin = common::headend_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("headend.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/headend", bin.to_str().expect("utf-8"))
            .replace("#LoadCredential=", "LoadCredential="),
    )
    .expect("copy");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    // Unknown or misspelt directives are only warned about: any message fails.
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze verify warned: {stderr}"
    );
}
