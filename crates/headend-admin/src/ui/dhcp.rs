//! The dashboard, the lease search with release, and reservations.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form, Json};
use headend_store::{Lease, LeaseFilter, LeaseState};
use serde::{Deserialize, Serialize};

use super::UiUser;
use super::view::{Page, done_message, error_page, query_escape, see_other, segment};
use crate::api::types::ReservationRequest;
use crate::api::{Shared, dhcp as api, normalise_mac, unix_now};

/// Leases per page of the lease search.
pub(crate) const PAGE_SIZE: u32 = 50;

/// `?done=` after a successful form.
#[derive(Deserialize, Default)]
pub(crate) struct Done {
    done: Option<String>,
}

fn store_failed(user: &UiUser) -> Response {
    error_page(
        user,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the server log",
    )
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A circuit-id as text when it is printable ASCII, else as hex.
fn circuit_text(bytes: &[u8]) -> String {
    if !bytes.is_empty() && bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        colon_hex(bytes)
    }
}

/// A typed circuit-id: colon-separated hex pairs (`01:02:0a`) or `0x0102`
/// are bytes; anything else is the text's bytes.
fn parse_circuit(s: &str) -> Vec<u8> {
    let hex_pairs = s.contains(':')
        && s.split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if hex_pairs && let Ok(b) = hex::decode(s.replace(':', "")) {
        return b;
    }
    if let Some(h) = s.strip_prefix("0x")
        && let Ok(b) = hex::decode(h)
    {
        return b;
    }
    s.as_bytes().to_vec()
}

// ---------------------------------------------------------------- dashboard

#[derive(Serialize, Default)]
struct SubnetRow {
    subnet: String,
    pool_size: u64,
    in_use: u64,
    percent: u64,
    offered: u64,
    bound: u64,
    released: u64,
    declined: u64,
    expired: u64,
}

/// GET /ui/: pool utilisation, leases by state, zones, service counters.
pub(crate) async fn dashboard(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
) -> Response {
    let now = unix_now();
    let Ok(counts) = app.blocking(move |s| s.lease_counts(now)).await else {
        return store_failed(&user);
    };
    let mut subnets: BTreeMap<String, SubnetRow> = BTreeMap::new();
    if let Some(dhcp) = &app.dhcp {
        for (subnet, first, last) in dhcp.pool_ranges() {
            let size = u64::from(u32::from(last).saturating_sub(u32::from(first))) + 1;
            let row = subnets.entry(subnet.clone()).or_default();
            row.subnet = subnet;
            row.pool_size += size;
        }
    }
    let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
    for c in &counts {
        let row = subnets.entry(c.subnet.clone()).or_default();
        row.subnet.clone_from(&c.subnet);
        let slot = match c.state {
            LeaseState::Offered => &mut row.offered,
            LeaseState::Bound => &mut row.bound,
            LeaseState::Declined => &mut row.declined,
            _ => &mut row.released,
        };
        // Offers, bindings and quarantines hold their address while live;
        // a released row is free whatever its time.
        if matches!(c.state, LeaseState::Released) {
            *slot += c.total;
        } else {
            *slot += c.live;
            row.expired += c.total - c.live;
            row.in_use += c.live;
        }
        *by_state.entry(c.state.as_str()).or_default() += if matches!(c.state, LeaseState::Released)
        {
            c.total
        } else {
            c.live
        };
    }
    for row in subnets.values_mut() {
        row.percent = (row.in_use * 100)
            .checked_div(row.pool_size)
            .unwrap_or(0)
            .min(100);
    }
    let zones: Vec<ZoneRow> = zone_rows(&app);
    let dhcp_stats = app.dhcp.as_ref().map(|d| {
        let s = d.stats();
        s.counters()
            .filter(|(name, _)| {
                [
                    "received",
                    "discover",
                    "request",
                    "offer",
                    "ack",
                    "nak",
                    "decline",
                    "release",
                    "config_reloads",
                    "config_reload_refused",
                ]
                .contains(name)
            })
            .map(|(n, v)| (n.replace('_', " "), v))
            .collect::<Vec<_>>()
    });
    let dns_stats = app.dns.as_ref().map(|d| {
        let s = d.stats();
        vec![
            ("UDP queries", s.udp_queries),
            ("TCP queries", s.tcp_queries),
            ("RRL dropped", s.rrl_dropped),
            ("RRL slipped", s.rrl_slipped),
            ("mail lint findings", s.mail_lint_findings),
        ]
    });
    let tftp_stats = app.tftp.as_ref().map(|t| {
        let s = t.stats();
        vec![
            ("requests", s.requests),
            ("transfers completed", s.transfers_ok),
            ("transfers failed", s.transfers_failed),
            ("refused", s.refused),
            ("active now", s.active as u64),
            ("bytes sent", s.bytes_sent),
            ("template renders", s.template_renders),
            ("template errors", s.template_errors),
        ]
    });
    let rates = rates::now(&app, std::time::Instant::now(), app.process.started(), now);
    let last_reload = app.process.last_reload();
    Page::of("dashboard.html", &user, "dashboard")
        .with("tftp_stats", tftp_stats)
        .with("rates", rates)
        .with("last_reload", last_reload.map(|(t, _)| t))
        .with("last_reload_ok", last_reload.is_some_and(|(_, ok)| ok))
        .with("subnets", subnets.into_values().collect::<Vec<_>>())
        .with("by_state", by_state)
        .with("zones", zones)
        .with("dhcp_stats", dhcp_stats)
        .with("dns_stats", dns_stats)
        .with("dhcp_here", app.dhcp.is_some())
        .with("now", now)
        .with("started", app.process.started())
        .render()
}

/// A served zone as the dashboard and the zone list show it.
#[derive(Serialize)]
pub(crate) struct ZoneRow {
    pub(crate) origin: String,
    pub(crate) serial: u32,
    pub(crate) records: usize,
    pub(crate) signed: bool,
    /// Signed zones: whole days until the earliest signature expires.
    pub(crate) sig_days: Option<i64>,
}

/// The dashboard's request rates: per second between this view and an
/// earlier one (the oldest of the last five minutes), or since the process
/// started when there is none.
mod rates {
    use std::collections::VecDeque;
    use std::sync::{Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use serde::Serialize;

    use crate::api::Shared;

    /// The service totals at one moment.
    #[derive(Clone, Copy)]
    struct Totals {
        at: Instant,
        dhcp: u64,
        dns: u64,
        tftp: u64,
    }

    /// Rates shown, per second, over `window` seconds.
    #[derive(Serialize)]
    pub(crate) struct Rates {
        window: u64,
        dhcp: Option<String>,
        dns: Option<String>,
        tftp: Option<String>,
    }

    /// Views kept to compute rates from (at most this old).
    const KEEP: Duration = Duration::from_secs(300);
    /// The shortest window a rate is computed over.
    const MIN_WINDOW: Duration = Duration::from_secs(1);

    static SEEN: Mutex<VecDeque<Totals>> = Mutex::new(VecDeque::new());

    /// The rates now (`at`), remembering this view for later ones.
    pub(crate) fn now(app: &Shared, at: Instant, started: u64, unix: u64) -> Rates {
        let cur = Totals {
            at,
            dhcp: app.dhcp.as_ref().map_or(0, |d| d.stats().received),
            dns: app.dns.as_ref().map_or(0, |d| {
                let s = d.stats();
                s.udp_queries + s.tcp_queries
            }),
            tftp: app.tftp.as_ref().map_or(0, |t| t.stats().requests),
        };
        let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
        while seen
            .front()
            .is_some_and(|t| at.saturating_duration_since(t.at) > KEEP)
        {
            seen.pop_front();
        }
        let base = seen
            .iter()
            .find(|t| at.saturating_duration_since(t.at) >= MIN_WINDOW)
            .copied();
        if seen.len() >= 64 {
            seen.pop_front();
        }
        seen.push_back(cur);
        drop(seen);
        let (window, base) = match base {
            Some(b) => (at.saturating_duration_since(b.at).as_secs_f64(), b),
            None => (
                unix.saturating_sub(started).max(1) as f64,
                Totals {
                    at,
                    dhcp: 0,
                    dns: 0,
                    tftp: 0,
                },
            ),
        };
        let rate = |here: bool, a: u64, b: u64| {
            here.then(|| format!("{:.1}", a.saturating_sub(b) as f64 / window))
        };
        Rates {
            window: window.round() as u64,
            dhcp: rate(app.dhcp.is_some(), cur.dhcp, base.dhcp),
            dns: rate(app.dns.is_some(), cur.dns, base.dns),
            tftp: rate(app.tftp.is_some(), cur.tftp, base.tftp),
        }
    }
}

/// Every served zone with its serial, size and whether it is signed.
pub(crate) fn zone_rows(app: &Shared) -> Vec<ZoneRow> {
    let Some(dns) = &app.dns else {
        return Vec::new();
    };
    let catalog = dns.catalog();
    let signed: std::collections::HashSet<String> = catalog
        .zones()
        .filter(|z| z.dnssec().is_some())
        .map(|z| z.origin().to_string().to_ascii_lowercase())
        .collect();
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    let expiry: std::collections::HashMap<String, i64> = dns
        .signed_zones()
        .into_iter()
        .filter_map(|z| {
            let t = z.rrsig_expires?;
            Some((
                z.origin.trim_end_matches('.').to_ascii_lowercase(),
                (t - now).div_euclid(86_400),
            ))
        })
        .collect();
    dns.zone_summaries()
        .into_iter()
        .map(|z| ZoneRow {
            sig_days: expiry
                .get(&z.origin.trim_end_matches('.').to_ascii_lowercase())
                .copied(),
            signed: signed.contains(&z.origin.to_ascii_lowercase()),
            origin: z.origin,
            serial: z.serial,
            records: z.records,
        })
        .collect()
}

// ------------------------------------------------------------------- leases

/// The lease search form (`GET /ui/leases?...`).
#[derive(Deserialize, Default, Serialize, Clone)]
pub(crate) struct LeaseSearch {
    #[serde(default)]
    mac: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    circuit: String,
    #[serde(default)]
    subnet: String,
    #[serde(default)]
    state: String,
    page: Option<u64>,
    done: Option<String>,
}

impl LeaseSearch {
    /// The store filter, or the message of each field that is not valid.
    fn filter(&self) -> Result<LeaseFilter, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let mut f = LeaseFilter::default();
        let mac = self.mac.trim();
        if !mac.is_empty() {
            match normalise_mac(mac).and_then(|m| hex::decode(m.replace(':', "")).ok()) {
                Some(b) => f.hwaddr = Some(b),
                None => {
                    errors.insert(
                        "mac",
                        format!("{mac:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
                    );
                }
            }
        }
        let ip = self.ip.trim();
        if !ip.is_empty() {
            match ip.parse::<Ipv4Addr>() {
                Ok(a) => f.address = Some(a),
                Err(_) => {
                    errors.insert("ip", format!("{ip:?} is not an IPv4 address"));
                }
            }
        }
        let host = self.hostname.trim();
        if !host.is_empty() {
            f.hostname = Some(host.to_owned());
        }
        let circuit = self.circuit.trim();
        if !circuit.is_empty() {
            f.circuit_id = Some(parse_circuit(circuit));
        }
        if !self.subnet.trim().is_empty() {
            f.subnet = Some(self.subnet.trim().to_owned());
        }
        if !self.state.is_empty() {
            match LeaseState::parse(&self.state) {
                Ok(s) => f.state = Some(s),
                Err(_) => {
                    errors.insert("state", "choose a state from the list".to_owned());
                }
            }
        }
        if errors.is_empty() {
            Ok(f)
        } else {
            Err(errors)
        }
    }

    /// The query string of this search without the page.
    fn query(&self) -> String {
        [
            ("mac", &self.mac),
            ("ip", &self.ip),
            ("hostname", &self.hostname),
            ("circuit", &self.circuit),
            ("subnet", &self.subnet),
            ("state", &self.state),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Serialize)]
struct LeaseRow {
    address: String,
    hwaddr: String,
    hostname: Option<String>,
    state: &'static str,
    expires: u64,
    live: bool,
    subnet: String,
    circuit: Option<String>,
    class: Option<String>,
    releasable: bool,
}

fn lease_row(l: &Lease, now: u64) -> LeaseRow {
    LeaseRow {
        address: l.address.to_string(),
        hwaddr: colon_hex(&l.hwaddr),
        hostname: l.hostname.clone(),
        state: l.state.as_str(),
        expires: l.expires,
        live: l.is_live(now),
        subnet: l.subnet.clone(),
        circuit: l.circuit_id.as_deref().map(circuit_text),
        class: l.class.clone(),
        releasable: l.is_live(now) && matches!(l.state, LeaseState::Offered | LeaseState::Bound),
    }
}

/// GET /ui/leases: search by MAC, IP, host name, circuit-id, subnet or
/// state; one page of [`PAGE_SIZE`] rows read from the store.
pub(crate) async fn leases(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Query(q): Query<LeaseSearch>,
) -> Response {
    let page = Page::of("leases.html", &user, "leases")
        .with("q", &q)
        .with("states", ["offered", "bound", "released", "declined"])
        .with("notice", done_message(q.done.as_deref()));
    let filter = match q.filter() {
        Ok(f) => f,
        Err(errors) => {
            return page
                .with("errors", errors)
                .status(StatusCode::UNPROCESSABLE_ENTITY)
                .render();
        }
    };
    let wanted = q.page.unwrap_or(1).max(1);
    let offset = (wanted - 1).saturating_mul(u64::from(PAGE_SIZE));
    let f2 = filter.clone();
    let Ok(mut found) = app
        .blocking(move |s| s.lease_page(&f2, offset, PAGE_SIZE))
        .await
    else {
        return store_failed(&user);
    };
    let pages = found.total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let mut current = wanted;
    if wanted > pages {
        // Past the end (the set shrank): show the last page.
        current = pages;
        let offset = (pages - 1) * u64::from(PAGE_SIZE);
        match app
            .blocking(move |s| s.lease_page(&filter, offset, PAGE_SIZE))
            .await
        {
            Ok(p) => found = p,
            Err(_) => return store_failed(&user),
        }
    }
    let now = unix_now();
    let rows: Vec<LeaseRow> = found.leases.iter().map(|l| lease_row(l, now)).collect();
    page.with("leases", rows)
        .with("total", found.total)
        .with("page", current)
        .with("pages", pages)
        .with("query", q.query())
        .render()
}

/// GET /ui/leases/{address}/release: asks for confirmation.
pub(crate) async fn release_confirm(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(address): Path<String>,
) -> Response {
    let Ok(ip) = address.parse::<Ipv4Addr>() else {
        return error_page(
            &user,
            StatusCode::BAD_REQUEST,
            &format!("{address:?} is not an IPv4 address"),
        );
    };
    let Ok(lease) = app.blocking(move |s| s.lease_at(ip)).await else {
        return store_failed(&user);
    };
    let Some(lease) = lease else {
        return error_page(&user, StatusCode::NOT_FOUND, &format!("no lease for {ip}"));
    };
    let row = lease_row(&lease, unix_now());
    let what = format!(
        "Release {ip}, held by {} ({}, {})? The address returns to the pool; the client keeps using it until it notices.",
        row.hwaddr,
        row.hostname.as_deref().unwrap_or("no host name"),
        row.state
    );
    Page::of("confirm.html", &user, "leases")
        .with("title", format!("Release {ip}"))
        .with("message", what)
        .with("action", format!("/ui/leases/{ip}/release"))
        .with("button", format!("Release {ip}"))
        .with("cancel", "/ui/leases")
        .render()
}

/// POST /ui/leases/{address}/release: the API's release.
pub(crate) async fn release(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path(address): Path<String>,
) -> Response {
    match api::release(State(Arc::clone(&app)), user.caller.clone(), Path(address)).await {
        Ok(_) => see_other("/ui/leases?done=released"),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

// ------------------------------------------------------------- reservations

/// The add-reservation form.
#[derive(Deserialize, Serialize, Default, Clone)]
pub(crate) struct ReservationForm {
    #[serde(default)]
    subnet: String,
    #[serde(default)]
    hwaddr: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    hostname: String,
}

async fn reservations_page(
    app: &Shared,
    user: &UiUser,
    form: &ReservationForm,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let Ok(list) = app.blocking(|s| s.auth().reservations()).await else {
        return store_failed(user);
    };
    let rows: Vec<_> = list
        .into_iter()
        .map(|r| {
            let link = format!(
                "/ui/reservations/{}/{}",
                segment(&r.subnet),
                segment(&r.hwaddr)
            );
            serde_json::json!({
                "subnet": r.subnet, "hwaddr": r.hwaddr, "address": r.address.to_string(),
                "hostname": r.hostname, "created": r.created, "link": link,
            })
        })
        .collect();
    let subnets: Vec<String> = app.dhcp.as_ref().map_or_else(Vec::new, |d| {
        let mut v: Vec<String> = d.pool_ranges().into_iter().map(|(s, _, _)| s).collect();
        v.dedup();
        v
    });
    Page::of("reservations.html", user, "reservations")
        .with("reservations", rows)
        .with("form", form)
        .with("errors", errors)
        .with("subnets", subnets)
        .with("notice", notice)
        .status(status)
        .render()
}

/// GET /ui/reservations.
pub(crate) async fn reservations(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Query(d): Query<Done>,
) -> Response {
    reservations_page(
        &app,
        &user,
        &ReservationForm::default(),
        BTreeMap::new(),
        done_message(d.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

/// POST /ui/reservations: the API's add, after the same field checks.
pub(crate) async fn add_reservation(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Form(f): Form<ReservationForm>,
) -> Response {
    let mut errors = BTreeMap::new();
    if f.subnet.trim().is_empty() {
        errors.insert("subnet", "subnet must name a [dhcp] subnet".to_owned());
    }
    if normalise_mac(f.hwaddr.trim()).is_none() {
        errors.insert(
            "hwaddr",
            format!(
                "{:?} is not a MAC address (aa:bb:cc:dd:ee:ff)",
                f.hwaddr.trim()
            ),
        );
    }
    let address = f.address.trim().parse::<Ipv4Addr>();
    if address.is_err() {
        errors.insert(
            "address",
            format!("{:?} is not an IPv4 address", f.address.trim()),
        );
    }
    let (Ok(address), true) = (address, errors.is_empty()) else {
        return reservations_page(
            &app,
            &user,
            &f,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let hostname = Some(f.hostname.trim().to_owned()).filter(|h| !h.is_empty());
    let request = ReservationRequest {
        subnet: f.subnet.trim().to_owned(),
        hwaddr: f.hwaddr.trim().to_owned(),
        address,
        hostname,
    };
    match api::add_reservation(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Ok(Json(request)),
    )
    .await
    {
        Ok(_) => see_other("/ui/reservations?done=reservation-added"),
        Err(e) => {
            // A conflict is about the address; anything else is shown on top.
            let field = if e.status() == StatusCode::CONFLICT {
                "address"
            } else {
                "form"
            };
            errors.insert(field, e.message().to_owned());
            reservations_page(&app, &user, &f, errors, None, e.status()).await
        }
    }
}

async fn reservation_page(
    app: &Shared,
    user: &UiUser,
    (subnet, hwaddr): (String, String),
    rows: Option<Vec<(String, String)>>,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let Some(mac) = normalise_mac(&hwaddr) else {
        return error_page(
            user,
            StatusCode::BAD_REQUEST,
            &format!("{hwaddr:?} is not a MAC address"),
        );
    };
    let (s2, m2) = (subnet.clone(), mac.clone());
    let Ok(found) = app
        .blocking(move |s| {
            let r = s
                .auth()
                .reservations()?
                .into_iter()
                .find(|r| r.subnet == s2 && r.hwaddr == m2);
            let a = s.auth().reservation_attributes(&s2, &m2)?;
            Ok((r, a))
        })
        .await
    else {
        return store_failed(user);
    };
    let (Some(r), Some(attrs)) = found else {
        return error_page(
            user,
            StatusCode::NOT_FOUND,
            &format!("no reservation for {mac} in {subnet}"),
        );
    };
    let mut rows = rows.unwrap_or_else(|| attrs.into_iter().collect());
    // Room for new attributes.
    rows.extend(std::iter::repeat_n((String::new(), String::new()), 3));
    let base = format!("/ui/reservations/{}/{}", segment(&subnet), segment(&mac));
    Page::of("reservation.html", user, "reservations")
        .with(
            "r",
            serde_json::json!({
                "subnet": r.subnet, "hwaddr": r.hwaddr, "address": r.address.to_string(),
                "hostname": r.hostname, "created": r.created,
            }),
        )
        .with("rows", rows)
        .with("base", base)
        .with("error", error)
        .with("notice", notice)
        .status(status)
        .render()
}

/// GET /ui/reservations/{subnet}/{hwaddr}: the reservation and its attributes.
pub(crate) async fn reservation(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path((subnet, hwaddr)): Path<(String, String)>,
    Query(d): Query<Done>,
) -> Response {
    reservation_page(
        &app,
        &user,
        (subnet, hwaddr),
        None,
        None,
        done_message(d.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

/// POST /ui/reservations/{subnet}/{hwaddr}: replaces the attributes (the
/// API's PUT) with the form's non-empty rows (`name_N`, `value_N`).
pub(crate) async fn save_attributes(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path((subnet, hwaddr)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let mut names: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for (k, v) in fields {
        if let Some(i) = k.strip_prefix("name_").and_then(|i| i.parse().ok()) {
            names.entry(i).or_default().0 = v.trim().to_owned();
        } else if let Some(i) = k.strip_prefix("value_").and_then(|i| i.parse().ok()) {
            names.entry(i).or_default().1 = v;
        }
    }
    let rows: Vec<(String, String)> = names
        .into_values()
        .filter(|(n, v)| !n.is_empty() || !v.is_empty())
        .collect();
    if let Some((_, v)) = rows.iter().find(|(n, _)| n.is_empty()) {
        let msg = format!("the value {v:?} has no attribute name");
        return reservation_page(
            &app,
            &user,
            (subnet, hwaddr),
            Some(rows),
            Some(msg),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let set: BTreeMap<String, String> = rows.iter().cloned().collect();
    match api::put_reservation_attributes(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path((subnet.clone(), hwaddr.clone())),
        Ok(Json(set)),
    )
    .await
    {
        Ok(_) => {
            let to = format!(
                "/ui/reservations/{}/{}?done=attributes-saved",
                segment(&subnet),
                segment(&normalise_mac(&hwaddr).unwrap_or(hwaddr))
            );
            see_other(&to)
        }
        Err(e) => {
            let status = e.status();
            reservation_page(
                &app,
                &user,
                (subnet, hwaddr),
                Some(rows),
                Some(e.message().to_owned()),
                None,
                status,
            )
            .await
        }
    }
}

/// GET /ui/reservations/{subnet}/{hwaddr}/delete: asks for confirmation.
pub(crate) async fn delete_confirm(
    Extension(user): Extension<UiUser>,
    Path((subnet, hwaddr)): Path<(String, String)>,
) -> Response {
    let base = format!("/ui/reservations/{}/{}", segment(&subnet), segment(&hwaddr));
    Page::of("confirm.html", &user, "reservations")
        .with("title", format!("Delete the reservation of {hwaddr}"))
        .with(
            "message",
            format!(
                "Delete the reservation of {hwaddr} in subnet {subnet}, with its attributes? The client gets a pool address at its next renewal."
            ),
        )
        .with("action", format!("{base}/delete"))
        .with("button", "Delete the reservation")
        .with("cancel", base)
        .render()
}

/// POST /ui/reservations/{subnet}/{hwaddr}/delete: the API's delete.
pub(crate) async fn delete_reservation(
    State(app): State<Shared>,
    Extension(user): Extension<UiUser>,
    Path((subnet, hwaddr)): Path<(String, String)>,
) -> Response {
    match api::delete_reservation(
        State(Arc::clone(&app)),
        user.caller.clone(),
        Path((subnet, hwaddr)),
    )
    .await
    {
        Ok(_) => see_other("/ui/reservations?done=reservation-deleted"),
        Err(e) => error_page(&user, e.status(), e.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_ids_are_typed_as_text_or_hex() {
        assert_eq!(parse_circuit("cmts1:eth0/1"), b"cmts1:eth0/1".to_vec());
        assert_eq!(parse_circuit("01:0a:ff"), vec![1, 10, 255]);
        assert_eq!(parse_circuit("0x0102"), vec![1, 2]);
        assert_eq!(circuit_text(b"cmts1:eth0"), "cmts1:eth0");
        assert_eq!(circuit_text(&[0, 1]), "00:01");
    }

    #[test]
    fn lease_search_names_the_field_that_is_wrong() {
        let q = LeaseSearch {
            mac: "zz:00".into(),
            ip: "10.0.0.300".into(),
            state: "gone".into(),
            ..Default::default()
        };
        let errors = q.filter().unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["ip", "mac", "state"]
        );
        let q = LeaseSearch {
            mac: "AA-BB-CC-00-11-22".into(),
            ip: " 10.0.0.3 ".into(),
            hostname: "modem".into(),
            state: "bound".into(),
            ..Default::default()
        };
        let f = q.filter().unwrap();
        assert_eq!(f.hwaddr, Some(vec![0xaa, 0xbb, 0xcc, 0, 0x11, 0x22]));
        assert_eq!(f.address, Some(Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(f.state, Some(LeaseState::Bound));
        assert_eq!(
            q.query(),
            "mac=AA-BB-CC-00-11-22&ip=%2010.0.0.3%20&hostname=modem&state=bound"
        );
    }
}
