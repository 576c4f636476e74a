//! Token buckets: a client may send `burst` requests at once and
//! `per_second` on average.

use std::collections::HashMap;
use std::hash::Hash;

/// One token bucket. Times are seconds (fractional) on any clock the caller
/// keeps monotonic enough; rate and burst are given with each call, so a
/// configuration reload changes them without forgetting the bucket.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// A full bucket at time `now`.
    pub fn full(now: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            last: now,
        }
    }

    /// Refills for the time since the last call and takes one token; false
    /// (and nothing taken) when the bucket is empty.
    pub fn take(&mut self, now: f64, per_second: f64, burst: f64) -> bool {
        self.tokens = self.level(now, per_second, burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The tokens the bucket would hold at `now`.
    pub fn level(&self, now: f64, per_second: f64, burst: f64) -> f64 {
        (self.tokens + (now - self.last).max(0.0) * per_second).min(burst)
    }

    /// True when the bucket has refilled at `now`: forgetting it changes
    /// nothing for its client.
    pub fn is_idle(&self, now: f64, per_second: f64, burst: f64) -> bool {
        self.level(now, per_second, burst) >= burst
    }

    /// Seconds of the caller's clock at the last call.
    pub fn last(&self) -> f64 {
        self.last
    }
}

/// Token buckets by client key, at most about `capacity` of them: when the
/// map is full and a new client arrives, refilled (idle) buckets are pruned,
/// so memory stays bounded under a flood of distinct clients.
#[derive(Debug)]
pub struct Buckets<K> {
    buckets: HashMap<K, TokenBucket>,
    capacity: usize,
}

impl<K: Hash + Eq> Buckets<K> {
    /// An empty map that prunes once it holds `capacity` buckets.
    pub fn new(capacity: usize) -> Self {
        Self {
            buckets: HashMap::new(),
            capacity,
        }
    }

    /// Takes a token for `client` at `now` (seconds).
    pub fn allow<Q>(&mut self, client: &Q, now: f64, per_second: f64, burst: f64) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.buckets.len() >= self.capacity && !self.buckets.contains_key(client) {
            self.buckets
                .retain(|_, b| !b.is_idle(now, per_second, burst));
        }
        if let Some(b) = self.buckets.get_mut(client) {
            return b.take(now, per_second, burst);
        }
        let mut b = TokenBucket::full(now, burst);
        let ok = b.take(now, per_second, burst);
        self.buckets.insert(client.to_owned(), b);
        ok
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b: Buckets<Vec<u8>> = Buckets::new(16);
        let allowed = (0..50)
            .filter(|_| b.allow(&b"m"[..], 100.0, 2.0, 5.0))
            .count();
        assert_eq!(allowed, 5);
        // One second later: two more tokens.
        let allowed = (0..50)
            .filter(|_| b.allow(&b"m"[..], 101.0, 2.0, 5.0))
            .count();
        assert_eq!(allowed, 2);
    }

    #[test]
    fn a_flood_of_clients_stays_bounded() {
        let mut b: Buckets<u32> = Buckets::new(100);
        for i in 0..10_000u32 {
            // Each client sends once; a second later its bucket has refilled.
            b.allow(&i, f64::from(i), 1.0, 1.0);
        }
        assert!(b.len() <= 101, "{}", b.len());
    }

    #[test]
    fn a_clock_going_back_never_adds_tokens() {
        let mut t = TokenBucket::full(10.0, 1.0);
        assert!(t.take(10.0, 1.0, 1.0));
        assert!(!t.take(5.0, 1.0, 1.0));
    }
}
