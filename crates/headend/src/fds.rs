//! The file-descriptor budget: every service has its own cap on sockets and
//! open files, and the caps together must fit under the process's
//! `RLIMIT_NOFILE`, so that one service filled by an attacker (slow admin
//! clients, TCP DNS, TFTP transfers) can never make `accept()` fail with
//! `EMFILE` in another. At start the soft limit is raised to the hard one;
//! a config whose caps do not fit is refused, and `headend check` shows the
//! arithmetic.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::config::Config;

/// Descriptors kept for everything no cap counts: stdio, the runtime's
/// epoll and event descriptors, signal handling, log output, config, zone
/// and key files being read, outgoing NOTIFY and zone-transfer sockets.
const SLACK: u64 = 64;

/// SQLite: a database, its WAL and shared-memory files, for the writer and
/// the readers the store opens.
const SQLITE: u64 = 16;

/// Linux refuses a soft limit above `fs.nr_open` (2^20 by default) even when
/// the hard limit says "unlimited".
const NR_OPEN_DEFAULT: u64 = 1 << 20;

/// How many descriptors each part of the config may hold at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Budget {
    /// (part, descriptors), in the order printed.
    pub(crate) parts: Vec<(&'static str, u64)>,
}

impl Budget {
    /// The budget of `config`.
    pub(crate) fn of(config: &Config) -> Self {
        let mut parts = Vec::new();
        if let Some(admin) = &config.admin {
            parts.push(("admin API connections", admin.descriptor_budget() as u64));
        }
        if let Some(dns) = &config.dns {
            let listeners = dns.listen.len() as u64;
            let udp = listeners * dns.udp_workers.max(1) as u64;
            parts.push((
                "DNS sockets (UDP workers, TCP listeners and connections)",
                udp + listeners + dns.tcp_max_connections as u64,
            ));
        }
        if let Some(tftp) = &config.tftp {
            // One socket and one open file per transfer, plus the listeners
            // and the root directory.
            parts.push((
                "TFTP transfers",
                2 * tftp.max_transfers as u64 + tftp.listen.len() as u64 + 1,
            ));
        }
        if let Some(dhcp) = &config.dhcp {
            parts.push(("DHCP sockets", dhcp.interfaces.len().max(1) as u64 + 1));
        }
        if let Some(dhcp6) = &config.dhcp6 {
            parts.push(("DHCPv6 sockets", dhcp6.interfaces.len().max(1) as u64 + 1));
        }
        if config.dhcp.is_some() || config.dhcp6.is_some() || config.admin.is_some() {
            let store = match &config.store {
                headend_store::StoreConfig::Postgres(pg) => pg.pool as u64 + 2,
                _ => SQLITE,
            };
            parts.push(("store", store));
        }
        parts.push(("slack (stdio, runtime, files being read)", SLACK));
        Self { parts }
    }

    /// Descriptors needed in all.
    pub(crate) fn needed(&self) -> u64 {
        self.parts.iter().map(|(_, n)| n).sum()
    }

    /// The line `headend check` prints and `serve` logs.
    pub(crate) fn summary(&self, available: u64) -> String {
        format!(
            "file descriptors: {} needed of {available} available",
            self.needed()
        )
    }

    /// Each part and its count, `TFTP transfers 2050, DHCP sockets 2, ...`
    /// (a log field's value, not Rust's debug form of the list).
    pub(crate) fn parts_text(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(what, n)| format!("{what} {n}"))
            .collect();
        parts.join(", ")
    }

    /// The error for a config whose caps do not fit in `available`.
    pub(crate) fn refusal(&self, available: u64) -> String {
        format!(
            "{} ({}); lower [admin.connections] max_connections, [dns] tcp_max_connections or [tftp] max_transfers, or raise the hard limit (LimitNOFILE= in the systemd unit, ulimit -Hn)",
            self.summary(available),
            self.parts_text()
        )
    }
}

/// The most descriptors this process can get: the hard `RLIMIT_NOFILE`
/// (capped at what Linux grants by default when it says "unlimited").
pub(crate) fn available() -> std::io::Result<u64> {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(std::io::Error::from)?;
    Ok(hard.min(NR_OPEN_DEFAULT))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit now
/// in force.
pub(crate) fn raise() -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(std::io::Error::from)?;
    let target = hard.min(NR_OPEN_DEFAULT);
    if soft >= target {
        return Ok(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
        Ok(()) => Ok(target),
        Err(e) => {
            tracing::warn!(soft, hard, "cannot raise the open-file limit: {e}");
            Ok(soft)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).expect("config")
    }

    #[test]
    fn every_enabled_service_has_a_share() {
        let c = config(
            r#"
[dns]
listen = ["127.0.0.1:5353"]
tcp_max_connections = 100
[admin]
[admin.connections]
max_connections = 50
"#,
        );
        let b = Budget::of(&c);
        // admin 50 + listener; DNS 1 UDP + 1 TCP listener + 100; store; slack.
        assert_eq!(b.needed(), 51 + 102 + SQLITE + SLACK);
        assert!(b.summary(1024).starts_with("file descriptors: "));
    }

    #[test]
    fn refusal_names_every_part() {
        let c = config("[admin]\n");
        let b = Budget::of(&c);
        let msg = b.refusal(10);
        assert!(msg.contains("admin API connections 257"), "{msg}");
        assert!(msg.contains("of 10 available"), "{msg}");
    }
}
