//! Helpers for the admin API end-to-end tests: start headend with an
//! `[admin]` section (and a DNS zone copy), add users through the real
//! `headend user` command, talk HTTPS with reqwest (rustls, ring) and curl.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use super::{Headend, free_port, workspace_root};

/// A running headend with the admin API (and DNS serving a copy of the e2e zone).
pub struct AdminServer {
    pub headend: Headend,
    pub port: u16,
    pub dns_port: u16,
    pub base: String,
}

/// Starts headend with the admin API on a free port. `admin_extra` is
/// appended inside `[admin]` (limits, tokens...). Argon2 is kept cheap so the
/// tests run fast; the benchmark measures the real parameters.
pub fn start(admin_extra: &str) -> AdminServer {
    start_with_zone(admin_extra, "e2e.test", "")
}

/// [`start`] serving a copy of `tests/data/dns/ORIGIN.zone` as zone `origin`
/// (`zone_extra` is appended to its `[[dns.zone]]` table).
pub fn start_with_zone(admin_extra: &str, origin: &str, zone_extra: &str) -> AdminServer {
    start_full(admin_extra, origin, zone_extra, free_port())
}

/// [`start`] with the admin API on `port` (a test that must write the
/// API's own URL into the config picks the port first).
pub fn start_on(port: u16, admin_extra: &str) -> AdminServer {
    start_full(admin_extra, "e2e.test", "", port)
}

fn start_full(admin_extra: &str, origin: &str, zone_extra: &str, port: u16) -> AdminServer {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        workspace_root().join(format!("tests/data/dns/{origin}.zone")),
        dir.path().join(format!("{origin}.zone")),
    )
    .expect("copy zone");
    let dns_port = free_port();
    let dhcp_port = free_port();
    let dhcp6_port = free_port();
    let config = format!(
        r#"
[general]
state_dir = "state"

[dns]
listen = ["127.0.0.1:{dns_port}"]

[[dns.zone]]
origin = "{origin}"
file = "{origin}.zone"
{zone_extra}

[admin]
listen = "127.0.0.1:{port}"
{admin_extra}

[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1

# A DHCP service on loopback (no client ever asks) so that reservations have
# a subnet to go in: the admin API refuses them otherwise.
[dhcp]
interfaces = ["lo"]
port = {dhcp_port}
server_id = "10.0.0.1"

[[dhcp.subnet]]
name = "lan"
subnet = "10.0.0.0/16"
pools = ["10.0.200.1-10.0.200.254"]

[[dhcp.subnet]]
name = "cable"
subnet = "10.1.0.0/16"
pools = ["10.1.200.1-10.1.200.254"]

# DHCPv6 likewise, for the v6 reservations (one socket, relayed clients only).
[dhcp6]
port = {dhcp6_port}

[[dhcp6.subnet]]
name = "v6lan"
prefix = "2001:db8:1::/64"
pools = ["2001:db8:1::1000-2001:db8:1::1fff"]
pd_pools = [{{ prefix = "2001:db8:100::/40", delegated_len = 56 }}]
"#
    );
    let headend = Headend::start_in(dir, &config);
    headend_ready_admin(&headend);
    AdminServer {
        headend,
        port,
        dns_port,
        base: format!("https://127.0.0.1:{port}"),
    }
}

fn headend_ready_admin(h: &Headend) {
    assert!(
        h.logs().iter().any(|l| l.contains("admin API listening")),
        "no admin listener: {}",
        h.logs().join("\n")
    );
}

impl AdminServer {
    /// `headend user -c CONFIG ARGS...` with `stdin` fed to it.
    pub fn user_cmd(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(super::headend_bin())
            .arg("user")
            .arg("-c")
            .arg(&self.headend.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn headend user");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait headend user")
    }

    /// Adds a user with the real CLI.
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let out = self.user_cmd(
            &["add", name, "--role", role, "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "user add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `https://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.headend.dir.path().join("state")
    }

    /// POST /api/v1/auth/login; returns the JSON answer (panics unless 200).
    pub fn login(&self, c: &Client, user: &str, password: &str) -> Value {
        let r = c
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .expect("login request");
        assert_eq!(r.status().as_u16(), 200, "login of {user} failed");
        r.json().expect("login json")
    }

    /// The access token of a fresh login.
    pub fn token(&self, c: &Client, user: &str, password: &str) -> String {
        self.login(c, user, password)["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// GET `path` with a bearer token; returns the status.
    pub fn get_status(&self, c: &Client, path: &str, token: Option<&str>) -> u16 {
        let mut r = c.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().expect("request").status().as_u16()
    }

    /// Asserts that none of `secrets` appears in the logs, the audit log, or
    /// anywhere in the database files (tokens are stored only as hashes).
    pub fn assert_no_secrets(&self, secrets: &[String]) {
        let logs = self.headend.logs().join("\n");
        let mut db = Vec::new();
        for f in ["headend.db", "headend.db-wal"] {
            if let Ok(bytes) = std::fs::read(self.state_dir().join(f)) {
                db.extend_from_slice(&bytes);
            }
        }
        let db = String::from_utf8_lossy(&db);
        let store = headend_store::Store::open_sqlite_existing(self.state_dir().join("headend.db"))
            .expect("open store");
        let audit: Vec<String> = store
            .auth()
            .audit(100_000)
            .expect("audit")
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        assert!(!audit.is_empty(), "the audit log is empty");
        let audit = audit.join("\n");
        for s in secrets {
            assert!(s.len() >= 8, "secret too short to grep for: {s:?}");
            assert!(
                !logs.contains(s.as_str()),
                "a secret appears in the logs: {s:?}"
            );
            assert!(
                !audit.contains(s.as_str()),
                "a secret appears in the audit log: {s:?}"
            );
            assert!(
                !db.contains(s.as_str()),
                "a secret appears in the database: {s:?}"
            );
            // No token prefix longer than 8 characters either.
            let prefix = &s[..9];
            assert!(
                !logs.contains(prefix),
                "a 9-character secret prefix appears in the logs: {prefix:?}"
            );
            assert!(
                !audit.contains(prefix),
                "a 9-character secret prefix appears in the audit: {prefix:?}"
            );
        }
    }
}

/// An HTTPS client (reqwest, rustls with ring) that accepts the server's
/// self-signed certificate (trust on first use, as `headend ctl` does).
pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let verifier = headend_admin::cli::PinVerifier::new(None);
    Client::builder()
        .tls_backend_preconfigured(verifier.client_config().expect("tls config"))
        .build()
        .expect("client")
}

/// Runs curl (insecure: the certificate is self-signed) and returns
/// (status, headers, body).
pub fn curl(args: &[&str]) -> (u16, String, String) {
    super::require("curl");
    let out = Command::new("curl")
        .args(["-sk", "-D", "-", "-o", "-", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// The status and a header of a response.
pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Runs `headend ctl ARGS...` with its client folder at `ctl_dir`.
pub fn ctl(ctl_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(super::headend_bin())
        .arg("ctl")
        .args(args)
        .env("HEADEND_CTL_DIR", ctl_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn headend ctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait headend ctl")
}

/// One TLS connection kept open across requests (HTTP/1.1 keep-alive), to
/// show that a certificate reload does not drop it.
pub struct KeepAlive {
    stream: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    /// The fingerprint of the certificate this connection was set up with.
    pub fingerprint: String,
}

impl KeepAlive {
    /// Connects to 127.0.0.1:`port` and completes the handshake.
    pub fn connect(port: u16) -> Self {
        use std::io::Write as _;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let verifier = headend_admin::cli::PinVerifier::new(None);
        let config = std::sync::Arc::new(verifier.client_config().expect("tls config"));
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let conn = rustls::ClientConnection::new(config, name).expect("client connection");
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.flush().expect("handshake");
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("handshake");
        }
        Self {
            stream,
            fingerprint: verifier.seen().expect("certificate seen"),
        }
    }

    /// GET `path` on this connection; returns the status code.
    pub fn get(&mut self, path: &str) -> u16 {
        use std::io::{Read as _, Write as _};
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .expect("write");
        self.stream.flush().expect("flush");
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = self.stream.read(&mut byte).expect("read head");
            assert!(n == 1, "connection closed");
            buf.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).expect("read body");
        head.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}
