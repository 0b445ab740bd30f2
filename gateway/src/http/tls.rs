//! TLS with rustls: the certificate chain and key come from PEM files (`--tls-cert`,
//! `--tls-key`) and are read again on SIGHUP. A reload swaps the configuration that new
//! handshakes use; connections already open keep theirs, so nothing is dropped. A reload that
//! fails (a half-written file, a key that does not match) keeps the old configuration.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::Error;

/// The current TLS configuration and the files it was read from.
#[derive(Debug)]
pub struct TlsReloader {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsReloader {
    /// Reads the certificate chain and key; fails with a message naming the file at fault.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, Error> {
        let config = read_config(cert, key)?;
        Ok(TlsReloader {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Reads the files again. On failure the previous configuration stays in use.
    pub fn reload(&self) -> Result<(), Error> {
        let config = read_config(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        Ok(())
    }

    /// An acceptor for the next handshake, with the current configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

fn read_config(cert: &Path, key: &Path) -> Result<ServerConfig, Error> {
    let bad = |path: &Path, what: String| {
        Error::Refused(format!(
            "TLS: cannot use {}: {what}",
            path.to_string_lossy()
        ))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(cert, "no CERTIFICATE block in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Refused(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad(key, format!("the key does not fit the certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
