//! Fuzzes the DOCSIS binary decoder: arbitrary bytes are split into TLVs,
//! rendered as text and JSON and their MICs checked, without panicking.
//! A cable modem file in canonical form (sealed with the key `key`: MICs
//! last, then the end marker and padding) must compile back from its text
//! to the same bytes.
//!
//! Run: `cargo +nightly fuzz run docsis_decode fuzz/corpus/docsis_decode -- -max_total_time=60`.
#![no_main]

use headend_docsis::encode::seal_cm;
use headend_docsis::{NoFiles, Options, compile, decode, verify};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"key";

fuzz_target!(|data: &[u8]| {
    let Ok(d) = decode(data) else { return };
    let text = d.to_text();
    let _ = d.to_json();
    let _ = verify(data, Some(KEY));
    if d.mta {
        return;
    }
    let Some(six) = d.tlvs.iter().find(|t| t.code == 6) else { return };
    if seal_cm(data[..six.offset].to_vec(), KEY) != data {
        return;
    }
    let opts = Options { key: KEY, mta: false, mta_hash: false };
    let again = compile(&text, &opts, &NoFiles);
    assert_eq!(again.as_deref().ok(), Some(data), "decode | compile changed the bytes:\n{text}");
});
