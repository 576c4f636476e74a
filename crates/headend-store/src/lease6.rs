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

    /// [`lease6_by_client`](Self::lease6_by_client) for each of `ias`
    /// (kind, IAID) of one client, in order: one lookup where the backend
    /// can answer them together.
    fn lease6_by_client_ias(
        &mut self,
        subnet: &str,
        duid: &[u8],
        ias: &[(Lease6Kind, u32)],
    ) -> Result<Vec<Option<Lease6>>, StoreError> {
        ias.iter()
            .map(|&(kind, iaid)| self.lease6_by_client(subnet, kind, duid, iaid))
            .collect()
    }

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

    /// Clients (DUIDs) other than `except_duid` with live (offered or
    /// bound, not expired at `now`) bindings in `subnet` whose relay
    /// remote-id is `remote_id`.
    fn lease6_clients_by_remote_id(
        &mut self,
        subnet: &str,
        remote_id: &[u8],
        except_duid: &[u8],
        now: u64,
    ) -> Result<u64, StoreError>;

    /// The same for the relay interface-id.
    fn lease6_clients_by_interface_id(
        &mut self,
        subnet: &str,
        interface_id: &[u8],
        except_duid: &[u8],
        now: u64,
    ) -> Result<u64, StoreError>;

    /// The admin API's reservation in `subnet` for this client: by DUID,
    /// else by link-layer address, else by relay remote-id.
    fn api_reservation6(
        &mut self,
        subnet: &str,
        duid: &[u8],
        hwaddr: Option<&[u8]>,
        remote_id: Option<&[u8]>,
    ) -> Result<Option<Reservation6>, StoreError>;

    /// True if an admin API reservation in `subnet` holds this address
    /// (`prefix_len` 128) or delegated prefix.
    fn api_reserved6(
        &mut self,
        subnet: &str,
        address: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<bool, StoreError>;
}

/// How a DHCPv6 reservation recognises its client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reservation6Key {
    /// The client's DUID (option 1).
    Duid(Vec<u8>),
    /// The client's link-layer address (option 79, DUID-LL/LLT).
    Hwaddr(Vec<u8>),
    /// The nearest relay's remote-id (option 37, without its enterprise).
    RemoteId(Vec<u8>),
}

impl Reservation6Key {
    /// The stored kind: `duid`, `hwaddr` or `remote_id`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Duid(_) => "duid",
            Self::Hwaddr(_) => "hwaddr",
            Self::RemoteId(_) => "remote_id",
        }
    }

    /// The identifier's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Duid(b) | Self::Hwaddr(b) | Self::RemoteId(b) => b,
        }
    }

    /// The identifier as stored: lower-case hex octets joined by colons.
    pub fn text(&self) -> String {
        crate::lease::mac_text(self.bytes())
    }

    /// A key from its stored kind and colon-hex text.
    pub fn parse(kind: &str, text: &str) -> Result<Self, StoreError> {
        let corrupt = || StoreError::Corrupt {
            reason: format!("bad DHCPv6 reservation key {kind}={text:?}"),
        };
        let bytes = if text.is_empty() {
            Vec::new()
        } else {
            text.split(':')
                .map(|p| u8::from_str_radix(p, 16).map_err(|_| corrupt()))
                .collect::<Result<Vec<u8>, _>>()?
        };
        match kind {
            "duid" => Ok(Self::Duid(bytes)),
            "hwaddr" => Ok(Self::Hwaddr(bytes)),
            "remote_id" => Ok(Self::RemoteId(bytes)),
            _ => Err(corrupt()),
        }
    }
}

/// A DHCPv6 reservation managed through the admin API
/// (`dhcp6_reservations`): an address, a delegated prefix or both for one
/// client of one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation6 {
    /// Name of the `[[dhcp6.subnet]]`.
    pub subnet: String,
    /// Who it is for.
    pub key: Reservation6Key,
    /// The reserved address (IA_NA).
    pub address: Option<Ipv6Addr>,
    /// The reserved prefix (IA_PD): first address and length.
    pub prefix: Option<(Ipv6Addr, u8)>,
    /// Unix time it was added.
    pub created: u64,
}

/// A delegated prefix as reservations store it: `2001:db8:200::/56`.
pub(crate) fn prefix_text(prefix: (Ipv6Addr, u8)) -> String {
    format!("{}/{}", prefix.0, prefix.1)
}

/// Parses a stored `address/len`.
pub(crate) fn parse_prefix(text: &str) -> Result<(Ipv6Addr, u8), StoreError> {
    text.split_once('/')
        .and_then(|(a, l)| Some((a.parse().ok()?, l.parse().ok().filter(|l| *l <= 128)?)))
        .ok_or_else(|| StoreError::Corrupt {
            reason: format!("bad DHCPv6 reserved prefix {text:?}"),
        })
}
