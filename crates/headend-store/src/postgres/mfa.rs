//! [`MfaStore`] on the PostgreSQL backend: a code spent on one server is
//! spent for every server sharing the database.

use super::{PostgresBackend, get};
use crate::StoreError;
use crate::mfa::{MfaRecord, MfaStore, mfa_row};
use crate::row::secs;

impl MfaStore for PostgresBackend {
    fn mfa(&self, username: &str) -> Result<Option<MfaRecord>, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(
                "SELECT username, secret, confirmed, last_step, created FROM auth_mfa WHERE username = $1",
                &[&username],
            )
            .map_err(StoreError::pg("mfa lookup"))?
            .as_ref()
            .map(mfa_row)
            .transpose()
        })
    }

    fn mfa_users(&self) -> Result<Vec<String>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(
                    "SELECT username FROM auth_mfa WHERE confirmed IS NOT NULL ORDER BY username",
                    &[],
                )
                .map_err(StoreError::pg("mfa listing"))?;
            rows.iter().map(|r| get(r, 0)).collect()
        })
    }

    fn mfa_begin(&self, username: &str, secret: &[u8], now: u64) -> Result<bool, StoreError> {
        let (username, secret) = (username.to_owned(), secret.to_vec());
        self.reader()?.conn().run(move |s| {
            // One statement: inserted only for an existing user, replacing
            // only an unconfirmed enrolment.
            let n = s
                .execute(
                    "INSERT INTO auth_mfa (username, secret, confirmed, last_step, created) \
                     SELECT username, $2, NULL, 0, $3 FROM auth_users WHERE username = $1 \
                     ON CONFLICT (username) DO UPDATE SET secret = EXCLUDED.secret, \
                     created = EXCLUDED.created, last_step = 0 WHERE auth_mfa.confirmed IS NULL",
                    &[&username, &secret, &secs(now)],
                )
                .map_err(StoreError::pg("mfa enrolment"))?;
            Ok(n == 1)
        })
    }

    fn mfa_confirm(
        &self,
        username: &str,
        step: u64,
        recovery: &[Vec<u8>],
        now: u64,
    ) -> Result<bool, StoreError> {
        let (username, recovery) = (username.to_owned(), recovery.to_vec());
        self.reader()?.conn().run(move |s| {
            s.atomically("mfa confirmation", |s| {
                let n = s
                    .execute(
                        "UPDATE auth_mfa SET confirmed = $2, last_step = $3 \
                         WHERE username = $1 AND confirmed IS NULL",
                        &[&username, &secs(now), &secs(step)],
                    )
                    .map_err(StoreError::pg("mfa confirmation"))?;
                if n == 0 {
                    return Ok(false);
                }
                s.execute(
                    "DELETE FROM auth_recovery_codes WHERE username = $1",
                    &[&username],
                )
                .map_err(StoreError::pg("mfa confirmation"))?;
                for hash in &recovery {
                    s.execute(
                        "INSERT INTO auth_recovery_codes (username, hash, used) VALUES ($1, $2, NULL) \
                         ON CONFLICT DO NOTHING",
                        &[&username, hash],
                    )
                    .map_err(StoreError::pg("mfa confirmation"))?;
                }
                Ok(true)
            })
        })
    }

    fn mfa_spend_step(&self, username: &str, step: u64) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_mfa SET last_step = $2 \
                     WHERE username = $1 AND confirmed IS NOT NULL AND last_step < $2",
                    &[&username, &secs(step)],
                )
                .map_err(StoreError::pg("mfa code"))?;
            Ok(n == 1)
        })
    }

    fn mfa_spend_recovery(
        &self,
        username: &str,
        hash: &[u8],
        now: u64,
    ) -> Result<bool, StoreError> {
        let (username, hash) = (username.to_owned(), hash.to_vec());
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_recovery_codes SET used = $3 \
                     WHERE username = $1 AND hash = $2 AND used IS NULL",
                    &[&username, &hash, &secs(now)],
                )
                .map_err(StoreError::pg("recovery code"))?;
            Ok(n == 1)
        })
    }

    fn mfa_recovery_left(&self, username: &str) -> Result<u32, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            let row = s
                .query_first(
                    "SELECT COUNT(*) FROM auth_recovery_codes WHERE username = $1 AND used IS NULL",
                    &[&username],
                )
                .map_err(StoreError::pg("recovery codes"))?;
            let n: i64 = match row {
                Some(r) => get(&r, 0)?,
                None => 0,
            };
            Ok(u32::try_from(n).unwrap_or(0))
        })
    }

    fn mfa_remove(&self, username: &str) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            s.atomically("mfa removal", |s| {
                s.execute(
                    "DELETE FROM auth_recovery_codes WHERE username = $1",
                    &[&username],
                )
                .map_err(StoreError::pg("mfa removal"))?;
                let n = s
                    .execute("DELETE FROM auth_mfa WHERE username = $1", &[&username])
                    .map_err(StoreError::pg("mfa removal"))?;
                Ok(n == 1)
            })
        })
    }
}
