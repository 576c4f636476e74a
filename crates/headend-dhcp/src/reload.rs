//! Configuration reload (`config-reload` in Kea's words, SIGHUP in headend's):
//! what changed between the running `[dhcp]` section and a new one, and what
//! of it cannot change without new sockets.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use crate::config::{ClassConfig, DhcpConfig, SubnetConfig};
use crate::plan::Plan;

/// What [`DhcpHandle::reload`](crate::DhcpHandle::reload) did with a new
/// configuration that compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// The changes now in effect, one per entry: `dhcp.rate_limit`,
    /// `class "ipxe" added`, `subnet "lan": pools, options`. Empty when the
    /// new section equals the running one.
    pub applied: Vec<String>,
    /// Config keys whose change was not applied because it needs new
    /// sockets (`dhcp.interfaces`, `dhcp.port`): restart headend for them.
    pub needs_restart: Vec<String>,
    /// Sentences for the operator: each change that needs a restart, and
    /// what the applied changes mean for existing leases.
    pub warnings: Vec<String>,
}

impl ReloadReport {
    /// True when the new configuration changed nothing.
    pub fn is_unchanged(&self) -> bool {
        self.applied.is_empty() && self.needs_restart.is_empty()
    }
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unchanged() {
            return f.write_str("no change");
        }
        if self.applied.is_empty() {
            f.write_str("nothing applied")?;
        } else {
            write!(f, "applied: {}", self.applied.join("; "))?;
        }
        if !self.needs_restart.is_empty() {
            write!(f, "; needs a restart: {}", self.needs_restart.join(", "))?;
        }
        Ok(())
    }
}

/// What the running sockets were opened for: these keys cannot be reloaded.
#[derive(Debug, Clone)]
pub(crate) struct Listen {
    /// `dhcp.interfaces` at start (empty: one socket on every interface).
    pub(crate) interfaces: Vec<String>,
    /// `dhcp.port` at start.
    pub(crate) port: u16,
}

impl Listen {
    pub(crate) fn of(config: &DhcpConfig) -> Self {
        Self {
            interfaces: config.interfaces.clone(),
            port: config.port,
        }
    }
}

/// Compares the running section (`old`, compiled as `old_plan`) with the new
/// one (`new`, `new_plan`); socket keys are compared with what the sockets
/// were opened for (`listen`), so a change stays reported until a restart.
pub(crate) fn diff(
    old: &DhcpConfig,
    old_plan: &Plan,
    new: &DhcpConfig,
    new_plan: &Plan,
    listen: &Listen,
) -> ReloadReport {
    let mut r = ReloadReport::default();
    restart_keys(new, listen, &mut r);
    global_keys(old, new, &mut r);
    classes(&old.classes, &new.classes, &mut r);
    subnets(old, old_plan, new, new_plan, &mut r);
    r
}

/// Interfaces and port: the sockets stay as they are.
fn restart_keys(new: &DhcpConfig, listen: &Listen, r: &mut ReloadReport) {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    let (running, wanted) = (set(&listen.interfaces), set(&new.interfaces));
    if running != wanted {
        r.needs_restart.push("dhcp.interfaces".into());
        r.warnings.push(format!(
            "dhcp.interfaces changed from {:?} to {:?}: not applied, the DHCP sockets stay as they are until headend restarts",
            listen.interfaces, new.interfaces
        ));
        if !running.is_empty() {
            for s in &new.subnets {
                if let Some(i) = &s.interface
                    && !running.contains(i)
                {
                    r.warnings.push(format!(
                        "subnet {:?} is on interface {i:?}, which has no DHCP socket until headend restarts: its directly attached clients get no answer",
                        s.name
                    ));
                }
            }
        }
    }
    if new.port != listen.port {
        r.needs_restart.push("dhcp.port".into());
        r.warnings.push(format!(
            "dhcp.port changed from {} to {}: not applied, the DHCP sockets stay on port {} until headend restarts",
            listen.port, new.port, listen.port
        ));
    }
}

fn global_keys(old: &DhcpConfig, new: &DhcpConfig, r: &mut ReloadReport) {
    let changed = [
        ("dhcp.server_id", old.server_id != new.server_id),
        (
            "dhcp.offer_hold_secs",
            old.offer_hold_secs != new.offer_hold_secs,
        ),
        (
            "dhcp.decline_quarantine_secs",
            old.decline_quarantine_secs != new.decline_quarantine_secs,
        ),
        ("dhcp.max_hops", old.max_hops != new.max_hops),
        ("dhcp.rate_limit", old.rate_limit != new.rate_limit),
        (
            "dhcp.stats_interval_secs",
            old.stats_interval_secs != new.stats_interval_secs,
        ),
        (
            "dhcp.exhaustion_log_secs",
            old.exhaustion_log_secs != new.exhaustion_log_secs,
        ),
        ("dhcp.max_batch", old.max_batch != new.max_batch),
        ("dhcp.options", old.options != new.options),
        ("dhcp.ha", old.ha != new.ha),
    ];
    r.applied.extend(
        changed
            .into_iter()
            .filter(|(_, c)| *c)
            .map(|(k, _)| k.to_owned()),
    );
}

fn classes(old: &[ClassConfig], new: &[ClassConfig], r: &mut ReloadReport) {
    let find = |list: &'_ [ClassConfig], name: &str| -> Option<usize> {
        list.iter().position(|c| c.name == name)
    };
    for c in new {
        match find(old, &c.name).and_then(|i| old.get(i)) {
            None => r.applied.push(format!("class {:?} added", c.name)),
            Some(o) if o != c => r.applied.push(format!("class {:?} changed", c.name)),
            Some(_) => {}
        }
    }
    for c in old {
        if find(new, &c.name).is_none() {
            r.applied.push(format!("class {:?} removed", c.name));
        }
    }
    // The first class that sets an option or boot field wins.
    let kept = |a: &[ClassConfig], b: &[ClassConfig]| -> Vec<String> {
        a.iter()
            .filter(|c| find(b, &c.name).is_some())
            .map(|c| c.name.clone())
            .collect()
    };
    if kept(old, new) != kept(new, old) {
        r.applied
            .push("class order (the first matching class wins)".into());
    }
}

/// The fields of a subnet that differ, by config key.
fn subnet_fields(a: &SubnetConfig, b: &SubnetConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! fields {
        ($($f:ident),* $(,)?) => {
            $( if a.$f != b.$f { out.push(stringify!($f)); } )*
        };
    }
    fields!(
        subnet,
        pools,
        interface,
        relays,
        server_id,
        lease_time_secs,
        renew_time_secs,
        rebind_time_secs,
        classes,
        bootp,
        max_leases_per_circuit_id,
        max_leases_per_remote_id,
        next_server,
        server_name,
        boot_file,
        options,
    );
    if a.reservations != b.reservations {
        out.push("reservations");
    }
    if out.is_empty() && a != b {
        out.push("other settings");
    }
    out
}

fn subnets(
    old: &DhcpConfig,
    old_plan: &Plan,
    new: &DhcpConfig,
    new_plan: &Plan,
    r: &mut ReloadReport,
) {
    let find = |list: &'_ [SubnetConfig], name: &str| -> Option<usize> {
        list.iter().position(|s| s.name == name)
    };
    for s in &new.subnets {
        let Some(o) = find(&old.subnets, &s.name).and_then(|i| old.subnets.get(i)) else {
            r.applied.push(format!("subnet {:?} added", s.name));
            continue;
        };
        let fields = subnet_fields(o, s);
        if fields.is_empty() {
            continue;
        }
        r.applied
            .push(format!("subnet {:?}: {}", s.name, fields.join(", ")));
        if o.subnet != s.subnet {
            r.warnings.push(format!(
                "subnet {:?} is now {} (was {}): leases outside it are no longer renewed",
                s.name, s.subnet, o.subnet
            ));
        } else if let (Some(op), Some(np)) = (pools(old_plan, &s.name), pools(new_plan, &s.name))
            && let Some(gone) = first_uncovered(op, np)
        {
            r.warnings.push(format!(
                "subnet {:?}: some addresses (e.g. {gone}) left its pools: a client leasing one gets a NAK at its next renewal, then a new address",
                s.name
            ));
        }
    }
    for s in &old.subnets {
        if find(&new.subnets, &s.name).is_some() {
            continue;
        }
        r.applied.push(format!("subnet {:?} removed", s.name));
        // Leases are keyed by subnet name.
        let renamed = new
            .subnets
            .iter()
            .find(|n| n.subnet == s.subnet && find(&old.subnets, &n.name).is_none());
        r.warnings.push(match renamed {
            Some(n) => format!(
                "subnet {:?} removed and {:?} added for the same network {}: renewals are answered by {:?} and move the lease to it; a client that starts over may get a new address",
                s.name, n.name, s.subnet, n.name
            ),
            None => format!(
                "subnet {:?} removed: its leases stay in the store until they expire, and its clients' renewals get no answer",
                s.name
            ),
        });
    }
    let kept = |a: &[SubnetConfig], b: &[SubnetConfig]| -> Vec<String> {
        a.iter()
            .filter(|s| find(b, &s.name).is_some())
            .map(|s| s.name.clone())
            .collect()
    };
    if kept(&old.subnets, &new.subnets) != kept(&new.subnets, &old.subnets) {
        r.applied.push("subnet order".into());
    }
}

fn pools<'a>(plan: &'a Plan, subnet: &str) -> Option<&'a [(Ipv4Addr, Ipv4Addr)]> {
    plan.subnets
        .iter()
        .find(|s| s.name == subnet)
        .map(|s| s.pools.as_slice())
}

/// The first address of the `old` ranges that no `new` range covers.
fn first_uncovered(old: &[(Ipv4Addr, Ipv4Addr)], new: &[(Ipv4Addr, Ipv4Addr)]) -> Option<Ipv4Addr> {
    let mut new: Vec<(u64, u64)> = new
        .iter()
        .map(|(a, b)| (u64::from(u32::from(*a)), u64::from(u32::from(*b))))
        .collect();
    new.sort_unstable();
    for (a, b) in old {
        let (mut at, end) = (u64::from(u32::from(*a)), u64::from(u32::from(*b)));
        for (c, d) in &new {
            if at > end {
                break;
            }
            if *c > at {
                break;
            }
            at = at.max(d + 1);
        }
        if at <= end {
            return u32::try_from(at).ok().map(Ipv4Addr::from);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: [u8; 4], b: [u8; 4]) -> (Ipv4Addr, Ipv4Addr) {
        (Ipv4Addr::from(a), Ipv4Addr::from(b))
    }

    #[test]
    fn uncovered_address_is_found_at_either_end_or_in_a_gap() {
        let old = [r([10, 0, 0, 10], [10, 0, 0, 20])];
        assert_eq!(first_uncovered(&old, &old), None);
        assert_eq!(
            first_uncovered(&old, &[r([10, 0, 0, 10], [10, 0, 0, 15])]),
            Some(Ipv4Addr::new(10, 0, 0, 16))
        );
        assert_eq!(
            first_uncovered(&old, &[r([10, 0, 0, 11], [10, 0, 0, 30])]),
            Some(Ipv4Addr::new(10, 0, 0, 10))
        );
        let split = [
            r([10, 0, 0, 15], [10, 0, 0, 25]),
            r([10, 0, 0, 5], [10, 0, 0, 12]),
        ];
        assert_eq!(
            first_uncovered(&old, &split),
            Some(Ipv4Addr::new(10, 0, 0, 13))
        );
        let whole = [
            r([10, 0, 0, 15], [10, 0, 0, 25]),
            r([10, 0, 0, 5], [10, 0, 0, 14]),
        ];
        assert_eq!(first_uncovered(&old, &whole), None);
        let top = [r([255, 255, 255, 0], [255, 255, 255, 255])];
        assert_eq!(first_uncovered(&top, &top), None);
    }
}
