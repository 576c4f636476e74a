//! Fuzzes the DNS responder with arbitrary request bytes: the fast path (answer
//! cache, fresh and kept across inputs) and the full responder must never
//! panic and must give the same bytes.
//!
//! Run: `cargo +nightly fuzz run dns_message fuzz/corpus/dns_message -- -max_total_time=60`.
#![no_main]

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use headend_dns::answer::{Catalog, Transport};
use headend_dns::fast::AnswerCache;
use headend_dns::zone::Zone;
use headend_dns::zonefile::{ParseOptions, parse_zone_bytes};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

const ZONE: &str = include_str!("../../tests/data/dns/e2e.test.zone");

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let origin = Name::from_ascii("e2e.test.").expect("origin");
        let parsed = parse_zone_bytes(
            ZONE.as_bytes(),
            Path::new("e2e.test.zone"),
            &origin,
            &ParseOptions::without_include(),
        )
        .expect("test zone parses");
        let mut catalog = Catalog::new(1232);
        catalog.insert(Arc::new(Zone::build(&parsed).expect("test zone builds")));
        catalog
    })
}

thread_local! {
    /// A cache kept across inputs, so that answers shared by a class of
    /// missing names are filled by one input and served to others.
    static SHARED: RefCell<AnswerCache> = RefCell::new(AnswerCache::with_capacity(4096));
}

fuzz_target!(|data: &[u8]| {
    let catalog = catalog();
    SHARED.with(|shared| {
        let mut out = Vec::new();
        let sent = shared
            .borrow_mut()
            .respond(catalog, data, Transport::Udp, &mut out);
        let full = catalog.respond(data, Transport::Udp);
        assert_eq!(sent, full.is_some());
        if let Some(full) = &full {
            assert_eq!(&out, full, "{data:?}");
        }
    });
    let mut cache = AnswerCache::with_capacity(16);
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let full = catalog.respond(data, transport);
        // Twice: the first fills the cache, the second is answered from it.
        for _ in 0..2 {
            let sent = cache.respond(catalog, data, transport, &mut out);
            assert_eq!(sent, full.is_some());
            if let Some(full) = &full {
                assert_eq!(&out, full);
            }
        }
    }
});
