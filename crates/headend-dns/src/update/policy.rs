//! Who may update what (RFC 2136 §3.3), per zone: Knot-style rules of key,
//! owner names and types, and an address ACL.

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};
use ipnet::IpNet;

use crate::config::ZoneConfig;
use crate::{DnsError, zone::parse_origin};

/// Owner names a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// This name only.
    Exact(LowerName),
    /// Every name strictly below this one (`*.dyn.example.`).
    Below(LowerName),
}

impl Pattern {
    fn matches(&self, name: &LowerName) -> bool {
        match self {
            Self::Exact(n) => n == name,
            Self::Below(n) => n != name && n.zone_of(name),
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    key: LowerName,
    /// Empty: every name.
    names: Vec<Pattern>,
    /// Empty: every type.
    types: Vec<RecordType>,
}

/// A zone's compiled update permissions.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpdatePolicy {
    allow: Vec<IpNet>,
    rules: Vec<Rule>,
}

/// Why an update was refused, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// The zone takes no updates (no `update_policy`, no `allow_update`).
    Disabled,
    /// The sender's address is outside `allow_update`.
    Address,
    /// Unsigned, or signed with a key no rule names.
    Key,
}

impl UpdatePolicy {
    /// Compiles a zone's `update_policy` and `allow_update`; `known_key`
    /// says whether a `[[dns.tsig_key]]` of that name exists.
    pub(crate) fn from_config(
        zc: &ZoneConfig,
        known_key: impl Fn(&str) -> bool,
    ) -> Result<Self, DnsError> {
        let origin = parse_origin(&zc.origin)?;
        let bad = |reason: String| DnsError::Config {
            key: format!("dns.zone {} update_policy", zc.origin),
            reason,
        };
        let mut rules = Vec::new();
        for r in &zc.update_policy {
            if !known_key(&r.key) {
                return Err(DnsError::UnknownTsigKey {
                    zone: zc.origin.clone(),
                    key: r.key.clone(),
                });
            }
            let key = Name::from_ascii(&r.key).map_err(|e| bad(format!("key {:?}: {e}", r.key)))?;
            let mut names = Vec::new();
            for n in &r.names {
                let n = n.trim();
                let (below, rest) = match n.strip_prefix("*.") {
                    Some(rest) => (true, rest),
                    None => (false, n),
                };
                let name = if rest == "@" {
                    origin.clone()
                } else {
                    Name::parse(rest, Some(&origin)).map_err(|e| bad(format!("{n:?}: {e}")))?
                };
                if !origin.zone_of(&name) {
                    return Err(bad(format!("{n:?} is not inside zone {origin}")));
                }
                let lower = LowerName::new(&name);
                names.push(if below {
                    Pattern::Below(lower)
                } else {
                    Pattern::Exact(lower)
                });
            }
            let mut types = Vec::new();
            for t in &r.types {
                let rtype = crate::zonefile::record_type(t.trim().as_bytes())
                    .ok_or_else(|| bad(format!("{t:?} is not a record type")))?;
                if rtype == RecordType::SOA || super::is_dnssec_made(rtype) {
                    return Err(bad(format!(
                        "{t} records are managed by headend and cannot be updated"
                    )));
                }
                types.push(rtype);
            }
            rules.push(Rule {
                key: LowerName::new(&key),
                names,
                types,
            });
        }
        Ok(Self {
            allow: zc.allow_update.clone(),
            rules,
        })
    }

    /// Whether the zone takes updates at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.rules.is_empty() || !self.allow.is_empty()
    }

    /// May a request from `peer`, signed with `key` (verified), update the
    /// zone at all? With rules, it must be signed by a key one names ("an
    /// unsigned update never applies when a policy exists").
    pub(crate) fn admit(&self, peer: IpAddr, key: Option<&Name>) -> Result<(), Denied> {
        if !self.enabled() {
            return Err(Denied::Disabled);
        }
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        if !self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(&peer)) {
            return Err(Denied::Address);
        }
        if self.rules.is_empty() {
            return Ok(());
        }
        let key = key.map(LowerName::new).ok_or(Denied::Key)?;
        if self.rules.iter().any(|r| fqdn_eq(&r.key, &key)) {
            Ok(())
        } else {
            Err(Denied::Key)
        }
    }

    /// May `key` make the change `rr` (one update-section record)? A
    /// "delete name" (class ANY, type ANY) needs a rule without a type list.
    pub(crate) fn permits(&self, key: Option<&Name>, rr: &Record) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        let Some(key) = key.map(LowerName::new) else {
            return false;
        };
        let name = LowerName::new(&rr.name);
        let rtype = rr.record_type();
        let any = rr.dns_class == DNSClass::ANY && rtype == RecordType::ANY;
        self.rules.iter().any(|r| {
            fqdn_eq(&r.key, &key)
                && (r.names.is_empty() || r.names.iter().any(|p| p.matches(&name)))
                && (r.types.is_empty() || (!any && r.types.contains(&rtype)))
        })
    }
}

fn fqdn_eq(a: &LowerName, b: &LowerName) -> bool {
    let strip = |n: &LowerName| n.to_string().trim_end_matches('.').to_owned();
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpdateRule;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::A;

    fn policy(allow: &[&str]) -> UpdatePolicy {
        let zc = ZoneConfig {
            origin: "example.test".into(),
            update_policy: vec![UpdateRule {
                key: "dhcp-key".into(),
                names: vec!["*.dyn".into()],
                types: vec!["A".into(), "PTR".into()],
            }],
            allow_update: allow.iter().map(|a| a.parse().unwrap()).collect(),
            ..ZoneConfig::default()
        };
        UpdatePolicy::from_config(&zc, |k| k == "dhcp-key").unwrap()
    }

    fn a(name: &str) -> Record {
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            60,
            RData::A(A::new(192, 0, 2, 1)),
        )
    }

    #[test]
    fn a_key_may_change_only_its_names_and_types() {
        let p = policy(&[]);
        let key = Name::from_ascii("dhcp-key.").unwrap();
        assert!(p.permits(Some(&key), &a("h1.dyn.example.test.")));
        assert!(!p.permits(Some(&key), &a("dyn.example.test.")));
        assert!(!p.permits(Some(&key), &a("www.example.test.")));
        let mut txt = a("h1.dyn.example.test.");
        txt.data = RData::TXT(hickory_proto::rr::rdata::TXT::new(vec!["x".into()]));
        assert!(!p.permits(Some(&key), &txt));
        let mut any = Record::update0(
            Name::from_ascii("h1.dyn.example.test.").unwrap(),
            0,
            RecordType::ANY,
        );
        any.dns_class = DNSClass::ANY;
        assert!(!p.permits(Some(&key), &any), "delete name needs every type");
    }

    #[test]
    fn unsigned_or_other_keys_are_not_admitted_when_rules_exist() {
        let p = policy(&[]);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(p.admit(peer, None), Err(Denied::Key));
        let other = Name::from_ascii("other.").unwrap();
        assert_eq!(p.admit(peer, Some(&other)), Err(Denied::Key));
        let key = Name::from_ascii("DHCP-key").unwrap();
        assert_eq!(p.admit(peer, Some(&key)), Ok(()));
    }

    #[test]
    fn the_address_acl_applies_too() {
        let p = policy(&["10.0.0.0/8"]);
        let key = Name::from_ascii("dhcp-key.").unwrap();
        assert_eq!(
            p.admit("127.0.0.1".parse().unwrap(), Some(&key)),
            Err(Denied::Address)
        );
        assert_eq!(p.admit("10.1.2.3".parse().unwrap(), Some(&key)), Ok(()));
        assert_eq!(
            UpdatePolicy::default().admit("10.1.2.3".parse().unwrap(), None),
            Err(Denied::Disabled)
        );
    }

    #[test]
    fn unknown_keys_and_bad_types_are_config_errors() {
        let zc = ZoneConfig {
            origin: "example.test".into(),
            update_policy: vec![UpdateRule {
                key: "nope".into(),
                ..UpdateRule::default()
            }],
            ..ZoneConfig::default()
        };
        assert!(UpdatePolicy::from_config(&zc, |_| false).is_err());
        let zc = ZoneConfig {
            origin: "example.test".into(),
            update_policy: vec![UpdateRule {
                key: "k".into(),
                names: vec![],
                types: vec!["RRSIG".into()],
            }],
            ..ZoneConfig::default()
        };
        assert!(UpdatePolicy::from_config(&zc, |_| true).is_err());
    }
}
