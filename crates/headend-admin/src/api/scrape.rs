//! `GET /metrics`: every service's typed statistics in the Prometheus text
//! format, rendered one way (the `metrics` recorder of
//! `metrics-exporter-prometheus`).
//!
//! The services count with plain atomics on their hot paths and never call
//! the recorder; at scrape time this module reads each handle's snapshot and
//! copies it in (counters with `absolute`, gauges with `set`). Labels come
//! only from bounded sets: message types, drop reasons, configured zones,
//! subnets, pools and classes, the first relays seen; never a client
//! address.
//!
//! Everything copied from a service goes into a recorder made for this
//! scrape, so a label value that went away (a zone or pool a reload
//! removed) is simply not there the next time: no stale series. Only the
//! histograms (fixed labels) are added to the process-wide recorder, as the
//! bucket deltas since the last scrape, beside the admin API's own
//! counters; the two renderings are concatenated.
//!
//! Access: without a token only from `[admin] metrics_allow` (default
//! loopback), otherwise with a token of any role.

use std::collections::HashMap;
use std::sync::{Mutex, Once, PoisonError};

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use headend_util::HistogramSnapshot;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::PrometheusBuilder;

use super::{ApiError, Shared, Source, bearer};

/// The bucket bounds (seconds) of every `*_duration_seconds` histogram.
pub(crate) fn duration_buckets() -> Vec<f64> {
    HistogramSnapshot::bounds_secs(headend_util::histogram::LATENCY_BOUNDS_US)
}

/// The counters' and gauges' help texts, given to each scrape's recorder.
fn describe_copied() {
    for (name, help) in COUNTERS {
        describe_counter!(*name, *help);
    }
    for (name, help) in GAUGES {
        describe_gauge!(*name, *help);
    }
}

/// The help texts of the process-wide recorder (the admin API's own
/// counters and the histograms), given once.
fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        describe_copied();
        describe_histogram!(
            "headend_dhcp_commit_duration_seconds",
            metrics::Unit::Seconds,
            "Time from the start of a lease batch's commit to the end of the sync that made it durable (its replies wait that long)."
        );
        describe_histogram!(
            "headend_tftp_transfer_duration_seconds",
            metrics::Unit::Seconds,
            "Duration of completed TFTP transfers."
        );
    });
}

const COUNTERS: &[(&str, &str)] = &[
    (
        "headend_admin_requests_total",
        "Admin API requests by method, route and status.",
    ),
    (
        "headend_admin_refused_total",
        "Admin API connections or requests refused, by reason.",
    ),
    (
        "headend_admin_timeouts_total",
        "Admin API connections closed for a timeout, by phase.",
    ),
    ("headend_admin_logins_total", "Admin API logins by result."),
    (
        "headend_admin_refreshes_total",
        "Admin API refresh-token rotations.",
    ),
    (
        "headend_admin_refresh_reuse_total",
        "Refresh tokens presented again after rotation (the session family is revoked).",
    ),
    (
        "headend_admin_token_rejected_total",
        "Access tokens rejected, by reason.",
    ),
    (
        "headend_config_reloads_total",
        "Configuration reloads (SIGHUP) by result: ok (applied) or failed (the config file did not load).",
    ),
    (
        "headend_dhcp_datagrams_received_total",
        "DHCP datagrams received.",
    ),
    (
        "headend_dhcp_packets_received_total",
        "DHCP requests received, by message type.",
    ),
    (
        "headend_dhcp_packets_sent_total",
        "DHCP replies sent, by message type.",
    ),
    (
        "headend_dhcp_relay_requests_total",
        "DHCP requests received through each relay (giaddr); the first 64 relays by address, the rest as other.",
    ),
    (
        "headend_dhcp_send_errors_total",
        "DHCP replies the socket refused to send.",
    ),
    (
        "headend_dhcp_dropped_total",
        "DHCP requests dropped or left unanswered, by reason.",
    ),
    (
        "headend_dhcp_lease_commits_total",
        "Lease batches committed to the store (one transaction each).",
    ),
    (
        "headend_dhcp_lease_syncs_total",
        "Syncs that made committed lease batches durable.",
    ),
    (
        "headend_dhcp_config_reloads_total",
        "DHCP configuration reloads, by result.",
    ),
    (
        "headend_dhcp6_datagrams_received_total",
        "DHCPv6 datagrams received.",
    ),
    (
        "headend_dhcp6_packets_received_total",
        "Well-formed DHCPv6 client messages received, by message type.",
    ),
    (
        "headend_dhcp6_relayed_total",
        "DHCPv6 client messages that came in RELAY-FORW.",
    ),
    (
        "headend_dhcp6_packets_sent_total",
        "DHCPv6 messages sent, by message type.",
    ),
    (
        "headend_dhcp6_dropped_total",
        "DHCPv6 datagrams dropped or left unanswered, by reason.",
    ),
    (
        "headend_dhcp6_binding_commits_total",
        "DHCPv6 binding batches committed to the store.",
    ),
    (
        "headend_dhcp6_binding_syncs_total",
        "Syncs that made committed DHCPv6 binding batches durable.",
    ),
    (
        "headend_dns_queries_total",
        "DNS requests received, by transport.",
    ),
    (
        "headend_dns_responses_total",
        "DNS responses sent (UDP and TCP, zone transfers excepted), by RCODE.",
    ),
    (
        "headend_dns_responses_by_qtype_total",
        "DNS responses sent, by query type (a fixed set, then other).",
    ),
    (
        "headend_dns_rrl_responses_total",
        "Responses changed by response rate limiting, by action.",
    ),
    (
        "headend_dns_tcp_refused_total",
        "DNS TCP connections closed at once because their client had too many.",
    ),
    (
        "headend_dns_tcp_evicted_total",
        "DNS TCP connections closed to make room for a new one.",
    ),
    (
        "headend_dns_notify_total",
        "NOTIFY messages to secondaries by result: acked, refused (error RCODE), unanswered (after every retry), failed (not sent).",
    ),
    (
        "headend_dns_zone_queries_total",
        "DNS responses sent, by the served zone the question falls in (other: none).",
    ),
    (
        "headend_dns_fast_path_total",
        "Plain DNS queries by what the answer cache did: hit, shared_hit (a missing name's answer shared by its class), miss (full responder).",
    ),
    (
        "headend_dns_transfers_total",
        "Zone transfers answered over TCP, by kind (axfr, ixfr) and result (ok, refused).",
    ),
    (
        "headend_dhcp_class_requests_total",
        "DHCP requests received, by the first configured class they matched (\"\": none).",
    ),
    (
        "headend_tftp_refused_by_rule_total",
        "TFTP requests refused, by rule: allow_list, client_rate, client_limit, server_limit, lease_binding.",
    ),
    (
        "headend_tftp_template_renders_total",
        "TFTP templates rendered.",
    ),
    (
        "headend_dns_zone_load_failures_total",
        "Zone loads that failed (the previous version, if any, stayed served).",
    ),
    (
        "headend_store_commit_errors_total",
        "DHCP requests lost to a store failure (not acknowledged; clients retry).",
    ),
    (
        "headend_store_commit_conflicts_total",
        "DHCP requests lost to another server's change of the same leases (shared PostgreSQL).",
    ),
    (
        "headend_store_conflicts_total",
        "DHCP lease transactions that lost to another server's change (shared PostgreSQL), by kind: serialization failure or deadlock; their requests were retried.",
    ),
    (
        "headend_store_conflict_retries_total",
        "DHCP lease transactions run again after a conflict (shared PostgreSQL).",
    ),
    (
        "headend_tftp_requests_total",
        "TFTP read and write requests received.",
    ),
    (
        "headend_tftp_refused_total",
        "TFTP requests refused with an ERROR, by stage: request (malformed or not allowed), admission (allow-list, limits), file (path, lease binding, missing, template).",
    ),
    (
        "headend_tftp_transfers_completed_total",
        "TFTP transfers completed.",
    ),
    (
        "headend_tftp_transfers_failed_total",
        "TFTP transfers ended by an error or timeout, by reason.",
    ),
    (
        "headend_tftp_datagrams_dropped_total",
        "Malformed or stray TFTP datagrams dropped.",
    ),
    ("headend_tftp_datagrams_sent_total", "TFTP datagrams sent."),
    (
        "headend_tftp_sent_bytes_total",
        "File bytes sent by TFTP reads.",
    ),
    (
        "headend_tftp_received_bytes_total",
        "File bytes received by TFTP uploads.",
    ),
    (
        "headend_tftp_template_errors_total",
        "TFTP requests refused because their template failed to render or format.",
    ),
    (
        "headend_tftp_template_cache_hits_total",
        "Formatted template outputs (e.g. compiled DOCSIS files) served from the cache.",
    ),
    (
        "headend_tftp_template_cache_misses_total",
        "Formatted template outputs built (e.g. DOCSIS files compiled).",
    ),
];

const GAUGES: &[(&str, &str)] = &[
    (
        "headend_build_info",
        "The running build (always 1), by version.",
    ),
    (
        "headend_process_start_time_seconds",
        "Unix time the process started.",
    ),
    ("headend_admin_connections", "Open admin API connections."),
    (
        "headend_admin_revocation_cache_entries",
        "Entries in the admin API's session revocation cache.",
    ),
    ("headend_dhcp_pool_size", "Addresses in the DHCP pool."),
    (
        "headend_dhcp_pool_leased",
        "Pool addresses held for a client (offered or bound, unexpired).",
    ),
    (
        "headend_dhcp_pool_declined",
        "Pool addresses quarantined after a DHCPDECLINE.",
    ),
    (
        "headend_dhcp_pool_reserved",
        "Pool addresses fixed by a reservation and not leased now.",
    ),
    (
        "headend_dhcp_pool_free",
        "Pool addresses the server can still hand out.",
    ),
    (
        "headend_dhcp6_pool_size",
        "Addresses (kind na) or delegated prefixes (kind pd) in the DHCPv6 pool.",
    ),
    (
        "headend_dhcp6_pool_leased",
        "DHCPv6 pool addresses or prefixes held for a client (advertised or bound, unexpired).",
    ),
    (
        "headend_dhcp6_pool_declined",
        "DHCPv6 pool addresses or prefixes quarantined after a DECLINE.",
    ),
    (
        "headend_dhcp_class_leases",
        "Live leases (offered or bound) by the class the client matched (\"\": none).",
    ),
    (
        "headend_dns_mail_lint_findings",
        "Mail-authentication findings in the served zones at their last load.",
    ),
    ("headend_dns_zone_serial", "SOA serial of the served zone."),
    ("headend_dns_zone_records", "Records in the served zone."),
    (
        "headend_dns_signature_expiry_seconds",
        "Seconds until the earliest RRSIG of the signed zone expires.",
    ),
    (
        "headend_dns_next_key_event_seconds",
        "Seconds until the signed zone's next DNSSEC key event.",
    ),
    (
        "headend_store_info",
        "The store backend in use (always 1), by backend.",
    ),
    (
        "headend_tftp_active_transfers",
        "TFTP transfers in progress.",
    ),
];

/// Histogram snapshots as of the last scrape, by metric name: the next
/// scrape records only what was observed since.
static LAST: Mutex<Option<HashMap<&'static str, HistogramSnapshot>>> = Mutex::new(None);

/// Adds to the recorder's histogram `name` what `now` observed since the
/// last scrape: per bucket, `n` observations at their mean (which lies in
/// that bucket), so bucket counts match the service's and the sum is exact
/// to a microsecond per observation.
fn copy_histogram(name: &'static str, now: HistogramSnapshot) {
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    let last = last.get_or_insert_with(HashMap::new);
    let before = last.get(name);
    let h = histogram!(name);
    for (i, (&count, &sum)) in now.counts.iter().zip(&now.sums).enumerate() {
        let (c0, s0) = before
            .and_then(|b| Some((*b.counts.get(i)?, *b.sums.get(i)?)))
            .unwrap_or((0, 0));
        let n = count.saturating_sub(c0);
        if n == 0 {
            continue;
        }
        let mean_us = sum.saturating_sub(s0) / n;
        h.record_many(
            mean_us as f64 / 1e6,
            usize::try_from(n).unwrap_or(usize::MAX),
        );
    }
    last.insert(name, now);
}

/// Copies the DHCP counters and the pool occupancy (read before, off the
/// async workers).
fn dhcp(dhcp: &headend_dhcp::DhcpHandle, occupancy: Option<&headend_dhcp::Occupancy>) {
    let s = dhcp.stats();
    counter!("headend_dhcp_datagrams_received_total").absolute(s.received);
    for (t, v) in [
        ("discover", s.discover),
        ("request", s.request),
        ("decline", s.decline),
        ("release", s.release),
        ("inform", s.inform),
        ("bootp", s.bootp),
    ] {
        counter!("headend_dhcp_packets_received_total", "type" => t).absolute(v);
    }
    for (t, v) in [
        ("offer", s.offer),
        ("ack", s.ack),
        ("nak", s.nak),
        ("other", s.other_reply),
    ] {
        counter!("headend_dhcp_packets_sent_total", "type" => t).absolute(v);
    }
    counter!("headend_dhcp_send_errors_total").absolute(s.send_error);
    counter!("headend_dhcp_lease_commits_total").absolute(s.commits);
    counter!("headend_dhcp_lease_syncs_total").absolute(s.syncs);
    counter!("headend_store_commit_errors_total").absolute(s.store_error);
    counter!("headend_store_commit_conflicts_total").absolute(s.store_conflict);
    counter!("headend_store_conflicts_total", "kind" => "serialization")
        .absolute(s.conflicts.saturating_sub(s.deadlocks));
    counter!("headend_store_conflicts_total", "kind" => "deadlock").absolute(s.deadlocks);
    counter!("headend_store_conflict_retries_total").absolute(s.conflict_retries);
    counter!("headend_dhcp_config_reloads_total", "result" => "ok").absolute(s.config_reloads);
    counter!("headend_dhcp_config_reloads_total", "result" => "refused")
        .absolute(s.config_reload_refused);
    for (reason, v) in [
        ("queue_full", s.queue_full),
        ("truncated", s.truncated),
        ("not_request", s.not_request),
        ("bad_hlen", s.bad_hlen),
        ("bad_cookie", s.bad_cookie),
        ("bad_options", s.bad_options),
        ("bad_message_type", s.bad_message_type),
        ("too_many_hops", s.too_many_hops),
        ("bad_header", s.bad_header),
        ("bad_overload", s.bad_overload),
        ("bad_overloaded_field", s.bad_overloaded_field),
        ("request_for_other_server", s.request_for_other_server),
        ("decline_for_other_server", s.decline_for_other_server),
        ("no_subnet", s.no_subnet),
        ("rate_limited", s.rate_limited),
        ("circuit_id_cap", s.circuit_id_cap),
        ("remote_id_cap", s.remote_id_cap),
        ("pool_exhausted", s.pool_exhausted),
        ("bootp_dropped", s.bootp_dropped),
        ("unsupported_type", s.unsupported_type),
        ("incomplete", s.incomplete),
        ("store_error", s.store_error),
        ("store_conflict", s.store_conflict),
    ] {
        counter!("headend_dhcp_dropped_total", "reason" => reason).absolute(v);
    }
    let relays = dhcp.relays();
    for (relay, n) in relays.relays {
        counter!("headend_dhcp_relay_requests_total", "relay" => relay.to_string()).absolute(n);
    }
    counter!("headend_dhcp_relay_requests_total", "relay" => "other").absolute(relays.other);
    let classes = dhcp.class_requests();
    for (class, n) in classes.classes {
        counter!("headend_dhcp_class_requests_total", "class" => class).absolute(n);
    }
    counter!("headend_dhcp_class_requests_total", "class" => "").absolute(classes.unclassified);
    if let Some(o) = occupancy {
        for p in &o.pools {
            let labels = [("subnet", p.subnet.clone()), ("pool", p.pool.clone())];
            gauge!("headend_dhcp_pool_size", &labels).set(p.size as f64);
            gauge!("headend_dhcp_pool_leased", &labels).set(p.leased as f64);
            gauge!("headend_dhcp_pool_declined", &labels).set(p.declined as f64);
            gauge!("headend_dhcp_pool_reserved", &labels).set(p.reserved as f64);
            gauge!("headend_dhcp_pool_free", &labels).set(p.free as f64);
        }
        for (class, n) in &o.classes {
            gauge!("headend_dhcp_class_leases", "class" => class.clone()).set(*n as f64);
        }
    }
}

/// Each pool's occupancy, read from the store off the async workers.
async fn occupancy(dhcp: &headend_dhcp::DhcpHandle) -> Option<headend_dhcp::Occupancy> {
    let handle = dhcp.clone();
    match tokio::task::spawn_blocking(move || handle.occupancy()).await {
        Ok(Ok(o)) => Some(o),
        Ok(Err(e)) => {
            tracing::warn!("/metrics: DHCP pool occupancy not read: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("/metrics: DHCP pool occupancy task failed: {e}");
            None
        }
    }
}

/// Copies the DHCPv6 counters and pool occupancy.
async fn dhcp6(dhcp6: &headend_dhcp6::Dhcp6Handle) {
    let s = dhcp6.stats();
    counter!("headend_dhcp6_datagrams_received_total").absolute(s.received);
    for (t, v) in [
        ("solicit", s.solicit),
        ("request", s.request),
        ("confirm", s.confirm),
        ("renew", s.renew),
        ("rebind", s.rebind),
        ("release", s.release),
        ("decline", s.decline),
        ("information_request", s.information_request),
    ] {
        counter!("headend_dhcp6_packets_received_total", "type" => t).absolute(v);
    }
    counter!("headend_dhcp6_relayed_total").absolute(s.relayed);
    for (t, v) in [("advertise", s.advertise), ("reply", s.reply)] {
        counter!("headend_dhcp6_packets_sent_total", "type" => t).absolute(v);
    }
    for (reason, v) in [
        ("short", s.malformed_short),
        ("option_overrun", s.malformed_option_overrun),
        ("not_for_server", s.malformed_not_for_server),
        ("no_relay_message", s.malformed_no_relay_message),
        ("too_many_hops", s.malformed_too_many_hops),
        ("bad_ia", s.malformed_bad_ia),
        ("queue_full", s.queue_full),
        ("rate_limited", s.rate_limited),
        ("relay_cap", s.relay_cap),
        ("no_subnet", s.no_subnet),
        ("bad_identifiers", s.bad_identifiers),
        ("other_server", s.other_server),
        ("nothing", s.nothing),
        ("store_error", s.store_error),
        ("send_error", s.send_error),
    ] {
        counter!("headend_dhcp6_dropped_total", "reason" => reason).absolute(v);
    }
    counter!("headend_dhcp6_binding_commits_total").absolute(s.commits);
    counter!("headend_dhcp6_binding_syncs_total").absolute(s.syncs);
    let handle = dhcp6.clone();
    match tokio::task::spawn_blocking(move || handle.occupancy()).await {
        Ok(Ok(pools)) => {
            for p in &pools {
                let labels = [
                    ("subnet", p.subnet.clone()),
                    ("kind", p.kind.to_owned()),
                    ("pool", p.pool.clone()),
                ];
                gauge!("headend_dhcp6_pool_size", &labels).set(p.size);
                gauge!("headend_dhcp6_pool_leased", &labels).set(p.leased as f64);
                gauge!("headend_dhcp6_pool_declined", &labels).set(p.declined as f64);
            }
        }
        Ok(Err(e)) => tracing::warn!("/metrics: DHCPv6 pool occupancy not read: {e}"),
        Err(e) => tracing::warn!("/metrics: DHCPv6 pool occupancy task failed: {e}"),
    }
}

/// A zone's label: its name without the final dot (`example.test`), as
/// configured; the root zone is `.`.
fn zone_label(origin: &str) -> String {
    match origin.trim_end_matches('.') {
        "" => ".".to_owned(),
        z => z.to_ascii_lowercase(),
    }
}

/// Copies the DNS counters and the per-zone serials and signature times.
fn dns(dns: &headend_dns::DnsHandle) {
    let stats = dns.stats();
    counter!("headend_dns_queries_total", "transport" => "udp").absolute(stats.udp_queries);
    counter!("headend_dns_queries_total", "transport" => "tcp").absolute(stats.tcp_queries);
    counter!("headend_dns_rrl_responses_total", "action" => "dropped").absolute(stats.rrl_dropped);
    counter!("headend_dns_rrl_responses_total", "action" => "slipped").absolute(stats.rrl_slipped);
    counter!("headend_dns_tcp_refused_total").absolute(stats.tcp_refused);
    counter!("headend_dns_tcp_evicted_total").absolute(stats.tcp_evicted);
    counter!("headend_dns_zone_load_failures_total").absolute(stats.zone_load_failures);
    for (result, n) in [
        ("acked", stats.notify_acked),
        ("refused", stats.notify_refused),
        ("unanswered", stats.notify_unanswered),
        ("failed", stats.notify_failed),
    ] {
        counter!("headend_dns_notify_total", "result" => result).absolute(n);
    }
    gauge!("headend_dns_mail_lint_findings").set(stats.mail_lint_findings as f64);
    let zones = dns.zone_queries();
    for (zone, n) in zones.zones {
        counter!("headend_dns_zone_queries_total", "zone" => zone_label(&zone)).absolute(n);
    }
    counter!("headend_dns_zone_queries_total", "zone" => "other").absolute(zones.other);
    let fast = dns.fast_path();
    for (result, n) in [
        ("hit", fast.hits),
        ("shared_hit", fast.shared_hits),
        ("miss", fast.misses),
    ] {
        counter!("headend_dns_fast_path_total", "result" => result).absolute(n);
    }
    let t = dns.transfers();
    for (kind, result, n) in [
        ("axfr", "ok", t.axfr_ok),
        ("axfr", "refused", t.axfr_refused),
        ("ixfr", "ok", t.ixfr_ok),
        ("ixfr", "refused", t.ixfr_refused),
    ] {
        counter!("headend_dns_transfers_total", "kind" => kind, "result" => result).absolute(n);
    }
    let responses = dns.responses();
    for (i, (rcode, n)) in responses.by_rcode.into_iter().enumerate() {
        // Unassigned RCODEs (11-15) only once seen.
        if i <= 10 || n > 0 {
            counter!("headend_dns_responses_total", "rcode" => rcode).absolute(n);
        }
    }
    for (qtype, n) in responses.by_qtype {
        counter!("headend_dns_responses_by_qtype_total", "qtype" => qtype).absolute(n);
    }
    for z in dns.zone_summaries() {
        let zone = zone_label(&z.origin);
        gauge!("headend_dns_zone_serial", "zone" => zone.clone()).set(f64::from(z.serial));
        gauge!("headend_dns_zone_records", "zone" => zone).set(z.records as f64);
    }
    let now = headend_util::unix_now_secs();
    for z in dns.signed_zones() {
        let zone = zone_label(&z.origin);
        if let Some(t) = z.rrsig_expires {
            gauge!("headend_dns_signature_expiry_seconds", "zone" => zone.clone())
                .set(t.saturating_sub(now) as f64);
        }
        if let Some(t) = z.next_key_event {
            gauge!("headend_dns_next_key_event_seconds", "zone" => zone)
                .set(t.saturating_sub(now) as f64);
        }
    }
}

/// Copies the TFTP counters and transfer durations.
fn tftp(tftp: &headend_tftp::TftpHandle) {
    let s = tftp.stats();
    counter!("headend_tftp_requests_total").absolute(s.requests);
    for (stage, v) in [
        ("request", s.refused_request),
        ("admission", s.refused_admission),
        ("file", s.refused_file),
    ] {
        counter!("headend_tftp_refused_total", "stage" => stage).absolute(v);
    }
    counter!("headend_tftp_transfers_completed_total").absolute(s.transfers_ok);
    counter!("headend_tftp_transfers_failed_total", "reason" => "unconfirmed")
        .absolute(s.unconfirmed);
    counter!("headend_tftp_transfers_failed_total", "reason" => "error")
        .absolute(s.transfers_failed.saturating_sub(s.unconfirmed));
    counter!("headend_tftp_datagrams_dropped_total").absolute(s.dropped);
    counter!("headend_tftp_datagrams_sent_total").absolute(s.datagrams_sent);
    counter!("headend_tftp_sent_bytes_total").absolute(s.bytes_sent);
    counter!("headend_tftp_received_bytes_total").absolute(s.bytes_received);
    counter!("headend_tftp_template_errors_total").absolute(s.template_errors);
    counter!("headend_tftp_template_cache_hits_total").absolute(s.template_cache_hits);
    counter!("headend_tftp_template_cache_misses_total").absolute(s.template_cache_misses);
    counter!("headend_tftp_template_renders_total").absolute(s.template_renders);
    for (rule, n) in [
        ("allow_list", s.refused_allow_list),
        ("client_rate", s.refused_client_rate),
        ("client_limit", s.refused_client_limit),
        ("server_limit", s.refused_server_limit),
        ("lease_binding", s.refused_lease_binding),
    ] {
        counter!("headend_tftp_refused_by_rule_total", "rule" => rule).absolute(n);
    }
    gauge!("headend_tftp_active_transfers").set(s.active as f64);
}

/// The scrape: access check, then every service copied in, then rendered.
pub(crate) async fn serve(
    State(app): State<Shared>,
    Source(ip): Source,
    headers: HeaderMap,
    key: Option<axum::Extension<crate::core::apikey::Grant>>,
    cert: Option<axum::Extension<super::CertPrincipal>>,
) -> Result<Response, ApiError> {
    // An API key or a mapped client certificate (checked by the gate) is a
    // principal of some role, like a token.
    let allowed =
        key.is_some() || cert.is_some() || app.config.metrics_allow.iter().any(|n| n.contains(&ip));
    if !allowed {
        let token = bearer(&headers).ok_or_else(ApiError::unauthorized)?;
        app.authenticate(token).ok_or_else(ApiError::unauthorized)?;
    }
    let occupancy = match &app.dhcp {
        Some(d) => occupancy(d).await,
        None => None,
    };
    // Histograms (fixed labels): deltas into the process-wide recorder.
    describe();
    if let Some(d) = &app.dhcp {
        copy_histogram("headend_dhcp_commit_duration_seconds", d.commit_latency());
    }
    if let Some(d) = &app.dhcp6 {
        dhcp6(d).await;
    }
    if let Some(t) = &app.tftp {
        copy_histogram("headend_tftp_transfer_duration_seconds", t.stats().duration);
    }
    // Everything else: a recorder of this scrape's own.
    let scrape = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&scrape, || {
        describe_copied();
        gauge!("headend_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        gauge!("headend_process_start_time_seconds").set(app.process.started() as f64);
        let (ok, failed) = app.process.reloads();
        counter!("headend_config_reloads_total", "result" => "ok").absolute(ok);
        counter!("headend_config_reloads_total", "result" => "failed").absolute(failed);
        let backend = app.store.describe();
        let backend = backend.split(':').next().unwrap_or("unknown").to_owned();
        gauge!("headend_store_info", "backend" => backend).set(1.0);
        if let Some(d) = &app.dns {
            dns(d);
        }
        if let Some(d) = &app.dhcp {
            dhcp(d, occupancy.as_ref());
        }
        if let Some(t) = &app.tftp {
            tftp(t);
        }
    });
    let mut body = app.metrics.render();
    body.push_str(&scrape.handle().render());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
