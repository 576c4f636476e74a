//! A small W3C WebDriver client for Debian's `chromium` + `chromium-driver`.
//!
//! chromedriver and chromium run inside a network namespace the test
//! created (with headend), so the browser can reach nothing but that
//! namespace; or, for tests whose servers listen on the host's loopback,
//! on the host with every host name but `localhost` unresolvable and
//! chromium's background traffic off, so it reaches only 127.0.0.1. The test speaks the WebDriver JSON protocol to chromedriver
//! with `curl` run inside the same namespace (one short process per
//! command), and saves screenshots under `target/console-screenshots/`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::dhcp::{Netns, Proc};
use super::workspace_root;

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver with one headless chromium session, inside `ns`.
pub struct Browser<'a> {
    ns: Option<&'a Netns>,
    port: u16,
    session: String,
    _driver: Proc,
    _profile: tempfile::TempDir,
}

/// A found element.
#[derive(Clone)]
pub struct Element(String);

impl<'a> Browser<'a> {
    /// Starts chromedriver in `ns` and opens a headless chromium session of
    /// `width`×`height` that accepts headend's self-signed certificate.
    pub fn start(ns: &'a Netns, width: u32, height: u32) -> Self {
        Self::launch(Some(ns), 9515, width, height)
    }

    /// Starts chromedriver and chromium on the host, for servers on the
    /// host's loopback (IP literals only: no name resolves but localhost).
    pub fn start_on_loopback(width: u32, height: u32) -> Browser<'static> {
        Browser::launch(None, super::free_port(), width, height)
    }

    fn launch(ns: Option<&'a Netns>, port: u16, width: u32, height: u32) -> Self {
        super::require("chromium");
        super::require("chromedriver");
        let mut cmd = match ns {
            Some(ns) => ns.cmd("chromedriver"),
            None => std::process::Command::new("chromedriver"),
        };
        cmd.arg(format!("--port={port}"));
        let driver = Proc::spawn(cmd, true);
        let profile = tempfile::tempdir().expect("profile dir");
        let mut me = Self {
            ns,
            port,
            session: String::new(),
            _driver: driver,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = me.call("GET", "/status", None)
                && v["value"]["ready"] == json!(true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", me._profile.path().display()),
                    "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-default-apps", "--disable-extensions",
                    "--disable-domain-reliability", "--disable-breakpad",
                    "--disable-client-side-phishing-detection", "--lang=en-US",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                ]
            }
        }}});
        let v = me
            .call("POST", "/session", Some(caps))
            .expect("new session");
        me.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        me
    }

    /// One WebDriver command; `Err` carries the error JSON.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let mut child = match self.ns {
            Some(ns) => ns.cmd("curl"),
            None => std::process::Command::new("curl"),
        }
        .args(["-s", "--max-time", "60", "-X", method])
        .args(["-H", "Content-Type: application/json"])
        .args(if body.is_some() {
            vec!["--data-binary", "@-"]
        } else {
            vec![]
        })
        .arg(format!("http://127.0.0.1:{}{path}", self.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("curl");
        {
            let mut stdin = child.stdin.take().expect("stdin");
            if let Some(b) = &body {
                stdin.write_all(b.to_string().as_bytes()).expect("write");
            }
        }
        let out = child.wait_with_output().expect("curl output");
        let v: Value = serde_json::from_slice(&out.stdout).map_err(
            |_| json!({"error": "no JSON", "body": String::from_utf8_lossy(&out.stdout)}),
        )?;
        if v["value"].get("error").is_some() {
            Err(v)
        } else {
            Ok(v)
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        self.call(method, &full, body)
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"))["value"]
            .clone()
    }

    /// Loads `url` (waits for the page).
    pub fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// The URL once `ok` holds for it (a click starts a navigation that
    /// may still be running when the click returns), or the last URL seen
    /// after 10 s, for the caller's assertion to print.
    pub fn wait_url(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url();
            if ok(&url) || Instant::now() >= deadline {
                return url;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML.
    pub fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every element matching the CSS selector (none is fine).
    pub fn all(&self, css: &str) -> Vec<Element> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The element matching `css`, waiting up to 5 s for it.
    pub fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.all(css).into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}:\n{}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clears the field and types `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks the element matching `css` (every control of the console
    /// submits a form or follows a link) and waits up to 10 s for the page
    /// it leads to, so that what is read next is read from that page and
    /// not from the one being left.
    pub fn click(&self, css: &str) {
        let e = self.find(css);
        let mark = json!({"script": "window.__headend_left = true; return null;", "args": []});
        let full = format!("/session/{}/execute/sync", self.session);
        let _ = self.call("POST", &full, Some(mark));
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})));
        let probe = json!({
            "script": "return window.__headend_left === true ? 'old' : document.readyState;",
            "args": []
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Errors while the navigation runs are expected: try again.
            if let Ok(v) = self.call("POST", &full, Some(probe.clone()))
                && v["value"] == "complete"
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The rendered text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The current value of a form field.
    pub fn value(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{}/property/value", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs a script in the page and returns its value.
    pub fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Resizes the window.
    pub fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Saves a PNG of the viewport as `target/console-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot base64");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = workspace_root().join("target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        // The driver (and the browser in its process group) stop with `_driver`.
    }
}
