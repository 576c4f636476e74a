//! TLS to PostgreSQL (`[store] tls_ca_file`): the rustls client
//! configuration, built once per backend from the CA file and shared by its
//! connections. The crypto provider is ring, explicitly (the one provider of
//! the whole binary). Verification is rustls' WebPKI verifier: the chain
//! must end at one of the file's certificates and the leaf must name the
//! URL's host (DNS name or IP address).

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, PemObject};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// The TLS connector for connections verified against the CA(s) in `path`.
pub(crate) fn connector(path: &Path) -> Result<MakeRustlsConnect, StoreError> {
    let fail = |reason: String| StoreError::TlsCaFile {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| match e {
            pem::Error::Io(io) => fail(format!(
                "{io} (check that it exists and is readable by headend)"
            )),
            other => fail(format!("not valid PEM: {other}")),
        })?;
    if certs.is_empty() {
        return Err(fail(
            "holds no certificate; put the PEM certificate(s) (-----BEGIN CERTIFICATE-----) of the CA that signed the PostgreSQL server's certificate in it".to_owned(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| fail(format!("certificate {} is not usable as a CA: {e}", i + 1)))?;
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), contents).unwrap();
        f
    }

    #[test]
    fn missing_file_is_named() {
        let e = connector(Path::new("/nonexistent/pg-ca.pem"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("/nonexistent/pg-ca.pem: ") && e.contains("tls_ca_file"),
            "{e}"
        );
    }

    #[test]
    fn empty_file_and_file_without_certificate_are_refused() {
        for text in ["", "not a certificate\n"] {
            let f = file(text);
            let e = connector(f.path()).err().unwrap().to_string();
            assert!(
                e.contains(&f.path().display().to_string()) && e.contains("holds no certificate"),
                "{e}"
            );
        }
    }

    #[test]
    fn garbage_inside_a_certificate_section_is_refused() {
        let f = file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let e = connector(f.path()).err().unwrap().to_string();
        assert!(e.contains("tls_ca_file") && e.contains("not usable"), "{e}");
    }
}
