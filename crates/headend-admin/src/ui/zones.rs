//! Zones: the list, one zone's record sets with inline edits (the API's
//! edit, so the same checks and lint as `headend check`; a refused edit is
//! shown beside the field it came from), and the zone's DNSSEC keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form, Json};
use serde::{Deserialize, Serialize};

use super::UiUser;
use super::dhcp::zone_rows;
use super::view::{Page, done_message, error_page, query_escape, see_other, segment};
use crate::api::types::SetRecordRequest;
use crate::api::{Shared, zones as api};

/// Record sets per page of a zone.
const RRSETS_PER_PAGE: usize = 100;

/// Types the signer writes: shown, never edited here.
const SIGNER_TYPES: &[&str] = &[
    "RRSIG",
    "NSEC",
    "NSEC3",
    "NSEC3PARAM",
    "DNSKEY",
    "CDS",
    "CDNSKEY",
];

/// GET /ui/zones.
pub(crate) async fn list(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
) -> Response {
    Page::of("zones.html", &user, "zones")
        .with("zones", zone_rows(&app))
        .with("dns_here", app.dns.is_some())
        .render()
}

/// `?name=&page=&done=` on a zone's page.
#[derive(Deserialize, Default)]
pub(crate) struct ZoneQuery {
    #[serde(default)]
    name: String,
    page: Option<usize>,
    done: Option<String>,
}

/// One RRset as shown.
#[derive(Serialize, Clone)]
struct RrsetRow {
    key: String,
    name: String,
    rtype: String,
    ttl: u32,
    rdata: Vec<String>,
    editable: bool,
}

/// The edit form as sent, shown again with the API's refusal.
#[derive(Deserialize, Serialize, Default, Clone)]
pub(crate) struct RecordForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    rtype: String,
    #[serde(default)]
    ttl: String,
    #[serde(default)]
    rdata: String,
    #[serde(default)]
    serial: String,
    /// `add` for the new-record form, else the RRset's key.
    #[serde(default)]
    form: String,
}

/// A refused edit: which form, which field, and the API's message and findings.
#[derive(Serialize, Default)]
struct Refusal {
    form: String,
    field: &'static str,
    message: String,
    findings: Vec<String>,
    values: RecordForm,
}

fn rrset_key(name: &str, rtype: &str) -> String {
    format!(
        "{} {}",
        name.to_ascii_lowercase(),
        rtype.to_ascii_uppercase()
    )
}

/// The RRSIG expiration time (field 5, `YYYYMMDDHHmmSS`) as unix seconds.
fn rrsig_expiry(rdata: &str) -> Option<u64> {
    let t = rdata.split_whitespace().nth(4)?;
    if t.len() != 14 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| t[a..b].parse::<i64>().ok();
    let days = headend_util::time::from_civil(n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let secs = days * 86_400 + n(8, 10)? * 3600 + n(10, 12)? * 60 + n(12, 14)?;
    u64::try_from(secs).ok()
}

async fn zone_page(
    app: &Shared,
    user: &UiUser,
    zone: String,
    q: ZoneQuery,
    refusal: Option<Refusal>,
    status: StatusCode,
) -> Response {
    let Some(dns) = app.dns.clone() else {
        return error_page(
            user,
            StatusCode::NOT_FOUND,
            "DNS is not enabled on this server (no [dns] section)",
        );
    };
    let z = zone.clone();
    let records = match tokio::task::spawn_blocking(move || dns.zone_records(&z)).await {
        Ok(Ok(r)) => r,
        Ok(Err(headend_dns::DnsError::UnknownZone { .. })) => {
            return error_page(
                user,
                StatusCode::NOT_FOUND,
                &format!("zone {zone} is not served here"),
            );
        }
        _ => {
            return error_page(
                user,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server log",
            );
        }
    };
    let row = zone_rows(app).into_iter().find(|r| {
        r.origin.eq_ignore_ascii_case(&zone) || r.origin.eq_ignore_ascii_case(&format!("{zone}."))
    });
    let signed = row.as_ref().is_some_and(|r| r.signed);
    let serial = row.as_ref().map_or(0, |r| r.serial);
    let origin = row.map_or_else(|| zone.clone(), |r| r.origin);
    let mut sets: Vec<RrsetRow> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut earliest_rrsig: Option<u64> = None;
    let mut keys = Vec::new();
    for r in records {
        if r.rtype == "RRSIG" {
            earliest_rrsig = match (earliest_rrsig, rrsig_expiry(&r.rdata)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        if r.rtype == "DNSKEY" || r.rtype == "CDS" {
            keys.push(format!("{} {} {} {}", r.name, r.ttl, r.rtype, r.rdata));
        }
        let key = rrset_key(&r.name, &r.rtype);
        match index.get(&key) {
            Some(&i) => sets[i].rdata.push(r.rdata),
            None => {
                index.insert(key.clone(), sets.len());
                let rtype = r.rtype.as_str();
                let signer_made = ["RRSIG", "NSEC", "NSEC3"].contains(&rtype)
                    || (signed && SIGNER_TYPES.contains(&rtype));
                let editable = !signer_made;
                sets.push(RrsetRow {
                    key,
                    name: r.name,
                    rtype: r.rtype,
                    ttl: r.ttl,
                    rdata: vec![r.rdata],
                    editable,
                });
            }
        }
    }
    let wanted = q.name.trim().to_ascii_lowercase();
    let mut shown: Vec<RrsetRow> = sets
        .iter()
        .filter(|s| wanted.is_empty() || s.name.to_ascii_lowercase().contains(&wanted))
        .cloned()
        .collect();
    let total = shown.len();
    let pages = total.div_ceil(RRSETS_PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    shown = shown
        .into_iter()
        .skip((page - 1) * RRSETS_PER_PAGE)
        .take(RRSETS_PER_PAGE)
        .collect();
    // A refused edit of a set not on this page is shown on top of it.
    if let Some(r) = &refusal
        && r.form != "add"
        && !shown.iter().any(|s| s.key == r.form)
        && let Some(&i) = index.get(&r.form)
    {
        shown.insert(0, sets[i].clone());
    }
    // The DS for the parent, as `headend dnssec ds` prints it.
    let mut ds = Vec::new();
    if signed && let Some(dns) = app.dns.clone() {
        let z = zone.clone();
        let ds_of =
            move || headend_dns::ops::ds_records(&dns.current_config(), dns.state_dir(), &z);
        match tokio::task::spawn_blocking(ds_of).await {
            Ok(Ok(lines)) => ds = lines,
            Ok(Err(e)) => tracing::warn!(zone = %zone, "console: no DS records: {e}"),
            Err(e) => tracing::warn!(zone = %zone, "console: DS task failed: {e}"),
        }
    }
    // Each key's state now and its timeline, from the key state file.
    let mut key_states = Vec::new();
    if signed && let Some(dns) = app.dns.clone() {
        let z = zone.clone();
        let now = i64::try_from(headend_util::unix_now()).unwrap_or(i64::MAX);
        let read =
            move || headend_dns::ops::key_states(&dns.current_config(), dns.state_dir(), &z, now);
        match tokio::task::spawn_blocking(read).await {
            Ok(Ok(k)) => key_states = k,
            Ok(Err(e)) => tracing::warn!(zone = %zone, "console: no key states: {e}"),
            Err(e) => tracing::warn!(zone = %zone, "console: key state task failed: {e}"),
        }
    }
    let next_key_event = app.dns.as_ref().and_then(|d| {
        let wanted = origin.trim_end_matches('.').to_ascii_lowercase();
        d.signed_zones()
            .into_iter()
            .find(|s| s.origin.trim_end_matches('.').eq_ignore_ascii_case(&wanted))
            .and_then(|s| s.next_key_event)
            .and_then(|t| u64::try_from(t).ok())
    });
    let query = if q.name.is_empty() {
        String::new()
    } else {
        format!("name={}", query_escape(&q.name))
    };
    Page::of("zone.html", user, "zones")
        .with("zone", &origin)
        .with("zone_path", format!("/ui/zones/{}", segment(&zone)))
        .with("serial", serial)
        .with("signed", signed)
        .with("earliest_rrsig", earliest_rrsig)
        .with("keys", keys)
        .with("key_states", key_states)
        .with("next_key_event", next_key_event)
        .with("ds", ds)
        .with("rrsets", shown)
        .with("total", total)
        .with("page", page)
        .with("pages", pages)
        .with("name", &q.name)
        .with("query", query)
        .with("refusal", refusal)
        .with("notice", done_message(q.done.as_deref()))
        .status(status)
        .render()
}

/// GET /ui/zones/{zone}.
pub(crate) async fn show(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(zone): Path<String>,
    Query(q): Query<ZoneQuery>,
) -> Response {
    zone_page(&app, &user, zone, q, None, StatusCode::OK).await
}

fn serial_header(serial: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", serial.trim()))
        && !serial.trim().is_empty()
    {
        h.insert(header::IF_MATCH, v);
    }
    h
}

/// The field a refusal of the API belongs beside.
fn refused_field(e: &crate::api::ApiError) -> &'static str {
    match e.status() {
        StatusCode::PRECONDITION_FAILED => "serial",
        StatusCode::FORBIDDEN => "form",
        _ => "rdata",
    }
}

/// POST /ui/zones/{zone}: replaces one RRset (the API's PUT, with the
/// page's serial as If-Match, so an edit based on an old page is refused).
pub(crate) async fn set_record(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(zone): Path<String>,
    Form(f): Form<RecordForm>,
) -> Response {
    let refuse = |field: &'static str, message: String, findings: Vec<String>| Refusal {
        form: f.form.clone(),
        field,
        message,
        findings,
        values: f.clone(),
    };
    let ttl = match f.ttl.trim() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(v) if v <= 0x7fff_ffff => Some(v),
            _ => {
                let r = refuse(
                    "ttl",
                    format!("{t:?} is not a TTL (seconds, 0 to 2147483647)"),
                    Vec::new(),
                );
                return zone_page(
                    &app,
                    &user,
                    zone,
                    ZoneQuery::default(),
                    Some(r),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        },
    };
    let name = f.name.trim().to_owned();
    let rtype = f.rtype.trim().to_ascii_uppercase();
    if name.is_empty() || rtype.is_empty() {
        let field = if name.is_empty() { "name" } else { "rtype" };
        let r = refuse(
            field,
            "give the owner name and the type".to_owned(),
            Vec::new(),
        );
        return zone_page(
            &app,
            &user,
            zone,
            ZoneQuery::default(),
            Some(r),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let rdata: Vec<String> = f
        .rdata
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let body = SetRecordRequest { ttl, rdata };
    match api::set_record(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path((zone.clone(), name.clone(), rtype.clone())),
        serial_header(&f.serial),
        Ok(Json(body)),
    )
    .await
    {
        Ok(_) => see_other(&format!(
            "/ui/zones/{}?done=record-saved&name={}",
            segment(&zone),
            query_escape(&name)
        )),
        Err(e) => {
            let r = refuse(refused_field(&e), e.message().to_owned(), e.findings());
            zone_page(&app, &user, zone, ZoneQuery::default(), Some(r), e.status()).await
        }
    }
}

/// POST /ui/zones/{zone}/delete: deletes one RRset (the API's DELETE).
pub(crate) async fn delete_record(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(zone): Path<String>,
    Form(f): Form<RecordForm>,
) -> Response {
    let query = Query(api::DeleteQuery::default());
    match api::delete_record(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path((
            zone.clone(),
            f.name.trim().to_owned(),
            f.rtype.trim().to_owned(),
        )),
        query,
        serial_header(&f.serial),
    )
    .await
    {
        Ok(_) => see_other(&format!("/ui/zones/{}?done=record-deleted", segment(&zone))),
        Err(e) => {
            let r = Refusal {
                form: f.form.clone(),
                field: refused_field(&e),
                message: e.message().to_owned(),
                findings: e.findings(),
                values: f.clone(),
            };
            zone_page(&app, &user, zone, ZoneQuery::default(), Some(r), e.status()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrsig_expiration_is_read_from_the_fifth_field() {
        let rdata = "SOA 13 2 3600 20270101000000 20261201000000 12345 e2e.test. abc=";
        let days = headend_util::time::from_civil(2027, 1, 1);
        assert_eq!(
            rrsig_expiry(rdata),
            Some(u64::try_from(days * 86_400).unwrap())
        );
        assert_eq!(rrsig_expiry("A 13 2 3600 soon"), None);
    }
}
