//! Secrets outside the config. A TSIG key read from a `secret_file` that
//! only its owner may read, or from `$CREDENTIALS_DIRECTORY` (systemd
//! `LoadCredential=`). `headend check` warns at its line about each secret
//! written inline (a TSIG secret, the PostgreSQL password in the url),
//! refuses a secret file others can read (TSIG, PostgreSQL password, DOCSIS
//! shared secret, KEK) and never prints a secret. A transfer request signed
//! by a client whose clock is 2 hours off gets BADTIME (RFC 8945 §5.2.3),
//! the right clock the zone. A running server with a TSIG key, a KEK, an
//! API key, a DOCSIS shared secret and its TLS key (the last two systemd
//! credentials) lets none of them reach its log, /metrics, the audit log
//! (API and forwarded file), the API's answers or the state directory's
//! files. The PostgreSQL password comes from the credential
//! `headend-pg-password` to a server that asks for it (SCRAM), for `serve`
//! and `headend user` alike, and never shows in their output; the KEK from
//! `headend-kek`.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use common::admin::{self, AdminServer};
use common::tftp::{Fetch, raw_get};
use serde_json::{Value, json};

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";

fn check(dir: &Path, tsig: &str, env: &[(&str, &Path)]) -> (bool, String) {
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

/// Writes a secret file with `mode`.
fn write_secret(path: &Path, secret: &str, mode: u32) {
    std::fs::write(path, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

const PG_PW: &str = "pg-Inl1ne-pw-9d2e";
const CMTS: &str = "cmts-S3cret-e2e-41b7";
const DOCSIS_TEMPLATE: &str = "Main\n{\n    NetworkAccess 1;\n    MaxCPE 4;\n    SnmpMibObject sysName.0 String \"cm-{{ mac_hex }}\";\n}\n";

/// `headend check` on `config` (in `dir`), with `CREDENTIALS_DIRECTORY`
/// set to `creds` if given: (success, stdout and stderr).
fn check_config(dir: &Path, config: &str, creds: Option<&Path>) -> (bool, String) {
    let path = dir.join("check.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(common::headend_bin());
    cmd.args(["check", "--config"])
        .arg(&path)
        .env_remove("CREDENTIALS_DIRECTORY");
    if let Some(c) = creds {
        cmd.env("CREDENTIALS_DIRECTORY", c);
    }
    let out = cmd.output().expect("run check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [SECRET, PG_PW, CMTS] {
        assert!(!text.contains(secret), "check printed {secret}: {text}");
    }
    (out.status.success(), text)
}

/// A config with a TSIG key, a PostgreSQL store and a DOCSIS template;
/// `tsig`, `store` and `docsis` are the lines that give their secrets.
fn secrets_config(tsig: &str, store: &str, docsis: &str) -> String {
    format!(
        "[general]\nstate_dir = \"state\"\n[store]\nbackend = \"postgres\"\n{store}[dns]\nlisten = [\"127.0.0.1:{}\"]\n[[dns.tsig_key]]\nname = \"xfr\"\n{tsig}[tftp]\nlisten = [\"127.0.0.1:{}\"]\nroot = \"root\"\n[[tftp.template]]\npattern = \"modems/{{mac}}.cm\"\nfile = \"gold.docsis.j2\"\nformat = \"docsis\"\n{docsis}",
        common::free_port(),
        common::free_port()
    )
}

#[test]
fn check_warns_at_the_line_of_every_inline_secret_and_refuses_exposed_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    std::fs::write(dir.path().join("gold.docsis.j2"), DOCSIS_TEMPLATE).unwrap();

    // Inline: the TSIG secret and the password in the url warn, at their
    // lines; a DOCSIS secret file or a KEK file that others may read is an
    // error, a TLS key everyone may read a warning.
    write_secret(&dir.path().join("cmts-secret"), CMTS, 0o644);
    write_secret(&dir.path().join("kek"), &"ab".repeat(32), 0o644);
    write_secret(&dir.path().join("key.pem"), "not checked here", 0o644);
    write_secret(&dir.path().join("cert.pem"), "not checked here", 0o644);
    let admin = format!(
        "[admin]\nlisten = \"127.0.0.1:{}\"\nkek_file = \"kek\"\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
        common::free_port()
    );
    let (ok, text) = check_config(
        dir.path(),
        &format!(
            "{}{admin}",
            secrets_config(
                &format!("secret = \"{SECRET}\"\n"),
                &format!("url = \"postgresql://headend:{PG_PW}@127.0.0.1:5432/headend\"\n"),
                "shared_secret_file = \"cmts-secret\"\n",
            )
        ),
        None,
    );
    assert!(
        text.contains("check.toml:21: error: admin.kek_file:")
            && text.contains("(mode 0644): chmod 600"),
        "{text}"
    );
    assert!(
        text.contains("check.toml:23: warning: admin.key:")
            && text.contains("readable by every user"),
        "{text}"
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("check.toml:5: warning: store.url: the secret is written in the config (the PostgreSQL password in the url: an inline secret); use password_file (mode 0600) or LoadCredential=headend-pg-password"),
        "{text}"
    );
    assert!(
        text.contains("check.toml:10: warning: dns.tsig_key[0].secret: the secret is written in the config (TSIG key xfr: an inline secret); use secret_file (mode 0600) or LoadCredential=tsig.xfr"),
        "{text}"
    );
    assert!(
        text.contains("cmts-secret") && text.contains("chmod 600"),
        "{text}"
    );

    // Outside the config: files only their owner reads, and the DOCSIS
    // secret from the systemd credential; no warning.
    write_secret(&dir.path().join("xfr.key"), SECRET, 0o600);
    write_secret(&dir.path().join("pg-password"), PG_PW, 0o600);
    let creds = tempfile::tempdir().unwrap();
    write_secret(&creds.path().join("headend-docsis-secret"), CMTS, 0o400);
    let outside = |pg_mode: u32| {
        std::fs::set_permissions(
            dir.path().join("pg-password"),
            std::fs::Permissions::from_mode(pg_mode),
        )
        .unwrap();
        secrets_config(
            "secret_file = \"xfr.key\"\n",
            "url = \"postgresql://headend@127.0.0.1:5432/headend\"\npassword_file = \"pg-password\"\n",
            "",
        )
    };
    let (ok, text) = check_config(dir.path(), &outside(0o600), Some(creds.path()));
    assert!(ok && !text.contains("warning"), "{text}");
    assert!(text.contains("check.toml: OK"), "{text}");

    // Without the credential the template names it.
    let (ok, text) = check_config(dir.path(), &outside(0o600), None);
    assert!(!ok && text.contains("headend-docsis-secret"), "{text}");

    // A password file its group may read: an error at its line.
    let (ok, text) = check_config(dir.path(), &outside(0o640), Some(creds.path()));
    assert!(!ok, "{text}");
    assert!(
        text.contains("check.toml:6: error: store.password_file:") && text.contains("chmod 600"),
        "{text}"
    );
}

/// Where a secret could end up, as named bytes.
#[derive(Default)]
struct Haystack(Vec<(String, Vec<u8>)>);

impl Haystack {
    fn add(&mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((name.into(), bytes.into()));
    }

    /// Every file under `dir`, raw bytes.
    fn add_dir(&mut self, dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                self.add_dir(&path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                self.add(path.display().to_string(), bytes);
            }
        }
    }

    /// The names of the places holding `needle`.
    fn holding(&self, needle: &[u8]) -> Vec<&str> {
        assert!(needle.len() >= 8, "too short to search for: {needle:?}");
        self.0
            .iter()
            .filter(|(_, hay)| hay.windows(needle.len()).any(|w| w == needle))
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn no_secret_reaches_logs_metrics_audit_api_answers_or_the_state_dir() {
    common::require("kdig");
    common::require("openssl");
    const KEK: &str = "4f1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff0";
    const PW: &str = "correct horse battery";

    // The search finds a secret planted among other bytes.
    let planted = tempfile::tempdir().unwrap();
    std::fs::create_dir(planted.path().join("sub")).unwrap();
    let mut bytes = vec![0u8, 1, 2, 255];
    bytes.extend_from_slice(CMTS.as_bytes());
    bytes.extend_from_slice(&hex_decode(KEK));
    std::fs::write(planted.path().join("sub/blob"), &bytes).unwrap();
    let mut probe = Haystack::default();
    probe.add_dir(planted.path());
    assert_eq!(probe.holding(CMTS.as_bytes()).len(), 1);
    assert_eq!(probe.holding(&hex_decode(KEK)).len(), 1);
    assert!(probe.holding(SECRET.as_bytes()).is_empty());

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::workspace_root().join("tests/data/dns/e2e.test.zone"),
        dir.path().join("e2e.test.zone"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    std::fs::write(dir.path().join("gold.docsis.j2"), DOCSIS_TEMPLATE).unwrap();
    write_secret(&dir.path().join("xfr.key"), SECRET, 0o600);
    write_secret(&dir.path().join("kek"), KEK, 0o600);
    let creds = tempfile::tempdir().unwrap();
    write_secret(&creds.path().join("headend-docsis-secret"), CMTS, 0o400);
    // The admin certificate in the config folder, its key a credential.
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(creds.path().join("headend-tls-key"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tls_key = std::fs::read_to_string(creds.path().join("headend-tls-key")).unwrap();
    let tls_key_body: String = tls_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let forward = dir.path().join("audit.jsonl");
    let (dns_port, tftp_port, port) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let config = format!(
        "[general]\nstate_dir = \"state\"\n\
         [dns]\nlisten = [\"127.0.0.1:{dns_port}\"]\n\
         [[dns.tsig_key]]\nname = \"xfr\"\nsecret_file = \"xfr.key\"\n\
         [[dns.zone]]\norigin = \"e2e.test\"\nfile = \"e2e.test.zone\"\ntsig_key = \"xfr\"\n\
         [tftp]\nlisten = [\"127.0.0.1:{tftp_port}\"]\nroot = \"root\"\n\
         [[tftp.template]]\npattern = \"modems/{{mac}}.cm\"\nfile = \"gold.docsis.j2\"\nformat = \"docsis\"\n\
         [admin]\nlisten = \"127.0.0.1:{port}\"\nkek_file = \"kek\"\ncert = \"cert.pem\"\n\
         [admin.audit]\nforward = \"file:{}\"\n\
         [admin.argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
        forward.display()
    );
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, config).unwrap();
    let creds_s = creds.path().to_str().unwrap();
    let headend = common::Headend::spawn(
        dir,
        path,
        &[("CREDENTIALS_DIRECTORY", creds_s), ("RUST_LOG", "debug")],
    );
    let s = AdminServer {
        headend,
        port,
        dns_port,
        base: format!("https://127.0.0.1:{port}"),
    };
    s.add_user("ada", "admin", PW);
    assert!(
        !s.state_dir().join("admin-key.pem").exists(),
        "a key was generated though the credential holds one"
    );
    let c = admin::client();
    let login = s.login(&c, "ada", PW);
    let token = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();

    // An API key, made through the API, used for everything below.
    let r = c
        .post(s.url("/api/v1/apikeys"))
        .bearer_auth(&token)
        .json(&json!({"name": "ops", "role": "admin"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let issued: Value = r.json().unwrap();
    let key = issued["key"].as_str().unwrap().to_owned();
    let key_secret = key[20..].to_owned();
    let get = |path: &str| {
        let r = c.get(s.url(path)).bearer_auth(&key).send().unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.text().unwrap()
    };

    // The TSIG key signs a transfer; a wrong secret is refused (and logged).
    let kdig = |secret: &str| {
        let out = Command::new("kdig")
            .args([
                "@127.0.0.1",
                "-p",
                &dns_port.to_string(),
                "+time=5",
                "+retry=0",
                "-y",
            ])
            .arg(format!("hmac-sha256:xfr:{secret}"))
            .args(["AXFR", "e2e.test"])
            .output()
            .expect("run kdig");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let axfr = kdig(SECRET);
    assert!(axfr.contains("SOA") && !axfr.contains("BADSIG"), "{axfr}");
    let wrong = kdig("d3JvbmctZDNKdmJtY3RkM0p2Ym1jdGQzSnZibWN0IQ==");
    assert!(
        !wrong.contains("\tSOA\t") || wrong.contains("BADSIG"),
        "{wrong}"
    );

    // The DOCSIS secret signs a modem's file.
    match raw_get(common::lo(tftp_port), b"modems/00005e005301.cm", &[]) {
        Fetch::Data(d, _) => assert!(d.len() > 20),
        Fetch::Error(code, m) => panic!("ERROR {code} {m}: {}", s.headend.logs().join("\n")),
    }

    let mut hay = Haystack::default();
    hay.add("GET /metrics", get("/metrics"));
    hay.add("GET /api/v1/users", get("/api/v1/users"));
    hay.add("GET /api/v1/apikeys", get("/api/v1/apikeys"));
    hay.add("GET /api/v1/me", get("/api/v1/me"));
    let audit = get("/api/v1/audit?limit=1000");
    assert!(audit.contains("apikey.create"), "{audit}");
    hay.add("GET /api/v1/audit", audit);
    let forwarded = std::fs::read(&forward).unwrap();
    assert!(!forwarded.is_empty(), "nothing was forwarded");
    hay.add("the forwarded audit file", forwarded);
    hay.add("the log", s.headend.logs().join("\n"));
    hay.add_dir(&s.state_dir());
    assert!(
        s.state_dir().join("headend.db").is_file(),
        "no database in the state dir"
    );
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("the TSIG secret", SECRET.as_bytes().to_vec()),
        ("the API key's secret", key_secret.as_bytes().to_vec()),
        ("the KEK (hex)", KEK.as_bytes().to_vec()),
        ("the KEK (bytes)", hex_decode(KEK)),
        ("the DOCSIS shared secret", CMTS.as_bytes().to_vec()),
        ("the user's password", PW.as_bytes().to_vec()),
        ("the admin TLS key", tls_key_body.as_bytes().to_vec()),
        ("the access token", token.as_bytes().to_vec()),
        ("the refresh token", refresh.as_bytes().to_vec()),
        (
            "the admin TLS key's first line",
            tls_key_body.as_bytes()[..48].to_vec(),
        ),
    ];
    for (what, secret) in &secrets {
        let found = hay.holding(secret);
        assert!(found.is_empty(), "{what} appears in {found:?}");
    }
}

#[test]
fn postgres_password_from_the_credential_logs_in_and_never_shows() {
    use crate::store_postgres::pg_cluster::{Cluster, Options};
    const PG_SECRET: &str = "pg-Cred3ntial-pw-5e8a";
    const PW: &str = "correct horse battery";
    let cluster = Cluster::start_with(Options {
        hba_conf: Some("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n".to_owned()),
        ..Options::default()
    });
    cluster.exec(
        "postgres",
        &format!("CREATE ROLE app LOGIN PASSWORD '{PG_SECRET}'"),
    );
    cluster.exec("postgres", "CREATE DATABASE appdb OWNER app");

    let dir = tempfile::tempdir().unwrap();
    let creds = tempfile::tempdir().unwrap();
    write_secret(&creds.path().join("headend-pg-password"), PG_SECRET, 0o400);
    write_secret(&creds.path().join("headend-kek"), &"5a".repeat(32), 0o400);
    let creds_s = creds.path().to_str().unwrap();
    let port = common::free_port();
    let config = format!(
        "[general]\nstate_dir = \"state\"\n\
         [store]\nbackend = \"postgres\"\nurl = \"postgresql://app@127.0.0.1:{}/appdb\"\npool = 1\nconnect_timeout_secs = 5\n\
         [admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [admin.argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
        cluster.port
    );
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, &config).unwrap();

    // `headend user add` opens the store too: without the credential the
    // server refuses the login, with it the user is added.
    let user_add = |creds: Option<&str>| {
        let mut cmd = Command::new(common::headend_bin());
        cmd.args(["user", "-c"])
            .arg(&path)
            .args(["add", "ada", "--role", "admin", "--password-stdin"])
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(c) = creds {
            cmd.env("CREDENTIALS_DIRECTORY", c);
        }
        let mut child = cmd.spawn().expect("spawn headend user");
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            format!("{PW}\n").as_bytes(),
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(PG_SECRET), "{text}");
        (out.status.success(), text)
    };
    let (ok, text) = user_add(None);
    assert!(!ok && text.contains("password missing"), "{text}");
    let (ok, text) = user_add(Some(creds_s));
    assert!(ok, "{text}");

    let (ok, text) = check_config(dir.path(), &config, Some(creds.path()));
    assert!(ok && !text.contains("warning"), "{text}");

    let headend = common::Headend::spawn(
        dir,
        path,
        &[("CREDENTIALS_DIRECTORY", creds_s), ("RUST_LOG", "debug")],
    );
    let s = AdminServer {
        headend,
        port,
        dns_port: 0,
        base: format!("https://127.0.0.1:{port}"),
    };
    let c = admin::client();
    let token = s.token(&c, "ada", PW);
    let users = c
        .get(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(users.contains("ada"), "{users}");
    // The KEK came from the credential: none was generated.
    assert!(!s.state_dir().join("kek").exists());
    assert!(
        !s.headend
            .logs()
            .iter()
            .any(|l| l.contains("generated a key-encryption key")),
        "{:?}",
        s.headend.logs()
    );
    let mut hay = Haystack::default();
    hay.add("the log", s.headend.logs().join("\n"));
    hay.add("GET /api/v1/users", users);
    hay.add_dir(&s.state_dir());
    let found = hay.holding(PG_SECRET.as_bytes());
    assert!(
        found.is_empty(),
        "the PostgreSQL password appears in {found:?}"
    );
}
