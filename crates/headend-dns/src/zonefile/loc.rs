//! LOC (RFC 1876) in both directions: text to wire for the reader, wire to
//! text for the writer.
//!
//! RFC 1876 §3: `d1 [m1 [s1]] {N|S} d2 [m2 [s2]] {E|W} alt[m] [siz[m] [hp[m] [vp[m]]]]`,
//! size 1m, horizontal precision 10000m and vertical precision 10m when left out.

use super::lexer::Token;
use super::text::show;

/// 2^31: the equator and the prime meridian (RFC 1876 §2).
const EQUATOR: i64 = 1 << 31;
/// Altitudes are stored from 100000 m below the WGS 84 spheroid, in centimetres.
const ALT_BASE_CM: i64 = 10_000_000;

/// Reads the whole RDATA of a LOC record.
pub(crate) fn parse(tokens: &[Token<'_>]) -> Result<Vec<u8>, String> {
    let mut it = tokens.iter().map(|t| t.raw).peekable();
    let lat = angle(&mut it, 90, (b'N', b'S'), "latitude")?;
    let lon = angle(&mut it, 180, (b'E', b'W'), "longitude")?;
    let alt_text = it.next().ok_or("the altitude is missing")?;
    let alt = centimetres(alt_text, true)
        .filter(|cm| (-ALT_BASE_CM..=4_284_967_295).contains(cm))
        .ok_or_else(|| {
            format!(
                "altitude `{}` is not metres from -100000.00 to 42849672.95",
                show(alt_text)
            )
        })?;
    let mut precision = [100i64, 1_000_000, 1_000];
    for (slot, what) in
        precision
            .iter_mut()
            .zip(["size", "horizontal precision", "vertical precision"])
    {
        let Some(tok) = it.next() else { break };
        *slot = centimetres(tok, false)
            .filter(|cm| *cm <= 9_000_000_000)
            .ok_or_else(|| format!("{what} `{}` is not metres from 0 to 90000000.00", show(tok)))?;
    }
    if let Some(extra) = it.next() {
        return Err(format!("unexpected `{}` after the LOC data", show(extra)));
    }
    let mut wire = vec![0u8];
    wire.extend(precision.map(precision_octet));
    for v in [lat, lon, alt + ALT_BASE_CM] {
        wire.extend_from_slice(&u32::try_from(v).unwrap_or(0).to_be_bytes());
    }
    Ok(wire)
}

/// Degrees, optional minutes and seconds, then the hemisphere letter; in
/// thousandths of a second of arc offset by 2^31.
fn angle<'a>(
    it: &mut std::iter::Peekable<impl Iterator<Item = &'a [u8]>>,
    max_degrees: i64,
    (plus, minus): (u8, u8),
    what: &str,
) -> Result<i64, String> {
    let hemisphere = |t: &[u8]| {
        t.len() == 1
            && t.first()
                .is_some_and(|c| c.eq_ignore_ascii_case(&plus) || c.eq_ignore_ascii_case(&minus))
    };
    let bad = |t: &[u8]| {
        format!(
            "{what}: `{}` is not degrees, minutes, seconds then {} or {}, like 52 22 23.000 {}",
            show(t),
            char::from(plus),
            char::from(minus),
            char::from(plus)
        )
    };
    let mut parts = [0i64; 3];
    let mut count = 0;
    let sign = loop {
        let tok = it.next().ok_or_else(|| format!("the {what} is missing"))?;
        if hemisphere(tok) && count > 0 {
            break if tok.eq_ignore_ascii_case(&[plus]) {
                1
            } else {
                -1
            };
        }
        let slot = parts.get_mut(count).ok_or_else(|| bad(tok))?;
        *slot = if count == 2 {
            thousandths(tok).ok_or_else(|| bad(tok))?
        } else {
            std::str::from_utf8(tok)
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(tok))?
        };
        count += 1;
    };
    let [d, m, s] = parts;
    if d > max_degrees || m > 59 || s > 59_999 {
        return Err(format!(
            "{what}: degrees at most {max_degrees}, minutes and seconds below 60"
        ));
    }
    let value = (d * 3600 + m * 60) * 1000 + s;
    if value > max_degrees * 3_600_000 {
        return Err(format!("{what}: beyond {max_degrees} degrees"));
    }
    Ok(EQUATOR + sign * value)
}

/// Seconds with up to three decimals, in thousandths.
fn thousandths(tok: &[u8]) -> Option<i64> {
    fixed(tok, 3)
}

/// A decimal with up to `places` fractional digits, scaled by 10^places.
fn fixed(tok: &[u8], places: u32) -> Option<i64> {
    let text = std::str::from_utf8(tok).ok()?;
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 10 || frac.len() > places as usize {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut frac_value: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..places as usize {
        frac_value *= 10;
    }
    Some(whole * 10i64.pow(places) + frac_value)
}

/// Metres (optional `m` suffix, two decimals at most) in centimetres.
fn centimetres(tok: &[u8], signed: bool) -> Option<i64> {
    let tok = tok
        .strip_suffix(b"m")
        .or_else(|| tok.strip_suffix(b"M"))
        .unwrap_or(tok);
    match tok.strip_prefix(b"-") {
        Some(rest) if signed => fixed(rest, 2).map(|v| -v),
        Some(_) => None,
        None => fixed(tok, 2),
    }
}

/// RFC 1876 §2: a size as mantissa (high nibble) and power of ten (low
/// nibble) of centimetres, truncated as BIND does.
fn precision_octet(cm: i64) -> u8 {
    let (mantissa, exponent) = if cm >= 100 {
        let mut metres = cm / 100;
        let mut exponent = 2;
        while metres >= 10 {
            metres /= 10;
            exponent += 1;
        }
        (metres, exponent)
    } else if cm >= 10 {
        (cm / 10, 1)
    } else {
        (cm, 0)
    };
    u8::try_from((mantissa << 4) | exponent).unwrap_or(0x99)
}

/// The LOC text of wire RDATA, `None` for a version other than 0 or a bad size octet.
pub(crate) fn text(wire: &[u8]) -> Option<String> {
    let [0, size_octet, hp, vp, rest @ ..] = wire else {
        return None;
    };
    let [a, b, c, d, e, f, g, h, i, j, k, l] = rest else {
        return None;
    };
    let lat = i64::from(u32::from_be_bytes([*a, *b, *c, *d])) - EQUATOR;
    let lon = i64::from(u32::from_be_bytes([*e, *f, *g, *h])) - EQUATOR;
    let alt = i64::from(u32::from_be_bytes([*i, *j, *k, *l])) - ALT_BASE_CM;
    let angle = |v: i64, plus: char, minus: char| {
        let hemisphere = if v < 0 { minus } else { plus };
        let v = v.abs();
        format!(
            "{} {} {}.{:03} {hemisphere}",
            v / 3_600_000,
            v / 60_000 % 60,
            v / 1000 % 60,
            v % 1000
        )
    };
    let metres = |cm: i64| {
        if cm % 100 == 0 {
            format!("{}m", cm / 100)
        } else {
            format!("{}.{:02}m", cm / 100, cm % 100)
        }
    };
    let size = |octet: u8| {
        let (mantissa, exponent) = (octet >> 4, octet & 0x0f);
        (mantissa <= 9 && exponent <= 9)
            .then(|| i64::from(mantissa) * 10i64.pow(u32::from(exponent)))
    };
    let sign = if alt < 0 { "-" } else { "" };
    Some(format!(
        "{} {} {sign}{}.{:02}m {} {} {}",
        angle(lat, 'N', 'S'),
        angle(lon, 'E', 'W'),
        alt.abs() / 100,
        alt.abs() % 100,
        metres(size(*size_octet)?),
        metres(size(*hp)?),
        metres(size(*vp)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token<'_>> {
        text.split_whitespace()
            .map(|w| Token {
                raw: w.as_bytes(),
                quoted: false,
            })
            .collect()
    }

    #[test]
    fn rfc_1876_example_reads_and_writes_back() {
        let wire = parse(&tokens("42 21 54 N 71 06 18 W -24m 30m")).unwrap();
        assert_eq!(
            text(&wire).unwrap(),
            "42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m"
        );
        assert_eq!(wire.get(1..4).unwrap(), [0x33, 0x16, 0x13]);
    }

    #[test]
    fn every_optional_field_and_fractions() {
        let wire = parse(&tokens(
            "52 22 23.123 S 4 53 32.5 E 42849672.95m 0.5m 2.25m 9m",
        ))
        .unwrap();
        assert_eq!(
            text(&wire).unwrap(),
            "52 22 23.123 S 4 53 32.500 E 42849672.95m 0.50m 2m 9m"
        );
        let short = parse(&tokens("1 N 2 E 0")).unwrap();
        assert_eq!(
            text(&short).unwrap(),
            "1 0 0.000 N 2 0 0.000 E 0.00m 1m 10000m 10m"
        );
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(parse(&tokens("91 N 2 E 0")).is_err());
        assert!(parse(&tokens("1 60 N 2 E 0")).is_err());
        assert!(parse(&tokens("1 N 181 E 0")).is_err());
        assert!(parse(&tokens("1 N 2 E -100000.01")).is_err());
        assert!(parse(&tokens("1 N 2 E 0 1 2 3 4")).is_err());
        assert!(parse(&tokens("1 X 2 E 0")).is_err());
    }
}
