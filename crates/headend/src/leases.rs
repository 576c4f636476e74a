//! `headend leases`: print the DHCP leases in the store. SQLite's WAL lets
//! this read while the server writes.

use std::path::Path;
use std::process::ExitCode;

use headend_store::{Lease, Lease6Kind, LeaseState, Store};

use crate::config::Config;

/// Runs the subcommand.
pub(crate) fn run(config: &Path) -> ExitCode {
    let config = match Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (leases, leases6) = match Store::open_existing(&config.store, &config.general.state_dir)
        .and_then(|s| Ok((s.leases()?, s.leases6()?)))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("(the store is created by `headend serve` with a [dhcp] section)");
            return ExitCode::FAILURE;
        }
    };
    let now = headend_util::time::unix_now();
    println!(
        "{:<15} {:<17} {:<20} {:<20} {:<9} {:<20} {:<12} {:<12} CIRCUIT-ID",
        "ADDRESS", "MAC", "CLIENT-ID", "HOSTNAME", "STATE", "EXPIRES (UTC)", "SUBNET", "CLASS"
    );
    for lease in &leases {
        println!(
            "{:<15} {:<17} {:<20} {:<20} {:<9} {:<20} {:<12} {:<12} {}",
            lease.address.to_string(),
            colon_hex(&lease.hwaddr),
            lease
                .client_id
                .as_deref()
                .map_or_else(|| "-".to_owned(), colon_hex),
            lease.hostname.as_deref().unwrap_or("-"),
            state(lease, now),
            utc(lease.expires),
            lease.subnet,
            lease.class.as_deref().unwrap_or("-"),
            lease
                .circuit_id
                .as_deref()
                .map_or_else(|| "-".to_owned(), printable)
        );
    }
    if !leases6.is_empty() {
        println!();
        println!(
            "{:<44} {:<4} {:<40} {:<10} {:<17} {:<9} {:<20} {:<12} CLASS",
            "ADDRESS/PREFIX (v6)", "IA", "DUID", "IAID", "MAC", "STATE", "EXPIRES (UTC)", "SUBNET"
        );
        for l in &leases6 {
            let what = match l.kind {
                Lease6Kind::Address => format!("{}", l.address),
                _ => format!("{}/{}", l.address, l.prefix_len),
            };
            let st = match l.state {
                LeaseState::Bound | LeaseState::Offered if l.expires <= now => "expired",
                s => s.as_str(),
            };
            println!(
                "{:<44} {:<4} {:<40} {:<10} {:<17} {:<9} {:<20} {:<12} {}",
                what,
                l.kind.as_str(),
                colon_hex(&l.duid),
                l.iaid,
                l.hwaddr
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), colon_hex),
                st,
                utc(l.expires),
                l.subnet,
                l.class.as_deref().unwrap_or("-"),
            );
        }
    }
    ExitCode::SUCCESS
}

/// The state as an operator reads it: a bound or offered lease past its end is expired.
fn state(lease: &Lease, now: u64) -> &'static str {
    match lease.state {
        LeaseState::Bound | LeaseState::Offered if lease.expires <= now => "expired",
        s => s.as_str(),
    }
}

/// Text if it is printable ASCII without spaces, else colon hex.
fn printable(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic()) {
        String::from_utf8_lossy(b).into_owned()
    } else {
        colon_hex(b)
    }
}

fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The EXPIRES column: Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
fn utc(secs: u64) -> String {
    headend_util::time::utc(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
    }
}
