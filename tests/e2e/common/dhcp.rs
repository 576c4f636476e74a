//! DHCP end-to-end helpers: network namespaces joined by veth pairs (created
//! per test with unique names, always deleted on drop), the real binary run
//! inside a namespace, client hook scripts, and `headend leases`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{Headend, headend_bin, run};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A short unique tag (PID + sequence) for namespace and interface names
/// (interface names are limited to 15 characters).
pub fn tag() -> String {
    format!(
        "{:x}{}",
        std::process::id() % 0xfffff,
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace, deleted (with its interfaces) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(role: &str) -> Self {
        let name = format!("hd{role}{}", tag());
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Self { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// A command that runs inside the namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs a command inside the namespace; panics on failure.
    pub fn exec_ok(&self, argv: &[&str]) -> String {
        let (program, args) = argv.split_first().expect("argv");
        run(self.cmd(program).args(args))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Joins two namespaces with a veth pair; `a_addr`/`b_addr` are CIDR strings
/// or empty for no address. Returns the interface names (a side, b side).
pub fn veth(
    a: &Netns,
    a_addr: &str,
    b: &Netns,
    b_addr: &str,
    mac_b: Option<&str>,
) -> (String, String) {
    let t = tag();
    let (ia, ib) = (format!("va{t}"), format!("vb{t}"));
    run(Command::new("ip").args([
        "link", "add", &ia, "netns", &a.name, "type", "veth", "peer", "name", &ib, "netns", &b.name,
    ]));
    if let Some(mac) = mac_b {
        b.exec_ok(&["ip", "link", "set", &ib, "address", mac]);
    }
    for (ns, i, addr) in [(a, &ia, a_addr), (b, &ib, b_addr)] {
        if !addr.is_empty() {
            ns.exec_ok(&["ip", "addr", "add", addr, "dev", i]);
        }
        ns.exec_ok(&["ip", "link", "set", i, "up"]);
    }
    (ia, ib)
}

impl Headend {
    /// Starts `headend serve` inside `ns` on `config`, written to a fresh temp folder.
    pub fn start_in_netns(ns: &Netns, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("headend.toml");
        std::fs::write(&path, config).expect("write config");
        Self::spawn_in_netns(ns, dir, path)
    }

    /// Starts `headend serve` inside `ns` on an existing folder (e.g. to restart
    /// on the same state).
    pub fn spawn_in_netns(ns: &Netns, dir: tempfile::TempDir, config: PathBuf) -> Self {
        // `ip netns exec` execs the program, so the child's PID is headend's.
        Self::spawn_with(
            ns.cmd(headend_bin().to_str().expect("utf-8 path")),
            dir,
            config,
        )
    }

    /// Output of `headend leases --config` for this instance.
    pub fn leases(&self) -> String {
        leases(&self.config)
    }

    /// Stops the server and hands back its folder, to restart on the same state.
    pub fn stop_keep(mut self) -> (tempfile::TempDir, PathBuf) {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        (dir, self.config.clone())
    }
}

/// Output of `headend leases --config FILE`.
pub fn leases(config: &Path) -> String {
    run(Command::new(headend_bin())
        .arg("leases")
        .arg("--config")
        .arg(config))
}

/// The lease line for `address`, if listed.
pub fn lease_line(listing: &str, address: &str) -> Option<String> {
    listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(address))
        .map(str::to_owned)
}

/// A client hook script that appends `REASON key=value...` lines to `out`.
pub fn hook_script(dir: &Path, name: &str, out: &Path, vars: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let fields: String = vars.iter().map(|v| format!(" {v}=${{{v}}}")).collect();
    let text = format!(
        "#!/bin/sh\necho \"${{1:-$reason}}{fields}\" >> {}\nexit 0\n",
        out.display()
    );
    std::fs::write(&path, text).expect("write hook");
    run(Command::new("chmod").arg("755").arg(&path));
    path
}

/// Waits until `file` holds a line starting with `prefix`; returns it.
pub fn wait_line(file: &Path, prefix: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Some(l) = text.lines().find(|l| l.starts_with(prefix))
        {
            return Some(l.to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `key=value` from a hook line (values without spaces).
pub fn field(line: &str, key: &str) -> String {
    let want = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&want))
        .unwrap_or_default()
        .to_owned()
}

/// A child process stopped by PID (or by its own process group) on drop.
pub struct Proc {
    pub child: Child,
    pub group: bool,
}

impl Proc {
    pub fn spawn(mut cmd: Command, group: bool) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if group {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        Self {
            child: cmd.spawn().expect("spawn client"),
            group,
        }
    }

    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let target = if self.group {
            format!("-{}", self.child.id())
        } else {
            self.child.id().to_string()
        };
        let _ = Command::new("kill").args(["-TERM", "--", &target]).status();
        if self.wait_timeout(Duration::from_secs(2)).is_none() {
            let _ = Command::new("kill").args(["-KILL", "--", &target]).status();
            let _ = self.child.wait();
        } else if self.group {
            // Helpers (privsep) left in the group.
            let _ = Command::new("kill").args(["-KILL", "--", &target]).status();
        }
    }
}

/// The udhcpc variables the hooks record.
pub const UDHCPC_VARS: &[&str] = &[
    "ip",
    "subnet",
    "router",
    "dns",
    "serverid",
    "lease",
    "hostname",
    "tftp",
    "bootfile",
    "boot_file",
    "siaddr",
    "timezone",
    "opt4",
    "opt7",
    "interface",
    "mask",
];

/// A udhcpc hook that logs its variables and puts the leased address on the
/// interface (renewals and releases are sent from it, by unicast).
pub fn configuring_hook(dir: &Path, name: &str, out: &Path) -> PathBuf {
    let hook = hook_script(dir, &format!("{name}.sh"), out, UDHCPC_VARS);
    let text = std::fs::read_to_string(&hook).expect("hook");
    let text = text.replace(
        "exit 0",
        "case \"$1\" in bound|renew) ip addr replace \"$ip/$mask\" dev \"$interface\";; deconfig) ip addr flush dev \"$interface\";; esac\nexit 0",
    );
    std::fs::write(&hook, text).expect("hook");
    hook
}

/// What tests/dhcp_tools/relay_client.py saw: (client MAC, address) pairs.
#[derive(Debug, Default)]
pub struct RelayOutcome {
    pub offers: Vec<(String, String)>,
    pub acks: Vec<(String, String)>,
    /// MACs answered with a NAK.
    pub naks: Vec<String>,
    /// MACs left unanswered for 2 s (or at the end of the run).
    pub timeouts: Vec<String>,
}

/// A running relay-style load client (tests/dhcp_tools/relay_client.py),
/// stopped by PID on drop.
pub struct RelayRun {
    child: Child,
    /// Lines printed so far.
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// The relay client's parameters: it binds `local`:67, is the relay (giaddr)
/// and asks `server` for leases for MACs `02:cc:` + `first`..`first+count`.
pub struct RelayClients<'a> {
    pub local: &'a str,
    pub server: &'a str,
    pub first: u32,
    pub count: u32,
    pub secs: f64,
    /// Option 82 payload (sub-options) in hex, e.g. "0206" + hex(remote-id).
    pub option82: Option<String>,
    /// DISCOVERs sent again, 1 s apart, by a client that got no OFFER (as a
    /// real client retransmits); 0: none.
    pub discover_retries: u32,
}

impl RelayClients<'_> {
    /// Starts the client inside `ns`.
    pub fn spawn(&self, ns: &Netns) -> RelayRun {
        let script = super::workspace_root().join("tests/dhcp_tools/relay_client.py");
        let mut cmd = ns.cmd("python3");
        cmd.arg(script).args([
            self.local,
            self.server,
            &self.first.to_string(),
            &self.count.to_string(),
            &self.secs.to_string(),
        ]);
        if let Some(hex) = &self.option82 {
            cmd.arg(hex);
        }
        cmd.env("DISCOVER_RETRIES", self.discover_retries.to_string());
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn relay client");
        let stdout = child.stdout.take().expect("stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().expect("lines").push(line);
            }
        });
        RelayRun {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Runs the client inside `ns` to its end.
    pub fn run(&self, ns: &Netns) -> RelayOutcome {
        self.spawn(ns).finish()
    }
}

impl RelayRun {
    /// Waits for the client to end (it is bounded by its `secs`) and parses
    /// what it printed.
    pub fn finish(mut self) -> RelayOutcome {
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            reader.join().expect("reader");
        }
        let lines = std::mem::take(&mut *self.lines.lock().expect("lines"));
        let mut out = RelayOutcome::default();
        for l in lines {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                ["OFFER", mac, ip] => out.offers.push((mac.to_owned(), ip.to_owned())),
                ["ACK", mac, ip] => out.acks.push((mac.to_owned(), ip.to_owned())),
                ["NAK", mac] => out.naks.push(mac.to_owned()),
                ["TIMEOUT", mac] => out.timeouts.push(mac.to_owned()),
                _ => panic!("unexpected relay client line {l:?}"),
            }
        }
        out
    }
}

impl RelayRun {
    /// ACKs received so far.
    pub fn acks_so_far(&self) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines.iter().filter(|l| l.starts_with("ACK ")).count()
    }

    /// Waits until at least `n` ACKs were received; panics after `timeout`.
    pub fn wait_acks(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.acks_so_far() < n {
            assert!(
                Instant::now() < deadline,
                "the relay client got {} ACKs within {timeout:?}, not {n}",
                self.acks_so_far()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RelayRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Hex of an option 82 payload with one remote-id (sub-option 2).
pub fn remote_id_option(remote_id: &str) -> String {
    let bytes = remote_id.as_bytes();
    let len = u8::try_from(bytes.len()).expect("short remote-id");
    let mut hex = format!("02{len:02x}");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}
