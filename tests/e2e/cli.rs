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
