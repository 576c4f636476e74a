//! `[dhcp.ddns]`: DNS names that follow DHCP leases, wired between the two
//! services (neither depends on the other).
//!
//! The DHCP service calls [`LeaseNames`] (its [`LeaseHook`]) with the lease
//! changes of every batch once they are durable and before the ACKs leave;
//! the names go through the DNS service's update path (journaled and
//! synced like an RFC 2136 client's) with RFC 4703's DHCID rules: a name
//! another client holds is left alone, a client's own old records are
//! replaced. Because only committed leases produce changes, and because
//! [`LeaseNames::reconcile`] runs at start and every `reconcile_secs`
//! (comparing every DHCID-owned name with the lease store), a crash never
//! leaves a name pointing to an address leased to someone else for longer
//! than the next reconciliation, and expired leases lose their names.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use headend_dhcp::ddns::DdnsConfig;
use headend_dhcp::{LeaseEvent, LeaseHook};
use headend_dns::{
    DhcidIdentifier, DnsHandle, LeaseName, NameChange, NameOutcome, dhcid_rdata, ptr_name,
};
use headend_store::{Lease, LeaseState, Store};
use headend_util::time::unix_now;

use hickory_proto::rr::Name;

/// A name this process published for a leased address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Published {
    fqdn: Name,
    dhcid: Vec<u8>,
}

/// The lease → DNS name bridge.
pub(crate) struct LeaseNames {
    config: DdnsConfig,
    forward: Name,
    reverse: Vec<Name>,
    dns: DnsHandle,
    store: Store,
    /// Address → the name published for it (by this process).
    published: Mutex<HashMap<Ipv4Addr, Published>>,
}

impl LeaseNames {
    /// Checks the zones of `config` against the DNS service's.
    pub(crate) fn new(config: DdnsConfig, dns: DnsHandle, store: Store) -> anyhow::Result<Self> {
        let forward = dns.zone_name(&config.forward_zone).map_err(|e| {
            anyhow::anyhow!(
                "[dhcp.ddns] forward_zone {:?} must be a zone of [dns]: {e}",
                config.forward_zone
            )
        })?;
        let mut reverse = Vec::new();
        for r in &config.reverse_zones {
            reverse.push(dns.zone_name(r).map_err(|e| {
                anyhow::anyhow!("[dhcp.ddns] reverse zone {r:?} must be a zone of [dns]: {e}")
            })?);
        }
        Ok(Self {
            config,
            forward,
            reverse,
            dns,
            store,
            published: Mutex::new(HashMap::new()),
        })
    }

    /// Reconciles now, then every `reconcile_secs` on a thread of its own.
    pub(crate) fn start(self: &Arc<Self>) -> anyhow::Result<()> {
        let me = Arc::clone(self);
        let every = Duration::from_secs(self.config.reconcile_secs.max(1));
        std::thread::Builder::new()
            .name("dhcp-ddns".into())
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

    fn lease_name(&self, lease: &Lease, fqdn: Name, dhcid: Vec<u8>) -> LeaseName {
        let ptr = ptr_name(lease.address);
        let reverse_zone = self
            .reverse
            .iter()
            .filter(|z| z.zone_of(&ptr))
            .max_by_key(|z| z.num_labels())
            .cloned();
        let remaining = lease.expires.saturating_sub(unix_now());
        LeaseName {
            forward_zone: self.forward.clone(),
            fqdn,
            address: lease.address,
            dhcid,
            reverse_zone,
            ttl: self.config.ttl(remaining),
        }
    }

    /// A removal of what was published for `address`.
    fn removal(&self, address: Ipv4Addr, p: &Published) -> LeaseName {
        let mut lease = placeholder(address);
        lease.expires = unix_now();
        self.lease_name(&lease, p.fqdn.clone(), p.dhcid.clone())
    }

    /// The name a lease should have, with its DHCID.
    fn wanted(&self, lease: &Lease, fqdn: Option<&str>) -> Option<Published> {
        let label = self.config.label_for(lease, fqdn)?;
        let name = self.fqdn(&label)?;
        let dhcid = dhcid_of(lease, &name);
        Some(Published { fqdn: name, dhcid })
    }

    /// Runs `changes`, keeping `published` in step; `claims` are the
    /// addresses of the claims among them, in order.
    fn run(&self, published: &mut HashMap<Ipv4Addr, Published>, changes: Vec<NameChange>) {
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
        let now = unix_now();
        let leases: HashMap<Ipv4Addr, Lease> = match self.store.leases() {
            Ok(all) => all
                .into_iter()
                .filter(|l| l.state == LeaseState::Bound && l.is_live(now))
                .map(|l| (l.address, l))
                .collect(),
            Err(e) => {
                tracing::warn!("DHCP names not reconciled: the lease store failed: {e}");
                return;
            }
        };
        let served = match self.dns.published_lease_names(&self.config.forward_zone) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("DHCP names not reconciled: {e}");
                return;
            }
        };
        let mut ptrs: HashMap<Ipv4Addr, Vec<Name>> = HashMap::new();
        for r in &self.config.reverse_zones {
            for (a, target) in self.dns.published_ptrs(r).unwrap_or_default() {
                ptrs.entry(a).or_default().push(target);
            }
        }
        let mut kept: HashMap<Ipv4Addr, Published> = HashMap::new();
        let mut changes = Vec::new();
        for p in served {
            let entry = Published {
                fqdn: p.fqdn.clone(),
                dhcid: p.dhcid.clone(),
            };
            if p.addresses.is_empty() {
                changes.push(NameChange::Remove(
                    self.removal(Ipv4Addr::UNSPECIFIED, &entry),
                ));
            }
            for a in p.addresses {
                let owned = leases
                    .get(&a)
                    .is_some_and(|l| dhcid_of(l, &p.fqdn) == p.dhcid)
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
                let name = self.lease_name(lease, k.fqdn.clone(), k.dhcid.clone());
                let ptr_ok = ptrs
                    .get(a)
                    .is_some_and(|t| t.as_slice() == [k.fqdn.clone()]);
                if name.reverse_zone.is_some() && !ptr_ok {
                    changes.push(NameChange::Claim(name));
                }
                continue;
            }
            if let Some(w) = self.wanted(lease, None) {
                changes.push(NameChange::Claim(self.lease_name(lease, w.fqdn, w.dhcid)));
            }
        }
        let removed = changes
            .iter()
            .filter(|c| matches!(c, NameChange::Remove(_)))
            .count();
        let claims = changes.len() - removed;
        *published = kept;
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

impl LeaseHook for LeaseNames {
    fn committed(&self, events: &[LeaseEvent]) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut changes = Vec::new();
        for e in events {
            match e {
                LeaseEvent::Bound { lease, fqdn } => {
                    let wanted = self.wanted(lease, fqdn.as_deref());
                    let now = published.get(&lease.address);
                    // Renewal: nothing changes unless the address or name did.
                    if wanted.is_some() && now == wanted.as_ref() {
                        continue;
                    }
                    if let Some(old) = published.remove(&lease.address) {
                        changes.push(NameChange::Remove(self.removal(lease.address, &old)));
                    }
                    let Some(w) = wanted else { continue };
                    // The same client's name at another address: moved.
                    let moved: Vec<Ipv4Addr> = published
                        .iter()
                        .filter(|(_, p)| **p == w)
                        .map(|(a, _)| *a)
                        .collect();
                    for a in moved {
                        if let Some(old) = published.remove(&a) {
                            changes.push(NameChange::Remove(self.removal(a, &old)));
                        }
                    }
                    changes.push(NameChange::Claim(self.lease_name(lease, w.fqdn, w.dhcid)));
                }
                LeaseEvent::Ended { lease, .. } => {
                    let ours = published
                        .get(&lease.address)
                        .is_some_and(|p| dhcid_of(lease, &p.fqdn) == p.dhcid);
                    if ours && let Some(old) = published.remove(&lease.address) {
                        changes.push(NameChange::Remove(self.removal(lease.address, &old)));
                    }
                }
                _ => {}
            }
        }
        self.run(&mut published, changes);
    }
}

/// RFC 4701 §3.3: the lease's client identity, as a DHCID for `fqdn`.
fn dhcid_of(lease: &Lease, fqdn: &Name) -> Vec<u8> {
    match &lease.client_id {
        Some(id) => dhcid_rdata(DhcidIdentifier::ClientIdentifier, id, fqdn),
        None => dhcid_rdata(DhcidIdentifier::HardwareAddress, &lease.client_key, fqdn),
    }
}

/// A lease record standing for an address whose lease is unknown.
fn placeholder(address: Ipv4Addr) -> Lease {
    Lease {
        address,
        subnet: String::new(),
        client_key: Vec::new(),
        hwaddr: Vec::new(),
        client_id: None,
        hostname: None,
        state: LeaseState::Released,
        expires: 0,
        circuit_id: None,
        remote_id: None,
        class: None,
        server: None,
    }
}
