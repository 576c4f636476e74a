//! Users, sessions and the audit log.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headend_store::auth::{FamilyRecord, UserRecord, fold_username};
use serde::Deserialize;

use super::types::{
    AuditEntry, AuditResponse, KeyRotated, MeResponse, NewUserRequest, PasswordChanged,
    PasswordRequest, RoleChanged, RoleRequest, SessionRevoked, SessionView, SessionsResponse,
    UserDeleted, UserDisabled, UserUnlocked, UserView, UsersResponse,
};
use super::{ApiError, Caller, Shared, unix_now};
use crate::core::Role;

/// A user as shown by the API (never the hash); `mfa`: the second factor
/// is confirmed.
pub(crate) fn user_view(u: &UserRecord, now: u64, mfa: bool) -> UserView {
    UserView {
        created: u.created,
        mfa,
        disabled: u.disabled,
        failures: u.failures,
        last_login: u.last_login,
        locked: u.locked_until > now,
        locked_until: (u.locked_until > now).then_some(u.locked_until),
        role: u.role.clone(),
        username: u.username.clone(),
    }
}

/// A session as shown to the caller with session id `current`.
fn session_view(f: &FamilyRecord, now: u64, current: &str) -> SessionView {
    SessionView {
        created: f.created,
        current: f.id == current,
        expires: f.expires,
        id: f.id.clone(),
        last_used: f.last_used,
        live: f.revoked.is_none() && f.expires > now,
        revoke_reason: f.revoke_reason.clone(),
        revoked: f.revoked,
        source: f.source.clone(),
        user: f.username.clone(),
    }
}

/// GET /api/v1/me.
pub(crate) async fn me(caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(MeResponse {
        role: caller.role,
        session: caller.sid,
        user: caller.user,
    })
    .into_response())
}

/// `?user=NAME|*` on GET /api/v1/sessions.
#[derive(Deserialize)]
pub(crate) struct SessionQuery {
    user: Option<String>,
}

/// GET /api/v1/sessions: the caller's live sessions; admins may name any user (or `*`).
pub(crate) async fn sessions(
    State(app): State<Shared>,
    caller: Caller,
    Query(q): Query<SessionQuery>,
) -> Result<Response, ApiError> {
    let target = q
        .user
        .map_or_else(|| caller.user.clone(), |u| fold_username(&u));
    if target != caller.user {
        caller.require(Role::Admin)?;
    }
    let now = unix_now();
    let who = (target != "*").then_some(target);
    let list = app
        .blocking(move |s| s.auth().families(who.as_deref(), Some(now)))
        .await?;
    let sessions = list
        .iter()
        .map(|f| session_view(f, now, &caller.sid))
        .collect();
    Ok(Json(SessionsResponse { sessions }).into_response())
}

/// Fewest characters of a session id taken as a prefix (the logs show 8).
const MIN_SESSION_PREFIX: usize = 6;

/// The full id of the session `id` names: itself when it is one, else the
/// one live session (among those the caller may see) whose id starts with
/// it, as logs and lists show the first 8 characters. Several matches: 409.
async fn resolve_session_id(app: &Shared, caller: &Caller, id: String) -> Result<String, ApiError> {
    let lookup = id.clone();
    if app
        .blocking(move |s| s.auth().family(&lookup))
        .await?
        .is_some()
        || id.len() < MIN_SESSION_PREFIX
    {
        return Ok(id);
    }
    let now = unix_now();
    let who = (caller.role < Role::Admin).then(|| caller.user.clone());
    let list = app
        .blocking(move |s| s.auth().families(who.as_deref(), Some(now)))
        .await?;
    let matches: Vec<&str> = list
        .iter()
        .map(|f| f.id.as_str())
        .filter(|full| full.starts_with(id.as_str()))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Ok(id),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ambiguous",
            format!(
                "{} sessions start with {id:?}: give more of the id",
                matches.len()
            ),
        )),
    }
}

/// DELETE /api/v1/sessions/{id}: ends one session (own, or any for admins);
/// a unique prefix of at least 6 characters of a live session's id will do.
pub(crate) async fn revoke_session(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = resolve_session_id(&app, &caller, id).await?;
    let lookup = id.clone();
    let family = app.blocking(move |s| s.auth().family(&lookup)).await?;
    let family = family.ok_or_else(|| ApiError::not_found(format!("no session {id}")))?;
    if family.username != caller.user {
        // Do not reveal other users' sessions to non-admins.
        if caller.role < Role::Admin {
            return Err(ApiError::not_found(format!("no session {id}")));
        }
    }
    let now = unix_now();
    let rid = id.clone();
    let done = app
        .blocking(move |s| s.auth().family_revoke(&rid, now, "revoked by API"))
        .await?;
    app.revoke_in_cache(std::slice::from_ref(&id), None);
    app.audit(
        &caller.user,
        caller.source,
        "session.revoke",
        Some(format!(
            "{} of {}",
            crate::core::session::log_prefix(&id),
            family.username
        )),
        if done { "ok" } else { "already ended" },
        None,
    )
    .await;
    Ok(Json(SessionRevoked { revoked: done }).into_response())
}

/// GET /api/v1/users.
pub(crate) async fn list(State(app): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let (users, mfa) = app
        .blocking(|s| Ok((s.auth().users()?, s.mfa().mfa_users()?)))
        .await?;
    let now = unix_now();
    let users = users
        .iter()
        .map(|u| user_view(u, now, mfa.binary_search(&u.username).is_ok()))
        .collect();
    Ok(Json(UsersResponse { users }).into_response())
}

/// Checks a user name: 1-64 characters of `[A-Za-z0-9._@-]`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

/// The minimum password length accepted.
pub(crate) const MIN_PASSWORD_LEN: usize = 8;

/// POST /api/v1/users.
pub(crate) async fn add(
    State(app): State<Shared>,
    caller: Caller,
    body: Result<Json<NewUserRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"username\", \"password\", \"role\"}}: {}",
            e.body_text()
        ))
    })?;
    if !valid_username(&b.username) {
        return Err(ApiError::bad_request(
            "user names are 1-64 characters of letters, digits and . _ @ -",
        ));
    }
    if b.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!(
            "passwords need at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let phc = app.passwords.hash(b.password).await.map_err(|e| {
        tracing::error!("{e}");
        ApiError::internal()
    })?;
    let now = unix_now();
    let record = UserRecord::new(b.username.clone(), phc, b.role.as_str(), now);
    let r2 = record.clone();
    let added = app.blocking(move |s| s.auth().user_insert(&r2)).await?;
    if added {
        // A name used before by a deleted user: that user's tokens stay dead
        // (not_before) while the new account's pass.
        let mut r = app
            .revocations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.clear_role(&record.username);
        r.set_not_before(&record.username, now);
    }
    app.audit(
        &caller.user,
        caller.source,
        "user.add",
        Some(format!("{} ({})", b.username, b.role)),
        if added { "ok" } else { "exists" },
        None,
    )
    .await;
    if !added {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("user {} exists", b.username),
        ));
    }
    Ok((StatusCode::CREATED, Json(user_view(&record, now, false))).into_response())
}

/// PUT /api/v1/users/{name}/password: admins for anyone, users for themselves.
/// Every session of the user ends and their access tokens die.
pub(crate) async fn set_password(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<PasswordRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let name = fold_username(&name);
    if name != caller.user {
        caller.require(Role::Admin)?;
    }
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!("expected {{\"password\"}}: {}", e.body_text()))
    })?;
    if b.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!(
            "passwords need at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let phc = app
        .passwords
        .hash(b.password)
        .await
        .map_err(|_| ApiError::internal())?;
    let now = unix_now();
    let n2 = name.clone();
    let revoked = app
        .blocking(move |s| s.auth().user_set_password(&n2, &phc, now))
        .await?;
    app.audit(
        &caller.user,
        caller.source,
        "user.passwd",
        Some(name.clone()),
        if revoked.is_some() { "ok" } else { "not found" },
        None,
    )
    .await;
    let ids = revoked.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
    app.revoke_in_cache(&ids, Some((&name, now)));
    Ok(Json(PasswordChanged {
        revoked_sessions: ids.len(),
        user: name,
    })
    .into_response())
}

async fn set_disabled(
    app: Shared,
    caller: Caller,
    name: String,
    disabled: bool,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let name = fold_username(&name);
    let now = unix_now();
    let n2 = name.clone();
    let revoked = app
        .blocking(move |s| s.auth().user_set_disabled(&n2, disabled, now))
        .await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    app.audit(
        &caller.user,
        caller.source,
        action,
        Some(name.clone()),
        if revoked.is_some() { "ok" } else { "not found" },
        None,
    )
    .await;
    let ids = revoked.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
    if disabled {
        app.revoke_in_cache(&ids, Some((&name, now)));
        app.pin_role(&name, None);
    } else {
        app.revocations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear_role(&name);
    }
    Ok(Json(UserDisabled {
        disabled,
        revoked_sessions: ids.len(),
        user: name,
    })
    .into_response())
}

/// POST /api/v1/users/{name}/disable.
pub(crate) async fn disable(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(app, caller, name, true).await
}

/// POST /api/v1/users/{name}/enable.
pub(crate) async fn enable(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set_disabled(app, caller, name, false).await
}

/// PUT /api/v1/users/{name}/role: access tokens that carry the old role
/// stop working at once (the user's sessions live on; their next refresh
/// gets the new role).
pub(crate) async fn set_role(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<RoleRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let name = fold_username(&name);
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"role\": \"viewer\" | \"operator\" | \"admin\"}}: {}",
            e.body_text()
        ))
    })?;
    let now = unix_now();
    let n2 = name.clone();
    let role = b.role;
    let done = app
        .blocking(move |s| s.auth().user_set_role(&n2, role.as_str(), now))
        .await?;
    app.audit(
        &caller.user,
        caller.source,
        "user.role",
        Some(format!("{name} ({role})")),
        if done { "ok" } else { "not found" },
        None,
    )
    .await;
    if !done {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    app.revoke_in_cache(&[], Some((&name, now)));
    app.pin_role(&name, Some(role));
    Ok(Json(RoleChanged { role, user: name }).into_response())
}

/// DELETE /api/v1/users/{name}: the user goes, with every session and
/// every API key they made, all revoked at once; the audit log keeps what
/// they did. An admin cannot delete themselves, nor the last enabled admin.
pub(crate) async fn delete_user(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let name = fold_username(&name);
    if name == caller.user {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "an admin cannot delete their own account; ask another admin",
        ));
    }
    let users = app.blocking(|s| s.auth().users()).await?;
    let Some(target) = users.iter().find(|u| u.username == name) else {
        return Err(ApiError::not_found(format!("no user {name}")));
    };
    let admins = users
        .iter()
        .filter(|u| !u.disabled && u.role == Role::Admin.as_str())
        .count();
    if target.role == Role::Admin.as_str() && !target.disabled && admins <= 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{name} is the last enabled admin"),
        ));
    }
    let now = unix_now();
    let n2 = name.clone();
    let deleted = app
        .blocking(move |s| s.auth().user_delete(&n2, now))
        .await?;
    let detail = deleted.as_ref().map(|d| {
        format!(
            "revoked {} session(s) and {} api key(s)",
            d.sessions.len(),
            d.api_keys.len()
        )
    });
    app.audit(
        &caller.user,
        caller.source,
        "user.delete",
        Some(name.clone()),
        if deleted.is_some() { "ok" } else { "not found" },
        detail,
    )
    .await;
    let deleted = deleted.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
    app.user_gone(&name, &deleted, now);
    Ok(Json(UserDeleted {
        revoked_api_keys: deleted.api_keys.len(),
        revoked_sessions: deleted.sessions.len(),
        user: name,
    })
    .into_response())
}

/// POST /api/v1/users/{name}/unlock.
pub(crate) async fn unlock(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let name = fold_username(&name);
    let n2 = name.clone();
    let done = app.blocking(move |s| s.auth().user_unlock(&n2)).await?;
    app.audit(
        &caller.user,
        caller.source,
        "user.unlock",
        Some(name.clone()),
        if done { "ok" } else { "not found" },
        None,
    )
    .await;
    if !done {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    Ok(Json(UserUnlocked {
        unlocked: true,
        user: name,
    })
    .into_response())
}

/// `?limit=` on GET /api/v1/audit.
#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    limit: Option<u32>,
    /// Only entries by this user.
    actor: Option<String>,
    /// Only actions starting with this (`record`, `user.add`).
    action: Option<String>,
    /// Only entries at or after these Unix seconds.
    since: Option<u64>,
    /// Only entries whose target contains this.
    target: Option<String>,
}

/// Entries read to filter from: the newest this many.
const AUDIT_SCAN: u32 = 10_000;

/// GET /api/v1/audit: newest first.
pub(crate) async fn audit(
    State(app): State<Shared>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(100).clamp(1, AUDIT_SCAN);
    let filtered =
        q.actor.is_some() || q.action.is_some() || q.since.is_some() || q.target.is_some();
    let scan = if filtered { AUDIT_SCAN } else { limit };
    let rows = app.blocking(move |s| s.auth().audit(scan)).await?;
    let entries: Vec<AuditEntry> = rows.into_iter().map(Into::into).collect();
    let entries = entries
        .into_iter()
        .filter(|e| q.actor.as_ref().is_none_or(|a| &e.actor == a))
        .filter(|e| {
            q.action
                .as_ref()
                .is_none_or(|a| e.action.starts_with(a.as_str()))
        })
        .filter(|e| q.since.is_none_or(|t| e.at >= t))
        .filter(|e| {
            q.target
                .as_ref()
                .is_none_or(|t| e.target.as_deref().is_some_and(|x| x.contains(t.as_str())))
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(AuditResponse { entries }).into_response())
}

/// POST /api/v1/keys/rotate: publishes a next signing key at once; it
/// signs a token lifetime from now (so every server and relying party has
/// it first), and the current one keeps verifying until its last token
/// expired. Nothing is made when a next key is already published.
pub(crate) async fn rotate_key(
    State(app): State<Shared>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let worker = std::sync::Arc::clone(&app);
    let now = unix_now();
    let rotated = tokio::task::spawn_blocking(move || {
        let _serial = worker
            .rotate_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let schedule = worker.config.tokens.schedule();
        crate::signing::force(&worker.store, &worker.kek, &schedule, now)?;
        crate::signing::sync(&worker.store, &worker.kek, &schedule, now)
    })
    .await
    .map_err(|_| ApiError::internal())?;
    let outcome = if rotated.is_ok() { "ok" } else { "failed" };
    app.audit(
        &caller.user,
        caller.source,
        "key.rotate",
        None,
        outcome,
        None,
    )
    .await;
    let set = rotated.map_err(|e| {
        tracing::error!("signing key rotation failed: {e}");
        ApiError::internal()
    })?;
    let current = set.signer(now).kid().to_owned();
    let (kid, signs_from) = set
        .entries()
        .last()
        .map(|(k, from)| (k.kid().to_owned(), *from))
        .unwrap_or((current.clone(), now));
    app.keys.store(std::sync::Arc::new(set));
    tracing::info!(
        kid,
        signs_from,
        current,
        "next access-token signing key published"
    );
    Ok(Json(KeyRotated {
        kid,
        signs_from,
        previous_kid: Some(current),
    })
    .into_response())
}
