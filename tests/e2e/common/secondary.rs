//! Real secondaries on loopback for the zone-transfer tests: knotd and nsd,
//! configured to transfer from headend, stopped by PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::require;

/// One zone a secondary transfers from headend.
pub struct SecondaryZone<'a> {
    pub origin: &'a str,
    /// TSIG key name and base64 secret (hmac-sha256), if the zone uses one.
    pub key: Option<(&'a str, &'a str)>,
}

/// A running secondary server.
pub struct Secondary {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    log: PathBuf,
    pub kind: &'static str,
}

impl Secondary {
    /// knotd on `port`, secondary for `zones` from headend on `primary_port`.
    pub fn knot(port: u16, primary_port: u16, zones: &[SecondaryZone<'_>]) -> Self {
        require("knotd");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let mut conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n    storage: {d}\n"
        );
        let keys: Vec<_> = zones.iter().filter_map(|z| z.key).collect();
        if !keys.is_empty() {
            conf.push_str("key:\n");
            for (name, secret) in &keys {
                conf.push_str(&format!(
                    "  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\n"
                ));
            }
        }
        conf.push_str("remote:\n");
        for (i, z) in zones.iter().enumerate() {
            conf.push_str(&format!(
                "  - id: primary{i}\n    address: 127.0.0.1@{primary_port}\n"
            ));
            if let Some((name, _)) = z.key {
                conf.push_str(&format!("    key: {name}\n"));
            }
        }
        conf.push_str("acl:\n");
        for (i, z) in zones.iter().enumerate() {
            conf.push_str(&format!(
                "  - id: notify{i}\n    address: 127.0.0.1\n    action: notify\n"
            ));
            if let Some((name, _)) = z.key {
                conf.push_str(&format!("    key: {name}\n"));
            }
        }
        conf.push_str("zone:\n");
        for (i, z) in zones.iter().enumerate() {
            conf.push_str(&format!(
                "  - domain: {}\n    master: primary{i}\n    acl: notify{i}\n    storage: {d}\n    file: {}.zone\n",
                z.origin, z.origin
            ));
        }
        let path = dir.path().join("knot.conf");
        std::fs::write(&path, conf).expect("write knot.conf");
        let log = dir.path().join("knot.log");
        let child = Command::new("knotd")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn knotd");
        Self {
            child,
            port,
            dir,
            log,
            kind: "knotd",
        }
    }

    /// nsd on `port`, secondary for `zones` from headend on `primary_port`.
    pub fn nsd(port: u16, primary_port: u16, zones: &[SecondaryZone<'_>]) -> Self {
        require("nsd");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let log = dir.path().join("nsd.log");
        let mut conf = format!(
            "server:\n    ip-address: 127.0.0.1\n    port: {port}\n    zonesdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n\
             \x20   xfrdfile: \"{d}/xfrd.state\"\n    pidfile: \"{d}/nsd.pid\"\n    database: \"\"\n    username: \"\"\n    chroot: \"\"\n\
             \x20   logfile: \"{}\"\n    verbosity: 2\n    server-count: 1\n    xfrd-reload-timeout: 0\n\
             remote-control:\n    control-enable: no\n",
            log.display()
        );
        for z in zones {
            if let Some((name, secret)) = z.key {
                conf.push_str(&format!(
                    "key:\n    name: \"{name}\"\n    algorithm: hmac-sha256\n    secret: \"{secret}\"\n"
                ));
            }
        }
        for z in zones {
            let key = z.key.map_or("NOKEY", |(n, _)| n);
            conf.push_str(&format!(
                "zone:\n    name: \"{}\"\n    zonefile: \"{}.zone\"\n    request-xfr: 127.0.0.1@{primary_port} {key}\n    allow-notify: 127.0.0.1 {key}\n",
                z.origin, z.origin
            ));
        }
        let path = dir.path().join("nsd.conf");
        std::fs::write(&path, conf).expect("write nsd.conf");
        let child = Command::new("nsd")
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("nsd.stderr")).expect("stderr file"))
            .spawn()
            .expect("spawn nsd");
        Self {
            child,
            port,
            dir,
            log,
            kind: "nsd",
        }
    }

    /// The secondary's log so far.
    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Ok(e) = std::fs::read_to_string(self.dir.path().join("nsd.stderr")) {
            s.push_str(&e);
        }
        s
    }

    /// The SOA serial the secondary serves for `origin`, if it serves one.
    pub fn serial(&self, origin: &str) -> Option<u32> {
        soa_serial(self.port, origin)
    }

    /// Waits until the secondary serves `serial` for `origin`.
    pub fn wait_serial(&self, origin: &str, serial: u32, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.serial(origin) == Some(serial) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not serve {origin} serial {serial} within {timeout:?} (serves {:?}); its log:\n{}",
                self.kind,
                self.serial(origin),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The SOA serial a server on loopback `port` answers for `origin`.
pub fn soa_serial(port: u16, origin: &str) -> Option<u32> {
    super::dig::short(port, origin, "SOA")
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
