//! Single sign-on: GET /api/v1/auth/oidc/start, GET
//! /api/v1/auth/oidc/callback and POST /api/v1/auth/oidc/token (the
//! provider check at a session's refresh is in `auth`).
//!
//! A native client (`headend ctl login --sso`) listens on a loopback port
//! (RFC 8252 §7.3) and sends the browser to `start` with its redirect URI,
//! its own `state` and a PKCE challenge. This server runs the code flow
//! with the provider (its own state, nonce and PKCE), and on success sends
//! the browser back to the client's loopback URI with a one-time code. The
//! client exchanges that code, with its PKCE verifier, at `token` for the
//! same answer as a password login. No token travels in a URL.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use headend_store::auth::UserRecord;
use serde::Deserialize;

use super::auth::{provider_down, rate_limit, set_role, set_sso_scopes, start_session_sid};
use super::types::SsoTokenRequest;
use super::{ApiError, Shared, Source, unix_now};
use crate::core::Role;
use crate::core::oidc::{
    ClientLeg, form_escape, loopback_redirect, map_role, user_name, valid_challenge,
};
use crate::oidc::{Grant, Provider, SSO_PHC, SsoSession};

/// The query of GET /api/v1/auth/oidc/start.
#[derive(Deserialize)]
pub(crate) struct StartQuery {
    redirect_uri: String,
    #[serde(default)]
    state: String,
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
}

/// The query of GET /api/v1/auth/oidc/callback.
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    /// The issuer of the answer (RFC 9207), when the provider sends it.
    #[serde(default)]
    iss: Option<String>,
}

fn provider(app: &Shared) -> Result<Arc<Provider>, ApiError> {
    app.oidc.clone().ok_or_else(|| {
        ApiError::not_found("single sign-on is not configured ([admin.oidc] is absent)")
    })
}

fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// GET /api/v1/auth/oidc/start: sends the browser to the provider.
pub(crate) async fn start(
    State(app): State<Shared>,
    Source(ip): Source,
    Query(q): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let p = provider(&app)?;
    rate_limit(&app, ip, "login.sso").await?;
    if !loopback_redirect(&q.redirect_uri) {
        return Err(ApiError::bad_request(
            "redirect_uri must be a loopback URI: http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH (RFC 8252)",
        ));
    }
    if q.code_challenge_method != "S256" || !valid_challenge(&q.code_challenge) {
        return Err(ApiError::bad_request(
            "a PKCE code_challenge (43 base64url characters) with code_challenge_method=S256 is required",
        ));
    }
    if q.state.len() > 256 {
        return Err(ApiError::bad_request("state is longer than 256 characters"));
    }
    begin(
        &p,
        ClientLeg {
            redirect_uri: q.redirect_uri,
            state: q.state,
            challenge: q.code_challenge,
        },
    )
    .await
}

/// Starts a login for `client` (a loopback client, or the console): the
/// 302 to the provider.
async fn begin(p: &Provider, client: ClientLeg) -> Result<Response, ApiError> {
    let now = unix_now();
    let d = p.discovery(now).await.map_err(|e| provider_down(&e))?;
    let url = p
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .start_for(
            &d.authorization_endpoint,
            &p.config.client_id,
            &p.config.redirect_uri,
            &p.scopes(),
            client,
            now,
        );
    Ok(see_other(&url))
}

/// The console's start (GET /ui/login/sso): the login comes back to
/// `redirect_uri` (a path of the console) with the one-time code.
pub(crate) async fn begin_console(
    app: &Shared,
    ip: std::net::IpAddr,
    client: ClientLeg,
) -> Result<Response, ApiError> {
    let p = provider(app)?;
    rate_limit(app, ip, "login.sso").await?;
    begin(&p, client).await
}

/// The client's loopback URI with `params` added.
fn back_to(client: &ClientLeg, params: &[(&str, &str)]) -> Response {
    let mut url = client.redirect_uri.clone();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params.iter().chain(&[("state", client.state.as_str())]) {
        url.push(sep);
        url.push_str(k);
        url.push('=');
        url.push_str(&form_escape(v));
        sep = '&';
    }
    see_other(&url)
}

/// GET /api/v1/auth/oidc/callback: the provider's answer. On success the
/// browser goes back to the client with a one-time code; on a refusal with
/// `error=access_denied` and the reason.
pub(crate) async fn callback(
    State(app): State<Shared>,
    Source(ip): Source,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let p = provider(&app)?;
    rate_limit(&app, ip, "login.sso").await?;
    let now = unix_now();
    let pending = p
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take(q.state.as_deref().unwrap_or(""), now);
    let pending = match pending {
        Ok(pending) => pending,
        Err(e) => {
            metrics::counter!("headend_admin_logins_total", "result" => "sso_refused").increment(1);
            app.audit("-", ip, "login.sso", None, "refused", Some(e.to_string()))
                .await;
            return Err(ApiError::bad_request(format!("{e}: start the login again")));
        }
    };
    let client = pending.client.clone();
    let refuse = |reason: String| {
        let app = Arc::clone(&app);
        let client = client.clone();
        async move {
            metrics::counter!("headend_admin_logins_total", "result" => "sso_refused").increment(1);
            tracing::info!(%ip, "single sign-on refused: {reason}");
            app.audit("-", ip, "login.sso", None, "refused", Some(reason.clone()))
                .await;
            Ok(back_to(
                &client,
                &[("error", "access_denied"), ("error_description", &reason)],
            ))
        }
    };
    // RFC 9207: an answer naming another issuer is a mix-up attack.
    if q.iss.as_deref().is_some_and(|iss| iss != p.config.issuer) {
        return refuse("the answer names another issuer (iss)".into()).await;
    }
    if let Some(error) = q.error {
        let why = q.error_description.unwrap_or_default();
        return refuse(format!("the provider answered {error}: {why}")).await;
    }
    let Some(code) = q.code else {
        return refuse("the provider sent no code".into()).await;
    };
    let tokens = match p
        .exchange(&code, &pending.redirect_uri, &pending.verifier, now)
        .await
    {
        Ok(t) => t,
        Err(e) => return refuse(e.to_string()).await,
    };
    let Some(id_token) = tokens.id_token.clone() else {
        return refuse("the provider sent no ID token".into()).await;
    };
    let mut claims = match p.verify(&id_token, &pending.nonce, now).await {
        Ok(c) => c,
        Err(e) => return refuse(e.to_string()).await,
    };
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // Providers often put groups and names in userinfo only.
    if !claims.contains_key(&p.config.role_claim) || !claims.contains_key("preferred_username") {
        match p.userinfo(&tokens.access_token, now).await {
            Ok(Some(info)) => {
                if info.get("sub").and_then(serde_json::Value::as_str) != Some(sub.as_str()) {
                    return refuse("userinfo is for another subject".into()).await;
                }
                for (k, v) in info {
                    claims.entry(k).or_insert(v);
                }
            }
            Ok(None) => return refuse("userinfo refused the provider's own token".into()).await,
            Err(e) => return refuse(e.to_string()).await,
        }
    }
    let Some(role) = map_role(&claims, &p.config.role_claim, &p.config.role_map) else {
        return refuse(format!(
            "the provider's {} claim maps to no role here (role_map)",
            p.config.role_claim
        ))
        .await;
    };
    let Some(user) = user_name(&claims) else {
        return refuse("the ID token names no user".into()).await;
    };
    if let Err(reason) = upsert_user(&app, &user, role, now).await? {
        app.audit(
            &user,
            ip,
            "login.sso",
            None,
            "refused",
            Some(reason.clone()),
        )
        .await;
        return refuse(reason).await;
    }
    set_sso_scopes(&app, &user, &claims, now).await?;
    let grant = Grant {
        user,
        role,
        sso: SsoSession {
            sub,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            checked: now,
            started: now,
        },
    };
    let code = p
        .handoffs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .issue(grant, &client.challenge, now);
    Ok(back_to(&client, &[("code", &code)]))
}

/// Creates the user `sso:NAME` at its first login, or brings its role in
/// line with the provider's. `Ok(Err(reason))`: refused (disabled here, or
/// a local account of that name).
async fn upsert_user(
    app: &Shared,
    user: &str,
    role: Role,
    now: u64,
) -> Result<Result<(), String>, ApiError> {
    let name = user.to_owned();
    let record = app.blocking(move |s| s.auth().user(&name)).await?;
    match record {
        None => {
            let rec = UserRecord::new(user, SSO_PHC, role.as_str(), now);
            let added = app.blocking(move |s| s.auth().user_insert(&rec)).await?;
            if !added {
                return Ok(Err("the user was created concurrently; try again".into()));
            }
            tracing::info!(user, %role, "single sign-on user created");
        }
        Some(u) if u.phc != SSO_PHC => {
            return Ok(Err(format!("{user} is a local account here")));
        }
        Some(u) if u.disabled => return Ok(Err(format!("{user} is disabled here"))),
        Some(u) if Role::parse(&u.role) != Some(role) => {
            set_role(app, user, role, now).await?;
        }
        Some(_) => {}
    }
    Ok(Ok(()))
}

/// POST /api/v1/auth/oidc/token: the one-time code and its PKCE verifier
/// for a session (the same answer as a password login).
pub(crate) async fn token(
    State(app): State<Shared>,
    Source(ip): Source,
    body: Result<Json<SsoTokenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = provider(&app)?;
    rate_limit(&app, ip, "login.sso").await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"code\", \"code_verifier\"}}: {}",
            e.body_text()
        ))
    })?;
    redeem(&app, &p, ip, &body.code, &body.code_verifier).await
}

/// Redeems a one-time code with its verifier: the session's token answer.
pub(crate) async fn redeem_code(
    app: &Shared,
    ip: std::net::IpAddr,
    code: &str,
    verifier: &str,
) -> Result<Response, ApiError> {
    let p = provider(app)?;
    rate_limit(app, ip, "login.sso").await?;
    redeem(app, &p, ip, code, verifier).await
}

async fn redeem(
    app: &Shared,
    p: &Provider,
    ip: std::net::IpAddr,
    code: &str,
    verifier: &str,
) -> Result<Response, ApiError> {
    let now = unix_now();
    let grant = p
        .handoffs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .redeem(code, verifier, now);
    let grant = match grant {
        Ok(g) => g,
        Err(e) => {
            app.audit("-", ip, "login.sso", None, "refused", Some(e.to_string()))
                .await;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                e.to_string(),
            ));
        }
    };
    let (resp, sid) =
        start_session_sid(app, &grant.user, grant.role, ip, now, "single sign-on").await?;
    super::auth::sso_keep(app, &sid, &grant.sso).await?;
    Ok(resp)
}
