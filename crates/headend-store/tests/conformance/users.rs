//! The user and session records the auth scenarios start from (also used by
//! the PostgreSQL-only auth tests, which include this file on its own).

use headend_store::auth::{FamilyRecord, UserRecord};

/// An enabled operator named `name`, never locked, created at time 1.
pub(crate) fn user(name: &str) -> UserRecord {
    UserRecord::new(
        name,
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "operator",
        1,
    )
}

/// A live family `id` of `name`, started (and last used) at `created`,
/// expiring at 1000.
pub(crate) fn family(id: &str, name: &str, created: u64) -> FamilyRecord {
    FamilyRecord {
        id: id.into(),
        username: name.into(),
        created,
        expires: 1000,
        last_used: created,
        source: Some("127.0.0.1".into()),
        revoked: None,
        revoke_reason: None,
    }
}
