//! The TLS admin API of headend and its token auth layer.
//!
//! [`AdminService::start`] serves a versioned JSON API (`/api/v1/...`) over
//! HTTPS only (rustls with the ring provider): zones through the DNS handle,
//! leases and reservations through the store, users, sessions and the audit
//! log, and `/metrics` with every service's statistics
//! (`api::scrape`). Callers log in with a password (Argon2id) and receive a short-lived
//! EdDSA-signed access token plus an opaque, rotating refresh token; the
//! sans-I/O rules for both live in [`core`]. The `headend user` and
//! `headend ctl` commands are in [`cli`].
//!
//! It does not terminate plain HTTP, issue client certificates, or talk to an
//! external identity provider.

pub mod api;
mod audit;
pub mod cli;
pub mod config;
pub mod core;
mod error;
mod listen;
mod oidc;
pub mod password;
mod process;
mod service;
mod signing;
pub mod tls;
mod ui;

pub use config::AdminConfig;
pub use error::AdminError;
pub use process::ProcessStats;
pub use service::{AdminHandle, AdminService, Handles};
