//! The admin crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop the admin API from starting or a CLI command from
/// completing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A config value is unusable.
    #[error("config key `{key}`: {reason}")]
    Config {
        /// The key path, e.g. `admin.cert`.
        key: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A key, certificate or client file could not be read or written.
    #[error("{}: {action}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. `cannot write the signing key`.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A key or certificate file holds something unusable.
    #[error("{}: {reason}", path.display())]
    BadKeyMaterial {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {reason}")]
    Tls {
        /// What rustls or rcgen said.
        reason: String,
    },
    /// The listen socket could not be bound.
    #[error("cannot listen on {addr}: {source} (is another process using the port?)")]
    Bind {
        /// `[admin] listen`.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] headend_store::StoreError),
    /// A token could not be created.
    #[error("cannot sign a token: {reason}")]
    Token {
        /// What went wrong.
        reason: String,
    },
    /// A password could not be hashed or read.
    #[error("password: {reason}")]
    Password {
        /// What went wrong.
        reason: String,
    },
    /// A CLI command was used wrongly or its target does not exist.
    #[error("{reason}")]
    Usage {
        /// What to do instead.
        reason: String,
    },
    /// The server answered a CLI request with an error.
    #[error("server answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached, or its certificate does not match the pin.
    #[error("cannot reach {url}: {reason}")]
    Connect {
        /// The server.
        url: String,
        /// What went wrong.
        reason: String,
    },
}
