//! DOCSIS end to end: the sample configs of tests/data/docsis compiled by
//! `headend docsis compile` and checked by an independent decoder (PyPI's
//! pydocsis, with both MICs recomputed in Python), the CLI round trip, and
//! per-modem compiled files served over TFTP from a `format = "docsis"`
//! template with valid MICs, an ERROR 0 for a bad one, the secret re-read
//! on SIGHUP and never logged.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::tftp::{Fetch, config, raw_get};
use common::{Headend, free_port, headend_bin, lo, run, workspace_root};

const SECRET: &str = "e2e-cmts-S3cret-7f1c9a";

fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, format!("{secret}\n")).expect("secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn headend(args: &[&str]) -> Command {
    let mut c = Command::new(headend_bin());
    c.args(args);
    c
}

/// The python of the venv scripts/test.sh makes (target/test-venv) with pydocsis.
fn venv_python() -> PathBuf {
    let py = workspace_root().join("target/test-venv/bin/python3");
    assert!(
        py.is_file(),
        "{} is missing: run scripts/test.sh, which installs pydocsis into it",
        py.display()
    );
    py
}

#[test]
fn sample_configs_compile_to_files_pydocsis_decodes_with_valid_mics() {
    let py = venv_python();
    let data = workspace_root().join("tests/data/docsis");
    let out = tempfile::tempdir().expect("tempdir");
    let key = out.path().join("key");
    write_secret(&key, SECRET);
    let key_s = key.to_str().expect("utf-8 path");
    let mut n = 0;
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("tests/data/docsis")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    inputs.sort();
    for input in &inputs {
        let stem = input
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let cm = out.path().join(format!("{stem}.cm"));
        let (cm_s, in_s) = (cm.to_str().expect("utf-8"), input.to_str().expect("utf-8"));
        let mut args = vec!["docsis", "compile", in_s, "-o", cm_s, "--key-file", key_s];
        if stem.starts_with("mta-") {
            args.push("--mta");
        }
        run(&mut headend(&args));
        let json = run(&mut headend(&["docsis", "decode", cm_s, "--json"]));
        std::fs::write(out.path().join(format!("{stem}.json")), json).expect("json");
        // decode prints text that compiles back to the same bytes.
        let text = run(&mut headend(&[
            "docsis",
            "decode",
            cm_s,
            "--key-file",
            key_s,
        ]));
        if stem.starts_with("mta-") {
            assert!(text.contains("/* MTA hash: valid */"), "{stem}:\n{text}");
        } else {
            assert!(text.contains("/* CM MIC: valid */"), "{stem}:\n{text}");
            assert!(text.contains("/* CMTS MIC: valid */"), "{stem}:\n{text}");
            assert_eq!(
                text.contains("/* Extended CMTS MIC: valid */"),
                stem.contains("extended-cmts-mic"),
                "{stem}:\n{text}"
            );
        }
        let again_txt = out.path().join(format!("{stem}.again.txt"));
        std::fs::write(&again_txt, &text).expect("text");
        let again = out.path().join(format!("{stem}.again"));
        let mut args = vec![
            "docsis",
            "compile",
            again_txt.to_str().expect("utf-8"),
            "-o",
            again.to_str().expect("utf-8"),
            "--key-file",
            key_s,
        ];
        if stem.starts_with("mta-") {
            args.push("--mta");
        }
        run(&mut headend(&args));
        assert_eq!(
            std::fs::read(&again).expect("again"),
            std::fs::read(&cm).expect("cm"),
            "{stem}: decode | compile changed the bytes"
        );
        n += 1;
    }
    assert!(n >= 30, "only {n} sample configs");
    let report = Command::new(&py)
        .arg(data.join("pydocsis_check.py"))
        .arg(out.path())
        .arg(&key)
        .output()
        .expect("run pydocsis_check.py");
    let stdout = String::from_utf8_lossy(&report.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&report.stderr));
    assert!(report.status.success(), "pydocsis disagrees:\n{stdout}");
    assert_eq!(
        stdout.matches("\nok ").count() + usize::from(stdout.starts_with("ok ")),
        n
    );
    // A wrong key is reported as an invalid CMTS MIC.
    let wrong = out.path().join("wrong");
    write_secret(&wrong, "not-the-secret");
    let first = out.path().join("01-minimal.cm");
    let o = headend(&[
        "docsis",
        "decode",
        first.to_str().expect("utf-8"),
        "--key-file",
    ])
    .arg(&wrong)
    .output()
    .expect("decode");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("/* CMTS MIC: INVALID */"));
}

const TEMPLATE: &str = "Main\n{\n    NetworkAccess 1;\n    MaxCPE 4;\n    UsServiceFlow { UsServiceFlowRef 1; QosParamSetType 7; MaxRateSustained 20000000; }\n    DsServiceFlow { DsServiceFlowRef 2; QosParamSetType 7; MaxRateSustained 100000000; }\n    SnmpMibObject sysName.0 String \"cm-{{ mac_hex }}\";\n}\n";
const BROKEN: &str = "Main\n{\n    MaxCPE 999;\n}\n";

fn decode_text(dir: &Path, bytes: &[u8], key: &Path) -> (bool, String) {
    let f = dir.join("fetched.cm");
    std::fs::write(&f, bytes).expect("write");
    let o = headend(&["docsis", "decode"])
        .arg(&f)
        .arg("--key-file")
        .arg(key)
        .output()
        .expect("decode");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn fetch(port: u16, name: &str) -> Fetch {
    raw_get(lo(port), name.as_bytes(), &[("tsize", "0")])
}

#[test]
fn tftp_serves_per_modem_compiled_files_with_valid_mics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(dir.path().join("gold.docsis.j2"), TEMPLATE).expect("template");
    std::fs::write(dir.path().join("broken.docsis.j2"), BROKEN).expect("template");
    let secret = dir.path().join("cmts-secret");
    write_secret(&secret, SECRET);
    let check_key = dir.path().join("check-key");
    write_secret(&check_key, SECRET);
    let port = free_port();
    let extra = "[[tftp.template]]\npattern = \"modems/{mac}.cm\"\nfile = \"gold.docsis.j2\"\nformat = \"docsis\"\nshared_secret_file = \"cmts-secret\"\n\n[[tftp.template]]\npattern = \"broken/{mac}.cm\"\nfile = \"broken.docsis.j2\"\nformat = \"docsis\"\nshared_secret_file = \"cmts-secret\"\n";
    let cfg = config(&root, port, extra);
    let scratch = tempfile::tempdir().expect("tempdir");

    // `headend check` compiles the templates with a sample lease.
    let cfg_path = dir.path().join("check.toml");
    std::fs::write(&cfg_path, &cfg).expect("config");
    let o = headend(&["check", "--config"])
        .arg(&cfg_path)
        .output()
        .expect("check");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("broken.docsis.j2:3: MaxCPE: 999 is out of range 1..=254"),
        "{out}"
    );
    assert!(!out.contains("gold.docsis.j2"), "{out}");
    assert!(!out.contains(SECRET));

    let mut h = Headend::start_in(dir, &cfg);
    let a = match fetch(port, "modems/00005e005301.cm") {
        Fetch::Data(d, oack) => {
            let tsize = oack
                .iter()
                .find(|(k, _)| k == "tsize")
                .map(|(_, v)| v.clone());
            assert_eq!(
                tsize,
                Some(d.len().to_string()),
                "tsize is the compiled size"
            );
            d
        }
        Fetch::Error(c, m) => panic!("ERROR {c} {m}; logs:\n{}", h.logs().join("\n")),
    };
    let (valid, text) = decode_text(scratch.path(), &a, &check_key);
    assert!(valid, "{text}");
    assert!(
        text.contains("SnmpMibObject sysName.0 String \"cm-00005e005301\";"),
        "{text}"
    );
    assert!(text.contains("MaxRateSustained 20000000;"), "{text}");
    let Fetch::Data(b, _) = fetch(port, "modems/00-00-5e-00-53-02.cm") else {
        panic!("second modem refused")
    };
    assert_ne!(a, b, "each modem gets its own file");
    assert!(
        decode_text(scratch.path(), &b, &check_key)
            .1
            .contains("cm-00005e005302")
    );
    // The same modem again: the same bytes (from the cache).
    assert!(matches!(fetch(port, "modems/00005e005301.cm"), Fetch::Data(d, _) if d == a));

    // A template that does not compile: ERROR 0, logged with its line.
    h.mark_log();
    match fetch(port, "broken/00005e005301.cm") {
        Fetch::Error(0, m) => assert!(!m.contains("MaxCPE") && !m.is_empty(), "{m}"),
        other => panic!("expected ERROR 0, got {other:?}"),
    }
    h.wait_for_log(
        "line 3: MaxCPE: 999 is out of range",
        Duration::from_secs(5),
    );

    // A new secret takes effect on SIGHUP: files are compiled again with it.
    write_secret(&h.dir.path().join("cmts-secret"), "rotated-secret-42");
    h.signal("HUP");
    h.wait_for_log("SIGHUP: reloading", Duration::from_secs(5));
    let rotated = scratch.path().join("rotated");
    write_secret(&rotated, "rotated-secret-42");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let Fetch::Data(c, _) = fetch(port, "modems/00005e005301.cm") else {
            panic!("refused after SIGHUP")
        };
        if decode_text(scratch.path(), &c, &rotated).0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated secret was never used"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    h.stop();
    let logs = h.logs().join("\n");
    assert!(
        !logs.contains(SECRET) && !logs.contains("rotated-secret-42"),
        "secret in logs"
    );
}

#[test]
fn a_world_readable_secret_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(dir.path().join("gold.docsis.j2"), TEMPLATE).expect("template");
    let secret = dir.path().join("cmts-secret");
    std::fs::write(&secret, SECRET).expect("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let extra = "[[tftp.template]]\npattern = \"modems/{mac}.cm\"\nfile = \"gold.docsis.j2\"\nformat = \"docsis\"\nshared_secret_file = \"cmts-secret\"\n";
    let cfg = dir.path().join("headend.toml");
    std::fs::write(&cfg, config(&root, free_port(), extra)).expect("config");
    // Bounded: a server that started anyway is stopped by timeout(1).
    let o = Command::new("timeout")
        .arg("20")
        .arg(headend_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .expect("serve");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(SECRET));
}
