//! TFTP for headend: cable-modem configs and PXE boot files.
//!
//! [`TftpService::start`] binds the configured addresses and serves files from
//! one root folder that nothing escapes (`..`, absolute names, symlinks leading
//! out, NUL bytes, over-long names and non-regular files are refused), plus
//! per-device files rendered from minijinja templates with lease facts from a
//! [`LeaseLookup`] the binary provides. The protocol core is sans-I/O: a
//! [`Transfer`] (and a [`Receive`](core::receive::Receive) for uploads) is fed packets and the
//! time and answers with a [`Step`]; a thin tokio loop gives each transfer its
//! own socket (TID). It speaks RFC 1350 with RFC 2347 options, blksize
//! (RFC 2348), tsize and timeout (RFC 2349) and windowsize (RFC 7440), with
//! block-number rollover, backoff and allow/rate/concurrency limits.
//!
//! It does not do multicast TFTP (RFC 2090), does not send windows when
//! receiving uploads (it acknowledges every block), and accepts uploads only
//! into a separate write folder when one is configured.
//!
//! Layout: [`core`] is the sans-I/O protocol (packets, options, the two
//! state machines); `listen` holds the sockets (the request listener and the
//! per-transfer loop); `admission` decides which requests become transfers
//! (allow-list, per-client rate and concurrency) and holds the shared state;
//! `files` turns an admitted request into its source or upload sink; `service`
//! starts it all and hands out the [`TftpHandle`] and its [`TftpStats`].

mod admission;
pub mod config;
pub mod core;
mod error;
mod file_cache;
mod files;
pub mod format;
mod listen;
pub mod lookup;
pub mod path;
mod service;
pub mod template;
mod tid_mux;
mod tid_pool;

pub use crate::core::transfer::{Step, Transfer};
pub use config::{RemapRule, TemplateConfig, TftpConfig, TransferSockets};
pub use error::TftpError;
pub use format::{FormatError, Formatter, OutputFormat, TextOnly};
pub use lookup::{LeaseInfo, LeaseLookup, Mac, NoLeases};
pub use service::{TftpHandle, TftpService, TftpStats};
