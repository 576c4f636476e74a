//! DHCPv6 bindings (read and released through the store, under the DHCPv6
//! core's release rules) and DHCPv6 reservations (a store table the DHCPv6
//! core reads inside its lease transactions).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headend_store::{Lease6, Lease6Kind, LeaseState, Reservation6, Reservation6Key};
use serde::Deserialize;

use super::dhcp::{ReleaseWords, ReleasedRow, audited_release};
use super::types::{
    Lease6View, Leases6Response, Released6Response, Reservation6Request, Reservation6View,
    ReservationDeleted, Reservations6Response,
};
use super::{ApiError, Caller, Shared, unix_now};
use crate::core::Role;

/// Bindings per page when `limit` is not given.
const DEFAULT_PAGE: usize = 1000;
/// Most bindings one page holds.
const MAX_PAGE: usize = 10_000;

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn lease6_json(l: &Lease6, now: u64) -> Lease6View {
    Lease6View {
        address: l.address,
        class: l.class.clone(),
        duid: colon_hex(&l.duid),
        expires: l.expires,
        hwaddr: l.hwaddr.as_deref().map(colon_hex),
        iaid: l.iaid,
        interface_id: l.interface_id.as_deref().map(colon_hex),
        kind: l.kind.as_str().to_owned(),
        live: l.is_live(now),
        prefix_len: l.prefix_len,
        preferred: l.preferred,
        remote_id: l.remote_id.as_deref().map(colon_hex),
        state: l.state.as_str().to_owned(),
        subnet: l.subnet.clone(),
        dns_names: Vec::new(),
    }
}

/// Address → the DNS names `[dhcp6.ddns]` published for it (forward name,
/// and the PTR owner when the PTR points to that name).
fn binding_dns_names(app: &Shared) -> BTreeMap<Ipv6Addr, Vec<String>> {
    let mut out: BTreeMap<Ipv6Addr, Vec<String>> = BTreeMap::new();
    let (Some(dns), Some(ddns)) = (
        app.dns.as_ref(),
        app.dhcp6
            .as_ref()
            .and_then(headend_dhcp6::Dhcp6Handle::ddns_config),
    ) else {
        return out;
    };
    let Ok(names) = dns.published_lease_names(&ddns.forward_zone) else {
        return out;
    };
    let mut forward: BTreeMap<Ipv6Addr, String> = BTreeMap::new();
    for n in names {
        for a in n.addresses {
            let IpAddr::V6(a) = a else { continue };
            forward.insert(a, n.fqdn.to_string());
            out.entry(a).or_default().push(n.fqdn.to_string());
        }
    }
    for zone in &ddns.reverse_zones {
        for (a, target) in dns.published_ptrs(zone).unwrap_or_default() {
            let IpAddr::V6(a) = a else { continue };
            if forward.get(&a) == Some(&target.to_string()) {
                out.entry(a)
                    .or_default()
                    .push(headend_dns::ptr_name(a).to_string());
            }
        }
    }
    out
}

/// Hex with optional `:`, `-` or space separators → bytes.
fn hex_bytes(what: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    let clean: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect();
    match hex::decode(&clean) {
        Ok(b) if !b.is_empty() && b.len() <= 130 => Ok(b),
        _ => Err(ApiError::bad_request(format!(
            "{what} {s:?} is not hex octets (e.g. 00:03:00:01:02:aa:00:00:00:01)"
        ))),
    }
}

/// The filters and page of GET /api/v1/leases6.
#[derive(Deserialize)]
pub(crate) struct Lease6Query {
    subnet: Option<String>,
    /// `na` or `pd`.
    kind: Option<String>,
    /// The client's DUID, hex.
    duid: Option<String>,
    /// The client's link-layer address.
    hwaddr: Option<String>,
    /// offered, bound, released or declined.
    state: Option<String>,
    /// Only bindings still held (true) or no longer (false).
    live: Option<bool>,
    /// Start after this address (the previous page's `next`).
    after: Option<Ipv6Addr>,
    /// Page size (default 1000, at most 10000).
    limit: Option<usize>,
}

/// GET /api/v1/leases6[?subnet=&kind=na|pd&duid=&hwaddr=&state=&live=&after=&limit=]:
/// the bindings the caller's scopes reach, by address, one page at a time.
pub(crate) async fn leases6(
    State(app): State<Shared>,
    caller: Caller,
    Query(q): Query<Lease6Query>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some("na") => Some(Lease6Kind::Address),
        Some("pd") => Some(Lease6Kind::Prefix),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "kind={other:?}: use na (addresses) or pd (delegated prefixes)"
            )));
        }
    };
    if let Some(s) = q.state.as_deref()
        && !matches!(s, "offered" | "bound" | "released" | "declined")
    {
        return Err(ApiError::bad_request(format!(
            "state={s:?}: use offered, bound, released or declined"
        )));
    }
    let duid = q
        .duid
        .as_deref()
        .map(|d| hex_bytes("duid", d))
        .transpose()?;
    let hwaddr = q
        .hwaddr
        .as_deref()
        .map(|h| hex_bytes("hwaddr", h))
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit={limit}: a page holds 1 to {MAX_PAGE} bindings"
        )));
    }
    let all = app.blocking(|s| s.leases6()).await?;
    let now = unix_now();
    let matching: Vec<&Lease6> = all
        .iter()
        .filter(|l| q.subnet.as_deref().is_none_or(|s| s == l.subnet))
        .filter(|l| kind.is_none_or(|k| k == l.kind))
        .filter(|l| duid.as_deref().is_none_or(|d| d == l.duid))
        .filter(|l| hwaddr.is_none() || hwaddr == l.hwaddr)
        .filter(|l| q.state.as_deref().is_none_or(|s| s == l.state.as_str()))
        .filter(|l| q.live.is_none_or(|live| live == l.is_live(now)))
        .filter(|l| caller.scopes.allows_prefix6(l.address, l.prefix_len))
        .collect();
    let total = matching.len();
    let rest: Vec<&Lease6> = matching
        .into_iter()
        .filter(|l| q.after.is_none_or(|a| l.address > a))
        .collect();
    let next = (rest.len() > limit).then(|| rest[limit - 1].address);
    let names = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || binding_dns_names(&app))
            .await
            .unwrap_or_default()
    };
    let leases = rest
        .iter()
        .take(limit)
        .map(|l| {
            let mut v = lease6_json(l, now);
            if l.state == LeaseState::Bound && v.live {
                v.dns_names = names.get(&l.address).cloned().unwrap_or_default();
            }
            v
        })
        .collect();
    Ok(Json(Leases6Response {
        leases,
        total,
        next,
    })
    .into_response())
}

impl ReleasedRow for Lease6 {
    fn owner(&self) -> String {
        let mut s = format!(
            "owner duid={} iaid={} subnet={}",
            colon_hex(&self.duid),
            self.iaid,
            self.subnet
        );
        if let Some(h) = &self.hwaddr {
            s.push_str(&format!(" hwaddr={}", colon_hex(h)));
        }
        s
    }
    fn state(&self) -> LeaseState {
        self.state
    }
    fn expires(&self) -> u64 {
        self.expires
    }
}

/// POST /api/v1/leases6/{address}/release: ends the binding whose (first)
/// address this is, under the rules of a client's RELEASE (RFC 8415
/// §18.3.7), whether or not DHCPv6 runs in this process. One already ended
/// is answered as it is; a declined one stays quarantined (409).
pub(crate) async fn release6(
    State(app): State<Shared>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let ip: Ipv6Addr = address.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{address:?} is not an IPv6 address (for a delegated prefix, give its first address)"
        ))
    })?;
    caller.require_prefix6(ip, 128)?;
    let released = app
        .blocking(move |s| headend_dhcp6::release_lease6(s, ip))
        .await?;
    let now = unix_now();
    let words = ReleaseWords {
        already: "already ended",
        declined: "DECLINE: the address is in use on the link",
        unknown: format!("no DHCPv6 binding at {ip}"),
    };
    let lease = audited_release(
        &app,
        &caller,
        "lease6.release",
        ip.to_string(),
        released,
        words,
    )
    .await?;
    Ok(Json(Released6Response {
        released: lease6_json(&lease, now),
    })
    .into_response())
}

fn reservation6_json(r: &Reservation6) -> Reservation6View {
    Reservation6View {
        address: r.address,
        created: r.created,
        key: r.key.text(),
        key_kind: r.key.kind().to_owned(),
        prefix: r.prefix.map(|(a, l)| format!("{a}/{l}")),
        subnet: r.subnet.clone(),
    }
}

/// Does the caller's scope reach everything the reservation holds?
fn reaches(caller: &Caller, r: &Reservation6) -> bool {
    r.address
        .is_none_or(|a| caller.scopes.allows_prefix6(a, 128))
        && r.prefix
            .is_none_or(|(a, l)| caller.scopes.allows_prefix6(a, l))
}

/// GET /api/v1/reservations6.
pub(crate) async fn reservations6(
    State(app): State<Shared>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let all = app.blocking(|s| s.auth().reservations6()).await?;
    let reservations = all
        .iter()
        .filter(|r| reaches(&caller, r))
        .map(reservation6_json)
        .collect();
    Ok(Json(Reservations6Response { reservations }).into_response())
}

/// The request's client key.
fn request_key(b: &Reservation6Request) -> Result<Reservation6Key, ApiError> {
    match (&b.duid, &b.hwaddr, &b.remote_id) {
        (Some(d), None, None) => Ok(Reservation6Key::Duid(hex_bytes("duid", d)?)),
        (None, Some(h), None) => Ok(Reservation6Key::Hwaddr(hex_bytes("hwaddr", h)?)),
        (None, None, Some(r)) => {
            let bytes = match r.strip_prefix("hex:") {
                Some(h) => hex_bytes("remote_id", h)?,
                None => r.as_bytes().to_vec(),
            };
            if bytes.is_empty() || bytes.len() > 255 {
                return Err(ApiError::bad_request(
                    "remote_id holds 1 to 255 octets (text, or hex:...)",
                ));
            }
            Ok(Reservation6Key::RemoteId(bytes))
        }
        _ => Err(ApiError::bad_request(
            "give exactly one of duid, hwaddr, remote_id",
        )),
    }
}

/// A path's key kind and key (as `GET /api/v1/reservations6` lists them).
fn path_key(kind: &str, key: &str) -> Result<Reservation6Key, ApiError> {
    let bytes = hex_bytes(kind, key)?;
    match kind {
        "duid" => Ok(Reservation6Key::Duid(bytes)),
        "hwaddr" => Ok(Reservation6Key::Hwaddr(bytes)),
        "remote_id" => Ok(Reservation6Key::RemoteId(bytes)),
        _ => Err(ApiError::bad_request(format!(
            "{kind:?}: a reservation is keyed by duid, hwaddr or remote_id"
        ))),
    }
}

fn parse_prefix(text: &str) -> Result<(Ipv6Addr, u8), ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "prefix {text:?} is not an IPv6 prefix (2001:db8:200::/56)"
        ))
    };
    let net: ipnet::Ipv6Net = text.parse().map_err(|_| bad())?;
    Ok((net.addr(), net.prefix_len()))
}

/// POST /api/v1/reservations6: reserves an address and/or a delegated
/// prefix in a `[[dhcp6.subnet]]` for a DUID, a link-layer address or a
/// relay remote-id. The client gets it at its next request.
pub(crate) async fn add_reservation6(
    State(app): State<Shared>,
    caller: Caller,
    body: Result<Json<Reservation6Request>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"subnet\", one of \"duid\"/\"hwaddr\"/\"remote_id\", \"address\"?, \"prefix\"?}}: {}",
            e.body_text()
        ))
    })?;
    if b.subnet.is_empty() {
        return Err(ApiError::bad_request("subnet must name a [[dhcp6.subnet]]"));
    }
    let key = request_key(&b)?;
    let prefix = b.prefix.as_deref().map(parse_prefix).transpose()?;
    let r = Reservation6 {
        subnet: b.subnet.clone(),
        key,
        address: b.address,
        prefix,
        created: unix_now(),
    };
    if !reaches(&caller, &r) {
        return Err(ApiError::out_of_scope(
            reservation6_json(&r)
                .prefix
                .or(r.address.map(|a| a.to_string()))
                .unwrap_or_default(),
        ));
    }
    let Some(dhcp6) = &app.dhcp6 else {
        return Err(ApiError::not_found(format!(
            "this server runs no DHCPv6 service (no [dhcp6] section), so it has no subnet {:?} to reserve in",
            b.subnet
        )));
    };
    if let Err(refusal) = dhcp6.check_reservation(&r.subnet, &r.key, r.address, r.prefix) {
        use headend_dhcp6::Reservation6Refusal as R;
        let message = refusal.to_string();
        return Err(match refusal {
            R::UnknownSubnet { .. } => ApiError::not_found(message),
            R::ReservedInConfig { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message),
        });
    }
    let view = reservation6_json(&r);
    let target = format!(
        "{} {}={} {}",
        r.subnet,
        view.key_kind,
        view.key,
        [view.address.map(|a| a.to_string()), view.prefix.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let rr = r.clone();
    let stored = app
        .blocking(move |s| s.auth().reservation6_put(&rr))
        .await?;
    app.audit(
        &caller.user,
        caller.source,
        "reservation6.add",
        Some(target),
        if stored { "ok" } else { "conflict" },
        None,
    )
    .await;
    if !stored {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the address or prefix is already reserved for another client: remove that reservation first (`headend ctl reservation6 list`)",
        ));
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// DELETE /api/v1/reservations6/{subnet}/{kind}/{key}.
pub(crate) async fn delete_reservation6(
    State(app): State<Shared>,
    caller: Caller,
    Path((subnet, kind, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let key = path_key(&kind, &key)?;
    if !caller.scopes.is_unrestricted() {
        let all = app.blocking(|s| s.auth().reservations6()).await?;
        if let Some(r) = all.iter().find(|r| r.subnet == subnet && r.key == key)
            && !reaches(&caller, r)
        {
            return Err(ApiError::out_of_scope(format!(
                "the reservation of {}={} in {subnet}",
                key.kind(),
                key.text()
            )));
        }
    }
    let (s2, k2) = (subnet.clone(), key.clone());
    let gone = app
        .blocking(move |s| s.auth().reservation6_delete(&s2, &k2))
        .await?;
    let target = format!("{subnet} {}={}", key.kind(), key.text());
    app.audit(
        &caller.user,
        caller.source,
        "reservation6.delete",
        Some(target.clone()),
        if gone { "ok" } else { "not found" },
        None,
    )
    .await;
    if !gone {
        return Err(ApiError::not_found(format!(
            "no DHCPv6 reservation {target}"
        )));
    }
    Ok(Json(ReservationDeleted { deleted: true }).into_response())
}
