//! What a signed zone's denial-of-existence chain is, kept with the zone so
//! that answers to DO=1 queries can prove that a name or type does not
//! exist. The signer builds it from the NSEC or NSEC3 records it makes;
//! the proofs read it.

use hickory_proto::rr::{LowerName, Name};

/// The denial-of-existence chain of a signed zone, for building proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// NSEC: every owner in the chain, in canonical order (RFC 4034 §6.1).
    Nsec(Vec<Name>),
    /// NSEC3: hash parameters and (hash, NSEC3 owner) sorted by hash.
    Nsec3 {
        /// Salt.
        salt: Vec<u8>,
        /// Extra iterations.
        iterations: u16,
        /// Hashes of the chain, sorted, with the NSEC3 record's owner.
        hashes: Vec<(Vec<u8>, LowerName)>,
    },
}
