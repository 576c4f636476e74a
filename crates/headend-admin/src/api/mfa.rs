//! The second factor: the code step of a two-step login, enrolment (at a
//! login the role forces it, or by a logged-in user), and removal.
//!
//! Every code check goes through the same gates as a password: the
//! per-address rate limit, and the user's failure count and lockout.

use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headend_store::MfaRecord;
use headend_store::auth::{UserRecord, fold_username};

use super::auth::{rate_limit, start_session};
use super::types::{MfaCodeRequest, MfaConfirmed, MfaEnrolment, MfaRemoved};
use super::{ApiError, Caller, Shared, Source, unix_now};
use crate::core::Role;
use crate::core::totp::{self, TicketPurpose};

/// The issuer an authenticator app shows beside the account.
const OTP_ISSUER: &str = "headend";

fn bad_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the code is not valid (a used code cannot be used again)",
    )
}

fn bad_ticket() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the MFA ticket is not valid or has expired; log in again",
    )
}

fn body_of(body: Result<Json<MfaCodeRequest>, JsonRejection>) -> Result<MfaCodeRequest, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"mfa_ticket\", \"code\"}}: {}",
            e.body_text()
        ))
    })
}

/// Opens the sealed seed of `rec`.
fn seed_of(app: &Shared, rec: &MfaRecord) -> Result<Vec<u8>, ApiError> {
    app.kek
        .open(&rec.secret, &totp::seal_aad(&rec.username))
        .map_err(|e| {
            tracing::error!(user = %rec.username, "cannot open a TOTP seed: {e}");
            ApiError::internal()
        })
}

/// Checks `code` (TOTP or recovery code) against the confirmed second
/// factor `rec` and spends it; `Some(what was used)` if it passed.
async fn spend_code(
    app: &Shared,
    rec: &MfaRecord,
    code: &str,
    now: u64,
) -> Result<Option<&'static str>, ApiError> {
    let user = rec.username.clone();
    if totp::is_recovery_code(code) {
        let hash = totp::recovery_hash(&user, code);
        let ok = app
            .blocking(move |s| s.mfa().mfa_spend_recovery(&user, &hash, now))
            .await?;
        return Ok(ok.then_some("recovery code"));
    }
    let seed = seed_of(app, rec)?;
    let Some(step) = totp::verify(&seed, code, now, rec.last_step) else {
        return Ok(None);
    };
    // The store spends the step only if no request spent it (or a later
    // one) first: a code raced twice passes once.
    let ok = app
        .blocking(move |s| s.mfa().mfa_spend_step(&user, step))
        .await?;
    Ok(ok.then_some("totp"))
}

/// Counts a wrong code against the user like a wrong password.
async fn count_failure(app: &Shared, user: &str, ip: IpAddr, action: &str) -> Result<(), ApiError> {
    let lockout = app.lockout;
    let now = unix_now();
    let name = user.to_owned();
    let count = app
        .blocking(move |s| {
            s.auth()
                .user_record_failure(&name, &|n| lockout.until(n, now))
        })
        .await?;
    metrics::counter!("headend_admin_logins_total", "result" => "mfa_failed").increment(1);
    tracing::info!(user = %user, %ip, failures = count.unwrap_or(0), "second factor refused");
    app.audit(user, ip, action, None, "failed", None).await;
    Ok(())
}

/// The user behind a live ticket of `purpose`, refused while locked or
/// disabled.
async fn ticket_user(
    app: &Shared,
    ticket: &str,
    purpose: TicketPurpose,
    ip: IpAddr,
) -> Result<(UserRecord, Role, Option<String>), ApiError> {
    let now = unix_now();
    let t = app
        .mfa_tickets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(ticket, now)
        .filter(|t| t.purpose == purpose)
        .ok_or_else(bad_ticket)?;
    let name = t.user.clone();
    let user = app.blocking(move |s| s.auth().user(&name)).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(bad_ticket());
    };
    if user.locked_until > now {
        app.audit(&user.username, ip, "login.mfa", None, "locked", None)
            .await;
        return Err(ApiError::too_many(user.locked_until - now));
    }
    let role = Role::parse(&user.role).ok_or_else(bad_ticket)?;
    Ok((user, role, t.rehash))
}

fn forget_ticket(app: &Shared, ticket: &str, failed: bool) {
    let mut t = app
        .mfa_tickets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if failed {
        t.failed(ticket);
    } else {
        t.spend(ticket);
    }
}

/// POST /api/v1/auth/mfa: the second step of a login, `{mfa_ticket, code}`
/// with a TOTP code or a recovery code; answers like a login.
pub(crate) async fn login_code(
    State(app): State<Shared>,
    Source(ip): Source,
    body: Result<Json<MfaCodeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    rate_limit(&app, ip, "login.mfa").await?;
    let b = body_of(body)?;
    let ticket = b.mfa_ticket.unwrap_or_default();
    let (user, role, rehash) = ticket_user(&app, &ticket, TicketPurpose::Verify, ip).await?;
    let name = user.username.clone();
    let rec = app.blocking(move |s| s.mfa().mfa(&name)).await?;
    let Some(rec) = rec.filter(|r| r.confirmed.is_some()) else {
        return Err(bad_ticket());
    };
    let now = unix_now();
    let Some(used) = spend_code(&app, &rec, &b.code, now).await? else {
        forget_ticket(&app, &ticket, true);
        count_failure(&app, &user.username, ip, "login.mfa").await?;
        return Err(bad_code());
    };
    forget_ticket(&app, &ticket, false);
    if used == "recovery code" {
        let name = user.username.clone();
        let left = app
            .blocking(move |s| s.mfa().mfa_recovery_left(&name))
            .await?;
        tracing::warn!(user = %user.username, %ip, left, "login with a recovery code");
        app.audit(
            &user.username,
            ip,
            "login.mfa",
            None,
            "recovery code used",
            Some(format!("{left} recovery code(s) left")),
        )
        .await;
    }
    start_session(&app, &user.username, role, ip, now, rehash, None).await
}

/// Makes a new seed for `user` and starts (or restarts) their enrolment.
async fn begin(app: &Shared, user: &str) -> Result<MfaEnrolment, ApiError> {
    let seed = totp::new_seed();
    let sealed = app.kek.seal(&seed, &totp::seal_aad(user));
    let now = unix_now();
    let name = user.to_owned();
    let started = app
        .blocking(move |s| s.mfa().mfa_begin(&name, &sealed, now))
        .await?;
    if !started {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{user} has a second factor already; remove it first"),
        ));
    }
    let uri = totp::otpauth_uri(OTP_ISSUER, user, &seed);
    let (Some(qr_svg), Some(qr_text)) = (totp::qr_svg(&uri), totp::qr_text(&uri)) else {
        return Err(ApiError::internal());
    };
    Ok(MfaEnrolment {
        otpauth_uri: uri,
        qr_svg,
        qr_text,
        secret: totp::base32(&seed),
    })
}

/// Confirms the pending enrolment of `user` with a first code; the
/// recovery codes on success, `None` for a wrong code.
async fn confirm(app: &Shared, user: &str, code: &str) -> Result<Option<Vec<String>>, ApiError> {
    let name = user.to_owned();
    let rec = app.blocking(move |s| s.mfa().mfa(&name)).await?;
    let Some(rec) = rec.filter(|r| r.confirmed.is_none()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{user} has no enrolment waiting for a first code"),
        ));
    };
    let seed = seed_of(app, &rec)?;
    let now = unix_now();
    let Some(step) = totp::verify(&seed, code, now, 0) else {
        return Ok(None);
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| totp::recovery_hash(user, c)).collect();
    let name = user.to_owned();
    let done = app
        .blocking(move |s| s.mfa().mfa_confirm(&name, step, &hashes, now))
        .await?;
    Ok(done.then_some(codes))
}

/// POST /api/v1/auth/mfa/enrol `{mfa_ticket}`: enrolment forced at login
/// (`require_mfa_for`): the seed, URI and QR code.
pub(crate) async fn login_enrol(
    State(app): State<Shared>,
    Source(ip): Source,
    body: Result<Json<MfaCodeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    rate_limit(&app, ip, "login.mfa").await?;
    let b = body_of(body)?;
    let ticket = b.mfa_ticket.unwrap_or_default();
    let (user, _, _) = ticket_user(&app, &ticket, TicketPurpose::Enrol, ip).await?;
    let e = begin(&app, &user.username).await?;
    app.audit(&user.username, ip, "mfa.enrol", None, "started", None)
        .await;
    Ok(Json(e).into_response())
}

/// POST /api/v1/auth/mfa/confirm `{mfa_ticket, code}`: ends a forced
/// enrolment and the login (answers like a login, with the recovery codes).
pub(crate) async fn login_confirm(
    State(app): State<Shared>,
    Source(ip): Source,
    body: Result<Json<MfaCodeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    rate_limit(&app, ip, "login.mfa").await?;
    let b = body_of(body)?;
    let ticket = b.mfa_ticket.unwrap_or_default();
    let (user, role, rehash) = ticket_user(&app, &ticket, TicketPurpose::Enrol, ip).await?;
    let Some(codes) = confirm(&app, &user.username, &b.code).await? else {
        forget_ticket(&app, &ticket, true);
        count_failure(&app, &user.username, ip, "mfa.confirm").await?;
        return Err(bad_code());
    };
    forget_ticket(&app, &ticket, false);
    app.audit(&user.username, ip, "mfa.confirm", None, "ok", None)
        .await;
    start_session(
        &app,
        &user.username,
        role,
        ip,
        unix_now(),
        rehash,
        Some(codes),
    )
    .await
}

/// POST /api/v1/users/{name}/mfa: a logged-in user starts enrolling their
/// own second factor.
pub(crate) async fn user_enrol(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = fold_username(&name);
    if name != caller.user {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a second factor is enrolled by its own user",
        ));
    }
    let e = begin(&app, &name).await?;
    app.audit(
        &caller.user,
        caller.source,
        "mfa.enrol",
        Some(name),
        "started",
        None,
    )
    .await;
    Ok(Json(e).into_response())
}

/// POST /api/v1/users/{name}/mfa/confirm `{code}`: confirms one's own
/// enrolment; answers the recovery codes (shown this once).
pub(crate) async fn user_confirm(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<MfaCodeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let name = fold_username(&name);
    if name != caller.user {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a second factor is confirmed by its own user",
        ));
    }
    rate_limit(&app, caller.source, "mfa.confirm").await?;
    let b = body_of(body)?;
    let Some(codes) = confirm(&app, &name, &b.code).await? else {
        count_failure(&app, &name, caller.source, "mfa.confirm").await?;
        return Err(bad_code());
    };
    app.audit(
        &caller.user,
        caller.source,
        "mfa.confirm",
        Some(name.clone()),
        "ok",
        None,
    )
    .await;
    Ok(Json(MfaConfirmed {
        recovery_codes: codes,
        user: name,
    })
    .into_response())
}

/// DELETE /api/v1/users/{name}/mfa `{code}`: removes a second factor. The
/// user needs a current code (or a recovery code), admins too for their
/// own; an admin who has a second factor needs none for another user's. A pending enrolment is removed by
/// its user without a code.
pub(crate) async fn remove(
    State(app): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    body: Option<Json<MfaCodeRequest>>,
) -> Result<Response, ApiError> {
    let name = fold_username(&name);
    let code = body.map(|Json(b)| b.code).unwrap_or_default();
    let (n2, c2) = (name.clone(), caller.user.clone());
    let (target, own) = app
        .blocking(move |s| Ok((s.mfa().mfa(&n2)?, s.mfa().mfa(&c2)?)))
        .await?;
    let admin_with_mfa =
        caller.role >= Role::Admin && own.as_ref().is_some_and(|m| m.confirmed.is_some());
    if name != caller.user && caller.role < Role::Admin {
        return Err(ApiError::forbidden(Role::Admin));
    }
    let Some(target) = target else {
        return Err(ApiError::not_found(format!("{name} has no second factor")));
    };
    let how = if target.confirmed.is_none() && name == caller.user {
        "pending enrolment"
    } else if admin_with_mfa && code.is_empty() && name != caller.user {
        "by an admin with a second factor"
    } else if name == caller.user {
        rate_limit(&app, caller.source, "mfa.remove").await?;
        if spend_code(&app, &target, &code, unix_now())
            .await?
            .is_none()
        {
            count_failure(&app, &name, caller.source, "mfa.remove").await?;
            return Err(bad_code());
        }
        "with a current code"
    } else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "removing another user's second factor needs an admin who has one",
        ));
    };
    let n2 = name.clone();
    let removed = app.blocking(move |s| s.mfa().mfa_remove(&n2)).await?;
    app.mfa_tickets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .forget_user(&name);
    app.audit(
        &caller.user,
        caller.source,
        "mfa.remove",
        Some(name.clone()),
        if removed { "ok" } else { "none" },
        Some(how.to_owned()),
    )
    .await;
    Ok(Json(MfaRemoved {
        removed,
        user: name,
    })
    .into_response())
}
