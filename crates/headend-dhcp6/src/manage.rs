//! What an operator asks of DHCPv6 through the admin API: end a binding
//! (under the rules a client's RELEASE follows), and whether a reservation
//! fits the running configuration before it is stored.

use std::net::Ipv6Addr;
use std::time::SystemTime;

use headend_store::{Lease6, Lease6Tx, LeaseState, Store, StoreError};

use crate::plan::{Plan, ResKey};

/// What an operator's release of a binding did.
pub type Release6 = headend_store::Released<Lease6>;

/// Ends the binding whose first address is `address` in `tx` at `now`, as
/// a client's RELEASE would (RFC 8415 §18.3.7: the server "deletes the
/// bindings" and may reuse them; the row is kept, released, so the client
/// gets the same one back while it is free). A declined one stays
/// quarantined (§18.3.8), one that ran out is left alone.
pub fn release_binding6(
    tx: &mut dyn Lease6Tx,
    address: Ipv6Addr,
    now: SystemTime,
) -> Result<Release6, StoreError> {
    let now = headend_util::time::since_epoch(now).as_secs();
    let Some(mut lease) = tx.lease6_at(address)? else {
        return Ok(Release6::Unknown);
    };
    match lease.state {
        LeaseState::Declined if lease.is_live(now) => Ok(Release6::Quarantined(lease)),
        LeaseState::Bound | LeaseState::Offered if lease.is_live(now) => {
            let was = lease.state;
            lease.state = LeaseState::Released;
            lease.expires = now;
            lease.preferred = lease.preferred.min(now);
            tx.lease6_put(&lease)?;
            Ok(Release6::Ended { lease, was })
        }
        _ => Ok(Release6::AlreadyFree(lease)),
    }
}

/// [`release_binding6`] in its own transaction on `store`, at the store's
/// clock; committed (durably) when something changed.
pub fn release_lease6(store: &Store, address: Ipv6Addr) -> Result<Release6, StoreError> {
    let mut tx = store.begin()?;
    let now = tx
        .clock()
        .map_or_else(SystemTime::now, |d| SystemTime::UNIX_EPOCH + d);
    let release = release_binding6(&mut *tx, address, now)?;
    if matches!(release, Release6::Ended { .. }) {
        tx.commit()?;
    }
    Ok(release)
}

/// Why a reservation asked for at run time does not fit the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reservation6Refusal {
    /// No `[[dhcp6.subnet]]` has this name.
    #[error("there is no DHCPv6 subnet named {subnet:?}; the subnets are: {known}")]
    UnknownSubnet {
        /// The name asked for.
        subnet: String,
        /// The configured names, comma-separated (`none` when there are none).
        known: String,
    },
    /// Neither an address nor a prefix.
    #[error("a reservation needs an address, a prefix or both")]
    Empty,
    /// The address is not inside the subnet's prefix.
    #[error("{address} is not inside subnet {subnet} ({prefix})")]
    OffLink {
        /// The address asked for.
        address: Ipv6Addr,
        /// The subnet's name.
        subnet: String,
        /// The subnet's on-link prefix.
        prefix: String,
    },
    /// The prefix is not a network prefix of the subnet's delegation size.
    #[error("{prefix} cannot be delegated in subnet {subnet}: {why}")]
    BadPrefix {
        /// The prefix asked for.
        prefix: String,
        /// The subnet's name.
        subnet: String,
        /// What is wrong with it.
        why: String,
    },
    /// The config file reserves the address or prefix for another client.
    #[error(
        "{what} is already reserved in the config file (subnet {subnet}): pick another or remove that reservation"
    )]
    ReservedInConfig {
        /// The address or prefix asked for.
        what: String,
        /// The subnet of the config reservation.
        subnet: String,
    },
}

/// Checks a reservation of `address` and/or `prefix` in subnet `subnet`
/// for the client `key` against the running `plan`.
pub(crate) fn check_reservation6(
    plan: &Plan,
    subnet: &str,
    key: &headend_store::Reservation6Key,
    address: Option<Ipv6Addr>,
    prefix: Option<(Ipv6Addr, u8)>,
) -> Result<(), Reservation6Refusal> {
    let Some(s) = plan.subnets.iter().find(|s| s.name == subnet) else {
        let known: Vec<&str> = plan.subnets.iter().map(|s| s.name.as_str()).collect();
        return Err(Reservation6Refusal::UnknownSubnet {
            subnet: subnet.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    if address.is_none() && prefix.is_none() {
        return Err(Reservation6Refusal::Empty);
    }
    if let Some(a) = address
        && !s.prefix.contains(&a)
    {
        return Err(Reservation6Refusal::OffLink {
            address: a,
            subnet: subnet.to_owned(),
            prefix: s.prefix.to_string(),
        });
    }
    if let Some((p, len)) = prefix {
        let text = format!("{p}/{len}");
        let bad = |why: String| Reservation6Refusal::BadPrefix {
            prefix: text.clone(),
            subnet: subnet.to_owned(),
            why,
        };
        let net = ipnet::Ipv6Net::new(p, len).map_err(|_| bad("bad length".into()))?;
        if net.network() != p {
            return Err(bad(format!("its network address is {}", net.network())));
        }
        let n = u128::from(p);
        if let Some(pool) = s
            .pd_pools
            .iter()
            .find(|pool| n >= pool.first && n <= pool.last)
            && pool.len != len
        {
            return Err(bad(format!(
                "it lies in a prefix pool that delegates /{}",
                pool.len
            )));
        }
    }
    let same = |k: &ResKey| match (k, key) {
        (ResKey::Duid(a), headend_store::Reservation6Key::Duid(b))
        | (ResKey::Mac(a), headend_store::Reservation6Key::Hwaddr(b))
        | (ResKey::RemoteId(a), headend_store::Reservation6Key::RemoteId(b)) => a == b,
        _ => false,
    };
    for other in &plan.subnets {
        for r in other.reservations.iter().filter(|r| !same(&r.key)) {
            let clash = match (address, r.address) {
                (Some(a), Some(b)) if a == b => Some(a.to_string()),
                _ => None,
            }
            .or(match (prefix, r.prefix) {
                (Some(a), Some(b)) if a == b => Some(format!("{}/{}", a.0, a.1)),
                _ => None,
            });
            if let Some(what) = clash {
                return Err(Reservation6Refusal::ReservedInConfig {
                    what,
                    subnet: other.name.clone(),
                });
            }
        }
    }
    Ok(())
}
