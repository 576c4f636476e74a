//! Crash durability: under perfdhcp load, the server is killed with SIGKILL;
//! after a restart every address that was ACKed (captured by a relay-style
//! client that prints each ACK as it arrives) is in the store for the same
//! client, and none is handed to another client.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::Headend;
use common::dhcp::{Netns, Proc, RelayClients, veth};

/// Runs the capture client in `ns` (its address 10.82.0.2 is the relay);
/// returns (OFFERs, ACKs) as (mac, address). `kill_after`: SIGKILL the server
/// that long after the client started.
fn capture(
    ns: &Netns,
    first: u32,
    count: u32,
    secs: f64,
    kill_after: Option<(Duration, &Headend)>,
) -> (Vec<Pair>, Vec<Pair>) {
    let run = RelayClients {
        local: "10.82.0.2",
        server: "10.82.0.1",
        first,
        count,
        secs,
        option82: None,
        discover_retries: 0,
    }
    .spawn(ns);
    if let Some((after, server)) = kill_after {
        std::thread::sleep(after);
        server.signal("KILL");
    }
    let out = run.finish();
    (out.offers, out.acks)
}

/// (client MAC, address) as printed by the capture client.
type Pair = (String, String);

#[test]
fn every_acked_lease_survives_kill_9_under_load() {
    for p in ["perfdhcp", "python3"] {
        common::require(p);
    }
    let server_ns = Netns::new("s");
    let load_ns = Netns::new("l");
    let cap_ns = Netns::new("k");
    let (s_load, _) = veth(&server_ns, "10.81.0.1/16", &load_ns, "10.81.0.2/16", None);
    let (s_cap, _) = veth(&server_ns, "10.82.0.1/16", &cap_ns, "10.82.0.2/16", None);
    let config = format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{s_load}", "{s_cap}"]
server_id = "10.81.0.1"

[[dhcp.subnet]]
name = "load"
subnet = "10.81.0.0/16"
pools = ["10.81.1.0-10.81.200.255"]

[[dhcp.subnet]]
name = "capture"
subnet = "10.82.0.0/16"
server_id = "10.82.0.1"
pools = ["10.82.1.0-10.82.100.255"]
"#
    );
    let server = Headend::start_in_netns(&server_ns, &config);
    let mut load = load_ns.cmd("perfdhcp");
    load.args([
        "-4",
        "-r",
        "2000",
        "-R",
        "20000",
        "-p",
        "8",
        "-l",
        "10.81.0.2",
        "10.81.0.1",
    ]);
    let _load = Proc::spawn(load, false);
    // The kill must land under load: wait until perfdhcp's clients are bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server
        .leases()
        .lines()
        .any(|l| l.starts_with("10.81.") && l.contains(" bound "))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "perfdhcp bound no lease within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, acks) = capture(
        &cap_ns,
        1,
        20_000,
        5.0,
        Some((Duration::from_secs(2), &server)),
    );
    assert!(
        acks.len() > 50,
        "too few ACKs captured before the kill: {}",
        acks.len()
    );
    drop(_load);
    let (dir, config_path) = server.stop_keep();
    let server = Headend::spawn_in_netns(&server_ns, dir, config_path);
    let listing = server.leases();
    let acked: HashMap<String, String> =
        acks.iter().map(|(m, ip)| (ip.clone(), m.clone())).collect();
    let rows: HashMap<&str, &str> = listing
        .lines()
        .filter_map(|l| Some((l.split_whitespace().next()?, l)))
        .collect();
    for (ip, mac) in &acked {
        let line = rows
            .get(ip.as_str())
            .copied()
            .unwrap_or_else(|| panic!("ACKed {ip} ({mac}) lost in the crash"));
        assert!(
            line.contains(mac.as_str()) && line.contains(" bound "),
            "ACKed {ip} to {mac}, store has: {line}"
        );
    }
    // New clients after the restart are never given an ACKed address.
    let (offers, new_acks) = capture(&cap_ns, 1_000_000, 300, 4.0, None);
    assert!(!new_acks.is_empty(), "server answers after the restart");
    for (mac, ip) in offers.iter().chain(&new_acks) {
        assert!(
            !acked.contains_key(ip),
            "{ip} was ACKed before the crash and is now offered to {mac}"
        );
    }
    eprintln!(
        "{} ACKs captured before kill -9, all durable; {} new clients after restart",
        acked.len(),
        new_acks.len()
    );
}
