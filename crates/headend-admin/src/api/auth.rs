//! POST /api/v1/auth/login, /refresh and /logout; the single sign-on
//! provider check at a refresh.

use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use headend_store::auth::{FamilyRecord, fold_username};
use serde::Deserialize;

use super::types::{LoginRequest, LogoutResponse, MfaDue, RefreshRequest, TokenResponse};
use super::{ApiError, REFRESH_COOKIE, Shared, Source, bearer, unix_now};
use crate::config::LocalLogin;
use crate::core::Role;
use crate::core::oidc::map_role;
use crate::core::session::{RefreshVerdict, log_prefix, new_id, new_refresh_token, refresh_hash};
use crate::core::totp::{TICKET_TTL, TicketPurpose};
use crate::oidc::{SsoError, SsoSession};

const GENERIC_LOGIN_FAILURE: &str = "invalid username or password";

/// `?all=true` on /logout.
#[derive(Deserialize)]
pub(crate) struct LogoutQuery {
    #[serde(default)]
    pub(crate) all: bool,
}

/// The per-address limit on login and refresh attempts. Refusals are
/// audited: the first of each minute and address at once, the rest as one
/// sum when the minute is over.
pub(crate) async fn rate_limit(
    app: &Shared,
    ip: IpAddr,
    action: &'static str,
) -> Result<(), ApiError> {
    let Err(not_until) = app.limiter.check_key(&ip) else {
        return Ok(());
    };
    metrics::counter!("headend_admin_refused_total", "reason" => "rate_limit").increment(1);
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    let entries = app
        .refusals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .refused(ip, action, unix_now());
    app.audit_refused(entries).await;
    Err(ApiError::too_many(wait.as_secs() + 1))
}

fn login_failed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        GENERIC_LOGIN_FAILURE,
    )
}

fn session_dead() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the refresh token is not valid; log in again",
    )
}

/// The refresh token of a request: from the JSON body, else from the cookie.
/// A cookie is accepted only with an `Origin` (or `Referer`) of this API:
/// a browser attaches cookies to cross-site requests, so without this check
/// another site could make a logged-in browser refresh or log out (CSRF).
fn presented_refresh(
    headers: &HeaderMap,
    body: &RefreshRequest,
) -> Result<Option<String>, ApiError> {
    if let Some(t) = &body.refresh_token {
        return Ok(Some(t.clone()));
    }
    let Some(token) = cookie(headers, REFRESH_COOKIE) else {
        return Ok(None);
    };
    let origin_ok = origin_is_own(headers);
    if !origin_ok {
        metrics::counter!("headend_admin_refused_total", "reason" => "csrf").increment(1);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a request authenticated by cookie must carry an Origin or Referer of this API",
        ));
    }
    Ok(Some(token))
}

/// True if the request's `Origin` (or, without one, its `Referer`) is this
/// API itself (`https://` + its `Host`): the check every request that a
/// cookie authenticates must pass, because a browser attaches cookies to
/// cross-site requests too (CSRF).
pub(crate) fn origin_is_own(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let own = format!("https://{host}");
    match headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) {
        Some(origin) => !host.is_empty() && origin == own,
        None => headers
            .get(header::REFERER)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|r| !host.is_empty() && (r == own || r.starts_with(&format!("{own}/")))),
    }
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn token_answer(
    access: String,
    expires_in: u64,
    refresh: &str,
    refresh_max_age: u64,
    recovery_codes: Option<Vec<String>>,
) -> Response {
    let cookie = format!(
        "{REFRESH_COOKIE}={refresh}; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age={refresh_max_age}"
    );
    let mut resp = Json(TokenResponse {
        access_token: access,
        expires_in,
        recovery_codes,
        refresh_token: refresh.to_owned(),
        token_type: "Bearer".to_owned(),
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn issue_access(
    app: &Shared,
    user: &str,
    role: Role,
    sid: &str,
    now: u64,
) -> Result<String, ApiError> {
    let mut claims = app.tokens.claims(user, role, sid, new_id(), now);
    let name = user.to_owned();
    claims.scopes = app
        .blocking(move |s| s.api_keys().user_scopes(&name))
        .await?;
    app.keys.load().signer(now).sign(&claims).map_err(|reason| {
        tracing::error!("cannot sign an access token: {reason}");
        ApiError::internal()
    })
}

/// POST /api/v1/auth/login.
pub(crate) async fn login(
    State(app): State<Shared>,
    Source(ip): Source,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    rate_limit(&app, ip, "login").await?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"username\", \"password\"}}: {}",
            e.body_text()
        ))
    })?;
    let username = fold_username(&body.username);
    let name = username.clone();
    let user = app.blocking(move |s| s.auth().user(&name)).await?;
    let now = unix_now();
    // A name without an account locks exactly like one with (same count,
    // same answer), so the lockout does not tell which names exist.
    let locked_until = match &user {
        Some(u) => u.locked_until,
        None => app
            .unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .locked_until(&username, now),
    };
    if locked_until > now {
        metrics::counter!("headend_admin_logins_total", "result" => "locked").increment(1);
        app.audit(
            if user.is_some() { &username } else { "-" },
            ip,
            "login",
            None,
            "locked",
            None,
        )
        .await;
        return Err(ApiError::too_many(locked_until - now));
    }
    let verified = app
        .passwords
        .verify(body.password, user.as_ref().map(|u| u.phc.clone()))
        .await
        .map_err(|e| {
            tracing::error!("{e}");
            ApiError::internal()
        })?;
    let role = user.as_ref().and_then(|u| Role::parse(&u.role));
    let (Some(u), Some(role), true) = (&user, role, verified.ok) else {
        metrics::counter!("headend_admin_logins_total", "result" => "failed").increment(1);
        if user.is_some() {
            let lockout = app.lockout;
            let name = username.clone();
            let count = app
                .blocking(move |s| {
                    s.auth()
                        .user_record_failure(&name, &|n| lockout.until(n, now))
                })
                .await?;
            tracing::info!(user = %username, %ip, failures = count.unwrap_or(0), "admin login failed");
        } else {
            let lockout = app.lockout;
            let count = app
                .unknown
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .failure(&username, &lockout, now);
            tracing::info!(%ip, failures = count, "admin login failed for an unknown user");
        }
        app.audit(
            if user.is_some() { &username } else { "-" },
            ip,
            "login",
            None,
            "failed",
            None,
        )
        .await;
        return Err(login_failed());
    };
    if u.disabled {
        metrics::counter!("headend_admin_logins_total", "result" => "disabled").increment(1);
        app.audit(&username, ip, "login", None, "disabled", None)
            .await;
        return Err(login_failed());
    }
    if !local_login_allowed(&app, role) {
        metrics::counter!("headend_admin_logins_total", "result" => "local_restricted")
            .increment(1);
        app.audit(&username, ip, "login", None, "local login restricted", None)
            .await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "local password logins are restricted here ([admin] local_login); sign in with single sign-on (headend ctl login --sso)",
        ));
    }
    // A second factor enrolled, or required for the role: the password
    // step ends with a short-lived ticket instead of a session.
    let name = username.clone();
    let mfa = app.blocking(move |s| s.mfa().mfa(&name)).await?;
    let enrolled = mfa.as_ref().is_some_and(|m| m.confirmed.is_some());
    if enrolled || app.config.require_mfa_for.contains(&role) {
        let purpose = if enrolled {
            TicketPurpose::Verify
        } else {
            TicketPurpose::Enrol
        };
        let ticket = app
            .mfa_tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .issue(&username, purpose, verified.rehash.clone(), now);
        metrics::counter!("headend_admin_logins_total", "result" => "mfa_due").increment(1);
        app.audit(
            &username,
            ip,
            "login",
            None,
            if enrolled {
                "second factor due"
            } else {
                "enrolment due"
            },
            None,
        )
        .await;
        return Ok(Json(MfaDue {
            expires_in: TICKET_TTL,
            mfa_enrolment_required: !enrolled,
            mfa_required: enrolled,
            mfa_ticket: ticket,
        })
        .into_response());
    }
    start_session(&app, &username, role, ip, now, verified.rehash, None).await
}

/// Refuses a local password login that `[admin] local_login` does not allow.
fn local_login_allowed(app: &Shared, role: Role) -> bool {
    match app.config.local_login {
        LocalLogin::All => true,
        LocalLogin::Admins => role == Role::Admin,
        LocalLogin::None => false,
    }
}

/// Starts a session like [`start_session`] for a login that passed
/// elsewhere (`how`, audited), and answers the session id too.
pub(crate) async fn start_session_sid(
    app: &Shared,
    username: &str,
    role: Role,
    ip: IpAddr,
    now: u64,
    how: &str,
) -> Result<(Response, String), ApiError> {
    session_inner(app, username, role, ip, now, None, None, Some(how)).await
}

/// Starts a session for `username` (both factors passed): a refresh-token
/// family, an access token, the audit entry; `recovery_codes` (just made at
/// enrolment) are shown once in the answer.
pub(crate) async fn start_session(
    app: &Shared,
    username: &str,
    role: Role,
    ip: IpAddr,
    now: u64,
    rehash: Option<String>,
    recovery_codes: Option<Vec<String>>,
) -> Result<Response, ApiError> {
    session_inner(app, username, role, ip, now, rehash, recovery_codes, None)
        .await
        .map(|(r, _)| r)
}

#[allow(clippy::too_many_arguments)]
async fn session_inner(
    app: &Shared,
    username: &str,
    role: Role,
    ip: IpAddr,
    now: u64,
    rehash: Option<String>,
    recovery_codes: Option<Vec<String>>,
    how: Option<&str>,
) -> Result<(Response, String), ApiError> {
    let username = username.to_owned();
    let (refresh, hash) = new_refresh_token();
    let family = FamilyRecord {
        id: new_id(),
        username: username.clone(),
        created: now,
        expires: app.sessions.family_expiry(now),
        last_used: now,
        source: Some(ip.to_string()),
        revoked: None,
        revoke_reason: None,
    };
    let sid = family.id.clone();
    let (name, rehashed) = (username.clone(), rehash.is_some());
    app.blocking(move |s| {
        s.auth().user_login_ok(&name, now, rehash.as_deref())?;
        s.auth().family_start(&family, &hash, now)
    })
    .await?;
    if rehashed {
        tracing::info!(user = %username, "password re-hashed with the configured Argon2 parameters");
    }
    let access = issue_access(app, &username, role, &sid, now).await?;
    metrics::counter!("headend_admin_logins_total", "result" => "ok").increment(1);
    tracing::info!(user = %username, %ip, session = log_prefix(&sid), "admin login");
    app.audit(
        &username,
        ip,
        "login",
        Some(format!("session {}", log_prefix(&sid))),
        "ok",
        how.map(str::to_owned),
    )
    .await;
    Ok((
        token_answer(
            access,
            app.tokens.ttl,
            &refresh,
            app.sessions.absolute,
            recovery_codes,
        ),
        sid,
    ))
}

/// POST /api/v1/auth/refresh: rotates the refresh token (RFC 9700 §4.14.2).
pub(crate) async fn refresh(
    State(app): State<Shared>,
    Source(ip): Source,
    headers: HeaderMap,
    body: Option<Json<RefreshRequest>>,
) -> Result<Response, ApiError> {
    rate_limit(&app, ip, "refresh").await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let presented = presented_refresh(&headers, &body)?.ok_or_else(session_dead)?;
    let old_hash = refresh_hash(&presented);
    let lookup_hash = old_hash.clone();
    let found = app
        .blocking(move |s| s.auth().refresh_lookup(&lookup_hash))
        .await?;
    let Some((token, family)) = found else {
        app.audit("-", ip, "refresh", None, "unknown token", None)
            .await;
        return Err(session_dead());
    };
    let now = unix_now();
    let mut verdict = app.sessions.judge(&token, &family, now);
    if verdict == RefreshVerdict::Rotate && family.username.starts_with(crate::oidc::SSO_PREFIX) {
        // Before the token is spent: a provider that cannot be reached
        // leaves the client its refresh token to try again.
        recheck(&app, &family, ip, now).await?;
    }
    let (new_refresh, new_hash) = new_refresh_token();
    if verdict == RefreshVerdict::Rotate {
        let (old, new) = (old_hash.clone(), new_hash.clone());
        let rotated = app
            .blocking(move |s| s.auth().refresh_rotate(&old, &new, now))
            .await?;
        if !rotated {
            // Spent by a concurrent request between lookup and rotation.
            verdict = RefreshVerdict::Reused;
        }
    }
    let user = family.username.clone();
    match verdict {
        RefreshVerdict::Rotate => {}
        RefreshVerdict::Reused => {
            let name = user.clone();
            let ids = app
                .blocking(move |s| {
                    s.auth()
                        .families_revoke_user(&name, now, "refresh token reuse")
                })
                .await?;
            app.revoke_in_cache(&ids, Some((&user, now)));
            app.revoke_in_cache(std::slice::from_ref(&family.id), None);
            tracing::warn!(
                security = true, user = %user, %ip, session = log_prefix(&family.id), revoked = ids.len(),
                "SECURITY: a rotated refresh token was presented again; every session of the user is revoked"
            );
            metrics::counter!("headend_admin_refresh_reuse_total").increment(1);
            app.audit(
                &user,
                ip,
                "refresh",
                Some(format!("session {}", log_prefix(&family.id))),
                "reuse detected",
                Some(format!("revoked {} session(s)", ids.len())),
            )
            .await;
            return Err(session_dead());
        }
        other => {
            app.audit(
                &user,
                ip,
                "refresh",
                Some(format!("session {}", log_prefix(&family.id))),
                "refused",
                Some(format!("{other:?}").to_lowercase()),
            )
            .await;
            return Err(session_dead());
        }
    }
    let name = user.clone();
    let record = app.blocking(move |s| s.auth().user(&name)).await?;
    let role = record
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| Role::parse(&u.role));
    let Some(role) = role else {
        return Err(session_dead());
    };
    let access = issue_access(&app, &user, role, &family.id, now).await?;
    metrics::counter!("headend_admin_refreshes_total").increment(1);
    app.audit(
        &user,
        ip,
        "refresh",
        Some(format!("session {}", log_prefix(&family.id))),
        "ok",
        None,
    )
    .await;
    Ok(token_answer(
        access,
        app.tokens.ttl,
        &new_refresh,
        family.expires.saturating_sub(now),
        None,
    ))
}

/// POST /api/v1/auth/logout[?all=true]: revokes the current session (named by
/// the access token or the refresh token), or every session of the user.
pub(crate) async fn logout(
    State(app): State<Shared>,
    Source(ip): Source,
    Query(q): Query<LogoutQuery>,
    headers: HeaderMap,
    body: Option<Json<RefreshRequest>>,
) -> Result<Response, ApiError> {
    let (user, sid) = if let Some(claims) = bearer(&headers).and_then(|t| app.authenticate(t)) {
        (claims.sub, claims.sid)
    } else {
        let body = body.map(|Json(b)| b).unwrap_or_default();
        let presented = presented_refresh(&headers, &body)?.ok_or_else(ApiError::unauthorized)?;
        let hash = refresh_hash(&presented);
        let found = app
            .blocking(move |s| s.auth().refresh_lookup(&hash))
            .await?;
        match found {
            Some((token, family)) if token.used.is_none() && family.revoked.is_none() => {
                (family.username, family.id)
            }
            _ => return Err(session_dead()),
        }
    };
    let now = unix_now();
    let ids = if q.all {
        let name = user.clone();
        app.blocking(move |s| s.auth().families_revoke_user(&name, now, "logout all"))
            .await?
    } else {
        let id = sid.clone();
        let done = app
            .blocking(move |s| s.auth().family_revoke(&id, now, "logout"))
            .await?;
        if done { vec![sid.clone()] } else { Vec::new() }
    };
    app.revoke_in_cache(&ids, None);
    if app.oidc.is_some() {
        for id in ids.iter().chain(std::iter::once(&sid)) {
            sso_forget(&app, id).await;
        }
    }
    app.revoke_in_cache(std::slice::from_ref(&sid), None);
    app.audit(
        &user,
        ip,
        if q.all { "logout.all" } else { "logout" },
        None,
        "ok",
        Some(format!("revoked {} session(s)", ids.len())),
    )
    .await;
    let mut resp = Json(LogoutResponse { revoked: ids.len() }).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "headend_refresh=; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age=0",
        ),
    );
    Ok(resp)
}

pub(crate) fn provider_down(e: &SsoError) -> ApiError {
    tracing::warn!("single sign-on: {e}");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "provider_unavailable",
        "the identity provider cannot be reached or answered something unusable; see the server log",
    )
}

/// Stores the role the provider's claims map to now.
pub(crate) async fn set_role(
    app: &Shared,
    user: &str,
    role: Role,
    now: u64,
) -> Result<(), ApiError> {
    let name = user.to_owned();
    app.blocking(move |s| s.auth().user_set_role(&name, role.as_str(), now))
        .await?;
    app.pin_role(user, Some(role));
    tracing::info!(user, %role, "single sign-on user's role follows the provider");
    Ok(())
}

/// Sets the scopes of single sign-on user `user` from the provider's
/// `claims` through `[admin.oidc] scope_map` (nothing when that map is
/// empty); a change kills the user's older access tokens.
pub(crate) async fn set_sso_scopes(
    app: &Shared,
    user: &str,
    claims: &serde_json::Map<String, serde_json::Value>,
    now: u64,
) -> Result<(), ApiError> {
    let Some(p) = &app.oidc else { return Ok(()) };
    if p.config.scope_map.is_empty() {
        return Ok(());
    }
    let claim = p
        .config
        .scope_claim
        .as_ref()
        .unwrap_or(&p.config.role_claim);
    let scopes = crate::core::oidc::map_scopes(claims, claim, &p.config.scope_map);
    let name = user.to_owned();
    let current = app
        .blocking(move |s| s.api_keys().user_scopes(&name))
        .await?;
    if current == scopes {
        return Ok(());
    }
    let (name, list) = (user.to_owned(), scopes.clone());
    app.blocking(move |s| s.api_keys().user_set_scopes(&name, &list, now))
        .await?;
    app.revocations
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .set_not_before(user, now);
    tracing::info!(user, scopes = %scopes.join(" "), "single sign-on user's scopes follow the provider");
    Ok(())
}

/// Before a single sign-on session's refresh token rotates: when the last
/// check is `recheck_minutes` old, asks the provider's userinfo endpoint
/// (with the provider's access token, renewed with its refresh token when
/// it expired) and maps the role again. A user the provider no longer
/// knows, or whose claim maps to no role, is refused and the session
/// revoked; a changed role is stored. The provider unreachable: 502, the
/// refresh token is not spent (the client may try again).
pub(crate) async fn recheck(
    app: &Shared,
    family: &FamilyRecord,
    ip: IpAddr,
    now: u64,
) -> Result<(), ApiError> {
    let Some(p) = app.oidc.clone() else {
        return Err(end(
            app,
            family,
            ip,
            now,
            "single sign-on is no longer configured",
        )
        .await);
    };
    let Some(mut s) = sso_session(app, &family.id).await? else {
        return Err(end(
            app,
            family,
            ip,
            now,
            "the single sign-on session is not known to this server (restarted?)",
        )
        .await);
    };
    if !crate::core::oidc::recheck_due(s.checked, now, p.config.recheck_secs()) {
        return Ok(());
    }
    let mut info = p
        .userinfo(&s.access_token, now)
        .await
        .map_err(|e| provider_down(&e))?;
    if info.is_none()
        && let Some(rt) = s.refresh_token.clone()
    {
        match p.refresh(&rt, now).await {
            Ok(t) => {
                s.access_token = t.access_token;
                if t.refresh_token.is_some() {
                    s.refresh_token = t.refresh_token;
                }
                info = p
                    .userinfo(&s.access_token, now)
                    .await
                    .map_err(|e| provider_down(&e))?;
            }
            Err(SsoError::Denied(_)) => {}
            Err(e) => return Err(provider_down(&e)),
        }
    }
    let Some(info) = info else {
        return Err(end(
            app,
            family,
            ip,
            now,
            "the provider no longer accepts the session",
        )
        .await);
    };
    if info.get("sub").and_then(serde_json::Value::as_str) != Some(s.sub.as_str()) {
        return Err(end(app, family, ip, now, "userinfo is for another subject").await);
    }
    let Some(role) = map_role(&info, &p.config.role_claim, &p.config.role_map) else {
        return Err(end(
            app,
            family,
            ip,
            now,
            "the provider's claims no longer map to a role",
        )
        .await);
    };
    let name = family.username.clone();
    let record = app.blocking(move |st| st.auth().user(&name)).await?;
    if record.as_ref().and_then(|u| Role::parse(&u.role)) != Some(role) {
        set_role(app, &family.username, role, now).await?;
    }
    set_sso_scopes(app, &family.username, &info, now).await?;
    s.checked = now;
    sso_keep(app, &family.id, &s).await?;
    Ok(())
}

/// Revokes a single sign-on session the provider no longer backs; answers
/// the refusal.
async fn end(app: &Shared, family: &FamilyRecord, ip: IpAddr, now: u64, why: &str) -> ApiError {
    let id = family.id.clone();
    let _ = app
        .blocking(move |s| s.auth().family_revoke(&id, now, "single sign-on refused"))
        .await;
    app.revoke_in_cache(std::slice::from_ref(&family.id), None);
    sso_forget(app, &family.id).await;
    tracing::info!(user = %family.username, %ip, session = log_prefix(&family.id), "single sign-on refresh refused: {why}");
    app.audit(
        &family.username,
        ip,
        "refresh",
        Some(format!("session {}", log_prefix(&family.id))),
        "refused",
        Some(why.to_owned()),
    )
    .await;
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("{why}; log in again with single sign-on"),
    )
}

/// Stores (or replaces) the provider tokens of single sign-on session
/// `sid`, sealed with the KEK: every server sharing the store, and this one
/// after a restart, can check the user with the provider again.
pub(crate) async fn sso_keep(app: &Shared, sid: &str, s: &SsoSession) -> Result<(), ApiError> {
    let rec = s.seal(&app.kek, sid);
    let kept = app.blocking(move |st| st.sso().sso_put(&rec)).await?;
    if !kept {
        tracing::warn!(
            session = log_prefix(sid),
            "single sign-on session ended before its tokens were kept"
        );
    }
    Ok(())
}

/// The provider tokens of single sign-on session `sid`; `None` if the store
/// holds none, or holds some this server's KEK cannot open.
async fn sso_session(app: &Shared, sid: &str) -> Result<Option<SsoSession>, ApiError> {
    let id = sid.to_owned();
    let Some(rec) = app.blocking(move |st| st.sso().sso_get(&id)).await? else {
        return Ok(None);
    };
    let s = SsoSession::open(&app.kek, &rec);
    if s.is_none() {
        tracing::error!(
            session = log_prefix(sid),
            kek = %rec.kek_id,
            "cannot open a single sign-on session's tokens (sealed with another key?)"
        );
    }
    Ok(s)
}

/// Forgets the provider tokens of session `sid` (a store error is logged:
/// the row goes with its family anyway).
async fn sso_forget(app: &Shared, sid: &str) {
    let id = sid.to_owned();
    let _ = app.blocking(move |st| st.sso().sso_delete(&id)).await;
}
