//! `headend check`: validate the config and every zone it names, printing
//! `file:line: problem` for each finding, like named-checkzone and kzonecheck.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

/// Runs every check; exits non-zero when any error (not warning) was found.
pub(crate) fn run(config_file: &Path) -> ExitCode {
    let text = std::fs::read_to_string(config_file).unwrap_or_default();
    let config = match Config::load(config_file) {
        Ok(c) => c,
        Err(crate::config::ConfigError::Invalid { path, reason, .. }) => {
            let at = Finding::at(config_file, &text, &path);
            println!("{at}error: {path}: {reason}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut errors = lint(config_file, &text, &config);
    errors += secrets(config_file, &text, &config);
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
            match crate::locate::leading_key(&e) {
                // `dhcp.subnet[0].pools[0]: ...`: at the key's line.
                Some(key) => println!("{}error: {e}", Finding::at(config_file, &text, key)),
                None => println!("{}: [{name}]: {e}", config_file.display()),
            }
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

/// Where a finding is: `file:line: ` (or `file: ` when the key is not in the text).
struct Finding;

impl Finding {
    fn at(file: &Path, text: &str, key: &str) -> String {
        match crate::locate::key_line(text, key) {
            Some(line) => format!("{}:{line}: ", file.display()),
            None => format!("{}: ", file.display()),
        }
    }
}

/// Secrets written in the config (warnings: they end up in backups, diffs
/// and `ps`-visible editors) and secret files that cannot be used (errors);
/// returns the number of errors. Never prints a secret.
fn secrets(file: &Path, text: &str, config: &Config) -> usize {
    let inline = |key: &str, what: &str, instead: &str| {
        println!(
            "{}warning: {key}: the secret is written in the config ({what}: an inline secret); use {instead}",
            Finding::at(file, text, key)
        );
    };
    if let Some(dns) = &config.dns {
        for (i, key) in dns.tsig_keys.iter().enumerate() {
            if key.secret_inline {
                inline(
                    &format!("dns.tsig_key[{i}].secret"),
                    &format!("TSIG key {}", key.name),
                    &format!(
                        "secret_file (mode 0600) or LoadCredential=tsig.{}",
                        key.name
                    ),
                );
            }
        }
    }
    let mut errors = 0;
    if let headend_store::StoreConfig::Postgres(pg) = &config.store {
        if pg.url_has_password() {
            inline(
                "store.url",
                "the PostgreSQL password in the url",
                &format!(
                    "password_file (mode 0600) or LoadCredential={}",
                    headend_store::PASSWORD_CREDENTIAL
                ),
            );
        }
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(std::path::PathBuf::from);
        if let Err(e) = pg.load_password(credentials.as_deref()) {
            println!(
                "{}error: store.password_file: {e}",
                Finding::at(file, text, "store.password_file")
            );
            errors += 1;
        }
    }
    if let Some(admin) = &config.admin {
        if let Some(kek) = &admin.kek_file
            && let Err(e) = headend_util::read_secret(kek)
        {
            println!(
                "{}error: admin.kek_file: {e} ({})",
                Finding::at(file, text, "admin.kek_file"),
                kek.display()
            );
            errors += 1;
        }
        // Debian's convention lets the group ssl-cert read TLS keys (0640),
        // so only a key everyone may read is flagged.
        if let Some(key) = &admin.key
            && let Ok(meta) = std::fs::metadata(key)
            && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o004 != 0
        {
            println!(
                "{}warning: admin.key: {} (the TLS private key) is readable by every user; chmod 600 it (or 640 for a key group such as ssl-cert)",
                Finding::at(file, text, "admin.key"),
                key.display()
            );
        }
    }
    errors
}

/// Findings across sections that each section's own validation cannot see;
/// prints them and returns the number of errors.
fn lint(file: &Path, text: &str, config: &Config) -> usize {
    let mut errors = 0;
    let mut report = |error: bool, key: &str, message: &str| {
        let level = if error { "error" } else { "warning" };
        println!("{}{level}: {key}: {message}", Finding::at(file, text, key));
        errors += usize::from(error);
    };
    if let Some(dns) = &config.dns {
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, z) in dns.zones.iter().enumerate() {
            let norm = z.origin.trim_end_matches('.').to_ascii_lowercase();
            if let Some((_, first)) = seen.iter().find(|(o, _)| *o == norm) {
                report(
                    true,
                    &format!("dns.zone[{i}].origin"),
                    &format!(
                        "zone {:?} is already listed as dns.zone[{first}] (`x` and `x.` are the same zone): remove one",
                        z.origin
                    ),
                );
            } else {
                seen.push((norm, i));
            }
        }
    }
    let Some(dhcp) = &config.dhcp else {
        return errors;
    };
    for f in dhcp.lint() {
        report(f.error, &f.key, &f.message);
    }
    for (i, name) in dhcp.interfaces.iter().enumerate() {
        if !Path::new("/sys/class/net").join(name).exists() {
            report(
                false,
                &format!("dhcp.interfaces[{i}]"),
                &format!(
                    "there is no interface {name:?} on this host (`ip link` lists them): serve will fail to open its socket here; fix the name if this is the host that runs it"
                ),
            );
        }
    }
    for (j, s) in dhcp.subnets.iter().enumerate() {
        if let Some(name) = &s.interface
            && !Path::new("/sys/class/net").join(name).exists()
        {
            report(
                false,
                &format!("dhcp.subnet[{j}].interface"),
                &format!("there is no interface {name:?} on this host (`ip link` lists them)"),
            );
        }
    }
    if let Some(tftp) = &config.tftp {
        for (key, name) in boot_files(dhcp) {
            if let Some(why) = unserved(tftp, &name) {
                report(false, &key, &why);
            }
        }
    }
    errors
}

/// Every boot file name the section hands out, with its key path.
fn boot_files(dhcp: &headend_dhcp::DhcpConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |key: String, file: &Option<String>, option: &Option<String>| {
        if let Some(f) = file {
            out.push((format!("{key}.boot_file"), f.clone()));
        }
        if let Some(f) = option {
            out.push((format!("{key}.options.bootfile_name"), f.clone()));
        }
    };
    add("dhcp".into(), &None, &dhcp.options.bootfile_name);
    for (i, c) in dhcp.classes.iter().enumerate() {
        add(
            format!("dhcp.class[{i}]"),
            &c.boot_file,
            &c.options.bootfile_name,
        );
    }
    for (i, s) in dhcp.subnets.iter().enumerate() {
        add(
            format!("dhcp.subnet[{i}]"),
            &s.boot_file,
            &s.options.bootfile_name,
        );
        for (j, r) in s.reservations.iter().enumerate() {
            add(
                format!("dhcp.subnet[{i}].reservation[{j}]"),
                &r.boot_file,
                &r.options.bootfile_name,
            );
        }
    }
    out
}

/// Why the TFTP server would not serve `name`, or `None` when a file under
/// its root or a template pattern serves it (or remap rules may).
fn unserved(tftp: &headend_tftp::TftpConfig, name: &str) -> Option<String> {
    // Remapped names, per-client names and URLs (iPXE fetches over HTTP).
    if !tftp.remap.is_empty() || name.contains(['{', '$']) || name.contains("://") {
        return None;
    }
    let rel = name.trim_start_matches('/');
    if tftp.root.join(rel).is_file() {
        return None;
    }
    if tftp
        .templates
        .iter()
        .any(|t| pattern_matches(&t.pattern, rel))
    {
        return None;
    }
    Some(format!(
        "{name:?} is neither a file under the TFTP root {} nor matched by a [[tftp.template]] pattern: clients will get `file not found`; put the file there or fix the name",
        tftp.root.display()
    ))
}

/// Whether `path` matches a template pattern such as `modems/{mac}.cfg`
/// (a capture matches one or more characters of one path segment).
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while let Some((lit, after)) = rest.split_once('{') {
        parts.push(lit);
        rest = after.split_once('}').map_or("", |(_, a)| a);
    }
    parts.push(rest);
    let Some((first, others)) = parts.split_first() else {
        return false;
    };
    let Some(mut tail) = path.strip_prefix(first) else {
        return false;
    };
    for (n, lit) in others.iter().enumerate() {
        let last = n + 1 == others.len();
        let found = if last {
            tail.ends_with(lit).then(|| tail.len() - lit.len())
        } else if lit.is_empty() {
            Some(1)
        } else {
            tail.get(1..).and_then(|t| t.find(lit)).map(|i| i + 1)
        };
        let Some(at) = found else {
            return false;
        };
        let capture = &tail[..at];
        if capture.is_empty() || capture.contains('/') {
            return false;
        }
        tail = &tail[at + lit.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;

    #[test]
    fn template_patterns_match_one_segment_per_capture() {
        assert!(pattern_matches(
            "modems/{mac}.cfg",
            "modems/00:11:22:33:44:55.cfg"
        ));
        assert!(!pattern_matches("modems/{mac}.cfg", "modems/.cfg"));
        assert!(!pattern_matches("modems/{mac}.cfg", "modems/a/b.cfg"));
        assert!(!pattern_matches("modems/{mac}.cfg", "pxelinux.0"));
        assert!(pattern_matches("pxelinux.0", "pxelinux.0"));
    }
}
