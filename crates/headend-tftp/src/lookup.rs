//! What the TFTP service may ask about leases (wired by the binary to the
//! DHCP lease store; a lookup that finds nothing when DHCP is off).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A hardware (MAC) address.
pub type Mac = [u8; 6];

/// The lease facts a template may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The client's hardware address.
    pub mac: Mac,
    /// The leased address.
    pub ip: Ipv4Addr,
    /// The client's host name, if it sent or was given one.
    pub hostname: Option<String>,
    /// The DHCP class it matched (e.g. `docsis`, `ipxe`), if any.
    pub class: Option<String>,
}

/// Lease queries answered by the DHCP service (or by nothing).
pub trait LeaseLookup: Send + Sync {
    /// The current lease held by `ip`, if any.
    fn lease_for_ip(&self, ip: Ipv4Addr) -> Option<LeaseInfo>;
    /// The address currently leased to `mac`, if any.
    fn ip_for_mac(&self, mac: Mac) -> Option<Ipv4Addr>;
    /// The free-form attributes (service tier, CPE limit, rate, ...) of the
    /// reservation of the client that holds `ip`, read at each call so a
    /// change shows at the next fetch; `None` when it has no reservation.
    fn reservation_attributes(&self, ip: Ipv4Addr) -> Option<BTreeMap<String, String>> {
        let _ = ip;
        None
    }
}

/// The lookup used when DHCP is off: it finds nothing, so `bind_to_lease`
/// templates are refused to everyone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLeases;

impl LeaseLookup for NoLeases {
    fn lease_for_ip(&self, _ip: Ipv4Addr) -> Option<LeaseInfo> {
        None
    }

    fn ip_for_mac(&self, _mac: Mac) -> Option<Ipv4Addr> {
        None
    }
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aabbccddeeff`, `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (any case).
pub fn parse_mac(text: &str) -> Option<Mac> {
    let hex: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    let separators = text.len() - hex.len();
    if hex.len() != 12 || !(separators == 0 || separators == 5) {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, byte) in mac.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_spellings_parse_alike() {
        let mac = [0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e];
        assert_eq!(parse_mac("001a2b3c4d5e"), Some(mac));
        assert_eq!(parse_mac("00:1A:2B:3C:4D:5E"), Some(mac));
        assert_eq!(parse_mac("00-1a-2b-3c-4d-5e"), Some(mac));
        assert_eq!(format_mac(&mac), "00:1a:2b:3c:4d:5e");
    }

    #[test]
    fn malformed_macs_are_rejected() {
        for bad in [
            "",
            "001a2b3c4d",
            "00:1a:2b:3c:4d:5g",
            "001a2b3c4d5e00",
            "0:01a2b3c4d5e",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
