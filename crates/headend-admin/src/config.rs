//! `[admin]`: where the API listens, its certificate, who may connect, token
//! lifetimes, Argon2 cost and brute-force limits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

/// The `[admin]` section of headend.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// HTTPS listen address (the API never speaks plain HTTP).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain; absent means a self-signed one is generated in
    /// the state directory on first start. Reloaded on SIGHUP.
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`. Absent with `cert` set: the systemd
    /// credential `headend-tls-key` (`$CREDENTIALS_DIRECTORY/headend-tls-key`).
    pub key: Option<PathBuf>,
    /// If non-empty, connections from other source prefixes are refused
    /// before any auth work.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Source prefixes that may read /metrics without a token (default
    /// loopback: `127.0.0.0/8` and `::1`; `[]` requires a token from
    /// everywhere). Any other source needs a token of any role.
    #[serde(default = "default_metrics_allow")]
    pub metrics_allow: Vec<IpNet>,
    /// The `iss` claim of issued access tokens.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The `aud` claim of issued access tokens.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Token lifetimes.
    #[serde(default)]
    pub tokens: TokenConfig,
    /// Argon2id cost for password hashes.
    #[serde(default)]
    pub argon2: Argon2Config,
    /// Brute-force protection.
    #[serde(default)]
    pub limits: LimitConfig,
    /// Connection budget and timeouts of the listener.
    #[serde(default)]
    pub connections: ConnectionConfig,
    /// `max-age` of the `Strict-Transport-Security` header sent on every
    /// answer, in seconds (RFC 6797); one year by default. 0 tells browsers
    /// to forget the policy.
    #[serde(default = "default_hsts_max_age")]
    pub hsts_max_age: u64,
    /// API keys of machine clients.
    #[serde(default)]
    pub api_keys: ApiKeyConfig,
    /// Request rates of authenticated callers.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Client certificates (mutual TLS); off when absent.
    pub client_tls: Option<ClientTlsConfig>,
    /// The key-encryption key that seals the secrets kept in the store
    /// (JWT signing keys, TOTP seeds, single sign-on sessions' provider
    /// tokens): 32 random bytes as 64 hex digits
    /// (`openssl rand -hex 32 > kek; chmod 600 kek`), in a file only its
    /// owner may read. Absent: `$CREDENTIALS_DIRECTORY/headend-kek` (systemd
    /// `LoadCredential=`), else a key generated once in the state directory
    /// (fine for one server; servers sharing a PostgreSQL store must be
    /// given the same key).
    pub kek_file: Option<PathBuf>,
    /// Audit entries older than this many days are deleted by the hourly
    /// retention sweep (which also deletes ended sessions and API keys
    /// revoked or expired that long ago); 365. 0 keeps them forever.
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u64,
    /// Where audit entries are forwarded as JSON lines, besides the store.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Roles whose users must have a second factor (TOTP): a user of such a
    /// role without one is made to enrol at their next login before any
    /// token is issued. Users with a second factor always need it.
    #[serde(default)]
    pub require_mfa_for: Vec<crate::core::Role>,
    /// Who may log in with a local password: `all` users, only `admins`
    /// (break-glass accounts while everyone else signs in with single
    /// sign-on), or `none`. API keys and client certificates are not
    /// affected.
    #[serde(default)]
    pub local_login: LocalLogin,
    /// Single sign-on with an OpenID Connect provider; off when absent.
    pub oidc: Option<OidcConfig>,
}

/// `[admin] local_login`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalLogin {
    /// Every local account may log in with its password.
    #[default]
    All,
    /// Only local accounts with the admin role (break-glass).
    Admins,
    /// No local password login.
    None,
}

/// `[admin.oidc]`: log in through an OpenID Connect provider (authorization
/// code flow with PKCE S256, `state` and `nonce`; the ID token is verified
/// against the provider's JWKS). The provider's groups (or any claim) map
/// to a role; a login whose claim maps to no role is refused. Users are
/// kept as `sso:NAME` (no password; they can be disabled, deleted and
/// listed like local users). The provider is asked again (userinfo) at a
/// session's refresh, at most every `recheck_minutes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (`https://`); its discovery document is
    /// read from `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// A file holding the client secret (first line); absent for a public
    /// client (PKCE only).
    pub client_secret_file: Option<PathBuf>,
    /// How the secret is sent to the token endpoint: `client_secret_basic`
    /// (HTTP Basic) or `client_secret_post` (form fields).
    #[serde(default)]
    pub token_auth: TokenAuth,
    /// The redirect URI registered at the provider: this API's
    /// `https://HOST:PORT/api/v1/auth/oidc/callback` as browsers reach it.
    pub redirect_uri: String,
    /// Scopes asked for; `openid` is always sent.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim (of the ID token, else of userinfo) whose values map to
    /// a role; `groups`.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim value → role; the highest role of the user's values wins; the
    /// key `"*"` grants its role to anyone the provider logs in.
    pub role_map: std::collections::BTreeMap<String, crate::core::Role>,
    /// The claim whose values map to scopes (`scope_map`); absent: the
    /// `role_claim`.
    pub scope_claim: Option<String>,
    /// Claim value → scopes (`zone:NAME`, `subnet:PREFIX`, as for API keys
    /// and users), e.g. `{ "dns-example" = ["zone:example.test"] }`. The
    /// user's scopes are the union of its values' scopes, set at each login
    /// and each provider check; a user none of whose values is listed has
    /// no scope limits. Empty (the default): headend leaves single sign-on
    /// users' scopes alone (`headend user scope` sets them).
    #[serde(default)]
    pub scope_map: std::collections::BTreeMap<String, Vec<String>>,
    /// A session refresh asks the provider's userinfo endpoint again when
    /// the last check is this many minutes old (a user whose groups no
    /// longer map to a role is then refused); 5. A fraction is allowed
    /// (tests recheck every second or two).
    #[serde(default = "default_recheck_minutes")]
    pub recheck_minutes: f64,
    /// PEM CA certificate(s) that sign the provider's certificate (a
    /// private CA); absent: the system's trust store.
    pub ca_file: Option<PathBuf>,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// HTTP Basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` form fields.
    ClientSecretPost,
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "profile", "email", "groups"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}
fn default_role_claim() -> String {
    "groups".to_owned()
}
fn default_recheck_minutes() -> f64 {
    5.0
}

impl OidcConfig {
    /// Seconds between two checks of a session at the provider.
    pub fn recheck_secs(&self) -> u64 {
        // Validated: finite, at least one second.
        (self.recheck_minutes * 60.0) as u64
    }
}

/// `[admin.audit]`: forwarding of audit entries to a SIEM.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// `"file:/path"`: one JSON object per line appended to the file (0600);
    /// `"syslog"`: each entry as JSON to the local syslog socket
    /// (`/dev/log`, read by journald), facility authpriv. Absent: the store only.
    pub forward: Option<String>,
}

/// `[admin.client_tls]`: client certificates signed by `ca_file` (and not
/// revoked by `crl_file`) log clients in as the principal their identity
/// maps to. A certificate that fails verification is refused at the
/// handshake. The CA and CRL files are re-read on SIGHUP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// PEM certificates of the CAs that sign client certificates.
    pub ca_file: PathBuf,
    /// PEM certificate revocation list(s) of those CAs.
    pub crl_file: Option<PathBuf>,
    /// `optional`: clients may present a certificate; `required`: the
    /// handshake fails without one.
    #[serde(default)]
    pub mode: ClientTlsMode,
    /// Identity → principal, first match wins.
    #[serde(default)]
    pub map: Vec<ClientMapping>,
}

impl ClientTlsConfig {
    /// The mapping rules as the auth core reads them.
    pub fn rules(&self) -> Vec<crate::core::mtls::RuleText<'_>> {
        self.map
            .iter()
            .map(|m| crate::core::mtls::RuleText {
                identity: &m.identity,
                principal: &m.principal,
                role: &m.role,
                scopes: &m.scopes,
            })
            .collect()
    }
}

/// Whether clients must present a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientTlsMode {
    /// A certificate is one way to log in among others.
    #[default]
    Optional,
    /// No handshake completes without a valid client certificate.
    Required,
}

/// One `[[admin.client_tls.map]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMapping {
    /// `uri:PATTERN`, `dns:PATTERN` (subject alternative names) or
    /// `cn:PATTERN` (subject common name); `*` matches any run of characters.
    pub identity: String,
    /// The principal's name (audited as `cert:NAME`).
    pub principal: String,
    /// viewer, operator or admin.
    pub role: String,
    /// `zone:NAME` / `subnet:PREFIX` scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `[admin.rate_limit]`: requests of authenticated callers (users with an
/// access token; API keys have their own rate, `[admin.api_keys]`), per
/// principal and per source address. Over a limit: 429 with `Retry-After`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second of one user.
    #[serde(default = "default_rl_rate")]
    pub per_second: u32,
    /// Burst above that rate.
    #[serde(default = "default_rl_burst")]
    pub burst: u32,
    /// Authenticated requests per second from one source address (all principals).
    #[serde(default = "default_rl_addr_rate")]
    pub per_address_per_second: u32,
    /// Burst above that rate.
    #[serde(default = "default_rl_addr_burst")]
    pub per_address_burst: u32,
    /// Tokens a request of an expensive route (audit log, lease list) takes.
    #[serde(default = "default_rl_cost")]
    pub expensive_cost: u32,
}

fn default_rl_rate() -> u32 {
    100
}
fn default_rl_burst() -> u32 {
    200
}
fn default_rl_addr_rate() -> u32 {
    500
}
fn default_rl_addr_burst() -> u32 {
    1000
}
fn default_rl_cost() -> u32 {
    10
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: default_rl_rate(),
            burst: default_rl_burst(),
            per_address_per_second: default_rl_addr_rate(),
            per_address_burst: default_rl_addr_burst(),
            expensive_cost: default_rl_cost(),
        }
    }
}

/// `[admin.api_keys]`: defaults for API keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Requests per second one key may make (its burst is the same number)
    /// unless the key was made with its own `--rate`.
    #[serde(default = "default_key_rate")]
    pub rate_per_second: u32,
    /// How long the old secret of a rotated key keeps working, in seconds,
    /// unless the rotation says otherwise.
    #[serde(default = "default_key_grace")]
    pub rotate_grace_secs: u64,
}

fn default_key_rate() -> u32 {
    50
}
fn default_key_grace() -> u64 {
    24 * 3600
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        Self {
            rate_per_second: default_key_rate(),
            rotate_grace_secs: default_key_grace(),
        }
    }
}

/// `[admin.connections]`: how many connections the listener holds and how
/// long a slow peer may keep one. Over a cap, a new connection is closed at
/// once (never queued), so slow clients cannot take the process's file
/// descriptors from the other services.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Connections open at once, in total; 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections open at once from one source address; 32.
    #[serde(default = "default_max_per_source")]
    pub max_connections_per_source: usize,
    /// Seconds for the TLS handshake to complete; 10.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
    /// Seconds for a request's line and headers to arrive, counted from the
    /// end of the handshake or of the previous answer (so it also bounds an
    /// idle kept-alive connection); 10.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds for a request's body to arrive whole; 30.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u64,
    /// Seconds a connection may go with no byte moving either way while it
    /// waits on the peer (a body that stalls, an answer the peer does not
    /// read); 60.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
}

/// `[admin.tokens]`: lifetimes in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Access token (JWT) lifetime; 900 s (15 min).
    #[serde(default = "default_access_ttl")]
    pub access_ttl: u64,
    /// Absolute refresh-token family lifetime from the login; 7 days.
    #[serde(default = "default_refresh_ttl")]
    pub refresh_ttl: u64,
    /// A family unused this long dies; 24 h.
    #[serde(default = "default_refresh_idle")]
    pub refresh_idle: u64,
    /// Clock skew allowed on `exp`/`nbf`; 30 s.
    #[serde(default = "default_leeway")]
    pub leeway: u64,
    /// Days a signing key signs before the next one takes over; 30. The
    /// next key is published in `/.well-known/jwks.json` two token
    /// lifetimes before it signs, and the old one kept until its last token
    /// expired. A fraction is allowed (tests rotate every few seconds).
    #[serde(default = "default_rotate_days")]
    pub rotate_days: f64,
}

impl TokenConfig {
    /// The signing-key schedule these lifetimes make.
    pub fn schedule(&self) -> crate::core::keyring::Schedule {
        crate::core::keyring::Schedule {
            // Validated: finite, at least one second.
            rotate_every: (self.rotate_days * 86_400.0) as u64,
            token_life: self.access_ttl.saturating_add(self.leeway),
        }
    }
}

/// `[admin.argon2]`: Argon2id parameters. Default 46 MiB, 2 passes, 1 lane:
/// above both OWASP minimums (46 MiB x 1 and 19 MiB x 2), and about 0.1 s
/// per login on a small server (bench/admin.sh).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory in KiB.
    #[serde(default = "default_m_cost")]
    pub memory_kib: u32,
    /// Passes.
    #[serde(default = "default_t_cost")]
    pub iterations: u32,
    /// Lanes.
    #[serde(default = "default_p_cost")]
    pub parallelism: u32,
    /// Hashes computed at once (the rest wait), so logins cannot starve the
    /// runtime or exhaust memory.
    #[serde(default = "default_hash_concurrency")]
    pub max_concurrent: usize,
}

/// `[admin.limits]`: brute-force protection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Login/refresh attempts per minute from one source address.
    #[serde(default = "default_per_minute")]
    pub login_per_minute: u32,
    /// Burst allowed above that rate.
    #[serde(default = "default_burst")]
    pub login_burst: u32,
    /// Consecutive failures of one user before the account locks.
    #[serde(default = "default_lockout_after")]
    pub lockout_after: u32,
    /// First lockout, in seconds; it doubles with every further failure.
    #[serde(default = "default_lockout_base")]
    pub lockout_base: u64,
    /// Longest lockout, in seconds.
    #[serde(default = "default_lockout_max")]
    pub lockout_max: u64,
}

fn default_hsts_max_age() -> u64 {
    365 * 24 * 3600
}
fn default_max_connections() -> usize {
    256
}
fn default_max_per_source() -> usize {
    32
}
fn default_handshake_timeout() -> u64 {
    10
}
fn default_header_timeout() -> u64 {
    10
}
fn default_body_timeout() -> u64 {
    30
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_metrics_allow() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}
fn default_issuer() -> String {
    "headend".to_owned()
}
fn default_audience() -> String {
    "headend-admin".to_owned()
}
fn default_access_ttl() -> u64 {
    900
}
fn default_refresh_ttl() -> u64 {
    7 * 24 * 3600
}
fn default_refresh_idle() -> u64 {
    24 * 3600
}
fn default_leeway() -> u64 {
    30
}
fn default_audit_retention_days() -> u64 {
    365
}
fn default_rotate_days() -> f64 {
    30.0
}
fn default_m_cost() -> u32 {
    46 * 1024
}
fn default_t_cost() -> u32 {
    2
}
fn default_p_cost() -> u32 {
    1
}
fn default_hash_concurrency() -> usize {
    2
}
fn default_per_minute() -> u32 {
    30
}
fn default_burst() -> u32 {
    10
}
fn default_lockout_after() -> u32 {
    5
}
fn default_lockout_base() -> u64 {
    30
}
fn default_lockout_max() -> u64 {
    3600
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_ttl: default_access_ttl(),
            refresh_ttl: default_refresh_ttl(),
            refresh_idle: default_refresh_idle(),
            leeway: default_leeway(),
            rotate_days: default_rotate_days(),
        }
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory_kib: default_m_cost(),
            iterations: default_t_cost(),
            parallelism: default_p_cost(),
            max_concurrent: default_hash_concurrency(),
        }
    }
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            login_per_minute: default_per_minute(),
            login_burst: default_burst(),
            lockout_after: default_lockout_after(),
            lockout_base: default_lockout_base(),
            lockout_max: default_lockout_max(),
        }
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            max_connections_per_source: default_max_per_source(),
            handshake_timeout_secs: default_handshake_timeout(),
            header_timeout_secs: default_header_timeout(),
            body_timeout_secs: default_body_timeout(),
            idle_timeout_secs: default_idle_timeout(),
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            cert: None,
            key: None,
            allow: Vec::new(),
            metrics_allow: default_metrics_allow(),
            issuer: default_issuer(),
            audience: default_audience(),
            tokens: TokenConfig::default(),
            argon2: Argon2Config::default(),
            limits: LimitConfig::default(),
            connections: ConnectionConfig::default(),
            hsts_max_age: default_hsts_max_age(),
            api_keys: ApiKeyConfig::default(),
            rate_limit: RateLimitConfig::default(),
            client_tls: None,
            kek_file: None,
            audit_retention_days: default_audit_retention_days(),
            audit: AuditConfig::default(),
            require_mfa_for: Vec::new(),
            local_login: LocalLogin::All,
            oidc: None,
        }
    }
}

/// The systemd credential holding the admin TLS private key when `cert` is
/// set and `key` is not.
pub const TLS_KEY_CREDENTIAL: &str = "headend-tls-key";

impl AdminConfig {
    /// The TLS private key file: `key`, else (with `cert` set) the
    /// credential [`TLS_KEY_CREDENTIAL`] in `credentials` if it exists.
    pub fn tls_key(&self, credentials: Option<&Path>) -> Option<PathBuf> {
        self.key.clone().or_else(|| {
            self.cert.as_ref()?;
            credentials
                .map(|d| d.join(TLS_KEY_CREDENTIAL))
                .filter(|p| p.exists())
        })
    }

    /// Makes relative certificate paths relative to the config file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.cert, &mut self.key, &mut self.kek_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(o) = &mut self.oidc {
            for p in [&mut o.client_secret_file, &mut o.ca_file]
                .into_iter()
                .flatten()
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        if let Some(c) = &mut self.client_tls {
            for p in std::iter::once(&mut c.ca_file).chain(c.crl_file.as_mut()) {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
    }

    /// Checks values serde cannot: both or neither of cert/key, non-zero limits.
    pub fn validate(&self) -> Result<(), crate::AdminError> {
        let bad = |key: &'static str, reason: &str| {
            Err(crate::AdminError::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        if self.cert.is_some() != self.tls_key(credentials.as_deref()).is_some() {
            return bad(
                "admin.cert",
                "set both `cert` and `key` (or pass the key as the systemd credential headend-tls-key), or neither (a self-signed certificate is then generated)",
            );
        }
        if self.tokens.access_ttl == 0
            || self.tokens.refresh_ttl == 0
            || self.tokens.refresh_idle == 0
        {
            return bad("admin.tokens", "lifetimes must be greater than 0 seconds");
        }
        let rotate = self.tokens.rotate_days;
        if !rotate.is_finite() || rotate * 86_400.0 < 1.0 || rotate > 3650.0 {
            return bad(
                "admin.tokens.rotate_days",
                "must be between 1 second (0.0000116) and 3650 days",
            );
        }
        if self.argon2.max_concurrent == 0 {
            return bad("admin.argon2.max_concurrent", "must be at least 1");
        }
        if argon2::Params::new(
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            None,
        )
        .is_err()
        {
            return bad(
                "admin.argon2",
                "invalid Argon2 parameters (memory_kib >= 8 x parallelism, iterations >= 1, parallelism >= 1)",
            );
        }
        if self.limits.login_per_minute == 0 || self.limits.login_burst == 0 {
            return bad(
                "admin.limits",
                "login_per_minute and login_burst must be at least 1",
            );
        }
        let c = &self.connections;
        if c.max_connections == 0 || c.max_connections_per_source == 0 {
            return bad(
                "admin.connections",
                "max_connections and max_connections_per_source must be at least 1",
            );
        }
        if c.max_connections_per_source > c.max_connections {
            return bad(
                "admin.connections.max_connections_per_source",
                "must not exceed max_connections",
            );
        }
        if c.handshake_timeout_secs == 0
            || c.header_timeout_secs == 0
            || c.body_timeout_secs == 0
            || c.idle_timeout_secs == 0
        {
            return bad("admin.connections", "timeouts must be at least 1 second");
        }
        if self.api_keys.rate_per_second == 0 {
            return bad("admin.api_keys.rate_per_second", "must be at least 1");
        }
        let rl = &self.rate_limit;
        if rl.per_second == 0
            || rl.burst == 0
            || rl.per_address_per_second == 0
            || rl.per_address_burst == 0
            || rl.expensive_cost == 0
        {
            return bad(
                "admin.rate_limit",
                "every rate, burst and cost must be at least 1",
            );
        }
        if let Some(o) = &self.oidc {
            if !o.issuer.starts_with("https://") {
                return bad("admin.oidc.issuer", "must be an https:// URL");
            }
            if !o.redirect_uri.starts_with("https://")
                || !o.redirect_uri.ends_with("/api/v1/auth/oidc/callback")
            {
                return bad(
                    "admin.oidc.redirect_uri",
                    "must be this API's https://HOST:PORT/api/v1/auth/oidc/callback",
                );
            }
            if o.client_id.is_empty() {
                return bad("admin.oidc.client_id", "must not be empty");
            }
            if o.role_map.is_empty() {
                return bad(
                    "admin.oidc.role_map",
                    "map at least one claim value (or \"*\") to a role, or nobody can log in",
                );
            }
            for (value, scopes) in &o.scope_map {
                if let Err(e) = crate::core::scope::Scopes::parse(scopes) {
                    return bad("admin.oidc.scope_map", &format!("{value:?}: {e}"));
                }
            }
            let m = o.recheck_minutes;
            if !m.is_finite() || m * 60.0 < 1.0 || m > 1440.0 {
                return bad(
                    "admin.oidc.recheck_minutes",
                    "must be between 1 second (0.017) and 1440 minutes",
                );
            }
        }
        Ok(())
    }

    /// File descriptors the admin API may hold at most: one per connection
    /// and the listening socket.
    pub fn descriptor_budget(&self) -> usize {
        self.connections.max_connections + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_caps_and_timeouts_are_checked() {
        let mut c = AdminConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.descriptor_budget(), 257);
        assert_eq!(c.hsts_max_age, 31_536_000);
        c.connections.max_connections_per_source = 300;
        assert!(c.validate().is_err(), "per source above the total");
        c.connections.max_connections_per_source = 8;
        c.connections.header_timeout_secs = 0;
        assert!(c.validate().is_err(), "a zero timeout");
    }

    #[test]
    fn connections_section_parses_and_rejects_unknown_keys() {
        let c: AdminConfig =
            toml::from_str("[connections]\nmax_connections = 10\nheader_timeout_secs = 3\n")
                .expect("parse");
        assert_eq!(c.connections.max_connections, 10);
        assert_eq!(c.connections.header_timeout_secs, 3);
        assert_eq!(c.connections.body_timeout_secs, 30);
        assert!(toml::from_str::<AdminConfig>("[connections]\nmax_conns = 1\n").is_err());
    }

    #[test]
    fn oidc_section_parses_and_is_checked() {
        let text = r#"
local_login = "admins"
[oidc]
issuer = "https://sso.example.test/realms/isp"
client_id = "headend"
client_secret_file = "oidc-secret"
redirect_uri = "https://headend.example.test:8443/api/v1/auth/oidc/callback"
role_map = { "netops-admins" = "admin", "netops" = "operator", "*" = "viewer" }
"#;
        let mut c: AdminConfig = toml::from_str(text).expect("parse");
        assert_eq!(c.local_login, LocalLogin::Admins);
        c.resolve_paths(Path::new("/etc/headend"));
        let o = c.oidc.clone().expect("oidc");
        assert_eq!(
            o.client_secret_file.as_deref(),
            Some(Path::new("/etc/headend/oidc-secret"))
        );
        assert_eq!(o.role_claim, "groups");
        assert_eq!(o.recheck_secs(), 300);
        assert_eq!(o.token_auth, TokenAuth::ClientSecretBasic);
        assert_eq!(o.role_map["netops"], crate::core::Role::Operator);
        assert!(c.validate().is_ok());
        for (patch, key) in [
            ("issuer = \"http://sso.example.test\"", "admin.oidc.issuer"),
            (
                "redirect_uri = \"https://headend.example.test/elsewhere\"",
                "admin.oidc.redirect_uri",
            ),
            ("recheck_minutes = 0.0", "admin.oidc.recheck_minutes"),
            ("role_map = {}", "admin.oidc.role_map"),
            (
                "scope_map = { \"dns\" = [\"zone:example.test\", \"vlan:7\"] }",
                "admin.oidc.scope_map",
            ),
        ] {
            let text: String = text
                .lines()
                .filter(|l| !l.starts_with(patch.split(' ').next().unwrap_or("")))
                .chain(std::iter::once(patch))
                .collect::<Vec<_>>()
                .join("\n");
            let c: AdminConfig = toml::from_str(&text).expect(patch);
            match c.validate() {
                Err(crate::AdminError::Config { key: k, .. }) => assert_eq!(k, key, "{patch}"),
                other => panic!("{patch}: {other:?}"),
            }
        }
        assert!(toml::from_str::<AdminConfig>("[oidc]\nissuer = \"x\"\nclient = 1\n").is_err());
        assert!(toml::from_str::<AdminConfig>("local_login = \"some\"\n").is_err());
    }
}
