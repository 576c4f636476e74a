//! The DHCPv6 service's error type.

/// Everything that can go wrong configuring or starting DHCPv6.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Dhcp6Error {
    /// A value in `[dhcp6]` is wrong; `key` is its path, e.g. `dhcp6.subnet[0].pools[1]`.
    #[error("{key}: {reason}")]
    Config {
        /// The config key at fault.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A socket could not be opened, configured or bound.
    #[error("cannot {action} the DHCPv6 socket{}: {source}{}", interface.as_deref().map(|i| format!(" on interface {i}")).unwrap_or_default(), socket_hint(action, source))]
    Socket {
        /// What was being done.
        action: &'static str,
        /// The interface, if bound to one.
        interface: Option<String>,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server DUID file could not be read or written.
    #[error("{}: server DUID: {reason}", path.display())]
    Duid {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A thread could not be started.
    #[error("cannot start DHCPv6 thread {name}: {source}")]
    Thread {
        /// The thread's name.
        name: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The lease store failed.
    #[error("lease store: {source}")]
    Store {
        /// The store's error.
        #[from]
        source: headend_store::StoreError,
    },
}

impl Dhcp6Error {
    pub(crate) fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The remedy for a DHCPv6 socket error, only when it is the cause (the
/// DHCPv6 port, 547, is privileged).
fn socket_hint(action: &str, e: &std::io::Error) -> &'static str {
    const ENODEV: i32 = 19;
    match e.kind() {
        std::io::ErrorKind::PermissionDenied if action.contains("SO_BINDTODEVICE") => {
            " (SO_BINDTODEVICE needs CAP_NET_RAW)"
        }
        _ if e.raw_os_error() == Some(ENODEV) => {
            " (there is no such interface on this host: `ip link` lists them)"
        }
        _ => headend_util::bind_hint(547, e),
    }
}
