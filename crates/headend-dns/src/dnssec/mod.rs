//! DNSSEC that runs itself: keys generated on first use and kept in the
//! state directory ([`keys`]), the serving copy of each zone signed on every
//! change and re-signed before its signatures expire ([`sign`]), RFC 6781
//! rollovers driven by the key timeline, and proofs in DO=1 answers
//! ([`proof`]).
//!
//! [`Signer`] (in `signer`) holds the per-zone signing state; its decisions
//! (`due`) are pure functions of that state and the time given, so tests
//! move the clock. The operator's commands (`headend dnssec ds`, `rollover`,
//! `ksk-submitted`) are not here but in [`crate::ops`], above the service
//! whose zone loading they use.
//!
//! This module sits above the zone model ([`crate::zone`]: serial
//! arithmetic, diffs, the denial chain) and below the responder and zone
//! transfers, which it never uses.

pub mod keys;
mod persist;
mod proof;
pub mod sign;
mod signer;
pub(crate) mod submission;
#[cfg(test)]
mod tests;
pub(crate) mod verify;

use hickory_proto::op::{Message, Query};

pub use crate::zone::Denial;

use crate::zone::Zone;
/// Unix seconds now: the one clock of the signer and of the RRL (shared with
/// the rest of headend through `headend_util`).
pub(crate) use proof::nxdomain_interval;
pub use signer::SignedZone;
pub(crate) use signer::Signer;

/// Adds RRSIGs and denial proofs to a DO=1 response from a signed zone.
pub(crate) fn add_proofs(zone: &Zone, denial: &Denial, query: &Query, response: &mut Message) {
    proof::add(zone, denial, query, response);
}
