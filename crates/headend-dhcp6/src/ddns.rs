//! `[dhcp6.ddns]`: which DNS name an IA_NA binding gets, and the Client
//! FQDN option (39, RFC 4704) both ways. Sans-I/O: the binary publishes
//! the AAAA, PTR (`ip6.arpa`) and DHCID records through the DNS service
//! with RFC 4703's conflict rules, as for DHCPv4 leases.
//!
//! ```toml
//! [dhcp6.ddns]
//! forward_zone = "cpe.isp.example."      # the qualifying suffix
//! reverse_zones = ["1.0.0.8.b.d.0.1.0.0.2.ip6.arpa."]
//! names = "client"          # client (option 39, else template) | template | none
//! template = "host-{ip}"    # {ip} = 2001-db8-1--1000, {duid} = hex
//! ```
//!
//! Kea configures DHCPv4 and DHCPv6 names in one D2 setup with a
//! `ddns-qualifying-suffix` per subnet; here each DHCP section has its own
//! `ddns` table with the same keys (`[dhcp.ddns]`, `[dhcp6.ddns]`), which
//! may name the same zones. A name is held by the client whose DHCID
//! (RFC 4701: DUID-based for DHCPv6) it carries, so a dual-stack host's
//! DHCPv4 and DHCPv6 names are the same name only when its DHCPv4 client
//! identifier is its DUID (RFC 4361); otherwise the first to claim a name
//! keeps it and the other is left without (RFC 4703 §5.3).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use serde::Deserialize;

/// Where a binding's name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NameSource6 {
    /// The first label of the client's option 39 name; the template when
    /// it sent none (or an empty one).
    #[default]
    Client,
    /// Always the template.
    Template,
    /// No DNS names.
    None,
}

/// The `[dhcp6.ddns]` section: DNS names that follow IA_NA bindings.
///
/// headend serves the zones itself, so the server performs both the AAAA
/// and the PTR update: a client asking to update its AAAA itself (option
/// 39 with S = 0) is told so with O = 1 (RFC 4704 §4.2), as Kea's
/// `ddns-override-client-update = true`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ddns6Config {
    /// The zone the AAAA and DHCID records go in (a zone of `[dns]`): the
    /// qualifying suffix. A client's name keeps its first label only,
    /// under this zone, whether it sent a partial name or a name in any
    /// other zone.
    pub forward_zone: String,
    /// `ip6.arpa` zones for the PTR records; each address uses the longest
    /// that holds its nibble name (none: no PTR).
    #[serde(default)]
    pub reverse_zones: Vec<String>,
    /// Which name to use, unless the client's class says otherwise.
    #[serde(default)]
    pub names: NameSource6,
    /// Per class name (the binding's class): which name to trust.
    #[serde(default)]
    pub class_names: BTreeMap<String, NameSource6>,
    /// The generated name: `{ip}` (the address, `:` as `-`) and `{duid}`
    /// (hex, no separators), made a DNS label.
    #[serde(default = "default_template")]
    pub template: String,
    /// Give names even to clients that ask for none (option 39 with N = 1),
    /// as Kea's `ddns-override-no-update`.
    #[serde(default)]
    pub override_no_update: bool,
    /// Fixed TTL of the records; unset: `ttl_fraction` of the valid
    /// lifetime.
    pub ttl_secs: Option<u32>,
    /// The TTL as a fraction of the valid lifetime (RFC 4704 §7 follows
    /// RFC 4702's third).
    #[serde(default = "default_ttl_fraction")]
    pub ttl_fraction: f64,
    /// Seconds between two reconciliations of the names with the binding
    /// store (which also removes the names of bindings that expired).
    #[serde(default = "default_reconcile")]
    pub reconcile_secs: u64,
}

fn default_template() -> String {
    "host-{ip}".to_owned()
}

fn default_ttl_fraction() -> f64 {
    1.0 / 3.0
}

fn default_reconcile() -> u64 {
    10
}

/// RFC 4704 §4.1 flag bits.
pub mod flag {
    /// S: the server should perform the AAAA update.
    pub const S: u8 = 0x01;
    /// O: the server overrode the client's S.
    pub const O: u8 = 0x02;
    /// N: the server should perform no updates.
    pub const N: u8 = 0x04;
}

/// A Client FQDN option (39) as a client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFqdn {
    /// The flags octet (S, O, N; see [`flag`]).
    pub flags: u8,
    /// The labels of the name, lower-cased; empty when the client leaves
    /// the name to the server.
    pub labels: Vec<String>,
    /// True when the name ended with the root label (fully qualified).
    pub qualified: bool,
}

/// Why an option 39 was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FqdnError {
    /// No flags octet.
    Empty,
    /// Bits other than S, O, N set, or N with S (RFC 4704 §4.1).
    BadFlags(u8),
    /// A label longer than 63 octets (or a compression pointer, which
    /// RFC 4704 §4.2 forbids) at this offset.
    BadLabel(usize),
    /// A label runs past the option's end.
    Truncated,
    /// Over 255 octets of name, or data after the root label.
    TooLong,
    /// A label that is not UTF-8.
    NotText,
}

impl std::fmt::Display for FqdnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("option 39 is empty"),
            Self::BadFlags(b) => write!(f, "option 39 flags {b:#04x} are invalid"),
            Self::BadLabel(at) => write!(f, "option 39 has a bad label length at {at}"),
            Self::Truncated => f.write_str("option 39 ends inside a label"),
            Self::TooLong => f.write_str("option 39's name is too long"),
            Self::NotText => f.write_str("option 39 has a label that is not text"),
        }
    }
}

/// Parses option 39's data (RFC 4704 §4.1): a flags octet, then a
/// domain name in uncompressed wire format, fully qualified (ends with
/// the root label) or partial (does not).
pub fn parse_client_fqdn(data: &[u8]) -> Result<ClientFqdn, FqdnError> {
    let (&flags, name) = data.split_first().ok_or(FqdnError::Empty)?;
    if flags & !(flag::S | flag::O | flag::N) != 0 || (flags & flag::N != 0 && flags & flag::S != 0)
    {
        return Err(FqdnError::BadFlags(flags));
    }
    if name.len() > 255 {
        return Err(FqdnError::TooLong);
    }
    let mut labels = Vec::new();
    let mut qualified = false;
    let mut at = 0;
    while let Some(&len) = name.get(at) {
        if len == 0 {
            qualified = true;
            if at + 1 != name.len() {
                return Err(FqdnError::TooLong);
            }
            break;
        }
        if len > 63 {
            return Err(FqdnError::BadLabel(at + 1));
        }
        let label = name
            .get(at + 1..at + 1 + usize::from(len))
            .ok_or(FqdnError::Truncated)?;
        let text = std::str::from_utf8(label).map_err(|_| FqdnError::NotText)?;
        labels.push(text.to_ascii_lowercase());
        at += 1 + usize::from(len);
    }
    Ok(ClientFqdn {
        flags,
        labels,
        qualified,
    })
}

/// Option 39's data for a reply (RFC 4704 §4.2): `flags`, then `fqdn`
/// (absolute, dots between labels) in wire format; labels that do not fit
/// are cut, never a panic.
pub fn encode_client_fqdn(flags: u8, fqdn: &str) -> Vec<u8> {
    let mut out = vec![flags];
    let labels: Vec<&str> = fqdn
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .collect();
    if labels.is_empty() {
        return out;
    }
    for l in labels {
        let b = l.as_bytes();
        let b = b.get(..63).unwrap_or(b);
        if out.len() + 1 + b.len() > 255 {
            break;
        }
        out.push(b.len() as u8);
        out.extend_from_slice(b);
    }
    out.push(0);
    out
}

impl Ddns6Config {
    /// The name source for a binding of `class`.
    pub fn source_for(&self, class: Option<&str>) -> NameSource6 {
        class
            .and_then(|c| self.class_names.get(c))
            .copied()
            .unwrap_or(self.names)
    }

    /// The label (relative to `forward_zone`) a binding of `address` to
    /// the client `duid` of `class` gets, or `None` when it gets no name
    /// (its class has none, or the client asked for none).
    pub fn label_for(
        &self,
        class: Option<&str>,
        duid: &[u8],
        address: Ipv6Addr,
        fqdn: Option<&ClientFqdn>,
    ) -> Option<String> {
        // RFC 4704 §4.2 / §6.1: N = 1 asks the server to update nothing.
        if fqdn.is_some_and(|f| f.flags & flag::N != 0) && !self.override_no_update {
            return None;
        }
        let templated = || {
            let duid: String = duid.iter().map(|b| format!("{b:02x}")).collect();
            let ip = address.to_string().replace(':', "-");
            sanitise_label(&self.template.replace("{ip}", &ip).replace("{duid}", &duid))
        };
        match self.source_for(class) {
            NameSource6::None => None,
            NameSource6::Template => templated(),
            NameSource6::Client => fqdn
                .and_then(|f| f.labels.first())
                .and_then(|l| sanitise_label(l))
                .or_else(templated),
        }
    }

    /// The absolute name for `label` (`label.forward_zone.`).
    pub fn fqdn(&self, label: &str) -> String {
        let zone = self.forward_zone.trim_end_matches('.');
        if zone.is_empty() {
            format!("{label}.")
        } else {
            format!("{label}.{zone}.")
        }
    }

    /// The option 39 of a reply (RFC 4704 §4.2) to a client that sent
    /// `client`, when the binding's name is `name` (absolute) or none.
    pub fn reply_option(&self, client: &ClientFqdn, name: Option<&str>) -> Vec<u8> {
        match name {
            // The server performs the AAAA (and PTR) update: S = 1, and
            // O = 1 when the client had asked to do it itself.
            Some(n) => {
                let mut flags = flag::S;
                if client.flags & flag::S == 0 {
                    flags |= flag::O;
                }
                encode_client_fqdn(flags, n)
            }
            // No updates at all: N = 1 (S = 0); O = 1 when the client had
            // asked for them.
            None => {
                let mut flags = flag::N;
                if client.flags & flag::S != 0 {
                    flags |= flag::O;
                }
                encode_client_fqdn(flags, "")
            }
        }
    }

    /// The TTL for a binding valid `valid_secs` longer.
    pub fn ttl(&self, valid_secs: u64) -> u32 {
        if let Some(t) = self.ttl_secs {
            return t;
        }
        let t = (valid_secs as f64 * self.ttl_fraction).round();
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
fn sanitise_label(text: &str) -> Option<String> {
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

    fn config(extra: &str) -> Ddns6Config {
        toml_config(&format!("forward_zone = \"cpe.example.\"\n{extra}"))
    }

    fn toml_config(text: &str) -> Ddns6Config {
        toml::from_str(text).expect("config")
    }

    const ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1000);

    #[test]
    fn partial_names_parse_without_the_root_label() {
        let f = parse_client_fqdn(b"\x01\x06Laptop").expect("parse");
        assert_eq!(f.flags, flag::S);
        assert_eq!(f.labels, ["laptop"]);
        assert!(!f.qualified);
    }

    #[test]
    fn qualified_names_parse_with_the_root_label() {
        let f = parse_client_fqdn(b"\x00\x01h\x07example\x00").expect("parse");
        assert_eq!(f.labels, ["h", "example"]);
        assert!(f.qualified);
    }

    #[test]
    fn an_empty_name_leaves_it_to_the_server() {
        let f = parse_client_fqdn(&[0x01]).expect("parse");
        assert!(f.labels.is_empty());
    }

    #[test]
    fn malformed_options_are_errors_not_panics() {
        assert_eq!(parse_client_fqdn(&[]), Err(FqdnError::Empty));
        assert_eq!(parse_client_fqdn(&[0x05]), Err(FqdnError::BadFlags(5)));
        assert_eq!(parse_client_fqdn(&[0x80]), Err(FqdnError::BadFlags(0x80)));
        assert_eq!(parse_client_fqdn(&[0, 9, b'a']), Err(FqdnError::Truncated));
        assert_eq!(
            parse_client_fqdn(&[0, 0xc0, 0x0c]),
            Err(FqdnError::BadLabel(1))
        );
        assert_eq!(
            parse_client_fqdn(&[0, 1, b'a', 0, 1, b'b']),
            Err(FqdnError::TooLong)
        );
        assert_eq!(
            parse_client_fqdn(&[0, 2, 0xff, 0xfe]),
            Err(FqdnError::NotText)
        );
        let mut long = vec![0];
        long.extend(std::iter::repeat_n(1u8, 300));
        assert_eq!(parse_client_fqdn(&long), Err(FqdnError::TooLong));
        // Every prefix of a valid option parses or fails, never panics.
        let good = b"\x01\x04host\x03lab\x00";
        for n in 0..good.len() {
            let _ = parse_client_fqdn(&good[..n]);
        }
    }

    #[test]
    fn client_names_keep_their_first_label_under_the_forward_zone() {
        let c = config("");
        let f = parse_client_fqdn(b"\x01\x04Host\x05other\x03net\x00").expect("parse");
        let label = c.label_for(None, &[0, 3], ADDR, Some(&f)).expect("label");
        assert_eq!(label, "host");
        assert_eq!(c.fqdn(&label), "host.cpe.example.");
    }

    #[test]
    fn clients_without_a_name_get_the_template() {
        let c = config("");
        assert_eq!(
            c.label_for(None, &[0, 3, 0, 1], ADDR, None).as_deref(),
            Some("host-2001-db8-1--1000")
        );
        let c = config("template = \"d{duid}\"");
        let f = parse_client_fqdn(&[0x01]).expect("parse");
        assert_eq!(
            c.label_for(None, &[0, 3, 0, 1], ADDR, Some(&f)).as_deref(),
            Some("d00030001")
        );
    }

    #[test]
    fn no_update_is_respected_unless_overridden() {
        let f = parse_client_fqdn(b"\x04\x01x").expect("parse");
        assert_eq!(config("").label_for(None, &[], ADDR, Some(&f)), None);
        assert_eq!(
            config("override_no_update = true")
                .label_for(None, &[], ADDR, Some(&f))
                .as_deref(),
            Some("x")
        );
    }

    #[test]
    fn a_class_can_distrust_client_names_or_have_none() {
        let c = config("[class_names]\nmodem = \"template\"\nguest = \"none\"");
        let f = parse_client_fqdn(b"\x01\x04evil").expect("parse");
        assert_eq!(
            c.label_for(Some("modem"), &[], ADDR, Some(&f)).as_deref(),
            Some("host-2001-db8-1--1000")
        );
        assert_eq!(c.label_for(Some("guest"), &[], ADDR, Some(&f)), None);
    }

    #[test]
    fn replies_set_o_when_the_server_overrides_s() {
        let c = config("");
        let asked_self = parse_client_fqdn(b"\x00\x01h").expect("parse");
        let asked_server = parse_client_fqdn(b"\x01\x01h").expect("parse");
        assert_eq!(
            c.reply_option(&asked_self, Some("h.cpe.example.")),
            b"\x03\x01h\x03cpe\x07example\x00"
        );
        assert_eq!(
            c.reply_option(&asked_server, Some("h.cpe.example."))[0],
            flag::S
        );
        assert_eq!(c.reply_option(&asked_server, None), [flag::N | flag::O]);
        assert_eq!(c.reply_option(&asked_self, None), [flag::N]);
    }

    #[test]
    fn encoded_names_parse_back() {
        let data = encode_client_fqdn(flag::S, "a.b.example.");
        let f = parse_client_fqdn(&data).expect("parse");
        assert_eq!(f.labels, ["a", "b", "example"]);
        assert!(f.qualified);
    }
}
