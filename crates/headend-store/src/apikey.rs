//! API keys for machine clients of the admin API: one row per key, holding
//! only a hash of its secret (and, during a rotation's grace period, the
//! hash of the previous secret).
//!
//! The store keeps rows; what a key may do (role, scopes, allowed source
//! prefixes, rate) and whether a presented secret matches is decided by the
//! admin crate's `core::apikey`. Times are unix seconds given by the caller.

use crate::StoreError;
use crate::row::{Row, unsecs};

/// One API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The public part that identifies the key (`hk_` and 16 hex digits);
    /// unique, shown in listings and audit details.
    pub prefix: String,
    /// A unique name chosen by the admin (`billing`); audited as the actor.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Scopes (`zone:example.test`, `subnet:10.1.0.0/16`); empty: none.
    pub scopes: Vec<String>,
    /// Source prefixes the key may be used from; empty: any.
    pub allow: Vec<String>,
    /// Keyed hash of the current secret (never the secret).
    pub hash: Vec<u8>,
    /// Hash of the secret a rotation replaced, accepted until `prev_until`.
    pub prev_hash: Option<Vec<u8>>,
    /// Unix time the previous secret stops working.
    pub prev_until: Option<u64>,
    /// Requests per second allowed (burst the same); `None`: the server default.
    pub rate: Option<u32>,
    /// Unix time it was made.
    pub created: u64,
    /// Who made it.
    pub created_by: String,
    /// Unix time it stops working, if ever.
    pub expires: Option<u64>,
    /// Unix time of the last use seen (updated at most about once a minute).
    pub last_used: Option<u64>,
    /// Unix time it was revoked, if it was.
    pub revoked: Option<u64>,
}

/// The columns of `auth_api_keys`, in the order [`api_key`] reads them and
/// [`ApiKeyRecord::values`] binds them.
macro_rules! api_key_columns {
    () => {
        "prefix, name, role, scopes, allow, hash, prev_hash, prev_until, rate, created, created_by, expires, last_used, revoked"
    };
}
pub(crate) use api_key_columns;

/// Joins a list into the one text column it is stored in.
fn join(list: &[String]) -> String {
    list.join(" ")
}

fn split(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The values of one row, owned, in the order of [`api_key_columns!`].
pub(crate) struct ApiKeyValues {
    pub(crate) prefix: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) scopes: String,
    pub(crate) allow: String,
    pub(crate) hash: Vec<u8>,
    pub(crate) prev_hash: Option<Vec<u8>>,
    pub(crate) prev_until: Option<i64>,
    pub(crate) rate: Option<i64>,
    pub(crate) created: i64,
    pub(crate) created_by: String,
    pub(crate) expires: Option<i64>,
    pub(crate) last_used: Option<i64>,
    pub(crate) revoked: Option<i64>,
}

impl ApiKeyValues {
    pub(crate) fn new(r: &ApiKeyRecord) -> Self {
        let s = crate::row::secs;
        Self {
            prefix: r.prefix.clone(),
            name: r.name.clone(),
            role: r.role.clone(),
            scopes: join(&r.scopes),
            allow: join(&r.allow),
            hash: r.hash.clone(),
            prev_hash: r.prev_hash.clone(),
            prev_until: r.prev_until.map(s),
            rate: r.rate.map(i64::from),
            created: s(r.created),
            created_by: r.created_by.clone(),
            expires: r.expires.map(s),
            last_used: r.last_used.map(s),
            revoked: r.revoked.map(s),
        }
    }

    pub(crate) fn values(&self) -> [&dyn crate::row::Value; 14] {
        [
            &self.prefix,
            &self.name,
            &self.role,
            &self.scopes,
            &self.allow,
            &self.hash,
            &self.prev_hash,
            &self.prev_until,
            &self.rate,
            &self.created,
            &self.created_by,
            &self.expires,
            &self.last_used,
            &self.revoked,
        ]
    }
}

/// The columns of [`api_key_columns!`] → a key.
pub(crate) fn api_key(row: &impl Row) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        prefix: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        scopes: split(&row.get::<String>(3)?),
        allow: split(&row.get::<String>(4)?),
        hash: row.get(5)?,
        prev_hash: row.get(6)?,
        prev_until: row.get::<Option<i64>>(7)?.map(unsecs),
        rate: row
            .get::<Option<i64>>(8)?
            .map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
        created: unsecs(row.get(9)?),
        created_by: row.get(10)?,
        expires: row.get::<Option<i64>>(11)?.map(unsecs),
        last_used: row.get::<Option<i64>>(12)?.map(unsecs),
        revoked: row.get::<Option<i64>>(13)?.map(unsecs),
    })
}

/// Persistence of API keys, and of the scopes of users (the other
/// principals a scope narrows). Every method is one atomic change.
pub trait ApiKeyStore: Send + Sync {
    /// Adds a key; false (nothing written) if its name or prefix is taken.
    fn api_key_insert(&self, key: &ApiKeyRecord) -> Result<bool, StoreError>;
    /// One key by prefix (revoked ones too).
    fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// One key by name (revoked ones too).
    fn api_key_named(&self, name: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Every key, by name.
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes the key named `name`; false if there is none or it already is.
    fn api_key_revoke(&self, name: &str, now: u64) -> Result<bool, StoreError>;
    /// Gives the live key named `name` the secret hash `hash`, keeping the
    /// current one valid until `grace_until`; false if there is no such live key.
    fn api_key_rotate(&self, name: &str, hash: &[u8], grace_until: u64)
    -> Result<bool, StoreError>;
    /// Records a use of the key at `now`.
    fn api_key_touch(&self, prefix: &str, now: u64) -> Result<(), StoreError>;

    /// The scopes of a user (empty: none, or no such user).
    fn user_scopes(&self, username: &str) -> Result<Vec<String>, StoreError>;
    /// Gives a user `scopes` and sets `not_before = now`, so access tokens
    /// with the old scopes stop working (the sessions' next refresh carries
    /// the new ones). False if there is no such user.
    fn user_set_scopes(
        &self,
        username: &str,
        scopes: &[String],
        now: u64,
    ) -> Result<bool, StoreError>;
}

/// The stored form of a list of scopes.
pub fn scopes_text(scopes: &[String]) -> String {
    join(scopes)
}

/// A stored list of scopes.
pub fn scopes_list(text: &str) -> Vec<String> {
    split(text)
}
