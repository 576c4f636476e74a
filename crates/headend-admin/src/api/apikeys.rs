//! API keys: how a request carrying one (`Authorization: Bearer hk_...` or
//! `X-API-Key: hk_...`) is checked (called by the gate of `limit`), and the
//! admin routes that create, list, revoke and rotate keys.
//!
//! Keys live in the store, so every server sharing it sees a revocation: a
//! server keeps a key's row at most [`FRESH`] before reading it again (a
//! revocation made through this server drops it at once).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use headend_store::ApiKeyRecord;
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

/// Key rows read lately, and when each key's use was last written.
#[derive(Default)]
pub(crate) struct KeyCache {
    rows: Mutex<HashMap<String, Cached>>,
    touched: Mutex<HashMap<String, u64>>,
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

    /// Whether the use of `prefix` at `now` is due to be written.
    fn touch_due(&self, prefix: &str, now: u64) -> bool {
        let mut t = self
            .touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.len() >= CACHE_MAX {
            t.clear();
        }
        let last = t.entry(prefix.to_owned()).or_insert(0);
        let due = now >= *last + TOUCH_EVERY;
        if due {
            *last = now;
        }
        due
    }
}

/// The key a request presents, if it presents one: `X-API-Key`, or a bearer
/// token of the key form (a JWT never starts with `hk_`).
pub(crate) fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(X_API_KEY) {
        return Some(v.to_str().unwrap_or("").trim());
    }
    bearer(headers).filter(|t| t.starts_with(apikey::KEY_TAG))
}

impl App {
    /// Checks a presented key: its row (fresh from the store at most
    /// [`FRESH`] ago), secret, revocation, expiry and allowed sources.
    pub(crate) async fn check_key(&self, token: &str, source: IpAddr) -> Result<Grant, Refusal> {
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

    /// Writes the key's `last_used` (at most every [`TOUCH_EVERY`] seconds).
    pub(crate) fn touch_key(&self, prefix: &str, now: u64) {
        if !self.api_keys.touch_due(prefix, now) {
            return;
        }
        let store = self.store.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.api_keys().api_key_touch(&prefix, now) {
                tracing::warn!(prefix, "cannot record the use of an API key: {e}");
            }
        });
    }
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
