//! The HTTP layer: router, shared state, the caller extractor that verifies
//! access tokens, the allow-list gate, and the JSON error shape.
//!
//! Request path: TLS → allow-list → router → [`Caller`] (token verified,
//! revocations checked, role compared) → handler → store or DNS handle
//! (blocking work in `spawn_blocking`) → audit record.

mod apikeys;
pub(crate) mod auth;
pub(crate) mod dhcp;
pub(crate) mod dhcp6;
mod limit;
pub(crate) mod mfa;
pub(crate) mod oidc;
pub mod openapi;
pub(crate) mod scrape;
pub mod types;
pub(crate) mod users;
pub(crate) mod zones;

pub use dhcp::normalise_mac;
pub use users::valid_username;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use governor::DefaultKeyedRateLimiter;
use headend_store::Store;
use headend_store::auth::AuditRecord;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::config::AdminConfig;
use crate::core::Role;
use crate::core::scope::Scopes;
use crate::core::session::{Lockout, Revocations, SessionPolicy};
use crate::core::tokens::{Claims, KeySet, TokenPolicy};
use crate::password::Passwords;

/// Verified tokens remembered at most (the cache is emptied when full).
const VERIFIED_CACHE_MAX: usize = 10_000;

/// The name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "headend_refresh";

/// Everything the handlers share.
pub struct App {
    pub(crate) config: AdminConfig,
    pub(crate) store: Store,
    pub(crate) dns: Option<headend_dns::DnsHandle>,
    /// The DHCP service, when it runs in this process.
    pub(crate) dhcp: Option<headend_dhcp::DhcpHandle>,
    /// The DHCPv6 service, when it runs in this process.
    pub(crate) dhcp6: Option<headend_dhcp6::Dhcp6Handle>,
    /// The TFTP service, when it runs in this process (read by /metrics).
    pub(crate) tftp: Option<headend_tftp::TftpHandle>,
    /// Start time and reload counters (read by /metrics).
    pub(crate) process: Arc<crate::process::ProcessStats>,
    pub(crate) keys: arc_swap::ArcSwap<KeySet>,
    pub(crate) rotate_lock: std::sync::Mutex<()>,
    pub(crate) tokens: TokenPolicy,
    pub(crate) sessions: SessionPolicy,
    pub(crate) lockout: Lockout,
    pub(crate) passwords: Passwords,
    pub(crate) revocations: RwLock<Revocations>,
    /// Claims of tokens whose signature already verified (see [`App::authenticate`]).
    pub(crate) verified: RwLock<std::collections::HashMap<String, Claims>>,
    pub(crate) limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Failures and locks of user names that have no account.
    pub(crate) unknown: std::sync::Mutex<crate::core::guard::UnknownNames>,
    /// Rate-limited attempts waiting to be audited.
    pub(crate) refusals: std::sync::Mutex<crate::core::guard::RefusalLog>,
    pub(crate) metrics: PrometheusHandle,
    /// API keys read from the store lately, and the per-key rate buckets.
    pub(crate) api_keys: apikeys::KeyCache,
    /// Request rate buckets per principal and source address.
    pub(crate) limits: limit::Limits,
    /// `[[admin.client_tls.map]]`, checked.
    pub(crate) cert_rules: Vec<crate::core::mtls::Rule>,
    /// Certificates already mapped, by their DER.
    pub(crate) cert_principals:
        RwLock<std::collections::HashMap<Arc<Vec<u8>>, Option<CertPrincipal>>>,
    /// Seals the secrets the store keeps (see [`crate::core::kek`]).
    pub(crate) kek: Arc<crate::core::kek::Kek>,
    /// Where audit entries go besides the store.
    pub(crate) forward: Arc<crate::audit::Forward>,
    /// Pending two-step logins (password right, second factor due).
    pub(crate) mfa_tickets: std::sync::Mutex<crate::core::totp::Tickets>,
    /// The single sign-on provider (`[admin.oidc]`).
    pub(crate) oidc: Option<Arc<crate::oidc::Provider>>,
}

/// The principal a client certificate maps to.
#[derive(Debug, Clone)]
pub(crate) struct CertPrincipal {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) scopes: Scopes,
}

impl App {
    /// The principal of a verified client certificate, if its identity maps to one.
    pub(crate) fn cert_principal(&self, cert: &Arc<Vec<u8>>) -> Option<CertPrincipal> {
        if let Some(hit) = self
            .cert_principals
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(cert)
        {
            return hit.clone();
        }
        let mapped = crate::core::mtls::identity(cert)
            .map_err(|e| tracing::info!("client certificate unreadable: {e}"))
            .ok()
            .and_then(|id| {
                let rule = crate::core::mtls::principal(&self.cert_rules, &id);
                if rule.is_none() {
                    metrics::counter!("headend_admin_refused_total", "reason" => "cert_unmapped")
                        .increment(1);
                    tracing::info!(uris = ?id.uris, dns = ?id.dns, cn = ?id.cns,
                        "client certificate maps to no principal");
                }
                rule
            })
            .map(|r| CertPrincipal {
                name: r.principal.clone(),
                role: r.role,
                scopes: r.scopes.clone(),
            });
        let mut cache = self
            .cert_principals
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= VERIFIED_CACHE_MAX {
            cache.clear();
        }
        cache.insert(Arc::clone(cert), mapped.clone());
        mapped
    }
}

/// The state handed to every handler.
pub type Shared = Arc<App>;

pub(crate) use headend_util::unix_now;

impl App {
    /// Runs a blocking store operation off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, headend_store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::error!("admin API store error: {e}");
                Err(ApiError::internal())
            }
            Err(e) => {
                tracing::error!("admin API store task failed: {e}");
                Err(ApiError::internal())
            }
        }
    }

    /// Appends to the audit log (failures are logged, never shown to the client).
    pub(crate) async fn audit(
        &self,
        actor: &str,
        source: IpAddr,
        action: &str,
        target: Option<String>,
        result: &str,
        detail: Option<String>,
    ) {
        let record = AuditRecord {
            id: 0,
            at: unix_now(),
            actor: actor.to_owned(),
            source: Some(source.to_string()),
            action: action.to_owned(),
            target,
            result: result.to_owned(),
            detail,
        };
        self.write_audit(record, action).await;
    }

    /// Appends an entry to the store's audit log, then forwards it
    /// (`[admin.audit] forward`).
    async fn write_audit(&self, record: AuditRecord, action: &str) {
        let store = self.store.clone();
        let forward = Arc::clone(&self.forward);
        let res = tokio::task::spawn_blocking(move || {
            store.auth().audit_append(&record)?;
            forward.send(&record);
            Ok::<_, headend_store::StoreError>(())
        })
        .await;
        if !matches!(res, Ok(Ok(()))) {
            tracing::error!(action, "cannot write the audit log");
        }
    }

    /// Deletes what has outlived its use (the hourly retention sweep):
    /// sessions ended longer ago than an access token lives (so the
    /// revocation cache a restart rebuilds still has what it needs), audit
    /// entries older than `audit_retention_days`, API keys revoked or
    /// expired that long ago (365 days when audit entries are kept forever).
    pub(crate) async fn sweep(&self) {
        const DAY: u64 = 86_400;
        let now = unix_now();
        let days = self.config.audit_retention_days;
        let purge = headend_store::Purge {
            families_before: now.saturating_sub(self.tokens.ttl + self.tokens.leeway + 60),
            audit_before: (days > 0).then(|| now.saturating_sub(days * DAY)),
            api_keys_before: now.saturating_sub(if days > 0 { days } else { 365 } * DAY),
        };
        match self.blocking(move |s| s.keys().purge(&purge)).await {
            Ok(p) => tracing::info!(
                families = p.families,
                refresh_tokens = p.refresh_tokens,
                audit = p.audit,
                api_keys = p.api_keys,
                "retention sweep done"
            ),
            Err(_) => tracing::warn!("the retention sweep failed (see the store error above)"),
        }
    }

    /// Writes the audit entries for rate-limited attempts.
    pub(crate) async fn audit_refused(&self, entries: Vec<crate::core::guard::Refused>) {
        for r in entries {
            let detail = if r.count == 1 {
                "first refusal of this minute from this address".to_owned()
            } else {
                format!("{} more attempt(s) refused in that minute", r.count)
            };
            let record = AuditRecord {
                id: 0,
                at: r.minute * 60,
                actor: "-".to_owned(),
                source: Some(r.source.to_string()),
                action: r.action.to_owned(),
                target: None,
                result: "rate limited".to_owned(),
                detail: Some(detail),
            };
            self.write_audit(record, r.action).await;
        }
    }

    /// Marks sessions revoked in the in-memory cache (their access tokens die now).
    pub(crate) fn revoke_in_cache(&self, ids: &[String], user_not_before: Option<(&str, u64)>) {
        let now = unix_now();
        let mut r = self
            .revocations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for id in ids {
            r.revoke_family(id, now);
        }
        if let Some((user, at)) = user_not_before {
            r.set_not_before(user, at);
        }
        r.prune(now.saturating_sub(self.tokens.ttl + self.tokens.leeway));
        metrics::gauge!("headend_admin_revocation_cache_entries").set(r.len() as f64);
    }

    /// A deleted user's access tokens, sessions and API keys die at once.
    pub(crate) fn user_gone(
        &self,
        user: &str,
        deleted: &headend_store::auth::DeletedUser,
        now: u64,
    ) {
        self.revoke_in_cache(&deleted.sessions, Some((user, now)));
        self.pin_role(user, None);
        for prefix in &deleted.api_keys {
            self.api_keys.forget(prefix);
        }
    }

    /// Pins the role a token of `user` must carry from now on (`None`:
    /// disabled); `Some` tokens with another role die at once.
    pub(crate) fn pin_role(&self, user: &str, role: Option<Role>) {
        let mut r = self
            .revocations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.set_role(user, role, unix_now());
    }

    /// Re-reads the signing keys from the store (another server may have
    /// published the next one or dropped an old one) and follows the
    /// rotation schedule. A failure keeps the keys in use and is logged.
    pub(crate) async fn sync_keys(&self) {
        let (store, kek) = (self.store.clone(), Arc::clone(&self.kek));
        let schedule = self.config.tokens.schedule();
        let synced = tokio::task::spawn_blocking(move || {
            crate::signing::sync(&store, &kek, &schedule, unix_now())
        })
        .await;
        match synced {
            Ok(Ok(set)) => self.keys.store(Arc::new(set)),
            Ok(Err(e)) => tracing::warn!("cannot refresh the signing keys from the store: {e}"),
            Err(e) => tracing::warn!("signing key refresh failed: {e}"),
        }
    }

    /// Verifies a bearer token and checks it against the revocation cache.
    ///
    /// A signature is checked once per distinct token: the claims of tokens
    /// that verified are remembered (keyed by the exact token text), and on
    /// a hit only the time checks are redone. Revocation is checked every time.
    pub(crate) fn authenticate(&self, token: &str) -> Option<Claims> {
        let now = unix_now();
        let cached = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned();
        let claims = match cached {
            Some(c) if self.tokens.still_valid(&c, now).is_ok() => c,
            _ => match self.tokens.verify_any(&self.keys.load(), token, now) {
                Ok(c) => {
                    let mut cache = self
                        .verified
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if cache.len() >= VERIFIED_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(token.to_owned(), c.clone());
                    c
                }
                Err(why) => {
                    metrics::counter!("headend_admin_token_rejected_total", "reason" => why.as_str())
                        .increment(1);
                    return None;
                }
            },
        };
        let live = self
            .revocations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allows(&claims);
        if !live {
            metrics::counter!("headend_admin_token_rejected_total", "reason" => "revoked")
                .increment(1);
            return None;
        }
        Some(claims)
    }
}

/// An error answer: `{"error": code, "message": ..., "details": ...}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }
    pub(crate) fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid access token is required",
        )
    }
    pub(crate) fn forbidden(need: Role) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs the {need} role"),
        )
    }
    pub(crate) fn out_of_scope(what: String) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            format!("{what} is outside the caller's scopes"),
        )
    }
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }
    pub(crate) fn bad_request(what: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", what)
    }
    /// 429 with Retry-After. The same words for a rate limit and a locked
    /// account, so that the answer does not tell whether a name exists.
    pub(crate) fn too_many(retry_after: u64) -> Self {
        let secs = retry_after.max(1);
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; retry in {secs} s (Retry-After: {secs})"),
        );
        e.retry_after = Some(secs);
        e
    }
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The message for the caller (never internal error text).
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
    /// The list of findings in `details`, if the answer carries one (zone lint).
    pub(crate) fn findings(&self) -> Vec<String> {
        self.details
            .as_ref()
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = types::ErrorBody {
            details: self.details,
            error: self.code.to_owned(),
            message: self.message,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// The peer's address (from the TCP connection).
#[derive(Debug, Clone, Copy)]
pub struct Source(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| Self(ci.0.ip()))
            .ok_or_else(ApiError::internal)
    }
}

/// An authenticated caller: a verified, unrevoked access token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: String,
    /// The role in the token.
    pub role: Role,
    /// The session id.
    pub sid: String,
    /// The peer address.
    pub source: IpAddr,
    /// What narrows the role (from the API key, or the user's access token).
    pub scopes: Scopes,
}

impl Caller {
    /// 403 unless the caller's scopes reach `zone`.
    pub(crate) fn require_zone(&self, zone: &str) -> Result<(), ApiError> {
        if self.scopes.allows_zone(zone) {
            Ok(())
        } else {
            Err(ApiError::out_of_scope(format!("zone {zone}")))
        }
    }

    /// 403 unless the caller's scopes reach `address`.
    pub(crate) fn require_address(&self, address: std::net::Ipv4Addr) -> Result<(), ApiError> {
        if self.scopes.allows_address(address) {
            Ok(())
        } else {
            Err(ApiError::out_of_scope(format!("address {address}")))
        }
    }

    /// 403 unless the caller's scopes reach the IPv6 prefix (128: address).
    pub(crate) fn require_prefix6(
        &self,
        address: std::net::Ipv6Addr,
        prefix_len: u8,
    ) -> Result<(), ApiError> {
        if self.scopes.allows_prefix6(address, prefix_len) {
            Ok(())
        } else if prefix_len == 128 {
            Err(ApiError::out_of_scope(format!("address {address}")))
        } else {
            Err(ApiError::out_of_scope(format!(
                "prefix {address}/{prefix_len}"
            )))
        }
    }

    /// 403 unless the caller is not narrowed by any scope.
    pub(crate) fn require_unscoped(&self) -> Result<(), ApiError> {
        if self.scopes.is_unrestricted() {
            Ok(())
        } else {
            Err(ApiError::out_of_scope("this route".to_owned()))
        }
    }

    /// 403 unless the caller has at least `role`.
    pub(crate) fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(role))
        }
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, ApiError> {
        let Source(source) = Source::from_request_parts(parts, app).await?;
        // An API key was checked (and rate-limited) by `limit::gate`.
        if let Some(grant) = parts.extensions.get::<crate::core::apikey::Grant>() {
            return Ok(Self {
                user: format!("apikey:{}", grant.name),
                role: grant.role,
                sid: grant.prefix.clone(),
                source,
                scopes: grant.scopes.clone(),
            });
        }
        // A client certificate the gate mapped to a principal.
        if let Some(p) = parts.extensions.get::<CertPrincipal>() {
            return Ok(Self {
                user: format!("cert:{}", p.name),
                role: p.role,
                sid: "-".to_owned(),
                source,
                scopes: p.scopes.clone(),
            });
        }
        // A token the gate verified, else verify it here.
        let claims = match parts.extensions.get::<Claims>() {
            Some(c) => c.clone(),
            None => {
                let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
                app.authenticate(token).ok_or_else(ApiError::unauthorized)?
            }
        };
        // Scopes the server wrote itself; unreadable ones refuse the token.
        let scopes = Scopes::parse(&claims.scopes).map_err(|_| ApiError::unauthorized())?;
        Ok(Self {
            user: claims.sub,
            role: claims.role,
            sid: claims.sid,
            source,
            scopes,
        })
    }
}

/// Refuses peers outside `[admin] allow` before any other work.
async fn allow_gate(State(app): State<Shared>, req: Request, next: Next) -> Response {
    if !app.config.allow.is_empty() {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip());
        let allowed = ip.is_some_and(|ip| app.config.allow.iter().any(|net| net.contains(&ip)));
        if !allowed {
            metrics::counter!("headend_admin_refused_total", "reason" => "allow_list").increment(1);
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "source address not allowed",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// The largest request body read (the same as axum's default limit).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Reads the whole request body within `[admin.connections] body_timeout_secs`
/// before any handler runs: a body that trickles in is answered 408 and its
/// connection closed, so it cannot hold a handler (or a slot) open.
async fn body_deadline(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let limit = std::time::Duration::from_secs(app.config.connections.body_timeout_secs);
    match tokio::time::timeout(limit, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => {
            let mut resp = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request bodies are limited to {BODY_LIMIT} bytes"),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
        Err(_) => {
            metrics::counter!("headend_admin_timeouts_total", "phase" => "body").increment(1);
            let mut resp = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the request body did not arrive in time",
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Counts requests by route and status; sets `Cache-Control: no-store` on
/// every API answer (tokens must never be cached, RFC 6749 §5.1) and
/// `Strict-Transport-Security` (RFC 6797: browsers then never try plain
/// HTTP for this host, so a network attacker cannot strip TLS).
async fn count_and_no_store(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let mut resp = next.run(req).await;
    metrics::counter!("headend_admin_requests_total",
        "method" => method, "route" => route, "status" => resp.status().as_u16().to_string())
    .increment(1);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        hsts_value(app.config.hsts_max_age),
    );
    resp
}

fn hsts_value(max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("max-age=31536000"))
}

async fn health() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn jwks(State(app): State<Shared>) -> impl IntoResponse {
    axum::Json(app.keys.load().jwks())
}

async fn fallback() -> ApiError {
    ApiError::not_found("no such route; see /api/v1/openapi.json")
}

/// Every route of the API with its minimum role (`None`: public or any
/// authenticated user, as the handler decides). Used by the OpenAPI document.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/health", "public"),
    ("GET", "/.well-known/jwks.json", "public"),
    ("GET", "/api/v1/openapi.json", "public"),
    ("POST", "/api/v1/auth/login", "public"),
    ("POST", "/api/v1/auth/refresh", "public"),
    ("POST", "/api/v1/auth/logout", "public"),
    ("POST", "/api/v1/auth/mfa", "public"),
    ("POST", "/api/v1/auth/mfa/enrol", "public"),
    ("POST", "/api/v1/auth/mfa/confirm", "public"),
    ("GET", "/api/v1/auth/oidc/start", "public"),
    ("GET", "/api/v1/auth/oidc/callback", "public"),
    ("POST", "/api/v1/auth/oidc/token", "public"),
    ("GET", "/metrics", "viewer"),
    ("GET", "/api/v1/me", "viewer"),
    ("GET", "/api/v1/zones", "viewer"),
    ("GET", "/api/v1/zones/{zone}", "viewer"),
    ("POST", "/api/v1/zones/{zone}/reload", "operator"),
    ("POST", "/api/v1/zones/{zone}/flush", "operator"),
    (
        "PUT",
        "/api/v1/zones/{zone}/records/{name}/{rtype}",
        "operator",
    ),
    (
        "DELETE",
        "/api/v1/zones/{zone}/records/{name}/{rtype}",
        "operator",
    ),
    ("GET", "/api/v1/leases", "viewer"),
    ("POST", "/api/v1/leases/{address}/release", "operator"),
    ("GET", "/api/v1/reservations", "viewer"),
    ("POST", "/api/v1/reservations", "operator"),
    (
        "DELETE",
        "/api/v1/reservations/{subnet}/{hwaddr}",
        "operator",
    ),
    (
        "GET",
        "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
        "viewer",
    ),
    (
        "PUT",
        "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
        "operator",
    ),
    (
        "PATCH",
        "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
        "operator",
    ),
    ("GET", "/api/v1/leases6", "viewer"),
    ("POST", "/api/v1/leases6/{address}/release", "operator"),
    ("GET", "/api/v1/reservations6", "viewer"),
    ("POST", "/api/v1/reservations6", "operator"),
    (
        "DELETE",
        "/api/v1/reservations6/{subnet}/{kind}/{key}",
        "operator",
    ),
    ("GET", "/api/v1/sessions", "viewer"),
    ("DELETE", "/api/v1/sessions/{id}", "viewer"),
    ("GET", "/api/v1/users", "admin"),
    ("POST", "/api/v1/users", "admin"),
    ("DELETE", "/api/v1/users/{name}", "admin"),
    ("POST", "/api/v1/users/{name}/mfa", "viewer"),
    ("POST", "/api/v1/users/{name}/mfa/confirm", "viewer"),
    ("DELETE", "/api/v1/users/{name}/mfa", "viewer"),
    ("PUT", "/api/v1/users/{name}/password", "admin"),
    ("PUT", "/api/v1/users/{name}/role", "admin"),
    ("POST", "/api/v1/users/{name}/disable", "admin"),
    ("POST", "/api/v1/users/{name}/enable", "admin"),
    ("POST", "/api/v1/users/{name}/unlock", "admin"),
    ("GET", "/api/v1/audit", "admin"),
    ("POST", "/api/v1/keys/rotate", "admin"),
    ("GET", "/api/v1/apikeys", "admin"),
    ("POST", "/api/v1/apikeys", "admin"),
    ("POST", "/api/v1/apikeys/{name}/revoke", "admin"),
    ("POST", "/api/v1/apikeys/{name}/rotate", "admin"),
];

/// Builds the router over `app`, with `extra` routes (the web console)
/// behind the same allow-list, body deadline and counting layers.
pub fn router(app: Shared, extra: Router<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/mfa", post(mfa::login_code))
        .route("/api/v1/auth/mfa/enrol", post(mfa::login_enrol))
        .route("/api/v1/auth/mfa/confirm", post(mfa::login_confirm))
        .route("/api/v1/auth/oidc/start", get(oidc::start))
        .route("/api/v1/auth/oidc/callback", get(oidc::callback))
        .route("/api/v1/auth/oidc/token", post(oidc::token))
        .route("/metrics", get(scrape::serve))
        .route("/api/v1/me", get(users::me))
        .route("/api/v1/zones", get(zones::list))
        .route("/api/v1/zones/{zone}", get(zones::show))
        .route("/api/v1/zones/{zone}/reload", post(zones::reload))
        .route("/api/v1/zones/{zone}/flush", post(zones::flush))
        .route(
            "/api/v1/zones/{zone}/records/{name}/{rtype}",
            put(zones::set_record).delete(zones::delete_record),
        )
        .route("/api/v1/leases", get(dhcp::leases))
        .route("/api/v1/leases/{address}/release", post(dhcp::release))
        .route(
            "/api/v1/reservations",
            get(dhcp::reservations).post(dhcp::add_reservation),
        )
        .route(
            "/api/v1/reservations/{subnet}/{hwaddr}",
            delete(dhcp::delete_reservation),
        )
        .route(
            "/api/v1/reservations/{subnet}/{hwaddr}/attributes",
            get(dhcp::reservation_attributes)
                .put(dhcp::put_reservation_attributes)
                .patch(dhcp::patch_reservation_attributes),
        )
        .route("/api/v1/leases6", get(dhcp6::leases6))
        .route("/api/v1/leases6/{address}/release", post(dhcp6::release6))
        .route(
            "/api/v1/reservations6",
            get(dhcp6::reservations6).post(dhcp6::add_reservation6),
        )
        .route(
            "/api/v1/reservations6/{subnet}/{kind}/{key}",
            delete(dhcp6::delete_reservation6),
        )
        .route("/api/v1/sessions", get(users::sessions))
        .route("/api/v1/sessions/{id}", delete(users::revoke_session))
        .route("/api/v1/users", get(users::list).post(users::add))
        .route("/api/v1/users/{name}", delete(users::delete_user))
        .route(
            "/api/v1/users/{name}/mfa",
            post(mfa::user_enrol).delete(mfa::remove),
        )
        .route("/api/v1/users/{name}/mfa/confirm", post(mfa::user_confirm))
        .route("/api/v1/users/{name}/password", put(users::set_password))
        .route("/api/v1/users/{name}/role", put(users::set_role))
        .route("/api/v1/users/{name}/disable", post(users::disable))
        .route("/api/v1/users/{name}/enable", post(users::enable))
        .route("/api/v1/users/{name}/unlock", post(users::unlock))
        .route("/api/v1/audit", get(users::audit))
        .route("/api/v1/keys/rotate", post(users::rotate_key))
        .route("/api/v1/apikeys", get(apikeys::list).post(apikeys::create))
        .route("/api/v1/apikeys/{name}/revoke", post(apikeys::revoke))
        .route("/api/v1/apikeys/{name}/rotate", post(apikeys::rotate))
        .merge(extra)
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            limit::gate,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            body_deadline,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            count_and_no_store,
        ))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), allow_gate))
        .with_state(app)
}
