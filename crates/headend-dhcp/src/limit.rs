//! Per-client request rate limit: a token bucket per client key, fed the
//! caller's clock. A looping modem is held to its rate; memory stays bounded
//! under a random-MAC flood because idle, refilled buckets are pruned.

use std::collections::HashMap;
use std::time::Duration;

/// Buckets kept before idle ones are pruned.
const PRUNE_AT: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds (fractional) since the limiter's epoch, as given by the caller.
    last: f64,
}

/// Token buckets by client key.
#[derive(Debug)]
pub(crate) struct Limiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<Vec<u8>, Bucket>,
}

impl Limiter {
    pub(crate) fn new(per_second: f64, burst: u32) -> Self {
        Self {
            rate: per_second,
            burst: f64::from(burst),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `client` at time `now` (any monotonic-enough clock);
    /// false when the client is over its rate.
    pub(crate) fn allow(&mut self, client: &[u8], now: Duration) -> bool {
        let t = now.as_secs_f64();
        if self.buckets.len() >= PRUNE_AT && !self.buckets.contains_key(client) {
            let (rate, burst) = (self.rate, self.burst);
            self.buckets
                .retain(|_, b| b.tokens + (t - b.last).max(0.0) * rate < burst);
        }
        let (rate, burst) = (self.rate, self.burst);
        let b = self.buckets.entry(client.to_vec()).or_insert(Bucket {
            tokens: burst,
            last: t,
        });
        b.tokens = (b.tokens + (t - b.last).max(0.0) * rate).min(burst);
        b.last = t;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looping_client_is_held_to_its_burst_then_its_rate() {
        let mut l = Limiter::new(2.0, 5);
        let t0 = Duration::from_secs(100);
        let allowed = (0..50).filter(|_| l.allow(b"modem", t0)).count();
        assert_eq!(allowed, 5);
        assert!(l.allow(b"modem", t0 + Duration::from_millis(600)));
        assert!(!l.allow(b"modem", t0 + Duration::from_millis(600)));
        assert!(l.allow(b"other", t0), "another client is not affected");
    }

    #[test]
    fn flood_of_new_clients_keeps_memory_bounded() {
        let mut l = Limiter::new(1.0, 2);
        for i in 0..(PRUNE_AT as u32 + 10) {
            l.allow(&i.to_be_bytes(), Duration::from_secs(u64::from(i)));
        }
        assert!(l.buckets.len() <= PRUNE_AT);
    }
}
