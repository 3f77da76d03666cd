//! Data at rest on the phone: one random data key per installation, kept by the platform's
//! key store, from which two keys are derived — one for the SQLite database (SQLCipher, which
//! also encrypts the WAL) and one for photo files (ChaCha20-Poly1305, one random nonce per
//! file). Residents' ID numbers, names and document photos are therefore never on flash in
//! the clear, and a lost phone's storage dump reveals nothing without the key.
//!
//! Where the data key lives is the [`KeyStore`]'s business: on Android a key in the Android
//! Keystore wraps it, on iOS the Keychain holds it (see platforms/). [`FileKeyStore`] keeps it
//! in a `0600` file next to the data — it is what desktop development and the tests use, and
//! it protects nothing against someone who has the whole disk; documented as such.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::io;
use std::path::PathBuf;
use zeroize::Zeroize;

/// The installation's data key. Its bytes never appear in `Debug` output and are wiped on drop.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        Self(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(None, &self.0).expand(label.as_bytes(), &mut out).expect("32 bytes is a valid HKDF length");
        out
    }

    /// The `PRAGMA key` value for SQLCipher: a raw 256-bit key (no slow passphrase derivation,
    /// so opening the store on a cheap phone stays fast).
    pub(crate) fn sqlcipher_pragma(&self) -> String {
        format!("x'{}'", hex::encode(self.derive("daiban sqlcipher v1")))
    }

    pub(crate) fn photo_cipher(&self) -> PhotoCipher {
        PhotoCipher(ChaCha20Poly1305::new(Key::from_slice(&self.derive("daiban photos v1"))))
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // zeroize's writes are not optimised away
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

/// Where the data key is kept.
pub trait KeyStore: Send + Sync {
    /// The installation's key, created on first use.
    fn load_or_create(&self) -> io::Result<DataKey>;
}

/// The key in a file readable only by the app's user (desktop development and tests).
pub struct FileKeyStore {
    pub path: PathBuf,
}

impl KeyStore for FileKeyStore {
    fn load_or_create(&self) -> io::Result<DataKey> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let k: [u8; 32] =
                    bytes.try_into().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "数据密钥文件损坏 / key file is damaged"))?;
                Ok(DataKey(k))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key = DataKey::generate();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts.open(&self.path)?;
                io::Write::write_all(&mut f, &key.0)?;
                f.sync_all()?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }
}

/// Seals and opens photo files: `DBNE1` ‖ nonce (12) ‖ ciphertext ‖ tag (16).
#[derive(Clone)]
pub struct PhotoCipher(ChaCha20Poly1305);

const MAGIC: &[u8; 5] = b"DBNE1";
/// Bytes a sealed file has beyond its contents.
pub const SEAL_OVERHEAD: u64 = (MAGIC.len() + 12 + 16) as u64;

impl PhotoCipher {
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self.0.encrypt(Nonce::from_slice(&nonce), plain).expect("encryption cannot fail for in-memory data");
        let mut out = Vec::with_capacity(plain.len() + SEAL_OVERHEAD as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> io::Result<Vec<u8>> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, format!("加密照片无法解开 / sealed photo: {why}"));
        if sealed.len() < SEAL_OVERHEAD as usize || &sealed[..MAGIC.len()] != MAGIC {
            return Err(bad("not a sealed file"));
        }
        let (nonce, ct) = sealed[MAGIC.len()..].split_at(12);
        self.0.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| bad("wrong key or damaged"))
    }
}

impl fmt::Debug for PhotoCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhotoCipher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_tampering_and_wrong_keys() {
        let k = DataKey::generate();
        let c = k.photo_cipher();
        let sealed = c.seal(b"jpeg bytes");
        assert_eq!(sealed.len() as u64, 10 + SEAL_OVERHEAD);
        assert!(!sealed.windows(10).any(|w| w == b"jpeg bytes"));
        assert_eq!(c.open(&sealed).unwrap(), b"jpeg bytes");
        assert_ne!(c.seal(b"jpeg bytes"), sealed, "fresh nonce each time");
        let mut t = sealed.clone();
        *t.last_mut().unwrap() ^= 1;
        assert!(c.open(&t).is_err());
        assert!(DataKey::generate().photo_cipher().open(&sealed).is_err());
        assert!(c.open(b"\xff\xd8\xff plain jpeg").is_err());
        assert_eq!(format!("{k:?}"), "DataKey(…)");
        assert_ne!(k.sqlcipher_pragma(), DataKey::generate().sqlcipher_pragma());
    }

    #[test]
    fn file_key_store_creates_once_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let ks = FileKeyStore { path: dir.path().join("k") };
        let a = ks.load_or_create().unwrap();
        let b = ks.load_or_create().unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(dir.path().join("k")).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("k"), b"short").unwrap();
        assert!(ks.load_or_create().is_err());
    }
}
