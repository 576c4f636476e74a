//! [`AuthStore`] on the SQLite backend: same connection and write lock as the
//! leases, one SQLite transaction per change.

use std::net::Ipv4Addr;

use rusqlite::{OptionalExtension, Row, params};

use super::SqliteBackend;
use crate::StoreError;
use crate::auth::{AuditRecord, AuthStore, FamilyRecord, RefreshRecord, Reservation, UserRecord};

const USER_COLUMNS: &str =
    "username, phc, role, disabled, failures, locked_until, last_login, not_before, created";
const FAMILY_COLUMNS: &str =
    "id, username, created, expires, last_used, source, revoked, revoke_reason";

fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsecs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn read_user(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        username: row.get(0)?,
        phc: row.get(1)?,
        role: row.get(2)?,
        disabled: row.get::<_, i64>(3)? != 0,
        failures: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(u32::MAX),
        locked_until: unsecs(row.get(5)?),
        last_login: row.get::<_, Option<i64>>(6)?.map(unsecs),
        not_before: unsecs(row.get(7)?),
        created: unsecs(row.get(8)?),
    })
}

fn read_family(row: &Row<'_>, at: usize) -> rusqlite::Result<FamilyRecord> {
    Ok(FamilyRecord {
        id: row.get(at)?,
        username: row.get(at + 1)?,
        created: unsecs(row.get(at + 2)?),
        expires: unsecs(row.get(at + 3)?),
        last_used: unsecs(row.get(at + 4)?),
        source: row.get(at + 5)?,
        revoked: row.get::<_, Option<i64>>(at + 6)?.map(unsecs),
        revoke_reason: row.get(at + 7)?,
    })
}

fn read_audit(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0)?,
        at: unsecs(row.get(1)?),
        actor: row.get(2)?,
        source: row.get(3)?,
        action: row.get(4)?,
        target: row.get(5)?,
        result: row.get(6)?,
        detail: row.get(7)?,
    })
}

fn read_reservation(row: &Row<'_>) -> rusqlite::Result<Reservation> {
    Ok(Reservation {
        subnet: row.get(0)?,
        hwaddr: row.get(1)?,
        address: Ipv4Addr::from(row.get::<_, u32>(2)?),
        hostname: row.get(3)?,
        created: unsecs(row.get(4)?),
    })
}

fn collect<T>(
    rows: impl Iterator<Item = rusqlite::Result<T>>,
    operation: &'static str,
) -> Result<Vec<T>, StoreError> {
    rows.map(|r| r.map_err(StoreError::sql(operation)))
        .collect()
}

/// Revokes the live families of `username` inside an open transaction.
fn revoke_user_families(
    tx: &rusqlite::Transaction<'_>,
    username: &str,
    now: u64,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    let ids = {
        let mut stmt = tx
            .prepare_cached("SELECT id FROM auth_families WHERE username = ?1 AND revoked IS NULL")
            .map_err(StoreError::sql("family revocation"))?;
        let rows = stmt
            .query_map(params![username], |r| r.get::<_, String>(0))
            .map_err(StoreError::sql("family revocation"))?;
        collect(rows, "family revocation")?
    };
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
        let n = conn
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO auth_users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    user.username,
                    user.phc,
                    user.role,
                    i64::from(user.disabled),
                    i64::from(user.failures),
                    secs(user.locked_until),
                    user.last_login.map(secs),
                    secs(user.not_before),
                    secs(user.created)
                ],
            )
            .map_err(StoreError::sql("user insert"))?;
        Ok(n == 1)
    }

    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let conn = self.lock();
        conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM auth_users WHERE username = ?1"
        ))
        .and_then(|mut s| s.query_row(params![username], read_user).optional())
        .map_err(StoreError::sql("user lookup"))
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM auth_users ORDER BY username"
            ))
            .map_err(StoreError::sql("user listing"))?;
        let rows = stmt
            .query_map([], read_user)
            .map_err(StoreError::sql("user listing"))?;
        collect(rows, "user listing")
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
            .execute(
                "UPDATE auth_users SET phc = ?2, not_before = ?3, failures = 0, locked_until = 0 WHERE username = ?1",
                params![username, phc, secs(now)],
            )
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

    fn user_unlock(&self, username: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE auth_users SET failures = 0, locked_until = 0 WHERE username = ?1",
                params![username],
            )
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
            .query_row(
                "UPDATE auth_users SET failures = failures + 1 WHERE username = ?1 RETURNING failures",
                params![username],
                |r| r.get(0),
            )
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
        tx.execute(
            &format!("INSERT INTO auth_families ({FAMILY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL)"),
            params![
                family.id,
                family.username,
                secs(family.created),
                secs(family.expires),
                secs(family.last_used),
                family.source
            ],
        )
        .map_err(StoreError::sql("session start"))?;
        tx.execute(
            "INSERT INTO auth_refresh_tokens (hash, family, issued, used) VALUES (?1, ?2, ?3, NULL)",
            params![token_hash, family.id, secs(now)],
        )
        .map_err(StoreError::sql("session start"))?;
        tx.commit().map_err(StoreError::sql("session start"))
    }

    fn refresh_lookup(
        &self,
        hash: &[u8],
    ) -> Result<Option<(RefreshRecord, FamilyRecord)>, StoreError> {
        let conn = self.lock();
        let sql = "SELECT t.hash, t.family, t.issued, t.used, f.id, f.username, f.created, f.expires, f.last_used, f.source, f.revoked, f.revoke_reason
                   FROM auth_refresh_tokens t JOIN auth_families f ON f.id = t.family WHERE t.hash = ?1";
        conn.prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(params![hash], |row| {
                    Ok((
                        RefreshRecord {
                            hash: row.get(0)?,
                            family: row.get(1)?,
                            issued: unsecs(row.get(2)?),
                            used: row.get::<_, Option<i64>>(3)?.map(unsecs),
                        },
                        read_family(row, 4)?,
                    ))
                })
                .optional()
            })
            .map_err(StoreError::sql("refresh lookup"))
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
        tx.execute(
            "INSERT INTO auth_refresh_tokens (hash, family, issued, used) VALUES (?1, ?2, ?3, NULL)",
            params![new_hash, family, secs(now)],
        )
        .map_err(StoreError::sql("refresh rotation"))?;
        tx.execute(
            "UPDATE auth_families SET last_used = ?2 WHERE id = ?1",
            params![family, secs(now)],
        )
        .map_err(StoreError::sql("refresh rotation"))?;
        tx.commit().map_err(StoreError::sql("refresh rotation"))?;
        Ok(true)
    }

    fn family_revoke(&self, id: &str, now: u64, reason: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE auth_families SET revoked = ?2, revoke_reason = ?3 WHERE id = ?1 AND revoked IS NULL",
                params![id, secs(now), reason],
            )
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
        let conn = self.lock();
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM auth_families
             WHERE (?1 IS NULL OR username = ?1)
               AND (?2 IS NULL OR (revoked IS NULL AND expires > ?2))
             ORDER BY created DESC, id"
        );
        let mut stmt = conn
            .prepare_cached(&sql)
            .map_err(StoreError::sql("session listing"))?;
        let rows = stmt
            .query_map(params![username, live_at.map(secs)], |r| read_family(r, 0))
            .map_err(StoreError::sql("session listing"))?;
        collect(rows, "session listing")
    }

    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
        let conn = self.lock();
        conn.prepare_cached(&format!(
            "SELECT {FAMILY_COLUMNS} FROM auth_families WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row(params![id], |r| read_family(r, 0)).optional())
        .map_err(StoreError::sql("session lookup"))
    }

    fn families_revoked_since(&self, since: u64) -> Result<Vec<FamilyRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {FAMILY_COLUMNS} FROM auth_families WHERE revoked >= ?1"
            ))
            .map_err(StoreError::sql("revocation listing"))?;
        let rows = stmt
            .query_map(params![secs(since)], |r| read_family(r, 0))
            .map_err(StoreError::sql("revocation listing"))?;
        collect(rows, "revocation listing")
    }

    fn audit_append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO audit_log (at, actor, source, action, target, result, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                secs(record.at),
                record.actor,
                record.source,
                record.action,
                record.target,
                record.result,
                record.detail
            ],
        )
        .map_err(StoreError::sql("audit append"))?;
        Ok(())
    }

    fn audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, at, actor, source, action, target, result, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )
            .map_err(StoreError::sql("audit listing"))?;
        let rows = stmt
            .query_map(params![i64::from(limit)], read_audit)
            .map_err(StoreError::sql("audit listing"))?;
        collect(rows, "audit listing")
    }

    fn reservation_put(&self, r: &Reservation) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("reservation write"))?;
        let taken: Option<String> = tx
            .query_row(
                "SELECT hwaddr FROM dhcp_reservations WHERE subnet = ?1 AND address = ?2 AND hwaddr <> ?3",
                params![r.subnet, u32::from(r.address), r.hwaddr],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::sql("reservation write"))?;
        if taken.is_some() {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR REPLACE INTO dhcp_reservations (subnet, hwaddr, address, hostname, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.subnet, r.hwaddr, u32::from(r.address), r.hostname, secs(r.created)],
        )
        .map_err(StoreError::sql("reservation write"))?;
        tx.commit().map_err(StoreError::sql("reservation write"))?;
        Ok(true)
    }

    fn reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT subnet, hwaddr, address, hostname, created FROM dhcp_reservations ORDER BY subnet, address",
            )
            .map_err(StoreError::sql("reservation listing"))?;
        let rows = stmt
            .query_map([], read_reservation)
            .map_err(StoreError::sql("reservation listing"))?;
        collect(rows, "reservation listing")
    }

    fn reservation_delete(&self, subnet: &str, hwaddr: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "DELETE FROM dhcp_reservations WHERE subnet = ?1 AND hwaddr = ?2",
                params![subnet, hwaddr],
            )
            .map_err(StoreError::sql("reservation delete"))?;
        Ok(n == 1)
    }
}
