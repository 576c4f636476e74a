//! Fuzzes headend's zone-file parser and the zone checks on arbitrary bytes;
//! every record read is written in its text form and must read back to the
//! same record.
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
        for r in &zone.records {
            let line = headend_dns::present::record_line(&r.record);
            let again = parse_zone_bytes(line.as_bytes(), Path::new("written"), &Name::root(), &options)
                .unwrap_or_else(|e| panic!("{line}: {e:?}"));
            let [back] = again.records.as_slice() else {
                panic!("{line} read back as {} records", again.records.len());
            };
            assert_eq!(
                headend_dns::present::record_line(&back.record),
                line,
                "written text does not read back to the same record"
            );
        }
    }
});
