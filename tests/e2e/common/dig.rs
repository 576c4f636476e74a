//! Runs dig/kdig and parses their text output into comparable answers.

use std::collections::BTreeSet;
use std::process::Command;

/// One resource record as printed by dig: owner (lower-cased, absolute), TTL,
/// type and RDATA text (whitespace-normalised).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub rdata: String,
}

/// A parsed response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigAnswer {
    pub status: String,
    pub flags: BTreeSet<String>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub raw: String,
}

impl DigAnswer {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(flag)
    }

    /// The sections as sets (order-insensitive), OPT excluded.
    pub fn sections(&self) -> [BTreeSet<Rr>; 3] {
        [
            self.answer.iter().cloned().collect(),
            self.authority.iter().cloned().collect(),
            self.additional.iter().cloned().collect(),
        ]
    }

    pub fn answer_rdata(&self, rtype: &str) -> Vec<String> {
        self.answer
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.rdata.clone())
            .collect()
    }
}

/// Queries `name`/`qtype` at 127.0.0.1:`port` with dig; `extra` adds options
/// such as "+tcp", "+dnssec", "+bufsize=512". Panics if dig itself fails.
pub fn dig(port: u16, name: &str, qtype: &str, extra: &[&str]) -> DigAnswer {
    match try_dig(port, name, qtype, extra) {
        Ok(answer) => answer,
        Err(text) => panic!("dig {name} {qtype} failed: {text}"),
    }
}

/// Same as [`dig`], but a failed dig (no server listening yet, say) is an
/// `Err` with dig's output, for readiness probes.
pub fn try_dig(port: u16, name: &str, qtype: &str, extra: &[&str]) -> Result<DigAnswer, String> {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+norecurse",
            "+time=2",
            "+tries=2",
        ])
        .args(extra)
        .arg(name)
        .arg(qtype)
        .output()
        .expect("run dig");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(parse(&text))
    } else {
        Err(text)
    }
}

/// Same with kdig (Knot's client), to check a second implementation's view.
pub fn kdig(port: u16, name: &str, qtype: &str, extra: &[&str]) -> DigAnswer {
    let out = Command::new("kdig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+norecurse",
            "+time=2",
            "+retry=1",
        ])
        .args(extra)
        .arg(name)
        .arg(qtype)
        .output()
        .expect("run kdig");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "kdig {name} {qtype} failed: {text}");
    parse(&text)
}

/// Parses dig's or kdig's default output.
pub fn parse(text: &str) -> DigAnswer {
    let mut ans = DigAnswer {
        raw: text.to_owned(),
        ..DigAnswer::default()
    };
    #[derive(PartialEq)]
    enum Sec {
        None,
        Answer,
        Authority,
        Additional,
    }
    let mut sec = Sec::None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(i) = l.find("status: ") {
            ans.status = l[i + 8..]
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_owned();
            continue;
        }
        if let Some(rest) = l.strip_prefix(";; flags:") {
            // dig: ";; flags: qr aa rd; QUERY: 1, ..."; kdig: ";; Flags: qr aa; QUERY: ..."
            let flags = rest.split(';').next().unwrap_or("");
            ans.flags = flags.split_whitespace().map(str::to_lowercase).collect();
            continue;
        }
        if let Some(rest) = l.strip_prefix(";; Flags:") {
            let flags = rest.split(';').next().unwrap_or("");
            ans.flags = flags.split_whitespace().map(str::to_lowercase).collect();
            continue;
        }
        let lower = l.to_lowercase();
        if lower.starts_with(";; answer section") {
            sec = Sec::Answer;
            continue;
        }
        if lower.starts_with(";; authority section") {
            sec = Sec::Authority;
            continue;
        }
        if lower.starts_with(";; additional section") {
            sec = Sec::Additional;
            continue;
        }
        // A blank line ends a section; other comment lines are skipped.
        if l.is_empty() {
            sec = Sec::None;
            continue;
        }
        if l.starts_with(';') {
            continue;
        }
        let fields: Vec<&str> = l.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        // owner TTL [class] type rdata...
        let (ttl, rest) = (fields[1].parse::<u32>().unwrap_or(0), &fields[2..]);
        let rest = if rest.first() == Some(&"IN") {
            &rest[1..]
        } else {
            rest
        };
        let Some((rtype, rdata)) = rest.split_first() else {
            continue;
        };
        if *rtype == "OPT" {
            continue;
        }
        let rr = Rr {
            name: fields[0].to_lowercase(),
            ttl,
            rtype: rtype.to_string(),
            rdata: normalise_rdata(rtype, &rdata.join(" ")),
        };
        match sec {
            Sec::Answer => ans.answer.push(rr),
            Sec::Authority => ans.authority.push(rr),
            Sec::Additional => ans.additional.push(rr),
            Sec::None => {}
        }
    }
    ans
}

/// Lower-cases names in RDATA and normalises hex case so dig and kdig agree.
fn normalise_rdata(rtype: &str, rdata: &str) -> String {
    match rtype {
        "TXT" | "SPF" | "CAA" => rdata.to_owned(),
        _ => rdata.to_lowercase(),
    }
}

/// `dig +short` for `name`/`qtype` at 127.0.0.1:`port`, one try of one
/// second (for polling a server that may not answer yet); its output trimmed.
pub fn short(port: u16, name: &str, qtype: &str) -> String {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+short",
            "+time=1",
            "+tries=1",
        ])
        .arg(name)
        .arg(qtype)
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
