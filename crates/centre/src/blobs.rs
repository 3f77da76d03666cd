//! Photo bytes, content-addressed by SHA-256, behind [`PhotoBlobs`].
//!
//! The database records which photos exist and who refers to them; the bytes live here. The
//! default [`FsPhotoBlobs`] keeps one file per photo under a two-level fan-out
//! (`ab/cdef…`). An object store (S3, OSS, MinIO…) can implement the same trait: it receives a
//! complete, hash-verified local file and must make it durable before returning.

use async_trait::async_trait;
use daiban_proto::PhotoHash;
use std::io;
use std::path::{Path, PathBuf};

#[async_trait]
pub trait PhotoBlobs: Send + Sync + 'static {
    /// Take a complete, already verified file into the store as `hash`. The file is consumed
    /// (moved or copied, then removed). Durable when this returns.
    async fn put_file(&self, hash: &PhotoHash, file: &Path) -> io::Result<()>;
    async fn get(&self, hash: &PhotoHash) -> io::Result<Option<Vec<u8>>>;
    async fn exists(&self, hash: &PhotoHash) -> io::Result<bool>;
    /// Delete the photo for good (retention); nothing to do if it is not there.
    async fn remove(&self, hash: &PhotoHash) -> io::Result<()>;
}

/// Photos as files under a root directory.
#[derive(Clone, Debug)]
pub struct FsPhotoBlobs {
    root: PathBuf,
}

impl FsPhotoBlobs {
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    pub fn path_of(&self, hash: &PhotoHash) -> PathBuf {
        let (dir, file) = hash.shard_path();
        self.root.join(dir).join(file)
    }
}

/// Make `dest` hold the contents of `src` atomically and durably: fsync `src`, rename it into
/// place, fsync the directory. If `src` is on another filesystem, it is copied to a temp file
/// beside `dest` first (fsynced, then renamed).
fn install(src: &Path, dest: &Path) -> io::Result<()> {
    let dir = dest.parent().expect("photo paths have a parent");
    std::fs::create_dir_all(dir)?;
    std::fs::File::open(src)?.sync_all()?;
    if std::fs::rename(src, dest).is_err() {
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::copy(src, &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dest)?;
        std::fs::remove_file(src)?;
    }
    std::fs::File::open(dir)?.sync_all()
}

#[async_trait]
impl PhotoBlobs for FsPhotoBlobs {
    async fn put_file(&self, hash: &PhotoHash, file: &Path) -> io::Result<()> {
        let (src, dest) = (file.to_path_buf(), self.path_of(hash));
        tokio::task::spawn_blocking(move || install(&src, &dest)).await?
    }

    async fn get(&self, hash: &PhotoHash) -> io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path_of(hash)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn exists(&self, hash: &PhotoHash) -> io::Result<bool> {
        tokio::fs::try_exists(self.path_of(hash)).await
    }

    async fn remove(&self, hash: &PhotoHash) -> io::Result<()> {
        let path = self.path_of(hash);
        tokio::task::spawn_blocking(move || {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                other => other?,
            }
            // the removal is durable once the directory is
            std::fs::File::open(path.parent().expect("photo paths have a parent"))?.sync_all()
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_moves_a_file_in_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsPhotoBlobs::new(dir.path().join("photos")).unwrap();
        let src = dir.path().join("upload.part");
        std::fs::write(&src, b"jpeg bytes").unwrap();
        let h = PhotoHash::of(b"jpeg bytes");
        assert!(!blobs.exists(&h).await.unwrap());
        blobs.put_file(&h, &src).await.unwrap();
        assert!(!src.exists(), "the upload file is consumed");
        assert_eq!(blobs.get(&h).await.unwrap().as_deref(), Some(&b"jpeg bytes"[..]));
        assert!(blobs.path_of(&h).starts_with(dir.path().join("photos").join(&h.to_hex()[..2])));
        assert_eq!(blobs.get(&PhotoHash::of(b"other")).await.unwrap(), None);
    }
}
