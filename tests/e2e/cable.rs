//! A cable plant end to end, in network namespaces: a modem (udhcpc with
//! vendor class docsis3.0) behind a real dhcrelay gets options 66/67/2/4/7
//! and the BOOTP `siaddr` and `file` fields; a PacketCable MTA (pktc1.5)
//! behind the same relay gets options 122 and 125; the modem asks the RFC
//! 868 server that option 4 names for the time (rdate, over UDP and TCP);
//! it fetches `modems/<its mac>.cm`, a DOCSIS file compiled from a
//! `format = "docsis"` template with its reservation's attributes (set
//! through the admin API, curl inside the server's namespace), which
//! `headend docsis decode` and pydocsis read with both MICs valid for the
//! CMTS shared secret; another device asking for it is refused; a change of
//! tier shows at the next fetch; a template that does not compile is ERROR
//! 0 and counted on /metrics; and the shared secret shows in no log, audit
//! entry, API answer, metric or store file.

use crate::common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Headend;
use common::dhcp::{Netns, Proc, configuring_hook, field, hook_script, veth, wait_line};
use serde_json::Value;

const MODEM_MAC: &str = "02:00:5e:10:77:01";
const MTA_MAC: &str = "02:00:5e:10:77:02";
const PASSWORD: &str = "cable-operator-pw";
/// The CMTS shared secret of the cable test; it must show nowhere.
const SECRET: &str = "cmts-Shared-s3cret-e2e-91b4";

/// The modem template: the tier picks the service flows' rates and class
/// names, `max_cpe` the CPE limit; a device without a reservation gets the
/// "none" tier.
const MODEM_TEMPLATE: &str = r#"/* {{ mac }} */
{% set tier = reservation.attributes.tier if reservation else "none" %}
Main
{
    NetworkAccess 1;
    MaxCPE {% if reservation and reservation.attributes.max_cpe is defined %}{{ reservation.attributes.max_cpe }}{% else %}1{% endif %};
    UsServiceFlow { UsServiceFlowRef 1; QosParamSetType 7; ServiceClassName "{{ tier }}_us"; MaxRateSustained {% if tier == "gold" %}20000000{% elif tier == "silver" %}5000000{% else %}1000000{% endif %}; }
    DsServiceFlow { DsServiceFlowRef 2; QosParamSetType 7; ServiceClassName "{{ tier }}_ds"; MaxRateSustained {% if tier == "gold" %}100000000{% elif tier == "silver" %}25000000{% else %}2000000{% endif %}; }
    SnmpMibObject sysName.0 String "cm-{{ mac_hex }}";
}
"#;

/// curl inside the server's namespace against its admin API: (status, body).
fn api(ns: &Netns, port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut cmd = ns.cmd("curl");
    cmd.args(["-sk", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg(format!("https://127.0.0.1:{port}{path}"));
    if !token.is_empty() {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if !body.is_empty() {
        cmd.args(["-H", "Content-Type: application/json", "--data", body]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Fetches `file` by TFTP from `server` inside `ns`: its bytes, or what
/// the client printed when it got none.
fn fetch(ns: &Netns, server: &str, file: &str, dest: &Path) -> Result<Vec<u8>, String> {
    let _ = std::fs::remove_file(dest);
    let out = ns
        .cmd("tftp")
        .args([server, "-m", "binary", "-c", "get", file])
        .arg(dest)
        .output()
        .expect("tftp");
    let said = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    match std::fs::read(dest) {
        // tftp-hpa leaves an empty file behind when the server refuses.
        Ok(bytes) if !bytes.is_empty() && !said.contains("Error code") => Ok(bytes),
        _ => Err(said.into_owned()),
    }
}

/// `headend docsis decode FILE --key-file KEY`: (both MICs valid, text).
fn decode(file: &Path, key: &Path) -> (bool, String) {
    let out = std::process::Command::new(common::headend_bin())
        .args(["docsis", "decode"])
        .arg(file)
        .arg("--key-file")
        .arg(key)
        .output()
        .expect("headend docsis decode");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let valid = out.status.success()
        && text.contains("/* CM MIC: valid */")
        && text.contains("/* CMTS MIC: valid */");
    (valid, text + &String::from_utf8_lossy(&out.stderr))
}

/// pydocsis (target/test-venv, from scripts/test.sh) decodes `cm` and both
/// MICs are recomputed in Python (tests/data/docsis/pydocsis_check.py).
fn pydocsis_agrees(cm: &Path, key: &Path) {
    let py = common::workspace_root().join("target/test-venv/bin/python3");
    assert!(
        py.is_file(),
        "{} is missing: run scripts/test.sh, which installs pydocsis into it",
        py.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(cm, dir.path().join("modem.cm")).expect("copy");
    let json = common::run(
        std::process::Command::new(common::headend_bin())
            .args(["docsis", "decode", "--json"])
            .arg(cm),
    );
    std::fs::write(dir.path().join("modem.json"), json).expect("json");
    let out = std::process::Command::new(py)
        .arg(common::workspace_root().join("tests/data/docsis/pydocsis_check.py"))
        .arg(dir.path())
        .arg(key)
        .output()
        .expect("pydocsis_check.py");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.lines().any(|l| l == "ok modem"),
        "pydocsis disagrees: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, format!("{secret}\n")).expect("secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// `headend user add NAME --role ROLE` on the server's config.
fn add_user(config: &Path, name: &str, role: &str) {
    let mut add = std::process::Command::new(common::headend_bin())
        .args(["user", "-c"])
        .arg(config)
        .args(["add", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("headend user");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("password");
    assert!(add.wait().expect("user add").success(), "user add failed");
}

/// Logs `name` in through the API inside `ns`: its access token.
fn login(ns: &Netns, port: u16, name: &str) -> String {
    let (code, body) = api(
        ns,
        port,
        "POST",
        "/api/v1/auth/login",
        "",
        &format!(r#"{{"username": "{name}", "password": "{PASSWORD}"}}"#),
    );
    assert_eq!(code, 200, "login: {body}");
    let login: Value = serde_json::from_str(&body).expect("login json");
    login["access_token"].as_str().expect("token").to_owned()
}

/// Unix seconds of the time `rdate -p` printed (ctime form, "Sat Dec  5
/// 07:09:59 UTC 2026", read back by date(1)).
fn printed_time(out: &str) -> Option<i64> {
    let line = out.lines().rev().find(|l| !l.trim().is_empty())?;
    let line = line.rsplit(']').next()?.trim();
    let secs = std::process::Command::new("date")
        .args(["-u", "-d", line, "+%s"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&secs.stdout).trim().parse().ok()
}

fn unix_now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    i64::try_from(d.as_secs()).expect("seconds")
}

#[test]
fn modem_and_mta_behind_dhcrelay_get_cable_options_time_and_their_tier() {
    for p in ["dhcrelay", "udhcpc", "rdate", "tftp", "curl"] {
        common::require(p);
    }
    let server_ns = Netns::new("s");
    let relay_ns = Netns::new("r");
    let modem_ns = Netns::new("m");
    let (siface, rup) = veth(&server_ns, "10.81.0.1/24", &relay_ns, "10.81.0.2/24", None);
    let (rdown, miface) = veth(&relay_ns, "10.82.0.1/24", &modem_ns, "", Some(MODEM_MAC));
    // The MTA (its own MAC) sits on another port of the relay, in the voice subnet.
    let mta_ns = Netns::new("v");
    let (rdown2, viface) = veth(&relay_ns, "10.83.0.1/24", &mta_ns, "", Some(MTA_MAC));
    server_ns.exec_ok(&["ip", "route", "add", "10.82.0.0/24", "via", "10.81.0.2"]);
    server_ns.exec_ok(&["ip", "route", "add", "10.83.0.0/24", "via", "10.81.0.2"]);
    relay_ns.exec_ok(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("root")).expect("root");
    std::fs::write(dir.path().join("modem.docsis.j2"), MODEM_TEMPLATE).expect("template");
    std::fs::write(
        dir.path().join("broken.docsis.j2"),
        "Main\n{\n    MaxCPE 999;\n}\n",
    )
    .expect("template");
    write_secret(&dir.path().join("cmts-secret"), SECRET);
    // The test's own copy of the secret, for decoding what the modem fetched.
    let work = tempfile::tempdir().expect("tempdir");
    let key = work.path().join("key");
    write_secret(&key, SECRET);
    let admin_port = 18443;
    let hex = MODEM_MAC.replace(':', "");
    let config = format!(
        r#"
[general]
state_dir = "state"

[dhcp]
interfaces = ["{siface}"]
server_id = "10.81.0.1"

[[dhcp.class]]
name = "docsis"
vendor_class = "docsis"
next_server = "10.81.0.1"
boot_file = "modems/{hex}.cm"
options = {{ tftp_server_name = "10.81.0.1", bootfile_name = "modems/{hex}.cm", time_offset = -18000, time_servers = ["10.81.0.1"], log_servers = ["10.81.0.7"] }}

[[dhcp.class]]
name = "mta"
vendor_class = "pktc"
options = {{ cablelabs_client_config = {{ primary_dhcp_server = "10.81.0.1", provisioning_server = "prov.cable.test", kerberos_realm = "BASIC.1" }}, vendor_identifying = [{{ enterprise = 4491, tftp_servers = ["10.81.0.1"], mib_environment = 1 }}] }}

[[dhcp.subnet]]
name = "cable"
subnet = "10.82.0.0/24"
pools = ["10.82.0.100-10.82.0.150"]
classes = ["docsis"]
options = {{ routers = ["10.82.0.1"] }}

[[dhcp.subnet]]
name = "voice"
subnet = "10.83.0.0/24"
pools = ["10.83.0.100-10.83.0.150"]
classes = ["mta"]
options = {{ routers = ["10.83.0.1"] }}

[[dhcp.subnet.reservation]]
mac = "{MTA_MAC}"
address = "10.83.0.60"
attributes = {{ tier = "bronze" }}

[tftp]
listen = ["10.81.0.1:69"]
root = "root"

[[tftp.template]]
pattern = "modems/{{mac}}.cm"
file = "modem.docsis.j2"
format = "docsis"
shared_secret_file = "cmts-secret"
bind_to_lease = true

[[tftp.template]]
pattern = "broken/{{mac}}.cm"
file = "broken.docsis.j2"
format = "docsis"
shared_secret_file = "cmts-secret"

[time]
listen = ["10.81.0.1:37"]

[admin]
listen = "127.0.0.1:{admin_port}"

[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#
    );
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, &config).expect("config");
    // At debug level, so that the secret's absence from the logs means more.
    let mut serve = server_ns.cmd(common::headend_bin().to_str().expect("utf-8 path"));
    serve.env("RUST_LOG", "debug");
    let server = Headend::spawn_with(serve, dir, path.clone());

    // An operator, and the modem's reservation with its service tier.
    add_user(&path, "ops", "operator");
    add_user(&path, "ada", "admin");
    let token = login(&server_ns, admin_port, "ops");
    // Every API answer, to look for the secret in at the end.
    let mut answers = String::new();
    let attrs = format!("/api/v1/reservations/cable/{MODEM_MAC}/attributes");
    let (code, body) = api(
        &server_ns,
        admin_port,
        "PUT",
        &attrs,
        &token,
        r#"{"tier": "x"}"#,
    );
    assert_eq!(code, 404, "no reservation yet: {body}");
    let (code, body) = api(
        &server_ns,
        admin_port,
        "POST",
        "/api/v1/reservations",
        &token,
        &format!(r#"{{"subnet": "cable", "hwaddr": "{MODEM_MAC}", "address": "10.82.0.50"}}"#),
    );
    assert_eq!(code, 201, "reservation: {body}");
    answers.push_str(&body);
    let (code, body) = api(
        &server_ns,
        admin_port,
        "PUT",
        &attrs,
        &token,
        r#"{"tier": "gold", "max_cpe": "4"}"#,
    );
    assert_eq!(code, 200, "attributes: {body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["attributes"]["tier"], "gold", "{body}");
    answers.push_str(&body);
    let (code, body) = api(
        &server_ns,
        admin_port,
        "PATCH",
        &attrs,
        &token,
        r#"{"bad-name": "1"}"#,
    );
    assert_eq!(code, 400, "attribute names are identifiers: {body}");

    let mut relay = relay_ns.cmd("dhcrelay");
    relay.args([
        "-4",
        "-d",
        "-a",
        "-id",
        &rdown,
        "-id",
        &rdown2,
        "-iu",
        &rup,
        "10.81.0.1",
    ]);
    let _relay = Proc::spawn(relay, false);
    // Ready once it has bound its UDP port 67 (udhcpc retries anyway).
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay_ns
        .cmd("ss")
        .args(["-H", "-uln", "sport = :67"])
        .output()
        .map(|o| o.stdout.is_empty())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "dhcrelay did not bind port 67");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The modem boots behind the relay.
    let out = work.path().join("modem.out");
    let hook = configuring_hook(work.path(), "modem", &out);
    let status = modem_ns
        .cmd("udhcpc")
        .args(["-i", &miface, "-q", "-f", "-n", "-t", "5", "-T", "1", "-s"])
        .arg(&hook)
        .args([
            "-V",
            "docsis3.0",
            "-O",
            "tftp",
            "-O",
            "bootfile",
            "-O",
            "timezone",
        ])
        .args(["-O", "4", "-O", "7"])
        .output()
        .expect("udhcpc");
    let bound = wait_line(&out, "bound", Duration::from_secs(2)).unwrap_or_else(|| {
        panic!(
            "modem got no lease: {}\nserver logs:\n{}",
            String::from_utf8_lossy(&status.stderr),
            server.logs().join("\n")
        )
    });
    assert_eq!(
        field(&bound, "ip"),
        "10.82.0.50",
        "the API reservation: {bound}"
    );
    assert_eq!(field(&bound, "tftp"), "10.81.0.1", "option 66: {bound}");
    assert_eq!(
        field(&bound, "bootfile"),
        format!("modems/{hex}.cm"),
        "option 67"
    );
    // busybox prints option 2 as unsigned: -18000 is 2^32 - 18000.
    assert_eq!(field(&bound, "timezone"), "4294949296", "option 2");
    assert_eq!(field(&bound, "opt4"), "0a510001", "option 4, 10.81.0.1");
    assert_eq!(field(&bound, "opt7"), "0a510007", "option 7, 10.81.0.7");
    assert_eq!(
        field(&bound, "siaddr"),
        "10.81.0.1",
        "BOOTP siaddr: {bound}"
    );
    assert_eq!(
        field(&bound, "boot_file"),
        format!("modems/{hex}.cm"),
        "BOOTP file"
    );
    modem_ns.exec_ok(&["ip", "route", "add", "default", "via", "10.82.0.1"]);

    // The modem asks option 4's server for the time, over UDP and over TCP.
    for (proto, flags) in [("UDP", &["-p", "-u"][..]), ("TCP", &["-p"][..])] {
        let out = modem_ns
            .cmd("rdate")
            .env("TZ", "UTC")
            .args(flags)
            .args(["-o", "37", "10.81.0.1"])
            .output()
            .expect("rdate");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "rdate over {proto}: {text}");
        let got = printed_time(&text).unwrap_or_else(|| panic!("rdate over {proto}: {text}"));
        assert!(
            (got - unix_now()).abs() <= 5,
            "rdate over {proto} printed {text:?}, {} s off",
            got - unix_now()
        );
    }

    // The modem fetches the file option 67 names: its tier compiled into a
    // DOCSIS file whose MICs are valid for the shared secret.
    let file = field(&bound, "bootfile");
    let dest = work.path().join("modem.cm");
    let gold = fetch(&modem_ns, "10.81.0.1", &file, &dest)
        .unwrap_or_else(|e| panic!("modem fetch: {e}\n{}", server.logs().join("\n")));
    let (valid, text) = decode(&dest, &key);
    assert!(valid, "MICs of the fetched file: {text}");
    for want in [
        "MaxCPE 4;",
        "ServiceClassName \"gold_us\";",
        "MaxRateSustained 20000000;",
        "ServiceClassName \"gold_ds\";",
        "MaxRateSustained 100000000;",
        &format!("SnmpMibObject sysName.0 String \"cm-{hex}\";"),
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    pydocsis_agrees(&dest, &key);
    // Another key does not validate it (the MIC is keyed).
    let wrong = work.path().join("wrong-key");
    write_secret(&wrong, "not-the-cmts-secret");
    let (valid, text) = decode(&dest, &wrong);
    assert!(!valid && text.contains("/* CMTS MIC: INVALID */"), "{text}");

    // A change of tier through the API shows at the next fetch.
    let (code, body) = api(
        &server_ns,
        admin_port,
        "PATCH",
        &attrs,
        &token,
        r#"{"tier": "silver", "max_cpe": null}"#,
    );
    assert_eq!(code, 200, "patch: {body}");
    answers.push_str(&body);
    let silver = fetch(&modem_ns, "10.81.0.1", &file, &dest).expect("fetch after the change");
    assert_ne!(silver, gold, "the change of tier changed nothing");
    let (valid, text) = decode(&dest, &key);
    assert!(valid, "{text}");
    for want in [
        "MaxCPE 1;",
        "ServiceClassName \"silver_us\";",
        "MaxRateSustained 5000000;",
        "MaxRateSustained 25000000;",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(!text.contains("gold"), "{text}");
    pydocsis_agrees(&dest, &key);

    // A template that does not compile: ERROR 0 with a short message (not
    // the compiler's), the reason logged with its line, and counted.
    let broken = fetch(&modem_ns, "10.81.0.1", &format!("broken/{hex}.cm"), &dest)
        .expect_err("a broken template served a file");
    assert!(
        broken.contains("Error code 0") && !broken.contains("MaxCPE"),
        "{broken}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .logs()
        .iter()
        .any(|l| l.contains("line 3: MaxCPE: 999 is out of range"))
    {
        assert!(Instant::now() < deadline, "compile error not logged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, metrics) = api(&server_ns, admin_port, "GET", "/metrics", &token, "");
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("headend_tftp_template_errors_total") && l.ends_with(" 1")),
        "{metrics}"
    );

    // The MTA, behind another port of the relay, gets 122 and 125 in the
    // voice subnet and none of the modem's options.
    let mta_out = work.path().join("mta.out");
    let mta_hook = hook_script(
        work.path(),
        "mta.sh",
        &mta_out,
        &["ip", "opt122", "opt125", "tftp"],
    );
    let status = mta_ns
        .cmd("udhcpc")
        .args(["-i", &viface, "-q", "-f", "-n", "-t", "5", "-T", "1", "-s"])
        .arg(&mta_hook)
        .args(["-V", "pktc1.5", "-O", "122", "-O", "125"])
        .output()
        .expect("udhcpc mta");
    let mta = wait_line(&mta_out, "bound", Duration::from_secs(2)).unwrap_or_else(|| {
        panic!(
            "MTA got no lease: {}",
            String::from_utf8_lossy(&status.stderr)
        )
    });
    assert_eq!(field(&mta, "ip"), "10.83.0.60", "its reservation: {mta}");
    // 122: sub-option 1 (primary DHCP server), 3 (FQDN, type 0), 6 (realm).
    let mut ccc = String::from("01040a510001");
    ccc += "031200";
    for label in ["prov", "cable", "test"] {
        ccc += &format!("{:02x}{}", label.len(), hex_of(label));
    }
    ccc += "00";
    ccc += &format!("0609{:02x}{}{:02x}{}00", 5, hex_of("BASIC"), 1, hex_of("1"));
    assert_eq!(field(&mta, "opt122"), ccc, "option 122: {mta}");
    // 125: enterprise 4491, 9 octets: sub-option 2 (TFTP servers), 4 (MIB env).
    assert_eq!(
        field(&mta, "opt125"),
        "0000118b0902040a510001040101",
        "option 125"
    );
    assert_eq!(field(&mta, "tftp"), "", "no modem options for the MTA");

    // The MTA, another device with a lease, gets its own file (with the
    // tier its config-file reservation carries) but is refused the modem's.
    let mta_ip = field(&mta, "ip");
    mta_ns.exec_ok(&["ip", "addr", "add", &format!("{mta_ip}/24"), "dev", &viface]);
    mta_ns.exec_ok(&["ip", "route", "add", "default", "via", "10.83.0.1"]);
    let mta_hex = MTA_MAC.replace(':', "");
    let own = work.path().join("mta-own.cm");
    fetch(&mta_ns, "10.81.0.1", &format!("modems/{mta_hex}.cm"), &own)
        .unwrap_or_else(|e| panic!("the MTA's own file: {e}"));
    let (valid, text) = decode(&own, &key);
    assert!(valid && text.contains("\"bronze_us\""), "{text}");
    // An edit of the file's attributes applies on SIGHUP.
    let edited = std::fs::read_to_string(&path)
        .expect("config")
        .replace(r#"tier = "bronze""#, r#"tier = "silver""#);
    std::fs::write(&path, edited).expect("config");
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        fetch(&mta_ns, "10.81.0.1", &format!("modems/{mta_hex}.cm"), &own).expect("MTA fetch");
        if decode(&own, &key).1.contains("\"silver_us\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edited attributes never applied"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stolen = work.path().join("stolen.cm");
    let refused = fetch(&mta_ns, "10.81.0.1", &file, &stolen)
        .expect_err("another device got the modem's file");
    assert!(
        refused.contains("Error code 2") && refused.contains("bound to another device"),
        "{refused}"
    );

    // The shared secret shows nowhere: not in the logs, the audit log, the
    // API's answers, /metrics or any file of the state folder (the SQLite
    // store and its journal).
    let admin_token = login(&server_ns, admin_port, "ada");
    for path in [
        "/api/v1/audit?limit=500",
        "/metrics",
        "/api/v1/reservations",
        "/api/v1/leases",
        "/api/v1/me",
    ] {
        let (code, body) = api(&server_ns, admin_port, "GET", path, &admin_token, "");
        assert_eq!(code, 200, "{path}: {body}");
        if path == "/metrics" {
            // The MTA's refusal is not a template error.
            assert!(
                body.lines()
                    .any(|l| l == "headend_tftp_template_errors_total 1"),
                "{body}"
            );
        }
        answers.push_str(&body);
    }
    assert!(answers.contains("reservation.attributes"), "{answers}");
    assert!(!answers.contains(SECRET), "the secret in an API answer");
    let logs = server.logs().join("\n");
    assert!(logs.contains("DEBUG") && logs.contains("TFTP"), "{logs}");
    assert!(!logs.contains(SECRET), "the secret in the logs");
    let (dir, _) = server.stop_keep();
    let mut files = vec![dir.path().join("state")];
    let mut seen = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(
                std::fs::read_dir(&p)
                    .expect("state")
                    .map(|e| e.expect("entry").path()),
            );
        } else {
            let bytes = std::fs::read(&p).expect("state file");
            seen += usize::from(p.to_string_lossy().contains("headend.db"));
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the secret in {}",
                p.display()
            );
        }
    }
    assert!(seen > 0, "no SQLite store in the state folder");
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The time server alone on loopback: rdate over UDP and TCP gets the time.
#[test]
fn rdate_gets_the_time_over_udp_and_tcp_on_loopback() {
    common::require("rdate");
    let port = common::free_port();
    let port_s = port.to_string();
    let server = Headend::start(&format!(
        "[general]\nstate_dir = \"state\"\n[time]\nlisten = [\"127.0.0.1:{port}\"]\n"
    ));
    for (proto, flags) in [("UDP", &["-p", "-u"][..]), ("TCP", &["-p"][..])] {
        let out = std::process::Command::new("rdate")
            .env("TZ", "UTC")
            .args(flags)
            .args(["-o", &port_s, "127.0.0.1"])
            .output()
            .expect("rdate");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "rdate over {proto}: {text}");
        let got = printed_time(&text).unwrap_or_else(|| panic!("rdate over {proto}: {text}"));
        assert!((got - unix_now()).abs() <= 5, "rdate over {proto}: {text}");
    }
    // The answers came from headend: once it is stopped, nothing answers.
    drop(server);
    let out = std::process::Command::new("rdate")
        .args(["-p", "-o", &port_s, "127.0.0.1"])
        .output()
        .expect("rdate");
    assert!(!out.status.success(), "rdate after headend stopped");
}

/// `headend check`: the shipped cable config passes with no warning; a
/// DOCSIS class that names its config file only in option 67 is warned
/// about (the BOOTP `file` field), which is not an error.
#[test]
fn check_warns_about_a_docsis_class_without_the_file_field() {
    let check = |config: &Path| {
        let out = std::process::Command::new(common::headend_bin())
            .args(["check", "--config"])
            .arg(config)
            .output()
            .expect("run check");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let shipped = common::workspace_root().join("configs/isp-cable.toml");
    let (ok, stdout) = check(&shipped);
    // (An interface this host lacks is the one warning the host may add.)
    assert!(
        ok && !stdout
            .lines()
            .any(|l| l.contains("warning") && !l.contains("no interface")),
        "{stdout}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("h.toml");
    std::fs::write(
        &config,
        "[dhcp]\nserver_id = \"10.0.0.1\"\n[[dhcp.class]]\nname = \"cm\"\nvendor_class = \"docsis\"\nnext_server = \"10.0.0.5\"\noptions = { tftp_server_name = \"10.0.0.5\", bootfile_name = \"cm.cfg\" }\n[time]\nlisten = [\"127.0.0.1:37\"]\n",
    )
    .expect("write");
    let (ok, stdout) = check(&config);
    assert!(ok, "a warning is not an error: {stdout}");
    assert!(
        stdout.contains("[dhcp]: warning: dhcp.class[0]: DOCSIS class \"cm\" sets option 67")
            && stdout.contains("boot_file")
            && !stdout.contains("next_server"),
        "{stdout}"
    );
}

/// `headend ctl reservation set/unset/attributes` on loopback: names and
/// values round-trip, `--replace` drops the others, a bad pair or an unknown
/// reservation is refused, and the change is audited with the names only.
#[test]
fn ctl_sets_patches_and_replaces_reservation_attributes() {
    use common::admin::{self, ctl};
    let s = admin::start("");
    s.add_user("oscar", "operator", PASSWORD);
    s.add_user("ada", "admin", PASSWORD);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        let out = ctl(dir.path(), args, &format!("{PASSWORD}\n"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(&["login", &s.base, "--user", "oscar", "--password-stdin"]);
    assert!(ok, "login: {err}");
    let mac = "00:11:22:33:44:55";
    let (ok, _, err) = run(&["reservation", "set", "cable", mac, "tier=gold"]);
    assert!(!ok && err.contains("404"), "no reservation yet: {err}");
    let (ok, _, err) = run(&["reservation", "add", "cable", mac, "10.1.255.10"]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&[
        "reservation",
        "set",
        "cable",
        mac,
        "tier=gold",
        "max_cpe=4",
        "rate=100M",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("tier") && out.contains("gold") && out.contains("max_cpe"),
        "{out}"
    );
    let (ok, out, err) = run(&["reservation", "unset", "cable", mac, "rate"]);
    assert!(ok, "{err}");
    assert!(!out.contains("rate") && out.contains("max_cpe"), "{out}");
    let (ok, _, err) = run(&["reservation", "set", "cable", mac, "novalue"]);
    assert!(!ok && err.contains("NAME=VALUE"), "{err}");
    let (ok, out, err) = run(&[
        "reservation",
        "set",
        "cable",
        mac,
        "--replace",
        "tier=bronze",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("bronze") && !out.contains("max_cpe"), "{out}");
    let (ok, out, err) = run(&["reservation", "attributes", "cable", "00-11-22-33-44-55"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("cable 00:11:22:33:44:55") && out.contains("bronze"),
        "{out}"
    );
    // The audit log names the attributes changed, not their values.
    let c = admin::client();
    let token = s.token(&c, "ada", PASSWORD);
    let audit: Value = c
        .get(s.url("/api/v1/audit?limit=50"))
        .bearer_auth(&token)
        .send()
        .expect("audit")
        .json()
        .expect("audit json");
    let text = audit.to_string();
    assert!(
        text.contains("reservation.attributes") && text.contains("set max_cpe,rate,tier"),
        "{text}"
    );
    assert!(
        !text.contains("100M"),
        "values stay out of the audit log: {text}"
    );
}
