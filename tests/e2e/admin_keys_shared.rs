//! JWT signing keys shared through the store: two headend servers on one
//! private PostgreSQL, given the same key-encryption key, sign with one key
//! set. A token from one works on the other; across automatic rotations
//! (every 6 s here) and a forced one, every token still within its
//! lifetime is accepted by both, every key is in both servers' JWKS before
//! it signs, and old keys leave the set once their tokens expired. The
//! database holds the private keys only sealed.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::admin::client;
use common::{Headend, headend_bin};
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::store_postgres::pg_cluster;

const PW: &str = "correct horse battery";
/// Access tokens live 3 s (+1 s leeway); keys rotate every 6 s.
const TTL: u64 = 3;
const LEEWAY: u64 = 1;

/// A KEK file (0600) that every server of the test shares.
pub(crate) fn shared_kek(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("kek");
    std::fs::write(&path, "ab".repeat(32)).expect("write kek");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod kek");
    path
}

fn config(url: &str, state: &str, port: u16, kek: &std::path::Path) -> String {
    format!(
        r#"
[general]
state_dir = "{state}"
[store]
backend = "postgres"
url = "{url}"
pool = 2
[admin]
listen = "127.0.0.1:{port}"
kek_file = "{kek}"
[admin.tokens]
access_ttl = {TTL}
leeway = {LEEWAY}
rotate_days = 0.0000694
[admin.limits]
login_per_minute = 100000
login_burst = 10000
[admin.rate_limit]
per_second = 10000
burst = 10000
per_address_per_second = 10000
per_address_burst = 10000
[admin.argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#,
        kek = kek.display()
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn login(c: &Client, base: &str) -> String {
    let r: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "ada", "password": PW}))
        .send()
        .expect("login")
        .json()
        .expect("login json");
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login on {base}: {r}"))
        .to_owned()
}

fn me(c: &Client, base: &str, token: &str) -> u16 {
    c.get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .expect("me")
        .status()
        .as_u16()
}

fn jwks_kids(c: &Client, base: &str) -> BTreeSet<String> {
    let v: Value = c
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .expect("jwks")
        .json()
        .expect("jwks json");
    v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// The `kid` and `exp` of a token (its signature is the servers' business).
fn kid_exp(token: &str) -> (String, u64) {
    let header = jsonwebtoken::decode_header(token).expect("header");
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<headend_admin::core::tokens::Claims>(token)
            .expect("claims")
            .claims;
    (header.kid.expect("kid"), claims.exp)
}

#[test]
fn tokens_of_either_server_pass_on_both_across_rotations() {
    let db = pg_cluster::Db::new();
    let shared = tempfile::tempdir().expect("tempdir");
    let kek = shared_kek(shared.path());
    let (pa, pb) = (common::free_port(), common::free_port());
    let a = Headend::start(&config(&db.socket_url(), "state-a", pa, &kek));
    let b = Headend::start(&config(&db.socket_url(), "state-b", pb, &kek));
    let out = std::process::Command::new(headend_bin())
        .args(["user", "-c"])
        .arg(&a.config)
        .args(["add", "ada", "--role", "admin", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{PW}\n").as_bytes())?;
            child.wait_with_output()
        })
        .expect("headend user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bases = [
        format!("https://127.0.0.1:{pa}"),
        format!("https://127.0.0.1:{pb}"),
    ];
    let c = client();

    // Both servers publish the same keys.
    assert_eq!(jwks_kids(&c, &bases[0]), jwks_kids(&c, &bases[1]));

    // Where each kid was first seen in each server's JWKS, and first seen
    // signing a token.
    let mut published: [HashMap<String, Instant>; 2] = Default::default();
    let mut signing: HashMap<String, Instant> = HashMap::new();
    let mut tokens: Vec<(String, u64, usize)> = Vec::new();
    let mut forced: Option<String> = None;
    let start = Instant::now();
    let mut checks = 0u32;
    while start.elapsed() < Duration::from_secs(20) {
        for (i, base) in bases.iter().enumerate() {
            for kid in jwks_kids(&c, base) {
                published[i].entry(kid).or_insert_with(Instant::now);
            }
            let t = login(&c, base);
            let (kid, exp) = kid_exp(&t);
            signing.entry(kid).or_insert_with(Instant::now);
            tokens.push((t, exp, i));
        }
        // Every token still inside its lifetime (with a second to spare
        // for the check itself) passes on both servers.
        let cutoff = now() + 1;
        for (t, exp, from) in tokens.iter().filter(|(_, exp, _)| exp + LEEWAY > cutoff) {
            for (i, base) in bases.iter().enumerate() {
                let status = me(&c, base, t);
                assert_eq!(
                    status,
                    200,
                    "a token of server {from} (exp {exp}, kid {}) refused by server {i} at {}",
                    kid_exp(t).0,
                    now()
                );
                checks += 1;
            }
        }
        // Halfway, an operator forces a rotation on A.
        if forced.is_none() && start.elapsed() > Duration::from_secs(8) {
            let token = login(&c, &bases[0]);
            let r: Value = c
                .post(format!("{}/api/v1/keys/rotate", bases[0]))
                .bearer_auth(&token)
                .send()
                .expect("rotate")
                .json()
                .expect("rotate json");
            assert!(
                r["signs_from"].as_u64().is_some_and(|s| s >= now()),
                "the forced key signs later, not at once: {r}"
            );
            forced = Some(r["kid"].as_str().expect("kid").to_owned());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // Rotations happened, and each key was in both JWKS before it signed.
    assert!(
        signing.len() >= 3,
        "keys that signed in 20 s: {}",
        signing.len()
    );
    let first = signing.values().min().copied().unwrap();
    for (kid, when) in &signing {
        if *when == first {
            continue;
        }
        for (i, p) in published.iter().enumerate() {
            let seen = p
                .get(kid)
                .unwrap_or_else(|| panic!("{kid} signed but never in server {i}'s JWKS"));
            assert!(seen < when, "{kid} signed before server {i} published it");
        }
    }
    let forced = forced.expect("forced rotation");
    assert!(
        published.iter().all(|p| p.contains_key(&forced)),
        "the forced key is published by both"
    );
    // Old keys leave (previous + current + next, and one more until the
    // next 2-second sync drops it), and tokens whose
    // key went are refused.
    let kids = jwks_kids(&c, &bases[1]);
    assert!(kids.len() <= 4, "{kids:?}");
    assert!(checks > 50, "cross-server checks: {checks}");
    let stale = &tokens[0].0;
    assert_eq!(me(&c, &bases[1], stale), 401, "an expired token");

    // The database holds every key sealed; the KEK and the private keys
    // appear nowhere in it or in the logs.
    let rows = pg_cluster::cluster().query(
        &db.name,
        "SELECT kid || ' ' || kek_id || ' ' || encode(sealed, 'hex') FROM auth_signing_keys",
    );
    assert!(!rows.is_empty());
    let kek_text = "ab".repeat(32);
    assert!(
        rows.iter().flatten().all(|r| !r.contains(&kek_text)),
        "{rows:?}"
    );
    let logs = [a.logs(), b.logs()].concat().join("\n");
    assert!(!logs.contains(&kek_text), "the KEK is in a log");
    assert!(
        !a.dir.path().join("state-a/admin-jwt-ed25519.pk8").exists(),
        "no signing key file in the state directory"
    );
}
