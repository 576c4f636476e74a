//! Two headend servers answering one broadcast domain at once, on one
//! private PostgreSQL cluster (`[dhcp.ha]`): each server in its own
//! namespace, joined to the clients' namespace by a bridge. The load client
//! (tests/dhcp_tools/relay_client.py, a relay whose DISCOVERs and REQUESTs
//! are broadcast, so both servers hear them) prints every OFFER and ACK it
//! receives, so the tests count on the wire: no address ACKed to two MACs,
//! every ACK a `bound` row, every REQUEST answered; a pool of 10 gives
//! exactly 10 leases to 20 clients; in load-balancing mode each client is
//! answered by one server, and after a kill -9 the survivor takes over
//! within the configured time, with udhcpc keeping its address; a lease row
//! changed by another writer mid-batch is retried, counted and answered.

use crate::common;

#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../crates/headend-store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::Headend;
use common::dhcp::{
    Netns, Proc, RelayClients, RelayOutcome, configuring_hook, field, hook_script, veth,
};

/// Takeover time in the configs below (heartbeats every 0.5 s).
const TAKEOVER: Duration = Duration::from_secs(2);

/// The clients' namespace with a bridge (`br0`, `{net}.2`), and one
/// namespace per server, each joined to the bridge by a veth pair: server a
/// at `{net}.1` on `ia`, server b at `{net}.3` on `ib`.
struct Lan {
    clients: Netns,
    a: Netns,
    b: Netns,
    ia: String,
    ib: String,
}

impl Lan {
    fn new(net: &str) -> Self {
        let clients = Netns::new("c");
        let (a, b) = (Netns::new("a"), Netns::new("b"));
        // A fixed MAC: a bridge otherwise takes its ports' lowest, and a
        // client joined later would change it under the servers' ARP caches.
        clients.exec_ok(&[
            "ip",
            "link",
            "add",
            "br0",
            "address",
            "02:b0:00:00:00:01",
            "type",
            "bridge",
        ]);
        let (ia, ca) = veth(&a, &format!("{net}.1/24"), &clients, "", None);
        let (ib, cb) = veth(&b, &format!("{net}.3/24"), &clients, "", None);
        for port in [&ca, &cb] {
            clients.exec_ok(&["ip", "link", "set", port, "master", "br0"]);
        }
        clients.exec_ok(&["ip", "addr", "add", &format!("{net}.2/24"), "dev", "br0"]);
        clients.exec_ok(&["ip", "link", "set", "br0", "up"]);
        Self {
            clients,
            a,
            b,
            ia,
            ib,
        }
    }

    /// A client namespace on the bridge with one interface of MAC `mac`.
    fn host(&self, mac: &str) -> (Netns, String) {
        let host = Netns::new("h");
        let (port, iface) = veth(&self.clients, "", &host, "", Some(mac));
        self.clients
            .exec_ok(&["ip", "link", "set", &port, "master", "br0"]);
        (host, iface)
    }
}

/// Server `me` ("a" or "b") of the pair, on `iface` with server id `sid`.
fn config(url: &str, net: &str, me: &str, iface: &str, mode: &str, pool: &str) -> String {
    let sid = if me == "a" { "1" } else { "3" };
    format!(
        r#"
[general]
state_dir = "state-{me}"
[store]
backend = "postgres"
url = "{url}"
pool = 2
[dhcp]
interfaces = ["{iface}"]
server_id = "{net}.{sid}"
stats_interval_secs = 1
[[dhcp.subnet]]
name = "lan"
subnet = "{net}.0/24"
interface = "{iface}"
pools = ["{pool}"]
lease_time_secs = 600
[dhcp.ha]
mode = "{mode}"
this_server = "{me}"
servers = ["a", "b"]
heartbeat_secs = 0.5
takeover_secs = {}
"#,
        TAKEOVER.as_secs_f64()
    )
}

/// Both servers on `lan`, once each has seen the other's heartbeat.
fn start_both(lan: &Lan, url: &str, net: &str, mode: &str, pool: &str) -> (Headend, Headend) {
    let mut a = Headend::start_in_netns(&lan.a, &config(url, net, "a", &lan.ia, mode, pool));
    let mut b = Headend::start_in_netns(&lan.b, &config(url, net, "b", &lan.ib, mode, pool));
    a.wait_for_log("DHCP server b is alive", Duration::from_secs(10));
    b.wait_for_log("DHCP server a is alive", Duration::from_secs(10));
    (a, b)
}

/// `count` relay clients from MAC index `first`, broadcast to both servers;
/// a client without an OFFER retransmits its DISCOVER twice, 1 s apart.
fn clients(net: &str, first: u32, count: u32, secs: f64) -> RelayClients<'static> {
    let local: &'static str = Box::leak(format!("{net}.2").into_boxed_str());
    let server: &'static str = Box::leak(format!("{net}.255").into_boxed_str());
    RelayClients {
        local,
        server,
        first,
        count,
        secs,
        option82: None,
        discover_retries: 2,
    }
}

/// The `bound` rows: address → (hex MAC, server id).
fn bound(db: &pg_cluster::Db) -> HashMap<String, (String, String)> {
    db.query(
        "SELECT (address >> 24) || '.' || ((address >> 16) & 255) || '.' || ((address >> 8) & 255) \
         || '.' || (address & 255) || ' ' || encode(hwaddr, 'hex') || ' ' || coalesce(server, 0) \
         FROM dhcp_leases WHERE state = 'bound'",
    )
    .into_iter()
    .flatten()
    .filter_map(|l| {
        let mut f = l.split(' ');
        Some((
            f.next()?.to_owned(),
            (f.next()?.to_owned(), f.next()?.to_owned()),
        ))
    })
    .collect()
}

/// Checks what the wire showed against the store: no address ACKed to two
/// MACs, and every ACK a bound row of the same MAC. Answers ACKed
/// address → MAC.
fn check_acks(out: &RelayOutcome, db: &pg_cluster::Db) -> HashMap<String, String> {
    let mut by_address: HashMap<String, String> = HashMap::new();
    for (mac, ip) in &out.acks {
        if let Some(other) = by_address.insert(ip.clone(), mac.clone()) {
            assert_eq!(&other, mac, "{ip} ACKed to two MACs: {other} and {mac}");
        }
    }
    let rows = bound(db);
    for (ip, mac) in &by_address {
        let (row_mac, _) = rows
            .get(ip)
            .unwrap_or_else(|| panic!("ACKed {ip} to {mac}, but no bound row holds it"));
        assert_eq!(
            row_mac,
            &mac.replace(':', ""),
            "ACKed {ip} to {mac}, the row names another MAC"
        );
    }
    by_address
}

#[test]
fn two_servers_answer_one_lan_at_once_without_losing_a_request() {
    common::require("python3");
    let db = pg_cluster::Db::new();
    let net = "10.79.0";
    let lan = Lan::new(net);
    let (mut a, mut b) = start_both(
        &lan,
        &db.socket_url(),
        net,
        "shared",
        "10.79.0.10-10.79.0.250",
    );
    let out = clients(net, 1, 200, 8.0).run(&lan.clients);
    let acked = check_acks(&out, &db);
    // Every client that got an OFFER sent one REQUEST, and every REQUEST
    // was answered (ACK or NAK): none lost to the other server.
    let offered: HashSet<&String> = out.offers.iter().map(|(m, _)| m).collect();
    let answered: HashSet<&String> = out
        .acks
        .iter()
        .map(|(m, _)| m)
        .chain(out.naks.iter())
        .collect();
    let lost: Vec<_> = offered.difference(&answered).collect();
    assert!(lost.is_empty(), "REQUESTs unanswered: {lost:?}; {out:?}");
    assert_eq!(acked.len(), 200, "every client bound: {out:?}");
    // Both servers answered (each counted OFFERs; the slower one's often
    // reach the client after its ACK), and REQUESTs naming the other server
    // were seen (and ended only the seeing server's own offers).
    for s in [&mut a, &mut b] {
        s.wait_for_log(" offer=", Duration::from_secs(5));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.count_logs("request_for_other_server=") + b.count_logs("request_for_other_server=") == 0
    {
        assert!(
            Instant::now() < deadline,
            "no REQUEST for the other server counted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "shared: {} ACKs, {} NAKs, {} OFFERs on the wire",
        out.acks.len(),
        out.naks.len(),
        out.offers.len()
    );
}

/// Both servers may offer one client two different addresses when their
/// DISCOVER batches run at once; the declined one is freed when the REQUEST
/// naming the other server arrives, and a client still without an OFFER
/// takes it when it retransmits its DISCOVER (`discover_retries`), as real
/// clients do.
#[test]
fn pool_of_10_gives_exactly_10_leases_to_20_clients_of_two_servers() {
    common::require("python3");
    let db = pg_cluster::Db::new();
    let net = "10.77.0";
    let lan = Lan::new(net);
    let (_a, _b) = start_both(
        &lan,
        &db.socket_url(),
        net,
        "shared",
        "10.77.0.10-10.77.0.19",
    );
    let out = clients(net, 1, 20, 5.0).run(&lan.clients);
    let acked = check_acks(&out, &db);
    assert_eq!(acked.len(), 10, "exactly the pool's 10 addresses: {out:?}");
    assert_eq!(bound(&db).len(), 10);
}

#[test]
fn load_balancing_answers_each_client_once_and_the_survivor_takes_over() {
    for p in ["python3", "udhcpc"] {
        common::require(p);
    }
    let db = pg_cluster::Db::new();
    let net = "10.76.0";
    let lan = Lan::new(net);
    let (a, b) = start_both(
        &lan,
        &db.socket_url(),
        net,
        "load-balancing",
        "10.76.0.10-10.76.0.250",
    );
    let out = clients(net, 1, 100, 6.0).run(&lan.clients);
    check_acks(&out, &db);
    assert_eq!(
        out.acks.len(),
        100,
        "every client bound: {out:?}\nlogs:\n{}\n{}",
        a.logs().join("\n"),
        b.logs().join("\n")
    );
    // One OFFER per client: the other server stayed silent.
    let mut offers: HashMap<&String, usize> = HashMap::new();
    for (mac, _) in &out.offers {
        *offers.entry(mac).or_default() += 1;
    }
    assert!(
        offers.values().all(|n| *n == 1),
        "a client offered twice: {offers:?}"
    );
    let servers: HashSet<String> = bound(&db).into_values().map(|(_, s)| s).collect();
    assert_eq!(servers.len(), 2, "both servers have clients: {servers:?}");

    // udhcpc gets a lease from its server, which is then killed.
    let work = tempfile::tempdir().expect("tempdir");
    let (host, iface) = lan.host("02:bb:00:00:00:27");
    let first = udhcpc(&host, &iface, work.path(), "first", None);
    let (address, server_id) = (field(&first, "ip"), field(&first, "serverid"));
    let (dead, mut survivor) = if server_id == format!("{net}.1") {
        (a, b)
    } else {
        (b, a)
    };
    survivor.mark_log();
    let killed = Instant::now();
    dead.signal("KILL");
    survivor.wait_for_log("is down", TAKEOVER + Duration::from_secs(3));
    let took = killed.elapsed();
    assert!(
        took <= TAKEOVER + Duration::from_millis(1500),
        "takeover after {took:?}, configured {TAKEOVER:?} (+ one heartbeat)"
    );
    // The survivor answers every client now, and udhcpc keeps its address.
    let after = clients(net, 1000, 50, 4.0).run(&lan.clients);
    check_acks(&after, &db);
    assert_eq!(after.acks.len(), 50, "survivor answers all: {after:?}");
    let again = udhcpc(&host, &iface, work.path(), "again", Some(&address));
    assert_eq!(field(&again, "ip"), address, "udhcpc keeps its address");
    assert_ne!(field(&again, "serverid"), server_id, "from the survivor");
    eprintln!("load-balancing: takeover {took:?} after kill -9");
}

/// Another writer (here a second PostgreSQL session, as the other server
/// would be) changes a lease row between this server's read of it and its
/// write: a serialization failure. The batch is decided again and answered,
/// and the conflict and its retry are counted (the same counters /metrics
/// exports as `headend_store_conflicts_total` and
/// `headend_store_conflict_retries_total`).
#[test]
fn a_lease_row_changed_by_another_writer_mid_batch_is_retried_counted_and_answered() {
    common::require("python3");
    let db = pg_cluster::Db::new();
    let net = "10.74.0";
    let lan = Lan::new(net);
    let mut a = Headend::start_in_netns(
        &lan.a,
        &config(
            &db.socket_url(),
            net,
            "a",
            &lan.ia,
            "shared",
            "10.74.0.10-10.74.0.20",
        ),
    );
    let first = clients(net, 1, 1, 1.0).run(&lan.clients);
    assert_eq!(first.acks.len(), 1, "a first lease: {first:?}");
    let ip = first.acks[0].1.clone();
    let numeric = ip
        .split('.')
        .map(|o| o.parse::<i64>().expect("octet"))
        .fold(0i64, |n, o| n * 256 + o);
    let before = a.wait_for_log("dhcp stats:", Duration::from_secs(5));
    assert!(!before.contains("conflicts="), "no conflict yet: {before}");
    // The other writer changes the row and holds it, uncommitted, while
    // the same client comes back: the server reads the row, then waits on
    // it to write; the other writer commits first.
    let mut other =
        postgres::Client::connect(&db.socket_url(), postgres::NoTls).expect("second session");
    let mut tx = other.transaction().expect("BEGIN");
    let changed = tx
        .execute(
            "UPDATE dhcp_leases SET updated = updated WHERE address = $1",
            &[&numeric],
        )
        .expect("UPDATE");
    assert_eq!(changed, 1, "the row of {ip}");
    let again = clients(net, 1, 1, 1.0).spawn(&lan.clients);
    // The server's write waits on the row: commit the other change then.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.value(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE wait_event_type = 'Lock' AND datname = current_database()",
    ) == "0"
    {
        assert!(
            Instant::now() < deadline,
            "the server never waited on the held row:\n{}",
            a.logs().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    tx.commit().expect("COMMIT");
    let out = again.finish();
    assert_eq!(
        out.acks,
        vec![(first.acks[0].0.clone(), ip)],
        "the client is answered after the retry, with its address: {out:?}\n{}",
        a.logs().join("\n")
    );
    a.wait_for_log(" conflicts=1 conflict_retries=1", Duration::from_secs(5));
    check_acks(&out, &db);
}

#[test]
fn kill_9_of_one_server_under_load_leaves_the_other_serving_and_clients_keep_addresses() {
    for p in ["python3", "udhcpc", "dhclient"] {
        common::require(p);
    }
    let db = pg_cluster::Db::new();
    let net = "10.75.0";
    let lan = Lan::new(net);
    let (a, _b) = start_both(
        &lan,
        &db.socket_url(),
        net,
        "shared",
        "10.75.0.10-10.75.0.250",
    );
    let work = tempfile::tempdir().expect("tempdir");
    let (uh, ui) = lan.host("02:bb:00:00:00:31");
    let (dh, di) = lan.host("02:bb:00:00:00:32");
    let u_addr = field(&udhcpc(&uh, &ui, work.path(), "u1", None), "ip");
    let d_addr = field(&dhclient(&dh, &di, work.path(), "d1"), "new_ip_address");
    // Server a is killed while the load client is being answered.
    let load = clients(net, 1, 120, 6.0).spawn(&lan.clients);
    load.wait_acks(50, Duration::from_secs(10));
    a.signal("KILL");
    let out = load.finish();
    check_acks(&out, &db);
    // b goes on alone: new clients, and udhcpc and dhclient keep their
    // addresses (INIT-REBOOT / requested address) from b.
    let after = clients(net, 5000, 50, 4.0).run(&lan.clients);
    check_acks(&after, &db);
    assert_eq!(
        after.acks.len(),
        50,
        "b answers every new client: {after:?}\nb's log:\n{}",
        _b.logs().join("\n")
    );
    let again = udhcpc(&uh, &ui, work.path(), "u2", Some(&u_addr));
    assert_eq!(field(&again, "ip"), u_addr, "udhcpc keeps its address");
    assert_eq!(field(&again, "serverid"), format!("{net}.3"));
    let d_again = dhclient(&dh, &di, work.path(), "d2");
    assert_eq!(
        field(&d_again, "new_ip_address"),
        d_addr,
        "dhclient keeps its address"
    );
    eprintln!(
        "kill -9 under load: {} ACKs before/around the kill, all durable",
        out.acks.len()
    );
}

/// Runs dhclient once in `ns` on `iface` (its lease file kept in `work`,
/// so a second run asks for the same address); returns its hook's BOUND or
/// REBOOT line.
fn dhclient(ns: &Netns, iface: &str, work: &std::path::Path, name: &str) -> String {
    let out = work.join(format!("{name}.out"));
    let hook = hook_script(work, &format!("{name}.sh"), &out, &["new_ip_address"]);
    let mut cmd = ns.cmd("dhclient");
    cmd.args(["-4", "-d", "-1", "-sf"])
        .arg(&hook)
        .arg("-lf")
        .arg(work.join("dhclient.leases"))
        .arg("-pf")
        .arg(work.join(format!("{name}.pid")))
        .arg(iface);
    let _client = Proc::spawn(cmd, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(l) = text
            .lines()
            .find(|l| l.starts_with("BOUND") || l.starts_with("REBOOT"))
        {
            return l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "dhclient {name}: no lease: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs udhcpc once in `ns` on `iface` (asking for `request`, if given);
/// returns the hook's `bound` line.
fn udhcpc(
    ns: &Netns,
    iface: &str,
    work: &std::path::Path,
    name: &str,
    request: Option<&str>,
) -> String {
    let out = work.join(format!("{name}.out"));
    let hook = configuring_hook(work, name, &out);
    let mut cmd = ns.cmd("udhcpc");
    cmd.args(["-i", iface, "-q", "-f", "-n", "-t", "5", "-T", "1", "-s"])
        .arg(&hook);
    if let Some(ip) = request {
        cmd.args(["-r", ip]);
    }
    let status = cmd.output().expect("run udhcpc");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("bound"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "udhcpc {name}: no lease: {text}\n{}",
                String::from_utf8_lossy(&status.stderr)
            )
        })
}
