//! headend's own RFC 1035 §5 master-file parser.
//!
//! [`parse_zone_file`] reads a zone file (and the files it `$INCLUDE`s) into
//! hickory [`Record`]s, each tagged with the file and line it came from so that
//! the zone checks ([`crate::check`]) and error messages can point at it. Every
//! error of a file is reported, not only the first: after a bad entry the parser
//! carries on with the next one.
//!
//! Supported: `$ORIGIN`, `$TTL` (BIND unit suffixes such as `1h30m`),
//! `$INCLUDE file [origin]`, BIND's `$GENERATE` ([`generate`]), `@`, relative and absolute names with `\.` and
//! `\DDD` escapes, omitted owner, TTL and class (either order), parentheses
//! spanning lines, `;` comments, quoted strings with escapes, several strings
//! per TXT, every type of the IANA registry that has a presentation format in
//! that format ([`crate::rrtype::fields`]), and any servable type in the
//! RFC 3597 `\#` form. Only class IN is accepted. It does not check zone semantics (that is
//! [`crate::check`]) and never panics on any input.

#[cfg(test)]
mod conformance_tests;
mod fields;
mod generate;
mod lexer;
pub(crate) mod loc;
mod rdata;
pub(crate) mod splice;
pub(crate) mod svcb;
#[cfg(test)]
mod tests;
mod text;
mod typefield;

pub(crate) use fields::base32hex as base32hex_decode;
pub(crate) use rdata::emit_uncompressed;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, Record};

use crate::DnsError;
use lexer::{Entry, Lexer};
use typefield::TypeField;

/// How deep `$INCLUDE`s may nest by default (the main file is depth 0).
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// Largest zone file (main or included) read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// One resource record as read from a zone file, with the place it came from.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// The record, owner name absolute.
    pub record: Record,
    /// The file the record was read from (the zone file or an `$INCLUDE`d one),
    /// shared by all the records of that file.
    pub file: Arc<Path>,
    /// 1-based line where the record starts.
    pub line: usize,
}

/// A parsed zone file: the origin it was parsed for and its records in file order.
#[derive(Debug, Clone)]
pub struct ParsedZone {
    /// The zone's apex.
    pub origin: Name,
    /// The zone's main file.
    pub file: PathBuf,
    /// Every record, in file order (duplicates kept, so checks can report them).
    pub records: Vec<SourceRecord>,
}

/// Knobs for [`parse_zone_bytes`]; the defaults are what [`parse_zone_file`] uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Whether `$INCLUDE` may read other files (off for untrusted text, e.g. fuzzing).
    pub allow_include: bool,
    /// How deep `$INCLUDE`s may nest.
    pub max_include_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            allow_include: true,
            max_include_depth: MAX_INCLUDE_DEPTH,
        }
    }
}

impl ParseOptions {
    /// Options that refuse `$INCLUDE` (the parser then touches no file).
    pub fn without_include() -> Self {
        Self {
            allow_include: false,
            ..Self::default()
        }
    }
}

/// A record type as written in zone files: its mnemonic, or `TYPEnnn` (RFC 3597 §5)
/// for a type without one.
pub fn type_name(rtype: hickory_proto::rr::RecordType) -> String {
    rdata::type_label(rtype).into_owned()
}

/// A type field as a zone file may hold it (a mnemonic of the IANA registry
/// in any case, or `TYPEnnn`); `None` for anything else.
pub fn record_type(raw: &[u8]) -> Option<hickory_proto::rr::RecordType> {
    match typefield::type_field(raw) {
        TypeField::Type(t) | TypeField::Unservable(t) => Some(t),
        TypeField::NotAType => None,
    }
}

/// Reads and parses the zone file at `path` for the zone `origin`.
///
/// Returns every syntax error found (not only the first), each as
/// [`DnsError::Parse`] with file and line.
pub fn parse_zone_file(path: &Path, origin: &Name) -> Result<ParsedZone, Vec<DnsError>> {
    let bytes = read_limited(path).map_err(|source| {
        vec![DnsError::Io {
            file: path.to_path_buf(),
            source,
        }]
    })?;
    parse_zone_bytes(&bytes, path, origin, &ParseOptions::default())
}

/// Parses zone-file text as if read from `file` (used for `$INCLUDE` paths and messages).
pub fn parse_zone_str(text: &str, file: &Path, origin: &Name) -> Result<ParsedZone, Vec<DnsError>> {
    parse_zone_bytes(text.as_bytes(), file, origin, &ParseOptions::default())
}

/// Parses zone-file bytes (which need not be UTF-8) as if read from `file`.
pub fn parse_zone_bytes(
    bytes: &[u8],
    file: &Path,
    origin: &Name,
    options: &ParseOptions,
) -> Result<ParsedZone, Vec<DnsError>> {
    let mut origin = origin.clone();
    origin.set_fqdn(true);
    let mut parser = Parser {
        options,
        records: Vec::new(),
        errors: Vec::new(),
        default_ttl: None,
        last_ttl: None,
        last_owner: None,
        seen_record: false,
        include_stack: vec![std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf())],
    };
    parser.parse_text(bytes, file, origin.clone());
    if parser.errors.is_empty() {
        Ok(ParsedZone {
            origin,
            file: file.to_path_buf(),
            records: parser.records,
        })
    } else {
        Err(parser.errors)
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`].
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes is larger than the {MAX_FILE_BYTES}-byte limit",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parser state shared by the main file and its includes.
struct Parser<'o> {
    options: &'o ParseOptions,
    records: Vec<SourceRecord>,
    errors: Vec<DnsError>,
    /// `$TTL`, RFC 2308 §4.
    default_ttl: Option<u32>,
    /// The last TTL written on a record (RFC 1035 §5.1 default when there is no `$TTL`).
    last_ttl: Option<u32>,
    /// The last owner written (RFC 1035 §5.1: a blank owner repeats it).
    last_owner: Option<Name>,
    /// Whether any record entry was met yet (for the SOA MINIMUM TTL fallback).
    seen_record: bool,
    /// Files being parsed, outermost first (for loop detection and depth).
    include_stack: Vec<PathBuf>,
}

impl Parser<'_> {
    fn error(&mut self, file: &Path, line: usize, reason: impl Into<String>) {
        self.errors.push(DnsError::Parse {
            file: file.to_path_buf(),
            line,
            reason: reason.into(),
        });
    }

    /// Parses one file's text with `origin` as its initial origin.
    ///
    /// RFC 1035 §5.1: the origin set by `$ORIGIN` inside an included file does
    /// not leak back to the includer, which `origin` being owned here ensures.
    fn parse_text(&mut self, bytes: &[u8], file: &Path, mut origin: Name) {
        let shared: Arc<Path> = Arc::from(file);
        let mut lexer = Lexer::new(bytes);
        while let Some(item) = lexer.next() {
            match item {
                Err(e) => self.error(file, e.line, e.reason),
                Ok(entry) => {
                    let directive = !entry.blank_owner
                        && entry
                            .tokens
                            .first()
                            .is_some_and(|t| !t.quoted && t.raw.first() == Some(&b'$'));
                    let result = if directive {
                        self.directive(&entry, &shared, &mut origin)
                    } else {
                        self.record(&entry, &shared, &origin)
                    };
                    if let Err(reason) = result {
                        self.error(file, entry.line, reason);
                    }
                    lexer.recycle(entry);
                }
            }
        }
    }

    fn directive(
        &mut self,
        entry: &Entry<'_>,
        file: &Arc<Path>,
        origin: &mut Name,
    ) -> Result<(), String> {
        let (keyword, args) = entry.tokens.split_first().ok_or("empty entry")?;
        let keyword = keyword.raw.to_ascii_uppercase();
        match keyword.as_slice() {
            b"$ORIGIN" => {
                // RFC 1035 §5.1: "$ORIGIN <domain-name> [<comment>]"; a relative
                // name is taken relative to the current origin, as BIND does.
                let [arg] = args else {
                    return Err("$ORIGIN takes exactly one domain name".to_string());
                };
                *origin = text::name(arg.raw, origin).map_err(|e| format!("$ORIGIN: {e}"))?;
                Ok(())
            }
            b"$TTL" => {
                // RFC 2308 §4: "$TTL <TTL> [comment]" sets the default TTL of
                // records without one.
                let [arg] = args else {
                    return Err("$TTL takes exactly one TTL, like `$TTL 1h`".to_string());
                };
                self.default_ttl = Some(text::ttl(arg.raw).map_err(|e| format!("$TTL: {e}"))?);
                Ok(())
            }
            b"$INCLUDE" => self.include(args, file, origin),
            b"$GENERATE" => self.generate(args, entry.line, file, origin),
            other => Err(format!(
                "unknown directive `{}`: known ones are $ORIGIN, $TTL, $INCLUDE and $GENERATE",
                text::show(other)
            )),
        }
    }

    /// BIND's `$GENERATE range owner [ttl] [class] type rdata`: one record per
    /// value of the range, `$` in the owner and the RDATA replaced by it (see
    /// [`generate`]). As in BIND the RDATA is one field, read again as RDATA
    /// text once substituted (`"10 mx$"` makes an MX); headend also takes
    /// RDATA written as several fields, each substituted. Each record is then
    /// read like a record written out, so every type the parser knows can be
    /// generated; the first bad one stops the directive with the value that
    /// failed.
    fn generate(
        &mut self,
        args: &[lexer::Token<'_>],
        line: usize,
        file: &Arc<Path>,
        origin: &Name,
    ) -> Result<(), String> {
        const USAGE: &str = "$GENERATE takes a range, an owner, a type and RDATA, like `$GENERATE 1-254 $ PTR host-$.example.net.`";
        let (range, rest) = args.split_first().ok_or(USAGE)?;
        let (owner, rest) = rest.split_first().ok_or(USAGE)?;
        // TTL and class (either order) up to the type, which ends the head.
        let type_at = rest
            .iter()
            .position(|t| {
                t.quoted || !(text::looks_like_ttl(t.raw) || class_field(t.raw).is_some())
            })
            .ok_or(USAGE)?;
        let (head, rdata) = rest.split_at(type_at + 1);
        if rdata.is_empty() {
            return Err(USAGE.to_string());
        }
        let range = generate::Range::parse(range.raw)?;
        let owner = generate::Template::parse(owner.raw)?;
        let rdata_templates: Vec<(generate::Template, bool)> = rdata
            .iter()
            .map(|t| Ok((generate::Template::parse(t.raw)?, t.quoted)))
            .collect::<Result<_, String>>()?;
        let last_owner = self.last_owner.take();
        let mut owner_text = Vec::new();
        let mut rdata_texts: Vec<Vec<u8>> = vec![Vec::new(); rdata_templates.len()];
        let mut result = Ok(());
        for value in range.values() {
            owner_text.clear();
            let expanded = owner.expand(value, &mut owner_text).and_then(|()| {
                for (out, (t, _)) in rdata_texts.iter_mut().zip(&rdata_templates) {
                    out.clear();
                    t.expand(value, out)?;
                }
                Ok(())
            });
            if let Err(e) = expanded {
                result = Err(format!("$GENERATE at {value}: {e}"));
                break;
            }
            let mut tokens = vec![lexer::Token {
                raw: owner_text.as_slice(),
                quoted: false,
            }];
            tokens.extend(head.iter().cloned());
            match rdata_texts.as_slice() {
                // BIND: the one RDATA field is read again as RDATA text.
                [one] => match Lexer::new(one).next() {
                    Some(Ok(entry)) => tokens.extend(entry.tokens),
                    Some(Err(e)) => {
                        result = Err(format!("$GENERATE at {value}: RDATA: {}", e.reason));
                        break;
                    }
                    None => {
                        result = Err(format!("$GENERATE at {value}: the RDATA is empty"));
                        break;
                    }
                },
                several => tokens.extend(several.iter().zip(&rdata_templates).map(
                    |(raw, (_, quoted))| lexer::Token {
                        raw: raw.as_slice(),
                        quoted: *quoted,
                    },
                )),
            }
            let entry = Entry {
                line,
                blank_owner: false,
                tokens,
            };
            if let Err(e) = self.record(&entry, file, origin) {
                result = Err(format!("$GENERATE at {value}: {e}"));
                break;
            }
        }
        self.last_owner = last_owner;
        result
    }

    /// RFC 1035 §5.1: "$INCLUDE <file-name> [<domain-name>] [<comment>]".
    fn include(
        &mut self,
        args: &[lexer::Token<'_>],
        file: &Path,
        origin: &Name,
    ) -> Result<(), String> {
        if !self.options.allow_include {
            return Err("$INCLUDE is not allowed here".to_string());
        }
        let (path_tok, origin_tok) = match args {
            [p] => (p, None),
            [p, o] => (p, Some(o)),
            _ => return Err("$INCLUDE takes a file name and optionally an origin".to_string()),
        };
        let raw_path = text::char_string(path_tok.raw).map_err(|e| format!("$INCLUDE: {e}"))?;
        let raw_path = String::from_utf8(raw_path)
            .map_err(|_| "$INCLUDE: the file name is not valid UTF-8".to_string())?;
        if raw_path.is_empty() {
            return Err("$INCLUDE: empty file name".to_string());
        }
        let path = match file.parent() {
            Some(dir) if Path::new(&raw_path).is_relative() => dir.join(&raw_path),
            _ => PathBuf::from(&raw_path),
        };
        let inner_origin = match origin_tok {
            Some(tok) => {
                text::name(tok.raw, origin).map_err(|e| format!("$INCLUDE origin: {e}"))?
            }
            None => origin.clone(),
        };
        if self.include_stack.len() > self.options.max_include_depth {
            return Err(format!(
                "$INCLUDE {}: includes nest more than {} deep",
                path.display(),
                self.options.max_include_depth
            ));
        }
        let canonical = std::fs::canonicalize(&path)
            .map_err(|e| format!("$INCLUDE: cannot read {}: {e}", path.display()))?;
        if self.include_stack.contains(&canonical) {
            return Err(format!(
                "$INCLUDE {}: include loop (the file is already being read)",
                path.display()
            ));
        }
        let bytes = read_limited(&path)
            .map_err(|e| format!("$INCLUDE: cannot read {}: {e}", path.display()))?;
        self.include_stack.push(canonical);
        self.parse_text(&bytes, &path, inner_origin);
        self.include_stack.pop();
        Ok(())
    }

    /// RFC 1035 §5.1: `<domain-name> [<TTL>] [<class>] <type> <RDATA>` or
    /// `[<class>] [<TTL>]` in the other order; the owner may be blank.
    #[inline(always)]
    fn record(&mut self, entry: &Entry<'_>, file: &Arc<Path>, origin: &Name) -> Result<(), String> {
        let result = self.record_inner(entry, file, origin);
        self.seen_record = true;
        result
    }

    fn record_inner(
        &mut self,
        entry: &Entry<'_>,
        file: &Arc<Path>,
        origin: &Name,
    ) -> Result<(), String> {
        let mut fields = entry.tokens.iter();
        let owner = if entry.blank_owner {
            self.last_owner.clone().ok_or(
                "this record has no owner name and there is no previous record to take it from",
            )?
        } else {
            let tok = fields.next().ok_or("empty entry")?;
            let owner = text::name(tok.raw, origin).map_err(|e| format!("owner name: {e}"))?;
            self.last_owner = Some(owner.clone());
            owner
        };

        let mut ttl: Option<u32> = None;
        let mut class_seen = false;
        while let Some(tok) = fields.clone().next() {
            if tok.quoted {
                break;
            }
            if text::looks_like_ttl(tok.raw) {
                if ttl.is_some() {
                    return Err(format!(
                        "a second TTL `{}` in one record",
                        text::show(tok.raw)
                    ));
                }
                ttl = Some(text::ttl(tok.raw)?);
            } else if let Some(class) = class_field(tok.raw) {
                if class_seen {
                    return Err(format!(
                        "a second class `{}` in one record",
                        text::show(tok.raw)
                    ));
                }
                class?;
                class_seen = true;
            } else {
                break;
            }
            fields.next();
        }

        let Some(type_tok) = fields.next() else {
            return Err("the record has no type (like A, MX or TXT)".to_string());
        };
        let rtype = match typefield::type_field(type_tok.raw) {
            TypeField::Type(t) => t,
            TypeField::Unservable(t) => {
                return Err(format!(
                    "{} records cannot be served from a zone file",
                    rdata::type_label(t)
                ));
            }
            TypeField::NotAType => {
                return Err(format!(
                    "unknown record type `{}`",
                    text::show(type_tok.raw)
                ));
            }
        };
        let data = rdata::parse(rtype, fields.as_slice(), origin)?;

        let ttl = match ttl {
            Some(t) => {
                self.last_ttl = Some(t);
                t
            }
            None => match (self.default_ttl, self.last_ttl, &data) {
                (Some(t), _, _) | (None, Some(t), _) => t,
                // BIND: with neither $TTL nor an earlier TTL, an SOA that opens
                // the zone takes its MINIMUM field as TTL, and so do the records after it.
                (None, None, RData::SOA(soa)) if !self.seen_record => {
                    self.last_ttl = Some(soa.minimum);
                    soa.minimum
                }
                (None, None, _) => {
                    return Err(
                        "this record has no TTL and none was set before: add `$TTL 1h` at the top of the file or give the record a TTL"
                            .to_string(),
                    );
                }
            },
        };
        self.records.push(SourceRecord {
            record: Record::from_rdata(owner, ttl, data),
            file: Arc::clone(file),
            line: entry.line,
        });
        Ok(())
    }
}

/// Reads a class field: `Some(Ok)` for IN, `Some(Err)` for another class, `None` when
/// the field is not a class.
fn class_field(raw: &[u8]) -> Option<Result<(), String>> {
    // Called for every record (and again for the field after an owner):
    // no allocation unless the class is refused.
    let refuse = || {
        Some(Err(format!(
            "class `{}` is not supported: headend serves class IN only",
            text::show(raw)
        )))
    };
    if raw.eq_ignore_ascii_case(b"IN") {
        return Some(Ok(()));
    }
    const OTHERS: [&[u8]; 7] = [b"CH", b"CHAOS", b"HS", b"HESIOD", b"CS", b"NONE", b"ANY"];
    if OTHERS.iter().any(|other| raw.eq_ignore_ascii_case(other)) {
        return refuse();
    }
    // RFC 3597 §5: CLASSnnn; CLASS1 is IN.
    let digits = raw
        .get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case(b"CLASS"))
        .and(raw.get(5..))?;
    match text::decimal_u32(digits) {
        Some(1) => Some(Ok(())),
        Some(n) if n <= u32::from(u16::MAX) => refuse(),
        _ => None,
    }
}
