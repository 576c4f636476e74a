//! Fuzzes the config file: TOML text → `headend.toml`'s typed sections
//! (the binary's own `config.rs`, included here) → the checks `headend check`
//! runs without touching the network or the disk ([dhcp] compiled as at
//! start, [admin] validated). Nothing may panic, whatever the text.
//!
//! Run: `cargo +nightly fuzz run config fuzz/corpus/config -- -max_total_time=60`.
#![no_main]
#![allow(dead_code)]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/headend/src/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut config) = config::Config::parse(text) else {
        return;
    };
    config.resolve_paths(std::path::Path::new("/etc/headend"));
    if let Some(dhcp) = &config.dhcp {
        let _ = dhcp.validate();
    }
    if let Some(admin) = &config.admin {
        let _ = admin.validate();
    }
});
