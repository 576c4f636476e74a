//! A latency histogram a service keeps on its hot path and the admin API
//! reads at scrape time: fixed bucket bounds in microseconds, one relaxed
//! atomic add per bucket hit plus the sum. No allocation, no lock.
//!
//! Buckets follow Prometheus' `le` rule: an observation lands in the first
//! bucket whose upper bound is at least its value (`value <= bound`); values
//! above the last bound are counted only in the total (`+Inf`). Each bucket
//! also keeps the sum of its own observations, so a reader that turns the
//! counts into another histogram (e.g. with `record_many(mean, n)`) puts
//! every observation in the right bucket and keeps the exact total sum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (µs) used for commit and transfer latencies: 100 µs to 60 s.
pub const LATENCY_BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// A fixed-bucket histogram of durations (see the module comment).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// Per bucket, then one more for values above the last bound.
    counts: Vec<AtomicU64>,
    /// Per bucket (same layout): sum of the observations, µs.
    sums: Vec<AtomicU64>,
}

/// A copy of a [`Histogram`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistogramSnapshot {
    /// Upper bounds in µs, ascending.
    pub bounds: &'static [u64],
    /// Observations per bucket (not cumulative); one more entry than
    /// `bounds` for the values above the last bound.
    pub counts: Vec<u64>,
    /// Sum of the observations per bucket, µs (same layout as `counts`).
    pub sums: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new(LATENCY_BOUNDS_US)
    }
}

impl Histogram {
    /// An empty histogram over `bounds` (µs, ascending).
    pub fn new(bounds: &'static [u64]) -> Self {
        let n = bounds.len() + 1;
        Self {
            bounds,
            counts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sums: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = self.bounds.partition_point(|&b| b < us);
        if let (Some(c), Some(s)) = (self.counts.get(i), self.sums.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
            s.fetch_add(us, Ordering::Relaxed);
        }
    }

    /// The counts now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sums: self
                .sums
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

impl HistogramSnapshot {
    /// Total number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of every observation, µs.
    pub fn sum_us(&self) -> u64 {
        self.sums.iter().fold(0u64, |a, &b| a.saturating_add(b))
    }

    /// The bounds in seconds (what a Prometheus histogram's `le` shows).
    pub fn bounds_secs(bounds: &[u64]) -> Vec<f64> {
        bounds.iter().map(|&b| b as f64 / 1e6).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_on_a_bound_lands_in_that_bucket() {
        let h = Histogram::new(&[100, 1_000]);
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_micros(5_000));
        h.observe(Duration::from_micros(1));
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 1, 1]);
        assert_eq!(s.sums, vec![101, 101, 5_000]);
        assert_eq!((s.count(), s.sum_us()), (4, 5_202));
    }

    #[test]
    fn a_huge_duration_is_counted_above_the_last_bound() {
        let h = Histogram::default();
        h.observe(Duration::from_secs(u64::MAX));
        let s = h.snapshot();
        assert_eq!(s.counts.last(), Some(&1));
        assert_eq!(s.count(), 1);
    }
}
