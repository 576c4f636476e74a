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
    if errors > 0 {
        println!("{}: {errors} error(s)", config_file.display());
        ExitCode::FAILURE
    } else {
        println!("{}: OK", config_file.display());
        ExitCode::SUCCESS
    }
}
