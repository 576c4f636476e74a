//! Argon2id password hashing (RFC 9106), off the async workers and behind a
//! semaphore so a burst of logins cannot starve the runtime or its memory.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

use crate::AdminError;
use crate::config::Argon2Config;

/// The result of checking a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The password matched.
    pub ok: bool,
    /// The stored hash used weaker parameters than configured: store this new hash.
    pub rehash: Option<String>,
}

/// Hashes and verifies passwords with the configured parameters.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the current parameters: unknown
    /// users are verified against it so they cost the same time.
    dummy: Arc<String>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn params(c: &Argon2Config) -> Result<Params, AdminError> {
    Params::new(c.memory_kib, c.iterations, c.parallelism, None).map_err(|e| AdminError::Config {
        key: "admin.argon2",
        reason: format!("invalid Argon2 parameters: {e}"),
    })
}

/// Hashes synchronously (for the local CLI and start-up).
pub fn hash_blocking(config: &Argon2Config, password: &str) -> Result<String, AdminError> {
    hash_with(&params(config)?, password)
}

fn hash_with(params: &Params, password: &str) -> Result<String, AdminError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Password {
            reason: format!("hashing failed: {e}"),
        })
}

/// True if `phc` was made with weaker parameters (or another variant) than `params`.
fn weaker(phc: &PasswordHash, params: &Params) -> bool {
    if phc.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(phc) {
        Ok(p) => {
            p.m_cost() < params.m_cost()
                || p.t_cost() < params.t_cost()
                || p.p_cost() < params.p_cost()
        }
        Err(_) => true,
    }
}

fn verify_with(params: &Params, password: &str, phc: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Verified {
            ok: false,
            rehash: None,
        };
    };
    // The hash's own parameters are used for verification (they are in the PHC string).
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let rehash = if ok && weaker(&parsed, params) {
        hash_with(params, password).ok()
    } else {
        None
    };
    Verified { ok, rehash }
}

impl Passwords {
    /// Builds the hasher (computes the dummy hash once).
    pub fn new(config: &Argon2Config) -> Result<Self, AdminError> {
        let params = params(config)?;
        let (dummy, _) = crate::core::session::new_refresh_token();
        let dummy = hash_with(&params, &dummy)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            dummy: Arc::new(dummy),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AdminError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AdminError::Password {
                reason: "hasher closed".into(),
            })?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| AdminError::Password {
                reason: format!("hashing task failed: {e}"),
            })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, AdminError> {
        let params = self.params.clone();
        self.run(move || hash_with(&params, &password)).await?
    }

    /// Checks `password` against `phc`, or against the dummy hash when the
    /// user is unknown (`None`), so both cost the same and both fail alike.
    pub async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<Verified, AdminError> {
        let params = self.params.clone();
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.as_str().to_owned());
        let v = self
            .run(move || verify_with(&params, &password, &phc))
            .await?;
        Ok(if known {
            v
        } else {
            Verified {
                ok: false,
                rehash: None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(m: u32) -> Argon2Config {
        Argon2Config {
            memory_kib: m,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        }
    }

    #[test]
    fn hash_is_argon2id_phc_and_verifies() {
        let p = params(&cheap(64)).unwrap();
        let h = hash_blocking(&cheap(64), "s3cret").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(verify_with(&p, "s3cret", &h).ok);
        assert!(!verify_with(&p, "wrong", &h).ok);
    }

    #[test]
    fn raised_parameters_rehash_on_success_only() {
        let old = hash_blocking(&cheap(64), "pw").unwrap();
        let stronger = params(&cheap(128)).unwrap();
        let v = verify_with(&stronger, "pw", &old);
        assert!(v.ok);
        let new = v.rehash.unwrap();
        assert!(new.contains("m=128"), "{new}");
        assert!(verify_with(&stronger, "pw", &new).rehash.is_none());
        assert!(verify_with(&stronger, "bad", &old).rehash.is_none());
    }

    #[test]
    fn garbage_hash_fails_without_panicking() {
        let p = params(&cheap(64)).unwrap();
        assert!(!verify_with(&p, "pw", "not a hash").ok);
    }

    #[tokio::test]
    async fn unknown_user_is_checked_against_the_dummy_and_fails() {
        let pw = Passwords::new(&cheap(64)).unwrap();
        let v = pw.verify("anything".into(), None).await.unwrap();
        assert!(!v.ok);
        let h = pw.hash("x".into()).await.unwrap();
        assert!(pw.verify("x".into(), Some(h)).await.unwrap().ok);
    }
}
