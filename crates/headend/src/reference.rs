//! docs/config-reference.md, generated from the config types themselves so it
//! cannot drift from them: every section of headend.toml is a serde struct
//! with `deny_unknown_fields`, so probing a key with a value it cannot take
//! makes serde name what it expects (the keys of a table, the variants of an
//! enum, the type of a value). `headend config-reference` prints the result;
//! a test fails when the committed file differs.

use crate::config::Config;

/// One step of a key path: a table key or the first element of an array.
#[derive(Clone)]
enum Seg {
    Key(String),
    Index,
}

/// What serde said about the value at a path.
enum Probe {
    /// A table with these keys.
    Table(Vec<String>),
    /// An enum (or a string field with fixed values).
    Variants(Vec<String>),
    /// Something else, in serde's words ("a string", "u16", ...).
    Expected(String),
    /// A table keyed by any name.
    Map,
    /// Accepted anything tried.
    Any,
}

fn quoted(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("\"{key}\"")
    }
}

/// The config text that puts `value` at `path`.
fn document(path: &[Seg], value: &str) -> String {
    fn wrap(path: &[Seg], value: &str) -> String {
        match path.split_first() {
            None => value.to_owned(),
            Some((Seg::Key(k), rest)) => format!("{{ {} = {} }}", quoted(k), wrap(rest, value)),
            Some((Seg::Index, rest)) => format!("[{}]", wrap(rest, value)),
        }
    }
    match path.split_first() {
        None => format!("zzz_probe = 1\n{value}"),
        Some((Seg::Key(k), rest)) => format!("{} = {}\n", quoted(k), wrap(rest, value)),
        Some((Seg::Index, _)) => value.to_owned(),
    }
}

fn shown(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index => out.push_str("[]"),
        }
    }
    out
}

/// The backticked names in a serde message after `after`.
fn names(reason: &str, after: &str) -> Option<Vec<String>> {
    let rest = &reason[reason.find(after)? + after.len()..];
    if rest.trim_start().starts_with("there are no") {
        return Some(Vec::new());
    }
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// serde's message for `text`, without the TOML parser's excerpt of the text.
fn parse(text: &str) -> Option<String> {
    parse_at(text).map(|(_, reason)| reason)
}

/// The key path serde stopped at and its message.
fn parse_at(text: &str) -> Option<(String, String)> {
    Config::parse(text).err().map(|(path, reason)| {
        let reason = reason.lines().last().unwrap_or_default().trim().to_owned();
        (path, reason)
    })
}

fn probe(path: &[Seg]) -> Probe {
    if path.is_empty() {
        return match parse("zzz_probe = 1\n").and_then(|r| names(&r, "expected")) {
            Some(keys) => Probe::Table(keys),
            None => Probe::Any,
        };
    }
    let Some((at, reason)) = parse_at(&document(path, "{ zzz_probe = 1 }")) else {
        return Probe::Any;
    };
    if reason.contains("unknown field `zzz_probe`") {
        return Probe::Table(names(&reason, ", expected").unwrap_or_default());
    }
    if reason.contains("unknown variant `zzz_probe`") {
        return Probe::Variants(names(&reason, ", expected").unwrap_or_default());
    }
    if let Some(expected) = reason.strip_prefix("invalid type: map, expected ") {
        // A fixed set of strings answers a string with its variants.
        if let Some(r) = parse(&document(path, "\"zzz_probe\""))
            && r.contains("unknown variant `zzz_probe`")
        {
            return Probe::Variants(names(&r, ", expected").unwrap_or_default());
        }
        return Probe::Expected(expected.trim().to_owned());
    }
    if let Some(name) = reason.strip_prefix("data did not match any variant of untagged enum ") {
        return Probe::Expected(match name.trim() {
            "OneOrMany" => "one value or a list of them".to_owned(),
            other => format!("one of the forms of `{other}`"),
        });
    }
    // The map was taken and its value refused: a table of named entries.
    if at.ends_with(".zzz_probe") {
        return Probe::Map;
    }
    Probe::Expected(reason)
}

/// Renders the reference as Markdown.
pub(crate) fn render() -> String {
    let mut out = String::from(
        "# headend.toml reference\n\n\
         Generated from the config types by `headend config-reference` (a test\n\
         fails when this file differs from what the types say): every key each\n\
         section accepts, and what serde expects there. `[]` marks an array of\n\
         tables (`[[dhcp.subnet]]` in the file). What each key does:\n\
         README.md and the example configs under configs/. The DHCP option names\n\
         are the keys of the `options` tables.\n",
    );
    walk(&mut out, &[], &mut Vec::new());
    out
}

/// The Markdown of a list of variants.
fn one_of(variants: &[String]) -> String {
    let list: Vec<String> = variants.iter().map(|v| format!("`{v}`")).collect();
    format!("one of {}", list.join(", "))
}

/// What the value at `path` is, and the table below it to render, if any.
fn describe(path: &[Seg]) -> (String, Option<Vec<Seg>>) {
    // Deeper than any headend.toml nests: a type that takes anything.
    if path.len() > 12 {
        return ("any value".to_owned(), None);
    }
    match probe(path) {
        Probe::Table(_) => ("table, below".to_owned(), Some(path.to_vec())),
        Probe::Variants(v) => (one_of(&v), None),
        Probe::Expected(what) if what == "a sequence" => {
            let mut elem = path.to_vec();
            elem.push(Seg::Index);
            match describe(&elem) {
                (_, Some(table)) => ("array of tables, below".to_owned(), Some(table)),
                (each, None) => (format!("list; each: {each}"), None),
            }
        }
        Probe::Expected(what) => (what, None),
        Probe::Map => {
            let mut entry = path.to_vec();
            entry.push(Seg::Key("<name>".to_owned()));
            match describe(&entry) {
                (_, Some(table)) => ("table of named tables, below".to_owned(), Some(table)),
                (each, None) => (format!("table; each `name = value`: {each}"), None),
            }
        }
        Probe::Any => ("any value".to_owned(), None),
    }
}

fn walk(out: &mut String, path: &[Seg], seen: &mut Vec<(Vec<String>, String)>) {
    let Probe::Table(keys) = probe(path) else {
        return;
    };
    let here = shown(path);
    if path.is_empty() {
        out.push_str("\n## Sections\n\n");
    } else {
        out.push_str(&format!("\n## `{here}`\n\n"));
        // The same table under several parents (options of a class, a subnet,
        // a reservation): listed once.
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == keys) {
            out.push_str(&format!("The keys of [`{first}`](#{}).\n", anchor(first)));
            return;
        }
        seen.push((keys.clone(), here));
    }
    let mut nested = Vec::new();
    out.push_str("| key | expects |\n| --- | --- |\n");
    for key in keys {
        let mut child = path.to_vec();
        child.push(Seg::Key(key.clone()));
        let (what, table) = describe(&child);
        if let Some(table) = table {
            nested.push(table);
        }
        out.push_str(&format!("| `{key}` | {} |\n", what.replace('|', "\\|")));
    }
    for child in nested {
        walk(out, &child, seen);
    }
}

/// GitHub's anchor for a `## `heading``.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

#[cfg(test)]
mod tests {
    /// docs/config-reference.md is what the types say today.
    #[test]
    fn committed_config_reference_matches_the_config_types() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config-reference.md");
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        let generated = super::render();
        assert!(
            committed == generated,
            "docs/config-reference.md is out of date with the config types: run\n  \
             cargo run -p headend -- config-reference > docs/config-reference.md"
        );
    }

    #[test]
    fn reference_names_keys_variants_and_option_names() {
        let text = super::render();
        for want in [
            "## `dhcp.subnet[].reservation[]`",
            "| `state_dir` | path string |",
            "| `format` | one of `human`, `json` |",
            "| `domain_name_servers` | list; each: IPv4 address |",
            "| `backend` | one of `sqlite`, `postgres`, `postgresql` |",
            "The keys of [`dhcp.options`](#dhcpoptions).",
        ] {
            assert!(text.contains(want), "no {want:?} in\n{text}");
        }
    }
}
