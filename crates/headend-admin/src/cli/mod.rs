//! `headend user ...` (local, on the state directory's store, works even
//! when every admin is locked out) and `headend ctl ...` (an HTTPS client of
//! the admin API with trust-on-first-use certificate pinning).

mod ctl;
mod pin;
mod sso;
mod user;

use std::net::Ipv4Addr;

use clap::Subcommand;

pub use ctl::run as run_ctl;
pub use pin::{PinVerifier, client_dir};
pub use user::run as run_user;

/// `headend user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (password from a prompt, or one line on stdin with --password-stdin).
    Add {
        /// The user name.
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (ends all their sessions).
    Passwd {
        /// The user name.
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with role, lock state and last login.
    List,
    /// Disable a user (ends all their sessions).
    Disable {
        /// The user name.
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The user name.
        name: String,
    },
    /// Clear a user's failed-login lockout.
    Unlock {
        /// The user name.
        name: String,
    },
    /// Narrow a user to zones and subnets (none: clear); access tokens
    /// with the old scopes stop working within seconds.
    Scope {
        /// The user name.
        name: String,
        /// zone:NAME or subnet:PREFIX, repeated; none clears the scopes.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Change a user's role; access tokens with the old role stop working
    /// within seconds (the running server picks the change up).
    Role {
        /// The user name.
        name: String,
        /// viewer, operator or admin.
        role: String,
    },
    /// Delete a user: their sessions and the API keys they made are revoked
    /// (a running server drops their access tokens within seconds); the
    /// audit log keeps their entries.
    Delete {
        /// The user name.
        name: String,
    },
}

/// `headend ctl [--json] [--utc] ...`.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// Print what lists and shows answer as JSON (times as Unix seconds).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print times in UTC instead of the local time zone.
    #[arg(long, global = true)]
    pub utc: bool,
    /// The command.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// `headend ctl ...`.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Log in to an admin API and keep the session (pins the server certificate on first use).
    Login {
        /// e.g. https://127.0.0.1:8443
        url: String,
        /// The user name (a local account).
        #[arg(long, required_unless_present = "sso", conflicts_with = "sso")]
        user: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Log in through the single sign-on provider ([admin.oidc]): prints
        /// the URL to open (and tries xdg-open), then waits for the browser
        /// to come back to a loopback port.
        #[arg(long)]
        sso: bool,
        /// Seconds to wait for the single sign-on login to finish.
        #[arg(long, default_value_t = 300)]
        sso_timeout: u64,
        /// Expect this SHA-256 certificate fingerprint instead of trusting on first use.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// End this session (--all: every session of the user).
    Logout {
        /// End every session of the user.
        #[arg(long)]
        all: bool,
    },
    /// Zones.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Records.
    #[command(subcommand)]
    Record(RecordCommand),
    /// DHCP leases.
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// DHCP reservations.
    #[command(subcommand)]
    Reservation(ReservationCommand),
    /// DHCPv6 bindings (addresses and delegated prefixes).
    #[command(subcommand)]
    Lease6(Lease6Command),
    /// DHCPv6 reservations (by DUID, MAC or relay remote-id).
    #[command(subcommand)]
    Reservation6(Reservation6Command),
    /// Sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// The audit log, newest first (admins).
    Audit {
        /// Only entries by this user.
        #[arg(long)]
        user: Option<String>,
        /// Only actions starting with this, e.g. `record` or `user.add`.
        #[arg(long)]
        action: Option<String>,
        /// Only entries whose target contains this, e.g. a zone or a MAC.
        #[arg(long)]
        target: Option<String>,
        /// Only entries this recent: `90m`, `12h`, `7d`, or Unix seconds.
        #[arg(long)]
        since: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value = "100")]
        limit: u32,
    },
    /// Admin API users, through the API (admins; `headend user` works
    /// locally on the store instead).
    #[command(subcommand)]
    User(CtlUserCommand),
    /// One's own second factor (TOTP).
    #[command(subcommand)]
    Mfa(MfaCommand),
    /// API keys for machine clients (admins).
    #[command(subcommand)]
    Apikey(ApikeyCommand),
}

/// `headend ctl user ...`.
#[derive(Debug, Subcommand)]
pub enum CtlUserCommand {
    /// List users with role, lock state and last login.
    List,
    /// Add a user (password from a prompt, or one line on stdin with --password-stdin).
    Add {
        /// The user name.
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user (ends all their sessions).
    Disable {
        /// The user name.
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The user name.
        name: String,
    },
    /// Change a user's role.
    Role {
        /// The user name.
        name: String,
        /// viewer, operator or admin.
        role: String,
    },
    /// Delete a user: their sessions and the API keys they made are revoked
    /// at once; the audit log keeps their entries.
    Delete {
        /// The user name.
        name: String,
    },
    /// Clear a user's failed-login lockout.
    Unlock {
        /// The user name.
        name: String,
    },
}

/// `headend ctl mfa ...`: one's own second factor.
#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Enrol a TOTP second factor: shows the QR code, asks for a first code,
    /// prints the ten recovery codes once.
    Enrol,
    /// Remove a second factor: one's own with a current code (asked for),
    /// another user's as an admin who has a second factor.
    Disable {
        /// Another user (admins).
        #[arg(long)]
        user: Option<String>,
    },
}

/// `headend ctl apikey ...`.
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Make a key and print it once (`Authorization: Bearer KEY` or `X-API-Key: KEY`).
    Create {
        /// A unique name (lower-case letters, digits, . _ -), audited as apikey:NAME.
        #[arg(long)]
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// zone:NAME or subnet:PREFIX (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 90d (default: until revoked).
        #[arg(long)]
        expires: Option<String>,
        /// Source prefix it may be used from (repeat for several; default: any).
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Requests per second (default: [admin.api_keys] rate_per_second).
        #[arg(long)]
        rate: Option<u32>,
    },
    /// List keys: prefix, name, role, scopes, created, last used, expiry.
    List,
    /// Revoke a key (refused from the next request on, on every server).
    Revoke {
        /// The key's name.
        name: String,
    },
    /// Give a key a new secret (printed once); the old one works for the grace period.
    Rotate {
        /// The key's name.
        name: String,
        /// How long the old secret keeps working, e.g. 1h, or 0 (default: [admin.api_keys] rotate_grace_secs).
        #[arg(long)]
        grace: Option<String>,
    },
}

/// `headend ctl zone ...`.
#[derive(Debug, Subcommand)]
pub enum ZoneCommand {
    /// List served zones with their serials.
    List,
    /// Show a zone's records.
    Show {
        /// The zone, e.g. example.test
        zone: String,
    },
    /// Re-read a zone file.
    Reload {
        /// The zone.
        zone: String,
    },
    /// Write the zone with its dynamic updates back to its file (atomically,
    /// comments kept) and empty its update journal.
    Flush {
        /// The zone.
        zone: String,
    },
}

/// `headend ctl record ...`.
#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Replace the RRset NAME TYPE with the given RDATA values (one record each).
    #[command(after_help = RECORD_SET_EXAMPLES)]
    Set {
        /// The zone.
        zone: String,
        /// Owner name, relative to the zone (`@` for the apex).
        name: String,
        /// Record type, e.g. A.
        rtype: String,
        /// One or more RDATA values, e.g. 192.0.2.10. For TXT and SPF each
        /// value is the text of one record, kept as given (spaces, `;`,
        /// quotes), split into 255-byte strings when longer.
        #[arg(required = true)]
        rdata: Vec<String>,
        /// Take TXT/SPF values in zone-file syntax (`"part one" "part two"`)
        /// instead of as plain text.
        #[arg(long)]
        raw: bool,
        /// TTL in seconds.
        #[arg(long)]
        ttl: Option<u32>,
        /// Refuse the edit unless the zone's serial is still this one.
        #[arg(long)]
        serial: Option<u32>,
    },
    /// Delete the RRset NAME TYPE, or only the record with RDATA.
    Delete {
        /// The zone.
        zone: String,
        /// Owner name.
        name: String,
        /// Record type.
        rtype: String,
        /// Only this record (TXT/SPF: its text, as for `set`).
        rdata: Option<String>,
        /// Take a TXT/SPF value in zone-file syntax instead of as plain text.
        #[arg(long)]
        raw: bool,
        /// Refuse the edit unless the zone's serial is still this one.
        #[arg(long)]
        serial: Option<u32>,
    },
}

/// `headend ctl record set --help`: the two ways to give TXT values.
const RECORD_SET_EXAMPLES: &str = r#"Examples:
  headend ctl record set example.test www A 192.0.2.10 192.0.2.11 --ttl 300
  headend ctl record set example.test @ TXT 'v=spf1 include:_spf.example.net -all'
  headend ctl record set example.test _dmarc TXT 'v=DMARC1; p=reject'
      (one argument = one TXT record holding exactly that text; over 255
       bytes it becomes several strings of the same record)
  headend ctl record set example.test @ TXT --raw '"part one" "part two"'
      (--raw: zone-file syntax, quotes and escapes as in a zone file)"#;

/// `headend ctl lease ...`.
#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// List leases.
    List {
        /// Only this subnet.
        #[arg(long)]
        subnet: Option<String>,
    },
    /// Show the lease of a MAC address or an IP address, every field.
    Show {
        /// `aa:bb:cc:dd:ee:ff` or `10.0.0.5`.
        client: String,
    },
    /// Release a lease now.
    Release {
        /// The leased address.
        address: Ipv4Addr,
    },
}

/// `headend ctl lease6 ...`.
#[derive(Debug, Subcommand)]
pub enum Lease6Command {
    /// List DHCPv6 bindings, by address.
    List {
        /// Only this subnet.
        #[arg(long)]
        subnet: Option<String>,
        /// Only addresses (`na`) or delegated prefixes (`pd`).
        #[arg(long)]
        kind: Option<String>,
        /// Only this client DUID (hex).
        #[arg(long)]
        duid: Option<String>,
        /// Only bindings in this state (offered, bound, released, declined).
        #[arg(long)]
        state: Option<String>,
        /// Every page, not just the first.
        #[arg(long)]
        all: bool,
        /// Bindings per page.
        #[arg(long, default_value = "1000")]
        limit: usize,
    },
    /// End a DHCPv6 binding now.
    Release {
        /// The address, or the delegated prefix's first address.
        address: std::net::Ipv6Addr,
    },
}

/// `headend ctl reservation6 ...`.
#[derive(Debug, Subcommand)]
pub enum Reservation6Command {
    /// Reserve an address and/or a delegated prefix in SUBNET for a client
    /// given by exactly one of --duid, --mac, --remote-id.
    Add {
        /// The `[[dhcp6.subnet]]` name.
        subnet: String,
        /// The client's DUID (hex).
        #[arg(long)]
        duid: Option<String>,
        /// The client's link-layer address.
        #[arg(long)]
        mac: Option<String>,
        /// The relay remote-id (text, or hex:...).
        #[arg(long)]
        remote_id: Option<String>,
        /// The address to reserve (IA_NA).
        #[arg(long)]
        address: Option<std::net::Ipv6Addr>,
        /// The prefix to reserve (IA_PD), e.g. 2001:db8:200::/56.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// List DHCPv6 reservations.
    List,
    /// Remove a DHCPv6 reservation.
    Delete {
        /// The subnet.
        subnet: String,
        /// `duid`, `hwaddr` or `remote_id`.
        kind: String,
        /// The key as `reservation6 list` shows it (colon hex).
        key: String,
    },
}

/// `headend ctl reservation ...`.
#[derive(Debug, Subcommand)]
pub enum ReservationCommand {
    /// Reserve ADDRESS for MAC in SUBNET.
    Add {
        /// The DHCP subnet name.
        subnet: String,
        /// The client's MAC address.
        mac: String,
        /// The address to reserve.
        address: Ipv4Addr,
        /// Host name to hand out.
        #[arg(long)]
        hostname: Option<String>,
    },
    /// List reservations.
    List,
    /// Remove a reservation.
    Delete {
        /// The subnet.
        subnet: String,
        /// The client's MAC address.
        mac: String,
    },
    /// Show the attributes of a reservation (what TFTP templates see as
    /// `reservation.attributes`).
    Attributes {
        /// The subnet.
        subnet: String,
        /// The client's MAC address.
        mac: String,
    },
    /// Set attributes of a reservation: `tier=gold max_cpe=4`; the others
    /// stay unless --replace is given.
    Set {
        /// The subnet.
        subnet: String,
        /// The client's MAC address.
        mac: String,
        /// NAME=VALUE pairs.
        #[arg(required = true)]
        pairs: Vec<String>,
        /// Remove every attribute not given.
        #[arg(long)]
        replace: bool,
    },
    /// Remove attributes of a reservation by name.
    Unset {
        /// The subnet.
        subnet: String,
        /// The client's MAC address.
        mac: String,
        /// Attribute names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `headend ctl session ...`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List live sessions (yours; admins: --user NAME or --user '*').
    List {
        /// Whose sessions.
        #[arg(long)]
        user: Option<String>,
    },
    /// End a session by id.
    Revoke {
        /// The session id, or a unique prefix of it of 6 or more characters
        /// (the 8 the logs show will do).
        id: String,
    },
}

/// Reads a password: one line from stdin, or a prompt (twice when `confirm`).
pub(crate) fn read_password(from_stdin: bool, confirm: bool) -> Result<String, crate::AdminError> {
    let fail = |e: std::io::Error| crate::AdminError::Password {
        reason: format!("cannot read the password: {e}"),
    };
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(fail)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        // Without a controlling terminal (a script, ssh without -t, systemd)
        // there is no prompt: say how to give the password instead.
        let no_tty = |e: std::io::Error| crate::AdminError::Password {
            reason: format!(
                "cannot read the password: no terminal to prompt on ({e}); give it as one line on stdin with --password-stdin, e.g. `printf '%s\\n' \"$PW\" | headend ... --password-stdin`"
            ),
        };
        let pw = rpassword::prompt_password("Password: ").map_err(no_tty)?;
        if confirm && rpassword::prompt_password("Again: ").map_err(no_tty)? != pw {
            return Err(crate::AdminError::Password {
                reason: "the two passwords differ".into(),
            });
        }
        pw
    };
    if pw.chars().count() < crate::api::users::MIN_PASSWORD_LEN {
        return Err(crate::AdminError::Password {
            reason: format!(
                "passwords need at least {} characters",
                crate::api::users::MIN_PASSWORD_LEN
            ),
        });
    }
    Ok(pw)
}
