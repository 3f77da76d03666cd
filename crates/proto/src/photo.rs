//! Content addresses of document photos.
//!
//! A photo is identified by the SHA-256 of its stored (already processed) JPEG bytes. The same
//! photo therefore has the same name on the phone and on the centre, which is what makes
//! reuse of materials, de-duplicated uploads and end-to-end integrity checks possible.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// On the wire: 64 lower-case hex characters.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
pub struct PhotoHash(pub [u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("照片编号应为64位十六进制 SHA-256 / photo hash must be 64 hex characters")]
pub struct PhotoHashError;

impl PhotoHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Two-level fan-out used by content-addressed stores: `ab/cdef…`.
    pub fn shard_path(&self) -> (String, String) {
        let h = self.to_hex();
        (h[..2].to_string(), h[2..].to_string())
    }
}

impl FromStr for PhotoHash {
    type Err = PhotoHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(PhotoHashError);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.to_ascii_lowercase(), &mut out).map_err(|_| PhotoHashError)?;
        Ok(Self(out))
    }
}

impl fmt::Display for PhotoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PhotoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhotoHash({})", &self.to_hex()[..12])
    }
}

impl Serialize for PhotoHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PhotoHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_reject_garbage() {
        let h = PhotoHash::of(b"abc");
        assert_eq!(h.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(h.to_hex().parse::<PhotoHash>().unwrap(), h);
        assert_eq!(h.to_hex().to_uppercase().parse::<PhotoHash>().unwrap(), h);
        assert!("../etc/passwd".parse::<PhotoHash>().is_err());
        assert!("zz".repeat(32).parse::<PhotoHash>().is_err());
        let (a, b) = h.shard_path();
        assert_eq!((a.as_str(), b.len()), ("ba", 62));
    }
}
