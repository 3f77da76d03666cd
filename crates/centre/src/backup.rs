//! Back up, check and restore a centre on SQLite (the default backend): the database and the
//! photo store, while the centre keeps running.
//!
//! A backup is a directory `daiban-backup-YYYYMMDD-HHMMSS/` holding `centre.sqlite3` (made with
//! SQLite's `VACUUM INTO`: one consistent snapshot taken inside a read transaction, so writers
//! go on meanwhile and the copy is compact), `photos/` (the photo files, copied after the
//! snapshot — photos are immutable and named by their hash, so every photo the snapshot refers
//! to is there unless retention purged it in between) and `manifest.json` (every file with its
//! size and SHA-256). It is written under a `.partial` name and renamed when complete, so a
//! directory without that suffix is a whole backup. [`verify`] re-reads every file against the
//! manifest; [`restore`] verifies first and only fills an empty place.
//!
//! A photo that the newest earlier backup in the same place already holds (same name, same
//! size: photo files are immutable and named by their hash) is hard-linked from it instead of
//! copied, so a daily backup writes only the new photos. [`spawn_scheduled`] backs up on a
//! schedule and keeps the newest few ([`prune`]).
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`) plus a copy of the photo directory;
//! see docs/settings.md.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Name of the database file inside a backup.
const DATABASE: &str = "centre.sqlite3";
const PHOTOS: &str = "photos";
const MANIFEST: &str = "manifest.json";

/// What a backup holds, file by file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of this manifest.
    pub format: u32,
    pub created_at: chrono::DateTime<Utc>,
    pub database: FileEntry,
    pub photos: Vec<FileEntry>,
}

/// One file: its path inside the backup (`/`-separated), size and SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("备份文件 {path} 已损坏或被改动（应为 {want}，实为 {got}）")]
    Corrupt { path: String, want: String, got: String },
    #[error("备份中缺少文件 {0}")]
    Missing(String),
    #[error("恢复的目标 {0} 已有内容：请恢复到新的空位置，不会覆盖现有数据")]
    NotEmpty(PathBuf),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("清单 manifest.json 无法读取: {0}")]
    Manifest(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Back up the SQLite database at `database` and the photo store at `photos` into a new
/// directory under `into`; returns that directory and its manifest (whose hashes were taken
/// from the copies as written, so the backup needs no second read to be trusted).
pub fn backup(database: &Path, photos: &Path, into: &Path) -> Result<(PathBuf, Manifest), BackupError> {
    let now = Utc::now();
    let name = format!("daiban-backup-{}", now.format("%Y%m%d-%H%M%S"));
    let done = into.join(&name);
    let partial = into.join(format!("{name}.partial"));
    fs::create_dir_all(&partial)?;
    // the snapshot: a read transaction on its own connection, so the centre's writer goes on
    let conn = rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let db_copy = partial.join(DATABASE);
    conn.execute("VACUUM INTO ?1", [db_copy.to_string_lossy()])?;
    drop(conn);
    let database = entry(&partial, &db_copy)?;
    let earlier = newest(into)?.and_then(|dir| {
        let manifest: Manifest = serde_json::from_slice(&fs::read(dir.join(MANIFEST)).ok()?).ok()?;
        let by_path: std::collections::HashMap<String, FileEntry> = manifest.photos.into_iter().map(|e| (e.path.clone(), e)).collect();
        Some((dir, by_path))
    });
    let mut photo_entries = Vec::new();
    for file in photo_files(photos)? {
        let rel = file.strip_prefix(photos).expect("found under the photo root");
        let dest = partial.join(PHOTOS).join(rel);
        fs::create_dir_all(dest.parent().expect("a file has a parent"))?;
        let key = entry_path(&partial, &dest);
        let size = fs::metadata(&file)?.len();
        let linked = earlier.as_ref().and_then(|(dir, by_path)| {
            let e = by_path.get(&key).filter(|e| e.bytes == size)?;
            fs::hard_link(dir.join(&e.path), &dest).ok().map(|()| e.clone())
        });
        match linked {
            Some(e) => photo_entries.push(e),
            None => {
                fs::copy(&file, &dest)?;
                File::open(&dest)?.sync_all()?;
                photo_entries.push(entry(&partial, &dest)?);
            }
        }
    }
    photo_entries.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest { format: 1, created_at: now, database, photos: photo_entries };
    let mut f = File::create(partial.join(MANIFEST))?;
    f.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    f.sync_all()?;
    File::open(&partial)?.sync_all()?;
    fs::rename(&partial, &done)?;
    File::open(into)?.sync_all()?;
    Ok((done, manifest))
}

/// Re-read every file of the backup at `dir` against its manifest.
pub fn verify(dir: &Path) -> Result<Manifest, BackupError> {
    let manifest: Manifest = serde_json::from_slice(&fs::read(dir.join(MANIFEST)).map_err(|_| BackupError::Missing(MANIFEST.into()))?)?;
    for e in std::iter::once(&manifest.database).chain(&manifest.photos) {
        let path = dir.join(&e.path);
        if !path.is_file() {
            return Err(BackupError::Missing(e.path.clone()));
        }
        let got = sha256_of(&path)?;
        if got != e.sha256 {
            return Err(BackupError::Corrupt { path: e.path.clone(), want: e.sha256.clone(), got });
        }
    }
    Ok(manifest)
}

/// Check the backup at `dir`, then put its database at `database` and its photos under
/// `photos`; both must not hold anything yet.
pub fn restore(dir: &Path, database: &Path, photos: &Path) -> Result<Manifest, BackupError> {
    let manifest = verify(dir)?;
    if database.exists() {
        return Err(BackupError::NotEmpty(database.to_path_buf()));
    }
    if photos.exists() && fs::read_dir(photos)?.next().is_some() {
        return Err(BackupError::NotEmpty(photos.to_path_buf()));
    }
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    copy_synced(&dir.join(&manifest.database.path), database)?;
    for e in &manifest.photos {
        let rel = Path::new(&e.path).strip_prefix(PHOTOS).map_err(|_| BackupError::Missing(e.path.clone()))?;
        let dest = photos.join(rel);
        fs::create_dir_all(dest.parent().expect("a file has a parent"))?;
        copy_synced(&dir.join(&e.path), &dest)?;
    }
    Ok(manifest)
}

fn copy_synced(from: &Path, to: &Path) -> io::Result<()> {
    fs::copy(from, to)?;
    File::open(to)?.sync_all()
}

/// Every file under the photo root, except work in progress (`.uploads/` and other dot
/// directories, `*.part` files).
fn photo_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir == root => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = e.file_type()?;
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() && !name.to_string_lossy().ends_with(".part") {
                out.push(e.path());
            }
        }
    }
    Ok(out)
}

/// A file's path inside the backup, `/`-separated.
fn entry_path(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).expect("inside the backup");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn entry(root: &Path, file: &Path) -> io::Result<FileEntry> {
    Ok(FileEntry { path: entry_path(root, file), bytes: fs::metadata(file)?.len(), sha256: sha256_of(file)? })
}

/// The complete backups under `into`, oldest first (their names sort by time).
fn complete_backups(into: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(into) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("daiban-backup-") && !name.ends_with(".partial") && e.file_type()?.is_dir() {
            found.push(e.path());
        }
    }
    found.sort();
    Ok(found)
}

fn newest(into: &Path) -> io::Result<Option<PathBuf>> {
    Ok(complete_backups(into)?.pop())
}

/// Keep the `keep` newest complete backups under `into`; remove older ones and the `.partial`
/// leftovers of interrupted runs. Returns what was removed.
pub fn prune(into: &Path, keep: usize) -> io::Result<Vec<PathBuf>> {
    let all = complete_backups(into)?;
    let mut gone: Vec<PathBuf> = all[..all.len().saturating_sub(keep.max(1))].to_vec();
    for e in fs::read_dir(into)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("daiban-backup-") && name.ends_with(".partial") {
            gone.push(e.path());
        }
    }
    for dir in &gone {
        fs::remove_dir_all(dir)?;
    }
    Ok(gone)
}

/// Back up every `every` (the first one after `every`) into `into`, keeping the `keep` newest.
/// A failure is logged and tried again at the next time; the centre goes on serving.
pub fn spawn_scheduled(
    database: PathBuf,
    photos: PathBuf,
    into: PathBuf,
    every: std::time::Duration,
    keep: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (db, ph, to) = (database.clone(), photos.clone(), into.clone());
            let done = tokio::task::spawn_blocking(move || -> Result<(PathBuf, Manifest, Vec<PathBuf>), BackupError> {
                let (dir, manifest) = backup(&db, &ph, &to)?;
                let pruned = prune(&to, keep)?;
                Ok((dir, manifest, pruned))
            })
            .await;
            match done {
                Ok(Ok((dir, manifest, pruned))) => {
                    tracing::info!(backup = %dir.display(), photos = manifest.photos.len(), removed = pruned.len(), "scheduled backup made")
                }
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled backup failed; trying again at the next time"),
                Err(e) => tracing::error!(error = %e, "scheduled backup stopped unexpectedly; trying again at the next time"),
            }
        }
    })
}

fn sha256_of(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
