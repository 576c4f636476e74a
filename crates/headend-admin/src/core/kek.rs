//! The key-encryption key (KEK): secrets the store must keep (JWT signing
//! keys, TOTP seeds) are sealed with AES-256-GCM under a 256-bit key that
//! never enters the store. Each sealed value carries its own random nonce,
//! and the caller's associated data (the row's purpose and id) binds a
//! ciphertext to its place, so a value copied to another row does not open.
//!
//! Sans-I/O: the server reads the key (`[admin] kek_file`, or the systemd
//! credential `headend-kek`) and hands its bytes here.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The format byte in front of every sealed value, so a later format can be
/// told apart.
const VERSION: u8 = 1;

/// Why a KEK could not be made or a sealed value not opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KekError {
    /// The key text is not 32 bytes as 64 hex digits or base64.
    #[error(
        "the key-encryption key must be 32 random bytes written as 64 hex digits or base64 (openssl rand -hex 32)"
    )]
    BadKey,
    /// A sealed value was cut, altered, sealed under another key or for
    /// another place.
    #[error("a sealed secret does not open with this key-encryption key (another key, or altered)")]
    Open,
}

/// A loaded key-encryption key.
pub struct Kek {
    key: LessSafeKey,
    id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Kek").field("id", &self.id).finish()
    }
}

impl Kek {
    /// A KEK from raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES key"));
        // A short public identifier (not secret: a hash of the key under a
        // fixed label), so rows can say which KEK sealed them.
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            &[b"headend kek id\0".as_slice(), bytes].concat(),
        );
        let id = hex::encode(&digest.as_ref()[..6]);
        Self { key, id }
    }

    /// A KEK from the text of a key file: 64 hex digits or base64 of 32
    /// bytes, surrounding white space ignored.
    pub fn parse(text: &str) -> Result<Self, KekError> {
        use base64::Engine;
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| KekError::BadKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| KekError::BadKey)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KekError::BadKey)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// A fresh random key as 64 hex digits, for `headend` to write when an
    /// operator asks for one.
    pub fn generate_text() -> String {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random source works");
        hex::encode(bytes)
    }

    /// The public identifier of this key (12 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plain` for the place named by `aad` (e.g. `b"jwt-key:3"`).
    /// Output: version byte, 12-byte nonce, ciphertext and tag.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .expect("AES-GCM sealing of a bounded value");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out
    }

    /// Opens a value sealed by [`Kek::seal`] with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KekError> {
        if sealed.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() || sealed[0] != VERSION {
            return Err(KekError::Open);
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN]
            .try_into()
            .expect("sliced to length");
        let mut buf = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| KekError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> Kek {
        Kek::from_bytes(&[byte; 32])
    }

    #[test]
    fn seal_then_open_round_trips_and_nonces_differ() {
        let k = kek(7);
        let a = k.seal(b"secret seed", b"totp:1");
        let b = k.seal(b"secret seed", b"totp:1");
        assert_ne!(a, b, "each seal draws a fresh nonce");
        assert_eq!(k.open(&a, b"totp:1").unwrap(), b"secret seed");
        assert!(!a.windows(11).any(|w| w == b"secret seed"));
    }

    #[test]
    fn wrong_key_place_or_bytes_do_not_open() {
        let k = kek(7);
        let sealed = k.seal(b"x", b"jwt-key:1");
        assert_eq!(kek(8).open(&sealed, b"jwt-key:1"), Err(KekError::Open));
        assert_eq!(k.open(&sealed, b"jwt-key:2"), Err(KekError::Open));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(k.open(&flipped, b"jwt-key:1"), Err(KekError::Open));
        assert_eq!(k.open(&sealed[..10], b"jwt-key:1"), Err(KekError::Open));
        assert_eq!(k.open(&[], b"jwt-key:1"), Err(KekError::Open));
    }

    #[test]
    fn parses_hex_and_base64_and_refuses_other_lengths() {
        let hex_text = "11".repeat(32);
        let b64 = "ERERERERERERERERERERERERERERERERERERERERERE=";
        assert_eq!(
            Kek::parse(&hex_text).unwrap().id(),
            Kek::parse(b64).unwrap().id()
        );
        assert_eq!(Kek::parse(&format!("{hex_text}\n")).unwrap().id().len(), 12);
        assert_eq!(Kek::parse("abcd").unwrap_err(), KekError::BadKey);
        assert_eq!(Kek::parse("").unwrap_err(), KekError::BadKey);
        assert_eq!(Kek::generate_text().len(), 64);
        assert!(Kek::parse(&Kek::generate_text()).is_ok());
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let k = kek(0xab);
        assert!(!format!("{k:?}").contains("abab"));
    }
}
