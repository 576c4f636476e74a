//! The JWT signing keys in the store: made, sealed with the key-encryption
//! key, read back and opened by every server that shares the store, on the
//! schedule of [`crate::core::keyring`]. A key file left in the state
//! directory by an older version is moved into the store on first start
//! (and deleted: no private key stays on disk in the clear).
//!
//! Blocking (store and files): the service calls these from
//! `spawn_blocking`.

use std::path::Path;

use headend_store::{SigningKeyRecord, Store};

use crate::AdminError;
use crate::core::kek::Kek;
use crate::core::keyring::{self, Schedule, Step};
use crate::core::tokens::{KeySet, TokenKeys};

/// The key files of earlier versions, in the state directory.
const LEGACY_CURRENT: &str = "admin-jwt-ed25519.pk8";
const LEGACY_PREVIOUS: &str = "admin-jwt-ed25519.previous.pk8";

/// The associated data a key's sealed form is bound to: its row.
fn aad(kid: &str) -> Vec<u8> {
    format!("jwt-key:{kid}").into_bytes()
}

/// A store row for `key`, sealed with `kek`.
fn record(key: &TokenKeys, kek: &Kek, signs_from: u64, now: u64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: key.kid().to_owned(),
        sealed: kek.seal(key.pkcs8(), &aad(key.kid())),
        kek_id: kek.id().to_owned(),
        signs_from,
        created: now,
    }
}

fn open(row: &SigningKeyRecord, kek: &Kek) -> Result<TokenKeys, AdminError> {
    let plain = kek
        .open(&row.sealed, &aad(&row.kid))
        .map_err(|_| AdminError::Config {
            key: "admin.kek_file",
            reason: format!(
                "the signing key {} in the store was sealed with the key-encryption key {}, \
                 this server has {}: give every server that shares the store the same kek_file",
                row.kid,
                row.kek_id,
                kek.id()
            ),
        })?;
    let key = TokenKeys::from_pkcs8(&plain).map_err(|reason| AdminError::Token { reason })?;
    if key.kid() != row.kid {
        return Err(AdminError::Token {
            reason: format!("the signing key stored as {} is {}", row.kid, key.kid()),
        });
    }
    Ok(key)
}

/// Brings the store's keys in line with the schedule at `now` (adding the
/// first or the next key, dropping expired ones) and answers the key set.
pub(crate) fn sync(
    store: &Store,
    kek: &Kek,
    schedule: &Schedule,
    now: u64,
) -> Result<KeySet, AdminError> {
    let mut rows = store.keys().signing_keys()?;
    // Two rounds at most: a first key, then (if its start is long past) a next one.
    for _ in 0..3 {
        let meta: Vec<(&str, u64)> = rows
            .iter()
            .map(|r| (r.kid.as_str(), r.signs_from))
            .collect();
        let steps = keyring::plan(&meta, now, schedule);
        if steps.is_empty() {
            break;
        }
        for step in steps {
            match step {
                Step::Insert { signs_from } => {
                    let key =
                        TokenKeys::generate().map_err(|reason| AdminError::Token { reason })?;
                    if store
                        .keys()
                        .signing_key_insert(&record(&key, kek, signs_from, now))?
                    {
                        tracing::info!(
                            kid = key.kid(),
                            signs_from,
                            "made a new access-token signing key (published now, signs from signs_from)"
                        );
                    }
                }
                Step::Delete { kid } => {
                    if store.keys().signing_key_delete(&kid)? {
                        tracing::info!(kid, "dropped a signing key whose tokens have all expired");
                    }
                }
            }
        }
        rows = store.keys().signing_keys()?;
    }
    let keys = rows
        .iter()
        .map(|r| Ok((open(r, kek)?, r.signs_from)))
        .collect::<Result<Vec<_>, AdminError>>()?;
    KeySet::new(keys).ok_or_else(|| AdminError::Token {
        reason: "the store holds no signing key".into(),
    })
}

/// An operator's forced rotation: a next key that signs a token life from
/// now (unless one is already published). Answers the new key's id and start.
pub(crate) fn force(
    store: &Store,
    kek: &Kek,
    schedule: &Schedule,
    now: u64,
) -> Result<Option<(String, u64)>, AdminError> {
    let rows = store.keys().signing_keys()?;
    let meta: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r.kid.as_str(), r.signs_from))
        .collect();
    let Some(signs_from) = keyring::force(&meta, now, schedule) else {
        return Ok(None);
    };
    let key = TokenKeys::generate().map_err(|reason| AdminError::Token { reason })?;
    let inserted = store
        .keys()
        .signing_key_insert(&record(&key, kek, signs_from, now))?;
    Ok(inserted.then(|| (key.kid().to_owned(), signs_from)))
}

/// Moves the signing keys an older version kept in `state_dir` into the
/// store (sealed), each starting when its file was written, then deletes
/// the files. Keys already in the store are left as they are.
pub(crate) fn migrate_files(
    store: &Store,
    kek: &Kek,
    state_dir: &Path,
    now: u64,
) -> Result<(), AdminError> {
    let read = |name: &str| -> Result<Option<(TokenKeys, u64)>, AdminError> {
        let path = state_dir.join(name);
        let der = match std::fs::read(&path) {
            Ok(der) => der,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(AdminError::File {
                    path,
                    action: "cannot read the signing key",
                    source,
                });
            }
        };
        let key = TokenKeys::from_pkcs8(&der).map_err(|reason| AdminError::BadKeyMaterial {
            path: path.clone(),
            reason,
        })?;
        let written = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(now, |d| d.as_secs().min(now));
        Ok(Some((key, written)))
    };
    let current = read(LEGACY_CURRENT)?;
    let previous = read(LEGACY_PREVIOUS)?;
    if current.is_none() && previous.is_none() {
        return Ok(());
    }
    let known: Vec<String> = store
        .keys()
        .signing_keys()?
        .into_iter()
        .map(|r| r.kid)
        .collect();
    // The previous key signed until the current one took over.
    let current_from = current.as_ref().map(|c| c.1);
    let previous =
        previous.map(|(k, t)| (k, current_from.map_or(t, |c| t.min(c.saturating_sub(1)))));
    for (key, signs_from) in [previous, current].into_iter().flatten() {
        if known.iter().any(|k| k == key.kid()) {
            continue;
        }
        if store
            .keys()
            .signing_key_insert(&record(&key, kek, signs_from, now))?
        {
            tracing::info!(
                kid = key.kid(),
                signs_from,
                "moved a signing key from the state directory into the store (sealed)"
            );
        } else {
            tracing::warn!(
                kid = key.kid(),
                "a signing key from the state directory was not moved into the store: another key starts at the same second"
            );
        }
    }
    for name in [LEGACY_CURRENT, LEGACY_PREVIOUS] {
        let path = state_dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), "deleted the plain signing key file (the store holds it sealed)")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(AdminError::File {
                    path,
                    action: "cannot delete the moved signing key",
                    source,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Schedule = Schedule {
        rotate_every: 30 * 86_400,
        token_life: 930,
    };

    fn store(dir: &Path) -> Store {
        Store::open_sqlite(dir.join("headend.db")).unwrap()
    }

    #[test]
    fn keys_are_stored_sealed_and_open_only_with_the_same_kek() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let kek = Kek::from_bytes(&[1; 32]);
        let set = sync(&s, &kek, &S, 1_000_000).unwrap();
        let rows = s.keys().signing_keys().unwrap();
        assert_eq!(rows.len(), 1);
        let plain = set.signer(1_000_000).pkcs8().to_vec();
        assert!(!rows[0].sealed.windows(plain.len()).any(|w| w == plain));
        // A second server with the same KEK sees the same key.
        let again = sync(&s, &kek, &S, 1_000_001).unwrap();
        assert_eq!(again.signer(1_000_001).kid(), set.signer(1_000_000).kid());
        let err = sync(&s, &Kek::from_bytes(&[2; 32]), &S, 1_000_001).unwrap_err();
        assert!(err.to_string().contains("same kek_file"), "{err}");
    }

    #[test]
    fn key_files_of_an_older_version_move_into_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let kek = Kek::from_bytes(&[1; 32]);
        let (old, cur) = (
            TokenKeys::generate().unwrap(),
            TokenKeys::generate().unwrap(),
        );
        crate::tls::write_private(&dir.path().join(LEGACY_PREVIOUS), old.pkcs8()).unwrap();
        crate::tls::write_private(&dir.path().join(LEGACY_CURRENT), cur.pkcs8()).unwrap();
        let now = headend_util::time::unix_now();
        migrate_files(&s, &kek, dir.path(), now).unwrap();
        assert!(!dir.path().join(LEGACY_CURRENT).exists());
        assert!(!dir.path().join(LEGACY_PREVIOUS).exists());
        let set = sync(&s, &kek, &S, now).unwrap();
        assert_eq!(set.signer(now).kid(), cur.kid());
        assert!(
            set.find(old.kid()).is_some(),
            "the previous key still verifies"
        );
    }
}
