//! End-to-end zone editing through the admin API with `headend ctl`, checked
//! with dig; invalid edits are refused with 422 and leave the file alone.

use crate::common;

use std::time::Duration;

use common::admin::{self, client, ctl, curl};
use common::dig::dig;
use common::require;

const PW: &str = "correct horse battery";

fn serial(port: u16) -> u32 {
    let a = dig(port, "e2e.test", "SOA", &[]);
    let soa = a.answer_rdata("SOA");
    let first = soa.first().expect("SOA answer");
    first
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .expect("serial")
}

#[test]
fn ctl_record_set_is_seen_by_dig_and_invalid_edit_is_refused() {
    require("dig");
    let s = admin::start("");
    s.add_user("oscar", "operator", PW);
    let ctl_dir = tempfile::tempdir().unwrap();
    let out = ctl(
        ctl_dir.path(),
        &["login", &s.base, "--user", "oscar", "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fp_line = s
        .headend
        .logs()
        .into_iter()
        .find(|l| l.contains("sha256_fingerprint"))
        .unwrap();
    let pinned = stderr.lines().nth(1).unwrap().trim().to_owned();
    assert!(
        fp_line.contains(&pinned),
        "pinned {pinned} is not the logged fingerprint: {fp_line}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(ctl_dir.path().join("session.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "session file mode");

    let before = serial(s.dns_port);
    let out = ctl(ctl_dir.path(), &["zone", "list"], "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("e2e.test."),
        "{out:?}"
    );

    let out = ctl(
        ctl_dir.path(),
        &[
            "record",
            "set",
            "e2e.test",
            "www3",
            "A",
            "192.0.2.10",
            "--ttl",
            "300",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "record set: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = dig(s.dns_port, "www3.e2e.test", "A", &[]);
    assert_eq!(a.answer_rdata("A"), vec!["192.0.2.10".to_owned()]);
    assert_eq!(a.answer[0].ttl, 300);
    let after = serial(s.dns_port);
    assert!(after > before, "serial not bumped: {before} -> {after}");
    let file = s.headend.dir.path().join("e2e.test.zone");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("192.0.2.10"),
        "the zone file does not hold the record"
    );

    // Invalid: a CNAME at the apex next to SOA/NS. 422, file and serial unchanged.
    let bytes = std::fs::read(&file).unwrap();
    let out = ctl(
        ctl_dir.path(),
        &["record", "set", "e2e.test", "@", "CNAME", "www"],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("422"), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the zone file changed after a refused edit"
    );
    assert_eq!(serial(s.dns_port), after);

    // A DKIM key that is not base64: served if a zone file holds it, but an
    // edit that introduces it is refused the same way.
    let out = ctl(
        ctl_dir.path(),
        &[
            "record",
            "set",
            "e2e.test",
            "sel._domainkey",
            "TXT",
            "v=DKIM1; k=rsa; p=!!not*base64!!",
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("422"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    // If-Match on an old serial: 412 (with curl and a token from the ctl session).
    let session: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctl_dir.path().join("session.json")).unwrap())
            .unwrap();
    let token = session["access_token"].as_str().unwrap().to_owned();
    let (status, _, body) = curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "content-type: application/json",
        "-H",
        &format!("If-Match: \"{before}\""),
        "-d",
        r#"{"rdata":["192.0.2.11"]}"#,
        &s.url("/api/v1/zones/e2e.test/records/www3/A"),
    ]);
    assert_eq!(status, 412, "{body}");
    // And with the current serial it goes through.
    let (status, head, _) = curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "content-type: application/json",
        "-H",
        &format!("If-Match: \"{after}\""),
        "-d",
        r#"{"rdata":["192.0.2.11"]}"#,
        &s.url("/api/v1/zones/e2e.test/records/www3/A"),
    ]);
    assert_eq!(status, 200, "{head}");
    assert_eq!(
        dig(s.dns_port, "www3.e2e.test", "A", &[]).answer_rdata("A"),
        vec!["192.0.2.11".to_owned()]
    );

    // Delete, reload, leases, reservations, sessions, logout through ctl.
    let out = ctl(
        ctl_dir.path(),
        &["record", "delete", "e2e.test", "www3", "A"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dig(s.dns_port, "www3.e2e.test", "A", &[]).status,
        "NXDOMAIN"
    );
    let out = ctl(ctl_dir.path(), &["zone", "reload", "e2e.test"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctl(
        ctl_dir.path(),
        &[
            "reservation",
            "add",
            "lan",
            "aa:bb:cc:00:11:22",
            "10.0.0.20",
            "--hostname",
            "pc1",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Refused, saying why: no such subnet (404), an address outside it
    // (422), an address another client holds (409).
    for (args, needle) in [
        (["nope", "aa:bb:cc:00:11:23", "10.0.0.21"], "404"),
        (["lan", "aa:bb:cc:00:11:23", "10.9.0.21"], "422"),
        (["lan", "aa:bb:cc:00:11:23", "10.0.0.20"], "409"),
    ] {
        let mut all = vec!["reservation", "add"];
        all.extend_from_slice(&args);
        let out = ctl(ctl_dir.path(), &all, "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = ctl(ctl_dir.path(), &["reservation", "list"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("10.0.0.20"));
    let out = ctl(ctl_dir.path(), &["lease", "list", "--subnet", "lan"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctl(ctl_dir.path(), &["lease", "release", "10.0.0.99"], "");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "release of an unknown lease"
    );
    let out = ctl(ctl_dir.path(), &["session", "list"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("oscar"));
    let out = ctl(ctl_dir.path(), &["logout", "--all"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.get_status(&client(), "/api/v1/me", Some(&token)), 401);
    s.assert_no_secrets(&[PW.to_owned(), token]);
}

/// Logs `user` in with a fresh client folder.
fn ctl_login(s: &admin::AdminServer, user: &str) -> tempfile::TempDir {
    let ctl_dir = tempfile::tempdir().unwrap();
    let out = ctl(
        ctl_dir.path(),
        &["login", &s.base, "--user", user, "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctl_dir
}

#[test]
fn ctl_txt_value_is_one_string_and_the_lint_runs_on_what_is_stored() {
    require("dig");
    let s = admin::start("");
    s.add_user("oscar", "operator", PW);
    let dir = ctl_login(&s, "oscar");
    let set = |args: &[&str]| {
        let mut all = vec!["record", "set", "e2e.test"];
        all.extend_from_slice(args);
        ctl(dir.path(), &all, "")
    };

    // Spaces: one string, and the SPF lint's warning about +all comes back.
    let out = set(&["spf", "TXT", "v=spf1 ip4:192.0.2.0/24 +all"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning") && err.contains("`+all`"), "{err}");
    assert_eq!(
        dig(s.dns_port, "spf.e2e.test", "TXT", &[]).answer_rdata("TXT"),
        vec!["\"v=spf1 ip4:192.0.2.0/24 +all\"".to_owned()]
    );

    // `;` is part of the value, not a comment.
    let out = set(&["_dmarc", "TXT", "v=DMARC1; p=reject"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dig(s.dns_port, "_dmarc.e2e.test", "TXT", &[]).answer_rdata("TXT"),
        vec!["\"v=DMARC1; p=reject\"".to_owned()]
    );

    // Past 255 bytes: several strings of one record.
    let long = format!("k={}", "x".repeat(300));
    let out = set(&["long", "TXT", &long]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rdata = dig(s.dns_port, "long.e2e.test", "TXT", &[]).answer_rdata("TXT");
    assert_eq!(
        rdata,
        vec![format!("\"{}\" \"{}\"", &long[..255], &long[255..])]
    );

    // --raw is zone-file syntax: unquoted words are separate strings, which
    // for SPF reads `v=spf1ip4:...` and the lint refuses it.
    let out = set(&["spf2", "TXT", "--raw", "v=spf1 ip4:192.0.2.0/24 -all"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("422") && err.contains("not an SPF record"),
        "{err}"
    );
    let out = set(&["two", "TXT", "--raw", "\"part one\" \"part two\""]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dig(s.dns_port, "two.e2e.test", "TXT", &[]).answer_rdata("TXT"),
        vec!["\"part one\" \"part two\"".to_owned()]
    );

    // Delete takes the same plain text.
    let out = ctl(
        dir.path(),
        &[
            "record",
            "delete",
            "e2e.test",
            "_dmarc",
            "TXT",
            "v=DMARC1; p=reject",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sighup_reloads_the_configured_certificate_and_the_pin_catches_the_change() {
    require("openssl");
    // Start with certificate A from files, log in (pins A).
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str| {
        let st = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.path().join(format!("{name}.key")))
            .arg("-out")
            .arg(dir.path().join(format!("{name}.crt")))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    };
    make("a");
    make("b");
    std::fs::copy(dir.path().join("a.crt"), dir.path().join("admin.crt")).unwrap();
    std::fs::copy(dir.path().join("a.key"), dir.path().join("admin.key")).unwrap();
    let extra = format!(
        "cert = \"{}\"\nkey = \"{}\"\n",
        dir.path().join("admin.crt").display(),
        dir.path().join("admin.key").display()
    );
    let mut s = admin::start(&extra);
    s.add_user("oscar", "operator", PW);
    let ctl_dir = tempfile::tempdir().unwrap();
    let out = ctl(
        ctl_dir.path(),
        &["login", &s.base, "--user", "oscar", "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A keep-alive connection opened before the reload.
    let mut kept = admin::KeepAlive::connect(s.port);
    assert_eq!(kept.get("/health"), 200);

    std::fs::copy(dir.path().join("b.crt"), dir.path().join("admin.crt")).unwrap();
    std::fs::copy(dir.path().join("b.key"), dir.path().join("admin.key")).unwrap();
    s.headend.signal("HUP");
    s.headend
        .wait_for_log("admin TLS certificate reloaded", Duration::from_secs(10));
    // The connection set up with certificate A still answers; the pinned
    // client refuses certificate B.
    assert_eq!(kept.get("/health"), 200);
    assert_eq!(kept.get("/api/v1/openapi.json"), 200);
    let out = ctl(ctl_dir.path(), &["zone", "list"], "");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pinned"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fresh client sees certificate B.
    let verifier = headend_admin::cli::PinVerifier::new(None);
    let fresh = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(verifier.client_config().unwrap())
        .build()
        .unwrap();
    assert_eq!(
        fresh
            .get(s.url("/health"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let der = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(dir.path().join("b.crt"))
        .output()
        .unwrap();
    let fp_b = String::from_utf8_lossy(&der.stdout)
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(verifier.seen().unwrap(), fp_b);
    assert_ne!(
        kept.fingerprint, fp_b,
        "the kept connection was set up with certificate A"
    );
}

#[test]
fn ctl_refreshes_an_expired_access_token_and_rotates_its_refresh_token() {
    let s = admin::start("[admin.tokens]\naccess_ttl = 2\nleeway = 0\n");
    s.add_user("vic", "viewer", PW);
    let ctl_dir = tempfile::tempdir().unwrap();
    let out = ctl(
        ctl_dir.path(),
        &["login", &s.base, "--user", "vic", "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(ctl_dir.path().join("session.json")).unwrap())
            .unwrap()
    };
    let first = read();
    let old_access = first["access_token"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        s.get_status(&client(), "/api/v1/me", Some(&old_access)),
        401,
        "expired"
    );
    let out = ctl(ctl_dir.path(), &["zone", "list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = read();
    assert_ne!(
        first["refresh_token"], second["refresh_token"],
        "the refresh token was not rotated"
    );
    assert_ne!(first["access_token"], second["access_token"]);
    s.assert_no_secrets(&[
        PW.to_owned(),
        old_access,
        second["refresh_token"].as_str().unwrap().to_owned(),
        first["refresh_token"].as_str().unwrap().to_owned(),
    ]);
}
