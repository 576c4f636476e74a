//! Fuzzes headend's zone-file parser and the zone checks on arbitrary bytes.
//!
//! Run: `cargo +nightly fuzz run zonefile fuzz/corpus/zonefile -- -max_total_time=60`.
//! `$INCLUDE` is disabled so that the fuzzer never reads files.
#![no_main]

use std::path::Path;

use headend_dns::check::check_zone;
use headend_dns::zonefile::{ParseOptions, parse_zone_bytes};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let origin = Name::from_labels(["example", "test"]).unwrap_or_else(|_| Name::root());
    let options = ParseOptions::without_include();
    if let Ok(zone) = parse_zone_bytes(data, Path::new("fuzz.zone"), &origin, &options) {
        let _ = check_zone(&zone);
    }
});
