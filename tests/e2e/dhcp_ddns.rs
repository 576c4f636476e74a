//! DNS names that follow DHCP leases (`[dhcp.ddns]`), end to end in network
//! namespaces: real clients (udhcpc, the relay-style load client) get
//! leases from the real binary, and dig, run in the server's namespace,
//! finds (or no longer finds) their forward and reverse names. RFC 4703:
//! a second client asking for a name the first holds does not get it.
//! Crash consistency: kill -9 during a DORA burst, restart, and every
//! ACKed lease has exactly its names, none pointing elsewhere.

use crate::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Headend;
use common::dhcp::{Netns, Proc, RelayClients, configuring_hook, field, veth, wait_line};
use std::process::Command;

const FWD: &str = "$ORIGIN dyn.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n\
@ NS ns1\nns1 A 10.78.0.1\nstatic A 10.78.0.9\n";
const REV: &str = "$ORIGIN 78.10.in-addr.arpa.\n$TTL 300\n\
@ SOA ns1.dyn.test. hostmaster.dyn.test. 1 3600 600 86400 60\n@ NS ns1.dyn.test.\n";

/// The config: DNS on 127.0.0.1:5300 inside the server namespace, DHCP on
/// `ifaces`, names from `names` (`client` or `template`).
fn config(ifaces: &[&str], names: &str) -> String {
    let list: Vec<String> = ifaces.iter().map(|i| format!("\"{i}\"")).collect();
    format!(
        r#"
[general]
state_dir = "state"
[dns]
listen = ["127.0.0.1:5300"]
[[dns.zone]]
origin = "dyn.test"
file = "fwd.zone"
allow_transfer = ["127.0.0.0/8"]
[[dns.zone]]
origin = "78.10.in-addr.arpa"
file = "rev.zone"
allow_transfer = ["127.0.0.0/8"]

[dhcp]
interfaces = [{}]
server_id = "10.78.0.1"
log_leases = false

[dhcp.ddns]
forward_zone = "dyn.test."
reverse_zones = ["78.10.in-addr.arpa."]
names = "{names}"
reconcile_secs = 2

[[dhcp.subnet]]
name = "lan"
subnet = "10.78.0.0/16"
interface = "{}"
pools = ["10.78.1.0-10.78.40.255"]
"#,
        list.join(", "),
        ifaces[0]
    )
}

fn start(ns: &Netns, config: &str) -> Headend {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("fwd.zone"), FWD).expect("zone");
    std::fs::write(dir.path().join("rev.zone"), REV).expect("zone");
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, config).expect("config");
    Headend::spawn_in_netns(ns, dir, path)
}

/// `dig +short` inside `ns` against headend.
fn short(ns: &Netns, args: &[&str]) -> Vec<String> {
    let out = ns
        .cmd("dig")
        .args(["@127.0.0.1", "-p", "5300", "+short", "+tries=1", "+time=2"])
        .args(args)
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Polls `f` until it returns true or `secs` pass.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Runs udhcpc once in `ns` on `iface` with extra arguments; the bound address.
fn udhcpc(ns: &Netns, iface: &str, work: &std::path::Path, name: &str, extra: &[&str]) -> String {
    let out = work.join(format!("{name}.out"));
    let hook = configuring_hook(work, name, &out);
    let status = ns
        .cmd("udhcpc")
        .args(["-i", iface, "-q", "-f", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&hook)
        .args(extra)
        .output()
        .expect("run udhcpc");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let bound = text
        .lines()
        .find(|l| l.starts_with("bound"))
        .unwrap_or_else(|| {
            panic!(
                "udhcpc {name} got no lease: {text}\n{}",
                String::from_utf8_lossy(&status.stderr)
            )
        });
    field(bound, "ip")
}

fn ptr_of(ip: &str) -> String {
    let o: Vec<&str> = ip.split('.').collect();
    format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
}

#[test]
fn a_hostname_lease_is_named_at_once_and_release_removes_the_names() {
    for p in ["udhcpc", "ip", "dig"] {
        common::require(p);
    }
    let server = Netns::new("s");
    let client = Netns::new("c");
    let (siface, ciface) = veth(&server, "10.78.0.1/16", &client, "", None);
    let mut h = start(&server, &config(&[&siface], "client"));
    let work = tempfile::tempdir().expect("tempdir");
    let ip = udhcpc(
        &client,
        &ciface,
        work.path(),
        "alpha",
        &["-x", "hostname:Alpha_Box"],
    );
    // At once: the names were served before the ACK left.
    assert_eq!(
        short(&server, &["alpha-box.dyn.test", "A"]),
        vec![ip.clone()]
    );
    assert_eq!(
        short(&server, &[&ptr_of(&ip), "PTR"]),
        vec!["alpha-box.dyn.test.".to_owned()]
    );
    assert_eq!(short(&server, &["alpha-box.dyn.test", "TYPE49"]).len(), 1);
    // The same client again (same name, same address): the zone's serial
    // does not move.
    let serial = short(&server, &["dyn.test", "SOA"]);
    let out = work.path().join("alpha2.out");
    let hook = configuring_hook(work.path(), "alpha2", &out);
    let mut cmd = client.cmd("udhcpc");
    cmd.args([
        "-i",
        &ciface,
        "-f",
        "-t",
        "3",
        "-T",
        "1",
        "-x",
        "hostname:Alpha_Box",
        "-s",
    ])
    .arg(&hook);
    let running = Proc::spawn(cmd, false);
    let bound = wait_line(&out, "bound", Duration::from_secs(20)).expect("lease again");
    assert_eq!(field(&bound, "ip"), ip);
    assert_eq!(short(&server, &["dyn.test", "SOA"]), serial);
    // SIGUSR2: udhcpc sends DHCPRELEASE.
    let released = Command::new("kill")
        .args(["-USR2", &running.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(released.success());
    assert!(
        eventually(5, || short(&server, &["alpha-box.dyn.test", "A"])
            .is_empty()),
        "the released lease's A record is still served"
    );
    assert!(short(&server, &[&ptr_of(&ip), "PTR"]).is_empty());
    assert_eq!(
        short(&server, &["static.dyn.test", "A"]),
        vec!["10.78.0.9".to_owned()]
    );
    // A changed [dhcp.ddns] is not half-applied by SIGHUP: it is reported
    // as needing a restart.
    let edited = config(&[&siface], "template");
    std::fs::write(&h.config, edited).expect("config");
    h.signal("HUP");
    h.wait_for_log("[dhcp.ddns] changed", Duration::from_secs(10));
}

#[test]
fn a_second_client_asking_for_a_held_name_does_not_take_it() {
    for p in ["udhcpc", "ip", "dig"] {
        common::require(p);
    }
    let server = Netns::new("s");
    let client = Netns::new("c");
    let (siface, ciface) = veth(&server, "10.78.0.1/16", &client, "", None);
    let _h = start(&server, &config(&[&siface], "client"));
    let work = tempfile::tempdir().expect("tempdir");
    let first = udhcpc(
        &client,
        &ciface,
        work.path(),
        "one",
        &["-x", "hostname:shared", "-x", "0x3d:01020000000001"],
    );
    let second = udhcpc(
        &client,
        &ciface,
        work.path(),
        "two",
        &["-x", "hostname:shared", "-x", "0x3d:01020000000002"],
    );
    assert_ne!(first, second);
    assert_eq!(
        short(&server, &["shared.dyn.test", "A"]),
        vec![first.clone()]
    );
    assert!(short(&server, &[&ptr_of(&second), "PTR"]).is_empty());
    // A static name is no client's either.
    udhcpc(
        &client,
        &ciface,
        work.path(),
        "three",
        &["-x", "hostname:static", "-x", "0x3d:01020000000003"],
    );
    assert_eq!(
        short(&server, &["static.dyn.test", "A"]),
        vec!["10.78.0.9".to_owned()]
    );
    // Several reconciliations later, still the first client's.
    assert!(!eventually(5, || short(&server, &["shared.dyn.test", "A"])
        != vec![first.clone()]));
}

/// Every A record of dyn.test (AXFR in `ns`) as (owner label, address).
fn zone_a_records(ns: &Netns) -> Vec<(String, String)> {
    let out = ns
        .cmd("dig")
        .args([
            "@127.0.0.1",
            "-p",
            "5300",
            "+noall",
            "+answer",
            "dyn.test",
            "AXFR",
        ])
        .output()
        .expect("dig axfr");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5 && f[3] == "A").then(|| (f[0].to_owned(), f[4].to_owned()))
        })
        .collect()
}

#[test]
fn names_match_the_leases_after_kill_9_during_a_dora_burst() {
    for p in ["python3", "ip", "dig"] {
        common::require(p);
    }
    let server_ns = Netns::new("s");
    let cap_ns = Netns::new("k");
    let (siface, _) = veth(&server_ns, "10.78.0.1/16", &cap_ns, "10.78.0.2/16", None);
    let server = start(&server_ns, &config(&[&siface], "template"));
    let run = RelayClients {
        local: "10.78.0.2",
        server: "10.78.0.1",
        first: 1,
        count: 5_000,
        secs: 4.0,
        option82: None,
        discover_retries: 0,
    }
    .spawn(&cap_ns);
    run.wait_acks(30, Duration::from_secs(20));
    server.signal("KILL");
    let acks = run.finish().acks;
    assert!(
        acks.len() >= 30,
        "too few ACKs before the kill: {}",
        acks.len()
    );
    let (dir, path) = server.stop_keep();
    let server = Headend::spawn_in_netns(&server_ns, dir, path);
    let listing = server.leases();
    // The store's bound leases: address → MAC.
    let bound: HashMap<String, String> = listing
        .lines()
        .filter(|l| l.contains(" bound "))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let mac = f
                .iter()
                .find(|w| w.len() == 17 && w.matches(':').count() == 5)?;
            Some((f[0].to_owned(), mac.replace(':', "")))
        })
        .collect();
    let label = |mac: &str| format!("cm-{}.dyn.test.", mac.replace(':', ""));
    // Every ACKed lease has its name (after the restart's reconciliation).
    let ok = eventually(30, || {
        let records: HashMap<String, String> = zone_a_records(&server_ns).into_iter().collect();
        acks.iter()
            .all(|(mac, ip)| records.get(&label(mac)) == Some(ip))
    });
    let records = zone_a_records(&server_ns);
    assert!(
        ok,
        "an ACKed lease lacks its name; zone has {} A records",
        records.len()
    );
    // No name points to an address not leased to its owner.
    for (owner, ip) in &records {
        let Some(mac) = owner
            .strip_prefix("cm-")
            .and_then(|r| r.strip_suffix(".dyn.test."))
        else {
            continue;
        };
        assert_eq!(
            bound.get(ip).map(String::as_str),
            Some(mac),
            "{owner} points to {ip}, which is not leased to {mac}"
        );
    }
    // Every bound lease's PTR names its owner.
    for (ip, mac) in bound.iter().take(50) {
        assert_eq!(
            short(&server_ns, &[&ptr_of(ip), "PTR"]),
            vec![format!("cm-{mac}.dyn.test.")]
        );
    }
    eprintln!(
        "{} ACKs before kill -9; {} names after restart match the {} bound leases",
        acks.len(),
        records.len() - 2,
        bound.len()
    );
}
