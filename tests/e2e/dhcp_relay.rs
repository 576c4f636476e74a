//! DHCP through relays: a real dhcrelay (isc-dhcp-relay, -a adds option 82)
//! in front of a second subnet, and a perfdhcp flood of random MACs through
//! one circuit-id held to its cap while another circuit still gets leases,
//! and CPEs behind one remote-id (a modem) held to that cap the same way.

use crate::common;

use std::time::Duration;

use common::Headend;
use common::dhcp::{
    Netns, Proc, RelayClients, field, hook_script, remote_id_option, veth, wait_line,
};

fn circuit_leases(listing: &str, circuit: &str) -> Vec<String> {
    listing
        .lines()
        .filter(|l| l.split_whitespace().last() == Some(circuit))
        .filter(|l| l.contains(" bound ") || l.contains(" offered "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn client_behind_dhcrelay_gets_a_lease_from_the_relay_subnet_with_option_82() {
    for p in ["dhcrelay", "udhcpc"] {
        common::require(p);
    }
    let server_ns = Netns::new("s");
    let relay_ns = Netns::new("r");
    let client_ns = Netns::new("c");
    let (siface, rup) = veth(&server_ns, "10.78.0.1/24", &relay_ns, "10.78.0.2/24", None);
    let (rdown, ciface) = veth(&relay_ns, "10.79.0.1/24", &client_ns, "", None);
    server_ns.exec_ok(&["ip", "route", "add", "10.79.0.0/24", "via", "10.78.0.2"]);
    relay_ns.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    let config = format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{siface}"]
server_id = "10.78.0.1"

[[dhcp.class]]
name = "port"
circuit_id = "{rdown}"
options = {{ domain_name = "behind-relay.test" }}

[[dhcp.subnet]]
name = "local"
subnet = "10.78.0.0/24"
interface = "{siface}"
pools = ["10.78.0.100-10.78.0.150"]

[[dhcp.subnet]]
name = "remote"
subnet = "10.79.0.0/24"
pools = ["10.79.0.100-10.79.0.150"]
options = {{ routers = ["10.79.0.1"] }}
"#
    );
    let mut server = Headend::start_in_netns(&server_ns, &config);
    // dhcrelay -a: circuit-id = the downstream interface's name.
    let mut relay = relay_ns.cmd("dhcrelay");
    relay.args(["-4", "-d", "-a", "-id", &rdown, "-iu", &rup, "10.78.0.1"]);
    // udhcpc below retries (5 tries, 1 s apart) while dhcrelay starts up.
    let _relay = Proc::spawn(relay, false);
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("relayed.out");
    let hook = hook_script(
        work.path(),
        "relayed.sh",
        &out,
        &["ip", "router", "domain", "serverid"],
    );
    let status = client_ns
        .cmd("udhcpc")
        .args([
            "-i", &ciface, "-q", "-f", "-n", "-t", "5", "-T", "1", "-O", "domain", "-s",
        ])
        .arg(&hook)
        .output()
        .expect("udhcpc");
    let bound = wait_line(&out, "bound", Duration::from_secs(1)).unwrap_or_else(|| {
        panic!(
            "no lease via relay: {}\nserver logs:\n{}",
            String::from_utf8_lossy(&status.stderr),
            server.logs().join("\n")
        )
    });
    assert!(field(&bound, "ip").starts_with("10.79.0."), "{bound}");
    assert_eq!(field(&bound, "router"), "10.79.0.1");
    // The class keyed on option 82's circuit-id matched: the server saw it.
    assert_eq!(field(&bound, "domain"), "behind-relay.test");
    let listing = server.leases();
    let line = listing
        .lines()
        .find(|l| l.starts_with(&field(&bound, "ip")))
        .expect("listed")
        .to_owned();
    assert!(
        line.contains("remote") && line.ends_with(&rdown),
        "circuit-id stored: {line}"
    );
    // One info line per lease event, as operators grep ISC dhcpd's logs.
    let ip = field(&bound, "ip");
    let logged = server.wait_for_log(&format!("DHCPACK on {ip} to "), Duration::from_secs(3));
    assert!(logged.contains("INFO"), "{logged}");
    assert!(logged.contains("via 10.79.0.1"), "{logged}");
    for want in [
        "event=grant".to_owned(),
        format!("ip={ip}"),
        "subnet=remote".to_owned(),
        "class=port".to_owned(),
        format!("circuit_id={rdown}"),
        "relay=10.79.0.1".to_owned(),
        "lease_secs=".to_owned(),
        "mac=".to_owned(),
    ] {
        assert!(logged.contains(&want), "no {want} in {logged}");
    }
}

#[test]
fn random_mac_flood_through_one_circuit_is_held_to_its_cap() {
    common::require("perfdhcp");
    let server_ns = Netns::new("s");
    let load_ns = Netns::new("p");
    let (siface, _pif) = veth(&server_ns, "10.80.0.1/24", &load_ns, "10.80.0.2/24", None);
    let config = format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{siface}"]
server_id = "10.80.0.1"
stats_interval_secs = 1

[[dhcp.subnet]]
name = "cpe"
subnet = "10.80.0.0/24"
pools = ["10.80.0.10-10.80.0.250"]
max_leases_per_circuit_id = 5
"#
    );
    let server = Headend::start_in_netns(&server_ns, &config);
    // perfdhcp acts as a relay (giaddr = 10.80.0.2) and adds option 82 with
    // sub-option 1 (circuit-id) "flood-A" to every packet of 1000 random MACs.
    let flood = load_ns
        .cmd("perfdhcp")
        .args([
            "-4",
            "-r",
            "300",
            "-R",
            "1000",
            "-p",
            "3",
            "-o",
            "82,0107666c6f6f642d41",
            "-l",
            "10.80.0.2",
            "10.80.0.1",
        ])
        .output()
        .expect("perfdhcp flood");
    let flood_out = String::from_utf8_lossy(&flood.stdout);
    let other = load_ns
        .cmd("perfdhcp")
        .args([
            "-4",
            "-r",
            "5",
            "-R",
            "3",
            "-p",
            "2",
            "-o",
            "82,0106706f72742d42",
            "-l",
            "10.80.0.2",
            "10.80.0.1",
        ])
        .output()
        .expect("perfdhcp other circuit");
    let listing = server.leases();
    let flooded = circuit_leases(&listing, "flood-A");
    assert!(
        !flooded.is_empty() && flooded.len() <= 5,
        "cap 5, got {}:\n{listing}\nperfdhcp:\n{flood_out}",
        flooded.len()
    );
    let other_leases = circuit_leases(&listing, "port-B");
    assert!(
        other_leases.iter().any(|l| l.contains(" bound ")),
        "another circuit still gets a lease:\n{listing}\n{}",
        String::from_utf8_lossy(&other.stdout)
    );
    // The refusals were counted.
    let mut server = server;
    let stats = server.wait_for_log("circuit_id_cap=", Duration::from_secs(5));
    assert!(stats.contains("dhcp stats"), "{stats}");
}

#[test]
fn clients_behind_one_remote_id_are_held_to_its_cap_and_another_remote_id_is_served() {
    common::require("python3");
    let server_ns = Netns::new("s");
    let relay_ns = Netns::new("r");
    let (siface, _) = veth(&server_ns, "10.83.0.1/24", &relay_ns, "10.83.0.2/24", None);
    let config = format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{siface}"]
server_id = "10.83.0.1"
stats_interval_secs = 1

[[dhcp.subnet]]
name = "cpe"
subnet = "10.83.0.0/24"
pools = ["10.83.0.10-10.83.0.250"]
max_leases_per_remote_id = 3
"#
    );
    let mut server = Headend::start_in_netns(&server_ns, &config);
    // The relay client (giaddr 10.83.0.2) adds option 82 with sub-option 2,
    // remote-id: eight CPEs behind modem-A, each asking once (no retries).
    let clients = |first: u32, count: u32, remote_id: &str| RelayClients {
        local: "10.83.0.2",
        server: "10.83.0.1",
        first,
        count,
        secs: 5.0,
        option82: Some(remote_id_option(remote_id)),
        discover_retries: 0,
    };
    let a = clients(1, 8, "modem-A").run(&relay_ns);
    assert_eq!(
        a.acks.len(),
        3,
        "cap 3 leases behind modem-A: {a:?}\nserver logs:\n{}",
        server.logs().join("\n")
    );
    assert_eq!(a.offers.len(), 3, "no offer beyond the cap: {a:?}");
    // The refused clients get silence (the relay client gave up on them).
    assert_eq!(a.timeouts.len(), 5, "{a:?}");
    assert!(a.naks.is_empty(), "{a:?}");

    // Another modem's CPEs are still served.
    let b = clients(100, 2, "modem-B").run(&relay_ns);
    assert_eq!(b.acks.len(), 2, "modem-B is under its own cap: {b:?}");
    assert!(
        b.acks.iter().all(|(_, ip)| ip.starts_with("10.83.0.")),
        "{b:?}"
    );
    // And modem-A stays full.
    let again = clients(200, 1, "modem-A").run(&relay_ns);
    assert!(
        again.acks.is_empty() && again.offers.is_empty(),
        "{again:?}"
    );

    // The server counted each refusal (5 + 1 DISCOVERs) as a remote-id cap.
    let stats = server.wait_for_log("remote_id_cap=6", Duration::from_secs(5));
    assert!(stats.contains("dhcp stats"), "{stats}");
    let listing = server.leases();
    let bound = listing.lines().filter(|l| l.contains(" bound ")).count();
    assert_eq!(
        bound, 5,
        "3 behind modem-A and 2 behind modem-B:\n{listing}"
    );
}

#[test]
fn sighup_under_relayed_load_loses_no_request() {
    common::require("python3");
    let server_ns = Netns::new("s");
    let relay_ns = Netns::new("r");
    let (siface, _) = veth(&server_ns, "10.84.0.1/16", &relay_ns, "10.84.0.2/16", None);
    let config = |lease: u32, domain: &str| {
        format!(
            r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{siface}"]
server_id = "10.84.0.1"

[[dhcp.subnet]]
name = "cpe"
subnet = "10.84.0.0/16"
pools = ["10.84.1.0-10.84.200.255"]
lease_time_secs = {lease}
options = {{ domain_name = "{domain}" }}
"#
        )
    };
    let mut server = Headend::start_in_netns(&server_ns, &config(3600, "round0.test"));
    // Relayed clients (giaddr 10.84.0.2), up to 32 in flight, for 4 s (fewer
    // than the pool's 51,200 addresses even at 10,000 a second); none is
    // retried, so a request dropped or left unanswered by a reload shows as a
    // TIMEOUT.
    let load = RelayClients {
        local: "10.84.0.2",
        server: "10.84.0.1",
        first: 1,
        count: 40_000,
        secs: 4.0,
        option82: None,
        discover_retries: 0,
    }
    .spawn(&relay_ns);
    // Five reloads while the load runs, each changing the subnet (lease time
    // and an option), each waited for in the log, and more clients bound
    // before the next.
    for round in 1..=5u32 {
        load.wait_acks(50 * round as usize, Duration::from_secs(5));
        std::fs::write(
            &server.config,
            config(3600 + round * 60, &format!("round{round}.test")),
        )
        .expect("rewrite config");
        server.signal("HUP");
        let line = server.wait_for_log("DHCP configuration reloaded", Duration::from_secs(5));
        assert!(line.contains("subnet \"cpe\""), "{line}");
    }
    // And the load goes on after the last one.
    load.wait_acks(load.acks_so_far() + 50, Duration::from_secs(5));
    let out = load.finish();
    assert!(
        out.timeouts.is_empty() && out.naks.is_empty(),
        "{} clients unanswered and {} NAKed across the reloads (of {} offered): {:?}",
        out.timeouts.len(),
        out.naks.len(),
        out.offers.len(),
        &out.timeouts[..out.timeouts.len().min(10)]
    );
    assert_eq!(out.acks.len(), out.offers.len(), "every offer was ACKed");
    let addresses: std::collections::HashSet<&str> =
        out.acks.iter().map(|(_, ip)| ip.as_str()).collect();
    assert_eq!(addresses.len(), out.acks.len(), "an address ACKed twice");
    assert_eq!(server.count_logs("DHCP configuration reloaded"), 5);
    eprintln!(
        "{} relayed clients bound across 5 reloads, none lost",
        out.acks.len()
    );
}
