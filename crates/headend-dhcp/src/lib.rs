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
//!
//! It does not do DHCPv6, dynamic DNS updates, failover, or unicast to a
//! client without an address (that needs ARP injection; such replies are
//! broadcast instead).

mod alloc;
pub mod config;
mod core;
mod error;
mod limit;
mod plan;
mod reload;
mod service;
pub mod wire;

pub use crate::core::{CLIENT_PORT, Ingress, Outcome, Reply, SERVER_PORT, Server, Silence};
pub use config::{
    ClassConfig, DhcpConfig, OptionsConfig, RateLimitConfig, ReservationConfig, SubnetConfig,
};
pub use error::DhcpError;
pub use reload::ReloadReport;
pub use service::{DhcpHandle, DhcpService, Stats};

#[cfg(test)]
mod tests;
