//! The command line as a newcomer types it: `--config` in any position, the
//! hint when a password cannot be prompted for.

use crate::common;

use std::process::{Command, Output, Stdio};

use common::{headend_bin, require, workspace_root};

fn headend(args: &[&str]) -> Output {
    Command::new(headend_bin())
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("run headend")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn config_is_accepted_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        "[general]\nstate_dir = \"state\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[admin.argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    for args in [
        &["check", "--config", c][..],
        &["--config", c, "check"],
        &["user", "list", "--config", c],
        &["user", "-c", c, "list"],
    ] {
        let out = headend(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    // The README's own forms.
    let out = headend(&[
        "dnssec",
        "ds",
        "example.test",
        "--config",
        "configs/demo.toml",
    ]);
    assert!(
        !text(&out).contains("unexpected argument"),
        "{}",
        text(&out)
    );
}

#[test]
fn user_add_without_a_terminal_points_to_password_stdin() {
    require("setsid");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.toml");
    std::fs::write(&config, "[general]\nstate_dir = \"state\"\n").unwrap();
    // setsid: a new session, so no controlling terminal to prompt on.
    let out = Command::new("setsid")
        .arg("-w")
        .arg(headend_bin())
        .args(["user", "add", "carol", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("run setsid headend");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--password-stdin"), "{err}");
}

const PW: &str = "correct horse battery";

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ctl_user_audit_lease_show_session_prefix_times_and_lockout() {
    use common::admin::{self, ctl};
    let s = admin::start(
        "[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\nlockout_after = 2\nlockout_base = 600\n",
    );
    s.add_user("root", "admin", PW);
    let dir = tempfile::tempdir().unwrap();
    let c = |args: &[&str], stdin: &str| ctl(dir.path(), args, stdin);
    ok(&c(
        &["login", &s.base, "--user", "root", "--password-stdin"],
        &format!("{PW}\n"),
    ));

    // ctl user add / role / disable / list.
    ok(&c(
        &[
            "user",
            "add",
            "carol",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        &format!("{PW}\n"),
    ));
    ok(&c(&["user", "role", "carol", "operator"], ""));
    let list: serde_json::Value =
        serde_json::from_str(&ok(&c(&["user", "list", "--json"], ""))).unwrap();
    let carol = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "carol")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(carol["role"], "operator");
    assert!(
        carol["created"].is_u64(),
        "--json keeps epoch seconds: {carol}"
    );
    ok(&c(&["user", "disable", "carol"], ""));
    let table = ok(&c(&["user", "list", "--utc"], ""));
    let line = table
        .lines()
        .find(|l| l.starts_with("carol\t"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("\ttrue\t"), "disabled: {line}");
    // RFC 3339 in UTC: 2026-12-05T13:04:05Z.
    let created = line.rsplit('\t').next().unwrap();
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );

    // ctl audit with filters.
    let audit = ok(&c(
        &["audit", "--action", "user.", "--since", "1h", "--utc"],
        "",
    ));
    let lines: Vec<&str> = audit.lines().skip(1).collect();
    assert!(lines.len() >= 3, "{audit}");
    assert!(
        lines
            .iter()
            .all(|l| l.split('\t').nth(3).unwrap().starts_with("user.")),
        "{audit}"
    );
    assert!(audit.contains("carol"), "{audit}");
    let none = ok(&c(&["audit", "--user", "nobody", "--json"], ""));
    let v: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(v["entries"].as_array().unwrap().len(), 0, "{none}");

    // ctl lease show: a clear 404 for a client without a lease, and a clear
    // usage error for something that is neither a MAC nor an address.
    let out = c(&["lease", "show", "aa:bb:cc:dd:ee:99"], "");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no lease for aa:bb:cc:dd:ee:99"),
        "{}",
        text(&out)
    );
    let out = c(&["lease", "show", "pc1"], "");
    assert!(
        text(&out).contains("neither an IPv4 address nor a MAC"),
        "{}",
        text(&out)
    );

    // Session revoke by the 8-character prefix that lists and logs show.
    let dir2 = tempfile::tempdir().unwrap();
    s.add_user("dave", "viewer", PW);
    ok(&ctl(
        dir2.path(),
        &["login", &s.base, "--user", "dave", "--password-stdin"],
        &format!("{PW}\n"),
    ));
    let sessions: serde_json::Value = serde_json::from_str(&ok(&c(
        &["session", "list", "--user", "dave", "--json"],
        "",
    )))
    .unwrap();
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    ok(&c(&["session", "revoke", &id[..8]], ""));
    let out = ctl(dir2.path(), &["zone", "list"], "");
    assert!(!out.status.success(), "dave's session still works");

    // Lockout: the answer says when to retry, for a known name as for an
    // unknown one.
    let bad = tempfile::tempdir().unwrap();
    let mut messages = Vec::new();
    for user in ["dave", "nosuchuser"] {
        let mut last = String::new();
        for _ in 0..3 {
            let out = ctl(
                bad.path(),
                &["login", &s.base, "--user", user, "--password-stdin"],
                "wrong password here\n",
            );
            last = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        messages.push(last);
    }
    for m in &messages {
        assert!(m.contains("429") && m.contains("Retry-After"), "{m}");
    }
}

#[test]
fn check_reports_each_mistake_with_file_line_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tftp")).unwrap();
    std::fs::write(dir.path().join("tftp/pxelinux.0"), b"x").unwrap();
    let zone = workspace_root().join("tests/data/dns/e2e.test.zone");
    let config = dir.path().join("h.toml");
    let toml = format!(
        r#"[general]
state_dir = "state"

[dns]
listen = ["127.0.0.1:0"]

[[dns.zone]]
origin = "e2e.test"
file = "{zone}"

[[dns.zone]]
origin = "E2E.test."
file = "{zone}"

[tftp]
listen = ["127.0.0.1:0"]
root = "tftp"

[dhcp]
interfaces = ["nosuch0"]
server_id = "10.20.0.1"

[[dhcp.subnet]]
name = "lab"
subnet = "10.20.0.5/24"
pools = ["10.20.0.100-10.20.0.200"]
boot_file = "pxelinux.0"

[[dhcp.subnet.reservation]]
mac = "aa:bb:cc:dd:ee"
address = "10.20.0.10"

[[dhcp.subnet.reservation]]
mac = "aa:bb:cc:dd:ee:01"
address = "10.20.0.11"
boot_file = "grubx64.efi"

[[dhcp.subnet.reservation]]
mac = "AA:BB:CC:DD:EE:01"
address = "10.20.0.12"

[[dhcp.subnet.reservation]]
mac = "aa:bb:cc:dd:ee:02"
address = "10.20.0.11"

[[dhcp.subnet.reservation]]
mac = "aa:bb:cc:dd:ee:03"
address = "10.20.0.150"

[[dhcp.subnet]]
name = "lab2"
subnet = "10.20.0.128/25"
"#,
        zone = zone.display()
    );
    std::fs::write(&config, &toml).unwrap();
    let out = headend(&["check", "--config", config.to_str().unwrap()]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let f = config.display().to_string();
    for (line, level, key, words) in [
        (
            line_of("origin = \"E2E.test.\""),
            "error",
            "dns.zone[1].origin",
            "already listed",
        ),
        (
            line_of("interfaces = "),
            "warning",
            "dhcp.interfaces[0]",
            "no interface \"nosuch0\"",
        ),
        (
            line_of("10.20.0.5/24"),
            "error",
            "dhcp.subnet[0].subnet",
            "subnet = \"10.20.0.0/24\"",
        ),
        (
            line_of("\"aa:bb:cc:dd:ee\""),
            "error",
            "dhcp.subnet[0].reservation[0].mac",
            "5 octets",
        ),
        (
            line_of("AA:BB:CC:DD:EE:01"),
            "error",
            "dhcp.subnet[0].reservation[2].mac",
            "reserved twice",
        ),
        (
            line_of("mac = \"aa:bb:cc:dd:ee:02\"") + 1,
            "error",
            "dhcp.subnet[0].reservation[3].address",
            "already reserved",
        ),
        (
            line_of("10.20.0.150"),
            "warning",
            "dhcp.subnet[0].reservation[4].address",
            "dynamic range",
        ),
        (
            line_of("10.20.0.128/25"),
            "error",
            "dhcp.subnet[1].subnet",
            "overlaps",
        ),
        (
            line_of("grubx64.efi"),
            "warning",
            "dhcp.subnet[0].reservation[1].boot_file",
            "neither a file under the TFTP root",
        ),
    ] {
        let want = format!("{f}:{line}: {level}: {key}: ");
        let found = all
            .lines()
            .find(|l| l.starts_with(&want))
            .unwrap_or_else(|| panic!("no `{want}...` in:\n{all}"));
        assert!(found.contains(words), "{found}");
    }
    // pxelinux.0 exists under the root: no finding for it.
    assert!(!all.contains("pxelinux.0\" is neither"), "{all}");

    // A pool outside its subnet: at its line, with a suggestion from the subnet.
    let bad_pool = "[dhcp]\ninterfaces = [\"lo\"]\nserver_id = \"10.9.0.1\"\n\n[[dhcp.subnet]]\nname = \"x\"\nsubnet = \"10.9.0.0/24\"\npools = [\"10.8.0.10-10.8.0.20\"]\n";
    std::fs::write(&config, bad_pool).unwrap();
    let out = headend(&["check", "--config", config.to_str().unwrap()]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(&format!("{f}:8: error: dhcp.subnet[0].pools[0]: "))
            && all.contains("between 10.9.0.1 and 10.9.0.254"),
        "{all}"
    );
}

#[test]
fn serve_logs_its_pid_writes_the_pidfile_and_names_the_user_for_a_bad_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.toml");
    let port = common::free_port();
    std::fs::write(
        &config,
        format!("[general]\nstate_dir = \"state\"\n[tftp]\nlisten = [\"127.0.0.1:{port}\"]\nroot = \".\"\n"),
    )
    .unwrap();
    let pidfile = dir.path().join("run/headend.pid");
    std::fs::create_dir(dir.path().join("run")).unwrap();
    let log = dir.path().join("log");
    let mut child = Command::new(headend_bin())
        .args(["serve", "--pidfile"])
        .arg(&pidfile)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let logged = loop {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        if t.contains("headend ready") || std::time::Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let pid = child.id();
    let written = std::fs::read_to_string(&pidfile).unwrap_or_default();
    // Stop by PID before asserting, so a failure leaves no process behind.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = child.wait();
    assert!(logged.contains("headend ready"), "{logged}");
    let start = logged
        .lines()
        .find(|l| l.contains("headend starting"))
        .unwrap_or_else(|| panic!("{logged}"));
    assert!(start.contains(&format!("pid={pid}")), "{start}");
    assert_eq!(written.trim(), pid.to_string());
    assert!(!pidfile.exists(), "the pid file outlived a clean stop");

    // A state "directory" that cannot be used: the error names the user.
    std::fs::write(dir.path().join("blocked"), b"").unwrap();
    std::fs::write(&config, "[general]\nstate_dir = \"blocked\"\n").unwrap();
    let out = headend(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains("headend runs as user ") && err.contains("(uid "),
        "{err}"
    );
}

#[test]
fn example_configs_check_ok_and_every_boot_file_they_name_is_served() {
    for config in [
        "configs/isp-cable.toml",
        "configs/pxe-lab.toml",
        "configs/demo.toml",
        "configs/headend.toml",
    ] {
        let out = headend(&["check", "--config", config]);
        let all = text(&out);
        assert!(out.status.success(), "{config}: {all}");
        assert!(!all.contains("neither a file under the TFTP root"), "{all}");
        assert!(!all.contains(": error:"), "{all}");
    }
}

/// A port another program holds: the OS error is said once, the hint names
/// that cause (not privileges, which are not the problem), and a config
/// that does not parse is one line, position and reason, on start.
#[test]
fn start_errors_name_their_real_cause_once_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.toml");
    let port = common::free_port();
    let _holder = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
    std::fs::write(
        &config,
        format!("[general]\nstate_dir = \"state\"\n[tftp]\nlisten = [\"127.0.0.1:{port}\"]\nroot = \".\"\n"),
    )
    .unwrap();
    let out = headend(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(line.matches("os error 98").count(), 1, "{line}");
    assert!(line.contains("another server holds the port"), "{line}");
    assert!(!err.contains("CAP_NET_BIND_SERVICE"), "{err}");

    std::fs::write(&config, "[general]\nstate_dir = { x = 1 }\n").unwrap();
    let out = headend(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("line 2") && err.contains("general.state_dir") && err.contains("expected"),
        "{err}"
    );
}
