//! TFTP per-device templates and lease binding. The lease-binding case runs
//! the TFTP service in this test process with a fake lease lookup (the DHCP
//! store is wired by the binary later) and fetches with the real curl client;
//! the template case runs the real binary.

use crate::common;

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::sync::Arc;

use common::tftp::{Fetch, config, raw_get};
use common::{Headend, free_port, lo, require};
use headend_tftp::{LeaseInfo, LeaseLookup, Mac, TemplateConfig, TftpConfig, TftpService};

const MAC_A: Mac = [0x00, 0x1a, 0x2b, 0x00, 0x00, 0x01];
const MAC_B: Mac = [0x00, 0x1a, 0x2b, 0x00, 0x00, 0x02];

/// Modem A holds 127.0.0.1, modem B holds 127.0.0.2.
struct FakeLeases;

impl LeaseLookup for FakeLeases {
    fn lease_for_ip(&self, ip: Ipv4Addr) -> Option<LeaseInfo> {
        let mac = match ip.octets() {
            [127, 0, 0, 1] => MAC_A,
            [127, 0, 0, 2] => MAC_B,
            _ => return None,
        };
        Some(LeaseInfo {
            mac,
            ip,
            hostname: Some(format!("cm-{}", ip.octets()[3])),
            class: Some("docsis".into()),
        })
    }

    fn ip_for_mac(&self, mac: Mac) -> Option<Ipv4Addr> {
        match mac {
            MAC_A => Some(Ipv4Addr::new(127, 0, 0, 1)),
            MAC_B => Some(Ipv4Addr::new(127, 0, 0, 2)),
            _ => None,
        }
    }
}

fn curl(port: u16, from: &str, name: &str) -> Output {
    require("curl");
    Command::new("timeout")
        .args(["30", "curl", "-sS", "--fail", "--interface", from])
        .arg(format!("tftp://127.0.0.1:{port}/{name}"))
        .output()
        .expect("run curl")
}

#[test]
fn bound_config_is_served_to_the_leased_ip_and_refused_to_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let tmpl = dir.path().join("modem.cfg.j2");
    std::fs::write(
        &tmpl,
        "# modem {{ mac }}\nhostname={{ lease.hostname }}\nclass={{ lease.class }}\nip={{ client_ip }}\n",
    )
    .expect("template");
    let port = free_port();
    let config = TftpConfig {
        listen: vec![lo(port)],
        root,
        templates: vec![TemplateConfig {
            pattern: "modems/{mac}.cfg".into(),
            file: tmpl,
            bind_to_lease: true,
            format: "text".into(),
            shared_secret_file: None,
        }],
        ..TftpConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = rt
        .block_on(TftpService::start(config, Arc::new(FakeLeases)))
        .expect("start TFTP");

    // Modem A (127.0.0.1) gets its own file, rendered with its lease.
    let own = curl(port, "127.0.0.1", "modems/001a2b000001.cfg");
    assert!(
        own.status.success(),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&own.stdout),
        "# modem 00:1a:2b:00:00:01\nhostname=cm-1\nclass=docsis\nip=127.0.0.1\n"
    );
    // Modem A asking for modem B's file is refused with ERROR 2...
    let stolen = curl(port, "127.0.0.1", "modems/00-1A-2B-00-00-02.cfg");
    assert!(!stolen.status.success(), "served another modem's config");
    assert!(stolen.stdout.is_empty());
    assert!(
        matches!(
            raw_get(lo(port), b"modems/001a2b000002.cfg", &[]),
            Fetch::Error(2, _)
        ),
        "ERROR 2 expected"
    );
    // ...while modem B, from its leased address, gets it.
    let b = curl(port, "127.0.0.2", "modems/001a2b000002.cfg");
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(String::from_utf8_lossy(&b.stdout).contains("hostname=cm-2"));
    // A MAC with no lease is refused to everyone.
    assert!(matches!(
        raw_get(lo(port), b"modems/001a2b000003.cfg", &[]),
        Fetch::Error(2, _)
    ));
    assert!(handle.stats().refused >= 3);
    handle.shutdown();
}

#[test]
fn per_mac_template_is_rendered_with_its_contents_and_tsize() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(
        dir.path().join("modem.j2"),
        "# config for {{ mac }} ({{ mac_hex }})\nclient={{ client_ip }}\n{% for i in range(3) %}line{{ i }}\n{% endfor %}",
    )
    .expect("template");
    let port = free_port();
    let extra = "[[tftp.template]]\npattern = \"modems/{mac}.cfg\"\nfile = \"modem.j2\"\n";
    let _h = Headend::start_in(dir, &config(&root, port, extra));
    let want =
        "# config for 00:1a:2b:3c:4d:5e (001a2b3c4d5e)\nclient=127.0.0.1\nline0\nline1\nline2\n";
    match raw_get(
        lo(port),
        b"modems/00:1A:2B:3C:4D:5E.cfg",
        &[("tsize", "0"), ("blksize", "16")],
    ) {
        Fetch::Data(data, oack) => {
            assert_eq!(String::from_utf8_lossy(&data), want);
            assert!(
                oack.contains(&("tsize".into(), want.len().to_string())),
                "{oack:?}"
            );
            assert!(oack.contains(&("blksize".into(), "16".into())), "{oack:?}");
        }
        other => panic!("{other:?}"),
    }
    // The real client agrees.
    let out = curl(port, "127.0.0.1", "modems/001a2b3c4d5e.cfg");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    // A name that is not a MAC does not match the pattern: plain file lookup, not found.
    assert!(matches!(
        raw_get(lo(port), b"modems/nomac.cfg", &[]),
        Fetch::Error(1, _)
    ));
}
