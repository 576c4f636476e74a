//! The compiled `[dhcp6]` configuration: addresses as numbers, options
//! encoded once, every value checked ([`Plan::compile`]).

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv6Addr;
use std::time::Duration;

use ipnet::Ipv6Net;

use crate::Dhcp6Error;
use crate::config::{Dhcp6Config, Options6Config, Reservation6Config};
use crate::wire::{encode_names, opt};

/// The CableLabs enterprise number.
pub(crate) const CABLELABS: u32 = 4491;

/// Encoded options keyed by (code, enterprise for option 17, else 0); a more
/// specific set (reservation, class, subnet) replaces a key of a broader one.
pub(crate) type OptionSet = BTreeMap<(u16, u32), Vec<u8>>;

/// An address range or a prefix pool as numbers.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    /// First address (or first prefix's start).
    pub(crate) first: u128,
    /// Last address (or last prefix's start).
    pub(crate) last: u128,
    /// 1 for addresses; the size of one delegated prefix for prefixes.
    pub(crate) step: u128,
    /// 128, or the delegated length.
    pub(crate) len: u8,
}

impl Pool {
    pub(crate) fn contains(&self, a: u128) -> bool {
        a >= self.first && a <= self.last && (a - self.first).is_multiple_of(self.step)
    }
}

/// How a reservation recognises its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResKey {
    Duid(Vec<u8>),
    Mac(Vec<u8>),
    RemoteId(Vec<u8>),
}

/// A compiled reservation.
#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub(crate) key: ResKey,
    pub(crate) address: Option<Ipv6Addr>,
    pub(crate) prefix: Option<(Ipv6Addr, u8)>,
    pub(crate) options: OptionSet,
}

/// A compiled class.
#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub(crate) name: String,
    pub(crate) vendor_class: Option<Vec<u8>>,
    pub(crate) enterprise: Option<u32>,
    pub(crate) user_class: Option<Vec<u8>>,
    pub(crate) arch: Vec<u16>,
    pub(crate) interface_id: Option<Vec<u8>>,
    pub(crate) remote_id: Option<Vec<u8>>,
    pub(crate) cap_remote: Option<u32>,
    pub(crate) cap_interface: Option<u32>,
    pub(crate) options: OptionSet,
}

/// A compiled subnet.
#[derive(Debug, Clone)]
pub(crate) struct Subnet {
    pub(crate) name: String,
    pub(crate) prefix: Ipv6Net,
    pub(crate) interface: Option<String>,
    pub(crate) interface_id: Option<Vec<u8>>,
    pub(crate) pools: Vec<Pool>,
    pub(crate) pd_pools: Vec<Pool>,
    pub(crate) classes: Vec<String>,
    pub(crate) cap_remote: Option<u32>,
    pub(crate) cap_interface: Option<u32>,
    pub(crate) preferred: u32,
    pub(crate) valid: u32,
    pub(crate) options: OptionSet,
    pub(crate) reservations: Vec<Reservation>,
    /// Every reserved address and prefix start, to keep them out of the pools.
    pub(crate) reserved: HashSet<u128>,
}

/// The whole compiled section.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) rapid_commit: bool,
    pub(crate) unicast: Option<Ipv6Addr>,
    pub(crate) offer_hold: u64,
    pub(crate) quarantine: u64,
    pub(crate) max_hops: u8,
    pub(crate) max_batch: usize,
    pub(crate) rate: (f64, f64),
    pub(crate) options: OptionSet,
    pub(crate) classes: Vec<Class>,
    pub(crate) subnets: Vec<Subnet>,
    pub(crate) stats_every: Option<Duration>,
    /// `[dhcp6.ddns]`: names for bindings, and option 39 in replies.
    pub(crate) ddns: Option<crate::ddns::Ddns6Config>,
}

/// Text or `hex:...` → bytes.
pub(crate) fn text_or_hex(key: &str, s: &str) -> Result<Vec<u8>, Dhcp6Error> {
    match s.strip_prefix("hex:") {
        Some(h) => hex_bytes(key, h),
        None => Ok(s.as_bytes().to_vec()),
    }
}

/// Hex with optional `:` or `-` separators → bytes.
pub(crate) fn hex_bytes(key: &str, s: &str) -> Result<Vec<u8>, Dhcp6Error> {
    let clean: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect();
    hex::decode(&clean).map_err(|e| Dhcp6Error::config(key, format!("{s:?} is not hex: {e}")))
}

fn parse_net(key: &str, s: &str) -> Result<Ipv6Net, Dhcp6Error> {
    let net: Ipv6Net = s
        .parse()
        .map_err(|e| Dhcp6Error::config(key, format!("{s:?} is not an IPv6 prefix: {e}")))?;
    if net.trunc() != net {
        return Err(Dhcp6Error::config(
            key,
            format!("{s:?} has host bits set; write {}", net.trunc()),
        ));
    }
    Ok(net)
}

fn addrs(list: &[Ipv6Addr]) -> Vec<u8> {
    list.iter().flat_map(|a| a.octets()).collect()
}

/// Encodes one option set.
pub(crate) fn encode_options(key: &str, o: &Options6Config) -> Result<OptionSet, Dhcp6Error> {
    let mut set = OptionSet::new();
    if !o.dns_servers.is_empty() {
        set.insert((opt::DNS_SERVERS, 0), addrs(&o.dns_servers));
    }
    if !o.domain_search.is_empty() {
        let names = encode_names(&o.domain_search).ok_or_else(|| {
            Dhcp6Error::config(
                format!("{key}.domain_search"),
                "a name has an empty label or one over 63 characters",
            )
        })?;
        set.insert((opt::DOMAIN_LIST, 0), names);
    }
    if !o.sntp_servers.is_empty() {
        set.insert((opt::SNTP_SERVERS, 0), addrs(&o.sntp_servers));
    }
    if !o.ntp_servers.is_empty() {
        // RFC 5908 §4: sub-option 1 (NTP_SUBOPTION_SRV_ADDR) per server.
        let mut d = Vec::new();
        for a in &o.ntp_servers {
            crate::wire::put_option(&mut d, 1, &a.octets());
        }
        set.insert((opt::NTP_SERVER, 0), d);
    }
    if let Some(t) = o.info_refresh_secs {
        set.insert((opt::INFORMATION_REFRESH_TIME, 0), t.to_be_bytes().to_vec());
    }
    if let Some(p) = o.preference {
        set.insert((opt::PREFERENCE, 0), vec![p]);
    }
    if let Some(u) = &o.bootfile_url {
        set.insert((opt::BOOTFILE_URL, 0), u.as_bytes().to_vec());
    }
    if let Some(cl) = &o.cablelabs {
        let mut d = CABLELABS.to_be_bytes().to_vec();
        let sub = |d: &mut Vec<u8>, code: u16, data: &[u8]| crate::wire::put_option(d, code, data);
        if !cl.tftp_servers.is_empty() {
            sub(&mut d, 32, &addrs(&cl.tftp_servers));
        }
        if let Some(f) = &cl.config_file {
            sub(&mut d, 33, f.as_bytes());
        }
        if !cl.syslog_servers.is_empty() {
            sub(&mut d, 34, &addrs(&cl.syslog_servers));
        }
        if !cl.time_servers.is_empty() {
            sub(&mut d, 37, &addrs(&cl.time_servers));
        }
        if let Some(off) = cl.time_offset {
            sub(&mut d, 38, &off.to_be_bytes());
        }
        set.insert((opt::VENDOR_OPTS, CABLELABS), d);
    }
    for (i, v) in o.vendor.iter().enumerate() {
        let k = format!("{key}.vendor[{i}].data");
        let data = hex_bytes(&k, &v.data)?;
        if crate::wire::Options::parse(&data).is_err() {
            return Err(Dhcp6Error::config(
                k,
                "not a run of sub-options (code, length, data)",
            ));
        }
        let mut d = v.enterprise.to_be_bytes().to_vec();
        d.extend_from_slice(&data);
        set.insert((opt::VENDOR_OPTS, v.enterprise), d);
    }
    Ok(set)
}

fn parse_range(key: &str, s: &str, net: &Ipv6Net) -> Result<Pool, Dhcp6Error> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| Dhcp6Error::config(key, format!("{s:?}: write a range as first-last")))?;
    let p = |x: &str| -> Result<Ipv6Addr, Dhcp6Error> {
        x.trim()
            .parse()
            .map_err(|e| Dhcp6Error::config(key, format!("{x:?} is not an IPv6 address: {e}")))
    };
    let (first, last) = (p(a)?, p(b)?);
    if u128::from(first) > u128::from(last) {
        return Err(Dhcp6Error::config(
            key,
            format!("{s:?}: first is above last"),
        ));
    }
    if !net.contains(&first) || !net.contains(&last) {
        return Err(Dhcp6Error::config(
            key,
            format!("{s:?} is not inside {net}"),
        ));
    }
    Ok(Pool {
        first: first.into(),
        last: last.into(),
        step: 1,
        len: 128,
    })
}

fn reservation(key: &str, r: &Reservation6Config, pd: &[Pool]) -> Result<Reservation, Dhcp6Error> {
    let ids = [r.duid.is_some(), r.hwaddr.is_some(), r.remote_id.is_some()];
    if ids.iter().filter(|x| **x).count() != 1 {
        return Err(Dhcp6Error::config(
            key,
            "give exactly one of duid, hwaddr, remote_id",
        ));
    }
    let rkey = if let Some(d) = &r.duid {
        ResKey::Duid(hex_bytes(&format!("{key}.duid"), d)?)
    } else if let Some(h) = &r.hwaddr {
        ResKey::Mac(hex_bytes(&format!("{key}.hwaddr"), h)?)
    } else {
        ResKey::RemoteId(text_or_hex(
            &format!("{key}.remote_id"),
            r.remote_id.as_deref().unwrap_or_default(),
        )?)
    };
    let prefix = match &r.prefix {
        Some(p) => {
            let net = parse_net(&format!("{key}.prefix"), p)?;
            if pd.iter().any(|pool| {
                let s = u128::from(net.network());
                s >= pool.first && s <= pool.last && net.prefix_len() != pool.len
            }) {
                return Err(Dhcp6Error::config(
                    format!("{key}.prefix"),
                    "inside a prefix pool but not of its delegated length",
                ));
            }
            Some((net.network(), net.prefix_len()))
        }
        None => None,
    };
    if r.address.is_none() && prefix.is_none() {
        return Err(Dhcp6Error::config(
            key,
            "reserves neither address nor prefix",
        ));
    }
    Ok(Reservation {
        key: rkey,
        address: r.address,
        prefix,
        options: encode_options(&format!("{key}.options"), &r.options)?,
    })
}

impl Dhcp6Config {
    /// Checks the section as `headend serve` would compile it.
    pub fn validate(&self) -> Result<(), Dhcp6Error> {
        Plan::compile(self).map(|_| ())
    }
}

impl Plan {
    /// Compiles and checks the section; errors name the key at fault.
    pub(crate) fn compile(c: &Dhcp6Config) -> Result<Self, Dhcp6Error> {
        if c.max_hops == 0 || c.max_hops > crate::wire::HOP_COUNT_LIMIT {
            return Err(Dhcp6Error::config("dhcp6.max_hops", "must be 1 to 8"));
        }
        if c.valid_secs < c.preferred_secs || c.valid_secs == 0 {
            return Err(Dhcp6Error::config(
                "dhcp6.valid_secs",
                "must be above 0 and at least preferred_secs",
            ));
        }
        let mut classes = Vec::new();
        let mut names = HashSet::new();
        for (i, k) in c.classes.iter().enumerate() {
            let key = format!("dhcp6.class[{i}]");
            if !names.insert(k.name.clone()) {
                return Err(Dhcp6Error::config(
                    format!("{key}.name"),
                    format!("class {:?} is defined twice", k.name),
                ));
            }
            classes.push(Class {
                name: k.name.clone(),
                vendor_class: k.vendor_class.as_ref().map(|v| v.as_bytes().to_vec()),
                enterprise: k.enterprise,
                user_class: k.user_class.as_ref().map(|v| v.as_bytes().to_vec()),
                arch: k.arch.clone(),
                interface_id: k
                    .interface_id
                    .as_deref()
                    .map(|v| text_or_hex(&format!("{key}.interface_id"), v))
                    .transpose()?,
                remote_id: k
                    .remote_id
                    .as_deref()
                    .map(|v| text_or_hex(&format!("{key}.remote_id"), v))
                    .transpose()?,
                cap_remote: k.max_clients_per_remote_id,
                cap_interface: k.max_clients_per_interface_id,
                options: encode_options(&format!("{key}.options"), &k.options)?,
            });
        }
        let mut subnets = Vec::new();
        let mut subnet_names = HashSet::new();
        let mut ranges: Vec<(u128, u128, String)> = Vec::new();
        for (i, s) in c.subnets.iter().enumerate() {
            let key = format!("dhcp6.subnet[{i}]");
            if !subnet_names.insert(s.name.clone()) {
                return Err(Dhcp6Error::config(
                    format!("{key}.name"),
                    format!("subnet {:?} is defined twice", s.name),
                ));
            }
            let prefix = parse_net(&format!("{key}.prefix"), &s.prefix)?;
            let mut pools = Vec::new();
            for (j, p) in s.pools.iter().enumerate() {
                let k = format!("{key}.pools[{j}]");
                let pool = parse_range(&k, p, &prefix)?;
                ranges.push((pool.first, pool.last, k));
                pools.push(pool);
            }
            let mut pd_pools = Vec::new();
            for (j, p) in s.pd_pools.iter().enumerate() {
                let k = format!("{key}.pd_pools[{j}]");
                let net = parse_net(&format!("{k}.prefix"), &p.prefix)?;
                if p.delegated_len < net.prefix_len() || p.delegated_len > 128 {
                    return Err(Dhcp6Error::config(
                        format!("{k}.delegated_len"),
                        format!("must be between {} and 128", net.prefix_len()),
                    ));
                }
                let step = 1u128 << (128 - u32::from(p.delegated_len)).min(127);
                let step = if p.delegated_len == 0 {
                    u128::MAX
                } else {
                    step
                };
                let first = u128::from(net.network());
                let last_addr = u128::from(net.broadcast());
                let pool = Pool {
                    first,
                    last: last_addr - (step - 1).min(last_addr - first),
                    step,
                    len: p.delegated_len,
                };
                ranges.push((first, last_addr, k));
                pd_pools.push(pool);
            }
            for (c2, name) in s.classes.iter().enumerate() {
                if !names.contains(name) {
                    return Err(Dhcp6Error::config(
                        format!("{key}.classes[{c2}]"),
                        format!("no [[dhcp6.class]] is named {name:?}"),
                    ));
                }
            }
            let mut reservations = Vec::new();
            let mut reserved = HashSet::new();
            for (j, r) in s.reservations.iter().enumerate() {
                let res = reservation(&format!("{key}.reservations[{j}]"), r, &pd_pools)?;
                if let Some(a) = res.address {
                    if !prefix.contains(&a) {
                        return Err(Dhcp6Error::config(
                            format!("{key}.reservations[{j}].address"),
                            format!("{a} is not inside {prefix}"),
                        ));
                    }
                    reserved.insert(u128::from(a));
                }
                if let Some((p, _)) = res.prefix {
                    reserved.insert(u128::from(p));
                }
                reservations.push(res);
            }
            let interface_id = s
                .interface_id
                .as_deref()
                .map(|v| text_or_hex(&format!("{key}.interface_id"), v))
                .transpose()?;
            let preferred = s.preferred_secs.unwrap_or(c.preferred_secs);
            let valid = s.valid_secs.unwrap_or(c.valid_secs);
            if valid < preferred || valid == 0 {
                return Err(Dhcp6Error::config(
                    format!("{key}.valid_secs"),
                    "must be above 0 and at least the preferred lifetime",
                ));
            }
            subnets.push(Subnet {
                name: s.name.clone(),
                prefix,
                interface: s.interface.clone(),
                interface_id,
                pools,
                pd_pools,
                classes: s.classes.clone(),
                cap_remote: s.max_clients_per_remote_id,
                cap_interface: s.max_clients_per_interface_id,
                preferred,
                valid,
                options: encode_options(&format!("{key}.options"), &s.options)?,
                reservations,
                reserved,
            });
        }
        ranges.sort();
        for w in ranges.windows(2) {
            if let [a, b] = w
                && b.0 <= a.1
            {
                return Err(Dhcp6Error::config(
                    &b.2,
                    format!("overlaps {}: every address belongs to one pool", a.2),
                ));
            }
        }
        Ok(Self {
            rapid_commit: c.rapid_commit,
            unicast: c.unicast,
            offer_hold: c.offer_hold_secs,
            quarantine: c.decline_quarantine_secs,
            max_hops: c.max_hops,
            max_batch: c.max_batch.max(1),
            rate: (c.rate_limit.per_second, f64::from(c.rate_limit.burst)),
            options: encode_options("dhcp6.options", &c.options)?,
            classes,
            subnets,
            stats_every: Some(Duration::from_secs(300)),
            ddns: c.ddns.clone(),
        })
    }
}
