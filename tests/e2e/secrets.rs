//! Secrets outside the config: a TSIG key read from a `secret_file` that
//! only its owner may read, or from `$CREDENTIALS_DIRECTORY` (systemd
//! `LoadCredential=`); `headend check` warns about a secret written inline,
//! refuses a secret file others can read, and never prints the secret. A
//! transfer request signed by a client whose clock is 2 hours off gets
//! BADTIME (RFC 8945 §5.2.3), the right clock the zone.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";

fn check(dir: &std::path::Path, tsig: &str, env: &[(&str, &std::path::Path)]) -> (bool, String) {
    std::fs::copy(
        common::workspace_root().join("tests/data/dns/e2e.test.zone"),
        dir.join("e2e.test.zone"),
    )
    .unwrap();
    let config = dir.join("headend.toml");
    std::fs::write(
        &config,
        format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{}\"]\n[[dns.zone]]\norigin = \"e2e.test\"\nfile = \"e2e.test.zone\"\ntsig_key = \"xfr\"\n[[dns.tsig_key]]\nname = \"xfr\"\n{tsig}",
            common::free_port()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(common::headend_bin());
    cmd.args(["check", "--config"])
        .arg(&config)
        .env_remove("CREDENTIALS_DIRECTORY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(SECRET), "check printed the secret: {text}");
    (out.status.success(), text)
}

#[test]
fn tsig_secrets_from_files_and_credentials_and_check_warns_about_inline_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = check(dir.path(), &format!("secret = \"{SECRET}\"\n"), &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "headend.toml:11: warning: dns.tsig_key[0].secret: the secret is written in the config"
        ),
        "{text}"
    );

    let file = dir.path().join("xfr.key");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = check(dir.path(), "secret_file = \"xfr.key\"\n", &[]);
    assert!(!ok && text.contains("chmod 600"), "{text}");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, text) = check(dir.path(), "secret_file = \"xfr.key\"\n", &[]);
    assert!(ok && !text.contains("warning: the secret"), "{text}");

    let creds = tempfile::tempdir().unwrap();
    let (ok, text) = check(dir.path(), "", &[]);
    assert!(!ok && text.contains("tsig.xfr"), "{text}");
    let cred = creds.path().join("tsig.xfr");
    std::fs::write(&cred, SECRET).unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o400)).unwrap();
    let (ok, text) = check(dir.path(), "", &[("CREDENTIALS_DIRECTORY", creds.path())]);
    assert!(ok && !text.contains("warning: the secret"), "{text}");
}

#[test]
fn a_tsig_request_from_a_skewed_clock_gets_badtime() {
    for p in ["kdig", "faketime"] {
        common::require(p);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::workspace_root().join("tests/data/dns/e2e.test.zone"),
        dir.path().join("e2e.test.zone"),
    )
    .unwrap();
    let file = dir.path().join("xfr.key");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = common::free_port();
    let h = common::Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n[[dns.tsig_key]]\nname = \"xfr\"\nsecret_file = \"xfr.key\"\n[[dns.zone]]\norigin = \"e2e.test\"\nfile = \"e2e.test.zone\"\ntsig_key = \"xfr\"\n"
        ),
    );
    let kdig = |skew: Option<&str>| {
        let mut cmd = match skew {
            Some(s) => {
                let mut c = Command::new("faketime");
                c.args(["-f", s, "kdig"]);
                c
            }
            None => Command::new("kdig"),
        };
        let out = cmd
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "+time=5",
                "+retry=0",
                "-y",
            ])
            .arg(format!("hmac-sha256:xfr:{SECRET}"))
            .args(["AXFR", "e2e.test"])
            .output()
            .expect("run kdig");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let skewed = kdig(Some("-2h"));
    assert!(skewed.contains("BADTIME"), "{skewed}");
    let right = kdig(None);
    assert!(
        right.contains("SOA") && !right.contains("BADTIME"),
        "{right}"
    );
    assert!(
        !h.logs().join("\n").contains(SECRET),
        "the TSIG secret is in the log"
    );
}
