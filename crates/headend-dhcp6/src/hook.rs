//! Committed IA_NA binding events for the rest of the program (DNS names
//! that follow bindings), as DHCPv4's lease hook: the crate knows nothing
//! of DNS; the binary registers a [`Lease6Hook`] with
//! [`crate::Dhcp6Handle::set_lease_hook`].
//!
//! The flush thread calls the hook with the events of every batch once
//! that batch is durable and before its replies leave. Events of a batch
//! lost before its sync are never delivered; the consumer reconciles with
//! the store at start and on its own schedule (which also covers bindings
//! that simply expire).

use headend_store::{Lease6, Lease6Kind, Lease6Tx, LeaseState, StoreError};

use crate::core::{Outcome, Reply};
use crate::ddns::{ClientFqdn, parse_client_fqdn};
use crate::wire::{self, IaKind, Request, msg, opt};

/// An IA_NA binding change that is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lease6Event {
    /// A REPLY granted (or extended) the binding.
    Bound {
        /// The binding as committed.
        lease: Lease6,
        /// The client's option 39 (RFC 4704), if it sent a valid one.
        fqdn: Option<ClientFqdn>,
    },
    /// The client released or declined the address: the binding as it was.
    Ended {
        /// The binding before it ended.
        lease: Lease6,
        /// `release` or `decline`.
        why: &'static str,
    },
}

/// Receives committed binding events (see the module docs for when).
pub trait Lease6Hook: Send + Sync {
    /// The events of batches just made durable, in commit order. Runs on
    /// the DHCPv6 flush thread before these batches' replies leave: keep
    /// it short, and never call back into the DHCPv6 service from it.
    fn committed(&self, events: &[Lease6Event]);
}

/// The bound IA_NA bindings a RELEASE or DECLINE names, read before it is
/// decided.
pub(crate) fn bindings_before(
    req: &Request,
    tx: &mut dyn Lease6Tx,
) -> Result<Vec<Lease6>, StoreError> {
    let m = &req.message;
    if !matches!(m.kind, msg::RELEASE | msg::DECLINE) {
        return Ok(Vec::new());
    }
    let duid = m.options.get(opt::CLIENTID).unwrap_or_default();
    let Ok(ias) = wire::ias(&m.options) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for ia in ias.iter().filter(|ia| ia.kind == IaKind::Na) {
        for e in &ia.entries {
            if let Some(l) = tx.lease6_at(e.address)?
                && l.state == LeaseState::Bound
                && l.kind == Lease6Kind::Address
                && l.duid == duid
            {
                out.push(l);
            }
        }
    }
    Ok(out)
}

/// The events a decided request produced.
pub(crate) fn events(
    req: &Request,
    outcome: &Outcome,
    before: Vec<Lease6>,
    tx: &mut dyn Lease6Tx,
    out: &mut Vec<Lease6Event>,
) -> Result<(), StoreError> {
    let m = &req.message;
    match outcome {
        Outcome::Reply(Reply {
            kind: msg::REPLY,
            granted,
            ..
        }) if !granted.is_empty() => {
            let fqdn = m
                .options
                .get(opt::CLIENT_FQDN)
                .and_then(|d| parse_client_fqdn(d).ok());
            for (address, len) in granted {
                if *len != 128 {
                    continue;
                }
                if let Some(lease) = tx.lease6_at(*address)?
                    && lease.state == LeaseState::Bound
                    && lease.kind == Lease6Kind::Address
                {
                    out.push(Lease6Event::Bound {
                        lease,
                        fqdn: fqdn.clone(),
                    });
                }
            }
        }
        _ => {
            let why = if m.kind == msg::RELEASE {
                "release"
            } else {
                "decline"
            };
            for lease in before {
                let now = tx.lease6_at(lease.address)?;
                if now.is_none_or(|n| n.state != LeaseState::Bound) {
                    out.push(Lease6Event::Ended { lease, why });
                }
            }
        }
    }
    Ok(())
}
