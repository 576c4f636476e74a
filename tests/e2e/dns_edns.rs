//! ISC's EDNS compliance checks (`genreport`, as DNS Flag Day ran them, and
//! RFC 8906 §8) against the real binary: every check must grade `ok`, so
//! that no regression in EDNS handling can pass CI.

use crate::common;

use common::ednscomp::{CHECKS, grade, run};
use common::{Headend, free_port, require};

fn zone_text(origin: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\n\
         ns1 A 192.0.2.1\nwww A 192.0.2.80\n"
    )
}

/// headend serving an unsigned and a signed zone.
fn start() -> (Headend, u16) {
    require("dig");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plain.zone"), zone_text("plain.test")).expect("zone");
    std::fs::write(dir.path().join("signed.zone"), zone_text("signed.test")).expect("zone");
    let port = free_port();
    let h = Headend::start_in(
        dir,
        &format!(
            "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
             [[dns.zone]]\norigin = \"plain.test\"\nfile = \"plain.zone\"\n\
             [[dns.zone]]\norigin = \"signed.test\"\nfile = \"signed.zone\"\n\
             dnssec = {{ algorithm = \"ecdsap256sha256\", denial = \"nsec\" }}\n"
        ),
    );
    (h, port)
}

#[test]
fn every_edns_compliance_check_grades_ok() {
    let (_h, port) = start();
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for check in CHECKS {
        let grade = run(check, port, "plain.test", "signed.test");
        match &grade {
            Ok(()) => report.push(format!("{}=ok", check.name)),
            Err(words) => {
                report.push(format!("{}={}", check.name, words.join(",")));
                failed.push(check.name);
            }
        }
    }
    eprintln!("{}", report.join(" "));
    assert!(
        failed.is_empty(),
        "failed: {failed:?}\n{}",
        report.join(" ")
    );
    assert!(CHECKS.len() >= 15);
}

/// Each check answers for the cache path too: asked twice, the second
/// answer (from the UDP worker's answer cache where it applies) grades the
/// same.
#[test]
fn the_checks_grade_ok_when_answered_from_the_cache() {
    let (_h, port) = start();
    for check in CHECKS {
        let first = run(check, port, "plain.test", "signed.test");
        let second = run(check, port, "plain.test", "signed.test");
        assert_eq!(first, Ok(()), "{}", check.name);
        assert_eq!(second, Ok(()), "{} (second time)", check.name);
    }
}

/// The grading itself can fail: the answer headend gave to `edns1` before
/// it implemented version negotiation (NOERROR with the SOA) and an answer
/// echoing an unknown option and flag are graded as the tester grades them.
#[test]
fn the_grader_fails_non_compliant_answers() {
    let check = |name: &str| {
        CHECKS
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    };
    let noerror = ";; Got answer:\n\
        ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n\
        ;; flags: qr aa; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1\n\n\
        ;; OPT PSEUDOSECTION:\n\
        ; EDNS: version: 0, flags:; MBZ: 0x0080, udp: 1232\n\
        ; OPT=100\n\
        ;; QUESTION SECTION:\n;plain.test.\t\tIN\tSOA\n\n\
        ;; ANSWER SECTION:\n\
        plain.test.\t300\tIN\tSOA\tns1.plain.test. hostmaster.plain.test. 1 3600 600 86400 60\n\n\
        ;; MSG SIZE  rcvd: 88\n";
    let words = grade(check("edns1"), noerror).expect_err("graded ok");
    for word in ["status", "soa", "aa", "mbz", "echoed"] {
        assert!(words.iter().any(|w| w == word), "{word} missing: {words:?}");
    }
    assert_eq!(
        grade(
            check("edns"),
            &noerror
                .replace("; MBZ: 0x0080", "")
                .replace("; OPT=100\n", "")
        ),
        Ok(())
    );
    let without_opt: String = noerror
        .lines()
        .filter(|l| !l.starts_with(";; OPT") && !l.starts_with("; EDNS") && !l.starts_with("; OPT"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(grade(check("dns"), &without_opt), Ok(()));
    assert!(grade(check("edns"), &without_opt).is_err_and(|w| w.contains(&"noopt".to_owned())));
}
