//! [`SsoStore`] on the PostgreSQL backend: a session signed in on one
//! server can be checked with the provider by every server sharing the
//! database.

use super::PostgresBackend;
use crate::StoreError;
use crate::row::secs;
use crate::sso::{SsoRecord, SsoStore, sso_row};

impl SsoStore for PostgresBackend {
    fn sso_put(&self, rec: &SsoRecord) -> Result<bool, StoreError> {
        let rec = rec.clone();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "INSERT INTO auth_sso_sessions (family, sealed, kek_id, checked, started) \
                     SELECT id, $2, $3, $4, $5 FROM auth_families WHERE id = $1 \
                     ON CONFLICT (family) DO UPDATE SET sealed = EXCLUDED.sealed, \
                     kek_id = EXCLUDED.kek_id, checked = EXCLUDED.checked, started = EXCLUDED.started",
                    &[
                        &rec.family,
                        &rec.sealed,
                        &rec.kek_id,
                        &secs(rec.checked),
                        &secs(rec.started),
                    ],
                )
                .map_err(StoreError::pg("sso session"))?;
            Ok(n == 1)
        })
    }

    fn sso_get(&self, family: &str) -> Result<Option<SsoRecord>, StoreError> {
        let family = family.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(
                "SELECT family, sealed, kek_id, checked, started FROM auth_sso_sessions WHERE family = $1",
                &[&family],
            )
            .map_err(StoreError::pg("sso session lookup"))?
            .as_ref()
            .map(sso_row)
            .transpose()
        })
    }

    fn sso_delete(&self, family: &str) -> Result<bool, StoreError> {
        let family = family.to_owned();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "DELETE FROM auth_sso_sessions WHERE family = $1",
                    &[&family],
                )
                .map_err(StoreError::pg("sso session removal"))?;
            Ok(n == 1)
        })
    }
}
