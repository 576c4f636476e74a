//! `[dhcp.ddns]` and `[dhcp6.ddns]`: DNS names that follow DHCP leases and
//! DHCPv6 IA_NA bindings, wired between the services (none depends on
//! another).
//!
//! One [`LeaseNames`] per address family: the DHCP service calls it (its
//! [`LeaseHook`]) with the lease changes of every batch once they are
//! durable and before the ACKs leave, the DHCPv6 service likewise (its
//! [`Lease6Hook`]) before the REPLYs leave. IPv4 leases get A records
//! and `in-addr.arpa` PTRs with a DHCID of their client identifier or
//! hardware address, IPv6 bindings AAAA records and `ip6.arpa` PTRs with
//! a DHCID of their DUID (RFC 4703 §5, RFC 4701 type 2). Each keeps to
//! the names whose DHCID is of its kind, so both may share a zone;
//! the names go through the DNS service's update path (journaled and
//! synced like an RFC 2136 client's) with RFC 4703's DHCID rules: a name
//! another client holds is left alone, a client's own old records are
//! replaced. Because only committed leases produce changes, and because
//! [`LeaseNames::reconcile`] runs at start and every `reconcile_secs`
//! (comparing every DHCID-owned name with the lease store), a crash never
//! leaves a name pointing to an address leased to someone else for longer
//! than the next reconciliation, and expired leases lose their names.
//!
//! The names of a flush batch are published synchronously, on the DHCP
//! flush thread, before that batch's ACKs leave (not pipelined behind
//! them): a client that has its ACK is already resolvable, and a name
//! never lags its lease. What a batch costs is kept proportional to the
//! batch where it could be: the DNS update thread takes every queued
//! change in one batch (one journal sync per zone for all of them), starts
//! from the model its last batch left when the zone served is still that
//! version, and records the IXFR difference at the changed names only; the
//! moved-name check here is a lookup ([`Book`]). Rebuilding the served
//! zone from the model is still proportional to the zone, once per batch
//! and zone (the reboot storm's remaining limit, see bench/README.md).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use headend_dhcp::ddns::DdnsConfig;
use headend_dhcp::{LeaseEvent, LeaseHook};
use headend_dhcp6::ddns::{ClientFqdn, Ddns6Config};
use headend_dhcp6::{Lease6Event, Lease6Hook};
use headend_dns::{
    DhcidIdentifier, DnsHandle, LeaseName, NameChange, NameOutcome, dhcid_rdata, ptr_name,
};
use headend_store::{Lease, Lease6, Lease6Kind, LeaseState, Store};
use headend_util::time::unix_now;

use hickory_proto::rr::Name;

/// A name this process published for a leased address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Published {
    fqdn: Name,
    dhcid: Vec<u8>,
}

/// What this process published, by address and by name: finding where a
/// client's name was before (it moved) is a lookup, not a scan of every
/// lease's name.
#[derive(Debug, Default)]
struct Book {
    by_address: HashMap<IpAddr, Published>,
    by_name: HashMap<Published, Vec<IpAddr>>,
}

impl Book {
    fn get(&self, address: &IpAddr) -> Option<&Published> {
        self.by_address.get(address)
    }

    fn insert(&mut self, address: IpAddr, p: Published) {
        self.remove(&address);
        self.by_name.entry(p.clone()).or_default().push(address);
        self.by_address.insert(address, p);
    }

    fn remove(&mut self, address: &IpAddr) -> Option<Published> {
        let p = self.by_address.remove(address)?;
        if let Some(addresses) = self.by_name.get_mut(&p) {
            addresses.retain(|a| a != address);
            if addresses.is_empty() {
                self.by_name.remove(&p);
            }
        }
        Some(p)
    }

    /// The addresses `p` is published at.
    fn addresses_of(&self, p: &Published) -> Vec<IpAddr> {
        self.by_name.get(p).cloned().unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.by_address.len()
    }
}

/// The settings of one address family's names.
pub(crate) enum Family {
    /// DHCPv4 leases (`[dhcp.ddns]`).
    V4(DdnsConfig),
    /// DHCPv6 IA_NA bindings (`[dhcp6.ddns]`).
    V6(Ddns6Config),
}

impl Family {
    fn section(&self) -> &'static str {
        match self {
            Self::V4(_) => "[dhcp.ddns]",
            Self::V6(_) => "[dhcp6.ddns]",
        }
    }

    fn forward_zone(&self) -> &str {
        match self {
            Self::V4(c) => &c.forward_zone,
            Self::V6(c) => &c.forward_zone,
        }
    }

    fn reverse_zones(&self) -> &[String] {
        match self {
            Self::V4(c) => &c.reverse_zones,
            Self::V6(c) => &c.reverse_zones,
        }
    }

    fn reconcile_secs(&self) -> u64 {
        match self {
            Self::V4(c) => c.reconcile_secs,
            Self::V6(c) => c.reconcile_secs,
        }
    }

    fn ttl(&self, remaining: u64) -> u32 {
        match self {
            Self::V4(c) => c.ttl(remaining),
            Self::V6(c) => c.ttl(remaining),
        }
    }

    fn holds(&self, address: IpAddr) -> bool {
        matches!(
            (self, address),
            (Self::V4(_), IpAddr::V4(_)) | (Self::V6(_), IpAddr::V6(_))
        )
    }

    /// Whether a DHCID is of this family's clients (RFC 4701 §3.3: the
    /// DUID type for DHCPv6, the others for DHCPv4).
    fn owns(&self, dhcid: &[u8]) -> bool {
        match (self, DhcidIdentifier::of(dhcid)) {
            (Self::V6(_), kind) => kind == Some(DhcidIdentifier::Duid),
            (Self::V4(_), kind) => kind != Some(DhcidIdentifier::Duid),
        }
    }

    fn unspecified(&self) -> IpAddr {
        match self {
            Self::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Self::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// A lease or binding that may have a name.
enum Held {
    V4(Lease),
    V6(Lease6),
}

impl Held {
    fn address(&self) -> IpAddr {
        match self {
            Self::V4(l) => IpAddr::V4(l.address),
            Self::V6(l) => IpAddr::V6(l.address),
        }
    }

    fn expires(&self) -> u64 {
        match self {
            Self::V4(l) => l.expires,
            Self::V6(l) => l.expires,
        }
    }
}

/// A committed change, in either family's terms.
enum Change {
    /// Bound or renewed, wanting `wanted` as its name; `keep` when a name
    /// this client already has at the address is to stay as it is (a
    /// DHCPv6 renewal without option 39).
    Bound {
        held: Held,
        wanted: Option<Published>,
        keep: bool,
    },
    /// Released or declined.
    Ended(Held),
}

/// The lease → DNS name bridge of one address family.
pub(crate) struct LeaseNames {
    family: Family,
    forward: Name,
    reverse: Vec<Name>,
    dns: DnsHandle,
    store: Store,
    /// Address → the name published for it (by this process).
    published: Mutex<Book>,
}

impl LeaseNames {
    /// Checks the zones of `family` against the DNS service's.
    pub(crate) fn new(family: Family, dns: DnsHandle, store: Store) -> anyhow::Result<Self> {
        let section = family.section();
        let forward = dns.zone_name(family.forward_zone()).map_err(|e| {
            anyhow::anyhow!(
                "{section} forward_zone {:?} must be a zone of [dns]: {e}",
                family.forward_zone()
            )
        })?;
        let mut reverse = Vec::new();
        for r in family.reverse_zones() {
            reverse.push(dns.zone_name(r).map_err(|e| {
                anyhow::anyhow!("{section} reverse zone {r:?} must be a zone of [dns]: {e}")
            })?);
        }
        Ok(Self {
            family,
            forward,
            reverse,
            dns,
            store,
            published: Mutex::new(Book::default()),
        })
    }

    /// Reconciles now, then every `reconcile_secs` on a thread of its own.
    pub(crate) fn start(self: &Arc<Self>) -> anyhow::Result<()> {
        let me = Arc::clone(self);
        let every = Duration::from_secs(self.family.reconcile_secs().max(1));
        let thread = match self.family {
            Family::V4(_) => "dhcp-ddns",
            Family::V6(_) => "dhcp6-ddns",
        };
        std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || {
                loop {
                    me.reconcile();
                    std::thread::sleep(every);
                }
            })?;
        Ok(())
    }

    fn fqdn(&self, label: &str) -> Option<Name> {
        Name::from_ascii(label)
            .ok()?
            .append_domain(&self.forward)
            .ok()
    }

    fn lease_name(&self, address: IpAddr, expires: u64, fqdn: Name, dhcid: Vec<u8>) -> LeaseName {
        let ptr = ptr_name(address);
        let reverse_zone = self
            .reverse
            .iter()
            .filter(|z| z.zone_of(&ptr))
            .max_by_key(|z| z.num_labels())
            .cloned();
        let remaining = expires.saturating_sub(unix_now());
        LeaseName {
            forward_zone: self.forward.clone(),
            fqdn,
            address,
            dhcid,
            reverse_zone,
            ttl: self.family.ttl(remaining),
        }
    }

    /// A claim of `p` for `held`.
    fn claim(&self, held: &Held, p: &Published) -> LeaseName {
        self.lease_name(
            held.address(),
            held.expires(),
            p.fqdn.clone(),
            p.dhcid.clone(),
        )
    }

    /// A removal of what was published for `address`.
    fn removal(&self, address: IpAddr, p: &Published) -> LeaseName {
        self.lease_name(address, unix_now(), p.fqdn.clone(), p.dhcid.clone())
    }

    /// The name a DHCPv4 lease should have, with its DHCID.
    fn wanted4(&self, lease: &Lease, fqdn: Option<&str>) -> Option<Published> {
        let Family::V4(config) = &self.family else {
            return None;
        };
        let label = config.label_for(lease, fqdn)?;
        let name = self.fqdn(&label)?;
        let dhcid = dhcid_of(lease, &name);
        Some(Published { fqdn: name, dhcid })
    }

    /// The name a DHCPv6 binding should have, with its DHCID.
    fn wanted6(&self, lease: &Lease6, fqdn: Option<&ClientFqdn>) -> Option<Published> {
        let Family::V6(config) = &self.family else {
            return None;
        };
        let label = config.label_for(lease.class.as_deref(), &lease.duid, lease.address, fqdn)?;
        let name = self.fqdn(&label)?;
        let dhcid = dhcid6_of(lease, &name);
        Some(Published { fqdn: name, dhcid })
    }

    fn wanted(&self, held: &Held) -> Option<Published> {
        match held {
            Held::V4(l) => self.wanted4(l, None),
            Held::V6(l) => self.wanted6(l, None),
        }
    }

    fn dhcid(held: &Held, fqdn: &Name) -> Vec<u8> {
        match held {
            Held::V4(l) => dhcid_of(l, fqdn),
            Held::V6(l) => dhcid6_of(l, fqdn),
        }
    }

    /// The family's live, bound leases (IA_NA bindings) by address.
    fn live(&self) -> Result<HashMap<IpAddr, Held>, headend_store::StoreError> {
        let now = unix_now();
        Ok(match self.family {
            Family::V4(_) => self
                .store
                .leases()?
                .into_iter()
                .filter(|l| l.state == LeaseState::Bound && l.is_live(now))
                .map(|l| (IpAddr::V4(l.address), Held::V4(l)))
                .collect(),
            Family::V6(_) => self
                .store
                .leases6()?
                .into_iter()
                .filter(|l| {
                    l.state == LeaseState::Bound && l.kind == Lease6Kind::Address && l.is_live(now)
                })
                .map(|l| (IpAddr::V6(l.address), Held::V6(l)))
                .collect(),
        })
    }

    /// Runs `changes`, keeping `published` in step.
    fn run(&self, published: &mut Book, changes: Vec<NameChange>) {
        if changes.is_empty() {
            return;
        }
        let outcomes = self.dns.apply_lease_names(&changes);
        for (c, o) in changes.iter().zip(outcomes) {
            match (c, o) {
                (NameChange::Claim(n), Ok(NameOutcome::Added | NameOutcome::Replaced)) => {
                    published.insert(
                        n.address,
                        Published {
                            fqdn: n.fqdn.clone(),
                            dhcid: n.dhcid.clone(),
                        },
                    );
                }
                (NameChange::Claim(n), Ok(_)) => {
                    tracing::info!(
                        name = %n.fqdn,
                        ip = %n.address,
                        "DHCP name not published: another client holds it (RFC 4703 DHCID)"
                    );
                }
                (_, Ok(_)) => {}
                (_, Err(e)) => tracing::warn!("{e}"),
            }
        }
    }

    /// Compares every DHCID-owned name of the forward zone with the lease
    /// store: names of leases gone, expired or given to another client are
    /// removed, bound leases without their name get it, PTRs into the
    /// forward zone that no published name backs are removed.
    pub(crate) fn reconcile(&self) {
        // Lease events wait meanwhile: the store and the zones are read
        // and changed as one step.
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let leases = match self.live() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("DHCP names not reconciled: the lease store failed: {e}");
                return;
            }
        };
        let served = match self.dns.published_lease_names(self.family.forward_zone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("DHCP names not reconciled: {e}");
                return;
            }
        };
        let mut ptrs: HashMap<IpAddr, Vec<Name>> = HashMap::new();
        for r in self.family.reverse_zones() {
            for (a, target) in self.dns.published_ptrs(r).unwrap_or_default() {
                if self.family.holds(a) {
                    ptrs.entry(a).or_default().push(target);
                }
            }
        }
        let mut kept: HashMap<IpAddr, Published> = HashMap::new();
        let mut changes = Vec::new();
        // The names of the other family's clients are the other's.
        for p in served.into_iter().filter(|p| self.family.owns(&p.dhcid)) {
            let entry = Published {
                fqdn: p.fqdn.clone(),
                dhcid: p.dhcid.clone(),
            };
            let addresses: Vec<IpAddr> = p
                .addresses
                .into_iter()
                .filter(|a| self.family.holds(*a))
                .collect();
            if addresses.is_empty() {
                changes.push(NameChange::Remove(
                    self.removal(self.family.unspecified(), &entry),
                ));
            }
            for a in addresses {
                let owned = leases
                    .get(&a)
                    .is_some_and(|l| Self::dhcid(l, &p.fqdn) == p.dhcid)
                    && !kept.contains_key(&a);
                if owned {
                    kept.insert(a, entry.clone());
                } else {
                    changes.push(NameChange::Remove(self.removal(a, &entry)));
                }
            }
        }
        for (a, lease) in &leases {
            if let Some(k) = kept.get(a) {
                // A crash between the forward and the reverse update: the
                // name is the client's, its PTR is missing; claim it again.
                let name = self.claim(lease, k);
                let ptr_ok = ptrs
                    .get(a)
                    .is_some_and(|t| t.as_slice() == [k.fqdn.clone()]);
                if name.reverse_zone.is_some() && !ptr_ok {
                    changes.push(NameChange::Claim(name));
                }
                continue;
            }
            if let Some(w) = self.wanted(lease) {
                changes.push(NameChange::Claim(self.claim(lease, &w)));
            }
        }
        let removed = changes
            .iter()
            .filter(|c| matches!(c, NameChange::Remove(_)))
            .count();
        let claims = changes.len() - removed;
        let mut book = Book::default();
        for (a, p) in kept {
            book.insert(a, p);
        }
        *published = book;
        self.run(&mut published, changes);
        // PTRs into the forward zone that no published name backs.
        let mut orphans = Vec::new();
        for (a, targets) in ptrs {
            for target in targets {
                if self.forward.zone_of(&target)
                    && published.get(&a).is_none_or(|p| p.fqdn != target)
                {
                    let p = Published {
                        fqdn: target,
                        dhcid: Vec::new(),
                    };
                    orphans.push(NameChange::Remove(self.removal(a, &p)));
                }
            }
        }
        let stale_ptrs = orphans.len();
        self.run(&mut published, orphans);
        if removed + claims + stale_ptrs > 0 {
            tracing::info!(
                removed,
                claims,
                stale_ptrs,
                names = published.len(),
                "DHCP names reconciled with the lease store"
            );
        }
    }
}

impl LeaseNames {
    /// Publishes and removes names for committed changes.
    fn apply(&self, committed: Vec<Change>) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut changes = Vec::new();
        for c in committed {
            match c {
                Change::Bound { held, wanted, keep } => {
                    let address = held.address();
                    let now = published.get(&address);
                    // Renewal: nothing changes unless the address or name did.
                    if wanted.is_some() && now == wanted.as_ref() {
                        continue;
                    }
                    if keep && now.is_some_and(|p| Self::dhcid(&held, &p.fqdn) == p.dhcid) {
                        continue;
                    }
                    if let Some(old) = published.remove(&address) {
                        changes.push(NameChange::Remove(self.removal(address, &old)));
                    }
                    let Some(w) = wanted else { continue };
                    // The same client's name at another address: moved.
                    for a in published.addresses_of(&w) {
                        if let Some(old) = published.remove(&a) {
                            changes.push(NameChange::Remove(self.removal(a, &old)));
                        }
                    }
                    changes.push(NameChange::Claim(self.claim(&held, &w)));
                }
                Change::Ended(held) => {
                    let address = held.address();
                    let ours = published
                        .get(&address)
                        .is_some_and(|p| Self::dhcid(&held, &p.fqdn) == p.dhcid);
                    if ours && let Some(old) = published.remove(&address) {
                        changes.push(NameChange::Remove(self.removal(address, &old)));
                    }
                }
            }
        }
        self.run(&mut published, changes);
    }
}

impl LeaseHook for LeaseNames {
    fn committed(&self, events: &[LeaseEvent]) {
        let changes = events
            .iter()
            .filter_map(|e| match e {
                LeaseEvent::Bound { lease, fqdn } => Some(Change::Bound {
                    wanted: self.wanted4(lease, fqdn.as_deref()),
                    held: Held::V4(lease.clone()),
                    keep: false,
                }),
                LeaseEvent::Ended { lease, .. } => Some(Change::Ended(Held::V4(lease.clone()))),
                _ => None,
            })
            .collect();
        self.apply(changes);
    }
}

impl Lease6Hook for LeaseNames {
    fn committed(&self, events: &[Lease6Event]) {
        let changes = events
            .iter()
            .filter_map(|e| match e {
                Lease6Event::Bound { lease, fqdn } => Some(Change::Bound {
                    wanted: self.wanted6(lease, fqdn.as_ref()),
                    held: Held::V6(lease.clone()),
                    // A RENEW need not repeat option 39 (RFC 4704 §5):
                    // without it the client keeps the name it has.
                    keep: fqdn.is_none(),
                }),
                Lease6Event::Ended { lease, .. } => Some(Change::Ended(Held::V6(lease.clone()))),
                _ => None,
            })
            .collect();
        self.apply(changes);
    }
}

/// RFC 4701 §3.3: the lease's client identity, as a DHCID for `fqdn`.
fn dhcid_of(lease: &Lease, fqdn: &Name) -> Vec<u8> {
    match &lease.client_id {
        Some(id) => dhcid_rdata(DhcidIdentifier::ClientIdentifier, id, fqdn),
        None => dhcid_rdata(DhcidIdentifier::HardwareAddress, &lease.client_key, fqdn),
    }
}

/// RFC 4703 §5 / RFC 4701 §3.3: a DHCPv6 client's DHCID is of its DUID.
fn dhcid6_of(lease: &Lease6, fqdn: &Name) -> Vec<u8> {
    dhcid_rdata(DhcidIdentifier::Duid, &lease.duid, fqdn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn families() -> (Family, Family) {
        let v4: DdnsConfig = toml::from_str("forward_zone = \"dyn.example.\"").expect("v4");
        let v6: Ddns6Config = toml::from_str("forward_zone = \"dyn.example.\"").expect("v6");
        (Family::V4(v4), Family::V6(v6))
    }

    #[test]
    fn the_book_finds_a_name_by_address_and_its_addresses_by_name() {
        let p = |n: &str| Published {
            fqdn: Name::from_str(n).expect("name"),
            dhcid: vec![1, 2, 3],
        };
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let mut book = Book::default();
        book.insert(a, p("h.dyn.example."));
        assert_eq!(book.addresses_of(&p("h.dyn.example.")), vec![a]);
        // Another name at the same address replaces the first everywhere.
        book.insert(a, p("g.dyn.example."));
        assert!(book.addresses_of(&p("h.dyn.example.")).is_empty());
        book.insert(b, p("g.dyn.example."));
        let mut at = book.addresses_of(&p("g.dyn.example."));
        at.sort();
        assert_eq!(at, vec![a, b]);
        assert_eq!(book.remove(&a), Some(p("g.dyn.example.")));
        assert_eq!(book.addresses_of(&p("g.dyn.example.")), vec![b]);
        assert_eq!((book.len(), book.get(&a)), (1, None));
        assert_eq!(book.remove(&a), None);
    }

    #[test]
    fn each_family_keeps_to_its_own_clients_dhcids_and_addresses() {
        let (v4, v6) = families();
        let name = Name::from_str("h.dyn.example.").expect("name");
        let by_duid = dhcid_rdata(DhcidIdentifier::Duid, &[0, 3, 0, 1, 2], &name);
        let by_mac = dhcid_rdata(DhcidIdentifier::HardwareAddress, &[1, 2], &name);
        let by_id = dhcid_rdata(DhcidIdentifier::ClientIdentifier, &[1, 2], &name);
        assert!(v6.owns(&by_duid) && !v6.owns(&by_mac) && !v6.owns(&by_id));
        assert!(!v4.owns(&by_duid) && v4.owns(&by_mac) && v4.owns(&by_id));
        let a4: IpAddr = "10.0.0.1".parse().expect("ip");
        let a6: IpAddr = "2001:db8::1".parse().expect("ip");
        assert!(v4.holds(a4) && !v4.holds(a6));
        assert!(v6.holds(a6) && !v6.holds(a4));
    }
}
