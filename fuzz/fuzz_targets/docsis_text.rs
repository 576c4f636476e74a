//! Fuzzes the DOCSIS config text parser and compiler on arbitrary text; a
//! file that compiles must decode and compile back to the same bytes.
//!
//! Run: `cargo +nightly fuzz run docsis_text fuzz/corpus/docsis_text -- -max_total_time=60`.
#![no_main]

use headend_docsis::{NoFiles, Options, compile, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let opts = Options { key: b"key", mta: false, mta_hash: true };
    let Ok(bytes) = compile(src, &opts, &NoFiles) else { return };
    let Ok(d) = decode(&bytes) else {
        panic!("compiled file does not decode");
    };
    let opts = Options { key: b"key", mta: d.mta, mta_hash: true };
    let again = compile(&d.to_text(), &opts, &NoFiles);
    assert_eq!(again.as_deref().ok(), Some(bytes.as_slice()), "round trip changed the bytes");
});
