//! [`AuthStore`] on the PostgreSQL backend: pooled connections, each change
//! one transaction (at PostgreSQL's default READ COMMITTED, with row locks or
//! conditional updates where two servers could race).

use std::net::Ipv4Addr;

use ::postgres::Row;

use super::{PostgresBackend, addr, get, pg, secs, unaddr, unsecs};
use crate::StoreError;
use crate::auth::{AuditRecord, AuthStore, FamilyRecord, RefreshRecord, Reservation, UserRecord};
use crate::pg_conn::Session;

/// The user columns, in the order [`read_user`] reads them.
macro_rules! user_columns {
    () => {
        "username, phc, role, disabled, failures, locked_until, last_login, not_before, created"
    };
}

/// The family columns, in the order [`read_family`] reads them.
macro_rules! family_columns {
    () => {
        "id, username, created, expires, last_used, source, revoked, revoke_reason"
    };
}

fn read_user(row: &Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: get(row, 0)?,
        phc: get(row, 1)?,
        role: get(row, 2)?,
        disabled: get(row, 3)?,
        failures: u32::try_from(get::<i64>(row, 4)?).unwrap_or(u32::MAX),
        locked_until: unsecs(get(row, 5)?),
        last_login: get::<Option<i64>>(row, 6)?.map(unsecs),
        not_before: unsecs(get(row, 7)?),
        created: unsecs(get(row, 8)?),
    })
}

fn read_family(row: &Row, at: usize) -> Result<FamilyRecord, StoreError> {
    Ok(FamilyRecord {
        id: get(row, at)?,
        username: get(row, at + 1)?,
        created: unsecs(get(row, at + 2)?),
        expires: unsecs(get(row, at + 3)?),
        last_used: unsecs(get(row, at + 4)?),
        source: get(row, at + 5)?,
        revoked: get::<Option<i64>>(row, at + 6)?.map(unsecs),
        revoke_reason: get(row, at + 7)?,
    })
}

fn read_families(rows: &[Row]) -> Result<Vec<FamilyRecord>, StoreError> {
    rows.iter().map(|r| read_family(r, 0)).collect()
}

fn read_audit(row: &Row) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: get(row, 0)?,
        at: unsecs(get(row, 1)?),
        actor: get(row, 2)?,
        source: get(row, 3)?,
        action: get(row, 4)?,
        target: get(row, 5)?,
        result: get(row, 6)?,
        detail: get(row, 7)?,
    })
}

fn read_reservation(row: &Row) -> Result<Reservation, StoreError> {
    Ok(Reservation {
        subnet: get(row, 0)?,
        hwaddr: get(row, 1)?,
        address: unaddr(get(row, 2)?)?,
        hostname: get(row, 3)?,
        created: unsecs(get(row, 4)?),
    })
}

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
        .map_err(pg("family revocation"))?;
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
            let n = s
                .execute(
                    concat!(
                        "INSERT INTO auth_users (",
                        user_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (username) DO NOTHING"
                    ),
                    &[
                        &u.username,
                        &u.phc,
                        &u.role,
                        &u.disabled,
                        &i64::from(u.failures),
                        &secs(u.locked_until),
                        &u.last_login.map(secs),
                        &secs(u.not_before),
                        &secs(u.created),
                    ],
                )
                .map_err(pg("user insert"))?;
            Ok(n == 1)
        })
    }

    fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(
                concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM auth_users WHERE username = $1"
                ),
                &[&username],
            )
            .map_err(pg("user lookup"))?
            .as_ref()
            .map(read_user)
            .transpose()
        })
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(
                    concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM auth_users ORDER BY username"
                    ),
                    &[],
                )
                .map_err(pg("user listing"))?;
            rows.iter().map(read_user).collect()
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
                    .execute(
                        "UPDATE auth_users SET phc = $2, not_before = $3, failures = 0, locked_until = 0 \
                         WHERE username = $1",
                        &[&username, &phc, &secs(now)],
                    )
                    .map_err(pg("password change"))?;
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
                .map_err(pg("user disable"))?;
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

    fn user_unlock(&self, username: &str) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_users SET failures = 0, locked_until = 0 WHERE username = $1",
                    &[&username],
                )
                .map_err(pg("user unlock"))?;
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
            s.query_first(
                "UPDATE auth_users SET failures = failures + 1 WHERE username = $1 RETURNING failures",
                &[&name],
            )
            .map_err(pg("login failure"))?
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
                .map_err(pg("login failure"))
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
            .map_err(pg("login bookkeeping"))?;
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
                s.execute(
                    concat!(
                        "INSERT INTO auth_families (",
                        family_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)"
                    ),
                    &[
                        &f.id,
                        &f.username,
                        &secs(f.created),
                        &secs(f.expires),
                        &secs(f.last_used),
                        &f.source,
                    ],
                )
                .map_err(pg("session start"))?;
                s.execute(
                    "INSERT INTO auth_refresh_tokens (hash, family, issued, used) VALUES ($1, $2, $3, NULL)",
                    &[&hash, &f.id, &secs(now)],
                )
                .map_err(pg("session start"))?;
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
            let row = s
                .query_first(
                    "SELECT t.hash, t.family, t.issued, t.used, f.id, f.username, f.created, f.expires, \
                     f.last_used, f.source, f.revoked, f.revoke_reason \
                     FROM auth_refresh_tokens t JOIN auth_families f ON f.id = t.family WHERE t.hash = $1",
                    &[&hash],
                )
                .map_err(pg("refresh lookup"))?;
            let Some(row) = row else {
                return Ok(None);
            };
            Ok(Some((
                RefreshRecord {
                    hash: get(&row, 0)?,
                    family: get(&row, 1)?,
                    issued: unsecs(get(&row, 2)?),
                    used: get::<Option<i64>>(&row, 3)?.map(unsecs),
                },
                read_family(&row, 4)?,
            )))
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
                    .map_err(pg("refresh rotation"))?;
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
                    .map_err(pg("refresh rotation"))?;
                let Some(family) = family else {
                    return Ok(false);
                };
                let family: String = get(&family, 0)?;
                s.execute(
                    "INSERT INTO auth_refresh_tokens (hash, family, issued, used) VALUES ($1, $2, $3, NULL)",
                    &[&new, &family, &secs(now)],
                )
                .map_err(pg("refresh rotation"))?;
                s.execute(
                    "UPDATE auth_families SET last_used = $2 WHERE id = $1",
                    &[&family, &secs(now)],
                )
                .map_err(pg("refresh rotation"))?;
                Ok(true)
            })
        })
    }

    fn family_revoke(&self, id: &str, now: u64, reason: &str) -> Result<bool, StoreError> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_families SET revoked = $2, revoke_reason = $3 WHERE id = $1 AND revoked IS NULL",
                    &[&id, &secs(now), &reason],
                )
                .map_err(pg("session revocation"))?;
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
                .map_err(pg("session listing"))?;
            read_families(&rows)
        })
    }

    fn family(&self, id: &str) -> Result<Option<FamilyRecord>, StoreError> {
        let id = id.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(
                concat!(
                    "SELECT ",
                    family_columns!(),
                    " FROM auth_families WHERE id = $1"
                ),
                &[&id],
            )
            .map_err(pg("session lookup"))?
            .map(|r| read_family(&r, 0))
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
                .map_err(pg("revocation listing"))?;
            read_families(&rows)
        })
    }

    fn audit_append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let r = record.clone();
        self.reader()?.conn().run(move |s| {
            s.execute(
                "INSERT INTO audit_log (at, actor, source, action, target, result, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &secs(r.at),
                    &r.actor,
                    &r.source,
                    &r.action,
                    &r.target,
                    &r.result,
                    &r.detail,
                ],
            )
            .map_err(pg("audit append"))?;
            Ok(())
        })
    }

    fn audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.reader()?.conn().run(move |s| {
            let rows = s
                .query(
                    "SELECT id, at, actor, source, action, target, result, detail FROM audit_log \
                     ORDER BY id DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .map_err(pg("audit listing"))?;
            rows.iter().map(read_audit).collect()
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
                .map_err(pg("reservation write"))?;
                let taken = s
                    .query_first(
                        "SELECT hwaddr FROM dhcp_reservations WHERE subnet = $1 AND address = $2 AND hwaddr <> $3",
                        &[&r.subnet, &addr(r.address), &r.hwaddr],
                    )
                    .map_err(pg("reservation write"))?;
                if taken.is_some() {
                    return Ok(false);
                }
                s.execute(
                    "INSERT INTO dhcp_reservations (subnet, hwaddr, address, hostname, created) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subnet, hwaddr) DO UPDATE SET \
                     address = EXCLUDED.address, hostname = EXCLUDED.hostname, created = EXCLUDED.created",
                    &[&r.subnet, &r.hwaddr, &addr(r.address), &r.hostname, &secs(r.created)],
                )
                .map_err(pg("reservation write"))?;
                Ok(true)
            })
        })
    }

    fn reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(
                    "SELECT subnet, hwaddr, address, hostname, created FROM dhcp_reservations \
                     ORDER BY subnet, address",
                    &[],
                )
                .map_err(pg("reservation listing"))?;
            rows.iter().map(read_reservation).collect()
        })
    }

    fn reservation_delete(&self, subnet: &str, hwaddr: &str) -> Result<bool, StoreError> {
        let (subnet, hwaddr) = (subnet.to_owned(), hwaddr.to_owned());
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "DELETE FROM dhcp_reservations WHERE subnet = $1 AND hwaddr = $2",
                    &[&subnet, &hwaddr],
                )
                .map_err(pg("reservation delete"))?;
            Ok(n == 1)
        })
    }
}
