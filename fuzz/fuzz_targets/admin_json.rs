//! Fuzzes the admin API's JSON request bodies: the bytes go through
//! serde_json into each body type, as axum's `Json` extractor does, and a
//! body that decodes goes through the checks its handler makes before it
//! touches the store (user names, MAC addresses) and, for a record edit,
//! through the zone-file parser and the zone checks the way an edit is
//! applied (one `owner TTL IN TYPE rdata` line per value). Nothing may panic.
//!
//! Run: `cargo +nightly fuzz run admin_json fuzz/corpus/admin_json -- -max_total_time=60`.
#![no_main]

use std::path::Path;

use headend_admin::api::types::{
    LoginRequest, NewUserRequest, PasswordRequest, RefreshRequest, ReservationRequest,
    SetRecordRequest,
};
use headend_admin::api::{normalise_mac, valid_username};
use headend_dns::check::check_zone;
use headend_dns::zonefile::{ParseOptions, parse_zone_bytes};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

const ZONE: &str = "$TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
     IN NS  ns1
ns1  IN A   192.0.2.1
";

/// The record types an operator edits most, tried for every rdata value.
const TYPES: [&str; 6] = ["A", "AAAA", "TXT", "MX", "CNAME", "SRV"];

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = serde_json::from_slice::<LoginRequest>(data) {
        let _ = valid_username(&b.username);
    }
    let _ = serde_json::from_slice::<RefreshRequest>(data);
    if let Ok(b) = serde_json::from_slice::<NewUserRequest>(data) {
        let _ = valid_username(&b.username);
        let _ = b.password.chars().count();
    }
    let _ = serde_json::from_slice::<PasswordRequest>(data);
    if let Ok(b) = serde_json::from_slice::<ReservationRequest>(data) {
        if let Some(mac) = normalise_mac(&b.hwaddr) {
            assert_eq!(mac.len(), 17, "{mac}");
            assert_eq!(normalise_mac(&mac).as_deref(), Some(mac.as_str()));
        }
    }
    if let Ok(b) = serde_json::from_slice::<SetRecordRequest>(data) {
        let origin = Name::from_labels(["example", "test"]).unwrap_or_else(|_| Name::root());
        let ttl = b.ttl.unwrap_or(300);
        for rtype in TYPES {
            let mut text = String::from(ZONE);
            if b.rdata.iter().any(|rd| rd.contains('\n')) {
                // Refused by the handler before any parsing.
                break;
            }
            for rd in b.rdata.iter().take(8) {
                text.push_str(&format!("www.example.test. {ttl} IN {rtype} {rd}\n"));
            }
            // $INCLUDE off so that the fuzzer never reads files.
            let options = ParseOptions::without_include();
            if let Ok(zone) =
                parse_zone_bytes(text.as_bytes(), Path::new("(edit)"), &origin, &options)
            {
                let _ = check_zone(&zone);
            }
        }
    }
});
