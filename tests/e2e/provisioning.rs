//! The cable-modem provisioning flow end to end, in network namespaces: a
//! modem (udhcpc with vendor class docsis3.0) gets an address with options 66
//! and 67 from headend's DHCP, then fetches its config file by TFTP (tftp-hpa)
//! from the server option 66 names. The per-modem file is rendered from a
//! template with the modem's lease, and `bind_to_lease` refuses another
//! modem's file to it (theft of service).

use crate::common;

use std::time::Duration;

use common::dhcp::{Netns, configuring_hook, field, veth, wait_line};
use common::{Headend, require};

const MAC: &str = "02:00:5e:10:99:01";

#[test]
fn a_modem_gets_its_lease_then_its_own_config_and_not_another() {
    for p in ["udhcpc", "ip", "tftp"] {
        require(p);
    }
    let server = Netns::new("s");
    let modem = Netns::new("m");
    let (siface, miface) = veth(&server, "10.99.0.1/24", &modem, "", Some(MAC));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    std::fs::write(
        dir.path().join("modem.cfg.j2"),
        "# config for {{ mac }} at {{ client_ip }}\nlease_ip={{ lease.ip }}\nNetworkAccess=1\n",
    )
    .expect("template");
    let config = format!(
        r#"
[general]
state_dir = "state"
[dhcp]
interfaces = ["{siface}"]
server_id = "10.99.0.1"

[[dhcp.class]]
name = "docsis"
vendor_class = "docsis"
options = {{ tftp_server_name = "10.99.0.1", bootfile_name = "modems/{mac_hex}.cfg", time_offset = 0 }}

[[dhcp.subnet]]
name = "modems"
subnet = "10.99.0.0/24"
interface = "{siface}"
pools = ["10.99.0.100-10.99.0.150"]
classes = ["docsis"]
options = {{ routers = ["10.99.0.1"] }}

[tftp]
listen = ["10.99.0.1:69"]
root = "root"

[[tftp.template]]
pattern = "modems/{{mac}}.cfg"
file = "modem.cfg.j2"
bind_to_lease = true
"#,
        mac_hex = MAC.replace(':', "")
    );
    std::fs::write(dir.path().join("headend.toml"), &config).expect("config");
    let path = dir.path().join("headend.toml");
    let _headend = Headend::spawn_in_netns(&server, dir, path);

    // The modem boots: DHCP with option 60 = docsis3.0, asking for 66 and 67.
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("udhcpc.out");
    let hook = configuring_hook(work.path(), "modem", &out);
    let status = modem
        .cmd("udhcpc")
        .args(["-i", &miface, "-q", "-f", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&hook)
        .args(["-V", "docsis3.0", "-O", "tftp", "-O", "bootfile"])
        .status()
        .expect("udhcpc");
    assert!(status.success(), "no lease");
    let bound = wait_line(&out, "bound", Duration::from_secs(5)).expect("bound line");
    let ip = field(&bound, "ip");
    let tftp_server = field(&bound, "tftp");
    let bootfile = field(&bound, "bootfile");
    assert!(ip.starts_with("10.99.0."), "{bound}");
    assert_eq!(tftp_server, "10.99.0.1", "{bound}");
    assert_eq!(bootfile, format!("modems/{}.cfg", MAC.replace(':', "")));

    // It fetches its config from the server option 66 named.
    let fetched = work.path().join("modem.cfg");
    let get = modem
        .cmd("tftp")
        .args([&tftp_server, "-m", "binary", "-c", "get", &bootfile])
        .arg(&fetched)
        .output()
        .expect("tftp");
    let body = std::fs::read_to_string(&fetched).unwrap_or_default();
    assert!(
        body.contains(&format!("lease_ip={ip}")) && body.contains(MAC),
        "config file: {body:?}; tftp: {}",
        String::from_utf8_lossy(&get.stderr)
    );

    // Another modem's file is refused to it (bind_to_lease).
    let stolen = work.path().join("stolen.cfg");
    let other = modem
        .cmd("tftp")
        .args([
            &tftp_server,
            "-m",
            "binary",
            "-c",
            "get",
            "modems/02005e109902.cfg",
        ])
        .arg(&stolen)
        .output()
        .expect("tftp");
    let said = String::from_utf8_lossy(&other.stderr).to_string()
        + &String::from_utf8_lossy(&other.stdout);
    assert!(
        said.to_lowercase().contains("error"),
        "expected a TFTP error: {said}"
    );
    assert!(
        std::fs::read_to_string(&stolen)
            .unwrap_or_default()
            .is_empty(),
        "another modem's config must not be served"
    );
}
