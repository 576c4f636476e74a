//! [`AuthStore`] on the PostgreSQL backend: pooled connections, each change
//! one transaction (at PostgreSQL's default READ COMMITTED, with row locks or
//! conditional updates where two servers could race). Rows map to records
//! through [`crate::row`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::conn::Session;
use super::{PostgresBackend, bind, get};
use crate::StoreError;
use crate::auth::DELETION_NOTE_SECS;
use crate::auth::{
    Attributes, AuditRecord, AuthStore, DeletedUser, FamilyRecord, RefreshRecord, Reservation,
    UserRecord,
};
use crate::row::{
    self, AuditValues, FamilyValues, ReservationValues, UserValues, addr, family_columns,
    reservation_columns, secs, user_columns,
};
use crate::sql::postgres as q;

/// Revokes the live families of `username` (inside the caller's
/// transaction); their ids, oldest login first.
fn revoke_user_families(
    s: &mut Session,
    username: &str,
    now: u64,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = s
        .query(
            "WITH r AS (UPDATE auth_families SET revoked = $2, revoke_reason = $3 \
             WHERE username = $1 AND revoked IS NULL RETURNING id, created) \
             SELECT id FROM r ORDER BY created, id",
            &[&username, &secs(now), &reason],
        )
        .map_err(StoreError::pg("family revocation"))?;
    rows.iter().map(|r| get(r, 0)).collect()
}

/// The advisory-lock key pair of one reserved address (int4, int4: a key
/// space apart from the migration lock's single bigint).
fn address_lock(address: Ipv4Addr) -> i32 {
    i32::from_be_bytes(address.octets())
}

impl AuthStore for PostgresBackend {
    fn user_insert(&self, user: &UserRecord) -> Result<bool, StoreError> {
        let u = user.clone();
        self.reader()?.conn().run(move |s| {
            let row = UserValues::new(&u);
            let n = s
                .execute(
                    concat!(
                        "INSERT INTO auth_users (",
                        user_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
                    ),
                    &bind(row.values()),
                )
                .map_err(StoreError::pg("user insert"))?;
            Ok(n == 1)
        })
    }

    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(q::USER, &[&username])
                .map_err(StoreError::pg("user lookup"))?
                .as_ref()
                .map(row::user)
                .transpose()
        })
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(q::USERS, &[])
                .map_err(StoreError::pg("user listing"))?;
            rows.iter().map(row::user).collect()
        })
    }

    fn user_set_password(
        &self,
        username: &str,
        phc: &str,
        now: u64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let (username, phc) = (username.to_owned(), phc.to_owned());
        self.reader()?.conn().run(move |s| {
            s.atomically("password change", |s| {
                let n = s
                    .execute(q::USER_SET_PASSWORD, &[&username, &phc, &secs(now)])
                    .map_err(StoreError::pg("password change"))?;
                if n == 0 {
                    return Ok(None);
                }
                revoke_user_families(s, &username, now, "password changed").map(Some)
            })
        })
    }

    fn user_set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: u64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            s.atomically("user disable", |s| {
                let n = if disabled {
                    s.execute(
                        "UPDATE auth_users SET disabled = TRUE, not_before = $2 WHERE username = $1",
                        &[&username, &secs(now)],
                    )
                } else {
                    s.execute(
                        "UPDATE auth_users SET disabled = FALSE WHERE username = $1",
                        &[&username],
                    )
                }
                .map_err(StoreError::pg("user disable"))?;
                if n == 0 {
                    return Ok(None);
                }
                if disabled {
                    revoke_user_families(s, &username, now, "user disabled").map(Some)
                } else {
                    Ok(Some(Vec::new()))
                }
            })
        })
    }

    fn user_set_role(&self, username: &str, role: &str, now: u64) -> Result<bool, StoreError> {
        let (username, role) = (username.to_owned(), role.to_owned());
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(q::USER_SET_ROLE, &[&username, &role, &secs(now)])
                .map_err(StoreError::pg("role change"))?;
            Ok(n == 1)
        })
    }

    fn user_delete(&self, username: &str, now: u64) -> Result<Option<DeletedUser>, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            s.atomically("user deletion", |s| {
                // Lock the row first, so a concurrent login or change waits.
                let found = s
                    .query_first(
                        "SELECT 1 FROM auth_users WHERE username = $1 FOR UPDATE",
                        &[&username],
                    )
                    .map_err(StoreError::pg("user deletion"))?;
                if found.is_none() {
                    return Ok(None);
                }
                let sessions = revoke_user_families(s, &username, now, "user deleted")?;
                let rows = s
                    .query(
                        "WITH r AS (UPDATE auth_api_keys SET revoked = $2 \
                         WHERE created_by = $1 AND revoked IS NULL RETURNING prefix) \
                         SELECT prefix FROM r ORDER BY prefix",
                        &[&username, &secs(now)],
                    )
                    .map_err(StoreError::pg("user deletion"))?;
                let api_keys = rows
                    .iter()
                    .map(|r| get(r, 0))
                    .collect::<Result<Vec<String>, _>>()?;
                for sql in [
                    "DELETE FROM auth_recovery_codes WHERE username = $1",
                    "DELETE FROM auth_mfa WHERE username = $1",
                    "DELETE FROM auth_users WHERE username = $1",
                ] {
                    s.execute(sql, &[&username])
                        .map_err(StoreError::pg("user deletion"))?;
                }
                s.execute(
                    "INSERT INTO auth_deleted_users (username, at) VALUES ($1, $2)",
                    &[&username, &secs(now)],
                )
                .map_err(StoreError::pg("user deletion"))?;
                s.execute(
                    "DELETE FROM auth_deleted_users WHERE at < $1",
                    &[&secs(now.saturating_sub(DELETION_NOTE_SECS))],
                )
                .map_err(StoreError::pg("user deletion"))?;
                Ok(Some(DeletedUser { sessions, api_keys }))
            })
        })
    }

    fn users_deleted_since(&self, since: u64) -> Result<Vec<(String, u64)>, StoreError> {
        self.reader()?.conn().run(move |s| {
            let rows = s
                .query(
                    "SELECT username, at FROM auth_deleted_users WHERE at >= $1 ORDER BY at",
                    &[&secs(since)],
                )
                .map_err(StoreError::pg("deleted users"))?;
            rows.iter()
                .map(|r| Ok((get(r, 0)?, row::unsecs(get(r, 1)?))))
                .collect()
        })
    }

    fn user_unlock(&self, username: &str) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(q::USER_UNLOCK, &[&username])
                .map_err(StoreError::pg("user unlock"))?;
            Ok(n == 1)
        })
    }

    fn user_record_failure(
        &self,
        username: &str,
        lockout: &dyn Fn(u32) -> u64,
    ) -> Result<Option<u32>, StoreError> {
        // `lockout` cannot travel to the connection thread, so this change is
        // one transaction over two calls: count (the row stays locked), ask
        // `lockout` here, store the lockout and commit.
        let slot = self.reader()?;
        let tx = slot.conn().begin("BEGIN")?;
        let name = username.to_owned();
        let count = tx.run(move |s| {
            s.query_first(q::USER_FAILURE, &[&name])
                .map_err(StoreError::pg("login failure"))?
                .map(|r| get::<i64>(&r, 0))
                .transpose()
        })?;
        let Some(count) = count else {
            return Ok(None);
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let until = lockout(count);
        if until > 0 {
            let name = username.to_owned();
            tx.run(move |s| {
                s.execute(
                    "UPDATE auth_users SET locked_until = GREATEST(locked_until, $2) WHERE username = $1",
                    &[&name, &secs(until)],
                )
                .map_err(StoreError::pg("login failure"))
            })?;
        }
        tx.commit()?;
        Ok(Some(count))
    }

    fn user_login_ok(
        &self,
        username: &str,
        now: u64,
        rehash: Option<&str>,
    ) -> Result<(), StoreError> {
        let (username, rehash) = (username.to_owned(), rehash.map(str::to_owned));
        self.reader()?.conn().run(move |s| {
            s.execute(
                "UPDATE auth_users SET failures = 0, locked_until = 0, last_login = $2, \
                 phc = COALESCE($3::text, phc) WHERE username = $1",
                &[&username, &secs(now), &rehash],
            )
            .map_err(StoreError::pg("login bookkeeping"))?;
            Ok(())
        })
    }

    fn family_start(
        &self,
        family: &FamilyRecord,
        token_hash: &[u8],
        now: u64,
    ) -> Result<(), StoreError> {
        let (f, hash) = (family.clone(), token_hash.to_vec());
        self.reader()?.conn().run(move |s| {
            s.atomically("session start", |s| {
                let row = FamilyValues::new(&f);
                s.execute(q::FAMILY_START, &bind(row.values()))
                    .map_err(StoreError::pg("session start"))?;
                s.execute(q::REFRESH_INSERT, &[&hash, &f.id, &secs(now)])
                    .map_err(StoreError::pg("session start"))?;
                Ok(())
            })
        })
    }

    fn refresh_lookup(
        &self,
        hash: &[u8],
    ) -> Result<Option<(RefreshRecord, FamilyRecord)>, StoreError> {
        let hash = hash.to_vec();
        self.reader()?.conn().run(move |s| {
            s.query_first(q::REFRESH_LOOKUP, &[&hash])
                .map_err(StoreError::pg("refresh lookup"))?
                .as_ref()
                .map(row::refresh)
                .transpose()
        })
    }

    fn refresh_rotate(
        &self,
        old_hash: &[u8],
        new_hash: &[u8],
        now: u64,
    ) -> Result<bool, StoreError> {
        let (old, new) = (old_hash.to_vec(), new_hash.to_vec());
        self.reader()?.conn().run(move |s| {
            s.atomically("refresh rotation", |s| {
                // Lock the family row: rotations (and revocations) of one
                // family queue here, and a family revoked meanwhile drops out.
                let family = s
                    .query_first(
                        "SELECT f.id FROM auth_refresh_tokens t JOIN auth_families f ON f.id = t.family \
                         WHERE t.hash = $1 AND f.revoked IS NULL FOR UPDATE OF f",
                        &[&old],
                    )
                    .map_err(StoreError::pg("refresh rotation"))?;
                if family.is_none() {
                    return Ok(false);
                }
                // Spend the token only if it is unspent: of two concurrent
                // rotations, the second finds it spent and changes nothing.
                let family = s
                    .query_first(
                        "UPDATE auth_refresh_tokens SET used = $2 WHERE hash = $1 AND used IS NULL \
                         RETURNING family",
                        &[&old, &secs(now)],
                    )
                    .map_err(StoreError::pg("refresh rotation"))?;
                let Some(family) = family else {
                    return Ok(false);
                };
                let family: String = get(&family, 0)?;
                s.execute(
                    q::REFRESH_INSERT,
                    &[&new, &family, &secs(now)],
                )
                .map_err(StoreError::pg("refresh rotation"))?;
                s.execute(
                    q::FAMILY_TOUCH,
                    &[&family, &secs(now)],
                )
                .map_err(StoreError::pg("refresh rotation"))?;
                Ok(true)
            })
        })
    }

    fn family_revoke(&self, id: &str, now: u64, reason: &str) -> Result<bool, StoreError> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(q::FAMILY_REVOKE, &[&id, &secs(now), &reason])
                .map_err(StoreError::pg("session revocation"))?;
            Ok(n == 1)
        })
    }

    fn families_revoke_user(
        &self,
        username: &str,
        now: u64,
        reason: &str,
    ) -> Result<Vec<String>, StoreError> {
        let (username, reason) = (username.to_owned(), reason.to_owned());
        self.reader()?
            .conn()
            .run(move |s| revoke_user_families(s, &username, now, &reason))
    }

    fn families(
        &self,
        username: Option<&str>,
        live_at: Option<u64>,
    ) -> Result<Vec<FamilyRecord>, StoreError> {
        let (username, live_at) = (username.map(str::to_owned), live_at.map(secs));
        self.reader()?.conn().run(move |s| {
            let rows = s
                .query(
                    concat!(
                        "SELECT ",
                        family_columns!(),
                        " FROM auth_families \
                         WHERE ($1::text IS NULL OR username = $1) \
                           AND ($2::bigint IS NULL OR (revoked IS NULL AND expires > $2)) \
                         ORDER BY created DESC, id"
                    ),
                    &[&username, &live_at],
                )
                .map_err(StoreError::pg("session listing"))?;
            rows.iter().map(|r| row::family(r, 0)).collect()
        })
    }

    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
        let id = id.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(q::FAMILY, &[&id])
                .map_err(StoreError::pg("session lookup"))?
                .map(|r| row::family(&r, 0))
                .transpose()
        })
    }

    fn families_revoked_since(&self, since: u64) -> Result<Vec<FamilyRecord>, StoreError> {
        self.reader()?.conn().run(move |s| {
            let rows = s
                .query(
                    concat!(
                        "SELECT ",
                        family_columns!(),
                        " FROM auth_families WHERE revoked >= $1 ORDER BY revoked, id"
                    ),
                    &[&secs(since)],
                )
                .map_err(StoreError::pg("revocation listing"))?;
            rows.iter().map(|r| row::family(r, 0)).collect()
        })
    }

    fn audit_append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let r = record.clone();
        self.reader()?.conn().run(move |s| {
            let row = AuditValues::new(&r);
            s.execute(q::AUDIT_APPEND, &bind(row.values()))
                .map_err(StoreError::pg("audit append"))?;
            Ok(())
        })
    }

    fn audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.reader()?.conn().run(move |s| {
            let rows = s
                .query(q::AUDIT, &[&i64::from(limit)])
                .map_err(StoreError::pg("audit listing"))?;
            rows.iter().map(row::audit).collect()
        })
    }

    fn reservation_put(&self, reservation: &Reservation) -> Result<bool, StoreError> {
        let r = reservation.clone();
        self.reader()?.conn().run(move |s| {
            s.atomically("reservation write", |s| {
                // Puts of one address queue here (across servers), so the
                // check below cannot miss a concurrent one.
                s.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), $2)",
                    &[&r.subnet, &address_lock(r.address)],
                )
                .map_err(StoreError::pg("reservation write"))?;
                let taken = s
                    .query_first(
                        q::RESERVATION_TAKEN,
                        &[&r.subnet, &addr(r.address), &r.hwaddr],
                    )
                    .map_err(StoreError::pg("reservation write"))?;
                if taken.is_some() {
                    return Ok(false);
                }
                let row = ReservationValues::new(&r);
                s.execute(
                    concat!(
                        "INSERT INTO dhcp_reservations (",
                        reservation_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subnet, hwaddr) DO UPDATE SET \
                         address = EXCLUDED.address, hostname = EXCLUDED.hostname, created = EXCLUDED.created"
                    ),
                    &bind(row.values()),
                )
                .map_err(StoreError::pg("reservation write"))?;
                Ok(true)
            })
        })
    }

    fn reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(q::RESERVATIONS, &[])
                .map_err(StoreError::pg("reservation listing"))?;
            rows.iter().map(row::reservation).collect()
        })
    }

    fn reservation_delete(&self, subnet: &str, hwaddr: &str) -> Result<bool, StoreError> {
        let (subnet, hwaddr) = (subnet.to_owned(), hwaddr.to_owned());
        self.reader()?.conn().run(move |s| {
            s.atomically("reservation delete", |s| {
                let n = s
                    .execute(q::RESERVATION_DELETE, &[&subnet, &hwaddr])
                    .map_err(StoreError::pg("reservation delete"))?;
                s.execute(q::ATTRIBUTES_CLEAR, &[&subnet, &hwaddr])
                    .map_err(StoreError::pg("reservation delete"))?;
                Ok(n == 1)
            })
        })
    }

    fn reservation6_put(&self, reservation: &crate::Reservation6) -> Result<bool, StoreError> {
        const OP: &str = "DHCPv6 reservation write";
        let r = reservation.clone();
        self.reader()?.conn().run(move |s| {
            s.atomically(OP, |s| {
                let row = row::Reservation6Values::new(&r);
                // Puts of one subnet queue here (across servers), so the
                // check below cannot miss a concurrent one.
                s.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('dhcp6:' || $1))",
                    &[&r.subnet],
                )
                .map_err(StoreError::pg(OP))?;
                let taken = s
                    .query_first(q::RESERVATION6_TAKEN, &bind(row.taken()))
                    .map_err(StoreError::pg(OP))?;
                if taken.is_some() {
                    return Ok(false);
                }
                s.execute(q::RESERVATION6_PUT, &bind(row.values()))
                    .map_err(StoreError::pg(OP))?;
                Ok(true)
            })
        })
    }

    fn reservations6(&self) -> Result<Vec<crate::Reservation6>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(q::RESERVATIONS6, &[])
                .map_err(StoreError::pg("DHCPv6 reservation listing"))?;
            rows.iter().map(row::reservation6).collect()
        })
    }

    fn reservation6_delete(
        &self,
        subnet: &str,
        key: &crate::Reservation6Key,
    ) -> Result<bool, StoreError> {
        let (subnet, kind, text) = (subnet.to_owned(), key.kind(), key.text());
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(q::RESERVATION6_DELETE, &[&subnet, &kind, &text])
                .map_err(StoreError::pg("DHCPv6 reservation delete"))?;
            Ok(n == 1)
        })
    }

    fn reservation_attributes(
        &self,
        subnet: &str,
        hwaddr: &str,
    ) -> Result<Option<Attributes>, StoreError> {
        let (subnet, hwaddr) = (subnet.to_owned(), hwaddr.to_owned());
        self.reader()?.conn().run(move |s| {
            s.atomically("reservation attributes lookup", |s| {
                attributes_of(s, &subnet, &hwaddr, q::RESERVATION_EXISTS)
            })
        })
    }

    fn reservation_attributes_update(
        &self,
        subnet: &str,
        hwaddr: &str,
        changes: &BTreeMap<String, Option<String>>,
        replace: bool,
    ) -> Result<Option<Attributes>, StoreError> {
        const OP: &str = "reservation attributes write";
        let (subnet, hwaddr, changes) = (subnet.to_owned(), hwaddr.to_owned(), changes.clone());
        self.reader()?.conn().run(move |s| {
            s.atomically(OP, |s| {
                // The reservation's row is locked, so a concurrent delete
                // cannot leave attributes behind it.
                let exists = s
                    .query_first(RESERVATION_LOCK, &[&subnet, &hwaddr])
                    .map_err(StoreError::pg(OP))?;
                if exists.is_none() {
                    return Ok(None);
                }
                if replace {
                    s.execute(q::ATTRIBUTES_CLEAR, &[&subnet, &hwaddr])
                        .map_err(StoreError::pg(OP))?;
                }
                for (name, value) in &changes {
                    match value {
                        Some(v) => s.execute(q::ATTRIBUTE_SET, &[&subnet, &hwaddr, name, v]),
                        None => s.execute(q::ATTRIBUTE_DELETE, &[&subnet, &hwaddr, name]),
                    }
                    .map_err(StoreError::pg(OP))?;
                }
                attributes_of(s, &subnet, &hwaddr, q::RESERVATION_EXISTS)
            })
        })
    }
}

/// Locks the reservation row of subnet $1, hardware address $2.
const RESERVATION_LOCK: &str =
    "SELECT 1 FROM dhcp_reservations WHERE subnet = $1 AND hwaddr = $2 FOR UPDATE";

/// The attributes of a reservation; `None` if there is no such reservation.
fn attributes_of(
    s: &mut Session,
    subnet: &str,
    hwaddr: &str,
    exists: &'static str,
) -> Result<Option<Attributes>, StoreError> {
    const OP: &str = "reservation attributes lookup";
    if s.query_first(exists, &[&subnet, &hwaddr])
        .map_err(StoreError::pg(OP))?
        .is_none()
    {
        return Ok(None);
    }
    let rows = s
        .query(q::ATTRIBUTES, &[&subnet, &hwaddr])
        .map_err(StoreError::pg(OP))?;
    rows.iter()
        .map(|r| Ok((row::Row::get(r, 0)?, row::Row::get(r, 1)?)))
        .collect::<Result<Attributes, StoreError>>()
        .map(Some)
}
