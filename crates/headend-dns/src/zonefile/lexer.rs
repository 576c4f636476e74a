//! Splits zone-file text into entries (one record or directive each).
//!
//! RFC 1035 §5.1: an entry is one line, or several when parentheses group
//! them; `;` starts a comment outside quotes; a line that begins with a blank
//! has no owner (the previous one applies). Tokens keep their escapes so that
//! names can tell `\.` from `.`; quoted strings lose only their quotes.

/// One whitespace-separated field of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// The field's bytes, escapes kept, quotes removed (a slice of the text:
    /// lexing a large zone allocates nothing per field).
    pub(crate) raw: &'a [u8],
    /// Whether it was written in double quotes.
    pub(crate) quoted: bool,
}

/// One logical entry: a record or a `$` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    /// 1-based line where the entry starts.
    pub(crate) line: usize,
    /// The line began with a blank: the owner is omitted.
    pub(crate) blank_owner: bool,
    /// The fields, in order.
    pub(crate) tokens: Vec<Token<'a>>,
}

/// A syntax error at the lexical level, with the line of the entry it spoils.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    /// 1-based line where the spoiled entry starts.
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) reason: String,
}

/// Iterator over the entries of one file's text.
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    /// A token list handed back with [`Lexer::recycle`], reused for the next
    /// entry (a large zone would otherwise allocate one per record).
    spare: Vec<Token<'a>>,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`, starting at line 1.
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Self {
            src,
            pos: 0,
            line: 1,
            spare: Vec::new(),
        }
    }

    /// Takes back the token list of an entry that has been read, so that the
    /// next entry can use its room.
    pub(crate) fn recycle(&mut self, entry: Entry<'a>) {
        self.spare = entry.tokens;
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    /// Skips the rest of the current line (not the newline itself).
    fn skip_to_eol(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Reads one entry; `None` at the end of the text.
    fn entry(&mut self) -> Option<Result<Entry<'a>, LexError>> {
        loop {
            self.peek()?;
            let start_line = self.line;
            let blank_owner = matches!(self.peek(), Some(b' ' | b'\t'));
            let mut tokens = std::mem::take(&mut self.spare);
            tokens.clear();
            let mut paren_line: Option<usize> = None;
            let mut error: Option<String> = None;
            loop {
                let Some(b) = self.peek() else {
                    if let Some(open) = paren_line {
                        error.get_or_insert(format!("`(` opened at line {open} is never closed"));
                    }
                    break;
                };
                match b {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if paren_line.is_none() {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => self.skip_to_eol(),
                    b'(' => {
                        self.pos += 1;
                        if paren_line.is_some() {
                            error.get_or_insert("nested `(`: parentheses do not nest".to_string());
                        }
                        paren_line.get_or_insert(self.line);
                    }
                    b')' => {
                        self.pos += 1;
                        if paren_line.take().is_none() {
                            error.get_or_insert("`)` without a matching `(`".to_string());
                        }
                    }
                    b'"' => match self.quoted() {
                        Ok(raw) => tokens.push(Token { raw, quoted: true }),
                        Err(reason) => {
                            error.get_or_insert(reason);
                        }
                    },
                    _ => match self.word() {
                        Ok(raw) => tokens.push(Token { raw, quoted: false }),
                        Err(reason) => {
                            error.get_or_insert(reason);
                        }
                    },
                }
            }
            if let Some(reason) = error {
                return Some(Err(LexError {
                    line: start_line,
                    reason,
                }));
            }
            if !tokens.is_empty() {
                return Some(Ok(Entry {
                    line: start_line,
                    blank_owner,
                    tokens,
                }));
            }
        }
    }

    /// Reads an unquoted field; escapes are kept, a backslash protects the next byte.
    fn word(&mut self) -> Result<&'a [u8], String> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                b'\\' => match self.src.get(self.pos + 1) {
                    Some(b'\n') | None => {
                        self.pos += 1;
                        return Err("a `\\` at the end of a line escapes nothing".to_string());
                    }
                    Some(_) => self.pos += 2,
                },
                _ => self.pos += 1,
            }
        }
        Ok(self.src.get(start..self.pos).unwrap_or_default())
    }

    /// Reads a quoted string (the opening quote is at `pos`); it must end on the same line.
    fn quoted(&mut self) -> Result<&'a [u8], String> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    return Err(
                        "a quoted string is not closed on its line (missing `\"`)".to_string()
                    );
                }
                Some(b'"') => {
                    let raw = self.src.get(start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return Ok(raw);
                }
                Some(b'\\') => match self.src.get(self.pos + 1) {
                    Some(b'\n') | None => {
                        self.pos += 1;
                        return Err(
                            "a quoted string is not closed on its line (missing `\"`)".to_string()
                        );
                    }
                    Some(_) => self.pos += 2,
                },
                Some(_) => self.pos += 1,
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Entry<'a>, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<Result<Entry<'_>, LexError>> {
        Lexer::new(text.as_bytes()).collect()
    }

    fn words(entry: &Entry<'_>) -> Vec<String> {
        entry
            .tokens
            .iter()
            .map(|t| String::from_utf8_lossy(t.raw).into_owned())
            .collect()
    }

    #[test]
    fn one_line_is_one_entry() {
        let e = entries("www IN A 192.0.2.1\nmail A 192.0.2.2\n");
        assert_eq!(e.len(), 2);
        let first = e[0].as_ref().unwrap();
        assert_eq!(first.line, 1);
        assert_eq!(words(first), ["www", "IN", "A", "192.0.2.1"]);
        assert_eq!(e[1].as_ref().unwrap().line, 2);
    }

    #[test]
    fn leading_blank_marks_omitted_owner() {
        let e = entries("www A 192.0.2.1\n  A 192.0.2.2\n\tA 192.0.2.3\n");
        assert!(!e[0].as_ref().unwrap().blank_owner);
        assert!(e[1].as_ref().unwrap().blank_owner);
        assert!(e[2].as_ref().unwrap().blank_owner);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let e = entries("; header\n\n   ; indented comment\nwww A 192.0.2.1 ; trailing\n");
        assert_eq!(e.len(), 1);
        let only = e[0].as_ref().unwrap();
        assert_eq!(only.line, 4);
        assert_eq!(words(only), ["www", "A", "192.0.2.1"]);
    }

    #[test]
    fn parentheses_join_lines_into_one_entry() {
        let e = entries("@ SOA ns1 host (\n 1 ; serial\n 2 3 4\n 5 )\nwww A 192.0.2.1\n");
        assert_eq!(e.len(), 2);
        let soa = e[0].as_ref().unwrap();
        assert_eq!(soa.line, 1);
        assert_eq!(
            words(soa),
            ["@", "SOA", "ns1", "host", "1", "2", "3", "4", "5"]
        );
        assert_eq!(e[1].as_ref().unwrap().line, 5);
    }

    #[test]
    fn semicolon_inside_quotes_is_text() {
        let e = entries("x TXT \"v=DKIM1; k=rsa\" ; comment\n");
        let t = &e[0].as_ref().unwrap().tokens[2];
        assert!(t.quoted);
        assert_eq!(t.raw, b"v=DKIM1; k=rsa");
    }

    #[test]
    fn escaped_quote_stays_in_the_string() {
        let e = entries("x TXT \"say \\\"hi\\\"\"\n");
        assert_eq!(e[0].as_ref().unwrap().tokens[2].raw, b"say \\\"hi\\\"");
    }

    #[test]
    fn parentheses_inside_quotes_are_text() {
        let e = entries("x TXT ( \"a (b) c\" )\n");
        assert_eq!(e[0].as_ref().unwrap().tokens[2].raw, b"a (b) c");
    }

    #[test]
    fn unterminated_quote_is_an_error_for_that_entry_only() {
        let e = entries("x TXT \"open\ny A 192.0.2.1\n");
        assert_eq!(e.len(), 2);
        assert!(e[0].as_ref().unwrap_err().reason.contains("not closed"));
        assert_eq!(e[1].as_ref().unwrap().line, 2);
    }

    #[test]
    fn unclosed_parenthesis_names_its_line() {
        let e = entries("a A 192.0.2.1\nx SOA ( 1 2\n 3\n");
        let err = e[1].as_ref().unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("line 2"));
    }

    #[test]
    fn stray_close_parenthesis_is_an_error() {
        let e = entries("x A 192.0.2.1 )\n");
        assert!(
            e[0].as_ref()
                .unwrap_err()
                .reason
                .contains("without a matching")
        );
    }

    #[test]
    fn escaped_space_does_not_split_a_word() {
        let e = entries("a\\ b A 192.0.2.1\n");
        assert_eq!(e[0].as_ref().unwrap().tokens[0].raw, b"a\\ b");
    }

    #[test]
    fn crlf_line_ends_are_accepted() {
        let e = entries("www A 192.0.2.1\r\nmail A 192.0.2.2\r\n");
        assert_eq!(words(e[1].as_ref().unwrap()), ["mail", "A", "192.0.2.2"]);
    }
}
