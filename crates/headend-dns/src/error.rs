//! The DNS service's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong loading zones or running the DNS listeners.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// A zone file (or a file it `$INCLUDE`s) could not be read.
    #[error("{}: cannot read zone file: {source}", file.display())]
    Io {
        /// The file that could not be read.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A zone file has a syntax or semantic error at a line.
    #[error("{}:{line}: {reason}", file.display())]
    Parse {
        /// The file holding the bad line.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, and where possible how to fix it.
        reason: String,
    },
    /// A zone parsed but failed the zone checks (each error is listed).
    #[error("zone {zone} failed its checks with {} error(s); first: {}", findings.len(), findings.first().map(ToString::to_string).unwrap_or_default())]
    Check {
        /// The zone's origin.
        zone: String,
        /// Every error-level finding.
        findings: Vec<crate::check::Finding>,
    },
    /// A configured zone origin is not a valid domain name.
    #[error("zone origin {origin:?} is not a valid domain name: {reason}")]
    BadOrigin {
        /// The origin as configured.
        origin: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A listener socket could not be bound.
    #[error("cannot listen on {addr} ({proto}): {source}")]
    Bind {
        /// The address configured in `[dns] listen`.
        addr: SocketAddr,
        /// "udp" or "tcp".
        proto: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A command cannot be carried out as asked.
    #[error("{reason}")]
    Usage {
        /// What to do instead.
        reason: String,
    },
    /// A `[dns]` setting is invalid.
    #[error("{key}: {reason}")]
    Config {
        /// The setting, e.g. `dns.nsid`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The zone named in a management request is not configured.
    #[error("zone {zone} is not served here")]
    UnknownZone {
        /// The zone as asked for.
        zone: String,
    },
    /// A DHCP lease's name could not be changed.
    #[error("DHCP name change {change} failed: {reason}")]
    LeaseName {
        /// The change asked for.
        change: String,
        /// Why it failed.
        reason: String,
    },
    /// An edit would make the zone invalid; nothing was changed.
    #[error("the edit would make zone {zone} invalid: {}", findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The zone's origin.
        zone: String,
        /// The error-level findings the edited zone would have.
        findings: Vec<crate::check::Finding>,
    },
    /// The edit was based on an older version of the zone (If-Match on the serial).
    #[error("the zone's serial is {current}, not {expected}: reload it and retry the edit")]
    SerialMismatch {
        /// The serial the client based its edit on.
        expected: u32,
        /// The serial being served.
        current: u32,
    },
    /// The edit itself is malformed (bad name, type or RDATA).
    #[error("bad edit: {reason}")]
    BadEdit {
        /// What is wrong with it.
        reason: String,
    },
    /// The zone file could not be written; the old file and zone are untouched.
    #[error("{}: cannot write zone file: {source}", file.display())]
    Write {
        /// The zone file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `[[dns.tsig_key]]` is unusable.
    #[error("TSIG key {name:?}: {reason}")]
    BadTsigKey {
        /// The key's name as configured.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A zone names a TSIG key that no `[[dns.tsig_key]]` defines.
    #[error("zone {zone}: tsig_key {key:?} is not defined: add a [[dns.tsig_key]] with that name")]
    UnknownTsigKey {
        /// The zone's origin.
        zone: String,
        /// The key name it refers to.
        key: String,
    },
    /// A state file (journal, DNSSEC keys) could not be read or written.
    #[error("{}: {reason}", file.display())]
    State {
        /// The file under the state directory.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A zone could not be signed (it keeps serving its previous version).
    #[error("zone {zone}: DNSSEC signing failed: {reason}")]
    Signing {
        /// The zone's origin.
        zone: String,
        /// What went wrong.
        reason: String,
    },
}
