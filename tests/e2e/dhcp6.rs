//! DHCPv6 end to end: the real `headend` binary in a network namespace,
//! real clients (dhclient -6, dhcpcd -6, dhcrelay -6, perfdhcp -6, tftp)
//! and a scripted DOCSIS modem (tests/dhcp_tools/dhcp6_client.py) in
//! others, joined by veth pairs with link-local addresses only on the
//! client side.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::dhcp::{Netns, Proc, field, veth, wait_line};
use common::{Headend, run};

/// A namespace whose interfaces skip duplicate address detection, so
/// link-local addresses are usable at once.
fn ns6(role: &str) -> Netns {
    let ns = Netns::new(role);
    ns.exec_ok(&[
        "sysctl",
        "-qw",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.all.accept_dad=0",
    ]);
    ns
}

/// Waits until `iface` in `ns` has a usable link-local address (clients
/// and the server send from it).
fn wait_link_local(ns: &Netns, iface: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = ns.exec_ok(&["ip", "-6", "addr", "show", "dev", iface, "scope", "link"]);
        if out.contains("fe80") && !out.contains("tentative") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{iface}: no link-local address: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`veth`] with both ends' link-local addresses ready.
fn veth6(a: &Netns, a_addr: &str, b: &Netns, b_addr: &str, mac: Option<&str>) -> (String, String) {
    let (ia, ib) = veth(a, a_addr, b, b_addr, mac);
    wait_link_local(a, &ia);
    wait_link_local(b, &ib);
    (ia, ib)
}

struct Lab {
    server: Netns,
    client: Netns,
    siface: String,
    ciface: String,
    work: tempfile::TempDir,
}

fn lab(mac: Option<&str>) -> Lab {
    common::require("ip");
    let server = ns6("s");
    let client = ns6("c");
    let (siface, ciface) = veth6(&server, "2001:db8:1::1/64", &client, "", mac);
    Lab {
        server,
        client,
        siface,
        ciface,
        work: tempfile::tempdir().expect("tempdir"),
    }
}

fn config(iface: &str, extra_section: &str, extra_subnet: &str) -> String {
    format!(
        r#"
[general]
state_dir = "state"
[dhcp6]
interfaces = ["{iface}"]
rapid_commit = true
options = {{ dns_servers = ["2001:db8::53"], domain_search = ["lab.test"] }}
{extra_section}

[[dhcp6.class]]
name = "docsis"
vendor_class = "docsis3.0"
enterprise = 4491
options.cablelabs = {{ tftp_servers = ["2001:db8:1::1"], config_file = "modem.cfg", time_servers = ["2001:db8:1::37"], time_offset = -18000, syslog_servers = ["2001:db8:1::514"] }}

[[dhcp6.subnet]]
name = "lan6"
prefix = "2001:db8:1::/64"
interface = "{iface}"
{extra_subnet}
"#
    )
}

fn tool() -> PathBuf {
    common::workspace_root().join("tests/dhcp_tools/dhcp6_client.py")
}

/// Runs the scripted client in `ns`; one JSON value per output line.
fn client(ns: &Netns, iface: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let out = run(ns
        .cmd("python3")
        .arg(tool())
        .args(args)
        .args(["--iface", iface]));
    out.lines()
        .map(|l| serde_json::from_str(l).expect("client JSON"))
        .collect()
}

/// The dhclient variables the hook records.
const VARS: &[&str] = &[
    "new_ip6_address",
    "new_ip6_prefix",
    "new_dhcp6_name_servers",
    "new_dhcp6_domain_search",
    "new_max_life",
];

fn hook(dir: &Path, out: &Path) -> PathBuf {
    common::dhcp::hook_script(dir, "dhclient6.sh", out, VARS)
}

fn dhclient(lab: &Lab, extra: &[&str], out: &Path) -> Command {
    let d = lab.work.path();
    let mut c = lab.client.cmd("dhclient");
    c.args(["-6", "-d", "-v"])
        .args(extra)
        .arg("-lf")
        .arg(d.join("dhclient6.leases"))
        .arg("-pf")
        .arg(d.join("dhclient6.pid"))
        .arg("-sf")
        .arg(hook(d, out))
        .arg(&lab.ciface);
    c
}

fn leases_line<'a>(listing: &'a str, what: &str) -> Option<&'a str> {
    listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(what))
}

/// Waits until `headend leases` lists `what` with `state`.
fn wait_state(server: &Headend, what: &str, state: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let listing = server.leases();
        if let Some(l) = leases_line(&listing, what)
            && l.split_whitespace().any(|w| w == state)
        {
            return l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{what} not {state} within {timeout:?}:\n{listing}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dhclient_gets_reserved_address_and_prefix_renews_and_releases() {
    common::require("dhclient");
    let mac = "02:66:00:00:00:42";
    let lab = lab(Some(mac));
    let cfg = config(
        &lab.siface,
        "preferred_secs = 4\nvalid_secs = 8",
        &format!(
            r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]
pd_pools = [{{ prefix = "2001:db8:100::/48", delegated_len = 56 }}]
reservations = [{{ hwaddr = "{mac}", address = "2001:db8:1::42" }}]"#
        ),
    );
    let server = Headend::start_in_netns(&lab.server, &cfg);
    let out = lab.work.path().join("hook.out");
    let _c = Proc::spawn(dhclient(&lab, &["-N", "-P"], &out), false);
    // The reservation by MAC (from dhclient's DUID-LLT) decides the address.
    let bound = wait_line(
        &out,
        "BOUND6 new_ip6_address=2001:db8:1::42",
        Duration::from_secs(15),
    )
    .expect("dhclient bound the reserved address");
    assert_eq!(field(&bound, "new_dhcp6_name_servers"), "2001:db8::53");
    assert_eq!(field(&bound, "new_dhcp6_domain_search"), "lab.test.");
    let pd = wait_line(
        &out,
        "BOUND6 new_ip6_address= new_ip6_prefix=2001:db8:100::/56",
        Duration::from_secs(5),
    )
    .expect("dhclient bound a delegated /56");
    assert!(!pd.is_empty());
    let line = wait_state(&server, "2001:db8:1::42", "bound", Duration::from_secs(2));
    assert!(line.contains(mac), "{line}");
    let before = server.leases();
    let expiry = |l: &str| l.split_whitespace().nth(7).map(str::to_owned);
    let first_expiry = expiry(leases_line(&before, "2001:db8:100::/56").expect("prefix listed"));
    // T1 is 2 s: the renewal extends both bindings.
    wait_line(&out, "RENEW6", Duration::from_secs(15)).expect("dhclient renewed");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = server.leases();
        if expiry(leases_line(&now, "2001:db8:100::/56").expect("prefix listed")) != first_expiry {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "renewal did not extend the prefix:\n{now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(_c);
    // dhclient -r sends RELEASE for what its lease file holds.
    let mut rel = dhclient(&lab, &["-N", "-P", "-r"], &out);
    let _ = rel.status();
    wait_state(
        &server,
        "2001:db8:1::42",
        "released",
        Duration::from_secs(10),
    );
    wait_state(
        &server,
        "2001:db8:100::/56",
        "released",
        Duration::from_secs(2),
    );
}

#[test]
fn dhcpcd_gets_address_and_prefix() {
    common::require("dhcpcd");
    let lab = lab(None);
    let cfg = config(
        &lab.siface,
        "",
        r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]
pd_pools = [{ prefix = "2001:db8:200::/48", delegated_len = 60 }]"#,
    );
    let server = Headend::start_in_netns(&lab.server, &cfg);
    let d = lab.work.path();
    let conf = d.join("dhcpcd.conf");
    std::fs::write(
        &conf,
        format!(
            "noipv6rs\nipv6only\nnohook resolv.conf\ninterface {i}\n  iaid 7\n  ia_na 1\n  ia_pd 2 -\n",
            i = lab.ciface
        ),
    )
    .expect("conf");
    let mut c = lab.client.cmd("dhcpcd");
    c.args(["-6", "-B", "-1", "-t", "15", "-f"])
        .arg(&conf)
        .args(["--script", "/bin/true"])
        .arg(&lab.ciface);
    let mut p = Proc::spawn(c, true);
    let deadline = Instant::now() + Duration::from_secs(20);
    let listing = loop {
        let l = server.leases();
        if l.lines()
            .any(|x| x.starts_with("2001:db8:1::1") && x.contains(" bound "))
            && l.lines()
                .any(|x| x.starts_with("2001:db8:200:") && x.contains("/60"))
        {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "dhcpcd bound no address and prefix:\n{l}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = p.wait_timeout(Duration::from_millis(10));
    // dhcpcd put the address on its interface.
    let addr = listing
        .lines()
        .find(|x| x.starts_with("2001:db8:1::1"))
        .and_then(|x| x.split_whitespace().next())
        .expect("address")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lab
        .client
        .exec_ok(&["ip", "-6", "addr", "show", "dev", &lab.ciface])
        .contains(&addr)
    {
        assert!(Instant::now() < deadline, "dhcpcd did not configure {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dhcpcd_renews_and_releases_address_and_prefix() {
    common::require("dhcpcd");
    let lab = lab(None);
    let cfg = config(
        &lab.siface,
        "preferred_secs = 4\nvalid_secs = 8",
        r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]
pd_pools = [{ prefix = "2001:db8:200::/48", delegated_len = 60 }]"#,
    );
    let server = Headend::start_in_netns(&lab.server, &cfg);
    let d = lab.work.path();
    let conf = d.join("dhcpcd.conf");
    std::fs::write(
        &conf,
        format!(
            "noipv6rs\nipv6only\nnohook resolv.conf\ninterface {i}\n  iaid 9\n  ia_na 1\n  ia_pd 2 -\n",
            i = lab.ciface
        ),
    )
    .expect("conf");
    let mut c = lab.client.cmd("dhcpcd");
    c.args(["-6", "-B", "-t", "15", "-f"])
        .arg(&conf)
        .args(["--script", "/bin/true"])
        .arg(&lab.ciface);
    let _p = Proc::spawn(c, true);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (addr, prefix) = loop {
        let l = server.leases();
        let first = |start: &str| {
            l.lines()
                .find(|x| x.starts_with(start) && x.contains(" bound "))
                .and_then(|x| x.split_whitespace().next())
                .map(str::to_owned)
        };
        if let (Some(a), Some(p)) = (first("2001:db8:1::1"), first("2001:db8:200:")) {
            break (a, p);
        }
        assert!(
            Instant::now() < deadline,
            "dhcpcd bound no address and prefix:\n{l}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // T1 is 2 s: dhcpcd's RENEW pushes both expiries forward.
    let expiry = |what: &str| {
        let l = server.leases();
        leases_line(&l, what)
            .and_then(|x| x.split_whitespace().nth(7))
            .map(str::to_owned)
    };
    let (a0, p0) = (expiry(&addr), expiry(&prefix));
    let deadline = Instant::now() + Duration::from_secs(10);
    while expiry(&addr) == a0 || expiry(&prefix) == p0 {
        assert!(
            Instant::now() < deadline,
            "dhcpcd did not renew {addr} and {prefix}:\n{}",
            server.leases()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `dhcpcd -k`: the running dhcpcd releases its bindings (RELEASE).
    let out = lab
        .client
        .cmd("dhcpcd")
        .args(["-6", "-k", "-f"])
        .arg(&conf)
        .arg(&lab.ciface)
        .output()
        .expect("dhcpcd -k");
    eprintln!(
        "dhcpcd -k: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wait_state(&server, &addr, "released", Duration::from_secs(10));
    wait_state(&server, &prefix, "released", Duration::from_secs(2));
}

#[test]
fn docsis_modem_gets_cablelabs_options_then_its_config_by_tftp() {
    for p in ["python3", "tftp"] {
        common::require(p);
    }
    let lab = lab(None);
    let duid = "0003000102aa000000a1";
    let cfg = format!(
        "{}\n[tftp]\nlisten = [\"[2001:db8:1::1]:69\"]\nroot = \"root\"\n",
        config(
            &lab.siface,
            "",
            &format!(
                r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]
reservations = [{{ duid = "{duid}", address = "2001:db8:1::a1" }}]"#
            ),
        )
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("root")).expect("root");
    let body: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("root/modem.cfg"), &body).expect("cfg");
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, cfg).expect("config");
    let server = Headend::spawn_in_netns(&lab.server, dir, path);
    let r = client(
        &lab.client,
        &lab.ciface,
        &["exchange", "--duid", duid, "--vendor", "docsis3.0"],
    );
    let reply = &r[0]["reply"];
    assert_eq!(reply["type"], 7, "{r:?}");
    // Reserved by DUID.
    assert_eq!(reply["addrs"][0], "2001:db8:1::a1", "{r:?}");
    let cl = &reply["vendor"]["4491"];
    assert_eq!(cl["32"][0], "2001:db8:1::1", "{r:?}");
    assert_eq!(cl["33"], "modem.cfg");
    assert_eq!(cl["34"][0], "2001:db8:1::514");
    assert_eq!(cl["37"][0], "2001:db8:1::37");
    assert_eq!(cl["38"], -18000);
    let line = wait_state(&server, "2001:db8:1::a1", "bound", Duration::from_secs(2));
    assert!(line.trim_end().ends_with("docsis"), "{line}");
    // A client without the vendor class gets no option 17.
    let plain = client(&lab.client, &lab.ciface, &["exchange", "--rapid"]);
    assert_eq!(
        plain[0]["reply"]["vendor"],
        serde_json::json!({}),
        "{plain:?}"
    );
    // The modem takes its address and fetches the file it was told, from
    // the TFTP server it was told, over IPv6.
    lab.client.exec_ok(&[
        "ip",
        "addr",
        "add",
        "2001:db8:1::a1/64",
        "dev",
        &lab.ciface,
        "nodad",
    ]);
    let got = lab.work.path().join("got.cfg");
    run(lab
        .client
        .cmd("tftp")
        .args([
            "-6",
            "-m",
            "binary",
            "2001:db8:1::1",
            "-c",
            "get",
            "modem.cfg",
        ])
        .arg(&got));
    assert_eq!(std::fs::read(&got).expect("fetched"), body);
}

fn hex_le(v: u32) -> String {
    v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn relayed_through_dhcrelay_with_interface_id() {
    for p in ["dhcrelay", "dhclient"] {
        common::require(p);
    }
    let server = ns6("s");
    let relay = ns6("r");
    let cl = ns6("c");
    let (s_up, r_up) = veth6(
        &server,
        "2001:db8:f::1/64",
        &relay,
        "2001:db8:f::2/64",
        None,
    );
    let (r_down, c_if) = veth6(&relay, "2001:db8:2::1/64", &cl, "", None);
    relay.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // ISC dhcrelay -I sends its own number of the downstream interface
    // (1 for the only -l interface, a host-order 32-bit integer) as the
    // interface-id, not the kernel's index.
    let interface_id = format!("hex:{}", hex_le(1));
    let cfg = format!(
        r#"
[general]
state_dir = "state"
[dhcp6]
interfaces = ["{s_up}"]

[[dhcp6.class]]
name = "port"
interface_id = "{interface_id}"
options = {{ domain_search = ["relayed.test"] }}

[[dhcp6.subnet]]
name = "remote"
prefix = "2001:db8:2::/64"
pools = ["2001:db8:2::100-2001:db8:2::1ff"]
"#
    );
    let server_h = Headend::start_in_netns(&server, &cfg);
    let mut r = relay.cmd("dhcrelay");
    r.args(["-6", "-d", "-I", "-l", &r_down, "-u"])
        .arg(format!("2001:db8:f::1%{r_up}"));
    let _relay = Proc::spawn(r, false);
    // The relay is ready once it listens on the server port downstream.
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay
        .exec_ok(&["ss", "-Hlun", "sport = :547"])
        .trim()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "dhcrelay did not open port 547 within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("hook.out");
    let mut c = cl.cmd("dhclient");
    c.args(["-6", "-d", "-v", "-lf"])
        .arg(work.path().join("l"))
        .arg("-pf")
        .arg(work.path().join("p"))
        .arg("-sf")
        .arg(hook(work.path(), &out))
        .arg(&c_if);
    let _c = Proc::spawn(c, false);
    let bound =
        wait_line(&out, "BOUND6", Duration::from_secs(20)).expect("bound through the relay");
    let addr = field(&bound, "new_ip6_address");
    assert!(addr.starts_with("2001:db8:2::1"), "{bound}");
    // The class matched on the relay's interface-id (option 18), and the
    // reply reached the client, so the interface-id came back to the relay.
    assert_eq!(
        field(&bound, "new_dhcp6_domain_search"),
        "relayed.test.",
        "{bound}"
    );
    let line = wait_state(&server_h, &addr, "bound", Duration::from_secs(2));
    assert!(
        line.contains("remote") && line.trim_end().ends_with("port"),
        "{line}"
    );
}

#[test]
fn exhausted_pools_answer_noaddrsavail_and_noprefixavail() {
    common::require("python3");
    let lab = lab(None);
    let cfg = config(
        &lab.siface,
        "",
        r#"pools = ["2001:db8:1::100-2001:db8:1::102"]
pd_pools = [{ prefix = "2001:db8:300::/62", delegated_len = 64 }]"#,
    );
    let _server = Headend::start_in_netns(&lab.server, &cfg);
    let r = client(
        &lab.client,
        &lab.ciface,
        &["exchange", "--pd", "--rapid", "--count", "6"],
    );
    let granted: Vec<_> = r
        .iter()
        .filter(|x| !x["reply"]["addrs"].as_array().unwrap().is_empty())
        .collect();
    let prefixed: Vec<_> = r
        .iter()
        .filter(|x| !x["reply"]["prefixes"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(granted.len(), 3, "3 addresses in the pool: {r:?}");
    assert_eq!(prefixed.len(), 4, "4 /64s in the /62: {r:?}");
    let last = &r[5]["reply"]["status"];
    // NoAddrsAvail (2) in the IA_NA, NoPrefixAvail (6) in the IA_PD.
    assert_eq!(last, &serde_json::json!([2, 6]), "{r:?}");
    let fifth = &r[4]["reply"]["status"];
    assert_eq!(fifth, &serde_json::json!([2, 6]), "{r:?}");
}

/// `/metrics` of the server in `ns` (loopback: no token needed).
fn scrape(ns: &Netns) -> String {
    let out = ns
        .cmd("curl")
        .args(["-sk", "--max-time", "10", "https://127.0.0.1:8443/metrics"])
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl /metrics failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first sample of `name` whose labels contain every `k="v"` of `want`.
fn sample(text: &str, name: &str, want: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (labels, value) = l.strip_prefix(name)?.rsplit_once(' ')?;
            if !(labels.is_empty() || labels.starts_with('{')) {
                return None;
            }
            want.iter()
                .all(|w| labels.contains(w))
                .then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("{name} {want:?} missing:\n{text}"))
}

#[test]
fn malformed_flood_does_not_stop_service_and_is_counted_on_metrics() {
    for p in ["python3", "curl", "promtool"] {
        common::require(p);
    }
    let lab = lab(None);
    let cfg = config(
        &lab.siface,
        "",
        r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]
pd_pools = [{ prefix = "2001:db8:300::/62", delegated_len = 64 }]

[admin]
listen = "127.0.0.1:8443"
argon2 = { memory_kib = 1024, iterations = 1, parallelism = 1 }"#,
    );
    let server = Headend::start_in_netns(&lab.server, &cfg);
    let f = client(&lab.client, &lab.ciface, &["flood", "--count", "20000"]);
    assert_eq!(f[0]["sent"], 20000);
    let r = client(
        &lab.client,
        &lab.ciface,
        &["exchange", "--pd", "--timeout", "10"],
    );
    assert_eq!(r[0]["reply"]["type"], 7, "{r:?}");
    assert!(
        !r[0]["reply"]["addrs"].as_array().unwrap().is_empty(),
        "{r:?}"
    );
    assert!(server.count_logs("panicked") == 0);
    // Every kind of garbage the flood sends is dropped under its reason;
    // the exchange is counted by type; the pools show the bindings.
    let text = scrape(&lab.server);
    let out = {
        use std::io::Write as _;
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        child.wait_with_output().expect("promtool")
    };
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dropped = |reason: &str| {
        sample(
            &text,
            "headend_dhcp6_dropped_total",
            &[&format!("reason=\"{reason}\"")],
        )
    };
    let malformed: f64 = [
        "short",
        "option_overrun",
        "not_for_server",
        "no_relay_message",
        "too_many_hops",
        "bad_ia",
    ]
    .iter()
    .map(|r| dropped(r))
    .sum();
    assert!(malformed >= 10_000.0, "malformed counted: {malformed}");
    for reason in ["short", "option_overrun", "too_many_hops"] {
        assert!(dropped(reason) > 0.0, "{reason} never counted:\n{text}");
    }
    assert!(sample(&text, "headend_dhcp6_datagrams_received_total", &[]) >= malformed + 2.0);
    assert!(
        sample(
            &text,
            "headend_dhcp6_packets_received_total",
            &["type=\"solicit\""]
        ) >= 1.0
    );
    assert!(
        sample(
            &text,
            "headend_dhcp6_packets_sent_total",
            &["type=\"reply\""]
        ) >= 1.0
    );
    let na = ["subnet=\"lan6\"", "kind=\"na\""];
    let pd = ["subnet=\"lan6\"", "kind=\"pd\""];
    assert_eq!(sample(&text, "headend_dhcp6_pool_size", &na), 256.0);
    assert_eq!(sample(&text, "headend_dhcp6_pool_leased", &na), 1.0);
    assert_eq!(sample(&text, "headend_dhcp6_pool_size", &pd), 4.0);
    assert_eq!(sample(&text, "headend_dhcp6_pool_leased", &pd), 1.0);
}

#[test]
fn every_replied_binding_survives_kill_9_under_perfdhcp_load() {
    for p in ["perfdhcp", "python3"] {
        common::require(p);
    }
    let server_ns = ns6("s");
    let load_ns = ns6("l");
    let cap_ns = ns6("k");
    let (s_load, l_if) = veth6(&server_ns, "2001:db8:a::1/64", &load_ns, "", None);
    let (s_cap, k_if) = veth6(&server_ns, "2001:db8:b::1/64", &cap_ns, "", None);
    let cfg = format!(
        r#"
[general]
state_dir = "state"
[dhcp6]
interfaces = ["{s_load}", "{s_cap}"]
rate_limit = {{ per_second = 100.0, burst = 100 }}

[[dhcp6.subnet]]
name = "load"
prefix = "2001:db8:a::/64"
interface = "{s_load}"
pools = ["2001:db8:a::1:0-2001:db8:a::ff:ffff"]
pd_pools = [{{ prefix = "2001:db8:a000::/36", delegated_len = 56 }}]

[[dhcp6.subnet]]
name = "capture"
prefix = "2001:db8:b::/64"
interface = "{s_cap}"
pools = ["2001:db8:b::1:0-2001:db8:b::ff:ffff"]
pd_pools = [{{ prefix = "2001:db8:b000::/36", delegated_len = 56 }}]
"#
    );
    let server = Headend::start_in_netns(&server_ns, &cfg);
    let mut load = load_ns.cmd("perfdhcp");
    load.args(["-6", "-r", "500", "-R", "20000", "-p", "8", "-l", &l_if]);
    let _load = Proc::spawn(load, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .leases()
        .lines()
        .any(|l| l.starts_with("2001:db8:a::") && l.contains(" bound "))
    {
        assert!(
            Instant::now() < deadline,
            "perfdhcp -6 bound nothing within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let work = tempfile::tempdir().expect("tempdir");
    let replies = work.path().join("replies");
    let mut cap = cap_ns.cmd("python3");
    cap.arg(tool())
        .args(["load", "--pd", "--seconds", "6", "--iface", &k_if, "--out"])
        .arg(&replies);
    let mut cap = Proc::spawn(cap, false);
    // Kill once the capture has seen a good number of granting REPLYs
    // (while perfdhcp keeps the server busy).
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&replies)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 40
    {
        assert!(
            Instant::now() < deadline,
            "the capture client got fewer than 40 REPLYs within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.signal("KILL");
    assert!(
        cap.wait_timeout(Duration::from_secs(15)).is_some(),
        "capture client ended"
    );
    drop(_load);
    let text = std::fs::read_to_string(&replies).unwrap_or_default();
    let acked: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(d, a)| (a.to_owned(), d.to_owned()))
        .collect();
    assert!(
        acked.len() > 20,
        "too few REPLYs captured before the kill: {}",
        acked.len()
    );
    let (dir, path) = server.stop_keep();
    let server = Headend::spawn_in_netns(&server_ns, dir, path);
    let listing = server.leases();
    for (what, duid) in &acked {
        let line = leases_line(&listing, what)
            .unwrap_or_else(|| panic!("REPLY granted {what} to {duid}, lost in the crash"));
        let colon: String = duid
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":");
        assert!(
            line.contains(&colon) && line.contains(" bound "),
            "REPLY granted {what} to {duid}, store has: {line}"
        );
    }
    eprintln!(
        "{} bindings replied before kill -9, all durable",
        acked.len()
    );
}

/// Two headend servers on one PostgreSQL database, each serving its own
/// link from the same subnet and pools: scripted clients on both links at
/// once never get one address or prefix twice, and every granted binding
/// is a `bound` row of its client in the shared store.
#[test]
fn two_servers_on_shared_postgresql_never_grant_one_binding_twice() {
    common::require("python3");
    let db = crate::store_postgres::pg_cluster::Db::new();
    let mut links = Vec::new();
    for me in ["a", "b"] {
        let lab = lab(None);
        let cfg = format!(
            r#"
[general]
state_dir = "state-{me}"
[store]
backend = "postgres"
url = "{url}"
pool = 2
[dhcp6]
interfaces = ["{iface}"]
rapid_commit = true

[[dhcp6.subnet]]
name = "lan6"
prefix = "2001:db8:1::/64"
interface = "{iface}"
pools = ["2001:db8:1::100-2001:db8:1::1ff"]
pd_pools = [{{ prefix = "2001:db8:400::/48", delegated_len = 56 }}]
"#,
            url = db.socket_url(),
            iface = lab.siface,
        );
        let server = Headend::start_in_netns(&lab.server, &cfg);
        links.push((lab, server));
    }
    // Both links' clients at once: 30 Rapid Commit exchanges each.
    let results: Vec<Vec<serde_json::Value>> = std::thread::scope(|s| {
        let runs: Vec<_> = links
            .iter()
            .map(|(lab, _)| {
                s.spawn(|| {
                    client(
                        &lab.client,
                        &lab.ciface,
                        &["exchange", "--pd", "--rapid", "--count", "30"],
                    )
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("client"))
            .collect()
    });
    let mut granted: HashMap<String, String> = HashMap::new();
    for r in results.iter().flatten() {
        let duid = r["duid"].as_str().expect("duid").to_owned();
        for key in ["addrs", "prefixes"] {
            for a in r["reply"][key].as_array().into_iter().flatten() {
                let a = a.as_str().expect("address").to_owned();
                if let Some(other) = granted.insert(a.clone(), duid.clone()) {
                    panic!("{a} granted to {other} and to {duid}");
                }
            }
        }
    }
    assert_eq!(
        granted.len(),
        120,
        "60 addresses and 60 prefixes: {results:?}"
    );
    let rows: HashMap<String, headend_store::Lease6> = db
        .store()
        .leases6()
        .expect("bindings")
        .into_iter()
        .map(|l| {
            let key = if l.prefix_len == 128 {
                l.address.to_string()
            } else {
                format!("{}/{}", l.address, l.prefix_len)
            };
            (key, l)
        })
        .collect();
    for (what, duid) in &granted {
        let row = rows
            .get(what)
            .unwrap_or_else(|| panic!("{what} granted to {duid}, not in the store"));
        let stored: String = row.duid.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(stored, *duid, "{what}");
        assert_eq!(row.state, headend_store::LeaseState::Bound, "{what}");
    }
}

/// `headend ctl` (inside the server's namespace) with `input` on stdin;
/// panics with its stderr on failure, answers its stdout.
fn ctl6(ns: &Netns, dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    let bin = common::headend_bin();
    let mut c = ns.cmd(bin.to_str().expect("path"));
    c.arg("ctl")
        .args(args)
        .env("HEADEND_CTL_DIR", dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("headend ctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("stdin");
    let out = child.wait_with_output().expect("headend ctl");
    assert!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `[admin]` section the ctl tests add (listening in the server's
/// namespace).
const ADMIN: &str = r#"
[admin]
listen = "127.0.0.1:8443"
argon2 = { memory_kib = 1024, iterations = 1, parallelism = 1 }
"#;

/// Adds an operator to `server` and logs `ctl` in as it; the ctl folder.
fn ctl_login(lab: &Lab, server: &Headend) -> tempfile::TempDir {
    let pw = "correct horse battery";
    let mut add = Command::new(common::headend_bin());
    add.args(["user", "-c"])
        .arg(&server.config)
        .args(["add", "op", "--role", "operator", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = add.spawn().expect("headend user");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{pw}\n").as_bytes())
            .expect("stdin");
    }
    let out = child.wait_with_output().expect("headend user");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ctl6(
        &lab.server,
        d,
        &[
            "login",
            "https://127.0.0.1:8443",
            "--user",
            "op",
            "--password-stdin",
        ],
        &format!("{pw}\n"),
    );
    dir
}

/// An operator reserves an address and a prefix for a DUID with `ctl
/// reservation6 add`; the client gets both at its next exchange; `ctl
/// lease6 list` shows them and `ctl lease6 release` ends the address.
#[test]
fn ctl_reservation6_is_given_to_its_client_and_ctl_lease6_lists_and_releases() {
    common::require("python3");
    let lab = lab(None);
    let cfg = config(
        &lab.siface,
        "",
        r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]
pd_pools = [{ prefix = "2001:db8:500::/48", delegated_len = 56 }]

[admin]
listen = "127.0.0.1:8443"
argon2 = { memory_kib = 1024, iterations = 1, parallelism = 1 }"#,
    );
    let server = Headend::start_in_netns(&lab.server, &cfg);
    let dir = ctl_login(&lab, &server);
    let d = dir.path();
    let duid = "00:03:00:01:02:aa:00:00:00:77";
    let said = ctl6(
        &lab.server,
        d,
        &[
            "reservation6",
            "add",
            "lan6",
            "--duid",
            duid,
            "--address",
            "2001:db8:1::77",
            "--prefix",
            "2001:db8:500:7700::/56",
        ],
        "",
    );
    assert!(said.contains("2001:db8:1::77"), "{said}");
    let listed = ctl6(&lab.server, d, &["reservation6", "list"], "");
    assert!(
        listed.contains(duid) && listed.contains("2001:db8:500:7700::/56"),
        "{listed}"
    );
    // A prefix of the wrong size for its pool is refused with the reason.
    let bin = common::headend_bin();
    let bad = lab
        .server
        .cmd(bin.to_str().expect("path"))
        .args([
            "ctl",
            "reservation6",
            "add",
            "lan6",
            "--duid",
            "00:03:00:01:02:aa:00:00:00:78",
            "--prefix",
            "2001:db8:500:7800::/60",
        ])
        .env("HEADEND_CTL_DIR", d)
        .output()
        .expect("ctl");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("delegates /56"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let r = client(
        &lab.client,
        &lab.ciface,
        &["exchange", "--duid", duid, "--pd", "--rapid"],
    );
    let reply = &r[0]["reply"];
    assert_eq!(reply["addrs"][0], "2001:db8:1::77", "{r:?}");
    assert_eq!(reply["prefixes"][0], "2001:db8:500:7700::/56", "{r:?}");
    let leases = ctl6(
        &lab.server,
        d,
        &["lease6", "list", "--duid", duid, "--state", "bound"],
        "",
    );
    assert!(
        leases.contains("2001:db8:1::77") && leases.contains("2001:db8:500:7700::/56"),
        "{leases}"
    );
    let released = ctl6(&lab.server, d, &["lease6", "release", "2001:db8:1::77"], "");
    assert!(released.contains("now released"), "{released}");
    wait_state(
        &server,
        "2001:db8:1::77",
        "released",
        Duration::from_secs(2),
    );
}

/// The forward and `ip6.arpa` zones of the DDNS test (2001:db8:1::/48).
const FWD6: &str = "$ORIGIN dyn6.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n\
@ NS ns1\nns1 AAAA 2001:db8:1::1\n";
const REV6: &str = "$ORIGIN 1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.\n$TTL 300\n\
@ SOA ns1.dyn6.test. hostmaster.dyn6.test. 1 3600 600 86400 60\n@ NS ns1.dyn6.test.\n";

/// `dig +short` in `ns` against headend's DNS on 127.0.0.1:5300.
fn dig_short(ns: &Netns, args: &[&str]) -> Vec<String> {
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

/// Polls `dig +short` until it answers `want` (empty: no answer).
fn wait_answer(ns: &Netns, args: &[&str], want: &[String], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = dig_short(ns, args);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "dig {args:?}: {got:?}, not {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// headend in `lab`'s server namespace with DNS on 127.0.0.1:5300 serving
/// the zones above and `[dhcp6.ddns]` naming bindings in them; `section`
/// goes into `[dhcp6]`, `tail` after everything; names are reconciled
/// with the store at start and every `reconcile` seconds.
fn ddns_server(lab: &Lab, section: &str, reconcile: u64, tail: &str) -> Headend {
    let mut cfg = config(
        &lab.siface,
        &format!(
            "{section}\n[dhcp6.ddns]\nforward_zone = \"dyn6.test.\"\n\
             reverse_zones = [\"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.\"]\n\
             reconcile_secs = {reconcile}"
        ),
        r#"pools = ["2001:db8:1::100-2001:db8:1::1ff"]"#,
    );
    cfg.push_str(
        r#"
[dns]
listen = ["127.0.0.1:5300"]
[[dns.zone]]
origin = "dyn6.test"
file = "fwd.zone"
[[dns.zone]]
origin = "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
file = "rev.zone"
"#,
    );
    cfg.push_str(tail);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("fwd.zone"), FWD6).expect("zone");
    std::fs::write(dir.path().join("rev.zone"), REV6).expect("zone");
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, &cfg).expect("config");
    Headend::spawn_in_netns(&lab.server, dir, path)
}

/// A dhclient.conf sending option 39 with `name` (partial, S = 1).
fn fqdn_conf(lab: &Lab, name: &str) -> String {
    let conf = lab.work.path().join("dhclient6.conf");
    std::fs::write(
        &conf,
        format!("send fqdn.fqdn \"{name}\";\nsend fqdn.server-update on;\n"),
    )
    .expect("dhclient.conf");
    conf.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn dhclient_fqdn_gets_aaaa_and_ip6_arpa_ptr_and_release_removes_them() {
    for p in ["dhclient", "dig"] {
        common::require(p);
    }
    let lab = lab(None);
    let server = ddns_server(&lab, "", 2, ADMIN);
    // A partial name (no domain) with S = 1: the server qualifies it.
    let conf = fqdn_conf(&lab, "laptop6");
    let out = lab.work.path().join("hook.out");
    let c = Proc::spawn(dhclient(&lab, &["-N", "-cf", &conf], &out), false);
    let bound = wait_line(&out, "BOUND6 new_ip6_address=", Duration::from_secs(15))
        .expect("dhclient bound an address");
    let addr = field(&bound, "new_ip6_address");
    assert!(addr.starts_with("2001:db8:1::1"), "{bound}");
    wait_state(&server, &addr, "bound", Duration::from_secs(2));
    // The names are there once the REPLY is: AAAA, its DHCID (RFC 4701
    // type 2, DUID: base64 "AAIB" is 0x0002 then digest type 1), and the
    // ip6.arpa PTR.
    wait_answer(
        &lab.server,
        &["AAAA", "laptop6.dyn6.test"],
        std::slice::from_ref(&addr),
        5,
    );
    let dhcid = dig_short(&lab.server, &["DHCID", "laptop6.dyn6.test"]);
    assert!(
        dhcid.len() == 1 && dhcid[0].starts_with("AAIB"),
        "DHCID: {dhcid:?}"
    );
    wait_answer(
        &lab.server,
        &["-x", &addr],
        &["laptop6.dyn6.test.".to_owned()],
        5,
    );
    // The API (and `ctl lease6 list --json`) lists the binding's names.
    let dir = ctl_login(&lab, &server);
    let listed = ctl6(&lab.server, dir.path(), &["lease6", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    let row = v["leases"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["address"] == addr.as_str()))
        .unwrap_or_else(|| panic!("{addr} not listed: {listed}"));
    let names: Vec<&str> = row["dns_names"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names.first(), Some(&"laptop6.dyn6.test."), "{row}");
    assert!(
        names.get(1).is_some_and(|n| n.ends_with(".ip6.arpa.")),
        "{row}"
    );
    drop(c);
    // dhclient -r sends RELEASE: both names go.
    let mut rel = dhclient(&lab, &["-N", "-cf", &conf, "-r"], &out);
    let _ = rel.status();
    wait_state(&server, &addr, "released", Duration::from_secs(10));
    wait_answer(&lab.server, &["AAAA", "laptop6.dyn6.test"], &[], 5);
    wait_answer(&lab.server, &["-x", &addr], &[], 5);
    assert!(dig_short(&lab.server, &["DHCID", "laptop6.dyn6.test"]).is_empty());
}

#[test]
fn names_of_an_expired_binding_go_and_dhcpv4_names_in_the_same_zone_leave_them_alone() {
    for p in ["dhclient", "dig"] {
        common::require(p);
    }
    let lab = lab(None);
    lab.server
        .exec_ok(&["ip", "addr", "add", "10.79.0.1/16", "dev", &lab.siface]);
    // [dhcp.ddns] shares the forward zone and reconciles every 2 s: it
    // must keep to DHCPv4 names (DHCID types 0 and 1).
    let valid = 6;
    let tail = format!(
        r#"
[dhcp]
interfaces = ["{i}"]
server_id = "10.79.0.1"
[dhcp.ddns]
forward_zone = "dyn6.test."
reconcile_secs = 2
[[dhcp.subnet]]
name = "lan4"
subnet = "10.79.0.0/16"
interface = "{i}"
pools = ["10.79.1.0-10.79.1.255"]
"#,
        i = lab.siface
    );
    let server = ddns_server(
        &lab,
        &format!("preferred_secs = {valid}\nvalid_secs = {valid}"),
        2,
        &tail,
    );
    let conf = fqdn_conf(&lab, "gone6");
    let out = lab.work.path().join("hook.out");
    let c = Proc::spawn(dhclient(&lab, &["-N", "-cf", &conf], &out), false);
    let bound = wait_line(&out, "BOUND6 new_ip6_address=", Duration::from_secs(15))
        .expect("dhclient bound an address");
    let since = Instant::now();
    let addr = field(&bound, "new_ip6_address");
    wait_state(&server, &addr, "bound", Duration::from_secs(2));
    // The client goes away without RELEASE (SIGTERM): no renewal.
    drop(c);
    let aaaa = ["AAAA", "gone6.dyn6.test"];
    wait_answer(&lab.server, &aaaa, std::slice::from_ref(&addr), 5);
    // While the binding lives (several DHCPv4 reconciliations), the name
    // stays.
    while since.elapsed() < Duration::from_secs(valid - 1) {
        assert_eq!(
            dig_short(&lab.server, &aaaa),
            std::slice::from_ref(&addr),
            "the name went while its binding lives"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Expired: the DHCPv6 reconciliation removes the names.
    wait_answer(&lab.server, &aaaa, &[], valid + 6);
    wait_answer(&lab.server, &["-x", &addr], &[], 5);
}

#[test]
fn names_of_a_binding_that_expired_during_a_crash_go_at_start() {
    for p in ["dhclient", "dig"] {
        common::require(p);
    }
    let lab = lab(None);
    let valid = 8;
    // Reconciled at start only (within this test): the restart does it.
    let server = ddns_server(
        &lab,
        &format!("preferred_secs = {valid}\nvalid_secs = {valid}"),
        3600,
        "",
    );
    let conf = fqdn_conf(&lab, "crash6");
    let out = lab.work.path().join("hook.out");
    let c = Proc::spawn(dhclient(&lab, &["-N", "-cf", &conf], &out), false);
    let bound = wait_line(&out, "BOUND6 new_ip6_address=", Duration::from_secs(15))
        .expect("dhclient bound an address");
    let since = Instant::now();
    let addr = field(&bound, "new_ip6_address");
    let aaaa = ["AAAA", "crash6.dyn6.test"];
    wait_answer(&lab.server, &aaaa, std::slice::from_ref(&addr), 5);
    server.signal("KILL");
    drop(c);
    let (dir, path) = server.stop_keep();
    // The names outlive a kill -9 while their binding lives.
    let server = Headend::spawn_in_netns(&lab.server, dir, path);
    wait_answer(&lab.server, &aaaa, std::slice::from_ref(&addr), 3);
    server.signal("KILL");
    let (dir, path) = server.stop_keep();
    // The binding's valid lifetime ends while headend is down.
    while since.elapsed() < Duration::from_secs(valid + 1) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = Headend::spawn_in_netns(&lab.server, dir, path);
    wait_answer(&lab.server, &aaaa, &[], 5);
    wait_answer(&lab.server, &["-x", &addr], &[], 5);
    assert!(dig_short(&lab.server, &["DHCID", "crash6.dyn6.test"]).is_empty());
    drop(server);
}
