//! Record types and their RDATA in presentation form, turned into hickory `RData`.
//!
//! Each type with a text form ([`crate::rrtype::fields`]) is encoded to its
//! RFC wire form field by field ([`super::fields`]) and then decoded with
//! hickory's own RDATA reader where hickory models the type and reads it back
//! to the same bytes; otherwise the wire bytes are kept as they are. Either
//! way what headend serves is byte for byte what the file says (case of
//! names included). TXT is built directly, because a string over 255 bytes
//! cannot be put on the wire but must still reach the zone checks, which
//! explain how to split it.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{NULL, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{
    BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};

use super::fields::Fields;
use super::lexer::Token;
use super::text::{self, show};
use crate::rrtype;

/// The type's mnemonic, or `TYPEnnn` (RFC 3597 §5) for a type without one.
pub(crate) fn type_label(rtype: RecordType) -> Cow<'static, str> {
    let code = u16::from(rtype);
    rrtype::mnemonic_of(code).map_or_else(|| Cow::Owned(rrtype::label(code)), Cow::Borrowed)
}

/// Parses the RDATA fields of a record of type `rtype`.
pub(crate) fn parse(
    rtype: RecordType,
    fields: &[Token<'_>],
    origin: &Name,
) -> Result<RData, String> {
    if fields.first().is_some_and(|t| !t.quoted && t.raw == b"\\#") {
        return generic(rtype, fields.get(1..).unwrap_or_default());
    }
    match rtype {
        RecordType::TXT => return txt(fields),
        // Addresses, the bulk of large zones, are built directly (no wire
        // round trip); what they decode to is the same (tested).
        RecordType::A => {
            let [tok] = fields else {
                return Err(one_field("A", "an IPv4 address", fields));
            };
            let addr: Ipv4Addr = std::str::from_utf8(tok.raw)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("A record: `{}` is not an IPv4 address", show(tok.raw)))?;
            return Ok(RData::A(addr.into()));
        }
        RecordType::AAAA => {
            let [tok] = fields else {
                return Err(one_field("AAAA", "an IPv6 address", fields));
            };
            let addr: Ipv6Addr = std::str::from_utf8(tok.raw)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    format!("AAAA record: `{}` is not an IPv6 address", show(tok.raw))
                })?;
            return Ok(RData::AAAA(addr.into()));
        }
        _ => {}
    }
    let tn = type_label(rtype);
    let Some(shape) = rrtype::fields(u16::from(rtype)) else {
        return Err(format!(
            "{tn} records have no text form here; write them in the RFC 3597 generic form: `{tn} \\# LENGTH HEX`"
        ));
    };
    let mut f = Fields::new(&tn, fields, origin);
    let mut wire = Vec::new();
    for (field, what) in shape {
        f.encode(*field, what, &mut wire)?;
    }
    f.finish()?;
    from_wire(rtype, wire)
}

/// The error for an address record without exactly one field.
fn one_field(tn: &str, what: &str, fields: &[Token<'_>]) -> String {
    match fields.get(1) {
        None => format!("{tn} record: the address is missing; it takes {what}"),
        Some(extra) => format!(
            "{tn} record: unexpected `{}` after the record data (1 field(s) expected)",
            show(extra.raw)
        ),
    }
}

/// RDATA built from text: hickory's typed form where hickory reads the type
/// back to the same bytes, else the bytes as they are (RFC 3597 keeps a type
/// hickory does not model servable byte for byte).
fn from_wire(rtype: RecordType, wire: Vec<u8>) -> Result<RData, String> {
    let typed = decode(rtype, &wire);
    if let Ok(rdata) = &typed
        && !matches!(rdata, RData::Unknown { .. })
        && emit_uncompressed(rdata).as_deref() == Some(wire.as_slice())
    {
        return typed;
    }
    if u16::try_from(wire.len()).is_err() {
        return Err(format!(
            "{} record: RDATA is {} bytes; at most 65535",
            type_label(rtype),
            wire.len()
        ));
    }
    // `NULL::with` asserts that its bytes are not empty (APL may be).
    let rdata = if wire.is_empty() {
        NULL::new()
    } else {
        NULL::with(wire)
    };
    Ok(RData::Unknown { code: rtype, rdata })
}

/// RDATA in wire form, names uncompressed and in their case.
pub(crate) fn emit_uncompressed(rdata: &RData) -> Option<Vec<u8>> {
    let mut wire = Vec::new();
    let mut encoder = BinEncoder::new(&mut wire);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    rdata.emit(&mut encoder).ok()?;
    Some(wire)
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
    let tn = || type_label(rtype);
    let len = u16::try_from(wire.len()).map_err(|_| {
        format!(
            "{} record: RDATA is {} bytes; at most 65535",
            tn(),
            wire.len()
        )
    })?;
    let mut decoder = BinDecoder::new(wire);
    let rdata = RData::read(&mut decoder, rtype, Restrict::new(len))
        .map_err(|e| format!("{} record: RDATA is not valid for the type: {e}", tn()))?;
    if decoder.index() != wire.len() {
        return Err(format!(
            "{} record: RDATA has {} bytes left over after the type's fields",
            tn(),
            wire.len() - decoder.index()
        ));
    }
    Ok(rdata)
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
