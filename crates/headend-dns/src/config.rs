//! The `[dns]` section of headend.toml.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Configuration of the authoritative DNS service (`[dns]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Addresses to answer on, over both UDP and TCP.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// Largest UDP response sent, whatever the client's EDNS buffer says
    /// (1232 bytes by default, the DNS Flag Day 2020 figure).
    #[serde(default = "default_udp_payload_max")]
    pub udp_payload_max: u16,
    /// Seconds a TCP connection may stay idle before it is closed.
    #[serde(default = "default_tcp_idle_timeout")]
    pub tcp_idle_timeout_secs: u64,
    /// Most TCP connections served at once (further ones wait in the backlog).
    #[serde(default = "default_tcp_max_connections")]
    pub tcp_max_connections: usize,
    /// Most TCP connections from one client address at once; more are closed at once.
    #[serde(default = "default_tcp_max_per_client")]
    pub tcp_max_connections_per_client: usize,
    /// Response rate limiting (`[dns.rrl]`); off by default.
    #[serde(default)]
    pub rrl: crate::rrl::RrlConfig,
    /// Number of UDP worker threads per listen address (SO_REUSEPORT).
    #[serde(default = "default_udp_workers")]
    pub udp_workers: usize,
    /// The zones served, one `[[dns.zone]]` table each.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
}

/// One served zone (`[[dns.zone]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's apex, e.g. `example.test`.
    pub origin: String,
    /// Its zone file; a relative path is taken relative to the config file's folder.
    pub file: PathBuf,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            udp_payload_max: default_udp_payload_max(),
            tcp_idle_timeout_secs: default_tcp_idle_timeout(),
            tcp_max_connections: default_tcp_max_connections(),
            tcp_max_connections_per_client: default_tcp_max_per_client(),
            rrl: crate::rrl::RrlConfig::default(),
            udp_workers: default_udp_workers(),
            zones: Vec::new(),
        }
    }
}

impl DnsConfig {
    /// Makes every relative zone-file path relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        for zone in &mut self.zones {
            if zone.file.is_relative() {
                zone.file = base.join(&zone.file);
            }
        }
    }
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([127, 0, 0, 1], 53))]
}

fn default_udp_payload_max() -> u16 {
    1232
}

fn default_tcp_idle_timeout() -> u64 {
    10
}

fn default_tcp_max_connections() -> usize {
    1024
}

fn default_tcp_max_per_client() -> usize {
    32
}

fn default_udp_workers() -> usize {
    1
}
