//! DOCSIS in the binary: the TFTP output formats `docsis` and `mta` (the
//! wiring between headend-tftp and headend-docsis), the shared-secret file
//! rules, and the `headend docsis compile|decode` commands.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use headend_docsis::{DocsisError, FileSource, Options};
use headend_tftp::{FormatError, Formatter, OutputFormat, TemplateConfig};

/// The CMTS shared secret; never printed (its Debug is redacted).
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Expands a leading `$CREDENTIALS_DIRECTORY/` (systemd `LoadCredential=`).
fn credential_path(path: &Path) -> Result<PathBuf, String> {
    let text = path.to_string_lossy();
    if let Some(name) = text
        .strip_prefix("$CREDENTIALS_DIRECTORY/")
        .or_else(|| text.rsplit_once("$CREDENTIALS_DIRECTORY/").map(|(_, n)| n))
    {
        let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
            format!("{}: CREDENTIALS_DIRECTORY is not set (not started by systemd with LoadCredential=)", path.display())
        })?;
        return Ok(PathBuf::from(dir).join(name));
    }
    Ok(path.to_path_buf())
}

/// The systemd credential a `format = "docsis"` template without
/// `shared_secret_file` takes its CMTS shared secret from.
pub(crate) const DOCSIS_CREDENTIAL: &str = "headend-docsis-secret";

/// `$CREDENTIALS_DIRECTORY/headend-docsis-secret`, when it exists.
fn default_credential() -> Option<PathBuf> {
    std::env::var_os("CREDENTIALS_DIRECTORY")
        .map(|d| PathBuf::from(d).join(DOCSIS_CREDENTIAL))
        .filter(|p| p.exists())
}

/// Reads a shared-secret file: it must be a regular file that neither its
/// group nor others can read or write (0600 or stricter). Trailing line
/// ends are not part of the secret.
pub(crate) fn read_secret(path: &Path) -> Result<Secret, String> {
    let path = credential_path(path)?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: mode {:o} lets others read the CMTS shared secret; chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let mut bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(format!("{}: the shared secret is empty", path.display()));
    }
    Ok(Secret(bytes))
}

/// Certificates named in config text, read relative to a folder.
struct DirFiles(PathBuf);

impl FileSource for DirFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

/// A prepared DOCSIS or MTA output format of one template.
struct DocsisFormat {
    secret: Secret,
    mta: bool,
    dir: PathBuf,
}

fn format_error(e: &DocsisError) -> FormatError {
    FormatError {
        line: e.line(),
        reason: match e {
            DocsisError::Syntax { reason, .. } => reason.clone(),
            DocsisError::Setting { name, reason, .. } => format!("{name}: {reason}"),
            other => other.to_string(),
        },
    }
}

impl OutputFormat for DocsisFormat {
    fn apply(&self, rendered: &str) -> Result<Vec<u8>, FormatError> {
        let opts = Options {
            key: &self.secret.0,
            mta: self.mta,
            mta_hash: true,
        };
        headend_docsis::compile(rendered, &opts, &DirFiles(self.dir.clone()))
            .map_err(|e| format_error(&e))
    }
}

/// The binary's [`Formatter`]: `text`, `docsis` and `mta`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DocsisFormatter;

impl Formatter for DocsisFormatter {
    fn prepare(&self, t: &TemplateConfig) -> Result<Option<Arc<dyn OutputFormat>>, String> {
        let dir = t
            .file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        match t.format.as_str() {
            "text" => {
                if t.shared_secret_file.is_some() {
                    return Err("shared_secret_file is only for format = \"docsis\"".into());
                }
                Ok(None)
            }
            "docsis" => {
                let Some(file) = t.shared_secret_file.clone().or_else(default_credential) else {
                    return Err(format!(
                        "format = \"docsis\" needs shared_secret_file (the CMTS shared secret, mode 0600), or the systemd credential {DOCSIS_CREDENTIAL} (LoadCredential=)"
                    ));
                };
                Ok(Some(Arc::new(DocsisFormat {
                    secret: read_secret(&file)?,
                    mta: false,
                    dir,
                })))
            }
            "mta" => Ok(Some(Arc::new(DocsisFormat {
                secret: Secret(Vec::new()),
                mta: true,
                dir,
            }))),
            other => Err(format!("unknown format `{other}` (text, docsis or mta)")),
        }
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// `headend docsis compile`.
pub(crate) fn compile(
    input: &Path,
    output: &Path,
    key_file: Option<&Path>,
    mta: bool,
    no_hash: bool,
) -> ExitCode {
    let text = match std::fs::read_to_string(input) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", input.display())),
    };
    let secret = match key_file {
        Some(k) => match read_secret(k) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
        None if mta => Secret(Vec::new()),
        None => return fail("a cable modem file needs --key-file (the CMTS shared secret)"),
    };
    let dir = input
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let opts = Options {
        key: &secret.0,
        mta,
        mta_hash: !no_hash,
    };
    let bytes = match headend_docsis::compile(&text, &opts, &DirFiles(dir)) {
        Ok(b) => b,
        Err(e) => {
            let e = format_error(&e);
            return match e.line {
                Some(l) => fail(format!("{}:{l}: {}", input.display(), e.reason)),
                None => fail(format!("{}: {}", input.display(), e.reason)),
            };
        }
    };
    if let Err(e) = headend_util::write_atomic(output, &bytes, 0o644) {
        return fail(format!("{}: {e}", output.display()));
    }
    println!("{}: {} bytes", output.display(), bytes.len());
    ExitCode::SUCCESS
}

/// `headend docsis decode`.
pub(crate) fn decode(file: &Path, key_file: Option<&Path>, json: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let secret = match key_file.map(read_secret).transpose() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let decoded = match headend_docsis::decode(&bytes) {
        Ok(d) => d,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    if json {
        println!("{}", decoded.to_json());
        return ExitCode::SUCCESS;
    }
    print!("{}", decoded.to_text());
    let report = match headend_docsis::verify(&bytes, secret.as_ref().map(|s| s.0.as_slice())) {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let word = |v: Option<bool>, absent: &str| match v {
        Some(true) => "valid".to_owned(),
        Some(false) => "INVALID".to_owned(),
        None => absent.to_owned(),
    };
    let mut bad = false;
    if decoded.mta {
        println!("/* MTA hash: {} */", word(report.mta_hash, "absent"));
        bad |= report.mta_hash == Some(false);
    } else {
        println!("/* CM MIC: {} */", word(report.cm_mic, "absent"));
        println!(
            "/* CMTS MIC: {} */",
            word(
                report.cmts_mic,
                if secret.is_some() {
                    "absent"
                } else {
                    "not checked (no --key-file)"
                }
            )
        );
        if let Some(ext) = report.extended_cmts_mic {
            println!("/* Extended CMTS MIC: {} */", word(Some(ext), ""));
        }
        bad |= report.cm_mic == Some(false)
            || report.cmts_mic == Some(false)
            || report.extended_cmts_mic == Some(false);
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn secret_files_must_be_private_and_lose_their_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret(&p).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("s3cret"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = read_secret(&p).unwrap();
        assert_eq!(s.0, b"s3cret");
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }
}
