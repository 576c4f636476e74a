//! headend on PostgreSQL (`[store] backend = "postgres"`): the real binary,
//! a private PostgreSQL cluster, and udhcpc in network namespaces. Two
//! headend servers with separate state directories run at once on one
//! database: a lease handed out by the first is listed by the second's API,
//! a user added through one logs in through each, and a server started in
//! place of the first keeps the client's address.

use crate::common;

#[allow(dead_code)]
#[path = "../../crates/headend-store/tests/pg_cluster/mod.rs"]
pub(crate) mod pg_cluster;

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
    format!("{}[dhcp]{}", store_config(url, state), dhcp_config(iface))
}

/// `[general]` and `[store]` on the shared database, with an admin API on
/// `127.0.0.1:{admin_port}` (in whatever namespace the server runs).
/// Servers sharing a store share the key-encryption key `kek` too.
fn admin_config(url: &str, state: &str, admin_port: u16, kek: &std::path::Path) -> String {
    format!(
        "{}[admin]\nlisten = \"127.0.0.1:{admin_port}\"\nkek_file = \"{}\"\n[admin.argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
        store_config(url, state),
        kek.display()
    )
}

fn store_config(url: &str, state: &str) -> String {
    format!(
        r#"
[general]
state_dir = "{state}"
[store]
backend = "postgres"
url = "{url}"
pool = 2
"#
    )
}

fn dhcp_config(iface: &str) -> String {
    format!(
        r#"
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

/// Logs `user` in through the admin API at `127.0.0.1:port` with curl run by
/// `curl` (plain, or inside a namespace); returns the access token.
fn login(mut curl: Command, port: u16, user: &str, password: &str) -> String {
    let out = curl
        .args([
            "-sk",
            "--max-time",
            "10",
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(format!(
            "{{\"username\":\"{user}\",\"password\":\"{password}\"}}"
        ))
        .arg(format!("https://127.0.0.1:{port}/api/v1/auth/login"))
        .output()
        .expect("run curl");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "login on port {port}: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login on port {port} refused: {body}"))
        .to_owned()
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

    // Server A (DHCP and admin, in the server namespace) and server B (admin
    // only, in this namespace) run at once on the same database.
    let (port_a, port_b) = (common::free_port(), common::free_port());
    let kek = crate::admin_keys_shared::shared_kek(work.path());
    let mut a = Headend::start_in_netns(
        &server_ns,
        &format!(
            "{}[dhcp]{}",
            admin_config(&db.socket_url(), "state-a", port_a, &kek),
            dhcp_config(&siface)
        ),
    );
    a.wait_for_log("store open", std::time::Duration::from_secs(5));
    let b = Headend::start(&admin_config(&db.socket_url(), "state-b", port_b, &kek));

    // A hands out a lease; nothing about it is kept in A's state dir.
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

    // The user added through A logs in through each running server, and B's
    // API lists the lease A handed out.
    let password = "a long enough passphrase";
    let _token_a = login(server_ns.cmd("curl"), port_a, "carol", password);
    let token_b = login(Command::new("curl"), port_b, "carol", password);
    let listing = run(Command::new("curl")
        .args(["-sk", "--max-time", "10", "-H"])
        .arg(format!("authorization: Bearer {token_b}"))
        .arg(format!("https://127.0.0.1:{port_b}/api/v1/leases")));
    assert!(
        listing.contains(&address) && listing.to_lowercase().contains(MAC),
        "B's API lists A's lease: {listing}"
    );
    drop(b);
    a.stop();

    // Server C takes A's place: another process, another state dir, the
    // same database.
    let b = Headend::start_in_netns(&server_ns, &config(&siface, &db.socket_url(), "state-c"));
    let listing = b.leases();
    assert!(
        listing.contains(&address) && listing.contains(MAC),
        "C lists A's lease: {listing}"
    );
    let again = udhcpc(&client_ns, &ciface, work.path(), "again");
    assert_eq!(
        field(&again, "ip"),
        address,
        "the client keeps its address on C"
    );
    let users = run(Command::new(headend_bin())
        .args(["user", "--config"])
        .arg(&b.config)
        .arg("list"));
    assert!(
        users.contains("carol"),
        "C sees the user added through A: {users}"
    );
}
