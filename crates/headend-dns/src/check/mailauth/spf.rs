//! SPF (RFC 7208): one `v=spf1` record per name, valid terms, and the DNS
//! lookup limits counted through `include:`/`redirect=` chains.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::{LowerName, Name};

use super::{Found, Names, Out};
use crate::zonefile::SourceRecord;

/// RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of those
/// terms to 10 during SPF evaluation".
pub(super) const MAX_LOOKUPS: usize = 10;

/// RFC 7208 §4.6.4: "SPF implementations SHOULD limit "void lookups" to two".
pub(super) const MAX_VOID: usize = 2;

/// How deep include/redirect chains are followed (a loop guard).
const MAX_DEPTH: usize = 12;

/// True for an SPF record: RFC 7208 §4.5 "v=spf1" followed by a space or the end.
pub(super) fn is_spf(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 6
        && bytes[..6].eq_ignore_ascii_case(b"v=spf1")
        && bytes.get(6).is_none_or(|&b| b == b' ')
}

/// A mechanism that costs DNS lookups, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lookup {
    Include(String),
    Redirect(String),
    /// a, mx, exists, ptr with their domain (None = the current domain).
    Other(&'static str, Option<String>),
}

/// A parsed SPF record: its problems and the terms that cost lookups.
#[derive(Debug, Default)]
struct Parsed {
    errors: Vec<String>,
    warnings: Vec<String>,
    lookups: Vec<Lookup>,
}

/// Parses the terms of one SPF record (RFC 7208 §4.6.1, §5, §6).
fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut saw_all = false;
    let mut redirect = None;
    let mut exp = false;
    for term in text.split(' ').skip(1).filter(|t| !t.is_empty()) {
        let lower = term.to_ascii_lowercase();
        // Modifiers: name "=" macro-string (§4.6.1); a mechanism never has '=' before ':' or '/'.
        if let Some((name, _)) = lower.split_once('=')
            && !name.contains([':', '/'])
        {
            let value_orig = &term[name.len() + 1..];
            match name {
                "redirect" => {
                    if redirect.is_some() {
                        p.errors.push("`redirect=` appears twice: RFC 7208 §6 makes that a permerror; keep one".to_owned());
                    }
                    check_domain_spec(value_orig, "redirect=", &mut p);
                    redirect = Some(value_orig.to_owned());
                }
                "exp" => {
                    if exp {
                        p.errors.push(
                            "`exp=` appears twice: RFC 7208 §6 makes that a permerror; keep one"
                                .to_owned(),
                        );
                    }
                    exp = true;
                    check_domain_spec(value_orig, "exp=", &mut p);
                }
                _ if name.is_empty()
                    || !name.starts_with(|c: char| c.is_ascii_alphabetic())
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
                {
                    p.errors.push(format!(
                        "`{term}` is not a valid modifier name (RFC 7208 §6: ALPHA *( ALPHA / DIGIT / \"-\" / \"_\" / \".\" ))"
                    ));
                }
                _ => p.warnings.push(format!(
                    "unknown modifier `{term}` is ignored by receivers (RFC 7208 §6): a typo?"
                )),
            }
            continue;
        }
        // Directives: [qualifier] mechanism (§4.6.2).
        let (qualifier, mech) = match lower.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q, &lower[1..]),
            _ => ('+', lower.as_str()),
        };
        let orig = &term[term.len() - mech.len()..];
        if saw_all {
            p.warnings.push(format!(
                "`{term}` comes after `all` and is never evaluated (RFC 7208 §5.1): move it before `all`"
            ));
        }
        let (name, arg) = match mech.find([':', '/']) {
            Some(i) => (&mech[..i], Some(&orig[i..])),
            None => (mech, None),
        };
        match name {
            "all" => {
                if arg.is_some() {
                    p.errors.push(format!("`{term}`: `all` takes no argument"));
                }
                if qualifier == '+' {
                    p.warnings.push(format!(
                        "`{term}` lets every host on the Internet send mail as this domain (RFC 7208 §5.1): use `-all` or `~all`"
                    ));
                }
                saw_all = true;
            }
            "include" | "exists" => {
                let Some(domain) = arg.and_then(|a| a.strip_prefix(':')) else {
                    p.errors.push(format!(
                        "`{term}`: `{name}` needs a domain, as in `{name}:_spf.example.com` (RFC 7208 §5.2, §5.7)"
                    ));
                    continue;
                };
                check_domain_spec(domain, name, &mut p);
                p.lookups.push(if name == "include" {
                    Lookup::Include(domain.to_owned())
                } else {
                    Lookup::Other("exists", Some(domain.to_owned()))
                });
            }
            "a" | "mx" | "ptr" => {
                let name: &'static str = match name {
                    "a" => "a",
                    "mx" => "mx",
                    _ => "ptr",
                };
                let mut domain = None;
                let mut rest = arg.unwrap_or_default();
                if let Some(r) = rest.strip_prefix(':') {
                    let end = if name == "ptr" {
                        r.len()
                    } else {
                        r.find('/').unwrap_or(r.len())
                    };
                    check_domain_spec(&r[..end], name, &mut p);
                    domain = Some(r[..end].to_owned());
                    rest = &r[end..];
                }
                if name == "ptr" {
                    p.warnings.push(format!(
                        "`{term}`: the ptr mechanism is deprecated and slow (RFC 7208 §5.5 \"SHOULD NOT be used\"): list ip4:/ip6: ranges instead"
                    ));
                } else if !rest.is_empty() {
                    check_dual_cidr(term, rest, &mut p);
                }
                p.lookups.push(Lookup::Other(name, domain));
            }
            "ip4" => match arg.and_then(|a| a.strip_prefix(':')) {
                Some(v) => {
                    let (addr, cidr) = v.split_once('/').map_or((v, None), |(a, c)| (a, Some(c)));
                    if addr.parse::<Ipv4Addr>().is_err() {
                        p.errors.push(format!("`{term}`: `{addr}` is not an IPv4 address"));
                    }
                    check_cidr(term, cidr, 32, &mut p);
                }
                None => p.errors.push(format!("`{term}`: ip4 needs an address, as in `ip4:192.0.2.0/24`")),
            },
            "ip6" => match arg.and_then(|a| a.strip_prefix(':')) {
                Some(v) => {
                    let (addr, cidr) = v.split_once('/').map_or((v, None), |(a, c)| (a, Some(c)));
                    if addr.parse::<Ipv6Addr>().is_err() {
                        p.errors.push(format!("`{term}`: `{addr}` is not an IPv6 address"));
                    }
                    check_cidr(term, cidr, 128, &mut p);
                }
                None => p.errors.push(format!("`{term}`: ip6 needs an address, as in `ip6:2001:db8::/32`")),
            },
            _ => p.errors.push(format!(
                "`{term}` is not an SPF mechanism (RFC 7208 §5: all, include, a, mx, ptr, ip4, ip6, exists): receivers return permerror"
            )),
        }
    }
    if let Some(target) = redirect {
        if saw_all {
            p.warnings.push(
                "`redirect=` is ignored because the record has an `all` mechanism (RFC 7208 §6.1)"
                    .to_owned(),
            );
        } else {
            p.lookups.push(Lookup::Redirect(target));
        }
    }
    p
}

fn check_cidr(term: &str, cidr: Option<&str>, max: u8, p: &mut Parsed) {
    if let Some(c) = cidr {
        // RFC 7208 §5.6: "ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT)", no leading zeros.
        let ok = !c.is_empty()
            && c.len() <= 3
            && !(c.len() > 1 && c.starts_with('0'))
            && c.parse::<u8>().is_ok_and(|n| n <= max);
        if !ok {
            p.errors
                .push(format!("`{term}`: prefix length `/{c}` must be 0 to {max}"));
        }
    }
}

/// `/24`, `//64` or `/24//64` after a or mx (RFC 7208 §5.6 dual-cidr-length).
fn check_dual_cidr(term: &str, rest: &str, p: &mut Parsed) {
    let Some(after) = rest.strip_prefix('/') else {
        p.errors.push(format!("`{term}`: unexpected `{rest}`"));
        return;
    };
    let (v4, v6) = match after.split_once("//") {
        Some((v4, v6)) => (Some(v4), Some(v6)),
        None => match after.strip_prefix('/') {
            Some(v6) => (None, Some(v6)),
            None => (Some(after), None),
        },
    };
    check_cidr(term, v4, 32, p);
    check_cidr(term, v6, 128, p);
}

/// A domain-spec (RFC 7208 §7.1): macros are allowed; otherwise it must be a
/// domain name with at least two labels.
fn check_domain_spec(spec: &str, what: &str, p: &mut Parsed) {
    if spec.contains('%') {
        return;
    }
    let trimmed = spec.trim_end_matches('.');
    if trimmed.is_empty() || !trimmed.contains('.') || Name::from_ascii(trimmed).is_err() {
        p.errors.push(format!(
            "`{what}` target `{spec}` is not a fully qualified domain name (RFC 7208 §7.1 domain-end)"
        ));
    }
}

fn to_name(spec: &str) -> Option<Name> {
    if spec.contains('%') {
        return None;
    }
    let mut n = Name::from_ascii(spec.trim_end_matches('.')).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// Lookups counted through a chain: a lower bound, and whether part of it
/// lies outside the served zones (so the real figure may be higher).
#[derive(Debug, Default)]
struct Count {
    lookups: usize,
    void: usize,
    unknown: Vec<String>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

/// Counts the lookups `parsed` (the record at `domain`) costs, following
/// include and redirect targets inside the served zones (RFC 7208 §4.6.4).
fn count(names: &Names<'_>, parsed: &Parsed, path: &mut Vec<LowerName>, c: &mut Count) {
    for lookup in &parsed.lookups {
        c.lookups += 1;
        let (target, kind) = match lookup {
            Lookup::Include(t) => (t, "include:"),
            Lookup::Redirect(t) => (t, "redirect="),
            Lookup::Other(kind, Some(t)) => {
                // a/mx/exists on a name in a served zone that does not exist is a void lookup.
                if let Some(name) = to_name(t)
                    && names.lookup(&name) == Found::Missing
                {
                    c.void += 1;
                    c.warnings.push(format!(
                        "`{kind}:{t}`: `{name}` does not exist, a void lookup (RFC 7208 §4.6.4)"
                    ));
                }
                continue;
            }
            Lookup::Other(..) => continue,
        };
        let Some(name) = to_name(target) else {
            continue; // a macro: resolved per message, counted once
        };
        let lower = LowerName::new(&name);
        if path.contains(&lower) || path.len() >= MAX_DEPTH {
            c.errors.push(format!(
                "`{kind}{target}` loops back into the chain (RFC 7208 §4.6.4): the evaluation never ends before the lookup limit"
            ));
            continue;
        }
        match names.lookup(&name) {
            Found::Outside => c.unknown.push(name.to_string()),
            Found::Missing => {
                c.void += 1;
                c.errors.push(format!(
                    "`{kind}{target}`: `{name}` does not exist in the served zones, so receivers return permerror (RFC 7208 §5.2, §6.1)"
                ));
            }
            Found::Txt(texts) => {
                let spf: Vec<&String> = texts.iter().filter(|t| is_spf(t)).collect();
                match spf.as_slice() {
                    [] => c.errors.push(format!(
                        "`{kind}{target}`: `{name}` has no v=spf1 record, so receivers return permerror (RFC 7208 §5.2, §6.1)"
                    )),
                    [one] => {
                        path.push(lower);
                        let inner = parse(one);
                        if !inner.errors.is_empty() {
                            c.errors.push(format!(
                                "`{kind}{target}`: the record at `{name}` is invalid: {}",
                                inner.errors.join("; ")
                            ));
                        }
                        count(names, &inner, path, c);
                        path.pop();
                    }
                    _ => c.errors.push(format!(
                        "`{kind}{target}`: `{name}` has {} v=spf1 records, so receivers return permerror (RFC 7208 §4.5)",
                        spf.len()
                    )),
                }
            }
        }
    }
}

/// Checks the SPF records among the TXT records at `owner`.
pub(super) fn check_owner<'a>(
    names: &Names<'_>,
    owner: &LowerName,
    recs: &[(String, &'a SourceRecord)],
    out: &mut Out<'a>,
) {
    // A record meant as SPF whose version is glued to the next term, as
    // `"v=spf1" "include:..."` reads: the strings of one TXT record are joined
    // with nothing between them (RFC 7208 §3.3), so receivers see no SPF.
    for (text, rec) in recs {
        let bytes = text.as_bytes();
        if bytes.len() > 6
            && bytes[..6].eq_ignore_ascii_case(b"v=spf1")
            && (bytes[6].is_ascii_alphabetic() || b"+-~?".contains(&bytes[6]))
        {
            let shown: String = text.chars().take(60).collect();
            out.error(
                rec,
                format!(
                    "SPF: `{shown}` is not an SPF record (RFC 7208 §4.5 needs a space after `v=spf1`); the strings of a TXT record are joined with nothing between (RFC 7208 §3.3): write the whole policy as one quoted string"
                ),
            );
        }
    }
    let spf: Vec<&(String, &SourceRecord)> = recs.iter().filter(|(t, _)| is_spf(t)).collect();
    let Some(((_, first_rec), rest)) = spf.split_first().map(|(f, r)| (*f, r)) else {
        return;
    };
    // RFC 7208 §4.5: "If the resultant record set includes more than one
    // record, check_host() produces the "permerror" result."
    for (_, rec) in rest {
        out.error(
            rec,
            format!(
                "a second v=spf1 record at `{owner}` (the first is at line {}): receivers return permerror (RFC 7208 §4.5); merge them into one",
                first_rec.line
            ),
        );
    }
    let (text, rec) = (&spf[0].0, *first_rec);
    let parsed = parse(text);
    for e in &parsed.errors {
        out.error(rec, format!("SPF: {e}"));
    }
    for w in &parsed.warnings {
        out.warn(rec, format!("SPF: {w}"));
    }
    let mut c = Count::default();
    let mut path = vec![owner.clone()];
    count(names, &parsed, &mut path, &mut c);
    for e in &c.errors {
        out.error(rec, format!("SPF: {e}"));
    }
    for w in &c.warnings {
        out.warn(rec, format!("SPF: {w}"));
    }
    if c.lookups > MAX_LOOKUPS {
        out.error(
            rec,
            format!(
                "SPF: evaluating this record takes {}{} DNS lookups (include, a, mx, ptr, exists, redirect, counted through the includes), more than the {MAX_LOOKUPS} RFC 7208 §4.6.4 allows: receivers return permerror; replace includes by ip4:/ip6: ranges",
                if c.unknown.is_empty() { "" } else { "at least " },
                c.lookups
            ),
        );
    } else if !c.unknown.is_empty() && c.lookups == MAX_LOOKUPS {
        out.warn(
            rec,
            format!(
                "SPF: this record already takes {MAX_LOOKUPS} DNS lookups, the RFC 7208 §4.6.4 limit, before counting those of {} (outside the served zones): any lookup there is a permerror",
                c.unknown.join(", ")
            ),
        );
    }
    if c.void > MAX_VOID {
        out.error(
            rec,
            format!(
                "SPF: {} void lookups (names that do not exist), more than the {MAX_VOID} RFC 7208 §4.6.4 allows: receivers return permerror",
                c.void
            ),
        );
    }
}
