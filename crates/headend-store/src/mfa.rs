//! Second-factor persistence for the admin API: each user's TOTP seed
//! (sealed by the admin crate with its key-encryption key: the store only
//! ever sees ciphertext), the newest time step accepted (so a code cannot be
//! replayed), and one-time recovery codes (hashes only).
//!
//! As in [`crate::auth`], the store keeps rows and applies each change
//! atomically; what a code is worth is decided by the admin crate's core.

use crate::StoreError;
use crate::row::{Row, unsecs};

/// One user's TOTP enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaRecord {
    /// The user it belongs to.
    pub username: String,
    /// The TOTP seed, sealed (never the clear seed).
    pub secret: Vec<u8>,
    /// Unix time the enrolment was confirmed with a first good code; `None`
    /// while enrolment waits for it (the second factor is not yet required).
    pub confirmed: Option<u64>,
    /// The newest 30-second time step a code was accepted for: codes of this
    /// step or older are refused (RFC 6238 §5.2, one use per code).
    pub last_step: u64,
    /// Unix time the seed was made.
    pub created: u64,
}

/// Persistence of TOTP enrolments and recovery codes. Every method is one
/// atomic change.
pub trait MfaStore: Send + Sync {
    /// The enrolment of `username`, confirmed or not.
    fn mfa(&self, username: &str) -> Result<Option<MfaRecord>, StoreError>;
    /// The users whose second factor is confirmed, by name.
    fn mfa_users(&self) -> Result<Vec<String>, StoreError>;
    /// Starts (or restarts) an enrolment with a sealed seed; false, with
    /// nothing written, if the user does not exist or already has a
    /// confirmed second factor (it must be removed first).
    fn mfa_begin(&self, username: &str, secret: &[u8], now: u64) -> Result<bool, StoreError>;
    /// Confirms a pending enrolment with the step of its first good code and
    /// stores the recovery code hashes (replacing any); false if there is no
    /// pending enrolment.
    fn mfa_confirm(
        &self,
        username: &str,
        step: u64,
        recovery: &[Vec<u8>],
        now: u64,
    ) -> Result<bool, StoreError>;
    /// Spends time step `step` of a confirmed second factor: true only if it
    /// is newer than every step spent before (two requests racing with one
    /// code: exactly one wins).
    fn mfa_spend_step(&self, username: &str, step: u64) -> Result<bool, StoreError>;
    /// Spends one recovery code by hash: true only the first time.
    fn mfa_spend_recovery(&self, username: &str, hash: &[u8], now: u64)
    -> Result<bool, StoreError>;
    /// The recovery codes of `username` not yet used.
    fn mfa_recovery_left(&self, username: &str) -> Result<u32, StoreError>;
    /// Removes the second factor and recovery codes; false if there was none.
    fn mfa_remove(&self, username: &str) -> Result<bool, StoreError>;
}

/// A row of `username, secret, confirmed, last_step, created` → an enrolment.
pub(crate) fn mfa_row(r: &impl Row) -> Result<MfaRecord, StoreError> {
    Ok(MfaRecord {
        username: r.get(0)?,
        secret: r.get(1)?,
        confirmed: r.get::<Option<i64>>(2)?.map(unsecs),
        last_step: unsecs(r.get(3)?),
        created: unsecs(r.get(4)?),
    })
}
