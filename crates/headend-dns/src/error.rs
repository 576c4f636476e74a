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
}
