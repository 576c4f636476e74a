//! Starting the DHCPv6 service, and the handle the rest of the program
//! keeps: statistics, bindings, reload and stop.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use headend_store::{Lease6, Store, StoreError};

use crate::commit::{self, Runtime};
use crate::core::Server;
use crate::listen;
use crate::plan::Plan;
use crate::stats::{Dhcp6Stats, Dhcp6StatsSnapshot};
use crate::{Dhcp6Config, Dhcp6Error};

/// Starts the DHCPv6 service.
#[derive(Debug)]
pub struct Dhcp6Service;

/// A cloneable handle to the running DHCPv6 service.
#[derive(Clone)]
pub struct Dhcp6Handle {
    rt: Arc<Runtime>,
    config: Arc<Mutex<Dhcp6Config>>,
    ports: Vec<u16>,
}

impl std::fmt::Debug for Dhcp6Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dhcp6Handle").finish_non_exhaustive()
    }
}

impl Dhcp6Handle {
    /// A snapshot of the counters.
    pub fn stats(&self) -> Dhcp6StatsSnapshot {
        self.rt.stats.snapshot()
    }

    /// Every binding in the store.
    pub fn leases(&self) -> Result<Vec<Lease6>, StoreError> {
        self.rt.store.leases6()
    }

    /// Ends the binding at `address` as a client's RELEASE would, in its
    /// own durable transaction.
    pub fn release(&self, address: std::net::Ipv6Addr) -> Result<crate::Release6, StoreError> {
        crate::release_lease6(&self.rt.store, address)
    }

    /// Whether a reservation for `key` of `address` and/or `prefix` in
    /// `subnet` fits the running configuration.
    pub fn check_reservation(
        &self,
        subnet: &str,
        key: &headend_store::Reservation6Key,
        address: Option<std::net::Ipv6Addr>,
        prefix: Option<(std::net::Ipv6Addr, u8)>,
    ) -> Result<(), crate::Reservation6Refusal> {
        crate::manage::check_reservation6(&self.rt.server.plan(), subnet, key, address, prefix)
    }

    /// Size, live bindings and declined ones of every address and prefix
    /// pool (reads every binding: for /metrics, not a hot path).
    pub fn occupancy(&self) -> Result<Vec<crate::Pool6Occupancy>, StoreError> {
        let leases = self.rt.store.leases6()?;
        let now = headend_util::time::since_epoch(std::time::SystemTime::now()).as_secs();
        Ok(crate::occupancy::occupancy(
            &self.rt.server.plan(),
            &leases,
            now,
        ))
    }

    /// Registers the receiver of committed IA_NA binding events (DNS names
    /// that follow bindings); replaces any earlier one.
    pub fn set_lease_hook(&self, hook: Arc<dyn crate::Lease6Hook>) {
        *self.rt.hook.write().unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// The `[dhcp6.ddns]` section in force, if any.
    pub fn ddns_config(&self) -> Option<crate::ddns::Ddns6Config> {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ddns
            .clone()
    }

    /// The server DUID (option 2).
    pub fn duid(&self) -> Vec<u8> {
        self.rt.server.duid().to_vec()
    }

    /// The bound ports, one per socket.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Stops the threads (within a fraction of a second).
    pub fn stop(&self) {
        self.rt.stop.store(true, Ordering::Relaxed);
    }

    /// Replaces the running configuration (SIGHUP): compiled and checked as
    /// at start; on error the running one stays. Subnets, pools, classes,
    /// options, reservations, lifetimes and limits apply from the next
    /// request; `interfaces`, `port` and `server_duid` need a restart.
    pub fn reload(&self, config: Dhcp6Config) -> Result<(), Dhcp6Error> {
        let mut current = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        let plan = Plan::compile(&config)?;
        if config.interfaces != current.interfaces
            || config.port != current.port
            || config.server_duid != current.server_duid
        {
            tracing::warn!(
                "DHCPv6 reload: interfaces, port and server_duid take effect at the next start"
            );
        }
        self.rt.server.install(plan);
        *current = config;
        tracing::info!("DHCPv6 configuration reloaded");
        Ok(())
    }
}

impl Dhcp6Service {
    /// Compiles the config, loads (or makes) the server DUID in `state_dir`,
    /// opens the sockets and starts the threads.
    pub fn start(
        config: Dhcp6Config,
        store: Store,
        state_dir: &Path,
    ) -> Result<Dhcp6Handle, Dhcp6Error> {
        let plan = Plan::compile(&config)?;
        let duid = crate::duid::load_or_create(config.server_duid.as_deref(), state_dir)?;
        let max_batch = plan.max_batch;
        let server = Server::new(plan, duid);
        let listeners = Arc::new(listen::open_all(&config.interfaces, config.port)?);
        let rt = Arc::new(Runtime {
            stop: Arc::new(AtomicBool::new(false)),
            stats: Arc::new(Dhcp6Stats::default()),
            store,
            server,
            hook: std::sync::RwLock::new(None),
        });
        let rx = listen::start_readers(&listeners, max_batch.max(256) * 4, &rt.stop, &rt.stats)?;
        let ports = listeners
            .iter()
            .filter_map(listen::Listener::port)
            .collect();
        for l in listeners.iter() {
            tracing::info!(interface = l.name(), port = config.port, "DHCPv6 listening");
        }
        commit::start(listeners, rx, &rt)?;
        tracing::info!(
            store = %rt.store.describe(),
            subnets = config.subnets.len(),
            duid = %hex::encode(rt.server.duid()),
            "DHCPv6 service started"
        );
        Ok(Dhcp6Handle {
            rt,
            config: Arc::new(Mutex::new(config)),
            ports,
        })
    }
}
