//! Several servers on one store (`[dhcp.ha]`), sans-I/O: which server
//! answers a client, which part of a pool a server draws new addresses
//! from, and who is alive according to the heartbeat rows.
//!
//! Load balancing follows RFC 3074: a client's identity (option 61, else
//! chaddr) is hashed to one of 256 buckets, and the bucket modulo the number
//! of servers names the server that answers it. Hot-standby gives every
//! client to the first server of the list. In both, a server whose
//! heartbeat (kept in the store, aged by the store's clock) is older than
//! `takeover_secs` is down, and its clients go to the next live server of
//! the list. Shared mode answers everyone; conflicts are retried
//! (`commit`).

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::DhcpError;
use crate::config::{HaConfig, HaMode};

/// RFC 3074 §6: "A 'mixing table' of 256 distinct values, in pseudo-random
/// order".
const MIX: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152,
    58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243,
    124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97,
    16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, 207, 9, 178, 204,
    74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25,
    226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241,
    73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82,
    163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118,
    112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231,
    52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171,
    72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136,
    208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153,
    149, 80, 170, 68, 6, 169, 234, 151,
];

/// RFC 3074 §6, the hash over a client's identity: "hash = len; for each
/// octet: hash = mixing_table[hash ^ octet]" (Pearson's hash, seeded with
/// the length).
pub(crate) fn bucket(key: &[u8]) -> u8 {
    // The length enters as its low octet, as in the RFC's C code (an
    // identity never exceeds 255 octets in a DHCP option anyway).
    let mut hash = key.len() as u8;
    for b in key {
        hash = MIX[usize::from(hash ^ b)];
    }
    hash
}

/// The compiled `[dhcp.ha]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ha {
    pub(crate) mode: HaMode,
    /// This server's position in `names` (0 when no list is given).
    pub(crate) me: usize,
    /// Every server, in the agreed order; empty when not configured.
    pub(crate) names: Vec<String>,
    pub(crate) heartbeat: Duration,
    pub(crate) takeover: Duration,
    pub(crate) conflict_retries: u32,
    pub(crate) conflict_warn_per_sec: f64,
}

impl Ha {
    /// Checks and compiles the section.
    pub(crate) fn compile(c: &HaConfig) -> Result<Self, DhcpError> {
        let secs = |key: &'static str, v: f64| {
            Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    DhcpError::config(key, format!("{v} is not a positive number of seconds"))
                })
        };
        let heartbeat = secs("dhcp.ha.heartbeat_secs", c.heartbeat_secs)?;
        let takeover = secs("dhcp.ha.takeover_secs", c.takeover_secs)?;
        if takeover < heartbeat * 2 {
            return Err(DhcpError::config(
                "dhcp.ha.takeover_secs",
                format!(
                    "{} s is less than two heartbeats ({} s each): a live server would be taken for down",
                    c.takeover_secs, c.heartbeat_secs
                ),
            ));
        }
        if c.conflict_warn_per_sec.is_nan() || c.conflict_warn_per_sec < 0.0 {
            return Err(DhcpError::config(
                "dhcp.ha.conflict_warn_per_sec",
                "must be a number of conflicts per second, 0 or more",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = c.servers.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(DhcpError::config(
                "dhcp.ha.servers",
                format!("{dup:?} is listed twice"),
            ));
        }
        let me = match &c.this_server {
            Some(name) => c.servers.iter().position(|n| n == name).ok_or_else(|| {
                DhcpError::config(
                    "dhcp.ha.this_server",
                    format!("{name:?} is not in dhcp.ha.servers {:?}", c.servers),
                )
            })?,
            None if c.servers.is_empty() => 0,
            None => {
                return Err(DhcpError::config(
                    "dhcp.ha.this_server",
                    "missing: name this server (one of dhcp.ha.servers)",
                ));
            }
        };
        if c.mode != HaMode::Shared && c.servers.len() < 2 {
            return Err(DhcpError::config(
                "dhcp.ha.servers",
                "load-balancing and hot-standby need at least two servers (this one included), listed in the same order on each",
            ));
        }
        Ok(Self {
            mode: c.mode,
            me,
            names: c.servers.clone(),
            heartbeat,
            takeover,
            conflict_retries: c.conflict_retries,
            conflict_warn_per_sec: c.conflict_warn_per_sec,
        })
    }

    /// How many servers share the pools (1 when none are listed).
    pub(crate) fn count(&self) -> usize {
        self.names.len().max(1)
    }

    /// True when this server writes a heartbeat (a server list is given).
    pub(crate) fn beats(&self) -> bool {
        !self.names.is_empty()
    }

    /// Who is alive, by position, from the heartbeat ages the store answered
    /// (name, milliseconds since its last heartbeat). This server is always
    /// alive; a server with no heartbeat row has never run.
    pub(crate) fn live(&self, ages: &[(String, u64)]) -> Vec<bool> {
        let limit = u64::try_from(self.takeover.as_millis()).unwrap_or(u64::MAX);
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| i == self.me || ages.iter().any(|(n, age)| n == name && *age <= limit))
            .collect()
    }

    /// The position of the server that answers a client in `bucket`, given
    /// who is alive (`live[i]`); `None` in shared mode (everyone answers).
    pub(crate) fn owner(&self, bucket: u8, live: &[bool]) -> Option<usize> {
        let n = self.names.len();
        let first = match self.mode {
            HaMode::Shared => return None,
            // RFC 3074 §5: each server serves the buckets assigned to it;
            // here bucket modulo the number of servers, as Kea's HA does.
            HaMode::LoadBalancing => usize::from(bucket) % n.max(1),
            HaMode::HotStandby => 0,
        };
        // A down server's clients go to the next live one in the list.
        (0..n)
            .map(|k| (first + k) % n)
            .find(|i| live.get(*i).copied().unwrap_or(*i == self.me))
            .or(Some(self.me))
    }

    /// True if this server answers a client in `bucket`.
    pub(crate) fn answers(&self, bucket: u8, live: &[bool]) -> bool {
        self.owner(bucket, live).is_none_or(|o| o == self.me)
    }

    /// This server's own part of the pool `first..=last`: the pool cut into
    /// as many contiguous parts as there are servers, so servers claiming
    /// never-used addresses at once do not race for the same one.
    pub(crate) fn part(&self, first: Ipv4Addr, last: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr) {
        let n = self.count() as u64;
        let (a, b) = (u64::from(u32::from(first)), u64::from(u32::from(last)));
        if n <= 1 || b < a {
            return (first, last);
        }
        let size = b - a + 1;
        let me = self.me as u64;
        let lo = a + size * me / n;
        let hi = (a + size * (me + 1) / n).saturating_sub(1).max(lo);
        let cut = |v: u64| Ipv4Addr::from(u32::try_from(v.min(b)).unwrap_or(u32::MAX));
        (cut(lo), cut(hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ha(mode: HaMode, me: &str, servers: &[&str]) -> Ha {
        Ha::compile(&HaConfig {
            mode,
            this_server: Some(me.into()),
            servers: servers.iter().map(|s| (*s).to_owned()).collect(),
            ..HaConfig::default()
        })
        .expect("valid [dhcp.ha]")
    }

    #[test]
    fn rfc3074_hash_is_pearson_seeded_with_the_length() {
        // Worked by hand from the table: len 0 → 0; len 1, octet 0 →
        // MIX[1 ^ 0] = 175; [1, 2] → MIX[2 ^ 1] = MIX[3] = 215, then
        // MIX[215 ^ 2] = MIX[213].
        assert_eq!(bucket(&[]), 0);
        assert_eq!(bucket(&[0]), 175);
        assert_eq!(bucket(&[1, 2]), MIX[213]);
        // The table is a permutation, so every bucket is reachable.
        let mut seen = [false; 256];
        for v in MIX {
            seen[usize::from(v)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn load_balancing_gives_each_bucket_to_exactly_one_live_server() {
        let a = ha(HaMode::LoadBalancing, "a", &["a", "b"]);
        let b = ha(HaMode::LoadBalancing, "b", &["a", "b"]);
        let both = [true, true];
        let mut counts = [0; 2];
        for k in 0..=255u8 {
            let (x, y) = (a.answers(k, &both), b.answers(k, &both));
            assert!(x != y, "bucket {k}: exactly one answers");
            counts[usize::from(y)] += 1;
        }
        assert_eq!(counts, [128, 128]);
        // b is down: a answers every bucket.
        assert!((0..=255u8).all(|k| a.answers(k, &[true, false])));
    }

    #[test]
    fn hot_standby_answers_only_when_the_primary_is_down() {
        let standby = ha(HaMode::HotStandby, "b", &["a", "b"]);
        assert!(!standby.answers(7, &[true, true]));
        assert!(standby.answers(7, &[false, true]));
        let shared = ha(HaMode::Shared, "b", &["a", "b"]);
        assert!(shared.answers(7, &[true, true]));
    }

    #[test]
    fn liveness_comes_from_heartbeat_ages_and_the_takeover_time() {
        let a = ha(HaMode::LoadBalancing, "a", &["a", "b", "c"]);
        // takeover_secs defaults to 10 s.
        let ages = vec![("b".to_owned(), 9_000), ("c".to_owned(), 10_001)];
        assert_eq!(a.live(&ages), vec![true, true, false]);
        assert_eq!(a.live(&[]), vec![true, false, false]);
    }

    #[test]
    fn pool_parts_are_disjoint_and_cover_the_pool() {
        let (first, last) = (Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 19));
        let parts: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|me| ha(HaMode::Shared, me, &["a", "b", "c"]).part(first, last))
            .collect();
        assert_eq!(parts[0], (first, Ipv4Addr::new(10, 0, 0, 12)));
        assert_eq!(parts[1].0, Ipv4Addr::new(10, 0, 0, 13));
        assert_eq!(parts[2].1, last);
        for w in parts.windows(2) {
            assert_eq!(u32::from(w[0].1) + 1, u32::from(w[1].0));
        }
    }

    #[test]
    fn bad_sections_are_refused_with_the_key() {
        let refused = |c: HaConfig| Ha::compile(&c).expect_err("refused").to_string();
        assert!(
            refused(HaConfig {
                mode: HaMode::LoadBalancing,
                this_server: Some("a".into()),
                servers: vec!["a".into()],
                ..HaConfig::default()
            })
            .contains("dhcp.ha.servers")
        );
        assert!(
            refused(HaConfig {
                this_server: Some("x".into()),
                servers: vec!["a".into(), "b".into()],
                ..HaConfig::default()
            })
            .contains("dhcp.ha.this_server")
        );
        assert!(
            refused(HaConfig {
                takeover_secs: 1.0,
                ..HaConfig::default()
            })
            .contains("takeover_secs")
        );
    }
}
