//! RDATA fields from presentation text to wire bytes, one [`Field`] kind at a time.
//!
//! The forms are those BIND and Knot read and write: numbers in decimal,
//! DNSSEC algorithms and CERT types also by mnemonic, hex and base64 that
//! may be split by blanks (and so over lines inside parentheses), `-` for an
//! empty NSEC3 salt, RRSIG times as `YYYYMMDDHHmmSS`, and the per-type forms
//! of LOC, APL, SVCB/HTTPS, IPSECKEY and HIP.

use base64::Engine as _;
use hickory_proto::rr::Name;

use super::lexer::Token;
use super::svcb;
use super::text::{self, ipv4, ipv6, push_string, show};
use super::typefield::{self, TypeField};
use crate::rrtype::{ALGORITHMS, BASE32HEX, CERT_TYPES, Field};

/// Cursor over the RDATA fields of one record.
pub(super) struct Fields<'t> {
    pub(super) rtype: &'t str,
    tokens: &'t [Token<'t>],
    next: usize,
    pub(super) origin: &'t Name,
}

impl<'t> Fields<'t> {
    pub(super) fn new(rtype: &'t str, tokens: &'t [Token<'t>], origin: &'t Name) -> Self {
        Self {
            rtype,
            tokens,
            next: 0,
            origin,
        }
    }

    /// An error message about this record.
    pub(super) fn err(&self, what: impl std::fmt::Display) -> String {
        format!("{} record: {what}", self.rtype)
    }

    pub(super) fn next(&mut self, what: &str) -> Result<&'t [u8], String> {
        let tok = self.tokens.get(self.next).ok_or_else(|| {
            self.err(format!(
                "the {what} is missing (the record ends after {} field(s))",
                self.next
            ))
        })?;
        self.next += 1;
        Ok(tok.raw)
    }

    /// Every field left, consumed.
    pub(super) fn rest(&mut self) -> &'t [Token<'t>] {
        let rest = self.tokens.get(self.next..).unwrap_or_default();
        self.next = self.tokens.len();
        rest
    }

    pub(super) fn finish(&self) -> Result<(), String> {
        match self.tokens.get(self.next) {
            None => Ok(()),
            Some(extra) => Err(self.err(format!(
                "unexpected `{}` after the record data ({} field(s) expected)",
                show(extra.raw),
                self.next
            ))),
        }
    }

    /// Encodes one field (or, for whole-RDATA kinds, the rest of the record).
    pub(super) fn encode(
        &mut self,
        field: Field,
        what: &str,
        wire: &mut Vec<u8>,
    ) -> Result<(), String> {
        match field {
            Field::U8 => {
                let n = self.number(u32::from(u8::MAX), what)?;
                wire.push(u8::try_from(n).unwrap_or(u8::MAX));
            }
            Field::U16 => {
                let n = self.number(u32::from(u16::MAX), what)?;
                wire.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
            }
            Field::U32 => {
                let n = self.number(u32::MAX, what)?;
                wire.extend_from_slice(&n.to_be_bytes());
            }
            Field::Period => {
                let tok = self.next(what)?;
                let secs = text::ttl(tok).map_err(|e| self.err(format!("{what}: {e}")))?;
                wire.extend_from_slice(&secs.to_be_bytes());
            }
            Field::Algorithm => {
                let tok = self.next(what)?;
                let n = text::decimal_u32(tok)
                    .and_then(|n| u8::try_from(n).ok())
                    .or_else(|| lookup(ALGORITHMS, tok))
                    .ok_or_else(|| {
                        self.err(format!(
                            "algorithm `{}` is neither a number from 0 to 255 nor a known mnemonic like ECDSAP256SHA256",
                            show(tok)
                        ))
                    })?;
                wire.push(n);
            }
            Field::CertType => {
                let tok = self.next(what)?;
                let n = text::decimal_u32(tok)
                    .and_then(|n| u16::try_from(n).ok())
                    .or_else(|| lookup(CERT_TYPES, tok))
                    .ok_or_else(|| {
                        self.err(format!(
                            "certificate type `{}` is neither a number from 0 to 65535 nor a mnemonic like PKIX or PGP",
                            show(tok)
                        ))
                    })?;
                wire.extend_from_slice(&n.to_be_bytes());
            }
            Field::Name => {
                let tok = self.next(what)?;
                let name =
                    text::name(tok, self.origin).map_err(|e| self.err(format!("{what}: {e}")))?;
                text::emit_name(wire, &name);
            }
            Field::Text => {
                let tok = self.next(what)?;
                let bytes = text::char_string(tok).map_err(|e| self.err(format!("{what}: {e}")))?;
                push_string(wire, &bytes).map_err(|e| self.err(format!("{what}: {e}")))?;
            }
            Field::Texts => {
                let rest = self.rest();
                if rest.is_empty() {
                    return Err(self.err("needs at least one string, like \"v=spf1 -all\""));
                }
                for tok in rest {
                    let bytes = text::char_string(tok.raw).map_err(|e| self.err(e))?;
                    push_string(wire, &bytes).map_err(|e| self.err(e))?;
                }
            }
            Field::TextRest => {
                let tok = self.next(what)?;
                let bytes = text::char_string(tok).map_err(|e| self.err(e))?;
                wire.extend_from_slice(&bytes);
            }
            Field::CaaTag => {
                // RFC 8659 §4.1.1: 1-15 letters and digits.
                let tag = self.next(what)?;
                if tag.is_empty() || tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(self.err(format!(
                        "tag `{}` must be 1 to 15 letters or digits, like issue, issuewild or iodef",
                        show(tag)
                    )));
                }
                push_string(wire, tag).map_err(|e| self.err(e))?;
            }
            Field::Ipv4 => {
                let tok = self.next(what)?;
                wire.extend_from_slice(&ipv4(tok).map_err(|e| self.err(e))?.octets());
            }
            Field::Ipv6 => {
                let tok = self.next(what)?;
                wire.extend_from_slice(&ipv6(tok).map_err(|e| self.err(e))?.octets());
            }
            Field::Hex => {
                let rest = self.rest();
                if rest.is_empty() {
                    return Err(self.err(format!("the {what} is missing")));
                }
                let hex: Vec<u8> = rest.iter().flat_map(|t| t.raw.iter().copied()).collect();
                let bytes = text::hex_bytes(&hex).map_err(|e| self.err(format!("{what}: {e}")))?;
                wire.extend_from_slice(&bytes);
            }
            Field::Base64 => {
                let rest = self.rest();
                if rest.is_empty() {
                    return Err(self.err(format!("the {what} is missing")));
                }
                let bytes = base64_tokens(rest).map_err(|e| self.err(e))?;
                wire.extend_from_slice(&bytes);
            }
            Field::Salt => {
                let tok = self.next(what)?;
                let bytes = if tok == b"-" {
                    Vec::new()
                } else {
                    text::hex_bytes(tok).map_err(|e| self.err(format!("salt: {e}")))?
                };
                push_string(wire, &bytes).map_err(|e| self.err(format!("salt: {e}")))?;
            }
            Field::Hash32 => {
                let tok = self.next(what)?;
                let bytes = base32hex(tok).map_err(|e| self.err(e))?;
                push_string(wire, &bytes).map_err(|e| self.err(e))?;
            }
            Field::Type => {
                let tok = self.next(what)?;
                let code = type_code(tok).map_err(|e| self.err(e))?;
                wire.extend_from_slice(&code.to_be_bytes());
            }
            Field::Types => {
                let mut codes = Vec::new();
                for tok in self.rest() {
                    codes.push(type_code(tok.raw).map_err(|e| self.err(e))?);
                }
                type_bitmap(wire, &mut codes);
            }
            Field::Time => {
                let tok = self.next(what)?;
                let secs = sig_time(tok).map_err(|e| self.err(e))?;
                wire.extend_from_slice(&secs.to_be_bytes());
            }
            Field::Eui48 => {
                let tok = self.next(what)?;
                wire.extend_from_slice(&eui(tok, 6).map_err(|e| self.err(e))?);
            }
            Field::Eui64 => {
                let tok = self.next(what)?;
                wire.extend_from_slice(&eui(tok, 8).map_err(|e| self.err(e))?);
            }
            Field::Ilnp64 => {
                let tok = self.next(what)?;
                wire.extend_from_slice(&ilnp64(tok).map_err(|e| self.err(e))?);
            }
            Field::Loc => {
                let rest = self.rest();
                let bytes = super::loc::parse(rest).map_err(|e| self.err(e))?;
                wire.extend_from_slice(&bytes);
            }
            Field::Apl => {
                for tok in self.rest() {
                    apl_item(wire, tok.raw).map_err(|e| self.err(e))?;
                }
            }
            Field::SvcParams => {
                let rest = self.rest();
                svcb::params(wire, rest).map_err(|e| self.err(e))?;
            }
            Field::IpsecKey => self.ipseckey(wire)?,
            Field::Hip => self.hip(wire)?,
        }
        Ok(())
    }

    fn number(&mut self, max: u32, what: &str) -> Result<u32, String> {
        let tok = self.next(what)?;
        text::decimal_u32(tok).filter(|n| *n <= max).ok_or_else(|| {
            self.err(format!(
                "{what} `{}` is not a number from 0 to {max}",
                show(tok)
            ))
        })
    }

    /// RFC 4025 §3.1: `precedence gateway-type algorithm gateway [public-key]`.
    fn ipseckey(&mut self, wire: &mut Vec<u8>) -> Result<(), String> {
        let precedence = self.number(255, "precedence")?;
        let gateway_type = self.number(255, "gateway type")?;
        let algorithm = self.number(255, "algorithm")?;
        wire.extend([precedence, gateway_type, algorithm].map(|n| u8::try_from(n).unwrap_or(0)));
        let gateway = self.next("gateway")?;
        match gateway_type {
            0 if gateway == b"." => {}
            0 => return Err(self.err("gateway type 0 (none) takes `.` as gateway")),
            1 => wire.extend_from_slice(&ipv4(gateway).map_err(|e| self.err(e))?.octets()),
            2 => wire.extend_from_slice(&ipv6(gateway).map_err(|e| self.err(e))?.octets()),
            3 => {
                let name = text::name(gateway, self.origin).map_err(|e| self.err(e))?;
                text::emit_name(wire, &name);
            }
            n => {
                return Err(self.err(format!(
                    "gateway type {n} has no text form (0 none, 1 IPv4, 2 IPv6, 3 name)"
                )));
            }
        }
        let rest = self.rest();
        if !rest.is_empty() {
            wire.extend_from_slice(&base64_tokens(rest).map_err(|e| self.err(e))?);
        }
        Ok(())
    }

    /// RFC 8005 §5: `pk-algorithm HIT public-key [rendezvous-server ...]`.
    fn hip(&mut self, wire: &mut Vec<u8>) -> Result<(), String> {
        let algorithm = self.number(255, "public key algorithm")?;
        let hit_text = self.next("HIT")?;
        let hit = text::hex_bytes(hit_text).map_err(|e| self.err(format!("HIT: {e}")))?;
        let hit_len = u8::try_from(hit.len())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| self.err("HIT must be 1 to 255 bytes"))?;
        let key_text = self.next("public key")?;
        let key = base64_tokens(&[Token {
            raw: key_text,
            quoted: false,
        }])
        .map_err(|e| self.err(e))?;
        let key_len = u16::try_from(key.len()).map_err(|_| self.err("public key is too long"))?;
        wire.push(hit_len);
        wire.push(u8::try_from(algorithm).unwrap_or(0));
        wire.extend_from_slice(&key_len.to_be_bytes());
        wire.extend_from_slice(&hit);
        wire.extend_from_slice(&key);
        for tok in self.rest() {
            let name = text::name(tok.raw, self.origin).map_err(|e| self.err(e))?;
            text::emit_name(wire, &name);
        }
        Ok(())
    }
}

/// A mnemonic from a table (case-insensitive).
fn lookup<T: Copy>(table: &[(&str, T)], tok: &[u8]) -> Option<T> {
    table
        .iter()
        .find(|(m, _)| m.as_bytes().eq_ignore_ascii_case(tok))
        .map(|(_, v)| *v)
}

/// Base64 split over several fields, joined first (BIND writes keys that way).
pub(super) fn base64_tokens(tokens: &[Token<'_>]) -> Result<Vec<u8>, String> {
    let joined: Vec<u8> = tokens.iter().flat_map(|t| t.raw.iter().copied()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&joined)
        .map_err(|e| format!("`{}` is not valid base64: {e}", show(&joined)))
}

/// A type mnemonic or `TYPEnnn`.
fn type_code(tok: &[u8]) -> Result<u16, String> {
    match typefield::type_field(tok) {
        TypeField::Type(t) | TypeField::Unservable(t) => Ok(u16::from(t)),
        TypeField::NotAType => Err(format!("`{}` is not a record type", show(tok))),
    }
}

/// RFC 4034 §4.1.2: window blocks of up to 32 bitmap octets, trailing zero octets left out.
pub(super) fn type_bitmap(wire: &mut Vec<u8>, codes: &mut Vec<u16>) {
    codes.sort_unstable();
    codes.dedup();
    let mut i = 0;
    while let Some(&first) = codes.get(i) {
        let window = first >> 8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while let Some(&code) = codes.get(i) {
            if code >> 8 != window {
                break;
            }
            let low = usize::from(code & 0xff);
            if let Some(octet) = bits.get_mut(low / 8) {
                *octet |= 0x80 >> (low % 8);
            }
            used = low / 8 + 1;
            i += 1;
        }
        wire.push(u8::try_from(window).unwrap_or(0));
        wire.push(u8::try_from(used).unwrap_or(32));
        wire.extend_from_slice(bits.get(..used).unwrap_or_default());
    }
}

/// RFC 4034 §3.2: `YYYYMMDDHHmmSS` (UTC) or a number of seconds; the
/// 32-bit value is the time modulo 2^32 (serial number arithmetic).
fn sig_time(tok: &[u8]) -> Result<u32, String> {
    if tok.len() == 14 && tok.iter().all(u8::is_ascii_digit) {
        let num = |r: std::ops::Range<usize>| {
            tok.get(r)
                .and_then(text::decimal_u32)
                .map(i64::from)
                .unwrap_or(0)
        };
        let (y, mo, d, h, mi, s) = (
            num(0..4),
            num(4..6),
            num(6..8),
            num(8..10),
            num(10..12),
            num(12..14),
        );
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
            return Err(format!(
                "`{}` is not a valid YYYYMMDDHHmmSS time",
                show(tok)
            ));
        }
        let t = headend_util::time::from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
        return Ok(u32::try_from(t.rem_euclid(1 << 32)).unwrap_or(0));
    }
    text::decimal_u32(tok).ok_or_else(|| {
        format!(
            "`{}` is not a signature time: write YYYYMMDDHHmmSS or seconds since 1970",
            show(tok)
        )
    })
}

/// Base32hex (RFC 4648 §7), no padding, either case.
pub(crate) fn base32hex(tok: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(tok.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in tok {
        let upper = c.to_ascii_uppercase();
        let v = BASE32HEX
            .iter()
            .position(|&a| a == upper)
            .ok_or_else(|| format!("`{}` is not base32hex", show(tok)))?;
        acc = (acc << 5) | u32::try_from(v).unwrap_or(0);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    if bits >= 5 || acc & ((1 << bits) - 1) != 0 {
        return Err(format!("`{}` is not whole base32hex octets", show(tok)));
    }
    Ok(out)
}

/// RFC 7043: hex pairs joined by `-`.
fn eui(tok: &[u8], octets: usize) -> Result<Vec<u8>, String> {
    let parts: Vec<&[u8]> = tok.split(|&b| b == b'-').collect();
    if parts.len() != octets || parts.iter().any(|p| p.len() != 2) {
        return Err(format!(
            "`{}` is not {octets} hex pairs joined by `-`",
            show(tok)
        ));
    }
    let joined: Vec<u8> = parts.concat();
    text::hex_bytes(&joined)
}

/// RFC 6742 §2.3: four 16-bit groups of 1-4 hex digits joined by `:`.
fn ilnp64(tok: &[u8]) -> Result<[u8; 8], String> {
    let bad = || {
        format!(
            "`{}` is not four hex groups like 0014:4fff:ff20:ee64",
            show(tok)
        )
    };
    let mut out = [0u8; 8];
    let mut groups = tok.split(|&b| b == b':');
    for pair in out.chunks_mut(2) {
        let group = groups.next().ok_or_else(bad)?;
        if group.is_empty() || group.len() > 4 {
            return Err(bad());
        }
        let value = std::str::from_utf8(group)
            .ok()
            .and_then(|s| u16::from_str_radix(s, 16).ok())
            .ok_or_else(bad)?;
        pair.copy_from_slice(&value.to_be_bytes());
    }
    if groups.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

/// RFC 3123 §5: `[!]afi:address/prefix`, the address cut to its significant octets.
fn apl_item(wire: &mut Vec<u8>, tok: &[u8]) -> Result<(), String> {
    let bad = || {
        format!(
            "APL item `{}` is not like 1:192.0.2.0/24, !1:192.0.2.128/25 or 2:2001:db8::/32",
            show(tok)
        )
    };
    let (negate, body) = match tok.strip_prefix(b"!") {
        Some(rest) => (true, rest),
        None => (false, tok),
    };
    let text = std::str::from_utf8(body).map_err(|_| bad())?;
    let (family, rest) = text.split_once(':').ok_or_else(bad)?;
    let (address, prefix) = rest.rsplit_once('/').ok_or_else(bad)?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let (family, octets, max): (u16, Vec<u8>, u8) = match family {
        "1" => (1, ipv4(address.as_bytes())?.octets().to_vec(), 32),
        "2" => (2, ipv6(address.as_bytes())?.octets().to_vec(), 128),
        _ => {
            return Err(format!(
                "APL item `{}`: address family must be 1 (IPv4) or 2 (IPv6)",
                show(tok)
            ));
        }
    };
    if prefix > max {
        return Err(format!(
            "APL item `{}`: prefix /{prefix} is longer than the address ({max} bits)",
            show(tok)
        ));
    }
    // RFC 3123 §4: trailing zero octets are not sent.
    let used = octets.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    wire.extend_from_slice(&family.to_be_bytes());
    wire.push(prefix);
    wire.push(u8::try_from(used).unwrap_or(0) | if negate { 0x80 } else { 0 });
    wire.extend_from_slice(octets.get(..used).unwrap_or_default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_bitmap_matches_rfc_4034_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let mut wire = Vec::new();
        type_bitmap(&mut wire, &mut vec![1, 15, 46, 47, 1234]);
        let want = hex::decode(
            "0006400100000003041b000000000000000000000000000000000000000000000000000020",
        )
        .unwrap();
        assert_eq!(wire, want);
    }

    #[test]
    fn signature_times_are_utc_seconds() {
        assert_eq!(sig_time(b"19700101000000").unwrap(), 0);
        assert_eq!(sig_time(b"20260101000000").unwrap(), 1_767_225_600);
        assert_eq!(sig_time(b"1767225600").unwrap(), 1_767_225_600);
        assert!(sig_time(b"20261301000000").is_err());
    }

    #[test]
    fn base32hex_reads_nsec3_hashes() {
        // RFC 4648 §10 test vectors, padding left out as NSEC3 does.
        assert_eq!(base32hex(b"CPNMUOG").unwrap(), b"foob");
        assert_eq!(base32hex(b"cpnmuoj1").unwrap(), b"fooba");
        assert!(base32hex(b"CPNMUOH").is_err());
        assert!(base32hex(b"CPNMUOJ1W").is_err());
    }

    #[test]
    fn apl_items_cut_trailing_zero_octets() {
        let mut wire = Vec::new();
        apl_item(&mut wire, b"1:192.168.32.0/21").unwrap();
        apl_item(&mut wire, b"!1:192.168.38.0/28").unwrap();
        apl_item(&mut wire, b"1:0.0.0.0/0").unwrap();
        assert_eq!(
            wire,
            [
                0, 1, 21, 3, 192, 168, 32, 0, 1, 28, 0x83, 192, 168, 38, 0, 1, 0, 0
            ]
        );
    }

    #[test]
    fn eui_and_ilnp_forms() {
        assert_eq!(
            eui(b"00-00-5e-00-53-2a", 6).unwrap(),
            [0, 0, 0x5e, 0, 0x53, 0x2a]
        );
        assert!(eui(b"00:00:5e:00:53:2a", 6).is_err());
        assert_eq!(
            ilnp64(b"14:4fff:ff20:ee64").unwrap(),
            [0, 0x14, 0x4f, 0xff, 0xff, 0x20, 0xee, 0x64]
        );
        assert!(ilnp64(b"1:2:3").is_err());
    }
}
