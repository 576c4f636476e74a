//! OpenID Connect login, the sans-I/O half: PKCE (RFC 7636, S256), the
//! `state` and `nonce` of a pending login, the authorization URL, the
//! provider's discovery document, ID token validation (OIDC Core §3.1.3.7:
//! signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`,
//! `iat`, `nonce`) and the mapping of a claim's values to a role.
//!
//! Nothing here opens a socket: the server fetches discovery, JWKS, the
//! token endpoint and userinfo over TLS and hands the answers in, with the
//! time.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::Role;

/// Why an OIDC step was refused: each one is a login that does not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The `state` of the redirect names no pending login of this server
    /// (tampered, replayed, or expired).
    #[error("the state of the redirect is unknown, used or expired")]
    State,
    /// The discovery document is not for the configured issuer (OIDC
    /// Discovery §4.3: "MUST be identical").
    #[error("the provider's discovery document names issuer {found:?}, not {expected:?}")]
    Discovery {
        /// The configured issuer.
        expected: String,
        /// What the document says.
        found: String,
    },
    /// The ID token is not a JWT this provider signed with a key of its
    /// JWKS (or it asks for an algorithm that is refused: `none`, HMAC).
    #[error("the ID token's signature does not verify: {reason}")]
    Signature {
        /// What was wrong.
        reason: String,
    },
    /// The token was signed by a key id the JWKS does not hold (the caller
    /// refetches the JWKS once: the provider may have rotated its keys).
    #[error("the ID token was signed with key {kid:?}, which the provider's JWKS does not hold")]
    UnknownKey {
        /// The `kid` of the token.
        kid: String,
    },
    /// A claim is missing or wrong.
    #[error("the ID token's {claim} is not acceptable: {reason}")]
    Claim {
        /// `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `sub`.
        claim: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The one-time code is unknown, used or expired.
    #[error("the login code is unknown, used or expired")]
    Code,
    /// The code verifier does not match the challenge of the login.
    #[error("the code_verifier does not match the login's code_challenge")]
    Verifier,
    /// No entry of `role_map` grants a role to this user.
    #[error("the provider's {claim} claim grants no role here")]
    NoRole {
        /// The configured role claim.
        claim: String,
    },
}

/// Seconds of clock skew allowed on `exp` and `iat`.
pub const LEEWAY: u64 = 60;
/// An ID token issued longer ago than this is refused (OIDC Core
/// §3.1.3.7 step 10: "reject tokens that were issued too far away from the
/// current time").
pub const MAX_AGE: u64 = 600;
/// Seconds a pending login (state, nonce, verifier) lives.
pub const PENDING_TTL: u64 = 600;
/// Pending logins held at most.
const PENDING_MAX: usize = 10_000;

/// 32 random bytes, base64url: for `state`, `nonce` and the PKCE verifier
/// (RFC 7636 §4.1: 43-128 characters of high entropy).
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    SystemRandom::new()
        .fill(&mut raw)
        .expect("the system random source works");
    URL_SAFE_NO_PAD.encode(raw)
}

/// The S256 code challenge of a PKCE verifier (RFC 7636 §4.2):
/// `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn pkce_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// `application/x-www-form-urlencoded` escaping of one value.
pub fn form_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The fields of a discovery document (`/.well-known/openid-configuration`)
/// this server uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
    /// Where the refresh re-checks the user.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

impl Discovery {
    /// Parses a discovery document and checks that it is for `issuer`
    /// and that every endpoint is HTTPS.
    pub fn parse(text: &[u8], issuer: &str) -> Result<Self, OidcError> {
        let d: Self = serde_json::from_slice(text).map_err(|e| OidcError::Discovery {
            expected: issuer.to_owned(),
            found: format!("(unreadable: {e})"),
        })?;
        if d.issuer != issuer {
            return Err(OidcError::Discovery {
                expected: issuer.to_owned(),
                found: d.issuer,
            });
        }
        let endpoints = [
            Some(&d.authorization_endpoint),
            Some(&d.token_endpoint),
            Some(&d.jwks_uri),
            d.userinfo_endpoint.as_ref(),
        ];
        if endpoints
            .into_iter()
            .flatten()
            .any(|u| !u.starts_with("https://"))
        {
            return Err(OidcError::Discovery {
                expected: issuer.to_owned(),
                found: format!("{} with an endpoint that is not https://", d.issuer),
            });
        }
        Ok(d)
    }
}

/// One login between the redirect to the provider and its way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier to send with the code.
    pub verifier: String,
    /// The redirect URI the code was issued for (sent again with it).
    pub redirect_uri: String,
    /// Unix time it dies.
    pub expires: u64,
    /// Where the login goes back to once the provider answered.
    pub client: ClientLeg,
}

/// The client that asked for a login (`headend ctl login --sso` on a
/// loopback port, RFC 8252 §7.3): where the one-time code goes, with the
/// client's own `state`, and the PKCE challenge the client must answer
/// when it exchanges that code for tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientLeg {
    /// `http://127.0.0.1:PORT/PATH` or `http://[::1]:PORT/PATH`.
    pub redirect_uri: String,
    /// The client's `state`, given back unchanged.
    pub state: String,
    /// The client's S256 code challenge.
    pub challenge: String,
}

/// True for a loopback redirect URI of a native client (RFC 8252 §7.3):
/// `http`, the literal address `127.0.0.1` or `[::1]`, any port, a path,
/// no user info and no fragment.
pub fn loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    if uri.contains('#') || uri.len() > 512 {
        return false;
    }
    let (authority, _path) = rest.split_once('/').unwrap_or((rest, ""));
    let port = authority
        .strip_prefix("127.0.0.1:")
        .or_else(|| authority.strip_prefix("[::1]:"));
    port.is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p != 0))
}

/// A well-formed S256 code challenge: 43 base64url characters.
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A login that passed at the provider, waiting for its client to
/// exchange the one-time code: tokens never travel in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff<T> {
    /// What the session is made of once the code is redeemed.
    pub grant: T,
    /// The client's S256 code challenge.
    pub challenge: String,
    /// Unix time the code dies.
    pub expires: u64,
}

/// Seconds a one-time code lives.
pub const HANDOFF_TTL: u64 = 120;

/// One-time codes by their value; each is redeemed once, with the PKCE
/// verifier of its challenge.
#[derive(Debug)]
pub struct Handoffs<T> {
    by_code: HashMap<String, Handoff<T>>,
}

impl<T> Default for Handoffs<T> {
    fn default() -> Self {
        Self {
            by_code: HashMap::new(),
        }
    }
}

impl<T> Handoffs<T> {
    /// Issues a one-time code for `grant`.
    pub fn issue(&mut self, grant: T, challenge: &str, now: u64) -> String {
        self.by_code.retain(|_, h| h.expires > now);
        if self.by_code.len() >= PENDING_MAX {
            self.by_code.clear();
        }
        let code = random_token();
        self.by_code.insert(
            code.clone(),
            Handoff {
                grant,
                challenge: challenge.to_owned(),
                expires: now + HANDOFF_TTL,
            },
        );
        code
    }

    /// Redeems `code` with the PKCE `verifier` of its challenge. The code
    /// is spent whether or not the verifier matches.
    pub fn redeem(&mut self, code: &str, verifier: &str, now: u64) -> Result<T, OidcError> {
        let h = self
            .by_code
            .remove(code)
            .filter(|h| h.expires > now)
            .ok_or(OidcError::Code)?;
        if pkce_challenge(verifier) != h.challenge {
            return Err(OidcError::Verifier);
        }
        Ok(h.grant)
    }
}

/// Pending logins by `state`; each is taken once.
#[derive(Debug, Default)]
pub struct PendingLogins {
    by_state: HashMap<String, Pending>,
}

impl PendingLogins {
    /// Starts a login: returns the authorization URL to send the browser to
    /// (code flow, PKCE S256, state and nonce) and remembers what the way
    /// back must match.
    pub fn start(
        &mut self,
        authorization_endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[String],
        now: u64,
    ) -> String {
        self.start_for(
            authorization_endpoint,
            client_id,
            redirect_uri,
            scopes,
            ClientLeg::default(),
            now,
        )
    }

    /// [`PendingLogins::start`] for a client that gets the login back
    /// through `client`.
    pub fn start_for(
        &mut self,
        authorization_endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[String],
        client: ClientLeg,
        now: u64,
    ) -> String {
        self.by_state.retain(|_, p| p.expires > now);
        if self.by_state.len() >= PENDING_MAX {
            self.by_state.clear();
        }
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let url = format!(
            "{authorization_endpoint}{}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            if authorization_endpoint.contains('?') {
                '&'
            } else {
                '?'
            },
            form_escape(client_id),
            form_escape(redirect_uri),
            form_escape(&scopes.join(" ")),
            state,
            nonce,
            pkce_challenge(&verifier),
        );
        self.by_state.insert(
            state,
            Pending {
                nonce,
                verifier,
                redirect_uri: redirect_uri.to_owned(),
                expires: now + PENDING_TTL,
                client,
            },
        );
        url
    }

    /// Takes the pending login of `state` (once: a replayed redirect finds
    /// nothing).
    pub fn take(&mut self, state: &str, now: u64) -> Result<Pending, OidcError> {
        self.by_state
            .remove(state)
            .filter(|p| p.expires > now)
            .ok_or(OidcError::State)
    }
}

/// What a valid ID token must match.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The configured issuer.
    pub issuer: &'a str,
    /// Our client id.
    pub client_id: &'a str,
    /// The nonce of the pending login.
    pub nonce: &'a str,
    /// Now, Unix seconds.
    pub now: u64,
}

/// Algorithms an ID token may be signed with: asymmetric ones only (the
/// client secret is not a signing key here, and `none` is never taken).
fn allowed(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The key of `jwks` that should verify a token with this header.
fn key_for<'a>(jwks: &'a JwkSet, kid: Option<&str>) -> Result<&'a Jwk, OidcError> {
    match kid {
        Some(kid) => jwks.find(kid).ok_or_else(|| OidcError::UnknownKey {
            kid: kid.to_owned(),
        }),
        // Without a kid, only a JWKS of exactly one key is unambiguous.
        None => match jwks.keys.as_slice() {
            [one] => Ok(one),
            _ => Err(OidcError::Signature {
                reason: "the token names no key (kid) and the JWKS holds several".into(),
            }),
        },
    }
}

/// Verifies an ID token (OIDC Core §3.1.3.7): its signature with a key of
/// `jwks` by an allowed algorithm, then `iss`, `aud` (our client id among
/// them), `azp` (present with several audiences, and ours when present),
/// `exp`, `iat` (not in the future, not older than [`MAX_AGE`]) and
/// `nonce`. Answers the claims.
pub fn verify_id_token(
    token: &str,
    jwks: &JwkSet,
    expect: &Expect<'_>,
) -> Result<Map<String, Value>, OidcError> {
    let sig = |reason: String| OidcError::Signature { reason };
    let header = jsonwebtoken::decode_header(token).map_err(|e| sig(e.to_string()))?;
    if !allowed(header.alg) {
        return Err(sig(format!("algorithm {:?} is refused", header.alg)));
    }
    let jwk = key_for(jwks, header.kid.as_deref())?;
    if let Some(ka) = jwk.common.key_algorithm {
        let key_alg = Algorithm::try_from(ka).map_err(|e| sig(e.to_string()))?;
        if key_alg != header.alg {
            return Err(sig(format!(
                "the token says {:?} but its key is for {key_alg:?}",
                header.alg
            )));
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| sig(e.to_string()))?;
    // The library checks the signature and that the algorithm is the one
    // asked for; the claims are checked below with their own answers.
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .map_err(|e| sig(e.to_string()))?;
    check_claims(&data.claims, expect)?;
    Ok(data.claims)
}

/// The claim checks of [`verify_id_token`], on claims whose signature
/// verified.
pub fn check_claims(c: &Map<String, Value>, e: &Expect<'_>) -> Result<(), OidcError> {
    let bad = |claim: &'static str, reason: String| OidcError::Claim { claim, reason };
    let str_of = |k: &str| c.get(k).and_then(Value::as_str);
    let num_of = |k: &str| c.get(k).and_then(Value::as_u64);
    // Step 2: "The Issuer Identifier ... MUST exactly match the value of the iss".
    if str_of("iss") != Some(e.issuer) {
        return Err(bad(
            "iss",
            format!("{:?} is not {:?}", c.get("iss"), e.issuer),
        ));
    }
    // Step 3: aud contains our client_id; step 4/5: azp.
    let aud: Vec<&str> = match c.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !aud.contains(&e.client_id) {
        return Err(bad(
            "aud",
            format!("{aud:?} does not hold {:?}", e.client_id),
        ));
    }
    match str_of("azp") {
        Some(azp) if azp != e.client_id => {
            return Err(bad("azp", format!("{azp:?} is not {:?}", e.client_id)));
        }
        None if aud.len() > 1 => {
            return Err(bad("azp", "missing with several audiences".into()));
        }
        _ => {}
    }
    // Step 9: "The current time MUST be before the time represented by the exp Claim".
    let exp = num_of("exp").ok_or_else(|| bad("exp", "missing".into()))?;
    if exp + LEEWAY <= e.now {
        return Err(bad("exp", format!("expired at {exp}")));
    }
    // Step 10: iat.
    let iat = num_of("iat").ok_or_else(|| bad("iat", "missing".into()))?;
    if iat > e.now + LEEWAY {
        return Err(bad("iat", format!("{iat} is in the future")));
    }
    if iat + MAX_AGE < e.now {
        return Err(bad("iat", format!("issued at {iat}, too long ago")));
    }
    // Step 11: the nonce sent in the authentication request.
    if str_of("nonce") != Some(e.nonce) {
        return Err(bad("nonce", "not the one of this login".into()));
    }
    if str_of("sub").is_none_or(str::is_empty) {
        return Err(bad("sub", "missing".into()));
    }
    Ok(())
}

/// The role the values of `claim` in `claims` grant through `role_map`:
/// the highest role of any value that is a key of the map; when none is,
/// the role of `"*"` if the map has one. `None`: no role, no access.
pub fn map_role(
    claims: &Map<String, Value>,
    claim: &str,
    role_map: &BTreeMap<String, Role>,
) -> Option<Role> {
    let values: Vec<&str> = match claims.get(claim) {
        Some(Value::String(s)) => s.split(' ').collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    values
        .iter()
        .filter_map(|v| role_map.get(*v))
        .max()
        .copied()
        .or_else(|| role_map.get("*").copied())
}

/// The scopes of an OIDC user: the union of the scopes `scope_map` gives
/// the values of its `claim` (a space-separated string or an array), sorted
/// and without repeats; empty (no scope limits) when none is listed.
pub fn map_scopes(
    claims: &Map<String, Value>,
    claim: &str,
    scope_map: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let values: Vec<&str> = match claims.get(claim) {
        Some(Value::String(s)) => s.split(' ').collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let set: std::collections::BTreeSet<&String> = values
        .iter()
        .filter_map(|v| scope_map.get(*v))
        .flatten()
        .collect();
    set.into_iter().cloned().collect()
}

/// The local user name of an OIDC user: `preferred_username`, else
/// `email`, else `sub`, case-folded, prefixed so that it never collides
/// with a local account.
pub fn user_name(claims: &Map<String, Value>) -> Option<String> {
    ["preferred_username", "email", "sub"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(|s| format!("sso:{}", s.to_lowercase()))
}

/// True when a session's provider check is due: last checked `checked`,
/// at most every `every` seconds.
pub fn recheck_due(checked: u64, now: u64, every: u64) -> bool {
    now >= checked.saturating_add(every)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{Ed25519KeyPair, KeyPair as _};
    use serde_json::json;

    const ISS: &str = "https://idp.example.test";
    const CLIENT: &str = "headend";

    /// A fresh Ed25519 key: its encoding key and its JWK with `kid`.
    fn key(kid: &str) -> (EncodingKey, Jwk) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        }))
        .unwrap();
        (EncodingKey::from_ed_der(pkcs8.as_ref()), jwk)
    }

    fn sign(k: &EncodingKey, kid: &str, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, claims, k).unwrap()
    }

    fn claims(now: u64) -> Value {
        json!({"iss": ISS, "aud": CLIENT, "sub": "u1", "exp": now + 300, "iat": now,
               "nonce": "n1", "preferred_username": "Ada", "groups": ["netops"]})
    }

    fn expect(now: u64) -> Expect<'static> {
        Expect {
            issuer: ISS,
            client_id: CLIENT,
            nonce: "n1",
            now,
        }
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_state_is_taken_once_and_expires() {
        let mut p = PendingLogins::default();
        let url = p.start(
            "https://idp.example.test/auth",
            CLIENT,
            "http://127.0.0.1:5000/cb",
            &["openid".into(), "groups".into()],
            100,
        );
        assert!(url.contains("code_challenge_method=S256"));
        assert!(url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb"));
        let state = url
            .split("state=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        assert_eq!(p.take("tampered", 101), Err(OidcError::State));
        let got = p.take(state, 101).unwrap();
        assert!(url.contains(&format!("nonce={}", got.nonce)));
        assert!(url.contains(&pkce_challenge(&got.verifier)));
        assert_eq!(p.take(state, 101), Err(OidcError::State), "replayed");
        let url = p.start("https://idp/auth", CLIENT, "x", &[], 100);
        let state = url
            .split("state=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        assert_eq!(p.take(state, 100 + PENDING_TTL), Err(OidcError::State));
    }

    #[test]
    fn a_good_id_token_passes_and_maps_to_the_highest_role() {
        let now = 1_800_000_000;
        let (k, jwk) = key("k1");
        let jwks = JwkSet { keys: vec![jwk] };
        let c = verify_id_token(&sign(&k, "k1", &claims(now)), &jwks, &expect(now)).unwrap();
        let map: BTreeMap<String, Role> = [
            ("netops-admins".to_owned(), Role::Admin),
            ("netops".to_owned(), Role::Operator),
            ("*".to_owned(), Role::Viewer),
        ]
        .into();
        assert_eq!(map_role(&c, "groups", &map), Some(Role::Operator));
        assert_eq!(user_name(&c).as_deref(), Some("sso:ada"));
        let mut other = c;
        other.insert("groups".into(), json!(["netops-admins", "netops"]));
        assert_eq!(map_role(&other, "groups", &map), Some(Role::Admin));
        other.insert("groups".into(), json!(["sales"]));
        assert_eq!(map_role(&other, "groups", &map), Some(Role::Viewer));
        let strict: BTreeMap<String, Role> = [("netops".to_owned(), Role::Operator)].into();
        assert_eq!(map_role(&other, "groups", &strict), None);
    }

    #[test]
    fn scope_claims_map_to_the_union_of_their_scopes() {
        let map: BTreeMap<String, Vec<String>> = [
            (
                "dns-example".to_owned(),
                vec!["zone:example.test".to_owned()],
            ),
            (
                "cable-ops".to_owned(),
                vec![
                    "subnet:10.1.0.0/16".to_owned(),
                    "zone:example.test".to_owned(),
                ],
            ),
        ]
        .into();
        let mut c = Map::new();
        c.insert(
            "groups".into(),
            json!(["cable-ops", "dns-example", "sales"]),
        );
        assert_eq!(
            map_scopes(&c, "groups", &map),
            ["subnet:10.1.0.0/16", "zone:example.test"]
        );
        c.insert("groups".into(), json!("dns-example sales"));
        assert_eq!(map_scopes(&c, "groups", &map), ["zone:example.test"]);
        // No listed value, another claim, or no claim: no scope limits.
        c.insert("groups".into(), json!(["sales"]));
        assert!(map_scopes(&c, "groups", &map).is_empty());
        assert!(map_scopes(&c, "roles", &map).is_empty());
        c.insert("groups".into(), json!(42));
        assert!(map_scopes(&c, "groups", &map).is_empty());
    }

    #[test]
    fn foreign_key_unknown_kid_and_hmac_are_refused() {
        let now = 1_800_000_000;
        let (_, jwk) = key("k1");
        let (foreign, _) = key("k1");
        let jwks = JwkSet { keys: vec![jwk] };
        let t = sign(&foreign, "k1", &claims(now));
        assert!(matches!(
            verify_id_token(&t, &jwks, &expect(now)),
            Err(OidcError::Signature { .. })
        ));
        let t = sign(&foreign, "k2", &claims(now));
        assert_eq!(
            verify_id_token(&t, &jwks, &expect(now)),
            Err(OidcError::UnknownKey { kid: "k2".into() })
        );
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let t = jsonwebtoken::encode(&h, &claims(now), &EncodingKey::from_secret(b"s")).unwrap();
        assert!(matches!(
            verify_id_token(&t, &jwks, &expect(now)),
            Err(OidcError::Signature { .. })
        ));
    }

    #[test]
    fn wrong_claims_are_each_refused() {
        let now = 1_800_000_000;
        let (k, jwk) = key("k1");
        let jwks = JwkSet { keys: vec![jwk] };
        let refused = |patch: Value| {
            let mut c = claims(now);
            for (key, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(key);
                } else {
                    c[key] = v.clone();
                }
            }
            match verify_id_token(&sign(&k, "k1", &c), &jwks, &expect(now)) {
                Err(OidcError::Claim { claim, .. }) => claim,
                other => panic!("{patch}: {other:?}"),
            }
        };
        assert_eq!(refused(json!({"iss": "https://evil.test"})), "iss");
        assert_eq!(refused(json!({"aud": "another-client"})), "aud");
        assert_eq!(refused(json!({"aud": [CLIENT, "other"]})), "azp");
        assert_eq!(refused(json!({"azp": "other"})), "azp");
        assert_eq!(refused(json!({"exp": now - LEEWAY - 1})), "exp");
        assert_eq!(refused(json!({"iat": now + LEEWAY + 5})), "iat");
        assert_eq!(refused(json!({"iat": now - MAX_AGE - 1})), "iat");
        assert_eq!(refused(json!({"nonce": "another"})), "nonce");
        assert_eq!(refused(json!({"nonce": null})), "nonce");
        assert_eq!(refused(json!({"sub": null})), "sub");
        // Several audiences with our azp pass.
        let mut c = claims(now);
        c["aud"] = json!([CLIENT, "other"]);
        c["azp"] = json!(CLIENT);
        assert!(verify_id_token(&sign(&k, "k1", &c), &jwks, &expect(now)).is_ok());
    }

    #[test]
    fn discovery_must_name_our_issuer_over_https() {
        let doc = |iss: &str, scheme: &str| {
            json!({"issuer": iss, "authorization_endpoint": format!("{scheme}://idp/auth"),
                   "token_endpoint": "https://idp/token", "jwks_uri": "https://idp/jwks"})
            .to_string()
        };
        assert!(Discovery::parse(doc(ISS, "https").as_bytes(), ISS).is_ok());
        assert!(Discovery::parse(doc("https://evil.test", "https").as_bytes(), ISS).is_err());
        assert!(Discovery::parse(doc(ISS, "http").as_bytes(), ISS).is_err());
        assert!(Discovery::parse(b"not json", ISS).is_err());
    }

    #[test]
    fn only_loopback_redirects_are_taken() {
        assert!(loopback_redirect("http://127.0.0.1:5000/cb"));
        assert!(loopback_redirect("http://[::1]:5000/"));
        assert!(loopback_redirect("http://127.0.0.1:5000"));
        for bad in [
            "https://127.0.0.1:5000/cb",
            "http://localhost:5000/cb",
            "http://127.0.0.1.evil.test:5000/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:5000/cb#x",
            "http://user@127.0.0.1:5000/",
            "http://evil.test/http://127.0.0.1:5000/",
        ] {
            assert!(!loopback_redirect(bad), "{bad}");
        }
        assert!(valid_challenge(&pkce_challenge("v")));
        assert!(!valid_challenge("short"));
    }

    #[test]
    fn a_handoff_code_is_redeemed_once_with_its_verifier() {
        let mut h = Handoffs::default();
        let code = h.issue("ada", &pkce_challenge("verifier-1"), 100);
        assert_eq!(h.redeem(&code, "verifier-1", 101), Ok("ada"));
        assert_eq!(h.redeem(&code, "verifier-1", 101), Err(OidcError::Code));
        let code = h.issue("ada", &pkce_challenge("verifier-1"), 100);
        assert_eq!(h.redeem(&code, "another", 101), Err(OidcError::Verifier));
        assert_eq!(h.redeem(&code, "verifier-1", 101), Err(OidcError::Code));
        let code = h.issue("ada", &pkce_challenge("verifier-1"), 100);
        assert_eq!(
            h.redeem(&code, "verifier-1", 100 + HANDOFF_TTL),
            Err(OidcError::Code)
        );
    }

    #[test]
    fn the_provider_is_rechecked_at_most_every_period() {
        assert!(!recheck_due(1000, 1299, 300));
        assert!(recheck_due(1000, 1300, 300));
    }
}
