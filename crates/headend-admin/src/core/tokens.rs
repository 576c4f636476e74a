//! Access tokens: EdDSA-signed JWTs (RFC 7519) with a fixed algorithm, and
//! their verification against a caller-supplied clock.
//!
//! RFC 8725 §3.1: "libraries MUST enable the caller to specify a supported
//! set of algorithms and MUST NOT use any other algorithms" - the verifier
//! accepts only `EdDSA` with our key id; `none` and HMAC tokens are refused
//! before any signature work, so an HS256 token keyed with the public key
//! cannot pass.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::Role;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer (RFC 7519 §4.1.1).
    pub iss: String,
    /// Audience (§4.1.3).
    pub aud: String,
    /// The user name (§4.1.2).
    pub sub: String,
    /// The user's role when the token was issued.
    pub role: Role,
    /// Issued at, unix seconds (§4.1.6).
    pub iat: u64,
    /// Not before (§4.1.5).
    pub nbf: u64,
    /// Expiry (§4.1.4).
    pub exp: u64,
    /// Unique token id (§4.1.7).
    pub jti: String,
    /// The session (refresh-token family) the token belongs to.
    pub sid: String,
    /// Scopes that narrow the role (`zone:...`, `subnet:...`); none: the whole role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// Why a token was refused (never shown to the client in detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a JWT, or its header or claims do not parse.
    Malformed,
    /// `alg` is not EdDSA, or `kid` is not ours.
    WrongAlgorithm,
    /// The signature does not verify.
    BadSignature,
    /// `iss` or `aud` is not ours.
    WrongIssuerOrAudience,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
}

impl Rejection {
    /// A short label for metrics and debug logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::WrongAlgorithm => "wrong_alg",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuerOrAudience => "wrong_iss_aud",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
        }
    }
}

/// The Ed25519 signing key and its public half.
pub struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Vec<u8>,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// A fresh random Ed25519 key.
    pub fn generate() -> Result<Self, String> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
        Self::from_pkcs8(&pair.serialize_der())
    }

    /// Loads a key from its PKCS#8 DER form (as written by [`TokenKeys::pkcs8`]).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.to_vec());
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}"))?;
        let public = pair.public_key_raw().to_vec();
        let kid = hex::encode(Sha256::digest(&public).get(..8).unwrap_or_default());
        let decoding = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&public))
            .map_err(|e| format!("bad public key: {e}"))?;
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(der),
            decoding,
            public,
            pkcs8: der.to_vec(),
        })
    }

    /// The PKCS#8 DER form, for the 0600 key file.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key id (`kid` header), derived from the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// This key as a JSON Web Key (RFC 7517 §4, RFC 8037 §2 for OKP keys).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public),
        })
    }

    /// A JSON Web Key Set (RFC 7517 §5) holding this key alone.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk()] })
    }

    /// Signs `claims` with the fixed algorithm and our `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }
}

/// The signing keys every server sharing the store knows: previous ones
/// (still verifying the tokens they signed), the current one and the next
/// one (published before it signs), each with the unix time it starts
/// signing; see [`crate::core::keyring`] for the schedule.
#[derive(Debug)]
pub struct KeySet {
    /// Sorted by start time; never empty.
    keys: Vec<(TokenKeys, u64)>,
}

impl KeySet {
    /// A set of keys with their start times; `None` if there is none.
    pub fn new(mut keys: Vec<(TokenKeys, u64)>) -> Option<Self> {
        if keys.is_empty() {
            return None;
        }
        keys.sort_by_key(|k| k.1);
        Some(Self { keys })
    }

    /// A set of one key that signs at any time.
    pub fn single(key: TokenKeys) -> Self {
        Self {
            keys: vec![(key, 0)],
        }
    }

    /// The key that signs tokens issued at `now`.
    pub fn signer(&self, now: u64) -> &TokenKeys {
        let starts: Vec<u64> = self.keys.iter().map(|k| k.1).collect();
        let i = crate::core::keyring::current_index(&starts, now).unwrap_or(0);
        &self.keys[i].0
    }

    /// Every key with its start time, oldest first.
    pub fn entries(&self) -> &[(TokenKeys, u64)] {
        &self.keys
    }

    /// The key with this `kid`, if it is one of ours.
    pub fn find(&self, kid: &str) -> Option<&TokenKeys> {
        self.keys.iter().map(|k| &k.0).find(|k| k.kid() == kid)
    }

    /// The JSON Web Key Set of every key that verifies or will
    /// (RFC 7517 §5): previous, current and next.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self.keys.iter().map(|k| k.0.jwk()).collect();
        serde_json::json!({ "keys": keys })
    }
}

/// What the verifier requires of a token.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Lifetime of issued tokens, seconds.
    pub ttl: u64,
    /// Allowed clock skew, seconds.
    pub leeway: u64,
}

impl TokenPolicy {
    /// The claims of a new access token for `user` in session `sid`.
    pub fn claims(&self, user: &str, role: Role, sid: &str, jti: String, now: u64) -> Claims {
        Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_owned(),
            role,
            iat: now,
            nbf: now,
            exp: now.saturating_add(self.ttl),
            jti,
            sid: sid.to_owned(),
            scopes: Vec::new(),
        }
    }

    /// Verifies a compact JWS: algorithm fixed to EdDSA with our `kid`,
    /// signature, `iss`, `aud`, then `exp`/`nbf` against `now` with the leeway.
    pub fn verify(&self, keys: &TokenKeys, token: &str, now: u64) -> Result<Claims, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(keys.kid()) {
            return Err(Rejection::WrongAlgorithm);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Times are checked below against the caller's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => Rejection::BadSignature,
                    ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                        Rejection::WrongIssuerOrAudience
                    }
                    ErrorKind::InvalidAlgorithm => Rejection::WrongAlgorithm,
                    _ => Rejection::Malformed,
                }
            })?;
        let claims = data.claims;
        self.still_valid(&claims, now)?;
        Ok(claims)
    }

    /// Verifies a token against whichever key of `set` its `kid` names
    /// (the algorithm is still fixed to EdDSA).
    pub fn verify_any(&self, set: &KeySet, token: &str, now: u64) -> Result<Claims, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| set.find(kid))
            .ok_or(Rejection::WrongAlgorithm)?;
        self.verify(key, token, now)
    }

    /// The time checks alone, for claims whose signature already verified.
    pub fn still_valid(&self, claims: &Claims, now: u64) -> Result<(), Rejection> {
        // RFC 7519 §4.1.4: "the current date/time MUST be before the
        // expiration date/time listed in the exp claim" (small leeway allowed).
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(Rejection::Expired);
        }
        // §4.1.5: "the current date/time MUST be after or equal to the
        // not-before date/time listed in the nbf claim".
        if now.saturating_add(self.leeway) < claims.nbf {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "headend".into(),
            audience: "headend-admin".into(),
            ttl: 900,
            leeway: 30,
        }
    }

    fn token(keys: &TokenKeys, now: u64) -> String {
        keys.sign(&policy().claims("alice", Role::Operator, "s1", "j1".into(), now))
            .unwrap()
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn issued_token_verifies_until_expiry_plus_leeway() {
        let keys = TokenKeys::generate().unwrap();
        let t = token(&keys, 1000);
        let c = policy().verify(&keys, &t, 1000).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.role, c.exp),
            ("alice", Role::Operator, 1900)
        );
        assert!(policy().verify(&keys, &t, 1929).is_ok());
        assert_eq!(policy().verify(&keys, &t, 1930), Err(Rejection::Expired));
    }

    #[test]
    fn token_from_the_future_is_refused() {
        let keys = TokenKeys::generate().unwrap();
        let t = token(&keys, 1000);
        assert_eq!(policy().verify(&keys, &t, 900), Err(Rejection::NotYetValid));
    }

    #[test]
    fn key_survives_a_pkcs8_round_trip() {
        let keys = TokenKeys::generate().unwrap();
        let again = TokenKeys::from_pkcs8(keys.pkcs8()).unwrap();
        assert_eq!(keys.kid(), again.kid());
        assert!(policy().verify(&again, &token(&keys, 5), 5).is_ok());
    }

    #[test]
    fn other_keys_signature_is_refused() {
        let (a, b) = (
            TokenKeys::generate().unwrap(),
            TokenKeys::generate().unwrap(),
        );
        let claims = policy().claims("alice", Role::Admin, "s", "j".into(), 5);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(a.kid().to_owned());
        let forged = jsonwebtoken::encode(&header, &claims, &b.encoding).unwrap();
        assert_eq!(
            policy().verify(&a, &forged, 5),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn wrong_audience_or_issuer_is_refused() {
        let keys = TokenKeys::generate().unwrap();
        for (iss, aud) in [("headend", "other"), ("evil", "headend-admin")] {
            let mut claims = policy().claims("alice", Role::Admin, "s", "j".into(), 5);
            claims.iss = iss.into();
            claims.aud = aud.into();
            let t = keys.sign(&claims).unwrap();
            assert_eq!(
                policy().verify(&keys, &t, 5),
                Err(Rejection::WrongIssuerOrAudience)
            );
        }
    }

    #[test]
    fn every_key_of_the_set_verifies_and_the_started_one_signs() {
        let (old, new, next) = (
            TokenKeys::generate().unwrap(),
            TokenKeys::generate().unwrap(),
            TokenKeys::generate().unwrap(),
        );
        let t_old = token(&old, 5);
        let t_new = token(&new, 5);
        let (new_kid, next_kid) = (new.kid().to_owned(), next.kid().to_owned());
        let set = KeySet::new(vec![(next, 100), (old, 0), (new, 3)]).unwrap();
        assert!(policy().verify_any(&set, &t_old, 5).is_ok());
        assert!(policy().verify_any(&set, &t_new, 5).is_ok());
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 3);
        assert_eq!(set.signer(5).kid(), new_kid);
        assert_eq!(set.signer(100).kid(), next_kid);
        let set = KeySet::new(vec![(TokenKeys::generate().unwrap(), 0)]).unwrap();
        assert_eq!(
            policy().verify_any(&set, &t_old, 5),
            Err(Rejection::WrongAlgorithm)
        );
        assert!(KeySet::new(Vec::new()).is_none());
    }

    #[test]
    fn tampered_payload_is_refused() {
        let keys = TokenKeys::generate().unwrap();
        let t = token(&keys, 5);
        let parts: Vec<&str> = t.split('.').collect();
        let mut claims = policy().claims("alice", Role::Admin, "s1", "j1".into(), 5);
        claims.role = Role::Admin;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_value(&claims).unwrap()),
            parts[2]
        );
        assert_eq!(
            policy().verify(&keys, &forged, 5),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn alg_none_and_hs256_with_the_public_key_are_refused() {
        let keys = TokenKeys::generate().unwrap();
        let claims =
            serde_json::to_value(policy().claims("alice", Role::Admin, "s", "j".into(), 5))
                .unwrap();
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "kid": keys.kid()})),
            b64(&claims)
        );
        assert_eq!(policy().verify(&keys, &none, 5), Err(Rejection::Malformed));
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.kid().to_owned());
        let hs = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&keys.public))
            .unwrap();
        assert_eq!(
            policy().verify(&keys, &hs, 5),
            Err(Rejection::WrongAlgorithm)
        );
    }
}
