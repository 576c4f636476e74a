//! [`ApiKeyStore`] on the SQLite backend.

use rusqlite::params;

use super::{SqliteBackend, all, bind, first};
use crate::StoreError;
use crate::apikey::{
    ApiKeyRecord, ApiKeyStore, ApiKeyValues, api_key, api_key_columns, scopes_list, scopes_text,
};
use crate::row::secs;

impl ApiKeyStore for SqliteBackend {
    fn api_key_insert(&self, key: &ApiKeyRecord) -> Result<bool, StoreError> {
        let conn = self.lock();
        let row = ApiKeyValues::new(key);
        let n = conn
            .execute(
                concat!(
                    "INSERT OR IGNORE INTO auth_api_keys (",
                    api_key_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                bind(&row.values()),
            )
            .map_err(StoreError::sql("api key insert"))?;
        Ok(n == 1)
    }

    fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        first(
            &self.lock(),
            "api key lookup",
            concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM auth_api_keys WHERE prefix = ?1"
            ),
            params![prefix],
            |r| api_key(r),
        )
    }

    fn api_key_named(&self, name: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        first(
            &self.lock(),
            "api key lookup",
            concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM auth_api_keys WHERE name = ?1"
            ),
            params![name],
            |r| api_key(r),
        )
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        all(
            &self.lock(),
            "api key listing",
            concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM auth_api_keys ORDER BY name"
            ),
            [],
            |r| api_key(r),
        )
    }

    fn api_key_revoke(&self, name: &str, now: u64) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE auth_api_keys SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
                params![name, secs(now)],
            )
            .map_err(StoreError::sql("api key revocation"))?;
        Ok(n == 1)
    }

    fn api_key_rotate(
        &self,
        name: &str,
        hash: &[u8],
        grace_until: u64,
    ) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE auth_api_keys SET prev_hash = hash, prev_until = ?3, hash = ?2 \
                 WHERE name = ?1 AND revoked IS NULL",
                params![name, hash, secs(grace_until)],
            )
            .map_err(StoreError::sql("api key rotation"))?;
        Ok(n == 1)
    }

    fn api_key_touch(&self, prefix: &str, now: u64) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE auth_api_keys SET last_used = ?2 WHERE prefix = ?1",
                params![prefix, secs(now)],
            )
            .map_err(StoreError::sql("api key use"))?;
        Ok(())
    }

    fn user_scopes(&self, username: &str) -> Result<Vec<String>, StoreError> {
        let text: Option<String> = first(
            &self.lock(),
            "user scopes",
            "SELECT scopes FROM auth_users WHERE username = ?1",
            params![username],
            |r| crate::row::Row::get(r, 0),
        )?;
        Ok(text.as_deref().map(scopes_list).unwrap_or_default())
    }

    fn user_set_scopes(
        &self,
        username: &str,
        scopes: &[String],
        now: u64,
    ) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE auth_users SET scopes = ?2, not_before = ?3 WHERE username = ?1",
                params![username, scopes_text(scopes), secs(now)],
            )
            .map_err(StoreError::sql("user scopes"))?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, prefix: &str) -> ApiKeyRecord {
        ApiKeyRecord {
            prefix: prefix.to_owned(),
            name: name.to_owned(),
            role: "operator".to_owned(),
            scopes: vec![
                "zone:example.test".to_owned(),
                "subnet:10.1.0.0/16".to_owned(),
            ],
            allow: vec!["127.0.0.0/8".to_owned()],
            hash: vec![1; 32],
            prev_hash: None,
            prev_until: None,
            rate: Some(20),
            created: 1000,
            created_by: "alice".to_owned(),
            expires: Some(5000),
            last_used: None,
            revoked: None,
        }
    }

    #[test]
    fn api_keys_round_trip_rotate_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("headend.db")).unwrap();
        let k = key("billing", "hk_0011223344556677");
        assert!(b.api_key_insert(&k).unwrap());
        assert!(!b.api_key_insert(&k).unwrap(), "same name and prefix");
        assert!(
            !b.api_key_insert(&key("billing", "hk_ffffffffffffffff"))
                .unwrap(),
            "same name"
        );
        assert_eq!(b.api_key("hk_0011223344556677").unwrap(), Some(k.clone()));
        assert_eq!(b.api_key_named("billing").unwrap(), Some(k));

        assert!(b.api_key_rotate("billing", &[2; 32], 2000).unwrap());
        let r = b.api_key("hk_0011223344556677").unwrap().unwrap();
        assert_eq!(r.hash, vec![2; 32]);
        assert_eq!(r.prev_hash, Some(vec![1; 32]));
        assert_eq!(r.prev_until, Some(2000));

        b.api_key_touch("hk_0011223344556677", 1500).unwrap();
        assert!(b.api_key_revoke("billing", 1600).unwrap());
        assert!(
            !b.api_key_revoke("billing", 1700).unwrap(),
            "already revoked"
        );
        assert!(
            !b.api_key_rotate("billing", &[3; 32], 2000).unwrap(),
            "revoked"
        );
        let r = b.api_key_named("billing").unwrap().unwrap();
        assert_eq!((r.last_used, r.revoked), (Some(1500), Some(1600)));
        assert_eq!(b.api_keys().unwrap().len(), 1);
    }
}
