//! The headend binary: command line, config loading, and the wiring of the
//! DNS, DHCP and TFTP services and the admin API.

mod config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// DNS, DHCPv4 and TFTP for provisioning networks.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the services enabled in the config until stopped (SIGHUP reloads zones).
    Serve {
        /// The config file.
        #[arg(short, long, default_value = "/etc/headend/headend.toml")]
        config: PathBuf,
    },
    /// Validate the config and every zone it names; exit non-zero on any error.
    Check {
        /// The config file.
        #[arg(short, long, default_value = "/etc/headend/headend.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let _ = config;
            ExitCode::SUCCESS
        }
        Command::Check { config } => match config::Config::load(&config) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
