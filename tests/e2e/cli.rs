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
