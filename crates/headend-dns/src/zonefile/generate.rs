//! BIND's `$GENERATE` templates, read the way BIND 9 reads them.
//!
//! `$GENERATE start-stop[/step] owner [ttl] [class] type rdata` makes one
//! record per value from `start` to `stop`. In the owner and the RDATA each
//! `$` becomes the value, and `${offset[,width[,base]]}` the value plus
//! `offset`, zero-padded to `width` in base `d` (decimal, the default), `o`
//! (octal), `x`/`X` (hexadecimal) or `n`/`N` (nibbles, least significant
//! first, one per label, as reverse IPv6 names want; the width counts the
//! dots). `$$` is a literal `$` (BIND's old spelling), and a backslash keeps
//! the next character as it is (`\$` is a `$` in a name).
//!
//! Pure text: the records made are read by the ordinary record parser.

/// Most values one `$GENERATE` may make (a /12 of addresses; BIND sets no
/// limit, but a typo like `1-2147483647` must not exhaust the memory).
pub(crate) const MAX_VALUES: u64 = 1 << 20;

/// The values of a `$GENERATE` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    start: u32,
    stop: u32,
    step: u32,
}

impl Range {
    /// Reads `start-stop` or `start-stop/step` (BIND: 0 ≤ start ≤ stop < 2³¹, step ≥ 1).
    pub(crate) fn parse(raw: &[u8]) -> Result<Self, String> {
        let text =
            std::str::from_utf8(raw).map_err(|_| "$GENERATE: the range is not text".to_owned())?;
        let bad = || {
            format!(
                "$GENERATE: bad range `{text}`: write start-stop or start-stop/step, like 1-254 or 0-250/2"
            )
        };
        let (span, step) = match text.split_once('/') {
            Some((span, step)) => (span, Some(step)),
            None => (text, None),
        };
        let (start, stop) = span.split_once('-').ok_or_else(bad)?;
        let number = |s: &str| -> Result<u32, String> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u32>()
                .ok()
                .filter(|&n| n <= i32::MAX as u32)
                .ok_or_else(|| format!("$GENERATE: `{s}` is above 2147483647"))
        };
        let (start, stop) = (number(start)?, number(stop)?);
        let step = match step {
            Some(s) => number(s)?,
            None => 1,
        };
        if step == 0 {
            return Err(format!("$GENERATE: the step of `{text}` is 0"));
        }
        if start > stop {
            return Err(format!("$GENERATE: `{text}` starts above its end"));
        }
        let range = Self { start, stop, step };
        if range.len() > MAX_VALUES {
            return Err(format!(
                "$GENERATE: `{text}` makes {} records, more than the {MAX_VALUES} one directive may",
                range.len()
            ));
        }
        Ok(range)
    }

    /// How many values the range has.
    pub(crate) fn len(&self) -> u64 {
        u64::from(self.stop - self.start) / u64::from(self.step) + 1
    }

    /// The values, in order.
    pub(crate) fn values(&self) -> impl Iterator<Item = u32> + use<> {
        let Self { start, stop, step } = *self;
        (0..self.len()).map_while(move |i| {
            u32::try_from(u64::from(start) + i * u64::from(step))
                .ok()
                .filter(|&v| v <= stop)
        })
    }
}

/// How a substitution prints its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Decimal,
    Octal,
    Hex,
    HexUpper,
    Nibble,
    NibbleUpper,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Value {
        offset: i64,
        width: usize,
        base: Base,
    },
}

/// A field of a `$GENERATE` line with its substitutions found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

/// Widest field a modifier may ask for (a name is at most 255 octets).
const MAX_WIDTH: usize = 255;

impl Template {
    /// Finds the substitutions in one field.
    pub(crate) fn parse(raw: &[u8]) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let mut i = 0;
        while let Some(&c) = raw.get(i) {
            match c {
                b'\\' => {
                    // Kept with the character it escapes, for the record parser.
                    text.push(c);
                    if let Some(&next) = raw.get(i + 1) {
                        text.push(next);
                    }
                    i += 2;
                }
                b'$' if raw.get(i + 1) == Some(&b'$') => {
                    text.push(b'$');
                    i += 2;
                }
                b'$' => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    let (piece, used) = modifier(raw.get(i + 1..).unwrap_or_default())?;
                    pieces.push(piece);
                    i += 1 + used;
                }
                _ => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self { pieces })
    }

    /// Appends the field for `value` to `out`.
    pub(crate) fn expand(&self, value: u32, out: &mut Vec<u8>) -> Result<(), String> {
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.extend_from_slice(t),
                &Piece::Value {
                    offset,
                    width,
                    base,
                } => {
                    let v = i64::from(value) + offset;
                    let v = u32::try_from(v).map_err(|_| {
                        format!("the offset {offset} takes the value to {v}, outside 0-4294967295")
                    })?;
                    format_value(v, width, base, out);
                }
            }
        }
        Ok(())
    }
}

/// Reads what follows a `$`: nothing, or `{offset[,width[,base]]}`; returns
/// the substitution and how many bytes it used.
fn modifier(rest: &[u8]) -> Result<(Piece, usize), String> {
    let plain = Piece::Value {
        offset: 0,
        width: 0,
        base: Base::Decimal,
    };
    if rest.first() != Some(&b'{') {
        return Ok((plain, 0));
    }
    let close = rest
        .iter()
        .position(|&b| b == b'}')
        .ok_or("$GENERATE: `${` without its closing `}`")?;
    let inner = rest.get(1..close).unwrap_or_default();
    let inner = std::str::from_utf8(inner).map_err(|_| "$GENERATE: a modifier is not text")?;
    let bad = || {
        format!(
            "$GENERATE: bad modifier `${{{inner}}}`: write ${{offset[,width[,base]]}}, base one of d o x X n N"
        )
    };
    let mut parts = inner.split(',');
    let offset = match parts.next().map(str::trim) {
        Some(s) if !s.is_empty() => s.parse::<i64>().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if offset.unsigned_abs() > u64::from(u32::MAX) {
        return Err(bad());
    }
    let width = match parts.next().map(str::trim) {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|&w| w <= MAX_WIDTH)
            .ok_or_else(bad)?,
        None => 0,
    };
    let base = match parts.next().map(str::trim) {
        None => Base::Decimal,
        Some("d") => Base::Decimal,
        Some("o") => Base::Octal,
        Some("x") => Base::Hex,
        Some("X") => Base::HexUpper,
        Some("n") => Base::Nibble,
        Some("N") => Base::NibbleUpper,
        Some(_) => return Err(bad()),
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((
        Piece::Value {
            offset,
            width,
            base,
        },
        close + 1,
    ))
}

/// Prints `value` as BIND does: zero-padded to `width`; in nibble form the
/// least significant nibble first, one per label, the dots counted in the
/// width, padded with zero nibbles.
fn format_value(value: u32, width: usize, base: Base, out: &mut Vec<u8>) {
    let digits = match base {
        Base::Decimal => format!("{value:0width$}"),
        Base::Octal => format!("{value:0width$o}"),
        Base::Hex => format!("{value:0width$x}"),
        Base::HexUpper => format!("{value:0width$X}"),
        Base::Nibble | Base::NibbleUpper => {
            let upper = base == Base::NibbleUpper;
            let mut left = width;
            let mut v = value;
            loop {
                let digit = char::from_digit(v & 0xf, 16).unwrap_or('0');
                out.push(if upper {
                    digit.to_ascii_uppercase() as u8
                } else {
                    digit as u8
                });
                v >>= 4;
                left = left.saturating_sub(1);
                if left > 0 || v != 0 {
                    out.push(b'.');
                    left = left.saturating_sub(1);
                }
                if v == 0 && left == 0 {
                    break;
                }
            }
            return;
        }
    };
    out.extend_from_slice(digits.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(template: &str, value: u32) -> String {
        let mut out = Vec::new();
        Template::parse(template.as_bytes())
            .unwrap()
            .expand(value, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ranges_and_steps() {
        let r = Range::parse(b"1-5").unwrap();
        assert_eq!(r.values().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        let r = Range::parse(b"0-10/4").unwrap();
        assert_eq!(r.values().collect::<Vec<_>>(), vec![0, 4, 8]);
        let r = Range::parse(b"7-7").unwrap();
        assert_eq!(r.values().collect::<Vec<_>>(), vec![7]);
        let top = Range::parse(b"2147483646-2147483647").unwrap();
        assert_eq!(top.values().count(), 2);
        for bad in [
            "",
            "5",
            "5-",
            "-5",
            "5-1",
            "1-5/0",
            "a-b",
            "1-2147483648",
            "1 -5",
            "1-5/x",
        ] {
            assert!(Range::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let err = Range::parse(b"0-2147483647").unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn substitutions_follow_bind() {
        assert_eq!(expand("host-$", 7), "host-7");
        assert_eq!(expand("$.$", 3), "3.3");
        assert_eq!(expand("a$$b", 3), "a$b");
        assert_eq!(expand(r"a\$b", 3), r"a\$b");
        assert_eq!(expand("${10}", 5), "15");
        assert_eq!(expand("${-5}", 5), "0");
        assert_eq!(expand("${0,3}", 5), "005");
        assert_eq!(expand("${0,3,d}", 5), "005");
        assert_eq!(expand("${0,4,o}", 8), "0010");
        assert_eq!(expand("${0,2,x}", 255), "ff");
        assert_eq!(expand("${0,4,X}", 255), "00FF");
        assert_eq!(expand("${0,0,x}", 0), "0");
        // Nibbles: least significant first, the dots counted in the width.
        assert_eq!(expand("${0,0,n}", 0x1a), "a.1");
        assert_eq!(expand("${0,3,n}", 0x1a), "a.1");
        assert_eq!(expand("${0,4,n}", 0x1a), "a.1.");
        assert_eq!(expand("${0,7,n}", 0x1a), "a.1.0.0");
        assert_eq!(expand("${0,7,N}", 0xbc), "C.B.0.0");
        assert_eq!(expand("${0,1,n}", 0), "0");
        assert_eq!(
            expand("${0,7,n}.8.b.d.0.1.0.0.2.ip6.arpa.", 0x2a),
            "a.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
    }

    #[test]
    fn bad_modifiers_are_errors_not_panics() {
        for bad in [
            "${",
            "${}",
            "${x}",
            "${1,}",
            "${1,2,q}",
            "${1,2,d,4}",
            "${1,999}",
            "${99999999999}",
        ] {
            assert!(Template::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let t = Template::parse(b"${-10}").unwrap();
        assert!(t.expand(3, &mut Vec::new()).is_err());
    }
}
