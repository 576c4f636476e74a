//! A minimal edit of a zone holding every record type, through `headend ctl
//! record set` and `record delete`: dig's AXFR before and after differs only
//! in the records changed and the SOA serial, and the zone file only in
//! their lines and the serial line (comments, layout and every other record
//! written as the admin wrote them).

use crate::common;

use std::collections::BTreeSet;
use std::process::Command;

use common::admin::{self, ctl};
use common::require;

const PW: &str = "correct horse battery";

/// dig's AXFR of `origin`: one record a line, blanks collapsed, sorted, the
/// closing SOA left out.
fn axfr(port: u16, origin: &str) -> Vec<String> {
    let out = common::run(Command::new("dig").args([
        "@127.0.0.1",
        "-p",
        &port.to_string(),
        "+nocmd",
        "+nostats",
        "+nocomments",
        "+time=5",
        "AXFR",
        origin,
    ]));
    let mut lines: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

fn is_soa(line: &str) -> bool {
    line.split(' ').nth(3) == Some("SOA")
}

fn ctl_ok(dir: &std::path::Path, args: &[&str]) {
    let out = ctl(dir, args, "");
    assert!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_ctl_edit_of_a_zone_with_every_type_changes_only_the_edited_records() {
    require("dig");
    require("named-compilezone");
    let s = admin::start_with_zone("", "types.test", "allow_transfer = [\"127.0.0.1/32\"]");
    s.add_user("oscar", "operator", PW);
    let ctl_dir = tempfile::tempdir().unwrap();
    let out = ctl(
        ctl_dir.path(),
        &["login", &s.base, "--user", "oscar", "--password-stdin"],
        &format!("{PW}\n"),
    );
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = s.headend.dir.path().join("types.test.zone");
    let file_before = std::fs::read_to_string(&file).unwrap();
    let before = axfr(s.dns_port, "types.test");
    let types: BTreeSet<&str> = before.iter().filter_map(|l| l.split(' ').nth(3)).collect();
    assert!(types.len() >= 40, "the zone holds few types: {types:?}");
    let hinfo: Vec<&String> = before
        .iter()
        .filter(|l| l.starts_with("hinfo.types.test. ") && l.contains(" HINFO "))
        .collect();
    assert_eq!(hinfo.len(), 2, "{before:?}");

    ctl_ok(
        ctl_dir.path(),
        &[
            "record",
            "set",
            "types.test",
            "added",
            "A",
            "192.0.2.200",
            "--ttl",
            "300",
        ],
    );
    ctl_ok(
        ctl_dir.path(),
        &["record", "delete", "types.test", "hinfo", "HINFO"],
    );

    let after = axfr(s.dns_port, "types.test");
    let added = "added.types.test. 300 IN A 192.0.2.200".to_owned();
    assert!(after.contains(&added), "{after:?}");
    // Every other record is served as before, in the same presentation.
    let kept_before: Vec<&String> = before
        .iter()
        .filter(|l| !is_soa(l) && !hinfo.contains(l))
        .collect();
    let kept_after: Vec<&String> = after
        .iter()
        .filter(|l| !is_soa(l) && **l != added)
        .collect();
    assert_eq!(kept_before, kept_after);
    let serial = |lines: &[String]| -> u32 {
        let soa = lines.iter().find(|l| is_soa(l)).expect("SOA");
        soa.split(' ').nth(6).unwrap().parse().unwrap()
    };
    let (old_serial, new_serial) = (serial(&before), serial(&after));
    assert!(new_serial > old_serial, "{old_serial} -> {new_serial}");

    // The file: only the HINFO lines went, only the new record came, the
    // serial changed in place; comments and layout stayed.
    let file_after = std::fs::read_to_string(&file).unwrap();
    let old_lines: Vec<&str> = file_before.lines().collect();
    let new_lines: Vec<&str> = file_after.lines().collect();
    let removed: Vec<&&str> = old_lines
        .iter()
        .filter(|l| !new_lines.contains(l))
        .collect();
    let inserted: Vec<&&str> = new_lines
        .iter()
        .filter(|l| !old_lines.contains(l))
        .collect();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert_eq!(
        removed.iter().filter(|l| l.contains("HINFO")).count(),
        2,
        "{removed:?}"
    );
    assert!(
        removed
            .iter()
            .any(|l| l.contains(&old_serial.to_string()) && l.contains("SOA")),
        "{removed:?}"
    );
    assert_eq!(inserted.len(), 2, "{inserted:?}");
    assert!(
        inserted.iter().any(|l| l.contains("192.0.2.200")),
        "{inserted:?}"
    );
    assert!(
        inserted
            .iter()
            .any(|l| l.contains(&new_serial.to_string()) && l.contains("SOA")),
        "{inserted:?}"
    );
    // Order of the untouched lines is the file's.
    let untouched_old: Vec<&&str> = old_lines.iter().filter(|l| !removed.contains(l)).collect();
    let untouched_new: Vec<&&str> = new_lines.iter().filter(|l| !inserted.contains(l)).collect();
    assert_eq!(untouched_old, untouched_new);
    assert!(file_after.contains("; Several records of every type"));

    // The written file reads back, by BIND's own reader, to exactly the
    // records headend now serves (dig and named-compilezone print with the
    // same library, so the lines compare as text).
    let out = common::run(Command::new("named-compilezone").args([
        "-q",
        "-i",
        "none",
        "-k",
        "ignore",
        "-o",
        "-",
        "types.test",
        file.to_str().unwrap(),
    ]));
    let mut reread: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    reread.sort();
    reread.dedup();
    assert_eq!(reread, after);
}
