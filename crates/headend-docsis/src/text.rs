//! The text format of the `docsis` compiler, parsed by hand into a tree of
//! settings with source positions:
//!
//! ```text
//! Main {                          /* one top-level block */
//!     NetworkAccess 1;            /* Label Value... ; */
//!     UsServiceFlow {             /* Label { nested settings } */
//!         UsServiceFlowRef 1;
//!     }
//!     SnmpMibObject sysDescr.0 String "a modem";   // comments: /* */, //, #
//! }
//! ```
//!
//! A value is a list of words: bare words (numbers, addresses, OIDs, `0x`
//! hex) or double-quoted strings (`\"`, `\\` and `\xNN` escapes).

use std::borrow::Cow;

use crate::DocsisError;

/// A position in the source text (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line number.
    pub line: u32,
    /// Column (in bytes).
    pub col: u32,
}

/// One word of a setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    /// The word, with quotes removed and escapes resolved.
    pub text: Cow<'a, str>,
    /// Whether it was written in double quotes.
    pub quoted: bool,
    /// Where it starts.
    pub pos: Pos,
}

/// The value of a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `Name { ... }`.
    Block(Vec<Setting<'a>>),
    /// `Name word word ...;`.
    Words(Vec<Word<'a>>),
}

/// One setting: a name and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<'a> {
    /// The label, e.g. `MaxCPE`.
    pub name: &'a str,
    /// Where the label starts.
    pub pos: Pos,
    /// Its value.
    pub value: Value<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Open,
    Close,
    Semi,
    Word(Word<'a>),
    End,
}

struct Lexer<'a> {
    src: &'a str,
    at: usize,
    line: u32,
    line_start: usize,
}

fn syntax(pos: Pos, reason: impl Into<String>) -> DocsisError {
    DocsisError::Syntax {
        line: pos.line,
        col: pos.col,
        reason: reason.into(),
    }
}

impl<'a> Lexer<'a> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: (self.at - self.line_start + 1) as u32,
        }
    }

    fn bump(&mut self, n: usize) {
        for b in &self.src.as_bytes()[self.at..self.at + n] {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.at + 1;
            }
            self.at += 1;
        }
    }

    fn skip_space_and_comments(&mut self) -> Result<(), DocsisError> {
        loop {
            let rest = &self.src.as_bytes()[self.at..];
            match rest {
                [b' ' | b'\t' | b'\r' | b'\n', ..] => self.bump(1),
                [b'/', b'*', ..] => {
                    let start = self.pos();
                    let Some(end) = self.src[self.at + 2..].find("*/") else {
                        return Err(syntax(start, "comment `/*` is never closed"));
                    };
                    self.bump(end + 4);
                }
                [b'/', b'/', ..] | [b'#', ..] => {
                    let end = self.src[self.at..]
                        .find('\n')
                        .unwrap_or(self.src.len() - self.at);
                    self.bump(end);
                }
                _ => return Ok(()),
            }
        }
    }

    fn next(&mut self) -> Result<(Tok<'a>, Pos), DocsisError> {
        self.skip_space_and_comments()?;
        let pos = self.pos();
        let rest = &self.src[self.at..];
        let Some(c) = rest.chars().next() else {
            return Ok((Tok::End, pos));
        };
        match c {
            '{' => {
                self.bump(1);
                Ok((Tok::Open, pos))
            }
            '}' => {
                self.bump(1);
                Ok((Tok::Close, pos))
            }
            ';' => {
                self.bump(1);
                Ok((Tok::Semi, pos))
            }
            '"' => self.quoted(pos),
            _ => {
                // A word ends at white space, punctuation, a quote or a comment.
                let b = rest.as_bytes();
                let mut len = 0;
                while len < b.len() {
                    match b[len] {
                        b' ' | b'\t' | b'\r' | b'\n' | b'{' | b'}' | b';' | b'"' => break,
                        b'/' if matches!(b.get(len + 1), Some(b'*' | b'/')) => break,
                        c if c.is_ascii_whitespace() => break,
                        _ => len += 1,
                    }
                }
                if len == 0 {
                    return Err(syntax(pos, format!("unexpected character `{c}`")));
                }
                self.bump(len);
                Ok((
                    Tok::Word(Word {
                        text: Cow::Borrowed(&rest[..len]),
                        quoted: false,
                        pos,
                    }),
                    pos,
                ))
            }
        }
    }

    fn quoted(&mut self, pos: Pos) -> Result<(Tok<'a>, Pos), DocsisError> {
        let body = &self.src[self.at + 1..];
        let bytes = body.as_bytes();
        let mut i = 0;
        let mut owned: Option<String> = None;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    let text = match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&body[..i]),
                    };
                    self.bump(i + 2);
                    return Ok((
                        Tok::Word(Word {
                            text,
                            quoted: true,
                            pos,
                        }),
                        pos,
                    ));
                }
                b'\n' => return Err(syntax(pos, "string not closed on its line")),
                b'\\' => {
                    let s = owned.get_or_insert_with(|| body[..i].to_owned());
                    match bytes.get(i + 1) {
                        Some(b'"') => s.push('"'),
                        Some(b'\\') => s.push('\\'),
                        Some(b'x') => {
                            let hex = body.get(i + 2..i + 4).unwrap_or("");
                            let v = u8::from_str_radix(hex, 16).map_err(|_| {
                                syntax(pos, "`\\x` in a string needs two hex digits")
                            })?;
                            if !v.is_ascii() {
                                return Err(syntax(
                                    pos,
                                    "`\\x` escapes above 7f are not text; use a 0x hex value",
                                ));
                            }
                            s.push(char::from(v));
                            i += 2;
                        }
                        _ => {
                            return Err(syntax(
                                pos,
                                "unknown escape in string (use \\\" \\\\ \\xNN)",
                            ));
                        }
                    }
                    i += 2;
                }
                _ => {
                    let ch_len = body[i..].chars().next().map_or(1, char::len_utf8);
                    if let Some(s) = owned.as_mut() {
                        s.push_str(&body[i..i + ch_len]);
                    }
                    i += ch_len;
                }
            }
        }
        Err(syntax(pos, "string is never closed"))
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<(Tok<'a>, Pos)>,
    depth: usize,
}

/// Deepest nesting accepted (the real formats nest at most 7 levels).
const MAX_DEPTH: usize = 32;

impl<'a> Parser<'a> {
    fn next(&mut self) -> Result<(Tok<'a>, Pos), DocsisError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex.next(),
        }
    }

    fn peek(&mut self) -> Result<&(Tok<'a>, Pos), DocsisError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex.next()?);
        }
        Ok(self.peeked.get_or_insert((Tok::End, Pos::default())))
    }

    /// Settings up to the closing `}` (consumed).
    fn block(&mut self, open: Pos) -> Result<Vec<Setting<'a>>, DocsisError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(open, "blocks nested too deeply"));
        }
        let mut out = Vec::new();
        loop {
            let (tok, pos) = self.next()?;
            let name = match tok {
                Tok::Close => break,
                Tok::Semi => continue,
                Tok::End => return Err(syntax(open, "block `{` is never closed")),
                Tok::Open => return Err(syntax(pos, "`{` without a setting name")),
                Tok::Word(w) if w.quoted => {
                    return Err(syntax(pos, "a setting name cannot be a quoted string"));
                }
                Tok::Word(w) => match w.text {
                    Cow::Borrowed(s) => s,
                    Cow::Owned(_) => return Err(syntax(pos, "bad setting name")),
                },
            };
            if matches!(self.peek()?.0, Tok::Open) {
                let (_, open) = self.next()?;
                let inner = self.block(open)?;
                out.push(Setting {
                    name,
                    pos,
                    value: Value::Block(inner),
                });
                continue;
            }
            let mut words = Vec::new();
            loop {
                let (tok, wpos) = self.next()?;
                match tok {
                    Tok::Semi => break,
                    Tok::Word(w) => words.push(w),
                    Tok::End | Tok::Close | Tok::Open => {
                        return Err(syntax(
                            wpos,
                            format!(
                                "missing `;` after the value of `{name}` (line {})",
                                pos.line
                            ),
                        ));
                    }
                }
            }
            out.push(Setting {
                name,
                pos,
                value: Value::Words(words),
            });
        }
        self.depth -= 1;
        Ok(out)
    }
}

/// Parses a whole file: `Main { ... }`.
pub fn parse(src: &str) -> Result<Vec<Setting<'_>>, DocsisError> {
    let mut p = Parser {
        lex: Lexer {
            src,
            at: 0,
            line: 1,
            line_start: 0,
        },
        peeked: None,
        depth: 0,
    };
    let (tok, pos) = p.next()?;
    match tok {
        Tok::Word(w) if !w.quoted && w.text.eq_ignore_ascii_case("Main") => {}
        _ => return Err(syntax(pos, "a config file starts with `Main {`")),
    }
    let (tok, open) = p.next()?;
    if tok != Tok::Open {
        return Err(syntax(open, "expected `{` after `Main`"));
    }
    let settings = p.block(open)?;
    let (tok, pos) = p.next()?;
    if tok != Tok::End {
        return Err(syntax(pos, "text after the closing `}` of `Main`"));
    }
    Ok(settings)
}

/// Splits a value written as one word on the parser's own rules (used to
/// check that decoded text encodes back to the same bytes).
pub fn words(src: &str) -> Result<Vec<Word<'_>>, DocsisError> {
    let mut lex = Lexer {
        src,
        at: 0,
        line: 1,
        line_start: 0,
    };
    let mut out = Vec::new();
    loop {
        match lex.next()? {
            (Tok::Word(w), _) => out.push(w),
            (Tok::End, _) => return Ok(out),
            (_, pos) => return Err(syntax(pos, "unexpected punctuation in a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_blocks_comments_and_strings_parse_with_positions() {
        let src = "Main {\n  NetworkAccess 1; // on\n  # hash comment\n  UsServiceFlow { UsServiceFlowRef 1; }\n  SnmpMibObject sysDescr.0 String \"a \\\"b\\\"\";/* x */\n}\n";
        let s = parse(src).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].name, "NetworkAccess");
        assert_eq!(s[0].pos, Pos { line: 2, col: 3 });
        let Value::Block(inner) = &s[1].value else {
            panic!("block expected")
        };
        assert_eq!(inner[0].name, "UsServiceFlowRef");
        let Value::Words(w) = &s[2].value else {
            panic!("words expected")
        };
        assert_eq!(w[2].text, "a \"b\"");
        assert!(w[2].quoted);
        assert_eq!(s[2].pos.line, 5);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        for (src, line) in [
            ("Main {\n NetworkAccess 1\n}", 3),
            ("Main {\n /* open", 2),
            ("Main {\n X \"abc\n}", 2),
            ("NotMain { }", 1),
            ("Main {\n}\nextra", 3),
            ("Main {\n A {\n", 2),
        ] {
            match parse(src) {
                Err(DocsisError::Syntax { line: l, .. }) => assert_eq!(l, line, "{src}"),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("Main {{{}{}}}", "A {".repeat(100), "}".repeat(100));
        assert!(parse(&src).is_err());
    }
}
