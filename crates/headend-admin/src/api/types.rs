//! The JSON bodies of the admin API: what the handlers read and answer, and
//! what `headend ctl` sends and reads, as one set of types, so a renamed or
//! retyped field fails to compile on both sides at once.
//!
//! Answers declare their fields in alphabetical order, the order in which
//! the API has always written object keys, so they stay the same to the
//! byte. Requests keep the order in which serde names a missing field.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::Role;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// More about the error (e.g. the findings of a refused zone edit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// A stable code: `unauthorized`, `not_found`, `bad_request`, ...
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// POST /api/v1/auth/login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// POST /api/v1/auth/oidc/token: the one-time code a single sign-on login
/// sent to the client's loopback URI, and the client's PKCE verifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoTokenRequest {
    /// The `code` of the redirect.
    pub code: String,
    /// The verifier whose S256 challenge the client sent to /start.
    pub code_verifier: String,
}

/// POST /api/v1/auth/refresh and /logout, when the refresh token is not in
/// the cookie.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The opaque refresh token from the last login or refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The answer to a login or refresh (RFC 6749 §5.1 names).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The signed access token (JWT).
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The one-time recovery codes made by an enrolment that ended this
    /// login: shown this once, stored only as hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
    /// The new refresh token (the one presented is spent).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
}

/// The answer to a right password when a second factor is due: the ticket
/// to present with the code (`POST /api/v1/auth/mfa`) or, when the role
/// requires a second factor that is not enrolled yet, to enrol with
/// (`POST /api/v1/auth/mfa/enrol`, then `/confirm`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaDue {
    /// Seconds the ticket lives.
    pub expires_in: u64,
    /// Enrolment is due before the login can end.
    pub mfa_enrolment_required: bool,
    /// A code (or a recovery code) is due.
    pub mfa_required: bool,
    /// The ticket (opaque, single use).
    pub mfa_ticket: String,
}

/// `POST /api/v1/auth/mfa` and `/api/v1/auth/mfa/confirm`; also the body of
/// `POST /api/v1/users/{name}/mfa/confirm` and `DELETE
/// /api/v1/users/{name}/mfa` (without a ticket).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MfaCodeRequest {
    /// The ticket of the password step (login only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_ticket: Option<String>,
    /// A 6-digit code from the authenticator app, or a recovery code.
    #[serde(default)]
    pub code: String,
}

/// A new enrolment: what to put into the authenticator app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaEnrolment {
    /// The `otpauth://totp/...` URI (what the QR code holds).
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
    /// The QR code for a terminal (Unicode half blocks).
    pub qr_text: String,
    /// The seed in base32, to type in by hand.
    pub secret: String,
}

/// The answer to a confirmed enrolment outside a login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaConfirmed {
    /// The one-time recovery codes, shown this once.
    pub recovery_codes: Vec<String>,
    /// The user.
    pub user: String,
}

/// The answer to removing a second factor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaRemoved {
    /// True if a second factor (or a pending enrolment) was removed.
    pub removed: bool,
    /// The user.
    pub user: String,
}

/// The answer to a logout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogoutResponse {
    /// How many sessions ended.
    pub revoked: usize,
}

/// GET /api/v1/me.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeResponse {
    /// The caller's role.
    pub role: Role,
    /// The session id.
    pub session: String,
    /// The caller's user name.
    pub user: String,
}

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserView {
    /// Unix time the user was created.
    pub created: u64,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// Consecutive failed logins.
    pub failures: u32,
    /// Unix time of the last successful login.
    pub last_login: Option<u64>,
    /// Locked out now.
    pub locked: bool,
    /// Unix time the lockout ends, while locked.
    pub locked_until: Option<u64>,
    /// The second factor (TOTP) is enrolled and confirmed.
    #[serde(default)]
    pub mfa: bool,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// The user name.
    pub username: String,
}

/// GET /api/v1/users.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsersResponse {
    /// Every user, by name.
    pub users: Vec<UserView>,
}

/// POST /api/v1/users.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUserRequest {
    /// The user name: 1-64 characters of `[A-Za-z0-9._@-]`.
    pub username: String,
    /// The password (at least 8 characters).
    pub password: String,
    /// The role.
    pub role: Role,
}

/// PUT /api/v1/users/{name}/password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordRequest {
    /// The new password (at least 8 characters).
    pub password: String,
}

/// The answer to a password change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordChanged {
    /// How many sessions of the user ended.
    pub revoked_sessions: usize,
    /// The user.
    pub user: String,
}

/// PUT /api/v1/users/{name}/role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRequest {
    /// The new role.
    pub role: Role,
}

/// The answer to a role change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleChanged {
    /// The role now.
    pub role: Role,
    /// The user.
    pub user: String,
}

/// The answer to deleting a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDeleted {
    /// How many API keys the user had made that were revoked.
    pub revoked_api_keys: usize,
    /// How many live sessions of the user ended.
    pub revoked_sessions: usize,
    /// The user.
    pub user: String,
}

/// The answer to disabling or enabling a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDisabled {
    /// The user's state now.
    pub disabled: bool,
    /// How many sessions of the user ended.
    pub revoked_sessions: usize,
    /// The user.
    pub user: String,
}

/// The answer to unlocking a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserUnlocked {
    /// Always true (an unknown user is a 404).
    pub unlocked: bool,
    /// The user.
    pub user: String,
}

/// A session (refresh-token family) as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    /// Unix time of the login.
    pub created: u64,
    /// Whether it is the caller's own session.
    pub current: bool,
    /// Unix time it ends at the latest.
    pub expires: u64,
    /// The session id.
    pub id: String,
    /// Unix time of the last login or refresh.
    pub last_used: u64,
    /// Neither revoked nor expired.
    pub live: bool,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// Unix time it was revoked.
    pub revoked: Option<u64>,
    /// Source address of the login.
    pub source: Option<String>,
    /// The user.
    pub user: String,
}

/// GET /api/v1/sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionsResponse {
    /// The live sessions asked for, newest first.
    pub sessions: Vec<SessionView>,
}

/// The answer to DELETE /api/v1/sessions/{id}.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRevoked {
    /// False if the session had already ended.
    pub revoked: bool,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    /// What was attempted, e.g. `record.set`.
    pub action: String,
    /// Who.
    pub actor: String,
    /// Unix time.
    pub at: u64,
    /// Extra detail.
    pub detail: Option<String>,
    /// Sequence number.
    pub id: i64,
    /// `ok`, `denied`, `failed`, ...
    pub result: String,
    /// Source address of the request.
    pub source: Option<String>,
    /// What it was applied to.
    pub target: Option<String>,
}

impl From<headend_store::auth::AuditRecord> for AuditEntry {
    fn from(r: headend_store::auth::AuditRecord) -> Self {
        Self {
            action: r.action,
            actor: r.actor,
            at: r.at,
            detail: r.detail,
            id: r.id,
            result: r.result,
            source: r.source,
            target: r.target,
        }
    }
}

/// GET /api/v1/audit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditResponse {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
}

/// The answer to POST /api/v1/keys/rotate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRotated {
    /// The key id of the next key (published now).
    pub kid: String,
    /// Unix time the next key starts signing (a token lifetime away).
    pub signs_from: u64,
    /// The key id that signs until then and verifies its tokens after.
    pub previous_kid: Option<String>,
}

/// A served zone as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZoneView {
    /// The zone file.
    pub file: PathBuf,
    /// The apex, e.g. `example.test.`.
    pub origin: String,
    /// Number of records served.
    pub records: usize,
    /// The SOA serial being served.
    pub serial: u32,
}

impl From<headend_dns::ZoneSummary> for ZoneView {
    fn from(z: headend_dns::ZoneSummary) -> Self {
        Self {
            file: z.file,
            origin: z.origin,
            records: z.records,
            serial: z.serial,
        }
    }
}

/// GET /api/v1/zones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZonesResponse {
    /// Every served zone.
    pub zones: Vec<ZoneView>,
}

/// One record in presentation form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordView {
    /// Owner name, absolute.
    pub name: String,
    /// RDATA in zone-file syntax.
    pub rdata: String,
    /// Type mnemonic.
    pub rtype: String,
    /// TTL in seconds.
    pub ttl: u32,
}

impl From<headend_dns::RecordView> for RecordView {
    fn from(r: headend_dns::RecordView) -> Self {
        Self {
            name: r.name,
            rdata: r.rdata,
            rtype: r.rtype,
            ttl: r.ttl,
        }
    }
}

/// GET /api/v1/zones/{zone}.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZoneResponse {
    /// The apex.
    pub origin: String,
    /// Every record.
    pub records: Vec<RecordView>,
    /// The SOA serial (also the ETag).
    pub serial: u32,
}

/// The answer to a reload or a record edit: the zone's serial now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZoneSerial {
    /// The SOA serial now served (also the ETag).
    pub serial: u32,
    /// The zone as named in the request.
    pub zone: String,
    /// After an edit: the warnings it brought in (`file:line: warning: ...`);
    /// errors refuse the edit instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// PUT /api/v1/zones/{zone}/records/{name}/{rtype}.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetRecordRequest {
    /// TTL; the RRset's current one (or the SOA MINIMUM) when absent.
    #[serde(default)]
    pub ttl: Option<u32>,
    /// One RDATA per record, zone-file syntax.
    pub rdata: Vec<String>,
}

/// A DHCP lease as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseView {
    /// The leased address.
    pub address: Ipv4Addr,
    /// The DHCP class the client matched (the first `[[dhcp.class]]` that
    /// matched when the lease was last written), if any.
    #[serde(default)]
    pub class: Option<String>,
    /// Option 61, as colon-separated hex.
    pub client_id: Option<String>,
    /// Unix time it ends.
    pub expires: u64,
    /// Host name.
    pub hostname: Option<String>,
    /// Hardware address, colon-separated hex.
    pub hwaddr: String,
    /// Held for its client (or quarantined) now.
    pub live: bool,
    /// `offered`, `bound`, `released` or `declined`.
    pub state: String,
    /// The subnet's name.
    pub subnet: String,
    /// The DNS names that follow this lease (`[dhcp.ddns]`): its forward
    /// name, and its PTR owner when the PTR points to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
}

/// POST /api/v1/leases/{address}/release: the lease as it is now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleasedResponse {
    /// The lease after the release (its state says whether it changed).
    pub released: LeaseView,
}

/// GET /api/v1/leases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeasesResponse {
    /// The leases asked for, by address.
    pub leases: Vec<LeaseView>,
}

/// POST /api/v1/reservations, and the reservation it stored (hardware
/// address normalised).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReservationRequest {
    /// The DHCP subnet's name.
    pub subnet: String,
    /// Hardware address (`aa:bb:cc:dd:ee:ff`; `-` separators are accepted).
    pub hwaddr: String,
    /// The reserved address.
    pub address: Ipv4Addr,
    /// Host name to hand out.
    #[serde(default)]
    pub hostname: Option<String>,
}

/// A reservation as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReservationView {
    /// The reserved address.
    pub address: Ipv4Addr,
    /// Unix time it was added.
    pub created: u64,
    /// Host name to hand out.
    pub hostname: Option<String>,
    /// Hardware address, lowercase `aa:bb:cc:dd:ee:ff`.
    pub hwaddr: String,
    /// The DHCP subnet's name.
    pub subnet: String,
}

impl From<headend_store::auth::Reservation> for ReservationView {
    fn from(r: headend_store::auth::Reservation) -> Self {
        Self {
            address: r.address,
            created: r.created,
            hostname: r.hostname,
            hwaddr: r.hwaddr,
            subnet: r.subnet,
        }
    }
}

/// GET /api/v1/reservations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReservationsResponse {
    /// By subnet and address.
    pub reservations: Vec<ReservationView>,
}

/// The answer to DELETE /api/v1/reservations/{subnet}/{hwaddr}.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReservationDeleted {
    /// Always true (an unknown reservation is a 404).
    pub deleted: bool,
}

/// The attributes of a reservation (GET, PUT and PATCH
/// /api/v1/reservations/{subnet}/{hwaddr}/attributes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReservationAttributes {
    /// The DHCP subnet's name.
    pub subnet: String,
    /// Hardware address, lowercase `aa:bb:cc:dd:ee:ff`.
    pub hwaddr: String,
    /// Free-form attributes (service tier, CPE limit, rate, ...) by name.
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// One DHCPv6 binding: an address (IA_NA) or a delegated prefix (IA_PD).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease6View {
    /// The address, or the prefix's first address.
    pub address: Ipv6Addr,
    /// The class the client matched, if any.
    #[serde(default)]
    pub class: Option<String>,
    /// The client's DUID, colon-separated hex.
    pub duid: String,
    /// Unix time the valid lifetime (or hold, or quarantine) ends.
    pub expires: u64,
    /// The client's link-layer address, when known.
    #[serde(default)]
    pub hwaddr: Option<String>,
    /// The IAID of the IA it was granted in.
    pub iaid: u32,
    /// The relay's interface-id (option 18), colon-separated hex.
    #[serde(default)]
    pub interface_id: Option<String>,
    /// `na` (address) or `pd` (delegated prefix).
    pub kind: String,
    /// Whether it is still held (bound, advertised or quarantined).
    pub live: bool,
    /// 128 for an address, else the delegated prefix's length.
    pub prefix_len: u8,
    /// Unix time the preferred lifetime ends.
    pub preferred: u64,
    /// The relay's remote-id (option 37), colon-separated hex.
    #[serde(default)]
    pub remote_id: Option<String>,
    /// offered, bound, released or declined.
    pub state: String,
    /// The `[[dhcp6.subnet]]` it belongs to.
    pub subnet: String,
    /// The DNS names that follow this binding (`[dhcp6.ddns]`): its
    /// forward name (AAAA), and its `ip6.arpa` PTR owner when the PTR
    /// points to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
}

/// GET /api/v1/leases6.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leases6Response {
    /// This page of bindings, by address.
    pub leases: Vec<Lease6View>,
    /// Bindings that matched the filters (over every page).
    pub total: usize,
    /// The `after=` that fetches the next page, when there is one.
    #[serde(default)]
    pub next: Option<Ipv6Addr>,
}

/// The answer to POST /api/v1/leases6/{address}/release.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Released6Response {
    /// The binding after the release (its state says whether it changed).
    pub released: Lease6View,
}

/// POST /api/v1/reservations6, and the reservation it stored (key
/// normalised). Exactly one of `duid`, `hwaddr`, `remote_id`; an address,
/// a prefix or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reservation6Request {
    /// The `[[dhcp6.subnet]]`'s name.
    pub subnet: String,
    /// The client's DUID, hex (`00:03:00:01:02:aa:...` or without colons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duid: Option<String>,
    /// The client's link-layer address (`02:aa:00:00:00:01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hwaddr: Option<String>,
    /// The relay remote-id: text, or `hex:...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// The reserved address (IA_NA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv6Addr>,
    /// The reserved delegated prefix (IA_PD), `2001:db8:200::/56`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// One DHCPv6 reservation of the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reservation6View {
    /// The reserved address.
    #[serde(default)]
    pub address: Option<Ipv6Addr>,
    /// Unix time it was added.
    pub created: u64,
    /// The identifier, colon-separated hex.
    pub key: String,
    /// `duid`, `hwaddr` or `remote_id`.
    pub key_kind: String,
    /// The reserved prefix, `address/len`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The subnet's name.
    pub subnet: String,
}

/// GET /api/v1/reservations6.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reservations6Response {
    /// By subnet, key kind and key.
    pub reservations: Vec<Reservation6View>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_keep_the_json_text_of_json_maps() {
        let user = UserView {
            created: 5,
            disabled: false,
            failures: 2,
            last_login: None,
            locked: true,
            locked_until: Some(99),
            mfa: false,
            role: "admin".into(),
            username: "root".into(),
        };
        let before = json!({
            "username": "root", "role": "admin", "disabled": false, "failures": 2,
            "locked": true, "locked_until": 99, "last_login": null, "created": 5,
            "mfa": false,
        });
        assert_eq!(
            serde_json::to_string(&user).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
        let lease = LeaseView {
            address: Ipv4Addr::new(10, 0, 0, 20),
            class: Some("docsis".into()),
            client_id: None,
            expires: 7,
            hostname: Some("pc".into()),
            hwaddr: "aa:bb:cc:dd:ee:ff".into(),
            live: true,
            state: "bound".into(),
            subnet: "lan".into(),
            dns_names: Vec::new(),
        };
        let before = json!({
            "address": "10.0.0.20", "class": "docsis", "subnet": "lan", "hwaddr": "aa:bb:cc:dd:ee:ff",
            "client_id": null, "hostname": "pc", "state": "bound", "expires": 7, "live": true,
        });
        assert_eq!(
            serde_json::to_string(&lease).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
    }

    #[test]
    fn error_body_leaves_out_absent_details() {
        let body = ErrorBody {
            details: None,
            error: "not_found".into(),
            message: "no user x".into(),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"not_found","message":"no user x"}"#
        );
    }
}

/// POST /api/v1/apikeys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewApiKeyRequest {
    /// A unique name (lower-case letters, digits, `._-`); audited as `apikey:NAME`.
    pub name: String,
    /// viewer, operator or admin.
    pub role: Role,
    /// `zone:NAME` and `subnet:PREFIX` scopes; none: the whole role.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime such as `90d`; none: until revoked.
    #[serde(default)]
    pub expires: Option<String>,
    /// Source prefixes the key may be used from; none: any.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Requests per second (burst the same); none: `[admin.api_keys] rate_per_second`.
    #[serde(default)]
    pub rate: Option<u32>,
}

/// An API key as listed (never its secret nor its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyView {
    /// Source prefixes it may be used from (empty: any).
    pub allow: Vec<String>,
    /// Unix time it was made.
    pub created: u64,
    /// Who made it.
    pub created_by: String,
    /// Unix time it stops working, if ever.
    pub expires: Option<u64>,
    /// Unix time of the last use seen (kept to about a minute).
    pub last_used: Option<u64>,
    /// Neither revoked nor expired.
    pub live: bool,
    /// Its name.
    pub name: String,
    /// The public part of the key that identifies it (`hk_...`).
    pub prefix: String,
    /// Unix time the previous secret of a rotation stops working, while it works.
    pub previous_valid_until: Option<u64>,
    /// Requests per second, if it has its own rate.
    pub rate: Option<u32>,
    /// Unix time it was revoked, if it was.
    pub revoked: Option<u64>,
    /// Its role.
    pub role: String,
    /// Its scopes (empty: the whole role).
    pub scopes: Vec<String>,
}

/// The answer to GET /api/v1/apikeys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeysResponse {
    /// Every key, by name.
    pub keys: Vec<ApiKeyView>,
}

/// The answer to creating or rotating a key: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyIssued {
    /// The whole key, to give to the client: `Authorization: Bearer KEY` or `X-API-Key: KEY`.
    pub key: String,
    /// The key as stored now.
    pub view: ApiKeyView,
}

/// POST /api/v1/apikeys/{name}/rotate.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotateApiKeyRequest {
    /// How long the old secret keeps working, e.g. `1h` (default
    /// `[admin.api_keys] rotate_grace_secs`; `0` ends it at once).
    #[serde(default)]
    pub grace: Option<String>,
}

/// The answer to POST /api/v1/apikeys/{name}/revoke.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    /// Its name.
    pub name: String,
    /// False if it was already revoked.
    pub revoked: bool,
}
