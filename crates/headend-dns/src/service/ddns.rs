//! Names that follow DHCP leases, in the running service: RFC 4703's
//! UPDATE messages ([`crate::update::dhcp`]) go through the update thread
//! like any client's, so they are journaled, synced, signed and NOTIFYed
//! the same way; the caller waits for the answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RData, RecordType};

use super::DnsHandle;
use crate::DnsError;
use crate::update::dhcp::{self as names, DHCID, LeaseName, NameOutcome};
use crate::update::{Pending, ReplyTo};

/// How long a caller waits for the update thread.
const WAIT: Duration = Duration::from_secs(10);

/// One change of a lease's names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameChange {
    /// Publish the name (A or AAAA + DHCID, and PTR), unless another client
    /// holds it.
    Claim(LeaseName),
    /// Remove the name (if its DHCID is this one) and its PTR (if it still
    /// points to the name).
    Remove(LeaseName),
}

/// A DHCP name as a zone serves it: the owner of a DHCID record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedName {
    /// The owner name.
    pub fqdn: Name,
    /// Its A and AAAA records.
    pub addresses: Vec<IpAddr>,
    /// Its DHCID RDATA.
    pub dhcid: Vec<u8>,
}

impl DnsHandle {
    /// Parses a zone origin of the configuration into a name.
    pub fn zone_name(&self, origin: &str) -> Result<Name, DnsError> {
        self.zone_config(origin).map(|(_, n)| n)
    }

    /// Runs `changes` through the update path in order (RFC 4703 §5: the
    /// second try of a claim whose name was in use runs after every first
    /// try), and answers one outcome per change.
    pub fn apply_lease_names(&self, changes: &[NameChange]) -> Vec<Result<NameOutcome, DnsError>> {
        // Round 1: first tries, forward removals and PTR removals.
        let mut first = Vec::with_capacity(changes.len());
        for c in changes {
            match c {
                NameChange::Claim(n) => first.push((self.submit(names::claim_fresh(n)), None)),
                NameChange::Remove(n) => {
                    let ptr = names::remove_ptr(n).map(|m| self.submit(m));
                    first.push((self.submit(names::remove_forward(n)), ptr));
                }
            }
        }
        let mut out: Vec<Result<NameOutcome, DnsError>> = Vec::with_capacity(changes.len());
        let mut second = Vec::new();
        for (i, (c, (fwd, ptr))) in changes.iter().zip(first).enumerate() {
            let rcode = wait(fwd, c);
            if let Some(p) = ptr {
                let _ = wait(p, c);
            }
            let outcome = match (c, rcode) {
                (_, Err(e)) => Err(e),
                (NameChange::Claim(_), Ok(ResponseCode::NoError)) => Ok(NameOutcome::Added),
                (NameChange::Claim(n), Ok(ResponseCode::YXDomain)) => {
                    second.push((i, self.submit(names::claim_own(n))));
                    Ok(NameOutcome::Held)
                }
                (NameChange::Remove(_), Ok(ResponseCode::NoError)) => Ok(NameOutcome::Removed),
                (NameChange::Remove(_), Ok(ResponseCode::NXRRSet)) => Ok(NameOutcome::NotHeld),
                (c, Ok(r)) => Err(refused(c, r)),
            };
            out.push(outcome);
        }
        // Round 2: a name in use is replaced only if its DHCID is ours.
        for (i, rx) in second {
            let Some(c) = changes.get(i) else { continue };
            out[i] = match wait(rx, c) {
                Ok(ResponseCode::NoError) => Ok(NameOutcome::Replaced),
                Ok(ResponseCode::NXRRSet) => Ok(NameOutcome::Held),
                Ok(r) => Err(refused(c, r)),
                Err(e) => Err(e),
            };
        }
        // Round 3: the PTRs of the names now ours.
        let mut ptrs = Vec::new();
        for (c, o) in changes.iter().zip(&out) {
            if let (NameChange::Claim(n), Ok(NameOutcome::Added | NameOutcome::Replaced)) = (c, o)
                && let Some(m) = names::set_ptr(n)
            {
                ptrs.push((c, self.submit(m)));
            }
        }
        for (c, rx) in ptrs {
            if let Ok(r) = wait(rx, c)
                && r != ResponseCode::NoError
            {
                tracing::warn!(change = ?c, rcode = %r, "DHCP name: PTR not set");
            }
        }
        out
    }

    /// Every DHCP name (owner of a DHCID record) `forward_zone` serves.
    pub fn published_lease_names(
        &self,
        forward_zone: &str,
    ) -> Result<Vec<PublishedName>, DnsError> {
        let (_, name) = self.zone_config(forward_zone)?;
        let catalog = self.catalog();
        let zone = catalog
            .get(&LowerName::new(&name))
            .ok_or_else(|| DnsError::UnknownZone {
                zone: forward_zone.to_owned(),
            })?;
        let mut out = Vec::new();
        for (owner, node) in zone.nodes() {
            let mut dhcid = None;
            let mut addresses = Vec::new();
            for set in node.rrsets() {
                for rd in set.rdatas() {
                    match (set.rtype, rd.as_ref()) {
                        (RecordType::A, RData::A(a)) => addresses.push(IpAddr::V4(a.0)),
                        (RecordType::AAAA, RData::AAAA(a)) => {
                            addresses.push(IpAddr::V6(a.0));
                        }
                        (RecordType::Unknown(DHCID), RData::Unknown { rdata, .. }) => {
                            dhcid = Some(rdata.anything.clone());
                        }
                        _ => {}
                    }
                }
            }
            if let Some(dhcid) = dhcid {
                out.push(PublishedName {
                    fqdn: Name::from(owner.clone()),
                    addresses,
                    dhcid,
                });
            }
        }
        Ok(out)
    }

    /// Every PTR of `reverse_zone` as (address, target).
    pub fn published_ptrs(&self, reverse_zone: &str) -> Result<Vec<(IpAddr, Name)>, DnsError> {
        let (_, name) = self.zone_config(reverse_zone)?;
        let catalog = self.catalog();
        let zone = catalog
            .get(&LowerName::new(&name))
            .ok_or_else(|| DnsError::UnknownZone {
                zone: reverse_zone.to_owned(),
            })?;
        let mut out = Vec::new();
        for (owner, node) in zone.nodes() {
            let Some(address) = address_of(&Name::from(owner.clone())) else {
                continue;
            };
            for set in node.rrsets() {
                for rd in set.rdatas() {
                    if let RData::PTR(p) = rd.as_ref() {
                        out.push((address, p.0.clone()));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Queues an in-process UPDATE; its answer arrives on the receiver.
    fn submit(&self, message: Message) -> Option<Receiver<Vec<u8>>> {
        let request = message.to_vec().ok()?;
        let (tx, rx) = sync_channel(1);
        let pending = Pending {
            request,
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            reply: ReplyTo::Local(tx),
        };
        self.inner.update_queue.send(pending).ok()?;
        Some(rx)
    }
}

/// The address of an `in-addr.arpa` owner name of four octets, or of an
/// `ip6.arpa` one of 32 nibbles.
fn address_of(name: &Name) -> Option<IpAddr> {
    let labels: Vec<&[u8]> = name.iter().collect();
    if let [nibbles @ .., ip6, arpa] = labels.as_slice()
        && nibbles.len() == 32
        && ip6.eq_ignore_ascii_case(b"ip6")
        && arpa.eq_ignore_ascii_case(b"arpa")
    {
        let mut bits: u128 = 0;
        for n in nibbles.iter().rev() {
            let [d] = n else { return None };
            let v = char::from(*d).to_digit(16)?;
            bits = (bits << 4) | u128::from(v);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(bits)));
    }
    let [d, c, b, a, inaddr, arpa] = labels.as_slice() else {
        return None;
    };
    if !inaddr.eq_ignore_ascii_case(b"in-addr") || !arpa.eq_ignore_ascii_case(b"arpa") {
        return None;
    }
    let octet = |l: &[u8]| std::str::from_utf8(l).ok()?.parse::<u8>().ok();
    Some(IpAddr::V4(Ipv4Addr::new(
        octet(a)?,
        octet(b)?,
        octet(c)?,
        octet(d)?,
    )))
}

fn wait(rx: Option<Receiver<Vec<u8>>>, change: &NameChange) -> Result<ResponseCode, DnsError> {
    let gone = || DnsError::LeaseName {
        change: format!("{change:?}"),
        reason: "the DNS update thread did not answer".into(),
    };
    let bytes = rx
        .ok_or_else(gone)?
        .recv_timeout(WAIT)
        .map_err(|_| gone())?;
    let m = Message::from_vec(&bytes).map_err(|e| DnsError::LeaseName {
        change: format!("{change:?}"),
        reason: format!("unreadable answer: {e}"),
    })?;
    Ok(m.metadata.response_code)
}

fn refused(change: &NameChange, rcode: ResponseCode) -> DnsError {
    DnsError::LeaseName {
        change: format!("{change:?}"),
        reason: format!("the update was answered {rcode}"),
    }
}

#[cfg(test)]
mod tests {
    use super::address_of;
    use crate::update::dhcp::ptr_name;
    use std::net::IpAddr;

    #[test]
    fn ptr_owner_names_give_their_addresses_back() {
        for a in ["10.1.2.3", "2001:db8::abcd:1", "::"] {
            let a: IpAddr = a.parse().expect("addr");
            assert_eq!(address_of(&ptr_name(a)), Some(a));
        }
    }

    #[test]
    fn short_ip6_arpa_names_are_no_address() {
        let n: hickory_proto::rr::Name = "8.b.d.0.1.0.0.2.ip6.arpa.".parse().expect("name");
        assert_eq!(address_of(&n), None);
    }
}
