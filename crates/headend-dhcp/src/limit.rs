//! Per-client request rate limit: a token bucket per client key, fed the
//! caller's clock. A looping modem is held to its rate; memory stays bounded
//! under a random-MAC flood because idle, refilled buckets are pruned.

use std::time::Duration;

use headend_util::Buckets;

/// Buckets kept before idle ones are pruned.
const PRUNE_AT: usize = 65_536;

/// Token buckets by client key. The rate is given with each request, so a
/// configuration reload changes it without forgetting the buckets.
#[derive(Debug)]
pub(crate) struct Limiter {
    buckets: Buckets<Vec<u8>>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            buckets: Buckets::new(PRUNE_AT),
        }
    }
}

impl Limiter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Takes a token for `client` at time `now` (any monotonic-enough clock),
    /// with `per_second` sustained and `burst` at most; false when the client
    /// is over its rate.
    pub(crate) fn allow(
        &mut self,
        client: &[u8],
        now: Duration,
        per_second: f64,
        burst: u32,
    ) -> bool {
        self.buckets
            .allow(client, now.as_secs_f64(), per_second, f64::from(burst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looping_client_is_held_to_its_burst_then_its_rate() {
        let mut l = Limiter::new();
        let t0 = Duration::from_secs(100);
        let allowed = (0..50).filter(|_| l.allow(b"modem", t0, 2.0, 5)).count();
        assert_eq!(allowed, 5);
        assert!(l.allow(b"modem", t0 + Duration::from_millis(600), 2.0, 5));
        assert!(!l.allow(b"modem", t0 + Duration::from_millis(600), 2.0, 5));
        assert!(
            l.allow(b"other", t0, 2.0, 5),
            "another client is not affected"
        );
    }

    #[test]
    fn flood_of_new_clients_keeps_memory_bounded() {
        let mut l = Limiter::new();
        for i in 0..(PRUNE_AT as u32 + 10) {
            l.allow(&i.to_be_bytes(), Duration::from_secs(u64::from(i)), 1.0, 2);
        }
        assert!(l.buckets.len() <= PRUNE_AT);
    }

    #[test]
    fn a_new_rate_applies_to_existing_buckets() {
        let mut l = Limiter::new();
        let t0 = Duration::from_secs(100);
        assert_eq!((0..10).filter(|_| l.allow(b"m", t0, 1.0, 3)).count(), 3);
        // Reloaded with a faster rate: the empty bucket refills at 10/s.
        let later = t0 + Duration::from_millis(500);
        assert_eq!(
            (0..10).filter(|_| l.allow(b"m", later, 10.0, 20)).count(),
            5
        );
    }
}
