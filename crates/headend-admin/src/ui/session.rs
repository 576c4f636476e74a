//! The console's cookie session, kept by the API's own login, refresh and
//! logout handlers (rate limit, lockout, rotation with reuse detection and
//! audit records included).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use serde::Deserialize;

use super::view::{self, Page};
use super::{safe_next, view::see_other};
use crate::api::auth::{self, LogoutQuery, cookie};
use crate::api::types::{LoginRequest, MfaDue, RefreshRequest, TokenResponse};
use crate::api::{Caller, Shared, Source, unix_now};
use crate::core::session::refresh_hash;

/// The access token's cookie.
pub(crate) const ACCESS_COOKIE: &str = "headend_ui";
/// The refresh token's cookie.
pub(crate) const REFRESH_COOKIE: &str = "headend_ui_refresh";
/// How long a rotated refresh token is still answered with its successor
/// (for requests the browser sent before it saw the new cookie).
const ROTATION_GRACE_SECS: u64 = 30;

/// Refresh tokens rotated in the last [`ROTATION_GRACE_SECS`], by hash: the
/// new pair, handed to a request of the same browser that was sent before
/// it saw the new cookies (instead of taking it for a reused token).
static REFRESHED: std::sync::LazyLock<tokio::sync::Mutex<HashMap<Vec<u8>, Rotated>>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(HashMap::new()));

/// The user of a console request (from the session's cookies).
#[derive(Debug, Clone)]
pub(crate) struct UiUser {
    /// The caller the API handlers are called with.
    pub(crate) caller: Caller,
    /// The access token in force (for logout).
    access: String,
    /// Unix time the session ends at the latest (0: unknown).
    pub(crate) session_ends: u64,
}

/// A refresh token's successor pair.
#[derive(Clone)]
pub(crate) struct Rotated {
    at: u64,
    access: String,
    refresh: String,
    access_ttl: u64,
}

fn set_cookie(name: &str, value: &str, max_age: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; Secure; SameSite=Strict; Path=/ui; Max-Age={max_age}"
    ))
    .ok()
}

/// `Set-Cookie` values that end the console session in the browser.
pub(crate) fn clear_cookies() -> Vec<HeaderValue> {
    [ACCESS_COOKIE, REFRESH_COOKIE]
        .iter()
        .filter_map(|n| set_cookie(n, "", 0))
        .collect()
}

fn pair_cookies(app: &Shared, access: &str, ttl: u64, refresh: &str) -> Vec<HeaderValue> {
    [
        set_cookie(ACCESS_COOKIE, access, ttl),
        set_cookie(REFRESH_COOKIE, refresh, app.sessions.absolute),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The token pair in a login or refresh answer of the API.
async fn token_pair(resp: Response) -> Option<TokenResponse> {
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .ok()?;
    serde_json::from_slice(&body).ok()
}

async fn user_of(
    app: &Shared,
    claims: crate::core::tokens::Claims,
    access: String,
    ip: IpAddr,
) -> Option<UiUser> {
    // Scopes the server wrote itself; unreadable ones end the session.
    let scopes = crate::core::scope::Scopes::parse(&claims.scopes).ok()?;
    let sid = claims.sid.clone();
    let session_ends = app
        .blocking(move |s| s.auth().family(&sid))
        .await
        .ok()
        .flatten()
        .map_or(0, |f| f.expires);
    Some(UiUser {
        caller: Caller {
            user: claims.sub,
            role: claims.role,
            sid: claims.sid,
            source: ip,
            scopes,
        },
        access,
        session_ends,
    })
}

/// The user of a request: its access cookie if still valid, else a
/// rotation of its refresh cookie (with the new cookies to set); `None`
/// when the session is over.
pub(crate) async fn resolve(
    app: &Shared,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Option<(UiUser, Vec<HeaderValue>)> {
    if let Some(access) = cookie(headers, ACCESS_COOKIE)
        && let Some(claims) = app.authenticate(&access)
    {
        return Some((user_of(app, claims, access, ip).await?, Vec::new()));
    }
    let refresh = cookie(headers, REFRESH_COOKIE)?;
    let rotated = rotate(app, ip, &refresh).await?;
    let claims = app.authenticate(&rotated.access)?;
    let cookies = pair_cookies(app, &rotated.access, rotated.access_ttl, &rotated.refresh);
    Some((user_of(app, claims, rotated.access, ip).await?, cookies))
}

/// Rotates `refresh` through the API's refresh handler, one at a time; a
/// token rotated in the last [`ROTATION_GRACE_SECS`] gets the same successor.
async fn rotate(app: &Shared, ip: IpAddr, refresh: &str) -> Option<Rotated> {
    let key = refresh_hash(refresh);
    let mut done = REFRESHED.lock().await;
    let now = unix_now();
    done.retain(|_, r| r.at + ROTATION_GRACE_SECS > now);
    if let Some(r) = done.get(&key) {
        return Some(r.clone());
    }
    let body = RefreshRequest {
        refresh_token: Some(refresh.to_owned()),
    };
    let resp = auth::refresh(
        State(Arc::clone(app)),
        Source(ip),
        HeaderMap::new(),
        Some(Json(body)),
    )
    .await
    .ok()?;
    let t = token_pair(resp).await?;
    let r = Rotated {
        at: now,
        access: t.access_token,
        refresh: t.refresh_token,
        access_ttl: t.expires_in,
    };
    done.insert(key, r.clone());
    Some(r)
}

/// `?next=&expired=&bye=` on the login page.
#[derive(Deserialize, Default)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    bye: Option<String>,
}

/// The login form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    /// The ticket of the password step, on the second step.
    mfa_ticket: Option<String>,
    /// `code` (a second factor is due) or `enrol` (a forced enrolment).
    mfa_step: Option<String>,
    /// The code typed on the second step.
    #[serde(default)]
    code: String,
}

/// GET /ui/login.
pub(crate) async fn login_page(State(app): State<Shared>, Query(q): Query<LoginQuery>) -> Response {
    let notice = if q.expired.is_some() {
        Some(
            "Your session ended before the form was sent; nothing was changed. Log in and send it again.",
        )
    } else if q.bye.is_some() {
        Some("You are logged out.")
    } else if q.next.is_some() {
        Some("Your session has ended; log in to go on.")
    } else {
        None
    };
    let next = safe_next(q.next.as_deref());
    Page::new("login.html")
        .with("sso", sso_href(&app, &next))
        .with("next", next)
        .with("notice", notice)
        .render()
}

/// The cookie that carries a console single sign-on login (state, PKCE
/// verifier, the page to go to) from its start to its end. `SameSite=Lax`:
/// the way back is a navigation started at the provider's site, on which a
/// browser sends no `Strict` cookie.
const SSO_COOKIE: &str = "headend_ui_sso";
/// Where the provider's answer comes back to the console.
const SSO_DONE: &str = "/ui/login/sso/done";

/// The link to the single sign-on start, when it is configured.
fn sso_href(app: &Shared, next: &str) -> Option<String> {
    app.oidc.as_ref().map(|_| {
        format!(
            "/ui/login/sso?next={}",
            crate::core::oidc::form_escape(next)
        )
    })
}

/// GET /ui/login/sso?next=: sends the browser to the provider.
pub(crate) async fn sso_start(
    State(app): State<Shared>,
    Source(ip): Source,
    Query(q): Query<LoginQuery>,
) -> Response {
    use base64::Engine as _;
    let next = safe_next(q.next.as_deref());
    let state = crate::core::oidc::random_token();
    let verifier = crate::core::oidc::random_token();
    let client = crate::core::oidc::ClientLeg {
        redirect_uri: SSO_DONE.to_owned(),
        state: state.clone(),
        challenge: crate::core::oidc::pkce_challenge(&verifier),
    };
    match crate::api::oidc::begin_console(&app, ip, client).await {
        Ok(mut resp) => {
            let next64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&next);
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SSO_COOKIE}={state}.{verifier}.{next64}; HttpOnly; Secure; SameSite=Lax; Path=/ui/login/sso; Max-Age=600"
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(e) => login_again(&next, "", e.status(), e.message()),
    }
}

/// The query of GET /ui/login/sso/done.
#[derive(Deserialize)]
pub(crate) struct SsoDone {
    code: Option<String>,
    state: Option<String>,
    error_description: Option<String>,
}

/// GET /ui/login/sso/done: the one-time code of a single sign-on login,
/// redeemed with the verifier of this browser's cookie; the session's
/// cookies, then the page the login started from.
pub(crate) async fn sso_done(
    State(app): State<Shared>,
    Source(ip): Source,
    headers: HeaderMap,
    Query(q): Query<SsoDone>,
) -> Response {
    use base64::Engine as _;
    let saved = cookie(&headers, SSO_COOKIE).unwrap_or_default();
    let mut parts = saved.splitn(3, '.');
    let (state, verifier, next64) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let next = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(next64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let next = safe_next(next.as_deref());
    let mut resp = if state.is_empty() || q.state.as_deref() != Some(state) {
        login_again(
            &next,
            "",
            StatusCode::BAD_REQUEST,
            "This single sign-on login was not started from this browser, or took too long; start it again.",
        )
    } else if let Some(code) = q.code.as_deref() {
        match crate::api::oidc::redeem_code(&app, ip, code, verifier).await {
            Ok(r) => match body_of(r)
                .await
                .and_then(|b| serde_json::from_slice::<TokenResponse>(&b).ok())
            {
                Some(t) => {
                    // A page, not a redirect: the session's cookies are
                    // SameSite=Strict, and the navigation that brought the
                    // browser here started at the provider's site.
                    let mut resp = Page::new("login.html")
                        .with("next", &next)
                        .with("sso_done", true)
                        .render();
                    for c in pair_cookies(&app, &t.access_token, t.expires_in, &t.refresh_token) {
                        resp.headers_mut().append(header::SET_COOKIE, c);
                    }
                    resp
                }
                None => login_again(
                    &next,
                    "",
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                ),
            },
            Err(e) => login_again(&next, "", e.status(), e.message()),
        }
    } else {
        let why = q.error_description.unwrap_or_default();
        login_again(
            &next,
            "",
            StatusCode::FORBIDDEN,
            &format!("Single sign-on refused: {why}"),
        )
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SSO_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/ui/login/sso; Max-Age=0"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// POST /ui/login: the API's login; on success the two cookies and a
/// redirect to `next`.
pub(crate) async fn login(
    State(app): State<Shared>,
    Source(ip): Source,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let again = |status: StatusCode, error: &str| {
        let mut resp = Page::new("login.html")
            .with("next", &next)
            .with("username", &f.username)
            .with("error", error)
            .render();
        *resp.status_mut() = status;
        resp
    };
    if let Some(ticket) = f.mfa_ticket.clone() {
        return second_step(&app, ip, &f, ticket, &next).await;
    }
    if f.username.is_empty() || f.password.is_empty() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your user name and password.",
        );
    }
    let request = LoginRequest {
        username: f.username.clone(),
        password: f.password.clone(),
    };
    match auth::login(State(Arc::clone(&app)), Source(ip), Ok(Json(request))).await {
        Ok(resp) => {
            let Some(body) = body_of(resp).await else {
                return again(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                );
            };
            if let Ok(due) = serde_json::from_slice::<MfaDue>(&body) {
                return mfa_page(&app, ip, &next, &f.username, due, None).await;
            }
            let Ok(t) = serde_json::from_slice::<TokenResponse>(&body) else {
                return again(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                );
            };
            signed_in(&app, &t, &next)
        }
        Err(e) => again(e.status(), e.message()),
    }
}

/// The redirect to `next` with the session's cookies; with recovery codes
/// (an enrolment just ended) a page showing them once instead.
fn signed_in(app: &Shared, t: &TokenResponse, next: &str) -> Response {
    let mut resp = match &t.recovery_codes {
        Some(codes) => Page::new("login.html")
            .with("next", next)
            .with("recovery_codes", codes)
            .render(),
        None => see_other(next),
    };
    for c in pair_cookies(app, &t.access_token, t.expires_in, &t.refresh_token) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The second step's form: the code, or (forced enrolment) the QR code and
/// the first code.
async fn mfa_page(
    app: &Shared,
    ip: IpAddr,
    next: &str,
    username: &str,
    due: MfaDue,
    error: Option<(StatusCode, &str)>,
) -> Response {
    let mut page = Page::new("login.html")
        .with("next", next)
        .with("username", username)
        .with("mfa_ticket", &due.mfa_ticket);
    if due.mfa_enrolment_required {
        let body = crate::api::types::MfaCodeRequest {
            mfa_ticket: Some(due.mfa_ticket.clone()),
            code: String::new(),
        };
        let enrol =
            crate::api::mfa::login_enrol(State(Arc::clone(app)), Source(ip), Ok(Json(body))).await;
        let e = match enrol {
            Ok(resp) => body_of(resp)
                .await
                .and_then(|b| serde_json::from_slice::<crate::api::types::MfaEnrolment>(&b).ok()),
            Err(e) => return view::plain_error(e.status(), e.message()),
        };
        let Some(e) = e else {
            return view::plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server log",
            );
        };
        page = page
            .with("mfa_step", "enrol")
            .with("qr_svg", &e.qr_svg)
            .with("otpauth_uri", &e.otpauth_uri)
            .with("secret", &e.secret);
    } else {
        page = page.with("mfa_step", "code");
    }
    let status = error.map_or(StatusCode::OK, |(s, _)| s);
    if let Some((_, msg)) = error {
        page = page.with("error", msg);
    }
    let mut resp = page.render();
    *resp.status_mut() = status;
    resp
}

/// POST /ui/login with a ticket: the code (or the first code of a forced
/// enrolment).
async fn second_step(
    app: &Shared,
    ip: IpAddr,
    f: &LoginForm,
    ticket: String,
    next: &str,
) -> Response {
    let enrol = f.mfa_step.as_deref() == Some("enrol");
    let body = crate::api::types::MfaCodeRequest {
        mfa_ticket: Some(ticket.clone()),
        code: f.code.clone(),
    };
    let answer = if enrol {
        crate::api::mfa::login_confirm(State(Arc::clone(app)), Source(ip), Ok(Json(body))).await
    } else {
        crate::api::mfa::login_code(State(Arc::clone(app)), Source(ip), Ok(Json(body))).await
    };
    match answer {
        Ok(resp) => {
            let t = body_of(resp)
                .await
                .and_then(|b| serde_json::from_slice::<TokenResponse>(&b).ok());
            match t {
                Some(t) => signed_in(app, &t, next),
                None => view::plain_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                ),
            }
        }
        // A wrong code with a live ticket: the same form again (an
        // enrolment keeps its pending seed: the QR code is not shown again,
        // so start over from the password).
        Err(e) if e.status() == StatusCode::UNAUTHORIZED && !enrol => {
            let now = unix_now();
            let live = app
                .mfa_tickets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&ticket, now)
                .is_some();
            if !live {
                return login_again(next, &f.username, e.status(), e.message());
            }
            let due = MfaDue {
                expires_in: 0,
                mfa_enrolment_required: false,
                mfa_required: true,
                mfa_ticket: ticket,
            };
            mfa_page(
                app,
                ip,
                next,
                &f.username,
                due,
                Some((e.status(), e.message())),
            )
            .await
        }
        Err(e) => login_again(next, &f.username, e.status(), e.message()),
    }
}

fn login_again(next: &str, username: &str, status: StatusCode, error: &str) -> Response {
    let mut resp = Page::new("login.html")
        .with("next", next)
        .with("username", username)
        .with("error", error)
        .render();
    *resp.status_mut() = status;
    resp
}

async fn body_of(resp: Response) -> Option<axum::body::Bytes> {
    axum::body::to_bytes(resp.into_body(), 256 * 1024)
        .await
        .ok()
}

/// POST /ui/logout: the API's logout of this session.
pub(crate) async fn logout(
    State(app): State<Shared>,
    Source(ip): Source,
    Extension(user): Extension<UiUser>,
) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", user.access)) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let done = auth::logout(
        State(Arc::clone(&app)),
        Source(ip),
        Query(LogoutQuery { all: false }),
        headers,
        None,
    )
    .await;
    if let Err(e) = done {
        return view::plain_error(e.status(), e.message());
    }
    let mut resp = see_other("/ui/login?bye=1");
    for c in clear_cookies() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp.into_response()
}
