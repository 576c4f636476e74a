//! TLS to PostgreSQL (`[store] tls_ca_file`) against a real server: a
//! cluster of this file's own (see `pg_cluster::Cluster::start_with`) with
//! `ssl=on`, a server certificate for 127.0.0.1 signed by a CA made here
//! (rcgen), and a pg_hba.conf that admits TCP clients only over TLS. What is
//! checked: a verified connection works end to end, and every way of not
//! verifying (no CA, another CA, a host the certificate does not name, a
//! server without TLS) fails at open instead of falling back to plaintext.

// Shared with tests/postgres.rs, which uses all of it.
#[allow(dead_code)]
mod pg_cluster;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use headend_store::{Lease, LeaseState, PostgresConfig, Store, StoreConfig, StoreError};
use pg_cluster::{Cluster, Options};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// The TLS-only cluster and the CA its server certificate chains to.
struct TlsCluster {
    cluster: Cluster,
    ca_pem: String,
}

static TLS: LazyLock<TlsCluster> = LazyLock::new(|| {
    let ca = ca("headend test CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let cluster = Cluster::start_with(Options {
        settings: vec![
            "ssl=on".to_owned(),
            "ssl_cert_file=server.crt".to_owned(),
            "ssl_key_file=server.key".to_owned(),
        ],
        files: vec![
            ("server.crt".to_owned(), cert.pem().into_bytes()),
            ("server.key".to_owned(), key.serialize_pem().into_bytes()),
        ],
        // TCP only over TLS; the harness's superuser uses the socket.
        hba_conf: Some("local all all trust\nhostssl all all 127.0.0.1/32 trust\n".to_owned()),
    });
    TlsCluster {
        cluster,
        ca_pem: ca.pem,
    }
});

/// A temp file holding `pem` (removed when dropped).
fn ca_file(pem: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pem).unwrap();
    file
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl TlsCluster {
    /// A fresh database; its name.
    fn database(&self) -> String {
        let name = format!("tls_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.cluster
            .exec("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// A store config for `db` on host `host`, verified against `ca_file`.
    fn config(&self, host: &str, db: &str, ca_file: Option<&Path>) -> StoreConfig {
        let mut pg = PostgresConfig::new(format!(
            "postgresql://headend@{host}:{}/{db}",
            self.cluster.port
        ));
        pg.pool = 2;
        pg.connect_timeout_secs = 5;
        pg.tls_ca_file = ca_file.map(Path::to_path_buf);
        StoreConfig::Postgres(pg)
    }
}

fn open(config: &StoreConfig) -> Result<Store, StoreError> {
    Store::open(config, Path::new("/nonexistent-state-dir"))
}

/// The message of a failed open (the store itself has no Debug).
fn open_error(config: &StoreConfig) -> String {
    match open(config) {
        Ok(_) => panic!("open succeeded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn verified_tls_connection_migrates_and_round_trips_a_lease() {
    let tls = &*TLS;
    let db = tls.database();
    let ca = ca_file(&tls.ca_pem);
    let store = open(&tls.config("127.0.0.1", &db, Some(ca.path())))
        .unwrap_or_else(|e| panic!("{e}\n{}", tls.cluster.log()));
    let lease = Lease {
        address: Ipv4Addr::new(10, 0, 0, 9),
        subnet: "lan".into(),
        client_key: b"tls-client".to_vec(),
        hwaddr: b"tls-client".to_vec(),
        client_id: None,
        hostname: Some("over-tls".into()),
        state: LeaseState::Bound,
        expires: 4_000_000_000,
        circuit_id: None,
        remote_id: None,
        class: None,
        server: None,
    };
    let mut tx = store.begin().unwrap();
    assert!(tx.claim(&lease).unwrap());
    tx.commit().unwrap();
    assert_eq!(
        store.lease_at(Ipv4Addr::new(10, 0, 0, 9)).unwrap(),
        Some(lease)
    );
    // The store's connections are encrypted, as the server sees them.
    let ssl = tls.cluster.query(
        "postgres",
        &format!(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{db}'"
        ),
    );
    assert!(
        !ssl.is_empty() && ssl.iter().all(|v| v.as_deref() == Some("t")),
        "{ssl:?}"
    );
    drop(store);
}

#[test]
fn without_tls_ca_file_the_server_refuses_the_plaintext_connection() {
    let tls = &*TLS;
    let db = tls.database();
    let e = open_error(&tls.config("127.0.0.1", &db, None));
    assert!(
        e.contains("cannot connect") && e.contains("pg_hba.conf") && e.contains("no encryption"),
        "{e}"
    );
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let tls = &*TLS;
    let db = tls.database();
    let other = ca_file(&ca("some other CA").pem);
    let e = open_error(&tls.config("127.0.0.1", &db, Some(other.path())));
    assert!(
        e.contains("cannot connect")
            && e.contains("invalid peer certificate")
            && e.contains("UnknownIssuer"),
        "{e}"
    );
}

#[test]
fn a_certificate_that_does_not_name_the_host_is_refused() {
    let tls = &*TLS;
    let db = tls.database();
    let ca = ca_file(&tls.ca_pem);
    // Same server, same CA, but reached as "localhost", which the
    // certificate (IP 127.0.0.1 only) does not name.
    let e = open_error(&tls.config("localhost", &db, Some(ca.path())));
    assert!(
        e.contains("invalid peer certificate") && e.contains("not valid for name \"localhost\""),
        "{e}"
    );
}

#[test]
fn a_server_without_tls_is_refused_rather_than_used_in_plaintext() {
    // The shared cluster of the other tests runs with ssl=off.
    let db = pg_cluster::Db::new();
    let ca = ca_file(&TLS.ca_pem);
    let StoreConfig::Postgres(mut pg) = db.config(1) else {
        unreachable!()
    };
    pg.tls_ca_file = Some(ca.path().to_path_buf());
    let e = open_error(&StoreConfig::Postgres(pg));
    assert!(e.contains("server does not support TLS"), "{e}");
}

#[test]
fn an_empty_ca_file_is_named_at_open() {
    let tls = &*TLS;
    let db = tls.database();
    let empty = ca_file("");
    let e = open_error(&tls.config("127.0.0.1", &db, Some(empty.path())));
    assert!(
        e.starts_with(&format!("{}: ", empty.path().display()))
            && e.contains("[store] tls_ca_file")
            && e.contains("holds no certificate"),
        "{e}"
    );
}

#[test]
fn config_file_tls_ca_file_is_postgres_only_and_sslmode_require_needs_it() {
    #[derive(Debug, serde::Deserialize)]
    struct File {
        store: StoreConfig,
    }
    let parse = |text: &str| toml::from_str::<File>(text).map(|f| f.store);
    let c = parse(
        "[store]\nbackend = \"postgres\"\nurl = \"postgresql://headend@127.0.0.1/headend\"\ntls_ca_file = \"/etc/headend/pg-ca.pem\"\n",
    )
    .unwrap();
    let StoreConfig::Postgres(pg) = c else {
        panic!("not postgres: {c:?}");
    };
    assert_eq!(
        pg.tls_ca_file.as_deref(),
        Some(Path::new("/etc/headend/pg-ca.pem"))
    );
    let e = parse("[store]\ntls_ca_file = \"/etc/headend/pg-ca.pem\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[store] tls_ca_file:") && e.contains("backend = \"postgres\""),
        "{e}"
    );
    let e = parse(
        "[store]\nbackend = \"postgres\"\nurl = \"postgresql://headend@127.0.0.1/headend?sslmode=require\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("[store] url:") && e.contains("tls_ca_file"),
        "{e}"
    );
}
