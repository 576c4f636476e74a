//! Shared harness for the end-to-end tests: start the real `headend` binary on
//! a config written to a temporary folder, wait until it is ready, capture its
//! logs, and stop it (by PID) when the test ends.

#![allow(dead_code, unreachable_pub)]

pub mod admin;
pub mod dhcp;
pub mod dig;
pub mod ednscomp;
pub mod secondary;
pub mod tftp;
pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn headend_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_headend"))
}

/// The workspace root (where zones/ and configs/ live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A free loopback port usable for both UDP and TCP (best effort).
///
/// A port is handed out once among all the test processes running at the
/// same time (a lock on a file named after it, held until the process
/// exits): a test that asks for several ports before starting its server
/// (DNS, TFTP, admin) must get different ones, and so must two tests that
/// pick theirs at the same moment, although none of them is bound yet when
/// the next is checked.
///
/// It is taken outside the kernel's ephemeral range, where client programs
/// running beside the test (dig, kdig, knotd sending NOTIFY...) take their
/// source ports: a server port inside that range can be taken by such a
/// client between this check and the server's bind, and its answers then
/// come from the wrong socket.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let (low, high) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| {
            let mut bounds = range.split_whitespace().map(str::parse::<u16>);
            Some((bounds.next()?.ok()?, bounds.next()?.ok()?))
        })
        .unwrap_or((32768, 60999));
    let (from, to) = if low >= 12_000 {
        (10_000, low - 1)
    } else {
        (high.saturating_add(1).max(10_000), u16::MAX)
    };
    let span = u64::from(to - from) + 1;
    // IPv6 loopback is checked too, where the host has it.
    let hosts: &[&str] = if UdpSocket::bind(("::1", 0)).is_ok() {
        &["127.0.0.1", "::1"]
    } else {
        &["127.0.0.1"]
    };
    let seed = std::collections::hash_map::RandomState::new();
    for attempt in 0u32..1000 {
        let mut hasher = seed.build_hasher();
        hasher.write_u32(attempt);
        hasher.write_u32(std::process::id());
        let port = from + u16::try_from(hasher.finish() % span).expect("in range");
        let free = hosts.iter().all(|&host| {
            TcpListener::bind((host, port))
                .and_then(|_tcp| UdpSocket::bind((host, port)))
                .is_ok()
        });
        if free && claim(port) {
            return port;
        }
    }
    panic!("no free port found in {from}-{to}");
}

/// Claims `port` for this process: an exclusive lock on a file named after
/// it, which the kernel releases when the process exits. False when another
/// claim holds it (in this process or another); true as well when no lock
/// file can be made, leaving the bind check alone to decide.
fn claim(port: u16) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    static HELD: Mutex<Vec<Flock<std::fs::File>>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("headend-test-ports");
    let file = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
    });
    let Ok(file) = file else {
        return true;
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => {
            HELD.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(lock);
            true
        }
        Err(_) => false,
    }
}

/// Panics unless `program` is on PATH (the test command installs every peer program).
pub fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    let found = found || Path::new("/usr/sbin").join(program).is_file();
    assert!(
        found,
        "{program} is not installed: run the README's test command (scripts/test.sh), which installs it"
    );
}

/// A running headend process. Dropping it stops the process by its PID.
pub struct Headend {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
    /// The log line from which [`Headend::wait_for_log`] searches: set by
    /// [`Headend::signal`] and [`Headend::mark_log`] before an action, so a
    /// line logged before the action cannot pass for its outcome.
    mark: std::sync::atomic::AtomicUsize,
}

impl Headend {
    /// Writes `config` (TOML) as `headend.toml` in a fresh temporary folder and
    /// starts `headend serve` on it; returns once the process logs `headend ready`.
    pub fn start(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, config)
    }

    /// Like [`Headend::start`], in a folder the test prepared (zone files, roots...).
    pub fn start_in(dir: tempfile::TempDir, config: &str) -> Self {
        let path = dir.path().join("headend.toml");
        std::fs::write(&path, config).expect("write config");
        Self::spawn(dir, path, &[])
    }

    /// Starts `headend serve --config path` with extra environment variables.
    pub fn spawn(dir: tempfile::TempDir, config: PathBuf, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(headend_bin());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn_with(cmd, dir, config)
    }

    /// Runs `cmd` (the binary, or a wrapper such as `ip netns exec NS headend`
    /// that execs it) with `serve --config path`, captures its logs and waits
    /// for `headend ready`.
    pub fn spawn_with(mut cmd: Command, dir: tempfile::TempDir, config: PathBuf) -> Self {
        // A level the caller set on `cmd` stands (a test that greps the logs
        // for what must not be there runs at debug).
        if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
            cmd.env(
                "RUST_LOG",
                std::env::var("HEADEND_TEST_LOG").unwrap_or_else(|_| "info".into()),
            );
        }
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn headend");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("HEADEND_TEST_ECHO").is_some() {
                    eprintln!("[headend] {line}");
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let mut me = Self {
            child,
            dir,
            config,
            logs,
            mark: std::sync::atomic::AtomicUsize::new(0),
        };
        // A deadline, not a sleep: a loaded 2-core runner signing a 100,000-record
        // zone with a debug build has taken more than 30 s to become ready.
        me.wait_for_log("headend ready", Duration::from_secs(180));
        me
    }

    /// The process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Makes [`Headend::wait_for_log`] look only at lines logged from now
    /// on: call it before an action whose log line a test waits for.
    pub fn mark_log(&self) {
        let len = self.logs.lock().expect("log lock").len();
        self.mark.store(len, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sends a signal (e.g. "HUP", "KILL") to this process only; log lines
    /// waited for afterwards must come after it ([`Headend::mark_log`]).
    pub fn signal(&self, sig: &str) {
        self.mark_log();
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Waits until a log line logged since the last mark ([`Headend::signal`]
    /// or [`Headend::mark_log`]; the start of the log if there was none)
    /// contains `needle`; panics with the logs on timeout or if the process
    /// exits first.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let from = self.mark.load(std::sync::atomic::Ordering::SeqCst);
        loop {
            if let Some(line) = self
                .logs()
                .into_iter()
                .skip(from)
                .find(|l| l.contains(needle))
            {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "headend exited ({status}) before logging {needle:?}; logs:\n{}",
                    self.logs().join("\n")
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "headend did not log {needle:?} within {timeout:?}; logs:\n{}",
                    self.logs().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Counts log lines containing `needle`.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.logs().iter().filter(|l| l.contains(needle)).count()
    }

    /// Stops the process with SIGTERM and waits for it (SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.pid().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Headend {
    fn drop(&mut self) {
        // A failing test shows what the server said and whether it was
        // still running.
        if std::thread::panicking() {
            let state = match self.child.try_wait() {
                Ok(None) => "still running".to_owned(),
                Ok(Some(status)) => format!("exited: {status}"),
                Err(e) => format!("state unknown: {e}"),
            };
            let logs = self.logs();
            let tail = &logs[logs.len().saturating_sub(200)..];
            eprintln!(
                "--- headend (pid {}, {state}): last {} log lines ---\n{}",
                self.pid(),
                tail.len(),
                tail.join("\n")
            );
        }
        self.stop();
    }
}

/// Runs a command to completion and returns its stdout; panics with stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A socket address on loopback.
pub fn lo(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn free_port_gives_each_port_once_and_other_processes_see_the_claim() {
    require("flock");
    let ports: Vec<u16> = (0..64).map(|_| free_port()).collect();
    let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    // Another process (flock(1)) cannot take a claimed port's lock.
    let path = std::env::temp_dir()
        .join("headend-test-ports")
        .join(ports[0].to_string());
    let status = Command::new("flock")
        .arg("-n")
        .arg(&path)
        .arg("true")
        .status()
        .expect("run flock");
    assert!(
        !status.success(),
        "another process took the lock of claimed port {}",
        ports[0]
    );
}
