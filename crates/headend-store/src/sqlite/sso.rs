//! [`SsoStore`] on the SQLite backend.

use rusqlite::params;

use super::{SqliteBackend, first};
use crate::StoreError;
use crate::row::secs;
use crate::sso::{SsoRecord, SsoStore, sso_row};

impl SsoStore for SqliteBackend {
    fn sso_put(&self, rec: &SsoRecord) -> Result<bool, StoreError> {
        // `WHERE true`: SQLite's upsert after a SELECT needs a WHERE clause.
        let n = self
            .lock()
            .execute(
                "INSERT INTO auth_sso_sessions (family, sealed, kek_id, checked, started) \
                 SELECT id, ?2, ?3, ?4, ?5 FROM auth_families WHERE id = ?1 AND true \
                 ON CONFLICT (family) DO UPDATE SET sealed = excluded.sealed, \
                 kek_id = excluded.kek_id, checked = excluded.checked, started = excluded.started",
                params![
                    rec.family,
                    rec.sealed,
                    rec.kek_id,
                    secs(rec.checked),
                    secs(rec.started)
                ],
            )
            .map_err(StoreError::sql("sso session"))?;
        Ok(n == 1)
    }

    fn sso_get(&self, family: &str) -> Result<Option<SsoRecord>, StoreError> {
        first(
            &self.lock(),
            "sso session lookup",
            "SELECT family, sealed, kek_id, checked, started FROM auth_sso_sessions WHERE family = ?1",
            params![family],
            |r| sso_row(r),
        )
    }

    fn sso_delete(&self, family: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "DELETE FROM auth_sso_sessions WHERE family = ?1",
                params![family],
            )
            .map_err(StoreError::sql("sso session removal"))?;
        Ok(n == 1)
    }
}
