//! [`ApiKeyStore`] on the PostgreSQL backend: every server sharing the
//! database sees a revocation or rotation on its next lookup.

use super::{PostgresBackend, bind, get};
use crate::StoreError;
use crate::apikey::{
    ApiKeyRecord, ApiKeyStore, ApiKeyValues, api_key, api_key_columns, scopes_list, scopes_text,
};
use crate::row::secs;

impl ApiKeyStore for PostgresBackend {
    fn api_key_insert(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let k = key.clone();
        self.reader()?.conn().run(move |s| {
            let row = ApiKeyValues::new(&k);
            let n = s
                .execute(
                    concat!(
                        "INSERT INTO auth_api_keys (",
                        api_key_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT DO NOTHING"
                    ),
                    &bind(row.values()),
                )
                .map_err(StoreError::pg("api key insert"))?;
            Ok(n == 1)
        })
    }

    fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let prefix = prefix.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(
                concat!(
                    "SELECT ",
                    api_key_columns!(),
                    " FROM auth_api_keys WHERE prefix = $1"
                ),
                &[&prefix],
            )
            .map_err(StoreError::pg("api key lookup"))?
            .as_ref()
            .map(api_key)
            .transpose()
        })
    }

    fn api_key_named(&self, name: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let name = name.to_owned();
        self.reader()?.conn().run(move |s| {
            s.query_first(
                concat!(
                    "SELECT ",
                    api_key_columns!(),
                    " FROM auth_api_keys WHERE name = $1"
                ),
                &[&name],
            )
            .map_err(StoreError::pg("api key lookup"))?
            .as_ref()
            .map(api_key)
            .transpose()
        })
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.reader()?.conn().run(|s| {
            let rows = s
                .query(
                    concat!(
                        "SELECT ",
                        api_key_columns!(),
                        " FROM auth_api_keys ORDER BY name"
                    ),
                    &[],
                )
                .map_err(StoreError::pg("api key listing"))?;
            rows.iter().map(api_key).collect()
        })
    }

    fn api_key_revoke(&self, name: &str, now: u64) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_api_keys SET revoked = $2 WHERE name = $1 AND revoked IS NULL",
                    &[&name, &secs(now)],
                )
                .map_err(StoreError::pg("api key revocation"))?;
            Ok(n == 1)
        })
    }

    fn api_key_rotate(
        &self,
        name: &str,
        hash: &[u8],
        grace_until: u64,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        let hash = hash.to_vec();
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_api_keys SET prev_hash = hash, prev_until = $3, hash = $2 \
                     WHERE name = $1 AND revoked IS NULL",
                    &[&name, &hash, &secs(grace_until)],
                )
                .map_err(StoreError::pg("api key rotation"))?;
            Ok(n == 1)
        })
    }

    fn api_key_touch(&self, prefix: &str, now: u64) -> Result<(), StoreError> {
        let prefix = prefix.to_owned();
        self.reader()?.conn().run(move |s| {
            s.execute(
                "UPDATE auth_api_keys SET last_used = GREATEST(COALESCE(last_used, 0), $2) WHERE prefix = $1",
                &[&prefix, &secs(now)],
            )
            .map_err(StoreError::pg("api key use"))?;
            Ok(())
        })
    }

    fn user_scopes(&self, username: &str) -> Result<Vec<String>, StoreError> {
        let username = username.to_owned();
        self.reader()?.conn().run(move |s| {
            let row = s
                .query_first(
                    "SELECT scopes FROM auth_users WHERE username = $1",
                    &[&username],
                )
                .map_err(StoreError::pg("user scopes"))?;
            match row {
                Some(r) => Ok(scopes_list(&get::<String>(&r, 0)?)),
                None => Ok(Vec::new()),
            }
        })
    }

    fn user_set_scopes(
        &self,
        username: &str,
        scopes: &[String],
        now: u64,
    ) -> Result<bool, StoreError> {
        let (username, text) = (username.to_owned(), scopes_text(scopes));
        self.reader()?.conn().run(move |s| {
            let n = s
                .execute(
                    "UPDATE auth_users SET scopes = $2, not_before = $3 WHERE username = $1",
                    &[&username, &text, &secs(now)],
                )
                .map_err(StoreError::pg("user scopes"))?;
            Ok(n == 1)
        })
    }
}
