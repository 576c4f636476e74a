//! Committed lease events for the rest of the program (DNS names that
//! follow leases): the crate knows nothing of DNS; the binary registers a
//! [`LeaseHook`] with [`crate::DhcpHandle::set_lease_hook`].
//!
//! The flush thread calls the hook with the events of every batch once
//! that batch is durable and before its replies leave: a client that got
//! its ACK finds its names already served, and no event describes a lease
//! that a crash could still undo. Events of a batch lost before its sync
//! are never delivered, and a hook that fails loses nothing the store
//! keeps: the consumer reconciles with the store at start (and on its own
//! schedule, which also covers leases that simply expire).

use std::net::Ipv4Addr;

use headend_store::{Lease, LeaseState, Transaction};

use crate::core::{Handled, Outcome, Reply, Silence};
use crate::wire::{self, MessageType, Request};

/// A lease change that is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseEvent {
    /// An ACK bound (or renewed) the lease.
    Bound {
        /// The lease as committed.
        lease: Lease,
        /// The domain name of the client's option 81 (RFC 4702), if sent.
        fqdn: Option<String>,
    },
    /// The client released or declined the address: the lease as it was.
    Ended {
        /// The lease before it ended.
        lease: Lease,
        /// `release` or `decline`.
        why: &'static str,
    },
}

/// Receives committed lease events (see the module docs for when).
pub trait LeaseHook: Send + Sync {
    /// The events of batches just made durable, in commit order. Runs on
    /// the DHCP flush thread before these batches' replies leave: keep it
    /// short, and never call back into the DHCP service from it.
    fn committed(&self, events: &[LeaseEvent]);
}

/// The lease a RELEASE or DECLINE is about, read before it is decided.
pub(crate) fn lease_before(
    req: &Request,
    tx: &mut dyn Transaction,
) -> Result<Option<Lease>, headend_store::StoreError> {
    let address = match req.kind {
        Some(MessageType::Release) => req.header.ciaddr(),
        Some(MessageType::Decline) => match req.option_addr(wire::code::REQUESTED_ADDRESS) {
            Some(a) => a,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    if address.is_unspecified() {
        return Ok(None);
    }
    let lease = tx.lease_by_address(address)?;
    Ok(lease.filter(|l| l.state == LeaseState::Bound && l.hwaddr == req.hwaddr()))
}

/// The event a decided request produced, if any.
pub(crate) fn event(
    req: &Request,
    outcome: &Outcome,
    before: Option<Lease>,
    tx: &mut dyn Transaction,
) -> Result<Option<LeaseEvent>, headend_store::StoreError> {
    match outcome {
        Outcome::Reply(Reply {
            kind: MessageType::Ack,
            yiaddr,
            ..
        }) if !yiaddr.is_unspecified() => bound(req, *yiaddr, tx),
        Outcome::Silent(Silence::Done(h @ (Handled::Release | Handled::Decline))) => Ok(before
            .map(|lease| LeaseEvent::Ended {
                lease,
                why: h.as_str(),
            })),
        _ => Ok(None),
    }
}

fn bound(
    req: &Request,
    address: Ipv4Addr,
    tx: &mut dyn Transaction,
) -> Result<Option<LeaseEvent>, headend_store::StoreError> {
    let Some(lease) = tx.lease_by_address(address)? else {
        return Ok(None);
    };
    if lease.state != LeaseState::Bound {
        return Ok(None);
    }
    let fqdn = req.option(81).and_then(fqdn_option);
    Ok(Some(LeaseEvent::Bound { lease, fqdn }))
}

/// The domain name of an option 81 (RFC 4702 §2): flags, two RCODE
/// octets, then the name, in DNS wire format when the E flag (0x04) is
/// set, else ASCII (deprecated). `None` when empty or malformed.
pub fn fqdn_option(data: &[u8]) -> Option<String> {
    let (&flags, rest) = data.split_first()?;
    let name = rest.get(2..)?;
    if flags & 0x04 == 0 {
        let s = std::str::from_utf8(name).ok()?.trim_end_matches('\0');
        return (!s.is_empty()).then(|| s.to_owned());
    }
    let mut labels = Vec::new();
    let mut at = 0;
    while let Some(&len) = name.get(at) {
        if len == 0 {
            break;
        }
        let label = name.get(at + 1..at + 1 + usize::from(len))?;
        labels.push(std::str::from_utf8(label).ok()?.to_owned());
        at += 1 + usize::from(len);
    }
    (!labels.is_empty()).then(|| labels.join("."))
}

#[cfg(test)]
mod tests {
    use super::fqdn_option;

    #[test]
    fn fqdn_option_reads_wire_format_names() {
        let data = [
            0x05, 0, 0, 4, b'h', b'o', b's', b't', 3, b'l', b'a', b'b', 0,
        ];
        assert_eq!(fqdn_option(&data).as_deref(), Some("host.lab"));
    }

    #[test]
    fn fqdn_option_reads_ascii_names() {
        assert_eq!(fqdn_option(b"\x01\0\0myhost").as_deref(), Some("myhost"));
    }

    #[test]
    fn fqdn_option_rejects_truncated_labels() {
        assert_eq!(fqdn_option(&[0x04, 0, 0, 9, b'a']), None);
        assert_eq!(fqdn_option(&[0x04]), None);
    }
}
