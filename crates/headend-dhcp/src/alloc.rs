//! Address allocation against the store (no in-memory free list): the store's
//! rows are the truth, and a new address is taken by inserting its row, which
//! fails if another exchange or another server already holds it.

use std::net::Ipv4Addr;

use headend_store::{Lease, LeaseState, LeaseTx, StoreError};

use crate::ha::Ha;
use crate::plan::Subnet;

/// What the allocator found for a client.
#[derive(Debug)]
pub(crate) enum Found {
    /// This address, with its current row if it has one.
    Address(Ipv4Addr, Option<Box<Lease>>),
    /// No free address in the subnet's pools.
    Exhausted,
}

/// True if the row may be given to `client`: its own, or expired and free.
/// A declined address stays quarantined until its row expires.
pub(crate) fn usable_by(row: &Lease, client: &[u8], now: u64) -> bool {
    if row.client_key == client && row.state != LeaseState::Declined {
        return true;
    }
    !row.is_live(now)
}

/// Picks an address for a new binding, RFC 2131 §4.3.1 order: the client's
/// current or previous address, then the address it asked for, then a free one.
/// (A reservation is looked at by the caller, before this.)
pub(crate) fn find<L: LeaseTx + ?Sized>(
    subnet: &Subnet,
    ha: &Ha,
    client: &[u8],
    requested: Option<Ipv4Addr>,
    tx: &mut L,
    now: u64,
) -> Result<Found, StoreError> {
    // "The client's current address as recorded in the client's current
    // binding, ELSE the client's previous address as recorded in the client's
    // (now expired or released) binding, if that address is in the server's
    // pool of available addresses and not already allocated".
    if let Some(row) = tx.lease_by_client(&subnet.name, client)?
        && subnet.in_pool(row.address)
        && !reserved(subnet, tx, row.address)?
    {
        // The row is keyed by address: re-read it in case another client
        // took it over after it expired.
        if let Some(current) = tx.lease_by_address(row.address)?
            && usable_by(&current, client, now)
        {
            return Ok(Found::Address(current.address, Some(Box::new(current))));
        }
    }
    // "ELSE the address requested in the 'Requested IP Address' option, if
    // that address is valid and not already allocated".
    if let Some(want) = requested.filter(|a| subnet.in_pool(*a))
        && !reserved(subnet, tx, want)?
    {
        match tx.lease_by_address(want)? {
            None => return Ok(Found::Address(want, None)),
            Some(row) if usable_by(&row, client, now) => {
                return Ok(Found::Address(want, Some(Box::new(row))));
            }
            Some(_) => {}
        }
    }
    // "ELSE a new address allocated from the server's pool of available
    // addresses": never-used addresses first (above the highest row), then
    // the address that expired longest ago, then gaps below the highest row.
    // Servers sharing the store look in their own part of each pool first,
    // so that their claims of never-used addresses do not collide.
    if ha.count() > 1 {
        for &(first, last) in &subnet.pools {
            let (first, last) = ha.part(first, last);
            if let Some(a) = never_used(subnet, tx, first, last)? {
                return Ok(Found::Address(a, None));
            }
        }
    }
    for &(first, last) in &subnet.pools {
        if let Some(a) = never_used(subnet, tx, first, last)? {
            return Ok(Found::Address(a, None));
        }
    }
    for &(first, last) in &subnet.pools {
        if let Some(row) = tx.oldest_expired(first, last, now)?
            && !reserved(subnet, tx, row.address)?
        {
            return Ok(Found::Address(row.address, Some(Box::new(row))));
        }
    }
    for &(first, last) in &subnet.pools {
        let mut from = first;
        // Bounded: each step skips one reserved address.
        for _ in 0..=subnet.reservations.len() + 64 {
            let Some(gap) = tx.lowest_unclaimed(from, last)? else {
                break;
            };
            if !reserved(subnet, tx, gap)? {
                return Ok(Found::Address(gap, None));
            }
            match next_addr(gap) {
                Some(n) if n <= last => from = n,
                _ => break,
            }
        }
    }
    Ok(Found::Exhausted)
}

/// The lowest never-used, unreserved address above the highest row in
/// `first..=last`, if any.
fn never_used<L: LeaseTx + ?Sized>(
    subnet: &Subnet,
    tx: &mut L,
    first: Ipv4Addr,
    last: Ipv4Addr,
) -> Result<Option<Ipv4Addr>, StoreError> {
    let mut next = match tx.highest_claimed(first, last)? {
        None => Some(first),
        Some(high) => next_addr(high).filter(|n| *n <= last),
    };
    while let Some(cand) = next {
        if cand > last {
            break;
        }
        // Above the highest row no row exists (in this transaction's
        // view); a row written meanwhile by another server makes the
        // claim fail, and the caller tries again.
        if !reserved(subnet, tx, cand)? {
            return Ok(Some(cand));
        }
        next = next_addr(cand);
    }
    Ok(None)
}

/// Reserved in the config, or through the admin API (in the store).
fn reserved<L: LeaseTx + ?Sized>(
    subnet: &Subnet,
    tx: &mut L,
    address: Ipv4Addr,
) -> Result<bool, StoreError> {
    Ok(subnet.is_reserved(address) || tx.api_reserved(&subnet.name, address)?)
}

fn next_addr(a: Ipv4Addr) -> Option<Ipv4Addr> {
    u32::from(a).checked_add(1).map(Ipv4Addr::from)
}
