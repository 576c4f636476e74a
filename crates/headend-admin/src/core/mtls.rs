//! Client certificates: the identities a verified certificate carries
//! (subject alternative name URIs and DNS names, subject common names) and
//! the configured mapping from identity to principal. Sans-I/O: rustls has
//! already verified the chain, validity and revocation at the handshake;
//! this only reads the leaf and applies the `[[admin.client_tls.map]]` rules.

use std::sync::Arc;

use x509_cert::Certificate;
use x509_cert::der::Decode as _;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::Role;
use super::scope::Scopes;

/// The DER of the leaf certificate a client presented on its connection.
#[derive(Debug, Clone)]
pub struct PeerCert(pub Arc<Vec<u8>>);

/// What a certificate says about its holder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Subject alternative name URIs (e.g. `spiffe://example.test/billing`).
    pub uris: Vec<String>,
    /// Subject alternative name DNS names.
    pub dns: Vec<String>,
    /// Subject common names.
    pub cns: Vec<String>,
}

/// The OID of the subject common name attribute (X.520, 2.5.4.3).
const CN: &str = "2.5.4.3";

/// Reads the identities of a DER certificate.
pub fn identity(der: &[u8]) -> Result<Identity, String> {
    let cert = Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut id = Identity::default();
    if let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() {
        for name in san.0 {
            match name {
                GeneralName::UniformResourceIdentifier(s) => id.uris.push(s.to_string()),
                GeneralName::DnsName(s) => id.dns.push(s.to_string().to_ascii_lowercase()),
                _ => {}
            }
        }
    }
    for rdn in &cert.tbs_certificate.subject.0 {
        for atv in rdn.0.iter() {
            if atv.oid.to_string() == CN
                && let Ok(text) = std::str::from_utf8(atv.value.value())
            {
                id.cns.push(text.to_owned());
            }
        }
    }
    Ok(id)
}

/// Which identity a pattern looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Uri,
    Dns,
    Cn,
}

/// A mapping rule, checked.
#[derive(Debug, Clone)]
pub struct Rule {
    field: Field,
    pattern: String,
    /// The principal's name.
    pub principal: String,
    /// Its role.
    pub role: Role,
    /// Its scopes.
    pub scopes: Scopes,
}

/// One configured rule as written: identity pattern, principal, role, scopes.
#[derive(Debug, Clone)]
pub struct RuleText<'a> {
    /// `uri:...`, `dns:...` or `cn:...`.
    pub identity: &'a str,
    /// The principal's name.
    pub principal: &'a str,
    /// Its role.
    pub role: &'a str,
    /// Its scopes.
    pub scopes: &'a [String],
}

/// Checks the configured rules; the error names the rule and what is wrong.
pub fn compile(map: &[RuleText<'_>]) -> Result<Vec<Rule>, String> {
    map.iter()
        .enumerate()
        .map(|(i, m)| {
            let (field, pattern) = match m.identity.split_once(':') {
                Some(("uri", p)) => (Field::Uri, p.to_owned()),
                Some(("dns", p)) => (Field::Dns, p.to_ascii_lowercase()),
                Some(("cn", p)) => (Field::Cn, p.to_owned()),
                _ => {
                    return Err(format!(
                        "entry {}: identity {:?} must start with uri:, dns: or cn:",
                        i + 1,
                        m.identity
                    ));
                }
            };
            if pattern.is_empty() {
                return Err(format!("entry {}: the identity pattern is empty", i + 1));
            }
            if !super::apikey::valid_name(m.principal) {
                return Err(format!(
                    "entry {}: principal {:?} must be 1-64 lower-case letters, digits and . _ -",
                    i + 1,
                    m.principal
                ));
            }
            let role = Role::parse(m.role).ok_or_else(|| {
                format!(
                    "entry {}: role {:?}: use viewer, operator or admin",
                    i + 1,
                    m.role
                )
            })?;
            let scopes = Scopes::parse(m.scopes).map_err(|e| format!("entry {}: {e}", i + 1))?;
            Ok(Rule {
                field,
                pattern,
                principal: m.principal.to_owned(),
                role,
                scopes,
            })
        })
        .collect()
}

/// `*` matches any run of characters (none included); everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut text) = text.strip_prefix(head) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('*').collect();
    let (last, middle) = parts.split_last().expect("split yields one part at least");
    for part in middle {
        match text.find(part) {
            Some(at) => text = &text[at + part.len()..],
            None => return false,
        }
    }
    text.len() >= last.len() && text.ends_with(last)
}

/// The first rule whose pattern matches one of the identity's names.
pub fn principal<'a>(rules: &'a [Rule], id: &Identity) -> Option<&'a Rule> {
    rules.iter().find(|r| {
        let names = match r.field {
            Field::Uri => &id.uris,
            Field::Dns => &id.dns,
            Field::Cn => &id.cns,
        };
        names.iter().any(|n| glob(&r.pattern, n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPES: &[String] = &[];

    fn rule<'a>(identity: &'a str, principal: &'a str) -> RuleText<'a> {
        RuleText {
            identity,
            principal,
            role: "operator",
            scopes: SCOPES,
        }
    }

    #[test]
    fn globs() {
        assert!(glob("a", "a"));
        assert!(!glob("a", "ab"));
        assert!(glob("*.ops.test", "x.ops.test"));
        assert!(!glob("*.ops.test", "x.ops.test.evil"));
        assert!(glob("spiffe://e/*/svc", "spiffe://e/a/b/svc"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("*", ""));
    }

    #[test]
    fn the_first_matching_rule_names_the_principal() {
        let rules = compile(&[
            rule("uri:spiffe://e2e.test/billing", "billing"),
            rule("dns:*.ops.test", "ops"),
            rule("cn:monitor-*", "monitor"),
        ])
        .unwrap();
        let id = |uris: &[&str], dns: &[&str], cns: &[&str]| Identity {
            uris: uris.iter().map(|s| (*s).to_owned()).collect(),
            dns: dns.iter().map(|s| (*s).to_owned()).collect(),
            cns: cns.iter().map(|s| (*s).to_owned()).collect(),
        };
        let p = |i: &Identity| principal(&rules, i).map(|r| r.principal.as_str());
        assert_eq!(
            p(&id(&["spiffe://e2e.test/billing"], &[], &["x"])),
            Some("billing")
        );
        assert_eq!(p(&id(&[], &["a.ops.test"], &[])), Some("ops"));
        assert_eq!(p(&id(&[], &[], &["monitor-3"])), Some("monitor"));
        assert_eq!(
            p(&id(
                &["spiffe://e2e.test/other"],
                &["ops.test"],
                &["billing"]
            )),
            None
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let bad_scope = ["x".to_owned()];
        for (bad, needle) in [
            (rule("email:x", "a"), "uri:, dns: or cn:"),
            (rule("cn:", "a"), "empty"),
            (rule("cn:x", "A B"), "principal"),
            (
                RuleText {
                    role: "root",
                    ..rule("cn:x", "a")
                },
                "role",
            ),
            (
                RuleText {
                    scopes: &bad_scope,
                    ..rule("cn:x", "a")
                },
                "scope",
            ),
        ] {
            let err = compile(&[rule("cn:ok", "ok"), bad]).unwrap_err();
            assert!(err.starts_with("entry 2") && err.contains(needle), "{err}");
        }
    }

    #[test]
    fn identities_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["svc.ops.test".to_owned()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from("spiffe://e2e.test/billing").unwrap(),
        ));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "billing-client");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let id = identity(cert.der()).unwrap();
        assert_eq!(id.uris, ["spiffe://e2e.test/billing"]);
        assert_eq!(id.dns, ["svc.ops.test"]);
        assert_eq!(id.cns, ["billing-client"]);
        assert!(identity(b"not a certificate").is_err());
    }
}
