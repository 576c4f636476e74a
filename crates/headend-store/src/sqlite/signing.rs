//! [`KeyStore`] on the SQLite backend.

use rusqlite::params;

use super::{SqliteBackend, all};
use crate::StoreError;
use crate::row::secs;
use crate::signing::{KeyStore, Purge, Purged, SigningKeyRecord, signing_key};
use crate::sql::sqlite as q;

impl KeyStore for SqliteBackend {
    fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        all(&self.lock(), "signing keys", q::SIGNING_KEYS, [], |r| {
            signing_key(r)
        })
    }

    fn signing_key_insert(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                q::SIGNING_KEY_INSERT,
                params![
                    key.kid,
                    key.sealed,
                    key.kek_id,
                    secs(key.signs_from),
                    secs(key.created)
                ],
            )
            .map_err(StoreError::sql("signing key insert"))?;
        Ok(n == 1)
    }

    fn signing_key_delete(&self, kid: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(q::SIGNING_KEY_DELETE, params![kid])
            .map_err(StoreError::sql("signing key delete"))?;
        Ok(n == 1)
    }

    fn purge(&self, purge: &Purge) -> Result<Purged, StoreError> {
        let op = "retention sweep";
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(StoreError::sql(op))?;
        let run = |sql: &str, at: u64| -> Result<u64, StoreError> {
            let n = tx
                .execute(sql, params![secs(at)])
                .map_err(StoreError::sql(op))?;
            Ok(n as u64)
        };
        let mut out = Purged {
            refresh_tokens: run(q::PURGE_REFRESH, purge.families_before)?,
            families: run(q::PURGE_FAMILIES, purge.families_before)?,
            ..Purged::default()
        };
        if let Some(at) = purge.audit_before {
            out.audit = run(q::PURGE_AUDIT, at)?;
        }
        out.api_keys = run(q::PURGE_API_KEYS, purge.api_keys_before)?
            + run(q::PURGE_API_KEY_PREV, purge.api_keys_before)?;
        tx.commit().map_err(StoreError::sql(op))?;
        Ok(out)
    }
}
