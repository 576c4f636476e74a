//! Response rate limiting (RRL), as in BIND, Knot and NSD: responses to one
//! source prefix (/24 IPv4, /56 IPv6 by default) of one kind (answer,
//! NXDOMAIN, referral, error) are limited to a rate; of the limited ones every
//! `slip`-th is sent truncated (TC=1, no records) so a real client behind a
//! spoofed flood still gets through by retrying over TCP, and the rest are
//! dropped. Sans-I/O: a function of the source, the kind and the clock.
//!
//! **One limiter per UDP worker, no lock.** Each worker thread owns an
//! [`Rrl`] of its own, so answering never waits on another worker. The
//! kernel picks the worker of each datagram by hashing its addresses and
//! ports (SO_REUSEPORT), so one source prefix may reach every worker of its
//! address family: a resolver picks a new source port per query (RFC 5452
//! §9.2) and a spoofed flood varies its ports too. So that such a prefix
//! never gets more than the configured rate in total, however its traffic
//! is spread, each of `n` workers allows `responses_per_second / n` (and a
//! burst of as much, but at least one response), and tracks
//! `table_size / n` prefixes ([`Rrl::share`]). A prefix whose traffic
//! reaches only some workers (one client keeping one source port) gets only
//! their shares: the limit errs on the side of limiting. With one worker
//! (the default) this is the plain per-prefix limit. The other way, one
//! table shared by all workers with a lock per shard of prefixes, keeps the
//! exact rate but makes every worker that answers one busy prefix take the
//! same lock, which is the contention this avoids. Of its limited
//! responses, each worker slips every `slip`-th, so the share slipped is
//! the same in total.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;
use serde::Deserialize;

/// `[dns.rrl]`: off unless `responses_per_second` is above zero.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RrlConfig {
    /// Responses per second allowed to one prefix for one kind; 0 turns RRL off.
    #[serde(default)]
    pub responses_per_second: u32,
    /// Every Nth limited response is sent truncated instead of dropped (0: drop all).
    #[serde(default = "default_slip")]
    pub slip: u32,
    /// IPv4 prefix length that counts as one source.
    #[serde(default = "default_v4")]
    pub ipv4_prefix: u8,
    /// IPv6 prefix length that counts as one source.
    #[serde(default = "default_v6")]
    pub ipv6_prefix: u8,
    /// Sources never limited.
    #[serde(default)]
    pub whitelist: Vec<IpNet>,
    /// Most prefixes tracked at once (memory bound).
    #[serde(default = "default_table")]
    pub table_size: usize,
}

impl Default for RrlConfig {
    fn default() -> Self {
        Self {
            responses_per_second: 0,
            slip: default_slip(),
            ipv4_prefix: default_v4(),
            ipv6_prefix: default_v6(),
            whitelist: Vec::new(),
            table_size: default_table(),
        }
    }
}

fn default_slip() -> u32 {
    2
}
fn default_v4() -> u8 {
    24
}
fn default_v6() -> u8 {
    56
}
fn default_table() -> usize {
    100_000
}

/// What a response is, for rate-limiting purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// A positive answer or NODATA.
    Answer,
    /// NXDOMAIN.
    NxDomain,
    /// A referral to a delegated child.
    Referral,
    /// REFUSED, FORMERR, SERVFAIL, NOTIMP...
    Error,
}

impl ResponseKind {
    /// Classifies a response from its header.
    pub fn of(response: &[u8]) -> Self {
        let Some(h) = response.get(..12) else {
            return Self::Error;
        };
        let aa = h[2] & 0x04 != 0;
        let ancount = u16::from_be_bytes([h[6], h[7]]);
        let nscount = u16::from_be_bytes([h[8], h[9]]);
        match h[3] & 0x0f {
            0 if !aa && ancount == 0 && nscount > 0 => Self::Referral,
            0 => Self::Answer,
            3 => Self::NxDomain,
            _ => Self::Error,
        }
    }
}

/// The decision for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RrlAction {
    /// Within the rate: send it.
    Send,
    /// Over the rate: send a truncated (TC=1) empty response instead.
    Slip,
    /// Over the rate: send nothing.
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// Responses limited so far (every `slip`-th of them slips).
    limited: u32,
}

/// Limiter state for every tracked (prefix, kind): one worker's share.
#[derive(Debug)]
pub struct Rrl {
    config: RrlConfig,
    /// Responses per second allowed to one (prefix, kind) by this limiter.
    rate: f64,
    /// The most tokens a bucket holds: `rate`, and at least one response.
    burst: f64,
    /// Most (prefix, kind) entries tracked by this limiter.
    table_size: usize,
    table: HashMap<(IpNet, ResponseKind), Bucket>,
}

impl Rrl {
    /// A limiter with this configuration, for a server with one UDP
    /// worker; `None` when RRL is off.
    pub fn new(config: RrlConfig) -> Option<Self> {
        Self::share(config, 1)
    }

    /// One worker's limiter when `workers` UDP workers may each receive a
    /// source's datagrams: the rate and the table are divided between them
    /// (see the module's documentation); `None` when RRL is off.
    pub fn share(config: RrlConfig, workers: usize) -> Option<Self> {
        let workers = workers.max(1);
        let rate = f64::from(config.responses_per_second) / workers as f64;
        (config.responses_per_second > 0).then(|| Self {
            rate,
            burst: rate.max(1.0),
            table_size: config.table_size.div_ceil(workers).max(1),
            table: HashMap::new(),
            config,
        })
    }

    /// Decides what to do with a response of `kind` to `source` at `now`.
    pub fn check(&mut self, source: IpAddr, kind: ResponseKind, now: Instant) -> RrlAction {
        if self.config.whitelist.iter().any(|n| n.contains(&source)) {
            return RrlAction::Send;
        }
        let prefix = match source {
            IpAddr::V4(_) => self.config.ipv4_prefix.min(32),
            IpAddr::V6(_) => self.config.ipv6_prefix.min(128),
        };
        let Ok(net) = IpNet::new(source, prefix).map(|n| n.trunc()) else {
            return RrlAction::Send;
        };
        let (rate, burst) = (self.rate, self.burst);
        if self.table.len() >= self.table_size && !self.table.contains_key(&(net, kind)) {
            // Forget sources idle for long enough to have refilled (a
            // second at one worker); if all are busy, start over.
            let refill = (burst / rate).max(1.0);
            self.table
                .retain(|_, b| now.saturating_duration_since(b.last).as_secs_f64() < refill);
            if self.table.len() >= self.table_size {
                self.table.clear();
            }
        }
        let bucket = self.table.entry((net, kind)).or_insert(Bucket {
            tokens: burst,
            last: now,
            limited: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return RrlAction::Send;
        }
        bucket.limited = bucket.limited.wrapping_add(1);
        if self.config.slip > 0 && bucket.limited.is_multiple_of(self.config.slip) {
            RrlAction::Slip
        } else {
            RrlAction::Drop
        }
    }
}

/// Turns a response into its truncated form: header (TC=1, no records) and
/// the question only.
pub fn truncate_to_question(response: &mut Vec<u8>) {
    truncate_at(response, question_end(response));
}

/// [`truncate_to_question`] when the question's end is known: `None` for a
/// response whose question could not be read.
pub(crate) fn truncate_at(response: &mut Vec<u8>, question_end: Option<usize>) {
    let Some(qend) = question_end else {
        response.truncate(12.min(response.len()));
        return;
    };
    response.truncate(qend);
    if response.len() >= 12 {
        response[2] |= 0x02;
        response[6..12].fill(0);
    }
}

fn question_end(msg: &[u8]) -> Option<usize> {
    if msg.get(4..6)? != [0, 1] {
        return Some(12);
    }
    let mut pos = 12;
    loop {
        let len = usize::from(*msg.get(pos)?);
        if len & 0xc0 == 0xc0 {
            pos += 2;
            break;
        }
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    (pos + 4 <= msg.len()).then_some(pos + 4)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rrl(rate: u32, slip: u32) -> Rrl {
        Rrl::new(RrlConfig {
            responses_per_second: rate,
            slip,
            whitelist: vec!["192.0.2.128/25".parse().unwrap()],
            ..RrlConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn a_prefix_gets_its_rate_then_is_limited() {
        let mut r = rrl(10, 0);
        let now = Instant::now();
        let sent = (0..100)
            .filter(|i| {
                let src = IpAddr::from([198, 51, 100, (*i % 200) as u8]);
                r.check(src, ResponseKind::Answer, now) == RrlAction::Send
            })
            .count();
        assert_eq!(sent, 10);
    }

    #[test]
    fn tokens_refill_with_time() {
        let mut r = rrl(10, 0);
        let t0 = Instant::now();
        let src = IpAddr::from([198, 51, 100, 1]);
        for _ in 0..10 {
            assert_eq!(r.check(src, ResponseKind::Answer, t0), RrlAction::Send);
        }
        assert_eq!(r.check(src, ResponseKind::Answer, t0), RrlAction::Drop);
        let later = t0 + Duration::from_millis(500);
        let sent = (0..10)
            .filter(|_| r.check(src, ResponseKind::Answer, later) == RrlAction::Send)
            .count();
        assert_eq!(sent, 5);
    }

    #[test]
    fn other_prefixes_and_kinds_are_counted_apart() {
        let mut r = rrl(1, 0);
        let now = Instant::now();
        let a = IpAddr::from([198, 51, 100, 1]);
        let b = IpAddr::from([198, 51, 101, 1]);
        assert_eq!(r.check(a, ResponseKind::Answer, now), RrlAction::Send);
        assert_eq!(r.check(a, ResponseKind::Answer, now), RrlAction::Drop);
        assert_eq!(r.check(a, ResponseKind::NxDomain, now), RrlAction::Send);
        assert_eq!(r.check(b, ResponseKind::Answer, now), RrlAction::Send);
    }

    #[test]
    fn every_slip_th_limited_response_is_truncated() {
        let mut r = rrl(1, 2);
        let now = Instant::now();
        let a = IpAddr::from([198, 51, 100, 1]);
        assert_eq!(r.check(a, ResponseKind::Answer, now), RrlAction::Send);
        let actions: Vec<_> = (0..4)
            .map(|_| r.check(a, ResponseKind::Answer, now))
            .collect();
        assert_eq!(
            actions,
            [
                RrlAction::Drop,
                RrlAction::Slip,
                RrlAction::Drop,
                RrlAction::Slip
            ]
        );
    }

    #[test]
    fn whitelisted_sources_are_never_limited() {
        let mut r = rrl(1, 0);
        let now = Instant::now();
        let w = IpAddr::from([192, 0, 2, 200]);
        assert!((0..50).all(|_| r.check(w, ResponseKind::Answer, now) == RrlAction::Send));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut r = Rrl::new(RrlConfig {
            responses_per_second: 5,
            table_size: 100,
            ipv4_prefix: 32,
            ..RrlConfig::default()
        })
        .unwrap();
        let now = Instant::now();
        for i in 0..10_000u32 {
            r.check(IpAddr::from(i.to_be_bytes()), ResponseKind::Answer, now);
            assert!(r.table.len() <= 100);
        }
    }

    /// One prefix's flood spread evenly over three workers (as SO_REUSEPORT
    /// spreads a source whose ports vary) gets the configured rate in total,
    /// not three times it, and a second later as much again.
    #[test]
    fn workers_sharing_a_prefix_allow_the_rate_in_total() {
        let config = RrlConfig {
            responses_per_second: 30,
            slip: 0,
            ..RrlConfig::default()
        };
        let mut workers: Vec<Rrl> = (0..3)
            .map(|_| Rrl::share(config.clone(), 3).unwrap())
            .collect();
        let t0 = Instant::now();
        let sent = |workers: &mut [Rrl], at: Instant| {
            (0..300)
                .filter(|i| {
                    let src = IpAddr::from([198, 51, 100, (*i % 200) as u8]);
                    workers[i % 3].check(src, ResponseKind::Answer, at) == RrlAction::Send
                })
                .count()
        };
        assert_eq!(sent(&mut workers, t0), 30);
        assert_eq!(sent(&mut workers, t0), 0);
        assert_eq!(sent(&mut workers, t0 + Duration::from_secs(1)), 30);
        // Traffic that reaches one worker only gets that worker's share.
        let src = IpAddr::from([203, 0, 113, 1]);
        let one = (0..100)
            .filter(|_| workers[0].check(src, ResponseKind::Answer, t0) == RrlAction::Send)
            .count();
        assert_eq!(one, 10);
    }

    /// A rate smaller than the number of workers still lets each worker
    /// answer once, then refill at its fraction of a response per second.
    #[test]
    fn a_share_below_one_response_per_second_still_answers() {
        let config = RrlConfig {
            responses_per_second: 1,
            slip: 0,
            ..RrlConfig::default()
        };
        let mut r = Rrl::share(config, 4).unwrap();
        let src = IpAddr::from([198, 51, 100, 1]);
        let t0 = Instant::now();
        assert_eq!(r.check(src, ResponseKind::Answer, t0), RrlAction::Send);
        assert_eq!(r.check(src, ResponseKind::Answer, t0), RrlAction::Drop);
        let soon = t0 + Duration::from_secs(2);
        assert_eq!(r.check(src, ResponseKind::Answer, soon), RrlAction::Drop);
        let later = t0 + Duration::from_secs(4);
        assert_eq!(r.check(src, ResponseKind::Answer, later), RrlAction::Send);
    }

    #[test]
    fn workers_divide_the_table() {
        let config = RrlConfig {
            responses_per_second: 5,
            table_size: 100,
            ipv4_prefix: 32,
            ..RrlConfig::default()
        };
        let mut r = Rrl::share(config, 4).unwrap();
        let now = Instant::now();
        for i in 0..1000u32 {
            r.check(IpAddr::from(i.to_be_bytes()), ResponseKind::Answer, now);
            assert!(r.table.len() <= 25);
        }
    }

    #[test]
    fn kinds_are_read_from_the_header() {
        let mut h = [0u8; 12];
        h[2] = 0x84;
        h[7] = 1;
        assert_eq!(ResponseKind::of(&h), ResponseKind::Answer);
        h[3] = 3;
        assert_eq!(ResponseKind::of(&h), ResponseKind::NxDomain);
        let mut r = [0u8; 12];
        r[2] = 0x80;
        r[9] = 2;
        assert_eq!(ResponseKind::of(&r), ResponseKind::Referral);
        r[3] = 5;
        assert_eq!(ResponseKind::of(&r), ResponseKind::Error);
    }

    #[test]
    fn truncation_keeps_header_and_question() {
        let mut msg = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        truncate_to_question(&mut msg);
        assert_eq!(msg.len(), 12 + 7);
        assert_eq!(msg[2] & 0x02, 0x02);
        assert_eq!(&msg[6..12], &[0; 6]);
    }
}
