//! [`KeyStore`] on the PostgreSQL backend: every server sharing the
//! database reads the same signing keys; two servers making the key for the
//! same instant race on the unique `signs_from`, and one of them wins.

use super::PostgresBackend;
use crate::StoreError;
use crate::row::secs;
use crate::signing::{KeyStore, Purge, Purged, SigningKeyRecord, signing_key};
use crate::sql::postgres as q;

impl KeyStore for PostgresBackend {
    fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(q::SIGNING_KEYS, &[])
                .map_err(StoreError::pg("signing keys"))?;
            rows.iter().map(signing_key).collect()
        })
    }

    fn signing_key_insert(&self, key: &SigningKeyRecord) -> Result<bool, StoreError> {
        let k = key.clone();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    q::SIGNING_KEY_INSERT,
                    &[
                        &k.kid,
                        &k.sealed,
                        &k.kek_id,
                        &secs(k.signs_from),
                        &secs(k.created),
                    ],
                )
                .map_err(StoreError::pg("signing key insert"))?;
            Ok(n == 1)
        })
    }

    fn signing_key_delete(&self, kid: &str) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(q::SIGNING_KEY_DELETE, &[&kid])
                .map_err(StoreError::pg("signing key delete"))?;
            Ok(n == 1)
        })
    }

    fn purge(&self, purge: &Purge) -> Result<Purged, StoreError> {
        let purge = *purge;
        self.reader()?.conn().run(move |s| {
            s.atomically("retention sweep", |s| {
                let mut run = |sql: &'static str, at: u64| {
                    s.execute(sql, &[&secs(at)])
                        .map_err(StoreError::pg("retention sweep"))
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
                Ok(out)
            })
        })
    }
}
