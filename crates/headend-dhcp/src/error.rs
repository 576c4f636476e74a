//! The DHCP service's error type.

/// Everything that can go wrong configuring or starting the DHCP service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    /// A value in `[dhcp]` is wrong; `key` is its path, e.g. `dhcp.subnet[0].pools[1]`.
    #[error("{key}: {reason}")]
    Config {
        /// The config key at fault.
        key: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A socket could not be opened, configured or bound.
    #[error("cannot {action} the DHCP socket{}: {source} (port 67 needs root or CAP_NET_BIND_SERVICE; SO_BINDTODEVICE needs CAP_NET_RAW; check that the interface exists)", interface.as_deref().map(|i| format!(" on interface {i}")).unwrap_or_default())]
    Socket {
        /// What was being done (open, bind, bind to device...).
        action: &'static str,
        /// The interface, if the socket is bound to one.
        interface: Option<String>,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A worker thread could not be started.
    #[error("cannot start DHCP thread {name}: {source}")]
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

impl DhcpError {
    pub(crate) fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
