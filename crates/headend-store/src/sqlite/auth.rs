//! [`AuthStore`] on the SQLite backend: same connection and write lock as the
//! leases, one SQLite transaction per change. Rows map to records through
//! [`crate::row`].

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::{SqliteBackend, all, bind, first};
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
use crate::sql::sqlite as q;

/// Revokes the live families of `username` inside an open transaction.
fn revoke_user_families(
    tx: &rusqlite::Transaction<'_>,
    username: &str,
    now: u64,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    let ids = all(
        tx,
        "family revocation",
        "SELECT id FROM auth_families WHERE username = ?1 AND revoked IS NULL",
        params![username],
        |r| row::Row::get(r, 0),
    )?;
    tx.execute(
        "UPDATE auth_families SET revoked = ?2, revoke_reason = ?3 WHERE username = ?1 AND revoked IS NULL",
        params![username, secs(now), reason],
    )
    .map_err(StoreError::sql("family revocation"))?;
    Ok(ids)
}

impl AuthStore for SqliteBackend {
    fn user_insert(&self, user: &UserRecord) -> Result<bool, StoreError> {
        let conn = self.lock();
        let row = UserValues::new(user);
        let n = conn
            .execute(
                concat!(
                    "INSERT OR IGNORE INTO auth_users (",
                    user_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                bind(&row.values()),
            )
            .map_err(StoreError::sql("user insert"))?;
        Ok(n == 1)
    }

    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        first(
            &self.lock(),
            "user lookup",
            q::USER,
            params![username],
            |r| row::user(r),
        )
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        all(&self.lock(), "user listing", q::USERS, [], |r| row::user(r))
    }

    fn user_set_password(
        &self,
        username: &str,
        phc: &str,
        now: u64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("password change"))?;
        let n = tx
            .execute(q::USER_SET_PASSWORD, params![username, phc, secs(now)])
            .map_err(StoreError::sql("password change"))?;
        if n == 0 {
            return Ok(None);
        }
        let ids = revoke_user_families(&tx, username, now, "password changed")?;
        tx.commit().map_err(StoreError::sql("password change"))?;
        Ok(Some(ids))
    }

    fn user_set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: u64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("user disable"))?;
        let n = if disabled {
            tx.execute(
                "UPDATE auth_users SET disabled = 1, not_before = ?2 WHERE username = ?1",
                params![username, secs(now)],
            )
        } else {
            tx.execute(
                "UPDATE auth_users SET disabled = 0 WHERE username = ?1",
                params![username],
            )
        }
        .map_err(StoreError::sql("user disable"))?;
        if n == 0 {
            return Ok(None);
        }
        let ids = if disabled {
            revoke_user_families(&tx, username, now, "user disabled")?
        } else {
            Vec::new()
        };
        tx.commit().map_err(StoreError::sql("user disable"))?;
        Ok(Some(ids))
    }

    fn user_set_role(&self, username: &str, role: &str, now: u64) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(q::USER_SET_ROLE, params![username, role, secs(now)])
            .map_err(StoreError::sql("role change"))?;
        Ok(n == 1)
    }

    fn user_delete(&self, username: &str, now: u64) -> Result<Option<DeletedUser>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("user deletion"))?;
        let exists: Option<i64> = first(
            &tx,
            "user deletion",
            "SELECT 1 FROM auth_users WHERE username = ?1",
            params![username],
            |r| row::Row::get(r, 0),
        )?;
        if exists.is_none() {
            return Ok(None);
        }
        let sessions = revoke_user_families(&tx, username, now, "user deleted")?;
        let api_keys = all(
            &tx,
            "user deletion",
            "SELECT prefix FROM auth_api_keys WHERE created_by = ?1 AND revoked IS NULL ORDER BY prefix",
            params![username],
            |r| row::Row::get(r, 0),
        )?;
        for (sql, p) in [
            (
                "UPDATE auth_api_keys SET revoked = ?2 WHERE created_by = ?1 AND revoked IS NULL",
                true,
            ),
            ("DELETE FROM auth_recovery_codes WHERE username = ?1", false),
            ("DELETE FROM auth_mfa WHERE username = ?1", false),
            ("DELETE FROM auth_users WHERE username = ?1", false),
            (
                "INSERT INTO auth_deleted_users (username, at) VALUES (?1, ?2)",
                true,
            ),
        ] {
            if p {
                tx.execute(sql, params![username, secs(now)])
            } else {
                tx.execute(sql, params![username])
            }
            .map_err(StoreError::sql("user deletion"))?;
        }
        tx.execute(
            "DELETE FROM auth_deleted_users WHERE at < ?1",
            params![secs(now.saturating_sub(DELETION_NOTE_SECS))],
        )
        .map_err(StoreError::sql("user deletion"))?;
        tx.commit().map_err(StoreError::sql("user deletion"))?;
        Ok(Some(DeletedUser { sessions, api_keys }))
    }

    fn users_deleted_since(&self, since: u64) -> Result<Vec<(String, u64)>, StoreError> {
        all(
            &self.lock(),
            "deleted users",
            "SELECT username, at FROM auth_deleted_users WHERE at >= ?1 ORDER BY at",
            params![secs(since)],
            |r| Ok((row::Row::get(r, 0)?, row::unsecs(row::Row::get(r, 1)?))),
        )
    }

    fn user_unlock(&self, username: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(q::USER_UNLOCK, params![username])
            .map_err(StoreError::sql("user unlock"))?;
        Ok(n == 1)
    }

    fn user_record_failure(
        &self,
        username: &str,
        lockout: &dyn Fn(u32) -> u64,
    ) -> Result<Option<u32>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("login failure"))?;
        let count: Option<i64> = tx
            .query_row(q::USER_FAILURE, params![username], |r| r.get(0))
            .optional()
            .map_err(StoreError::sql("login failure"))?;
        let Some(count) = count else {
            return Ok(None);
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let until = lockout(count);
        if until > 0 {
            tx.execute(
                "UPDATE auth_users SET locked_until = MAX(locked_until, ?2) WHERE username = ?1",
                params![username, secs(until)],
            )
            .map_err(StoreError::sql("login failure"))?;
        }
        tx.commit().map_err(StoreError::sql("login failure"))?;
        Ok(Some(count))
    }

    fn user_login_ok(
        &self,
        username: &str,
        now: u64,
        rehash: Option<&str>,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "UPDATE auth_users SET failures = 0, locked_until = 0, last_login = ?2, phc = COALESCE(?3, phc) WHERE username = ?1",
            params![username, secs(now), rehash],
        )
        .map_err(StoreError::sql("login bookkeeping"))?;
        Ok(())
    }

    fn family_start(
        &self,
        family: &FamilyRecord,
        token_hash: &[u8],
        now: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("session start"))?;
        let row = FamilyValues::new(family);
        tx.execute(q::FAMILY_START, bind(&row.values()))
            .map_err(StoreError::sql("session start"))?;
        tx.execute(q::REFRESH_INSERT, params![token_hash, family.id, secs(now)])
            .map_err(StoreError::sql("session start"))?;
        tx.commit().map_err(StoreError::sql("session start"))
    }

    fn refresh_lookup(
        &self,
        hash: &[u8],
    ) -> Result<Option<(RefreshRecord, FamilyRecord)>, StoreError> {
        first(
            &self.lock(),
            "refresh lookup",
            q::REFRESH_LOOKUP,
            params![hash],
            |r| row::refresh(r),
        )
    }

    fn refresh_rotate(
        &self,
        old_hash: &[u8],
        new_hash: &[u8],
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("refresh rotation"))?;
        let family: Option<String> = tx
            .query_row(
                "UPDATE auth_refresh_tokens SET used = ?2 WHERE hash = ?1 AND used IS NULL
                   AND family IN (SELECT id FROM auth_families WHERE revoked IS NULL)
                 RETURNING family",
                params![old_hash, secs(now)],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::sql("refresh rotation"))?;
        let Some(family) = family else {
            return Ok(false);
        };
        tx.execute(q::REFRESH_INSERT, params![new_hash, family, secs(now)])
            .map_err(StoreError::sql("refresh rotation"))?;
        tx.execute(q::FAMILY_TOUCH, params![family, secs(now)])
            .map_err(StoreError::sql("refresh rotation"))?;
        tx.commit().map_err(StoreError::sql("refresh rotation"))?;
        Ok(true)
    }

    fn family_revoke(&self, id: &str, now: u64, reason: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(q::FAMILY_REVOKE, params![id, secs(now), reason])
            .map_err(StoreError::sql("session revocation"))?;
        Ok(n == 1)
    }

    fn families_revoke_user(
        &self,
        username: &str,
        now: u64,
        reason: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("session revocation"))?;
        let ids = revoke_user_families(&tx, username, now, reason)?;
        tx.commit().map_err(StoreError::sql("session revocation"))?;
        Ok(ids)
    }

    fn families(
        &self,
        username: Option<&str>,
        live_at: Option<u64>,
    ) -> Result<Vec<FamilyRecord>, StoreError> {
        all(
            &self.lock(),
            "session listing",
            concat!(
                "SELECT ",
                family_columns!(),
                " FROM auth_families \
                 WHERE (?1 IS NULL OR username = ?1) \
                   AND (?2 IS NULL OR (revoked IS NULL AND expires > ?2)) \
                 ORDER BY created DESC, id"
            ),
            params![username, live_at.map(secs)],
            |r| row::family(r, 0),
        )
    }

    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
        first(
            &self.lock(),
            "session lookup",
            q::FAMILY,
            params![id],
            |r| row::family(r, 0),
        )
    }

    fn families_revoked_since(&self, since: u64) -> Result<Vec<FamilyRecord>, StoreError> {
        all(
            &self.lock(),
            "revocation listing",
            concat!(
                "SELECT ",
                family_columns!(),
                " FROM auth_families WHERE revoked >= ?1"
            ),
            params![secs(since)],
            |r| row::family(r, 0),
        )
    }

    fn audit_append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let conn = self.lock();
        let row = AuditValues::new(record);
        conn.execute(q::AUDIT_APPEND, bind(&row.values()))
            .map_err(StoreError::sql("audit append"))?;
        Ok(())
    }

    fn audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        all(
            &self.lock(),
            "audit listing",
            q::AUDIT,
            params![i64::from(limit)],
            |r| row::audit(r),
        )
    }

    fn reservation_put(&self, r: &Reservation) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("reservation write"))?;
        let taken: Option<String> = tx
            .query_row(
                q::RESERVATION_TAKEN,
                params![r.subnet, addr(r.address), r.hwaddr],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::sql("reservation write"))?;
        if taken.is_some() {
            return Ok(false);
        }
        let row = ReservationValues::new(r);
        tx.execute(
            concat!(
                "INSERT OR REPLACE INTO dhcp_reservations (",
                reservation_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            bind(&row.values()),
        )
        .map_err(StoreError::sql("reservation write"))?;
        tx.commit().map_err(StoreError::sql("reservation write"))?;
        Ok(true)
    }

    fn reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        all(
            &self.lock(),
            "reservation listing",
            q::RESERVATIONS,
            [],
            |r| row::reservation(r),
        )
    }

    fn reservation_delete(&self, subnet: &str, hwaddr: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("reservation delete"))?;
        let n = tx
            .execute(q::RESERVATION_DELETE, params![subnet, hwaddr])
            .map_err(StoreError::sql("reservation delete"))?;
        tx.execute(q::ATTRIBUTES_CLEAR, params![subnet, hwaddr])
            .map_err(StoreError::sql("reservation delete"))?;
        tx.commit().map_err(StoreError::sql("reservation delete"))?;
        Ok(n == 1)
    }

    fn reservation6_put(&self, r: &crate::Reservation6) -> Result<bool, StoreError> {
        const OP: &str = "DHCPv6 reservation write";
        let row = row::Reservation6Values::new(r);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(StoreError::sql(OP))?;
        let taken: Option<String> = tx
            .query_row(q::RESERVATION6_TAKEN, bind(&row.taken()), |r| r.get(0))
            .optional()
            .map_err(StoreError::sql(OP))?;
        if taken.is_some() {
            return Ok(false);
        }
        tx.execute(q::RESERVATION6_PUT, bind(&row.values()))
            .map_err(StoreError::sql(OP))?;
        tx.commit().map_err(StoreError::sql(OP))?;
        Ok(true)
    }

    fn reservations6(&self) -> Result<Vec<crate::Reservation6>, StoreError> {
        all(
            &self.lock(),
            "DHCPv6 reservation listing",
            q::RESERVATIONS6,
            [],
            |r| row::reservation6(r),
        )
    }

    fn reservation6_delete(
        &self,
        subnet: &str,
        key: &crate::Reservation6Key,
    ) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                q::RESERVATION6_DELETE,
                params![subnet, key.kind(), key.text()],
            )
            .map_err(StoreError::sql("DHCPv6 reservation delete"))?;
        Ok(n == 1)
    }

    fn reservation_attributes(
        &self,
        subnet: &str,
        hwaddr: &str,
    ) -> Result<Option<Attributes>, StoreError> {
        let conn = self.lock();
        attributes_of(&conn, subnet, hwaddr)
    }

    fn reservation_attributes_update(
        &self,
        subnet: &str,
        hwaddr: &str,
        changes: &BTreeMap<String, Option<String>>,
        replace: bool,
    ) -> Result<Option<Attributes>, StoreError> {
        const OP: &str = "reservation attributes write";
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(StoreError::sql(OP))?;
        if !reservation_exists(&tx, subnet, hwaddr)? {
            return Ok(None);
        }
        if replace {
            tx.execute(q::ATTRIBUTES_CLEAR, params![subnet, hwaddr])
                .map_err(StoreError::sql(OP))?;
        }
        for (name, value) in changes {
            match value {
                Some(v) => tx.execute(q::ATTRIBUTE_SET, params![subnet, hwaddr, name, v]),
                None => tx.execute(q::ATTRIBUTE_DELETE, params![subnet, hwaddr, name]),
            }
            .map_err(StoreError::sql(OP))?;
        }
        let after = attributes_of(&tx, subnet, hwaddr)?;
        tx.commit().map_err(StoreError::sql(OP))?;
        Ok(after)
    }
}

fn reservation_exists(
    conn: &rusqlite::Connection,
    subnet: &str,
    hwaddr: &str,
) -> Result<bool, StoreError> {
    Ok(first(
        conn,
        "reservation lookup",
        q::RESERVATION_EXISTS,
        params![subnet, hwaddr],
        |_| Ok(()),
    )?
    .is_some())
}

/// The attributes of a reservation; `None` if there is no such reservation.
fn attributes_of(
    conn: &rusqlite::Connection,
    subnet: &str,
    hwaddr: &str,
) -> Result<Option<Attributes>, StoreError> {
    if !reservation_exists(conn, subnet, hwaddr)? {
        return Ok(None);
    }
    let pairs = all(
        conn,
        "reservation attributes lookup",
        q::ATTRIBUTES,
        params![subnet, hwaddr],
        |r| Ok((row::Row::get(r, 0)?, row::Row::get(r, 1)?)),
    )?;
    Ok(Some(pairs.into_iter().collect()))
}
