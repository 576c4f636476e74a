//! The cable-modem provisioning flow end to end, in network namespaces: a
//! modem (udhcpc with vendor class docsis3.0) gets an address with options 66
//! and 67 from headend's DHCP, then fetches its config file by TFTP (tftp-hpa)
//! from the server option 66 names. The per-modem file is rendered from a
//! template with the modem's lease (with the real lease lookup of the
//! binary, `lease.class` included), and `bind_to_lease` refuses each of two leased modems the
//! other's file (theft of service).

use crate::common;

use std::time::Duration;

use common::dhcp::{Netns, configuring_hook, field, veth, wait_line};
use common::{Headend, require};

const MAC: &str = "02:00:5e:10:99:01";
const MAC2: &str = "02:00:5e:10:98:02";
/// What tftp-hpa prints for headend's refusal of a file bound to another
/// device (TFTP ERROR 2, access violation).
const REFUSED: &str = "Error code 2: access violation: file bound to another device";

/// A modem boots: DHCP with option 60 = docsis3.0, asking for 66 and 67.
/// Returns (address, TFTP server, boot file name).
fn boot(
    modem: &Netns,
    iface: &str,
    work: &std::path::Path,
    name: &str,
) -> (String, String, String) {
    let out = work.join(format!("{name}.out"));
    let hook = configuring_hook(work, name, &out);
    let status = modem
        .cmd("udhcpc")
        .args(["-i", iface, "-q", "-f", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&hook)
        .args(["-V", "docsis3.0", "-O", "tftp", "-O", "bootfile"])
        .status()
        .expect("udhcpc");
    assert!(status.success(), "{name}: no lease");
    let bound = wait_line(&out, "bound", Duration::from_secs(5)).expect("bound line");
    (
        field(&bound, "ip"),
        field(&bound, "tftp"),
        field(&bound, "bootfile"),
    )
}

/// Fetches `file` from `server` by TFTP inside `modem`: (body, what tftp said).
fn fetch(modem: &Netns, server: &str, file: &str, dest: &std::path::Path) -> (String, String) {
    let out = modem
        .cmd("tftp")
        .args([server, "-m", "binary", "-c", "get", file])
        .arg(dest)
        .output()
        .expect("tftp");
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (std::fs::read_to_string(dest).unwrap_or_default(), said)
}

#[test]
fn a_modem_gets_its_lease_then_its_own_config_and_not_another() {
    for p in ["udhcpc", "ip", "tftp"] {
        require(p);
    }
    // Two modems on two interfaces of the server (two cable segments).
    let server = Netns::new("s");
    let modem = Netns::new("m");
    let modem2 = Netns::new("n");
    let (siface, miface) = veth(&server, "10.99.0.1/24", &modem, "", Some(MAC));
    let (siface2, miface2) = veth(&server, "10.98.0.1/24", &modem2, "", Some(MAC2));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    std::fs::write(
        dir.path().join("modem.cfg.j2"),
        "# config for {{ mac }} at {{ client_ip }}\nlease_ip={{ lease.ip }}\nclass={{ lease.class }}\nNetworkAccess=1\n",
    )
    .expect("template");
    let config = format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{siface}", "{siface2}"]
server_id = "10.99.0.1"

[[dhcp.class]]
name = "docsis"
vendor_class = "docsis"
options = {{ tftp_server_name = "10.99.0.1", time_offset = 0 }}

[[dhcp.subnet]]
name = "modems"
subnet = "10.99.0.0/24"
interface = "{siface}"
pools = ["10.99.0.100-10.99.0.150"]
classes = ["docsis"]
options = {{ routers = ["10.99.0.1"], bootfile_name = "modems/{hex1}.cfg" }}

[[dhcp.subnet]]
name = "modems-2"
subnet = "10.98.0.0/24"
interface = "{siface2}"
pools = ["10.98.0.100-10.98.0.150"]
classes = ["docsis"]
options = {{ routers = ["10.98.0.1"], bootfile_name = "modems/{hex2}.cfg" }}

[tftp]
listen = ["10.99.0.1:69"]
root = "root"

[[tftp.template]]
pattern = "modems/{{mac}}.cfg"
file = "modem.cfg.j2"
bind_to_lease = true
"#,
        hex1 = MAC.replace(':', ""),
        hex2 = MAC2.replace(':', ""),
    );
    std::fs::write(dir.path().join("headend.toml"), &config).expect("config");
    let path = dir.path().join("headend.toml");
    let _headend = Headend::spawn_in_netns(&server, dir, path);

    let work = tempfile::tempdir().expect("tempdir");
    let (ip, tftp_server, bootfile) = boot(&modem, &miface, work.path(), "modem");
    assert!(ip.starts_with("10.99.0."), "{ip}");
    assert_eq!(tftp_server, "10.99.0.1");
    assert_eq!(bootfile, format!("modems/{}.cfg", MAC.replace(':', "")));
    let (ip2, tftp_server2, bootfile2) = boot(&modem2, &miface2, work.path(), "modem2");
    assert!(ip2.starts_with("10.98.0."), "{ip2}");
    assert_eq!(tftp_server2, "10.99.0.1");
    assert_eq!(bootfile2, format!("modems/{}.cfg", MAC2.replace(':', "")));
    // The second segment reaches the TFTP address through its router.
    modem2.exec_ok(&["ip", "route", "add", "default", "via", "10.98.0.1"]);

    // Each fetches its own config from the server option 66 named,
    // rendered with its own lease.
    for (ns, mac, ip, file, name) in [
        (&modem, MAC, &ip, &bootfile, "own1.cfg"),
        (&modem2, MAC2, &ip2, &bootfile2, "own2.cfg"),
    ] {
        let (body, said) = fetch(ns, &tftp_server, file, &work.path().join(name));
        assert!(
            body.contains(&format!("lease_ip={ip}")) && body.contains(mac),
            "{mac}: config file: {body:?}; tftp: {said}"
        );
        // The class the modem matched at DHCP time is recorded with its
        // lease and reaches the template.
        assert!(
            body.contains("\nclass=docsis\n"),
            "{mac}: lease.class missing: {body:?}"
        );
    }

    // Each leased modem is refused the other's file with ERROR 2, and a MAC
    // with no lease at all is refused the same way (bind_to_lease).
    for (ns, file, name) in [
        (&modem, bootfile2.as_str(), "stolen1.cfg"),
        (&modem2, bootfile.as_str(), "stolen2.cfg"),
        (&modem, "modems/02005e109999.cfg", "unleased.cfg"),
    ] {
        let (body, said) = fetch(ns, &tftp_server, file, &work.path().join(name));
        assert!(
            said.contains(REFUSED),
            "{file}: expected {REFUSED:?}, tftp said: {said}"
        );
        assert!(body.is_empty(), "{file} must not be served: {body:?}");
    }
}
