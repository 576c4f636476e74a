//! Fuzzes the SPF (RFC 7208), DMARC (RFC 7489) and DKIM (RFC 6376) record
//! parsers of the mail-auth lint through the zone checks.
//!
//! The input is split at NUL octets into up to four texts, served as TXT
//! records at the apex (SPF), `_dmarc` (DMARC), `sel._domainkey` (DKIM key)
//! and `mail` (an SPF `include:`/`redirect=` target) of a small zone with
//! A, AAAA and MX records for the mechanisms to find. Each text is written
//! as zone-file character-strings (255-octet chunks, `\DDD` escapes), so the
//! zone-file parser hands the lint the exact bytes. Nothing may panic.
//!
//! Run: `cargo +nightly fuzz run mailauth fuzz/corpus/mailauth -- -max_total_time=60`.
#![no_main]

use std::fmt::Write as _;
use std::path::Path;

use headend_dns::check::check_zone;
use headend_dns::zonefile::{ParseOptions, parse_zone_bytes};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

const HEAD: &str = "$TTL 300
@        IN SOA ns1 hostmaster 1 3600 600 86400 300
         IN NS  ns1
         IN MX  10 mail
ns1      IN A   192.0.2.1
mail     IN A   192.0.2.25
mail     IN AAAA 2001:db8::25
";

const OWNERS: [&str; 4] = ["@", "_dmarc", "sel._domainkey", "mail"];

/// One TXT record's RDATA: quoted 255-octet chunks, anything but printable
/// ASCII (and `"`, `\`) escaped as `\DDD`.
fn txt(bytes: &[u8]) -> String {
    let mut out = String::from("(");
    for chunk in bytes.chunks(255) {
        out.push_str(" \"");
        for &b in chunk {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "\\{b:03}");
            }
        }
        out.push('"');
    }
    if bytes.is_empty() {
        out.push_str(" \"\"");
    }
    out.push_str(" )");
    out
}

fuzz_target!(|data: &[u8]| {
    let mut zone = String::from(HEAD);
    for (owner, text) in OWNERS.iter().zip(data.split(|&b| b == 0)) {
        let _ = writeln!(zone, "{owner} IN TXT {}", txt(text));
    }
    let origin = Name::from_labels(["example", "test"]).unwrap_or_else(|_| Name::root());
    let options = ParseOptions::without_include();
    if let Ok(zone) = parse_zone_bytes(zone.as_bytes(), Path::new("fuzz.zone"), &origin, &options) {
        let _ = check_zone(&zone);
    }
});
