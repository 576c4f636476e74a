//! Organizational domains (RFC 7489 §3.2) from the Public Suffix List, for
//! DMARC's "is this report destination in the same organization" test.
//!
//! [`Psl::parse`] and [`Psl::organizational_domain`] are pure; [`system`]
//! reads the list Debian's `publicsuffix` package installs, once per process.
//! Without it the lint falls back to "inside the same zone".

use std::collections::HashSet;
use std::sync::OnceLock;

/// Where Debian's `publicsuffix` package puts the list.
pub(crate) const SYSTEM_LIST: &str = "/usr/share/publicsuffix/public_suffix_list.dat";

/// The rules of a Public Suffix List (<https://publicsuffix.org/list/>).
#[derive(Debug, Default)]
pub(crate) struct Psl {
    /// Plain rules, e.g. `co.uk`.
    rules: HashSet<String>,
    /// Wildcard rules without their `*.`, e.g. `ck` for `*.ck`.
    wildcards: HashSet<String>,
    /// Exception rules without their `!`, e.g. `www.ck`.
    exceptions: HashSet<String>,
}

impl Psl {
    /// Reads the list's text: one rule per line, `//` comments, blank lines.
    pub(crate) fn parse(text: &str) -> Self {
        let mut psl = Self::default();
        for line in text.lines() {
            let Some(rule) = line.split_whitespace().next() else {
                continue;
            };
            if rule.starts_with("//") {
                continue;
            }
            let rule = rule.to_ascii_lowercase();
            if let Some(e) = rule.strip_prefix('!') {
                psl.exceptions.insert(e.to_owned());
            } else if let Some(w) = rule.strip_prefix("*.") {
                psl.wildcards.insert(w.to_owned());
            } else {
                psl.rules.insert(rule);
            }
        }
        psl
    }

    /// How many labels the public suffix of `labels` (most significant
    /// last, lower case) has, by the list's algorithm: the longest matching
    /// rule, an exception beating a wildcard, `*` when nothing matches.
    fn suffix_labels(&self, labels: &[&str]) -> usize {
        let n = labels.len();
        let mut best = 1; // the implicit `*` rule
        for i in (0..n).rev() {
            let candidate = labels[i..].join(".");
            let len = n - i;
            if self.exceptions.contains(&candidate) {
                return len - 1;
            }
            if self.rules.contains(&candidate) {
                best = best.max(len);
            }
            if len < n && self.wildcards.contains(&candidate) {
                best = best.max(len + 1);
            }
        }
        best
    }

    /// The organizational domain of `name` (RFC 7489 §3.2: the public
    /// suffix plus one label), lower case without the trailing dot; `None`
    /// for a name that is itself a public suffix.
    pub(crate) fn organizational_domain(&self, name: &str) -> Option<String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        let suffix = self.suffix_labels(&labels);
        let keep = suffix + 1;
        (labels.len() >= keep).then(|| labels[labels.len() - keep..].join("."))
    }
}

/// The system's list, read once; `None` when it is not installed.
pub(crate) fn system() -> Option<&'static Psl> {
    static LIST: OnceLock<Option<Psl>> = OnceLock::new();
    LIST.get_or_init(|| {
        std::fs::read_to_string(SYSTEM_LIST)
            .ok()
            .map(|text| Psl::parse(&text))
            .filter(|p| !p.rules.is_empty())
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\njp\n*.kawasaki.jp\n!city.kawasaki.jp\n\
                        // ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n";

    #[test]
    fn organizational_domains_follow_the_list_algorithm() {
        let psl = Psl::parse(LIST);
        let org = |n: &str| psl.organizational_domain(n);
        assert_eq!(org("mail.example.com."), Some("example.com".into()));
        assert_eq!(org("Example.COM"), Some("example.com".into()));
        assert_eq!(org("a.b.example.co.uk"), Some("example.co.uk".into()));
        assert_eq!(org("co.uk"), None, "a public suffix has none");
        assert_eq!(org("x.y.foo.ck"), Some("y.foo.ck".into()), "wildcard *.ck");
        assert_eq!(org("a.www.ck"), Some("www.ck".into()), "exception !www.ck");
        assert_eq!(org("a.city.kawasaki.jp"), Some("city.kawasaki.jp".into()));
        assert_eq!(
            org("a.b.other.kawasaki.jp"),
            Some("b.other.kawasaki.jp".into())
        );
        assert_eq!(
            org("me.blogspot.com"),
            Some("me.blogspot.com".into()),
            "private rules count"
        );
        assert_eq!(
            org("host.example.unlisted"),
            Some("example.unlisted".into()),
            "implicit *"
        );
    }

    #[test]
    fn the_system_list_knows_common_suffixes() {
        let psl = system().unwrap_or_else(|| {
            panic!("{SYSTEM_LIST} is not installed: apt-get install publicsuffix")
        });
        assert_eq!(
            psl.organizational_domain("rua.reports.example.co.uk"),
            Some("example.co.uk".into())
        );
        assert_eq!(
            psl.organizational_domain("a.b.example.com"),
            Some("example.com".into())
        );
    }
}
