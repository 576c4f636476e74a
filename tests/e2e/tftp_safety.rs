//! TFTP safety end to end: every escape attempt against the real binary is
//! answered with an ERROR and nothing outside the root is served; uploads are
//! refused unless a write root is configured, and then overwrite, traversal
//! and over-size uploads are refused.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::tftp::{Fetch, config, make_file, raw_get, raw_put_start};
use common::{Headend, free_port, lo, require};

const SECRET: &str = "TOP SECRET outside the root\n";

/// root/ (served) beside outside/secret; symlinks out of and within the root.
fn layout(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("root");
    let outside = dir.join("outside");
    std::fs::create_dir_all(root.join("sub")).expect("root");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("secret"), SECRET).expect("secret");
    std::fs::write(root.join("ok.txt"), "inside\n").expect("ok");
    std::fs::write(root.join("sub/inner.txt"), "inner\n").expect("inner");
    std::os::unix::fs::symlink(outside.join("secret"), root.join("abs-link")).expect("link");
    std::os::unix::fs::symlink("../outside/secret", root.join("rel-link")).expect("link");
    std::os::unix::fs::symlink("../outside", root.join("dir-link")).expect("link");
    std::os::unix::fs::symlink("sub/inner.txt", root.join("good-link")).expect("link");
    let fifo = Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    root
}

fn refused(port: u16, name: &[u8]) -> (u16, String) {
    match raw_get(lo(port), name, &[]) {
        Fetch::Error(code, msg) => (code, msg),
        Fetch::Data(d, _) => panic!(
            "{:?} was served ({} bytes): {:?}",
            String::from_utf8_lossy(name),
            d.len(),
            String::from_utf8_lossy(&d)
        ),
    }
}

#[test]
fn escapes_are_refused_and_nothing_outside_the_root_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = layout(dir.path());
    let outside = dir.path().join("outside/secret");
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, ""));
    let long = "a".repeat(600);
    let deep = format!("sub/{}", "b".repeat(300));
    let abs_outside = outside.display().to_string();
    // (what, name, expected ERROR code: 1 not found, 2 access violation)
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("dot-dot", b"../outside/secret".to_vec(), 2),
        ("dot-dot deep", b"sub/../../outside/secret".to_vec(), 2),
        ("dot-dot backslash", b"..\\outside\\secret".to_vec(), 2),
        ("dot-dot mixed", b"sub\\..\\../outside/secret".to_vec(), 2),
        // Absolute names outside the root are looked up beneath it (like
        // tftpd-hpa --secure), where they do not exist.
        ("absolute outside", abs_outside.clone().into_bytes(), 1),
        (
            "absolute outside backslash",
            abs_outside.replace('/', "\\").into_bytes(),
            1,
        ),
        ("/etc/passwd", b"/etc/passwd".to_vec(), 1),
        ("symlink absolute", b"abs-link".to_vec(), 2),
        ("symlink relative", b"rel-link".to_vec(), 2),
        ("symlinked folder", b"dir-link/secret".to_vec(), 2),
        (
            "symlinked folder backslash",
            b"dir-link\\secret".to_vec(),
            2,
        ),
        ("NUL byte", b"ok.txt\0../outside/secret".to_vec(), 2),
        ("over-long name", long.into_bytes(), 2),
        ("over-long component", deep.into_bytes(), 2),
        ("fifo", b"fifo".to_vec(), 2),
        ("folder", b"sub".to_vec(), 2),
        ("root itself", b"/".to_vec(), 1),
    ];
    for (what, name, want) in &cases {
        let (code, msg) = refused(port, name);
        assert_eq!(code, *want, "{what}: ERROR {code} {msg}");
    }
    // A device node, where the test may create one (it runs as root in CI).
    if Command::new("mknod")
        .arg(h.dir.path().join("root/zero"))
        .args(["c", "1", "5"])
        .status()
        .is_ok_and(|s| s.success())
    {
        let (code, _) = refused(port, b"zero");
        assert_eq!(code, 2, "device node");
    }
    // The refusals are logged for the operator (the log reader may lag a little).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while h.count_logs("TFTP refused") < cases.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        h.count_logs("TFTP refused") >= cases.len(),
        "{}",
        h.logs().join("\n")
    );
    // And what is inside is served, also by absolute path and by symlink.
    let inside = format!("{}/ok.txt", root.canonicalize().expect("canon").display());
    for (name, want) in [
        (inside.as_bytes(), "inside\n"),
        (b"sub\\inner.txt".as_slice(), "inner\n"),
        (b"good-link".as_slice(), "inner\n"),
    ] {
        match raw_get(lo(port), name, &[]) {
            Fetch::Data(d, _) => assert_eq!(d, want.as_bytes()),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(name)),
        }
    }
}

#[test]
fn tftp_hpa_client_gets_an_error_for_traversal() {
    require("tftp");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = layout(dir.path());
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, ""));
    let out = h.dir.path().join("got");
    let o = Command::new("timeout")
        .args([
            "30",
            "tftp",
            "-m",
            "binary",
            "127.0.0.1",
            &port.to_string(),
            "-c",
            "get",
            "../outside/secret",
        ])
        .arg(&out)
        .output()
        .expect("run tftp");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("Error code 2"), "{text}");
    let got = std::fs::read(&out).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&got).contains("SECRET"));
}

#[test]
fn uploads_are_refused_without_a_write_root() {
    require("tftp");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = layout(dir.path());
    let port = free_port();
    let h = Headend::start_in(dir, &config(&root, port, ""));
    let local = h.dir.path().join("backup.cfg");
    std::fs::write(&local, "hostname sw1\n").expect("write");
    let o = Command::new("timeout")
        .args([
            "30",
            "tftp",
            "-m",
            "binary",
            "127.0.0.1",
            &port.to_string(),
            "-c",
            "put",
        ])
        .arg(&local)
        .arg("backup.cfg")
        .output()
        .expect("run tftp");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(text.contains("Error code 2"), "{text}");
    assert!(!root.join("backup.cfg").exists());
    assert_eq!(
        raw_put_start(lo(port), b"x.cfg", &[]).map_err(|e| e.0),
        Err(2)
    );
}

#[test]
fn uploads_with_a_write_root_refuse_overwrite_traversal_and_oversize() {
    require("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = layout(dir.path());
    let up = dir.path().join("uploads");
    std::fs::create_dir_all(up.join("switches")).expect("uploads");
    std::fs::write(up.join("existing.cfg"), "keep me\n").expect("existing");
    let port = free_port();
    let extra = format!(
        "write_root = \"{}\"\nmax_upload_bytes = 100000",
        up.display()
    );
    let h = Headend::start_in(dir, &config(&root, port, &extra));
    // A normal upload arrives intact (curl -T sends a WRQ).
    let local = h.dir.path().join("sw1.cfg");
    let sha = make_file(&local, 50_000, 9);
    let st = Command::new("timeout")
        .args(["30", "curl", "-sS", "--fail", "-T"])
        .arg(&local)
        .arg(format!("tftp://127.0.0.1:{port}/switches/sw1.cfg"))
        .status()
        .expect("curl");
    assert!(st.success());
    assert_eq!(common::tftp::sha256_file(&up.join("switches/sw1.cfg")), sha);
    // Overwrite refused (ERROR 6), and the old file is kept.
    assert_eq!(
        raw_put_start(lo(port), b"existing.cfg", &[]).map_err(|e| e.0),
        Err(6)
    );
    let st = Command::new("timeout")
        .args(["30", "curl", "-sS", "--fail", "-T"])
        .arg(&local)
        .arg(format!("tftp://127.0.0.1:{port}/existing.cfg"))
        .status()
        .expect("curl");
    assert!(!st.success());
    assert_eq!(
        std::fs::read_to_string(up.join("existing.cfg")).expect("read"),
        "keep me\n"
    );
    // Traversal refused, nothing written outside.
    for name in [
        &b"../outside/evil"[..],
        b"..\\outside\\evil",
        b"nosuchdir/x.cfg",
    ] {
        let r = raw_put_start(lo(port), name, &[]);
        assert!(
            matches!(r, Err((1 | 2, _))),
            "{:?}: {r:?}",
            String::from_utf8_lossy(name)
        );
    }
    assert!(!h.dir.path().join("outside/evil").exists());
    // Over-size: refused up front when tsize says so, and mid-transfer otherwise.
    assert_eq!(
        raw_put_start(lo(port), b"big.cfg", &[("tsize", "200000")]).map_err(|e| e.0),
        Err(3)
    );
    let big = h.dir.path().join("big.cfg");
    make_file(&big, 200_000, 10);
    // tftp-hpa sends no tsize: the cap stops the upload mid-way with ERROR 3.
    require("tftp");
    let o = Command::new("timeout")
        .args([
            "30",
            "tftp",
            "-m",
            "binary",
            "127.0.0.1",
            &port.to_string(),
            "-c",
            "put",
        ])
        .arg(&big)
        .arg("big2.cfg")
        .output()
        .expect("run tftp");
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        text.contains("Error code 3"),
        "over-size upload must fail: {text}"
    );
    assert!(!up.join("big2.cfg").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&up)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".upload-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
