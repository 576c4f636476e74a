//! Findings in a `[dhcp]` section that compiles but is likely wrong, for
//! `headend check`: each names the key path, what is wrong and the fix.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::config::DhcpConfig;

/// One finding: an error (the section would misbehave) or a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFinding {
    /// True for an error, false for a warning.
    pub error: bool,
    /// The key path, e.g. `dhcp.subnet[0].reservation[1].mac`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn range(s: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (a, b) = s.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// `aa-BB:cc...` in lowercase colon form, with its octet count.
fn mac_form(mac: &str) -> (String, usize) {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    (parts.join(":").to_ascii_lowercase(), parts.len())
}

impl DhcpConfig {
    /// Findings beyond what [`DhcpConfig::validate`] refuses: host bits in a
    /// subnet, MACs that are not 6 octets, a MAC or an address reserved
    /// twice, overlapping subnets or pools, reservations inside a pool.
    pub fn lint(&self) -> Vec<ConfigFinding> {
        let mut out = Vec::new();
        let mut push = |error: bool, key: String, message: String| {
            out.push(ConfigFinding {
                error,
                key,
                message,
            });
        };
        let mut macs: HashMap<String, (usize, String)> = HashMap::new();
        let mut addrs: HashMap<Ipv4Addr, String> = HashMap::new();
        for (i, s) in self.subnets.iter().enumerate() {
            let key = format!("dhcp.subnet[{i}]");
            if s.subnet.addr() != s.subnet.network() {
                push(
                    true,
                    format!("{key}.subnet"),
                    format!(
                        "{} has host bits set: write the network, subnet = \"{}\"",
                        s.subnet,
                        s.subnet.trunc()
                    ),
                );
            }
            let net = s.subnet.trunc();
            for (j, other) in self.subnets.iter().enumerate().skip(i + 1) {
                let o = other.subnet.trunc();
                if net.contains(&o.network()) || o.contains(&net.network()) {
                    push(
                        true,
                        format!("dhcp.subnet[{j}].subnet"),
                        format!(
                            "{o} of subnet {:?} overlaps {net} of subnet {:?}: a client's address would match both; make them disjoint",
                            other.name, s.name
                        ),
                    );
                }
            }
            let pools: Vec<(usize, (Ipv4Addr, Ipv4Addr))> = s
                .pools
                .iter()
                .enumerate()
                .filter_map(|(j, p)| range(p).map(|r| (j, r)))
                .collect();
            for (n, (j, a)) in pools.iter().enumerate() {
                for (k, b) in pools.iter().skip(n + 1) {
                    if a.0 <= b.1 && b.0 <= a.1 {
                        push(
                            true,
                            format!("{key}.pools[{k}]"),
                            format!(
                                "pool {}-{} overlaps pool {}-{} (pools[{j}]) of the same subnet: merge or separate them",
                                b.0, b.1, a.0, a.1
                            ),
                        );
                    }
                }
            }
            for (j, r) in s.reservations.iter().enumerate() {
                let rkey = format!("{key}.reservation[{j}]");
                if let Some(mac) = &r.mac {
                    let (norm, octets) = mac_form(mac);
                    if octets != 6 {
                        push(
                            true,
                            format!("{rkey}.mac"),
                            format!(
                                "{mac:?} has {octets} octets; an Ethernet MAC has 6, as aa:bb:cc:dd:ee:ff"
                            ),
                        );
                    }
                    match macs.get(&norm) {
                        Some((si, first)) if *si == i => push(
                            true,
                            format!("{rkey}.mac"),
                            format!(
                                "{mac} is reserved twice in subnet {:?} (first at {first}): only the first is used; remove one",
                                s.name
                            ),
                        ),
                        Some((_, first)) => push(
                            false,
                            format!("{rkey}.mac"),
                            format!(
                                "{mac} also has a reservation at {first} in another subnet: fine for a client that moves, a typo otherwise"
                            ),
                        ),
                        None => {
                            macs.insert(norm, (i, format!("{rkey}.mac")));
                        }
                    }
                }
                if let Some(first) = addrs.get(&r.address) {
                    push(
                        true,
                        format!("{rkey}.address"),
                        format!(
                            "{} is already reserved at {first}: two clients cannot hold one address; give one of them another",
                            r.address
                        ),
                    );
                } else {
                    addrs.insert(r.address, format!("{rkey}.address"));
                }
                if let Some((k, (a, b))) = pools
                    .iter()
                    .find(|(_, (a, b))| (*a..=*b).contains(&r.address))
                {
                    push(
                        false,
                        format!("{rkey}.address"),
                        format!(
                            "{} lies in the dynamic range {a}-{b} (pools[{k}]): allowed (the pool skips it), but addresses outside the pools keep the two apart",
                            r.address
                        ),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(text: &str) -> Vec<ConfigFinding> {
        let c: DhcpConfig = toml::from_str(text).unwrap();
        c.lint()
    }

    fn one(text: &str, error: bool, key: &str, needle: &str) {
        let f = lint(text);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].error, error, "{f:?}");
        assert_eq!(f[0].key, key, "{f:?}");
        assert!(f[0].message.contains(needle), "{}", f[0].message);
    }

    const NET: &str = "[[subnet]]\nname = \"lan\"\nsubnet = \"10.0.0.0/24\"\npools = [\"10.0.0.100-10.0.0.200\"]\n";

    #[test]
    fn a_clean_section_has_no_findings() {
        assert!(
            lint(&format!(
                "{NET}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:01\"\naddress = \"10.0.0.5\"\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn host_bits_in_a_subnet_are_an_error_with_the_network_to_write() {
        one(
            "[[subnet]]\nname = \"x\"\nsubnet = \"10.20.0.5/24\"\n",
            true,
            "dhcp.subnet[0].subnet",
            "subnet = \"10.20.0.0/24\"",
        );
    }

    #[test]
    fn a_five_octet_mac_is_an_error() {
        one(
            &format!(
                "{NET}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee\"\naddress = \"10.0.0.5\"\n"
            ),
            true,
            "dhcp.subnet[0].reservation[0].mac",
            "5 octets",
        );
    }

    #[test]
    fn the_same_mac_reserved_twice_is_an_error() {
        one(
            &format!(
                "{NET}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:01\"\naddress = \"10.0.0.5\"\n[[subnet.reservation]]\nmac = \"AA-BB-CC-DD-EE-01\"\naddress = \"10.0.0.6\"\n"
            ),
            true,
            "dhcp.subnet[0].reservation[1].mac",
            "reserved twice",
        );
    }

    #[test]
    fn one_address_for_two_macs_is_an_error() {
        one(
            &format!(
                "{NET}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:01\"\naddress = \"10.0.0.5\"\n[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:02\"\naddress = \"10.0.0.5\"\n"
            ),
            true,
            "dhcp.subnet[0].reservation[1].address",
            "already reserved at dhcp.subnet[0].reservation[0].address",
        );
    }

    #[test]
    fn overlapping_subnets_and_pools_are_errors() {
        one(
            &format!("{NET}[[subnet]]\nname = \"b\"\nsubnet = \"10.0.0.128/25\"\n"),
            true,
            "dhcp.subnet[1].subnet",
            "overlaps 10.0.0.0/24",
        );
        one(
            "[[subnet]]\nname = \"a\"\nsubnet = \"10.0.0.0/24\"\npools = [\"10.0.0.10-10.0.0.50\", \"10.0.0.40-10.0.0.60\"]\n",
            true,
            "dhcp.subnet[0].pools[1]",
            "overlaps pool 10.0.0.10-10.0.0.50",
        );
    }

    #[test]
    fn a_reservation_inside_a_pool_is_noted() {
        one(
            &format!(
                "{NET}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:01\"\naddress = \"10.0.0.150\"\n"
            ),
            false,
            "dhcp.subnet[0].reservation[0].address",
            "dynamic range 10.0.0.100-10.0.0.200",
        );
    }
}
