//! OpenID Connect login, the I/O half: the provider's discovery document,
//! its JWKS (cached; fetched again when a token names a key it does not
//! hold, at most every [`JWKS_REFETCH_SECS`]), the token endpoint and the
//! userinfo endpoint, over HTTPS. The checks are in [`crate::core::oidc`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use headend_store::SsoRecord;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AdminError;
use crate::config::{OidcConfig, TokenAuth};
use crate::core::Role;
use crate::core::kek::Kek;
use crate::core::oidc::{
    Discovery, Expect, Handoffs, OidcError, PendingLogins, form_escape, verify_id_token,
};

/// The prefix of the user names of single sign-on users (a local name
/// cannot hold a colon, so the two never collide).
pub(crate) const SSO_PREFIX: &str = "sso:";
/// The password hash stored for single sign-on users: not a PHC string, so
/// no password ever verifies against it.
pub(crate) const SSO_PHC: &str = "!sso";
/// The discovery document and the JWKS are read again when this old.
const CACHE_SECS: u64 = 3600;
/// A JWKS refetch for an unknown key id happens at most this often.
pub(crate) const JWKS_REFETCH_SECS: u64 = 10;
/// The largest answer read from the provider.
const MAX_ANSWER: usize = 1024 * 1024;

/// Why a step with the provider failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SsoError {
    /// A check refused the login.
    #[error(transparent)]
    Refused(#[from] OidcError),
    /// The token endpoint refused the code or refresh token.
    #[error("the provider's token endpoint refused: {0}")]
    Denied(String),
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider: {0}")]
    Provider(String),
}

/// The provider's answer at the token endpoint.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
}

/// What is kept of a single sign-on session (in the store, by session id,
/// the tokens sealed with the KEK): the provider's tokens to ask userinfo
/// again.
#[derive(Debug, Clone)]
pub(crate) struct SsoSession {
    pub(crate) sub: String,
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    /// When the provider last confirmed the user's role.
    pub(crate) checked: u64,
    /// When the session started.
    pub(crate) started: u64,
}

/// The sealed part of an [`SsoSession`].
#[derive(Serialize, Deserialize)]
struct SsoTokens {
    sub: String,
    access_token: String,
    refresh_token: Option<String>,
}

/// The additional data a session's tokens are sealed for: the tokens of one
/// session cannot be passed off as another's.
fn sso_aad(family: &str) -> Vec<u8> {
    let mut aad = b"sso session\0".to_vec();
    aad.extend_from_slice(family.as_bytes());
    aad
}

impl SsoSession {
    /// The store's record of session `family`, the tokens sealed with `kek`.
    pub(crate) fn seal(&self, kek: &Kek, family: &str) -> SsoRecord {
        let tokens = SsoTokens {
            sub: self.sub.clone(),
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
        };
        let plain = serde_json::to_vec(&tokens).expect("strings serialise");
        SsoRecord {
            family: family.to_owned(),
            sealed: kek.seal(&plain, &sso_aad(family)),
            kek_id: kek.id().to_owned(),
            checked: self.checked,
            started: self.started,
        }
    }

    /// Opens a record made by [`SsoSession::seal`]; `None` if `kek` cannot
    /// open it (another key, or tampered with).
    pub(crate) fn open(kek: &Kek, rec: &SsoRecord) -> Option<Self> {
        let plain = kek.open(&rec.sealed, &sso_aad(&rec.family)).ok()?;
        let t: SsoTokens = serde_json::from_slice(&plain).ok()?;
        Some(Self {
            sub: t.sub,
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            checked: rec.checked,
            started: rec.started,
        })
    }
}

/// A login the provider confirmed, waiting for its client to redeem the
/// one-time code.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) user: String,
    pub(crate) role: Role,
    pub(crate) sso: SsoSession,
}

type Cached<T> = tokio::sync::Mutex<Option<(Arc<T>, u64)>>;

/// The configured provider and the logins in flight.
pub(crate) struct Provider {
    pub(crate) config: OidcConfig,
    secret: Option<String>,
    http: reqwest::Client,
    meta: Cached<Discovery>,
    jwks: Cached<JwkSet>,
    pub(crate) pending: Mutex<PendingLogins>,
    pub(crate) handoffs: Mutex<Handoffs<Grant>>,
}

impl Provider {
    /// Reads the client secret and the CA file, builds the HTTPS client.
    pub(crate) fn new(config: &OidcConfig) -> Result<Self, AdminError> {
        let secret = match &config.client_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| AdminError::File {
                    path: path.clone(),
                    action: "cannot read the OIDC client secret",
                    source,
                })?;
                let line = text.lines().next().unwrap_or("").trim().to_owned();
                if line.is_empty() {
                    return Err(AdminError::Config {
                        key: "admin.oidc.client_secret_file",
                        reason: format!("{} is empty", path.display()),
                    });
                }
                Some(line)
            }
            None => None,
        };
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10));
        if let Some(path) = &config.ca_file {
            builder = builder.tls_backend_preconfigured(client_tls(path)?);
        }
        let http = builder.build().map_err(|e| AdminError::Tls {
            reason: format!("the OIDC client: {e}"),
        })?;
        Ok(Self {
            config: config.clone(),
            secret,
            http,
            meta: tokio::sync::Mutex::new(None),
            jwks: tokio::sync::Mutex::new(None),
            pending: Mutex::new(PendingLogins::default()),
            handoffs: Mutex::new(Handoffs::default()),
        })
    }

    /// The scopes asked for, `openid` first.
    pub(crate) fn scopes(&self) -> Vec<String> {
        let mut s = vec!["openid".to_owned()];
        s.extend(
            self.config
                .scopes
                .iter()
                .filter(|x| x.as_str() != "openid")
                .cloned(),
        );
        s
    }

    async fn fetch(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, Vec<u8>), SsoError> {
        let mut resp = req
            .send()
            .await
            .map_err(|e| SsoError::Provider(format!("{what}: {}", error_chain(&e))))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| SsoError::Provider(format!("{what}: {}", error_chain(&e))))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER {
                return Err(SsoError::Provider(format!(
                    "{what}: the answer is too long"
                )));
            }
        }
        Ok((status, body))
    }

    /// The discovery document (cached for an hour).
    pub(crate) async fn discovery(&self, now: u64) -> Result<Arc<Discovery>, SsoError> {
        let mut meta = self.meta.lock().await;
        if let Some((d, at)) = meta.as_ref()
            && now < at + CACHE_SECS
        {
            return Ok(Arc::clone(d));
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let (status, body) = self.fetch(self.http.get(&url), "discovery").await?;
        if status != 200 {
            return Err(SsoError::Provider(format!("{url} answered {status}")));
        }
        let d = Arc::new(Discovery::parse(&body, &self.config.issuer)?);
        *meta = Some((Arc::clone(&d), now));
        Ok(d)
    }

    /// The JWKS: cached for an hour; `refetch` reads it again unless it
    /// was read less than [`JWKS_REFETCH_SECS`] ago.
    async fn jwks(&self, refetch: bool, now: u64) -> Result<Arc<JwkSet>, SsoError> {
        let mut jwks = self.jwks.lock().await;
        if let Some((set, at)) = jwks.as_ref() {
            let fresh = now < at + CACHE_SECS;
            let recent = now < at + JWKS_REFETCH_SECS;
            if (fresh && !refetch) || recent {
                return Ok(Arc::clone(set));
            }
        }
        let uri = self.discovery(now).await?.jwks_uri.clone();
        let (status, body) = self.fetch(self.http.get(&uri), "JWKS").await?;
        if status != 200 {
            return Err(SsoError::Provider(format!("{uri} answered {status}")));
        }
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| SsoError::Provider(format!("the JWKS is unreadable: {e}")))?;
        let set = Arc::new(set);
        *jwks = Some((Arc::clone(&set), now));
        tracing::info!(keys = set.keys.len(), "OIDC provider keys (JWKS) read");
        Ok(set)
    }

    /// Verifies an ID token; a key id the cached JWKS does not hold makes
    /// it read the JWKS again once (the provider rotated its keys).
    pub(crate) async fn verify(
        &self,
        id_token: &str,
        nonce: &str,
        now: u64,
    ) -> Result<Map<String, Value>, SsoError> {
        let expect = Expect {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce,
            now,
        };
        let set = self.jwks(false, now).await?;
        match verify_id_token(id_token, &set, &expect) {
            Err(OidcError::UnknownKey { .. }) => {
                let set = self.jwks(true, now).await?;
                Ok(verify_id_token(id_token, &set, &expect)?)
            }
            other => Ok(other?),
        }
    }

    async fn token_request(
        &self,
        fields: &[(&str, &str)],
        now: u64,
    ) -> Result<TokenAnswer, SsoError> {
        let endpoint = self.discovery(now).await?.token_endpoint.clone();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let mut req = self.http.post(&endpoint);
        match (&self.secret, self.config.token_auth) {
            (Some(secret), TokenAuth::ClientSecretBasic) => {
                // RFC 6749 §2.3.1: both form-encoded before Basic.
                let pair = format!(
                    "{}:{}",
                    form_escape(&self.config.client_id),
                    form_escape(secret)
                );
                req = req.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(pair)),
                );
            }
            (Some(secret), TokenAuth::ClientSecretPost) => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", secret));
            }
            (None, _) => form.push(("client_id", &self.config.client_id)),
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        req = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let (status, body) = self.fetch(req, "token endpoint").await?;
        if status != 200 {
            let why = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| {
                    let e = v.get("error")?.as_str()?.to_owned();
                    let d = v.get("error_description").and_then(Value::as_str);
                    Some(match d {
                        Some(d) => format!("{e}: {d}"),
                        None => e,
                    })
                })
                .unwrap_or_else(|| format!("status {status}"));
            if (400..500).contains(&status) {
                return Err(SsoError::Denied(why));
            }
            return Err(SsoError::Provider(format!(
                "the token endpoint answered {why}"
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| SsoError::Provider(format!("the token answer is unreadable: {e}")))
    }

    /// Exchanges an authorization code (with the PKCE verifier).
    pub(crate) async fn exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        now: u64,
    ) -> Result<TokenAnswer, SsoError> {
        self.token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
            now,
        )
        .await
    }

    /// A new provider access token from its refresh token.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &str,
        now: u64,
    ) -> Result<TokenAnswer, SsoError> {
        self.token_request(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            now,
        )
        .await
    }

    /// The userinfo claims of the user of `access_token`; `None` when the
    /// provider no longer accepts the token (401/403: expired, revoked, the
    /// user disabled).
    pub(crate) async fn userinfo(
        &self,
        access_token: &str,
        now: u64,
    ) -> Result<Option<Map<String, Value>>, SsoError> {
        let Some(endpoint) = self.discovery(now).await?.userinfo_endpoint.clone() else {
            return Err(SsoError::Provider(
                "the discovery document names no userinfo_endpoint".into(),
            ));
        };
        let (status, body) = self
            .fetch(
                self.http.get(&endpoint).bearer_auth(access_token),
                "userinfo",
            )
            .await?;
        match status {
            200 => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| SsoError::Provider(format!("the userinfo answer is unreadable: {e}"))),
            401 | 403 => Ok(None),
            other => Err(SsoError::Provider(format!("userinfo answered {other}"))),
        }
    }
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

/// A rustls client configuration trusting only the CA(s) in `path`.
fn client_tls(path: &std::path::Path) -> Result<rustls::ClientConfig, AdminError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let fail = |reason: String| AdminError::Config {
        key: "admin.oidc.ca_file",
        reason: format!("{}: {reason}", path.display()),
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| fail(format!("not usable as a CA: {e}")))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| fail(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_session_tokens_are_sealed_for_their_session_and_key() {
        let kek = Kek::from_bytes(&[7; 32]);
        let s = SsoSession {
            sub: "ada".into(),
            access_token: "provider-access-token".into(),
            refresh_token: Some("provider-refresh-token".into()),
            checked: 20,
            started: 10,
        };
        let rec = s.seal(&kek, "f1");
        assert_eq!((rec.family.as_str(), rec.kek_id.as_str()), ("f1", kek.id()));
        assert_eq!((rec.checked, rec.started), (20, 10));
        for clear in [&b"provider-access-token"[..], b"provider-refresh-token"] {
            assert!(!rec.sealed.windows(clear.len()).any(|w| w == clear));
        }
        let back = SsoSession::open(&kek, &rec).expect("opens");
        assert_eq!(back.access_token, "provider-access-token");
        assert_eq!(
            back.refresh_token.as_deref(),
            Some("provider-refresh-token")
        );
        assert_eq!((back.sub.as_str(), back.checked), ("ada", 20));
        // Moved to another session, or opened with another key: refused.
        let moved = SsoRecord {
            family: "f2".into(),
            ..rec.clone()
        };
        assert!(SsoSession::open(&kek, &moved).is_none());
        assert!(SsoSession::open(&Kek::from_bytes(&[8; 32]), &rec).is_none());
    }
}
