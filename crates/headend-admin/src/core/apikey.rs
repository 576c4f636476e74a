//! API keys for machine clients: the key format, the stored hash, and the
//! decision whether a presented key is good (sans-I/O: the caller passes the
//! stored row, the source address and the time).
//!
//! A key reads `hk_<16 hex>_<43 base64url>`: `hk_<16 hex>` is the *prefix*,
//! public, unique, the row's primary key (shown in listings and logs); the
//! rest is a 256-bit random secret shown once at creation. The store keeps
//! `SHA-256("headend api key v1" 0 prefix 0 secret)` only. A fast hash is
//! enough here, unlike for passwords: the secret is 256 random bits, so
//! there is no dictionary to try and a brute force of 2^256 inputs is out of
//! reach whatever the hash costs; a slow hash (Argon2) would only cost every
//! request milliseconds. The prefix and the label key the hash, so one
//! database's hashes say nothing about another's and cannot be reused as
//! hashes of anything else.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use headend_store::ApiKeyRecord;
use ipnet::IpNet;
use sha2::{Digest, Sha256};

use super::Role;
use super::scope::Scopes;

/// What every API key starts with (also how a bearer token is told from a JWT).
pub const KEY_TAG: &str = "hk_";

/// Hex digits of the prefix's random part.
const PREFIX_HEX: usize = 16;

/// Base64url characters of a 32-byte secret.
const SECRET_B64: usize = 43;

/// A freshly made key: the text shown once and what the store keeps.
#[derive(Clone)]
pub struct NewKey {
    /// `hk_` and 16 hex digits.
    pub prefix: String,
    /// The whole key, given to the client once.
    pub token: String,
    /// The stored hash.
    pub hash: Vec<u8>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Makes a key from 8 random bytes (the prefix) and 32 random bytes (the secret).
pub fn make(id: [u8; 8], secret: [u8; 32]) -> NewKey {
    let prefix = format!("{KEY_TAG}{}", hex::encode(id));
    with_secret(&prefix, secret)
}

/// A new secret for an existing prefix (rotation).
pub fn with_secret(prefix: &str, secret: [u8; 32]) -> NewKey {
    let secret = URL_SAFE_NO_PAD.encode(secret);
    NewKey {
        prefix: prefix.to_owned(),
        token: format!("{prefix}_{secret}"),
        hash: hash(prefix, &secret),
    }
}

/// The stored hash of `secret` under `prefix`.
pub fn hash(prefix: &str, secret: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"headend api key v1\0");
    h.update(prefix.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    h.finalize().to_vec()
}

/// Splits a presented key into prefix and secret; `None` if it is not of
/// the key form at all.
pub fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(KEY_TAG)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == PREFIX_HEX
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && secret.len() == SECRET_B64
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| token.split_at(KEY_TAG.len() + PREFIX_HEX))
        .map(|(p, s)| (p, &s[1..]))
}

/// Equality that takes the same time wherever the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a key was refused (for metrics and logs; the client only sees 401/403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key has this prefix.
    Unknown,
    /// The secret does not match (nor the previous one within its grace).
    WrongSecret,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Used from an address outside its allow-list.
    Source,
    /// The stored row is unusable (bad role or scope text).
    Corrupt,
}

impl Refusal {
    /// A label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::WrongSecret => "wrong_secret",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Source => "source",
            Self::Corrupt => "corrupt",
        }
    }
}

/// What a good key grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The key's name (audited as `apikey:NAME`).
    pub name: String,
    /// The key's prefix.
    pub prefix: String,
    /// Its role.
    pub role: Role,
    /// Its scopes.
    pub scopes: Scopes,
    /// Its rate (requests per second), if it has its own.
    pub rate: Option<u32>,
}

/// Decides whether `secret` presented from `source` at `now` is good for the
/// stored key `rec`.
pub fn check(rec: &ApiKeyRecord, secret: &str, source: IpAddr, now: u64) -> Result<Grant, Refusal> {
    let presented = hash(&rec.prefix, secret);
    let current = same(&presented, &rec.hash);
    let previous = rec
        .prev_hash
        .as_deref()
        .is_some_and(|h| same(&presented, h))
        && rec.prev_until.is_some_and(|until| now < until);
    if !current && !previous {
        return Err(Refusal::WrongSecret);
    }
    if rec.revoked.is_some() {
        return Err(Refusal::Revoked);
    }
    if rec.expires.is_some_and(|e| now >= e) {
        return Err(Refusal::Expired);
    }
    if !rec.allow.is_empty() {
        let nets: Result<Vec<IpNet>, _> = rec.allow.iter().map(|a| a.parse::<IpNet>()).collect();
        let nets = nets.map_err(|_| Refusal::Corrupt)?;
        if !nets.iter().any(|n| n.contains(&source)) {
            return Err(Refusal::Source);
        }
    }
    let role = Role::parse(&rec.role).ok_or(Refusal::Corrupt)?;
    let scopes = Scopes::parse(&rec.scopes).map_err(|_| Refusal::Corrupt)?;
    Ok(Grant {
        name: rec.name.clone(),
        prefix: rec.prefix.clone(),
        role,
        scopes,
        rate: rec.rate,
    })
}

/// Parses a lifetime such as `90d`, `12h`, `30m`, `45s` or a plain number of
/// seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (num, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&s| s > 0)
}

/// A valid key name: 1 to 64 of lower-case letters, digits and `._-`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(k: &NewKey) -> ApiKeyRecord {
        ApiKeyRecord {
            prefix: k.prefix.clone(),
            name: "billing".into(),
            role: "operator".into(),
            scopes: vec!["zone:example.test".into()],
            allow: vec!["127.0.0.0/8".into()],
            hash: k.hash.clone(),
            prev_hash: None,
            prev_until: None,
            rate: None,
            created: 100,
            created_by: "alice".into(),
            expires: Some(1000),
            last_used: None,
            revoked: None,
        }
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_made_key_splits_into_its_prefix_and_checks() {
        let k = make([0xab; 8], [7; 32]);
        assert!(k.token.starts_with("hk_abababababababab_"));
        let (prefix, secret) = split(&k.token).unwrap();
        assert_eq!(prefix, k.prefix);
        let g = check(&record(&k), secret, LOCAL, 500).unwrap();
        assert_eq!((g.name.as_str(), g.role), ("billing", Role::Operator));
        assert!(g.scopes.allows_zone("example.test"));
        assert!(
            !format!("{k:?}").contains(secret),
            "Debug never shows the secret"
        );
        assert!(!k.hash.windows(8).any(|w| secret.as_bytes().starts_with(w)));
    }

    #[test]
    fn malformed_keys_do_not_split() {
        let k = make([1; 8], [2; 32]);
        for bad in [
            "",
            "hk_",
            "eyJhbGciOi.x.y",
            &k.token[..k.token.len() - 1],
            &k.token.replace("hk_", "HK_"),
            &format!("{}x", k.token),
            &k.token.replacen('_', "-", 2),
        ] {
            assert!(split(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn wrong_secret_revoked_expired_and_source_are_refused() {
        let k = make([1; 8], [2; 32]);
        let (_, secret) = split(&k.token).unwrap();
        let other = make([1; 8], [3; 32]);
        let (_, wrong) = split(&other.token).unwrap();
        let rec = record(&k);
        assert_eq!(
            check(&rec, wrong, LOCAL, 500).unwrap_err(),
            Refusal::WrongSecret
        );
        assert_eq!(
            check(&rec, secret, LOCAL, 1000).unwrap_err(),
            Refusal::Expired
        );
        let far = "192.0.2.1".parse().unwrap();
        assert_eq!(check(&rec, secret, far, 500).unwrap_err(), Refusal::Source);
        let revoked = ApiKeyRecord {
            revoked: Some(400),
            ..rec
        };
        assert_eq!(
            check(&revoked, secret, LOCAL, 500).unwrap_err(),
            Refusal::Revoked
        );
    }

    #[test]
    fn a_rotated_secret_works_until_its_grace_ends() {
        let old = make([1; 8], [2; 32]);
        let new = with_secret(&old.prefix, [9; 32]);
        let rec = ApiKeyRecord {
            hash: new.hash.clone(),
            prev_hash: Some(old.hash.clone()),
            prev_until: Some(600),
            ..record(&old)
        };
        let (_, old_secret) = split(&old.token).unwrap();
        let (_, new_secret) = split(&new.token).unwrap();
        assert!(check(&rec, old_secret, LOCAL, 599).is_ok());
        assert_eq!(
            check(&rec, old_secret, LOCAL, 600).unwrap_err(),
            Refusal::WrongSecret
        );
        assert!(check(&rec, new_secret, LOCAL, 700).is_ok());
    }

    #[test]
    fn durations_and_names() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("300"), Some(300));
        for bad in ["", "d", "0d", "5y", "-1d", "1.5d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert!(valid_name("billing-2"));
        assert!(!valid_name("Billing"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(""));
    }
}
