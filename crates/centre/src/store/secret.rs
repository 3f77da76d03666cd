//! Secrets: device tokens, enrolment codes and staff passwords.
//!
//! Device tokens are 256 random bits, so a plain SHA-256 of the token is a safe thing to store
//! and cheap to check on every request. Enrolment codes are short enough to type (40 bits) but
//! one-time and expiring; they are stored hashed too. Staff passwords are low-entropy, so they
//! get argon2id (the `argon2` crate's defaults, i.e. OWASP's recommended parameters), which is
//! CPU-heavy and therefore run off the async runtime.

use crate::store::error::{Result, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked token recognisable (e.g. by secret scanners).
use daiban_proto::sync::DEVICE_TOKEN_PREFIX as TOKEN_PREFIX;
/// Crockford-style alphabet without 0/O, 1/I/L, U: easy to read out over the phone.
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ#@";

/// A new device bearer token.
pub fn new_device_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{TOKEN_PREFIX}{}", hex::encode(b))
}

/// What is stored for a token or code: hex SHA-256.
pub fn fingerprint(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new one-time enrolment code, `XXXX-XXXX`.
pub fn new_enrolment_code() -> String {
    let alphabet = &CODE_ALPHABET[..30];
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    let chars: String = b.iter().map(|x| alphabet[usize::from(*x) % alphabet.len()] as char).collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// The canonical form of a typed-in code: upper case, no spaces or hyphens.
pub fn normalise_code(code: &str) -> String {
    daiban_proto::sync::normalise_enrolment_code(code)
}

/// argon2id hash in PHC string format.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Backend(e.to_string().into()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Backend(e.to_string().into()))
    })
    .await?
}

/// Check `password` against a stored PHC hash (`None`: no such user; a dummy hash is checked
/// anyway so that a wrong user name takes as long as a wrong password).
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let dummy = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9R/lTbqVC0Vw8a1aU2CS2Ll5rWQEa2wUr0AX6ycE6zQ";
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy.to_string());
        let parsed = PasswordHash::new(&hash).map_err(|e| StoreError::Backend(e.to_string().into()))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_normalise() {
        let c = new_enrolment_code();
        assert_eq!(c.len(), 9);
        assert_eq!(&c[4..5], "-");
        assert!(!c.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(normalise_code(&format!(" {} ", c.to_lowercase())), c.replace('-', ""));
        assert_ne!(new_device_token(), new_device_token());
        assert_eq!(fingerprint("x").len(), 64);
    }

    #[tokio::test]
    async fn passwords_verify_only_with_the_right_secret() {
        let h = hash_password("桃源-secret".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("桃源-secret".into(), Some(h.clone())).await.unwrap());
        assert!(!verify_password("wrong".into(), Some(h)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
