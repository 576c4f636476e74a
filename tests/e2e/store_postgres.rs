//! headend on PostgreSQL (`[store] backend = "postgres"`): the real binary,
//! a private PostgreSQL cluster, and udhcpc in network namespaces. Two
//! headend servers with separate state directories share one database: a
//! lease handed out by the first is the second's, users added through one
//! are seen through the other, and a restart loses nothing.

use crate::common;

#[allow(dead_code)]
#[path = "../../crates/headend-store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::process::Command;

use common::dhcp::{Netns, configuring_hook, field, veth};
use common::{Headend, headend_bin, run};

/// `Command::output`, with `input` written to the child's stdin.
trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> std::process::Output;
}

impl OutputWithStdin for Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> std::process::Output {
        use std::io::Write as _;
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input).expect("write stdin");
        }
        child.wait_with_output().expect("wait")
    }
}

const MAC: &str = "02:bb:00:00:00:07";

fn config(iface: &str, url: &str, state: &str) -> String {
    format!(
        r#"
[general]
state_dir = "{state}"
[store]
backend = "postgres"
url = "{url}"
pool = 2
[dhcp]
interfaces = ["{iface}"]
server_id = "10.78.0.1"
[[dhcp.subnet]]
name = "lan"
subnet = "10.78.0.0/24"
interface = "{iface}"
pools = ["10.78.0.100-10.78.0.150"]
options = {{ routers = ["10.78.0.1"] }}
"#
    )
}

/// Runs udhcpc once in `client` on `iface`; returns the hook's `bound` line.
fn udhcpc(client: &Netns, iface: &str, work: &std::path::Path, name: &str) -> String {
    let out = work.join(format!("{name}.out"));
    let hook = configuring_hook(work, name, &out);
    let status = client
        .cmd("udhcpc")
        .args(["-i", iface, "-q", "-f", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&hook)
        .output()
        .expect("run udhcpc");
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

#[test]
fn two_servers_share_leases_and_users_through_postgresql() {
    for p in ["udhcpc", "ip"] {
        common::require(p);
    }
    let db = pg_cluster::Db::new();
    let server_ns = Netns::new("s");
    let client_ns = Netns::new("c");
    let (siface, ciface) = veth(&server_ns, "10.78.0.1/24", &client_ns, "", Some(MAC));
    let work = tempfile::tempdir().expect("tempdir");

    // Server A hands out a lease; nothing about it is kept in A's state dir.
    let mut a = Headend::start_in_netns(&server_ns, &config(&siface, &db.socket_url(), "state-a"));
    a.wait_for_log("store open", std::time::Duration::from_secs(5));
    let first = udhcpc(&client_ns, &ciface, work.path(), "first");
    let address = field(&first, "ip");
    assert_eq!(
        db.value("SELECT count(*) FROM dhcp_leases WHERE state = 'bound'"),
        "1",
        "the lease row is in PostgreSQL"
    );
    assert!(
        !a.dir.path().join("state-a/headend.db").exists(),
        "no SQLite file when the store is PostgreSQL"
    );
    let mut add = Command::new(headend_bin())
        .args(["user", "--config"])
        .arg(&a.config)
        .args(["add", "carol", "--role", "operator", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .output_with_stdin(b"a long enough passphrase\n");
    assert!(
        add.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&add.stderr)
    );
    add.stdout.clear();
    a.stop();

    // Server B: another process, another state dir, the same database.
    let b = Headend::start_in_netns(&server_ns, &config(&siface, &db.socket_url(), "state-b"));
    let listing = b.leases();
    assert!(
        listing.contains(&address) && listing.contains(MAC),
        "B lists A's lease: {listing}"
    );
    let again = udhcpc(&client_ns, &ciface, work.path(), "again");
    assert_eq!(
        field(&again, "ip"),
        address,
        "the client keeps its address on B"
    );
    let users = run(Command::new(headend_bin())
        .args(["user", "--config"])
        .arg(&b.config)
        .arg("list"));
    assert!(
        users.contains("carol"),
        "B sees the user added through A: {users}"
    );
}
