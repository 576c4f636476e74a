//! Key material on disk and the rustls server configuration: (when none is
//! configured) a self-signed certificate created on first start in the
//! state directory with mode 0600. The JWT signing keys live in the store
//! (`signing`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::AdminError;
use crate::config::{AdminConfig, ClientTlsConfig, ClientTlsMode};

/// Installs ring as the process-wide rustls provider (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Writes `bytes` to `path` with mode 0600, atomically and durably (see
/// [`headend_util::write_atomic`]).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AdminError> {
    headend_util::write_atomic(path, bytes, 0o600).map_err(|source| AdminError::File {
        path: path.to_path_buf(),
        action: "cannot write",
        source,
    })
}

/// SHA-256 of a DER certificate, as colon-separated upper-case hex (the
/// form `openssl x509 -fingerprint -sha256` prints).
pub fn fingerprint(cert_der: &[u8]) -> String {
    Sha256::digest(cert_der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Where the certificate and key come from.
#[derive(Debug, Clone)]
pub struct CertSource {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Client certificates: the CA and CRL files (re-read with the rest).
    pub client_tls: Option<ClientTlsConfig>,
}

impl CertSource {
    /// The configured files, or the self-signed pair in the state directory
    /// (generated now if missing, for the listen address and `localhost`).
    pub fn resolve(config: &AdminConfig, state_dir: &Path) -> Result<Self, AdminError> {
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        if let (Some(cert), Some(key)) = (&config.cert, config.tls_key(credentials.as_deref())) {
            return Ok(Self {
                cert: cert.clone(),
                key,
                client_tls: config.client_tls.clone(),
            });
        }
        let me = Self {
            cert: state_dir.join("admin-cert.pem"),
            key: state_dir.join("admin-key.pem"),
            client_tls: config.client_tls.clone(),
        };
        if !me.cert.exists() || !me.key.exists() {
            let mut names = vec!["localhost".to_owned()];
            let ip = config.listen.ip();
            if !ip.is_unspecified() {
                names.push(ip.to_string());
            }
            let certified =
                rcgen::generate_simple_self_signed(names).map_err(|e| AdminError::Tls {
                    reason: format!("cannot generate a self-signed certificate: {e}"),
                })?;
            write_private(&me.key, certified.signing_key.serialize_pem().as_bytes())?;
            write_private(&me.cert, certified.cert.pem().as_bytes())?;
            tracing::info!(cert = %me.cert.display(), "generated a self-signed admin certificate");
        }
        Ok(me)
    }

    /// Reads the files and builds the rustls server config: TLS 1.2 and 1.3
    /// (rustls safe defaults), no client auth, HTTP/1.1, no 0-RTT data.
    /// Returns it with the leaf certificate's fingerprint.
    pub fn server_config(&self) -> Result<(Arc<ServerConfig>, String), AdminError> {
        let read = |path: &Path, what: &'static str| {
            std::fs::read(path).map_err(|source| AdminError::File {
                path: path.to_path_buf(),
                action: what,
                source,
            })
        };
        let cert_pem = read(&self.cert, "cannot read the admin certificate")?;
        let key_pem = read(&self.key, "cannot read the admin private key")?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| AdminError::BadKeyMaterial {
                path: self.cert.clone(),
                reason: format!("not a PEM certificate chain: {e}"),
            })?;
        let leaf = chain.first().ok_or_else(|| AdminError::BadKeyMaterial {
            path: self.cert.clone(),
            reason: "no certificate in the file".into(),
        })?;
        let fp = fingerprint(leaf);
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| AdminError::BadKeyMaterial {
                path: self.key.clone(),
                reason: format!("not a PEM private key: {e}"),
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| AdminError::Tls {
                reason: e.to_string(),
            })?;
        let builder = match &self.client_tls {
            None => builder.with_no_client_auth(),
            Some(c) => builder.with_client_cert_verifier(client_verifier(c, provider)?),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| AdminError::Tls {
                reason: format!(
                    "{} and {} do not form a usable pair: {e}",
                    self.cert.display(),
                    self.key.display()
                ),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // RFC 8446 §2.3: 0-RTT data has no replay protection; never accept it.
        config.max_early_data_size = 0;
        Ok((Arc::new(config), fp))
    }
}

/// The verifier of client certificates: chains to `ca_file`, valid now,
/// the leaf not revoked by `crl_file`; a certificate that fails any of
/// these ends the handshake. Optional mode also lets clients without one in.
fn client_verifier(
    c: &ClientTlsConfig,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, AdminError> {
    let read = |path: &Path, what: &'static str| {
        std::fs::read(path).map_err(|source| AdminError::File {
            path: path.to_path_buf(),
            action: what,
            source,
        })
    };
    let ca_pem = read(&c.ca_file, "cannot read the client CA file")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca_pem) {
        let cert = cert.map_err(|e| AdminError::BadKeyMaterial {
            path: c.ca_file.clone(),
            reason: format!("not a PEM certificate: {e}"),
        })?;
        roots.add(cert).map_err(|e| AdminError::BadKeyMaterial {
            path: c.ca_file.clone(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    if roots.is_empty() {
        return Err(AdminError::BadKeyMaterial {
            path: c.ca_file.clone(),
            reason: "no certificate in the file".into(),
        });
    }
    let mut crls = Vec::new();
    if let Some(path) = &c.crl_file {
        let pem = read(path, "cannot read the client CRL file")?;
        for crl in CertificateRevocationListDer::pem_slice_iter(&pem) {
            crls.push(crl.map_err(|e| AdminError::BadKeyMaterial {
                path: path.clone(),
                reason: format!("not a PEM certificate revocation list: {e}"),
            })?);
        }
    }
    let mut builder =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls)
            .only_check_end_entity_revocation()
            .allow_unknown_revocation_status();
    if c.mode == ClientTlsMode::Optional {
        builder = builder.allow_unauthenticated();
    }
    builder.build().map_err(|e| AdminError::Tls {
        reason: format!("client certificate verification: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn generated_certificate_and_key_are_private_and_stable() {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let config = AdminConfig::default();
        let src = CertSource::resolve(&config, dir.path()).unwrap();
        let mode = std::fs::metadata(&src.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (_, fp1) = src.server_config().unwrap();
        let (_, fp2) = CertSource::resolve(&config, dir.path())
            .unwrap()
            .server_config()
            .unwrap();
        assert_eq!(fp1, fp2);
        assert_eq!(fp1.len(), 32 * 3 - 1);
    }

    #[test]
    fn the_tls_key_comes_from_key_or_with_cert_from_the_credential() {
        let creds = tempfile::tempdir().unwrap();
        let mut config = AdminConfig::default();
        assert_eq!(config.tls_key(Some(creds.path())), None);
        config.cert = Some("/etc/headend/cert.pem".into());
        assert_eq!(config.tls_key(Some(creds.path())), None, "no credential");
        let cred = creds.path().join(crate::config::TLS_KEY_CREDENTIAL);
        std::fs::write(&cred, "key").unwrap();
        assert_eq!(config.tls_key(Some(creds.path())), Some(cred));
        assert_eq!(config.tls_key(None), None);
        config.key = Some("/etc/headend/key.pem".into());
        assert_eq!(
            config.tls_key(Some(creds.path())),
            Some(PathBuf::from("/etc/headend/key.pem"))
        );
        config.cert = None;
        config.key = None;
        std::fs::remove_file(creds.path().join(crate::config::TLS_KEY_CREDENTIAL)).unwrap();
        assert_eq!(config.tls_key(Some(creds.path())), None);
    }

    #[test]
    fn mismatched_cert_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "garbage").unwrap();
        let src = CertSource {
            cert: cert.clone(),
            key: cert,
            client_tls: None,
        };
        let err = src.server_config().unwrap_err().to_string();
        assert!(err.contains("c.pem"), "{err}");
    }
}
