//! `/metrics` end to end: a headend with DNS (one signed zone), DHCP and
//! TFTP in a network namespace, real traffic (a lease taken by udhcpc from a
//! second namespace, dig queries, a tftp-hpa fetch), then the scrape checked
//! by `promtool check metrics` and by value; a real Prometheus scrapes the
//! server and a PromQL query through its HTTP API returns the lease count.
//! The alert rules and the Grafana dashboard in contrib/ are checked
//! against the same scrape (every metric they use exists) and by
//! `promtool test rules`.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::dhcp::{Netns, Proc, configuring_hook, field, veth, wait_line};
use common::{Headend, require, workspace_root};

const MAC: &str = "02:00:5e:21:00:01";
const ADMIN: &str = "127.0.0.1:8443";
const PROMETHEUS: &str = "127.0.0.1:9090";

/// The scrape, read from inside the server's namespace (loopback: no token).
fn scrape(ns: &Netns) -> String {
    let out = ns
        .cmd("curl")
        .args([
            "-sk",
            "--max-time",
            "10",
            &format!("https://{ADMIN}/metrics"),
        ])
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl /metrics failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the sample `name{labels}` exactly as written in the scrape
/// (`series` is the name with its labels, e.g. `a_total{x="y"}`).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The first sample of `name` whose labels contain every `k="v"` of `want`.
fn sample_with(text: &str, name: &str, want: &[&str]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let (labels, value) = rest.rsplit_once(' ')?;
        if !(labels.is_empty() || labels.starts_with('{')) {
            return None; // a longer metric name
        }
        want.iter()
            .all(|w| labels.contains(w))
            .then(|| value.parse().ok())?
    })
}

/// Every `headend_*` metric name in `text` (from PromQL or dashboards).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("headend_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        out.insert(text[start..end].to_owned());
        i = end;
    }
    out
}

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new("promtool");
    cmd.args(args)
        .current_dir(workspace_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("promtool");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Asks Prometheus (in `ns`) for `query` until it returns one sample equal
/// to `want`; returns what it last said.
fn wait_for_query(ns: &Netns, query: &str, want: f64, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let out = ns
            .cmd("curl")
            .args(["-s", "--max-time", "5", "-G"])
            .arg(format!("http://{PROMETHEUS}/api/v1/query"))
            .args(["--data-urlencode", &format!("query={query}")])
            .output()
            .expect("curl");
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&last) {
            let got = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok());
            if got == Some(want) && v["data"]["result"].as_array().map(Vec::len) == Some(1) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(last)
}

#[test]
fn a_live_scrape_after_real_traffic_passes_promtool_and_prometheus_counts_the_lease() {
    for p in [
        "udhcpc",
        "ip",
        "tftp",
        "dig",
        "curl",
        "promtool",
        "prometheus",
    ] {
        require(p);
    }
    let server = Netns::new("s");
    let client = Netns::new("c");
    let (siface, ciface) = veth(&server, "10.21.0.1/24", &client, "", Some(MAC));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        workspace_root().join("tests/data/dns/e2e.test.zone"),
        dir.path().join("e2e.test.zone"),
    )
    .expect("zone");
    // A second zone and a second pool, removed by a reload below.
    std::fs::write(
        dir.path().join("gone.test.zone"),
        "$ORIGIN gone.test.\n$TTL 300\n@ SOA ns1 hostmaster 7 3600 600 86400 300\n@ NS ns1\nns1 A 10.21.0.1\n",
    )
    .expect("zone");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    let boot = "x".repeat(3000);
    std::fs::write(root.join("boot.bin"), &boot).expect("boot file");
    let config = |gone_zone: &str, gone_pool: &str| {
        format!(
            r#"
[general]
state_dir = "state"

[dns]
listen = ["127.0.0.1:53"]

[[dns.zone]]
origin = "e2e.test"
file = "e2e.test.zone"
dnssec = {{ algorithm = "ecdsap256sha256" }}
{gone_zone}
[dhcp]
interfaces = ["{siface}"]
server_id = "10.21.0.1"

[[dhcp.class]]
name = "modem"
vendor_class = "docsis"

[[dhcp.subnet]]
name = "lan"
subnet = "10.21.0.0/24"
interface = "{siface}"
pools = ["10.21.0.100-10.21.0.149"{gone_pool}]
classes = ["modem"]
options = {{ routers = ["10.21.0.1"] }}

[[dhcp.subnet.reservation]]
mac = "02:00:5e:21:00:99"
address = "10.21.0.140"

[tftp]
listen = ["10.21.0.1:69"]
root = "root"

[admin]
listen = "0.0.0.0:8443"

[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#
        )
    };
    let path = dir.path().join("headend.toml");
    std::fs::write(
        &path,
        config(
            "\n[[dns.zone]]\norigin = \"gone.test\"\nfile = \"gone.test.zone\"\n",
            ", \"10.21.0.200-10.21.0.209\"",
        ),
    )
    .expect("config");
    let headend = Headend::spawn_in_netns(&server, dir, path.clone());

    // A modem takes a lease.
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("udhcpc.out");
    let hook = configuring_hook(work.path(), "modem", &out);
    let status = client
        .cmd("udhcpc")
        .args(["-i", &ciface, "-q", "-f", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&hook)
        .args(["-V", "docsis3.0"])
        .status()
        .expect("udhcpc");
    assert!(status.success(), "no lease");
    let bound = wait_line(&out, "bound", Duration::from_secs(5)).expect("bound line");
    assert!(field(&bound, "ip").starts_with("10.21.0."), "{bound}");

    // DNS: an answer, a name error, and a refusal (not our zone).
    for (name, qtype) in [
        ("www.e2e.test", "AAAA"),
        ("www.e2e.test", "A"),
        ("nope.e2e.test", "A"),
        ("example.org", "MX"),
    ] {
        server.exec_ok(&["dig", "@127.0.0.1", "+tries=1", "+time=2", name, qtype]);
    }
    server.exec_ok(&[
        "dig",
        "@127.0.0.1",
        "+tcp",
        "+tries=1",
        "www.e2e.test",
        "TXT",
    ]);
    // A zone transfer the ACL refuses (none configured), and a query
    // into the zone the reload removes.
    let _ = server
        .cmd("dig")
        .args(["@127.0.0.1", "+tries=1", "+time=2", "e2e.test", "AXFR"])
        .output();
    server.exec_ok(&[
        "dig",
        "@127.0.0.1",
        "+tries=1",
        "+time=2",
        "ns1.gone.test",
        "A",
    ]);

    // TFTP: one file fetched by the modem, one refused.
    let got = work.path().join("boot.bin");
    let said = client
        .cmd("tftp")
        .args(["10.21.0.1", "-m", "binary", "-c", "get", "boot.bin"])
        .arg(&got)
        .output()
        .expect("tftp");
    assert_eq!(
        std::fs::read(&got).map(|b| b.len()).unwrap_or(0),
        boot.len(),
        "tftp: {}",
        String::from_utf8_lossy(&said.stderr)
    );
    let _ = client
        .cmd("tftp")
        .args(["10.21.0.1", "-m", "binary", "-c", "get", "missing.bin"])
        .arg(work.path().join("missing.bin"))
        .output();

    // The scrape: promtool's lint finds nothing, and the values are what
    // the traffic did.
    let text = scrape(&server);
    let (ok, said) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "promtool check metrics:\n{said}\n{text}");
    let pool = ["subnet=\"lan\"", "pool=\"10.21.0.100-10.21.0.149\""];
    let v = |name: &str, want: &[&str]| {
        sample_with(&text, name, want).unwrap_or_else(|| panic!("{name} {want:?} missing:\n{text}"))
    };
    assert_eq!(v("headend_dhcp_pool_size", &pool), 50.0);
    assert_eq!(v("headend_dhcp_pool_leased", &pool), 1.0);
    assert_eq!(v("headend_dhcp_pool_reserved", &pool), 1.0);
    assert_eq!(v("headend_dhcp_pool_free", &pool), 48.0);
    assert_eq!(v("headend_dhcp_class_leases", &["class=\"modem\""]), 1.0);
    assert_eq!(
        v(
            "headend_dhcp_packets_received_total",
            &["type=\"discover\""]
        ),
        1.0
    );
    assert_eq!(v("headend_dhcp_packets_sent_total", &["type=\"ack\""]), 1.0);
    assert!(v("headend_dhcp_commit_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(
        v("headend_dns_responses_total", &["rcode=\"NXDOMAIN\""]),
        1.0
    );
    assert_eq!(
        v("headend_dns_responses_total", &["rcode=\"REFUSED\""]),
        1.0
    );
    assert_eq!(
        v("headend_dns_responses_total", &["rcode=\"NOERROR\""]),
        4.0
    );
    assert_eq!(
        v("headend_dns_responses_by_qtype_total", &["qtype=\"AAAA\""]),
        1.0
    );
    assert_eq!(
        v("headend_dns_responses_by_qtype_total", &["qtype=\"TXT\""]),
        1.0
    );
    assert_eq!(v("headend_dns_queries_total", &["transport=\"tcp\""]), 2.0);
    // Per zone: four answers from e2e.test, one from gone.test, one
    // refusal for a name in no served zone.
    assert_eq!(
        v("headend_dns_zone_queries_total", &["zone=\"e2e.test\""]),
        4.0
    );
    assert_eq!(
        v("headend_dns_zone_queries_total", &["zone=\"gone.test\""]),
        1.0
    );
    assert_eq!(
        v("headend_dns_zone_queries_total", &["zone=\"other\""]),
        1.0
    );
    let fast: f64 = ["hit", "shared_hit", "miss"]
        .iter()
        .map(|r| v("headend_dns_fast_path_total", &[&format!("result=\"{r}\"")]))
        .sum();
    assert!(fast >= 5.0, "fast path saw {fast} plain queries");
    assert_eq!(
        v(
            "headend_dns_transfers_total",
            &["kind=\"axfr\"", "result=\"refused\""]
        ),
        1.0
    );
    assert_eq!(
        v(
            "headend_dns_transfers_total",
            &["kind=\"ixfr\"", "result=\"ok\""]
        ),
        0.0
    );
    // DISCOVER and REQUEST both carried the modem's vendor class.
    assert_eq!(
        v("headend_dhcp_class_requests_total", &["class=\"modem\""]),
        2.0
    );
    assert_eq!(
        v("headend_dhcp_relay_requests_total", &["relay=\"other\""]),
        0.0
    );
    assert_eq!(
        v(
            "headend_tftp_refused_by_rule_total",
            &["rule=\"allow_list\""]
        ),
        0.0
    );
    assert_eq!(v("headend_tftp_template_renders_total", &[]), 0.0);
    assert_eq!(
        v("headend_dns_zone_serial", &["zone=\"e2e.test\""]),
        2026112401.0
    );
    let expiry = v(
        "headend_dns_signature_expiry_seconds",
        &["zone=\"e2e.test\""],
    );
    assert!(
        (3.0 * 86_400.0..=60.0 * 86_400.0).contains(&expiry),
        "signature expiry {expiry} s"
    );
    assert_eq!(v("headend_tftp_transfers_completed_total", &[]), 1.0);
    assert_eq!(v("headend_tftp_sent_bytes_total", &[]), boot.len() as f64);
    assert_eq!(v("headend_tftp_refused_total", &["stage=\"file\""]), 1.0);
    assert_eq!(v("headend_tftp_transfer_duration_seconds_count", &[]), 1.0);
    assert_eq!(
        sample(&text, "headend_store_info{backend=\"sqlite\"}"),
        Some(1.0)
    );
    // One server on SQLite: no other server to conflict with, but the
    // conflict series are there for an alert to watch.
    for kind in ["kind=\"serialization\"", "kind=\"deadlock\""] {
        assert_eq!(v("headend_store_conflicts_total", &[kind]), 0.0);
    }
    assert_eq!(v("headend_store_conflict_retries_total", &[]), 0.0);
    assert!(v("headend_process_start_time_seconds", &[]) > 1.7e9);
    // No label carries a client's address.
    let ip = field(&bound, "ip");
    assert!(
        !text.contains(&format!("\"{ip}\"")),
        "a client address in a label"
    );
    assert!(!text.contains(MAC), "a MAC in a label");

    // A reload that drops the second zone and pool: their series go away
    // (the other series stay).
    let gone_pool = "pool=\"10.21.0.200-10.21.0.209\"";
    assert!(text.contains(gone_pool), "no second pool:\n{text}");
    std::fs::write(&path, config("", "")).expect("config");
    headend.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let now = scrape(&server);
        if !now.contains("zone=\"gone.test\"") && !now.contains(gone_pool) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "stale series after the reload:\n{now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        sample_with(
            &after,
            "headend_dns_zone_queries_total",
            &["zone=\"e2e.test\""]
        ),
        Some(4.0)
    );
    assert_eq!(
        sample_with(&after, "headend_dhcp_pool_size", &pool),
        Some(50.0)
    );
    let (ok, said) = promtool(&["check", "metrics"], Some(&after));
    assert!(
        ok,
        "promtool check metrics after the reload:\n{said}\n{after}"
    );

    // From outside the loopback default of metrics_allow, /metrics needs a
    // token; a viewer's (the lowest role) will do.
    let remote = "https://10.21.0.1:8443";
    let status = |args: &[&str]| {
        let out = client
            .cmd("curl")
            .args([
                "-sk",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(status(&[&format!("{remote}/metrics")]), "401");
    let mut add = Command::new(common::headend_bin())
        .args(["user", "-c"])
        .arg(&path)
        .args(["add", "vic", "--role", "viewer", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("headend user add");
    {
        use std::io::Write as _;
        let mut stdin = add.stdin.take().expect("stdin");
        stdin
            .write_all(b"metrics-viewer-pw-21\n")
            .expect("password");
    }
    assert!(add.wait().expect("user add").success(), "user add failed");
    let login = client
        .cmd("curl")
        .args([
            "-sk",
            "--max-time",
            "10",
            "-H",
            "content-type: application/json",
        ])
        .args([
            "-d",
            r#"{"username":"vic","password":"metrics-viewer-pw-21"}"#,
        ])
        .arg(format!("{remote}/api/v1/auth/login"))
        .output()
        .expect("curl login");
    let login: serde_json::Value =
        serde_json::from_slice(&login.stdout).expect("login answer is JSON");
    let token = login["access_token"].as_str().expect("access token");
    assert_eq!(
        status(&[
            "-H",
            &format!("authorization: Bearer {token}"),
            &format!("{remote}/metrics")
        ]),
        "200"
    );
    assert_eq!(
        status(&[
            "-H",
            "authorization: Bearer not.a.token",
            &format!("{remote}/metrics")
        ]),
        "401"
    );

    // Every metric the alert rules and the dashboard use is served.
    let served = metric_names(&text);
    for file in [
        "contrib/prometheus/alerts.yml",
        "contrib/grafana/headend.json",
    ] {
        let used = std::fs::read_to_string(workspace_root().join(file)).expect(file);
        let missing: Vec<_> = metric_names(&used)
            .into_iter()
            .filter(|m| !served.contains(m))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics not served: {missing:?}"
        );
    }

    // A real Prometheus scrapes the server (HTTPS, self-signed certificate)
    // and counts the lease.
    let prom = tempfile::tempdir().expect("tempdir");
    let prom_config = prom.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: headend\n    scheme: https\n    tls_config:\n      insecure_skip_verify: true\n    static_configs:\n      - targets: [\"{ADMIN}\"]\n"
        ),
    )
    .expect("prometheus.yml");
    let mut cmd = server.cmd("prometheus");
    cmd.arg(format!("--config.file={}", prom_config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            prom.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={PROMETHEUS}"));
    let _prometheus = Proc::spawn(cmd, false);
    wait_for_query(
        &server,
        "sum(headend_dhcp_pool_leased{job=\"headend\"})",
        1.0,
        Duration::from_secs(60),
    )
    .unwrap_or_else(|last| panic!("Prometheus never saw 1 lease; last answer: {last}"));
    wait_for_query(&server, "up{job=\"headend\"}", 1.0, Duration::from_secs(10))
        .unwrap_or_else(|last| panic!("target not up: {last}"));
}

#[test]
fn contrib_alert_rules_pass_promtool_check_and_their_unit_tests() {
    require("promtool");
    let (ok, said) = promtool(&["check", "rules", "contrib/prometheus/alerts.yml"], None);
    assert!(ok, "promtool check rules:\n{said}");
    let (ok, said) = promtool(
        &["test", "rules", "contrib/prometheus/alerts_test.yml"],
        None,
    );
    assert!(ok, "promtool test rules:\n{said}");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("contrib/grafana/headend.json"))
            .expect("dashboard"),
    )
    .expect("the dashboard is JSON");
    assert!(
        dashboard["panels"].as_array().is_some_and(|p| p.len() >= 6),
        "dashboard panels"
    );
}
