//! The `[dhcp6]` section of headend.toml.
//!
//! ```toml
//! [dhcp6]
//! interfaces = ["eth1"]            # one socket each, joined to ff02::1:2
//! rapid_commit = true              # answer SOLICIT + option 14 with REPLY
//! options = { dns_servers = ["2001:db8::53"], domain_search = ["example.net"] }
//!
//! [[dhcp6.class]]
//! name = "docsis"
//! vendor_class = "docsis3.0"       # option 16 data item starts with this
//! enterprise = 4491                # option 16 enterprise number
//! options.cablelabs = { tftp_servers = ["2001:db8::69"], config_file = "modem.cfg", time_servers = ["2001:db8::37"], time_offset = -18000 }
//!
//! [[dhcp6.subnet]]
//! name = "cpe"
//! prefix = "2001:db8:1::/64"
//! interface = "eth1"               # direct clients on this interface
//! pools = ["2001:db8:1::1000-2001:db8:1::1fff"]
//! pd_pools = [{ prefix = "2001:db8:100::/40", delegated_len = 56 }]
//! reservations = [{ duid = "00:03:00:01:02:aa:00:00:00:01", address = "2001:db8:1::10" }]
//!
//! [dhcp6.ddns]                     # names for IA_NA bindings (see crate::ddns)
//! forward_zone = "cpe.isp.example."
//! reverse_zones = ["1.0.0.8.b.d.0.1.0.0.2.ip6.arpa."]
//! ```

use std::net::Ipv6Addr;

use serde::Deserialize;

/// Configuration of the DHCPv6 service (`[dhcp6]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dhcp6Config {
    /// Interfaces to serve (SO_BINDTODEVICE, ff02::1:2 joined on each).
    /// Empty: one socket on every interface, for relayed clients only.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// UDP port (547; change only for experiments).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The server DUID as hex (`00:04:...`); default: generated once and
    /// kept in the state directory (`dhcp6-server-duid`).
    pub server_duid: Option<String>,
    /// Answer a SOLICIT that carries Rapid Commit (option 14) with a REPLY
    /// (RFC 8415 §18.3.1).
    #[serde(default)]
    pub rapid_commit: bool,
    /// Server unicast (option 12): clients may then send to this address.
    /// Off by default: unicast requests get UseMulticast.
    pub unicast: Option<Ipv6Addr>,
    /// Preferred lifetime of addresses and prefixes, seconds.
    #[serde(default = "default_preferred")]
    pub preferred_secs: u32,
    /// Valid lifetime, seconds.
    #[serde(default = "default_valid")]
    pub valid_secs: u32,
    /// Seconds an advertised address stays held for its client.
    #[serde(default = "default_offer_hold")]
    pub offer_hold_secs: u64,
    /// Seconds a declined address is kept out of the pool.
    #[serde(default = "default_quarantine")]
    pub decline_quarantine_secs: u64,
    /// Relay nesting deeper than this is dropped (at most 8).
    #[serde(default = "default_max_hops")]
    pub max_hops: u8,
    /// Most requests handled in one store transaction (group commit).
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Per-client (DUID) rate limit.
    #[serde(default)]
    pub rate_limit: RateLimit6Config,
    /// Options for every client (subnets, classes, reservations override).
    #[serde(default)]
    pub options: Options6Config,
    /// Client classes (`[[dhcp6.class]]`), matched in order.
    #[serde(default, rename = "class")]
    pub classes: Vec<Class6Config>,
    /// Subnets (`[[dhcp6.subnet]]`).
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<Subnet6Config>,
    /// DNS names (AAAA, `ip6.arpa` PTR) that follow IA_NA bindings
    /// (`[dhcp6.ddns]`, the Client FQDN option 39), served by this
    /// process's `[dns]`.
    pub ddns: Option<crate::ddns::Ddns6Config>,
}

/// `[dhcp6.rate_limit]`: a token bucket per client DUID.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit6Config {
    /// Sustained requests per second per client.
    #[serde(default = "default_rate")]
    pub per_second: f64,
    /// Burst size.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

impl Default for RateLimit6Config {
    fn default() -> Self {
        Self {
            per_second: default_rate(),
            burst: default_burst(),
        }
    }
}

/// Options a subnet, class, reservation or the whole section gives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options6Config {
    /// Option 23.
    #[serde(default)]
    pub dns_servers: Vec<Ipv6Addr>,
    /// Option 24.
    #[serde(default)]
    pub domain_search: Vec<String>,
    /// Option 31 (SNTP).
    #[serde(default)]
    pub sntp_servers: Vec<Ipv6Addr>,
    /// Option 56 (NTP server addresses, sub-option 1).
    #[serde(default)]
    pub ntp_servers: Vec<Ipv6Addr>,
    /// Option 32 (information refresh time, seconds).
    pub info_refresh_secs: Option<u32>,
    /// Option 7 (server preference, 0-255) in ADVERTISE.
    pub preference: Option<u8>,
    /// Option 59 (boot file URL, RFC 5970).
    pub bootfile_url: Option<String>,
    /// Option 17 with CableLabs (4491) sub-options.
    pub cablelabs: Option<CableLabs6Config>,
    /// Option 17 of other enterprises, raw.
    #[serde(default)]
    pub vendor: Vec<VendorRawConfig>,
}

/// CableLabs vendor-specific sub-options (CL-SP-CANN-DHCP-Reg) in option 17.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CableLabs6Config {
    /// Sub-option 32: TFTP servers.
    #[serde(default)]
    pub tftp_servers: Vec<Ipv6Addr>,
    /// Sub-option 33: configuration file name.
    pub config_file: Option<String>,
    /// Sub-option 34: syslog servers.
    #[serde(default)]
    pub syslog_servers: Vec<Ipv6Addr>,
    /// Sub-option 37: RFC 868 time servers.
    #[serde(default)]
    pub time_servers: Vec<Ipv6Addr>,
    /// Sub-option 38: time offset from UTC, seconds.
    pub time_offset: Option<i32>,
}

/// Option 17 for another enterprise: its number and its sub-options as hex.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorRawConfig {
    /// IANA enterprise number.
    pub enterprise: u32,
    /// The sub-options (code, length, data), as hex.
    pub data: String,
}

/// One client class (`[[dhcp6.class]]`): every criterion given must match;
/// a class without criteria matches nobody.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class6Config {
    /// Its name, for `subnet.classes` and the binding's `class`.
    pub name: String,
    /// An option 16 vendor-class data item starts with this (`docsis3.0`).
    pub vendor_class: Option<String>,
    /// Option 16's enterprise number is this (4491 for CableLabs).
    pub enterprise: Option<u32>,
    /// An option 15 user-class item equals this.
    pub user_class: Option<String>,
    /// Option 61 (client architecture) holds one of these.
    #[serde(default)]
    pub arch: Vec<u16>,
    /// The nearest relay's interface-id (18) equals this (text or `hex:`).
    pub interface_id: Option<String>,
    /// The nearest relay's remote-id (37, without its enterprise) equals this.
    pub remote_id: Option<String>,
    /// Cap on clients (DUIDs) with live bindings behind one relay
    /// remote-id, for this class's clients (the subnet's cap applies too).
    pub max_clients_per_remote_id: Option<u32>,
    /// Cap on clients with live bindings behind one relay interface-id,
    /// for this class's clients.
    pub max_clients_per_interface_id: Option<u32>,
    /// Options for this class's clients (over the subnet's).
    #[serde(default)]
    pub options: Options6Config,
}

/// A delegated-prefix pool: `prefix` cut into `delegated_len` prefixes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdPoolConfig {
    /// The pool, e.g. `2001:db8:100::/40`.
    pub prefix: String,
    /// Length of each delegated prefix, e.g. 56.
    pub delegated_len: u8,
}

/// A reservation: by DUID, MAC (option 79 or DUID-LL/LLT) or relay
/// remote-id; an address, a prefix or both.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation6Config {
    /// The client's DUID as hex.
    pub duid: Option<String>,
    /// The client's link-layer address (`02:aa:00:00:00:01`).
    pub hwaddr: Option<String>,
    /// The relay remote-id (text or `hex:`).
    pub remote_id: Option<String>,
    /// The reserved address (IA_NA).
    pub address: Option<Ipv6Addr>,
    /// The reserved prefix (IA_PD), e.g. `2001:db8:200::/56`.
    pub prefix: Option<String>,
    /// Options for this client (over its class's).
    #[serde(default)]
    pub options: Options6Config,
}

/// One subnet (`[[dhcp6.subnet]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet6Config {
    /// Its name (stored with each binding).
    pub name: String,
    /// The on-link prefix, e.g. `2001:db8:1::/64`; a relay's link-address
    /// inside it selects the subnet (RFC 8415 §13.1).
    pub prefix: String,
    /// Direct clients arriving on this interface are in this subnet.
    pub interface: Option<String>,
    /// Relayed clients whose nearest relay sends this interface-id are in
    /// this subnet (when the link-address does not decide).
    pub interface_id: Option<String>,
    /// Address ranges `first-last`.
    #[serde(default)]
    pub pools: Vec<String>,
    /// Prefix-delegation pools.
    #[serde(default)]
    pub pd_pools: Vec<PdPoolConfig>,
    /// Only clients of these classes (empty: everyone).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Cap on clients (DUIDs) with live bindings behind one relay
    /// remote-id (option 37): a new client over it is not answered; clients
    /// that hold a binding keep renewing it.
    pub max_clients_per_remote_id: Option<u32>,
    /// Cap on clients with live bindings behind one relay interface-id
    /// (option 18).
    pub max_clients_per_interface_id: Option<u32>,
    /// Preferred lifetime here, seconds.
    pub preferred_secs: Option<u32>,
    /// Valid lifetime here, seconds.
    pub valid_secs: Option<u32>,
    /// Options for this subnet.
    #[serde(default)]
    pub options: Options6Config,
    /// Reservations.
    #[serde(default)]
    pub reservations: Vec<Reservation6Config>,
}

fn default_port() -> u16 {
    547
}
fn default_preferred() -> u32 {
    3600
}
fn default_valid() -> u32 {
    7200
}
fn default_offer_hold() -> u64 {
    30
}
fn default_quarantine() -> u64 {
    86_400
}
fn default_max_hops() -> u8 {
    8
}
fn default_max_batch() -> usize {
    256
}
fn default_rate() -> f64 {
    10.0
}
fn default_burst() -> u32 {
    20
}
