//! The running DNS service: loading zones, the swappable catalog, reloads,
//! and dynamic updates ([`updates`]).

mod ddns;
mod updates;

pub use ddns::{NameChange, PublishedName};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use hickory_proto::rr::{LowerName, Name, RecordType};

use crate::zone::zonemd::Verdict;

use crate::answer::Catalog;
use crate::check::{Check, Finding, Severity, check_indexed};
use crate::config::MailLint;
use crate::dnssec::Signer;
use crate::edit::EditOutcome;
use crate::edit::{RecordView, ZoneEdit, ZoneSummary};
use crate::listen::Listeners;
use crate::stats::{DnsStats, DnsStatsSnapshot};
use crate::xfr::Transfers;
use crate::zone::{Indexed, Zone, parse_origin};
use crate::zonefile::{ParsedZone, parse_zone_file};
use crate::{DnsConfig, DnsError, ZoneConfig};
use headend_util::unix_now_secs as unix_now;

/// A zone that loaded, with the warnings its checks produced.
#[derive(Debug)]
pub struct LoadedZone {
    /// The zone, ready to serve.
    pub zone: Zone,
    /// Warning-level findings (errors would have stopped the load).
    pub warnings: Vec<Finding>,
}

/// Reads, parses and checks one zone; any error-level finding fails the load.
/// Names in other zones are unknown to the checks (see [`load_zone_with`]).
pub fn load_zone(config: &ZoneConfig) -> Result<LoadedZone, Vec<DnsError>> {
    load_zone_with(config, &[])
}

/// Reads, parses and checks one zone, the checks following names (SPF
/// includes, DMARC report authorisations) into `others`, the other served
/// zones; any error-level finding fails the load.
pub fn load_zone_with(config: &ZoneConfig, others: &[&Zone]) -> Result<LoadedZone, Vec<DnsError>> {
    let origin = parse_origin(&config.origin).map_err(|e| vec![e])?;
    let parsed = parse_zone_file(&config.file, &origin)?;
    // The names are indexed once, for the checks and the served zone.
    let index = Indexed::build(&parsed);
    let warnings = check_parsed(config, &origin, &parsed, &index, others)?;
    let zone = index.into_zone(parsed).ok_or_else(|| no_soa(config))?;
    Ok(LoadedZone { zone, warnings })
}

/// Runs the zone checks on a parsed zone (names in `others`, the other served
/// zones, are followed; the zone itself is skipped there). Returns the
/// warnings, or the errors that refuse a load ([`at_load`]) as one
/// [`DnsError::Check`].
fn check_parsed(
    config: &ZoneConfig,
    origin: &Name,
    parsed: &ParsedZone,
    index: &Indexed,
    others: &[&Zone],
) -> Result<Vec<Finding>, Vec<DnsError>> {
    let own = LowerName::new(origin);
    let others: Vec<&Zone> = others
        .iter()
        .copied()
        .filter(|z| z.lower_origin() != &own)
        .collect();
    let (errors, warnings): (Vec<_>, Vec<_>) = check_indexed(parsed, index, &others)
        .into_iter()
        .filter_map(|f| at_load(f, config.mail_lint))
        .partition(|f| f.severity == Severity::Error);
    let mut warnings = warnings;
    // A zone headend signs itself: signatures and chains already in the file
    // are dropped by the signer and made again from headend's keys.
    if config.dnssec.is_some()
        && let Some(signed) = parsed.records.iter().find(|r| {
            matches!(
                r.record.record_type(),
                RecordType::RRSIG
                    | RecordType::NSEC
                    | RecordType::NSEC3
                    | RecordType::NSEC3PARAM
                    | RecordType::DNSKEY
            )
        })
    {
        warnings.push(Finding {
            severity: Severity::Warning,
            check: Check::Structure,
            file: signed.file.to_path_buf(),
            line: signed.line,
            message: format!(
                "the zone file is already signed ({} here); with `dnssec` set its DNSKEY, RRSIG and NSEC/NSEC3 records are dropped and the zone is signed again with headend's keys (remove `dnssec` to serve the file's signatures)",
                crate::zonefile::type_name(signed.record.record_type())
            ),
        });
    }
    let mut errors = errors;
    // RFC 8976 §4: a ZONEMD that does not match means the file is not the
    // zone that was published (truncated, altered): refuse it.
    let apex_line = |file: &Path| Finding {
        severity: Severity::Warning,
        check: Check::Structure,
        file: file.to_path_buf(),
        line: 0,
        message: String::new(),
    };
    match crate::zone::zonemd::verify_apex(parsed, &index.apex_records(parsed)) {
        Verdict::Absent | Verdict::Matches => {}
        Verdict::Unsupported => warnings.push(Finding {
            message: "the ZONEMD records use a scheme or hash headend does not compute (it checks SIMPLE with SHA384); the zone is served unverified".to_owned(),
            ..apex_line(&parsed.file)
        }),
        Verdict::Mismatch { expected, computed } => errors.push(Finding {
            severity: Severity::Error,
            message: format!(
                "the zone's ZONEMD digest {expected} does not match its records ({computed}): the file was altered or truncated after the digest was made (RFC 8976 §4)"
            ),
            ..apex_line(&parsed.file)
        }),
    }
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(vec![DnsError::Check {
            zone: config.origin.clone(),
            findings: errors,
        }])
    }
}

/// What a load makes of one finding: only structural errors (and mail
/// errors under `mail_lint = "error"`) stay errors and refuse it; other
/// errors become warnings, logged and counted with the zone served, as
/// Knot, NSD and BIND serve such a zone. `None`: not reported
/// (`mail_lint = "off"`).
fn at_load(mut finding: Finding, mail_lint: MailLint) -> Option<Finding> {
    let (demote, label) = match (finding.check, mail_lint) {
        (Check::MailAuth, MailLint::Off) => return None,
        (Check::MailAuth, MailLint::Error) | (Check::Structure, _) => (false, ""),
        (Check::MailAuth, MailLint::Warn) => (true, "mail_lint = \"warn\""),
        (Check::Delegation, _) => (true, "not a structural error"),
    };
    if demote && finding.severity == Severity::Error {
        finding.severity = Severity::Warning;
        finding.message = format!("{} ({label}: the zone is served)", finding.message);
    }
    Some(finding)
}

/// The error for a zone without an SOA at its apex.
fn no_soa(config: &ZoneConfig) -> Vec<DnsError> {
    vec![DnsError::Check {
        zone: config.origin.clone(),
        findings: vec![Finding {
            severity: Severity::Error,
            check: Check::Structure,
            file: config.file.clone(),
            line: 0,
            message: "the zone has no SOA record at its apex".to_owned(),
        }],
    }]
}

/// What `headend check` prints for one zone.
#[derive(Debug)]
pub struct ZoneReport {
    /// The zone's origin as configured.
    pub origin: String,
    /// Its zone file.
    pub file: PathBuf,
    /// One `file:line: problem` line per finding.
    pub lines: Vec<String>,
    /// How many of them are errors.
    pub errors: usize,
    /// Records loaded (when it loaded).
    pub records: usize,
}

/// Checks every zone of a `[dns]` section without serving anything.
pub fn check_config(config: &DnsConfig) -> Vec<ZoneReport> {
    // Every zone is read once; the ones that parse are also built, so that the
    // checks can follow SPF includes and DMARC report destinations across the
    // served zones.
    let parsed: Vec<Result<(Name, ParsedZone), Vec<DnsError>>> = config
        .zones
        .iter()
        .map(|zc| {
            let origin = parse_origin(&zc.origin).map_err(|e| vec![e])?;
            let parsed = parse_zone_file(&zc.file, &origin)?;
            Ok((origin, parsed))
        })
        .collect();
    let built: Vec<Option<Zone>> = parsed
        .iter()
        .map(|p| p.as_ref().ok().and_then(|(_, parsed)| Zone::build(parsed)))
        .collect();
    let others: Vec<&Zone> = built.iter().flatten().collect();
    let mut reports: Vec<ZoneReport> = config
        .zones
        .iter()
        .zip(parsed.into_iter().zip(&built))
        .map(|(zc, (parsed, built))| {
            let checked = parsed.and_then(|(origin, parsed)| {
                let index = Indexed::build(&parsed);
                let warnings = check_parsed(zc, &origin, &parsed, &index, &others)?;
                let zone = built.as_ref().ok_or_else(|| no_soa(zc))?;
                let mut lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
                let mut errors = 0;
                // A zone signed elsewhere: its signatures and chain are checked
                // as a validator would see them.
                if zc.dnssec.is_none()
                    && let Some(denial) = zone.file_denial()
                {
                    let found = crate::dnssec::verify::presigned(zone, &denial, unix_now());
                    errors = found.errors.len();
                    lines.extend(found.errors.iter().map(|e| format!("error: DNSSEC: {e}")));
                    lines.extend(
                        found
                            .warnings
                            .iter()
                            .map(|w| format!("warning: DNSSEC: {w}")),
                    );
                }
                Ok((lines, errors, zone.record_count()))
            });
            (zc, checked)
        })
        .map(|(zc, checked)| match checked {
            Ok((lines, errors, records)) => ZoneReport {
                origin: zc.origin.clone(),
                file: zc.file.clone(),
                lines,
                errors,
                records: if errors == 0 { records } else { 0 },
            },
            Err(errors) => {
                let mut lines = Vec::new();
                let mut count = 0;
                for e in errors {
                    match e {
                        DnsError::Check { findings, .. } => {
                            count += findings.len();
                            lines.extend(findings.iter().map(ToString::to_string));
                        }
                        other => {
                            count += 1;
                            lines.push(other.to_string());
                        }
                    }
                }
                ZoneReport {
                    origin: zc.origin.clone(),
                    file: zc.file.clone(),
                    lines,
                    errors: count,
                    records: 0,
                }
            }
        })
        .collect();
    // The section's own settings, checked as `DnsService::start` and
    // `DnsHandle::reconfigure` check them.
    for e in settings_errors(config) {
        reports.push(ZoneReport {
            origin: String::new(),
            file: PathBuf::new(),
            lines: vec![e.to_string()],
            errors: 1,
            records: 0,
        });
    }
    reports
}

/// Validates the `dnssec` settings without touching any key.
/// What is wrong with a `[dns]` section's DNSSEC, transfer and CHAOS/NSID
/// settings (zone files aside).
fn settings_errors(config: &DnsConfig) -> Vec<DnsError> {
    [
        Signer::new(config, Path::new("/nonexistent")).err(),
        Transfers::check(config).err(),
        updates::policies(config).err(),
        crate::answer::ServerInfo::from_config(config).err(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn log_load_errors(zone: &str, errors: &[DnsError]) {
    for e in errors {
        match e {
            DnsError::Check { findings, .. } => {
                for f in findings {
                    tracing::error!(zone, "{f}");
                }
            }
            other => tracing::error!(zone, "{other}"),
        }
    }
}

/// Starts the DNS service.
#[derive(Debug)]
pub struct DnsService;

impl DnsService {
    /// Loads every configured zone (a zone that fails is logged and not
    /// served), binds the listeners and starts answering. `state_dir` holds
    /// the IXFR journals (and DNSSEC keys).
    pub async fn start(config: DnsConfig, state_dir: &Path) -> Result<DnsHandle, DnsError> {
        let transfers = Arc::new(Transfers::new(&config, Some(state_dir))?);
        let signer = Arc::new(Signer::new(&config, state_dir)?);
        let policies = updates::policies(&config)?;
        let (queue, inbox) = std::sync::mpsc::sync_channel(crate::update::QUEUE_DEPTH);
        let stats = Arc::new(DnsStats::default());
        let mut catalog = Catalog::new(config.udp_payload_max);
        catalog.set_server_info(Arc::new(crate::answer::ServerInfo::from_config(&config)?));
        for zc in &config.zones {
            load_into(&mut catalog, zc, None, &signer, &stats, state_dir);
        }
        for zone in catalog.zones() {
            transfers.load_journal(zone);
        }
        let catalog = Arc::new(ArcSwap::from_pointee(catalog));
        let listeners = crate::listen::spawn_listeners(
            &config,
            Arc::clone(&catalog),
            Arc::clone(&stats),
            Arc::clone(&transfers),
            queue.clone(),
        )?;
        let bound = listeners.bound.clone();
        for addr in &bound {
            tracing::info!("dns listening on {addr} (udp and tcp)");
        }
        let handle = DnsHandle {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                catalog,
                reload_lock: Mutex::new(()),
                bound,
                stats,
                listeners,
                transfers,
                signer,
                runtime: tokio::runtime::Handle::current(),
                state_dir: state_dir.to_owned(),
                updates: Mutex::new(updates::UpdateState::new(policies)),
                update_queue: queue,
            }),
        };
        handle.notify_changed_since_last_run();
        handle.spawn_resign_scheduler();
        handle.spawn_update_thread(inbox);
        handle.spawn_zonefile_sync();
        Ok(handle)
    }
}

/// Longest sleep of the re-sign scheduler between two looks at the key
/// state on disk (one `stat` per signed zone).
const KEY_STATE_POLL_SECS: i64 = 5;

/// Loads one zone into `catalog`; on failure keeps `previous` (if any) serving.
fn load_into(
    catalog: &mut Catalog,
    zc: &ZoneConfig,
    previous: Option<&Arc<Zone>>,
    signer: &Signer,
    stats: &DnsStats,
    state_dir: &Path,
) -> bool {
    let others: Vec<Arc<Zone>> = catalog.zones().cloned().collect();
    let others: Vec<&Zone> = others.iter().map(AsRef::as_ref).collect();
    let loaded = load_zone_with(zc, &others).and_then(|mut loaded| {
        let zone = updates::with_updates(state_dir, loaded.zone).map_err(|e| vec![e])?;
        loaded.zone = signer.prepare(zone, unix_now()).map_err(|e| vec![e])?;
        Ok(loaded)
    });
    match loaded {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!(zone = %zc.origin, "{w}");
            }
            let mail = loaded
                .warnings
                .iter()
                .filter(|w| w.check == Check::MailAuth)
                .count();
            stats.set_mail_lint_findings(loaded.zone.lower_origin(), mail);
            tracing::info!(
                zone = %zc.origin,
                serial = loaded.zone.serial(),
                records = loaded.zone.record_count(),
                "zone loaded from {}",
                zc.file.display()
            );
            catalog.insert(Arc::new(loaded.zone));
            true
        }
        Err(errors) => {
            stats.zone_load_failed();
            log_load_errors(&zc.origin, &errors);
            match previous {
                Some(old) => {
                    tracing::error!(
                        zone = %zc.origin,
                        serial = old.serial(),
                        "zone failed to load; still serving the previous version"
                    );
                    catalog.insert(Arc::clone(old));
                }
                None => tracing::error!(zone = %zc.origin, "zone failed to load; not served"),
            }
            false
        }
    }
}

struct Inner {
    /// The `[dns]` section in force (replaced by [`DnsHandle::reconfigure`]).
    config: Mutex<DnsConfig>,
    catalog: Arc<ArcSwap<Catalog>>,
    reload_lock: Mutex<()>,
    bound: Vec<SocketAddr>,
    stats: Arc<DnsStats>,
    listeners: Listeners,
    transfers: Arc<Transfers>,
    signer: Arc<Signer>,
    runtime: tokio::runtime::Handle,
    /// Where journals, keys and the update journals live.
    state_dir: PathBuf,
    /// Update policies and open update journals.
    updates: Mutex<updates::UpdateState>,
    /// The update thread's queue, for in-process updates (DHCP names).
    update_queue: crate::update::Queue,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listeners
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for task in &self.listeners.tasks {
            task.abort();
        }
    }
}

/// A cloneable handle to the running DNS service.
#[derive(Clone)]
pub struct DnsHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DnsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsHandle")
            .field("bound", &self.inner.bound)
            .finish_non_exhaustive()
    }
}

impl DnsHandle {
    /// Re-reads every zone file; each zone that fails keeps serving its
    /// previous version. Queries are answered throughout (the catalog is
    /// swapped atomically). Returns how many zones failed.
    pub fn reload(&self) -> usize {
        let _guard = self.lock();
        self.reload_locked(None)
    }

    /// Applies a new `[dns]` section (SIGHUP after the config file changed,
    /// like `knotc reload`): zones added are loaded, zones removed stop being
    /// served, and every zone file is read again; transfer ACLs, TSIG keys,
    /// NOTIFY targets, DNSSEC settings and the CHAOS/NSID answers are
    /// replaced. A section that does not validate changes nothing. Listen
    /// addresses, worker counts, TCP limits, RRL and the UDP size cap need a
    /// restart: they are named in the returned warnings and left as they are.
    /// Returns the warnings and how many zones failed to load.
    pub fn reconfigure(&self, new: DnsConfig) -> Result<(Vec<String>, usize), DnsError> {
        let _guard = self.lock();
        if let Some(e) = settings_errors(&new).into_iter().next() {
            return Err(e);
        }
        let info = Arc::new(crate::answer::ServerInfo::from_config(&new)?);
        let old = self.config();
        let mut warnings = Vec::new();
        let mut fixed = |changed: bool, key: &str| {
            if changed {
                warnings.push(format!(
                    "dns.{key} changed: it takes effect at the next restart"
                ));
            }
        };
        fixed(old.listen != new.listen, "listen");
        fixed(old.udp_workers != new.udp_workers, "udp_workers");
        fixed(
            old.udp_payload_max != new.udp_payload_max,
            "udp_payload_max",
        );
        fixed(
            old.tcp_max_connections != new.tcp_max_connections
                || old.tcp_max_connections_per_client != new.tcp_max_connections_per_client
                || old.tcp_idle_timeout_secs != new.tcp_idle_timeout_secs
                || old.tcp_io_timeout_ms != new.tcp_io_timeout_ms
                || old.tcp_lifetime_secs != new.tcp_lifetime_secs,
            "tcp_*",
        );
        fixed(format!("{:?}", old.rrl) != format!("{:?}", new.rrl), "rrl");
        let policies = updates::policies(&new)?;
        self.inner.transfers.reconfigure(&new)?;
        self.inner.signer.reconfigure(&new)?;
        self.update_state().set_policies(policies);
        // What needs sockets stays as it was bound.
        let mut applied = new;
        applied.listen = old.listen;
        applied.udp_workers = old.udp_workers;
        applied.udp_payload_max = old.udp_payload_max;
        applied.tcp_max_connections = old.tcp_max_connections;
        applied.tcp_max_connections_per_client = old.tcp_max_connections_per_client;
        applied.tcp_idle_timeout_secs = old.tcp_idle_timeout_secs;
        applied.tcp_io_timeout_ms = old.tcp_io_timeout_ms;
        applied.tcp_lifetime_secs = old.tcp_lifetime_secs;
        applied.rrl = old.rrl;
        *self
            .inner
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = applied;
        let failed = self.reload_locked(Some(info));
        Ok((warnings, failed))
    }

    /// The `[dns]` section in force.
    fn config(&self) -> DnsConfig {
        self.inner
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// [`DnsHandle::reload`] with the lock held; `info` replaces the
    /// CHAOS/NSID answers.
    fn reload_locked(&self, info: Option<Arc<crate::answer::ServerInfo>>) -> usize {
        let config = self.config();
        let current = self.inner.catalog.load_full();
        let mut next = Catalog::new(config.udp_payload_max);
        next.set_server_info(info.unwrap_or_else(|| Arc::clone(current.server_info())));
        // The served zones, so that SPF includes into zones later in the list resolve.
        for zone in current.zones() {
            next.insert(Arc::clone(zone));
        }
        let mut failed = 0;
        let mut configured = std::collections::HashSet::new();
        for zc in &config.zones {
            let previous = parse_origin(&zc.origin).ok().and_then(|o| {
                configured.insert(LowerName::new(&o));
                current.get(&LowerName::new(&o)).cloned()
            });
            if !load_into(
                &mut next,
                zc,
                previous.as_ref(),
                &self.inner.signer,
                &self.inner.stats,
                &self.inner.state_dir,
            ) {
                failed += 1;
            }
        }
        // Zones no longer configured stop being served; new ones start
        // with their journals.
        next.retain(|origin| configured.contains(origin));
        for zone in next.zones() {
            if current.get(zone.lower_origin()).is_none() {
                self.inner.transfers.load_journal(zone);
                tracing::info!(zone = %zone.origin(), serial = zone.serial(), "zone added");
            }
        }
        for zone in current.zones() {
            if next.get(zone.lower_origin()).is_none() {
                self.inner
                    .stats
                    .set_mail_lint_findings(zone.lower_origin(), 0);
                tracing::info!(zone = %zone.origin(), "zone removed");
            }
        }
        let changed: Vec<(Arc<Zone>, Arc<Zone>)> = current
            .zones()
            .filter_map(|old| {
                let new = next.get(old.lower_origin())?;
                (!Arc::ptr_eq(old, new)).then(|| (Arc::clone(old), Arc::clone(new)))
            })
            .collect();
        self.inner.catalog.store(Arc::new(next));
        for (old, new) in changed {
            self.after_change(Some(&old), &new);
        }
        failed
    }

    /// Every served zone with its serial and size.
    pub fn zone_summaries(&self) -> Vec<ZoneSummary> {
        let catalog = self.catalog();
        let mut out: Vec<_> = catalog.zones().map(|z| crate::edit::summary(z)).collect();
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        out
    }

    /// The `[dns]` section in force, for the operator commands that work
    /// on it beside the running service (`headend dnssec ds`).
    pub fn current_config(&self) -> DnsConfig {
        self.config()
    }

    /// The state directory where the service keeps its DNSSEC keys.
    pub fn state_dir(&self) -> &Path {
        self.inner.signer.state_dir()
    }

    /// Every record of one served zone, SOA first.
    pub fn zone_records(&self, origin: &str) -> Result<Vec<RecordView>, DnsError> {
        let (_, name) = self.zone_config(origin)?;
        let catalog = self.catalog();
        let zone = catalog
            .get(&LowerName::new(&name))
            .ok_or_else(|| DnsError::UnknownZone {
                zone: origin.to_owned(),
            })?;
        Ok(crate::edit::records(zone))
    }

    /// Re-reads one zone's file; on failure the served version stays and the
    /// error is returned. Returns the serial now served.
    pub fn reload_zone(&self, origin: &str) -> Result<u32, DnsError> {
        let (zc, _) = self.zone_config(origin)?;
        let _guard = self.lock();
        let catalog = self.catalog();
        let others: Vec<&Zone> = catalog.zones().map(AsRef::as_ref).collect();
        let loaded = load_zone_with(&zc, &others).and_then(|mut loaded| {
            let zone =
                updates::with_updates(&self.inner.state_dir, loaded.zone).map_err(|e| vec![e])?;
            loaded.zone = self
                .inner
                .signer
                .prepare(zone, unix_now())
                .map_err(|e| vec![e])?;
            Ok(loaded)
        });
        drop(others);
        match loaded {
            Ok(loaded) => {
                let serial = loaded.zone.serial();
                for w in &loaded.warnings {
                    tracing::warn!(zone = %zc.origin, "{w}");
                }
                let mail = loaded
                    .warnings
                    .iter()
                    .filter(|w| w.check == Check::MailAuth)
                    .count();
                self.inner
                    .stats
                    .set_mail_lint_findings(loaded.zone.lower_origin(), mail);
                self.swap_in(loaded.zone);
                tracing::info!(zone = %zc.origin, serial, "zone reloaded");
                Ok(serial)
            }
            Err(mut errors) => {
                log_load_errors(&zc.origin, &errors);
                Err(if errors.is_empty() {
                    DnsError::UnknownZone { zone: zc.origin }
                } else {
                    errors.swap_remove(0)
                })
            }
        }
    }

    /// Applies a record edit: checked like a zone load, written to the zone
    /// file atomically with the SOA serial bumped, then served. Edits are
    /// serialised; `expected_serial` refuses an edit based on an older serial.
    /// Returns the new serial and the warnings the edit brought in.
    pub fn apply_edit(
        &self,
        origin: &str,
        edit: ZoneEdit,
        expected_serial: Option<u32>,
    ) -> Result<EditOutcome, DnsError> {
        let (zc, name) = self.zone_config(origin)?;
        let _guard = self.lock();
        let catalog = self.catalog();
        let others: Vec<&Zone> = catalog
            .zones()
            .map(AsRef::as_ref)
            .filter(|z| z.lower_origin() != &LowerName::new(&name))
            .collect();
        // A signed zone serves its own serial (re-signing bumps it): an
        // If-Match serial is compared with that one, not the file's.
        let served = catalog.get(&LowerName::new(&name));
        let mut file_expected = expected_serial;
        if let Some(served) = served.filter(|z| z.dnssec().is_some()) {
            if let Some(expected) = expected_serial
                && expected != served.serial()
            {
                return Err(DnsError::SerialMismatch {
                    expected,
                    current: served.serial(),
                });
            }
            file_expected = None;
        }
        let (zone, warnings) = crate::edit::apply(&zc, &name, &edit, file_expected, &others)?;
        // Dynamic updates not yet flushed stay on top of the edited file.
        let zone = updates::with_updates(&self.inner.state_dir, zone)?;
        // Signing can fail only on key-state trouble; the file is then already
        // written and the next reload retries.
        let zone = self.inner.signer.prepare(zone, unix_now())?;
        let serial = zone.serial();
        self.swap_in(zone);
        tracing::info!(zone = %zc.origin, serial, edit = %edit, "zone edited");
        Ok(EditOutcome {
            serial,
            warnings: warnings.iter().map(ToString::to_string).collect(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .reload_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn zone_config(&self, origin: &str) -> Result<(ZoneConfig, Name), DnsError> {
        let wanted = parse_origin(origin).map_err(|_| DnsError::UnknownZone {
            zone: origin.to_owned(),
        })?;
        let wanted_lower = LowerName::new(&wanted);
        for zc in &self.config().zones {
            if let Ok(name) = parse_origin(&zc.origin)
                && LowerName::new(&name) == wanted_lower
            {
                return Ok((zc.clone(), name));
            }
        }
        Err(DnsError::UnknownZone {
            zone: origin.to_owned(),
        })
    }

    /// Replaces one zone in the served catalog (queries never pause), then
    /// journals the change and notifies the secondaries.
    fn swap_in(&self, zone: Zone) {
        self.swap_in_as(zone, false, None);
    }

    /// [`DnsHandle::swap_in`]; `update`: a dynamic update, whose state
    /// files are written at most every few seconds.
    ///
    /// `touched`: for an update of an unsigned zone, the owner names it
    /// changed (the IXFR difference is then read at those names only).
    fn swap_in_as(&self, zone: Zone, update: bool, touched: Option<&[LowerName]>) -> Arc<Zone> {
        let current = self.inner.catalog.load_full();
        let old = current.get(zone.lower_origin()).cloned();
        let mut next = Catalog::clone(&current);
        let zone = Arc::new(zone);
        next.insert(Arc::clone(&zone));
        self.inner.catalog.store(Arc::new(next));
        if update {
            if let Some(old) = &old
                && old.serial() != zone.serial()
            {
                self.inner.transfers.record_update(old, &zone, touched);
                self.notify(&zone);
            }
        } else {
            self.after_change(old.as_ref(), &zone);
        }
        zone
    }

    /// After a zone was swapped in: on a new serial, record the difference in
    /// the IXFR journal and send NOTIFY (RFC 1996 §3.1: "whenever the master
    /// ... detects a change in the zone").
    fn after_change(&self, old: Option<&Arc<Zone>>, new: &Arc<Zone>) {
        let Some(old) = old else {
            return;
        };
        if old.serial() == new.serial() {
            return;
        }
        self.inner.transfers.record_change(old, new);
        self.notify(new);
    }

    /// Sends NOTIFY for `zone`'s serial to its secondaries (if it has any)
    /// and records the serial notified in the state dir.
    fn notify(&self, zone: &Arc<Zone>) {
        let origin = zone.lower_origin();
        let Some(policy) = self.inner.transfers.policy(origin) else {
            return;
        };
        if policy.notify.is_empty() {
            return;
        }
        tracing::info!(zone = %zone.origin(), serial = zone.serial(), targets = ?policy.notify, "sending NOTIFY");
        crate::notify::spawn(
            &self.inner.runtime,
            zone.origin().clone(),
            zone.soa().clone(),
            policy.notify,
            self.inner.transfers.notify_key(origin),
            Arc::clone(&self.inner.stats),
        );
        self.inner.transfers.set_notified(zone);
    }

    /// At start: secondaries hold the serial last notified (or an older
    /// one); every zone served with another serial, changed while headend
    /// was down, is announced to them at once (RFC 1996 §3.1) rather than
    /// at their next SOA refresh.
    fn notify_changed_since_last_run(&self) {
        let catalog = self.catalog();
        for zone in catalog.zones() {
            let last = self.inner.transfers.notified_serial(zone);
            if last != Some(zone.serial()) {
                if let Some(last) = last {
                    tracing::info!(zone = %zone.origin(), last_notified = last, serial = zone.serial(), "zone changed since the last NOTIFY");
                }
                self.notify(zone);
            }
        }
    }

    /// Re-signs every signed zone whose signatures are due for refresh or
    /// whose keys changed state at `now`, and serves the result (journaled
    /// and notified like any other change). Returns how many were re-signed.
    pub fn resign_due(&self, now: i64) -> usize {
        let _guard = self.lock();
        // What a stream of updates left for later reaches the state dir.
        self.inner.signer.save_pending();
        self.inner.transfers.save_pending();
        let mut done = 0;
        for origin in self.inner.signer.due(now) {
            match self.inner.signer.resign(&origin, now) {
                Some(Ok(zone)) => {
                    self.swap_in(zone);
                    done += 1;
                }
                Some(Err(e)) => {
                    tracing::error!(zone = %origin, "{e}; the previous signatures stay served")
                }
                None => {}
            }
        }
        done
    }

    /// Starts the task that re-signs zones before their signatures expire
    /// and carries out key rollover steps; it ends with the service.
    fn spawn_resign_scheduler(&self) {
        let weak = Arc::downgrade(&self.inner);
        self.inner.runtime.spawn(async move {
            loop {
                let wait = {
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    let now = unix_now();
                    // At most a few seconds: key state written by `headend
                    // dnssec` (a rollover, a confirmed DS) is noticed soon.
                    inner
                        .signer
                        .next_wakeup(now)
                        .map_or(KEY_STATE_POLL_SECS, |t| {
                            (t - now).clamp(1, KEY_STATE_POLL_SECS)
                        })
                };
                tokio::time::sleep(std::time::Duration::from_secs(wait.unsigned_abs())).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let handle = Self { inner };
                let blocking = handle.clone();
                let _ = tokio::task::spawn_blocking(move || blocking.resign_due(unix_now())).await;
                handle.check_parents().await;
            }
        });
    }

    /// Asks the parents of zones in a KSK rollover whether they serve the
    /// new DS yet; where every parent does, the old KSK's removal is
    /// scheduled (the next re-sign carries it out).
    async fn check_parents(&self) {
        for sub in self.inner.signer.submissions_due(unix_now()) {
            match crate::dnssec::submission::parents_serve(&sub).await {
                Ok(()) => match self.inner.signer.ds_seen(&sub.origin, sub.tag, unix_now()) {
                    Ok(Some(at)) => tracing::info!(
                        zone = %sub.zone,
                        tag = sub.tag,
                        old_ksk_removed_at = at,
                        "every parent server serves the new KSK's DS; the old KSK goes once the old DS has expired"
                    ),
                    Ok(None) => {}
                    Err(e) => tracing::error!(zone = %sub.zone, "{e}"),
                },
                Err(e) => tracing::info!(
                    zone = %sub.zone,
                    tag = sub.tag,
                    "waiting for the parent to publish the new KSK's DS (the old KSK stays): {e}"
                ),
            }
        }
    }

    /// The zones being served right now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.load_full()
    }

    /// Every DNSSEC-signed zone's earliest RRSIG expiration and next key
    /// event.
    pub fn signed_zones(&self) -> Vec<crate::dnssec::SignedZone> {
        self.inner.signer.signature_status(unix_now())
    }

    /// Responses sent so far by RCODE and query type.
    pub fn responses(&self) -> crate::stats::DnsResponses {
        self.inner.stats.responses()
    }

    /// The counters so far.
    pub fn stats(&self) -> DnsStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Responses so far per zone served now (in the catalog's order), and
    /// to names in no served zone; counts of zones no longer served are
    /// dropped, so a removed zone's series goes away.
    pub fn zone_queries(&self) -> crate::stats::ZoneQueries {
        let catalog = self.inner.catalog.load();
        let mut served: Vec<_> = catalog.zones().map(|z| z.lower_origin().clone()).collect();
        served.sort_unstable();
        self.inner.stats.zone_queries(&served)
    }

    /// The answer caches' hits and misses so far (plain queries only).
    pub fn fast_path(&self) -> crate::stats::FastCounts {
        self.inner.stats.fast_path()
    }

    /// Zone transfers answered over TCP so far, by kind and result.
    pub fn transfers(&self) -> crate::stats::TransferCounts {
        self.inner.stats.transfers()
    }

    /// The addresses actually bound (useful when a port 0 was configured).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.inner.bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(check: Check) -> Finding {
        Finding {
            severity: Severity::Error,
            check,
            file: PathBuf::from("z.zone"),
            line: 3,
            message: "bad".to_owned(),
        }
    }

    #[test]
    fn only_structural_errors_refuse_a_load_by_default() {
        let kept = |check, lint| at_load(finding(check), lint).map(|f| f.severity);
        assert_eq!(
            kept(Check::Structure, MailLint::Warn),
            Some(Severity::Error)
        );
        assert_eq!(kept(Check::Structure, MailLint::Off), Some(Severity::Error));
        assert_eq!(
            kept(Check::Delegation, MailLint::Error),
            Some(Severity::Warning)
        );
        assert_eq!(
            kept(Check::MailAuth, MailLint::Warn),
            Some(Severity::Warning)
        );
        assert_eq!(
            kept(Check::MailAuth, MailLint::Error),
            Some(Severity::Error)
        );
        assert_eq!(kept(Check::MailAuth, MailLint::Off), None);
    }

    #[test]
    fn a_demoted_error_says_the_zone_is_served() {
        let f = at_load(finding(Check::MailAuth), MailLint::Warn).unwrap();
        assert!(f.to_string().contains("the zone is served"), "{f}");
    }
}
