//! Single sign-on against a real OpenID Connect provider: node's
//! `oidc-provider` (installed by scripts/test.sh into target/oidc-node) on
//! loopback with a certificate of a CA made here by openssl, which headend
//! trusts through `[admin.oidc] ca_file`. The code flow is driven with an
//! HTTP client (the provider's interaction logs the chosen account in at
//! once): groups map to roles; a tampered state, a replayed code, a wrong
//! nonce, an ID token signed by another key, an expired one and one for
//! another audience are each refused; removing the user's group at the
//! provider ends the session at its next refresh; `headend ctl login --sso`
//! catches the redirect on a loopback port.

use crate::common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::admin::{self, AdminServer};
use reqwest::Url;
use reqwest::blocking::Client;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const SECRET: &str = "e2e-client-secret";
const LOOPBACK: &str = "http://127.0.0.1:9/cb";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The provider: a node process and the state file it reads.
struct Idp {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    state: std::cell::RefCell<Value>,
}

impl Idp {
    fn start() -> Self {
        common::require("openssl");
        common::require("node");
        let modules = common::workspace_root().join("target/oidc-node");
        assert!(
            modules.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed in {}: run scripts/test.sh, which installs it",
            modules.display()
        );
        // Beside node_modules, so that its imports resolve there.
        let script = modules.join("provider.mjs");
        std::fs::write(&script, include_str!("oidc/provider.mjs")).expect("write provider.mjs");
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            p,
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=e2e-idp-ca",
                ],
            ]
            .concat(),
        );
        openssl(
            p,
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "idp.key",
                    "-out",
                    "idp.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            p.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext.cnf");
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                "idp.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "idp.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        std::fs::write(p.join("secret"), format!("{SECRET}\n")).expect("secret");
        let state = json!({"redirect_uri": "", "login": "ada", "groups": {}, "forge": null});
        std::fs::write(p.join("state.json"), state.to_string()).expect("state");
        let mut child = Command::new("node")
            .arg(&script)
            .args(["idp.pem", "idp.key", "state.json"])
            .current_dir(p)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the provider printed no `listening PORT`");
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line of the provider: {line}"));
        Self {
            child,
            dir,
            port,
            state: std::cell::RefCell::new(state),
        }
    }

    fn issuer(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn set(&self, key: &str, value: Value) {
        let mut state = self.state.borrow_mut();
        state[key] = value;
        std::fs::write(self.dir.path().join("state.json"), state.to_string()).expect("write state");
    }

    /// The `[admin.oidc]` section for this provider.
    fn section(&self, role_map: &str, extra: &str) -> String {
        format!(
            "[admin.oidc]\nissuer = \"{}\"\nclient_id = \"headend\"\nclient_secret_file = \"{}\"\nca_file = \"{}\"\nredirect_uri = \"REDIRECT\"\nrole_map = {role_map}\n{extra}\n",
            self.issuer(),
            self.dir.path().join("secret").display(),
            self.dir.path().join("ca.pem").display(),
        )
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that follows no redirect (each hop is looked at).
fn no_redirect() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let verifier = headend_admin::cli::PinVerifier::new(None);
    Client::builder()
        .tls_backend_preconfigured(verifier.client_config().expect("tls config"))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn location(r: &reqwest::blocking::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location in a {} answer", r.status()))
        .to_owned()
}

fn query(url: &str, key: &str) -> Option<String> {
    Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The headend side of one login: its clients, the PKCE verifier of the
/// loopback client.
struct Sso<'a> {
    s: &'a AdminServer,
    idp: &'a Idp,
    h: Client,
    verifier: String,
}

impl<'a> Sso<'a> {
    fn new(s: &'a AdminServer, idp: &'a Idp) -> Self {
        Self {
            s,
            idp,
            h: no_redirect(),
            verifier: headend_admin::core::oidc::random_token(),
        }
    }

    /// GET /start: answers the provider's authorization URL.
    fn start(&self, state: &str) -> String {
        let url = format!(
            "/api/v1/auth/oidc/start?redirect_uri={}&state={state}&code_challenge={}&code_challenge_method=S256",
            headend_admin::core::oidc::form_escape(LOOPBACK),
            headend_admin::core::oidc::pkce_challenge(&self.verifier)
        );
        let r = self.h.get(self.s.url(&url)).send().expect("start");
        assert_eq!(
            r.status().as_u16(),
            302,
            "start: {}",
            r.text().unwrap_or_default()
        );
        let to = location(&r);
        assert!(to.starts_with(&self.idp.issuer()), "{to}");
        for (k, v) in [("code_challenge_method", "S256"), ("response_type", "code")] {
            assert_eq!(query(&to, k).as_deref(), Some(v), "{to}");
        }
        assert!(query(&to, "nonce").is_some() && query(&to, "state").is_some());
        to
    }

    /// Follows the provider's redirects (with its cookies) from the
    /// authorization URL to headend's callback URL.
    fn at_provider(&self, authorize: &str) -> String {
        let p = no_redirect();
        let mut cookies: Vec<(String, String)> = Vec::new();
        let mut url = authorize.to_owned();
        for _ in 0..10 {
            if url.starts_with(&self.s.url("/api/v1/auth/oidc/callback")) {
                return url;
            }
            let jar = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let r = p.get(&url).header("cookie", jar).send().expect("provider");
            for c in r.headers().get_all("set-cookie") {
                let c = c.to_str().expect("cookie");
                let pair = c.split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    cookies.retain(|(n, _)| n != k);
                    cookies.push((k.to_owned(), v.to_owned()));
                }
            }
            assert!(
                r.status().is_redirection(),
                "the provider answered {} at {url}",
                r.status()
            );
            let next = location(&r);
            url = if next.starts_with('/') {
                format!("{}{next}", self.idp.issuer())
            } else {
                next
            };
        }
        panic!("the provider never sent the browser back to headend");
    }

    /// GET the callback: answers headend's redirect to the loopback client.
    fn callback(&self, url: &str) -> reqwest::blocking::Response {
        self.h.get(url).send().expect("callback")
    }

    /// A whole login through to the loopback redirect.
    fn to_loopback(&self, state: &str) -> String {
        let cb = self.at_provider(&self.start(state));
        let r = self.callback(&cb);
        assert_eq!(
            r.status().as_u16(),
            302,
            "callback: {}",
            r.text().unwrap_or_default()
        );
        let back = location(&r);
        assert!(back.starts_with(LOOPBACK), "{back}");
        assert_eq!(query(&back, "state").as_deref(), Some(state));
        back
    }

    /// POST /token with the one-time code.
    fn redeem(&self, code: &str, verifier: &str) -> reqwest::blocking::Response {
        self.h
            .post(self.s.url("/api/v1/auth/oidc/token"))
            .json(&json!({"code": code, "code_verifier": verifier}))
            .send()
            .expect("token")
    }

    /// A whole login: the token answer.
    fn login(&self) -> Value {
        let back = self.to_loopback("client-state");
        let code = query(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
        let r = self.redeem(&code, &self.verifier);
        assert_eq!(r.status().as_u16(), 200);
        r.json().expect("tokens")
    }

    /// A login the callback refuses: the error_description.
    fn refused(&self) -> String {
        let back = self.to_loopback("client-state");
        assert_eq!(
            query(&back, "error").as_deref(),
            Some("access_denied"),
            "{back}"
        );
        assert!(query(&back, "code").is_none());
        query(&back, "error_description").unwrap_or_default()
    }

    fn me(&self, access: &str) -> (u16, Value) {
        let r = self
            .h
            .get(self.s.url("/api/v1/me"))
            .bearer_auth(access)
            .send()
            .expect("me");
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    fn refresh(&self, refresh: &str) -> (u16, Value) {
        let r = self
            .h
            .post(self.s.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .expect("refresh");
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }
}

const ROLE_MAP: &str = r#"{ "netops-admins" = "admin", "netops" = "operator", "*" = "viewer" }"#;
const STRICT_MAP: &str = r#"{ "netops-admins" = "admin", "netops" = "operator" }"#;

/// headend with `[admin.oidc]` for `idp`, whose redirect URI (this API's
/// own callback) the provider is told.
fn headend(idp: &Idp, admin_keys: &str, role_map: &str, oidc_extra: &str) -> AdminServer {
    let port = common::free_port();
    let redirect = format!("https://127.0.0.1:{port}/api/v1/auth/oidc/callback");
    idp.set("redirect_uri", json!(redirect));
    let section = idp
        .section(role_map, oidc_extra)
        .replace("REDIRECT", &redirect);
    admin::start_on(
        port,
        &format!(
            "{admin_keys}\n[admin.limits]\nlogin_per_minute = 6000\nlogin_burst = 1000\n{section}"
        ),
    )
}

#[test]
fn groups_map_to_roles_and_local_logins_are_break_glass_only() {
    let idp = Idp::start();
    let s = headend(&idp, "local_login = \"admins\"", STRICT_MAP, "");
    s.add_user("root", "admin", PW);
    s.add_user("oscar", "operator", PW);
    idp.set(
        "groups",
        json!({"ada": ["netops", "staff"], "bob": ["netops-admins"], "carol": ["sales"]}),
    );
    let sso = Sso::new(&s, &idp);
    // ada: operator, as the user sso:ada (the name from preferred_username).
    let t = sso.login();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    let (status, me) = sso.me(t["access_token"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str()),
        (Some("sso:ada"), Some("operator"))
    );
    // bob: admin, who may list users (sso:ada is one, without a password).
    idp.set("login", json!("bob"));
    let bob = Sso::new(&s, &idp).login();
    let bob_access = bob["access_token"].as_str().unwrap();
    let (_, me) = sso.me(bob_access);
    assert_eq!(me["role"], "admin");
    let users: Value = sso
        .h
        .get(s.url("/api/v1/users"))
        .bearer_auth(bob_access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(users.to_string().contains("sso:ada"), "{users}");
    // carol: no group maps to a role (no "*" here): refused, clearly.
    idp.set("login", json!("carol"));
    let why = Sso::new(&s, &idp).refused();
    assert!(why.contains("groups claim maps to no role"), "{why}");
    // The one-time code: the wrong verifier spends it; used twice, refused.
    idp.set("login", json!("ada"));
    let sso = Sso::new(&s, &idp);
    let code = query(&sso.to_loopback("st"), "code").unwrap();
    assert_eq!(sso.redeem(&code, "not-the-verifier").status().as_u16(), 401);
    assert_eq!(sso.redeem(&code, &sso.verifier).status().as_u16(), 401);
    let code = query(&sso.to_loopback("st"), "code").unwrap();
    assert_eq!(sso.redeem(&code, &sso.verifier).status().as_u16(), 200);
    assert_eq!(
        sso.redeem(&code, &sso.verifier).status().as_u16(),
        401,
        "replayed"
    );
    // local_login = "admins": the operator's password is right, and refused.
    let c = no_redirect();
    let login = |u: &str| {
        c.post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": u, "password": PW}))
            .send()
            .unwrap()
    };
    let r = login("oscar");
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().unwrap().contains("single sign-on"));
    assert_eq!(login("root").status().as_u16(), 200);
    // No password opens an SSO account.
    assert_eq!(login("sso:ada").status().as_u16(), 401);
    // A redirect_uri that is not loopback is refused before the provider.
    let r = sso
        .h
        .get(s.url("/api/v1/auth/oidc/start?redirect_uri=https%3A%2F%2Fevil.test%2Fcb&state=x&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[test]
fn tampered_state_replayed_code_and_forged_id_tokens_are_refused() {
    let idp = Idp::start();
    let s = headend(&idp, "", ROLE_MAP, "");
    idp.set("groups", json!({"ada": ["netops"]}));
    let sso = Sso::new(&s, &idp);
    // Tampered state: headend knows no such login.
    let cb = sso.at_provider(&sso.start("st"));
    let state = query(&cb, "state").unwrap();
    let tampered = cb.replace(&format!("state={state}"), &format!("state={state}x"));
    assert_eq!(sso.callback(&tampered).status().as_u16(), 400);
    // The genuine redirect still works once...
    let r = sso.callback(&cb);
    assert_eq!(r.status().as_u16(), 302);
    assert!(query(&location(&r), "code").is_some());
    // ...and not twice (its state is spent).
    assert_eq!(sso.callback(&cb).status().as_u16(), 400);
    // The spent provider code under a fresh state: the provider refuses it.
    let fresh = sso.at_provider(&sso.start("st2"));
    let replay = fresh.replace(
        &format!("code={}", query(&fresh, "code").unwrap()),
        &format!("code={}", query(&cb, "code").unwrap()),
    );
    let r = sso.callback(&replay);
    let why = query(&location(&r), "error_description").unwrap_or_default();
    assert!(why.contains("token endpoint refused"), "{why}");
    // An answer naming another issuer (RFC 9207 mix-up): refused.
    let cb = sso.at_provider(&sso.start("st3"));
    let iss = query(&cb, "iss").expect("the provider sends iss");
    let mixed = cb.replace(
        &format!("iss={}", headend_admin::core::oidc::form_escape(&iss)),
        "iss=https%3A%2F%2Fevil.test",
    );
    assert_ne!(mixed, cb);
    let why = query(&location(&sso.callback(&mixed)), "error_description").unwrap_or_default();
    assert!(why.contains("another issuer"), "{why}");
    // ID tokens rewritten by the provider: each refused for its reason.
    for (mode, expect) in [
        ("nonce", "nonce"),
        ("key", "signature does not verify"),
        ("expired", "exp"),
        ("aud", "aud"),
    ] {
        idp.set("forge", json!(mode));
        let why = Sso::new(&s, &idp).refused();
        assert!(why.contains(expect), "{mode}: {why}");
    }
    // The same flow without forgery logs in: the refusals were the checks'.
    idp.set("forge", Value::Null);
    let t = Sso::new(&s, &idp).login();
    assert!(t["access_token"].is_string());
    // The provider rotates its key: ID tokens name kid k2, which the cached
    // JWKS lacks; headend reads the JWKS again (at most every 10 s) and
    // the login passes.
    idp.set("forge", json!("rotate"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut refusals = 0;
    loop {
        let sso = Sso::new(&s, &idp);
        let back = sso.to_loopback("st");
        if let Some(code) = query(&back, "code") {
            assert_eq!(sso.redeem(&code, &sso.verifier).status().as_u16(), 200);
            break;
        }
        let why = query(&back, "error_description").unwrap_or_default();
        assert!(why.contains("\"k2\""), "{why}");
        refusals += 1;
        assert!(
            Instant::now() < deadline,
            "the rotated key was never fetched"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let fetches = s.headend.count_logs("OIDC provider keys (JWKS) read");
    assert_eq!(
        fetches, 2,
        "the JWKS is read again once, not at every refusal ({refusals} refused)"
    );
    let audit = s.headend.logs().join("\n");
    assert!(
        audit.contains("single sign-on refused"),
        "no log of the refusals"
    );
}

#[test]
fn removing_the_group_at_the_provider_ends_access_at_the_next_refresh() {
    let idp = Idp::start();
    let s = headend(&idp, "", STRICT_MAP, "recheck_minutes = 0.02");
    idp.set("groups", json!({"ada": ["netops"]}));
    let sso = Sso::new(&s, &idp);
    let t = sso.login();
    let mut refresh = t["refresh_token"].as_str().unwrap().to_owned();
    // Refresh until the provider is asked again (every 1.2 s here); the
    // group made admin at the provider gives the admin role.
    idp.set("groups", json!({"ada": ["netops-admins"]}));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut access;
    loop {
        let (status, answer) = sso.refresh(&refresh);
        assert_eq!(status, 200, "{answer}");
        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
        access = answer["access_token"].as_str().unwrap().to_owned();
        if sso.me(&access).1["role"] == "admin" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the role never followed the provider"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The group removed at the provider: the next check refuses.
    idp.set("groups", json!({"ada": []}));
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        let (status, answer) = sso.refresh(&refresh);
        if status == 401 {
            break answer["message"].as_str().unwrap_or_default().to_owned();
        }
        assert_eq!(status, 200, "{answer}");
        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
        access = answer["access_token"].as_str().unwrap().to_owned();
        assert!(Instant::now() < deadline, "the session outlived the group");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(message.contains("no longer map to a role"), "{message}");
    // The session is revoked: its access token dies at once too.
    assert_eq!(sso.me(&access).0, 401);
    assert_eq!(sso.refresh(&refresh).0, 401);
}

/// The bytes of headend's SQLite database and its WAL.
fn database_bytes(s: &AdminServer) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["headend.db", "headend.db-wal"] {
        if let Ok(b) = std::fs::read(s.state_dir().join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

#[test]
fn single_sign_on_sessions_survive_a_restart_and_are_sealed_in_the_store() {
    let idp = Idp::start();
    let mut s = headend(&idp, "", STRICT_MAP, "recheck_minutes = 0.02");
    idp.set("groups", json!({"ada": ["netops"]}));
    let t = Sso::new(&s, &idp).login();
    let mut refresh = t["refresh_token"].as_str().unwrap().to_owned();
    // The provider's tokens are in the store, sealed: never in clear.
    let issued = std::fs::read_to_string(idp.dir.path().join("issued.txt")).expect("issued");
    let tokens: Vec<&str> = issued.lines().filter(|l| !l.is_empty()).collect();
    assert!(!tokens.is_empty());
    let db = database_bytes(&s);
    assert!(!db.is_empty());
    for token in &tokens {
        assert!(
            !db.windows(token.len()).any(|w| w == token.as_bytes()),
            "a provider token is in the database in clear"
        );
    }
    // headend restarts on the same state directory.
    s.headend.stop();
    let dir = std::mem::replace(&mut s.headend.dir, tempfile::tempdir().expect("tempdir"));
    let config = s.headend.config.clone();
    s.headend = common::Headend::spawn(dir, config, &[]);
    let sso = Sso::new(&s, &idp);
    // The session goes on, and the provider is still asked when a check is
    // due: the group made admin there gives the admin role.
    idp.set("groups", json!({"ada": ["netops-admins"]}));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = sso.refresh(&refresh);
        assert_eq!(status, 200, "{answer}");
        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
        let access = answer["access_token"].as_str().unwrap();
        if sso.me(access).1["role"] == "admin" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the role never followed the provider after the restart"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And a group removed there still ends it.
    idp.set("groups", json!({"ada": []}));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = sso.refresh(&refresh);
        if status == 401 {
            break;
        }
        assert_eq!(status, 200, "{answer}");
        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
        assert!(Instant::now() < deadline, "the session outlived the group");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn scope_claims_limit_a_single_sign_on_user_to_its_zones() {
    let idp = Idp::start();
    let s = headend(
        &idp,
        "",
        STRICT_MAP,
        "recheck_minutes = 0.02\nscope_map = { \"dns-example\" = [\"zone:example.test\"] }",
    );
    idp.set("groups", json!({"ada": ["netops", "dns-example"]}));
    let sso = Sso::new(&s, &idp);
    let t = sso.login();
    let zone = |access: &str| {
        sso.h
            .get(s.url("/api/v1/zones/e2e.test"))
            .bearer_auth(access)
            .send()
            .expect("zone")
            .status()
            .as_u16()
    };
    // Scoped to example.test: another zone is out of reach.
    assert_eq!(zone(t["access_token"].as_str().unwrap()), 403);
    // The group removed at the provider: at the next check the user has no
    // scope entry left, so no scope limits.
    idp.set("groups", json!({"ada": ["netops"]}));
    let mut refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = sso.refresh(&refresh);
        assert_eq!(status, 200, "{answer}");
        refresh = answer["refresh_token"].as_str().unwrap().to_owned();
        if zone(answer["access_token"].as_str().unwrap()) == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scopes never followed the provider"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn ctl_login_sso_catches_the_redirect_on_a_loopback_port() {
    let idp = Idp::start();
    let s = headend(&idp, "", ROLE_MAP, "");
    idp.set("groups", json!({"ada": ["netops"]}));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(common::headend_bin())
        .args(["ctl", "login", "--sso", &s.base, "--sso-timeout", "60"])
        .env("HEADEND_CTL_DIR", dir.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn headend ctl");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let start = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("ctl printed no URL");
        if let Some(url) = line
            .trim()
            .strip_prefix(&format!("{}/api/v1/auth/oidc/start?", s.base))
        {
            break format!("{}/api/v1/auth/oidc/start?{url}", s.base);
        }
    };
    let redirect = query(&start, "redirect_uri").expect("redirect_uri");
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    // The browser: headend, the provider, headend, then ctl's loopback port.
    let sso = Sso::new(&s, &idp);
    let r = sso.h.get(&start).send().expect("start");
    assert_eq!(r.status().as_u16(), 302);
    let cb = sso.at_provider(&location(&r));
    let back = location(&sso.callback(&cb));
    assert!(back.starts_with(&redirect), "{back}");
    let page = sso.h.get(&back).send().expect("loopback");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("Logged in"));
    let out = child.wait_with_output().expect("ctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("logged in as sso:ada (operator)"),
        "{stdout}"
    );
    // The session works like a password login's.
    let out = admin::ctl(dir.path(), &["zone", "list"], "");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("e2e.test"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No token in the session file is in headend's log.
    let session: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("session.json")).unwrap()).unwrap();
    let logs = s.headend.logs().join("\n");
    for k in ["access_token", "refresh_token"] {
        let t = session[k].as_str().unwrap();
        assert!(!t.is_empty() && !logs.contains(t), "{k} logged");
    }
}

/// The `name=value` pairs of a response's Set-Cookie headers.
fn set_cookies(r: &reqwest::blocking::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_console_signs_in_with_single_sign_on() {
    let idp = Idp::start();
    let s = headend(&idp, "", ROLE_MAP, "");
    idp.set("groups", json!({"ada": ["netops"]}));
    let sso = Sso::new(&s, &idp);
    let page = sso
        .h
        .get(s.url("/ui/login"))
        .send()
        .unwrap()
        .text()
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(
        page.contains("href=\"/ui/login/sso?next=%2Fui%2F\""),
        "{page}"
    );
    let r = sso
        .h
        .get(s.url("/ui/login/sso?next=/ui/zones"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let pending = set_cookies(&r);
    assert!(
        pending.iter().any(|c| c.starts_with("headend_ui_sso=")),
        "{pending:?}"
    );
    let cb = sso.at_provider(&location(&r));
    let back = location(&sso.callback(&cb));
    assert!(back.starts_with("/ui/login/sso/done?code="), "{back}");
    // Without the cookie of the browser that started it: refused.
    let r = sso.h.get(s.url(&back)).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let cb = {
        let r = sso
            .h
            .get(s.url("/ui/login/sso?next=/ui/zones"))
            .send()
            .unwrap();
        let pending = set_cookies(&r);
        let cb = sso.at_provider(&location(&r));
        (cb, pending.join("; "))
    };
    let back = location(&sso.callback(&cb.0));
    let r = sso
        .h
        .get(s.url(&back))
        .header("cookie", &cb.1)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let session = set_cookies(&r).join("; ");
    assert!(session.contains("headend_ui="), "{session}");
    assert!(
        r.text()
            .unwrap()
            .replace("&#x2f;", "/")
            .contains("url=/ui/zones")
    );
    let r = sso
        .h
        .get(s.url("/ui/zones"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("e2e.test"));
}

/// The same sign-in in a real browser: chromium (on the host, reaching only
/// loopback) follows the login page's link through the provider and back,
/// and lands on the page asked for, signed in as the provider's user.
#[test]
fn the_console_signs_in_with_single_sign_on_in_chromium() {
    let idp = Idp::start();
    let s = headend(&idp, "", ROLE_MAP, "");
    idp.set("groups", json!({"ada": ["netops"]}));
    let b = common::webdriver::Browser::start_on_loopback(1280, 800);
    b.go(&s.url("/ui/login?next=/ui/zones"));
    b.click("#sso");
    let url = b.wait_url(|u| u.ends_with("/ui/zones"));
    assert!(
        url.starts_with(&s.base) && url.ends_with("/ui/zones"),
        "{url}"
    );
    assert_eq!(b.text("#whoami"), "sso:ada (operator)");
    assert!(b.source().contains("e2e.test"));
    b.screenshot("sso-signed-in");
}
