//! `headend check`: validate the config and every zone it names, printing
//! `file:line: problem` for each finding, like named-checkzone and kzonecheck.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

/// Runs every check; exits non-zero when any error (not warning) was found.
pub(crate) fn run(config_file: &Path) -> ExitCode {
    let config = match Config::load(config_file) {
        Ok(c) => c,
        Err(e) => {
            println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut errors = 0usize;
    if let Some(dns) = &config.dns {
        for report in headend_dns::check_config(dns) {
            for line in &report.lines {
                println!("{line}");
            }
            errors += report.errors;
            if report.errors == 0 {
                println!(
                    "zone {}: loaded from {} ({} records)",
                    report.origin,
                    report.file.display(),
                    report.records
                );
            }
        }
    }
    // The service sections compile their config the way `serve` would, so
    // pool, class, server-id and key errors show up here and not at start-up.
    let mut section = |name: &str, result: Result<(), String>| {
        if let Err(e) = result {
            println!("{}: [{name}]: {e}", config_file.display());
            errors += 1;
        }
    };
    if let Some(dhcp) = &config.dhcp {
        section("dhcp", dhcp.validate().map_err(|e| e.to_string()));
        for w in dhcp.warnings() {
            println!("{}: [dhcp]: warning: {w}", config_file.display());
        }
    }
    if let Some(dhcp6) = &config.dhcp6 {
        section("dhcp6", dhcp6.validate().map_err(|e| e.to_string()));
    }
    if let Some(time) = &config.time {
        section("time", time.validate().map_err(|e| e.to_string()));
    }
    if let Some(admin) = &config.admin {
        section("admin", admin.validate().map_err(|e| e.to_string()));
    }
    let budget = crate::fds::Budget::of(&config);
    match crate::fds::available() {
        Ok(available) if budget.needed() > available => {
            println!("{}: {}", config_file.display(), budget.refusal(available));
            errors += 1;
        }
        Ok(available) => println!("{}", budget.summary(available)),
        Err(e) => println!("file descriptors: cannot read the limit: {e}"),
    }
    if let Some(tftp) = &config.tftp {
        errors += check_templates(config_file, tftp);
    }
    if errors > 0 {
        println!("{}: {errors} error(s)", config_file.display());
        ExitCode::FAILURE
    } else {
        println!("{}: OK", config_file.display());
        ExitCode::SUCCESS
    }
}

/// Compiles every DOCSIS/MTA template with a sample lease; returns the
/// number of errors printed as `file:line: problem`.
fn check_templates(config_file: &Path, tftp: &headend_tftp::TftpConfig) -> usize {
    let templates = match headend_tftp::template::Templates::compile_with(
        &tftp.templates,
        std::sync::Arc::new(crate::docsis::DocsisFormatter),
    ) {
        Ok(t) => t,
        Err(e) => {
            println!("{}: [tftp]: {e}", config_file.display());
            return 1;
        }
    };
    let sample = headend_tftp::LeaseInfo {
        mac: [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01],
        ip: std::net::Ipv4Addr::new(192, 0, 2, 10),
        hostname: Some("sample-modem".into()),
        class: Some("docsis".into()),
    };
    let problems = templates.check_samples(&sample);
    for p in &problems {
        match p.line {
            Some(l) => println!("{}:{l}: {}", p.file.display(), p.reason),
            None => println!("{}: {}", p.file.display(), p.reason),
        }
    }
    problems.len()
}
