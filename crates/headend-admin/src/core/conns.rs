//! Admission of connections to the admin listener: a cap in total and per
//! source address. Over either cap the listener closes the new connection at
//! once instead of queueing it, so one host's slow connections can take at
//! most its own share of the API's budget and none of the other services'.

use std::collections::HashMap;
use std::net::IpAddr;

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` are open.
    Total,
    /// `max_connections_per_source` are open from this address.
    PerSource,
}

impl Refusal {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "connection_cap",
            Self::PerSource => "connection_cap_per_source",
        }
    }
}

/// Open connections, counted in total and by source address.
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_source: usize,
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

impl Admission {
    /// Counts nothing yet; admits up to `max_total`, `max_per_source` from one address.
    pub fn new(max_total: usize, max_per_source: usize) -> Self {
        Self {
            max_total,
            max_per_source,
            total: 0,
            by_source: HashMap::new(),
        }
    }

    /// Counts a new connection from `ip` if both caps allow it.
    pub fn admit(&mut self, ip: IpAddr) -> Result<(), Refusal> {
        if self.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = self.by_source.entry(ip).or_insert(0);
        if *n >= self.max_per_source {
            return Err(Refusal::PerSource);
        }
        *n += 1;
        self.total += 1;
        Ok(())
    }

    /// Forgets one connection from `ip` (it closed).
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.by_source.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.by_source.remove(&ip);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_source_cannot_take_more_than_its_share() {
        let mut a = Admission::new(10, 2);
        assert_eq!(a.admit(ip(1)), Ok(()));
        assert_eq!(a.admit(ip(1)), Ok(()));
        assert_eq!(a.admit(ip(1)), Err(Refusal::PerSource));
        assert_eq!(a.admit(ip(2)), Ok(()));
        assert_eq!(a.open(), 3);
    }

    #[test]
    fn total_cap_refuses_every_source() {
        let mut a = Admission::new(3, 2);
        for last in [1, 2, 3] {
            assert_eq!(a.admit(ip(last)), Ok(()));
        }
        assert_eq!(a.admit(ip(4)), Err(Refusal::Total));
    }

    #[test]
    fn release_frees_the_slot_and_forgets_idle_sources() {
        let mut a = Admission::new(2, 1);
        assert_eq!(a.admit(ip(1)), Ok(()));
        assert_eq!(a.admit(ip(1)), Err(Refusal::PerSource));
        a.release(ip(1));
        assert!(a.by_source.is_empty());
        assert_eq!(a.open(), 0);
        assert_eq!(a.admit(ip(1)), Ok(()));
    }

    #[test]
    fn releasing_an_unknown_source_changes_nothing() {
        let mut a = Admission::new(2, 1);
        assert_eq!(a.admit(ip(1)), Ok(()));
        a.release(ip(9));
        assert_eq!(a.open(), 1);
    }
}
