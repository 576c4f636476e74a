//! Auth persistence for the admin API: users (Argon2id PHC strings), refresh
//! token families and tokens (hashes only), the audit log, and the DHCP
//! reservations managed through the API.
//!
//! The store only keeps rows and applies each change atomically; every
//! decision (is this password right, is this token reused, how long is the
//! lockout) is made by the admin crate's sans-I/O auth core. Times are unix
//! seconds passed in by the caller, so tests can use a fake clock.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::StoreError;

/// The form a user name is stored and compared in: case-folded, so that
/// `Admin` and `admin` are one account. Valid names are ASCII (letters,
/// digits and `._@-`), where folding is lower-casing; other input is
/// lower-cased too and simply matches no account.
pub fn fold_username(name: &str) -> String {
    name.to_lowercase()
}

/// One API user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name (unique).
    pub username: String,
    /// The Argon2id hash in PHC string form (parameters and salt included).
    pub phc: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// A disabled user cannot log in and holds no live session.
    pub disabled: bool,
    /// Consecutive failed logins since the last success or unlock.
    pub failures: u32,
    /// Unix time before which logins are refused (0: not locked).
    pub locked_until: u64,
    /// Unix time of the last successful login.
    pub last_login: Option<u64>,
    /// Access tokens issued before this unix time are refused.
    pub not_before: u64,
    /// Unix time the user was created.
    pub created: u64,
}

impl UserRecord {
    /// A user as first stored: enabled, never logged in, not locked, with
    /// the hash `phc` and `role`, created at `now` (unix seconds). The admin
    /// API and `headend user add` both add users through this.
    pub fn new(
        username: impl Into<String>,
        phc: impl Into<String>,
        role: impl Into<String>,
        now: u64,
    ) -> Self {
        Self {
            username: fold_username(&username.into()),
            phc: phc.into(),
            role: role.into(),
            disabled: false,
            failures: 0,
            locked_until: 0,
            last_login: None,
            not_before: 0,
            created: now,
        }
    }
}

/// How long a deletion stays noted for other servers (far beyond an access
/// token's life).
pub const DELETION_NOTE_SECS: u64 = 86_400;

/// What deleting a user ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedUser {
    /// The ids of the sessions (families) that were live.
    pub sessions: Vec<String>,
    /// The prefixes of the API keys the user had made that were live.
    pub api_keys: Vec<String>,
}

/// One refresh-token family: everything that descends from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRecord {
    /// Random identifier, also carried as `sid` in the access tokens.
    pub id: String,
    /// The user it belongs to.
    pub username: String,
    /// Unix time of the login that started it.
    pub created: u64,
    /// Absolute end of life (login + lifetime; rotation does not extend it).
    pub expires: u64,
    /// Unix time of the last login or refresh (for the idle timeout).
    pub last_used: u64,
    /// Source address of the login, for `session list`.
    pub source: Option<String>,
    /// When it was revoked, if it was.
    pub revoked: Option<u64>,
    /// Why it was revoked (logout, reuse, disabled, password, admin).
    pub revoke_reason: Option<String>,
}

/// One refresh token, known only by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the opaque token.
    pub hash: Vec<u8>,
    /// The family it belongs to.
    pub family: String,
    /// Unix time it was issued.
    pub issued: u64,
    /// Unix time it was rotated (spent); `None` while it is the current one.
    pub used: Option<u64>,
}

/// One audit log entry: who did what, when, from where, with what result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number (assigned by the store; ignored on append).
    pub id: i64,
    /// Unix time.
    pub at: u64,
    /// The user (or `-` when unknown, `local` for the CLI on the state dir).
    pub actor: String,
    /// Source address of the request, if any.
    pub source: Option<String>,
    /// What was attempted, e.g. `record.set`, `login`, `user.disable`.
    pub action: String,
    /// What it was applied to, e.g. `example.test www A`.
    pub target: Option<String>,
    /// `ok`, `denied`, `failed`, `invalid`, ...
    pub result: String,
    /// Extra detail (never a password or token).
    pub detail: Option<String>,
}

/// A fixed address for a client, managed through the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Name of the DHCP subnet.
    pub subnet: String,
    /// Hardware address, lowercase `aa:bb:cc:dd:ee:ff`.
    pub hwaddr: String,
    /// The reserved address.
    pub address: Ipv4Addr,
    /// Host name to hand out, if any.
    pub hostname: Option<String>,
    /// Unix time it was added.
    pub created: u64,
}

/// Persistence of users, sessions, audit and reservations. Every method is
/// one atomic change.
pub trait AuthStore: Send + Sync {
    /// Adds a user; false if the name is taken.
    fn user_insert(&self, user: &UserRecord) -> Result<bool, StoreError>;
    /// One user by name.
    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Replaces the password hash, sets `not_before = now`, clears the lockout
    /// and revokes every family of the user. `None` if there is no such user,
    /// else the revoked family ids.
    fn user_set_password(
        &self,
        username: &str,
        phc: &str,
        now: u64,
    ) -> Result<Option<Vec<String>>, StoreError>;
    /// Disables or enables a user; disabling sets `not_before = now` and
    /// revokes every family. `None` if there is no such user.
    fn user_set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: u64,
    ) -> Result<Option<Vec<String>>, StoreError>;
    /// Gives the user `role` and sets `not_before = now`, so access tokens
    /// carrying the old role stop working at once (the sessions live on:
    /// their next refresh gets the new role). False if there is no such user.
    fn user_set_role(&self, username: &str, role: &str, now: u64) -> Result<bool, StoreError>;
    /// Deletes a user in one transaction: every live session is revoked,
    /// every API key the user made is revoked, the second factor and
    /// recovery codes go, then the user row (the audit log keeps every entry
    /// that names the user); the deletion is noted for
    /// [`AuthStore::users_deleted_since`], and notes older than `now` minus a
    /// day are dropped. `None` if there is no such user.
    fn user_delete(&self, username: &str, now: u64) -> Result<Option<DeletedUser>, StoreError>;
    /// Users deleted at or after `since`, with the time, oldest first (so a
    /// server drops the access tokens of a user another process deleted).
    fn users_deleted_since(&self, since: u64) -> Result<Vec<(String, u64)>, StoreError>;
    /// Clears the failure counter and lockout; false if there is no such user.
    fn user_unlock(&self, username: &str) -> Result<bool, StoreError>;
    /// Counts one failed login and stores the lockout the caller computed
    /// from the new count (`lockout(count)`); returns the new count, `None`
    /// for an unknown user.
    fn user_record_failure(
        &self,
        username: &str,
        lockout: &dyn Fn(u32) -> u64,
    ) -> Result<Option<u32>, StoreError>;
    /// A successful login: resets the failure counter, sets `last_login`, and
    /// stores a re-hashed password if the parameters were raised.
    fn user_login_ok(
        &self,
        username: &str,
        now: u64,
        rehash: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Starts a family with its first refresh token.
    fn family_start(
        &self,
        family: &FamilyRecord,
        token_hash: &[u8],
        now: u64,
    ) -> Result<(), StoreError>;
    /// Looks a refresh token up by hash, with its family.
    fn refresh_lookup(
        &self,
        hash: &[u8],
    ) -> Result<Option<(RefreshRecord, FamilyRecord)>, StoreError>;
    /// Spends `old_hash` and stores `new_hash` in the same family, only if
    /// `old_hash` is unspent and its family is not revoked; false otherwise
    /// (another request rotated it first).
    fn refresh_rotate(
        &self,
        old_hash: &[u8],
        new_hash: &[u8],
        now: u64,
    ) -> Result<bool, StoreError>;
    /// Revokes one family; false if it was unknown or already revoked.
    fn family_revoke(&self, id: &str, now: u64, reason: &str) -> Result<bool, StoreError>;
    /// Revokes every live family of a user; returns their ids.
    fn families_revoke_user(
        &self,
        username: &str,
        now: u64,
        reason: &str,
    ) -> Result<Vec<String>, StoreError>;
    /// Families of one user (or everyone's), newest first; with
    /// `live_at = Some(now)` only those neither revoked nor expired.
    fn families(
        &self,
        username: Option<&str>,
        live_at: Option<u64>,
    ) -> Result<Vec<FamilyRecord>, StoreError>;
    /// One family by id.
    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError>;
    /// Families revoked at or after `since` (to fill the revocation cache).
    fn families_revoked_since(&self, since: u64) -> Result<Vec<FamilyRecord>, StoreError>;

    /// Appends an audit entry.
    fn audit_append(&self, record: &AuditRecord) -> Result<(), StoreError>;
    /// The newest `limit` audit entries, newest first.
    fn audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    /// Adds or replaces the reservation of (`subnet`, `hwaddr`); false (and
    /// nothing written) if the address is reserved for another client of
    /// that subnet.
    fn reservation_put(&self, reservation: &Reservation) -> Result<bool, StoreError>;
    /// Every reservation, by subnet and address.
    fn reservations(&self) -> Result<Vec<Reservation>, StoreError>;
    /// Removes a reservation and its attributes; false if there was none.
    fn reservation_delete(&self, subnet: &str, hwaddr: &str) -> Result<bool, StoreError>;

    /// Adds or replaces the DHCPv6 reservation of (`subnet`, key); false
    /// (and nothing written) if its address or prefix is reserved for
    /// another client.
    fn reservation6_put(&self, reservation: &crate::Reservation6) -> Result<bool, StoreError>;
    /// Every DHCPv6 reservation, by subnet, key kind and key.
    fn reservations6(&self) -> Result<Vec<crate::Reservation6>, StoreError>;
    /// Removes a DHCPv6 reservation; false if there was none.
    fn reservation6_delete(
        &self,
        subnet: &str,
        key: &crate::Reservation6Key,
    ) -> Result<bool, StoreError>;

    /// The free-form attributes (service tier, CPE limit, rate, ...) of the
    /// reservation of (`subnet`, `hwaddr`), by name; `None` if there is no
    /// such reservation.
    fn reservation_attributes(
        &self,
        subnet: &str,
        hwaddr: &str,
    ) -> Result<Option<Attributes>, StoreError>;
    /// Changes the attributes of the reservation of (`subnet`, `hwaddr`) in
    /// one transaction: with `replace`, every attribute is removed first;
    /// then each entry of `changes` sets (`Some`) or removes (`None`) its
    /// attribute. `None` (nothing written) if there is no such reservation,
    /// else the attributes after the change. A reservation's attributes
    /// outlive a re-put of the reservation and go with its deletion.
    fn reservation_attributes_update(
        &self,
        subnet: &str,
        hwaddr: &str,
        changes: &BTreeMap<String, Option<String>>,
        replace: bool,
    ) -> Result<Option<Attributes>, StoreError>;
}

/// A reservation's attributes, by name.
pub type Attributes = BTreeMap<String, String>;
