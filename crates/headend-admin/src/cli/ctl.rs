//! `headend ctl ...`: an HTTPS client of the admin API. The session (refresh
//! token, current access token, server URL and pinned fingerprint) lives in
//! `session.json` (mode 0600) in the client folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::Client;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::pin::{PinVerifier, client_dir, normalise};
use super::{
    CtlCommand, LeaseCommand, RecordCommand, ReservationCommand, SessionCommand, ZoneCommand,
    read_password,
};
use crate::AdminError;
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

fn send(
    client: &Client,
    method: Method,
    url: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, String)],
) -> Result<(u16, Value), AdminError> {
    let mut req = client.request(method, url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
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
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
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

fn api_error(status: u16, v: &Value) -> AdminError {
    let mut message = v
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| v.to_string(), str::to_owned);
    if let Some(d) = v.get("details") {
        message.push_str(&format!(
            "\n{}",
            serde_json::to_string_pretty(d).unwrap_or_default()
        ));
    }
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
        let body = json!({"refresh_token": self.session.refresh_token});
        let (status, v) = send(&self.client, Method::POST, &url, None, Some(&body), &[])?;
        if status != 200 {
            return Err(AdminError::Api {
                status,
                message: "the session has ended; log in again with `headend ctl login`".into(),
            });
        }
        self.take_tokens(&v)?;
        self.save()
    }

    fn take_tokens(&mut self, v: &Value) -> Result<(), AdminError> {
        let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(access), Some(refresh)) = (get("access_token"), get("refresh_token")) else {
            return Err(AdminError::Api {
                status: 200,
                message: "the server sent no tokens".into(),
            });
        };
        self.session.access_token = access;
        self.session.refresh_token = refresh;
        self.session.access_expires =
            unix_now() + v.get("expires_in").and_then(Value::as_u64).unwrap_or(60);
        Ok(())
    }

    /// An authenticated request; refreshes the access token when it is
    /// about to expire or was refused.
    fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> Result<Value, AdminError> {
        if self.session.access_expires <= unix_now() + 30 {
            self.refresh()?;
        }
        let url = self.url(path);
        let (mut status, mut v) = send(
            &self.client,
            method.clone(),
            &url,
            Some(&self.session.access_token),
            body.as_ref(),
            headers,
        )?;
        if status == 401 {
            self.refresh()?;
            (status, v) = send(
                &self.client,
                method,
                &url,
                Some(&self.session.access_token),
                body.as_ref(),
                headers,
            )?;
        }
        if !(200..300).contains(&status) {
            return Err(api_error(status, &v));
        }
        Ok(v)
    }
}

fn login(
    dir: &Path,
    url: String,
    user: String,
    password_stdin: bool,
    fingerprint: Option<String>,
) -> Result<(), AdminError> {
    if !url.starts_with("https://") {
        return Err(AdminError::Usage {
            reason: "the admin API speaks HTTPS only: use https://HOST:PORT".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(file_err(dir, "cannot create the client folder"))?;
    let url = url.trim_end_matches('/').to_owned();
    let mut known = load_known(dir);
    let pinned = fingerprint
        .map(|f| normalise(&f))
        .or_else(|| known.get(&url).cloned());
    let first_use = pinned.is_none();
    let verifier = PinVerifier::new(pinned);
    let client = client(&verifier)?;
    let password = read_password(password_stdin, false)?;
    let (status, v) = send(
        &client,
        Method::POST,
        &format!("{url}/api/v1/auth/login"),
        None,
        Some(&json!({"username": user, "password": password})),
        &[],
    )?;
    let seen = verifier.seen().ok_or_else(|| AdminError::Connect {
        url: url.clone(),
        reason: "no certificate seen".into(),
    })?;
    if first_use {
        eprintln!(
            "The server's certificate SHA-256 fingerprint is\n  {seen}\nIt is now pinned for {url} (trust on first use); compare it with the one headend logged at start-up."
        );
    }
    known.insert(url.clone(), seen.clone());
    save_json(&known_path(dir), &known)?;
    if status != 200 {
        return Err(api_error(status, &v));
    }
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
    ctl.take_tokens(&v)?;
    ctl.save()?;
    println!("logged in as {user}");
    Ok(())
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

fn print_rows(v: &Value, key: &str, cols: &[&str]) {
    println!(
        "{}",
        cols.iter()
            .map(|c| c.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("\t")
    );
    for row in v.get(key).and_then(Value::as_array).into_iter().flatten() {
        let line: Vec<String> = cols
            .iter()
            .map(|c| match row.get(*c) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "-".into(),
                Some(other) => other.to_string(),
            })
            .collect();
        println!("{}", line.join("\t"));
    }
}

fn if_match(serial: Option<u32>) -> Vec<(&'static str, String)> {
    serial
        .map(|s| ("If-Match", format!("\"{s}\"")))
        .into_iter()
        .collect()
}

/// Runs a `headend ctl` command.
pub fn run(cmd: CtlCommand) -> Result<(), AdminError> {
    let dir = client_dir();
    if let CtlCommand::Login {
        url,
        user,
        password_stdin,
        fingerprint,
    } = cmd
    {
        return login(&dir, url, user, password_stdin, fingerprint);
    }
    let mut ctl = Ctl::open(dir.clone())?;
    match cmd {
        CtlCommand::Login { .. } => {}
        CtlCommand::Logout { all } => {
            let url = ctl.url(&format!(
                "/api/v1/auth/logout{}",
                if all { "?all=true" } else { "" }
            ));
            let body = json!({"refresh_token": ctl.session.refresh_token});
            let (status, v) = send(&ctl.client, Method::POST, &url, None, Some(&body), &[])?;
            let path = session_path(&dir);
            std::fs::remove_file(&path)
                .map_err(file_err(&path, "cannot remove the session file"))?;
            if status != 200 {
                return Err(api_error(status, &v));
            }
            println!(
                "logged out ({} session(s) ended)",
                v.get("revoked").and_then(Value::as_u64).unwrap_or(0)
            );
        }
        CtlCommand::Zone(ZoneCommand::List) => {
            let v = ctl.call(Method::GET, "/api/v1/zones", None, &[])?;
            print_rows(&v, "zones", &["origin", "serial", "records", "file"]);
        }
        CtlCommand::Zone(ZoneCommand::Show { zone }) => {
            let v = ctl.call(
                Method::GET,
                &format!("/api/v1/zones/{}", enc(&zone)),
                None,
                &[],
            )?;
            println!("; serial {}", v.get("serial").unwrap_or(&Value::Null));
            print_rows(&v, "records", &["name", "ttl", "rtype", "rdata"]);
        }
        CtlCommand::Zone(ZoneCommand::Reload { zone }) => {
            let v = ctl.call(
                Method::POST,
                &format!("/api/v1/zones/{}/reload", enc(&zone)),
                None,
                &[],
            )?;
            println!(
                "{zone} reloaded, serial {}",
                v.get("serial").unwrap_or(&Value::Null)
            );
        }
        CtlCommand::Record(RecordCommand::Set {
            zone,
            name,
            rtype,
            rdata,
            ttl,
            serial,
        }) => {
            let path = format!(
                "/api/v1/zones/{}/records/{}/{}",
                enc(&zone),
                enc(&name),
                enc(&rtype)
            );
            let v = ctl.call(
                Method::PUT,
                &path,
                Some(json!({"ttl": ttl, "rdata": rdata})),
                &if_match(serial),
            )?;
            println!(
                "{zone}: {name} {rtype} set, serial {}",
                v.get("serial").unwrap_or(&Value::Null)
            );
        }
        CtlCommand::Record(RecordCommand::Delete {
            zone,
            name,
            rtype,
            rdata,
            serial,
        }) => {
            let mut path = format!(
                "/api/v1/zones/{}/records/{}/{}",
                enc(&zone),
                enc(&name),
                enc(&rtype)
            );
            if let Some(r) = &rdata {
                path.push_str(&format!("?rdata={}", enc(r)));
            }
            let v = ctl.call(Method::DELETE, &path, None, &if_match(serial))?;
            println!(
                "{zone}: {name} {rtype} deleted, serial {}",
                v.get("serial").unwrap_or(&Value::Null)
            );
        }
        CtlCommand::Lease(LeaseCommand::List { subnet }) => {
            let path = subnet.map_or_else(
                || "/api/v1/leases".to_owned(),
                |s| format!("/api/v1/leases?subnet={}", enc(&s)),
            );
            let v = ctl.call(Method::GET, &path, None, &[])?;
            print_rows(
                &v,
                "leases",
                &[
                    "address", "subnet", "hwaddr", "hostname", "state", "expires",
                ],
            );
        }
        CtlCommand::Lease(LeaseCommand::Release { address }) => {
            ctl.call(
                Method::POST,
                &format!("/api/v1/leases/{address}/release"),
                None,
                &[],
            )?;
            println!("released {address}");
        }
        CtlCommand::Reservation(ReservationCommand::Add {
            subnet,
            mac,
            address,
            hostname,
        }) => {
            let body =
                json!({"subnet": subnet, "hwaddr": mac, "address": address, "hostname": hostname});
            ctl.call(Method::POST, "/api/v1/reservations", Some(body), &[])?;
            println!("reserved {address} for {mac} in {subnet}");
        }
        CtlCommand::Reservation(ReservationCommand::List) => {
            let v = ctl.call(Method::GET, "/api/v1/reservations", None, &[])?;
            print_rows(
                &v,
                "reservations",
                &["subnet", "hwaddr", "address", "hostname"],
            );
        }
        CtlCommand::Reservation(ReservationCommand::Delete { subnet, mac }) => {
            ctl.call(
                Method::DELETE,
                &format!("/api/v1/reservations/{}/{}", enc(&subnet), enc(&mac)),
                None,
                &[],
            )?;
            println!("removed the reservation of {mac} in {subnet}");
        }
        CtlCommand::Session(SessionCommand::List { user }) => {
            let path = user.map_or_else(
                || "/api/v1/sessions".to_owned(),
                |u| format!("/api/v1/sessions?user={}", enc(&u)),
            );
            let v = ctl.call(Method::GET, &path, None, &[])?;
            print_rows(
                &v,
                "sessions",
                &["id", "user", "source", "created", "last_used", "current"],
            );
        }
        CtlCommand::Session(SessionCommand::Revoke { id }) => {
            ctl.call(
                Method::DELETE,
                &format!("/api/v1/sessions/{}", enc(&id)),
                None,
                &[],
            )?;
            println!("session {id} ended");
        }
    }
    Ok(())
}
