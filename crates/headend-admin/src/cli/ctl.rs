//! `headend ctl ...`: an HTTPS client of the admin API. The session (refresh
//! token, current access token, server URL and pinned fingerprint) lives in
//! `session.json` (mode 0600) in the client folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::pin::{PinVerifier, client_dir, normalise};
use super::{
    ApikeyCommand, CtlArgs, CtlCommand, CtlUserCommand, Lease6Command, LeaseCommand, MfaCommand,
    RecordCommand, Reservation6Command, ReservationCommand, SessionCommand, ZoneCommand,
    read_password,
};
use crate::AdminError;
use crate::api::types::{
    ApiKeyIssued, ApiKeyRevoked, ApiKeysResponse, AuditResponse, ErrorBody, Leases6Response,
    LeasesResponse, LoginRequest, LogoutResponse, MeResponse, MfaCodeRequest, MfaConfirmed, MfaDue,
    MfaEnrolment, MfaRemoved, NewApiKeyRequest, NewUserRequest, RefreshRequest, Released6Response,
    ReleasedResponse, Reservation6Request, ReservationAttributes, ReservationRequest,
    Reservations6Response, ReservationsResponse, RoleRequest, RotateApiKeyRequest,
    SessionsResponse, SetRecordRequest, SsoTokenRequest, TokenResponse, UserDeleted, UsersResponse,
    ZoneResponse, ZoneSerial, ZonesResponse,
};
use crate::api::unix_now;
use crate::tls::{install_crypto_provider, write_private};

#[derive(Debug, Serialize, Deserialize)]
struct SessionFile {
    url: String,
    user: String,
    fingerprint: String,
    refresh_token: String,
    access_token: String,
    access_expires: u64,
}

fn session_path(dir: &Path) -> PathBuf {
    dir.join("session.json")
}

fn known_path(dir: &Path) -> PathBuf {
    dir.join("known_servers.json")
}

fn file_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> AdminError + 'a {
    move |source| AdminError::File {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn save_json(path: &Path, value: &impl Serialize) -> Result<(), AdminError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| AdminError::Usage {
        reason: e.to_string(),
    })?;
    write_private(path, &text)
}

fn load_known(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read(known_path(dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn client(verifier: &std::sync::Arc<PinVerifier>) -> Result<Client, AdminError> {
    install_crypto_provider();
    let tls = verifier.client_config().map_err(|e| AdminError::Tls {
        reason: e.to_string(),
    })?;
    Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| AdminError::Tls {
            reason: e.to_string(),
        })
}

/// One request; answers the status and the body's text.
fn send(
    client: &Client,
    method: Method,
    url: &str,
    bearer: Option<&str>,
    body: Option<&dyn ErasedBody>,
    headers: &[(&str, String)],
) -> Result<(u16, String), AdminError> {
    let mut req = client.request(method, url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = b.attach(req);
    }
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().map_err(|e| AdminError::Connect {
        url: url.to_owned(),
        reason: error_chain(&e),
    })?;
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    Ok((status, text))
}

/// A typed request body, as a trait object so `send` need not be generic.
trait ErasedBody {
    /// Puts the body, as JSON, on `req`.
    fn attach(&self, req: RequestBuilder) -> RequestBuilder;
}

impl<T: Serialize> ErasedBody for T {
    fn attach(&self, req: RequestBuilder) -> RequestBuilder {
        req.json(self)
    }
}

/// A successful answer's body as `T`.
fn parse<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, AdminError> {
    serde_json::from_str(text).map_err(|e| AdminError::Api {
        status,
        message: format!("the server's answer is not what this headend expects ({e}): {text}"),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// A refused request: the server's message (and details), or its text.
fn api_error(status: u16, text: &str) -> AdminError {
    let message = match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => {
            let mut message = body.message;
            if let Some(d) = body.details {
                message.push_str(&format!(
                    "\n{}",
                    serde_json::to_string_pretty(&d).unwrap_or_default()
                ));
            }
            message
        }
        Err(_) => text.to_owned(),
    };
    AdminError::Api { status, message }
}

/// A logged-in client.
struct Ctl {
    dir: PathBuf,
    session: SessionFile,
    client: Client,
}

impl Ctl {
    fn open(dir: PathBuf) -> Result<Self, AdminError> {
        let path = session_path(&dir);
        let bytes = std::fs::read(&path).map_err(|_| AdminError::Usage {
            reason: format!("not logged in ({} is missing): run `headend ctl login https://HOST:8443 --user NAME`", path.display()),
        })?;
        let session: SessionFile =
            serde_json::from_slice(&bytes).map_err(|e| AdminError::Usage {
                reason: format!("{} is unreadable ({e}); log in again", path.display()),
            })?;
        let verifier = PinVerifier::new(Some(session.fingerprint.clone()));
        let client = client(&verifier)?;
        Ok(Self {
            dir,
            session,
            client,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.session.url.trim_end_matches('/'))
    }

    fn save(&self) -> Result<(), AdminError> {
        save_json(&session_path(&self.dir), &self.session)
    }

    /// Rotates the refresh token for a new access token.
    fn refresh(&mut self) -> Result<(), AdminError> {
        let url = self.url("/api/v1/auth/refresh");
        let body = RefreshRequest {
            refresh_token: Some(self.session.refresh_token.clone()),
        };
        let (status, text) = send(&self.client, Method::POST, &url, None, Some(&body), &[])?;
        if status != 200 {
            return Err(AdminError::Api {
                status,
                message: "the session has ended; log in again with `headend ctl login`".into(),
            });
        }
        self.take_tokens(&text)?;
        self.save()
    }

    /// Keeps the tokens of a login or refresh answer.
    fn take_tokens(&mut self, text: &str) -> Result<(), AdminError> {
        let tokens: TokenResponse = serde_json::from_str(text).map_err(|e| AdminError::Api {
            status: 200,
            message: format!("the server sent no tokens ({e})"),
        })?;
        self.session.access_token = tokens.access_token;
        self.session.refresh_token = tokens.refresh_token;
        self.session.access_expires = unix_now() + tokens.expires_in;
        Ok(())
    }

    /// An authenticated request; refreshes the access token when it is
    /// about to expire or was refused. Answers the body as `T`
    /// ([`IgnoredAny`] when only success matters).
    fn call<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&dyn ErasedBody>,
        headers: &[(&str, String)],
    ) -> Result<T, AdminError> {
        if self.session.access_expires <= unix_now() + 30 {
            self.refresh()?;
        }
        let url = self.url(path);
        let (mut status, mut text) = send(
            &self.client,
            method.clone(),
            &url,
            Some(&self.session.access_token),
            body,
            headers,
        )?;
        if status == 401 {
            self.refresh()?;
            (status, text) = send(
                &self.client,
                method,
                &url,
                Some(&self.session.access_token),
                body,
                headers,
            )?;
        }
        if !(200..300).contains(&status) {
            return Err(api_error(status, &text));
        }
        parse(status, &text)
    }
}

/// The client of a login: the server URL, its pinned certificate.
struct Connection {
    url: String,
    known: BTreeMap<String, String>,
    first_use: bool,
    verifier: std::sync::Arc<PinVerifier>,
    client: Client,
}

fn connect(dir: &Path, url: &str, fingerprint: Option<String>) -> Result<Connection, AdminError> {
    if !url.starts_with("https://") {
        return Err(AdminError::Usage {
            reason: "the admin API speaks HTTPS only: use https://HOST:PORT".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(file_err(dir, "cannot create the client folder"))?;
    let url = url.trim_end_matches('/').to_owned();
    let known = load_known(dir);
    let pinned = fingerprint
        .map(|f| normalise(&f))
        .or_else(|| known.get(&url).cloned());
    let first_use = pinned.is_none();
    let verifier = PinVerifier::new(pinned);
    let client = client(&verifier)?;
    Ok(Connection {
        url,
        known,
        first_use,
        verifier,
        client,
    })
}

impl Connection {
    /// After the first request: the certificate seen, pinned from now on.
    fn pin(&mut self, dir: &Path) -> Result<String, AdminError> {
        let url = &self.url;
        let seen = self.verifier.seen().ok_or_else(|| AdminError::Connect {
            url: url.clone(),
            reason: "no certificate seen".into(),
        })?;
        if self.first_use {
            eprintln!(
                "The server's certificate SHA-256 fingerprint is\n  {seen}\nIt is now pinned for {url} (trust on first use); compare it with the one headend logged at start-up."
            );
        }
        self.known.insert(url.clone(), seen.clone());
        save_json(&known_path(dir), &self.known)?;
        Ok(seen)
    }
}

/// `headend ctl login --sso`: the single sign-on flow of a native client
/// (RFC 8252): a loopback listener, the browser sent to the server's
/// /api/v1/auth/oidc/start, the one-time code caught on the loopback port
/// and exchanged with the PKCE verifier.
fn sso_login(
    dir: &Path,
    url: String,
    fingerprint: Option<String>,
    timeout: Duration,
) -> Result<(), AdminError> {
    let mut conn = connect(dir, &url, fingerprint)?;
    let url = conn.url.clone();
    // One request first, so the certificate is pinned before the browser goes.
    send(
        &conn.client,
        Method::GET,
        &format!("{url}/health"),
        None,
        None,
        &[],
    )?;
    let seen = conn.pin(dir)?;
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| AdminError::Usage {
            reason: format!("cannot listen on a loopback port: {e}"),
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| AdminError::Usage {
            reason: e.to_string(),
        })?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let verifier = crate::core::oidc::random_token();
    let state = crate::core::oidc::random_token();
    let start = format!(
        "{url}/api/v1/auth/oidc/start?redirect_uri={}&state={state}&code_challenge={}&code_challenge_method=S256",
        crate::core::oidc::form_escape(&redirect),
        crate::core::oidc::pkce_challenge(&verifier),
    );
    eprintln!("Open this URL in a browser to log in:\n  {start}");
    // Best effort, on a desktop: elsewhere the URL above is the way.
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if desktop {
        let _ = std::process::Command::new("xdg-open")
            .arg(&start)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    let code = super::sso::wait_for_code(listener, &state, timeout)?;
    let body = SsoTokenRequest {
        code,
        code_verifier: verifier,
    };
    let (status, text) = send(
        &conn.client,
        Method::POST,
        &format!("{url}/api/v1/auth/oidc/token"),
        None,
        Some(&body),
        &[],
    )?;
    if status != 200 {
        return Err(api_error(status, &text));
    }
    let mut ctl = Ctl {
        dir: dir.to_path_buf(),
        session: SessionFile {
            url,
            user: String::new(),
            fingerprint: seen,
            refresh_token: String::new(),
            access_token: String::new(),
            access_expires: 0,
        },
        client: conn.client,
    };
    ctl.take_tokens(&text)?;
    let me: MeResponse = ctl.call(Method::GET, "/api/v1/me", None, &[])?;
    ctl.session.user = me.user.clone();
    ctl.save()?;
    println!("logged in as {} ({})", me.user, me.role);
    Ok(())
}

fn login(
    dir: &Path,
    url: String,
    user: String,
    password_stdin: bool,
    fingerprint: Option<String>,
) -> Result<(), AdminError> {
    let mut conn = connect(dir, &url, fingerprint)?;
    let url = conn.url.clone();
    let client = conn.client.clone();
    let password = read_password(password_stdin, false)?;
    let login = LoginRequest {
        username: user.clone(),
        password,
    };
    let (status, text) = send(
        &client,
        Method::POST,
        &format!("{url}/api/v1/auth/login"),
        None,
        Some(&login),
        &[],
    )?;
    let seen = conn.pin(dir)?;
    if status != 200 {
        return Err(api_error(status, &text));
    }
    let text = second_factor(&client, &url, text)?;
    let mut ctl = Ctl {
        dir: dir.to_path_buf(),
        session: SessionFile {
            url,
            user: user.clone(),
            fingerprint: seen,
            refresh_token: String::new(),
            access_token: String::new(),
            access_expires: 0,
        },
        client,
    };
    ctl.take_tokens(&text)?;
    ctl.save()?;
    println!("logged in as {user}");
    Ok(())
}

/// One line typed after a prompt on stderr (a code: not secret for long,
/// so it is echoed); from stdin after the password with --password-stdin.
fn read_code(prompt: &str) -> Result<String, AdminError> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AdminError::Usage {
            reason: format!("cannot read the code: {e}"),
        })?;
    Ok(line.trim().to_owned())
}

/// The second step of a login whose password step answered with an MFA
/// ticket: the code (or, when the role requires a second factor not yet
/// enrolled, the enrolment first); answers the token answer's text.
fn second_factor(client: &Client, url: &str, text: String) -> Result<String, AdminError> {
    let Ok(due) = serde_json::from_str::<MfaDue>(&text) else {
        return Ok(text);
    };
    let path = if due.mfa_enrolment_required {
        let body = MfaCodeRequest {
            mfa_ticket: Some(due.mfa_ticket.clone()),
            code: String::new(),
        };
        let (status, text) = send(
            client,
            Method::POST,
            &format!("{url}/api/v1/auth/mfa/enrol"),
            None,
            Some(&body),
            &[],
        )?;
        if status != 200 {
            return Err(api_error(status, &text));
        }
        let e: MfaEnrolment = serde_json::from_str(&text).map_err(|e| AdminError::Api {
            status,
            message: format!("unexpected enrolment answer ({e})"),
        })?;
        show_enrolment(&e);
        "/api/v1/auth/mfa/confirm"
    } else {
        "/api/v1/auth/mfa"
    };
    let code = read_code("Code from the authenticator app (or a recovery code): ")?;
    let body = MfaCodeRequest {
        mfa_ticket: Some(due.mfa_ticket),
        code,
    };
    let (status, text) = send(
        client,
        Method::POST,
        &format!("{url}{path}"),
        None,
        Some(&body),
        &[],
    )?;
    if status != 200 {
        return Err(api_error(status, &text));
    }
    if let Ok(t) = serde_json::from_str::<TokenResponse>(&text)
        && let Some(codes) = &t.recovery_codes
    {
        show_recovery(codes);
    }
    Ok(text)
}

/// Prints what to put into an authenticator app.
fn show_enrolment(e: &MfaEnrolment) {
    eprintln!("Scan this QR code with an authenticator app (TOTP, 6 digits, 30 s):\n");
    eprintln!("{}", e.qr_text);
    eprintln!("or open {}\nor type the key {}\n", e.otpauth_uri, e.secret);
}

/// Prints the recovery codes (shown this once).
fn show_recovery(codes: &[String]) {
    println!("Recovery codes (each works once; keep them offline, they are shown only now):");
    for c in codes {
        println!("  {c}");
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Prints a table: the column names upper-cased, then one tab-separated
/// line per row.
fn print_table<const N: usize>(cols: [&str; N], rows: impl IntoIterator<Item = [String; N]>) {
    println!(
        "{}",
        cols.iter()
            .map(|c| c.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("\t")
    );
    for row in rows {
        println!("{}", row.join("\t"));
    }
}

/// A table cell for an optional value: `-` when absent.
fn or_dash(v: Option<impl ToString>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn if_match(serial: Option<u32>) -> Vec<(&'static str, String)> {
    serial
        .map(|s| ("If-Match", format!("\"{s}\"")))
        .into_iter()
        .collect()
}

/// How answers are printed: `--json`, `--utc`.
#[derive(Debug, Clone, Copy)]
struct View {
    json: bool,
    utc: bool,
}

impl View {
    /// Unix seconds as RFC 3339, in the local zone unless `--utc`.
    fn time(self, t: u64) -> String {
        let t = i64::try_from(t).unwrap_or(i64::MAX);
        let offset = if self.utc {
            0
        } else {
            headend_util::time::local_offset(t)
        };
        headend_util::time::rfc3339_offset(t, offset)
    }

    /// An optional time, `-` when absent.
    fn time_or_dash(self, t: Option<u64>) -> String {
        t.map_or_else(|| "-".to_owned(), |t| self.time(t))
    }

    /// With `--json`, prints `value` and answers true.
    fn json(self, value: &impl Serialize) -> Result<bool, AdminError> {
        if self.json {
            let text = serde_json::to_string_pretty(value).map_err(|e| AdminError::Usage {
                reason: e.to_string(),
            })?;
            println!("{text}");
        }
        Ok(self.json)
    }
}

/// Runs a `headend ctl` command.
pub fn run(args: CtlArgs) -> Result<(), AdminError> {
    let view = View {
        json: args.json,
        utc: args.utc,
    };
    let cmd = args.command;
    let dir = client_dir();
    if let CtlCommand::Login {
        url,
        user,
        password_stdin,
        fingerprint,
        sso,
        sso_timeout,
    } = cmd
    {
        return match (sso, user) {
            (true, _) => sso_login(&dir, url, fingerprint, Duration::from_secs(sso_timeout)),
            (false, Some(user)) => login(&dir, url, user, password_stdin, fingerprint),
            (false, None) => Err(AdminError::Usage {
                reason: "give --user NAME, or --sso".into(),
            }),
        };
    }
    let mut ctl = Ctl::open(dir.clone())?;
    match cmd {
        CtlCommand::Login { .. } => {}
        CtlCommand::Logout { all } => {
            let url = ctl.url(&format!(
                "/api/v1/auth/logout{}",
                if all { "?all=true" } else { "" }
            ));
            let body = RefreshRequest {
                refresh_token: Some(ctl.session.refresh_token.clone()),
            };
            let (status, text) = send(&ctl.client, Method::POST, &url, None, Some(&body), &[])?;
            let path = session_path(&dir);
            std::fs::remove_file(&path)
                .map_err(file_err(&path, "cannot remove the session file"))?;
            if status != 200 {
                return Err(api_error(status, &text));
            }
            let revoked = serde_json::from_str::<LogoutResponse>(&text).map_or(0, |r| r.revoked);
            println!("logged out ({revoked} session(s) ended)");
        }
        CtlCommand::Zone(ZoneCommand::List) => {
            let v: ZonesResponse = ctl.call(Method::GET, "/api/v1/zones", None, &[])?;
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                ["origin", "serial", "records", "file"],
                v.zones.into_iter().map(|z| {
                    [
                        z.origin,
                        z.serial.to_string(),
                        z.records.to_string(),
                        z.file.display().to_string(),
                    ]
                }),
            );
        }
        CtlCommand::Zone(ZoneCommand::Show { zone }) => {
            let v: ZoneResponse = ctl.call(
                Method::GET,
                &format!("/api/v1/zones/{}", enc(&zone)),
                None,
                &[],
            )?;
            if view.json(&v)? {
                return Ok(());
            }
            println!("; serial {}", v.serial);
            print_table(
                ["name", "ttl", "rtype", "rdata"],
                v.records
                    .into_iter()
                    .map(|r| [r.name, r.ttl.to_string(), r.rtype, r.rdata]),
            );
        }
        CtlCommand::Zone(ZoneCommand::Flush { zone }) => {
            let v: ZoneSerial = ctl.call(
                Method::POST,
                &format!("/api/v1/zones/{}/flush", enc(&zone)),
                None,
                &[],
            )?;
            println!("{zone} written back to its file, serial {}", v.serial);
        }
        CtlCommand::Zone(ZoneCommand::Reload { zone }) => {
            let v: ZoneSerial = ctl.call(
                Method::POST,
                &format!("/api/v1/zones/{}/reload", enc(&zone)),
                None,
                &[],
            )?;
            println!("{zone} reloaded, serial {}", v.serial);
        }
        CtlCommand::Record(RecordCommand::Set {
            zone,
            name,
            rtype,
            rdata,
            ttl,
            serial,
            raw,
        }) => {
            let rdata = rdata.iter().map(|v| record_value(&rtype, v, raw)).collect();
            let path = format!(
                "/api/v1/zones/{}/records/{}/{}",
                enc(&zone),
                enc(&name),
                enc(&rtype)
            );
            let v: ZoneSerial = ctl.call(
                Method::PUT,
                &path,
                Some(&SetRecordRequest { ttl, rdata }),
                &if_match(serial),
            )?;
            for w in &v.warnings {
                eprintln!("{w}");
            }
            println!("{zone}: {name} {rtype} set, serial {}", v.serial);
        }
        CtlCommand::Record(RecordCommand::Delete {
            zone,
            name,
            rtype,
            rdata,
            serial,
            raw,
        }) => {
            let rdata = rdata.map(|v| record_value(&rtype, &v, raw));
            let mut path = format!(
                "/api/v1/zones/{}/records/{}/{}",
                enc(&zone),
                enc(&name),
                enc(&rtype)
            );
            if let Some(r) = &rdata {
                path.push_str(&format!("?rdata={}", enc(r)));
            }
            let v: ZoneSerial = ctl.call(Method::DELETE, &path, None, &if_match(serial))?;
            println!("{zone}: {name} {rtype} deleted, serial {}", v.serial);
        }
        CtlCommand::Lease(LeaseCommand::List { subnet }) => {
            let path = subnet.map_or_else(
                || "/api/v1/leases".to_owned(),
                |s| format!("/api/v1/leases?subnet={}", enc(&s)),
            );
            let v: LeasesResponse = ctl.call(Method::GET, &path, None, &[])?;
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                [
                    "address", "subnet", "hwaddr", "hostname", "class", "state", "expires",
                ],
                v.leases.into_iter().map(|l| {
                    [
                        l.address.to_string(),
                        l.subnet,
                        l.hwaddr,
                        or_dash(l.hostname),
                        or_dash(l.class),
                        l.state,
                        view.time(l.expires),
                    ]
                }),
            );
        }
        CtlCommand::Lease(LeaseCommand::Release { address }) => {
            let answer = ctl.call::<ReleasedResponse>(
                Method::POST,
                &format!("/api/v1/leases/{address}/release"),
                None,
                &[],
            )?;
            let l = answer.released;
            println!(
                "released {address} ({} on {}, now {})",
                l.hwaddr, l.subnet, l.state
            );
        }
        CtlCommand::Lease6(Lease6Command::List {
            subnet,
            kind,
            duid,
            state,
            all,
            limit,
        }) => {
            let mut query = vec![format!("limit={limit}")];
            for (k, v) in [
                ("subnet", subnet),
                ("kind", kind),
                ("duid", duid),
                ("state", state),
            ] {
                if let Some(v) = v {
                    query.push(format!("{k}={}", enc(&v)));
                }
            }
            let mut leases = Vec::new();
            let mut after: Option<std::net::Ipv6Addr> = None;
            let total = loop {
                let mut path = format!("/api/v1/leases6?{}", query.join("&"));
                if let Some(a) = after {
                    path.push_str(&format!("&after={}", enc(&a.to_string())));
                }
                let page: Leases6Response = ctl.call(Method::GET, &path, None, &[])?;
                leases.extend(page.leases);
                match page.next {
                    Some(n) if all => after = Some(n),
                    _ => break page.total,
                }
            };
            let shown = leases.len();
            let v = Leases6Response {
                leases,
                total,
                next: None,
            };
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                [
                    "binding", "subnet", "duid", "iaid", "hwaddr", "class", "state", "expires",
                ],
                v.leases.into_iter().map(|l| {
                    [
                        if l.prefix_len == 128 {
                            l.address.to_string()
                        } else {
                            format!("{}/{}", l.address, l.prefix_len)
                        },
                        l.subnet,
                        l.duid,
                        l.iaid.to_string(),
                        or_dash(l.hwaddr),
                        or_dash(l.class),
                        l.state,
                        view.time(l.expires),
                    ]
                }),
            );
            if shown < total {
                eprintln!("{shown} of {total} shown; --all for every page");
            }
        }
        CtlCommand::Lease6(Lease6Command::Release { address }) => {
            let answer = ctl.call::<Released6Response>(
                Method::POST,
                &format!("/api/v1/leases6/{}/release", enc(&address.to_string())),
                None,
                &[],
            )?;
            let l = answer.released;
            println!(
                "released {address} (duid {} on {}, now {})",
                l.duid, l.subnet, l.state
            );
        }
        CtlCommand::Reservation6(Reservation6Command::Add {
            subnet,
            duid,
            mac,
            remote_id,
            address,
            prefix,
        }) => {
            let body = Reservation6Request {
                subnet: subnet.clone(),
                duid,
                hwaddr: mac,
                remote_id,
                address,
                prefix,
            };
            let v: crate::api::types::Reservation6View =
                ctl.call(Method::POST, "/api/v1/reservations6", Some(&body), &[])?;
            let what: Vec<String> = [v.address.map(|a| a.to_string()), v.prefix]
                .into_iter()
                .flatten()
                .collect();
            println!(
                "reserved {} for {} {} in {subnet}",
                what.join(" and "),
                v.key_kind,
                v.key
            );
        }
        CtlCommand::Reservation6(Reservation6Command::List) => {
            let v: Reservations6Response =
                ctl.call(Method::GET, "/api/v1/reservations6", None, &[])?;
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                ["subnet", "kind", "key", "address", "prefix"],
                v.reservations.into_iter().map(|r| {
                    [
                        r.subnet,
                        r.key_kind,
                        r.key,
                        or_dash(r.address.map(|a| a.to_string())),
                        or_dash(r.prefix),
                    ]
                }),
            );
        }
        CtlCommand::Reservation6(Reservation6Command::Delete { subnet, kind, key }) => {
            ctl.call::<IgnoredAny>(
                Method::DELETE,
                &format!(
                    "/api/v1/reservations6/{}/{}/{}",
                    enc(&subnet),
                    enc(&kind),
                    enc(&key)
                ),
                None,
                &[],
            )?;
            println!("removed the DHCPv6 reservation of {kind} {key} in {subnet}");
        }
        CtlCommand::Reservation(ReservationCommand::Add {
            subnet,
            mac,
            address,
            hostname,
        }) => {
            let body = ReservationRequest {
                subnet: subnet.clone(),
                hwaddr: mac.clone(),
                address,
                hostname,
            };
            ctl.call::<IgnoredAny>(Method::POST, "/api/v1/reservations", Some(&body), &[])?;
            println!("reserved {address} for {mac} in {subnet}");
        }
        CtlCommand::Reservation(ReservationCommand::List) => {
            let v: ReservationsResponse =
                ctl.call(Method::GET, "/api/v1/reservations", None, &[])?;
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                ["subnet", "hwaddr", "address", "hostname"],
                v.reservations.into_iter().map(|r| {
                    [
                        r.subnet,
                        r.hwaddr,
                        r.address.to_string(),
                        or_dash(r.hostname),
                    ]
                }),
            );
        }
        CtlCommand::Reservation(ReservationCommand::Delete { subnet, mac }) => {
            ctl.call::<IgnoredAny>(
                Method::DELETE,
                &format!("/api/v1/reservations/{}/{}", enc(&subnet), enc(&mac)),
                None,
                &[],
            )?;
            println!("removed the reservation of {mac} in {subnet}");
        }
        CtlCommand::Reservation(ReservationCommand::Attributes { subnet, mac }) => {
            let v: ReservationAttributes =
                ctl.call(Method::GET, &attributes_path(&subnet, &mac), None, &[])?;
            print_attributes(&v);
        }
        CtlCommand::Reservation(ReservationCommand::Set {
            subnet,
            mac,
            pairs,
            replace,
        }) => {
            let mut set = BTreeMap::new();
            for pair in &pairs {
                let (name, value) = pair.split_once('=').ok_or_else(|| AdminError::Usage {
                    reason: format!("{pair:?}: write attributes as NAME=VALUE"),
                })?;
                set.insert(name.to_owned(), value.to_owned());
            }
            let method = if replace { Method::PUT } else { Method::PATCH };
            let v: ReservationAttributes =
                ctl.call(method, &attributes_path(&subnet, &mac), Some(&set), &[])?;
            print_attributes(&v);
        }
        CtlCommand::Reservation(ReservationCommand::Unset { subnet, mac, names }) => {
            let unset: BTreeMap<String, Option<String>> =
                names.into_iter().map(|n| (n, None)).collect();
            let v: ReservationAttributes = ctl.call(
                Method::PATCH,
                &attributes_path(&subnet, &mac),
                Some(&unset),
                &[],
            )?;
            print_attributes(&v);
        }
        CtlCommand::Session(SessionCommand::List { user }) => {
            let path = user.map_or_else(
                || "/api/v1/sessions".to_owned(),
                |u| format!("/api/v1/sessions?user={}", enc(&u)),
            );
            let v: SessionsResponse = ctl.call(Method::GET, &path, None, &[])?;
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                ["id", "user", "source", "created", "last_used", "current"],
                v.sessions.into_iter().map(|f| {
                    [
                        f.id,
                        f.user,
                        or_dash(f.source),
                        view.time(f.created),
                        view.time(f.last_used),
                        f.current.to_string(),
                    ]
                }),
            );
        }
        CtlCommand::Session(SessionCommand::Revoke { id }) => {
            ctl.call::<IgnoredAny>(
                Method::DELETE,
                &format!("/api/v1/sessions/{}", enc(&id)),
                None,
                &[],
            )?;
            println!("session {id} ended");
        }
        CtlCommand::Lease(LeaseCommand::Show { client }) => lease_show(&mut ctl, view, &client)?,
        CtlCommand::Audit {
            user,
            action,
            target,
            since,
            limit,
        } => audit(&mut ctl, view, user, action, target, since, limit)?,
        CtlCommand::User(cmd) => user(&mut ctl, view, cmd)?,
        CtlCommand::Mfa(cmd) => mfa(&mut ctl, cmd)?,
        CtlCommand::Apikey(cmd) => apikey(&mut ctl, cmd)?,
    }
    Ok(())
}

fn apikey(ctl: &mut Ctl, cmd: ApikeyCommand) -> Result<(), AdminError> {
    match cmd {
        ApikeyCommand::Create {
            name,
            role,
            scopes,
            expires,
            allow,
            rate,
        } => {
            let role = crate::core::Role::parse(&role).ok_or_else(|| AdminError::Usage {
                reason: format!("--role {role:?}: expected viewer, operator or admin"),
            })?;
            let body = NewApiKeyRequest {
                name,
                role,
                scopes,
                expires,
                allow,
                rate,
            };
            let v: ApiKeyIssued = ctl.call(Method::POST, "/api/v1/apikeys", Some(&body), &[])?;
            eprintln!(
                "API key {} ({}) made; it is shown only now:",
                v.view.name, v.view.prefix
            );
            println!("{}", v.key);
        }
        ApikeyCommand::List => {
            let v: ApiKeysResponse = ctl.call(Method::GET, "/api/v1/apikeys", None, &[])?;
            print_table(
                [
                    "prefix",
                    "name",
                    "role",
                    "scopes",
                    "created",
                    "last_used",
                    "expires",
                    "live",
                ],
                v.keys.into_iter().map(|k| {
                    [
                        k.prefix,
                        k.name,
                        k.role,
                        if k.scopes.is_empty() {
                            "-".to_owned()
                        } else {
                            k.scopes.join(",")
                        },
                        k.created.to_string(),
                        or_dash(k.last_used),
                        or_dash(k.expires),
                        k.live.to_string(),
                    ]
                }),
            );
        }
        ApikeyCommand::Revoke { name } => {
            let v: ApiKeyRevoked = ctl.call(
                Method::POST,
                &format!("/api/v1/apikeys/{}/revoke", enc(&name)),
                None,
                &[],
            )?;
            if v.revoked {
                println!("API key {name} revoked");
            } else {
                println!("API key {name} was already revoked");
            }
        }
        ApikeyCommand::Rotate { name, grace } => {
            let body = RotateApiKeyRequest { grace };
            let v: ApiKeyIssued = ctl.call(
                Method::POST,
                &format!("/api/v1/apikeys/{}/rotate", enc(&name)),
                Some(&body),
                &[],
            )?;
            eprintln!(
                "API key {name} has a new secret; the old one works until {}:",
                or_dash(v.view.previous_valid_until)
            );
            println!("{}", v.key);
        }
    }
    Ok(())
}

// ---- ctl lease show, ctl audit, ctl user ----------------------------------

/// `ctl lease show MAC|IP`: the lease of that address or hardware address.
fn lease_show(ctl: &mut Ctl, view: View, client: &str) -> Result<(), AdminError> {
    let ip = client.parse::<std::net::Ipv4Addr>().ok();
    let mac = crate::api::normalise_mac(client);
    if ip.is_none() && mac.is_none() {
        return Err(AdminError::Usage {
            reason: format!(
                "{client:?} is neither an IPv4 address nor a MAC address (aa:bb:cc:dd:ee:ff)"
            ),
        });
    }
    let v: LeasesResponse = ctl.call(Method::GET, "/api/v1/leases", None, &[])?;
    let found: Vec<_> = v
        .leases
        .into_iter()
        .filter(|l| Some(l.address) == ip || mac.as_deref() == Some(l.hwaddr.as_str()))
        .collect();
    if found.is_empty() {
        return Err(AdminError::Api {
            status: 404,
            message: format!("no lease for {client}"),
        });
    }
    if view.json(&found)? {
        return Ok(());
    }
    for (i, l) in found.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("address:   {}", l.address);
        println!("hwaddr:    {}", l.hwaddr);
        println!("client-id: {}", or_dash(l.client_id.as_ref()));
        println!("hostname:  {}", or_dash(l.hostname.as_ref()));
        println!("subnet:    {}", l.subnet);
        println!("class:     {}", or_dash(l.class.as_ref()));
        if !l.dns_names.is_empty() {
            println!("dns names: {}", l.dns_names.join(" "));
        }
        println!(
            "state:     {}{}",
            l.state,
            if l.live { " (live)" } else { "" }
        );
        println!("expires:   {}", view.time(l.expires));
    }
    Ok(())
}

/// Unix seconds of `--since`: `90m`, `12h`, `7d`, `30s`, or Unix seconds.
fn since_secs(since: &str, now: u64) -> Result<u64, AdminError> {
    let bad = || AdminError::Usage {
        reason: format!("--since {since:?}: give a duration like 90m, 12h, 7d, or Unix seconds"),
    };
    let (num, unit) = since.split_at(
        since
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(since.len()),
    );
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" => return Ok(n),
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    Ok(now.saturating_sub(secs))
}

/// `ctl audit`.
#[allow(clippy::too_many_arguments)]
fn audit(
    ctl: &mut Ctl,
    view: View,
    user: Option<String>,
    action: Option<String>,
    target: Option<String>,
    since: Option<String>,
    limit: u32,
) -> Result<(), AdminError> {
    let mut query = vec![format!("limit={limit}")];
    if let Some(u) = user {
        query.push(format!("actor={}", enc(&u)));
    }
    if let Some(a) = action {
        query.push(format!("action={}", enc(&a)));
    }
    if let Some(t) = target {
        query.push(format!("target={}", enc(&t)));
    }
    if let Some(s) = since {
        query.push(format!("since={}", since_secs(&s, unix_now())?));
    }
    let path = format!("/api/v1/audit?{}", query.join("&"));
    let v: AuditResponse = ctl.call(Method::GET, &path, None, &[])?;
    if view.json(&v)? {
        return Ok(());
    }
    print_table(
        [
            "at", "actor", "source", "action", "target", "result", "detail",
        ],
        v.entries.into_iter().map(|e| {
            [
                view.time(e.at),
                e.actor,
                or_dash(e.source),
                e.action,
                or_dash(e.target),
                e.result,
                or_dash(e.detail),
            ]
        }),
    );
    Ok(())
}

/// `ctl mfa ...`.
fn mfa(ctl: &mut Ctl, cmd: MfaCommand) -> Result<(), AdminError> {
    let me = ctl.session.user.clone();
    match cmd {
        MfaCommand::Enrol => {
            let path = format!("/api/v1/users/{}/mfa", enc(&me));
            let e: MfaEnrolment = ctl.call(Method::POST, &path, None, &[])?;
            show_enrolment(&e);
            let body = MfaCodeRequest {
                mfa_ticket: None,
                code: read_code("First code from the authenticator app: ")?,
            };
            let done: MfaConfirmed =
                ctl.call(Method::POST, &format!("{path}/confirm"), Some(&body), &[])?;
            println!("second factor enrolled for {}", done.user);
            show_recovery(&done.recovery_codes);
        }
        MfaCommand::Disable { user } => {
            let name = user.unwrap_or_else(|| me.clone());
            let code = if name == me {
                read_code("Current code (or a recovery code): ")?
            } else {
                String::new()
            };
            let body = MfaCodeRequest {
                mfa_ticket: None,
                code,
            };
            let r: MfaRemoved = ctl.call(
                Method::DELETE,
                &format!("/api/v1/users/{}/mfa", enc(&name)),
                Some(&body),
                &[],
            )?;
            if r.removed {
                println!("second factor of {} removed", r.user);
            } else {
                println!("{} had no second factor", r.user);
            }
        }
    }
    Ok(())
}

/// `ctl user ...`.
fn user(ctl: &mut Ctl, view: View, cmd: CtlUserCommand) -> Result<(), AdminError> {
    let role = |r: &str| -> Result<crate::core::Role, AdminError> {
        serde_json::from_value(serde_json::Value::String(r.to_ascii_lowercase())).map_err(|_| {
            AdminError::Usage {
                reason: format!("{r:?} is not a role: viewer, operator or admin"),
            }
        })
    };
    let user_path = |name: &str, what: &str| format!("/api/v1/users/{}/{what}", enc(name));
    match cmd {
        CtlUserCommand::List => {
            let v: UsersResponse = ctl.call(Method::GET, "/api/v1/users", None, &[])?;
            if view.json(&v)? {
                return Ok(());
            }
            print_table(
                [
                    "user",
                    "role",
                    "disabled",
                    "locked_until",
                    "failures",
                    "mfa",
                    "last_login",
                    "created",
                ],
                v.users.into_iter().map(|u| {
                    [
                        u.username,
                        u.role,
                        u.disabled.to_string(),
                        view.time_or_dash(u.locked_until.filter(|_| u.locked)),
                        u.failures.to_string(),
                        if u.mfa { "totp" } else { "-" }.to_owned(),
                        view.time_or_dash(u.last_login),
                        view.time(u.created),
                    ]
                }),
            );
        }
        CtlUserCommand::Add {
            name,
            role: r,
            password_stdin,
        } => {
            let body = NewUserRequest {
                username: name.clone(),
                password: read_password(password_stdin, true)?,
                role: role(&r)?,
            };
            ctl.call::<IgnoredAny>(Method::POST, "/api/v1/users", Some(&body), &[])?;
            println!("added {name} ({})", body.role);
        }
        CtlUserCommand::Disable { name } => {
            ctl.call::<IgnoredAny>(Method::POST, &user_path(&name, "disable"), None, &[])?;
            println!("disabled {name} (their sessions are ended)");
        }
        CtlUserCommand::Enable { name } => {
            ctl.call::<IgnoredAny>(Method::POST, &user_path(&name, "enable"), None, &[])?;
            println!("enabled {name}");
        }
        CtlUserCommand::Unlock { name } => {
            ctl.call::<IgnoredAny>(Method::POST, &user_path(&name, "unlock"), None, &[])?;
            println!("unlocked {name}");
        }
        CtlUserCommand::Delete { name } => {
            let d: UserDeleted = ctl.call(
                Method::DELETE,
                &format!("/api/v1/users/{}", enc(&name)),
                None,
                &[],
            )?;
            if view.json(&d)? {
                return Ok(());
            }
            println!(
                "deleted {}; {} session(s) and {} api key(s) revoked (the audit log keeps their entries)",
                d.user, d.revoked_sessions, d.revoked_api_keys
            );
        }
        CtlUserCommand::Role { name, role: r } => {
            let body = RoleRequest { role: role(&r)? };
            ctl.call::<IgnoredAny>(Method::PUT, &user_path(&name, "role"), Some(&body), &[])?;
            println!("{name} is now {}", body.role);
        }
    }
    Ok(())
}

/// An RDATA value as the API takes it (zone-file syntax): a TXT or SPF value
/// is plain text made into one quoted record unless `raw`.
fn record_value(rtype: &str, value: &str, raw: bool) -> String {
    let text_type = rtype.eq_ignore_ascii_case("TXT") || rtype.eq_ignore_ascii_case("SPF");
    if text_type && !raw {
        headend_dns::present::txt_rdata(value)
    } else {
        value.to_owned()
    }
}

fn attributes_path(subnet: &str, mac: &str) -> String {
    format!(
        "/api/v1/reservations/{}/{}/attributes",
        enc(subnet),
        enc(mac)
    )
}

fn print_attributes(v: &ReservationAttributes) {
    println!("{} {}:", v.subnet, v.hwaddr);
    print_table(
        ["name", "value"],
        v.attributes.iter().map(|(k, v)| [k.clone(), v.clone()]),
    );
}

#[cfg(test)]
mod tests {
    use super::{record_value, since_secs};

    #[test]
    fn since_takes_durations_or_unix_seconds() {
        assert_eq!(since_secs("90m", 10_000).unwrap(), 10_000 - 5400);
        assert_eq!(since_secs("2d", 1_000_000).unwrap(), 1_000_000 - 172_800);
        assert_eq!(since_secs("1700000000", 5).unwrap(), 1_700_000_000);
        assert!(since_secs("yesterday", 5).is_err());
        assert!(since_secs("5w", 5).is_err());
    }

    #[test]
    fn txt_values_are_quoted_unless_raw() {
        assert_eq!(
            record_value("txt", "v=DMARC1; p=reject", false),
            r#""v=DMARC1; p=reject""#
        );
        assert_eq!(
            record_value("SPF", "v=spf1 -all", false),
            r#""v=spf1 -all""#
        );
        assert_eq!(record_value("TXT", r#""a" "b""#, true), r#""a" "b""#);
        assert_eq!(record_value("A", "192.0.2.1", false), "192.0.2.1");
    }
}
