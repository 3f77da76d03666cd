//! The content-addressed photo store on the phone's disk.
//!
//! Layout under `root`:
//! * `ab/cdef…` — one file per photo, named by its [`PhotoHash`] ([`PhotoHash::shard_path`]);
//! * `tmp/` — files being written (`<hash>.<random>.part`); anything left here is a crash
//!   leftover.
//!
//! Durability (the battery may die at any instant): a photo is written to a temp file, fsynced,
//! renamed into place, and the directory is fsynced, so after [`PhotoStore::put`] returns the
//! photo survives a power cut and a reader never sees half a file. The caller then references
//! the hash in a database transaction; [`PhotoStore::sweep`] removes files that no transaction
//! ever referenced. A grace period protects photos that were put but whose transaction has not
//! committed yet.
//!
//! Integrity: [`PhotoStore::read`] re-hashes what it reads, so a corrupted file is reported, not
//! uploaded or shown. A later `put` of the same photo repairs a corrupted copy.
//!
//! Encryption at rest is deliberately absent but has one place to go: file *contents* are
//! touched only by `write_file` and `read_file` below. Everything else works on names and
//! hashes, and the hash is always that of the plain JPEG, so wrapping contents with a key from
//! the platform keystore changes those two functions and nothing in the API. (Callers must
//! therefore get photo bytes from [`PhotoStore::read`], never by opening [`PhotoStore::path`].)

use crate::crypt::{PhotoCipher, SEAL_OVERHEAD};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use daiban_proto::{PhotoHash, PhotoRef};

use super::pipeline::{process, process_signature, PipelineOptions, Processed};
use super::PhotoError;

/// How old an unreferenced photo or temp file must be before [`PhotoStore::sweep`] removes it.
/// Longer than any capture-to-commit gap; short enough that space comes back the same day.
pub const DEFAULT_SWEEP_GRACE: Duration = Duration::from_secs(60 * 60);

const TEMP_DIR: &str = "tmp";
const TEMP_SUFFIX: &str = ".part";

/// What one [`PhotoStore::sweep`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Referenced photos left in place.
    pub kept: usize,
    /// Unreferenced photos removed.
    pub orphans_removed: usize,
    /// Crash-leftover temp files removed.
    pub temps_removed: usize,
    /// Unreferenced photos and temp files left because they are younger than the grace period.
    pub young_left: usize,
    /// Bytes given back by the removals.
    pub bytes_freed: u64,
}

/// Content-addressed, durable store of processed document photos.
///
/// Share it between threads with an `Arc`; `put` and `sweep` exclude each other, so a sweep can
/// never delete a photo that a concurrent `put` just reported as stored.
#[derive(Debug)]
pub struct PhotoStore {
    root: PathBuf,
    sweep_grace: Duration,
    sweeping: RwLock<()>,
    /// Seals file contents at rest when set (see [`crate::crypt`]).
    cipher: Option<PhotoCipher>,
}

impl PhotoStore {
    /// Open (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        let created = !root.is_dir();
        fs::create_dir_all(root.join(TEMP_DIR))?;
        if created {
            // Make the new directories themselves durable, not only the photos put in them.
            sync_dir(&root)?;
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        Ok(Self { root, sweep_grace: DEFAULT_SWEEP_GRACE, sweeping: RwLock::new(()), cipher: None })
    }

    /// Encrypt photo files at rest with this cipher (every file written from now on; reads
    /// expect sealed files).
    pub fn with_cipher(mut self, cipher: PhotoCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// Change the age below which [`PhotoStore::sweep`] leaves unreferenced files alone.
    pub fn with_sweep_grace(mut self, grace: Duration) -> Self {
        self.sweep_grace = grace;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the photo with this hash lives (whether or not it is there). For diagnostics and
    /// housekeeping; read contents with [`PhotoStore::read`].
    pub fn path(&self, hash: &PhotoHash) -> PathBuf {
        let (shard, rest) = hash.shard_path();
        self.root.join(shard).join(rest)
    }

    pub fn contains(&self, hash: &PhotoHash) -> bool {
        self.path(hash).is_file()
    }

    /// Delete the photo's file for good (retention); nothing to do if it is not there.
    pub fn remove(&self, hash: &PhotoHash) -> io::Result<()> {
        let path = self.path(hash);
        match fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        }
        // the removal is durable once the directory is
        File::open(path.parent().expect("photo paths have a parent"))?.sync_all()
    }

    /// Size in bytes of the photo with this hash (its JPEG, not the sealed file).
    pub fn size(&self, hash: &PhotoHash) -> io::Result<u64> {
        let on_disk = fs::metadata(self.path(hash))?.len();
        Ok(if self.cipher.is_some() { on_disk.saturating_sub(SEAL_OVERHEAD) } else { on_disk })
    }

    /// Store a processed photo durably. Idempotent: storing a photo that is already there only
    /// marks it as recently used (so a sweep spares it until its reference is committed), and
    /// replaces the file if the copy on disk turns out to be corrupt.
    pub fn put(&self, photo: &Processed) -> io::Result<PhotoRef> {
        let _no_sweep = self.sweeping.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let hash = photo.hash();
        match self.read(&hash) {
            Ok(_) => File::options().write(true).open(self.path(&hash))?.set_modified(SystemTime::now())?,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::InvalidData) => self.write_file(&hash, photo.jpeg())?,
            Err(e) => return Err(e),
        }
        Ok(photo.photo_ref())
    }

    /// [`process`] a raw camera photo and [`put`](PhotoStore::put) the result.
    pub fn ingest(&self, raw: &[u8], opts: &PipelineOptions) -> Result<PhotoRef, PhotoError> {
        Ok(self.put(&process(raw, opts)?)?)
    }

    /// Store a signature drawn on screen (PNG, transparent background) as a JPEG on white.
    pub fn put_png_signature(&self, png: &[u8]) -> Result<PhotoRef, PhotoError> {
        Ok(self.put(&process_signature(png)?)?)
    }

    /// The photo's JPEG bytes, verified against its hash. A missing photo is
    /// [`io::ErrorKind::NotFound`]; a corrupted one is [`io::ErrorKind::InvalidData`].
    pub fn read(&self, hash: &PhotoHash) -> io::Result<Vec<u8>> {
        let bytes = self.read_file(hash)?;
        if PhotoHash::of(&bytes) != *hash {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("照片文件已损坏，需重新拍照或下载 / stored photo {hash} is corrupt (content does not match its hash)"),
            ));
        }
        Ok(bytes)
    }

    /// Remove photos not in `keep` (the hashes the database references) and crash-leftover temp
    /// files, both only once older than the grace period. Files whose names are not photo
    /// hashes are left alone.
    pub fn sweep(&self, keep: &HashSet<PhotoHash>) -> io::Result<SweepReport> {
        let _no_put = self.sweeping.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cutoff = SystemTime::now().checked_sub(self.sweep_grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut report = SweepReport::default();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let dir = entry.path();
            let mut removed_any = false;
            for file in fs::read_dir(&dir)? {
                let file = file?;
                let referenced = if name == TEMP_DIR {
                    false
                } else {
                    match photo_hash(&name, &file.file_name()) {
                        Some(hash) => keep.contains(&hash),
                        None => continue,
                    }
                };
                if referenced {
                    report.kept += 1;
                    continue;
                }
                let meta = file.metadata()?;
                if !meta.is_file() {
                    continue;
                }
                if meta.modified()? > cutoff {
                    report.young_left += 1;
                    continue;
                }
                fs::remove_file(file.path())?;
                removed_any = true;
                report.bytes_freed += meta.len();
                if name == TEMP_DIR {
                    report.temps_removed += 1;
                } else {
                    report.orphans_removed += 1;
                }
            }
            if removed_any {
                sync_dir(&dir)?;
            }
        }
        Ok(report)
    }

    /// Write `contents` to the photo's place: temp file, fsync, rename, directory fsync.
    /// (The one place where file contents are written; see the module docs on encryption.)
    fn write_file(&self, hash: &PhotoHash, contents: &[u8]) -> io::Result<()> {
        let target = self.path(hash);
        let shard = self.root.join(hash.shard_path().0);
        if !shard.is_dir() {
            fs::create_dir_all(&shard)?;
            sync_dir(&self.root)?;
        }
        let mut temp = tempfile::Builder::new().prefix(&format!("{hash}.")).suffix(TEMP_SUFFIX).tempfile_in(self.root.join(TEMP_DIR))?;
        match &self.cipher {
            Some(c) => temp.write_all(&c.seal(contents))?,
            None => temp.write_all(contents)?,
        }
        temp.as_file().sync_all()?;
        temp.persist(&target).map_err(|e| e.error)?;
        sync_dir(&shard)
    }

    /// Read the photo's stored contents. (The one place where file contents are read.)
    fn read_file(&self, hash: &PhotoHash) -> io::Result<Vec<u8>> {
        let raw = fs::read(self.path(hash))?;
        match &self.cipher {
            Some(c) => c.open(&raw),
            None => Ok(raw),
        }
    }
}

/// The hash a file in shard directory `shard` is named for, if it is named like a photo.
fn photo_hash(shard: &str, file: &std::ffi::OsStr) -> Option<PhotoHash> {
    let hash: PhotoHash = format!("{shard}{}", file.to_str()?).parse().ok()?;
    // Only the canonical spelling: an upper-case twin is not a file this store wrote.
    (hash.shard_path() == (shard.to_owned(), file.to_str()?.to_owned())).then_some(hash)
}

/// Make a directory's entries (a rename, a removal) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
