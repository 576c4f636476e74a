//! DHCPv6 for headend (RFC 8415): IPv6-managed cable modems behind CMTS
//! relays, and dual-stack customers whose routers ask for a delegated prefix.
//!
//! [`wire::parse`] validates a datagram and unwraps its RELAY-FORW nesting;
//! the sans-I/O [`Server`] picks the subnet (the nearest relay's
//! link-address or interface-id, or the arrival interface), the client's
//! classes (options 16, 15, 61, relay interface-id and remote-id), and
//! binds addresses (IA_NA) and delegated prefixes (IA_PD) in the lease
//! store ([`headend_store::Lease6Tx`]): reservation (DUID, MAC, remote-id),
//! then the client's binding, then a free one. [`Dhcp6Service::start`] runs
//! it behind one socket per interface with the same group commit as
//! DHCPv4: a REPLY that grants a binding leaves only after the binding is
//! durable. Options 23, 24, 31, 56, 32, 7, 59 and 17 (CableLabs
//! sub-options 32, 33, 34, 37, 38, or raw for other enterprises) come from
//! the section, subnet, class and reservation, those in the client's ORO
//! first. The server DUID is generated once and kept in the state directory.
//!
//! Inside the crate: `core` is the decision logic (over the compiled
//! `plan`), `listen` the sockets, `commit` the group commit, `service`
//! start, handle and reload.
//!
//! With `[dhcp6.ddns]` the client's FQDN option (39, RFC 4704) is read
//! and answered ([`ddns`]), and the committed IA_NA bindings reach a
//! [`Lease6Hook`] that the binary turns into AAAA, PTR and DHCID records.
//!
//! It does not do RECONFIGURE, temporary addresses (IA_TA), or failover.

mod commit;
pub mod config;
mod core;
pub mod ddns;
pub mod duid;
mod error;
mod hook;
mod listen;
mod manage;
mod occupancy;
mod plan;
mod service;
mod stats;
pub mod wire;

pub use crate::core::{CLIENT_PORT, Ingress, Outcome, Reply, SERVER_PORT, Server, Silence};
pub use config::{
    CableLabs6Config, Class6Config, Dhcp6Config, Options6Config, PdPoolConfig, RateLimit6Config,
    Reservation6Config, Subnet6Config, VendorRawConfig,
};
pub use error::Dhcp6Error;
pub use hook::{Lease6Event, Lease6Hook};
pub use listen::ALL_AGENTS;
pub use manage::{Release6, Reservation6Refusal, release_binding6, release_lease6};
pub use occupancy::Pool6Occupancy;
pub use service::{Dhcp6Handle, Dhcp6Service};
pub use stats::{Dhcp6Stats, Dhcp6StatsSnapshot};

impl Server {
    /// A server for `config` (compiled and checked here) with DUID `duid`;
    /// for tests and tools that drive the core directly.
    pub fn from_config(config: &Dhcp6Config, duid: Vec<u8>) -> Result<Self, Dhcp6Error> {
        Ok(Self::new(plan::Plan::compile(config)?, duid))
    }
}

#[cfg(test)]
mod tests;
