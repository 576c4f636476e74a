//! Typed DHCPv6 counters.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $doc:literal),* $(,)?) => {
        /// The live counters (atomics, shared by the threads).
        #[derive(Debug, Default)]
        pub struct Dhcp6Stats {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        /// A plain copy of the counters.
        #[derive(Debug, Default, Clone, PartialEq, Eq)]
        pub struct Dhcp6StatsSnapshot {
            $(#[doc = $doc] pub $name: u64,)*
        }

        impl Dhcp6Stats {
            /// A copy of every counter now.
            pub fn snapshot(&self) -> Dhcp6StatsSnapshot {
                Dhcp6StatsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }

            /// Adds `local` to the shared counters and zeroes it.
            pub(crate) fn merge(&self, local: &mut Dhcp6StatsSnapshot) {
                $(if local.$name != 0 {
                    self.$name.fetch_add(local.$name, Ordering::Relaxed);
                })*
                *local = Dhcp6StatsSnapshot::default();
            }
        }

        impl std::fmt::Display for Dhcp6StatsSnapshot {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut first = true;
                $(
                    if !first { f.write_str(" ")?; }
                    first = false;
                    write!(f, "{}={}", stringify!($name), self.$name)?;
                )*
                let _ = first;
                Ok(())
            }
        }
    };
}

counters! {
    received: "Datagrams received.",
    malformed: "Datagrams dropped as malformed (the sum of the malformed_* reasons).",
    malformed_short: "Malformed: shorter than a message header.",
    malformed_option_overrun: "Malformed: an option runs past its container.",
    malformed_not_for_server: "Malformed: a message type a server does not accept.",
    malformed_no_relay_message: "Malformed: RELAY-FORW without a relay message.",
    malformed_too_many_hops: "Malformed: more relay hops than allowed.",
    malformed_bad_ia: "Malformed: an IA or IA sub-option of a wrong length.",
    solicit: "SOLICIT messages received (well formed).",
    request: "REQUEST messages received.",
    confirm: "CONFIRM messages received.",
    renew: "RENEW messages received.",
    rebind: "REBIND messages received.",
    release: "RELEASE messages received.",
    decline: "DECLINE messages received.",
    information_request: "INFORMATION-REQUEST messages received.",
    relayed: "Messages that came in RELAY-FORW.",
    advertise: "ADVERTISE messages sent.",
    reply: "REPLY messages sent.",
    silent: "Requests not answered (wrong server, no subnet, rate limit, ...).",
    nothing: "Requests with nothing to answer (CONFIRM without addresses, ...).",
    rate_limited: "Requests over their client's rate.",
    no_subnet: "Requests from a link no subnet serves.",
    relay_cap: "New clients over a relay remote-id or interface-id cap.",
    bad_identifiers: "Requests without a required client or with a forbidden server identifier.",
    other_server: "Requests addressed to another server.",
    queue_full: "Datagrams dropped because the worker's queue was full.",
    commits: "Store transactions committed.",
    syncs: "Store syncs (each covers one or more batches).",
    store_error: "Requests lost to a store failure.",
    send_error: "Replies the socket refused.",
}
