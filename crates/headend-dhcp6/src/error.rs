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
    #[error("cannot {action} the DHCPv6 socket{}: {source} (port 547 needs root or CAP_NET_BIND_SERVICE; SO_BINDTODEVICE needs CAP_NET_RAW; check that the interface exists)", interface.as_deref().map(|i| format!(" on interface {i}")).unwrap_or_default())]
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
