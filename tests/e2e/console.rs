//! The web console in a real browser (Debian's chromium + chromedriver,
//! driven over the W3C WebDriver protocol). headend serves DHCP, DNS and
//! the admin API inside a network namespace; a real DHCP client (udhcpc)
//! in a second namespace takes a lease; chromium runs in the server's
//! namespace, so it can reach nothing else. An operator logs in, finds the
//! lease and releases it, adds a reservation with an attribute, edits a
//! record (and `dig` answers with it), sees a refused edit's error beside
//! its field, finds the audit entries and logs out; a viewer sees no edit
//! controls, and forged or cross-site POSTs are refused. Screenshots of
//! each page go to `target/console-screenshots/`.

use crate::common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::dhcp::{Netns, configuring_hook, field, veth, wait_line};
use common::webdriver::Browser;
use common::{Headend, headend_bin, require};

const MAC: &str = "02:00:5e:21:00:01";
const ADMIN_PW: &str = "console-admin-pw";
const VIEWER_PW: &str = "console-viewer-pw";
const ADMIN_PW2: &str = "console-admin-pw-2";
const OTTO_PW: &str = "console-otto-pw";
const BASE: &str = "https://127.0.0.1:8443";

fn add_user(h: &Headend, name: &str, role: &str, password: &str) {
    let mut child = Command::new(headend_bin())
        .args(["user", "-c"])
        .arg(&h.config)
        .args(["add", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("headend user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// curl inside `ns` against the console: (status, body). `jar` keeps cookies.
fn curl(ns: &Netns, jar: &std::path::Path, args: &[&str]) -> (u16, String) {
    let out = ns
        .cmd("curl")
        .args(["-sk", "--max-time", "10", "-b"])
        .arg(jar)
        .arg("-c")
        .arg(jar)
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Logs `user` in with curl; the cookies land in `jar`.
fn curl_login(ns: &Netns, jar: &std::path::Path, user: &str, password: &str) {
    let (status, _) = curl(
        ns,
        jar,
        &[
            "-H",
            &format!("Origin: {BASE}"),
            "--data-urlencode",
            &format!("username={user}"),
            "--data-urlencode",
            &format!("password={password}"),
            &format!("{BASE}/ui/login"),
        ],
    );
    assert_eq!(status, 303, "curl login of {user}");
}

fn dig_a(ns: &Netns, name: &str) -> String {
    let out = ns
        .cmd("dig")
        .args([
            "@127.0.0.1",
            "-p",
            "5353",
            "+short",
            "+time=2",
            "+tries=1",
            name,
            "A",
        ])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The text of every element `css` selects.
fn texts(b: &Browser<'_>, css: &str) -> Vec<String> {
    let js = format!(
        "return Array.from(document.querySelectorAll({css:?})).map(function (e) {{ return e.textContent.trim(); }});"
    );
    b.script(&js)
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls a console page with the session in `jar` until it is sent to the
/// login page (the session ended), for at most ten seconds.
fn wait_signed_out(ns: &Netns, jar: &std::path::Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = curl(ns, jar, &[&format!("{BASE}/ui/zones")]);
        if status != 200 {
            assert_eq!(status, 303, "{what}: status {status}");
            return;
        }
        assert!(Instant::now() < deadline, "{what} still works");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The lease row of `address` in `headend leases`.
fn lease_state(h: &Headend, address: &str) -> String {
    common::dhcp::lease_line(&h.leases(), address).unwrap_or_default()
}

#[test]
fn an_operator_and_a_viewer_use_the_console_in_chromium() {
    for p in [
        "udhcpc",
        "ip",
        "dig",
        "curl",
        "tftp",
        "chromium",
        "chromedriver",
    ] {
        require(p);
    }
    let server = Netns::new("s");
    let client = Netns::new("c");
    let (siface, ciface) = veth(&server, "10.95.0.1/24", &client, "", Some(MAC));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        common::workspace_root().join("tests/data/dns/e2e.test.zone"),
        dir.path().join("e2e.test.zone"),
    )
    .expect("copy zone");
    std::fs::write(
        dir.path().join("signed.test.zone"),
        "$ORIGIN signed.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.1\n",
    )
    .expect("signed zone");
    let config = format!(
        r#"
[general]
state_dir = "state"

[dns]
listen = ["127.0.0.1:5353"]

[[dns.zone]]
origin = "e2e.test"
file = "e2e.test.zone"

[[dns.zone]]
origin = "signed.test"
file = "signed.test.zone"
dnssec = {{ algorithm = "ecdsap256sha256", denial = "nsec" }}

[dhcp]
interfaces = ["{siface}"]
server_id = "10.95.0.1"

[[dhcp.subnet]]
name = "cpe"
subnet = "10.95.0.0/24"
interface = "{siface}"
pools = ["10.95.0.100-10.95.0.109"]
options = {{ routers = ["10.95.0.1"] }}

[tftp]
listen = ["10.95.0.1:69"]
root = "root"

[admin]
listen = "127.0.0.1:8443"

[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#
    );
    std::fs::create_dir_all(dir.path().join("root")).expect("tftp root");
    std::fs::write(dir.path().join("root/boot.bin"), "b".repeat(1500)).expect("boot file");
    let path = dir.path().join("headend.toml");
    std::fs::write(&path, &config).expect("config");
    let h = Headend::spawn_in_netns(&server, dir, path);
    add_user(&h, "ada", "admin", ADMIN_PW);
    add_user(&h, "vic", "viewer", VIEWER_PW);

    // A real client takes a lease.
    let work = tempfile::tempdir().expect("work");
    let out = work.path().join("udhcpc.out");
    let hook = configuring_hook(work.path(), "cpe", &out);
    let status = client
        .cmd("udhcpc")
        .args([
            "-i",
            &ciface,
            "-q",
            "-f",
            "-n",
            "-t",
            "3",
            "-T",
            "1",
            "-x",
            "hostname:ui-modem",
            "-s",
        ])
        .arg(&hook)
        .status()
        .expect("udhcpc");
    assert!(status.success(), "udhcpc got no lease");
    let bound = wait_line(&out, "bound", Duration::from_secs(5)).expect("bound");
    let ip = field(&bound, "ip");
    assert!(ip.starts_with("10.95.0.1"), "{bound}");

    // The client fetches its boot file, for the dashboard's TFTP counters.
    let got = work.path().join("boot.bin");
    let fetched = client
        .cmd("tftp")
        .args(["10.95.0.1", "-m", "binary", "-c", "get", "boot.bin"])
        .arg(&got)
        .output()
        .expect("tftp");
    assert_eq!(
        std::fs::read(&got).map(|b| b.len()).unwrap_or(0),
        1500,
        "tftp: {}",
        String::from_utf8_lossy(&fetched.stderr)
    );

    // The admin listener is up (it may start after DHCP and TFTP).
    let probe = work.path().join("probe.jar");
    let deadline = Instant::now() + Duration::from_secs(10);
    while curl(&server, &probe, &[&format!("{BASE}/ui/login")]).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the admin listener never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let b = Browser::start(&server, 1280, 800);

    // Not logged in: any page leads to the login page, which says why.
    // (The first navigation of a fresh browser may commit the redirect
    // after `go` returns: wait for it, and show the page if it never comes.)
    b.go(&format!("{BASE}/ui/leases?mac={MAC}"));
    let url = b.wait_url(|u| u.contains("/ui/login?next="));
    assert!(url.contains("/ui/login?next="), "{url}:\n{}", b.source());
    b.screenshot("login");
    // A wrong password is answered on the page, without detail.
    b.fill("#username", "ada");
    b.fill("#password", "not-the-password");
    b.click("#login");
    assert_eq!(b.text("#login-error"), "invalid username or password");
    b.fill("#username", "ada");
    b.fill("#password", ADMIN_PW);
    b.click("#login");
    // Back to the page asked for, with the search in the form.
    let url = b.wait_url(|u| u.ends_with(&format!("/ui/leases?mac={MAC}")));
    assert!(url.ends_with(&format!("/ui/leases?mac={MAC}")), "{url}");
    assert!(b.text("#whoami").contains("ada (admin)"));

    // The lease of the real client, found by MAC, host name and IP.
    let row = format!("#leases tr[data-address='{ip}']");
    assert!(b.text(&row).contains("ui-modem"), "{}", b.text(&row));
    assert!(b.text(&row).contains("bound"));
    b.fill("#mac", "");
    b.fill("#hostname", "UI-MOD");
    b.click("#search");
    assert!(
        b.text("#lease-count").starts_with("1 lease"),
        "{}",
        b.text("#lease-count")
    );
    b.fill("#hostname", "");
    b.fill("#ip", &ip);
    b.click("#search");
    b.find(&row);
    b.screenshot("leases");
    // A bad MAC is named beside its field.
    b.fill("#ip", "");
    b.fill("#mac", "02:00:zz");
    b.click("#search");
    assert!(b.text("#mac-error").contains("is not a MAC address"));

    // The dashboard counts it against its pool (1 of 10 addresses).
    b.go(&format!("{BASE}/ui/"));
    let used = b.script("return document.querySelector('#pools meter').value;");
    assert_eq!(used.as_f64(), Some(10.0), "{}", b.source());
    assert!(b.text("#by-state").contains("bound: 1"));
    // Rates for every service here, TFTP's counters, the reload line, and
    // the signed zone's signature health.
    for id in ["#rate-dhcp", "#rate-dns", "#rate-tftp"] {
        assert!(b.text(id).ends_with("/s"), "{id}: {}", b.text(id));
    }
    let tftp = b.text("#tftp-counters");
    assert!(tftp.contains("transfers completed"), "{tftp}");
    assert!(b.text("#last-reload").contains("none since start"));
    let health = b.text("#dash-zones");
    assert!(health.contains("signatures valid"), "{health}");
    b.screenshot("dashboard");

    // Release, with a confirmation page.
    b.go(&format!("{BASE}/ui/leases?ip={ip}"));
    b.click(&format!("#release-{}", ip.replace('.', "\\.")));
    assert!(
        b.text("#confirm-message").contains(MAC),
        "{}",
        b.text("#confirm-message")
    );
    b.screenshot("release-confirm");
    b.click("#confirm");
    assert_eq!(b.text("#notice"), "The lease was released.");
    assert!(lease_state(&h, &ip).contains("released"), "{}", h.leases());

    // Reservations: a bad MAC re-renders the form with the message; then a
    // good one is added and given an attribute.
    b.go(&format!("{BASE}/ui/reservations"));
    b.fill("#r-subnet", "cpe");
    b.fill("#r-hwaddr", "02:00:5e:21:00");
    b.fill("#r-address", "10.95.0.50");
    b.fill("#r-hostname", "fixed-cpe");
    b.click("#add");
    assert!(b.text("#hwaddr-error").contains("is not a MAC address"));
    assert_eq!(
        b.value("#r-address"),
        "10.95.0.50",
        "the form keeps what was typed"
    );
    b.fill("#r-hwaddr", "02-00-5E-21-00-02");
    b.click("#add");
    assert_eq!(b.text("#notice"), "The reservation was added.");
    let rrow = "#reservations tr[data-hwaddr='02:00:5e:21:00:02']";
    assert!(b.text(rrow).contains("10.95.0.50"));
    b.click(&format!("{rrow} a"));
    b.fill("#name_0", "tier");
    b.fill("#value_0", "gold");
    b.click("#save-attributes");
    assert_eq!(b.text("#notice"), "The attributes were saved.");
    assert_eq!(b.value("#name_0"), "tier");
    b.screenshot("reservation");

    // A record edit, served at once; then one the zone checks refuse.
    b.go(&format!("{BASE}/ui/zones/e2e.test"));
    let serial_before: u64 = b.text("#serial").parse().expect("serial");
    b.fill("#add-name", "console");
    b.fill("#add-rtype", "A");
    b.fill("#add-rdata", "192.0.2.77");
    b.click("#add-submit");
    assert!(b.text("#notice").contains("saved"), "{}", b.source());
    let serial_after: u64 = b.text("#serial").parse().expect("serial");
    assert!(serial_after > serial_before);
    assert_eq!(dig_a(&server, "console.e2e.test"), "192.0.2.77");
    // Inline edit of the set just made, then a refused one.
    let set = "[data-key='console.e2e.test. A']";
    b.fill(&format!("{set} textarea"), "192.0.2.78");
    b.click(&format!("{set} .rr-edit button"));
    assert!(b.text("#notice").contains("saved"));
    assert_eq!(dig_a(&server, "console.e2e.test"), "192.0.2.78");
    b.fill(&format!("{set} textarea"), "192.0.2.999");
    b.click(&format!("{set} .rr-edit button"));
    let error = b.text(&format!("{set} #error-rdata"));
    assert!(!error.is_empty(), "no error beside the field");
    assert!(!error.to_lowercase().contains("internal"), "{error}");
    assert_eq!(
        b.value(&format!("{set} textarea")),
        "192.0.2.999",
        "what was typed is kept"
    );
    assert_eq!(
        dig_a(&server, "console.e2e.test"),
        "192.0.2.78",
        "the refused edit changed nothing"
    );
    // The zone lint (as `headend check`): a CNAME beside other data.
    b.fill("#add-name", "www");
    b.fill("#add-rtype", "CNAME");
    b.fill("#add-rdata", "mail");
    b.click("#add-submit");
    let lint = b.text("#add-record #error-rdata");
    assert!(lint.contains("nothing was changed"), "{lint}");
    b.screenshot("zone-refused-edit");

    // A signed zone: its DS for the parent, as `headend dnssec ds` prints it.
    b.go(&format!("{BASE}/ui/zones/signed.test"));
    let cli = Command::new(headend_bin())
        .args(["dnssec", "--config"])
        .arg(&h.config)
        .args(["ds", "signed.test"])
        .output()
        .expect("headend dnssec ds");
    let want = String::from_utf8_lossy(&cli.stdout).trim().to_owned();
    assert!(want.contains(" IN DS "), "{want}");
    assert_eq!(b.text("#ds"), want);
    assert!(b.text("#dnskeys").contains("DNSKEY 257 3 13"));
    // Each key's state now: the default keys sign from the start.
    let states = texts(&b, "#key-states .key-state");
    assert!(
        !states.is_empty() && states.iter().all(|s| s == "active"),
        "{states:?}"
    );
    assert!(b.text("#next-key-event").starts_with("Next key event"));
    b.screenshot("zone-signed");

    // The audit log shows the edits, and exports CSV.
    b.go(&format!("{BASE}/ui/audit?action=record"));
    let audit = b.text("#audit");
    assert!(audit.contains("record.set"), "{audit}");
    assert!(audit.contains("e2e.test console A 192.0.2.77"), "{audit}");
    assert!(audit.contains("refused 422"), "{audit}");
    b.screenshot("audit");
    b.go(&format!("{BASE}/ui/audit?action=lease"));
    assert!(b.text("#audit").contains(&ip));
    // Filtered by user and time; a time that is not one is named.
    b.go(&format!("{BASE}/ui/audit"));
    b.fill("#a-user", "ada");
    b.fill("#a-since", "2000-01-01");
    b.click("#filter");
    let users = texts(&b, "#audit tbody tr td:nth-child(2)");
    assert!(
        !users.is_empty() && users.iter().all(|u| u == "ada"),
        "{users:?}"
    );
    b.fill("#a-since", "yesterday");
    b.click("#filter");
    assert!(!b.text("#since-error").is_empty());
    // Times: shown in the browser's zone by its own formatting, UTC on hover.
    b.go(&format!("{BASE}/ui/audit?action=record"));
    let shown = b.script(
        "var t = document.querySelector('#audit time'); var f = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' }; return [t.getAttribute('title'), t.textContent, new Date(t.getAttribute('datetime')).toLocaleString(undefined, f)];",
    );
    let shown: Vec<String> = shown
        .as_array()
        .expect("three strings")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(shown[0].ends_with(" UTC"), "{shown:?}");
    assert_eq!(shown[1], shown[2], "not in the browser's zone: {shown:?}");
    assert_ne!(shown[1], shown[0], "the script did not rewrite the time");

    b.go(&format!("{BASE}/ui/"));
    assert!(b.text("#by-state").contains("released: 1"));
    b.go(&format!("{BASE}/ui/users"));
    assert!(b.text("#users").contains("vic"));
    b.screenshot("users");

    // Users: add one (as an operator), change its role, revoke its
    // session, disable it.
    b.fill("#u-name", "otto");
    b.script("document.querySelector('#u-role').value = 'operator'; return 0;");
    b.fill("#u-password", OTTO_PW);
    b.click("#add-user-submit");
    assert_eq!(b.text("#notice"), "The user was added.");
    let otto = "#users tr[data-user='otto']";
    assert_eq!(b.value(&format!("{otto} select")), "operator");
    b.script("document.querySelector(\"#users tr[data-user='otto'] select\").value = 'viewer'; return 0;");
    b.click(&format!("{otto} form[action$='/role'] button"));
    assert_eq!(b.text("#notice"), "The role was changed.");
    assert_eq!(b.value(&format!("{otto} select")), "viewer");
    let ojar = work.path().join("otto.jar");
    curl_login(&server, &ojar, "otto", OTTO_PW);
    assert_eq!(curl(&server, &ojar, &[&format!("{BASE}/ui/zones")]).0, 200);
    b.go(&format!("{BASE}/ui/users"));
    b.click("#sessions tr[data-session-user='otto'] button");
    assert_eq!(b.text("#notice"), "The session was revoked.");
    assert!(b.all("#sessions tr[data-session-user='otto']").is_empty());
    wait_signed_out(&server, &ojar, "a revoked session");
    b.click(&format!("{otto} form[action$='/disable'] button"));
    assert!(b.text(otto).contains("disabled"), "{}", b.text(otto));
    b.screenshot("users-changed");

    // The admin's own password: every session ends, the new one logs in.
    b.go(&format!("{BASE}/ui/account"));
    b.fill("#current", ADMIN_PW);
    b.fill("#new-password", ADMIN_PW2);
    b.fill("#confirm-password", ADMIN_PW2);
    b.click("#change-password");
    assert!(b.url().contains("/ui/login"), "{}", b.url());
    b.fill("#username", "ada");
    b.fill("#password", ADMIN_PW);
    b.click("#login");
    assert_eq!(b.text("#login-error"), "invalid username or password");
    b.fill("#username", "ada");
    b.fill("#password", ADMIN_PW2);
    b.click("#login");
    assert!(b.text("#whoami").contains("ada (admin)"));

    // Phone width: nothing wider than the screen (tables scroll in place).
    b.resize(390, 844);
    b.go(&format!("{BASE}/ui/leases"));
    let overflow = b.script("return document.documentElement.scrollWidth - window.innerWidth;");
    let wide = b.script(
        "var out = [window.innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth]; for (var e = document.getElementById('leases'); e; e = e.parentElement) { out.push(e.tagName + '.' + e.className + ' w=' + Math.round(e.getBoundingClientRect().width) + ' sw=' + e.scrollWidth + ' ox=' + getComputedStyle(e).overflowX); } return out;",
    );
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "page wider than a phone by {overflow}: {wide}"
    );
    b.screenshot("leases-phone");
    b.resize(1280, 800);

    // Every page carries the strict CSP and loads nothing from elsewhere.
    let jar = work.path().join("admin.jar");
    curl_login(&server, &jar, "ada", ADMIN_PW2);
    let out = server
        .cmd("curl")
        .args(["-sk", "-D", "-", "-o", "/dev/null", "-b"])
        .arg(&jar)
        .arg(format!("{BASE}/ui/"))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        head.contains(
            "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'"
        ),
        "{head}"
    );
    let (_, csv) = curl(
        &server,
        &jar,
        &[&format!("{BASE}/ui/audit?action=record.set&format=csv")],
    );
    assert!(
        csv.starts_with("id,time_utc,actor,source,action,target,result,detail\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(",ada,") && csv.contains("e2e.test console A 192.0.2.77"),
        "{csv}"
    );
    // A cross-site form, and one without an Origin, are refused.
    for origin in [vec!["-H", "Origin: https://evil.example"], vec![]] {
        let mut args = origin;
        let url = format!("{BASE}/ui/leases/{ip}/release");
        args.extend(["-X", "POST", url.as_str()]);
        let (status, body) = curl(&server, &jar, &args);
        assert_eq!(status, 403, "{body}");
    }

    // Logging out ends the session: pages lead to the login page again.
    b.click("#logout");
    let url = b.wait_url(|u| u.contains("/ui/login"));
    assert!(url.contains("/ui/login"), "{url}");
    assert_eq!(b.text("#login-notice"), "You are logged out.");
    b.go(&format!("{BASE}/ui/zones"));
    assert!(b.url().contains("/ui/login?next="), "{}", b.url());

    // A viewer: no edit controls, no admin pages, forged POSTs refused.
    b.fill("#username", "vic");
    b.fill("#password", VIEWER_PW);
    b.click("#login");
    let url = b.wait_url(|u| u.ends_with("/ui/zones"));
    assert!(url.ends_with("/ui/zones"), "{url}");
    b.go(&format!("{BASE}/ui/zones/e2e.test"));
    assert!(b.all("textarea").is_empty() && b.all("#add-record").is_empty());
    b.go(&format!("{BASE}/ui/leases"));
    assert!(b.all("a[id^='release-']").is_empty());
    b.go(&format!("{BASE}/ui/reservations"));
    assert!(b.all("#add-reservation").is_empty());
    assert!(b.all("a[href='/ui/audit']").is_empty());
    b.go(&format!("{BASE}/ui/audit"));
    assert_eq!(b.text("#error-message"), "this needs the admin role");
    b.screenshot("viewer-refused");
    let vjar = work.path().join("viewer.jar");
    curl_login(&server, &vjar, "vic", VIEWER_PW);
    let origin = format!("Origin: {BASE}");
    let (status, body) = curl(
        &server,
        &vjar,
        &[
            "-H",
            &origin,
            "-d",
            "name=console&rtype=A&rdata=192.0.2.66&form=add",
            &format!("{BASE}/ui/zones/e2e.test"),
        ],
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("this needs the operator role"));
    assert_eq!(dig_a(&server, "console.e2e.test"), "192.0.2.78");
    let (status, _) = curl(
        &server,
        &vjar,
        &[
            "-H",
            &origin,
            "-X",
            "POST",
            &format!("{BASE}/ui/users/vic/role"),
            "-d",
            "role=admin",
        ],
    );
    assert_eq!(status, 403);

    // The session ends under the browser (the user is disabled): the next
    // page asks for a login, and a form sent then says it was not saved.
    b.go(&format!("{BASE}/ui/account"));
    let out = Command::new(headend_bin())
        .args(["user", "-c"])
        .arg(&h.config)
        .args(["disable", "vic"])
        .output()
        .expect("user disable");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The API notices within a couple of seconds: wait until a session of
    // vic's (curl's) is refused, then use the browser's.
    wait_signed_out(&server, &vjar, "a disabled user's session");
    b.fill("#current", VIEWER_PW);
    b.fill("#new-password", "another-password");
    b.fill("#confirm-password", "another-password");
    b.click("#change-password");
    let url = b.wait_url(|u| u.contains("/ui/login?expired=1"));
    assert!(url.contains("/ui/login?expired=1"), "{url}");
    assert!(b.text("#login-notice").contains("nothing was changed"));
    b.screenshot("session-expired");
}
