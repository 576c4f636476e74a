//! Rate limits on every authenticated request: the gate in front of the
//! router that finds the principal (an API key, checked here, or a bearer
//! access token), takes tokens from its bucket and from the source
//! address's bucket, and answers the IETF `RateLimit-Policy` / `RateLimit`
//! headers (draft-ietf-httpapi-ratelimit-headers) on every answer; an empty
//! bucket is 429 with `Retry-After`. Expensive routes (the audit log, the
//! lease list) take `[admin.rate_limit] expensive_cost` tokens.
//!
//! Requests without credentials pass untouched: public routes have their
//! own limits (logins), and protected ones answer 401 anyway.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use headend_util::bucket::TokenBucket;

use super::{ApiError, Shared, apikeys, bearer, unix_now};
use crate::core::apikey::Refusal;
use crate::core::mtls::PeerCert;

/// Buckets held at most; when full, refilled ones are pruned.
const BUCKETS_MAX: usize = 20_000;

/// Routes that cost more than one token.
const EXPENSIVE: &[&str] = &["/api/v1/audit", "/api/v1/leases"];

/// Token buckets by principal and by source address.
pub(crate) struct Limits {
    buckets: Mutex<HashMap<String, TokenBucket>>,
    epoch: Instant,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

/// One bucket's answer.
#[derive(Debug, Clone)]
pub(crate) struct Taken {
    /// The policy's name in the headers (`key`, `user`, `address`).
    name: &'static str,
    ok: bool,
    limit: u32,
    remaining: u64,
    /// Seconds until the bucket is full again.
    reset: u64,
    /// Seconds until `cost` tokens are back (for `Retry-After`).
    retry: u64,
}

impl Limits {
    /// Takes `cost` tokens from bucket `key` (`per_second`, `burst`).
    pub(crate) fn take(
        &self,
        name: &'static str,
        key: &str,
        per_second: u32,
        burst: u32,
        cost: u32,
    ) -> Taken {
        let t = self.epoch.elapsed().as_secs_f64();
        let (per, cap) = (f64::from(per_second), f64::from(burst.max(cost)));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= BUCKETS_MAX && !buckets.contains_key(key) {
            buckets.retain(|_, b| !b.is_idle(t, per, cap));
        }
        let bucket = buckets
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::full(t, cap));
        let ok = bucket.level(t, per, cap) >= f64::from(cost)
            && (0..cost).all(|_| bucket.take(t, per, cap));
        let level = bucket.level(t, per, cap);
        Taken {
            name,
            ok,
            limit: burst,
            remaining: level.max(0.0).floor() as u64,
            reset: ((cap - level) / per).max(0.0).ceil() as u64,
            retry: ((f64::from(cost) - level) / per).max(0.0).ceil().max(1.0) as u64,
        }
    }
}

fn rate_headers(headers: &mut HeaderMap, t: &Taken) {
    let policy = format!("\"{}\";q={};w=1", t.name, t.limit);
    let state = format!("\"{}\";r={};t={}", t.name, t.remaining, t.reset);
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

fn too_many(t: &Taken) -> Response {
    metrics::counter!("headend_admin_refused_total", "reason" => format!("rate_{}", t.name))
        .increment(1);
    let mut resp = ApiError::too_many(t.retry).into_response();
    rate_headers(resp.headers_mut(), t);
    resp
}

/// The gate: see the module comment.
pub(crate) async fn gate(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let Some(source) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return next.run(req).await;
    };
    let cost = if EXPENSIVE.contains(&req.uri().path()) {
        app.config.rate_limit.expensive_cost
    } else {
        1
    };
    let rl = &app.config.rate_limit;
    let principal = if let Some(token) = apikeys::presented(req.headers()) {
        let token = token.to_owned();
        match app.check_key(&token, source).await {
            Ok(grant) => {
                let rate = grant.rate.unwrap_or(app.config.api_keys.rate_per_second);
                let taken =
                    app.limits
                        .take("key", &format!("key:{}", grant.prefix), rate, rate, cost);
                if taken.ok {
                    app.touch_key(&grant.prefix, unix_now());
                    req.extensions_mut().insert(grant);
                }
                taken
            }
            Err(why) => return refused_key(&token, source, why),
        }
    } else if let Some(token) = bearer(req.headers()) {
        let Some(claims) = app.authenticate(token) else {
            return next.run(req).await;
        };
        let taken = app.limits.take(
            "user",
            &format!("user:{}", claims.sub),
            rl.per_second,
            rl.burst,
            cost,
        );
        req.extensions_mut().insert(claims);
        taken
    } else if let Some(cert) = req.extensions().get::<PeerCert>().cloned() {
        // A verified client certificate, when no other credential is given.
        let Some(p) = app.cert_principal(&cert.0) else {
            return next.run(req).await;
        };
        let taken = app.limits.take(
            "cert",
            &format!("cert:{}", p.name),
            rl.per_second,
            rl.burst,
            cost,
        );
        req.extensions_mut().insert(p);
        taken
    } else {
        return next.run(req).await;
    };
    if !principal.ok {
        return too_many(&principal);
    }
    let address = app.limits.take(
        "address",
        &format!("addr:{source}"),
        rl.per_address_per_second,
        rl.per_address_burst,
        cost,
    );
    if !address.ok {
        return too_many(&address);
    }
    let mut resp = next.run(req).await;
    rate_headers(resp.headers_mut(), &principal);
    resp
}

fn refused_key(token: &str, source: std::net::IpAddr, why: Refusal) -> Response {
    metrics::counter!("headend_admin_apikey_rejected_total", "reason" => why.as_str()).increment(1);
    let prefix = crate::core::apikey::split(token).map_or("-", |(p, _)| p);
    tracing::info!(prefix, %source, reason = why.as_str(), "API key refused");
    if why == Refusal::Source {
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
    }
}
