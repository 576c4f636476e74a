//! Shared plumbing for headend's crates.
//!
//! A leaf crate with no dependencies: every crate that writes state, tells
//! the time or limits a rate uses these instead of its own copy, so there is
//! one definition of "durable" and one of "now".
//!
//! - [`fs`]: [`write_atomic`] (temporary file, fsync,
//!   rename, fsync of the folder), its streaming forms
//!   [`rename_durable`] and
//!   [`link_durable`], and a safe file name for a zone.
//! - [`time`]: Unix time now and its RFC 3339 / log forms.
//! - [`bucket`]: a token bucket and a bounded map of them by client.
//! - [`histogram`]: a lock-free latency histogram read at scrape time.
//! - [`net`]: the remedy for a socket error, only when it is the cause.

pub mod bucket;
pub mod fs;
pub mod histogram;
pub mod net;
pub mod time;

pub use bucket::{Buckets, TokenBucket};
pub use fs::{
    create_private_dir, create_private_file, exposed_entries, link_durable, read_secret,
    rename_durable, safe_file_name, write_atomic,
};
pub use histogram::{Histogram, HistogramSnapshot};
pub use net::bind_hint;
pub use time::{unix_now, unix_now_secs};
