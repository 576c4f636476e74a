//! The info line of a lease that ran out (`event=expiry`, target
//! `headend::lease`), beside grant, renew, release, decline and NAK. Leases
//! expire by the clock, not by a message: each ACK's lease end is scheduled
//! here (by the flush thread, after the replies left), and a thread of the
//! service reads the row of each address whose end has come, on the store,
//! off the commit path. This module is the sans-I/O schedule.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

use headend_store::{Lease, LeaseState};

/// The lease ends to look at, one per address (a renewal moves it).
#[derive(Debug, Default)]
pub(crate) struct ExpiryWatch {
    at: HashMap<Ipv4Addr, u64>,
    order: BTreeSet<(u64, Ipv4Addr)>,
}

impl ExpiryWatch {
    /// The lease on `address` ends at Unix time `end` (replacing what was
    /// scheduled for it).
    pub(crate) fn schedule(&mut self, address: Ipv4Addr, end: u64) {
        if let Some(old) = self.at.insert(address, end) {
            self.order.remove(&(old, address));
        }
        self.order.insert((end, address));
    }

    /// The addresses whose scheduled end is at or before `now`, taken out
    /// of the schedule.
    pub(crate) fn take_due(&mut self, now: u64) -> Vec<Ipv4Addr> {
        let mut due = Vec::new();
        while let Some(&(end, address)) = self.order.first() {
            if end > now {
                break;
            }
            self.order.pop_first();
            self.at.remove(&address);
            due.push(address);
        }
        due
    }

    /// Forgets everything (lease lines turned off).
    pub(crate) fn clear(&mut self) {
        self.at.clear();
        self.order.clear();
    }
}

/// True if `row` ended by running out at Unix time `now`: still bound
/// (a release or decline rewrites the state) and past its expiry.
pub(crate) fn ran_out(row: &Lease, now: u64) -> bool {
    row.state == LeaseState::Bound && row.expires <= now
}

/// The info line of an expired lease.
pub(crate) fn log_expiry(row: &Lease) {
    let dash = |v: &Option<Vec<u8>>| {
        v.as_deref()
            .map_or_else(|| "-".to_owned(), crate::core::text_or_hex)
    };
    let mac = row
        .hwaddr
        .iter()
        .map(|c| format!("{c:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let client_id = row.client_id.as_deref().map_or_else(
        || "-".to_owned(),
        |c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        },
    );
    tracing::info!(
        target: "headend::lease",
        event = %"expiry",
        mac = %mac,
        client_id = %client_id,
        ip = %row.address,
        subnet = %row.subnet,
        class = %row.class.as_deref().unwrap_or("-"),
        circuit_id = %dash(&row.circuit_id),
        remote_id = %dash(&row.remote_id),
        expired_at = row.expires,
        "lease {} of {mac} expired",
        row.address
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: LeaseState, expires: u64) -> Lease {
        Lease {
            address: Ipv4Addr::new(10, 0, 0, 1),
            subnet: "lan".into(),
            client_key: vec![1],
            hwaddr: vec![2, 0, 0, 0, 0, 1],
            client_id: None,
            hostname: None,
            state,
            expires,
            circuit_id: None,
            remote_id: None,
            class: None,
            server: None,
        }
    }

    #[test]
    fn ends_come_due_in_order_and_a_renewal_moves_its_end() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let mut w = ExpiryWatch::default();
        w.schedule(a, 100);
        w.schedule(b, 90);
        w.schedule(a, 200);
        assert!(w.take_due(89).is_empty());
        assert_eq!(w.take_due(150), vec![b]);
        assert_eq!(w.take_due(200), vec![a]);
        assert!(w.take_due(1_000).is_empty(), "taken once");
    }

    #[test]
    fn only_a_bound_row_past_its_end_ran_out() {
        assert!(ran_out(&row(LeaseState::Bound, 100), 100));
        assert!(!ran_out(&row(LeaseState::Bound, 101), 100), "renewed");
        assert!(!ran_out(&row(LeaseState::Released, 90), 100), "released");
        assert!(!ran_out(&row(LeaseState::Declined, 90), 100), "declined");
    }
}
