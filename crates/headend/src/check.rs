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
    if errors > 0 {
        println!("{}: {errors} error(s)", config_file.display());
        ExitCode::FAILURE
    } else {
        println!("{}: OK", config_file.display());
        ExitCode::SUCCESS
    }
}
