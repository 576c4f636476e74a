//! `[dhcp.ddns]`: which DNS name a lease gets. Only the choice of the
//! name lives here (sans-I/O); the binary publishes it through the DNS
//! service with RFC 4703's conflict rules.
//!
//! ```toml
//! [dhcp.ddns]
//! forward_zone = "modems.isp.example."
//! reverse_zones = ["10.in-addr.arpa."]
//! names = "client"          # client (option 81, else 12, else template) | template | none
//! template = "cm-{mac}"     # {mac} = 0011223344ff, {ip} = 10-0-0-5
//! ttl_fraction = 0.33       # TTL = this × lease time, unless ttl_secs is set
//! [dhcp.ddns.class_names]   # per class: which name to trust
//! docsis = "template"
//! ```

use std::collections::BTreeMap;

use headend_store::Lease;
use serde::Deserialize;

/// Where a lease's name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NameSource {
    /// The client's option 81 FQDN (first label), else its option 12 host
    /// name, sanitised to a label; the template when it sent neither.
    #[default]
    Client,
    /// Always the template.
    Template,
    /// No DNS names.
    None,
}

/// The `[dhcp.ddns]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DdnsConfig {
    /// The zone the A and DHCID records go in (served by this process).
    pub forward_zone: String,
    /// Zones for the PTR records; each address uses the longest that
    /// holds its `in-addr.arpa` name (none: no PTR).
    #[serde(default)]
    pub reverse_zones: Vec<String>,
    /// Which name to use, unless the client's class says otherwise.
    #[serde(default)]
    pub names: NameSource,
    /// Per class name (the lease's class): which name to trust.
    #[serde(default)]
    pub class_names: BTreeMap<String, NameSource>,
    /// The name template: `{mac}` (hex, no separators) and `{ip}` (dashes).
    #[serde(default = "default_template")]
    pub template: String,
    /// Fixed TTL of the records; unset: `ttl_fraction` of the lease time.
    pub ttl_secs: Option<u32>,
    /// The TTL as a fraction of the lease time (RFC 4702 §5 suggests a
    /// third).
    #[serde(default = "default_ttl_fraction")]
    pub ttl_fraction: f64,
    /// Seconds between two reconciliations of the names with the lease
    /// store (which also removes the names of leases that expired).
    #[serde(default = "default_reconcile")]
    pub reconcile_secs: u64,
}

fn default_template() -> String {
    "cm-{mac}".to_owned()
}

fn default_ttl_fraction() -> f64 {
    1.0 / 3.0
}

fn default_reconcile() -> u64 {
    10
}

impl DdnsConfig {
    /// The name source for a lease of `class`.
    pub fn source_for(&self, class: Option<&str>) -> NameSource {
        class
            .and_then(|c| self.class_names.get(c))
            .copied()
            .unwrap_or(self.names)
    }

    /// The label (relative to `forward_zone`) a lease gets, or `None`
    /// when its class has no names. `fqdn` is the client's option 81 name.
    pub fn label_for(&self, lease: &Lease, fqdn: Option<&str>) -> Option<String> {
        let from_client = || {
            fqdn.and_then(|f| f.split('.').next())
                .and_then(sanitise_label)
                .or_else(|| lease.hostname.as_deref().and_then(sanitise_label))
        };
        match self.source_for(lease.class.as_deref()) {
            NameSource::None => None,
            NameSource::Client => from_client().or_else(|| self.templated(lease)),
            NameSource::Template => self.templated(lease),
        }
    }

    fn templated(&self, lease: &Lease) -> Option<String> {
        let mac: String = lease.hwaddr.iter().map(|b| format!("{b:02x}")).collect();
        let ip = lease.address.to_string().replace('.', "-");
        let text = self.template.replace("{mac}", &mac).replace("{ip}", &ip);
        sanitise_label(&text)
    }

    /// The TTL for a lease of `lease_secs`.
    pub fn ttl(&self, lease_secs: u64) -> u32 {
        if let Some(t) = self.ttl_secs {
            return t;
        }
        let t = (lease_secs as f64 * self.ttl_fraction).round();
        if t.is_finite() && t >= 1.0 {
            t.min(f64::from(u32::MAX)) as u32
        } else {
            60
        }
    }
}

/// A host name made a DNS label (RFC 1123 §2.1): lower case letters,
/// digits and hyphens, anything else a hyphen, no hyphen at either end,
/// at most 63 octets; `None` if nothing is left.
pub fn sanitise_label(text: &str) -> Option<String> {
    let mapped: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .take(63)
        .collect();
    let trimmed = mapped.trim_matches('-');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> DdnsConfig {
        toml::from_str(&format!("forward_zone = \"dyn.example.\"\n{extra}")).expect("config")
    }

    fn lease(hostname: Option<&str>, class: Option<&str>) -> Lease {
        Lease {
            address: "10.0.0.5".parse().expect("ip"),
            subnet: "s".into(),
            client_key: vec![1, 0, 0x11, 0x22, 0x33, 0x44, 0xff],
            hwaddr: vec![0, 0x11, 0x22, 0x33, 0x44, 0xff],
            client_id: None,
            hostname: hostname.map(str::to_owned),
            state: headend_store::LeaseState::Bound,
            expires: 0,
            circuit_id: None,
            remote_id: None,
            class: class.map(str::to_owned),
            server: None,
        }
    }

    #[test]
    fn template_names_use_the_mac_without_separators() {
        let c = config("names = \"template\"");
        assert_eq!(
            c.label_for(&lease(Some("pc"), None), None).as_deref(),
            Some("cm-0011223344ff")
        );
    }

    #[test]
    fn client_names_prefer_option_81_then_12_then_template() {
        let c = config("");
        let l = lease(Some("Web_Server 1"), None);
        assert_eq!(
            c.label_for(&l, Some("Box.lab.example")).as_deref(),
            Some("box")
        );
        assert_eq!(c.label_for(&l, None).as_deref(), Some("web-server-1"));
        assert_eq!(
            c.label_for(&lease(None, None), None).as_deref(),
            Some("cm-0011223344ff")
        );
    }

    #[test]
    fn a_class_can_distrust_client_names_or_have_none() {
        let c = config("[class_names]\ndocsis = \"template\"\nguest = \"none\"");
        assert_eq!(
            c.label_for(&lease(Some("evil"), Some("docsis")), None)
                .as_deref(),
            Some("cm-0011223344ff")
        );
        assert_eq!(c.label_for(&lease(Some("x"), Some("guest")), None), None);
    }

    #[test]
    fn sanitising_leaves_no_empty_or_hyphen_edged_label() {
        assert_eq!(sanitise_label("--"), None);
        assert_eq!(sanitise_label("-a.b-").as_deref(), Some("a-b"));
        assert_eq!(sanitise_label(&"x".repeat(80)).map(|s| s.len()), Some(63));
    }

    #[test]
    fn ttl_is_a_third_of_the_lease_by_default() {
        assert_eq!(config("").ttl(3600), 1200);
        assert_eq!(config("ttl_secs = 30").ttl(3600), 30);
    }
}
