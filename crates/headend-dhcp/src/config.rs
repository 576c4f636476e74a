//! The `[dhcp]` section of headend.toml.
//!
//! ```toml
//! [dhcp]
//! interfaces = ["eth1"]          # one socket per interface (SO_BINDTODEVICE)
//! server_id = "192.0.2.1"        # option 54, unless a subnet sets its own
//!
//! [[dhcp.class]]                 # matched in file order; the first class
//! name = "docsis"                # that sets an option or boot field wins
//! vendor_class = "docsis"        # option 60 prefix
//! options = { tftp_server_name = "192.0.2.5", bootfile_name = "modem.cfg" }
//!
//! [[dhcp.subnet]]
//! name = "modems"
//! subnet = "10.1.0.0/16"
//! pools = ["10.1.0.10-10.1.255.250"]
//! classes = ["docsis"]           # only clients of these classes
//! options = { routers = ["10.1.0.1"] }
//! ```

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use serde::Deserialize;

/// Configuration of the DHCPv4 service (`[dhcp]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpConfig {
    /// Interfaces to serve, one socket each (bound with SO_BINDTODEVICE so the
    /// arrival interface is known). Empty: one socket on every interface, which
    /// serves relayed clients and renewals only.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// UDP port to listen on (67; change only for experiments).
    #[serde(default = "default_port")]
    pub port: u16,
    /// This server's address, sent as option 54, unless a subnet sets its own.
    pub server_id: Option<Ipv4Addr>,
    /// Seconds an offered address stays held for the client that was offered it.
    #[serde(default = "default_offer_hold")]
    pub offer_hold_secs: u64,
    /// Seconds a declined address (in use by someone else) is kept out of the pool.
    #[serde(default = "default_quarantine")]
    pub decline_quarantine_secs: u64,
    /// Requests relayed through more hops than this are dropped (RFC 1542 §4.1.1).
    #[serde(default = "default_max_hops")]
    pub max_hops: u8,
    /// Per-client (client-id or MAC) request rate limit.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Seconds between the statistics log lines (`dhcp stats`); 0 turns them off.
    #[serde(default = "default_stats_interval")]
    pub stats_interval_secs: u64,
    /// A full pool is logged at most once per this many seconds per subnet.
    #[serde(default = "default_exhaustion_log")]
    pub exhaustion_log_secs: u64,
    /// Most requests handled in one store transaction (group commit).
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// One info line per lease event (grant, renew, NAK, release, decline)
    /// on the `headend::lease` log target, written after the replies left;
    /// `false` turns them off (so does `headend::lease=off` in `log.level`).
    #[serde(default = "default_log_leases")]
    pub log_leases: bool,
    /// Options given to every client (subnets, classes and reservations override).
    #[serde(default)]
    pub options: OptionsConfig,
    /// Client classes (`[[dhcp.class]]`).
    #[serde(default, rename = "class")]
    pub classes: Vec<ClassConfig>,
    /// Subnets (`[[dhcp.subnet]]`).
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<SubnetConfig>,
    /// Several servers on one PostgreSQL store (`[dhcp.ha]`).
    #[serde(default)]
    pub ha: HaConfig,
    /// DNS names that follow leases (`[dhcp.ddns]`), served by this
    /// process's DNS service.
    #[serde(default)]
    pub ddns: Option<crate::ddns::DdnsConfig>,
}

/// `[dhcp.ha]`: how this server shares clients with the other servers of
/// one PostgreSQL store.
///
/// ```toml
/// [dhcp.ha]
/// mode = "load-balancing"       # shared | load-balancing | hot-standby
/// this_server = "dhcp-a"
/// servers = ["dhcp-a", "dhcp-b"] # the same list, in the same order, on every server
/// heartbeat_secs = 1.0
/// takeover_secs = 10.0
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaConfig {
    /// `shared`: every server answers every client, conflicts are retried;
    /// `load-balancing`: each client is answered by one server, chosen by
    /// the RFC 3074 hash of its client-id (else MAC); `hot-standby`: the
    /// first server of `servers` answers, the next takes over when it is
    /// down.
    #[serde(default)]
    pub mode: HaMode,
    /// This server's name in `servers` (its heartbeat row in the store).
    pub this_server: Option<String>,
    /// Every server sharing the store, in one order agreed by all: the
    /// position picks each server's part of the pools and of the hash
    /// buckets (and the primary in hot-standby).
    #[serde(default)]
    pub servers: Vec<String>,
    /// Seconds between two heartbeats written to the store.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: f64,
    /// A server whose heartbeat is older than this (by the store's clock)
    /// is down, and its clients are answered by the next server.
    #[serde(default = "default_takeover")]
    pub takeover_secs: f64,
    /// A batch that lost a conflict with another server is run again this
    /// many times before it is split to isolate the conflicting request.
    #[serde(default = "default_conflict_retries")]
    pub conflict_retries: u32,
    /// A warning is logged when conflicts exceed this many per second
    /// (over 10 s).
    #[serde(default = "default_conflict_warn")]
    pub conflict_warn_per_sec: f64,
}

impl Default for HaConfig {
    fn default() -> Self {
        Self {
            mode: HaMode::default(),
            this_server: None,
            servers: Vec::new(),
            heartbeat_secs: default_heartbeat(),
            takeover_secs: default_takeover(),
            conflict_retries: default_conflict_retries(),
            conflict_warn_per_sec: default_conflict_warn(),
        }
    }
}

/// How servers sharing one store divide the clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaMode {
    /// Every server answers every client.
    #[default]
    Shared,
    /// Each client is answered by one server (RFC 3074 hash).
    LoadBalancing,
    /// The first live server of the list answers every client.
    HotStandby,
}

/// `[dhcp.rate_limit]`: a token bucket per client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client.
    #[serde(default = "default_rate")]
    pub per_second: f64,
    /// Requests a client may send in a burst.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: default_rate(),
            burst: default_burst(),
        }
    }
}

/// One client class (`[[dhcp.class]]`). A client is in the class when every
/// criterion given matches; a class with no criterion matches nobody.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassConfig {
    /// The class name, used by `subnet.classes`.
    pub name: String,
    /// Option 60 (vendor class) starts with this, e.g. `docsis`.
    pub vendor_class: Option<String>,
    /// Option 77 (user class) equals this, e.g. `iPXE`.
    pub user_class: Option<String>,
    /// Option 93 (client architecture) is one of these (0 BIOS, 7/9 UEFI x64, 11 ARM64).
    #[serde(default)]
    pub arch: Vec<u16>,
    /// Option 82 circuit-id equals this (text, or `hex:...`).
    pub circuit_id: Option<String>,
    /// Option 82 remote-id equals this (text, or `hex:...`).
    pub remote_id: Option<String>,
    /// Lease time for this class's clients, seconds.
    pub lease_time_secs: Option<u32>,
    /// Cap on live leases per option 82 circuit-id for this class's clients.
    pub max_leases_per_circuit_id: Option<u32>,
    /// Cap on live leases per option 82 remote-id for this class's clients.
    pub max_leases_per_remote_id: Option<u32>,
    /// `siaddr`: the TFTP server for the next boot step.
    pub next_server: Option<Ipv4Addr>,
    /// `sname` header field.
    pub server_name: Option<String>,
    /// `file` header field (PXE boot file, script URL).
    pub boot_file: Option<String>,
    /// Options for this class's clients.
    #[serde(default)]
    pub options: OptionsConfig,
}

/// One subnet (`[[dhcp.subnet]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// A name for logs, statistics and the lease list.
    pub name: String,
    /// The network, e.g. `10.1.0.0/16`.
    pub subnet: Ipv4Net,
    /// Dynamic ranges, `"first-last"`, inside the subnet.
    #[serde(default)]
    pub pools: Vec<String>,
    /// Directly attached on this interface (clients' broadcasts arrive there).
    pub interface: Option<String>,
    /// Relay addresses (giaddr) outside the subnet that also select it, e.g. a
    /// CMTS's primary address for a secondary (customer) network.
    #[serde(default)]
    pub relays: Vec<Ipv4Addr>,
    /// Option 54 for this subnet (default: `dhcp.server_id`).
    pub server_id: Option<Ipv4Addr>,
    /// Lease time, seconds (option 51).
    #[serde(default = "default_lease_time")]
    pub lease_time_secs: u32,
    /// T1 (option 58), seconds; default 50 % of the lease time.
    pub renew_time_secs: Option<u32>,
    /// T2 (option 59), seconds; default 87.5 % of the lease time.
    pub rebind_time_secs: Option<u32>,
    /// Only clients in one of these classes may use this subnet. Among the
    /// subnets a relay or interface selects, a subnet whose class matches is
    /// preferred to one without classes.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Answer BOOTP requests (no option 53), for reserved clients only.
    #[serde(default)]
    pub bootp: bool,
    /// Cap on live leases per option 82 circuit-id (a port or modem).
    pub max_leases_per_circuit_id: Option<u32>,
    /// Cap on live leases per option 82 remote-id (a modem).
    pub max_leases_per_remote_id: Option<u32>,
    /// `siaddr`: the TFTP server for the next boot step.
    pub next_server: Option<Ipv4Addr>,
    /// `sname` header field.
    pub server_name: Option<String>,
    /// `file` header field.
    pub boot_file: Option<String>,
    /// Options for this subnet's clients (option 1 defaults to the prefix).
    #[serde(default)]
    pub options: OptionsConfig,
    /// Fixed addresses (`[[dhcp.subnet.reservation]]`).
    #[serde(default, rename = "reservation")]
    pub reservations: Vec<ReservationConfig>,
}

/// A reservation: a fixed address for a client known by MAC, client-id or
/// relay circuit-id (`[[dhcp.subnet.reservation]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationConfig {
    /// Hardware address, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// Option 61 value (text, or `hex:...`).
    pub client_id: Option<String>,
    /// Option 82 circuit-id (text, or `hex:...`).
    pub circuit_id: Option<String>,
    /// The fixed address (inside the subnet, best outside its pools).
    pub address: Ipv4Addr,
    /// Host name sent as option 12.
    pub hostname: Option<String>,
    /// `siaddr` for this host.
    pub next_server: Option<Ipv4Addr>,
    /// `file` for this host.
    pub boot_file: Option<String>,
    /// Options for this host.
    #[serde(default)]
    pub options: OptionsConfig,
    /// Free-form attributes (`attributes = { tier = "gold", max_cpe = "4" }`)
    /// that TFTP templates read as `reservation.attributes.NAME`, like the
    /// attributes the admin API sets on its reservations. Names are
    /// identifiers; with no `attributes` table the host has no
    /// `reservation` in templates.
    pub attributes: Option<BTreeMap<String, String>>,
}

/// DHCP options by name (RFC 2132 unless noted). Any other option: `raw`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsConfig {
    /// 1: subnet mask (default: from the subnet's prefix).
    pub subnet_mask: Option<Ipv4Addr>,
    /// 2: time offset from UTC, seconds.
    pub time_offset: Option<i32>,
    /// 3: routers.
    #[serde(default)]
    pub routers: Vec<Ipv4Addr>,
    /// 4: time servers (RFC 868).
    #[serde(default)]
    pub time_servers: Vec<Ipv4Addr>,
    /// 6: DNS servers.
    #[serde(default)]
    pub domain_name_servers: Vec<Ipv4Addr>,
    /// 7: log (syslog) servers.
    #[serde(default)]
    pub log_servers: Vec<Ipv4Addr>,
    /// 12: host name.
    pub host_name: Option<String>,
    /// 15: domain name.
    pub domain_name: Option<String>,
    /// 28: broadcast address.
    pub broadcast_address: Option<Ipv4Addr>,
    /// 42: NTP servers.
    #[serde(default)]
    pub ntp_servers: Vec<Ipv4Addr>,
    /// 43: vendor-specific information as raw bytes (text, or `hex:...`).
    pub vendor_specific: Option<String>,
    /// 43 built from sub-options: `{ "1" = "hex:...", "2" = "text" }`.
    #[serde(default)]
    pub vendor_suboptions: BTreeMap<String, String>,
    /// 60: vendor class identifier sent by the server (e.g. `PXEClient`).
    pub vendor_class: Option<String>,
    /// 66: TFTP server name.
    pub tftp_server_name: Option<String>,
    /// 67: boot file name.
    pub bootfile_name: Option<String>,
    /// 150: TFTP server addresses (RFC 5859), as Cisco phones and modems use.
    #[serde(default)]
    pub tftp_server_addresses: Vec<Ipv4Addr>,
    /// 122: CableLabs client configuration for PacketCable MTAs (RFC 3495,
    /// 3594, 3634).
    pub cablelabs_client_config: Option<CableLabsClientConfig>,
    /// 125: vendor-identifying vendor-specific information (RFC 3925), one
    /// entry per enterprise (CableLabs is 4491).
    #[serde(default)]
    pub vendor_identifying: Vec<VendorIdentifyingConfig>,
    /// Any option by number: `{ "224" = "hex:0a0b", "252" = "http://wpad/wpad.dat" }`.
    #[serde(default)]
    pub raw: BTreeMap<String, String>,
}

/// Option 122, CableLabs Client Configuration (RFC 3495 §5, sub-option 9
/// from RFC 3594, 10 from RFC 3634). Sub-options are sent in code order.
///
/// ```toml
/// cablelabs_client_config = { primary_dhcp_server = "192.0.2.10", provisioning_server = "prov.example.net", kerberos_realm = "BASIC.1", ticket_granting_server = false, provisioning_timer_mins = 10 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CableLabsClientConfig {
    /// 1: the TSP's primary DHCP server: the MTA accepts OFFERs only from it.
    pub primary_dhcp_server: Option<Ipv4Addr>,
    /// 2: the TSP's secondary DHCP server.
    pub secondary_dhcp_server: Option<Ipv4Addr>,
    /// 3: the provisioning server, an IPv4 address or an FQDN.
    pub provisioning_server: Option<String>,
    /// 4: AS-REQ/AS-REP backoff and retry.
    pub as_req_backoff: Option<BackoffConfig>,
    /// 5: AP-REQ/AP-REP backoff and retry.
    pub ap_req_backoff: Option<BackoffConfig>,
    /// 6: the Kerberos realm (domain style, e.g. `BASIC.1`).
    pub kerberos_realm: Option<String>,
    /// 7: whether the MTA uses a ticket-granting server.
    pub ticket_granting_server: Option<bool>,
    /// 8: the provisioning timer, minutes.
    pub provisioning_timer_mins: Option<u8>,
    /// 9 (RFC 3594): security ticket control bits: 1 invalidates the
    /// provisioning server's ticket, 2 every call management server's.
    pub security_ticket_control: Option<u16>,
    /// 10 (RFC 3634): Key Distribution Centers, highest priority first.
    #[serde(default)]
    pub kdc_servers: Vec<Ipv4Addr>,
}

/// Backoff and retry of a Kerberos exchange (RFC 3495 §5.4, §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// Nominal timeout, milliseconds.
    pub nominal_timeout_ms: u32,
    /// Maximum timeout, seconds.
    pub max_timeout_secs: u32,
    /// Maximum retry count.
    pub max_retries: u32,
}

/// One enterprise's data in option 125 (RFC 3925 §4). The typed fields are
/// CableLabs' (enterprise 4491, CL-SP-CANN-DHCP-Reg); `suboptions` holds any
/// sub-option by number for any enterprise.
///
/// ```toml
/// vendor_identifying = [{ enterprise = 4491, tftp_servers = ["192.0.2.20"], mib_environment = 1 }]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorIdentifyingConfig {
    /// IANA enterprise number (4491: CableLabs).
    pub enterprise: u32,
    /// CableLabs sub-option 2: TFTP servers of the eCM's config file.
    #[serde(default)]
    pub tftp_servers: Vec<Ipv4Addr>,
    /// CableLabs sub-option 3: the eRouter container (its own options, as
    /// `hex:...`).
    pub erouter_container: Option<String>,
    /// CableLabs sub-option 4: MIB environment (1 CableLabs, 2 IETF, 3
    /// EuroCableLabs).
    pub mib_environment: Option<u8>,
    /// Any sub-option by number: `{ "5" = "hex:0102" }`.
    #[serde(default)]
    pub suboptions: BTreeMap<String, String>,
}

fn default_port() -> u16 {
    67
}
fn default_offer_hold() -> u64 {
    30
}
fn default_quarantine() -> u64 {
    86_400
}
fn default_max_hops() -> u8 {
    4
}
fn default_rate() -> f64 {
    5.0
}
fn default_burst() -> u32 {
    20
}
fn default_stats_interval() -> u64 {
    300
}
fn default_exhaustion_log() -> u64 {
    60
}
fn default_log_leases() -> bool {
    true
}
fn default_max_batch() -> usize {
    512
}
fn default_heartbeat() -> f64 {
    1.0
}
fn default_takeover() -> f64 {
    10.0
}
fn default_conflict_retries() -> u32 {
    3
}
fn default_conflict_warn() -> f64 {
    10.0
}
fn default_lease_time() -> u32 {
    86_400
}

impl DhcpConfig {
    /// Nothing in `[dhcp]` is a path today; kept so the binary can treat every
    /// section alike.
    pub fn resolve_paths(&mut self, _base: &Path) {}
}
