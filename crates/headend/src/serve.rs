//! `headend serve`: start the enabled services, then wait for signals.
//!
//! Each service is started from its config section and hands back a handle;
//! SIGHUP reloads what can be reloaded, SIGTERM/SIGINT stop the process.

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;

/// The handles of the running services.
#[derive(Default)]
pub(crate) struct Services {
    pub(crate) dns: Option<headend_dns::DnsHandle>,
    pub(crate) tftp: Option<headend_tftp::TftpHandle>,
    pub(crate) dhcp: Option<headend_dhcp::DhcpHandle>,
    /// DNS names that follow leases (`[dhcp.ddns]`).
    pub(crate) lease_names: Option<std::sync::Arc<crate::ddns::LeaseNames>>,
    /// DNS names that follow DHCPv6 bindings (`[dhcp6.ddns]`).
    pub(crate) lease_names6: Option<std::sync::Arc<crate::ddns::LeaseNames>>,
    /// The `[dhcp.ddns]` and `[dhcp6.ddns]` the names follow (a change
    /// needs a restart; SIGHUP says so).
    pub(crate) ddns_started: (
        Option<headend_dhcp::ddns::DdnsConfig>,
        Option<headend_dhcp6::ddns::Ddns6Config>,
    ),
    pub(crate) time: Option<headend_dhcp::TimeHandle>,
    pub(crate) dhcp6: Option<headend_dhcp6::Dhcp6Handle>,
    /// The lease (and later user/token/audit) store, shared with the admin API.
    pub(crate) store: Option<headend_store::Store>,
    pub(crate) admin: Option<headend_admin::AdminHandle>,
    /// Start time and reload counts, shown on the admin API's /metrics.
    pub(crate) process: std::sync::Arc<headend_admin::ProcessStats>,
}

impl Services {
    /// SIGHUP: the config file (re-read from `path`) is checked whole; its
    /// `[dns]` section (zones added or removed, ACLs, keys, DNSSEC settings)
    /// and `[dhcp]` section are applied, and every zone file is read again.
    /// A file that does not load changes no section: zone files are still
    /// re-read.
    fn reload(&self, path: &std::path::Path) {
        let config = Config::load(path)
            .inspect_err(|e| tracing::error!("SIGHUP: the config file is not applied: {e}"))
            .ok();
        self.process.reloaded(config.is_some());
        if let Some(dns) = &self.dns {
            match config.as_ref().map(|c| c.dns.clone()) {
                Some(Some(new)) => match dns.reconfigure(new) {
                    Ok((warnings, _)) => {
                        for w in warnings {
                            tracing::warn!("SIGHUP: {w}");
                        }
                    }
                    Err(e) => {
                        tracing::error!("SIGHUP: [dns] not applied, zone files re-read: {e}");
                        dns.reload();
                    }
                },
                Some(None) => {
                    tracing::warn!(
                        "SIGHUP: the [dns] section is gone from {}; DNS keeps its zones until a restart",
                        path.display()
                    );
                    dns.reload();
                }
                None => {
                    dns.reload();
                }
            }
        }
        if let Some(tftp) = &self.tftp {
            tracing::info!(stats = %tftp.stats(), "TFTP counters");
            // Shared secrets are read again and compiled files recompiled.
            if let Err(e) = tftp.reload_templates() {
                tracing::error!("SIGHUP: TFTP template formats kept: {e}");
            }
        }
        if let Some(time) = &self.time {
            let t = time.stats();
            tracing::info!(udp = t.udp, tcp = t.tcp, "time server counters");
        }
        if let Some(dhcp) = &self.dhcp {
            tracing::info!(stats = %dhcp.stats(), "DHCP counters");
            // Only `[dhcp]` of the file is applied (the handle logs what
            // changed, or why it refused).
            match config.as_ref().map(|c| c.dhcp.clone()) {
                Some(Some(new)) => {
                    let _ = dhcp.reload(new);
                }
                Some(None) => tracing::warn!(
                    "SIGHUP: the [dhcp] section is gone from {}; DHCP keeps its running config until a restart",
                    path.display()
                ),
                None => tracing::error!("SIGHUP: DHCP keeps its running config"),
            }
        }
        if let Some(dhcp6) = &self.dhcp6 {
            tracing::info!(stats = %dhcp6.stats(), "DHCPv6 counters");
            match config.as_ref().map(|c| c.dhcp6.clone()) {
                Some(Some(new)) => {
                    if let Err(e) = dhcp6.reload(new) {
                        tracing::error!(
                            "SIGHUP: [dhcp6] not applied, the running config stays: {e}"
                        );
                    }
                }
                Some(None) => tracing::warn!(
                    "SIGHUP: the [dhcp6] section is gone from {}; DHCPv6 keeps its running config until a restart",
                    path.display()
                ),
                None => tracing::error!("SIGHUP: DHCPv6 keeps its running config"),
            }
        }
        if let Some(c) = &config {
            let now = (
                c.dhcp.as_ref().and_then(|d| d.ddns.clone()),
                c.dhcp6.as_ref().and_then(|d| d.ddns.clone()),
            );
            if now.0 != self.ddns_started.0 {
                tracing::warn!(
                    "SIGHUP: [dhcp.ddns] changed; lease names keep the settings they started with until a restart"
                );
            }
            if now.1 != self.ddns_started.1 {
                tracing::warn!(
                    "SIGHUP: [dhcp6.ddns] changed; binding names keep the settings they started with until a restart"
                );
            }
        }
        if let Some(Err(e)) = self
            .admin
            .as_ref()
            .map(headend_admin::AdminHandle::reload_tls)
        {
            tracing::error!("admin TLS reload failed, keeping the old certificate: {e}");
        }
    }
}

/// Runs until SIGTERM or SIGINT.
pub(crate) async fn serve(config: Config, path: std::path::PathBuf) -> anyhow::Result<()> {
    let state = &config.general.state_dir;
    headend_util::create_private_dir(state).with_context(|| {
        format!(
            "cannot create state directory {} (headend runs as {}); create it owned by that user, mode 0700",
            state.display(),
            run_as()
        )
    })?;
    if let Err(e) = probe_writable(state) {
        anyhow::bail!(
            "state directory {} is not writable by {}, the user headend runs as: {e}; chown it to that user (mode 0700)",
            state.display(),
            run_as()
        );
    }
    match headend_util::exposed_entries(&config.general.state_dir) {
        Ok(exposed) => {
            for (path, mode) in exposed {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:04o}"),
                    "state file or directory is readable by group or others; chmod go-rwx it (it may hold password hashes, sessions or keys)"
                );
            }
        }
        Err(e) => tracing::warn!("cannot check the state directory's modes: {e}"),
    }
    let budget = crate::fds::Budget::of(&config);
    let available = crate::fds::raise().context("reading the open-file limit")?;
    if budget.needed() > available {
        anyhow::bail!(budget.refusal(available));
    }
    tracing::info!(needed = budget.needed(), available, parts = %budget.parts_text(), "{}", budget.summary(available));
    let mut services = Services::default();

    if let Some(dns) = &config.dns {
        services.dns = Some(
            headend_dns::DnsService::start(dns.clone(), &config.general.state_dir)
                .await
                .context("starting DNS")?,
        );
    }
    // One store ([store]: SQLite in the state directory, or PostgreSQL shared
    // by several servers) for leases, users and the audit log.
    if config.dhcp.is_some() || config.dhcp6.is_some() || config.admin.is_some() {
        let store = headend_store::Store::open(&config.store, &config.general.state_dir)
            .context("opening the store")?;
        tracing::info!(store = %store.describe(), "store open");
        services.store = Some(store);
    }
    // The DHCP handle, for TFTP's reservation lookups, once DHCP has started.
    let dhcp_cell = std::sync::Arc::new(std::sync::OnceLock::new());
    if let Some(tftp) = &config.tftp {
        // Templates and `bind_to_lease` see the DHCP leases when DHCP runs here.
        let lookup: std::sync::Arc<dyn headend_tftp::LeaseLookup> =
            match (&config.dhcp, &services.store) {
                (Some(_), Some(store)) => std::sync::Arc::new(
                    crate::lease_lookup::StoreLeases::new(store.clone(), dhcp_cell.clone()),
                ),
                _ => std::sync::Arc::new(headend_tftp::NoLeases),
            };
        services.tftp = Some(
            headend_tftp::TftpService::start_with(
                tftp.clone(),
                lookup,
                std::sync::Arc::new(crate::docsis::DocsisFormatter),
            )
            .await
            .context("starting TFTP")?,
        );
    }
    if let Some(dhcp) = &config.dhcp {
        let Some(store) = services.store.clone() else {
            anyhow::bail!("the store was not opened");
        };
        let handle = headend_dhcp::DhcpService::start(dhcp.clone(), store.clone())
            .context("starting DHCP")?;
        let _ = dhcp_cell.set(handle.clone());
        if let Some(ddns) = &dhcp.ddns {
            let Some(dns) = services.dns.clone() else {
                anyhow::bail!("[dhcp.ddns] needs the [dns] section: the names go in its zones");
            };
            let names = std::sync::Arc::new(crate::ddns::LeaseNames::new(
                crate::ddns::Family::V4(ddns.clone()),
                dns,
                store.clone(),
            )?);
            handle.set_lease_hook(names.clone());
            names.start().context("starting the DHCP name reconciler")?;
            tracing::info!(zone = %ddns.forward_zone, "DHCP leases get DNS names");
            services.lease_names = Some(names);
        }
        services.ddns_started.0 = dhcp.ddns.clone();
        services.dhcp = Some(handle);
        services.store = Some(store);
    }
    if let Some(dhcp6) = &config.dhcp6 {
        let Some(store) = services.store.clone() else {
            anyhow::bail!("the store was not opened");
        };
        let handle = headend_dhcp6::Dhcp6Service::start(
            dhcp6.clone(),
            store.clone(),
            &config.general.state_dir,
        )
        .context("starting DHCPv6")?;
        if let Some(ddns) = &dhcp6.ddns {
            let Some(dns) = services.dns.clone() else {
                anyhow::bail!("[dhcp6.ddns] needs the [dns] section: the names go in its zones");
            };
            let names = std::sync::Arc::new(crate::ddns::LeaseNames::new(
                crate::ddns::Family::V6(ddns.clone()),
                dns,
                store,
            )?);
            handle.set_lease_hook(names.clone());
            names
                .start()
                .context("starting the DHCPv6 name reconciler")?;
            tracing::info!(zone = %ddns.forward_zone, "DHCPv6 bindings get DNS names");
            services.lease_names6 = Some(names);
        }
        services.ddns_started.1 = dhcp6.ddns.clone();
        services.dhcp6 = Some(handle);
    }
    if let Some(time) = &config.time {
        services.time =
            Some(headend_dhcp::TimeService::start(time).context("starting the time server")?);
    }
    if let Some(admin) = &config.admin {
        let Some(store) = services.store.clone() else {
            anyhow::bail!("the store was not opened");
        };
        let handles = headend_admin::Handles {
            dns: services.dns.clone(),
            dhcp: services.dhcp.clone(),
            dhcp6: services.dhcp6.clone(),
            tftp: services.tftp.clone(),
            process: std::sync::Arc::clone(&services.process),
        };
        services.admin = Some(
            headend_admin::AdminService::start(
                admin.clone(),
                &config.general.state_dir,
                store.clone(),
                handles,
            )
            .await
            .context("starting the admin API")?,
        );
        services.store = Some(store);
    }
    // Further services are started here, each from its own section.

    let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    tracing::info!("headend ready");
    crate::notify_systemd("READY=1");
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading");
                // systemd's Type=notify reload protocol (sd_notify(3)):
                // RELOADING=1 with the CLOCK_MONOTONIC time the reload began,
                // then READY=1 once the new configuration is in force.
                crate::notify_systemd(&crate::reloading_message());
                services.reload(&path);
                crate::notify_systemd("READY=1");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("headend stopping");
    crate::notify_systemd("STOPPING=1");
    Ok(())
}

/// `user NAME (uid N)` for the user this process runs as (from
/// /proc/self/status and /etc/passwd), `uid N` when it has no name.
pub(crate) fn run_as() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_else(|| "?".to_owned());
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_owned())
        })
    });
    match name {
        Some(n) => format!("user {n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// Creates and removes a file in `dir`: the store, keys and certificates
/// are written there.
fn probe_writable(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".headend-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}
