//! The TFTP service's view of DHCP leases, read from the shared store.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use std::sync::{Arc, OnceLock};

use headend_dhcp::DhcpHandle;
use headend_store::{Lease, LeaseState, Store};
use headend_tftp::lookup::format_mac;
use headend_tftp::{LeaseInfo, LeaseLookup, Mac};
use headend_util::time::unix_now;

/// Answers TFTP's lease questions from the lease store (bound, unexpired
/// leases only); reservation attributes from the store (admin API) or else
/// from the running `[dhcp]` config's reservations.
pub(crate) struct StoreLeases {
    store: Store,
    /// Set once DHCP has started (it starts after TFTP).
    dhcp: Arc<OnceLock<DhcpHandle>>,
}

impl StoreLeases {
    pub(crate) fn new(store: Store, dhcp: Arc<OnceLock<DhcpHandle>>) -> Self {
        Self { store, dhcp }
    }
}

fn bound(lease: &Lease, now: u64) -> bool {
    lease.state == LeaseState::Bound && lease.is_live(now)
}

impl LeaseLookup for StoreLeases {
    fn lease_for_ip(&self, ip: Ipv4Addr) -> Option<LeaseInfo> {
        let lease = match self.store.lease_at(ip) {
            Ok(lease) => lease?,
            Err(e) => {
                tracing::warn!("tftp: lease lookup for {ip} failed: {e}");
                return None;
            }
        };
        if !bound(&lease, unix_now()) {
            return None;
        }
        let mac: Mac = lease.hwaddr.get(..6)?.try_into().ok()?;
        Some(LeaseInfo {
            mac,
            ip,
            hostname: lease.hostname,
            class: lease.class,
        })
    }

    fn reservation_attributes(&self, ip: Ipv4Addr) -> Option<BTreeMap<String, String>> {
        let lease = self.store.lease_at(ip).ok().flatten()?;
        if !bound(&lease, unix_now()) {
            return None;
        }
        let mac: Mac = lease.hwaddr.get(..6)?.try_into().ok()?;
        let stored = match self
            .store
            .auth()
            .reservation_attributes(&lease.subnet, &format_mac(&mac))
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("tftp: reservation lookup for {ip} failed: {e}");
                None
            }
        };
        stored.or_else(|| {
            self.dhcp
                .get()?
                .reservation_attributes(&lease.subnet, &mac, ip)
        })
    }

    fn ip_for_mac(&self, mac: Mac) -> Option<Ipv4Addr> {
        let leases = match self.store.leases_of_hwaddr(&mac) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("tftp: lease lookup for a MAC failed: {e}");
                return None;
            }
        };
        let now = unix_now();
        leases
            .into_iter()
            .find(|l| bound(l, now))
            .map(|l| l.address)
    }
}
