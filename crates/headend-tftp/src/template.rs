//! Per-device files rendered in memory from minijinja templates.
//!
//! A request path that matches a pattern such as `modems/{mac}.cfg` is
//! rendered from the template file with the request's variables (`client_ip`,
//! `filename`, each capture, `mac`/`mac_hex` when the pattern has `{mac}`) and
//! the client's lease (`lease.mac`, `lease.ip`, `lease.hostname`,
//! `lease.class`, or none) and its reservation's attributes
//! (`reservation.attributes.tier`, or none). The result is in memory, so its
//! size (tsize) is known.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use minijinja::{Environment, UndefinedBehavior, Value};
use regex::Regex;

use crate::TftpError;
use crate::config::TemplateConfig;
use crate::core::packet::ErrorCode;
use crate::core::transfer::Abort;
use crate::lookup::{LeaseLookup, format_mac, parse_mac};

/// Largest rendered file.
const MAX_RENDERED: usize = 16 * 1024 * 1024;

struct Compiled {
    pattern: String,
    re: Regex,
    names: Vec<String>,
    file: PathBuf,
    bind_to_lease: bool,
}

/// The configured templates, in config order (first match wins).
pub struct Templates {
    list: Vec<Compiled>,
}

/// The IPv4 form of a client address (IPv4-mapped IPv6 included).
pub fn client_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

fn compile_pattern(pattern: &str) -> Result<(Regex, Vec<String>), String> {
    let mut re = String::from("^");
    let mut names = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        re.push_str(&regex::escape(&rest[..open]));
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("unclosed `{` in pattern")?;
        let name = &after[..close];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid || names.iter().any(|n| n == name) {
            return Err(format!("bad or repeated capture name `{{{name}}}`"));
        }
        re.push_str(&format!("(?P<{name}>[^/]+)"));
        names.push(name.to_owned());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("stray `}` in pattern".into());
    }
    re.push_str(&regex::escape(rest));
    re.push('$');
    let re = Regex::new(&re).map_err(|e| e.to_string())?;
    Ok((re, names))
}

fn render_error(file: &std::path::Path, reason: impl std::fmt::Display) -> Abort {
    tracing::warn!(file = %file.display(), "TFTP template failed: {reason}");
    Abort {
        code: ErrorCode::NotDefined,
        message: "cannot render the requested file".into(),
    }
}

impl Templates {
    /// Checks the patterns and that each template file exists and parses.
    pub fn compile(configs: &[TemplateConfig]) -> Result<Self, TftpError> {
        let mut list = Vec::new();
        for (i, c) in configs.iter().enumerate() {
            let (re, names) = compile_pattern(&c.pattern).map_err(|reason| TftpError::Config {
                key: format!("template[{i}].pattern"),
                reason,
            })?;
            if c.bind_to_lease && !names.iter().any(|n| n == "mac") {
                return Err(TftpError::Config {
                    key: format!("template[{i}].bind_to_lease"),
                    reason: "needs a `{mac}` capture in the pattern".into(),
                });
            }
            let source = std::fs::read_to_string(&c.file).map_err(|e| TftpError::Template {
                file: c.file.clone(),
                reason: e.to_string(),
            })?;
            Environment::new()
                .template_from_str(&source)
                .map_err(|e| TftpError::Template {
                    file: c.file.clone(),
                    reason: e.to_string(),
                })?;
            list.push(Compiled {
                pattern: c.pattern.clone(),
                re,
                names,
                file: c.file.clone(),
                bind_to_lease: c.bind_to_lease,
            });
        }
        Ok(Self { list })
    }

    /// Renders `relative` for `client` if a template pattern matches it;
    /// `None` when no pattern matches (the name is then looked up as a file).
    pub fn resolve(
        &self,
        relative: &str,
        client: IpAddr,
        lookup: &dyn LeaseLookup,
    ) -> Option<Result<Vec<u8>, Abort>> {
        self.list.iter().find_map(|t| {
            let caps = t.re.captures(relative)?;
            let mut vars: BTreeMap<String, Value> = BTreeMap::new();
            let mut mac = None;
            for name in &t.names {
                let text = caps.name(name).map(|m| m.as_str()).unwrap_or_default();
                if name == "mac" {
                    // A `{mac}` that is no MAC address does not match.
                    let parsed = parse_mac(text)?;
                    mac = Some(parsed);
                    vars.insert(name.clone(), Value::from(format_mac(&parsed)));
                    vars.insert(
                        "mac_hex".into(),
                        Value::from(format_mac(&parsed).replace(':', "")),
                    );
                } else {
                    vars.insert(name.clone(), Value::from(text));
                }
            }
            Some(self.render(t, relative, client, mac, vars, lookup))
        })
    }

    fn render(
        &self,
        t: &Compiled,
        relative: &str,
        client: IpAddr,
        mac: Option<[u8; 6]>,
        mut vars: BTreeMap<String, Value>,
        lookup: &dyn LeaseLookup,
    ) -> Result<Vec<u8>, Abort> {
        let v4 = client_v4(client);
        if t.bind_to_lease {
            let leased_to = mac.and_then(|m| lookup.ip_for_mac(m));
            if leased_to.is_none() || leased_to != v4 {
                tracing::warn!(
                    client = %client,
                    pattern = %t.pattern,
                    path = relative,
                    "TFTP refused: the MAC in the path is not leased to this client"
                );
                return Err(Abort {
                    code: ErrorCode::AccessViolation,
                    message: "access violation: file bound to another device".into(),
                });
            }
        }
        let lease = v4.and_then(|ip| lookup.lease_for_ip(ip)).map(|l| {
            let mut m: BTreeMap<&str, Value> = BTreeMap::new();
            m.insert("mac", Value::from(format_mac(&l.mac)));
            m.insert("ip", Value::from(l.ip.to_string()));
            m.insert("hostname", Value::from(l.hostname));
            m.insert("class", Value::from(l.class));
            Value::from_serialize(&m)
        });
        // The client's reservation: `reservation.attributes.NAME`, or none.
        let reservation = lease
            .as_ref()
            .and(v4)
            .and_then(|ip| lookup.reservation_attributes(ip))
            .map(|attributes| {
                let mut m: BTreeMap<&str, Value> = BTreeMap::new();
                m.insert("attributes", Value::from_serialize(&attributes));
                Value::from_serialize(&m)
            });
        vars.insert("reservation".into(), reservation.unwrap_or(Value::from(())));
        vars.insert("client_ip".into(), Value::from(client.to_string()));
        vars.insert("filename".into(), Value::from(relative));
        vars.insert("lease".into(), lease.unwrap_or(Value::from(())));
        let source = std::fs::read_to_string(&t.file).map_err(|e| render_error(&t.file, e))?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let tmpl = env
            .template_from_str(&source)
            .map_err(|e| render_error(&t.file, e))?;
        let out = tmpl.render(&vars).map_err(|e| render_error(&t.file, e))?;
        if out.len() > MAX_RENDERED {
            return Err(render_error(&t.file, "rendered file larger than 16 MiB"));
        }
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::lookup::{LeaseInfo, Mac, NoLeases};

    struct OneLease;
    const MAC: Mac = [0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);

    impl LeaseLookup for OneLease {
        fn lease_for_ip(&self, ip: Ipv4Addr) -> Option<LeaseInfo> {
            (ip == IP).then(|| LeaseInfo {
                mac: MAC,
                ip: IP,
                hostname: Some("cm1".into()),
                class: Some("docsis".into()),
            })
        }
        fn ip_for_mac(&self, mac: Mac) -> Option<Ipv4Addr> {
            (mac == MAC).then_some(IP)
        }
        fn reservation_attributes(&self, ip: Ipv4Addr) -> Option<BTreeMap<String, String>> {
            (ip == IP).then(|| BTreeMap::from([("tier".to_owned(), "gold".to_owned())]))
        }
    }

    fn templates(text: &str, bind: bool) -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("modem.j2");
        std::fs::write(&file, text).unwrap();
        let t = Templates::compile(&[TemplateConfig {
            pattern: "modems/{mac}.cfg".into(),
            file,
            bind_to_lease: bind,
        }])
        .unwrap();
        (dir, t)
    }

    #[test]
    fn pattern_captures_and_lease_fill_the_template() {
        let (_d, t) = templates(
            "mac={{ mac }} ip={{ client_ip }} host={{ lease.hostname }} class={{ lease.class }}\n",
            false,
        );
        let out = t
            .resolve("modems/001A2B3C4D5E.cfg", IpAddr::V4(IP), &OneLease)
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "mac=00:1a:2b:3c:4d:5e ip=10.0.0.5 host=cm1 class=docsis\n"
        );
    }

    #[test]
    fn reservation_attributes_fill_the_template_or_are_none() {
        let (_d, t) = templates(
            "{% if reservation %}tier={{ reservation.attributes.tier }}{% else %}none{% endif %}\n",
            false,
        );
        let out = t
            .resolve("modems/001A2B3C4D5E.cfg", IpAddr::V4(IP), &OneLease)
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "tier=gold\n");
        let out = t
            .resolve("modems/001A2B3C4D5E.cfg", IpAddr::V4(IP), &NoLeases)
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "none\n");
    }

    #[test]
    fn non_matching_paths_and_non_macs_fall_through() {
        let (_d, t) = templates("x", false);
        assert!(
            t.resolve("modems/a.cfg", IpAddr::V4(IP), &NoLeases)
                .is_none()
        );
        assert!(
            t.resolve("other/001a2b3c4d5e.cfg", IpAddr::V4(IP), &NoLeases)
                .is_none()
        );
    }

    #[test]
    fn bound_template_is_refused_to_another_ip() {
        let (_d, t) = templates("x", true);
        let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 6));
        let err = t
            .resolve("modems/001a2b3c4d5e.cfg", other, &OneLease)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::AccessViolation);
        assert!(
            t.resolve("modems/001a2b3c4d5e.cfg", IpAddr::V4(IP), &OneLease)
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn bind_to_lease_without_mac_capture_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "x").unwrap();
        let err = Templates::compile(&[TemplateConfig {
            pattern: "pxe/{name}.ipxe".into(),
            file,
            bind_to_lease: true,
        }]);
        assert!(matches!(err, Err(TftpError::Config { .. })));
    }

    #[test]
    fn missing_lease_renders_as_none_and_undefined_names_fail() {
        let (_d, t) = templates("{% if lease %}has{% else %}none{% endif %}", false);
        let out = t
            .resolve("modems/001a2b3c4d5e.cfg", IpAddr::V4(IP), &NoLeases)
            .unwrap();
        assert_eq!(out.unwrap(), b"none");
        let (_d, t) = templates("{{ typo }}", false);
        let out = t
            .resolve("modems/001a2b3c4d5e.cfg", IpAddr::V4(IP), &NoLeases)
            .unwrap();
        assert!(out.is_err());
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        for p in ["a/{mac", "a/{}", "a/{1x}", "a}/b", "{a}{a}"] {
            assert!(compile_pattern(p).is_err(), "{p}");
        }
    }
}
