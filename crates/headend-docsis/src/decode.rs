//! TLV bytes → a tree of TLVs → config text that compiles back to the same
//! bytes, and the checks of a file's MICs.
//!
//! Every leaf is written in its typed form only when that text encodes back
//! to exactly the bytes read; anything else (unknown types, odd lengths,
//! values out of range, non-canonical BER) is written as `GenericTLV`, so
//! `compile(decode(f))` is `f` for every file this module accepts.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha1::Sha1;

use crate::encode::{self, MTA_HASH_OID};
use crate::snmp::{self, SnmpValue};
use crate::symtab::{self, Kind, Symbol};
use crate::{DocsisError, NoFiles, text};

/// One top-level TLV of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Type code (TLV 64 with a two-byte length in MTA files is reported as 64).
    pub code: u8,
    /// Offset of the type byte in the file.
    pub offset: usize,
    /// The value.
    pub value: &'a [u8],
    /// The whole TLV as it appears in the file.
    pub raw: &'a [u8],
}

/// A file split into its top-level TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// A PacketCable MTA file (it starts with TLV 254).
    pub mta: bool,
    /// The top-level TLVs, padding and end marker left out.
    pub tlvs: Vec<Tlv<'a>>,
}

fn bad(offset: usize, reason: impl Into<String>) -> DocsisError {
    DocsisError::Decode {
        offset,
        reason: reason.into(),
    }
}

/// Splits a file into top-level TLVs, checking every length.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, DocsisError> {
    let mta = bytes.first() == Some(&254);
    let mut tlvs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes[i];
        if !mta && code == 255 {
            // MULPIv3.0 C.1.2.1: after the end-of-data marker only padding.
            if let Some(p) = bytes[i + 1..].iter().position(|b| *b != 0) {
                return Err(bad(
                    i + 1 + p,
                    "data after the end-of-data marker (TLV 255)",
                ));
            }
            return Ok(Decoded { mta, tlvs });
        }
        if !mta && code == 0 {
            i += 1;
            continue;
        }
        let (hdr, len) = if mta && code == 64 {
            let l = bytes
                .get(i + 1..i + 3)
                .ok_or_else(|| bad(i, "TLV 64 without its two-byte length"))?;
            (3, usize::from(u16::from_be_bytes([l[0], l[1]])))
        } else {
            let l = *bytes
                .get(i + 1)
                .ok_or_else(|| bad(i, format!("TLV {code} without a length byte")))?;
            (2, usize::from(l))
        };
        let end = i + hdr + len;
        if end > bytes.len() {
            return Err(bad(
                i,
                format!(
                    "TLV {code} says {len} bytes but only {} remain",
                    bytes.len() - i - hdr
                ),
            ));
        }
        tlvs.push(Tlv {
            code,
            offset: i,
            value: &bytes[i + hdr..end],
            raw: &bytes[i..end],
        });
        i = end;
    }
    if !mta && !tlvs.is_empty() {
        return Err(bad(bytes.len(), "no end-of-data marker (TLV 255)"));
    }
    Ok(Decoded { mta, tlvs })
}

/// A sub-TLV: (code, value, whole TLV).
type Item<'a> = (u8, &'a [u8], &'a [u8]);

/// Splits an aggregate's value into sub-TLVs, or `None` when the lengths do
/// not tile it exactly.
fn sub_tlvs(value: &[u8]) -> Option<Vec<Item<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        let len = usize::from(*value.get(i + 1)?);
        let end = i + 2 + len;
        if end > value.len() {
            return None;
        }
        out.push((value[i], &value[i + 2..end], &value[i..end]));
        i = end;
    }
    Some(out)
}

fn printable(b: &[u8]) -> bool {
    b.iter().all(|c| (0x20..0x7f).contains(c))
}

fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            _ => s.push(char::from(c)),
        }
    }
    s.push('"');
    s
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |a, x| (a << 8) | u64::from(*x))
}

/// The typed text of a leaf value, before the round-trip check.
fn leaf_text(sym: &Symbol, v: &[u8]) -> Option<String> {
    Some(match sym.kind {
        Kind::Uchar if v.len() == 1 => be(v).to_string(),
        Kind::Ushort if v.len() == 2 => be(v).to_string(),
        Kind::Uint24 if v.len() == 3 => be(v).to_string(),
        Kind::Uint if v.len() == 4 => be(v).to_string(),
        Kind::Ip if v.len() == 4 => {
            std::net::Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?).to_string()
        }
        Kind::Ip6 if v.len() == 16 => {
            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?).to_string()
        }
        Kind::IpOrIp6 if v.len() == 4 || v.len() == 16 => {
            if v.len() == 4 {
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?).to_string()
            } else {
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?).to_string()
            }
        }
        Kind::Ether if v.len() == 6 => mac(v),
        Kind::EtherMask if v.len() == 6 => mac(v),
        Kind::EtherMask if v.len() == 12 => format!("{}/{}", mac(&v[..6]), mac(&v[6..])),
        Kind::Hex | Kind::Cvc => snmp::hex(v),
        Kind::Str if printable(v) => quote(v),
        Kind::StrZero if v.last() == Some(&0) && printable(&v[..v.len() - 1]) => {
            quote(&v[..v.len() - 1])
        }
        Kind::Oid => snmp::format_oid(&snmp::decode_oid(v).ok()?),
        Kind::DualUchar | Kind::UcharList => {
            v.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
        }
        Kind::UshortList if v.len().is_multiple_of(2) => v
            .chunks(2)
            .map(|c| be(c).to_string())
            .collect::<Vec<_>>()
            .join(","),
        Kind::Snmp => {
            let (arcs, value) = snmp::decode_varbind(v).ok()?;
            let val = match value {
                SnmpValue::Integer(i) => format!("Integer {i}"),
                SnmpValue::Unsigned(t, u) => format!("{} {u}", snmp::unsigned_name(t)),
                SnmpValue::Ip(ip) => format!("IPAddress {ip}"),
                SnmpValue::Octets(b) if !b.is_empty() && printable(&b) => {
                    format!("String {}", quote(&b))
                }
                SnmpValue::Octets(b) => format!("HexString {}", snmp::hex(&b)),
                SnmpValue::Oid(o) => format!("ObjectID {}", snmp::format_oid(&o)),
                SnmpValue::Null => "Null".to_owned(),
                SnmpValue::Opaque(b) => format!("Opaque {}", snmp::hex(&b)),
            };
            format!("{} {val}", snmp::format_oid(&arcs))
        }
        Kind::SnmpWrite => {
            let (t, oid, rest) = snmp::read_tlv(v).ok()?;
            if t != snmp::tag::OID || rest.len() != 1 {
                return None;
            }
            format!(
                "{} {}",
                snmp::format_oid(&snmp::decode_oid(oid).ok()?),
                rest[0]
            )
        }
        Kind::Empty if v.is_empty() => String::new(),
        _ => return None,
    })
}

/// The leaf's text if it encodes back to exactly `raw` (all the TLVs it spans).
fn checked_leaf(sym: &Symbol, value: &[u8], raw: &[u8], mta: bool, top: bool) -> Option<String> {
    let t = leaf_text(sym, value)?;
    let words = text::words(&t).ok()?;
    let enc = encode::leaf_value(sym, &words, text::Pos::default(), &NoFiles).ok()?;
    let mut out = Vec::with_capacity(raw.len());
    encode::push_leaf(&mut out, sym, &enc, mta, top);
    (out == raw).then_some(t)
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push('\t');
    }
}

fn generic(out: &mut String, depth: usize, code: u8, value: &[u8]) {
    indent(out, depth);
    let _ = writeln!(
        out,
        "GenericTLV TlvCode {code} TlvLength {} TlvValue {};",
        value.len(),
        snmp::hex(value)
    );
}

/// Writes sub-TLVs `(code, value, raw)` of a block.
fn write_items(
    out: &mut String,
    items: &[Item<'_>],
    table: &[Symbol],
    depth: usize,
    mta: bool,
    top: bool,
) {
    let mut i = 0;
    while i < items.len() {
        let (code, value, raw) = items[i];
        let sym = if top && mta && code == 64 {
            symtab::by_name(table, "SnmpMibObject")
        } else {
            symtab::by_code(table, code)
        };
        let Some(sym) = sym else {
            generic(out, depth, code, value);
            i += 1;
            continue;
        };
        if sym.kind == Kind::Aggregate {
            if let Some(subs) = sub_tlvs(value) {
                indent(out, depth);
                let _ = writeln!(out, "{}", sym.name);
                indent(out, depth);
                out.push_str("{\n");
                write_items(out, &subs, sym.subs, depth + 1, mta, false);
                indent(out, depth);
                out.push_str("}\n");
            } else {
                generic(out, depth, code, value);
            }
            i += 1;
            continue;
        }
        // A long value split over consecutive TLVs of one type: join the
        // pieces while each before the last is full.
        let piece = encode::fragment_size(sym);
        let mut joined: Vec<u8> = value.to_vec();
        let mut raw_all: Vec<u8> = raw.to_vec();
        let mut n = 1;
        let mut best = None;
        if let Some(t) = checked_leaf(sym, value, raw, mta, top) {
            best = Some((t, 1));
        }
        while best.is_none()
            && items.get(i + n - 1).is_some_and(|it| it.1.len() == piece)
            && items.get(i + n).is_some_and(|it| it.0 == code)
        {
            joined.extend_from_slice(items[i + n].1);
            raw_all.extend_from_slice(items[i + n].2);
            n += 1;
            if let Some(t) = checked_leaf(sym, &joined, &raw_all, mta, top) {
                best = Some((t, n));
            }
        }
        match best {
            Some((t, used)) => {
                indent(out, depth);
                if t.is_empty() {
                    let _ = writeln!(out, "{};", sym.name);
                } else {
                    let _ = writeln!(out, "{} {t};", sym.name);
                }
                i += used;
            }
            None => {
                generic(out, depth, code, value);
                i += 1;
            }
        }
    }
}

/// Whether `tlv` is the MTA configuration hash object.
fn is_mta_hash(tlv: &Tlv<'_>) -> bool {
    tlv.code == 11
        && matches!(snmp::decode_varbind(tlv.value),
            Ok((arcs, SnmpValue::Octets(d))) if arcs == MTA_HASH_OID && d.len() == 20)
}

impl Decoded<'_> {
    /// Config text that compiles back to the same file (the MICs, the end
    /// marker and the MTA hash are regenerated by the compiler and appear
    /// here only as comments).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.tlvs.len() * 40);
        out.push_str("Main\n{\n");
        let mut items = Vec::with_capacity(self.tlvs.len());
        let mut notes = String::new();
        for t in &self.tlvs {
            let skip = if self.mta {
                is_mta_hash(t)
            } else {
                t.code == 6 || t.code == 7
            };
            if skip {
                let what = match t.code {
                    6 => "CmMic",
                    7 => "CmtsMic",
                    _ => "MTA configuration hash",
                };
                let _ = writeln!(notes, "\t/* {what} {} */", snmp::hex(t.value));
            } else {
                items.push((t.code, t.value, t.raw));
            }
        }
        write_items(&mut out, &items, symtab::MAIN, 1, self.mta, true);
        out.push_str(&notes);
        if !self.mta {
            out.push_str("\t/* EndOfDataMkr */\n");
        }
        out.push_str("}\n");
        out
    }

    /// The TLV tree as JSON: `[{"code":3,"hex":"01"}, {"code":24,"subs":[...]}]`,
    /// aggregates split by the symbol table (for comparison with other decoders).
    pub fn to_json(&self) -> String {
        fn item(out: &mut String, code: u8, value: &[u8], table: Option<&[Symbol]>) {
            let sym = table.and_then(|t| symtab::by_code(t, code));
            let subs = sym
                .filter(|s| s.kind == Kind::Aggregate)
                .and_then(|_| sub_tlvs(value));
            match (sym, subs) {
                (Some(s), Some(subs)) => {
                    let _ = write!(out, "{{\"code\":{code},\"subs\":[");
                    for (k, (c, v, _)) in subs.iter().enumerate() {
                        if k > 0 {
                            out.push(',');
                        }
                        item(out, *c, v, Some(s.subs));
                    }
                    out.push_str("]}");
                }
                _ => {
                    let h = snmp::hex(value);
                    let _ = write!(out, "{{\"code\":{code},\"hex\":\"{}\"}}", &h[2..]);
                }
            }
        }
        let mut out = String::from("[");
        for (k, t) in self.tlvs.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            item(&mut out, t.code, t.value, Some(symtab::MAIN));
        }
        out.push(']');
        out
    }
}

/// The result of checking a file's integrity values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MicReport {
    /// TLV 6 present and matching (None: absent).
    pub cm_mic: Option<bool>,
    /// TLV 7 present and matching the given key (None: absent or no key).
    pub cmts_mic: Option<bool>,
    /// MTA configuration hash present and matching (None: absent).
    pub mta_hash: Option<bool>,
    /// The Extended CMTS MIC (TLV 43.6, HMAC-MD5) matching the given key,
    /// explicit (43.6.3) or implicit (then TLV 7 is it); None: no usable
    /// TLV 43.6 or no key.
    pub extended_cmts_mic: Option<bool>,
}

/// Checks the CM MIC, the CMTS MIC (when `key` is given) and the MTA hash.
pub fn verify(bytes: &[u8], key: Option<&[u8]>) -> Result<MicReport, DocsisError> {
    let d = decode(bytes)?;
    let mut r = MicReport::default();
    if d.mta {
        if let Some(h) = d.tlvs.iter().rev().find(|t| is_mta_hash(t)) {
            let mut pre = bytes[..h.offset].to_vec();
            pre.extend_from_slice(&[254, 1, 255]);
            let digest: [u8; 20] = Sha1::digest(&pre).into();
            r.mta_hash = Some(h.value.ends_with(&digest));
        }
        return Ok(r);
    }
    if let Some(t6) = d.tlvs.iter().find(|t| t.code == 6) {
        let digest: [u8; 16] = Md5::digest(&bytes[..t6.offset]).into();
        r.cm_mic = Some(t6.value == digest);
    }
    if let (Some(t7), Some(key)) = (d.tlvs.iter().find(|t| t.code == 7), key) {
        let before = &bytes[..t7.offset];
        match encode::extended_mic(before).filter(|e| e.problem().is_none()) {
            // Implicit: TLV 7 is the extended digest.
            Some(e) if e.digest.is_none() => {
                r.cmts_mic = Some(t7.value == encode::extended_cmts_mic(before, &e, key));
                r.extended_cmts_mic = r.cmts_mic;
            }
            Some(e) => {
                let explicit = e.digest.clone().map(|range| &before[range]);
                r.extended_cmts_mic =
                    Some(explicit == Some(&encode::extended_cmts_mic(before, &e, key)[..]));
                r.cmts_mic = Some(t7.value == encode::cmts_mic(before, key));
            }
            None => r.cmts_mic = Some(t7.value == encode::cmts_mic(before, key)),
        }
    }
    Ok(r)
}
