//! Minimal edits of a zone file's text: the entries of removed records are
//! cut out, new records are written beside their owner's last entry (or at
//! the end), and the SOA serial is replaced where it stands. Everything
//! else (comments, blank lines, directives, layout) stays byte for byte.

use super::lexer::Lexer;

/// One record entry of the file: where it starts and ends.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// 1-based first line.
    start: usize,
    /// 1-based last line (trailing comment and blank lines not included).
    end: usize,
    /// Whether the entry names its owner (does not start with a blank).
    has_owner: bool,
    /// Whether the entry is a `$` directive.
    directive: bool,
}

/// What to change in a file.
#[derive(Debug, Default)]
pub(crate) struct Splice {
    /// Start lines of the entries to delete.
    pub(crate) remove: Vec<usize>,
    /// Lines to add, each after the entry starting at the given line (`None`: at the end).
    pub(crate) add: Vec<(Option<usize>, String)>,
    /// The SOA entry's start line and its new serial.
    pub(crate) serial: Option<(usize, u32)>,
}

/// Applies `splice` to the file text `src`; an error says why a minimal
/// edit is not possible.
pub(crate) fn apply(src: &[u8], splice: &Splice) -> Result<Vec<u8>, String> {
    // Line starts (byte offsets), 1-based lines at index line - 1.
    let mut line_starts = vec![0usize];
    line_starts.extend(
        src.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    let line_text = |line: usize| -> &[u8] {
        let from = line_starts.get(line - 1).copied().unwrap_or(src.len());
        let to = line_starts.get(line).copied().unwrap_or(src.len());
        src.get(from..to).unwrap_or_default()
    };
    let mut spans: Vec<Span> = Vec::new();
    let mut serial_at: Option<(usize, usize)> = None;
    for entry in Lexer::new(src) {
        let entry = entry.map_err(|e| format!("line {}: {}", e.line, e.reason))?;
        let directive = !entry.blank_owner
            && entry
                .tokens
                .first()
                .is_some_and(|t| !t.quoted && t.raw.first() == Some(&b'$'));
        if let Some((soa_line, _)) = splice.serial
            && soa_line == entry.line
        {
            // The serial: the first field after the type SOA and two names.
            let at = entry
                .tokens
                .iter()
                .position(|t| t.raw.eq_ignore_ascii_case(b"SOA"))
                .and_then(|i| entry.tokens.get(i + 3))
                .ok_or("the SOA entry has no serial field")?;
            let offset = at.raw.as_ptr().addr() - src.as_ptr().addr();
            serial_at = Some((offset, offset + at.raw.len()));
        }
        spans.push(Span {
            start: entry.line,
            end: entry.line,
            has_owner: !entry.blank_owner,
            directive,
        });
    }
    let last_line = line_starts.len();
    for i in 0..spans.len() {
        let next = spans.get(i + 1).map_or(last_line + 1, |s| s.start);
        if let Some(span) = spans.get_mut(i) {
            let mut end = next - 1;
            while end > span.start {
                let text = line_text(end);
                let trimmed: Vec<u8> = text
                    .iter()
                    .copied()
                    .skip_while(u8::is_ascii_whitespace)
                    .collect();
                if trimmed.is_empty() || trimmed.first() == Some(&b';') {
                    end -= 1;
                } else {
                    break;
                }
            }
            span.end = end;
        }
    }
    let span_at = |line: usize| spans.iter().position(|s| s.start == line);

    // Per line: dropped, text prepended (an owner carried over), text appended.
    let mut drop = vec![false; last_line + 2];
    let mut prepend: Vec<Option<Vec<u8>>> = vec![None; last_line + 2];
    for &line in &splice.remove {
        let i = span_at(line).ok_or_else(|| format!("no record entry starts at line {line}"))?;
        let span = spans.get(i).copied().ok_or("entry lost")?;
        if span.directive {
            return Err(format!(
                "the record comes from the directive at line {line} ($GENERATE): edit the directive in the file"
            ));
        }
        for l in span.start..=span.end {
            if let Some(d) = drop.get_mut(l) {
                *d = true;
            }
        }
        // A following entry without an owner took this one's: give it the owner.
        if span.has_owner
            && let Some(next) = spans.get(i + 1)
            && !next.has_owner
            && !splice.remove.contains(&next.start)
        {
            let text = line_text(span.start);
            let owner: Vec<u8> = text
                .iter()
                .copied()
                .take_while(|b| !b.is_ascii_whitespace())
                .collect();
            if let Some(p) = prepend.get_mut(next.start) {
                *p = Some(owner);
            }
        }
    }
    let mut after: Vec<Vec<&str>> = vec![Vec::new(); last_line + 2];
    let mut at_end: Vec<&str> = Vec::new();
    for (place, text) in &splice.add {
        match place.and_then(span_at).and_then(|i| spans.get(i)) {
            Some(span) => {
                if let Some(list) = after.get_mut(span.end) {
                    list.push(text);
                }
            }
            None => at_end.push(text),
        }
    }

    let mut out = Vec::with_capacity(src.len() + 256);
    for line in 1..=last_line {
        let from = line_starts.get(line - 1).copied().unwrap_or(src.len());
        let to = line_starts.get(line).copied().unwrap_or(src.len());
        if !drop.get(line).copied().unwrap_or(false) {
            if let Some(Some(owner)) = prepend.get(line) {
                out.extend_from_slice(owner);
            }
            match serial_at {
                Some((s, e)) if from <= s && e <= to => {
                    let (_, new) = splice.serial.unwrap_or_default();
                    out.extend_from_slice(src.get(from..s).unwrap_or_default());
                    out.extend_from_slice(new.to_string().as_bytes());
                    out.extend_from_slice(src.get(e..to).unwrap_or_default());
                }
                _ => out.extend_from_slice(src.get(from..to).unwrap_or_default()),
            }
        }
        for text in after.get(line).map(Vec::as_slice).unwrap_or_default() {
            if !out.is_empty() && out.last() != Some(&b'\n') {
                out.push(b'\n');
            }
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        }
    }
    for text in at_end {
        if !out.is_empty() && out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    if splice.serial.is_some() && serial_at.is_none() {
        return Err("the SOA record is not in this file".to_owned());
    }
    Ok(out)
}
