//! Scopes narrow what a principal's role reaches: a `zone:` scope limits
//! zone and record routes to that zone, a `subnet:` scope limits lease and
//! reservation routes to addresses inside that prefix. A principal with no
//! scope is not narrowed; one with scopes reaches only what they name (a
//! key scoped to a zone reaches no lease, and the other way round).

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// One scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A zone, by origin (lower case, no trailing dot).
    Zone(String),
    /// An IPv4 prefix for leases and reservations.
    Subnet(Ipv4Net),
    /// An IPv6 prefix for DHCPv6 bindings and reservations (addresses and
    /// delegated prefixes inside it).
    Subnet6(Ipv6Net),
}

impl Scope {
    /// Parses `zone:example.test` or `subnet:10.1.0.0/16`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(zone) = text.strip_prefix("zone:") {
            let zone = normalise_zone(zone);
            let valid = !zone.is_empty()
                && zone.len() <= 253
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            return if valid {
                Ok(Self::Zone(zone))
            } else {
                Err(format!(
                    "{text:?}: a zone scope is zone:NAME, e.g. zone:example.test"
                ))
            };
        }
        if let Some(net) = text.strip_prefix("subnet:") {
            if let Ok(n) = net.parse::<Ipv6Net>() {
                return Ok(Self::Subnet6(n.trunc()));
            }
            return net
                .parse::<Ipv4Net>()
                .map(|n| Self::Subnet(n.trunc()))
                .map_err(|_| {
                    format!("{text:?}: a subnet scope is subnet:PREFIX, e.g. subnet:10.1.0.0/16")
                });
        }
        Err(format!(
            "{text:?}: a scope is zone:NAME or subnet:PREFIX (e.g. zone:example.test, subnet:10.1.0.0/16)"
        ))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Zone(z) => write!(f, "zone:{z}"),
            Self::Subnet(n) => write!(f, "subnet:{n}"),
            Self::Subnet6(n) => write!(f, "subnet:{n}"),
        }
    }
}

fn normalise_zone(zone: &str) -> String {
    zone.trim_end_matches('.').to_ascii_lowercase()
}

/// The scopes of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses a list of scope texts.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<Self, String> {
        list.iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// True when nothing narrows the role.
    pub fn is_unrestricted(&self) -> bool {
        self.0.is_empty()
    }

    /// May zone and record routes touch `zone`?
    pub fn allows_zone(&self, zone: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let zone = normalise_zone(zone);
        self.0
            .iter()
            .any(|s| matches!(s, Scope::Zone(z) if *z == zone))
    }

    /// May lease and reservation routes touch `address`?
    pub fn allows_address(&self, address: Ipv4Addr) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|s| matches!(s, Scope::Subnet(n) if n.contains(&address)))
    }

    /// May DHCPv6 binding and reservation routes touch the prefix
    /// `address/prefix_len` (128: one address)? Only if an IPv6 subnet scope
    /// holds all of it.
    pub fn allows_prefix6(&self, address: Ipv6Addr, prefix_len: u8) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|s| {
                matches!(s, Scope::Subnet6(n)
                    if n.contains(&address) && n.prefix_len() <= prefix_len)
            })
    }

    /// The scopes as texts, for listings.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_scope_reaches_everything() {
        let s = Scopes::default();
        assert!(s.allows_zone("example.test"));
        assert!(s.allows_address(Ipv4Addr::new(10, 9, 9, 9)));
    }

    #[test]
    fn zone_scope_reaches_only_its_zone_and_no_lease() {
        let s = Scopes::parse(&["zone:Example.TEST."]).unwrap();
        assert!(s.allows_zone("example.test"));
        assert!(s.allows_zone("EXAMPLE.test."));
        assert!(!s.allows_zone("other.test"));
        assert!(!s.allows_zone("sub.example.test"));
        assert!(!s.allows_address(Ipv4Addr::new(10, 1, 0, 1)));
    }

    #[test]
    fn subnet_scope_reaches_its_addresses_and_no_zone() {
        let s = Scopes::parse(&["subnet:10.1.2.3/16"]).unwrap();
        assert_eq!(s.to_strings(), ["subnet:10.1.0.0/16"]);
        assert!(s.allows_address(Ipv4Addr::new(10, 1, 255, 1)));
        assert!(!s.allows_address(Ipv4Addr::new(10, 2, 0, 1)));
        assert!(!s.allows_zone("example.test"));
    }

    #[test]
    fn ipv6_subnet_scope_reaches_its_addresses_and_prefixes_only() {
        let s = Scopes::parse(&["subnet:2001:db8:1::5/48"]).unwrap();
        assert_eq!(s.to_strings(), ["subnet:2001:db8:1::/48"]);
        let a = |t: &str| t.parse::<Ipv6Addr>().unwrap();
        assert!(s.allows_prefix6(a("2001:db8:1:ff::1"), 128));
        assert!(s.allows_prefix6(a("2001:db8:1:100::"), 56));
        assert!(
            !s.allows_prefix6(a("2001:db8:1::"), 40),
            "wider than the scope"
        );
        assert!(!s.allows_prefix6(a("2001:db8:2::1"), 128));
        assert!(!s.allows_address(Ipv4Addr::new(10, 0, 0, 1)));
        let v4 = Scopes::parse(&["subnet:10.0.0.0/8"]).unwrap();
        assert!(!v4.allows_prefix6(a("2001:db8:1::1"), 128));
    }

    #[test]
    fn bad_scopes_are_refused_with_the_form_to_use() {
        for bad in ["zone:", "zone:a b", "subnet:10.1.0.0/33", "host:x", ""] {
            let err = Scope::parse(bad).unwrap_err();
            assert!(
                err.contains("zone:") || err.contains("subnet:"),
                "{bad}: {err}"
            );
        }
    }
}
