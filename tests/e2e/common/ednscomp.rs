//! The checks of ISC's EDNS compliance tester (`genreport`, the one DNS
//! Flag Day used, and RFC 8906 §8), each sent with dig using the same
//! flags and graded with the tester's own result words: `ok`, or the list
//! of what was wrong (`status`, `noopt`, `version`, `soa`, `nosoa`,
//! `echoed`, `mbz`, `nodo`, `toobig`, `noaa`, `opcode`, ...).

use std::process::Command;

/// Which of the served zones a check asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// An unsigned zone.
    Plain,
    /// A DNSSEC-signed zone.
    Signed,
}

/// One check: its name in the tester's report, dig's flags, the query and
/// the zone asked about, and what a compliant answer looks like.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub name: &'static str,
    pub flags: &'static [&'static str],
    /// The QTYPE (the QNAME is the zone's apex).
    pub qtype: &'static str,
    pub zone: Zone,
    pub expect: Expect,
}

/// What a compliant answer to a check holds.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// The RCODE, as dig prints it.
    pub status: &'static str,
    /// An OPT record of version 0 (`false`: no OPT at all).
    pub opt: bool,
    /// The SOA in the answer section (`Some(false)`: none; `None`: not checked).
    pub soa: Option<bool>,
    /// The AA bit.
    pub aa: Option<bool>,
    /// The DO bit copied into the answer (RFC 3225 §3).
    pub dnssec_ok: bool,
    /// RRSIGs in the answer.
    pub rrsig: bool,
    /// Under this size, or truncated (the advertised UDP buffer).
    pub fits: Option<usize>,
    /// The opcode echoed (as dig names it).
    pub opcode: &'static str,
}

const ANSWER: Expect = Expect {
    status: "NOERROR",
    opt: true,
    soa: Some(true),
    aa: Some(true),
    dnssec_ok: false,
    rrsig: false,
    fits: None,
    opcode: "QUERY",
};

const BADVERS: Expect = Expect {
    status: "BADVERS",
    soa: Some(false),
    aa: Some(false),
    ..ANSWER
};

const PLAIN: Expect = Expect {
    opt: false,
    ..ANSWER
};

/// Every check of the tester's EDNS set (plus the common ones DNS Flag Day
/// listed: zflag, opcode, type666), with the tester's dig flags.
pub const CHECKS: &[Check] = &[
    Check {
        name: "dns",
        flags: &["+noedns"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: PLAIN,
    },
    Check {
        name: "edns",
        flags: &["+edns=0", "+nocookie"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: ANSWER,
    },
    Check {
        name: "edns1",
        flags: &["+edns=1", "+noednsneg", "+nocookie"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: BADVERS,
    },
    Check {
        name: "edns@512",
        flags: &["+edns=0", "+nocookie", "+dnssec", "+bufsize=512", "+ignore"],
        qtype: "DNSKEY",
        zone: Zone::Signed,
        expect: Expect {
            soa: None,
            aa: None,
            dnssec_ok: true,
            fits: Some(512),
            ..ANSWER
        },
    },
    Check {
        name: "ednsopt",
        flags: &["+edns=0", "+nocookie", "+ednsopt=100"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: ANSWER,
    },
    Check {
        name: "edns1opt",
        flags: &["+edns=1", "+noednsneg", "+nocookie", "+ednsopt=100"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: BADVERS,
    },
    Check {
        name: "edns1flags",
        flags: &["+edns=1", "+noednsneg", "+nocookie", "+ednsflags=0x80"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: BADVERS,
    },
    Check {
        name: "edns1do",
        flags: &["+edns=1", "+noednsneg", "+nocookie", "+dnssec"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: Expect {
            dnssec_ok: true,
            ..BADVERS
        },
    },
    Check {
        name: "do",
        flags: &["+edns=0", "+nocookie", "+dnssec"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: Expect {
            dnssec_ok: true,
            ..ANSWER
        },
    },
    Check {
        name: "ednsflags",
        flags: &["+edns=0", "+nocookie", "+ednsflags=0x80"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: ANSWER,
    },
    Check {
        name: "optlist",
        flags: &[
            "+edns=0",
            "+nsid",
            "+subnet=0.0.0.0/0",
            "+expire",
            "+cookie=0102030405060708",
        ],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: ANSWER,
    },
    Check {
        name: "signed",
        flags: &["+edns=0", "+nocookie", "+dnssec"],
        qtype: "SOA",
        zone: Zone::Signed,
        expect: Expect {
            dnssec_ok: true,
            rrsig: true,
            ..ANSWER
        },
    },
    Check {
        name: "ednstcp",
        flags: &["+edns=0", "+nocookie", "+tcp"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: ANSWER,
    },
    Check {
        name: "cookie",
        flags: &["+edns=0", "+cookie"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: ANSWER,
    },
    Check {
        name: "zflag",
        flags: &["+noedns", "+zflag"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: PLAIN,
    },
    Check {
        name: "opcode",
        flags: &["+noedns", "+opcode=15", "+header-only"],
        qtype: "SOA",
        zone: Zone::Plain,
        expect: Expect {
            status: "NOTIMP",
            soa: Some(false),
            aa: Some(false),
            opcode: "RESERVED15",
            ..PLAIN
        },
    },
    Check {
        name: "type666",
        flags: &["+noedns"],
        qtype: "TYPE666",
        zone: Zone::Plain,
        expect: Expect {
            soa: Some(false),
            ..PLAIN
        },
    },
];

/// What dig showed of one answer, beyond [`super::dig::parse`].
#[derive(Debug, Default)]
pub struct Seen {
    pub status: String,
    pub opcode: String,
    pub flags: Vec<String>,
    /// `Some(version)` when an OPT record came.
    pub edns_version: Option<u8>,
    pub edns_flags: Vec<String>,
    /// An `MBZ` (must-be-zero) bit echoed, in the header or the OPT flags.
    pub mbz: bool,
    /// The EDNS options returned, by dig's name (`NSID`, `COOKIE`, `OPT=100`...).
    pub options: Vec<(String, String)>,
    pub answer_types: Vec<String>,
    pub size: usize,
    pub raw: String,
}

/// Reads dig's default output.
pub fn read(text: &str) -> Seen {
    let parsed = super::dig::parse(text);
    let mut seen = Seen {
        status: parsed.status.clone(),
        flags: parsed.flags.iter().cloned().collect(),
        answer_types: parsed.answer.iter().map(|r| r.rtype.clone()).collect(),
        raw: text.to_owned(),
        ..Seen::default()
    };
    let mut in_opt = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(";; ->>HEADER<<- opcode: ") {
            seen.opcode = rest.split(',').next().unwrap_or_default().to_owned();
        }
        if line.starts_with(";; flags:") && line.contains("MBZ") {
            seen.mbz = true;
        }
        if let Some(rest) = line.strip_prefix(";; MSG SIZE  rcvd: ") {
            seen.size = rest.trim().parse().unwrap_or(0);
        }
        if line.starts_with(";; OPT PSEUDOSECTION") {
            in_opt = true;
            continue;
        }
        if in_opt {
            let Some(body) = line.strip_prefix("; ") else {
                in_opt = false;
                continue;
            };
            if let Some(rest) = body.strip_prefix("EDNS: version: ") {
                seen.edns_version = rest.split(',').next().and_then(|v| v.trim().parse().ok());
                if let Some(flags) = rest.split("flags:").nth(1) {
                    let flags = flags.split(';').next().unwrap_or_default();
                    seen.edns_flags = flags.split_whitespace().map(str::to_owned).collect();
                }
                seen.mbz |= rest.contains("MBZ");
            } else {
                // `NAME: value`, or a bare `OPT=100` for an option without data.
                let (name, value) = body.split_once(':').unwrap_or((body, ""));
                seen.options
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    seen
}

/// Runs one check against 127.0.0.1:`port`, the zones being `plain` and
/// `signed`: `Ok(())`, or the tester's words for what was wrong.
pub fn run(check: &Check, port: u16, plain: &str, signed: &str) -> Result<(), Vec<String>> {
    let zone = match check.zone {
        Zone::Plain => plain,
        Zone::Signed => signed,
    };
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string()])
        .args(["+norec", "+noad", "+time=2", "+tries=2"])
        .args(check.flags)
        .args([zone, check.qtype])
        .output()
        .expect("run dig");
    grade(check, &String::from_utf8_lossy(&out.stdout))
}

/// Grades dig's output for one check.
pub fn grade(check: &Check, text: &str) -> Result<(), Vec<String>> {
    if !text.contains("Got answer") {
        return Err(vec!["timeout".to_owned()]);
    }
    let seen = read(text);
    let e = check.expect;
    let mut wrong = Vec::new();
    let mut fail = |bad: bool, word: &str| {
        if bad {
            wrong.push(word.to_owned());
        }
    };
    fail(seen.status != e.status, "status");
    fail(seen.opcode != e.opcode, "opcode");
    fail(seen.mbz, "mbz");
    let has_soa = seen.answer_types.iter().any(|t| t == "SOA");
    if let Some(soa) = e.soa {
        fail(soa && !has_soa, "nosoa");
        fail(!soa && has_soa, "soa");
    }
    if let Some(aa) = e.aa {
        fail(aa != seen.flags.iter().any(|f| f == "aa"), "aa");
    }
    if e.opt {
        fail(seen.edns_version.is_none(), "noopt");
        fail(seen.edns_version.is_some_and(|v| v != 0), "version");
    } else {
        fail(seen.edns_version.is_some(), "opt");
    }
    fail(
        e.dnssec_ok != seen.edns_flags.iter().any(|f| f == "do"),
        "nodo",
    );
    fail(
        e.rrsig && !seen.answer_types.iter().any(|t| t == "RRSIG"),
        "norrsig",
    );
    if let Some(limit) = e.fits {
        let truncated = seen.flags.iter().any(|f| f == "tc");
        fail(seen.size > limit && !truncated, "toobig");
    }
    // Options: an unknown one is never echoed (RFC 6891 §6.1.2); a known
    // one comes back only if asked for, a cookie with the client's half.
    let asked = |name: &str| match name {
        "NSID" => check.flags.contains(&"+nsid"),
        "CLIENT-SUBNET" => check.flags.iter().any(|f| f.starts_with("+subnet")),
        "EXPIRE" => check.flags.contains(&"+expire"),
        "COOKIE" => check.flags.iter().any(|f| f.starts_with("+cookie")),
        _ => false,
    };
    for (name, value) in &seen.options {
        fail(!asked(name), "echoed");
        if name == "COOKIE" {
            fail(
                check.flags.contains(&"+cookie=0102030405060708")
                    && !value.starts_with("0102030405060708"),
                "cookie",
            );
        }
    }
    fail(text.contains("COOKIE mismatch"), "cookie");
    if wrong.is_empty() { Ok(()) } else { Err(wrong) }
}
