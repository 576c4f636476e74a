//! DHCP end to end with real clients (udhcpc, dhclient, dhcpcd) directly
//! attached to the real `headend` binary, each test in its own network
//! namespaces joined by a veth pair.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::dhcp::{
    Netns, Proc, configuring_hook, field, hook_script, lease_line, veth, wait_line,
};
use common::{Headend, run};

struct Lab {
    server: Netns,
    client: Netns,
    siface: String,
    ciface: String,
    work: tempfile::TempDir,
}

fn lab(mac: Option<&str>) -> Lab {
    for p in ["udhcpc", "ip"] {
        common::require(p);
    }
    let server = Netns::new("s");
    let client = Netns::new("c");
    let (siface, ciface) = veth(&server, "10.77.0.1/24", &client, "", mac);
    Lab {
        server,
        client,
        siface,
        ciface,
        work: tempfile::tempdir().expect("tempdir"),
    }
}

fn config(iface: &str, subnet_extra: &str) -> String {
    format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{iface}"]
server_id = "10.77.0.1"
stats_interval_secs = 1
exhaustion_log_secs = 60

[[dhcp.class]]
name = "ipxe"
user_class = "iPXE"
boot_file = "http://10.77.0.5/boot.ipxe"

[[dhcp.class]]
name = "docsis"
vendor_class = "docsis"
options = {{ tftp_server_name = "10.77.0.5", bootfile_name = "modem.cfg", time_offset = -18000, time_servers = ["10.77.0.6"], log_servers = ["10.77.0.7"] }}

[[dhcp.class]]
name = "bios"
arch = [0]
boot_file = "undionly.kpxe"

[[dhcp.class]]
name = "uefi"
arch = [7, 9]
boot_file = "ipxe.efi"

[[dhcp.subnet]]
name = "lan"
subnet = "10.77.0.0/24"
interface = "{iface}"
next_server = "10.77.0.5"
options = {{ routers = ["10.77.0.1"], domain_name_servers = ["10.77.0.53"], domain_name = "lab.test" }}
{subnet_extra}
"#
    )
}

const POOL: &str = "pools = [\"10.77.0.100-10.77.0.150\"]";

impl Lab {
    /// Runs dhclient in the client namespace with `conf` as its
    /// dhclient.conf and `hook` as its script, until the hook writes a
    /// BOUND line to `out`; returns that line (the client is stopped).
    fn dhclient(&self, conf: &str, hook: &std::path::Path, out: &std::path::Path) -> String {
        let dir = self.work.path();
        let conf_file = dir.join("dhclient.conf");
        std::fs::write(&conf_file, conf).expect("conf");
        let mut cmd = self.client.cmd("dhclient");
        cmd.args(["-4", "-d", "-1", "-cf"])
            .arg(&conf_file)
            .arg("-sf")
            .arg(hook)
            .arg("-lf")
            .arg(dir.join("leases"))
            .arg("-pf")
            .arg(dir.join("pid"))
            .arg(&self.ciface);
        let _client = Proc::spawn(cmd, false);
        wait_line(out, "BOUND", Duration::from_secs(30)).expect("dhclient BOUND")
    }

    /// Runs udhcpc once (-q: quit when bound) with extra arguments; returns
    /// the hook's `bound` line, or None if no lease was obtained.
    fn udhcpc(&self, name: &str, extra: &[&str]) -> Option<String> {
        let out = self.work.path().join(format!("{name}.out"));
        let hook = configuring_hook(self.work.path(), name, &out);
        let status = self
            .client
            .cmd("udhcpc")
            .args([
                "-i",
                &self.ciface,
                "-q",
                "-f",
                "-n",
                "-t",
                "3",
                "-T",
                "1",
                "-s",
            ])
            .arg(&hook)
            .args(extra)
            .output()
            .expect("run udhcpc");
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let bound = text
            .lines()
            .find(|l| l.starts_with("bound"))
            .map(str::to_owned);
        assert_eq!(
            status.status.success(),
            bound.is_some(),
            "udhcpc: {text}\n{}",
            String::from_utf8_lossy(&status.stderr)
        );
        bound
    }
}

#[test]
fn udhcpc_gets_a_lease_with_the_subnet_options_and_it_is_listed() {
    let lab = lab(Some("02:aa:00:00:00:01"));
    let server = Headend::start_in_netns(&lab.server, &config(&lab.siface, POOL));
    let bound = lab.udhcpc("plain", &[]).expect("lease");
    assert_eq!(field(&bound, "ip"), "10.77.0.100");
    assert_eq!(field(&bound, "subnet"), "255.255.255.0");
    assert_eq!(field(&bound, "router"), "10.77.0.1");
    assert_eq!(field(&bound, "dns"), "10.77.0.53");
    assert_eq!(field(&bound, "serverid"), "10.77.0.1");
    assert_eq!(field(&bound, "lease"), "86400");
    assert_eq!(field(&bound, "siaddr"), "10.77.0.5");
    let line = lease_line(&server.leases(), "10.77.0.100").expect("listed");
    assert!(
        line.contains("02:aa:00:00:00:01") && line.contains("bound") && line.contains("lan"),
        "{line}"
    );
}

#[test]
fn dhclient_gets_a_lease() {
    common::require("dhclient");
    let lab = lab(None);
    let _server = Headend::start_in_netns(&lab.server, &config(&lab.siface, POOL));
    let dir = lab.work.path();
    let out = dir.join("dhclient.out");
    let hook = hook_script(
        dir,
        "dhclient.sh",
        &out,
        &[
            "new_ip_address",
            "new_routers",
            "new_domain_name_servers",
            "new_domain_name",
        ],
    );
    let line = lab.dhclient(
        "request subnet-mask, routers, domain-name-servers, domain-name;\n",
        &hook,
        &out,
    );
    assert_eq!(field(&line, "new_ip_address"), "10.77.0.100");
    assert_eq!(field(&line, "new_routers"), "10.77.0.1");
    assert_eq!(field(&line, "new_domain_name_servers"), "10.77.0.53");
    assert_eq!(field(&line, "new_domain_name"), "lab.test");
}

/// Option 52 (RFC 2132 §9.3) with a real client: the subnet's options do not
/// fit a 576-octet reply, so the server carries some in the `file` field,
/// and dhclient (which reads overloaded replies) gets every value intact.
#[test]
fn dhclient_reads_options_overloaded_into_the_file_field() {
    common::require("dhclient");
    let lab = lab(None);
    let domain = (1..=9)
        .map(|i| format!("overload{i:02}."))
        .collect::<String>()
        + "lab.test";
    let ntp: Vec<String> = (1..=30).map(|i| format!("10.77.1.{i}")).collect();
    let dns: Vec<String> = (1..=20).map(|i| format!("10.77.2.{i}")).collect();
    // Octets of these options alone (code and length each) against the
    // room of a 576-octet message: 576 - 28 (IP, UDP) - 240 (header and
    // cookie) - 1 (END) = 307. They cannot all go in the options field,
    // and each fits the `file` field (127 octets, one kept for its END).
    let sizes = [2 + domain.len(), 2 + 4 * ntp.len(), 2 + 4 * dns.len()];
    assert!(sizes.iter().sum::<usize>() > 307, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 126), "{sizes:?}");
    let quoted = |v: &[String]| {
        v.iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let subnet = format!(
        "{POOL}\n[dhcp.subnet.options]\nrouters = [\"10.77.0.1\"]\ndomain_name = \"{domain}\"\nntp_servers = [{}]\ndomain_name_servers = [{}]\n",
        quoted(&ntp),
        quoted(&dns)
    );
    let config = config(&lab.siface, &subnet).replace(
        "options = { routers = [\"10.77.0.1\"], domain_name_servers = [\"10.77.0.53\"], domain_name = \"lab.test\" }",
        "",
    );
    let _server = Headend::start_in_netns(&lab.server, &config);
    let dir = lab.work.path();
    let out = dir.join("dhclient.out");
    // Lists come space-separated: the hook joins them with commas so each
    // stays one field of the line.
    let hook = dir.join("dhclient.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nj() {{ echo \"$1\" | tr ' ' ','; }}\necho \"$reason new_ip_address=$new_ip_address new_domain_name=$new_domain_name new_ntp_servers=$(j \"$new_ntp_servers\") new_domain_name_servers=$(j \"$new_domain_name_servers\")\" >> {}\nexit 0\n",
            out.display()
        ),
    )
    .expect("hook");
    run(Command::new("chmod").arg("755").arg(&hook));
    let line = lab.dhclient(
        "send dhcp-max-message-size 576;\nrequest subnet-mask, routers, domain-name-servers, domain-name, ntp-servers;\n",
        &hook,
        &out,
    );
    assert_eq!(field(&line, "new_ip_address"), "10.77.0.100", "{line}");
    assert_eq!(field(&line, "new_domain_name"), domain, "{line}");
    assert_eq!(field(&line, "new_ntp_servers"), ntp.join(","), "{line}");
    assert_eq!(
        field(&line, "new_domain_name_servers"),
        dns.join(","),
        "{line}"
    );
}

#[test]
fn dhcpcd_gets_a_lease() {
    common::require("dhcpcd");
    let lab = lab(None);
    let _server = Headend::start_in_netns(&lab.server, &config(&lab.siface, POOL));
    let dir = lab.work.path();
    let out = dir.join("dhcpcd.out");
    let hook = hook_script(
        dir,
        "dhcpcd.sh",
        &out,
        &["new_ip_address", "new_routers", "new_domain_name_servers"],
    );
    let conf = dir.join("dhcpcd.conf");
    std::fs::write(&conf, "option routers, domain_name_servers\n").expect("conf");
    // dhcpcd -T may crash after its hook and leave privsep helpers: run it in
    // its own process group and stop that group.
    let mut cmd = lab.client.cmd("dhcpcd");
    cmd.args(["-4", "-T", "-t", "20", "-f"])
        .arg(&conf)
        .arg("-c")
        .arg(&hook)
        .arg(&lab.ciface);
    let _client = Proc::spawn(cmd, true);
    let line = wait_line(&out, "TEST", Duration::from_secs(30)).expect("dhcpcd TEST hook");
    assert_eq!(field(&line, "new_ip_address"), "10.77.0.100");
    assert_eq!(field(&line, "new_routers"), "10.77.0.1");
    assert_eq!(field(&line, "new_domain_name_servers"), "10.77.0.53");
}

#[test]
fn classes_pick_modem_options_and_pxe_boot_files() {
    let lab = lab(None);
    let _server = Headend::start_in_netns(&lab.server, &config(&lab.siface, POOL));
    let modem = lab
        .udhcpc(
            "modem",
            &[
                "-V",
                "docsis3.0",
                "-O",
                "tftp",
                "-O",
                "bootfile",
                "-O",
                "timezone",
                "-O",
                "4",
                "-O",
                "7",
            ],
        )
        .expect("modem lease");
    assert_eq!(field(&modem, "tftp"), "10.77.0.5");
    assert_eq!(field(&modem, "bootfile"), "modem.cfg");
    // busybox prints option 2 as unsigned: -18000 is 2^32 - 18000.
    assert_eq!(field(&modem, "timezone"), "4294949296");
    assert_eq!(field(&modem, "opt4"), "0a4d0006", "option 4, 10.77.0.6");
    assert_eq!(field(&modem, "opt7"), "0a4d0007", "option 7, 10.77.0.7");
    let bios = lab
        .udhcpc("bios", &["-x", "0x5d:0000"])
        .expect("bios lease");
    assert_eq!(field(&bios, "boot_file"), "undionly.kpxe");
    assert_eq!(field(&bios, "tftp"), "", "no modem options for a PC");
    let uefi = lab
        .udhcpc("uefi", &["-x", "0x5d:0007"])
        .expect("uefi lease");
    assert_eq!(field(&uefi, "boot_file"), "ipxe.efi");
    let ipxe = lab
        .udhcpc("ipxe", &["-x", "0x5d:0007", "-x", "0x4d:69505845"])
        .expect("ipxe lease");
    assert_eq!(field(&ipxe, "boot_file"), "http://10.77.0.5/boot.ipxe");
}

#[test]
fn reservation_by_mac_gets_the_fixed_address_and_host_name() {
    let lab = lab(Some("02:aa:00:00:00:42"));
    let extra = format!(
        "{POOL}\n[[dhcp.subnet.reservation]]\nmac = \"02:aa:00:00:00:42\"\naddress = \"10.77.0.42\"\nhostname = \"printer\"\n"
    );
    let _server = Headend::start_in_netns(&lab.server, &config(&lab.siface, &extra));
    let bound = lab.udhcpc("res", &["-O", "hostname"]).expect("lease");
    assert_eq!(field(&bound, "ip"), "10.77.0.42");
    assert_eq!(field(&bound, "hostname"), "printer");
}

#[test]
fn release_frees_the_address_for_another_client() {
    let lab = lab(None);
    let one = "pools = [\"10.77.0.100-10.77.0.100\"]";
    let server = Headend::start_in_netns(&lab.server, &config(&lab.siface, one));
    let dir = lab.work.path();
    let out = dir.join("a.out");
    let hook = configuring_hook(dir, "a", &out);
    let mut cmd = lab.client.cmd("udhcpc");
    cmd.args([
        "-i",
        &lab.ciface,
        "-f",
        "-t",
        "3",
        "-T",
        "1",
        "-x",
        "0x3d:ff00000000000a",
        "-s",
    ])
    .arg(&hook);
    let client = Proc::spawn(cmd, false);
    let a = wait_line(&out, "bound", Duration::from_secs(20)).expect("lease a");
    assert_eq!(field(&a, "ip"), "10.77.0.100");
    // SIGUSR2: udhcpc sends DHCPRELEASE.
    run(Command::new("kill").args(["-USR2", &client.child.id().to_string()]));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let line = lease_line(&server.leases(), "10.77.0.100").expect("listed");
        if line.contains("released") || std::time::Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(line.contains("released"), "{line}");
    drop(client);
    let b = lab
        .udhcpc("b", &["-x", "0x3d:ff00000000000b"])
        .expect("lease b after release");
    assert_eq!(field(&b, "ip"), "10.77.0.100");
}

#[test]
fn declined_address_is_quarantined() {
    let lab = lab(None);
    let two = "pools = [\"10.77.0.100-10.77.0.101\"]";
    let server = Headend::start_in_netns(&lab.server, &config(&lab.siface, two));
    // Someone already uses .100 on the wire: the client's ARP probe (-a) sees
    // it and sends DHCPDECLINE, then starts over.
    lab.server
        .exec_ok(&["ip", "addr", "add", "10.77.0.100/32", "dev", &lab.siface]);
    let bound = lab.udhcpc("arp", &["-a"]).expect("lease after decline");
    assert_eq!(field(&bound, "ip"), "10.77.0.101");
    let listing = server.leases();
    assert!(
        lease_line(&listing, "10.77.0.100")
            .expect("listed")
            .contains("declined"),
        "{listing}"
    );
    // The quarantined address is not offered again while the pool is otherwise full.
    assert!(
        lab.udhcpc("other", &["-x", "0x3d:ff00000000000c"])
            .is_none()
    );
}

#[test]
fn renewal_keeps_the_address_and_restart_keeps_leases() {
    let lab = lab(None);
    let short = format!("{POOL}\nlease_time_secs = 8\n");
    let server = Headend::start_in_netns(&lab.server, &config(&lab.siface, &short));
    let dir = lab.work.path();
    let out = dir.join("renew.out");
    let hook = configuring_hook(dir, "renew", &out);
    let mut cmd = lab.client.cmd("udhcpc");
    cmd.args(["-i", &lab.ciface, "-f", "-t", "3", "-T", "1", "-s"])
        .arg(&hook);
    let client = Proc::spawn(cmd, false);
    let bound = wait_line(&out, "bound", Duration::from_secs(20)).expect("bound");
    // udhcpc renews at T1 (4 s) by unicast; the hook then reports "renew".
    let renew = wait_line(&out, "renew", Duration::from_secs(20)).expect("renewed");
    assert_eq!(field(&renew, "ip"), field(&bound, "ip"));
    drop(client);
    let before = lease_line(&server.leases(), &field(&bound, "ip")).expect("listed");
    let (dir_keep, config_path) = server.stop_keep();
    let server = Headend::spawn_in_netns(&lab.server, dir_keep, config_path);
    let after =
        lease_line(&server.leases(), &field(&bound, "ip")).expect("still listed after restart");
    assert_eq!(before, after);
    let again = lab.udhcpc("again", &[]).expect("lease after restart");
    assert_eq!(field(&again, "ip"), field(&bound, "ip"));
}

#[test]
fn expired_lease_goes_to_a_new_client_and_a_full_pool_gives_no_offer() {
    let lab = lab(None);
    // The lease outlasts b1's whole retry cycle (3 tries, about 3-4 s) by a
    // wide margin even on a loaded runner; b2 asks only once it has expired.
    const LEASE: Duration = Duration::from_secs(10);
    let one = format!(
        "pools = [\"10.77.0.100-10.77.0.100\"]\nlease_time_secs = {}\n",
        LEASE.as_secs()
    );
    let mut server = Headend::start_in_netns(&lab.server, &config(&lab.siface, &one));
    let asked = std::time::Instant::now();
    let a = lab
        .udhcpc("a", &["-x", "0x3d:ff00000000000a"])
        .expect("lease a");
    assert_eq!(field(&a, "ip"), "10.77.0.100");
    assert!(
        lab.udhcpc("b1", &["-x", "0x3d:ff00000000000b"]).is_none(),
        "full pool: no offer"
    );
    assert!(
        asked.elapsed() < LEASE,
        "b1's retries outlasted a's lease: the no-offer check proved nothing"
    );
    let warn = server.wait_for_log("pool exhausted", Duration::from_secs(5));
    assert!(warn.contains("lan"), "{warn}");
    if let Some(left) = (LEASE + Duration::from_secs(1)).checked_sub(asked.elapsed()) {
        std::thread::sleep(left);
    }
    let b = lab
        .udhcpc("b2", &["-x", "0x3d:ff00000000000b"])
        .expect("lease b after expiry");
    assert_eq!(field(&b, "ip"), "10.77.0.100");
}

#[test]
fn malformed_packets_are_dropped_and_counted_and_service_goes_on() {
    common::require("python3");
    let lab = lab(None);
    let mut server = Headend::start_in_netns(&lab.server, &config(&lab.siface, POOL));
    lab.client
        .exec_ok(&["ip", "addr", "add", "10.77.0.9/24", "dev", &lab.ciface]);
    // A valid DISCOVER, then broken variants of it, sent from the client side.
    let script = r#"
import socket, struct
def discover(opts=b"\x35\x01\x01", hops=0, cookie=b"\x63\x82\x53\x63"):
    head = struct.pack(">BBBBIHH", 1, 1, 6, hops, 7, 0, 0) + b"\0" * 16 + b"\x02\xbb\0\0\0\x01" + b"\0" * 202
    return head + cookie + opts + b"\xff"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in [discover(cookie=b"\0\0\0\0"), discover()[:100], discover(opts=b"\x35\x01\x01\x0c\xc8a"),
          discover(hops=9), discover(opts=b""), discover(opts=b"\x35\x01\x63"), discover()]:
    s.sendto(p, ("10.77.0.1", 67))
"#;
    lab.client.exec_ok(&["python3", "-c", script]);
    let stats = server.wait_for_log("offer=1", Duration::from_secs(5));
    for counter in [
        "bad_cookie=1",
        "truncated=1",
        "bad_options=1",
        "too_many_hops=1",
        "bootp_dropped=1",
        "bad_message_type=1",
    ] {
        assert!(stats.contains(counter), "{counter} missing from: {stats}");
    }
}

#[test]
fn sighup_applies_a_changed_dhcp_section_without_dropping_leases() {
    let lab = lab(None);
    let mut server = Headend::start_in_netns(&lab.server, &config(&lab.siface, POOL));
    let before = lab
        .udhcpc("before", &["-x", "0x5d:0007"])
        .expect("uefi lease");
    assert_eq!(field(&before, "boot_file"), "ipxe.efi");
    let address = field(&before, "ip");

    // The operator edits the file: a new UEFI boot file and a second pool.
    let edited = config(
        &lab.siface,
        "pools = [\"10.77.0.100-10.77.0.150\", \"10.77.0.200-10.77.0.210\"]",
    )
    .replace("boot_file = \"ipxe.efi\"", "boot_file = \"snponly.efi\"");
    std::fs::write(&server.config, &edited).unwrap();
    server.signal("HUP");
    server.wait_for_log("DHCP configuration reloaded", Duration::from_secs(10));
    let after = lab
        .udhcpc("after", &["-x", "0x5d:0007"])
        .expect("uefi lease after the reload");
    assert_eq!(field(&after, "boot_file"), "snponly.efi");
    assert_eq!(field(&after, "ip"), address, "the client keeps its lease");

    // A broken edit is refused with the key named; the running config stays.
    std::fs::write(
        &server.config,
        edited.replace("pools = [", "pools = [\"10.99.0.1-10.99.0.9\", "),
    )
    .unwrap();
    server.signal("HUP");
    let refused = server.wait_for_log("reload refused", Duration::from_secs(10));
    assert!(refused.contains("pools"), "{refused}");
    let still = lab
        .udhcpc("still", &["-x", "0x5d:0007"])
        .expect("uefi lease after a refused reload");
    assert_eq!(field(&still, "boot_file"), "snponly.efi");
    assert!(server.leases().contains(&address), "{}", server.leases());
}

/// A lease the client neither renews nor releases ends with one info line
/// (`event=expiry`), like the grant before it, with the client's fields.
#[test]
fn a_lease_that_runs_out_is_logged_as_an_expiry() {
    let lab = lab(Some("02:aa:00:00:00:77"));
    let extra = format!("{POOL}\nlease_time_secs = 4");
    let mut server = Headend::start_in_netns(&lab.server, &config(&lab.siface, &extra));
    // udhcpc -q exits once bound, without a release: the lease runs out.
    let bound = lab.udhcpc("expiring", &[]).expect("lease");
    assert_eq!(field(&bound, "lease"), "4");
    let ip = field(&bound, "ip");
    let granted = server.wait_for_log(&format!("DHCPACK on {ip} to "), Duration::from_secs(3));
    assert!(granted.contains("event=grant"), "{granted}");
    // 4 s of lease, then at most one 5 s scan.
    let line = server.wait_for_log(
        &format!("lease {ip} of 02:aa:00:00:00:77 expired"),
        Duration::from_secs(15),
    );
    for want in [
        "INFO",
        "headend::lease",
        "event=expiry",
        "mac=02:aa:00:00:00:77",
        &format!("ip={ip}"),
        "subnet=lan",
        "expired_at=",
    ] {
        assert!(line.contains(want), "no {want} in {line}");
    }
    assert_eq!(
        server
            .logs()
            .iter()
            .filter(|l| l.contains("event=expiry"))
            .count(),
        1,
        "one expiry line"
    );
}
