//! [`MfaStore`] on the SQLite backend.

use rusqlite::params;

use super::{SqliteBackend, all, first};
use crate::StoreError;
use crate::mfa::{MfaRecord, MfaStore, mfa_row};
use crate::row::{self, secs};

impl MfaStore for SqliteBackend {
    fn mfa(&self, username: &str) -> Result<Option<MfaRecord>, StoreError> {
        first(
            &self.lock(),
            "mfa lookup",
            "SELECT username, secret, confirmed, last_step, created FROM auth_mfa WHERE username = ?1",
            params![username],
            |r| mfa_row(r),
        )
    }

    fn mfa_users(&self) -> Result<Vec<String>, StoreError> {
        all(
            &self.lock(),
            "mfa listing",
            "SELECT username FROM auth_mfa WHERE confirmed IS NOT NULL ORDER BY username",
            [],
            |r| row::Row::get(r, 0),
        )
    }

    fn mfa_begin(&self, username: &str, secret: &[u8], now: u64) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("mfa enrolment"))?;
        let user: Option<i64> = first(
            &tx,
            "mfa enrolment",
            "SELECT 1 FROM auth_users WHERE username = ?1",
            params![username],
            |r| row::Row::get(r, 0),
        )?;
        let confirmed: Option<Option<i64>> = first(
            &tx,
            "mfa enrolment",
            "SELECT confirmed FROM auth_mfa WHERE username = ?1",
            params![username],
            |r| row::Row::get(r, 0),
        )?;
        if user.is_none() || matches!(confirmed, Some(Some(_))) {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR REPLACE INTO auth_mfa (username, secret, confirmed, last_step, created) \
             VALUES (?1, ?2, NULL, 0, ?3)",
            params![username, secret, secs(now)],
        )
        .map_err(StoreError::sql("mfa enrolment"))?;
        tx.commit().map_err(StoreError::sql("mfa enrolment"))?;
        Ok(true)
    }

    fn mfa_confirm(
        &self,
        username: &str,
        step: u64,
        recovery: &[Vec<u8>],
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction()
            .map_err(StoreError::sql("mfa confirmation"))?;
        let n = tx
            .execute(
                "UPDATE auth_mfa SET confirmed = ?2, last_step = ?3 \
                 WHERE username = ?1 AND confirmed IS NULL",
                params![username, secs(now), secs(step)],
            )
            .map_err(StoreError::sql("mfa confirmation"))?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM auth_recovery_codes WHERE username = ?1",
            params![username],
        )
        .map_err(StoreError::sql("mfa confirmation"))?;
        for hash in recovery {
            tx.execute(
                "INSERT OR IGNORE INTO auth_recovery_codes (username, hash, used) VALUES (?1, ?2, NULL)",
                params![username, hash],
            )
            .map_err(StoreError::sql("mfa confirmation"))?;
        }
        tx.commit().map_err(StoreError::sql("mfa confirmation"))?;
        Ok(true)
    }

    fn mfa_spend_step(&self, username: &str, step: u64) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE auth_mfa SET last_step = ?2 \
                 WHERE username = ?1 AND confirmed IS NOT NULL AND last_step < ?2",
                params![username, secs(step)],
            )
            .map_err(StoreError::sql("mfa code"))?;
        Ok(n == 1)
    }

    fn mfa_spend_recovery(
        &self,
        username: &str,
        hash: &[u8],
        now: u64,
    ) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE auth_recovery_codes SET used = ?3 \
                 WHERE username = ?1 AND hash = ?2 AND used IS NULL",
                params![username, hash, secs(now)],
            )
            .map_err(StoreError::sql("recovery code"))?;
        Ok(n == 1)
    }

    fn mfa_recovery_left(&self, username: &str) -> Result<u32, StoreError> {
        let n: Option<i64> = first(
            &self.lock(),
            "recovery codes",
            "SELECT COUNT(*) FROM auth_recovery_codes WHERE username = ?1 AND used IS NULL",
            params![username],
            |r| row::Row::get(r, 0),
        )?;
        Ok(u32::try_from(n.unwrap_or(0)).unwrap_or(0))
    }

    fn mfa_remove(&self, username: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(StoreError::sql("mfa removal"))?;
        tx.execute(
            "DELETE FROM auth_recovery_codes WHERE username = ?1",
            params![username],
        )
        .map_err(StoreError::sql("mfa removal"))?;
        let n = tx
            .execute(
                "DELETE FROM auth_mfa WHERE username = ?1",
                params![username],
            )
            .map_err(StoreError::sql("mfa removal"))?;
        tx.commit().map_err(StoreError::sql("mfa removal"))?;
        Ok(n == 1)
    }
}
