//! The DHCP lease model and the transactional interface the DHCP core uses.

use std::net::Ipv4Addr;

use crate::StoreError;

/// What an operator's release of an address (or a DHCPv6 binding) did:
/// `L` is the row, a DHCPv4 [`Lease`] or a DHCPv6 [`Lease6`](crate::Lease6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Released<L> {
    /// The binding (or the offer, or the advertised hold) ended now: the
    /// address is free again and its row stays as its client's record.
    Ended {
        /// The row as written (released, expiring now); its client is the
        /// owner the address was taken from.
        lease: L,
        /// The state it had (bound or offered).
        was: LeaseState,
    },
    /// Nothing was allocated: the client had released it, or its lease or
    /// quarantine had run out. The row is left as it was.
    AlreadyFree(L),
    /// Quarantined after a DHCPDECLINE (DECLINE) until the row's `expires`;
    /// a release does not end that.
    Quarantined(L),
    /// No row was ever written for it.
    Unknown,
}

/// Where a lease is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaseState {
    /// Offered in reply to a DISCOVER and held briefly for that client.
    Offered,
    /// Acknowledged: the client owns the address until `expires`.
    Bound,
    /// Released by the client (free again, remembered for that client).
    Released,
    /// Declined by the client (address in use on the wire): quarantined until `expires`.
    Declined,
}

impl LeaseState {
    /// The name shown by `headend leases` and stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::Bound => "bound",
            Self::Released => "released",
            Self::Declined => "declined",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "offered" => Self::Offered,
            "bound" => Self::Bound,
            "released" => Self::Released,
            "declined" => Self::Declined,
            other => {
                return Err(StoreError::Corrupt {
                    reason: format!("unknown lease state {other:?}"),
                });
            }
        })
    }
}

/// One address's lease record. The address is the key: a row exists for every
/// address ever handed out, and an address is claimed by inserting its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// Name of the subnet (from the config) the address belongs to.
    pub subnet: String,
    /// The client's identity: option 61 client-id if sent, else hardware type + chaddr.
    pub client_key: Vec<u8>,
    /// The client's hardware address (chaddr, `hlen` bytes).
    pub hwaddr: Vec<u8>,
    /// Option 61 as sent, if any.
    pub client_id: Option<Vec<u8>>,
    /// Host name: the reservation's, else what the client sent in option 12.
    pub hostname: Option<String>,
    /// Life-cycle state.
    pub state: LeaseState,
    /// Unix time (seconds) when the lease, offer hold or quarantine ends.
    pub expires: u64,
    /// Option 82 circuit-id of the relay that forwarded the client's request.
    pub circuit_id: Option<Vec<u8>>,
    /// Option 82 remote-id of the relay that forwarded the client's request.
    pub remote_id: Option<Vec<u8>>,
    /// The DHCP class the client matched when the lease was written (the
    /// first matching `[[dhcp.class]]`, whose settings take precedence), if any.
    pub class: Option<String>,
    /// The server that offered or bound the lease last: its server
    /// identifier (option 54). When several servers share the store, a
    /// server ends only the offers it made itself. `None` on rows written
    /// before servers were recorded, and on rows written by an operator.
    pub server: Option<Ipv4Addr>,
}

impl Lease {
    /// True while the address is held for its client (offered or bound and not
    /// yet expired) or quarantined (declined and not yet expired).
    pub fn is_live(&self, now: u64) -> bool {
        self.expires > now
    }
}

/// A lease that holds its address now (unexpired), reduced to what pool
/// occupancy needs; see [`crate::Store::live_leases`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// Offered, bound, declined (quarantined) or released (remembered).
    pub state: LeaseState,
    /// The DHCP class the client matched, if any.
    pub class: Option<String>,
}

/// The operations the DHCP core performs inside one store transaction.
///
/// Everything done through one `LeaseTx` becomes durable together when the
/// transaction commits (group commit), or not at all.
pub trait LeaseTx {
    /// Whether [`prefetch`](Self::prefetch) does anything here, so a caller
    /// can skip gathering its arguments (false: SQLite looks up in process).
    fn wants_prefetch(&self) -> bool {
        false
    }

    /// A hint: the requests about to be decided in this transaction are
    /// those of these clients and name these addresses. A backend that
    /// pays a round trip per lookup may fetch their rows now, in one; the
    /// answers of the lookups do not change. The default does nothing.
    fn prefetch(
        &mut self,
        client_keys: &[Vec<u8>],
        addresses: &[Ipv4Addr],
    ) -> Result<(), StoreError> {
        let _ = (client_keys, addresses);
        Ok(())
    }

    /// The lease row of `address`, if one was ever written.
    fn lease_by_address(&mut self, address: Ipv4Addr) -> Result<Option<Lease>, StoreError>;

    /// The client's most recently updated lease in `subnet`, declined ones excepted.
    fn lease_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
    ) -> Result<Option<Lease>, StoreError>;

    /// The client's newest offer in `subnet` made by the server whose
    /// server ID is `server`, if it holds one. With a store shared between
    /// servers the client's newest row ([`lease_by_client`](Self::lease_by_client))
    /// may be another server's offer or binding; a REQUEST that names the
    /// other server still ends this server's own offer through this.
    fn offer_by_client(
        &mut self,
        subnet: &str,
        client_key: &[u8],
        server: Ipv4Addr,
    ) -> Result<Option<Lease>, StoreError>;

    /// The highest address in `first..=last` that has a row, if any.
    fn highest_claimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError>;

    /// The lowest address in `first..=last` that has no row, if any (a gap
    /// left below the highest claimed address).
    fn lowest_unclaimed(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError>;

    /// The row in `first..=last` that expired longest ago (expires <= now), if any.
    fn oldest_expired(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
        now: u64,
    ) -> Result<Option<Lease>, StoreError>;

    /// Live (offered/bound, not expired) leases in `subnet` with this option 82
    /// circuit-id, not counting `except_client`'s.
    fn count_live_by_circuit(
        &mut self,
        subnet: &str,
        circuit_id: &[u8],
        except_client: &[u8],
        now: u64,
    ) -> Result<u64, StoreError>;

    /// Live leases in `subnet` with this option 82 remote-id, not counting `except_client`'s.
    fn count_live_by_remote(
        &mut self,
        subnet: &str,
        remote_id: &[u8],
        except_client: &[u8],
        now: u64,
    ) -> Result<u64, StoreError>;

    /// Claims a never-used address: inserts its row only if none exists.
    /// Returns false when another writer (or an earlier exchange) holds it.
    fn claim(&mut self, lease: &Lease) -> Result<bool, StoreError>;

    /// Writes (inserts or replaces) the row of `lease.address`.
    fn put(&mut self, lease: &Lease) -> Result<(), StoreError>;

    /// The reservation managed through the admin API (`dhcp_reservations`)
    /// for this hardware address in `subnet`: its address and host name.
    fn api_reservation(
        &mut self,
        subnet: &str,
        hwaddr: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError>;

    /// True if an admin-API reservation in `subnet` holds `address`.
    fn api_reserved(&mut self, subnet: &str, address: Ipv4Addr) -> Result<bool, StoreError>;
}

/// A hardware address as reservations store it: lower-case hex octets
/// joined by colons (`02:aa:00:00:00:42`).
pub(crate) fn mac_text(hwaddr: &[u8]) -> String {
    hwaddr
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What the admin console's lease search asks for: every field given must
/// match (hostname as a case-insensitive substring, the others exactly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseFilter {
    /// The leased address.
    pub address: Option<Ipv4Addr>,
    /// The client's hardware address.
    pub hwaddr: Option<Vec<u8>>,
    /// Part of the host name (ASCII case ignored).
    pub hostname: Option<String>,
    /// The option 82 circuit-id, as stored.
    pub circuit_id: Option<Vec<u8>>,
    /// The subnet's name.
    pub subnet: Option<String>,
    /// The life-cycle state.
    pub state: Option<LeaseState>,
}

impl LeaseFilter {
    /// True if `lease` passes every given field (the rule the SQL of each
    /// backend implements too).
    pub fn matches(&self, lease: &Lease) -> bool {
        self.address.is_none_or(|a| a == lease.address)
            && self.hwaddr.as_ref().is_none_or(|h| *h == lease.hwaddr)
            && self.hostname.as_ref().is_none_or(|part| {
                lease
                    .hostname
                    .as_ref()
                    .is_some_and(|h| h.to_ascii_lowercase().contains(&part.to_ascii_lowercase()))
            })
            && self
                .circuit_id
                .as_ref()
                .is_none_or(|c| lease.circuit_id.as_ref() == Some(c))
            && self.subnet.as_ref().is_none_or(|s| *s == lease.subnet)
            && self.state.is_none_or(|s| s == lease.state)
    }
}

/// One page of a lease search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeasePage {
    /// The leases of the page, by address.
    pub leases: Vec<Lease>,
    /// How many leases match in all.
    pub total: u64,
}

/// The number of lease rows of one subnet in one state, split by whether
/// they are live (`expires` after the time asked about).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseCount {
    /// The subnet's name.
    pub subnet: String,
    /// The state.
    pub state: LeaseState,
    /// Rows whose `expires` is later than the time asked about.
    pub live: u64,
    /// All rows.
    pub total: u64,
}

/// Pages through `all` (by address) with `filter`: the reference the
/// backends' own queries must agree with.
pub fn page_of(all: Vec<Lease>, filter: &LeaseFilter, offset: u64, limit: u32) -> LeasePage {
    let matching: Vec<Lease> = all.into_iter().filter(|l| filter.matches(l)).collect();
    let total = matching.len() as u64;
    let leases = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .collect();
    LeasePage { leases, total }
}

/// Counts `all` by subnet and state (live at `now` or not).
pub fn counts_of(all: &[Lease], now: u64) -> Vec<LeaseCount> {
    let mut map: std::collections::BTreeMap<(String, &'static str), LeaseCount> =
        std::collections::BTreeMap::new();
    for l in all {
        let e = map
            .entry((l.subnet.clone(), l.state.as_str()))
            .or_insert_with(|| LeaseCount {
                subnet: l.subnet.clone(),
                state: l.state,
                live: 0,
                total: 0,
            });
        e.total += 1;
        if l.is_live(now) {
            e.live += 1;
        }
    }
    map.into_values().collect()
}
