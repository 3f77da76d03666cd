//! Trusting a township centre that has its own certificate. A centre on a county network is
//! often served with a certificate no public CA signed (self-made, or from a provincial CA
//! phones do not carry). The staff UI then puts the SHA-256 of the centre's certificate in the
//! enrolment link (`daiban://enrol?centre=…&code=…&pin=sha256:<hex>`); the phone keeps it with
//! its enrolment and accepts exactly that certificate for the centre, besides anything the
//! public roots vouch for. Nothing is trusted on first use: without a pin, a certificate the
//! public roots do not vouch for is refused.
//!
//! The TLS handshake is still verified in full (the server proves it holds the pinned
//! certificate's key); only the chain to a root is replaced by the fingerprint.

use super::error::SyncError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The SHA-256 of a certificate (DER), as written in enrolment links: `sha256:` and 64 hex
/// digits (colons and case are tolerated when typed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertPin(pub [u8; 32]);

impl CertPin {
    pub fn parse(s: &str) -> Result<Self, SyncError> {
        let hex: String = s.trim().trim_start_matches("sha256:").chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
        let mut out = [0u8; 32];
        hex::decode_to_slice(&hex, &mut out)
            .map_err(|_| SyncError::BadUrl(format!("证书指纹格式不对 / certificate pin must be sha256: and 64 hex digits: {s}")))?;
        Ok(Self(out))
    }

    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
}

impl std::fmt::Display for CertPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

/// The public roots, or the pinned certificate.
#[derive(Debug)]
struct PinnedOrPublic {
    pin: CertPin,
    public: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedOrPublic {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if CertPin::of(end_entity.as_ref()) == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        self.public.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client configuration that trusts the public roots and the pinned certificate.
pub(crate) fn tls_config(pin: CertPin) -> Result<rustls::ClientConfig, SyncError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    let tls_err = |e: rustls::Error| SyncError::BadUrl(format!("TLS: {e}"));
    let public =
        WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build().map_err(|e| SyncError::BadUrl(format!("TLS: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedOrPublic { pin, public, provider }))
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_as_written_in_links_and_typed() {
        let pin = CertPin::of(b"a certificate");
        let written = pin.to_string();
        assert!(written.starts_with("sha256:") && written.len() == 7 + 64);
        assert_eq!(CertPin::parse(&written).unwrap(), pin);
        let typed = written
            .trim_start_matches("sha256:")
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(CertPin::parse(&typed).unwrap(), pin, "colons and upper case from a browser's certificate viewer");
        assert!(CertPin::parse("sha256:abc").is_err());
        assert!(tls_config(pin).is_ok());
    }
}
