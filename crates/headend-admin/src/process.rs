//! Process-wide facts for `/metrics`: when the process started and how its
//! configuration reloads (SIGHUP) went. The binary counts; the admin API
//! reads at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Start time and reload counters of the running process.
#[derive(Debug)]
pub struct ProcessStats {
    started: u64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// Unix seconds of the last reload (0: none), shifted left one bit,
    /// the low bit set when it was applied.
    last_reload: AtomicU64,
}

impl Default for ProcessStats {
    /// Started now, no reloads yet.
    fn default() -> Self {
        Self {
            started: headend_util::unix_now(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            last_reload: AtomicU64::new(0),
        }
    }
}

impl ProcessStats {
    /// Counts one configuration reload: `ok` when the config file loaded
    /// and was applied, false when it was refused.
    pub fn reloaded(&self, ok: bool) {
        let c = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
        self.last_reload.store(
            (headend_util::unix_now() << 1) | u64::from(ok),
            Ordering::Relaxed,
        );
    }

    /// When the last reload happened (unix seconds) and whether it was
    /// applied; `None` before the first.
    pub fn last_reload(&self) -> Option<(u64, bool)> {
        match self.last_reload.load(Ordering::Relaxed) {
            0 => None,
            v => Some((v >> 1, v & 1 == 1)),
        }
    }

    /// Unix seconds when the process started.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Reloads applied and refused so far.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed),
        )
    }
}
