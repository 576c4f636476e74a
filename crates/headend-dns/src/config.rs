//! The `[dns]` section of headend.toml.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Configuration of the authoritative DNS service (`[dns]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Addresses to answer on, over both UDP and TCP.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// Largest UDP response sent, whatever the client's EDNS buffer says
    /// (1232 bytes by default, the DNS Flag Day 2020 figure).
    #[serde(default = "default_udp_payload_max")]
    pub udp_payload_max: u16,
    /// Seconds a TCP connection may wait for the first byte of its next
    /// request before it is closed (Knot's tcp-idle-timeout).
    #[serde(default = "default_tcp_idle_timeout")]
    pub tcp_idle_timeout_secs: u64,
    /// Milliseconds one TCP message may take to arrive whole once its first
    /// byte has (length and body), and an answer to be taken by the client
    /// (Knot's tcp-io-timeout): a client that drips a request a byte at a
    /// time is closed.
    #[serde(default = "default_tcp_io_timeout_ms")]
    pub tcp_io_timeout_ms: u64,
    /// Seconds a TCP connection may live, however busy; the client
    /// reconnects if it has more to ask.
    #[serde(default = "default_tcp_lifetime_secs")]
    pub tcp_lifetime_secs: u64,
    /// Most TCP connections open at once. When all are open, a new one
    /// closes the connection that has gone longest without a request
    /// (RFC 7766 §6.2.3); only when every one is busy answering does it wait.
    #[serde(default = "default_tcp_max_connections")]
    pub tcp_max_connections: usize,
    /// Most TCP connections from one client address at once; more are closed at once.
    #[serde(default = "default_tcp_max_per_client")]
    pub tcp_max_connections_per_client: usize,
    /// Response rate limiting (`[dns.rrl]`); off by default.
    #[serde(default)]
    pub rrl: crate::rrl::RrlConfig,
    /// Number of UDP worker threads per listen address (SO_REUSEPORT).
    #[serde(default = "default_udp_workers")]
    pub udp_workers: usize,
    /// The zones served, one `[[dns.zone]]` table each.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    /// TSIG keys for zone transfers and NOTIFY, one `[[dns.tsig_key]]` table each.
    #[serde(default, rename = "tsig_key")]
    pub tsig_keys: Vec<TsigKeyConfig>,
    /// The answer to `id.server` and `hostname.bind` (class CH, TXT; RFC 4892),
    /// which tells an operator which server of a set answered. Unset (the
    /// default): those queries are refused.
    #[serde(default)]
    pub identity: Option<String>,
    /// The answer to `version.bind` and `version.server` (class CH, TXT).
    /// Unset (the default): refused, so that the version is not advertised.
    #[serde(default)]
    pub version: Option<String>,
    /// The name server identifier returned to queries that ask for it with
    /// the EDNS NSID option (RFC 5001): text, or `hex:` and hex digits.
    /// Unset (the default): not returned.
    #[serde(default)]
    pub nsid: Option<String>,
}

/// A TSIG key (RFC 8945) shared with secondaries (`[[dns.tsig_key]]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    /// The key's name, the same on both sides, e.g. `xfr-key`.
    pub name: String,
    /// The MAC algorithm; `hmac-sha256` (the default) or `hmac-sha512`.
    #[serde(default = "default_tsig_algorithm")]
    pub algorithm: String,
    /// The shared secret, base64 (as printed by `tsig-keygen` or `keymgr -t`).
    /// Better kept out of the config: `secret_file`, or a systemd credential.
    #[serde(default)]
    pub secret: String,
    /// A file holding the secret (mode 0600 or stricter; read at start and
    /// on reload). Without `secret` and `secret_file`, the secret is read
    /// from `$CREDENTIALS_DIRECTORY/tsig.NAME` (systemd `LoadCredential=`).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// True when the secret was written in the config itself (set by
    /// [`DnsConfig::load_secrets`]; `headend check` warns about it).
    #[serde(skip)]
    pub secret_inline: bool,
}

impl std::fmt::Debug for TsigKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKeyConfig")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn default_tsig_algorithm() -> String {
    "hmac-sha256".to_owned()
}

/// One served zone (`[[dns.zone]]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's apex, e.g. `example.test`.
    pub origin: String,
    /// Its zone file; a relative path is taken relative to the config file's folder.
    pub file: PathBuf,
    /// Addresses or prefixes allowed to transfer the zone (AXFR, IXFR), e.g.
    /// `["192.0.2.53/32"]`. Empty (the default): no transfers, unless
    /// `tsig_key` is set, in which case any address with the key may.
    #[serde(default)]
    pub allow_transfer: Vec<ipnet::IpNet>,
    /// Name of a `[[dns.tsig_key]]` that transfer requests must be signed
    /// with (and that NOTIFY messages are signed with).
    #[serde(default)]
    pub tsig_key: Option<String>,
    /// Secondaries sent a NOTIFY (RFC 1996) whenever the serial changes, e.g. `["192.0.2.53:53"]`.
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    /// Further servers notified the same way (BIND's also-notify).
    #[serde(default)]
    pub also_notify: Vec<SocketAddr>,
    /// Sign the zone (`dnssec = { algorithm = "ecdsap256sha256", denial = "nsec3" }`).
    #[serde(default)]
    pub dnssec: Option<DnssecConfig>,
    /// What a load (start, SIGHUP, reload) does with mail-authentication
    /// errors (SPF, DMARC, DKIM): `"warn"` (the default) logs and counts
    /// them and serves the zone, `"error"` refuses the load, `"off"` skips
    /// the lint. API edits that introduce such an error are refused whatever
    /// this says.
    #[serde(default)]
    pub mail_lint: MailLint,
    /// Who may change the zone by RFC 2136 UPDATE, Knot-style: each rule
    /// names a TSIG key, the owner names it may change and the types, e.g.
    /// `[{ key = "dhcp-key", names = "*.dyn.example.", types = ["A", "PTR"] }]`.
    /// With rules, an unsigned update is always REFUSED. Empty with an empty
    /// `allow_update`: updates are REFUSED.
    #[serde(default)]
    pub update_policy: Vec<UpdateRule>,
    /// Addresses or prefixes updates may come from. With `update_policy`
    /// both must allow; alone, any update (signed or not) from these
    /// addresses may change any name.
    #[serde(default)]
    pub allow_update: Vec<ipnet::IpNet>,
    /// Seconds between writes of the zone, with its dynamic changes, back
    /// to its file (Knot's `zonefile-sync`); 0 (the default): only
    /// `headend dns flush ZONE` writes it.
    #[serde(default)]
    pub zonefile_sync_secs: u64,
}

/// One rule of a zone's `update_policy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    /// The `[[dns.tsig_key]]` an update must be signed with.
    pub key: String,
    /// Owner names the key may change: `"host.example."` (that name),
    /// `"*.dyn.example."` (every name below dyn.example.), `"@"` (the apex);
    /// relative names are taken in the zone. One name or a list; empty:
    /// every name of the zone.
    #[serde(default, deserialize_with = "one_or_many")]
    pub names: Vec<String>,
    /// Types the key may change (`["A", "AAAA", "PTR"]`); empty: every type
    /// (a "delete name" needs that).
    #[serde(default)]
    pub types: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// What a zone load does with mail-authentication findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailLint {
    /// Errors refuse the load, as structural errors do.
    Error,
    /// Findings are logged and counted; the zone is served.
    #[default]
    Warn,
    /// Not reported at load.
    Off,
}

/// DNSSEC signing of one zone: keys are generated on first use and kept in
/// the state directory; the zone is re-signed on every change and before its
/// signatures expire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecConfig {
    /// The signing algorithm.
    #[serde(default)]
    pub algorithm: DnssecAlgorithm,
    /// How non-existence is proven.
    #[serde(default)]
    pub denial: Denial,
    /// NSEC3 extra hash iterations: 0 by default, as RFC 9276 §3.1 asks.
    #[serde(default)]
    pub nsec3_iterations: u16,
    /// NSEC3 salt in hex; empty by default (RFC 9276 §3.1).
    #[serde(default)]
    pub nsec3_salt: String,
    /// `"ksk+zsk"` (default) or a single combined signing key `"csk"`.
    #[serde(default)]
    pub keys: KeyScheme,
    /// Days a signature is valid.
    #[serde(default = "default_validity_days")]
    pub signature_validity_days: u32,
    /// Days after signing at which signatures are refreshed (must be below the validity).
    #[serde(default = "default_refresh_days")]
    pub refresh_days: u32,
    /// TTL of the DNSKEY, CDS and CDNSKEY records, in seconds.
    #[serde(default = "default_dnskey_ttl")]
    pub dnskey_ttl: u32,
    /// Seconds a new key is published before it is used, and an old one kept
    /// after (on top of the TTLs), for the zone to reach every secondary
    /// (RFC 6781 §4.1.1.1 "propagation delay").
    #[serde(default = "default_propagation")]
    pub propagation_delay_secs: u32,
    /// TTL of the DS records at the parent, waited out in a KSK rollover.
    #[serde(default = "default_parent_ds_ttl")]
    pub parent_ds_ttl: u32,
    /// The parent zone's name servers, e.g. `["192.0.2.1:53"]`. When set, a
    /// KSK rollover keeps the old KSK until every one of them serves the new
    /// key's DS (then `parent_ds_ttl` more), like Knot's KSK submission
    /// check; `headend dnssec ksk-submitted ZONE` confirms it by hand. Empty
    /// (the default): the old KSK goes `parent_ds_ttl` after the CDS switch,
    /// whatever the parent did.
    #[serde(default)]
    pub parent: Vec<SocketAddr>,
    /// Seconds between two checks of the parent while a new DS is awaited.
    #[serde(default = "default_parent_check_interval")]
    pub parent_check_interval_secs: u32,
    /// Publish a ZONEMD digest of the signed zone (RFC 8976): `"sha384"`
    /// (the SIMPLE scheme with SHA-384, the one RFC 8976 requires), made
    /// again and signed with every new serial. Unset (the default): none,
    /// and a ZONEMD in the zone file is served as it is.
    #[serde(default)]
    pub zonemd: Option<ZonemdHash>,
}

/// The hash of a generated ZONEMD (RFC 8976 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ZonemdHash {
    /// SHA-384 (hash algorithm 1), SIMPLE scheme.
    #[serde(rename = "sha384")]
    Sha384,
}

/// DNSSEC signing algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum DnssecAlgorithm {
    /// ECDSA P-256 with SHA-256 (algorithm 13), the default.
    #[default]
    #[serde(rename = "ecdsap256sha256")]
    EcdsaP256Sha256,
    /// Ed25519 (algorithm 15).
    #[serde(rename = "ed25519")]
    Ed25519,
}

/// Authenticated denial of existence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Denial {
    /// NSEC (RFC 4034 §4).
    #[default]
    #[serde(rename = "nsec")]
    Nsec,
    /// NSEC3 (RFC 5155), no opt-out.
    #[serde(rename = "nsec3")]
    Nsec3,
}

/// Which keys sign the zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum KeyScheme {
    /// A key-signing key for the DNSKEY RRset and a zone-signing key for the rest.
    #[default]
    #[serde(rename = "ksk+zsk")]
    KskZsk,
    /// One combined signing key.
    #[serde(rename = "csk")]
    Csk,
}

fn default_validity_days() -> u32 {
    14
}

fn default_refresh_days() -> u32 {
    7
}

fn default_dnskey_ttl() -> u32 {
    3600
}

fn default_propagation() -> u32 {
    300
}

fn default_parent_ds_ttl() -> u32 {
    86400
}

fn default_parent_check_interval() -> u32 {
    3600
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            udp_payload_max: default_udp_payload_max(),
            tcp_idle_timeout_secs: default_tcp_idle_timeout(),
            tcp_io_timeout_ms: default_tcp_io_timeout_ms(),
            tcp_lifetime_secs: default_tcp_lifetime_secs(),
            tcp_max_connections: default_tcp_max_connections(),
            tcp_max_connections_per_client: default_tcp_max_per_client(),
            rrl: crate::rrl::RrlConfig::default(),
            udp_workers: default_udp_workers(),
            zones: Vec::new(),
            tsig_keys: Vec::new(),
            identity: None,
            version: None,
            nsid: None,
        }
    }
}

impl DnsConfig {
    /// Makes every relative zone-file path relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        for zone in &mut self.zones {
            if zone.file.is_relative() {
                zone.file = base.join(&zone.file);
            }
        }
        for key in &mut self.tsig_keys {
            if let Some(f) = &mut key.secret_file
                && f.is_relative()
            {
                *f = base.join(&*f);
            }
        }
    }

    /// Fills each TSIG key's secret from its `secret_file` (refused when
    /// group or others may read it) or, with neither `secret` nor
    /// `secret_file`, from `credentials` (`$CREDENTIALS_DIRECTORY`) as
    /// `tsig.NAME`. The error is (key path, reason).
    pub fn load_secrets(&mut self, credentials: Option<&Path>) -> Result<(), (String, String)> {
        for (i, key) in self.tsig_keys.iter_mut().enumerate() {
            let at = |field: &str| format!("dns.tsig_key[{i}].{field}");
            match (&key.secret_file, key.secret.is_empty()) {
                (Some(_), false) => {
                    return Err((
                        at("secret"),
                        "set `secret` or `secret_file`, not both".to_owned(),
                    ));
                }
                (Some(file), true) => {
                    key.secret = headend_util::read_secret(file)
                        .map_err(|e| (at("secret_file"), format!("{}: {e}", file.display())))?;
                }
                (None, true) => {
                    let name = format!("tsig.{}", key.name);
                    let Some(file) = credentials.map(|d| d.join(&name)) else {
                        return Err((
                            at("secret"),
                            format!(
                                "no secret: set `secret_file` (mode 0600), or pass the systemd credential {name}"
                            ),
                        ));
                    };
                    key.secret = headend_util::read_secret(&file)
                        .map_err(|e| (at("secret"), format!("{}: {e}", file.display())))?;
                }
                (None, false) => key.secret_inline = true,
            }
        }
        Ok(())
    }
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([127, 0, 0, 1], 53))]
}

fn default_udp_payload_max() -> u16 {
    1232
}

fn default_tcp_idle_timeout() -> u64 {
    10
}

fn default_tcp_io_timeout_ms() -> u64 {
    2000
}

fn default_tcp_lifetime_secs() -> u64 {
    120
}

fn default_tcp_max_connections() -> usize {
    1024
}

fn default_tcp_max_per_client() -> usize {
    32
}

fn default_udp_workers() -> usize {
    1
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn key(secret: &str, file: Option<PathBuf>) -> DnsConfig {
        DnsConfig {
            tsig_keys: vec![TsigKeyConfig {
                name: "xfr".into(),
                algorithm: "hmac-sha256".into(),
                secret: secret.into(),
                secret_file: file,
                secret_inline: false,
            }],
            ..DnsConfig::default()
        }
    }

    #[test]
    fn tsig_secrets_come_from_private_files_or_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("xfr.key");
        std::fs::write(&file, "c2VjcmV0c2VjcmV0c2VjcmV0\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (path, err) = key("", Some(file.clone())).load_secrets(None).unwrap_err();
        assert_eq!(path, "dns.tsig_key[0].secret_file");
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut c = key("", Some(file.clone()));
        c.load_secrets(None).unwrap();
        assert_eq!(c.tsig_keys[0].secret, "c2VjcmV0c2VjcmV0c2VjcmV0");
        assert!(!c.tsig_keys[0].secret_inline);

        assert!(key("x", Some(file)).load_secrets(None).is_err(), "both");
        let (_, err) = key("", None).load_secrets(None).unwrap_err();
        assert!(err.contains("tsig.xfr"), "{err}");
        let cred = dir.path().join("tsig.xfr");
        std::fs::write(&cred, "Y3JlZGVudGlhbA==").unwrap();
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o400)).unwrap();
        let mut c = key("", None);
        c.load_secrets(Some(dir.path())).unwrap();
        assert_eq!(c.tsig_keys[0].secret, "Y3JlZGVudGlhbA==");

        let mut c = key("aW5saW5l", None);
        c.load_secrets(Some(dir.path())).unwrap();
        assert!(c.tsig_keys[0].secret_inline);
    }
}
