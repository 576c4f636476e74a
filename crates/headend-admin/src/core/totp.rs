//! The second factor: time-based one-time passwords (RFC 6238 over RFC
//! 4226's HOTP, HMAC-SHA-1, 6 digits, 30-second steps), recovery codes, and
//! the short-lived tickets of the two-step login.
//!
//! Sans-I/O: the time and the user's last accepted step come in as
//! arguments; the seed reaches here already opened with the KEK.

use std::collections::HashMap;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Seconds per time step (RFC 6238 §4.1, X = 30).
pub const STEP: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted on either side of the current one, for clock drift and
/// typing time (RFC 6238 §5.2 recommends at most one).
pub const WINDOW: u64 = 1;
/// Bytes of a new seed (160 bits, the HMAC-SHA-1 block output: RFC 4226 §4 R6).
pub const SEED_LEN: usize = 20;
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps take a seed.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// HOTP (RFC 4226 §5.3) of `counter` with `digits` digits: HMAC-SHA-1,
/// dynamic truncation, modulo 10^digits.
pub fn hotp(seed: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let h = mac.as_ref();
    // "Let OffsetBits be the low-order 4 bits of String[19]".
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The time step of Unix time `now` (RFC 6238 §4.2, T0 = 0).
pub fn step_of(now: u64) -> u64 {
    now / STEP
}

/// The 6-digit code for `now`, zero-padded.
pub fn code_at(seed: &[u8], now: u64) -> String {
    format!("{:06}", hotp(seed, step_of(now), DIGITS))
}

/// The step a typed `code` matches within ±[`WINDOW`] of `now`, if it is
/// newer than `last_step` (a code of a spent step is a replay, RFC 6238
/// §5.2: "the verifier MUST NOT accept the second attempt of the OTP after
/// the successful validation has been issued for the first OTP"). Spaces are
/// ignored; anything but 6 digits matches nothing.
pub fn verify(seed: &[u8], code: &str, now: u64, last_step: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = step_of(now);
    let mut found = None;
    // Every candidate is computed and compared in constant time, so the
    // answer's timing does not tell which step matched.
    for step in t.saturating_sub(WINDOW)..=t + WINDOW {
        let want = format!("{:06}", hotp(seed, step, DIGITS));
        let same = constant_eq(want.as_bytes(), code.as_bytes());
        if same && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Byte strings compared without an early exit.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random seed.
pub fn new_seed() -> Vec<u8> {
    let mut seed = vec![0u8; SEED_LEN];
    SystemRandom::new()
        .fill(&mut seed)
        .expect("the system random source works");
    seed
}

/// Percent-encodes a label or parameter of an otpauth:// URI.
fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://totp/...` URI authenticator apps read (from the QR code or
/// typed in): issuer and account, the base32 seed, SHA1, 6 digits, 30 s.
pub fn otpauth_uri(issuer: &str, account: &str, seed: &[u8]) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        uri_escape(issuer),
        uri_escape(account),
        base32(seed),
        uri_escape(issuer)
    )
}

/// Ten fresh recovery codes, `xxxx-xxxx-xxxx-xxxx` of lower-case base32
/// (80 random bits each: hashing them without a slow KDF is safe).
pub fn new_recovery_codes() -> Vec<String> {
    let rng = SystemRandom::new();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut raw = [0u8; 10];
            rng.fill(&mut raw).expect("the system random source works");
            let text = base32(&raw).to_ascii_lowercase();
            text.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The stored form of a recovery code of `user`: SHA-256 of the user name
/// and the code as typed, with case, dashes and spaces ignored.
pub fn recovery_hash(user: &str, code: &str) -> Vec<u8> {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"headend recovery code\0");
    ctx.update(user.as_bytes());
    ctx.update(b"\0");
    ctx.update(norm.as_bytes());
    ctx.finish().as_ref().to_vec()
}

/// True if `code` looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(code: &str) -> bool {
    code.chars().filter(char::is_ascii_alphanumeric).count() == 16
}

/// The associated data that binds a sealed seed to its user (see
/// [`crate::core::kek`]).
pub fn seal_aad(user: &str) -> Vec<u8> {
    format!("totp seed\0{user}").into_bytes()
}

/// What a login ticket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketPurpose {
    /// The password was right; the second factor is due.
    Verify,
    /// The password was right, and the role requires a second factor that
    /// is not enrolled yet: enrolment is due first.
    Enrol,
}

/// One pending two-step login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The user whose password was right.
    pub user: String,
    /// What the ticket allows.
    pub purpose: TicketPurpose,
    /// Unix time it dies.
    pub expires: u64,
    /// Wrong codes presented with it.
    pub failures: u32,
    /// The password re-hashed with raised Argon2 parameters at the password
    /// step, stored when the login ends.
    pub rehash: Option<String>,
}

/// Seconds a login ticket lives.
pub const TICKET_TTL: u64 = 300;
/// Wrong codes one ticket takes before it dies (the user's lockout counts
/// them too).
pub const TICKET_TRIES: u32 = 5;
/// Tickets held at most (the oldest are dropped first when full).
const TICKETS_MAX: usize = 10_000;

/// Pending two-step logins, by the SHA-256 of their ticket (the ticket
/// itself is only in the client's hands).
#[derive(Debug, Default)]
pub struct Tickets {
    by_hash: HashMap<Vec<u8>, Ticket>,
}

fn ticket_hash(ticket: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, ticket.as_bytes())
        .as_ref()
        .to_vec()
}

impl Tickets {
    /// Issues a ticket for `user`; returns the ticket text.
    pub fn issue(
        &mut self,
        user: &str,
        purpose: TicketPurpose,
        rehash: Option<String>,
        now: u64,
    ) -> String {
        self.by_hash.retain(|_, t| t.expires > now);
        if self.by_hash.len() >= TICKETS_MAX {
            self.by_hash.clear();
        }
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .expect("the system random source works");
        let text = format!("mfa_{}", hex::encode(raw));
        self.by_hash.insert(
            ticket_hash(&text),
            Ticket {
                user: user.to_owned(),
                purpose,
                expires: now + TICKET_TTL,
                failures: 0,
                rehash,
            },
        );
        text
    }

    /// The live ticket `text` names, if any.
    pub fn get(&self, text: &str, now: u64) -> Option<Ticket> {
        self.by_hash
            .get(&ticket_hash(text))
            .filter(|t| t.expires > now)
            .cloned()
    }

    /// Counts a wrong code against the ticket; it dies at [`TICKET_TRIES`].
    pub fn failed(&mut self, text: &str) {
        let h = ticket_hash(text);
        if let Some(t) = self.by_hash.get_mut(&h) {
            t.failures += 1;
            if t.failures >= TICKET_TRIES {
                self.by_hash.remove(&h);
            }
        }
    }

    /// Ends a ticket (used, or the user changed).
    pub fn spend(&mut self, text: &str) -> Option<Ticket> {
        self.by_hash.remove(&ticket_hash(text))
    }

    /// Drops every ticket of `user`.
    pub fn forget_user(&mut self, user: &str) {
        self.by_hash.retain(|_, t| t.user != user);
    }
}

/// A QR code of `text` (byte mode, error correction M) as an SVG document
/// for the console.
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code of the otpauth URI\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        px = size * 6
    ))
}

/// A QR code of `text` for a terminal: two modules per character with the
/// Unicode half blocks, dark on light, with the quiet zone.
pub fn qr_text(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let border = 2;
    let dark = |x: i32, y: i32| qr.get_module(x, y);
    let mut out = String::new();
    let mut y = -border;
    while y < qr.size() + border {
        for x in -border..qr.size() + border {
            // A light module prints (the terminal's background is the dark).
            let top = !dark(x, y);
            let bottom = !dark(x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 rows (seed "12345678901234567890", 8
    /// digits).
    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        let seed = b"12345678901234567890";
        for (time, want) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(seed, step_of(time), 8), want, "T = {time}");
        }
        // The 6-digit code is the same value modulo 10^6.
        assert_eq!(code_at(seed, 59), "287082");
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foo"), "MZXW6");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn a_code_of_the_previous_or_next_step_passes_an_older_one_does_not() {
        let seed = b"12345678901234567890";
        let now = 1_111_111_111;
        let t = step_of(now);
        assert_eq!(verify(seed, &code_at(seed, now), now, 0), Some(t));
        assert_eq!(
            verify(seed, &code_at(seed, now - STEP), now, 0),
            Some(t - 1)
        );
        assert_eq!(
            verify(seed, &code_at(seed, now + STEP), now, 0),
            Some(t + 1)
        );
        assert_eq!(verify(seed, &code_at(seed, now - 2 * STEP), now, 0), None);
        assert_eq!(verify(seed, "12345", now, 0), None);
        assert_eq!(verify(seed, "abcdef", now, 0), None);
    }

    #[test]
    fn a_spent_step_is_a_replay() {
        let seed = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = code_at(seed, now);
        let step = verify(seed, &code, now, 0).unwrap();
        assert_eq!(verify(seed, &code, now, step), None);
        assert_eq!(verify(seed, &code, now + 10, step), None);
        // The next step's code still works.
        assert_eq!(
            verify(seed, &code_at(seed, now + STEP), now + STEP, step),
            Some(step + 1)
        );
    }

    #[test]
    fn otpauth_uri_carries_issuer_account_and_seed() {
        let uri = otpauth_uri("headend", "ada lovelace", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/headend:ada%20lovelace?secret=MZXW6YTBOI&issuer=headend&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_alike_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        let c = &codes[0];
        assert!(is_recovery_code(c));
        assert!(!is_recovery_code("123456"));
        assert_eq!(
            recovery_hash("ada", c),
            recovery_hash("ada", &c.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_hash("ada", c), recovery_hash("bob", c));
    }

    #[test]
    fn tickets_expire_and_die_after_too_many_wrong_codes() {
        let mut t = Tickets::default();
        let a = t.issue("ada", TicketPurpose::Verify, None, 100);
        assert_eq!(t.get(&a, 101).unwrap().user, "ada");
        assert!(t.get(&a, 100 + TICKET_TTL).is_none());
        assert!(t.get("mfa_forged", 101).is_none());
        for _ in 0..TICKET_TRIES {
            assert!(t.get(&a, 101).is_some());
            t.failed(&a);
        }
        assert!(t.get(&a, 101).is_none());
        let b = t.issue("ada", TicketPurpose::Enrol, None, 100);
        assert!(t.spend(&b).is_some());
        assert!(t.spend(&b).is_none());
    }

    #[test]
    fn qr_codes_render() {
        let uri = otpauth_uri("headend", "ada", b"12345678901234567890");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path"));
        let text = qr_text(&uri).unwrap();
        assert!(text.lines().count() > 10);
    }
}
