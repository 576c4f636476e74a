//! DHCPv4 for headend: cable modems behind CMTS relays and PXE-booting labs.
//!
//! A datagram is validated by [`wire::parse`] (magic cookie, option lengths,
//! message type, hops) before dhcproto decodes its header; the sans-I/O
//! [`Server`] picks the subnet (giaddr, arrival interface, ciaddr), the client's
//! classes (options 60, 77, 93, 82) and an address claimed in the lease store
//! ([`headend_store::LeaseTx`]), and returns a [`Reply`] with its destination.
//! [`DhcpService::start`] runs it behind one socket per interface: requests
//! are handled in batches inside one store transaction, and the replies of a
//! batch leave only after that transaction is durably committed (group
//! commit). Abuse limits: a per-client token bucket and caps on leases per
//! relay circuit-id and remote-id. [`DhcpHandle::reload`] swaps in a new
//! configuration (subnets, pools, options, classes, reservations, lease
//! times, limits) without dropping leases or reopening sockets.
//! [`DhcpHandle::stats`] returns the typed counters ([`DhcpStatsSnapshot`]);
//! an operator's lease release goes through the same core rules as a
//! client's DHCPRELEASE ([`release_address`], [`release_lease`] when no
//! service runs in the process).
//!
//! Inside the crate: `core` is the sans-I/O decision logic (with `alloc`,
//! `limit` and the compiled `plan`), `listen` the sockets, `commit` the
//! group-commit batch, and `service` start, handle, reload and statistics.
//!
//! [`TimeService`] is the RFC 868 time server that option 4 points cable
//! modems at (`[time]`, its own section, error and handle).
//!
//! Several servers may share one PostgreSQL store (`[dhcp.ha]`, `ha`):
//! shared (everyone answers, conflicts retried), load-balancing (RFC 3074
//! hash) or hot-standby, with liveness from heartbeat rows in the store.
//!
//! Committed lease changes reach the rest of the program through a
//! [`LeaseHook`] ([`DhcpHandle::set_lease_hook`]); the binary turns them
//! into DNS names (`[dhcp.ddns]`, whose settings this crate only parses).
//!
//! It does not do DHCPv6, the DNS updates themselves, the ISC failover protocol,
//! or unicast to a client without an address (that needs ARP injection;
//! such replies are broadcast instead).

mod alloc;
mod cablelabs;
mod commit;
pub mod config;
mod core;
pub mod ddns;
mod error;
mod expiry;
mod ha;
mod hook;
mod limit;
mod lint;
mod listen;
mod occupancy;
mod plan;
mod reload;
mod reserve;
mod service;
mod stats;
pub mod timeserver;
mod value;
pub mod wire;

pub use crate::core::{
    CLIENT_PORT, Handled, Ingress, LeaseNote, Outcome, Release, Reply, SERVER_PORT, Server,
    Silence, release_address,
};
pub use config::{
    BackoffConfig, CableLabsClientConfig, ClassConfig, DhcpConfig, HaConfig, HaMode, OptionsConfig,
    RateLimitConfig, ReservationConfig, SubnetConfig, VendorIdentifyingConfig,
};
pub use error::DhcpError;
pub use hook::{LeaseEvent, LeaseHook, fqdn_option};
pub use lint::ConfigFinding;
pub use occupancy::{Occupancy, PoolStats};
pub use reload::ReloadReport;
pub use reserve::{ReservationRefusal, check_reservation};
pub use service::{DhcpHandle, DhcpService, release_lease};
pub use stats::{ClassSnapshot, DhcpStats, DhcpStatsSnapshot, MAX_RELAYS, RelaySnapshot};
pub use timeserver::{TimeConfig, TimeError, TimeHandle, TimeService, TimeStats};

#[cfg(test)]
mod tests;
