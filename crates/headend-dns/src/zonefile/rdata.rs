//! Record types and their RDATA in presentation form, turned into hickory `RData`.
//!
//! Each known type is encoded to its RFC wire form here and then decoded with
//! hickory's own RDATA reader, so what headend serves is byte for byte what
//! the file says (case of names included). TXT is built directly, because a
//! string over 255 bytes cannot be put on the wire but must still reach the
//! zone checks, which explain how to split it.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::lexer::Token;
use super::text::{self, show};

/// Types read in their own presentation format (everything else needs RFC 3597 `\#`).
const TEXT_TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::SOA,
    RecordType::PTR,
    RecordType::MX,
    RecordType::TXT,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::NAPTR,
    RecordType::DS,
    RecordType::SSHFP,
    RecordType::TLSA,
    RecordType::CAA,
];

/// What a type field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeField {
    /// A type that may appear in a zone file.
    Type(RecordType),
    /// A type that cannot be served from a zone (meta, query-only, or unsupported).
    Unservable(RecordType),
    /// Not a type at all.
    NotAType,
}

/// Reads a type field: a mnemonic (any case) or RFC 3597 `TYPEnnn`.
pub(crate) fn type_field(raw: &[u8]) -> TypeField {
    // Upper-cased on the stack: every record has a type field. No mnemonic
    // or TYPEnnn is longer than 16 bytes.
    let mut buf = [0u8; 16];
    let Some(upper) = buf.get_mut(..raw.len()) else {
        return TypeField::NotAType;
    };
    upper.copy_from_slice(raw);
    upper.make_ascii_uppercase();
    let upper = &*upper;
    let rtype = if let Some(digits) = upper.strip_prefix(b"TYPE") {
        match text::decimal_u32(digits).and_then(|n| u16::try_from(n).ok()) {
            Some(code) => RecordType::from(code),
            None => return TypeField::NotAType,
        }
    } else {
        let Ok(word) = std::str::from_utf8(upper) else {
            return TypeField::NotAType;
        };
        if word == "*" {
            return TypeField::NotAType;
        }
        match word.parse::<RecordType>() {
            Ok(t) => t,
            Err(_) => return TypeField::NotAType,
        }
    };
    let code = u16::from(rtype);
    // RFC 6895 §3.1: 0 is reserved, 128-255 are meta/query types (ANY, AXFR, IXFR, ...);
    // OPT (41) and TSIG (250) live only in messages. DNAME needs substitution the
    // answer engine does not do, so it is refused rather than served wrongly.
    if code == 0
        || (128..=255).contains(&code)
        || matches!(
            rtype,
            RecordType::OPT | RecordType::TSIG | RecordType::DNAME | RecordType::SIG
        )
    {
        TypeField::Unservable(rtype)
    } else {
        TypeField::Type(rtype)
    }
}

/// The type's mnemonic, or `TYPEnnn` (RFC 3597 §5) for a type hickory has no name for.
pub(crate) fn type_label(rtype: RecordType) -> String {
    match rtype {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        known => known.to_string(),
    }
}

/// Parses the RDATA fields of a record of type `rtype`.
pub(crate) fn parse(
    rtype: RecordType,
    fields: &[Token<'_>],
    origin: &Name,
) -> Result<RData, String> {
    let tn = type_label(rtype);
    if fields.first().is_some_and(|t| !t.quoted && t.raw == b"\\#") {
        return generic(rtype, fields.get(1..).unwrap_or_default());
    }
    if !TEXT_TYPES.contains(&rtype) {
        return Err(format!(
            "{tn} records are only read in the RFC 3597 generic form here: `{tn} \\# LENGTH HEX`"
        ));
    }
    if rtype == RecordType::TXT {
        return txt(fields);
    }
    let mut wire = Vec::new();
    let mut f = Fields {
        rtype: tn,
        tokens: fields,
        next: 0,
        origin,
    };
    match rtype {
        // Addresses, the bulk of large zones, are built directly (no wire
        // round trip); what they decode to is the same (tested).
        RecordType::A => {
            let tok = f.next("address")?;
            let addr: Ipv4Addr = std::str::from_utf8(tok)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("A record: `{}` is not an IPv4 address", show(tok)))?;
            f.finish()?;
            return Ok(RData::A(addr.into()));
        }
        RecordType::AAAA => {
            let tok = f.next("address")?;
            let addr: Ipv6Addr = std::str::from_utf8(tok)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("AAAA record: `{}` is not an IPv6 address", show(tok)))?;
            f.finish()?;
            return Ok(RData::AAAA(addr.into()));
        }
        RecordType::NS | RecordType::CNAME | RecordType::PTR => {
            f.name(&mut wire, "target name")?;
        }
        RecordType::MX => {
            f.u16(&mut wire, "preference")?;
            f.name(&mut wire, "mail exchanger")?;
        }
        RecordType::SOA => {
            // RFC 1035 §3.3.13: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM.
            f.name(&mut wire, "primary name server (MNAME)")?;
            f.name(&mut wire, "responsible mailbox (RNAME)")?;
            let serial = f.next("serial")?;
            let serial = text::decimal_u32(serial).ok_or_else(|| {
                format!(
                    "SOA record: serial `{}` is not a number from 0 to 4294967295",
                    show(serial)
                )
            })?;
            wire.extend_from_slice(&serial.to_be_bytes());
            for what in ["refresh", "retry", "expire", "minimum"] {
                let tok = f.next(what)?;
                let secs = text::ttl(tok).map_err(|e| format!("SOA record: {what}: {e}"))?;
                wire.extend_from_slice(&secs.to_be_bytes());
            }
        }
        RecordType::SRV => {
            // RFC 2782: priority weight port target.
            f.u16(&mut wire, "priority")?;
            f.u16(&mut wire, "weight")?;
            f.u16(&mut wire, "port")?;
            f.name(&mut wire, "target")?;
        }
        RecordType::NAPTR => {
            // RFC 3403 §4.1: order preference flags services regexp replacement.
            f.u16(&mut wire, "order")?;
            f.u16(&mut wire, "preference")?;
            for what in ["flags", "services", "regexp"] {
                let tok = f.next(what)?;
                let bytes =
                    text::char_string(tok).map_err(|e| format!("NAPTR record: {what}: {e}"))?;
                push_character_string(&mut wire, &bytes)
                    .map_err(|e| format!("NAPTR record: {what}: {e}"))?;
            }
            f.name(&mut wire, "replacement")?;
        }
        RecordType::DS => {
            // RFC 4034 §5.3: key tag, algorithm, digest type, digest in hex (blanks allowed).
            f.u16(&mut wire, "key tag")?;
            f.algorithm(&mut wire)?;
            f.u8(&mut wire, "digest type")?;
            f.hex_rest(&mut wire, "digest")?;
        }
        RecordType::SSHFP => {
            // RFC 4255 §3.2: algorithm, fingerprint type, fingerprint in hex.
            f.u8(&mut wire, "algorithm")?;
            f.u8(&mut wire, "fingerprint type")?;
            f.hex_rest(&mut wire, "fingerprint")?;
        }
        RecordType::TLSA => {
            // RFC 6698 §2.2: usage, selector, matching type, data in hex.
            f.u8(&mut wire, "certificate usage")?;
            f.u8(&mut wire, "selector")?;
            f.u8(&mut wire, "matching type")?;
            f.hex_rest(&mut wire, "certificate association data")?;
        }
        RecordType::CAA => {
            // RFC 8659 §4.1.1: flags, tag (1-15 letters and digits), value.
            f.u8(&mut wire, "flags")?;
            let tag = f.next("tag")?;
            if tag.is_empty() || tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err(format!(
                    "CAA record: tag `{}` must be 1 to 15 letters or digits, like issue, issuewild or iodef",
                    show(tag)
                ));
            }
            let value = f.next("value")?;
            let value = text::char_string(value).map_err(|e| format!("CAA record: value: {e}"))?;
            wire.push(u8::try_from(tag.len()).unwrap_or(15));
            wire.extend_from_slice(tag);
            wire.extend_from_slice(&value);
        }
        _ => return Err(format!("{} records are not supported", f.rtype)),
    }
    f.finish()?;
    decode(rtype, &wire)
}

/// RFC 3597 §5: `\# LENGTH HEX...` (the hex may be split by blanks; absent for length 0).
fn generic(rtype: RecordType, fields: &[Token<'_>]) -> Result<RData, String> {
    let tn = type_label(rtype);
    let Some(len_tok) = fields.first() else {
        return Err(format!(
            "{tn} record: `\\#` must be followed by the RDATA length and its hex, like `\\# 4 C0000201`"
        ));
    };
    let declared = text::decimal_u32(len_tok.raw)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| {
            format!(
                "{tn} record: `\\#` length `{}` is not a number from 0 to 65535",
                show(len_tok.raw)
            )
        })?;
    let hex: Vec<u8> = fields
        .get(1..)
        .unwrap_or_default()
        .iter()
        .flat_map(|t| t.raw.iter().copied())
        .collect();
    let bytes = text::hex_bytes(&hex).map_err(|e| format!("{tn} record: `\\#` data: {e}"))?;
    if bytes.len() != usize::from(declared) {
        return Err(format!(
            "{tn} record: `\\#` says {declared} bytes but the hex holds {}",
            bytes.len()
        ));
    }
    decode(rtype, &bytes)
}

/// TXT (RFC 1035 §3.3.14): one or more character strings.
fn txt(fields: &[Token<'_>]) -> Result<RData, String> {
    if fields.is_empty() {
        return Err("TXT record: needs at least one string, like \"v=spf1 -all\"".to_string());
    }
    let strings = fields
        .iter()
        .map(|t| text::char_string(t.raw).map_err(|e| format!("TXT record: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let wire_len: usize = strings.iter().map(|s| s.len() + 1).sum();
    if wire_len > usize::from(u16::MAX) {
        return Err(format!(
            "TXT record: its strings total {wire_len} bytes; RDATA holds at most 65535"
        ));
    }
    Ok(RData::TXT(TXT::from_bytes(
        strings.iter().map(Vec::as_slice).collect(),
    )))
}

/// Decodes wire RDATA with hickory's reader (the type's own validity rules apply).
fn decode(rtype: RecordType, wire: &[u8]) -> Result<RData, String> {
    let tn = type_label(rtype);
    let len = u16::try_from(wire.len())
        .map_err(|_| format!("{tn} record: RDATA is {} bytes; at most 65535", wire.len()))?;
    let mut decoder = BinDecoder::new(wire);
    let rdata = RData::read(&mut decoder, rtype, Restrict::new(len))
        .map_err(|e| format!("{tn} record: RDATA is not valid for the type: {e}"))?;
    if decoder.index() != wire.len() {
        return Err(format!(
            "{tn} record: RDATA has {} bytes left over after the type's fields",
            wire.len() - decoder.index()
        ));
    }
    Ok(rdata)
}

/// Appends a length-prefixed character string (at most 255 bytes).
fn push_character_string(wire: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    let len = u8::try_from(bytes.len())
        .map_err(|_| format!("string is {} bytes; at most 255", bytes.len()))?;
    wire.push(len);
    wire.extend_from_slice(bytes);
    Ok(())
}

/// DNSSEC algorithm mnemonics (RFC 8624 and the IANA registry) accepted in DS.
const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
];

/// Cursor over the RDATA fields of one record.
struct Fields<'t> {
    rtype: String,
    tokens: &'t [Token<'t>],
    next: usize,
    origin: &'t Name,
}

impl<'t> Fields<'t> {
    fn next(&mut self, what: &str) -> Result<&'t [u8], String> {
        let tok = self.tokens.get(self.next).ok_or_else(|| {
            format!(
                "{} record: the {what} is missing (the record ends after {} field(s))",
                self.rtype, self.next
            )
        })?;
        self.next += 1;
        Ok(tok.raw)
    }

    fn u16(&mut self, wire: &mut Vec<u8>, what: &str) -> Result<(), String> {
        let tok = self.next(what)?;
        let n = text::decimal_u32(tok)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "{} record: {what} `{}` is not a number from 0 to 65535",
                    self.rtype,
                    show(tok)
                )
            })?;
        wire.extend_from_slice(&n.to_be_bytes());
        Ok(())
    }

    fn u8(&mut self, wire: &mut Vec<u8>, what: &str) -> Result<(), String> {
        let tok = self.next(what)?;
        let n = text::decimal_u32(tok)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "{} record: {what} `{}` is not a number from 0 to 255",
                    self.rtype,
                    show(tok)
                )
            })?;
        wire.push(n);
        Ok(())
    }

    fn algorithm(&mut self, wire: &mut Vec<u8>) -> Result<(), String> {
        let tok = self.next("algorithm")?;
        let n = text::decimal_u32(tok)
            .and_then(|n| u8::try_from(n).ok())
            .or_else(|| {
                ALGORITHMS
                    .iter()
                    .find(|(m, _)| m.as_bytes().eq_ignore_ascii_case(tok))
                    .map(|(_, n)| *n)
            })
            .ok_or_else(|| {
                format!(
                    "{} record: algorithm `{}` is neither a number from 0 to 255 nor a known mnemonic like ECDSAP256SHA256",
                    self.rtype,
                    show(tok)
                )
            })?;
        wire.push(n);
        Ok(())
    }

    fn name(&mut self, wire: &mut Vec<u8>, what: &str) -> Result<(), String> {
        let tok = self.next(what)?;
        let name = text::name(tok, self.origin)
            .map_err(|e| format!("{} record: {what}: {e}", self.rtype))?;
        text::emit_name(wire, &name);
        Ok(())
    }

    /// All remaining fields as one run of hex digits (RFC 4034 §5.3 allows blanks).
    fn hex_rest(&mut self, wire: &mut Vec<u8>, what: &str) -> Result<(), String> {
        let rest = self.tokens.get(self.next..).unwrap_or_default();
        if rest.is_empty() {
            return Err(format!("{} record: the {what} is missing", self.rtype));
        }
        let hex: Vec<u8> = rest.iter().flat_map(|t| t.raw.iter().copied()).collect();
        self.next = self.tokens.len();
        let bytes =
            text::hex_bytes(&hex).map_err(|e| format!("{} record: {what}: {e}", self.rtype))?;
        wire.extend_from_slice(&bytes);
        Ok(())
    }

    fn finish(&self) -> Result<(), String> {
        match self.tokens.get(self.next) {
            None => Ok(()),
            Some(extra) => Err(format!(
                "{} record: unexpected `{}` after the record data ({} field(s) expected)",
                self.rtype,
                show(extra.raw),
                self.next
            )),
        }
    }
}

#[cfg(test)]
mod direct_tests {
    use super::*;

    fn token(text: &str) -> Token<'_> {
        Token {
            raw: text.as_bytes(),
            quoted: false,
        }
    }

    #[test]
    fn addresses_built_directly_equal_the_wire_round_trip() {
        let origin = Name::from_ascii("example.").unwrap();
        let v6: Ipv6Addr = "2001:db8::a:1".parse().unwrap();
        let cases = [
            (RecordType::A, "192.0.2.77", vec![192, 0, 2, 77]),
            (RecordType::AAAA, "2001:db8::a:1", v6.octets().to_vec()),
        ];
        for (rtype, text, wire) in cases {
            let direct = parse(rtype, &[token(text)], &origin).unwrap();
            assert_eq!(direct, decode(rtype, &wire).unwrap(), "{text}");
        }
    }

    #[test]
    fn an_address_with_a_trailing_field_is_refused() {
        let origin = Name::from_ascii("example.").unwrap();
        let err = parse(RecordType::A, &[token("192.0.2.1"), token("x")], &origin).unwrap_err();
        assert!(err.contains("x"), "{err}");
        assert!(parse(RecordType::AAAA, &[token("192.0.2.1")], &origin).is_err());
    }
}
