//! Presentation format (RFC 1035 §5.1) of records, for zone files headend
//! writes itself (API edits) and for showing records to an operator.
//!
//! Every type with a text form ([`crate::rrtype::fields`]) is written in it,
//! from the record's wire bytes, in a form headend's own parser (and BIND's
//! and Knot's) reads back to the same bytes; RDATA that does not fit its
//! type's text form, and types without one, are written in the RFC 3597
//! generic form `\# len hex`.

use std::fmt::Write as _;

use base64::Engine as _;
use hickory_proto::rr::{RData, Record, RecordType};

use crate::rrtype::{self, BASE32HEX, CERT_TYPES, Field};
use crate::zonefile::{emit_uncompressed, loc, svcb};

/// The RDATA of `record` in zone-file syntax.
pub fn rdata_text(record: &Record) -> String {
    if let RData::TXT(txt) = &record.data {
        return txt
            .txt_data
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(" ");
    }
    let Some(wire) = emit_uncompressed(&record.data) else {
        return "\\# 0".to_owned();
    };
    wire_text(u16::from(record.record_type()), &wire).unwrap_or_else(|| generic(&wire))
}

/// The text form of RDATA `wire` of type `code`, `None` when the type has
/// none or the bytes do not fit it.
pub(crate) fn wire_text(code: u16, wire: &[u8]) -> Option<String> {
    let shape = rrtype::fields(code)?;
    let mut cur = Cursor { wire, at: 0 };
    let mut parts: Vec<String> = Vec::with_capacity(shape.len());
    for (field, _) in shape {
        let part = cur.field(*field)?;
        if !part.is_empty() || !matches!(field, Field::Types | Field::SvcParams | Field::Apl) {
            parts.push(part);
        }
    }
    (cur.at == wire.len()).then(|| parts.join(" "))
}

/// The record type as written in a zone file (`TYPEnnn` for a type without a mnemonic).
pub fn type_text(record: &Record) -> String {
    rrtype::label(u16::from(record.record_type()))
}

/// One zone-file line for the record, owner name absolute.
pub fn record_line(record: &Record) -> String {
    format!(
        "{} {} IN {} {}",
        name_text(&record.name),
        record.ttl,
        type_text(record),
        rdata_text(record)
    )
}

/// The presentation name of a type for display (`A`, `CAA`, `TYPE65534`).
pub fn type_name(rtype: RecordType) -> String {
    rrtype::label(u16::from(rtype))
}

/// The most a character-string holds (RFC 1035 §3.3: a length octet).
pub const MAX_CHARACTER_STRING: usize = 255;

/// TXT/SPF RDATA in zone-file syntax holding `text` as one value: a single
/// quoted string, or, past 255 bytes, several strings of the same record
/// (receivers join them with nothing between, RFC 7208 §3.3), each quoted
/// and escaped so that spaces, `;` and `"` are kept as they are.
pub fn txt_rdata(text: &str) -> String {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return "\"\"".to_owned();
    }
    bytes
        .chunks(MAX_CHARACTER_STRING)
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A character-string in double quotes with `"`, `\` and non-printable bytes escaped.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

/// RFC 3597 §5: `\# <length> <hex>`.
fn generic(wire: &[u8]) -> String {
    if wire.is_empty() {
        "\\# 0".to_owned()
    } else {
        format!("\\# {} {}", wire.len(), hex::encode_upper(wire))
    }
}

/// Reads RDATA wire bytes field by field.
struct Cursor<'w> {
    wire: &'w [u8],
    at: usize,
}

impl<'w> Cursor<'w> {
    fn take(&mut self, n: usize) -> Option<&'w [u8]> {
        let bytes = self.wire.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn rest(&mut self) -> &'w [u8] {
        let bytes = self.wire.get(self.at..).unwrap_or_default();
        self.at = self.wire.len();
        bytes
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let [a, b] = self.take(2)? else { return None };
        Some(u16::from_be_bytes([*a, *b]))
    }

    fn u32(&mut self) -> Option<u32> {
        let [a, b, c, d] = self.take(4)? else {
            return None;
        };
        Some(u32::from_be_bytes([*a, *b, *c, *d]))
    }

    /// A length-prefixed string.
    fn string(&mut self) -> Option<&'w [u8]> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }

    /// An uncompressed name, written absolute with RFC 1035 §5.1 escapes.
    fn name(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            let len = self.u8()?;
            if len == 0 {
                break;
            }
            if len > 63 {
                return None;
            }
            push_label(&mut out, self.take(usize::from(len))?);
        }
        if out.is_empty() {
            out.push('.');
        }
        Some(out)
    }

    fn field(&mut self, field: Field) -> Option<String> {
        Some(match field {
            Field::U8 | Field::Algorithm => self.u8()?.to_string(),
            Field::U16 => self.u16()?.to_string(),
            Field::U32 | Field::Period => self.u32()?.to_string(),
            Field::Name => self.name()?,
            Field::Text => quote(self.string()?),
            Field::Texts => {
                let mut strings = Vec::new();
                while self.at < self.wire.len() {
                    strings.push(quote(self.string()?));
                }
                if strings.is_empty() {
                    return None;
                }
                strings.join(" ")
            }
            Field::TextRest => quote(self.rest()),
            Field::CaaTag => {
                let tag = self.string()?;
                if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return None;
                }
                String::from_utf8_lossy(tag).into_owned()
            }
            Field::Ipv4 => {
                let octets: [u8; 4] = self.take(4)?.try_into().ok()?;
                std::net::Ipv4Addr::from(octets).to_string()
            }
            Field::Ipv6 => {
                let octets: [u8; 16] = self.take(16)?.try_into().ok()?;
                std::net::Ipv6Addr::from(octets).to_string()
            }
            Field::Hex => {
                let rest = self.rest();
                if rest.is_empty() {
                    return None;
                }
                hex::encode_upper(rest)
            }
            Field::Base64 => {
                let rest = self.rest();
                if rest.is_empty() {
                    return None;
                }
                base64::engine::general_purpose::STANDARD.encode(rest)
            }
            Field::Salt => {
                let salt = self.string()?;
                if salt.is_empty() {
                    "-".to_owned()
                } else {
                    hex::encode_upper(salt)
                }
            }
            Field::Hash32 => {
                let hash = self.string()?;
                if hash.is_empty() {
                    return None;
                }
                base32hex(hash)
            }
            Field::Type => rrtype::label(self.u16()?),
            Field::Types => type_bitmap_text(self.rest())?,
            Field::Time => {
                let (y, mo, d, h, mi, s) = headend_util::time::civil(i64::from(self.u32()?));
                format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
            }
            Field::CertType => {
                let n = self.u16()?;
                CERT_TYPES
                    .iter()
                    .find(|(_, c)| *c == n)
                    .map_or_else(|| n.to_string(), |(m, _)| (*m).to_owned())
            }
            Field::Eui48 => eui(self.take(6)?),
            Field::Eui64 => eui(self.take(8)?),
            Field::Ilnp64 => {
                let groups: Vec<String> = self.take(8)?.chunks_exact(2).map(hex::encode).collect();
                groups.join(":")
            }
            Field::Loc => loc::text(self.rest())?,
            Field::Apl => apl_text(self.rest())?,
            Field::SvcParams => svcb::text(self.rest())?.trim_start().to_owned(),
            Field::IpsecKey => self.ipseckey()?,
            Field::Hip => self.hip()?,
        })
    }

    /// RFC 4025 §3.1.
    fn ipseckey(&mut self) -> Option<String> {
        let precedence = self.u8()?;
        let gateway_type = self.u8()?;
        let algorithm = self.u8()?;
        let gateway = match gateway_type {
            0 => ".".to_owned(),
            1 => self.field(Field::Ipv4)?,
            2 => self.field(Field::Ipv6)?,
            3 => self.name()?,
            _ => return None,
        };
        let key = self.rest();
        let mut out = format!("{precedence} {gateway_type} {algorithm} {gateway}");
        if !key.is_empty() {
            out.push(' ');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(key));
        }
        Some(out)
    }

    /// RFC 8005 §5.
    fn hip(&mut self) -> Option<String> {
        let hit_len = self.u8()?;
        let algorithm = self.u8()?;
        let key_len = self.u16()?;
        let hit = self.take(usize::from(hit_len))?;
        let key = self.take(usize::from(key_len))?;
        if hit.is_empty() || key.is_empty() {
            return None;
        }
        let mut out = format!(
            "{algorithm} {} {}",
            hex::encode_upper(hit),
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        while self.at < self.wire.len() {
            out.push(' ');
            out.push_str(&self.name()?);
        }
        Some(out)
    }
}

/// RFC 4034 §4.1.2 type bitmap as mnemonics; `None` when malformed.
fn type_bitmap_text(mut wire: &[u8]) -> Option<String> {
    let mut names = Vec::new();
    let mut last_window: Option<u8> = None;
    while let [window, len, rest @ ..] = wire {
        if last_window.is_some_and(|w| w >= *window) || *len == 0 || *len > 32 {
            return None;
        }
        last_window = Some(*window);
        let bits = rest.get(..usize::from(*len))?;
        for (i, octet) in bits.iter().enumerate() {
            for bit in 0..8 {
                if octet & (0x80 >> bit) != 0 {
                    let code = u16::from(*window) << 8 | u16::try_from(i * 8 + bit).ok()?;
                    names.push(rrtype::label(code));
                }
            }
        }
        wire = rest.get(usize::from(*len)..)?;
    }
    if !wire.is_empty() {
        return None;
    }
    Some(names.join(" "))
}

/// One label and its dot, special and non-printable bytes escaped (RFC 1035 §5.1).
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b';' | b'(' | b')' | b'@' | b'$' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('.');
}

/// A name in presentation form, absolute, escaped as the RDATA names are.
pub fn name_text(name: &hickory_proto::rr::Name) -> String {
    let mut out = String::new();
    for label in name.iter() {
        push_label(&mut out, label);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// RFC 3123 §5 items.
fn apl_text(mut wire: &[u8]) -> Option<String> {
    let mut items = Vec::new();
    while let [f1, f2, prefix, n_len, rest @ ..] = wire {
        let family = u16::from_be_bytes([*f1, *f2]);
        let len = usize::from(n_len & 0x7f);
        let negate = if n_len & 0x80 != 0 { "!" } else { "" };
        let part = rest.get(..len)?;
        let address = match family {
            1 if len <= 4 && *prefix <= 32 => {
                let mut octets = [0u8; 4];
                octets.get_mut(..len)?.copy_from_slice(part);
                std::net::Ipv4Addr::from(octets).to_string()
            }
            2 if len <= 16 && *prefix <= 128 => {
                let mut octets = [0u8; 16];
                octets.get_mut(..len)?.copy_from_slice(part);
                std::net::Ipv6Addr::from(octets).to_string()
            }
            _ => return None,
        };
        items.push(format!("{negate}{family}:{address}/{prefix}"));
        wire = rest.get(len..)?;
    }
    if !wire.is_empty() {
        return None;
    }
    Some(items.join(" "))
}

/// RFC 7043: lowercase hex pairs joined by `-`.
fn eui(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// Base32hex (RFC 4648 §7) without padding, as NSEC3 writes hashes.
fn base32hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let i = usize::try_from((acc >> bits) & 31).unwrap_or(0);
            out.push(char::from(BASE32HEX.get(i).copied().unwrap_or(b'0')));
        }
    }
    if bits > 0 {
        let i = usize::try_from((acc << (5 - bits)) & 31).unwrap_or(0);
        out.push(char::from(BASE32HEX.get(i).copied().unwrap_or(b'0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hickory_proto::rr::Name;

    use super::*;
    use crate::zonefile::parse_zone_str;

    #[test]
    fn every_record_of_the_test_zone_round_trips_through_presentation() {
        let origin = Name::from_ascii("e2e.test.").unwrap();
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/dns/e2e.test.zone"),
        )
        .unwrap();
        let parsed = parse_zone_str(&text, Path::new("e2e.test.zone"), &origin).unwrap();
        let written: String = parsed
            .records
            .iter()
            .map(|r| record_line(&r.record) + "\n")
            .collect();
        let reparsed = parse_zone_str(&written, Path::new("written"), &origin).unwrap();
        assert_eq!(parsed.records.len(), reparsed.records.len());
        for (a, b) in parsed.records.iter().zip(&reparsed.records) {
            assert_eq!(
                a.record,
                b.record,
                "line written: {}",
                record_line(&a.record)
            );
            assert_eq!(a.record.ttl, b.record.ttl);
        }
    }

    /// The types the zone-file reader and writer must know in text form
    /// (issue list), so that none falls back to the generic form unnoticed.
    const REQUIRED: &[&str] = &[
        "A",
        "NS",
        "CNAME",
        "SOA",
        "PTR",
        "HINFO",
        "MX",
        "TXT",
        "RP",
        "AFSDB",
        "SIG",
        "KEY",
        "AAAA",
        "LOC",
        "SRV",
        "NAPTR",
        "KX",
        "CERT",
        "DNAME",
        "APL",
        "DS",
        "SSHFP",
        "IPSECKEY",
        "RRSIG",
        "NSEC",
        "DNSKEY",
        "DHCID",
        "NSEC3",
        "NSEC3PARAM",
        "TLSA",
        "SMIMEA",
        "HIP",
        "CDS",
        "CDNSKEY",
        "OPENPGPKEY",
        "CSYNC",
        "ZONEMD",
        "SVCB",
        "HTTPS",
        "SPF",
        "NID",
        "L32",
        "L64",
        "LP",
        "EUI48",
        "EUI64",
        "URI",
        "CAA",
    ];

    fn data_zone(file: &str, origin: &str) -> Vec<Record> {
        let origin = Name::from_ascii(origin).unwrap();
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/data/dns")
                .join(file),
        )
        .unwrap();
        parse_zone_str(&text, Path::new(file), &origin)
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.record)
            .collect()
    }

    #[test]
    fn every_type_is_written_in_its_text_form_and_read_back_to_the_same_bytes() {
        let mut records = data_zone("types.test.zone", "types.test.");
        records.extend(data_zone("types-bind-only.test.zone", "bind-only.test."));
        for want in REQUIRED {
            let code = rrtype::code_of(want.as_bytes()).unwrap();
            assert!(rrtype::fields(code).is_some(), "{want} has no text form");
            let count = records
                .iter()
                .filter(|r| u16::from(r.record_type()) == code)
                .count();
            let least = if *want == "SOA" { 1 } else { 2 };
            assert!(
                count >= least,
                "the test zones hold {count} {want} record(s)"
            );
        }
        let origin = Name::root();
        for record in &records {
            let line = record_line(record);
            let code = u16::from(record.record_type());
            if code < 65280 && u16::from(record.record_type()) != 1 {
                assert!(!line.contains("\\#"), "written generically: {line}");
            }
            let again = parse_zone_str(&line, Path::new("written"), &origin)
                .unwrap_or_else(|e| panic!("{line}: {e:?}"));
            let [back] = again.records.as_slice() else {
                panic!("{line}")
            };
            assert_eq!(
                emit_uncompressed(&back.record.data),
                emit_uncompressed(&record.data),
                "{line}"
            );
            assert_eq!(back.record.record_type(), record.record_type(), "{line}");
            assert_eq!(record_line(&back.record), line);
        }
    }

    /// What the zonefile fuzz target asserts, over its corpus.
    #[test]
    fn the_fuzz_corpus_reads_back_from_its_written_text() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/zonefile");
        let origin = Name::from_ascii("example.test.").unwrap();
        let options = crate::zonefile::ParseOptions::without_include();
        let mut records = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let Ok(zone) = crate::zonefile::parse_zone_bytes(
                &bytes,
                Path::new("fuzz.zone"),
                &origin,
                &options,
            ) else {
                continue;
            };
            for r in &zone.records {
                let line = record_line(&r.record);
                let again = parse_zone_str(&line, Path::new("written"), &Name::root())
                    .unwrap_or_else(|e| panic!("{line}: {e:?}"));
                let [back] = again.records.as_slice() else {
                    panic!("{line}")
                };
                assert_eq!(record_line(&back.record), line);
                records += 1;
            }
        }
        assert!(records > 100, "{records}");
    }

    fn parse_txt(rdata: &str) -> Vec<Vec<u8>> {
        let origin = Name::from_ascii("t.test.").unwrap();
        let zone = parse_zone_str(
            &format!("@ 60 IN TXT {rdata}\n"),
            Path::new("(test)"),
            &origin,
        )
        .unwrap_or_else(|e| panic!("{rdata}: {e:?}"));
        match &zone.records[0].record.data {
            RData::TXT(txt) => txt.txt_data.iter().map(|s| s.to_vec()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn txt_value_with_spaces_semicolons_and_quotes_is_one_string() {
        for text in [
            "v=spf1 include:x.example.test +all",
            "v=DMARC1; p=reject; rua=mailto:d@example.test",
            r#"say "hi" \ there"#,
            "caf\u{e9} \t tab",
            "",
        ] {
            assert_eq!(
                parse_txt(&txt_rdata(text)),
                vec![text.as_bytes().to_vec()],
                "{text:?}"
            );
        }
    }

    #[test]
    fn txt_value_longer_than_255_bytes_is_split_into_strings_of_one_record() {
        let text = "k=".to_owned() + &"A".repeat(600);
        let strings = parse_txt(&txt_rdata(&text));
        assert_eq!(
            strings.iter().map(Vec::len).collect::<Vec<_>>(),
            [255, 255, 92]
        );
        assert_eq!(strings.concat(), text.as_bytes());
    }

    #[test]
    fn txt_quotes_and_escapes() {
        assert_eq!(quote(b"a\"b\\c;d\x01"), r#""a\"b\\c;d\001""#);
    }
}
