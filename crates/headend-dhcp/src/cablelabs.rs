//! Encoders of the options cable devices read: 122, CableLabs Client
//! Configuration (RFC 3495, 3594, 3634), and 125, vendor-identifying
//! vendor-specific information (RFC 3925) with CableLabs' sub-options.
//! Values are checked and encoded once, when the configuration is compiled.
//! Also the findings `headend check` reports about cable classes
//! ([`DhcpConfig::warnings`]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::DhcpError;
use crate::config::{
    BackoffConfig, CableLabsClientConfig, ClassConfig, DhcpConfig, OptionsConfig,
    VendorIdentifyingConfig,
};
use crate::value::parse_bytes;

/// IANA enterprise number of CableLabs.
pub(crate) const CABLELABS_ENTERPRISE: u32 = 4491;

/// Appends one sub-option (code, length, value); a value longer than 255
/// octets is a configuration error naming `key`.
fn push_sub(out: &mut Vec<u8>, key: &str, code: u8, value: &[u8]) -> Result<(), DhcpError> {
    let len = u8::try_from(value.len()).map_err(|_| {
        DhcpError::config(
            key,
            format!(
                "sub-option {code} would be {} octets; a sub-option holds at most 255",
                value.len()
            ),
        )
    })?;
    out.push(code);
    out.push(len);
    out.extend_from_slice(value);
    Ok(())
}

/// A domain name in RFC 1035 §3.1 wire form, uncompressed, with its
/// terminating zero octet, as RFC 3495 §5 requires ("Note that a
/// terminating 0 is required ... compression ... MUST NOT be applied").
pub(crate) fn fqdn(key: &str, name: &str) -> Result<Vec<u8>, DhcpError> {
    let bad = |why: &str| DhcpError::config(key, format!("{name:?} is not a domain name: {why}"));
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut out = Vec::with_capacity(trimmed.len() + 2);
    for label in trimmed.split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or_else(|| bad("every label holds 1 to 63 octets"))?;
        if !label.is_ascii() {
            return Err(bad("write it in ASCII (IDNA A-labels)"));
        }
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    // RFC 1035 §3.1: "the total length of a domain name ... is restricted to
    // 255 octets or less".
    if out.len() > 255 {
        return Err(bad("longer than 255 octets"));
    }
    Ok(out)
}

/// RFC 3495 §5.4/§5.5: nominal timeout (ms), maximum timeout (s) and
/// maximum retry count, 32 bits each in network order.
fn backoff(b: &BackoffConfig) -> Vec<u8> {
    [b.nominal_timeout_ms, b.max_timeout_secs, b.max_retries]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// The value of option 122 (RFC 3495 §4: a list of sub-options), sub-options
/// in code order. `key` names the table for errors.
pub(crate) fn encode_ccc(key: &str, c: &CableLabsClientConfig) -> Result<Vec<u8>, DhcpError> {
    let mut out = Vec::new();
    // §5.1: "The sub-option length MUST be 4".
    for (code, addr) in [(1u8, c.primary_dhcp_server), (2, c.secondary_dhcp_server)] {
        if let Some(a) = addr {
            push_sub(&mut out, key, code, &a.octets())?;
        }
    }
    if let Some(server) = &c.provisioning_server {
        let k = format!("{key}.provisioning_server");
        // §5.2: a type octet, 1 then an IPv4 address, or 0 then an FQDN.
        let value = match server.parse::<Ipv4Addr>() {
            Ok(a) => [&[1u8][..], &a.octets()].concat(),
            Err(_) => [vec![0u8], fqdn(&k, server)?].concat(),
        };
        push_sub(&mut out, &k, 3, &value)?;
    }
    if let Some(b) = &c.as_req_backoff {
        push_sub(&mut out, key, 4, &backoff(b))?;
    }
    if let Some(b) = &c.ap_req_backoff {
        push_sub(&mut out, key, 5, &backoff(b))?;
    }
    if let Some(realm) = &c.kerberos_realm {
        // §5.6: the domain-style realm name, encoded as an FQDN.
        let k = format!("{key}.kerberos_realm");
        push_sub(&mut out, &k, 6, &fqdn(&k, realm)?)?;
    }
    if let Some(tgs) = c.ticket_granting_server {
        // §5.7: one octet, 1 to use a TGT, 0 not to.
        push_sub(&mut out, key, 7, &[u8::from(tgs)])?;
    }
    if let Some(minutes) = c.provisioning_timer_mins {
        // §5.8: one octet, minutes.
        push_sub(&mut out, key, 8, &[minutes])?;
    }
    if let Some(bits) = c.security_ticket_control {
        // RFC 3594 §3: two octets; bits 2-15 are reserved and MUST be 0.
        if bits > 3 {
            return Err(DhcpError::config(
                format!("{key}.security_ticket_control"),
                format!(
                    "{bits} sets reserved bits; use 1 (provisioning server), 2 (call management servers) or 3 (both)"
                ),
            ));
        }
        push_sub(&mut out, key, 9, &bits.to_be_bytes())?;
    }
    if !c.kdc_servers.is_empty() {
        // RFC 3634 §2: a multiple of 4 octets, in decreasing priority.
        let addrs: Vec<u8> = c.kdc_servers.iter().flat_map(|a| a.octets()).collect();
        push_sub(&mut out, &format!("{key}.kdc_servers"), 10, &addrs)?;
    }
    if out.is_empty() {
        return Err(DhcpError::config(
            key,
            "sets no sub-option; give at least primary_dhcp_server or provisioning_server",
        ));
    }
    Ok(out)
}

/// The value of option 125 (RFC 3925 §4): for each enterprise, its 32-bit
/// number, one octet of data length, then its sub-options (code order).
pub(crate) fn encode_vivso(
    key: &str,
    entries: &[VendorIdentifyingConfig],
) -> Result<Vec<u8>, DhcpError> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let key = format!("{key}[{i}]");
        let typed = !e.tftp_servers.is_empty()
            || e.erouter_container.is_some()
            || e.mib_environment.is_some();
        if typed && e.enterprise != CABLELABS_ENTERPRISE {
            return Err(DhcpError::config(
                &key,
                format!(
                    "tftp_servers, erouter_container and mib_environment are CableLabs sub-options (enterprise {CABLELABS_ENTERPRISE}), not enterprise {}'s; use suboptions",
                    e.enterprise
                ),
            ));
        }
        let mut subs: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        if !e.tftp_servers.is_empty() {
            subs.insert(2, e.tftp_servers.iter().flat_map(|a| a.octets()).collect());
        }
        if let Some(c) = &e.erouter_container {
            subs.insert(3, parse_bytes(&format!("{key}.erouter_container"), c)?);
        }
        if let Some(m) = e.mib_environment {
            if !(1..=3).contains(&m) {
                return Err(DhcpError::config(
                    format!("{key}.mib_environment"),
                    "use 1 (CableLabs), 2 (IETF) or 3 (EuroCableLabs)",
                ));
            }
            subs.insert(4, vec![m]);
        }
        for (code, value) in &e.suboptions {
            let k = format!("{key}.suboptions.{code}");
            let code: u8 = code
                .parse()
                .ok()
                .filter(|c| (1..=254).contains(c))
                .ok_or_else(|| {
                    DhcpError::config(&k, "sub-option codes are numbers from 1 to 254")
                })?;
            if subs.insert(code, parse_bytes(&k, value)?).is_some() {
                return Err(DhcpError::config(
                    &k,
                    format!("sub-option {code} is already set by a named field"),
                ));
            }
        }
        let mut data = Vec::new();
        for (code, value) in &subs {
            push_sub(&mut data, &key, *code, value)?;
        }
        let len = u8::try_from(data.len()).map_err(|_| {
            DhcpError::config(
                &key,
                format!(
                    "enterprise {}'s sub-options take {} octets; RFC 3925 allows 255",
                    e.enterprise,
                    data.len()
                ),
            )
        })?;
        out.extend_from_slice(&e.enterprise.to_be_bytes());
        out.push(len);
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// True for a class of cable modems (option 60 `docsis...`).
fn is_docsis(c: &ClassConfig) -> bool {
    c.vendor_class
        .as_deref()
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("docsis"))
}

impl DhcpConfig {
    /// Findings that do not stop the section from working but that an
    /// operator should look at (`headend check` prints them): a DOCSIS class,
    /// or a subnet only DOCSIS classes use, that names the config file in
    /// option 67 (or the TFTP server in option 66) without setting the BOOTP
    /// `file` field (or `siaddr`, `next_server`). Many modems read only the
    /// header fields, as ISC dhcpd's `filename` and `next-server` set them.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |key: String, what: &str, o: &OptionsConfig, file: bool, next: bool| {
            if o.bootfile_name.is_some() && !file {
                out.push(format!(
                    "{key}: {what} sets option 67 (bootfile_name) but not boot_file, the BOOTP `file` field that many cable modems read instead; set boot_file to the same name"
                ));
            }
            if o.tftp_server_name.is_some() && !next {
                out.push(format!(
                    "{key}: {what} sets option 66 (tftp_server_name) but not next_server, the BOOTP `siaddr` field that many cable modems read instead; set next_server to the TFTP server's address"
                ));
            }
        };
        for (i, c) in self.classes.iter().enumerate() {
            if is_docsis(c) {
                check(
                    format!("dhcp.class[{i}]"),
                    &format!("DOCSIS class {:?}", c.name),
                    &c.options,
                    c.boot_file.is_some(),
                    c.next_server.is_some(),
                );
            }
        }
        for (i, s) in self.subnets.iter().enumerate() {
            let classes: Vec<&ClassConfig> = self
                .classes
                .iter()
                .filter(|c| s.classes.contains(&c.name))
                .collect();
            if classes.is_empty() || !classes.iter().all(|c| is_docsis(c)) {
                continue;
            }
            check(
                format!("dhcp.subnet[{i}]"),
                &format!("subnet {:?} of DOCSIS modems", s.name),
                &s.options,
                s.boot_file.is_some() || classes.iter().all(|c| c.boot_file.is_some()),
                s.next_server.is_some() || classes.iter().all(|c| c.next_server.is_some()),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ccc(text: &str) -> Result<Vec<u8>, DhcpError> {
        encode_ccc("o.cablelabs_client_config", &toml::from_str(text).unwrap())
    }

    #[test]
    fn rfc_3495_dhcp_server_sub_options_are_four_octets() {
        // §5.1: | 1/2 | 4 | a1 | a2 | a3 | a4 |
        let v = ccc("primary_dhcp_server = \"10.0.0.1\"\nsecondary_dhcp_server = \"10.0.0.2\"")
            .unwrap();
        assert_eq!(v, [1, 4, 10, 0, 0, 1, 2, 4, 10, 0, 0, 2]);
    }

    #[test]
    fn rfc_3495_provisioning_server_as_ipv4_has_type_1() {
        // §5.2 format 1: | 3 | 5 | 1 | a1 | a2 | a3 | a4 |
        let v = ccc("provisioning_server = \"192.0.2.7\"").unwrap();
        assert_eq!(v, [3, 5, 1, 192, 0, 2, 7]);
    }

    #[test]
    fn rfc_3495_provisioning_server_as_fqdn_has_type_0_and_a_root_label() {
        // §5.2 format 2: | 3 | n | 0 | RFC 1035 name with its terminating 0 |
        let v = ccc("provisioning_server = \"prov.ietf.org\"").unwrap();
        let mut want = vec![3, 16, 0, 4];
        want.extend_from_slice(b"prov");
        want.push(4);
        want.extend_from_slice(b"ietf");
        want.push(3);
        want.extend_from_slice(b"org");
        want.push(0);
        assert_eq!(v, want);
    }

    #[test]
    fn rfc_3495_realm_example_ietf_org() {
        // §5.6's example: | 6 | 10 | 4 'I' 'E' 'T' 'F' 3 'O' 'R' 'G' 0 |
        let v = ccc("kerberos_realm = \"IETF.ORG\"").unwrap();
        assert_eq!(
            v,
            [6, 10, 4, b'I', b'E', b'T', b'F', 3, b'O', b'R', b'G', 0]
        );
    }

    #[test]
    fn rfc_3495_backoffs_are_three_32_bit_numbers() {
        let v = ccc(
            "as_req_backoff = { nominal_timeout_ms = 100, max_timeout_secs = 30, max_retries = 3 }\n\
             ap_req_backoff = { nominal_timeout_ms = 200, max_timeout_secs = 10, max_retries = 5 }",
        )
        .unwrap();
        assert_eq!(
            v,
            [
                4, 12, 0, 0, 0, 100, 0, 0, 0, 30, 0, 0, 0, 3, //
                5, 12, 0, 0, 0, 200, 0, 0, 0, 10, 0, 0, 0, 5
            ]
        );
    }

    #[test]
    fn tgs_timer_ticket_control_and_kdcs_encode_in_code_order() {
        let v = ccc(
            "kdc_servers = [\"10.0.0.8\", \"10.0.0.9\"]\nsecurity_ticket_control = 3\n\
             provisioning_timer_mins = 10\nticket_granting_server = true",
        )
        .unwrap();
        assert_eq!(
            v,
            [
                7, 1, 1, 8, 1, 10, 9, 2, 0, 3, 10, 8, 10, 0, 0, 8, 10, 0, 0, 9
            ]
        );
    }

    #[test]
    fn reserved_ticket_control_bits_are_refused() {
        let err = ccc("security_ticket_control = 4").unwrap_err().to_string();
        assert!(err.contains("security_ticket_control"), "{err}");
    }

    #[test]
    fn empty_ccc_and_bad_names_are_refused() {
        assert!(ccc("").is_err());
        let long = "a".repeat(64);
        let err = ccc(&format!("kerberos_realm = \"{long}.ORG\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kerberos_realm") && err.contains("63"),
            "{err}"
        );
        assert!(ccc("provisioning_server = \"a..b\"").is_err());
    }

    fn vivso(text: &str) -> Result<Vec<u8>, DhcpError> {
        #[derive(serde::Deserialize)]
        struct T {
            v: Vec<VendorIdentifyingConfig>,
        }
        let t: T = toml::from_str(text).unwrap();
        encode_vivso("o.vendor_identifying", &t.v)
    }

    #[test]
    fn rfc_3925_cablelabs_entry_has_enterprise_length_and_sub_options() {
        // §4: enterprise-number (4), data-len (1), then code/len/data.
        let v = vivso(
            "v = [{ enterprise = 4491, tftp_servers = [\"192.0.2.20\"], mib_environment = 1 }]",
        )
        .unwrap();
        assert_eq!(v, [0, 0, 0x11, 0x8b, 9, 2, 4, 192, 0, 2, 20, 4, 1, 1]);
    }

    #[test]
    fn rfc_3925_two_enterprises_follow_each_other() {
        let v = vivso(
            "v = [{ enterprise = 4491, suboptions = { \"3\" = \"hex:0102\" } }, { enterprise = 9, suboptions = { \"1\" = \"x\" } }]",
        )
        .unwrap();
        assert_eq!(
            v,
            [0, 0, 0x11, 0x8b, 4, 3, 2, 1, 2, 0, 0, 0, 9, 3, 1, 1, b'x']
        );
    }

    #[test]
    fn cablelabs_fields_under_another_enterprise_are_refused() {
        let err = vivso("v = [{ enterprise = 9, mib_environment = 1 }]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("4491"), "{err}");
    }

    #[test]
    fn an_enterprise_with_more_than_255_octets_is_refused() {
        let big = "x".repeat(200);
        let err = vivso(&format!(
            "v = [{{ enterprise = 4491, suboptions = {{ \"1\" = \"{big}\", \"2\" = \"{big}\" }} }}]"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("255"), "{err}");
    }

    fn dhcp_config(text: &str) -> DhcpConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn docsis_class_with_option_67_but_no_file_field_is_warned() {
        let c = dhcp_config(
            "server_id = \"10.0.0.1\"\n[[class]]\nname = \"cm\"\nvendor_class = \"docsis\"\noptions = { bootfile_name = \"cm.cfg\", tftp_server_name = \"10.0.0.5\" }\n",
        );
        let w = c.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("dhcp.class[0]") && w[0].contains("boot_file"),
            "{w:?}"
        );
        assert!(w[1].contains("next_server"), "{w:?}");
        let fixed = dhcp_config(
            "server_id = \"10.0.0.1\"\n[[class]]\nname = \"cm\"\nvendor_class = \"docsis\"\nboot_file = \"cm.cfg\"\nnext_server = \"10.0.0.5\"\noptions = { bootfile_name = \"cm.cfg\", tftp_server_name = \"10.0.0.5\" }\n",
        );
        assert_eq!(fixed.warnings(), Vec::<String>::new());
    }

    #[test]
    fn non_docsis_class_is_not_warned() {
        let c = dhcp_config(
            "server_id = \"10.0.0.1\"\n[[class]]\nname = \"pxe\"\nvendor_class = \"PXEClient\"\noptions = { bootfile_name = \"x\" }\n",
        );
        assert!(c.warnings().is_empty());
    }
}
