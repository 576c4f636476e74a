//! Starting the DHCP service, and the handle the rest of the program keeps:
//! statistics, leases, an operator's release, reload and stop.
//!
//! [`DhcpService::start`] compiles the configuration, opens the sockets
//! ([`crate::listen`]) and starts the group-commit worker and flush threads
//! ([`crate::commit`]), which feed each request to the sans-I/O
//! [`Server`](crate::Server).
//!
//! A reload ([`DhcpHandle::reload`]) compiles the new configuration on the
//! caller's thread and swaps it into the [`Server`](crate::Server)
//! atomically; the worker reads the current one per request (and its batch
//! and log settings per batch), so it never waits for a reload. Sockets,
//! leases, rate buckets and counters are untouched.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use headend_store::{Lease, LeaseState, Store, StoreError};

use crate::commit::{self, Runtime};
use crate::config::HaMode;
use crate::core::{Release, Server, release_address};
use crate::listen::{self, Intake};
use crate::plan::Plan;
use crate::reload::{self, Listen, ReloadReport};
use crate::stats::DhcpStatsSnapshot;
use crate::{DhcpConfig, DhcpError};

struct Shared {
    /// What the worker and flush threads share.
    rt: Arc<Runtime>,
    /// The section now in effect; held while reloading, so reloads run one
    /// at a time (the packet path never takes it).
    config: Mutex<DhcpConfig>,
    /// What the sockets were opened for.
    listen: Listen,
}

/// Starts the DHCP service.
#[derive(Debug)]
pub struct DhcpService;

/// A cloneable handle to the running DHCP service.
#[derive(Clone)]
pub struct DhcpHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DhcpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpHandle").finish_non_exhaustive()
    }
}

impl DhcpHandle {
    /// Registers who hears of committed lease changes (replacing any
    /// earlier hook); see [`crate::LeaseHook`].
    pub fn set_lease_hook(&self, hook: Arc<dyn crate::LeaseHook>) {
        *self
            .shared
            .rt
            .hook
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// The `[dhcp.ddns]` section in force, if any.
    pub fn ddns_config(&self) -> Option<crate::ddns::DdnsConfig> {
        self.shared
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ddns
            .clone()
    }

    /// A snapshot of the counters (requests, replies, and drops by reason).
    pub fn stats(&self) -> DhcpStatsSnapshot {
        self.shared.rt.stats.snapshot()
    }

    /// Relayed requests received per relay address (giaddr), the first
    /// [`crate::stats::MAX_RELAYS`] relays by address and the rest together.
    pub fn relays(&self) -> crate::stats::RelaySnapshot {
        self.shared.rt.relays.snapshot()
    }

    /// Requests received per client class configured now (the first class
    /// each matched), and those that matched none.
    pub fn class_requests(&self) -> crate::stats::ClassSnapshot {
        let plan = self.shared.rt.server.plan();
        let names: Vec<&str> = plan.classes.iter().map(|c| c.name.as_str()).collect();
        self.shared.rt.classes.snapshot(&names)
    }

    /// How long batches waited from the start of their commit until the
    /// sync that made them durable (their replies wait that long).
    pub fn commit_latency(&self) -> headend_util::HistogramSnapshot {
        self.shared.rt.commit_latency.snapshot()
    }

    /// Each pool's addresses by what holds them now (leased, declined,
    /// reserved, free), and the live leases per class; read from the store.
    pub fn occupancy(&self) -> Result<crate::Occupancy, StoreError> {
        let leases = self.shared.rt.store.live_leases(headend_util::unix_now())?;
        let plan = self.shared.rt.server.plan();
        Ok(crate::occupancy::occupancy(&plan, &leases))
    }

    /// Every lease in the store.
    pub fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.shared.rt.store.leases()
    }

    /// Ends the lease of `address` now, for an operator: see
    /// [`release_lease`], which this calls on the service's store.
    pub fn release(&self, address: Ipv4Addr) -> Result<Release, StoreError> {
        release_lease(&self.shared.rt.store, address)
    }

    /// Whether a run-time reservation of `address` for `mac` in `subnet`
    /// fits the configuration now in effect ([`crate::check_reservation`]).
    pub fn check_reservation(
        &self,
        subnet: &str,
        mac: &str,
        address: Ipv4Addr,
    ) -> Result<(), crate::ReservationRefusal> {
        let config = self
            .shared
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        crate::check_reservation(&config, subnet, mac, address)
    }

    /// The `attributes` of the running config's reservation in subnet
    /// `subnet` (by name) for the client with hardware address `mac`
    /// holding `address`; None if it has none or no such reservation.
    pub fn reservation_attributes(
        &self,
        subnet: &str,
        mac: &[u8],
        address: Ipv4Addr,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        let plan = self.shared.rt.server.plan();
        plan.subnets
            .iter()
            .find(|s| s.name == subnet)?
            .reservations
            .iter()
            .find(|r| r.is_of(mac, address))?
            .attributes
            .clone()
    }

    /// The dynamic ranges of every subnet now configured, as (subnet name,
    /// first, last), for the console's pool utilisation.
    pub fn pool_ranges(&self) -> Vec<(String, Ipv4Addr, Ipv4Addr)> {
        let plan = self.shared.rt.server.plan();
        plan.subnets
            .iter()
            .flat_map(|s| s.pools.iter().map(|(a, b)| (s.name.clone(), *a, *b)))
            .collect()
    }

    /// Stops the socket and worker threads (within a fraction of a second).
    pub fn stop(&self) {
        self.shared.rt.stop.store(true, Ordering::Relaxed);
    }

    /// Replaces the running configuration (SIGHUP): the new section is
    /// compiled and checked exactly as at start; if it fails, the error is
    /// returned and the running configuration stays. Otherwise subnets,
    /// pools, options, classes, reservations, lease times and limits apply
    /// from the next request on (requests being decided finish under the old
    /// one). Leases stay in the store: a client whose address is still in a
    /// pool of its subnet keeps it; one whose address left the pools gets a
    /// NAK at its next renewal, then a new address. Socket settings
    /// (`interfaces`, `port`) are not applied: the report names them under
    /// `needs_restart`. Counters carry on. Logs the outcome (info, and a
    /// warning per [`ReloadReport::warnings`] entry).
    pub fn reload(&self, config: DhcpConfig) -> Result<ReloadReport, DhcpError> {
        let mut current = self
            .shared
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let plan = match Plan::compile(&config) {
            Ok(plan) => plan,
            Err(e) => {
                tracing::error!(
                    "DHCP configuration reload refused, the running configuration stays: {e}"
                );
                self.shared
                    .rt
                    .stats
                    .config_reload_refused
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let old_plan = self.shared.rt.server.plan();
        let report = reload::diff(&current, &old_plan, &config, &plan, &self.shared.listen);
        self.shared.rt.server.install(plan);
        *current = config;
        drop(current);
        self.shared
            .rt
            .stats
            .config_reloads
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!("DHCP configuration reloaded: {report}");
        for w in &report.warnings {
            tracing::warn!("DHCP reload: {w}");
        }
        Ok(report)
    }
}

/// Ends the lease of `address` in `store` now, for an operator (the admin
/// API's lease release), whether or not a DHCP service runs in this process:
/// one transaction around [`release_address`], which holds the rules (a
/// declined address stays quarantined, an expired lease is left as it is).
pub fn release_lease(store: &Store, address: Ipv4Addr) -> Result<Release, StoreError> {
    let mut tx = store.begin()?;
    // The store's clock when several hosts share it, as the servers use.
    let now = tx
        .clock()
        .map_or_else(SystemTime::now, |d| SystemTime::UNIX_EPOCH + d);
    let release = release_address(&mut *tx, address, now)?;
    if matches!(release, Release::Ended { .. }) {
        tx.commit()?;
    }
    Ok(release)
}

impl DhcpService {
    /// Compiles the config, opens the sockets and starts the threads.
    pub fn start(config: DhcpConfig, store: Store) -> Result<DhcpHandle, DhcpError> {
        let server = Server::new(&config)?;
        let listeners = Arc::new(listen::open_all(&config.interfaces, config.port)?);
        let rt = Arc::new(Runtime::new(server, store));
        let intake = Intake::start(&listeners, config.max_batch, &rt.stop, &rt.stats)?;
        for l in listeners.iter() {
            tracing::info!(interface = l.name(), port = config.port, "DHCP listening");
        }
        if rt.server.plan().ha.beats() {
            // Know who is alive before the first request is decided.
            let mut was = Vec::new();
            beat(&rt, &mut was);
            let rt = Arc::clone(&rt);
            listen::spawn("dhcp-heartbeat", move || heartbeats(&rt, was))?;
        }
        commit::start(listeners, intake, &rt)?;
        {
            let rt = Arc::clone(&rt);
            listen::spawn("dhcp-expiry", move || expiries(&rt))?;
        }
        tracing::info!(store = %rt.store.describe(), subnets = config.subnets.len(), "DHCP service started");
        Ok(DhcpHandle {
            shared: Arc::new(Shared {
                rt,
                listen: Listen::of(&config),
                config: Mutex::new(config),
            }),
        })
    }
}

/// How often the scheduled lease ends are looked at.
const EXPIRY_TICK: Duration = Duration::from_millis(500);

/// Logs each lease that runs out ([`crate::expiry`]) while `dhcp.log_leases`
/// is on, until the service stops: the bound leases already in the store
/// are scheduled once at start, the flush thread schedules every ACK, and
/// each due address's row is read (one indexed read) to tell an expiry from
/// a renewal, release or decline.
fn expiries(rt: &Runtime) {
    let mut seeded = false;
    while !rt.stop.load(Ordering::Relaxed) {
        std::thread::sleep(EXPIRY_TICK);
        if !rt.server.plan().log_leases {
            rt.expiries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            seeded = false;
            continue;
        }
        if !seeded {
            match rt.store.leases() {
                Ok(rows) => {
                    let mut watch = rt.expiries.lock().unwrap_or_else(PoisonError::into_inner);
                    for row in rows.iter().filter(|r| r.state == LeaseState::Bound) {
                        watch.schedule(row.address, row.expires);
                    }
                }
                Err(e) => tracing::warn!("leases not read for their expiry lines: {e}"),
            }
            seeded = true;
        }
        let now = headend_util::unix_now();
        let due = rt
            .expiries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take_due(now);
        for address in due {
            let Ok(Some(row)) = rt.store.lease_at(address) else {
                continue;
            };
            if crate::expiry::ran_out(&row, now) {
                crate::expiry::log_expiry(&row);
            } else if row.state == LeaseState::Bound {
                // Renewed (its ACK scheduled the new end too) or a second late.
                rt.expiries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .schedule(address, row.expires);
            }
        }
    }
}

/// `[dhcp.ha]` with a server list: writes this server's heartbeat row every
/// `heartbeat_secs` (the configuration current at each beat) and tells the
/// core who is alive, until the service stops.
fn heartbeats(rt: &Runtime, mut was: Vec<bool>) {
    let mut last = Instant::now();
    while !rt.stop.load(Ordering::Relaxed) {
        let every = rt.server.plan().ha.heartbeat;
        if last.elapsed() < every {
            std::thread::sleep(
                every
                    .saturating_sub(last.elapsed())
                    .min(Duration::from_millis(100)),
            );
            continue;
        }
        last = Instant::now();
        beat(rt, &mut was);
    }
}

/// One heartbeat: this server's row written, every server's age read (both
/// by the store's clock), the core told who is alive, and each change
/// logged. `was`: who was alive at the previous beat.
fn beat(rt: &Runtime, was: &mut Vec<bool>) {
    let plan = rt.server.plan();
    let ha = &plan.ha;
    let Some(me) = ha.names.get(ha.me) else {
        return;
    };
    let ages = match rt.store.heartbeat(me) {
        Ok(ages) => ages,
        Err(e) => {
            tracing::warn!(server = %me, "DHCP heartbeat not written to the store: {e}");
            return;
        }
    };
    let live = ha.live(&ages);
    for (i, name) in ha.names.iter().enumerate() {
        let (now, before) = (live.get(i).copied(), was.get(i).copied());
        if now == before || i == ha.me {
            continue;
        }
        let age = ages.iter().find(|(n, _)| n == name).map(|(_, a)| *a);
        if now == Some(true) {
            tracing::info!(peer = %name, "DHCP server {name} is alive (heartbeat in the store)");
        } else if before.is_some() || ha.mode != HaMode::Shared {
            tracing::warn!(
                peer = %name,
                mode = ?ha.mode,
                "DHCP server {name} is down: no heartbeat for {} (takeover after {} s); its clients are answered by the next live server",
                age.map_or_else(|| "ever".to_owned(), |a| format!("{:.1} s", a as f64 / 1000.0)),
                ha.takeover.as_secs_f64()
            );
        }
    }
    rt.server.set_live(live.clone());
    *was = live;
}
