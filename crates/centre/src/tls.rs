//! HTTPS for the centre: `daiban-centre serve --tls-cert cert.pem --tls-key key.pem`.
//!
//! Phones send residents' ID numbers and document photos; on any network but a test bench
//! that must travel encrypted. TLS is rustls (TLS 1.2 and 1.3, ring provider) through
//! tokio-rustls, and the same axum server runs over it: [`TlsListener`] hands axum connections
//! whose handshake is done. Handshakes run in their own tasks with a time limit, so a client
//! that connects and says nothing holds up nobody. A centre behind a TLS-terminating reverse
//! proxy can keep serving plain HTTP on loopback instead.

use crate::api::{self, AppState};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading certificate chain {path}: {source}")]
    Certificate { path: String, source: rustls::pki_types::pem::Error },
    #[error("reading private key {path}: {source}")]
    Key { path: String, source: rustls::pki_types::pem::Error },
    #[error("certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A server configuration from a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate { path: cert.display().to_string(), source })?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key { path: key.display().to_string(), source })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `sha256:<hex>` of the first (leaf) certificate in a PEM file: what enrolment links carry so
/// that phones trust this certificate even if no public CA signed it.
pub fn leaf_pin(cert: &Path) -> Result<String, TlsError> {
    use sha2::{Digest, Sha256};
    let leaf = CertificateDer::pem_file_iter(cert)
        .and_then(|mut certs| certs.next().transpose())
        .map_err(|source| TlsError::Certificate { path: cert.display().to_string(), source })?
        .ok_or_else(|| TlsError::Certificate { path: cert.display().to_string(), source: rustls::pki_types::pem::Error::NoItemsFound })?;
    Ok(format!("sha256:{}", hex::encode(Sha256::digest(leaf.as_ref()))))
}

/// TCP connections whose TLS handshake has completed, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let tls = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // out of file descriptors and the like: wait, do not spin
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local, acceptor })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // the accepting task is gone only when the listener is dropped
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// [`api::serve`] over TLS: serve until `shutdown` completes, then finish the requests in
/// progress.
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(TlsListener::new(listener, config)?, api::router(state)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn the_pin_is_the_sha256_of_the_leaf_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let leaf = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["ca.example".to_string()]).unwrap();
        let path = dir.path().join("fullchain.pem");
        std::fs::write(&path, format!("{}{}", leaf.cert.pem(), other.cert.pem())).unwrap();
        let pin = super::leaf_pin(&path).unwrap();
        assert_eq!(pin, format!("sha256:{}", hex::encode(Sha256::digest(leaf.cert.der()))));
        std::fs::write(&path, "not a certificate").unwrap();
        assert!(super::leaf_pin(&path).is_err());
    }
}
