//! The configuration compiled for fast lookups: option values encoded once,
//! class criteria as bytes, pools as address ranges, reservations indexed.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

use crate::DhcpError;
use crate::config::{ClassConfig, DhcpConfig, OptionsConfig, ReservationConfig, SubnetConfig};
use crate::ha::Ha;
use crate::value::parse_bytes;
use crate::wire::{Request, code, relay_sub_option};

/// Encoded options by code.
pub(crate) type Options = BTreeMap<u8, Vec<u8>>;

/// The BOOTP header fields used in network booting.
#[derive(Debug, Clone, Default)]
pub(crate) struct Boot {
    pub(crate) next_server: Option<Ipv4Addr>,
    pub(crate) server_name: Option<String>,
    pub(crate) boot_file: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub(crate) name: String,
    vendor_class: Option<Vec<u8>>,
    user_class: Option<Vec<u8>>,
    arch: Vec<u16>,
    circuit_id: Option<Vec<u8>>,
    remote_id: Option<Vec<u8>>,
    pub(crate) lease_time: Option<u32>,
    pub(crate) cap_circuit: Option<u32>,
    pub(crate) cap_remote: Option<u32>,
    pub(crate) boot: Boot,
    pub(crate) options: Options,
}

#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    mac: Option<Vec<u8>>,
    client_id: Option<Vec<u8>>,
    circuit_id: Option<Vec<u8>>,
    pub(crate) address: Ipv4Addr,
    pub(crate) hostname: Option<String>,
    pub(crate) boot: Boot,
    pub(crate) options: Options,
    /// The config file's `attributes` table (None: none given).
    pub(crate) attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Subnet {
    pub(crate) name: String,
    pub(crate) net: Ipv4Net,
    pub(crate) pools: Vec<(Ipv4Addr, Ipv4Addr)>,
    pub(crate) interface: Option<String>,
    pub(crate) relays: Vec<Ipv4Addr>,
    pub(crate) server_id: Ipv4Addr,
    pub(crate) lease_time: u32,
    pub(crate) renew_time: u32,
    pub(crate) rebind_time: u32,
    /// Indices into [`Plan::classes`].
    pub(crate) classes: Vec<usize>,
    pub(crate) bootp: bool,
    pub(crate) cap_circuit: Option<u32>,
    pub(crate) cap_remote: Option<u32>,
    pub(crate) boot: Boot,
    pub(crate) options: Options,
    pub(crate) reservations: Vec<Reservation>,
    reserved: HashSet<Ipv4Addr>,
}

/// The compiled `[dhcp]` section.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) subnets: Vec<Subnet>,
    pub(crate) classes: Vec<Class>,
    pub(crate) options: Options,
    pub(crate) offer_hold: u64,
    pub(crate) quarantine: u64,
    pub(crate) rate_per_sec: f64,
    pub(crate) rate_burst: u32,
    /// Requests relayed through more hops are dropped.
    pub(crate) max_hops: u8,
    /// Most requests in one store transaction.
    pub(crate) max_batch: usize,
    /// Between `dhcp stats` log lines; None: never.
    pub(crate) stats_every: Option<Duration>,
    /// Between two logs of the same subnet's full pool.
    pub(crate) exhaustion_every: Duration,
    /// Build a [`crate::LeaseNote`] with each reply, for the lease log.
    pub(crate) log_leases: bool,
    /// Sharing the store with other servers (`[dhcp.ha]`).
    pub(crate) ha: Ha,
}

impl Subnet {
    /// True if `addr` is in one of the dynamic pools.
    pub(crate) fn in_pool(&self, addr: Ipv4Addr) -> bool {
        self.pools.iter().any(|(a, b)| (*a..=*b).contains(&addr))
    }

    /// True if `addr` is some reservation's fixed address.
    pub(crate) fn is_reserved(&self, addr: Ipv4Addr) -> bool {
        self.reserved.contains(&addr)
    }

    /// The reservation for this client, by MAC, client-id or circuit-id.
    pub(crate) fn reservation_for(&self, req: &Request) -> Option<&Reservation> {
        let client_id = req.option(code::CLIENT_ID);
        let circuit = req
            .option(code::RELAY_AGENT_INFO)
            .and_then(|i| relay_sub_option(i, 1));
        self.reservations.iter().find(|r| {
            r.mac.as_deref().is_some_and(|m| m == req.hwaddr())
                || r.client_id.is_some() && r.client_id.as_deref() == client_id
                || r.circuit_id.is_some() && r.circuit_id.as_deref() == circuit
        })
    }
}

impl Reservation {
    /// A reservation added through the admin API (address and host name only).
    pub(crate) fn from_api(address: Ipv4Addr, hostname: Option<String>) -> Self {
        Self {
            mac: None,
            client_id: None,
            circuit_id: None,
            address,
            hostname,
            boot: Boot::default(),
            options: Options::new(),
            attributes: None,
        }
    }

    /// True if this config-file reservation is the one of the client with
    /// hardware address `mac` holding `address` (by MAC when it has one,
    /// else by its fixed address).
    pub(crate) fn is_of(&self, mac: &[u8], address: Ipv4Addr) -> bool {
        match &self.mac {
            Some(m) => m == mac,
            None => self.address == address,
        }
    }
}

impl Class {
    /// True when every criterion of the class matches the request.
    pub(crate) fn matches(&self, req: &Request) -> bool {
        let mut any = false;
        if let Some(want) = &self.vendor_class {
            any = true;
            if !req
                .option(code::VENDOR_CLASS)
                .is_some_and(|v| v.starts_with(want))
            {
                return false;
            }
        }
        if let Some(want) = &self.user_class {
            any = true;
            if !req
                .option(code::USER_CLASS)
                .is_some_and(|v| user_class_matches(v, want))
            {
                return false;
            }
        }
        if !self.arch.is_empty() {
            any = true;
            // RFC 4578 §2.1: a list of 16-bit types; the first is the one in use.
            let arch = req
                .option(code::CLIENT_ARCH)
                .and_then(|v| v.get(..2))
                .and_then(|v| <[u8; 2]>::try_from(v).ok())
                .map(u16::from_be_bytes);
            if !arch.is_some_and(|a| self.arch.contains(&a)) {
                return false;
            }
        }
        let info = req.option(code::RELAY_AGENT_INFO);
        if let Some(want) = &self.circuit_id {
            any = true;
            if info.and_then(|i| relay_sub_option(i, 1)) != Some(want.as_slice()) {
                return false;
            }
        }
        if let Some(want) = &self.remote_id {
            any = true;
            if info.and_then(|i| relay_sub_option(i, 2)) != Some(want.as_slice()) {
                return false;
            }
        }
        any
    }
}

/// Option 77 is, per RFC 3004, a list of length-prefixed instances; iPXE and
/// others send the bare string. Either form matches.
fn user_class_matches(value: &[u8], want: &[u8]) -> bool {
    if value == want {
        return true;
    }
    let mut rest = value;
    while let [len, tail @ ..] = rest {
        let len = usize::from(*len);
        let Some(item) = tail.get(..len) else {
            return false;
        };
        if item == want {
            return true;
        }
        rest = tail.get(len..).unwrap_or_default();
    }
    false
}

fn parse_mac(key: &str, s: &str) -> Result<Vec<u8>, DhcpError> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let bytes: Result<Vec<u8>, _> = parts.iter().map(|p| u8::from_str_radix(p, 16)).collect();
    match bytes {
        Ok(b) if parts.iter().all(|p| p.len() == 2) && (1..=16).contains(&b.len()) => Ok(b),
        _ => Err(DhcpError::config(
            key,
            format!("{s:?} is not a hardware address; write it as aa:bb:cc:dd:ee:ff"),
        )),
    }
}

fn addrs(list: &[Ipv4Addr]) -> Vec<u8> {
    list.iter().flat_map(|a| a.octets()).collect()
}

/// Encodes an `options` table (RFC 2132 formats).
pub(crate) fn encode_options(key: &str, o: &OptionsConfig) -> Result<Options, DhcpError> {
    let mut out = Options::new();
    let text = |code: u8, v: &Option<String>, out: &mut Options| {
        if let Some(v) = v {
            out.insert(code, v.as_bytes().to_vec());
        }
    };
    text(12, &o.host_name, &mut out);
    text(15, &o.domain_name, &mut out);
    text(60, &o.vendor_class, &mut out);
    text(66, &o.tftp_server_name, &mut out);
    text(67, &o.bootfile_name, &mut out);
    if let Some(m) = o.subnet_mask {
        out.insert(1, m.octets().to_vec());
    }
    if let Some(t) = o.time_offset {
        out.insert(2, t.to_be_bytes().to_vec());
    }
    if let Some(b) = o.broadcast_address {
        out.insert(28, b.octets().to_vec());
    }
    for (code, list) in [
        (3u8, &o.routers),
        (4, &o.time_servers),
        (6, &o.domain_name_servers),
        (7, &o.log_servers),
        (42, &o.ntp_servers),
        (150, &o.tftp_server_addresses),
    ] {
        if !list.is_empty() {
            out.insert(code, addrs(list));
        }
    }
    if let Some(v) = &o.vendor_specific {
        if !o.vendor_suboptions.is_empty() {
            return Err(DhcpError::config(
                format!("{key}.vendor_specific"),
                "set either vendor_specific (raw option 43) or vendor_suboptions, not both",
            ));
        }
        out.insert(43, parse_bytes(&format!("{key}.vendor_specific"), v)?);
    }
    if !o.vendor_suboptions.is_empty() {
        let mut v = Vec::new();
        for (sub, value) in &o.vendor_suboptions {
            let k = format!("{key}.vendor_suboptions.{sub}");
            let sub: u8 = sub
                .parse()
                .ok()
                .filter(|s| (1..=254).contains(s))
                .ok_or_else(|| {
                    DhcpError::config(&k, "sub-option codes are numbers from 1 to 254")
                })?;
            let value = parse_bytes(&k, value)?;
            let len = u8::try_from(value.len())
                .map_err(|_| DhcpError::config(&k, "a sub-option holds at most 255 octets"))?;
            v.push(sub);
            v.push(len);
            v.extend_from_slice(&value);
        }
        out.insert(43, v);
    }
    if let Some(c) = &o.cablelabs_client_config {
        let k = format!("{key}.cablelabs_client_config");
        out.insert(
            code::CABLELABS_CLIENT_CONFIG,
            crate::cablelabs::encode_ccc(&k, c)?,
        );
    }
    if !o.vendor_identifying.is_empty() {
        let k = format!("{key}.vendor_identifying");
        out.insert(
            code::VENDOR_IDENTIFYING,
            crate::cablelabs::encode_vivso(&k, &o.vendor_identifying)?,
        );
    }
    for (c, value) in &o.raw {
        let k = format!("{key}.raw.{c}");
        let c: u8 = c
            .parse()
            .ok()
            .filter(|c| (1..=254).contains(c))
            .ok_or_else(|| DhcpError::config(&k, "option codes are numbers from 1 to 254"))?;
        if matches!(c, 50..=55 | 57 | 61 | 82) {
            return Err(DhcpError::config(
                &k,
                format!("option {c} is managed by the server and cannot be set"),
            ));
        }
        out.insert(c, parse_bytes(&k, value)?);
    }
    Ok(out)
}

fn boot(
    next_server: Option<Ipv4Addr>,
    server_name: &Option<String>,
    boot_file: &Option<String>,
) -> Boot {
    Boot {
        next_server,
        server_name: server_name.clone(),
        boot_file: boot_file.clone(),
    }
}

fn compile_class(i: usize, c: &ClassConfig) -> Result<Class, DhcpError> {
    let key = format!("dhcp.class[{i}]");
    let bytes = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| parse_bytes(&format!("{key}.{field}"), s))
            .transpose()
    };
    let class = Class {
        name: c.name.clone(),
        vendor_class: c.vendor_class.as_ref().map(|s| s.as_bytes().to_vec()),
        user_class: c.user_class.as_ref().map(|s| s.as_bytes().to_vec()),
        arch: c.arch.clone(),
        circuit_id: bytes("circuit_id", &c.circuit_id)?,
        remote_id: bytes("remote_id", &c.remote_id)?,
        lease_time: c.lease_time_secs,
        cap_circuit: c.max_leases_per_circuit_id,
        cap_remote: c.max_leases_per_remote_id,
        boot: boot(c.next_server, &c.server_name, &c.boot_file),
        options: encode_options(&format!("{key}.options"), &c.options)?,
    };
    if class.vendor_class.is_none()
        && class.user_class.is_none()
        && class.arch.is_empty()
        && class.circuit_id.is_none()
        && class.remote_id.is_none()
    {
        return Err(DhcpError::config(
            key,
            format!(
                "class {:?} has no match criterion; set vendor_class, user_class, arch, circuit_id or remote_id",
                c.name
            ),
        ));
    }
    Ok(class)
}

fn parse_pool(key: &str, net: Ipv4Net, s: &str) -> Result<(Ipv4Addr, Ipv4Addr), DhcpError> {
    let bad = || {
        let hosts = net.hosts();
        let (first, last) = (
            hosts.clone().next().unwrap_or(net.network()),
            hosts.last().unwrap_or(net.broadcast()),
        );
        DhcpError::config(
            key,
            format!(
                "{s:?} is not a range inside the subnet {net}: write \"FIRST-LAST\" with both ends between {first} and {last}"
            ),
        )
    };
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
    let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
    if a > b || !net.contains(&a) || !net.contains(&b) {
        return Err(bad());
    }
    if a == net.network() || (net.prefix_len() < 31 && b == net.broadcast()) {
        return Err(DhcpError::config(
            key,
            format!("{s:?} includes the network or broadcast address of {net}"),
        ));
    }
    Ok((a, b))
}

/// Most attributes one reservation may carry (as through the admin API).
const MAX_ATTRIBUTES: usize = 64;
/// Longest attribute value, in bytes.
const MAX_ATTRIBUTE_VALUE: usize = 1024;

/// Checks a reservation's `attributes`: names are identifiers (letters,
/// digits, `_`, not starting with a digit, at most 64 bytes) so templates
/// can write `reservation.attributes.NAME`; at most 64 of them, values at
/// most 1024 bytes.
fn check_attributes(
    key: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DhcpError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(DhcpError::config(
            key,
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (name, value) in attributes {
        let identifier = name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(DhcpError::config(
                format!("{key}.{name}"),
                "an attribute name is an identifier (letters, digits and _, not starting with a digit, at most 64 bytes)",
            ));
        }
        if value.len() > MAX_ATTRIBUTE_VALUE {
            return Err(DhcpError::config(
                format!("{key}.{name}"),
                format!("a value holds at most {MAX_ATTRIBUTE_VALUE} bytes"),
            ));
        }
    }
    Ok(attributes.clone())
}

fn compile_reservation(
    key: &str,
    net: Ipv4Net,
    r: &ReservationConfig,
) -> Result<Reservation, DhcpError> {
    if !net.contains(&r.address) {
        return Err(DhcpError::config(
            format!("{key}.address"),
            format!("{} is not inside the subnet {net}", r.address),
        ));
    }
    let res = Reservation {
        mac: r
            .mac
            .as_deref()
            .map(|m| parse_mac(&format!("{key}.mac"), m))
            .transpose()?,
        client_id: r
            .client_id
            .as_deref()
            .map(|c| parse_bytes(&format!("{key}.client_id"), c))
            .transpose()?,
        circuit_id: r
            .circuit_id
            .as_deref()
            .map(|c| parse_bytes(&format!("{key}.circuit_id"), c))
            .transpose()?,
        address: r.address,
        hostname: r.hostname.clone(),
        boot: boot(r.next_server, &None, &r.boot_file),
        options: encode_options(&format!("{key}.options"), &r.options)?,
        attributes: r
            .attributes
            .as_ref()
            .map(|a| check_attributes(&format!("{key}.attributes"), a))
            .transpose()?,
    };
    if res.mac.is_none() && res.client_id.is_none() && res.circuit_id.is_none() {
        return Err(DhcpError::config(
            key,
            "a reservation needs mac, client_id or circuit_id",
        ));
    }
    Ok(res)
}

fn compile_subnet(
    i: usize,
    s: &SubnetConfig,
    config: &DhcpConfig,
    classes: &[Class],
) -> Result<Subnet, DhcpError> {
    let key = format!("dhcp.subnet[{i}]");
    let pools = s
        .pools
        .iter()
        .enumerate()
        .map(|(j, p)| parse_pool(&format!("{key}.pools[{j}]"), s.subnet, p))
        .collect::<Result<Vec<_>, _>>()?;
    let server_id = s.server_id.or(config.server_id).ok_or_else(|| {
        DhcpError::config(
            format!("{key}.server_id"),
            format!(
                "subnet {:?} has no server id: set dhcp.server_id (or this subnet's server_id) to this server's address as clients and relays reach it",
                s.name
            ),
        )
    })?;
    if s.lease_time_secs < 4 {
        return Err(DhcpError::config(
            format!("{key}.lease_time_secs"),
            "lease time must be at least 4 seconds",
        ));
    }
    let lease = s.lease_time_secs;
    let renew = s.renew_time_secs.unwrap_or(lease / 2);
    let rebind = s
        .rebind_time_secs
        .unwrap_or_else(|| u32::try_from(u64::from(lease) * 7 / 8).unwrap_or(lease));
    // RFC 2131 §4.4.5: T1 < T2 < lease time.
    if !(renew < rebind && rebind < lease) {
        return Err(DhcpError::config(
            format!("{key}.renew_time_secs"),
            format!(
                "need renew ({renew}) < rebind ({rebind}) < lease time ({lease}), RFC 2131 §4.4.5"
            ),
        ));
    }
    let class_idx = s
        .classes
        .iter()
        .map(|name| {
            classes.iter().position(|c| &c.name == name).ok_or_else(|| {
                DhcpError::config(
                    format!("{key}.classes"),
                    format!("no [[dhcp.class]] is named {name:?}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reservations = s
        .reservations
        .iter()
        .enumerate()
        .map(|(j, r)| compile_reservation(&format!("{key}.reservation[{j}]"), s.subnet, r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut options = encode_options(&format!("{key}.options"), &s.options)?;
    options
        .entry(code::SUBNET_MASK)
        .or_insert_with(|| s.subnet.netmask().octets().to_vec());
    if let Some(iface) = &s.interface
        && !config.interfaces.is_empty()
        && !config.interfaces.contains(iface)
    {
        return Err(DhcpError::config(
            format!("{key}.interface"),
            format!("{iface:?} is not in dhcp.interfaces, so no socket would receive its clients"),
        ));
    }
    Ok(Subnet {
        name: s.name.clone(),
        net: s.subnet,
        pools,
        interface: s.interface.clone(),
        relays: s.relays.clone(),
        server_id,
        lease_time: lease,
        renew_time: renew,
        rebind_time: rebind,
        classes: class_idx,
        bootp: s.bootp,
        cap_circuit: s.max_leases_per_circuit_id,
        cap_remote: s.max_leases_per_remote_id,
        boot: boot(s.next_server, &s.server_name, &s.boot_file),
        options,
        reserved: reservations.iter().map(|r| r.address).collect(),
        reservations,
    })
}

impl DhcpConfig {
    /// Checks the section (pools inside subnets, known class names, option
    /// values, a server id for every subnet) without starting anything: it
    /// is compiled exactly as at start, and the result is dropped.
    pub fn validate(&self) -> Result<(), DhcpError> {
        Plan::compile(self).map(|_| ())
    }
}

impl Plan {
    /// Compiles and validates the section.
    pub(crate) fn compile(config: &DhcpConfig) -> Result<Self, DhcpError> {
        let classes = config
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| compile_class(i, c))
            .collect::<Result<Vec<_>, _>>()?;
        let subnets = config
            .subnets
            .iter()
            .enumerate()
            .map(|(i, s)| compile_subnet(i, s, config, &classes))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names = HashSet::new();
        for (i, s) in subnets.iter().enumerate() {
            if !names.insert(s.name.as_str()) {
                return Err(DhcpError::config(
                    format!("dhcp.subnet[{i}].name"),
                    format!(
                        "two subnets are named {:?}; names key the lease store",
                        s.name
                    ),
                ));
            }
        }
        for (i, a) in subnets.iter().enumerate() {
            for b in subnets.iter().skip(i + 1) {
                for pa in &a.pools {
                    for pb in &b.pools {
                        if pa.0 <= pb.1 && pb.0 <= pa.1 {
                            return Err(DhcpError::config(
                                format!("dhcp.subnet[{i}].pools"),
                                format!(
                                    "pool {}-{} of {:?} overlaps pool {}-{} of {:?}",
                                    pa.0, pa.1, a.name, pb.0, pb.1, b.name
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if config.rate_limit.per_second.is_nan()
            || config.rate_limit.per_second <= 0.0
            || config.rate_limit.burst == 0
        {
            return Err(DhcpError::config(
                "dhcp.rate_limit",
                "per_second and burst must both be above 0",
            ));
        }
        if config.max_batch == 0 {
            return Err(DhcpError::config("dhcp.max_batch", "must be at least 1"));
        }
        Ok(Self {
            subnets,
            classes,
            options: encode_options("dhcp.options", &config.options)?,
            offer_hold: config.offer_hold_secs.max(1),
            quarantine: config.decline_quarantine_secs,
            rate_per_sec: config.rate_limit.per_second,
            rate_burst: config.rate_limit.burst,
            max_hops: config.max_hops,
            max_batch: config.max_batch,
            stats_every: (config.stats_interval_secs > 0)
                .then(|| Duration::from_secs(config.stats_interval_secs)),
            exhaustion_every: Duration::from_secs(config.exhaustion_log_secs),
            log_leases: config.log_leases,
            ha: Ha::compile(&config.ha)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DhcpConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn pool_outside_the_subnet_names_the_key() {
        let c = config(
            "server_id = \"10.0.0.1\"\n[[subnet]]\nname = \"a\"\nsubnet = \"10.0.0.0/24\"\npools = [\"10.0.1.5-10.0.1.9\"]\n",
        );
        let err = Plan::compile(&c).unwrap_err().to_string();
        assert!(err.starts_with("dhcp.subnet[0].pools[0]"), "{err}");
    }

    #[test]
    fn reservation_attributes_are_kept_and_their_names_checked() {
        let net =
            "server_id = \"10.0.0.1\"\n[[subnet]]\nname = \"cable\"\nsubnet = \"10.0.0.0/24\"\n";
        let c = config(&format!(
            "{net}[[subnet.reservation]]\nmac = \"02:00:00:00:00:01\"\naddress = \"10.0.0.5\"\nattributes = {{ tier = \"gold\", max_cpe = \"4\" }}\n[[subnet.reservation]]\ncircuit_id = \"port-7\"\naddress = \"10.0.0.6\"\nattributes = {{}}\n[[subnet.reservation]]\nmac = \"02:00:00:00:00:03\"\naddress = \"10.0.0.7\"\n"
        ));
        let plan = Plan::compile(&c).unwrap();
        let r = &plan.subnets[0].reservations;
        let gold = r[0].attributes.as_ref().unwrap();
        assert_eq!(gold["tier"], "gold");
        assert_eq!(gold["max_cpe"], "4");
        assert!(r[0].is_of(&[2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 99)));
        assert!(!r[0].is_of(&[2, 0, 0, 0, 0, 9], Ipv4Addr::new(10, 0, 0, 5)));
        // Without a MAC the fixed address says whose it is.
        assert!(r[1].is_of(&[2, 0, 0, 0, 0, 9], Ipv4Addr::new(10, 0, 0, 6)));
        assert_eq!(r[1].attributes.as_ref().map(BTreeMap::len), Some(0));
        assert_eq!(r[2].attributes, None);
        for (bad, why) in [
            ("{ \"bad-name\" = \"1\" }", "identifier"),
            ("{ 9lives = \"1\" }", "identifier"),
            (
                &format!("{{ tier = \"{}\" }}", "x".repeat(1025)),
                "1024 bytes",
            ),
        ] {
            let c = config(&format!(
                "{net}[[subnet.reservation]]\nmac = \"02:00:00:00:00:01\"\naddress = \"10.0.0.5\"\nattributes = {bad}\n"
            ));
            let err = Plan::compile(&c).unwrap_err().to_string();
            assert!(
                err.starts_with("dhcp.subnet[0].reservation[0].attributes.") && err.contains(why),
                "{err}"
            );
        }
    }

    #[test]
    fn subnet_without_server_id_is_refused() {
        let c = config("[[subnet]]\nname = \"a\"\nsubnet = \"10.0.0.0/24\"\n");
        assert!(
            Plan::compile(&c)
                .unwrap_err()
                .to_string()
                .contains("server id")
        );
    }

    #[test]
    fn unknown_class_name_is_refused() {
        let c = config(
            "server_id = \"10.0.0.1\"\n[[subnet]]\nname = \"a\"\nsubnet = \"10.0.0.0/24\"\nclasses = [\"x\"]\n",
        );
        assert!(Plan::compile(&c).unwrap_err().to_string().contains("\"x\""));
    }

    #[test]
    fn options_encode_in_rfc_2132_formats() {
        let o: OptionsConfig = toml::from_str(
            "time_offset = -3600\nrouters = [\"10.0.0.1\", \"10.0.0.2\"]\nvendor_suboptions = { \"1\" = \"hex:0a0b\", \"2\" = \"hi\" }\nraw = { \"224\" = \"hex:ff\" }\n",
        )
        .unwrap();
        let enc = encode_options("o", &o).unwrap();
        assert_eq!(enc[&2], (-3600i32).to_be_bytes().to_vec());
        assert_eq!(enc[&3], vec![10, 0, 0, 1, 10, 0, 0, 2]);
        assert_eq!(enc[&43], vec![1, 2, 0x0a, 0x0b, 2, 2, b'h', b'i']);
        assert_eq!(enc[&224], vec![0xff]);
    }

    #[test]
    fn managed_options_cannot_be_set_raw() {
        let o: OptionsConfig = toml::from_str("raw = { \"54\" = \"hex:0a000001\" }\n").unwrap();
        assert!(encode_options("o", &o).is_err());
    }

    #[test]
    fn class_options_122_and_125_are_encoded() {
        let c = config(
            "server_id = \"10.0.0.1\"\n[[class]]\nname = \"mta\"\nvendor_class = \"pktc\"\noptions = { cablelabs_client_config = { primary_dhcp_server = \"10.0.0.1\" }, vendor_identifying = [{ enterprise = 4491, mib_environment = 1 }] }\n",
        );
        let plan = Plan::compile(&c).unwrap();
        assert_eq!(plan.classes[0].options[&122], vec![1, 4, 10, 0, 0, 1]);
        assert_eq!(
            plan.classes[0].options[&125],
            vec![0, 0, 0x11, 0x8b, 3, 4, 1, 1]
        );
    }

    #[test]
    fn user_class_matches_bare_and_rfc_3004_forms() {
        assert!(user_class_matches(b"iPXE", b"iPXE"));
        assert!(user_class_matches(b"\x04iPXE", b"iPXE"));
        assert!(!user_class_matches(b"\x09somethingx", b"iPXE"));
    }
}
