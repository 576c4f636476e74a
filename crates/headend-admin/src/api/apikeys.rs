//! API keys: the gate that authenticates and rate-limits a request carrying
//! one (`Authorization: Bearer hk_...` or `X-API-Key: hk_...`), and the
//! admin routes that create, list, revoke and rotate keys.
//!
//! Keys live in the store, so every server sharing it sees a revocation: a
//! server keeps a key's row at most [`FRESH`] before reading it again (a
//! revocation made through this server drops it at once). Every request with
//! a key takes a token from the key's bucket and answers the IETF
//! `RateLimit-Policy` / `RateLimit` headers; an empty bucket is 429 with
//! `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use headend_store::ApiKeyRecord;
use headend_util::bucket::TokenBucket;
use ipnet::IpNet;
use rand::RngCore as _;

use super::types::{
    ApiKeyIssued, ApiKeyRevoked, ApiKeyView, ApiKeysResponse, NewApiKeyRequest, RotateApiKeyRequest,
};
use super::{ApiError, App, Caller, Shared, bearer, unix_now};
use crate::core::Role;
use crate::core::apikey::{self, Grant, Refusal};
use crate::core::scope::Scopes;

/// How long a key's row read from the store is trusted before it is read
/// again: the longest a revocation on another server takes to reach this one.
pub(crate) const FRESH: Duration = Duration::from_secs(1);

/// Rows (and buckets) held at most; beyond, the map is emptied.
const CACHE_MAX: usize = 10_000;

/// How often a key's `last_used` is written, in seconds.
const TOUCH_EVERY: u64 = 60;

/// The header that carries a key when `Authorization` is used for something else.
const X_API_KEY: &str = "x-api-key";

struct Cached {
    row: Option<ApiKeyRecord>,
    fetched: Instant,
}

/// Key rows read lately and the per-key token buckets.
pub(crate) struct KeyCache {
    rows: Mutex<HashMap<String, Cached>>,
    buckets: Mutex<HashMap<String, (TokenBucket, u64)>>,
    epoch: Instant,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            rows: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

/// The outcome of taking a token from a key's bucket.
struct Taken {
    ok: bool,
    limit: u32,
    remaining: u64,
    /// Seconds until the bucket is full again.
    reset: u64,
    /// Seconds until the next token (for `Retry-After`).
    retry: u64,
}

impl KeyCache {
    fn fresh(&self, prefix: &str) -> Option<Option<ApiKeyRecord>> {
        let rows = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rows.get(prefix)
            .filter(|c| c.fetched.elapsed() < FRESH)
            .map(|c| c.row.clone())
    }

    fn put(&self, prefix: &str, row: Option<ApiKeyRecord>) {
        let mut rows = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if rows.len() >= CACHE_MAX {
            rows.clear();
        }
        rows.insert(
            prefix.to_owned(),
            Cached {
                row,
                fetched: Instant::now(),
            },
        );
    }

    /// Forgets a key's row (after a change through this server).
    pub(crate) fn forget(&self, prefix: &str) {
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(prefix);
    }

    /// Takes a token for `prefix` at `rate` per second (burst the same);
    /// also answers whether `last_used` is due to be written at `now`.
    fn take(&self, prefix: &str, rate: u32, now: u64) -> (Taken, bool) {
        let t = self.epoch.elapsed().as_secs_f64();
        let per = f64::from(rate);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= CACHE_MAX && !buckets.contains_key(prefix) {
            buckets.retain(|_, (b, _)| !b.is_idle(t, per, per));
        }
        let (bucket, touched) = buckets
            .entry(prefix.to_owned())
            .or_insert_with(|| (TokenBucket::full(t, per), 0));
        let ok = bucket.take(t, per, per);
        let level = bucket.level(t, per, per);
        let touch = ok && now >= *touched + TOUCH_EVERY;
        if touch {
            *touched = now;
        }
        let taken = Taken {
            ok,
            limit: rate,
            remaining: level.max(0.0).floor() as u64,
            reset: ((per - level) / per).max(0.0).ceil() as u64,
            retry: ((1.0 - level) / per).max(0.0).ceil().max(1.0) as u64,
        };
        (taken, touch)
    }
}

/// The key a request presents, if it presents one: `X-API-Key`, or a bearer
/// token of the key form (a JWT never starts with `hk_`).
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(X_API_KEY) {
        return Some(v.to_str().unwrap_or("").trim());
    }
    bearer(headers).filter(|t| t.starts_with(apikey::KEY_TAG))
}

impl App {
    /// Checks a presented key: its row (fresh from the store at most
    /// [`FRESH`] ago), secret, revocation, expiry and allowed sources.
    async fn check_key(&self, token: &str, source: IpAddr) -> Result<Grant, Refusal> {
        let (prefix, secret) = apikey::split(token).ok_or(Refusal::Unknown)?;
        let row = match self.api_keys.fresh(prefix) {
            Some(row) => row,
            None => {
                let p = prefix.to_owned();
                let row = self
                    .blocking(move |s| s.api_keys().api_key(&p))
                    .await
                    .map_err(|_| Refusal::Corrupt)?;
                self.api_keys.put(prefix, row.clone());
                row
            }
        };
        let row = row.ok_or(Refusal::Unknown)?;
        apikey::check(&row, secret, source, unix_now())
    }
}

fn rate_headers(headers: &mut HeaderMap, t: &Taken) {
    // draft-ietf-httpapi-ratelimit-headers: the policy (quota q per window
    // w seconds) and the current state (r left, t seconds to full).
    let policy = format!("\"key\";q={};w=1", t.limit);
    let state = format!("\"key\";r={};t={}", t.remaining, t.reset);
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Authenticates and rate-limits a request that carries an API key; the
/// [`Grant`] goes into the request for [`Caller`]. Requests without a key
/// pass untouched (the token path is the extractor's).
pub(crate) async fn gate(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let Some(token) = presented(req.headers()) else {
        return next.run(req).await;
    };
    let token = token.to_owned();
    let Some(source) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return ApiError::internal().into_response();
    };
    let grant = match app.check_key(&token, source).await {
        Ok(g) => g,
        Err(why) => {
            metrics::counter!("headend_admin_apikey_rejected_total", "reason" => why.as_str())
                .increment(1);
            let prefix = apikey::split(&token).map_or("-", |(p, _)| p);
            tracing::info!(prefix, %source, reason = why.as_str(), "API key refused");
            return if why == Refusal::Source {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this API key may not be used from this address",
                )
                .into_response()
            } else {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the API key is unknown, revoked, expired or wrong",
                )
                .into_response()
            };
        }
    };
    let now = unix_now();
    let rate = grant.rate.unwrap_or(app.config.api_keys.rate_per_second);
    let (taken, touch) = app.api_keys.take(&grant.prefix, rate, now);
    if !taken.ok {
        metrics::counter!("headend_admin_refused_total", "reason" => "apikey_rate").increment(1);
        let mut resp = ApiError::too_many(taken.retry).into_response();
        rate_headers(resp.headers_mut(), &taken);
        return resp;
    }
    if touch {
        let store = app.store.clone();
        let prefix = grant.prefix.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.api_keys().api_key_touch(&prefix, now) {
                tracing::warn!(prefix, "cannot record the use of an API key: {e}");
            }
        });
    }
    req.extensions_mut().insert(grant);
    let mut resp = next.run(req).await;
    rate_headers(resp.headers_mut(), &taken);
    resp
}

/// A key as shown (never the secret or its hash).
fn view(r: &ApiKeyRecord, now: u64) -> ApiKeyView {
    ApiKeyView {
        allow: r.allow.clone(),
        created: r.created,
        created_by: r.created_by.clone(),
        expires: r.expires,
        last_used: r.last_used,
        live: r.revoked.is_none() && r.expires.is_none_or(|e| e > now),
        name: r.name.clone(),
        prefix: r.prefix.clone(),
        previous_valid_until: r.prev_until.filter(|&u| u > now),
        rate: r.rate,
        revoked: r.revoked,
        role: r.role.clone(),
        scopes: r.scopes.clone(),
    }
}

/// Keys are managed by admins whose role no scope narrows.
fn require_manager(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    caller.require_unscoped()
}

/// GET /api/v1/apikeys.
pub(crate) async fn list(State(app): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    require_manager(&caller)?;
    let rows = app.blocking(|s| s.api_keys().api_keys()).await?;
    let now = unix_now();
    Ok(Json(ApiKeysResponse {
        keys: rows.iter().map(|r| view(r, now)).collect(),
    })
    .into_response())
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// POST /api/v1/apikeys: makes a key and shows its secret, once.
pub(crate) async fn create(
    State(app): State<Shared>,
    caller: Caller,
    body: Result<Json<NewApiKeyRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_manager(&caller)?;
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"name\", \"role\", \"scopes\", \"expires\", \"allow\", \"rate\"}}: {}",
            e.body_text()
        ))
    })?;
    if !apikey::valid_name(&b.name) {
        return Err(ApiError::bad_request(
            "API key names are 1-64 characters of lower-case letters, digits and . _ -",
        ));
    }
    let scopes = Scopes::parse(&b.scopes).map_err(ApiError::bad_request)?;
    let allow = b
        .allow
        .iter()
        .map(|a| {
            a.parse::<IpNet>()
                .map(|n| n.trunc().to_string())
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "{a:?} is not an address prefix such as 192.0.2.0/24"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = unix_now();
    let expires = match &b.expires {
        None => None,
        Some(text) => Some(
            now + apikey::parse_duration(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{text:?} is not a lifetime such as 90d, 12h, 30m or 3600"
                ))
            })?,
        ),
    };
    if b.rate == Some(0) {
        return Err(ApiError::bad_request(
            "rate must be at least 1 request per second",
        ));
    }
    let key = apikey::make(random(), random());
    let record = ApiKeyRecord {
        prefix: key.prefix.clone(),
        name: b.name.clone(),
        role: b.role.as_str().to_owned(),
        scopes: scopes.to_strings(),
        allow,
        hash: key.hash.clone(),
        prev_hash: None,
        prev_until: None,
        rate: b.rate,
        created: now,
        created_by: caller.user.clone(),
        expires,
        last_used: None,
        revoked: None,
    };
    let r2 = record.clone();
    let added = app
        .blocking(move |s| s.api_keys().api_key_insert(&r2))
        .await?;
    app.audit(
        &caller.user,
        caller.source,
        "apikey.create",
        Some(format!("{} ({})", b.name, b.role)),
        if added { "ok" } else { "exists" },
        Some(format!(
            "prefix {} scopes [{}]",
            key.prefix,
            record.scopes.join(" ")
        )),
    )
    .await;
    if !added {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("an API key named {} exists", b.name),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyIssued {
            key: key.token,
            view: view(&record, now),
        }),
    )
        .into_response())
}

async fn named(app: &Shared, name: &str) -> Result<ApiKeyRecord, ApiError> {
    let n = name.to_owned();
    app.blocking(move |s| s.api_keys().api_key_named(&n))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no API key named {name}")))
}

/// POST /api/v1/apikeys/{name}/revoke: refused from the next request on
/// (on other servers of a shared store within [`FRESH`]).
pub(crate) async fn revoke(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    require_manager(&caller)?;
    let row = named(&app, &name).await?;
    let now = unix_now();
    let n = name.clone();
    let done = app
        .blocking(move |s| s.api_keys().api_key_revoke(&n, now))
        .await?;
    app.api_keys.forget(&row.prefix);
    app.audit(
        &caller.user,
        caller.source,
        "apikey.revoke",
        Some(name.clone()),
        if done { "ok" } else { "already revoked" },
        Some(format!("prefix {}", row.prefix)),
    )
    .await;
    Ok(Json(ApiKeyRevoked {
        name,
        revoked: done,
    })
    .into_response())
}

/// POST /api/v1/apikeys/{name}/rotate: a new secret; the old one keeps
/// working for the grace period.
pub(crate) async fn rotate(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    body: Option<Json<RotateApiKeyRequest>>,
) -> Result<Response, ApiError> {
    require_manager(&caller)?;
    let grace = match body.and_then(|Json(b)| b.grace) {
        None => app.config.api_keys.rotate_grace_secs,
        Some(t) if t.trim() == "0" => 0,
        Some(t) => apikey::parse_duration(&t).ok_or_else(|| {
            ApiError::bad_request(format!("{t:?} is not a period such as 1h, 30m or 0"))
        })?,
    };
    let row = named(&app, &name).await?;
    let key = apikey::with_secret(&row.prefix, random());
    let now = unix_now();
    let (n, hash) = (name.clone(), key.hash.clone());
    let done = app
        .blocking(move |s| s.api_keys().api_key_rotate(&n, &hash, now + grace))
        .await?;
    app.api_keys.forget(&row.prefix);
    app.audit(
        &caller.user,
        caller.source,
        "apikey.rotate",
        Some(name.clone()),
        if done { "ok" } else { "revoked" },
        Some(format!("prefix {}, old secret valid {grace} s", row.prefix)),
    )
    .await;
    if !done {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("API key {name} is revoked; make a new one"),
        ));
    }
    let row = named(&app, &name).await?;
    Ok(Json(ApiKeyIssued {
        key: key.token,
        view: view(&row, now),
    })
    .into_response())
}
