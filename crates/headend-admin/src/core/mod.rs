//! The sans-I/O auth core: token issue and verification, refresh rotation
//! with reuse detection, lockout arithmetic and the revocation cache. Every
//! function takes the time as an argument; nothing here touches a socket, a
//! file or the store, so tests drive it with a fake clock.

pub mod apikey;
pub mod conns;
pub mod guard;
pub mod kek;
pub mod keyring;
pub mod mtls;
pub mod oidc;
pub mod scope;
pub mod session;
pub mod tokens;
pub mod totp;

use serde::{Deserialize, Serialize};

/// What a user may do. Ordered: each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read zones, leases, reservations.
    Viewer,
    /// Viewer, plus record edits, lease release, reloads, reservations.
    Operator,
    /// Everything, including users and the audit log.
    Admin,
}

impl Role {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
