//! Login bookkeeping that must not depend on whether a name exists or on
//! the store: failures of unknown user names (locked exactly like real
//! accounts, so a lockout does not reveal which names are real), and the
//! aggregation of rate-limited attempts into one audit entry per source
//! address and minute.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::core::session::Lockout;

/// Names remembered at most; when full, entries whose lock ran out go first,
/// then everything (a flood of random names must not grow memory).
const UNKNOWN_MAX: usize = 10_000;

/// Failed logins of names that have no account, counted and locked with the
/// same [`Lockout`] arithmetic as the accounts in the store.
#[derive(Debug, Default)]
pub struct UnknownNames {
    /// folded name -> (consecutive failures, locked until).
    names: HashMap<String, (u32, u64)>,
}

impl UnknownNames {
    /// The unix time until which logins as `name` are refused (0: not locked).
    pub fn locked_until(&self, name: &str, now: u64) -> u64 {
        self.names
            .get(name)
            .map_or(0, |&(_, until)| if until > now { until } else { 0 })
    }

    /// Counts a failure of `name` at `now`; returns the new count.
    pub fn failure(&mut self, name: &str, lockout: &Lockout, now: u64) -> u32 {
        if self.names.len() >= UNKNOWN_MAX && !self.names.contains_key(name) {
            self.names.retain(|_, &mut (_, until)| until > now);
            if self.names.len() >= UNKNOWN_MAX {
                self.names.clear();
            }
        }
        let e = self.names.entry(name.to_owned()).or_insert((0, 0));
        e.0 = e.0.saturating_add(1);
        e.1 = lockout.until(e.0, now);
        e.0
    }
}

/// One audit entry to write for rate-limited attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// What was attempted (`login`, `refresh`).
    pub action: &'static str,
    /// The source address.
    pub source: IpAddr,
    /// The unix minute (time / 60) the attempts fell in.
    pub minute: u64,
    /// Attempts refused in that minute that no entry counted yet.
    pub count: u32,
}

/// Rate-limited attempts per source address and minute: the first refusal
/// of a minute is audited at once, the rest are summed and audited when
/// the minute is over.
#[derive(Debug, Default)]
pub struct RefusalLog {
    open: HashMap<(IpAddr, &'static str), (u64, u32)>,
}

impl RefusalLog {
    /// A refusal from `source` at `now`. Returns the entries to write: the
    /// sum of an earlier minute now closed, and this one if it is the first
    /// of its minute.
    pub fn refused(&mut self, source: IpAddr, action: &'static str, now: u64) -> Vec<Refused> {
        let minute = now / 60;
        let mut out = Vec::new();
        match self.open.get_mut(&(source, action)) {
            Some((m, n)) if *m == minute => *n += 1,
            Some((m, n)) => {
                if *n > 0 {
                    out.push(Refused {
                        action,
                        source,
                        minute: *m,
                        count: *n,
                    });
                }
                *m = minute;
                *n = 0;
                out.push(Refused {
                    action,
                    source,
                    minute,
                    count: 1,
                });
            }
            None => {
                self.open.insert((source, action), (minute, 0));
                out.push(Refused {
                    action,
                    source,
                    minute,
                    count: 1,
                });
            }
        }
        out
    }

    /// Closes the minutes before `now`'s: returns their unaudited sums.
    pub fn flush(&mut self, now: u64) -> Vec<Refused> {
        let minute = now / 60;
        let mut out = Vec::new();
        self.open.retain(|&(source, action), &mut (m, n)| {
            if m >= minute {
                return true;
            }
            if n > 0 {
                out.push(Refused {
                    action,
                    source,
                    minute: m,
                    count: n,
                });
            }
            false
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: Lockout = Lockout {
        after: 3,
        base: 30,
        max: 3600,
    };

    #[test]
    fn unknown_name_locks_after_the_same_number_of_failures_as_an_account() {
        let mut u = UnknownNames::default();
        for n in 1..LOCK.after {
            assert_eq!(u.failure("ghost", &LOCK, 100), n);
            assert_eq!(u.locked_until("ghost", 100), 0);
        }
        u.failure("ghost", &LOCK, 100);
        assert_eq!(u.locked_until("ghost", 100), LOCK.until(LOCK.after, 100));
        assert_eq!(u.locked_until("ghost", 100 + 30), 0, "the lock runs out");
        assert_eq!(u.locked_until("other", 100), 0);
    }

    #[test]
    fn a_flood_of_names_does_not_grow_without_bound() {
        let mut u = UnknownNames::default();
        for i in 0..(UNKNOWN_MAX + 10) {
            u.failure(&format!("n{i}"), &LOCK, 1);
        }
        assert!(u.names.len() <= UNKNOWN_MAX);
    }

    #[test]
    fn refusals_are_audited_once_per_address_and_minute_then_summed() {
        let ip: IpAddr = [192, 0, 2, 1].into();
        let mut log = RefusalLog::default();
        assert_eq!(
            log.refused(ip, "login", 600),
            [Refused {
                action: "login",
                source: ip,
                minute: 10,
                count: 1
            }]
        );
        for t in 601..610 {
            assert!(log.refused(ip, "login", t).is_empty());
        }
        assert!(log.flush(659).is_empty(), "the minute is not over");
        assert_eq!(
            log.flush(660),
            [Refused {
                action: "login",
                source: ip,
                minute: 10,
                count: 9
            }]
        );
        assert!(log.flush(720).is_empty());
    }

    #[test]
    fn a_new_minute_closes_the_previous_sum() {
        let ip: IpAddr = [192, 0, 2, 1].into();
        let mut log = RefusalLog::default();
        log.refused(ip, "login", 600);
        log.refused(ip, "login", 601);
        assert_eq!(log.refused(ip, "refresh", 601).len(), 1, "counted apart");
        let out = log.refused(ip, "login", 665);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].minute, out[0].count), (10, 1));
        assert_eq!((out[1].minute, out[1].count), (11, 1));
    }
}
