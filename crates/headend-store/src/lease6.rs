//! The DHCPv6 binding model (RFC 8415 IA_NA addresses and IA_PD delegated
//! prefixes) and the transactional interface the DHCPv6 core uses.
//!
//! One row per address or delegated prefix ever handed out, keyed by its
//! first address (16 bytes, so rows sort and compare as IPv6 numbers in both
//! backends); the client is its DUID and the IAID of the IA it asked in.

use std::net::Ipv6Addr;

use crate::{LeaseState, StoreError};

/// What a binding holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lease6Kind {
    /// A non-temporary address (IA_NA).
    Address,
    /// A delegated prefix (IA_PD).
    Prefix,
}

impl Lease6Kind {
    /// The stored name: `na` or `pd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "na",
            Self::Prefix => "pd",
        }
    }

    /// Parses a stored kind.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "na" => Ok(Self::Address),
            "pd" => Ok(Self::Prefix),
            other => Err(StoreError::Corrupt {
                reason: format!("unknown DHCPv6 binding kind {other:?}"),
            }),
        }
    }
}

/// One DHCPv6 binding: an address (IA_NA) or a delegated prefix (IA_PD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease6 {
    /// The address, or the delegated prefix's first address.
    pub address: Ipv6Addr,
    /// 128 for an address; the delegated prefix's length.
    pub prefix_len: u8,
    /// Address or prefix.
    pub kind: Lease6Kind,
    /// Name of the `[[dhcp6.subnet]]` it belongs to.
    pub subnet: String,
    /// The client's DUID (option 1).
    pub duid: Vec<u8>,
    /// The IAID of the IA_NA / IA_PD it was granted in.
    pub iaid: u32,
    /// The client's link-layer address, when known (option 79, DUID-LL/LLT).
    pub hwaddr: Option<Vec<u8>>,
    /// Life-cycle state (offered = advertised and held briefly).
    pub state: LeaseState,
    /// Unix time (seconds) when the preferred lifetime ends.
    pub preferred: u64,
    /// Unix time (seconds) when the valid lifetime, hold or quarantine ends.
    pub expires: u64,
    /// The class the client matched, if any.
    pub class: Option<String>,
    /// Remote-id (option 37) of the relay that forwarded the request.
    pub remote_id: Option<Vec<u8>>,
    /// Interface-id (option 18) of the relay that forwarded the request.
    pub interface_id: Option<Vec<u8>>,
}

impl Lease6 {
    /// True while the binding is held for its client or quarantined.
    pub fn is_live(&self, now: u64) -> bool {
        self.expires > now
    }
}

/// The operations the DHCPv6 core performs inside one store transaction;
/// everything done through one transaction becomes durable together.
pub trait Lease6Tx {
    /// The binding whose first address is `address`, if one was ever written.
    fn lease6_at(&mut self, address: Ipv6Addr) -> Result<Option<Lease6>, StoreError>;

    /// The client's most recently written binding of `kind` for IA `iaid` in
    /// `subnet`, declined ones excepted.
    fn lease6_by_client(
        &mut self,
        subnet: &str,
        kind: Lease6Kind,
        duid: &[u8],
        iaid: u32,
    ) -> Result<Option<Lease6>, StoreError>;

    /// The highest first address with a row in `first..=last`.
    fn lease6_highest(
        &mut self,
        first: Ipv6Addr,
        last: Ipv6Addr,
    ) -> Result<Option<Ipv6Addr>, StoreError>;

    /// The row in `first..=last` that expired longest ago (expires <= now).
    fn lease6_oldest_expired(
        &mut self,
        first: Ipv6Addr,
        last: Ipv6Addr,
        now: u64,
    ) -> Result<Option<Lease6>, StoreError>;

    /// Inserts the row only if its address has none; false if taken.
    fn lease6_claim(&mut self, lease: &Lease6) -> Result<bool, StoreError>;

    /// Writes (inserts or replaces) the row of `lease.address`.
    fn lease6_put(&mut self, lease: &Lease6) -> Result<(), StoreError>;
}
