//! Single sign-on sessions for the admin API: for each session (refresh
//! token family) signed in through an OpenID Connect provider, the
//! provider's tokens, sealed by the admin crate with its key-encryption key
//! (the store only ever sees ciphertext), and when the provider last
//! confirmed the user. Kept here so a restarted server, or another server
//! sharing the database, can check the user with the provider again.
//!
//! A row goes with its family: deleting the family (retention sweep, user
//! deletion) deletes it.

use crate::StoreError;
use crate::row::{Row, unsecs};

/// The provider tokens of one single sign-on session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoRecord {
    /// The refresh token family (session id) it belongs to.
    pub family: String,
    /// The provider's tokens, sealed (never in clear).
    pub sealed: Vec<u8>,
    /// The id of the key-encryption key that sealed them.
    pub kek_id: String,
    /// Unix time the provider last confirmed the user's role.
    pub checked: u64,
    /// Unix time of the login.
    pub started: u64,
}

/// Persistence of single sign-on sessions. Every method is one atomic
/// change.
pub trait SsoStore: Send + Sync {
    /// Stores (or replaces) the record of `rec.family`; false, with nothing
    /// written, if that family does not exist.
    fn sso_put(&self, rec: &SsoRecord) -> Result<bool, StoreError>;
    /// The record of session `family`.
    fn sso_get(&self, family: &str) -> Result<Option<SsoRecord>, StoreError>;
    /// Removes the record of session `family`; false if there was none.
    fn sso_delete(&self, family: &str) -> Result<bool, StoreError>;
}

/// A row of `family, sealed, kek_id, checked, started` → a record.
pub(crate) fn sso_row(r: &impl Row) -> Result<SsoRecord, StoreError> {
    Ok(SsoRecord {
        family: r.get(0)?,
        sealed: r.get(1)?,
        kek_id: r.get(2)?,
        checked: unsecs(r.get(3)?),
        started: unsecs(r.get(4)?),
    })
}
