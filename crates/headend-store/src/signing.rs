//! The admin API's JWT signing keys, shared by every server on one store:
//! one row per key, its private half sealed by the admin crate with the
//! key-encryption key (the store never sees it plain), and the time it
//! starts signing. Which key signs, when a next one is made and when an old
//! one is dropped is decided by the admin crate's `core::keyring`.
//!
//! Also the retention sweep ([`Purge`]): rows that no longer serve any
//! purpose (expired sessions, old audit entries) deleted in one call.

use crate::StoreError;
use crate::row::{Row, unsecs};

/// One signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The key id (public, derived from the public key).
    pub kid: String,
    /// The PKCS#8 private key sealed with the key-encryption key.
    pub sealed: Vec<u8>,
    /// The public id of the key-encryption key that sealed it.
    pub kek_id: String,
    /// Unix time from which it signs new tokens (unique: one key per instant).
    pub signs_from: u64,
    /// Unix time it was made.
    pub created: u64,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("kek_id", &self.kek_id)
            .field("signs_from", &self.signs_from)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// The columns of `auth_signing_keys`, in the order [`signing_key`] reads them.
macro_rules! signing_key_columns {
    () => {
        "kid, sealed, kek_id, signs_from, created"
    };
}
pub(crate) use signing_key_columns;

/// The columns of [`signing_key_columns!`] → a key.
pub(crate) fn signing_key(row: &impl Row) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: row.get(0)?,
        sealed: row.get(1)?,
        kek_id: row.get(2)?,
        signs_from: unsecs(row.get(3)?),
        created: unsecs(row.get(4)?),
    })
}

/// What the retention sweep deletes, as unix-time horizons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purge {
    /// Session families that expired (absolute lifetime) or were revoked
    /// before this time go, with their refresh tokens.
    pub families_before: u64,
    /// Audit entries older than this go; `None`: keep them all.
    pub audit_before: Option<u64>,
    /// API keys revoked or expired before this time go; the previous
    /// secret of a rotated key whose grace ended before it is cleared.
    pub api_keys_before: u64,
}

/// How many rows a retention sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Session families (their refresh tokens go with them).
    pub families: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
    /// Audit entries.
    pub audit: u64,
    /// API keys, plus previous secrets cleared.
    pub api_keys: u64,
}

/// Persistence of signing keys and the retention sweep.
pub trait KeyStore: Send + Sync {
    /// Every signing key, oldest `signs_from` first.
    fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Adds a key; false (nothing written) if its kid or its `signs_from`
    /// is taken (another server made the key for that instant first).
    fn signing_key_insert(&self, key: &SigningKeyRecord) -> Result<bool, StoreError>;
    /// Deletes a key; false if there was none.
    fn signing_key_delete(&self, kid: &str) -> Result<bool, StoreError>;
    /// Deletes what `purge` names, in one transaction.
    fn purge(&self, purge: &Purge) -> Result<Purged, StoreError>;
}
