//! Fuzzes the DHCPv4 packet decoder: header checks, the options walk with
//! RFC 3396 concatenation, option 52 overload into `file`/`sname`, and the
//! accessors the core reads (client id, addresses, maximum message size,
//! option 82 sub-options). Nothing may panic; a decoded request must keep
//! the invariants the core relies on.
//!
//! Run: `cargo +nightly fuzz run dhcp_packet fuzz/corpus/dhcp_packet -- -max_total_time=60`.
#![no_main]

use headend_dhcp::wire::{self, code};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for max_hops in [0, 4, 16] {
        let Ok(req) = wire::parse(data, max_hops) else {
            continue;
        };
        assert!(req.hwaddr().len() <= 16);
        assert!(req.max_message_size() >= 576);
        assert!(!req.client_key().is_empty());
        let _ = req.option_addr(code::REQUESTED_ADDRESS);
        let _ = req.option_addr(code::SERVER_ID);
        // An overloaded field holds options, never a boot file name.
        if let Some(&[v]) = req.option(code::OVERLOAD) {
            assert!((1..=3).contains(&v));
            if v & 1 != 0 {
                assert!(req.header.fname().is_none());
            }
            if v & 2 != 0 {
                assert!(req.header.sname().is_none());
            }
        }
        if let Some(info) = req.option(code::RELAY_AGENT_INFO) {
            for sub in [1, 2, 6, 9] {
                if let Some(v) = wire::relay_sub_option(info, sub) {
                    assert!(v.len() <= info.len());
                }
            }
        }
    }
});
