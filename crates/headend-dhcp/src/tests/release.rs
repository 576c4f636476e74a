//! An operator's release (the admin API's): the core's rules for a client's
//! DHCPRELEASE, applied to an address instead of a client.

use super::*;
use crate::{Release, release_address, release_lease};

/// Runs the core release in its own committed transaction.
fn release(store: &Store, address: Ipv4Addr, now: SystemTime) -> Release {
    let mut tx = store.begin().unwrap();
    let out = release_address(&mut *tx, address, now).unwrap();
    tx.commit().unwrap();
    out
}

fn secs(now: SystemTime) -> u64 {
    headend_util::time::since_epoch(now).as_secs()
}

#[test]
fn releasing_a_bound_lease_frees_it_and_keeps_the_row_for_its_owner() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    let Release::Ended { lease, was } = release(&store, a, t(10)) else {
        panic!("a bound lease is ended");
    };
    assert_eq!(was, LeaseState::Bound);
    assert_eq!(lease.state, LeaseState::Released);
    assert_eq!(lease.expires, secs(t(10)));
    assert_eq!(lease.hwaddr, [2, 0, 0, 0, 0, 1], "the owner is kept");
    assert_eq!(store.lease_at(a).unwrap(), Some(lease));
    // RFC 2131 §4.3.4: the record is kept for reuse by the same client.
    assert_eq!(
        reply(run(&server, &store, &pkt(1, 1), &direct(), t(20))).yiaddr,
        a
    );
}

#[test]
fn released_address_goes_to_another_client_when_the_pool_is_full() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    bind(&server, &store, 2, t(0));
    bind(&server, &store, 3, t(0));
    assert!(matches!(release(&store, a, t(1)), Release::Ended { .. }));
    assert_eq!(
        reply(run(&server, &store, &pkt(1, 4), &direct(), t(2))).yiaddr,
        a
    );
}

#[test]
fn releasing_an_offer_ends_the_hold() {
    let (_d, store, server) = setup();
    let offered = reply(run(&server, &store, &pkt(1, 1), &direct(), t(0))).yiaddr;
    let Release::Ended { was, .. } = release(&store, offered, t(1)) else {
        panic!("a held offer is ended");
    };
    assert_eq!(was, LeaseState::Offered);
}

#[test]
fn a_declined_address_stays_quarantined() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    run(
        &server,
        &store,
        &pkt(4, 1).opt(50, &a.octets()).opt(54, &[10, 0, 0, 1]),
        &direct(),
        t(1),
    );
    let before = store.lease_at(a).unwrap().unwrap();
    assert_eq!(before.state, LeaseState::Declined);
    assert_eq!(
        release(&store, a, t(2)),
        Release::Quarantined(before.clone())
    );
    assert_eq!(store.lease_at(a).unwrap(), Some(before), "row unchanged");
    // The quarantine still holds: the pool's other two addresses, then none.
    bind(&server, &store, 2, t(3));
    bind(&server, &store, 3, t(3));
    assert!(matches!(
        run(&server, &store, &pkt(1, 4), &direct(), t(4)),
        Outcome::Silent(Silence::PoolExhausted { .. })
    ));
}

#[test]
fn a_declined_address_past_its_quarantine_is_already_free() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    run(
        &server,
        &store,
        &pkt(4, 1).opt(50, &a.octets()).opt(54, &[10, 0, 0, 1]),
        &direct(),
        t(1),
    );
    assert!(matches!(
        release(&store, a, t(700)),
        Release::AlreadyFree(l) if l.state == LeaseState::Declined
    ));
}

#[test]
fn an_expired_lease_is_left_as_it_is() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    let before = store.lease_at(a).unwrap().unwrap();
    // The lease time is 3600 s: at t(4000) nothing is allocated any more.
    assert_eq!(
        release(&store, a, t(4000)),
        Release::AlreadyFree(before.clone())
    );
    assert_eq!(
        store.lease_at(a).unwrap(),
        Some(before),
        "its expiry (the reuse order of expired addresses) is unchanged"
    );
}

#[test]
fn a_second_release_changes_nothing() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    let Release::Ended { lease, .. } = release(&store, a, t(5)) else {
        panic!("a bound lease is ended");
    };
    assert_eq!(release(&store, a, t(5)), Release::AlreadyFree(lease));
}

#[test]
fn an_address_never_leased_is_unknown() {
    let (_d, store, _server) = setup();
    assert_eq!(
        release(&store, Ipv4Addr::new(10, 0, 0, 11), t(0)),
        Release::Unknown
    );
}

#[test]
fn release_lease_commits_on_the_store_without_a_running_service() {
    let (_d, store, server) = setup();
    // Bound at the real clock, so the lease is live now.
    let a = bind(&server, &store, 1, SystemTime::now());
    assert!(matches!(
        release_lease(&store, a).unwrap(),
        Release::Ended {
            was: LeaseState::Bound,
            ..
        }
    ));
    assert_eq!(
        store.lease_at(a).unwrap().map(|l| l.state),
        Some(LeaseState::Released)
    );
}
