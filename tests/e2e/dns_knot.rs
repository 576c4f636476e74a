//! Differential test: headend and Knot (knotd) serve the same zone file on two
//! loopback ports; for several hundred queries covering every answer kind the
//! response code, AA/TC flags and the answer, authority and additional RRsets
//! must be equal (order-insensitive).

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dig::dig;
use common::{Headend, free_port, require, workspace_root};

/// knotd on a loopback port, stopped by PID on drop.
struct Knot {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Knot {
    fn start(port: u16, origin: &str, zone: &std::path::Path) -> Self {
        require("knotd");
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("knot.conf");
        let d = dir.path().display();
        std::fs::write(
            &conf,
            format!(
                "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
                 database:\n    storage: {d}\n\
                 log:\n  - target: stderr\n    any: warning\n\
                 zone:\n  - domain: {origin}\n    file: {}\n    storage: {d}\n",
                zone.display()
            ),
        )
        .expect("write knot.conf");
        let child = Command::new("knotd")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn knotd");
        let knot = Self { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if !common::dig::short(port, origin, "SOA").is_empty() {
                return knot;
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn headend_answers_like_knot() {
    require("dig");
    let zone = workspace_root().join("tests/data/dns/e2e.test.zone");
    let knot_port = free_port();
    let knot = Knot::start(knot_port, "e2e.test", &zone);
    let port = free_port();
    let headend = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[dns]\nlisten = [\"127.0.0.1:{port}\"]\n\
         [[dns.zone]]\norigin = \"e2e.test\"\nfile = \"{}\"\n",
        zone.display()
    ));

    let names = [
        "e2e.test",
        "ns1",
        "ns2",
        "mail",
        "www",
        "WwW2",
        "alias",
        "chain",
        "dangling",
        "external",
        "wildalias",
        "foo.wild",
        "a.b.wild",
        "wild",
        "deep.ent.x",
        "ent.x",
        "x",
        "_sip._tcp",
        "_tcp",
        "sip",
        "sub",
        "ns.sub",
        "host.sub",
        "a.b.sub",
        "_dmarc",
        "multi",
        "caa",
        "ptr",
        "nonexistent",
        "nx.nonexistent",
        "nothere",
    ];
    let types = [
        "A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "DS", "CAA", "PTR",
    ];
    let mut compared = 0;
    let mut mismatches = Vec::new();
    // Kinds of answer seen, so the comparison is known to cover them all.
    let (mut positive, mut nxdomain, mut nodata, mut referral, mut with_additional) =
        (0, 0, 0, 0, 0);
    for name in names {
        let fqdn = if name == "e2e.test" {
            name.to_owned()
        } else {
            format!("{name}.e2e.test")
        };
        for qtype in types {
            let opts: &[&str] = &["+bufsize=1232"];
            let h = dig(port, &fqdn, qtype, opts);
            let k = dig(knot_port, &fqdn, qtype, opts);
            compared += 1;
            match (h.status.as_str(), h.answer.is_empty(), h.has_flag("aa")) {
                ("NXDOMAIN", _, _) => nxdomain += 1,
                ("NOERROR", false, _) => positive += 1,
                ("NOERROR", true, true) => nodata += 1,
                ("NOERROR", true, false) => referral += 1,
                _ => {}
            }
            if !h.additional.is_empty() {
                with_additional += 1;
            }
            let same = h.status == k.status
                && h.has_flag("aa") == k.has_flag("aa")
                && h.has_flag("tc") == k.has_flag("tc")
                && h.sections() == k.sections();
            if !same {
                mismatches.push(format!(
                    "{fqdn} {qtype}:\n--- headend ---\n{}\n--- knot ---\n{}",
                    h.raw, k.raw
                ));
            }
        }
    }
    // The large RRset over TCP.
    for qtype in ["A", "AAAA"] {
        let h = dig(port, "many.e2e.test", qtype, &["+tcp"]);
        let k = dig(knot_port, "many.e2e.test", qtype, &["+tcp"]);
        compared += 1;
        if h.status != k.status || h.sections() != k.sections() {
            mismatches.push(format!("many {qtype} tcp:\n{}\n{}", h.raw, k.raw));
        }
    }
    eprintln!(
        "compared {compared}: {positive} positive, {nxdomain} NXDOMAIN, {nodata} NODATA, \
         {referral} referrals, {with_additional} with additional records"
    );
    assert!(positive >= 30 && nxdomain >= 20 && nodata >= 50 && referral >= 20);
    assert!(with_additional >= 20);
    assert!(compared >= 100, "only {compared} queries compared");
    assert!(
        mismatches.is_empty(),
        "{} of {compared} answers differ from Knot's:\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
    drop(headend);
    drop(knot);
}
