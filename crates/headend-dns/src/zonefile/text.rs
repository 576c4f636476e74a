//! Presentation-format fields: domain names, character strings, TTLs, numbers, hex.
//!
//! Everything here is a pure function of the raw token bytes (escapes still in
//! place, as the lexer leaves them) and returns an operator-readable reason on
//! failure.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Longest label, RFC 1035 §2.3.4.
const MAX_LABEL: usize = 63;
/// Longest name in wire form (length octets and the root label included), RFC 1035 §2.3.4.
const MAX_NAME_WIRE: usize = 255;

/// Shows raw token bytes in a message (lossy UTF-8, at most 80 characters).
pub(crate) fn show(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text.into_owned()
    }
}

/// Reads one escape at `raw[i]` (which is a backslash): `\DDD` (a decimal byte)
/// or `\X` (X literally). Returns the byte and the index after the escape.
///
/// RFC 1035 §5.1: "\X where X is any character other than a digit (0-9), is used
/// to quote that character so that its special meaning does not apply" and
/// "\DDD where each D is a digit is the octet corresponding to the decimal number".
fn unescape_at(raw: &[u8], i: usize) -> Result<(u8, usize), String> {
    if let Some(d) = raw.get(i + 1..i + 4)
        && d.iter().all(u8::is_ascii_digit)
    {
        let value = d.iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        return u8::try_from(value)
            .map(|b| (b, i + 4))
            .map_err(|_| format!("escape `\\{value:03}` is above 255"));
    }
    match raw.get(i + 1) {
        Some(b) if b.is_ascii_digit() => Err(
            "a `\\` followed by a digit must be a three-digit decimal escape like `\\046`"
                .to_string(),
        ),
        Some(&b) => Ok((b, i + 2)),
        None => Err("a lone `\\` ends the text; write `\\\\` for a backslash".to_string()),
    }
}

/// Decodes a character string (quoted or not): escapes resolved, quotes already stripped.
pub(crate) fn char_string(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'\\' {
            let (byte, next) = unescape_at(raw, i)?;
            out.push(byte);
            i = next;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// Parses a domain name in presentation form, relative names completed with `origin`.
///
/// `@` alone is the origin (RFC 1035 §5.1); a trailing dot makes a name
/// absolute; `\.` is a dot inside a label and `\DDD` any octet. Label case is
/// kept as written. Labels over 63 bytes and names over 255 bytes are errors
/// (RFC 1035 §2.3.4).
pub(crate) fn name(raw: &[u8], origin: &Name) -> Result<Name, String> {
    if raw == b"@" {
        return Ok(origin.clone());
    }
    if raw.is_empty() {
        return Err("empty domain name".to_string());
    }
    if raw == b"." {
        return Ok(Name::root());
    }
    if let Some(name) = plain_relative(raw, origin) {
        return Ok(name);
    }
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut label = Vec::new();
    let mut absolute = false;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'\\' => {
                let (byte, next) =
                    unescape_at(raw, i).map_err(|e| format!("in name `{}`: {e}", show(raw)))?;
                label.push(byte);
                i = next;
            }
            b'.' => {
                if label.is_empty() {
                    return Err(format!(
                        "name `{}` has an empty label (a leading dot or two dots in a row)",
                        show(raw)
                    ));
                }
                labels.push(std::mem::take(&mut label));
                i += 1;
                if i == raw.len() {
                    absolute = true;
                }
            }
            _ => {
                label.push(b);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    if let Some(long) = labels.iter().find(|l| l.len() > MAX_LABEL) {
        return Err(format!(
            "label `{}` in name `{}` is {} bytes long; a label holds at most {MAX_LABEL} (RFC 1035 §2.3.4)",
            show(long),
            show(raw),
            long.len()
        ));
    }
    if !absolute {
        labels.extend(origin.iter().map(<[u8]>::to_vec));
    }
    let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire_len > MAX_NAME_WIRE {
        return Err(format!(
            "name `{}` is {wire_len} bytes long in wire form{}; a name holds at most {MAX_NAME_WIRE} (RFC 1035 §2.3.4)",
            show(raw),
            if absolute {
                ""
            } else {
                " once the origin is appended"
            }
        ));
    }
    Name::from_labels(labels).map_err(|e| format!("name `{}` is not valid: {e}", show(raw)))
}

/// The common owner of a large zone, one plain label relative to the origin
/// (`host`: no dot, no escape), built from its wire form in one pass rather
/// than label by label. `None` sends the name down the general path of
/// [`name`], which also produces every error message.
fn plain_relative(raw: &[u8], origin: &Name) -> Option<Name> {
    if raw.is_empty() || raw.len() > MAX_LABEL || raw.iter().any(|&b| b == b'.' || b == b'\\') {
        return None;
    }
    let mut wire = [0u8; MAX_NAME_WIRE + 1];
    let mut len = 0;
    for label in std::iter::once(raw).chain(origin.iter()) {
        let dst = wire.get_mut(len..len + 1 + label.len())?;
        let (first, rest) = dst.split_first_mut()?;
        *first = u8::try_from(label.len()).ok()?;
        rest.copy_from_slice(label);
        len += 1 + label.len();
    }
    // The root label; a name longer than 255 octets takes the general path.
    *wire.get_mut(len)? = 0;
    len += 1;
    if len > MAX_NAME_WIRE {
        return None;
    }
    let bytes = wire.get(..len)?;
    let mut decoder = BinDecoder::new(bytes);
    let name = Name::read(&mut decoder).ok()?;
    (decoder.index() == len).then_some(name)
}

/// Appends `name` to `wire` in uncompressed wire form, case kept.
pub(crate) fn emit_name(wire: &mut Vec<u8>, name: &Name) {
    for label in name.iter() {
        // Labels are at most 63 bytes (checked when the name was built).
        wire.push(u8::try_from(label.len()).unwrap_or(63));
        wire.extend_from_slice(label);
    }
    wire.push(0);
}

/// Parses a TTL in seconds: a plain number or BIND's unit form (`1h30m`, `2d`, `1w`),
/// units w d h m s in either case. Values above 2^32-1 are errors.
pub(crate) fn ttl(raw: &[u8]) -> Result<u32, String> {
    let shown = show(raw);
    if raw.is_empty() {
        return Err("empty TTL".to_string());
    }
    if raw.iter().all(u8::is_ascii_digit) {
        return decimal_u32(raw)
            .ok_or_else(|| format!("TTL `{shown}` is larger than 4294967295 seconds"));
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for &b in raw {
        if b.is_ascii_digit() {
            let n = number.unwrap_or(0);
            number = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(b - b'0')))
                    .filter(|n| *n <= u64::from(u32::MAX))
                    .ok_or_else(|| format!("TTL `{shown}` is larger than 4294967295 seconds"))?,
            );
            continue;
        }
        let unit: u64 = match b.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => {
                return Err(format!(
                    "`{shown}` is not a TTL: use seconds or units like 1w2d3h4m5s"
                ));
            }
        };
        let Some(n) = number.take() else {
            return Err(format!(
                "`{shown}` is not a TTL: each unit needs a number before it, as in 1h30m"
            ));
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if number.is_some() {
        return Err(format!(
            "`{shown}` is not a TTL: a number after a unit needs its own unit, as in 1h30m"
        ));
    }
    u32::try_from(total).map_err(|_| format!("TTL `{shown}` is larger than 4294967295 seconds"))
}

/// Whether a token looks like a TTL (starts with a digit); used to tell TTL from type.
pub(crate) fn looks_like_ttl(raw: &[u8]) -> bool {
    raw.first().is_some_and(u8::is_ascii_digit)
}

/// Parses a plain decimal number into u32 (no sign, no units).
pub(crate) fn decimal_u32(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || raw.len() > 10 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for b in raw {
        n = n * 10 + u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

/// Decodes hexadecimal digits (case-insensitive) into bytes.
pub(crate) fn hex_bytes(text: &[u8]) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!(
            "hex data has an odd number of digits ({})",
            text.len()
        ));
    }
    let digit = |b: u8| -> Result<u8, String> {
        match b {
            b'0'..=b'9' => Ok(b - b'0'),
            b'a'..=b'f' => Ok(b - b'a' + 10),
            b'A'..=b'F' => Ok(b - b'A' + 10),
            _ => Err(format!("`{}` is not a hex digit", char::from(b))),
        }
    };
    text.chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Ok(digit(*hi)? << 4 | digit(*lo)?),
            _ => Err("hex data has an odd number of digits".to_string()),
        })
        .collect()
}

/// Appends a length-prefixed character string (at most 255 bytes).
pub(crate) fn push_string(wire: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    let len = u8::try_from(bytes.len())
        .map_err(|_| format!("string is {} bytes; at most 255", bytes.len()))?;
    wire.push(len);
    wire.extend_from_slice(bytes);
    Ok(())
}

pub(crate) fn ipv4(tok: &[u8]) -> Result<Ipv4Addr, String> {
    std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("`{}` is not an IPv4 address", show(tok)))
}

pub(crate) fn ipv6(tok: &[u8]) -> Result<Ipv6Addr, String> {
    std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("`{}` is not an IPv6 address", show(tok)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_names_match_the_general_path() {
        let long = "a".repeat(63);
        let origins = [
            origin(),
            Name::root(),
            Name::from_ascii("Big.TEST.").unwrap(),
        ];
        for origin in &origins {
            for raw in ["h1", "WWW", "*", "_dmarc", long.as_str(), "x-y_z"] {
                let fast = plain_relative(raw.as_bytes(), origin).unwrap();
                let labels = std::iter::once(raw.as_bytes().to_vec())
                    .chain(origin.iter().map(<[u8]>::to_vec));
                let general = Name::from_labels(labels).unwrap();
                assert!(fast.eq_case(&general), "{raw} in {origin}");
                assert_eq!(fast.is_fqdn(), general.is_fqdn());
                assert_eq!(fast.to_string(), general.to_string());
            }
        }
        // Dotted, escaped, too long: the general path (and its messages).
        assert!(plain_relative(b"a.b", &origin()).is_none());
        assert!(plain_relative(b"a\\065", &origin()).is_none());
        assert!(plain_relative("a".repeat(64).as_bytes(), &origin()).is_none());
        let deep = Name::from_ascii(format!("{long}.{long}.{long}.")).unwrap();
        assert!(plain_relative(long.as_bytes(), &deep).is_none());
        assert!(
            name(long.as_bytes(), &deep)
                .unwrap_err()
                .contains("wire form")
        );
    }

    fn origin() -> Name {
        Name::from_ascii("example.test.").unwrap()
    }

    #[test]
    fn at_sign_is_the_origin() {
        assert_eq!(name(b"@", &origin()).unwrap(), origin());
    }

    #[test]
    fn relative_name_gets_the_origin_appended() {
        let n = name(b"www", &origin()).unwrap();
        assert_eq!(n, Name::from_ascii("www.example.test.").unwrap());
        assert!(n.is_fqdn());
    }

    #[test]
    fn absolute_name_is_taken_as_written() {
        let n = name(b"mail.other.test.", &origin()).unwrap();
        assert_eq!(n, Name::from_ascii("mail.other.test.").unwrap());
    }

    #[test]
    fn name_case_is_preserved() {
        let n = name(b"WwW", &origin()).unwrap();
        assert_eq!(n.iter().next().unwrap(), b"WwW");
    }

    #[test]
    fn escaped_dot_stays_inside_the_label() {
        let n = name(b"first\\.last", &origin()).unwrap();
        assert_eq!(n.iter().next().unwrap(), b"first.last");
        assert_eq!(n.num_labels(), 3);
    }

    #[test]
    fn decimal_escape_in_a_name_is_one_octet() {
        let n = name(b"a\\032b", &origin()).unwrap();
        assert_eq!(n.iter().next().unwrap(), b"a b");
    }

    #[test]
    fn decimal_escape_above_255_is_rejected() {
        assert!(
            name(b"a\\300b", &origin())
                .unwrap_err()
                .contains("above 255")
        );
    }

    #[test]
    fn label_over_63_bytes_is_rejected() {
        let long = vec![b'a'; 64];
        assert!(name(&long, &origin()).unwrap_err().contains("at most 63"));
    }

    #[test]
    fn name_over_255_bytes_is_rejected() {
        let label = [b'a'; 60];
        let mut raw = Vec::new();
        for _ in 0..5 {
            raw.extend_from_slice(&label);
            raw.push(b'.');
        }
        assert!(name(&raw, &origin()).unwrap_err().contains("at most 255"));
    }

    #[test]
    fn empty_label_is_rejected() {
        assert!(
            name(b"a..b", &origin())
                .unwrap_err()
                .contains("empty label")
        );
    }

    #[test]
    fn root_name_is_a_single_dot() {
        assert!(name(b".", &origin()).unwrap().is_root());
    }

    #[test]
    fn ttl_accepts_plain_seconds() {
        assert_eq!(ttl(b"3600").unwrap(), 3600);
    }

    #[test]
    fn ttl_accepts_bind_units() {
        assert_eq!(ttl(b"1h30m").unwrap(), 5400);
        assert_eq!(ttl(b"1W2D").unwrap(), 604_800 + 2 * 86_400);
        assert_eq!(ttl(b"45s").unwrap(), 45);
    }

    #[test]
    fn ttl_rejects_unit_less_tail() {
        assert!(ttl(b"1h30").is_err());
    }

    #[test]
    fn ttl_rejects_unknown_unit() {
        assert!(ttl(b"5y").is_err());
    }

    #[test]
    fn ttl_rejects_values_above_u32() {
        assert!(ttl(b"4294967296").is_err());
        assert!(ttl(b"100000w").is_err());
    }

    #[test]
    fn char_string_resolves_escapes() {
        assert_eq!(char_string(b"a\\\"b\\;c\\\\d\\065").unwrap(), b"a\"b;c\\dA");
    }

    #[test]
    fn hex_decodes_both_cases() {
        assert_eq!(hex_bytes(b"0aFf").unwrap(), vec![0x0a, 0xff]);
        assert!(hex_bytes(b"abc").is_err());
        assert!(hex_bytes(b"zz").is_err());
    }
}
