//! Zones through the DNS handle: list, show, reload, and record edits
//! (validated like `headend check`, written atomically, serial bumped).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use headend_dns::{DnsError, DnsHandle, ZoneEdit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::types::{SetRecordRequest, ZoneResponse, ZoneSerial, ZonesResponse};
use super::{ApiError, Caller, Shared};
use crate::core::Role;

fn dns(app: &Shared) -> Result<DnsHandle, ApiError> {
    app.dns
        .clone()
        .ok_or_else(|| ApiError::not_found("DNS is not enabled on this server (no [dns] section)"))
}

/// Maps a DNS error to its HTTP answer.
fn dns_error(e: DnsError) -> ApiError {
    match e {
        DnsError::UnknownZone { zone } => {
            ApiError::not_found(format!("zone {zone} is not served here"))
        }
        DnsError::Invalid { zone, findings } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_zone",
            format!("the edit would make zone {zone} invalid; nothing was changed"),
        )
        .with_details(json!(
            findings.iter().map(ToString::to_string).collect::<Vec<_>>()
        )),
        DnsError::BadEdit { reason } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_edit",
            format!("bad edit: {reason}"),
        ),
        DnsError::SerialMismatch { expected, current } => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "serial_mismatch",
            format!("the zone's serial is {current}, not {expected}: reload it and retry"),
        )
        .with_details(json!({"expected": expected, "current": current})),
        DnsError::Check { zone, findings } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_zone",
            format!("zone {zone} failed its checks; the served version is unchanged"),
        )
        .with_details(json!(
            findings.iter().map(ToString::to_string).collect::<Vec<_>>()
        )),
        DnsError::Parse { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_zone",
            e.to_string(),
        ),
        other => {
            tracing::error!("zone operation failed: {other}");
            ApiError::internal()
        }
    }
}

async fn run_dns<T: Send + 'static>(
    dns: DnsHandle,
    f: impl FnOnce(&DnsHandle) -> Result<T, DnsError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || f(&dns))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(dns_error)
}

/// `If-Match: "2024010101"` (or a bare number): the serial an edit is based on.
fn if_match(headers: &HeaderMap) -> Result<Option<u32>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .unwrap_or("")
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"');
    if s == "*" {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| {
        ApiError::bad_request("If-Match must hold the zone's SOA serial, e.g. \"2024010101\"")
    })
}

fn with_serial(body: impl Serialize, serial: u32) -> Response {
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{serial}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// GET /api/v1/zones.
pub(crate) async fn list(State(app): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let dns = dns(&app)?;
    let zones = dns
        .zone_summaries()
        .into_iter()
        .filter(|z| caller.scopes.allows_zone(&z.origin))
        .map(Into::into)
        .collect();
    Ok(Json(ZonesResponse { zones }).into_response())
}

/// GET /api/v1/zones/{zone}: records and serial (also as ETag).
pub(crate) async fn show(
    State(app): State<Shared>,
    caller: Caller,
    Path(zone): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    caller.require_zone(&zone)?;
    let dns = dns(&app)?;
    let records = run_dns(dns.clone(), move |d| d.zone_records(&zone)).await?;
    let origin = records.first().map(|r| r.name.clone()).unwrap_or_default();
    let serial = dns
        .zone_summaries()
        .into_iter()
        .find(|z| z.origin.eq_ignore_ascii_case(&origin))
        .map_or(0, |z| z.serial);
    let records = records.into_iter().map(Into::into).collect();
    Ok(with_serial(
        ZoneResponse {
            origin,
            records,
            serial,
        },
        serial,
    ))
}

/// POST /api/v1/zones/{zone}/reload.
pub(crate) async fn reload(
    State(app): State<Shared>,
    caller: Caller,
    Path(zone): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    caller.require_zone(&zone)?;
    let dns = dns(&app)?;
    let z = zone.clone();
    let result = run_dns(dns, move |d| d.reload_zone(&z)).await;
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    app.audit(
        &caller.user,
        caller.source,
        "zone.reload",
        Some(zone.clone()),
        outcome,
        None,
    )
    .await;
    let serial = result?;
    Ok(with_serial(
        ZoneSerial {
            serial,
            zone,
            warnings: Vec::new(),
        },
        serial,
    ))
}

/// `POST /api/v1/zones/{zone}/flush`: the zone with its dynamic updates
/// written back to its file.
pub(crate) async fn flush(
    State(app): State<Shared>,
    caller: Caller,
    Path(zone): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    caller.require_zone(&zone)?;
    let dns = dns(&app)?;
    let z = zone.clone();
    let result = run_dns(dns, move |d| d.flush_zone(&z)).await;
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    app.audit(
        &caller.user,
        caller.source,
        "zone.flush",
        Some(zone.clone()),
        outcome,
        None,
    )
    .await;
    let serial = result?;
    Ok(with_serial(
        ZoneSerial {
            serial,
            zone,
            warnings: Vec::new(),
        },
        serial,
    ))
}

/// `?rdata=` on DELETE .../records/{name}/{rtype}.
#[derive(Deserialize, Default)]
pub(crate) struct DeleteQuery {
    pub(crate) rdata: Option<String>,
}

async fn edit(
    app: &Shared,
    caller: &Caller,
    zone: String,
    edit: ZoneEdit,
    expected: Option<u32>,
    action: &str,
    target: String,
) -> Result<Response, ApiError> {
    if let Err(e) = caller.require_zone(&zone) {
        app.audit(
            &caller.user,
            caller.source,
            action,
            Some(target),
            "out of scope",
            None,
        )
        .await;
        return Err(e);
    }
    let dns = dns(app)?;
    let z = zone.clone();
    let result = run_dns(dns, move |d| d.apply_edit(&z, edit, expected)).await;
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("refused {}", e.status().as_u16()),
    };
    app.audit(
        &caller.user,
        caller.source,
        action,
        Some(target),
        &outcome,
        None,
    )
    .await;
    let done = result?;
    let serial = done.serial;
    Ok(with_serial(
        ZoneSerial {
            serial,
            zone,
            warnings: done.warnings,
        },
        serial,
    ))
}

/// PUT /api/v1/zones/{zone}/records/{name}/{rtype}: replaces that RRset.
pub(crate) async fn set_record(
    State(app): State<Shared>,
    caller: Caller,
    Path((zone, name, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Result<Json<SetRecordRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"ttl\": 300, \"rdata\": [\"192.0.2.1\"]}}: {}",
            e.body_text()
        ))
    })?;
    let expected = if_match(&headers)?;
    let target = format!("{zone} {name} {rtype} {}", body.rdata.join(" | "));
    let e = ZoneEdit::Set {
        name,
        rtype,
        ttl: body.ttl,
        rdata: body.rdata,
    };
    edit(&app, &caller, zone, e, expected, "record.set", target).await
}

/// DELETE /api/v1/zones/{zone}/records/{name}/{rtype}[?rdata=...].
pub(crate) async fn delete_record(
    State(app): State<Shared>,
    caller: Caller,
    Path((zone, name, rtype)): Path<(String, String, String)>,
    Query(q): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let expected = if_match(&headers)?;
    let target = format!(
        "{zone} {name} {rtype} {}",
        q.rdata.as_deref().unwrap_or("*")
    );
    let e = ZoneEdit::Delete {
        name,
        rtype,
        rdata: q.rdata,
    };
    edit(&app, &caller, zone, e, expected, "record.delete", target).await
}
