//! Finds the line of a config key path (`dhcp.subnet[1].reservation[0].mac`)
//! in the TOML text, so that a finding reads `file:line: key: problem`.

use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an array index.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `a.b[2].c` as steps; `None` for a path this does not understand.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while !rest.is_empty() {
            let (n, after) = rest.split_once(']')?;
            out.push(Step::Index(n.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Some(out)
}

/// 1-based line of the byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of the deepest part of `path` that the text holds (a missing
/// key is reported at the table that should hold it); `None` when not even
/// its first part is there.
pub(crate) fn key_line(text: &str, path: &str) -> Option<usize> {
    let doc = DeTable::parse(text).ok()?;
    let steps = steps(path)?;
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut value: Option<&DeValue<'_>> = None;
    let mut found: Option<usize> = None;
    for step in steps {
        match step {
            Step::Key(k) => {
                let t = match value {
                    None => table,
                    Some(DeValue::Table(t)) => t,
                    Some(_) => break,
                };
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k) else {
                    break;
                };
                found = Some(key.span().start);
                table = t;
                value = Some(v.get_ref());
            }
            Step::Index(i) => {
                let Some(DeValue::Array(a)) = value else {
                    break;
                };
                let Some(item) = a.get(i) else {
                    break;
                };
                found = Some(item.span().start);
                value = Some(item.get_ref());
            }
        }
    }
    found.map(|at| line_of(text, at))
}

/// The key path at the start of a message `dhcp.subnet[0].pools[1]: ...`.
pub(crate) fn leading_key(message: &str) -> Option<&str> {
    let (key, _) = message.split_once(": ")?;
    (!key.is_empty()
        && !key.contains(' ')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._[]-".contains(c)))
    .then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[general]\nstate_dir = \"s\"\n\n[dhcp]\ninterfaces = [\"eth0\"]\n\n[[dhcp.subnet]]\nname = \"a\"\nsubnet = \"10.0.0.0/24\"\n\n[[dhcp.subnet]]\nname = \"b\"\npools = [\"10.1.0.10-10.1.0.20\", \"10.1.0.30-10.1.0.40\"]\n\n[[dhcp.subnet.reservation]]\nmac = \"aa:bb\"\naddress = \"10.1.0.5\"\n";

    #[test]
    fn key_paths_find_their_lines() {
        assert_eq!(key_line(TEXT, "general.state_dir"), Some(2));
        assert_eq!(key_line(TEXT, "dhcp.interfaces"), Some(5));
        assert_eq!(key_line(TEXT, "dhcp.subnet[0].subnet"), Some(9));
        assert_eq!(key_line(TEXT, "dhcp.subnet[1].name"), Some(12));
        assert_eq!(key_line(TEXT, "dhcp.subnet[1].pools[1]"), Some(13));
        assert_eq!(
            key_line(TEXT, "dhcp.subnet[1].reservation[0].mac"),
            Some(16)
        );
        // A key that is absent: the table that should hold it.
        assert_eq!(key_line(TEXT, "dhcp.subnet[0].server_id"), Some(7));
        assert_eq!(key_line(TEXT, "tftp.root"), None);
    }

    #[test]
    fn leading_key_takes_only_a_key_path() {
        assert_eq!(
            leading_key("dhcp.subnet[0].pools[1]: bad"),
            Some("dhcp.subnet[0].pools[1]")
        );
        assert_eq!(leading_key("cannot open: x"), None);
    }
}
