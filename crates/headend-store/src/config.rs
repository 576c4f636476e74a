//! The `[store]` configuration section: which backend holds headend's state.
//!
//! ```toml
//! [store]
//! backend = "sqlite"            # the default: the file headend.db in the state directory
//! # backend = "postgres"
//! # url = "postgresql://headend@127.0.0.1:5432/headend"   # URL or key=value string
//! # password_file = "/etc/headend/pg-password"            # mode 0600, trailing newline trimmed
//! # pool = 4
//! # connect_timeout_secs = 10
//! # tls_ca_file = "/etc/headend/pg-ca.pem"                # TLS with verification, required
//! ```
//!
//! TLS to PostgreSQL: with `tls_ca_file` (PEM, one or more CA certificates),
//! every TCP connection uses TLS and must succeed in it: the server's
//! certificate must chain to one of those CAs and name the URL's host (DNS
//! name or IP address, as written in `host`); there is never a fallback to
//! plaintext, and the URL's own `sslmode` may be left out (`require` is
//! accepted, `disable` is refused). Without `tls_ca_file` headend speaks to
//! PostgreSQL without TLS, so `sslmode=require` (and libpq's `verify-ca` /
//! `verify-full`) in the URL is refused rather than silently weakened: use a
//! local socket or a trusted network then. A Unix-socket host
//! (`host=/run/postgresql`) never uses TLS (PostgreSQL offers none there),
//! with or without `tls_ca_file`; a host list mixing sockets and TCP hosts is
//! refused with `tls_ca_file`. A relative `tls_ca_file` is resolved by the
//! binary against the config file's directory.
//!
//! The password: better not in the url. `password_file` names a file only
//! its owner may read (a file with any group or other permission bit is
//! refused); without `password_file` and without a password in the url,
//! `$CREDENTIALS_DIRECTORY/headend-pg-password` (systemd
//! `LoadCredential=headend-pg-password:...`) is used when it exists. The
//! client library (rust-postgres) reads neither `PGPASSWORD`,
//! `PGPASSFILE` nor `~/.pgpass`: only these three places count. The
//! password never appears in logs or error messages (the target is shown
//! as `postgres:host:port/dbname`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ::postgres::config::{Host, SslMode};
use serde::Deserialize;

use crate::StoreError;

/// Read/auth connections to PostgreSQL when `pool` is not given.
pub const DEFAULT_POOL: usize = 4;
/// Seconds to wait for a PostgreSQL connection when `connect_timeout_secs` is not given.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// The largest accepted `pool`.
const MAX_POOL: usize = 64;
/// The largest accepted `connect_timeout_secs`.
const MAX_CONNECT_TIMEOUT_SECS: u64 = 300;

/// The `[store]` section: where leases, users, sessions, the audit log and
/// reservations are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawStoreConfig")]
#[non_exhaustive]
pub enum StoreConfig {
    /// SQLite: the file `headend.db` in the state directory (the default).
    #[default]
    Sqlite,
    /// PostgreSQL: one database shared by several headend servers.
    Postgres(PostgresConfig),
}

/// How to reach the PostgreSQL database (`backend = "postgres"`).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// libpq-style URL (`postgresql://user@host:port/dbname`) or key=value
    /// string (`host=... user=... dbname=...`), as the `postgres` crate reads it.
    pub url: String,
    /// A file holding the password (trailing newline trimmed), readable by
    /// its owner only (0600); read at open.
    pub password_file: Option<PathBuf>,
    /// Connections for reads and the admin API (one more is kept for lease writes).
    pub pool: usize,
    /// Seconds to wait for a connection to be made.
    pub connect_timeout_secs: u64,
    /// PEM file of the CA certificate(s) the server's certificate must chain
    /// to; when set, TCP connections require TLS with full verification
    /// (chain and host name or IP). Read at open. `None`: no TLS.
    pub tls_ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL itself: it may hold a password.
        let target = ::postgres::Config::from_str(&self.url)
            .map_or_else(|_| "<unparsable url>".to_owned(), |c| describe(&c));
        f.debug_struct("PostgresConfig")
            .field("url", &target)
            .field("password_file", &self.password_file)
            .field("pool", &self.pool)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

impl PostgresConfig {
    /// A configuration for `url` with the default pool size and connect timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            password_file: None,
            pool: DEFAULT_POOL,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            tls_ca_file: None,
        }
    }

    /// Checks the values and parses the URL (the password file is read later,
    /// at open).
    pub(crate) fn check(&self) -> Result<::postgres::Config, StoreError> {
        let err = |key, reason: &str| StoreError::Config {
            key,
            reason: reason.to_owned(),
        };
        if !(1..=MAX_POOL).contains(&self.pool) {
            return Err(err(
                "pool",
                &format!(
                    "{} connections is out of range; give 1 to {MAX_POOL}",
                    self.pool
                ),
            ));
        }
        if !(1..=MAX_CONNECT_TIMEOUT_SECS).contains(&self.connect_timeout_secs) {
            return Err(err(
                "connect_timeout_secs",
                &format!(
                    "{} s is out of range; give 1 to {MAX_CONNECT_TIMEOUT_SECS}",
                    self.connect_timeout_secs
                ),
            ));
        }
        // libpq's verification modes, which the `postgres` crate cannot parse:
        // say what to write instead of a bare "invalid value".
        if let Some(mode) = verify_sslmode(&self.url) {
            return Err(err(
                "url",
                &format!(
                    "sslmode={mode} is libpq's; here set tls_ca_file to the CA's PEM file instead (headend then always verifies the certificate chain and the host name) and drop sslmode from the url"
                ),
            ));
        }
        // The parser's message never repeats the URL, so no password leaks.
        let mut config = ::postgres::Config::from_str(&self.url).map_err(|e| StoreError::Config {
            key: "url",
            reason: format!(
                "not a PostgreSQL connection string ({}); write e.g. \"postgresql://headend@127.0.0.1:5432/headend\" or \"host=/run/postgresql user=headend dbname=headend\"",
                crate::error::render_pg(&e)
            ),
        })?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(err(
                "url",
                "names no host; add one, e.g. postgresql://headend@127.0.0.1:5432/headend (or host=/run/postgresql for the local socket)",
            ));
        }
        if self.tls_ca_file.is_some() {
            tls_mode(&mut config)?;
        } else if config.get_ssl_mode() == SslMode::Require {
            return Err(err(
                "url",
                "sslmode=require needs tls_ca_file (the PEM file of the CA that signed the server's certificate), so that the server is verified; set tls_ca_file, or drop sslmode and use a local socket or a trusted network",
            ));
        } else {
            // No TLS connector: never even ask the server for TLS.
            config.ssl_mode(SslMode::Disable);
        }
        if self.password_file.is_some() && config.get_password().is_some() {
            return Err(err(
                "password_file",
                "the url holds a password too; keep only one (the file is the safer place)",
            ));
        }
        Ok(config)
    }
}

/// The systemd credential holding the PostgreSQL password
/// (`LoadCredential=headend-pg-password:/etc/headend/credentials/pg-password`).
pub const PASSWORD_CREDENTIAL: &str = "headend-pg-password";

impl PostgresConfig {
    /// Whether the url itself holds a password (an inline secret, which
    /// `headend check` warns about).
    pub fn url_has_password(&self) -> bool {
        ::postgres::Config::from_str(&self.url).is_ok_and(|c| c.get_password().is_some())
    }

    /// The password to connect with: from `password_file` (refused when its
    /// group or others may read it, or when empty), else — when the url
    /// holds none — from the credential [`PASSWORD_CREDENTIAL`] in
    /// `credentials` (`$CREDENTIALS_DIRECTORY`) if it exists; `None`: the
    /// url's own password, or none (trust, peer or certificate auth).
    pub fn load_password(&self, credentials: Option<&Path>) -> Result<Option<String>, StoreError> {
        let path = match (&self.password_file, credentials) {
            (Some(path), _) => path.clone(),
            (None, _) if self.url_has_password() => return Ok(None),
            (None, Some(dir)) if dir.join(PASSWORD_CREDENTIAL).exists() => {
                dir.join(PASSWORD_CREDENTIAL)
            }
            (None, _) => return Ok(None),
        };
        let password =
            headend_util::read_secret(&path).map_err(|source| StoreError::PasswordFile {
                path: path.clone(),
                source,
            })?;
        if password.is_empty() {
            return Err(StoreError::PasswordFile {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the file is empty; write the password into it",
                ),
            });
        }
        Ok(Some(password))
    }
}

/// Sets `config` up for TLS with `tls_ca_file`: required on TCP hosts, off
/// for a host list of Unix sockets only; refuses what cannot be verified.
fn tls_mode(config: &mut ::postgres::Config) -> Result<(), StoreError> {
    let err = |reason: &str| StoreError::Config {
        key: "tls_ca_file",
        reason: reason.to_owned(),
    };
    if config.get_ssl_mode() == SslMode::Disable {
        return Err(err(
            "the url says sslmode=disable; drop sslmode from the url (TLS is required with tls_ca_file), or remove tls_ca_file",
        ));
    }
    let sockets = config
        .get_hosts()
        .iter()
        .filter(|h| matches!(h, Host::Unix(_)))
        .count();
    let hosts = config.get_hosts().len();
    if hosts == 0 {
        return Err(err(
            "the url gives only hostaddr, so there is no name to check the server's certificate against; add host (the name or IP address in the certificate)",
        ));
    }
    if sockets == hosts {
        // PostgreSQL offers no TLS on a Unix socket; the socket's file
        // permissions are its protection.
        config.ssl_mode(SslMode::Disable);
        return Ok(());
    }
    if sockets > 0 {
        return Err(err(
            "the url mixes Unix-socket and TCP hosts; TLS is required over TCP but PostgreSQL offers none on a socket, so list only TCP hosts (or only sockets)",
        ));
    }
    config.ssl_mode(SslMode::Require);
    Ok(())
}

/// The value of a libpq `sslmode=verify-ca`/`verify-full` in `url` (URL or
/// key=value form), if any.
fn verify_sslmode(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    let start = lower.find("sslmode")?;
    let rest = lower[start + "sslmode".len()..].trim_start();
    let value = rest.strip_prefix('=')?.trim_start();
    let value: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    value.starts_with("verify").then_some(value)
}

/// `postgres:host:port/dbname` for logs (never the password).
pub(crate) fn describe(config: &::postgres::Config) -> String {
    let host = match (config.get_hosts().first(), config.get_hostaddrs().first()) {
        (Some(Host::Tcp(h)), _) => h.clone(),
        (Some(Host::Unix(p)), _) => p.display().to_string(),
        (None, Some(a)) => a.to_string(),
        (None, None) => "?".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    // libpq's default database is the user's name.
    let db = config
        .get_dbname()
        .or_else(|| config.get_user())
        .unwrap_or("?");
    format!("postgres:{host}:{port}/{db}")
}

/// Which backend, as written in the file.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BackendName {
    #[default]
    Sqlite,
    #[serde(alias = "postgresql")]
    Postgres,
}

/// The section as written, before the per-backend checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStoreConfig {
    #[serde(default)]
    backend: BackendName,
    url: Option<String>,
    password_file: Option<PathBuf>,
    pool: Option<usize>,
    connect_timeout_secs: Option<u64>,
    tls_ca_file: Option<PathBuf>,
}

impl TryFrom<RawStoreConfig> for StoreConfig {
    type Error = StoreError;

    fn try_from(raw: RawStoreConfig) -> Result<Self, StoreError> {
        match raw.backend {
            BackendName::Sqlite => {
                let set = [
                    ("url", raw.url.is_some()),
                    ("password_file", raw.password_file.is_some()),
                    ("pool", raw.pool.is_some()),
                    ("connect_timeout_secs", raw.connect_timeout_secs.is_some()),
                    ("tls_ca_file", raw.tls_ca_file.is_some()),
                ];
                if let Some((key, _)) = set.into_iter().find(|(_, is_set)| *is_set) {
                    return Err(StoreError::Config {
                        key,
                        reason: "only used with backend = \"postgres\"; remove it, or set backend = \"postgres\"".to_owned(),
                    });
                }
                Ok(Self::Sqlite)
            }
            BackendName::Postgres => {
                let Some(url) = raw.url else {
                    return Err(StoreError::Config {
                        key: "url",
                        reason: "required with backend = \"postgres\", e.g. url = \"postgresql://headend@127.0.0.1:5432/headend\"".to_owned(),
                    });
                };
                let config = PostgresConfig {
                    url,
                    password_file: raw.password_file,
                    pool: raw.pool.unwrap_or(DEFAULT_POOL),
                    connect_timeout_secs: raw
                        .connect_timeout_secs
                        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
                    tls_ca_file: raw.tls_ca_file,
                };
                config.check()?;
                Ok(Self::Postgres(config))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StoreConfig, String> {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            store: StoreConfig,
        }
        toml::from_str::<File>(text)
            .map(|f| f.store)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn missing_section_and_empty_section_mean_sqlite() {
        assert_eq!(parse("").unwrap(), StoreConfig::Sqlite);
        assert_eq!(parse("[store]\n").unwrap(), StoreConfig::Sqlite);
        assert_eq!(
            parse("[store]\nbackend = \"sqlite\"\n").unwrap(),
            StoreConfig::Sqlite
        );
    }

    #[test]
    fn postgres_section_gets_defaults() {
        let c = parse("[store]\nbackend = \"postgres\"\nurl = \"postgresql://headend@127.0.0.1:5432/headend\"\n")
            .unwrap();
        let StoreConfig::Postgres(pg) = c else {
            panic!("not postgres: {c:?}");
        };
        assert_eq!(pg.pool, DEFAULT_POOL);
        assert_eq!(pg.connect_timeout_secs, DEFAULT_CONNECT_TIMEOUT_SECS);
        assert_eq!(pg.password_file, None);
    }

    #[test]
    fn postgres_without_url_names_the_key() {
        let e = parse("[store]\nbackend = \"postgres\"\n").unwrap_err();
        assert!(e.contains("url") && e.contains("required"), "{e}");
    }

    #[test]
    fn postgres_keys_under_sqlite_are_named() {
        for (key, value) in [
            ("url", "\"postgresql://h@127.0.0.1/h\""),
            ("password_file", "\"/etc/pw\""),
            ("pool", "2"),
            ("connect_timeout_secs", "3"),
            ("tls_ca_file", "\"/etc/headend/pg-ca.pem\""),
        ] {
            let e = parse(&format!("[store]\n{key} = {value}\n")).unwrap_err();
            assert!(
                e.contains(&format!("[store] {key}:")) && e.contains("backend = \"postgres\""),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn unknown_key_and_backend_are_refused() {
        let e = parse("[store]\nbackend = \"postgres\"\nurl = \"host=x\"\ndatabase = \"x\"\n")
            .unwrap_err();
        assert!(e.contains("unknown field `database`"), "{e}");
        let e = parse("[store]\nbackend = \"mysql\"\n").unwrap_err();
        assert!(e.contains("unknown variant `mysql`"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let base =
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql://headend@127.0.0.1/headend\"\n";
        let e = parse(&format!("{base}pool = 0\n")).unwrap_err();
        assert!(e.contains("[store] pool:"), "{e}");
        let e = parse(&format!("{base}connect_timeout_secs = 0\n")).unwrap_err();
        assert!(e.contains("[store] connect_timeout_secs:"), "{e}");
        let e = parse("[store]\nbackend = \"postgres\"\nurl = \"postgresql://h:secret@127.0.0.1/h\"\npassword_file = \"/x\"\n")
            .unwrap_err();
        assert!(e.contains("[store] password_file:"), "{e}");
        let e = parse("[store]\nbackend = \"postgres\"\nurl = \"dbname=headend\"\n").unwrap_err();
        assert!(e.contains("[store] url:") && e.contains("no host"), "{e}");
        let e = parse(
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql://h:hunter2@127.0.0.1:99999/h\"\n",
        )
        .unwrap_err();
        assert!(e.contains("[store] url:"), "{e}");
        assert!(!e.contains("hunter2"), "password leaked: {e}");
    }

    fn postgres(url: &str, tls_ca_file: Option<&str>) -> Result<StoreConfig, String> {
        let tls = tls_ca_file.map_or_else(String::new, |f| format!("tls_ca_file = \"{f}\"\n"));
        parse(&format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\n{tls}"
        ))
    }

    #[test]
    fn tls_ca_file_is_accepted_for_postgres_and_requires_tls() {
        let c = postgres(
            "postgresql://headend@db.example:5432/headend",
            Some("/etc/headend/pg-ca.pem"),
        )
        .unwrap();
        let StoreConfig::Postgres(pg) = c else {
            panic!("not postgres: {c:?}");
        };
        assert_eq!(
            pg.tls_ca_file.as_deref(),
            Some(Path::new("/etc/headend/pg-ca.pem"))
        );
        assert_eq!(pg.check().unwrap().get_ssl_mode(), SslMode::Require);
        // sslmode=require in the url is fine with a CA file.
        let c = postgres(
            "host=db.example user=headend sslmode=require",
            Some("/etc/headend/pg-ca.pem"),
        );
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn without_tls_ca_file_no_tls_is_asked_for() {
        let pg = PostgresConfig::new("postgresql://headend@db.example/headend");
        assert_eq!(pg.check().unwrap().get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn sslmode_require_or_verify_without_tls_ca_file_is_refused() {
        for url in [
            "postgresql://headend@db.example/headend?sslmode=require",
            "host=db.example user=headend sslmode=require",
            "postgresql://headend@db.example/headend?sslmode=verify-full",
            "host=db.example user=headend sslmode = verify-ca",
        ] {
            let e = postgres(url, None).unwrap_err();
            assert!(
                e.contains("[store] url:") && e.contains("tls_ca_file"),
                "{url}: {e}"
            );
        }
    }

    #[test]
    fn verify_modes_are_refused_with_tls_ca_file_too() {
        let e = postgres(
            "postgresql://headend@db.example/headend?sslmode=verify-full",
            Some("/ca.pem"),
        )
        .unwrap_err();
        assert!(
            e.contains("sslmode=verify-full") && e.contains("drop sslmode"),
            "{e}"
        );
    }

    #[test]
    fn tls_ca_file_refuses_what_it_cannot_verify() {
        let e = postgres(
            "postgresql://headend@db.example/headend?sslmode=disable",
            Some("/ca.pem"),
        )
        .unwrap_err();
        assert!(
            e.contains("[store] tls_ca_file:") && e.contains("sslmode=disable"),
            "{e}"
        );
        let e = postgres("hostaddr=192.0.2.7 user=headend", Some("/ca.pem")).unwrap_err();
        assert!(
            e.contains("[store] tls_ca_file:") && e.contains("add host"),
            "{e}"
        );
        let e = postgres(
            "host=/run/postgresql,db.example user=headend",
            Some("/ca.pem"),
        )
        .unwrap_err();
        assert!(
            e.contains("[store] tls_ca_file:") && e.contains("mixes"),
            "{e}"
        );
    }

    #[test]
    fn unix_socket_hosts_never_use_tls() {
        let mut pg = PostgresConfig::new("host=/run/postgresql user=headend");
        pg.tls_ca_file = Some("/etc/headend/pg-ca.pem".into());
        assert_eq!(pg.check().unwrap().get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn debug_and_describe_hide_the_password() {
        let pg = PostgresConfig::new("postgresql://headend:hunter2@db.example:6432/leases");
        let shown = format!("{pg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres:db.example:6432/leases"), "{shown}");
        let c = pg.check().unwrap();
        assert_eq!(describe(&c), "postgres:db.example:6432/leases");
        let c = PostgresConfig::new("host=/run/postgresql user=headend")
            .check()
            .unwrap();
        assert_eq!(describe(&c), "postgres:/run/postgresql:5432/headend");
    }

    #[test]
    fn password_comes_from_a_private_file_or_the_credential_never_a_shared_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pg-password");
        std::fs::write(&file, "s3cret-pw\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut pg = PostgresConfig::new("postgresql://headend@db.example/headend");
        pg.password_file = Some(file.clone());
        let e = pg.load_password(None).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && e.contains("pg-password"), "{e}");
        assert!(!e.contains("s3cret-pw"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            pg.load_password(None).unwrap().as_deref(),
            Some("s3cret-pw")
        );

        // The credential, only when neither the file nor the url gives one.
        let creds = tempfile::tempdir().unwrap();
        let cred = creds.path().join(PASSWORD_CREDENTIAL);
        std::fs::write(&cred, "from-systemd").unwrap();
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(
            pg.load_password(Some(creds.path())).unwrap().as_deref(),
            Some("s3cret-pw")
        );
        pg.password_file = None;
        assert_eq!(
            pg.load_password(Some(creds.path())).unwrap().as_deref(),
            Some("from-systemd")
        );
        assert_eq!(pg.load_password(None).unwrap(), None);
        let in_url = PostgresConfig::new("postgresql://headend:pw@db.example/headend");
        assert_eq!(in_url.load_password(Some(creds.path())).unwrap(), None);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(pg.load_password(Some(empty.path())).unwrap(), None);

        std::fs::write(&file, "\n").unwrap();
        pg.password_file = Some(file);
        let e = pg.load_password(None).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
