//! The service's counters. The running service keeps them as plain atomics
//! ([`DhcpStats`]); the packet threads count into a local
//! [`DhcpStatsSnapshot`] (plain integers, no atomics, no lock) and add it to
//! the shared counters once per batch. A snapshot is what the handle
//! returns, what the `dhcp stats` log line prints and what metrics read.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::core::{Handled, Silence};
use crate::wire::{Malformed, MessageType};

/// Declares the counters once: the atomic struct, the snapshot struct with
/// a doc comment per field, and the name list used by the log line (each
/// name is its field's name).
macro_rules! counters {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// The DHCP service's counters, shared by its threads (plain
        /// atomics; read them with [`DhcpStats::snapshot`]).
        #[derive(Debug, Default)]
        pub struct DhcpStats {
            $(pub(crate) $name: AtomicU64,)+
        }

        /// A copy of the DHCP counters at one moment.
        #[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct DhcpStatsSnapshot {
            $($(#[doc = $doc])+ pub $name: u64,)+
        }

        impl DhcpStats {
            /// The counters now.
            pub fn snapshot(&self) -> DhcpStatsSnapshot {
                DhcpStatsSnapshot {
                    $($name: self.$name.load(Ordering::Relaxed),)+
                }
            }

            /// Adds a thread's local tally to the counters and empties it.
            pub(crate) fn merge(&self, tally: &mut DhcpStatsSnapshot) {
                $(if tally.$name != 0 {
                    self.$name.fetch_add(tally.$name, Ordering::Relaxed);
                })+
                *tally = DhcpStatsSnapshot::default();
            }
        }

        impl DhcpStatsSnapshot {
            /// Every counter by name (the field's name), in declaration order.
            pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($name), self.$name),)+].into_iter()
            }
        }
    };
}

counters! {
    /// Datagrams received.
    received,
    /// DHCPDISCOVER messages received.
    discover,
    /// DHCPREQUEST messages received.
    request,
    /// DHCPDECLINE messages received (no reply: the address is quarantined).
    decline,
    /// DHCPRELEASE messages received (no reply: the address is freed).
    release,
    /// DHCPINFORM messages received.
    inform,
    /// BOOTP requests (no option 53) received.
    bootp,
    /// DHCPOFFER replies sent.
    offer,
    /// DHCPACK replies sent (also for INFORM and BOOTP).
    ack,
    /// DHCPNAK replies sent.
    nak,
    /// Replies of another type sent.
    other_reply,
    /// Replies the socket refused to send.
    send_error,
    /// Batches committed to the store (one transaction each).
    commits,
    /// Syncs that made committed batches durable (each releases their replies).
    syncs,
    /// Datagrams dropped because the queue to the worker was full.
    queue_full,
    /// Requests lost to a store failure (their replies are never sent).
    store_error,
    /// Requests lost to another server's change of the same leases (shared
    /// PostgreSQL) after every retry; their clients retry.
    store_conflict,
    /// Lease transactions rolled back by a conflict with another server
    /// (serialization failure or deadlock); their requests are run again.
    conflicts,
    /// Of those, deadlocks (PostgreSQL SQLSTATE 40P01).
    deadlocks,
    /// Lease transactions run again after a conflict.
    conflict_retries,
    /// Silent: another server answers this client (`[dhcp.ha]`
    /// load-balancing or hot-standby, that server alive).
    not_in_scope,
    /// Dropped: shorter than the BOOTP header and magic cookie.
    truncated,
    /// Dropped: not a BOOTREQUEST.
    not_request,
    /// Dropped: hlen larger than chaddr.
    bad_hlen,
    /// Dropped: wrong magic cookie.
    bad_cookie,
    /// Dropped: an option runs past the packet, or no End option.
    bad_options,
    /// Dropped: option 53 malformed or unknown.
    bad_message_type,
    /// Dropped: relayed through more hops than `dhcp.max_hops`.
    too_many_hops,
    /// Dropped: the header did not decode.
    bad_header,
    /// Dropped: option 52 (overload) malformed.
    bad_overload,
    /// Dropped: an option in an overloaded `file`/`sname` runs past the field.
    bad_overloaded_field,
    /// Silent: a REQUEST naming another server (the client took its offer).
    request_for_other_server,
    /// Silent: a DECLINE naming another server.
    decline_for_other_server,
    /// Silent: no configured subnet for the relay address or arrival interface.
    no_subnet,
    /// Silent: the client is over its request rate.
    rate_limited,
    /// Silent: the relay circuit-id holds its cap of leases.
    circuit_id_cap,
    /// Silent: the relay remote-id holds its cap of leases.
    remote_id_cap,
    /// Silent: no free address in the subnet's pools.
    pool_exhausted,
    /// Silent: BOOTP off, or the BOOTP client has no reservation.
    bootp_dropped,
    /// Silent: a message type a client does not send.
    unsupported_type,
    /// Silent: a REQUEST or DECLINE missing a field RFC 2131 requires.
    incomplete,
    /// Configuration reloads applied.
    config_reloads,
    /// Configuration reloads refused (the running configuration stayed).
    config_reload_refused,
}

impl DhcpStatsSnapshot {
    /// The counter of a request's message type (`None`: BOOTP), if it is
    /// one a client sends.
    pub(crate) fn request_mut(&mut self, kind: Option<MessageType>) -> Option<&mut u64> {
        Some(match kind {
            None => &mut self.bootp,
            Some(MessageType::Discover) => &mut self.discover,
            Some(MessageType::Request) => &mut self.request,
            Some(MessageType::Decline) => &mut self.decline,
            Some(MessageType::Release) => &mut self.release,
            Some(MessageType::Inform) => &mut self.inform,
            Some(_) => return None,
        })
    }

    /// The counter of a reply sent.
    pub(crate) fn reply_mut(&mut self, kind: MessageType) -> &mut u64 {
        match kind {
            MessageType::Offer => &mut self.offer,
            MessageType::Ack => &mut self.ack,
            MessageType::Nak => &mut self.nak,
            _ => &mut self.other_reply,
        }
    }

    /// The counter of a datagram dropped before decoding.
    pub(crate) fn malformed_mut(&mut self, m: Malformed) -> &mut u64 {
        match m {
            Malformed::Truncated => &mut self.truncated,
            Malformed::NotRequest => &mut self.not_request,
            Malformed::BadHlen => &mut self.bad_hlen,
            Malformed::BadCookie => &mut self.bad_cookie,
            Malformed::BadOptions => &mut self.bad_options,
            Malformed::BadMessageType => &mut self.bad_message_type,
            Malformed::TooManyHops => &mut self.too_many_hops,
            Malformed::Header => &mut self.bad_header,
            Malformed::BadOverload => &mut self.bad_overload,
            Malformed::BadOverloadedField => &mut self.bad_overloaded_field,
        }
    }

    /// The counter of a request answered with silence; `None` for a
    /// RELEASE or DECLINE handled, which its message type already counts.
    pub(crate) fn silence_mut(&mut self, s: &Silence) -> Option<&mut u64> {
        Some(match s {
            Silence::Done(Handled::Release | Handled::Decline) => return None,
            Silence::Done(Handled::RequestForOtherServer) => &mut self.request_for_other_server,
            Silence::Done(Handled::DeclineForOtherServer) => &mut self.decline_for_other_server,
            Silence::NoSubnet => &mut self.no_subnet,
            Silence::RateLimited => &mut self.rate_limited,
            Silence::CircuitCap { .. } => &mut self.circuit_id_cap,
            Silence::RemoteCap { .. } => &mut self.remote_id_cap,
            Silence::PoolExhausted { .. } => &mut self.pool_exhausted,
            Silence::Bootp => &mut self.bootp_dropped,
            Silence::Unsupported => &mut self.unsupported_type,
            Silence::Incomplete => &mut self.incomplete,
            Silence::NotInScope => &mut self.not_in_scope,
        })
    }
}

/// Relays (giaddr) counted by address; requests through any further relay
/// are counted together, so a flood of forged giaddrs cannot grow the table.
pub const MAX_RELAYS: usize = 64;

/// Relayed requests per relay address (giaddr), bounded by [`MAX_RELAYS`].
#[derive(Debug, Default)]
pub(crate) struct RelayCounts {
    by_relay: Mutex<HashMap<Ipv4Addr, u64>>,
    other: AtomicU64,
}

/// Relayed requests per relay at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RelaySnapshot {
    /// (relay address, requests), ordered by address.
    pub relays: Vec<(Ipv4Addr, u64)>,
    /// Requests through relays beyond the first [`MAX_RELAYS`] seen.
    pub other: u64,
}

impl RelayCounts {
    /// Adds a batch's counts (relay, requests) and empties them.
    pub(crate) fn merge(&self, tally: &mut Vec<(Ipv4Addr, u64)>) {
        if tally.is_empty() {
            return;
        }
        let mut map = self
            .by_relay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (relay, n) in tally.drain(..) {
            if let Some(c) = map.get_mut(&relay) {
                *c += n;
            } else if map.len() < MAX_RELAYS {
                map.insert(relay, n);
            } else {
                self.other.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> RelaySnapshot {
        let mut relays: Vec<_> = self
            .by_relay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(a, n)| (*a, *n))
            .collect();
        relays.sort_unstable();
        RelaySnapshot {
            relays,
            other: self.other.load(Ordering::Relaxed),
        }
    }
}

/// Counts one relayed request in a batch's local tally.
pub(crate) fn count_relay(tally: &mut Vec<(Ipv4Addr, u64)>, relay: Ipv4Addr) {
    match tally.iter_mut().find(|(a, _)| *a == relay) {
        Some((_, n)) => *n += 1,
        None => tally.push((relay, 1)),
    }
}

/// Requests received per client class: the first configured class each
/// request matched (the one whose settings win), or none. Labels come only
/// from the configuration, so the set is bounded by it; classes a reload
/// removed are dropped when read ([`ClassCounts::snapshot`]).
#[derive(Debug, Default)]
pub(crate) struct ClassCounts {
    by_class: Mutex<HashMap<String, u64>>,
    unclassified: AtomicU64,
}

/// A batch's local count of requests per class: indices into the classes
/// of the plan they were decided under (the last slot: no class).
#[derive(Debug, Default)]
pub(crate) struct ClassTally {
    plan: Option<std::sync::Arc<crate::plan::Plan>>,
    counts: Vec<u64>,
}

impl ClassTally {
    /// Counts one request decided under `plan`, which matched class
    /// `class` (an index into `plan.classes`) or none. A new plan (after a
    /// reload) first moves the counts so far into `shared`.
    pub(crate) fn count(
        &mut self,
        plan: &std::sync::Arc<crate::plan::Plan>,
        class: Option<usize>,
        shared: &ClassCounts,
    ) {
        if !self
            .plan
            .as_ref()
            .is_some_and(|p| std::sync::Arc::ptr_eq(p, plan))
        {
            shared.merge(self);
            self.plan = Some(std::sync::Arc::clone(plan));
            self.counts = vec![0; plan.classes.len() + 1];
        }
        let slot = class.unwrap_or(plan.classes.len());
        if let Some(c) = self.counts.get_mut(slot) {
            *c += 1;
        }
    }
}

/// Requests per class at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClassSnapshot {
    /// (class name, requests), every class configured now, in configuration order.
    pub classes: Vec<(String, u64)>,
    /// Requests that matched no configured class.
    pub unclassified: u64,
}

impl ClassCounts {
    /// Adds a batch's counts and zeroes them (the tally keeps its plan).
    pub(crate) fn merge(&self, tally: &mut ClassTally) {
        let Some(plan) = &tally.plan else {
            return;
        };
        if tally.counts.iter().all(|&n| n == 0) {
            return;
        }
        let mut map = self
            .by_class
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, n) in tally.counts.iter_mut().enumerate() {
            if *n == 0 {
                continue;
            }
            match plan.classes.get(i) {
                Some(class) => *map.entry(class.name.clone()).or_insert(0) += *n,
                None => {
                    self.unclassified.fetch_add(*n, Ordering::Relaxed);
                }
            }
            *n = 0;
        }
    }

    /// The counts of the classes named in `configured` (in that order);
    /// counts of any other class (one a reload removed) are dropped.
    pub(crate) fn snapshot(&self, configured: &[&str]) -> ClassSnapshot {
        let mut map = self
            .by_class
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|name, _| configured.contains(&name.as_str()));
        ClassSnapshot {
            classes: configured
                .iter()
                .map(|&c| (c.to_owned(), map.get(c).copied().unwrap_or(0)))
                .collect(),
            unclassified: self.unclassified.load(Ordering::Relaxed),
        }
    }
}

/// The `dhcp stats` log line: `name=value` for every counter that is not
/// zero, and `queue_full` always.
impl fmt::Display for DhcpStatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, value) in self.counters() {
            if value == 0 && name != "queue_full" {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_tally_is_added_and_emptied() {
        let stats = DhcpStats::default();
        let mut tally = DhcpStatsSnapshot {
            received: 3,
            offer: 2,
            ..DhcpStatsSnapshot::default()
        };
        stats.merge(&mut tally);
        tally.received = 1;
        stats.merge(&mut tally);
        assert_eq!(tally, DhcpStatsSnapshot::default());
        let now = stats.snapshot();
        assert_eq!((now.received, now.offer, now.ack), (4, 2, 0));
    }

    #[test]
    fn log_line_names_nonzero_counters_and_queue_full() {
        let s = DhcpStatsSnapshot {
            received: 5,
            circuit_id_cap: 2,
            ..DhcpStatsSnapshot::default()
        };
        assert_eq!(s.to_string(), "received=5 queue_full=0 circuit_id_cap=2");
        assert_eq!(DhcpStatsSnapshot::default().to_string(), "queue_full=0");
    }

    #[test]
    fn relays_past_the_cap_are_counted_together() {
        let counts = RelayCounts::default();
        let mut tally = Vec::new();
        for i in 0..(MAX_RELAYS as u32 + 3) {
            count_relay(&mut tally, Ipv4Addr::from(0x0a00_0001 + i));
        }
        count_relay(&mut tally, Ipv4Addr::new(10, 0, 0, 1));
        counts.merge(&mut tally);
        assert!(tally.is_empty());
        let s = counts.snapshot();
        assert_eq!(s.relays.len(), MAX_RELAYS);
        assert_eq!(s.relays[0], (Ipv4Addr::new(10, 0, 0, 1), 2));
        assert_eq!(s.other, 3);
        // A relay already counted keeps its own count after the table is full.
        count_relay(&mut tally, Ipv4Addr::new(10, 0, 0, 1));
        counts.merge(&mut tally);
        assert_eq!(counts.snapshot().relays[0].1, 3);
    }

    /// A plan with the classes `names`.
    fn plan(names: &[&str]) -> std::sync::Arc<crate::plan::Plan> {
        let mut text = String::from("server_id = \"10.0.0.1\"\n");
        for n in names {
            text.push_str(&format!(
                "[[class]]\nname = \"{n}\"\nvendor_class = \"{n}\"\n"
            ));
        }
        text.push_str("[[subnet]]\nname = \"lan\"\nsubnet = \"10.0.0.0/24\"\n");
        let config: crate::DhcpConfig = toml::from_str(&text).unwrap();
        std::sync::Arc::new(crate::plan::Plan::compile(&config).unwrap())
    }

    #[test]
    fn requests_are_counted_by_configured_class_and_a_removed_class_goes() {
        let shared = ClassCounts::default();
        let mut tally = ClassTally::default();
        let before = plan(&["modem", "mta"]);
        tally.count(&before, Some(0), &shared);
        tally.count(&before, Some(1), &shared);
        tally.count(&before, Some(1), &shared);
        tally.count(&before, None, &shared);
        shared.merge(&mut tally);
        let s = shared.snapshot(&["modem", "mta"]);
        assert_eq!(
            s.classes,
            vec![("modem".to_owned(), 1), ("mta".to_owned(), 2)]
        );
        assert_eq!(s.unclassified, 1);
        // A reload drops "mta"; a request decided under the new plan moves
        // the old plan's counts first.
        let after = plan(&["modem"]);
        tally.count(&before, Some(0), &shared);
        tally.count(&after, Some(0), &shared);
        shared.merge(&mut tally);
        let s = shared.snapshot(&["modem"]);
        assert_eq!(s.classes, vec![("modem".to_owned(), 3)]);
        assert_eq!(
            shared.snapshot(&["modem", "mta"]).classes[1],
            ("mta".to_owned(), 0)
        );
    }

    #[test]
    fn every_silence_and_drop_has_its_counter() {
        let mut s = DhcpStatsSnapshot::default();
        *s.malformed_mut(Malformed::TooManyHops) += 1;
        *s.reply_mut(MessageType::Nak) += 1;
        if let Some(c) = s.silence_mut(&Silence::PoolExhausted {
            subnet: "lan".into(),
        }) {
            *c += 1;
        }
        assert!(s.silence_mut(&Silence::Done(Handled::Release)).is_none());
        assert!(s.request_mut(Some(MessageType::Offer)).is_none());
        assert_eq!((s.too_many_hops, s.nak, s.pool_exhausted), (1, 1, 1));
    }
}
