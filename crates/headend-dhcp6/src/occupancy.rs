//! How full each address and prefix pool is, for /metrics.

use std::net::Ipv6Addr;

use headend_store::{Lease6, LeaseState};

use crate::plan::Plan;

/// One pool's size and use.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool6Occupancy {
    /// The subnet's name.
    pub subnet: String,
    /// `na` (addresses) or `pd` (delegated prefixes).
    pub kind: &'static str,
    /// The pool as `first-last` (for prefixes: first prefix start - last).
    pub pool: String,
    /// Addresses or prefixes it holds (a float: a /64 pool holds 2^64).
    pub size: f64,
    /// Live bindings (bound or advertised and held).
    pub leased: u64,
    /// Quarantined after a DECLINE.
    pub declined: u64,
}

/// The pools of `plan` with the live bindings of `leases` counted at `now`.
pub(crate) fn occupancy(plan: &Plan, leases: &[Lease6], now: u64) -> Vec<Pool6Occupancy> {
    let mut out = Vec::new();
    let mut index = Vec::new();
    for s in &plan.subnets {
        for (kind, pools) in [("na", &s.pools), ("pd", &s.pd_pools)] {
            for p in pools {
                index.push((s.name.as_str(), p.first, p.last, p.len));
                out.push(Pool6Occupancy {
                    subnet: s.name.clone(),
                    kind,
                    pool: format!("{}-{}", Ipv6Addr::from(p.first), Ipv6Addr::from(p.last)),
                    size: ((p.last - p.first) / p.step) as f64 + 1.0,
                    leased: 0,
                    declined: 0,
                });
            }
        }
    }
    for l in leases.iter().filter(|l| l.is_live(now)) {
        let a = u128::from(l.address);
        let Some(i) = index.iter().position(|(subnet, first, last, len)| {
            *subnet == l.subnet && a >= *first && a <= *last && *len == l.prefix_len
        }) else {
            continue;
        };
        match l.state {
            LeaseState::Bound | LeaseState::Offered => out[i].leased += 1,
            LeaseState::Declined => out[i].declined += 1,
            _ => {}
        }
    }
    out
}
