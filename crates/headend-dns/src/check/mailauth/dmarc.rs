//! DMARC (RFC 7489) policy records at `_dmarc.NAME`.

use hickory_proto::rr::{LowerName, Name};

use super::{Found, Names, Out, tag_list};
use crate::zonefile::SourceRecord;

/// RFC 7489 §6.6.3: a record is a DMARC record when it starts with `v=DMARC1`.
fn is_dmarc(text: &str) -> bool {
    let t = text.trim_start();
    t.len() >= 8
        && t.as_bytes()[..8].eq_ignore_ascii_case(b"v=DMARC1")
        && t[8..].trim_start().chars().next().is_none_or(|c| c == ';')
}

/// Checks the TXT records at `_dmarc.DOMAIN`.
pub(super) fn check_owner<'a>(
    names: &Names<'_>,
    owner: &LowerName,
    recs: &[(String, &'a SourceRecord)],
    out: &mut Out<'a>,
) {
    let domain = owner.base_name();
    let mut dmarc = Vec::new();
    for (text, rec) in recs {
        if is_dmarc(text) {
            dmarc.push((text, *rec));
        } else if text.to_ascii_lowercase().contains("v=dmarc1") {
            out.error(
                rec,
                "DMARC: `v=DMARC1` must be the first tag (RFC 7489 §6.4): receivers ignore this record; write \"v=DMARC1; p=...\"".to_owned(),
            );
        } else {
            out.warn(
                rec,
                "DMARC: a TXT record at a _dmarc name that is not a DMARC record (it does not start with v=DMARC1) is ignored by receivers (RFC 7489 §6.6.3)".to_owned(),
            );
        }
    }
    if dmarc.len() > 1 {
        // RFC 7489 §6.6.3 step 5: "If the remaining set contains multiple records
        // ... terminate DMARC processing".
        for (_, rec) in &dmarc[1..] {
            out.error(
                rec,
                format!(
                    "DMARC: a second DMARC record at `{owner}` (the first is at line {}): receivers then apply no policy at all (RFC 7489 §6.6.3); keep one",
                    dmarc[0].1.line
                ),
            );
        }
    }
    for (text, rec) in dmarc.into_iter().take(1) {
        check_record(names, &domain, text, rec, out);
    }
}

fn check_record<'a>(
    names: &Names<'_>,
    domain: &LowerName,
    text: &str,
    rec: &'a SourceRecord,
    out: &mut Out<'a>,
) {
    let tags = match tag_list(text) {
        Ok(t) => t,
        Err(piece) => {
            out.error(
                rec,
                format!(
                    "DMARC: `{piece}` is not a tag=value pair (RFC 7489 §6.4): separate tags with `;`"
                ),
            );
            return;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    let mut has_p = false;
    for (tag, value) in &tags {
        let t = tag.to_ascii_lowercase();
        if seen.contains(&t) {
            out.error(
                rec,
                format!("DMARC: tag `{tag}` appears twice (RFC 7489 §6.4); keep one"),
            );
        }
        seen.push(t.clone());
        let v = value.to_ascii_lowercase();
        let bad = |out: &mut Out<'a>, allowed: &str| {
            out.error(
                rec,
                format!(
                    "DMARC: `{tag}={value}` is not valid (RFC 7489 §6.3): {tag} takes {allowed}"
                ),
            );
        };
        match t.as_str() {
            "v" => {}
            "p" | "sp" => {
                has_p |= t == "p";
                if !matches!(v.as_str(), "none" | "quarantine" | "reject") {
                    bad(out, "none, quarantine or reject");
                }
            }
            "adkim" | "aspf" => {
                if !matches!(v.as_str(), "r" | "s") {
                    bad(out, "r (relaxed) or s (strict)");
                }
            }
            "pct" => {
                if !v.parse::<u8>().is_ok_and(|n| n <= 100) {
                    bad(out, "a whole number from 0 to 100");
                }
            }
            "ri" => {
                if v.parse::<u32>().is_err() {
                    bad(out, "a number of seconds (e.g. 86400)");
                }
            }
            "fo" => {
                if !v
                    .split(':')
                    .all(|o| matches!(o.trim(), "0" | "1" | "d" | "s"))
                {
                    bad(out, "a colon-separated list of 0, 1, d, s");
                }
            }
            "rf" => {
                if !v.split(':').all(|o| o.trim() == "afrf") {
                    bad(out, "afrf (the only report format defined)");
                }
            }
            "rua" | "ruf" => check_uris(names, domain, tag, value, rec, out),
            _ => out.warn(
                rec,
                format!(
                    "DMARC: unknown tag `{tag}` is ignored by receivers (RFC 7489 §6.3): a typo?"
                ),
            ),
        }
    }
    if !has_p {
        out.error(
            rec,
            "DMARC: no `p=` tag: the policy is required right after v=DMARC1 (RFC 7489 §6.3), e.g. \"v=DMARC1; p=none; rua=mailto:...\"".to_owned(),
        );
    } else if tags
        .get(1)
        .is_some_and(|(t, _)| !t.eq_ignore_ascii_case("p"))
    {
        out.warn(
            rec,
            "DMARC: `p=` should come right after v=DMARC1 (RFC 7489 §6.4 ABNF); some receivers reject the record otherwise".to_owned(),
        );
    }
}

/// rua/ruf: comma-separated `mailto:` URIs with an optional `!size` (RFC 7489
/// §6.4); a destination outside the domain needs an authorisation record
/// `DOMAIN._report._dmarc.DEST` (RFC 7489 §7.1).
fn check_uris<'a>(
    names: &Names<'_>,
    domain: &LowerName,
    tag: &str,
    value: &str,
    rec: &'a SourceRecord,
    out: &mut Out<'a>,
) {
    for uri in value.split(',').map(str::trim) {
        let uri_part = uri.rsplit_once('!').map_or(uri, |(u, size)| {
            let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                out.error(
                    rec,
                    format!(
                        "DMARC: `{tag}`: `!{size}` is not a size limit (digits with an optional k, m, g or t)"
                    ),
                );
            }
            u
        });
        let Some(address) = uri_part
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("mailto:"))
            .and_then(|_| uri_part.get(7..))
        else {
            out.error(
                rec,
                format!(
                    "DMARC: `{tag}` destination `{uri}` is not a mailto: URI (RFC 7489 §6.2): write `{tag}=mailto:reports@example.com`"
                ),
            );
            continue;
        };
        let Some((local, dest)) = address.rsplit_once('@') else {
            out.error(
                rec,
                format!("DMARC: `{tag}`: `{address}` is not an e-mail address"),
            );
            continue;
        };
        let Ok(mut dest_name) = Name::from_ascii(dest) else {
            out.error(
                rec,
                format!("DMARC: `{tag}`: `{dest}` is not a domain name"),
            );
            continue;
        };
        dest_name.set_fqdn(true);
        if local.is_empty() {
            out.error(
                rec,
                format!("DMARC: `{tag}`: `{address}` has no local part"),
            );
        }
        let dest_lower = LowerName::new(&dest_name);
        // The same organizational domain (RFC 7489 §3.2, from the Public
        // Suffix List when installed; the same zone always counts) needs no
        // authorisation.
        let own = LowerName::new(names.origin);
        let same_org = names.psl.is_some_and(|psl| {
            psl.organizational_domain(&domain.to_string())
                .is_some_and(|o| Some(o) == psl.organizational_domain(&dest_name.to_ascii()))
        });
        if own.zone_of(&dest_lower) || dest_lower.zone_of(domain) || same_org {
            continue;
        }
        let Ok(auth) = Name::from_ascii(format!(
            "{}_report._dmarc.{dest_name}",
            label_prefix(domain)
        )) else {
            continue;
        };
        match names.lookup(&auth) {
            Found::Txt(texts) if texts.iter().any(|t| is_dmarc(t)) => {}
            Found::Outside => out.warn(
                rec,
                format!(
                    "DMARC: `{tag}` sends reports to `{dest}`, outside this domain: `{dest}` must publish the authorisation record `{auth}` TXT \"v=DMARC1\" or receivers send nothing (RFC 7489 §7.1)"
                ),
            ),
            _ => out.warn(
                rec,
                format!(
                    "DMARC: `{tag}` sends reports to `{dest}`, but the served zone lacks the authorisation record `{auth}` TXT \"v=DMARC1\" (RFC 7489 §7.1): receivers send nothing"
                ),
            ),
        }
    }
}

/// `domain.` as a prefix for `DOMAIN._report._dmarc.DEST`.
fn label_prefix(domain: &LowerName) -> String {
    let s = domain.to_string();
    if s.ends_with('.') { s } else { format!("{s}.") }
}
