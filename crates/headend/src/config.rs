//! headend.toml: the general section plus one section per service, each owned
//! by its service crate.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Settings shared by every service.
    #[serde(default)]
    pub(crate) general: GeneralConfig,
    /// Logging.
    #[serde(default)]
    pub(crate) log: LogConfig,
    /// Authoritative DNS; absent means DNS is off.
    pub(crate) dns: Option<headend_dns::DnsConfig>,
    /// TFTP; absent means TFTP is off.
    pub(crate) tftp: Option<headend_tftp::TftpConfig>,
    /// DHCPv4; absent means DHCP is off.
    pub(crate) dhcp: Option<headend_dhcp::DhcpConfig>,
    /// DHCPv6; absent means DHCPv6 is off.
    pub(crate) dhcp6: Option<headend_dhcp6::Dhcp6Config>,
    /// The RFC 868 time server cable modems ask (option 4); absent means it is off.
    pub(crate) time: Option<headend_dhcp::TimeConfig>,
    /// The HTTPS admin API; absent means it is off.
    pub(crate) admin: Option<headend_admin::AdminConfig>,
    /// Where leases, users, sessions and the audit log are kept (`[store]`):
    /// SQLite in the state directory unless PostgreSQL is configured.
    #[serde(default)]
    pub(crate) store: headend_store::StoreConfig,
}

/// `[general]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeneralConfig {
    /// Where leases, keys and certificates live; relative to the config file's folder.
    #[serde(default = "default_state_dir")]
    pub(crate) state_dir: PathBuf,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        Self {
            state_dir: default_state_dir(),
        }
    }
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/headend")
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogConfig {
    /// `human` (default) or `json`.
    #[serde(default)]
    pub(crate) format: LogFormat,
    /// A tracing filter such as `info` or `headend_dns=debug`; RUST_LOG overrides it.
    #[serde(default = "default_log_level")]
    pub(crate) level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: default_log_level(),
        }
    }
}

fn default_log_level() -> String {
    "info".to_owned()
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event.
    Json,
}

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("{}: cannot read config: {source}", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: at key `{path}`: {}", file.display(), one_line(reason))]
    Invalid {
        file: PathBuf,
        path: String,
        reason: String,
    },
}

/// A parser message on one line, for one log record: the TOML parser's
/// excerpt of the file (`  |`, `3 | text`, `  |   ^^^`) left out, the other
/// lines joined by `: `. `headend check` prints the excerpt; logs and the
/// start-up error keep the position and the reason.
pub(crate) fn one_line(reason: &str) -> String {
    reason
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let digits = l.trim_start_matches(|c: char| c.is_ascii_digit());
            !digits.trim_start().starts_with('|')
        })
        .collect::<Vec<_>>()
        .join(": ")
}

impl Config {
    /// Reads, parses and validates a config file; relative paths in it are
    /// made relative to the file's folder.
    pub(crate) fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
            file: file.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|(path, reason)| ConfigError::Invalid {
            file: file.to_path_buf(),
            path,
            reason,
        })?;
        let base = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        config.resolve_paths(base);
        if let Some(dns) = &mut config.dns {
            let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
            dns.load_secrets(credentials.as_deref())
                .map_err(|(path, reason)| ConfigError::Invalid {
                    file: file.to_path_buf(),
                    path,
                    reason,
                })?;
        }
        Ok(config)
    }

    /// Parses config text; an error names the key path and says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, (String, String)> {
        let de = toml::Deserializer::parse(text)
            .map_err(|e| (String::from("(syntax)"), e.to_string()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            (path, e.into_inner().to_string().trim().to_owned())
        })
    }

    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        if self.general.state_dir.is_relative() {
            self.general.state_dir = base.join(&self.general.state_dir);
        }
        if let Some(dns) = &mut self.dns {
            dns.resolve_paths(base);
        }
        if let Some(tftp) = &mut self.tftp {
            tftp.resolve_paths(base);
        }
        if let Some(dhcp) = &mut self.dhcp {
            dhcp.resolve_paths(base);
        }
        if let Some(admin) = &mut self.admin {
            admin.resolve_paths(base);
        }
        if let headend_store::StoreConfig::Postgres(pg) = &mut self.store {
            for file in [&mut pg.password_file, &mut pg.tls_ca_file]
                .into_iter()
                .flatten()
            {
                if file.is_relative() {
                    *file = base.join(&*file);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let err = Config::parse("[dns]\nlisten = [\"127.0.0.1:53\"]\nlistn = 1\n").unwrap_err();
        assert!(err.1.contains("listn"), "{err:?}");
    }

    #[test]
    fn wrong_type_names_the_key_path() {
        let err = Config::parse("[dns]\nudp_payload_max = \"big\"\n").unwrap_err();
        assert_eq!(err.0, "dns.udp_payload_max");
    }

    #[test]
    fn a_multi_line_parser_error_is_one_line_with_position_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h.toml");
        std::fs::write(&file, "[general]\nstate_dir = { x = 1 }\n").unwrap();
        let err = Config::load(&file).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("expected path string"), "{err}");
        assert!(!err.contains(" | "), "no excerpt: {err}");
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::parse("").unwrap();
        assert!(config.dns.is_none());
        assert_eq!(config.log.format, LogFormat::Human);
    }
}
