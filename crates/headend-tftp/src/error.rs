//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong in the TFTP service, worded for the operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TftpError {
    /// A listen socket could not be opened.
    #[error(
        "cannot listen for TFTP on {addr}: {source}{}", headend_util::bind_hint(addr.port(), source)
    )]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configured root (or write root) is unusable.
    #[error("TFTP {what} {}: {reason}", path.display())]
    Root {
        /// `root` or `write_root`.
        what: &'static str,
        /// The configured folder.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A config value is out of range or inconsistent.
    #[error("[tftp] {key}: {reason}")]
    Config {
        /// The key in the `[tftp]` section.
        key: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A template could not be read or rendered.
    #[error("TFTP template {}: {reason}", file.display())]
    Template {
        /// The template file.
        file: PathBuf,
        /// The read or render error.
        reason: String,
    },
    /// The peer ended the transfer with an ERROR packet.
    #[error("client {peer} ended the transfer with ERROR {code}: {message}")]
    PeerError {
        /// The client.
        peer: SocketAddr,
        /// Its RFC 1350 error code.
        code: u16,
        /// Its message.
        message: String,
    },
    /// The peer stopped answering.
    #[error("client {peer} stopped answering after {retries} retransmissions")]
    TimedOut {
        /// The client.
        peer: SocketAddr,
        /// Retransmissions sent before giving up.
        retries: u32,
    },
    /// The peer never acknowledged the first packet (OACK, DATA 1 or ACK 0),
    /// sent at most twice: maybe a request with a spoofed source address.
    #[error(
        "client {peer} never acknowledged the first packet (sent {sent} times); \
         a spoofed source address?"
    )]
    Unconfirmed {
        /// The client (or the address it claimed).
        peer: SocketAddr,
        /// Times the first packet was sent.
        sent: u32,
    },
    /// Reading the served file or writing an upload failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The transfer was refused or aborted by the server (an ERROR was sent).
    #[error("refused {peer}: ERROR {code}: {message}")]
    Refused {
        /// The client.
        peer: SocketAddr,
        /// The RFC 1350 code sent.
        code: u16,
        /// The message sent.
        message: String,
    },
}
