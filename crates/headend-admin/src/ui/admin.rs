//! The audit log (filters, CSV export), users and sessions (admins), and the
//! user's own account (password change, own sessions).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use headend_store::auth::{AuditRecord, fold_username};
use serde::{Deserialize, Serialize};

use super::UiUser;
use super::view::{Page, done_message, error_page, query_escape, see_other};
use crate::api::types::{NewUserRequest, PasswordRequest, RoleRequest};
use crate::api::{Shared, Source, unix_now, users as api};
use crate::core::Role;

/// Audit entries read for the page's filters (the newest ones).
const AUDIT_WINDOW: u32 = 10_000;
/// Audit entries per page.
const AUDIT_PER_PAGE: usize = 100;

fn store_failed(user: &UiUser) -> Response {
    error_page(
        user,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
}

/// `?done=` after a successful form.
#[derive(Deserialize, Default)]
pub(crate) struct Done {
    done: Option<String>,
}

// -------------------------------------------------------------------- audit

/// The audit filters.
#[derive(Deserialize, Serialize, Default, Clone)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    format: String,
    page: Option<usize>,
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DDTHH:MM[:SS]` (UTC) as unix
/// seconds; `end` takes the last second of a bare date.
fn parse_utc(s: &str, end: bool) -> Option<u64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, mo, da) = (
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<i64>().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) || y < 1970 {
        return None;
    }
    let day = headend_util::time::from_civil(y, mo, da) * 86_400;
    let secs = match time {
        None if end => 86_399,
        None => 0,
        Some(t) => {
            let mut p = t.trim_end_matches('Z').split(':');
            let h = p.next()?.parse::<i64>().ok()?;
            let m = p.next()?.parse::<i64>().ok()?;
            let sec = p.next().map_or(Some(0), |x| x.parse::<i64>().ok())?;
            if h > 23 || m > 59 || sec > 59 {
                return None;
            }
            h * 3600 + m * 60 + sec
        }
    };
    u64::try_from(day + secs).ok()
}

/// The filtered entries, or the message of each field that is not valid.
fn audit_filter(
    q: &AuditQuery,
    rows: Vec<AuditRecord>,
) -> Result<Vec<AuditRecord>, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let since = match q.since.trim() {
        "" => None,
        s => parse_utc(s, false).or_else(|| {
            errors.push((
                "since",
                format!("{s:?}: write a UTC time as 2026-12-31 or 2026-12-31 23:59"),
            ));
            None
        }),
    };
    let until = match q.until.trim() {
        "" => None,
        s => parse_utc(s, true).or_else(|| {
            errors.push((
                "until",
                format!("{s:?}: write a UTC time as 2026-12-31 or 2026-12-31 23:59"),
            ));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let user = fold_username(q.user.trim());
    let action = q.action.trim().to_ascii_lowercase();
    Ok(rows
        .into_iter()
        .filter(|r| user.is_empty() || fold_username(&r.actor) == user)
        .filter(|r| action.is_empty() || r.action.to_ascii_lowercase().starts_with(&action))
        .filter(|r| since.is_none_or(|s| r.at >= s))
        .filter(|r| until.is_none_or(|u| r.at <= u))
        .collect())
}

/// One CSV field (RFC 4180 quoting; a leading `= + - @` is prefixed with
/// `'` so a spreadsheet does not run it as a formula).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The entries as CSV, with a header line.
fn audit_csv(rows: &[AuditRecord]) -> String {
    let mut out = String::from("id,time_utc,actor,source,action,target,result,detail\r\n");
    for r in rows {
        let at = headend_util::time::rfc3339(i64::try_from(r.at).unwrap_or(i64::MAX));
        let fields = [
            r.id.to_string(),
            at,
            r.actor.clone(),
            r.source.clone().unwrap_or_default(),
            r.action.clone(),
            r.target.clone().unwrap_or_default(),
            r.result.clone(),
            r.detail.clone().unwrap_or_default(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// GET /ui/audit[?user=&action=&since=&until=&format=csv]: admins only, as
/// GET /api/v1/audit.
pub(crate) async fn audit(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Query(q): Query<AuditQuery>,
) -> Response {
    if let Err(e) = user.caller.require(Role::Admin) {
        return error_page(&user, e.status(), e.message());
    }
    let Ok(rows) = app.blocking(|s| s.auth().audit(AUDIT_WINDOW)).await else {
        return store_failed(&user);
    };
    let page = Page::of("audit.html", &user, "audit").with("q", &q);
    let rows = match audit_filter(&q, rows) {
        Ok(r) => r,
        Err(errors) => {
            return page
                .with(
                    "errors",
                    errors
                        .into_iter()
                        .collect::<std::collections::BTreeMap<_, _>>(),
                )
                .status(StatusCode::UNPROCESSABLE_ENTITY)
                .render();
        }
    };
    if q.format == "csv" {
        let mut resp = audit_csv(&rows).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"headend-audit.csv\""),
        );
        return resp;
    }
    let total = rows.len();
    let pages = total.div_ceil(AUDIT_PER_PAGE).max(1);
    let current = q.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<_> = rows
        .into_iter()
        .skip((current - 1) * AUDIT_PER_PAGE)
        .take(AUDIT_PER_PAGE)
        .map(crate::api::types::AuditEntry::from)
        .collect();
    let query = [
        ("user", &q.user),
        ("action", &q.action),
        ("since", &q.since),
        ("until", &q.until),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", query_escape(v)))
    .collect::<Vec<_>>()
    .join("&");
    page.with("entries", shown)
        .with("total", total)
        .with("window", AUDIT_WINDOW)
        .with("page", current)
        .with("pages", pages)
        .with("query", query)
        .render()
}

// -------------------------------------------------------------------- users

/// The add-user form.
#[derive(Deserialize, Serialize, Default, Clone)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default, skip_serializing)]
    password: String,
}

async fn users_page(
    app: &Shared,
    user: &UiUser,
    form: &NewUserForm,
    errors: std::collections::BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    if let Err(e) = user.caller.require(Role::Admin) {
        return error_page(user, e.status(), e.message());
    }
    let now = unix_now();
    let Ok((users, sessions, mfa)) = app
        .blocking(move |s| {
            Ok((
                s.auth().users()?,
                s.auth().families(None, Some(now))?,
                s.mfa().mfa_users()?,
            ))
        })
        .await
    else {
        return store_failed(user);
    };
    let users: Vec<_> = users
        .iter()
        .map(|u| api::user_view(u, now, mfa.binary_search(&u.username).is_ok()))
        .collect();
    let sessions: Vec<_> = sessions
        .iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id, "short": crate::core::session::log_prefix(&f.id), "user": f.username,
                "source": f.source, "created": f.created, "last_used": f.last_used,
                "expires": f.expires, "current": f.id == user.caller.sid,
            })
        })
        .collect();
    Page::of("users.html", user, "users")
        .with("users", users)
        .with("sessions", sessions)
        .with("form", form)
        .with("errors", errors)
        .with("roles", ["viewer", "operator", "admin"])
        .with("notice", notice)
        .status(status)
        .render()
}

/// GET /ui/users: users, live sessions, the add form (admins).
pub(crate) async fn users(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Query(d): Query<Done>,
) -> Response {
    users_page(
        &app,
        &user,
        &NewUserForm::default(),
        Default::default(),
        done_message(d.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

/// POST /ui/users: the API's user add.
pub(crate) async fn add_user(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Form(f): Form<NewUserForm>,
) -> Response {
    let mut errors = std::collections::BTreeMap::new();
    if !crate::api::valid_username(f.username.trim()) {
        errors.insert(
            "username",
            "user names are 1-64 characters of letters, digits and . _ @ -".to_owned(),
        );
    }
    let role = Role::parse(&f.role);
    if role.is_none() {
        errors.insert("role", "choose a role".to_owned());
    }
    if f.password.chars().count() < api::MIN_PASSWORD_LEN {
        errors.insert(
            "password",
            format!(
                "passwords need at least {} characters",
                api::MIN_PASSWORD_LEN
            ),
        );
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        return users_page(
            &app,
            &user,
            &f,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let request = NewUserRequest {
        username: f.username.trim().to_owned(),
        password: f.password.clone(),
        role,
    };
    match api::add(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Ok(Json(request)),
    )
    .await
    {
        Ok(_) => see_other("/ui/users?done=user-added"),
        Err(e) => {
            let field = if e.status() == StatusCode::CONFLICT {
                "username"
            } else {
                "form"
            };
            errors.insert(field, e.message().to_owned());
            users_page(&app, &user, &f, errors, None, e.status()).await
        }
    }
}

/// The role form.
#[derive(Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    role: String,
}

/// POST /ui/users/{name}/role: the API's role change.
pub(crate) async fn set_role(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(name): Path<String>,
    Form(f): Form<RoleForm>,
) -> Response {
    let Some(role) = Role::parse(&f.role) else {
        return error_page(&user, StatusCode::UNPROCESSABLE_ENTITY, "choose a role");
    };
    match api::set_role(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path(name),
        Ok(Json(RoleRequest { role })),
    )
    .await
    {
        Ok(_) => see_other("/ui/users?done=role-changed"),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

/// GET /ui/users/{name}/delete: asks first (deletion cannot be undone).
pub(crate) async fn delete_user_confirm(
    Extension(user): Extension<UiUser>,
    Path(name): Path<String>,
) -> Response {
    if let Err(e) = user.caller.require(Role::Admin) {
        return error_page(&user, e.status(), e.message());
    }
    Page::of("confirm.html", &user, "users")
        .with("title", format!("Delete the user {name}"))
        .with(
            "message",
            format!(
                "Delete {name}? Their sessions and the API keys they made are revoked at once; the audit log keeps their entries. This cannot be undone."
            ),
        )
        .with("action", format!("/ui/users/{}/delete", super::view::segment(&name)))
        .with("button", "Delete the user")
        .with("cancel", "/ui/users")
        .render()
}

/// POST /ui/users/{name}/delete.
pub(crate) async fn delete_user(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(name): Path<String>,
) -> Response {
    match api::delete_user(State(Arc::clone(&app)), user.caller.clone(), Path(name)).await {
        Ok(_) => see_other("/ui/users?done=user-deleted"),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

/// POST /ui/account/mfa: starts enrolling the user's own second factor
/// (the QR code and the first-code form on the account page).
pub(crate) async fn mfa_enrol(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
) -> Response {
    let me = user.caller.user.clone();
    let answer =
        crate::api::mfa::user_enrol(State(Arc::clone(&app)), user.caller.clone(), Path(me)).await;
    let e = match answer {
        Ok(resp) => axum::body::to_bytes(resp.into_body(), 256 * 1024)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok()),
        Err(e) => return error_page(&user, e.status(), e.message()),
    };
    let Some(e) = e else {
        return store_failed(&user);
    };
    account_page_with(
        &app,
        &user,
        Default::default(),
        None,
        StatusCode::OK,
        Some(e),
        None,
    )
    .await
}

/// The first-code form.
#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    code: String,
}

/// POST /ui/account/mfa/confirm: confirms the enrolment; the recovery codes
/// are shown once.
pub(crate) async fn mfa_confirm(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Form(f): Form<CodeForm>,
) -> Response {
    let me = user.caller.user.clone();
    let body = crate::api::types::MfaCodeRequest {
        mfa_ticket: None,
        code: f.code,
    };
    let answer = crate::api::mfa::user_confirm(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path(me),
        Ok(Json(body)),
    )
    .await;
    match answer {
        Ok(resp) => {
            let done: Option<crate::api::types::MfaConfirmed> =
                axum::body::to_bytes(resp.into_body(), 64 * 1024)
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
            let Some(done) = done else {
                return store_failed(&user);
            };
            account_page_with(
                &app,
                &user,
                Default::default(),
                None,
                StatusCode::OK,
                None,
                Some(done.recovery_codes),
            )
            .await
        }
        Err(e) => {
            let mut errors = std::collections::BTreeMap::new();
            errors.insert(
                "code",
                format!("{} (start the enrolment again)", e.message()),
            );
            account_page(&app, &user, errors, None, e.status()).await
        }
    }
}

/// POST /ui/users/{name}/disable.
pub(crate) async fn disable(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(name): Path<String>,
) -> Response {
    match api::disable(State(Arc::clone(&app)), user.caller.clone(), Path(name)).await {
        Ok(_) => see_other("/ui/users?done=user-disabled"),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

/// POST /ui/users/{name}/enable.
pub(crate) async fn enable(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(name): Path<String>,
) -> Response {
    match api::enable(State(Arc::clone(&app)), user.caller.clone(), Path(name)).await {
        Ok(_) => see_other("/ui/users?done=user-enabled"),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

/// POST /ui/sessions/{id}/revoke: the API's session revoke (own sessions,
/// or any for admins).
pub(crate) async fn revoke_session(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(id): Path<String>,
) -> Response {
    let back = if user.caller.role >= Role::Admin {
        "/ui/users?done=session-revoked"
    } else {
        "/ui/account?done=session-revoked"
    };
    match api::revoke_session(State(Arc::clone(&app)), user.caller.clone(), Path(id)).await {
        Ok(_) => see_other(back),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

// ------------------------------------------------------------------ account

async fn account_page(
    app: &Shared,
    user: &UiUser,
    errors: std::collections::BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    account_page_with(app, user, errors, notice, status, None, None).await
}

/// The account page, with an enrolment in progress or the recovery codes of
/// one just confirmed.
async fn account_page_with(
    app: &Shared,
    user: &UiUser,
    errors: std::collections::BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
    status: StatusCode,
    enrolment: Option<crate::api::types::MfaEnrolment>,
    recovery_codes: Option<Vec<String>>,
) -> Response {
    let now = unix_now();
    let me = user.caller.user.clone();
    let Ok((sessions, mfa)) = app
        .blocking(move |s| Ok((s.auth().families(Some(&me), Some(now))?, s.mfa().mfa(&me)?)))
        .await
    else {
        return store_failed(user);
    };
    let mfa_on = mfa.is_some_and(|m| m.confirmed.is_some());
    let sessions: Vec<_> = sessions
        .iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id, "short": crate::core::session::log_prefix(&f.id),
                "source": f.source, "created": f.created, "last_used": f.last_used,
                "expires": f.expires, "current": f.id == user.caller.sid,
            })
        })
        .collect();
    Page::of("account.html", user, "account")
        .with("sessions", sessions)
        .with("mfa", mfa_on)
        .with("enrolment", enrolment)
        .with("recovery_codes", recovery_codes)
        .with("errors", errors)
        .with("notice", notice)
        .with("min_len", api::MIN_PASSWORD_LEN)
        .status(status)
        .render()
}

/// GET /ui/account.
pub(crate) async fn account(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Query(d): Query<Done>,
) -> Response {
    account_page(
        &app,
        &user,
        Default::default(),
        done_message(d.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

/// The password form.
#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// POST /ui/account: the user's own password change (the API's, after the
/// current password is checked under the login rate limit). Every session
/// of the user ends, this one too.
pub(crate) async fn change_password(
    State(app): State<Shared>,
    Source(ip): Source,
    Extension(user): Extension<UiUser>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let mut errors = std::collections::BTreeMap::new();
    if app.limiter.check_key(&ip).is_err() {
        errors.insert("current", "too many attempts; retry later".to_owned());
        return account_page(&app, &user, errors, None, StatusCode::TOO_MANY_REQUESTS).await;
    }
    let me = user.caller.user.clone();
    let Ok(record) = app.blocking(move |s| s.auth().user(&me)).await else {
        return store_failed(&user);
    };
    let ok = match app
        .passwords
        .verify(f.current.clone(), record.map(|r| r.phc))
        .await
    {
        Ok(v) => v.ok,
        Err(e) => {
            tracing::error!("{e}");
            return store_failed(&user);
        }
    };
    if !ok {
        app.audit(
            &user.caller.user,
            ip,
            "user.passwd",
            Some(user.caller.user.clone()),
            "failed",
            Some("current password wrong (console)".to_owned()),
        )
        .await;
        errors.insert("current", "this is not your current password".to_owned());
    }
    if f.password.chars().count() < api::MIN_PASSWORD_LEN {
        errors.insert(
            "password",
            format!(
                "passwords need at least {} characters",
                api::MIN_PASSWORD_LEN
            ),
        );
    } else if f.password != f.confirm {
        errors.insert("confirm", "the two new passwords differ".to_owned());
    }
    if !errors.is_empty() {
        return account_page(&app, &user, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match api::set_password(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path(user.caller.user.clone()),
        Ok(Json(PasswordRequest {
            password: f.password,
        })),
    )
    .await
    {
        Ok(_) => {
            let mut resp = see_other("/ui/login?bye=1");
            for c in super::session::clear_cookies() {
                resp.headers_mut().append(header::SET_COOKIE, c);
            }
            resp
        }
        Err(e) => {
            errors.insert("password", e.message().to_owned());
            account_page(&app, &user, errors, None, e.status()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_parse_as_dates_or_minutes() {
        let day = u64::try_from(headend_util::time::from_civil(2026, 12, 31) * 86_400).unwrap();
        assert_eq!(parse_utc("2026-12-31", false), Some(day));
        assert_eq!(parse_utc("2026-12-31", true), Some(day + 86_399));
        assert_eq!(parse_utc("2026-12-31T23:59", false), Some(day + 86_340));
        assert_eq!(parse_utc("2026-12-31 01:02:03", false), Some(day + 3723));
        for bad in ["yesterday", "2026-13-01", "2026-12-31 24:00", "2026-12"] {
            assert_eq!(parse_utc(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        let rows = vec![AuditRecord {
            id: 7,
            at: 0,
            actor: "ada".into(),
            source: Some("127.0.0.1".into()),
            action: "record.set".into(),
            target: Some("e2e.test www A 192.0.2.1".into()),
            result: "ok".into(),
            detail: None,
        }];
        assert_eq!(
            audit_csv(&rows),
            "id,time_utc,actor,source,action,target,result,detail\r\n\
             7,1970-01-01T00:00:00Z,ada,127.0.0.1,record.set,e2e.test www A 192.0.2.1,ok,\r\n"
        );
    }

    #[test]
    fn audit_filters_by_user_action_and_time() {
        let rec = |id, at, actor: &str, action: &str| AuditRecord {
            id,
            at,
            actor: actor.into(),
            source: None,
            action: action.into(),
            target: None,
            result: "ok".into(),
            detail: None,
        };
        let rows = vec![
            rec(1, 100, "ada", "login"),
            rec(2, 86_400 * 2, "Ada", "record.set"),
            rec(3, 86_400 * 3, "bob", "record.delete"),
        ];
        let q = AuditQuery {
            user: "ADA".into(),
            action: "record".into(),
            ..Default::default()
        };
        let ids: Vec<i64> = audit_filter(&q, rows.clone())
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [2]);
        let q = AuditQuery {
            since: "1970-01-03".into(),
            ..Default::default()
        };
        let ids: Vec<i64> = audit_filter(&q, rows.clone())
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [2, 3]);
        let q = AuditQuery {
            until: "soon".into(),
            ..Default::default()
        };
        assert_eq!(audit_filter(&q, rows).unwrap_err()[0].0, "until");
    }
}
