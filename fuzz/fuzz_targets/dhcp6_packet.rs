//! Fuzzes the DHCPv6 decoder: the client message header, the option walk,
//! RELAY-FORW nesting (bounded by the hop limit), IA_NA/IA_PD with their
//! addresses, prefixes and status codes, the Client FQDN option (39, RFC
//! 4704) and its answer, and the RELAY-REPL wrapping the
//! reply goes back in. Nothing may panic; what decodes re-encodes to the
//! same message, and a reply wraps in as many relay hops as the request.
//!
//! Run: `cargo +nightly fuzz run dhcp6_packet fuzz/corpus/dhcp6_packet -- -max_total_time=60`.
#![no_main]

use headend_dhcp6::ddns;
use headend_dhcp6::wire::{self, Message, Options, msg, opt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for max_hops in [0, 1, 8, 32] {
        let Ok(req) = wire::parse(data, max_hops) else {
            continue;
        };
        assert!(req.relays.len() <= usize::from(max_hops.min(wire::HOP_COUNT_LIMIT)));
        let m = &req.message;
        assert_eq!(Message::parse(&m.encode()).as_ref(), Ok(m));
        if let Ok(ias) = wire::ias(&m.options) {
            let mut o = Options::default();
            for ia in &ias {
                assert!(ia.entries.iter().all(|e| e.prefix_len <= 128));
                ia.encode_into(&mut o);
            }
            assert_eq!(wire::ias(&o).map(|v| v.len()), Ok(ias.len()));
        }
        let _ = m.options.requested();
        if let Some(s) = m.options.get(opt::STATUS_CODE) {
            let _ = wire::parse_status(s);
        }
        if let Some(Ok(f)) = m.options.get(opt::CLIENT_FQDN).map(ddns::parse_client_fqdn) {
            let answer = ddns::encode_client_fqdn(ddns::flag::S, &f.labels.join("."));
            assert!(answer.len() <= 256);
            let _ = ddns::parse_client_fqdn(&answer);
        }
        let reply = Message {
            kind: msg::REPLY,
            xid: m.xid,
            options: Options::default(),
        };
        let mut b = wire::wrap_reply(&req.relays, reply.encode());
        for _ in &req.relays {
            assert_eq!(b.first(), Some(&msg::RELAY_REPL));
            let inner = Options::parse(&b[34..]).expect("own encoding");
            b = inner.get(opt::RELAY_MSG).expect("relay message").to_vec();
        }
        assert_eq!(b.first(), Some(&msg::REPLY));
    }
});
