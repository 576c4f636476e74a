//! Settings → TLV bytes, then the integrity checks: CM MIC (TLV 6), CMTS MIC
//! (TLV 7), end-of-data marker and padding for cable modems; delimiters and
//! the configuration hash for PacketCable MTAs.

use std::net::{Ipv4Addr, Ipv6Addr};

use md5::{Digest as _, Md5};
use sha1::Sha1;

use crate::snmp::{self, SnmpValue};
use crate::symtab::{self, Kind, Symbol};
use crate::text::{self, Pos, Setting, Value, Word};
use crate::{DocsisError, FileSource};

/// MULPIv3.0 Annex D.2.1: the CMTS MIC digest covers these top-level TLVs,
/// taken in this order (every instance of a type, in file order), the
/// same order the `docsis` compiler uses.
pub const CMTS_MIC_ORDER: [u8; 21] = [
    1, 2, 3, 4, 17, 43, 6, 18, 19, 20, 22, 23, 24, 25, 28, 29, 26, 35, 36, 37, 40,
];

/// `pktcMtaDevProvConfigHash.0`, the OID of the MTA configuration hash.
pub const MTA_HASH_OID: [u32; 14] = [1, 3, 6, 1, 4, 1, 4491, 2, 2, 1, 1, 2, 7, 0];

/// What to build.
#[derive(Clone, Copy)]
pub struct Options<'k> {
    /// The CMTS shared secret (HMAC-MD5 key of the CMTS MIC).
    pub key: &'k [u8],
    /// Build a PacketCable MTA file instead of a cable modem file (also
    /// chosen when the text starts with `MtaConfigDelimiter 1`).
    pub mta: bool,
    /// For MTA files: append the SHA-1 configuration hash
    /// (`pktcMtaDevProvConfigHash.0`) before the end delimiter.
    pub mta_hash: bool,
}

pub(crate) fn setting_err(pos: Pos, name: &str, reason: impl Into<String>) -> DocsisError {
    DocsisError::Setting {
        line: pos.line,
        col: pos.col,
        name: name.to_owned(),
        reason: reason.into(),
    }
}

fn parse_u64(w: &Word<'_>) -> Option<u64> {
    let t = w.text.as_ref();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        t.parse().ok()
    }
}

pub(crate) fn parse_hex(t: &str) -> Option<Vec<u8>> {
    let h = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    if h.len() % 2 != 0 {
        return None;
    }
    let b = h.as_bytes();
    let mut out = Vec::with_capacity(h.len() / 2);
    for pair in b.chunks(2) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out.push((hi * 16 + lo) as u8);
    }
    Some(out)
}

fn parse_mac(t: &str) -> Option<[u8; 6]> {
    if let Some(b) = parse_hex(t) {
        return b.try_into().ok();
    }
    let mut mac = [0u8; 6];
    let mut n = 0;
    for part in t.split([':', '-']) {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return None;
        }
        mac[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(mac)
}

fn list_items<'w>(words: &'w [Word<'_>]) -> impl Iterator<Item = &'w str> {
    words
        .iter()
        .flat_map(|w| w.text.split(','))
        .filter(|s| !s.is_empty())
}

/// Encodes the value of leaf setting `sym` from its words.
pub(crate) fn leaf_value(
    sym: &Symbol,
    words: &[Word<'_>],
    pos: Pos,
    files: &dyn FileSource,
) -> Result<Vec<u8>, DocsisError> {
    let err = |r: String| setting_err(pos, sym.name, r);
    let one = || -> Result<&Word<'_>, DocsisError> {
        match words {
            [w] => Ok(w),
            [] => Err(err("needs a value".into())),
            _ => Err(err(format!("takes one value, found {}", words.len()))),
        }
    };
    let ranged = |max_width: u64| -> Result<u64, DocsisError> {
        let w = one()?;
        let v = parse_u64(w).ok_or_else(|| err(format!("`{}` is not a number", w.text)))?;
        let (lo, hi) = if (sym.min, sym.max) == (0, 0) {
            (0, max_width)
        } else {
            (sym.min, sym.max.min(max_width))
        };
        if !(lo..=hi).contains(&v) {
            return Err(err(format!("{v} is out of range {lo}..={hi}")));
        }
        Ok(v)
    };
    let check_len = |len: usize| -> Result<(), DocsisError> {
        let len = len as u64;
        if (sym.min != 0 && len < sym.min) || (sym.max != 0 && len > sym.max) {
            let max = if sym.max == 0 {
                "any".to_owned()
            } else {
                sym.max.to_string()
            };
            return Err(err(format!(
                "value is {len} bytes; must be {}..{max} bytes",
                sym.min
            )));
        }
        Ok(())
    };
    Ok(match sym.kind {
        Kind::Uchar => vec![ranged(0xff)? as u8],
        Kind::Ushort => (ranged(0xffff)? as u16).to_be_bytes().to_vec(),
        Kind::Uint24 => (ranged(0xff_ffff)? as u32).to_be_bytes()[1..].to_vec(),
        Kind::Uint => (ranged(0xffff_ffff)? as u32).to_be_bytes().to_vec(),
        Kind::Ip => {
            let w = one()?;
            let ip: Ipv4Addr = w
                .text
                .parse()
                .map_err(|_| err(format!("`{}` is not an IPv4 address", w.text)))?;
            ip.octets().to_vec()
        }
        Kind::Ip6 => {
            let w = one()?;
            let ip: Ipv6Addr = w
                .text
                .parse()
                .map_err(|_| err(format!("`{}` is not an IPv6 address", w.text)))?;
            ip.octets().to_vec()
        }
        Kind::IpOrIp6 => {
            let w = one()?;
            if let Ok(ip) = w.text.parse::<Ipv4Addr>() {
                ip.octets().to_vec()
            } else {
                let ip: Ipv6Addr = w
                    .text
                    .parse()
                    .map_err(|_| err(format!("`{}` is not an IP address", w.text)))?;
                ip.octets().to_vec()
            }
        }
        Kind::Ether => {
            let w = one()?;
            parse_mac(&w.text)
                .ok_or_else(|| err(format!("`{}` is not a MAC address", w.text)))?
                .to_vec()
        }
        Kind::EtherMask => {
            let w = one()?;
            let (mac, mask) = match w.text.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (w.text.as_ref(), None),
            };
            let mut out = parse_mac(mac)
                .ok_or_else(|| err(format!("`{mac}` is not a MAC address")))?
                .to_vec();
            if let Some(m) = mask {
                out.extend(parse_mac(m).ok_or_else(|| err(format!("`{m}` is not a MAC mask")))?);
            }
            out
        }
        Kind::Hex => {
            let w = one()?;
            let b = parse_hex(&w.text)
                .ok_or_else(|| err(format!("`{}` is not a hex value like 0x0a1b", w.text)))?;
            check_len(b.len())?;
            b
        }
        Kind::Str | Kind::StrZero => {
            let w = one()?;
            let mut b = w.text.as_bytes().to_vec();
            if sym.kind == Kind::StrZero {
                b.push(0);
            }
            check_len(b.len())?;
            b
        }
        Kind::Oid => {
            let w = one()?;
            let arcs = snmp::parse_oid(&w.text).map_err(|p| err(p.0))?;
            snmp::oid_contents(&arcs)
        }
        Kind::DualUchar | Kind::UcharList | Kind::UshortList => {
            let mut out = Vec::new();
            let mut n = 0u64;
            for item in list_items(words) {
                let v: u64 = item
                    .parse()
                    .map_err(|_| err(format!("`{item}` is not a number")))?;
                n += 1;
                match sym.kind {
                    Kind::UshortList => {
                        let v = u16::try_from(v)
                            .map_err(|_| err(format!("{v} is not in 0..=65535")))?;
                        out.extend_from_slice(&v.to_be_bytes());
                    }
                    Kind::DualUchar if v > sym.max => {
                        return Err(err(format!("{v} is out of range 0..={}", sym.max)));
                    }
                    _ => out
                        .push(u8::try_from(v).map_err(|_| err(format!("{v} is not in 0..=255")))?),
                }
            }
            let want = match sym.kind {
                Kind::DualUchar => (2, 2),
                _ => (sym.min, sym.max),
            };
            if n < want.0 || (want.1 != 0 && n > want.1) {
                return Err(err(format!(
                    "takes {} numbers separated by commas, found {n}",
                    if want.0 == want.1 {
                        want.0.to_string()
                    } else {
                        format!("at least {}", want.0)
                    }
                )));
            }
            out
        }
        Kind::Snmp => snmp_value(sym, words, pos)?,
        Kind::SnmpWrite => {
            let [oid, flag] = words else {
                return Err(err("takes an OID and 0 or 1, e.g. `.1.3.6.1 0`".into()));
            };
            let arcs = snmp::parse_oid(&oid.text).map_err(|p| err(p.0))?;
            let f = parse_u64(flag)
                .filter(|v| *v <= 1)
                .ok_or_else(|| err(format!("`{}` is not 0 or 1", flag.text)))?;
            let mut out = Vec::new();
            snmp::push_tlv(&mut out, snmp::tag::OID, &snmp::oid_contents(&arcs));
            out.push(f as u8);
            out
        }
        Kind::Cvc => {
            let w = one()?;
            if w.quoted {
                files.read(&w.text).map_err(|reason| DocsisError::File {
                    line: pos.line,
                    path: w.text.to_string(),
                    reason,
                })?
            } else {
                parse_hex(&w.text)
                    .ok_or_else(|| err("takes a quoted DER file name or a 0x hex value".into()))?
            }
        }
        Kind::Empty => {
            if !words.is_empty() {
                return Err(err("takes no value".into()));
            }
            Vec::new()
        }
        Kind::Aggregate => return Err(err("is a block: write `Name { ... }`".into())),
    })
}

fn snmp_value(sym: &Symbol, words: &[Word<'_>], pos: Pos) -> Result<Vec<u8>, DocsisError> {
    let err = |r: String| setting_err(pos, sym.name, r);
    let [oid, ty, rest @ ..] = words else {
        return Err(err(
            "takes `OID TYPE VALUE`, e.g. `sysName.0 String \"cm\"`".into(),
        ));
    };
    let arcs = snmp::parse_oid(&oid.text).map_err(|p| err(p.0))?;
    let kw = ty.text.to_ascii_lowercase();
    let value_word = || -> Result<&Word<'_>, DocsisError> {
        match rest {
            [w] => Ok(w),
            _ => Err(err(format!("type {} takes one value", ty.text))),
        }
    };
    let value = match kw.as_str() {
        "integer" | "integer32" | "int" => {
            let w = value_word()?;
            let v: i64 = w
                .text
                .parse()
                .ok()
                .filter(|v| i32::try_from(*v).is_ok())
                .ok_or_else(|| err(format!("`{}` is not an Integer32", w.text)))?;
            SnmpValue::Integer(v)
        }
        "ipaddress" => {
            let w = value_word()?;
            SnmpValue::Ip(
                w.text
                    .parse()
                    .map_err(|_| err(format!("`{}` is not an IPv4 address", w.text)))?,
            )
        }
        "string" => SnmpValue::Octets(value_word()?.text.as_bytes().to_vec()),
        "hexstring" => {
            let w = value_word()?;
            SnmpValue::Octets(
                parse_hex(&w.text).ok_or_else(|| err(format!("`{}` is not 0x hex", w.text)))?,
            )
        }
        "objectid" | "oid" | "objectidentifier" => {
            let w = value_word()?;
            SnmpValue::Oid(snmp::parse_oid(&w.text).map_err(|p| err(p.0))?)
        }
        "opaque" => {
            let w = value_word()?;
            SnmpValue::Opaque(
                parse_hex(&w.text).ok_or_else(|| err(format!("`{}` is not 0x hex", w.text)))?,
            )
        }
        "null" => {
            if !rest.is_empty() {
                return Err(err("type Null takes no value".into()));
            }
            SnmpValue::Null
        }
        _ => {
            let Some((t, max)) = snmp::unsigned_tag(&kw) else {
                return Err(err(format!(
                    "unknown SNMP type `{}` (Integer, Gauge32, Counter32, Counter64, TimeTicks, IPAddress, String, HexString, ObjectID, Opaque, Null)",
                    ty.text
                )));
            };
            let w = value_word()?;
            let v = parse_u64(w)
                .filter(|v| *v <= max)
                .ok_or_else(|| err(format!("`{}` is not a number in 0..={max}", w.text)))?;
            SnmpValue::Unsigned(t, v)
        }
    };
    Ok(snmp::encode_varbind(&arcs, &value))
}

/// Largest piece of a long value in one TLV: 254 for certificates
/// (MULPIv3.0 C.1.2.10: "sent as a series of TLVs of at most 254 bytes"),
/// 255 otherwise (MULPIv3.0 C.1: a value over 255 bytes is carried in
/// consecutive TLVs of the same type, concatenated by the receiver).
pub(crate) fn fragment_size(sym: &Symbol) -> usize {
    if sym.code == 32 || sym.code == 33 {
        254
    } else {
        255
    }
}

pub(crate) struct Ctx<'f> {
    pub(crate) files: &'f dyn FileSource,
    pub(crate) mta: bool,
}

/// Appends one leaf TLV, split into fragments or (MTA SNMP objects) as
/// TLV 64 with a two-byte length when the value is longer than 255 bytes.
pub(crate) fn push_leaf(out: &mut Vec<u8>, sym: &Symbol, value: &[u8], mta: bool, top: bool) {
    if value.len() <= 255 && !(value.len() == 255 && fragment_size(sym) == 254) {
        out.push(sym.code);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    } else if mta && top && sym.kind == Kind::Snmp && value.len() <= 0xffff {
        // PacketCable PROV: TLV 64 is an SNMP object with a 16-bit length.
        out.push(64);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
    } else {
        for piece in value.chunks(fragment_size(sym)) {
            out.push(sym.code);
            out.push(piece.len() as u8);
            out.extend_from_slice(piece);
        }
    }
}

fn generic(s: &Setting<'_>, words: &[Word<'_>]) -> Result<(u8, Vec<u8>), DocsisError> {
    let err = |r: &str| setting_err(s.pos, "GenericTLV", r);
    let mut code = None;
    let mut len = None;
    let mut value = None;
    let mut it = words.iter();
    while let Some(k) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| err("takes `TlvCode N TlvLength N TlvValue 0x...`"))?;
        match k.text.to_ascii_lowercase().as_str() {
            "tlvcode" => code = parse_u64(v).filter(|c| *c <= 255),
            "tlvlength" => len = Some(parse_u64(v).ok_or_else(|| err("bad TlvLength"))?),
            "tlvvalue" => {
                value = Some(parse_hex(&v.text).ok_or_else(|| err("TlvValue is 0x hex"))?)
            }
            "tlvstring" => value = Some(v.text.as_bytes().to_vec()),
            "tlvstringzero" => {
                let mut b = v.text.as_bytes().to_vec();
                b.push(0);
                value = Some(b);
            }
            _ => {
                return Err(err(
                    "keys are TlvCode, TlvLength, TlvValue, TlvString, TlvStringZero",
                ));
            }
        }
    }
    let code = code.ok_or_else(|| err("needs `TlvCode` 0..=255"))? as u8;
    let value = value.ok_or_else(|| err("needs `TlvValue 0x...` or `TlvString \"...\"`"))?;
    if value.len() > 255 {
        return Err(err("a GenericTLV value is at most 255 bytes"));
    }
    if let Some(l) = len
        && l != value.len() as u64
    {
        return Err(err(&format!(
            "TlvLength {l} but the value is {} bytes",
            value.len()
        )));
    }
    Ok((code, value))
}

/// Encodes `settings` against `table` into `out`.
pub(crate) fn encode_block(
    out: &mut Vec<u8>,
    settings: &[Setting<'_>],
    table: &'static [Symbol],
    ctx: &Ctx<'_>,
    top: bool,
) -> Result<(), DocsisError> {
    for s in settings {
        if s.name.eq_ignore_ascii_case("GenericTLV") {
            let Value::Words(words) = &s.value else {
                return Err(setting_err(s.pos, s.name, "takes words, not a block"));
            };
            let (code, value) = generic(s, words)?;
            out.push(code);
            out.push(value.len() as u8);
            out.extend_from_slice(&value);
            continue;
        }
        let Some(sym) = symtab::by_name(table, s.name) else {
            return Err(setting_err(
                s.pos,
                s.name,
                if top {
                    "unknown setting (use GenericTLV for TLVs without a name)"
                } else {
                    "unknown setting in this block (use GenericTLV for TLVs without a name)"
                },
            ));
        };
        match (&s.value, sym.kind) {
            (Value::Block(inner), Kind::Aggregate) => {
                let start = out.len();
                out.push(sym.code);
                out.push(0);
                encode_block(out, inner, sym.subs, ctx, false)?;
                let len = out.len() - start - 2;
                if len > 255 {
                    return Err(setting_err(
                        s.pos,
                        s.name,
                        format!("block is {len} bytes; a TLV holds at most 255"),
                    ));
                }
                out[start + 1] = len as u8;
            }
            (Value::Block(_), _) => {
                return Err(setting_err(
                    s.pos,
                    s.name,
                    "is not a block; write `Name value;`",
                ));
            }
            (Value::Words(words), _) => {
                let value = leaf_value(sym, words, s.pos, ctx.files)?;
                push_leaf(out, sym, &value, ctx.mta, top);
            }
        }
    }
    Ok(())
}

/// Top-level TLVs of a body: (code, whole TLV bytes). Lengths are one byte
/// except TLV 64 in MTA files.
pub(crate) fn top_level(body: &[u8], mta: bool) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < body.len() {
        let code = body[i];
        let (hdr, len) = if mta && code == 64 && i + 2 < body.len() {
            (
                3,
                usize::from(u16::from_be_bytes([body[i + 1], body[i + 2]])),
            )
        } else {
            (2, usize::from(body[i + 1]))
        };
        let end = (i + hdr + len).min(body.len());
        out.push((code, &body[i..end]));
        i = end;
    }
    out
}

/// HMAC-MD5 (RFC 2104) of the concatenation of `parts` under `key`.
pub fn hmac_md5<'p>(key: &[u8], parts: impl Iterator<Item = &'p [u8]>) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Md5::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Md5::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// HMAC-MD5 over the CMTS MIC TLVs of `body` (which ends with TLV 6).
pub fn cmts_mic(body: &[u8], key: &[u8]) -> [u8; 16] {
    let tlvs = top_level(body, false);
    hmac_md5(
        key,
        CMTS_MIC_ORDER.iter().flat_map(|want| {
            tlvs.iter()
                .filter(move |(code, _)| code == want)
                .map(|(_, bytes)| *bytes)
        }),
    )
}

/// The Extended CMTS MIC settings (TLV 43.6) of a file: the first TLV 43
/// that carries sub-TLV 6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedMic {
    /// 43.6.1, the HMAC type (1: HMAC-MD5).
    pub hmac_type: Option<u8>,
    /// 43.6.2, the bitmap of the top-level TLV types covered.
    pub bitmap: Vec<u8>,
    /// 43.6.3, where the explicit digest's value lies in the file (None:
    /// the digest is implicit, in TLV 7).
    pub digest: Option<std::ops::Range<usize>>,
}

impl ExtendedMic {
    /// True if the bitmap selects top-level type `code` (bit `code`,
    /// counted from the most significant bit of the first byte).
    pub fn selects(&self, code: u8) -> bool {
        self.bitmap
            .get(usize::from(code / 8))
            .is_some_and(|b| b & (0x80 >> (code % 8)) != 0)
    }

    /// Why this setting cannot be computed (None: it can).
    pub fn problem(&self) -> Option<String> {
        match self.hmac_type {
            None => return Some("ExtendedCMTSMICHMACDigestType is missing (1: HMAC-MD5)".into()),
            Some(1) => {}
            Some(t) => {
                return Some(format!(
                    "HMAC type {t} is not supported: only 1 (HMAC-MD5) is computed"
                ));
            }
        }
        if !self.bitmap.iter().any(|b| *b != 0) {
            return Some("ExtendedCMTSMICHMACBitmap is missing or selects no TLV".into());
        }
        if self.selects(7) || self.selects(255) || self.selects(0) {
            return Some("the bitmap cannot select TLV 0, 7 or 255".into());
        }
        if let Some(r) = &self.digest {
            if r.len() != 16 {
                return Some(format!(
                    "ExtendedCMTSMICHMACDigest holds 16 bytes (HMAC-MD5), not {}; its value is computed, write 16 zero bytes",
                    r.len()
                ));
            }
            if self.selects(6) {
                return Some(
                    "with an explicit ExtendedCMTSMICHMACDigest the bitmap cannot select TLV 6 (the CM MIC covers the digest)".into(),
                );
            }
        }
        None
    }
}

/// Sub-TLVs (one-byte type and length) of `value`, which starts at
/// `base` in the file: (type, value range in the file).
fn sub_tlvs(value: &[u8], base: usize) -> Vec<(u8, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < value.len() {
        let len = usize::from(value[i + 1]);
        let end = (i + 2 + len).min(value.len());
        out.push((value[i], base + i + 2..base + end));
        i = end;
    }
    out
}

/// Finds the Extended CMTS MIC settings of a cable modem body, if any.
pub fn extended_mic(body: &[u8]) -> Option<ExtendedMic> {
    let mut offset = 0;
    for (code, tlv) in top_level(body, false) {
        let start = offset;
        offset += tlv.len();
        if code != 43 || tlv.len() < 2 {
            continue;
        }
        let Some((_, six)) = sub_tlvs(&tlv[2..], start + 2)
            .into_iter()
            .find(|(c, _)| *c == 6)
        else {
            continue;
        };
        let mut e = ExtendedMic {
            hmac_type: None,
            bitmap: Vec::new(),
            digest: None,
        };
        for (c, r) in sub_tlvs(&body[six.clone()], six.start) {
            match c {
                1 => e.hmac_type = body[r].first().copied(),
                2 => e.bitmap = body[r].to_vec(),
                3 => e.digest = Some(r),
                _ => {}
            }
        }
        return Some(e);
    }
    None
}

/// HMAC-MD5 over the top-level TLVs of `body` the bitmap of `e` selects,
/// in file order, with the explicit digest's value taken as zeros
/// (MULPIv3.0 D.2.1).
pub fn extended_cmts_mic(body: &[u8], e: &ExtendedMic, key: &[u8]) -> [u8; 16] {
    let mut copy = body.to_vec();
    if let Some(r) = e.digest.clone().filter(|r| r.end <= copy.len()) {
        copy[r].fill(0);
    }
    let tlvs = top_level(&copy, false);
    hmac_md5(
        key,
        tlvs.iter()
            .filter(|(code, _)| *code != 7 && e.selects(*code))
            .map(|(_, bytes)| *bytes),
    )
}

/// Adds TLV 6, TLV 7, the end marker and padding to a cable modem body.
/// With a usable Extended CMTS MIC (TLV 43.6), its explicit digest is
/// computed and written in place before the CM MIC, or, when it has none,
/// TLV 7 carries the extended digest instead of the pre-3.0 one.
pub fn seal_cm(mut body: Vec<u8>, key: &[u8]) -> Vec<u8> {
    let extended = extended_mic(&body).filter(|e| e.problem().is_none());
    if let Some(e) = &extended
        && let Some(r) = e.digest.clone()
    {
        let digest = extended_cmts_mic(&body, e, key);
        body[r].copy_from_slice(&digest);
    }
    // MULPIv3.0 D.2.1: the CM MIC is an MD5 digest over every TLV before it.
    let cm: [u8; 16] = Md5::digest(&body).into();
    body.extend_from_slice(&[6, 16]);
    body.extend_from_slice(&cm);
    let cmts = match &extended {
        Some(e) if e.digest.is_none() => extended_cmts_mic(&body, e, key),
        _ => cmts_mic(&body, key),
    };
    body.extend_from_slice(&[7, 16]);
    body.extend_from_slice(&cmts);
    // End-of-data marker, then zero padding to a multiple of 4 bytes.
    body.push(255);
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    body
}

/// Adds the PacketCable configuration hash (SHA-1 over the whole file,
/// delimiters included) as `pktcMtaDevProvConfigHash.0` before the end
/// delimiter, as MTA provisioning flows deliver the same hash to the MTA.
pub fn seal_mta(mut file: Vec<u8>) -> Vec<u8> {
    let digest: [u8; 20] = Sha1::digest(&file).into();
    file.truncate(file.len().saturating_sub(3));
    let vb = snmp::encode_varbind(&MTA_HASH_OID, &SnmpValue::Octets(digest.to_vec()));
    file.push(11);
    file.push(vb.len() as u8);
    file.extend_from_slice(&vb);
    file.extend_from_slice(&[254, 1, 255]);
    file
}

/// The first setting named `name` (any depth).
fn find_setting<'s, 'a>(settings: &'s [Setting<'a>], name: &str) -> Option<&'s Setting<'a>> {
    settings.iter().find_map(|s| {
        if s.name.eq_ignore_ascii_case(name) {
            return Some(s);
        }
        match &s.value {
            Value::Block(inner) => find_setting(inner, name),
            Value::Words(_) => None,
        }
    })
}

/// Compiles config text into a sealed file.
pub fn compile(
    src: &str,
    opts: &Options<'_>,
    files: &dyn FileSource,
) -> Result<Vec<u8>, DocsisError> {
    let settings = text::parse(src)?;
    let starts_mta = settings.first().is_some_and(|s| {
        s.name.eq_ignore_ascii_case("MtaConfigDelimiter")
            && matches!(&s.value, Value::Words(w) if w.len() == 1 && w[0].text == "1")
    });
    let mta = opts.mta || starts_mta;
    let mut body = Vec::with_capacity(1024);
    if mta && !starts_mta {
        body.extend_from_slice(&[254, 1, 1]);
    }
    encode_block(
        &mut body,
        &settings,
        symtab::MAIN,
        &Ctx { files, mta },
        true,
    )?;
    if mta {
        if !body.ends_with(&[254, 1, 255]) {
            body.extend_from_slice(&[254, 1, 255]);
        }
        Ok(if opts.mta_hash { seal_mta(body) } else { body })
    } else {
        // A file that starts with TLV 254 is read as an MTA file.
        if body.first() == Some(&254) {
            let pos = settings.first().map_or(Pos::default(), |s| s.pos);
            return Err(setting_err(
                pos,
                settings.first().map_or("", |s| s.name),
                "a cable modem file cannot start with TLV 254 (MtaConfigDelimiter); for an MTA file start with `MtaConfigDelimiter 1;` or use --mta",
            ));
        }
        if body.is_empty() {
            return Err(DocsisError::Syntax {
                line: 1,
                col: 1,
                reason: "`Main` is empty".into(),
            });
        }
        if let Some(reason) = extended_mic(&body).and_then(|e| e.problem()) {
            const NAME: &str = "ExtendedCMTSMICConfiguration";
            let pos = find_setting(&settings, NAME).map_or(Pos::default(), |s| s.pos);
            return Err(setting_err(pos, NAME, reason));
        }
        Ok(seal_cm(body, opts.key))
    }
}
