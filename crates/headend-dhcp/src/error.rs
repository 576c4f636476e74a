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
    #[error("cannot {action} the DHCP socket{}: {source}{hint}", interface.as_deref().map(|i| format!(" on interface {i}")).unwrap_or_default())]
    Socket {
        /// What was being done (open, bind, bind to device...).
        action: &'static str,
        /// The interface, if the socket is bound to one.
        interface: Option<String>,
        /// What to do, when the cause is known (` (ports below 1024 need
        /// root ...)`), else empty: see [`socket_hint`].
        hint: &'static str,
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

/// The remedy for a socket error, only when it is the cause: a privileged
/// port refused, SO_BINDTODEVICE refused, an interface that does not exist,
/// a port another server holds.
pub(crate) fn socket_hint(action: &str, port: u16, e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    const ENODEV: i32 = 19;
    let device = action.contains("SO_BINDTODEVICE");
    match e.kind() {
        ErrorKind::PermissionDenied if device => " (SO_BINDTODEVICE needs CAP_NET_RAW)",
        ErrorKind::PermissionDenied if port < 1024 => {
            " (ports below 1024, such as DHCP's 67, need root or CAP_NET_BIND_SERVICE)"
        }
        ErrorKind::AddrInUse => {
            " (another DHCP server, such as dnsmasq, isc-dhcp-server or kea, holds the port: stop it)"
        }
        _ if e.raw_os_error() == Some(ENODEV) => {
            " (there is no such interface on this host: `ip link` lists them)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::socket_hint;
    use std::io::{Error, ErrorKind};

    #[test]
    fn the_port_67_hint_appears_only_when_it_is_the_cause() {
        let denied = Error::from(ErrorKind::PermissionDenied);
        assert!(socket_hint("bind", 67, &denied).contains("CAP_NET_BIND_SERVICE"));
        assert_eq!(socket_hint("bind", 10067, &denied), "");
        let in_use = Error::from(ErrorKind::AddrInUse);
        assert!(!socket_hint("bind", 67, &in_use).contains("root"));
        let no_dev = Error::from_raw_os_error(19);
        assert!(
            socket_hint("bind to its interface (SO_BINDTODEVICE)", 67, &no_dev)
                .contains("no such interface")
        );
    }
}
