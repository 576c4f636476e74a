//! Names that follow DHCP leases, sans-I/O: the DHCID record (RFC 4701)
//! and the UPDATE messages of RFC 4703's conflict rules, which the service
//! runs through the same journaled path as any RFC 2136 client's.
//!
//! RFC 4703 §5.3.1: a client's first update asserts the name is unused
//! ("nxdomain") and adds A + DHCID; if the name is in use (YXDOMAIN), a
//! second update asserts the DHCID there is this client's and replaces the
//! A RRset; if that prerequisite fails (NXRRSET) the name belongs to
//! another client (or is a static name) and is left alone. §5.5: a
//! removal asserts the DHCID is this client's before deleting anything.

use std::net::IpAddr;

use hickory_proto::op::{Message, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, NULL, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// RFC 4701 §3.3: the DHCID identifier types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcidIdentifier {
    /// 0x0000: the htype octet followed by chaddr.
    HardwareAddress,
    /// 0x0001: the DHCPv4 client identifier (option 61) as sent.
    ClientIdentifier,
    /// 0x0002: the client's DUID (DHCPv6 option 1, RFC 4703 §5 for
    /// DHCPv6 clients), without its option header.
    Duid,
}

impl DhcidIdentifier {
    /// The identifier type of a DHCID RDATA, if it is long enough to have
    /// one: lets a DHCPv4 and a DHCPv6 bridge sharing a zone each keep to
    /// the names of their own clients.
    pub fn of(rdata: &[u8]) -> Option<Self> {
        match rdata.get(..2)? {
            [0, 0] => Some(Self::HardwareAddress),
            [0, 1] => Some(Self::ClientIdentifier),
            [0, 2] => Some(Self::Duid),
            _ => None,
        }
    }
}

/// The RR type code of DHCID (RFC 4701).
pub(crate) const DHCID: u16 = 49;

/// The DHCID RDATA (RFC 4701 §3.3, §3.5): identifier type, digest type 1
/// (SHA-256), and SHA-256 over the identifier and the FQDN in canonical
/// (lower-case) wire form.
pub fn dhcid_rdata(kind: DhcidIdentifier, identifier: &[u8], fqdn: &Name) -> Vec<u8> {
    let code: u16 = match kind {
        DhcidIdentifier::HardwareAddress => 0,
        DhcidIdentifier::ClientIdentifier => 1,
        DhcidIdentifier::Duid => 2,
    };
    let mut input = identifier.to_vec();
    for label in fqdn.to_lowercase().iter() {
        input.push(label.len() as u8);
        input.extend_from_slice(label);
    }
    input.push(0);
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    let mut out = Vec::with_capacity(3 + 32);
    out.extend_from_slice(&code.to_be_bytes());
    out.push(1);
    out.extend_from_slice(digest.as_ref());
    out
}

/// One lease's names: the forward name with its address and DHCID, and
/// the reverse zone its PTR goes in (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseName {
    /// The forward zone's origin.
    pub forward_zone: Name,
    /// The owner name of the A or AAAA and DHCID (absolute, inside
    /// `forward_zone`).
    pub fqdn: Name,
    /// The leased address: an A record for IPv4, AAAA for IPv6.
    pub address: IpAddr,
    /// The DHCID RDATA ([`dhcid_rdata`]).
    pub dhcid: Vec<u8>,
    /// The reverse zone holding `address`'s PTR name, if one is configured.
    pub reverse_zone: Option<Name>,
    /// TTL of the records added.
    pub ttl: u32,
}

/// What a change of a lease's name did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameOutcome {
    /// The name was free: A + DHCID (+ PTR) added.
    Added,
    /// The name held this client's DHCID: its A replaced (+ PTR).
    Replaced,
    /// The name is held by another client or a static record: untouched.
    Held,
    /// The client's name was removed.
    Removed,
    /// Nothing to remove: the name is gone or held by another client.
    NotHeld,
}

fn message(zone: &Name) -> Message {
    let mut m = Message::query();
    m.metadata.op_code = OpCode::Update;
    m.metadata.recursion_desired = false;
    let mut q = Query::new();
    q.set_name(zone.clone())
        .set_query_class(DNSClass::IN)
        .set_query_type(RecordType::SOA);
    m.add_query(q);
    m
}

fn dhcid_record(name: &LeaseName, ttl: u32) -> Record {
    // No DHCID (a PTR whose name nobody holds): a prerequisite no name
    // meets, so only the PTR goes.
    let rdata = if name.dhcid.is_empty() {
        NULL::new()
    } else {
        NULL::with(name.dhcid.clone())
    };
    Record::from_rdata(
        name.fqdn.clone(),
        ttl,
        RData::Unknown {
            code: RecordType::Unknown(DHCID),
            rdata,
        },
    )
}

/// The A or AAAA record of the leased address.
fn a_record(name: &LeaseName) -> Record {
    let rdata = match name.address {
        IpAddr::V4(a) => RData::A(A(a)),
        IpAddr::V6(a) => RData::AAAA(AAAA(a)),
    };
    Record::from_rdata(name.fqdn.clone(), name.ttl, rdata)
}

/// A for an IPv4 lease, AAAA for an IPv6 binding.
fn address_type(name: &LeaseName) -> RecordType {
    match name.address {
        IpAddr::V4(_) => RecordType::A,
        IpAddr::V6(_) => RecordType::AAAA,
    }
}

/// A "delete RRset" update RR (RFC 2136 §2.5.2).
fn delete_rrset(owner: &Name, rtype: RecordType) -> Record {
    let mut r = Record::update0(owner.clone(), 0, rtype);
    r.dns_class = DNSClass::ANY;
    r
}

/// The PTR owner name of `address` (`d.c.b.a.in-addr.arpa.`, or the 32
/// nibbles of an IPv6 address under `ip6.arpa.`, RFC 3596 §2.5).
pub fn ptr_name(address: impl Into<IpAddr>) -> Name {
    let mut n = Name::from(address.into());
    n.set_fqdn(true);
    n
}

/// RFC 4703 §5.3.1 first try: the name is not in use; add A + DHCID.
pub(crate) fn claim_fresh(name: &LeaseName) -> Message {
    let mut m = message(&name.forward_zone);
    let mut pre = Record::update0(name.fqdn.clone(), 0, RecordType::ANY);
    pre.dns_class = DNSClass::NONE;
    m.answers.push(pre);
    m.authorities.push(a_record(name));
    m.authorities.push(dhcid_record(name, name.ttl));
    m
}

/// RFC 4703 §5.3.2 second try: the DHCID there is ours; replace the A
/// (AAAA) RRset.
pub(crate) fn claim_own(name: &LeaseName) -> Message {
    let mut m = message(&name.forward_zone);
    m.answers.push(dhcid_record(name, 0));
    m.authorities
        .push(delete_rrset(&name.fqdn, address_type(name)));
    m.authorities.push(a_record(name));
    m
}

/// The PTR of a claimed name: whatever PTR the address had is replaced.
pub(crate) fn set_ptr(name: &LeaseName) -> Option<Message> {
    let zone = name.reverse_zone.as_ref()?;
    let owner = ptr_name(name.address);
    let mut m = message(zone);
    m.authorities.push(delete_rrset(&owner, RecordType::PTR));
    m.authorities.push(Record::from_rdata(
        owner,
        name.ttl,
        RData::PTR(PTR(name.fqdn.clone())),
    ));
    Some(m)
}

/// RFC 4703 §5.5: remove the name only if its DHCID is ours.
pub(crate) fn remove_forward(name: &LeaseName) -> Message {
    let mut m = message(&name.forward_zone);
    m.answers.push(dhcid_record(name, 0));
    m.authorities
        .push(delete_rrset(&name.fqdn, address_type(name)));
    m.authorities
        .push(delete_rrset(&name.fqdn, RecordType::Unknown(DHCID)));
    m
}

/// Removes the address's PTR only if it still points to this name.
pub(crate) fn remove_ptr(name: &LeaseName) -> Option<Message> {
    let zone = name.reverse_zone.as_ref()?;
    let owner = ptr_name(name.address);
    let mut m = message(zone);
    m.answers.push(Record::from_rdata(
        owner.clone(),
        0,
        RData::PTR(PTR(name.fqdn.clone())),
    ));
    m.authorities.push(delete_rrset(&owner, RecordType::PTR));
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// RFC 4701 §3.6.1 example: client identifier 0x01 07 08 09 0a 0b 0c
    /// ("chi.example.com.") gives this DHCID.
    #[test]
    fn dhcid_matches_rfc4701_client_id_example() {
        let id = [0x01, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c];
        let name = Name::from_str("chi.example.com.").expect("name");
        let rd = dhcid_rdata(DhcidIdentifier::ClientIdentifier, &id, &name);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &rd);
        assert_eq!(b64, "AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=");
    }

    /// RFC 4701 §3.6.2: htype 1 with chaddr 01:02:03:04:05:06 for
    /// "client.example.com.".
    #[test]
    fn dhcid_matches_rfc4701_chaddr_example() {
        let id = [0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06];
        let name = Name::from_str("client.example.com.").expect("name");
        let rd = dhcid_rdata(DhcidIdentifier::HardwareAddress, &id, &name);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &rd);
        assert_eq!(b64, "AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=");
    }

    #[test]
    fn dhcid_ignores_name_case() {
        let a = Name::from_str("Host.Example.").expect("name");
        let b = Name::from_str("host.example.").expect("name");
        assert_eq!(
            dhcid_rdata(DhcidIdentifier::HardwareAddress, &[1, 2], &a),
            dhcid_rdata(DhcidIdentifier::HardwareAddress, &[1, 2], &b)
        );
    }

    #[test]
    fn a_removal_without_dhcid_builds_a_message() {
        let name = LeaseName {
            forward_zone: Name::from_str("example.").expect("name"),
            fqdn: Name::from_str("h.example.").expect("name"),
            address: "2001:db8::1".parse().expect("addr"),
            dhcid: Vec::new(),
            reverse_zone: None,
            ttl: 0,
        };
        assert!(remove_forward(&name).to_vec().is_ok());
    }

    #[test]
    fn ptr_name_of_ipv6_is_the_nibbles() {
        let a: std::net::Ipv6Addr = "2001:db8::1".parse().expect("addr");
        assert_eq!(
            ptr_name(a).to_string(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
    }

    #[test]
    fn dhcid_identifier_type_is_read_back() {
        let name = Name::from_str("h.example.").expect("name");
        let rd = dhcid_rdata(DhcidIdentifier::Duid, &[0, 3, 0, 1, 2], &name);
        assert_eq!(DhcidIdentifier::of(&rd), Some(DhcidIdentifier::Duid));
        assert_eq!(DhcidIdentifier::of(&[0]), None);
    }

    #[test]
    fn ptr_name_reverses_the_octets() {
        assert_eq!(
            ptr_name(std::net::Ipv4Addr::new(10, 1, 2, 3)).to_string(),
            "3.2.1.10.in-addr.arpa."
        );
    }
}
