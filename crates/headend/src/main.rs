//! The headend binary: command line, config loading, and the wiring of the
//! DNS, DHCP and TFTP services and the admin API.

mod check;
mod config;
mod ddns;
mod docsis;
mod fds;
mod lease_lookup;
mod leases;
mod locate;
mod manual;
mod reference;
mod repeat;
mod report;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogConfig, LogFormat};

/// DNS, DHCPv4 and TFTP for provisioning networks.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The config file (its general.state_dir holds the store and keys);
    /// accepted before or after the subcommand.
    #[arg(
        short,
        long,
        global = true,
        default_value = "/etc/headend/headend.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the services enabled in the config until stopped (SIGHUP reloads zones).
    Serve {
        /// Write the process id to this file once started (removed at exit).
        #[arg(long)]
        pidfile: Option<PathBuf>,
    },
    /// Validate the config and every zone it names; exit non-zero on any error.
    Check,
    /// List the DHCP leases in the store (works while the server runs).
    Leases,
    /// Manage admin API users directly in the state directory's store.
    User {
        #[command(subcommand)]
        command: headend_admin::cli::UserCommand,
    },
    /// Talk to a running admin API over HTTPS (log in first).
    Ctl(headend_admin::cli::CtlArgs),
    /// Compile and decode DOCSIS cable modem and PacketCable MTA config files.
    Docsis {
        #[command(subcommand)]
        command: DocsisCommand,
    },
    /// Authoritative DNS operations on the running server (through the
    /// admin API, as `headend ctl`; log in first).
    Dns {
        #[command(subcommand)]
        command: DnsCommand,
    },
    /// DNSSEC keys of signed zones (kept in the state directory).
    Dnssec {
        #[command(subcommand)]
        command: DnssecCommand,
    },
    /// Print the shell completion script for SHELL (bash, zsh, fish, ...).
    ///
    /// bash: `headend completions bash > /etc/bash_completion.d/headend`
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per subcommand into --dir.
    ///
    /// `headend man | man -l -`
    Man {
        /// Write headend.1, headend-serve.1, ... into this folder instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print docs/config-reference.md: every config key, from the config types.
    #[command(hide = true)]
    ConfigReference,
}

#[derive(Subcommand)]
enum DocsisCommand {
    /// Compile config text (the `docsis` compiler's syntax) to a binary file
    /// with CM and CMTS MICs, or with --mta a PacketCable MTA file.
    Compile {
        /// The config text.
        input: PathBuf,
        /// The binary file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// File holding the CMTS shared secret (mode 0600).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Build a PacketCable MTA file (TLV 254 delimiters, SHA-1 hash).
        #[arg(long)]
        mta: bool,
        /// With --mta: leave out the configuration hash.
        #[arg(long, requires = "mta")]
        no_hash: bool,
    },
    /// Print a binary file as config text that compiles back to the same
    /// bytes, and whether its MICs are valid (exit 1 when one is not).
    Decode {
        /// The binary file.
        file: PathBuf,
        /// File holding the CMTS shared secret, to check the CMTS MIC.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Print the TLV tree as JSON instead.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DnsCommand {
    /// Write a zone with its dynamic (RFC 2136) updates back to its zone
    /// file atomically, comments kept, and empty its update journal.
    Flush {
        /// The zone, e.g. dyn.example.
        zone: String,
    },
}

#[derive(Subcommand)]
enum DnssecCommand {
    /// Print the DS records to give the parent zone.
    Ds {
        /// The zone, e.g. example.test.
        zone: String,
    },
    /// Confirm that the parent serves the DS of the KSK a rollover waits
    /// for; the old KSK is then removed once the old DS has expired.
    KskSubmitted {
        /// The zone, e.g. example.test.
        zone: String,
    },
    /// Start a key rollover (RFC 6781 timing); the running server carries it out.
    Rollover {
        /// The zone, e.g. example.test.
        zone: String,
        /// Pre-publish rollover of the zone-signing key.
        #[arg(long, conflicts_with = "ksk", required_unless_present = "ksk")]
        zsk: bool,
        /// Double-KSK rollover of the key-signing key.
        #[arg(long)]
        ksk: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config;
    match cli.command {
        Command::Serve { pidfile } => {
            let path = config;
            let config = match Config::load(&path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            init_logging(&config.log);
            tracing::info!(
                pid = std::process::id(),
                version = env!("CARGO_PKG_VERSION"),
                config = %path.display(),
                "headend starting"
            );
            let _pidfile = match pidfile.map(PidFile::write).transpose() {
                Ok(p) => p,
                Err(e) => {
                    let line = report::chain(&e);
                    tracing::error!("{line}");
                    return ExitCode::FAILURE;
                }
            };

            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("headend")
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve::serve(config, path)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let line = report::chain(e.as_ref());
                    tracing::error!("{line}");
                    eprintln!("error: {line}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check => check::run(&config),
        Command::Leases => leases::run(&config),
        Command::User { command } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let argon = config.admin.map(|a| a.argon2).unwrap_or_default();
            report(headend_admin::cli::run_user(
                command,
                &config.store,
                &config.general.state_dir,
                &argon,
            ))
        }
        Command::Ctl(args) => report(headend_admin::cli::run_ctl(args)),
        Command::Dns {
            command: DnsCommand::Flush { zone },
        } => report(headend_admin::cli::run_ctl(headend_admin::cli::CtlArgs {
            json: false,
            utc: false,
            command: headend_admin::cli::CtlCommand::Zone(headend_admin::cli::ZoneCommand::Flush {
                zone,
            }),
        })),
        Command::Dnssec { command } => dnssec(&config, command),
        Command::Completions { shell } => manual::completions(Cli::command(), shell),
        Command::Man { dir } => manual::man(Cli::command(), dir.as_deref()),
        Command::ConfigReference => {
            print!("{}", reference::render());
            ExitCode::SUCCESS
        }
        Command::Docsis { command } => match command {
            DocsisCommand::Compile {
                input,
                output,
                key_file,
                mta,
                no_hash,
            } => docsis::compile(&input, &output, key_file.as_deref(), mta, no_hash),
            DocsisCommand::Decode {
                file,
                key_file,
                json,
            } => docsis::decode(&file, key_file.as_deref(), json),
        },
    }
}

/// `headend dnssec ds|rollover`.
fn dnssec(config: &std::path::Path, command: DnssecCommand) -> ExitCode {
    let config = match Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(dns) = &config.dns else {
        eprintln!("error: the config has no [dns] section");
        return ExitCode::FAILURE;
    };
    let state = &config.general.state_dir;
    let result = match command {
        DnssecCommand::Ds { zone } => {
            headend_dns::ops::ds_records(dns, state, &zone).map(|lines| lines.join("\n"))
        }
        DnssecCommand::Rollover { zone, ksk, .. } => {
            headend_dns::ops::rollover(dns, state, &zone, ksk)
        }
        DnssecCommand::KskSubmitted { zone } => headend_dns::ops::ksk_submitted(dns, state, &zone),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--pidfile`: holds the process id while headend runs; removed on a
/// clean exit (a stale one after kill -9 names a process that is gone).
struct PidFile(PathBuf);

impl PidFile {
    fn write(path: PathBuf) -> Result<Self, PidFileError> {
        let text = format!("{}\n", std::process::id());
        headend_util::write_atomic(&path, text.as_bytes(), 0o644).map_err(|source| {
            PidFileError {
                path: path.clone(),
                source,
            }
        })?;
        Ok(Self(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The pid file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the pid file {}: {source}", path.display())]
struct PidFileError {
    path: PathBuf,
    source: std::io::Error,
}

/// Prints a CLI command's error and turns it into the exit code.
fn report(result: Result<(), headend_admin::AdminError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Human-readable or JSON logs on stderr; RUST_LOG overrides the configured level.
fn init_logging(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal as _;
    // Colours only on a terminal (not in journald or a log file), and never with NO_COLOR.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // Identical warnings: once per minute, then how many were held back.
    let repeat = repeat::RepeatLimit::new(std::time::Duration::from_secs(60));
    match log.format {
        LogFormat::Human => builder.finish().with(repeat).init(),
        LogFormat::Json => builder.json().finish().with(repeat).init(),
    }
}

/// The state line that tells systemd a reload has begun: `RELOADING=1` and,
/// as systemd 253 and later require for `Type=notify-reload` and accept for
/// `Type=notify`, the `CLOCK_MONOTONIC` time in microseconds (sd_notify(3)).
fn reloading_message() -> String {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(t) => {
            let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
            let micros = u64::try_from(t.tv_nsec()).unwrap_or(0) / 1_000;
            let usec = secs.saturating_mul(1_000_000).saturating_add(micros);
            format!("RELOADING=1\nMONOTONIC_USEC={usec}")
        }
        // Without the clock, systemd still learns that a reload began.
        Err(_) => "RELOADING=1".to_owned(),
    }
}

/// Sends a state line to systemd when started as a `Type=notify` unit.
fn notify_systemd(state: &str) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(&path),
    };
    let sent = addr.and_then(|addr| {
        let sock = UnixDatagram::unbound()?;
        sock.send_to_addr(state.as_bytes(), &addr)
    });
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd at {path}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::{Cli, Command, DnssecCommand};

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_is_accepted_before_and_after_the_subcommand() {
        for args in [
            &[
                "headend",
                "--config",
                "x.toml",
                "dnssec",
                "ds",
                "example.test",
            ][..],
            &[
                "headend",
                "dnssec",
                "ds",
                "example.test",
                "--config",
                "x.toml",
            ],
            &["headend", "dnssec", "-c", "x.toml", "ds", "example.test"],
            &["headend", "dnssec", "ds", "-c", "x.toml", "example.test"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.config, std::path::Path::new("x.toml"), "{args:?}");
            assert!(
                matches!(cli.command, Command::Dnssec { command: DnssecCommand::Ds { ref zone } } if zone == "example.test"),
                "{args:?}"
            );
        }
        let cli = Cli::try_parse_from(["headend", "user", "add", "carol", "--config", "y.toml"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.config, std::path::Path::new("y.toml"));
        let cli = Cli::try_parse_from(["headend", "check"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cli.config,
            std::path::Path::new("/etc/headend/headend.toml")
        );
    }

    #[test]
    fn reloading_message_carries_the_monotonic_time_in_microseconds() {
        let now = || {
            let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
            u64::try_from(t.tv_sec()).unwrap() * 1_000_000
                + u64::try_from(t.tv_nsec()).unwrap() / 1_000
        };
        let before = now();
        let message = super::reloading_message();
        let after = now();
        let usec = message
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{message:?}"));
        assert!(
            (before..=after).contains(&usec),
            "{usec} not in {before}..={after}"
        );
    }
}
