//! TLS termination with rustls: a default certificate, SNI-selected ones, ALPN for h2.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ResolvesServerCertUsingSni};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::settings::{CertFiles, TlsSettings};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("SNI name `{name}`: {why}")]
    Sni { name: String, why: String },
}

fn load_certified_key(files: &CertFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let err = |path: &Path, why: String| TlsError::File { path: path.display().to_string(), why };
    let mut reader = BufReader::new(File::open(&files.cert).map_err(|e| err(&files.cert, e.to_string()))?);
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut reader)
        .collect::<Result<_, _>>()
        .map_err(|e| err(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(err(&files.cert, "no certificate found".into()));
    }
    let mut reader = BufReader::new(File::open(&files.key).map_err(|e| err(&files.key, e.to_string()))?);
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut reader)
        .map_err(|e| err(&files.key, format!("not a PEM private key: {e}")))?
        .ok_or_else(|| err(&files.key, "no private key found".into()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| err(&files.key, format!("unsupported private key: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

/// SNI names first, the default certificate for everything else (and for clients that send
/// no SNI at all, such as old scripts hitting the address directly).
#[derive(Debug)]
struct SniWithDefault {
    by_name: ResolvesServerCertUsingSni,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniWithDefault {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if hello.server_name().is_some() {
            if let Some(key) = self.by_name.resolve(hello) {
                return Some(key);
            }
        }
        Some(Arc::clone(&self.default))
    }
}

/// Build the rustls server configuration for one listener.
pub fn server_config(settings: &TlsSettings, http2: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let default = load_certified_key(&settings.default)?;
    let mut by_name = ResolvesServerCertUsingSni::new();
    for (name, files) in &settings.sni {
        let key = load_certified_key(files)?;
        by_name.add(name, (*key).clone()).map_err(|e| TlsError::Sni { name: name.clone(), why: e.to_string() })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Sni { name: String::new(), why: e.to_string() })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniWithDefault { by_name, default }));
    config.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(Arc::new(config))
}
