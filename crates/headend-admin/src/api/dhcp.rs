//! DHCP leases (read and released through the store) and reservations (a
//! store table the DHCP service reads).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headend_store::auth::{Attributes, Reservation};
use headend_store::{Lease, LeaseState, Released};
use serde::Deserialize;

use super::types::{
    LeaseView, LeasesResponse, ReleasedResponse, ReservationAttributes, ReservationDeleted,
    ReservationRequest, ReservationsResponse,
};
use super::{ApiError, App, Caller, Shared, unix_now};
use crate::core::Role;

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn lease_json(l: &Lease, now: u64) -> LeaseView {
    LeaseView {
        address: l.address,
        class: l.class.clone(),
        client_id: l.client_id.as_deref().map(colon_hex),
        expires: l.expires,
        hostname: l.hostname.clone(),
        hwaddr: colon_hex(&l.hwaddr),
        live: l.is_live(now),
        state: l.state.as_str().to_owned(),
        subnet: l.subnet.clone(),
        dns_names: Vec::new(),
    }
}

/// Address → the DNS names that follow its lease, read from the zones of
/// `[dhcp.ddns]` (empty when DDNS is off or DNS does not run here).
fn lease_dns_names(app: &Shared) -> BTreeMap<Ipv4Addr, Vec<String>> {
    let mut out: BTreeMap<Ipv4Addr, Vec<String>> = BTreeMap::new();
    let (Some(dns), Some(ddns)) = (
        app.dns.as_ref(),
        app.dhcp
            .as_ref()
            .and_then(headend_dhcp::DhcpHandle::ddns_config),
    ) else {
        return out;
    };
    let Ok(names) = dns.published_lease_names(&ddns.forward_zone) else {
        return out;
    };
    let mut forward: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for n in names {
        for a in n.addresses {
            let std::net::IpAddr::V4(a) = a else { continue };
            forward.insert(a, n.fqdn.to_string());
            out.entry(a).or_default().push(n.fqdn.to_string());
        }
    }
    for zone in &ddns.reverse_zones {
        for (a, target) in dns.published_ptrs(zone).unwrap_or_default() {
            let std::net::IpAddr::V4(a) = a else { continue };
            if forward.get(&a) == Some(&target.to_string()) {
                out.entry(a)
                    .or_default()
                    .push(headend_dns::ptr_name(a).to_string());
            }
        }
    }
    out
}

/// `?subnet=` on GET /api/v1/leases.
#[derive(Deserialize)]
pub(crate) struct LeaseQuery {
    subnet: Option<String>,
}

/// GET /api/v1/leases[?subnet=NAME].
pub(crate) async fn leases(
    State(app): State<Shared>,
    caller: Caller,
    Query(q): Query<LeaseQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let all = app.blocking(|s| s.leases()).await?;
    let now = unix_now();
    let names = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || lease_dns_names(&app))
            .await
            .unwrap_or_default()
    };
    let leases = all
        .iter()
        .filter(|l| q.subnet.as_deref().is_none_or(|s| s == l.subnet))
        .filter(|l| caller.scopes.allows_address(l.address))
        .map(|l| {
            let mut v = lease_json(l, now);
            if l.state == LeaseState::Bound && v.live {
                v.dns_names = names.get(&l.address).cloned().unwrap_or_default();
            }
            v
        })
        .collect();
    Ok(Json(LeasesResponse { leases }).into_response())
}

/// A row an operator's release answers about: a DHCPv4 lease or a
/// DHCPv6 binding.
pub(super) trait ReleasedRow {
    /// Who held it, for the audit record.
    fn owner(&self) -> String;
    fn state(&self) -> LeaseState;
    fn expires(&self) -> u64;
}

impl ReleasedRow for Lease {
    fn owner(&self) -> String {
        let mut s = format!(
            "owner hwaddr={} subnet={}",
            colon_hex(&self.hwaddr),
            self.subnet
        );
        if let Some(id) = &self.client_id {
            s.push_str(&format!(" client_id={}", colon_hex(id)));
        }
        if let Some(h) = &self.hostname {
            s.push_str(&format!(" hostname={h}"));
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

/// What differs between the families' release answers.
pub(super) struct ReleaseWords {
    /// How a row that had ended is described ("already free").
    pub(super) already: &'static str,
    /// The client message that quarantined the address, and what it means.
    pub(super) declined: &'static str,
    /// The answer when no row was ever written.
    pub(super) unknown: String,
}

/// Audits an operator's release of `ip` as `action` and answers it: the
/// row as it now is, or why not.
pub(super) async fn audited_release<L: ReleasedRow>(
    app: &App,
    caller: &Caller,
    action: &'static str,
    ip: String,
    released: Released<L>,
    words: ReleaseWords,
) -> Result<L, ApiError> {
    let (outcome, detail, answer) = release_answer(&ip, released, words);
    app.audit(
        &caller.user,
        caller.source,
        action,
        Some(ip),
        outcome,
        detail,
    )
    .await;
    answer
}

/// The audit outcome, its detail and the answer of an operator's release
/// of `ip`.
fn release_answer<L: ReleasedRow>(
    ip: &str,
    released: Released<L>,
    words: ReleaseWords,
) -> (&'static str, Option<String>, Result<L, ApiError>) {
    match released {
        Released::Ended { lease, was } => (
            "ok",
            Some(format!("{}; was {}", lease.owner(), was.as_str())),
            Ok(lease),
        ),
        Released::AlreadyFree(lease) => (
            "unchanged",
            Some(format!(
                "{}; {} ({})",
                lease.owner(),
                words.already,
                lease.state().as_str()
            )),
            Ok(lease),
        ),
        Released::Quarantined(lease) => {
            let until = headend_util::time::utc(i64::try_from(lease.expires()).unwrap_or(i64::MAX));
            (
                "conflict",
                Some(format!(
                    "{}; declined, quarantined until {until} UTC",
                    lease.owner()
                )),
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!(
                        "{ip} is quarantined until {until} UTC: its client declined it ({}); it returns to the pool then. Find the device that uses it",
                        words.declined
                    ),
                )),
            )
        }
        // Unknown: no row was ever written for the address.
        _ => ("not found", None, Err(ApiError::not_found(words.unknown))),
    }
}

/// POST /api/v1/leases/{address}/release: ends the lease now through the
/// DHCP core's rules for a release (RFC 2131 §4.3.4: the address returns to
/// the pool, the row is kept for its client), the same code whether or not
/// DHCP runs in this process. An address already free is answered as it is;
/// a declined one stays quarantined (409). The audit names the owner.
pub(crate) async fn release(
    State(app): State<Shared>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let ip: Ipv4Addr = address
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{address:?} is not an IPv4 address")))?;
    caller.require_address(ip)?;
    let dhcp = app.dhcp.clone();
    let released = app
        .blocking(move |s| match &dhcp {
            Some(service) => service.release(ip),
            None => headend_dhcp::release_lease(s, ip),
        })
        .await?;
    let now = unix_now();
    let words = ReleaseWords {
        already: "already free",
        declined: "DHCPDECLINE: the address is in use on the network",
        unknown: format!("no lease for {ip}"),
    };
    let lease = audited_release(
        &app,
        &caller,
        "lease.release",
        ip.to_string(),
        released,
        words,
    )
    .await?;
    Ok(Json(ReleasedResponse {
        released: lease_json(&lease, now),
    })
    .into_response())
}

/// 403 when a scoped caller names a reservation whose address is outside
/// its scopes (an unknown reservation is left to the handler's 404).
async fn require_reservation(
    app: &Shared,
    caller: &Caller,
    subnet: &str,
    mac: &str,
) -> Result<(), ApiError> {
    if caller.scopes.is_unrestricted() {
        return Ok(());
    }
    let all = app.blocking(|s| s.auth().reservations()).await?;
    match all.iter().find(|r| r.subnet == subnet && r.hwaddr == mac) {
        Some(r) => caller.require_address(r.address),
        None => Ok(()),
    }
}

/// GET /api/v1/reservations.
pub(crate) async fn reservations(
    State(app): State<Shared>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let all = app.blocking(|s| s.auth().reservations()).await?;
    let reservations = all
        .into_iter()
        .filter(|r| caller.scopes.allows_address(r.address))
        .map(Into::into)
        .collect();
    Ok(Json(ReservationsResponse { reservations }).into_response())
}

/// Normalises `AA-BB-CC-DD-EE-FF` / `aa:bb:...` to lowercase colon form.
pub fn normalise_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(parts.join(":").to_ascii_lowercase())
}

/// POST /api/v1/reservations.
pub(crate) async fn add_reservation(
    State(app): State<Shared>,
    caller: Caller,
    body: Result<Json<ReservationRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"subnet\", \"hwaddr\", \"address\", \"hostname\"?}}: {}",
            e.body_text()
        ))
    })?;
    let hwaddr = normalise_mac(&b.hwaddr).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{:?} is not a MAC address (aa:bb:cc:dd:ee:ff)",
            b.hwaddr
        ))
    })?;
    if b.subnet.is_empty() {
        return Err(ApiError::bad_request("subnet must name a [dhcp] subnet"));
    }
    caller.require_address(b.address)?;
    reservation_fits(&app, &b.subnet, &hwaddr, b.address).await?;
    let r = Reservation {
        subnet: b.subnet,
        hwaddr,
        address: b.address,
        hostname: b.hostname,
        created: unix_now(),
    };
    let target = format!("{} {} {}", r.subnet, r.hwaddr, r.address);
    let rr = r.clone();
    let stored = app.blocking(move |s| s.auth().reservation_put(&rr)).await?;
    app.audit(
        &caller.user,
        caller.source,
        "reservation.add",
        Some(target),
        if stored { "ok" } else { "conflict" },
        None,
    )
    .await;
    if !stored {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "{} is already reserved for another client in subnet {}",
                r.address, r.subnet
            ),
        ));
    }
    let stored = ReservationRequest {
        subnet: r.subnet,
        hwaddr: r.hwaddr,
        address: r.address,
        hostname: r.hostname,
    };
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// Refuses a reservation that the DHCP service could never hand out: no
/// `[dhcp]` in this process or no such subnet (404), an address that is not
/// a host address of the subnet (422), or an address that a config-file or
/// stored reservation gives to another client, in any subnet (409).
async fn reservation_fits(
    app: &Shared,
    subnet: &str,
    hwaddr: &str,
    address: Ipv4Addr,
) -> Result<(), ApiError> {
    use headend_dhcp::ReservationRefusal as R;
    let Some(dhcp) = &app.dhcp else {
        return Err(ApiError::not_found(format!(
            "this server runs no DHCP service (no [dhcp] section), so it has no subnet {subnet:?} to reserve in"
        )));
    };
    if let Err(refusal) = dhcp.check_reservation(subnet, hwaddr, address) {
        let message = refusal.to_string();
        return Err(match refusal {
            R::UnknownSubnet { .. } => ApiError::not_found(message),
            R::OutsideSubnet { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
            }
            _ => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        });
    }
    let all = app.blocking(|s| s.auth().reservations()).await?;
    if let Some(other) = all
        .iter()
        .find(|r| r.address == address && !(r.subnet == subnet && r.hwaddr == hwaddr))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "{address} is already reserved for {} in subnet {}: remove that reservation first (`headend ctl reservation delete {} {}`)",
                other.hwaddr, other.subnet, other.subnet, other.hwaddr
            ),
        ));
    }
    Ok(())
}

/// DELETE /api/v1/reservations/{subnet}/{hwaddr}.
pub(crate) async fn delete_reservation(
    State(app): State<Shared>,
    caller: Caller,
    Path((subnet, hwaddr)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let mac = normalise_mac(&hwaddr)
        .ok_or_else(|| ApiError::bad_request(format!("{hwaddr:?} is not a MAC address")))?;
    require_reservation(&app, &caller, &subnet, &mac).await?;
    let (s2, m2) = (subnet.clone(), mac.clone());
    let gone = app
        .blocking(move |s| s.auth().reservation_delete(&s2, &m2))
        .await?;
    app.audit(
        &caller.user,
        caller.source,
        "reservation.delete",
        Some(format!("{subnet} {mac}")),
        if gone { "ok" } else { "not found" },
        None,
    )
    .await;
    if !gone {
        return Err(ApiError::not_found(format!(
            "no reservation for {mac} in {subnet}"
        )));
    }
    Ok(Json(ReservationDeleted { deleted: true }).into_response())
}

/// Most attributes one reservation may carry.
const MAX_ATTRIBUTES: usize = 64;
/// Longest attribute value, in bytes.
const MAX_ATTRIBUTE_VALUE: usize = 1024;

/// An attribute name is an identifier (letters, digits, `_`, not starting
/// with a digit, at most 64 bytes), so templates can write
/// `reservation.attributes.NAME`.
fn attribute_name_ok(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks the names and values of an attribute change.
fn check_attributes(changes: &BTreeMap<String, Option<String>>) -> Result<(), ApiError> {
    for (name, value) in changes {
        if !attribute_name_ok(name) {
            return Err(ApiError::bad_request(format!(
                "attribute name {name:?}: use letters, digits and _ (not starting with a digit), at most 64"
            )));
        }
        if value
            .as_ref()
            .is_some_and(|v| v.len() > MAX_ATTRIBUTE_VALUE)
        {
            return Err(ApiError::bad_request(format!(
                "attribute {name:?}: a value holds at most {MAX_ATTRIBUTE_VALUE} bytes"
            )));
        }
    }
    Ok(())
}

/// The path's reservation key: (subnet, normalised MAC).
fn reservation_key(subnet: String, hwaddr: &str) -> Result<(String, String), ApiError> {
    let mac = normalise_mac(hwaddr)
        .ok_or_else(|| ApiError::bad_request(format!("{hwaddr:?} is not a MAC address")))?;
    Ok((subnet, mac))
}

fn attributes_answer(subnet: String, hwaddr: String, attributes: Attributes) -> Response {
    Json(ReservationAttributes {
        subnet,
        hwaddr,
        attributes,
    })
    .into_response()
}

/// GET /api/v1/reservations/{subnet}/{hwaddr}/attributes.
pub(crate) async fn reservation_attributes(
    State(app): State<Shared>,
    caller: Caller,
    Path((subnet, hwaddr)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let (subnet, mac) = reservation_key(subnet, &hwaddr)?;
    require_reservation(&app, &caller, &subnet, &mac).await?;
    let (s2, m2) = (subnet.clone(), mac.clone());
    let found = app
        .blocking(move |s| s.auth().reservation_attributes(&s2, &m2))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no reservation for {mac} in {subnet}")))?;
    Ok(attributes_answer(subnet, mac, found))
}

/// PUT (replace every attribute: `{"tier": "gold", ...}`) and PATCH (set
/// some, `null` removes one) /api/v1/reservations/{subnet}/{hwaddr}/attributes.
/// The TFTP templates of the client see the change at its next fetch.
async fn change_attributes(
    app: Shared,
    caller: Caller,
    subnet: String,
    hwaddr: &str,
    changes: BTreeMap<String, Option<String>>,
    replace: bool,
) -> Result<Response, ApiError> {
    caller.require(Role::Operator)?;
    let (subnet, mac) = reservation_key(subnet, hwaddr)?;
    require_reservation(&app, &caller, &subnet, &mac).await?;
    check_attributes(&changes)?;
    let (s2, m2) = (subnet.clone(), mac.clone());
    let current = app
        .blocking(move |s| s.auth().reservation_attributes(&s2, &m2))
        .await?
        .unwrap_or_default();
    let count = changes
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .chain(
            current
                .keys()
                .filter(|k| !replace && !changes.contains_key(*k)),
        )
        .count();
    if count > MAX_ATTRIBUTES {
        return Err(ApiError::bad_request(format!(
            "a reservation carries at most {MAX_ATTRIBUTES} attributes; this change would leave {count}"
        )));
    }
    let names = |set: bool| {
        changes
            .iter()
            .filter(|(_, v)| v.is_some() == set)
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let detail = format!(
        "{}set {}; removed {}",
        if replace { "replaced all; " } else { "" },
        names(true),
        names(false)
    );
    let (s2, m2) = (subnet.clone(), mac.clone());
    let after = app
        .blocking(move |s| {
            s.auth()
                .reservation_attributes_update(&s2, &m2, &changes, replace)
        })
        .await?;
    app.audit(
        &caller.user,
        caller.source,
        "reservation.attributes",
        Some(format!("{subnet} {mac}")),
        if after.is_some() { "ok" } else { "not found" },
        Some(detail),
    )
    .await;
    let after = after
        .ok_or_else(|| ApiError::not_found(format!("no reservation for {mac} in {subnet}")))?;
    Ok(attributes_answer(subnet, mac, after))
}

fn attributes_body<T>(body: Result<Json<T>, JsonRejection>, form: &str) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        ApiError::bad_request(format!(
            "expected a JSON object of attributes, {form}: {}",
            e.body_text()
        ))
    })
}

/// PUT /api/v1/reservations/{subnet}/{hwaddr}/attributes: replaces them all.
pub(crate) async fn put_reservation_attributes(
    State(app): State<Shared>,
    caller: Caller,
    Path((subnet, hwaddr)): Path<(String, String)>,
    body: Result<Json<BTreeMap<String, String>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let set = attributes_body(body, "{\"tier\": \"gold\"}")?;
    let changes = set.into_iter().map(|(k, v)| (k, Some(v))).collect();
    change_attributes(app, caller, subnet, &hwaddr, changes, true).await
}

/// PATCH /api/v1/reservations/{subnet}/{hwaddr}/attributes: sets the given
/// ones, removes those given as `null`, keeps the rest.
pub(crate) async fn patch_reservation_attributes(
    State(app): State<Shared>,
    caller: Caller,
    Path((subnet, hwaddr)): Path<(String, String)>,
    body: Result<Json<BTreeMap<String, Option<String>>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let changes = attributes_body(body, "{\"tier\": \"gold\", \"old\": null}")?;
    change_attributes(app, caller, subnet, &hwaddr, changes, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_identifiers() {
        for ok in ["tier", "max_cpe", "_x", "Rate2"] {
            assert!(attribute_name_ok(ok), "{ok}");
        }
        for bad in ["", "2x", "a-b", "a.b", "a b", &"x".repeat(65)] {
            assert!(!attribute_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn mac_forms_normalise_to_lowercase_colons() {
        assert_eq!(
            normalise_mac("AA-BB-CC-00-11-22").as_deref(),
            Some("aa:bb:cc:00:11:22")
        );
        assert!(normalise_mac("aa:bb:cc").is_none());
        assert!(normalise_mac("zz:bb:cc:00:11:22").is_none());
    }
}
