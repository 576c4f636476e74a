//! The OpenAPI 3.1 document served at /api/v1/openapi.json, built from the
//! route table so it cannot drift from the router.

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::ROUTES;

fn describe(method: &str, path: &str) -> (&'static str, Option<Value>) {
    let body = |schema: Value| {
        Some(json!({"required": true, "content": {"application/json": {"schema": schema}}}))
    };
    match (method, path) {
        ("GET", "/health") => ("Liveness probe", None),
        ("GET", "/.well-known/jwks.json") => (
            "Public keys (JWKS, Ed25519) that verify access tokens",
            None,
        ),
        ("GET", "/api/v1/openapi.json") => ("This document", None),
        ("POST", "/api/v1/auth/login") => (
            "Log in: returns access_token (JWT, 15 min), token_type Bearer, expires_in, refresh_token (also set as an HttpOnly cookie scoped to /api/v1/auth). 401 on any failure, 429 with Retry-After when rate limited or locked.",
            body(
                json!({"type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}),
            ),
        ),
        ("POST", "/api/v1/auth/mfa") => (
            "Second step of a login whose answer was {mfa_required, mfa_ticket}: {mfa_ticket, code} with a TOTP code or a recovery code; answers like a login. Wrong codes count towards the lockout like wrong passwords.",
            body(
                json!({"type": "object", "required": ["mfa_ticket", "code"], "properties": {"mfa_ticket": {"type": "string"}, "code": {"type": "string"}}}),
            ),
        ),
        ("POST", "/api/v1/auth/mfa/enrol") => (
            "Enrolment forced at login ({mfa_enrolment_required, mfa_ticket}): {mfa_ticket}; answers secret, otpauth_uri, qr_svg, qr_text",
            body(
                json!({"type": "object", "required": ["mfa_ticket"], "properties": {"mfa_ticket": {"type": "string"}}}),
            ),
        ),
        ("POST", "/api/v1/auth/mfa/confirm") => (
            "Ends a forced enrolment with a first code: {mfa_ticket, code}; answers like a login plus recovery_codes (shown once)",
            body(
                json!({"type": "object", "required": ["mfa_ticket", "code"], "properties": {"mfa_ticket": {"type": "string"}, "code": {"type": "string"}}}),
            ),
        ),
        ("GET", "/api/v1/auth/oidc/start") => (
            "Single sign-on ([admin.oidc]): ?redirect_uri (a loopback http://127.0.0.1:PORT/PATH of a native client, RFC 8252), state, code_challenge and code_challenge_method=S256. Answers 302 to the provider (authorization code flow with PKCE, state and nonce).",
            None,
        ),
        ("GET", "/api/v1/auth/oidc/callback") => (
            "The provider's redirect (code, state). The ID token is verified (JWKS signature, iss, aud, azp, exp, iat, nonce) and the role claim mapped; answers 302 to the client's redirect_uri with a one-time code and its state, or with error=access_denied and error_description. 400 for an unknown, used or expired state.",
            None,
        ),
        ("POST", "/api/v1/auth/oidc/token") => (
            "Exchanges the one-time code of a single sign-on login with the client's PKCE verifier: {code, code_verifier}; answers like a login. The code works once, for 120 s.",
            body(
                json!({"type": "object", "required": ["code", "code_verifier"], "properties": {"code": {"type": "string"}, "code_verifier": {"type": "string"}}}),
            ),
        ),
        ("POST", "/api/v1/auth/refresh") => (
            "Rotate the refresh token (body refresh_token, or the cookie with an Origin of this API). A token presented twice revokes every session of its user (401).",
            None,
        ),
        ("POST", "/api/v1/auth/logout") => (
            "End the current session (Bearer token, body refresh_token, or cookie); ?all=true ends every session of the user.",
            None,
        ),
        ("GET", "/metrics") => (
            "Prometheus metrics of every service (a token of any role, or a source in [admin] metrics_allow, default loopback)",
            None,
        ),
        ("GET", "/api/v1/me") => ("The caller: user, role, session id", None),
        ("GET", "/api/v1/zones") => ("Served zones with serial, record count and file", None),
        ("GET", "/api/v1/zones/{zone}") => ("Every record of a zone; ETag is the SOA serial", None),
        ("POST", "/api/v1/zones/{zone}/flush") => (
            "Write the zone with its dynamic updates back to its file and empty its update journal",
            None,
        ),
        ("POST", "/api/v1/zones/{zone}/reload") => (
            "Re-read the zone file (the served zone stays on failure)",
            None,
        ),
        ("PUT", "/api/v1/zones/{zone}/records/{name}/{rtype}") => (
            "Replace an RRset. If-Match: \"SERIAL\" refuses an edit based on an older serial (412). Invalid results are refused with 422 and the findings.",
            body(
                json!({"type": "object", "required": ["rdata"], "properties": {"ttl": {"type": "integer"}, "rdata": {"type": "array", "items": {"type": "string"}}}}),
            ),
        ),
        ("DELETE", "/api/v1/zones/{zone}/records/{name}/{rtype}") => {
            ("Delete an RRset, or one record with ?rdata=", None)
        }
        ("GET", "/api/v1/leases") => ("DHCP leases, ?subnet=NAME to filter", None),
        ("POST", "/api/v1/leases/{address}/release") => ("Release a lease now", None),
        ("GET", "/api/v1/leases6") => (
            "DHCPv6 bindings (addresses and delegated prefixes) by address; filters ?subnet=, kind=na|pd, duid=, hwaddr=, state=, live=; pages with ?limit= (default 1000) and ?after= (the previous page's next)",
            None,
        ),
        ("POST", "/api/v1/leases6/{address}/release") => (
            "End a DHCPv6 binding now (for a prefix, give its first address)",
            None,
        ),
        ("GET", "/api/v1/reservations6") => ("DHCPv6 reservations made through the API", None),
        ("POST", "/api/v1/reservations6") => (
            "Reserve an address and/or a delegated prefix for a DUID, link-layer address or relay remote-id",
            body(
                json!({"type": "object", "required": ["subnet"], "properties": {"subnet": {"type": "string"}, "duid": {"type": "string"}, "hwaddr": {"type": "string"}, "remote_id": {"type": "string"}, "address": {"type": "string"}, "prefix": {"type": "string"}}}),
            ),
        ),
        ("DELETE", "/api/v1/reservations6/{subnet}/{kind}/{key}") => (
            "Remove a DHCPv6 reservation (kind duid, hwaddr or remote_id; key as colon hex)",
            None,
        ),
        ("GET", "/api/v1/reservations") => ("DHCP reservations managed through the API", None),
        ("POST", "/api/v1/reservations") => (
            "Add or replace a reservation (409 if the address is reserved for another client)",
            body(
                json!({"type": "object", "required": ["subnet", "hwaddr", "address"], "properties": {"subnet": {"type": "string"}, "hwaddr": {"type": "string"}, "address": {"type": "string", "format": "ipv4"}, "hostname": {"type": "string"}}}),
            ),
        ),
        ("DELETE", "/api/v1/reservations/{subnet}/{hwaddr}") => {
            ("Remove a reservation and its attributes", None)
        }
        ("GET", "/api/v1/reservations/{subnet}/{hwaddr}/attributes") => (
            "Free-form attributes of a reservation (service tier, CPE limit, rate, ...), as TFTP templates see them in reservation.attributes",
            None,
        ),
        ("PUT", "/api/v1/reservations/{subnet}/{hwaddr}/attributes") => (
            "Replace every attribute of a reservation; the client's next TFTP fetch sees them",
            body(
                json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 1024}}),
            ),
        ),
        ("PATCH", "/api/v1/reservations/{subnet}/{hwaddr}/attributes") => (
            "Set some attributes of a reservation; null removes one",
            body(
                json!({"type": "object", "additionalProperties": {"type": ["string", "null"], "maxLength": 1024}}),
            ),
        ),
        ("GET", "/api/v1/sessions") => (
            "Live sessions of the caller; admins: ?user=NAME or ?user=*",
            None,
        ),
        ("DELETE", "/api/v1/sessions/{id}") => ("End a session (own; admins: any)", None),
        ("GET", "/api/v1/users") => ("Users with lock state and last login", None),
        ("POST", "/api/v1/users") => (
            "Add a user",
            body(
                json!({"type": "object", "required": ["username", "password", "role"], "properties": {"username": {"type": "string"}, "password": {"type": "string", "minLength": 8}, "role": {"enum": ["viewer", "operator", "admin"]}}}),
            ),
        ),
        ("DELETE", "/api/v1/users/{name}") => (
            "Delete a user: every session and every API key they made are revoked at once; the audit log keeps their entries. 409 for oneself or the last enabled admin.",
            None,
        ),
        ("POST", "/api/v1/users/{name}/mfa") => (
            "Start enrolling one's own TOTP second factor: answers secret, otpauth_uri, qr_svg, qr_text (409 if one is confirmed)",
            None,
        ),
        ("POST", "/api/v1/users/{name}/mfa/confirm") => (
            "Confirm one's own enrolment with a first code: {code}; answers the ten recovery codes (shown once)",
            body(
                json!({"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}),
            ),
        ),
        ("DELETE", "/api/v1/users/{name}/mfa") => (
            "Remove a second factor: the user with a current code or recovery code ({code}), or an admin who has a second factor",
            None,
        ),
        ("PUT", "/api/v1/users/{name}/password") => (
            "Set a password (admins; or the user for themselves); ends every session of the user",
            body(
                json!({"type": "object", "required": ["password"], "properties": {"password": {"type": "string", "minLength": 8}}}),
            ),
        ),
        ("PUT", "/api/v1/users/{name}/role") => (
            "Change a user's role; access tokens with the old role stop working at once",
            body(
                json!({"type": "object", "required": ["role"], "properties": {"role": {"enum": ["viewer", "operator", "admin"]}}}),
            ),
        ),
        ("POST", "/api/v1/users/{name}/disable") => {
            ("Disable a user; ends every session at once", None)
        }
        ("POST", "/api/v1/users/{name}/enable") => ("Enable a user", None),
        ("POST", "/api/v1/users/{name}/unlock") => ("Clear a user's lockout", None),
        ("GET", "/api/v1/audit") => ("The audit log, newest first (?limit=)", None),
        ("POST", "/api/v1/keys/rotate") => (
            "Rotate the token signing key: new tokens use a new key; tokens of the previous key stay valid until they expire (both are in the JWKS)",
            None,
        ),
        _ => ("", None),
    }
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, role) in ROUTES {
        let (summary, request_body) = describe(method, path);
        let mut op = json!({
            "summary": summary,
            "x-minimum-role": role,
            "responses": {
                "200": {"description": "success (201 for creations)"},
                "401": {"description": "no valid access token"},
                "403": {"description": "the role is too low, or the source address is not allowed"},
            },
        });
        if *role != "public" {
            op["security"] = json!([{"bearer": []}]);
        }
        if let Some(b) = request_body {
            op["requestBody"] = b;
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "headend admin API",
            "version": "1",
            "description": "HTTPS only. Log in at /api/v1/auth/login, send `Authorization: Bearer ACCESS_TOKEN`. Roles: viewer (read), operator (record edits, lease release, reloads, reservations), admin (users, audit, everything). Errors are {\"error\", \"message\", \"details\"?}."
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA)"}}},
        "paths": paths,
    })
}

/// GET /api/v1/openapi.json.
pub(crate) async fn serve() -> impl IntoResponse {
    Json(document())
}
