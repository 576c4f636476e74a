//! `scripts/lab.sh cable|pxe`, the README's quickest look at a whole flow,
//! run as a newcomer runs it: it must print the lease, the fetched file and
//! the lease and TFTP log lines, and leave no namespace or process behind.

use crate::common;

use std::process::{Command, Stdio};

/// Runs the lab script for `lab` with the binary under test; returns its
/// output and the namespace prefix it announced.
fn run_lab(lab: &str) -> (String, String) {
    for p in ["ip", "udhcpc", "tftp"] {
        common::require(p);
    }
    if lab == "cable" {
        common::require("dhcrelay");
    }
    let out = Command::new(common::workspace_root().join("scripts/lab.sh"))
        .arg(lab)
        .env("HEADEND_BIN", common::headend_bin())
        .env("LAB_TIMEOUT", "60")
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/lab.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "lab.sh {lab} failed:\n{text}");
    let prefix = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("lab {lab}: namespaces ")))
        .and_then(|l| l.split('*').next())
        .unwrap_or_else(|| panic!("no namespace line:\n{text}"))
        .to_owned();
    (text, prefix)
}

fn assert_cleaned_up(prefix: &str, text: &str) {
    let list = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        !list.lines().any(|l| l.starts_with(prefix)),
        "namespaces left behind:\n{list}\n{text}"
    );
    let work = text
        .lines()
        .find_map(|l| l.split_once("work folder ").map(|(_, w)| w.trim()))
        .expect("work folder line");
    assert!(!std::path::Path::new(work).exists(), "{work} left behind");
}

fn assert_has(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
}

#[test]
fn lab_cable_shows_the_relayed_modem_lease_its_config_file_and_the_log_lines() {
    let (text, prefix) = run_lab("cable");
    assert_has(
        &text,
        &[
            "boot_file=docsis/basic-100M.cfg",
            "siaddr=192.0.2.20",
            "lease=604800",
            // The listing from `headend leases`: subnet, class and circuit-id.
            "modems       docsis       cable0",
            // The compiled file fetched by TFTP, decoded.
            "NetworkAccess 1;",
            "DHCPACK on 10.1.0.",
            "via 10.1.0.1 event=grant",
            "class=docsis circuit_id=cable0 remote_id=- relay=10.1.0.1 lease_secs=604800",
            "TFTP transfer complete: docsis/basic-100M.cfg to 10.1.0.",
            "lab cable: OK",
        ],
    );
    assert!(text.contains("bound ip=10.1."), "{text}");
    assert_cleaned_up(&prefix, &text);
}

#[test]
fn lab_pxe_shows_the_bios_boot_loader_then_the_ipxe_script_url() {
    let (text, prefix) = run_lab("pxe");
    assert_has(
        &text,
        &[
            "bound ip=10.20.0.1",
            "boot_file=undionly.kpxe",
            "fetched undionly.kpxe: ",
            "placeholder for undionly.kpxe",
            "boot_file=http://10.20.0.1:8080/boot.ipxe",
            "subnet=lab class=bios",
            "subnet=lab class=ipxe",
            "TFTP transfer complete: undionly.kpxe to 10.20.0.",
            "lab pxe: OK",
        ],
    );
    assert_cleaned_up(&prefix, &text);
}
