//! Mutual TLS on the admin API with certificates made by `openssl` here: a
//! valid client certificate logs in as the principal its SAN URI maps to
//! (role and scopes applied, audited as `cert:NAME`); expired ones, ones of
//! another CA and revoked ones (CRL re-read on SIGHUP) are refused at the
//! handshake; an unmapped one authenticates nobody. The same route also
//! takes a JWT and an API key. `mode = "required"` refuses clients without a
//! certificate.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::admin::{self, AdminServer, client, curl};
use serde_json::{Value, json};

const PW: &str = "correct horse battery";

fn openssl(dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client CA (`ca.pem`) with an `openssl ca` database, and a second,
/// unrelated CA (`other-ca.pem`).
struct Pki {
    dir: tempfile::TempDir,
}

const CA_CNF: &str = r#"
[ca]
default_ca = e2e
[e2e]
dir = .
database = index.txt
new_certs_dir = newcerts
certificate = ca.pem
private_key = ca.key
serial = serial
crlnumber = crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SAN
"#;

impl Pki {
    fn new() -> Self {
        common::require("openssl");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir(p.join("newcerts")).unwrap();
        std::fs::write(p.join("index.txt"), "").unwrap();
        std::fs::write(p.join("serial"), "1000\n").unwrap();
        std::fs::write(p.join("crlnumber"), "1000\n").unwrap();
        std::fs::write(p.join("ca.cnf"), CA_CNF).unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(
                p,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-subj",
                    &format!("/CN=e2e {ca}"),
                    "-days",
                    "2",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
                &[],
            );
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client certificate `NAME.pem` / `NAME.key` with SAN URI
    /// spiffe://e2e.test/NAME, signed by `ca` (`ca` or `other-ca`), valid
    /// from `dates` (start, end; `None`: now for 2 days).
    fn client(&self, name: &str, ca: &str, dates: Option<(&str, &str)>) {
        let p = self.dir.path();
        openssl(
            p,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
            &[],
        );
        let san = format!("URI:spiffe://e2e.test/{name}");
        if ca == "ca" {
            let mut args = vec![
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-extensions",
                "client_ext",
                "-notext",
                "-in",
            ];
            let csr = format!("{name}.csr");
            let out = format!("{name}.pem");
            args.extend([csr.as_str(), "-out", out.as_str()]);
            if let Some((start, end)) = dates {
                args.extend(["-startdate", start, "-enddate", end]);
            }
            openssl(p, &args, &[("SAN", &san)]);
        } else {
            std::fs::write(
                p.join(format!("{name}.ext")),
                format!(
                    "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName={san}\n"
                ),
            )
            .unwrap();
            openssl(
                p,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{name}.ext"),
                    "-out",
                    &format!("{name}.pem"),
                ],
                &[],
            );
        }
    }

    fn revoke(&self, name: &str) {
        openssl(
            self.dir.path(),
            &["ca", "-config", "ca.cnf", "-revoke", &format!("{name}.pem")],
            &[("SAN", "")],
        );
    }

    fn crl(&self) {
        openssl(
            self.dir.path(),
            &["ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem"],
            &[("SAN", "")],
        );
    }

    fn config(&self, mode: &str) -> String {
        format!(
            r#"
[admin.client_tls]
ca_file = "{}"
crl_file = "{}"
mode = "{mode}"
[[admin.client_tls.map]]
identity = "uri:spiffe://e2e.test/billing"
principal = "billing"
role = "operator"
scopes = ["zone:e2e.test"]
[[admin.client_tls.map]]
identity = "cn:monitor-*"
principal = "monitor"
role = "viewer"
"#,
            self.path("ca.pem").display(),
            self.path("crl.pem").display()
        )
    }
}

/// curl with the client certificate `name` (or none); (status, body).
fn with_cert(
    pki: &Pki,
    s: &AdminServer,
    name: Option<&str>,
    args: &[&str],
    path: &str,
) -> (u16, String) {
    let (cert, key) = name.map_or((String::new(), String::new()), |n| {
        (
            pki.path(&format!("{n}.pem")).display().to_string(),
            pki.path(&format!("{n}.key")).display().to_string(),
        )
    });
    let mut all: Vec<&str> = Vec::new();
    if name.is_some() {
        all.extend(["--cert", &cert, "--key", &key]);
    }
    all.extend_from_slice(args);
    let url = s.url(path);
    all.push(&url);
    let (status, _, body) = curl(&all);
    (status, body)
}

#[test]
fn client_certificates_map_to_principals_and_bad_ones_fail_the_handshake() {
    let pki = Pki::new();
    for name in ["billing", "later", "stranger", "monitor-7"] {
        pki.client(name, "ca", None);
    }
    pki.client(
        "expired",
        "ca",
        Some(("20200101000000Z", "20200102000000Z")),
    );
    pki.client("foreign", "other-ca", None);
    pki.crl();
    let mut s = admin::start(&pki.config("optional"));
    s.add_user("ada", "admin", PW);

    // Mapped: the principal, its role and its scope.
    let (st, body) = with_cert(&pki, &s, Some("billing"), &[], "/api/v1/me");
    assert_eq!(st, 200, "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str()),
        (Some("cert:billing"), Some("operator"))
    );
    let put = [
        "-X",
        "PUT",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"ttl":60,"rdata":["192.0.2.99"]}"#,
    ];
    assert_eq!(
        with_cert(
            &pki,
            &s,
            Some("billing"),
            &put,
            "/api/v1/zones/e2e.test/records/mtls/A"
        )
        .0,
        200
    );
    assert_eq!(
        with_cert(&pki, &s, Some("billing"), &[], "/api/v1/zones/other.test").0,
        403
    );
    assert_eq!(
        with_cert(&pki, &s, Some("billing"), &[], "/api/v1/users").0,
        403
    );
    // A CN pattern; a viewer may read, not write.
    assert_eq!(
        with_cert(&pki, &s, Some("monitor-7"), &[], "/api/v1/zones").0,
        200
    );
    assert_eq!(
        with_cert(
            &pki,
            &s,
            Some("monitor-7"),
            &put,
            "/api/v1/zones/e2e.test/records/mtls/A"
        )
        .0,
        403
    );
    // Unmapped: verified, but nobody.
    assert_eq!(
        with_cert(&pki, &s, Some("stranger"), &[], "/api/v1/me").0,
        401
    );
    // Expired, another CA: no handshake (curl reports no HTTP status).
    assert_eq!(with_cert(&pki, &s, Some("expired"), &[], "/api/v1/me").0, 0);
    assert_eq!(with_cert(&pki, &s, Some("foreign"), &[], "/api/v1/me").0, 0);
    // Revoked: refused once the new CRL is read (SIGHUP).
    assert_eq!(
        with_cert(&pki, &s, Some("later"), &[], "/api/v1/me").0,
        401,
        "valid, unmapped"
    );
    pki.revoke("later");
    pki.crl();
    s.headend.signal("HUP");
    s.headend
        .wait_for_log("admin TLS certificate reloaded", Duration::from_secs(10));
    assert_eq!(
        with_cert(&pki, &s, Some("later"), &[], "/api/v1/me").0,
        0,
        "revoked"
    );
    assert_eq!(
        with_cert(&pki, &s, Some("billing"), &[], "/api/v1/me").0,
        200,
        "others still work"
    );

    // The same route with a JWT and with an API key, no certificate.
    let c = client();
    let jwt = s.token(&c, "ada", PW);
    assert_eq!(s.get_status(&c, "/api/v1/me", Some(&jwt)), 200);
    let made: Value = c
        .post(s.url("/api/v1/apikeys"))
        .bearer_auth(&jwt)
        .json(&json!({"name": "script", "role": "viewer"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let key = made["key"].as_str().unwrap();
    let (st, body) = with_cert(
        &pki,
        &s,
        None,
        &["-H", &format!("X-API-Key: {key}")],
        "/api/v1/me",
    );
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("apikey:script"));
    // A credential in the request wins over the certificate.
    let (_, body) = with_cert(
        &pki,
        &s,
        Some("billing"),
        &["-H", &format!("X-API-Key: {key}")],
        "/api/v1/me",
    );
    assert!(body.contains("apikey:script"), "{body}");

    // The audit names the certificate's principal.
    let audit: Value = c
        .get(s.url("/api/v1/audit"))
        .bearer_auth(&jwt)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "cert:billing" && e["action"] == "record.set"),
        "{audit}"
    );
    // No private key material in the logs or the database.
    let key_pem = std::fs::read_to_string(pki.path("billing.key")).unwrap();
    let secret_line = key_pem
        .lines()
        .find(|l| !l.starts_with("-----"))
        .unwrap()
        .to_owned();
    s.assert_no_secrets(&[secret_line, key[20..].to_owned()]);
}

#[test]
fn required_mode_refuses_clients_without_a_certificate() {
    let pki = Pki::new();
    pki.client("billing", "ca", None);
    pki.crl();
    let s = admin::start(&pki.config("required"));
    assert_eq!(with_cert(&pki, &s, None, &[], "/health").0, 0);
    assert_eq!(
        with_cert(&pki, &s, Some("billing"), &[], "/api/v1/me").0,
        200
    );
}
