//! How full each dynamic pool is, from the configuration and the lease rows
//! (sans-I/O: the handle reads the store and the clock and calls
//! [`occupancy`]). What the pool gauges on `/metrics` show.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use headend_store::{LeaseState, LiveLease};
use serde::Serialize;

use crate::plan::Plan;

/// One dynamic pool's addresses by what holds them now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// The subnet's configured name.
    pub subnet: String,
    /// The pool as configured, `first-last`.
    pub pool: String,
    /// Addresses in the pool.
    pub size: u64,
    /// Held for a client: offered or bound, not yet expired.
    pub leased: u64,
    /// Quarantined after a DHCPDECLINE, not yet expired.
    pub declined: u64,
    /// A configured reservation's fixed address, not leased or declined now.
    pub reserved: u64,
    /// Everything else: what the allocator can still hand out.
    pub free: u64,
}

/// Pool occupancy and the live leases per class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Occupancy {
    /// Every configured pool, in configuration order.
    pub pools: Vec<PoolStats>,
    /// Live (offered or bound) leases per configured class, every class
    /// listed, plus `""` for leases without a configured class.
    pub classes: Vec<(String, u64)>,
}

/// Counts the unexpired `leases` (ordered by address, as the store lists
/// them) against the pools and classes of `plan`.
pub(crate) fn occupancy(plan: &Plan, leases: &[LiveLease]) -> Occupancy {
    let mut pools = Vec::new();
    for subnet in &plan.subnets {
        for &(first, last) in &subnet.pools {
            let (lo, hi) = (u32::from(first), u32::from(last));
            let start = leases.partition_point(|l| u32::from(l.address) < lo);
            let end = leases.partition_point(|l| u32::from(l.address) <= hi);
            let (mut leased, mut declined, mut reserved_taken) = (0u64, 0u64, 0u64);
            for l in leases.get(start..end).unwrap_or_default() {
                match l.state {
                    LeaseState::Offered | LeaseState::Bound => leased += 1,
                    LeaseState::Declined => declined += 1,
                    _ => continue,
                }
                if subnet.is_reserved(l.address) {
                    reserved_taken += 1;
                }
            }
            let reserved_in_pool = subnet
                .reservations
                .iter()
                .filter(|r| (lo..=hi).contains(&u32::from(r.address)))
                .map(|r| r.address)
                .collect::<std::collections::HashSet<Ipv4Addr>>()
                .len() as u64;
            let reserved = reserved_in_pool.saturating_sub(reserved_taken);
            let size = u64::from(hi.saturating_sub(lo)) + 1;
            pools.push(PoolStats {
                subnet: subnet.name.clone(),
                pool: format!("{first}-{last}"),
                size,
                leased,
                declined,
                reserved,
                free: size.saturating_sub(leased + declined + reserved),
            });
        }
    }
    let mut by_class: HashMap<&str, u64> = plan.classes.iter().map(|c| (&*c.name, 0)).collect();
    let mut unclassified = 0u64;
    for l in leases {
        if !matches!(l.state, LeaseState::Offered | LeaseState::Bound) {
            continue;
        }
        match l.class.as_deref().and_then(|c| by_class.get_mut(c)) {
            Some(n) => *n += 1,
            None => unclassified += 1,
        }
    }
    let mut classes: Vec<(String, u64)> = plan
        .classes
        .iter()
        .map(|c| (c.name.clone(), by_class.get(&*c.name).copied().unwrap_or(0)))
        .collect();
    classes.push((String::new(), unclassified));
    Occupancy { pools, classes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DhcpConfig;

    fn lease(addr: &str, state: LeaseState, class: Option<&str>) -> LiveLease {
        LiveLease {
            address: addr.parse().unwrap(),
            state,
            class: class.map(str::to_owned),
        }
    }

    #[test]
    fn pool_addresses_are_counted_by_what_holds_them() {
        let config: DhcpConfig = toml::from_str(
            r#"server_id = "10.0.0.1"
[[class]]
name = "modem"
vendor_class = "docsis"
[[subnet]]
name = "lan"
subnet = "10.0.0.0/24"
pools = ["10.0.0.10-10.0.0.19", "10.0.0.100-10.0.0.101"]
[[subnet.reservation]]
mac = "02:00:00:00:00:01"
address = "10.0.0.11"
[[subnet.reservation]]
mac = "02:00:00:00:00:02"
address = "10.0.0.12"
"#,
        )
        .unwrap();
        let plan = Plan::compile(&config).unwrap();
        let leases = vec![
            lease("10.0.0.5", LeaseState::Bound, None), // outside every pool
            lease("10.0.0.10", LeaseState::Bound, Some("modem")),
            lease("10.0.0.11", LeaseState::Offered, None), // reserved, leased
            lease("10.0.0.13", LeaseState::Declined, None),
            lease("10.0.0.15", LeaseState::Released, None), // free again
            lease("10.0.0.100", LeaseState::Bound, Some("gone")),
        ];
        let o = occupancy(&plan, &leases);
        let p = &o.pools[0];
        assert_eq!(p.pool, "10.0.0.10-10.0.0.19");
        assert_eq!(
            (p.size, p.leased, p.declined, p.reserved, p.free),
            (10, 2, 1, 1, 6)
        );
        let q = &o.pools[1];
        assert_eq!((q.size, q.leased, q.free), (2, 1, 1));
        assert_eq!(o.classes, vec![("modem".to_owned(), 1), (String::new(), 3)]);
    }
}
