//! SVCB and HTTPS parameters (RFC 9460 §2.1, §7, §8) in both directions.
//!
//! Text: `key=value`, `key="value"` or a bare `key`, keys by name or as
//! `keyNNNNN`. Wire: key, length, value, in strictly increasing key order
//! (RFC 9460 §2.2), which the reader sorts into and the writer requires.

use std::fmt::Write as _;

use base64::Engine as _;

use super::lexer::Token;
use super::text::{self, show};
use super::text::{ipv4, ipv6, push_string};
use crate::rrtype::SVC_KEYS;

const MANDATORY: u16 = 0;
const ALPN: u16 = 1;
const NO_DEFAULT_ALPN: u16 = 2;
const PORT: u16 = 3;
const IPV4HINT: u16 = 4;
const ECH: u16 = 5;
const IPV6HINT: u16 = 6;
const DOHPATH: u16 = 7;
const OHTTP: u16 = 8;

/// Reads the parameters of one record and appends them in wire form.
pub(crate) fn params(wire: &mut Vec<u8>, tokens: &[Token<'_>]) -> Result<(), String> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while let Some(tok) = tokens.get(i) {
        i += 1;
        if tok.quoted {
            return Err(format!(
                "the quoted \"{}\" has no `key=` before it",
                show(tok.raw)
            ));
        }
        let (key_text, value) = match tok.raw.iter().position(|&b| b == b'=') {
            None => (tok.raw, None),
            Some(eq) => {
                let key = tok.raw.get(..eq).unwrap_or_default();
                let after = tok.raw.get(eq + 1..).unwrap_or_default();
                match tokens.get(i) {
                    // The lexer splits `key="value"` into `key=` and the quoted value.
                    Some(next) if after.is_empty() && next.quoted => {
                        i += 1;
                        (key, Some(next.raw))
                    }
                    _ => (key, Some(after)),
                }
            }
        };
        let key = key_code(key_text)?;
        let value = encode(key, value).map_err(|e| format!("{}: {e}", key_name(key)))?;
        if params.iter().any(|(k, _)| *k == key) {
            return Err(format!(
                "parameter {} is given twice (RFC 9460 §2.1)",
                key_name(key)
            ));
        }
        params.push((key, value));
    }
    params.sort_by_key(|(k, _)| *k);
    // RFC 9460 §8: "mandatory" lists keys that must be present, never itself.
    if let Some((_, list)) = params.iter().find(|(k, _)| *k == MANDATORY) {
        for pair in list.chunks(2) {
            let listed = u16::from_be_bytes([
                pair.first().copied().unwrap_or(0),
                pair.get(1).copied().unwrap_or(0),
            ]);
            if !params.iter().any(|(k, _)| *k == listed) {
                return Err(format!(
                    "mandatory lists {} but the record does not have it",
                    key_name(listed)
                ));
            }
        }
    }
    for (key, value) in params {
        let len = u16::try_from(value.len())
            .map_err(|_| format!("{} value is longer than 65535 bytes", key_name(key)))?;
        wire.extend_from_slice(&key.to_be_bytes());
        wire.extend_from_slice(&len.to_be_bytes());
        wire.extend_from_slice(&value);
    }
    Ok(())
}

/// A key by name or as `keyNNNNN` (RFC 9460 §2.1); 65535 is reserved.
fn key_code(raw: &[u8]) -> Result<u16, String> {
    if let Some((_, code)) = SVC_KEYS.iter().find(|(name, _)| name.as_bytes() == raw) {
        return Ok(*code);
    }
    raw.strip_prefix(b"key")
        .filter(|d| !d.is_empty() && d.len() <= 5)
        .and_then(text::decimal_u32)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n != u16::MAX)
        .ok_or_else(|| {
            format!(
                "`{}` is not a SvcParamKey: use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint, dohpath, ohttp or key0 to key65534",
                show(raw)
            )
        })
}

/// The presentation name of a key.
fn key_name(key: u16) -> String {
    SVC_KEYS
        .iter()
        .find(|(_, code)| *code == key)
        .map_or_else(|| format!("key{key}"), |(name, _)| (*name).to_owned())
}

/// A comma-separated value list (RFC 9460 Appendix A.1): `\,` is a comma
/// inside an item, other escapes as in any character string.
fn value_list(raw: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'\\' if raw.get(i + 1).is_some_and(|n| !n.is_ascii_digit()) => {
                if let (Some(item), Some(&n)) = (items.last_mut(), raw.get(i + 1)) {
                    item.push(n);
                }
                i += 2;
            }
            b'\\' => {
                let end = (i + 4).min(raw.len());
                let byte = text::char_string(raw.get(i..end).unwrap_or_default())?;
                if let Some(item) = items.last_mut() {
                    item.extend_from_slice(&byte);
                }
                i = end;
            }
            b',' => {
                items.push(Vec::new());
                i += 1;
            }
            _ => {
                if let Some(item) = items.last_mut() {
                    item.push(b);
                }
                i += 1;
            }
        }
    }
    if items.iter().any(Vec::is_empty) {
        return Err("the list has an empty item".to_string());
    }
    Ok(items)
}

/// The wire value of one parameter.
fn encode(key: u16, value: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let needs = || "needs a value".to_string();
    let mut out = Vec::new();
    match key {
        MANDATORY => {
            let mut keys = value_list(value.ok_or_else(needs)?)?
                .iter()
                .map(|k| key_code(k))
                .collect::<Result<Vec<_>, _>>()?;
            keys.sort_unstable();
            if keys.windows(2).any(|w| w.first() == w.get(1)) {
                return Err("a key is listed twice".to_string());
            }
            if keys.contains(&MANDATORY) {
                return Err("must not list mandatory itself (RFC 9460 §8)".to_string());
            }
            for k in keys {
                out.extend_from_slice(&k.to_be_bytes());
            }
        }
        ALPN => {
            for id in value_list(value.ok_or_else(needs)?)? {
                push_string(&mut out, &id)?;
            }
        }
        NO_DEFAULT_ALPN | OHTTP => {
            if value.is_some_and(|v| !v.is_empty()) {
                return Err("takes no value".to_string());
            }
        }
        PORT => {
            let v = text::char_string(value.ok_or_else(needs)?)?;
            let port = text::decimal_u32(&v)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| format!("`{}` is not a port number", show(&v)))?;
            out.extend_from_slice(&port.to_be_bytes());
        }
        IPV4HINT => {
            for a in value_list(value.ok_or_else(needs)?)? {
                out.extend_from_slice(&ipv4(&a)?.octets());
            }
        }
        IPV6HINT => {
            for a in value_list(value.ok_or_else(needs)?)? {
                out.extend_from_slice(&ipv6(&a)?.octets());
            }
        }
        ECH => {
            let v = text::char_string(value.ok_or_else(needs)?)?;
            out = base64::engine::general_purpose::STANDARD
                .decode(&v)
                .map_err(|e| format!("`{}` is not valid base64: {e}", show(&v)))?;
        }
        DOHPATH => out = text::char_string(value.ok_or_else(needs)?)?,
        _ => {
            if let Some(v) = value {
                out = text::char_string(v)?;
            }
        }
    }
    Ok(out)
}

/// The parameters of wire RDATA as text (each preceded by a blank), `None`
/// when they are not in a form the reader takes back (keys out of order, a
/// value of the wrong size).
pub(crate) fn text(mut wire: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut last: Option<u16> = None;
    while !wire.is_empty() {
        let [k1, k2, l1, l2, rest @ ..] = wire else {
            return None;
        };
        let key = u16::from_be_bytes([*k1, *k2]);
        let len = usize::from(u16::from_be_bytes([*l1, *l2]));
        let value = rest.get(..len)?;
        wire = rest.get(len..)?;
        if last.is_some_and(|l| l >= key) {
            return None;
        }
        last = Some(key);
        out.push(' ');
        out.push_str(&key_name(key));
        match key {
            MANDATORY => {
                if value.is_empty() || value.len() % 2 != 0 {
                    return None;
                }
                let names: Vec<String> = value
                    .chunks(2)
                    .map(|p| key_name(u16::from_be_bytes([p[0], p[1]])))
                    .collect();
                let _ = write!(out, "={}", names.join(","));
            }
            ALPN => {
                let mut ids = Vec::new();
                let mut rest = value;
                while let [len, tail @ ..] = rest {
                    let id = tail.get(..usize::from(*len))?;
                    if id.is_empty() {
                        return None;
                    }
                    ids.push(escape(id, true));
                    rest = tail.get(usize::from(*len)..)?;
                }
                if ids.is_empty() {
                    return None;
                }
                let _ = write!(out, "=\"{}\"", ids.join(","));
            }
            NO_DEFAULT_ALPN | OHTTP => {
                if !value.is_empty() {
                    return None;
                }
            }
            PORT => {
                let [a, b] = value else { return None };
                let _ = write!(out, "={}", u16::from_be_bytes([*a, *b]));
            }
            IPV4HINT => {
                if value.is_empty() || value.len() % 4 != 0 {
                    return None;
                }
                let addrs: Vec<String> = value
                    .chunks(4)
                    .map(|c| std::net::Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string())
                    .collect();
                let _ = write!(out, "={}", addrs.join(","));
            }
            IPV6HINT => {
                if value.is_empty() || value.len() % 16 != 0 {
                    return None;
                }
                let addrs: Vec<String> = value
                    .chunks(16)
                    .map(|c| {
                        let octets: [u8; 16] = c.try_into().unwrap_or([0; 16]);
                        std::net::Ipv6Addr::from(octets).to_string()
                    })
                    .collect();
                let _ = write!(out, "={}", addrs.join(","));
            }
            ECH => {
                let _ = write!(
                    out,
                    "=\"{}\"",
                    base64::engine::general_purpose::STANDARD.encode(value)
                );
            }
            _ => {
                if !value.is_empty() || key == DOHPATH {
                    let _ = write!(out, "=\"{}\"", escape(value, false));
                }
            }
        }
    }
    Some(out)
}

/// A value inside double quotes: `"` and `\` escaped, non-printable bytes as
/// `\DDD`, and in a list item the comma as `\,`.
fn escape(bytes: &[u8], list_item: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b',' if list_item => out.push_str("\\,"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::lexer::Lexer;
    use super::*;

    fn read(text_form: &str) -> Result<Vec<u8>, String> {
        let entry = Lexer::new(text_form.as_bytes()).next().unwrap().unwrap();
        let mut wire = Vec::new();
        params(&mut wire, &entry.tokens)?;
        Ok(wire)
    }

    #[test]
    fn every_key_reads_and_writes_back() {
        let written = " mandatory=alpn,ipv4hint alpn=\"h2,h3\" no-default-alpn port=8443 \
                       ipv4hint=192.0.2.1,192.0.2.2 ech=\"AEX+DQBB\" ipv6hint=2001:db8::1,2001:db8::2 \
                       dohpath=\"/q{?dns}\" ohttp key667=\"hello\\032world\" key65000";
        let wire = read(written).unwrap();
        assert_eq!(text(&wire).unwrap(), written.replace("\\032", " "));
        assert_eq!(read(&text(&wire).unwrap()).unwrap(), wire);
    }

    #[test]
    fn keys_are_sorted_on_the_wire() {
        let wire = read("port=53 alpn=h2").unwrap();
        assert_eq!(wire, [0, 1, 0, 3, 2, b'h', b'2', 0, 3, 0, 2, 0, 53]);
    }

    #[test]
    fn bad_parameter_sets_are_refused() {
        assert!(read("alpn=h2 alpn=h3").unwrap_err().contains("twice"));
        assert!(
            read("mandatory=port alpn=h2")
                .unwrap_err()
                .contains("does not have")
        );
        assert!(read("mandatory=mandatory").is_err());
        assert!(read("key65535=x").is_err());
        assert!(read("no-default-alpn=x").is_err());
        assert!(read("port=65536").is_err());
        assert!(read("alpn=h2,,h3").is_err());
        assert!(read("colour=blue").is_err());
    }

    #[test]
    fn out_of_order_wire_is_not_written_as_text() {
        assert_eq!(text(&[0, 3, 0, 2, 0, 53, 0, 1, 0, 3, 2, b'h', b'2']), None);
        assert_eq!(text(&[0, 3, 0, 1, 0]), None);
    }
}
