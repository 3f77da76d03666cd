//! The agent's local store: one SQLite database plus the content-addressed photo store.
//!
//! Everything the agent enters is durable when the call that saves it returns: the database
//! runs in WAL mode with `synchronous=FULL` (a commit survives a dead battery), photos are
//! fsynced and renamed into place *before* a row refers to them, and every change to an
//! application is written in the same transaction as its outbox event. So a process killed at
//! any instant leaves either the old state or the new one, never half of it.
//!
//! `Store` is cheap to clone (one connection behind a mutex, shared) and synchronous: every
//! call is a few milliseconds of SQLite work. Photo processing (the slow part) happens before
//! the lock is taken. The sync engine calls it from a blocking task.

mod applications;
pub mod deliveries;
mod inbox;
mod migrations;
mod outbox;
mod residents;
pub mod retention;

pub use applications::{ApplicationDetail, ApplicationSummary, MaterialView, ReusableMaterial, Target, TimelineEntry, TimelineEvent};
pub use deliveries::DeliveryView;
pub use outbox::{OutboxEntry, OutboxState, OutboxSummary};
pub use residents::ResidentSummary;
pub use retention::PurgeReport;

use crate::crypt::{FileKeyStore, KeyStore};
use crate::forms::FieldError;
use crate::photo::{PhotoError, PhotoStore};
use chrono::{DateTime, Utc};
use daiban_proto::Catalogue;
use rusqlite::{Connection, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// What can go wrong in the store. Callers branch on `Invalid` (show the field errors),
/// `NotFound` and `State` (the action does not fit the application's status).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("数据库错误 / database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("数据库升级失败 / database migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error("{0}")]
    Photo(#[from] PhotoError),
    #[error("文件读写失败 / file error: {0}")]
    Io(#[from] std::io::Error),
    #[error("找不到{0} / {0} not found")]
    NotFound(&'static str),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(";"))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    State(String),
    #[error("数据格式错误 / corrupt record: {0}")]
    Corrupt(String),
    #[error("数据密钥不对，无法打开本机数据 / the data key does not open this store")]
    WrongKey,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

struct Inner {
    conn: Mutex<Connection>,
    photos: PhotoStore,
    catalogue: Mutex<Arc<Catalogue>>,
    dir: PathBuf,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// The database file inside the data directory.
pub const DB_FILE: &str = "daiban.sqlite";
/// The development key file inside the data directory (see [`crate::crypt::FileKeyStore`]).
pub const KEY_FILE: &str = "daiban.key";

impl Store {
    /// Open (creating if needed) the store in `dir` with the key kept in `dir/daiban.key`
    /// (desktop development and tests; phones use [`Store::open_with_keys`] with the platform
    /// key store).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        Self::open_with_keys(dir, &FileKeyStore { path: dir.join(KEY_FILE) })
    }

    /// Open (creating if needed) the encrypted store in `dir`: `dir/daiban.sqlite` (SQLCipher)
    /// and `dir/photos/` (sealed files), with the data key from `keys`. Applies pending
    /// migrations and installs the built-in catalogue if the store has none (or an older one).
    pub fn open_with_keys(dir: impl AsRef<Path>, keys: &dyn KeyStore) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let key = keys.load_or_create()?;
        let mut conn = Connection::open(dir.join(DB_FILE))?;
        conn.pragma_update(None, "key", key.sqlcipher_pragma())?;
        // The first read proves the key: SQLCipher answers "file is not a database" otherwise.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => StoreError::WrongKey,
            other => StoreError::Db(other),
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::runner().run(&mut conn)?;
        let photos = PhotoStore::open(dir.join("photos"))?.with_cipher(key.photo_cipher());
        let store = Store {
            inner: Arc::new(Inner { conn: Mutex::new(conn), photos, catalogue: Mutex::new(Arc::new(crate::catalogue::builtin())), dir }),
        };
        // the township's own catalogue once the centre sent one; until then the newest
        // built-in one (an app update may bring a newer built-in)
        let builtin = crate::catalogue::builtin();
        match store.load_catalogue()? {
            Some((c, from_centre)) if from_centre || c.version >= builtin.version => store.set_catalogue_cache(Arc::new(c)),
            _ => {
                store.install_catalogue(&builtin, CatalogueSource::BuiltIn)?;
            }
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn photos(&self) -> &PhotoStore {
        &self.inner.photos
    }

    /// The catalogue in use (highest installed version).
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.inner.catalogue.lock().unwrap().clone()
    }

    pub(crate) fn set_catalogue_cache(&self, c: Arc<Catalogue>) {
        *self.inner.catalogue.lock().unwrap() = c;
    }

    /// Install a catalogue if it replaces the one in use ([`install_catalogue_tx`]). Returns
    /// whether it was installed.
    pub fn install_catalogue(&self, c: &Catalogue, source: CatalogueSource) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let installed = install_catalogue_tx(&tx, c, source)?;
        tx.commit()?;
        if installed {
            *self.inner.catalogue.lock().unwrap() = Arc::new(c.clone());
        }
        Ok(installed)
    }

    /// The catalogue in use and whether the centre sent it.
    fn load_catalogue(&self) -> Result<Option<(Catalogue, bool)>> {
        let row: Option<(String, bool)> = self
            .conn()
            .query_row("SELECT json, from_centre FROM catalogue ORDER BY from_centre DESC, version DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(j, from_centre)| serde_json::from_str(&j).map(|c| (c, from_centre)).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.inner.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// A small persistent setting or fact (enrolment, cursor, preferences).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn().query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn()
            .execute("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))?;
        Ok(())
    }

    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.conn().execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Remove photo files no row refers to (crash leftovers, deleted drafts).
    pub fn sweep_photos(&self) -> Result<usize> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT hash FROM photos")?;
        let keep = st.query_map([], |r| r.get::<_, String>(0))?.filter_map(|h| h.ok().and_then(|h| h.parse().ok())).collect();
        let report = self.inner.photos.sweep(&keep)?;
        Ok(report.orphans_removed + report.temps_removed)
    }

    /// `PRAGMA integrity_check` plus the store's own invariants; empty when all is well.
    pub fn check_integrity(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut problems = Vec::new();
        let ic: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ic != "ok" {
            problems.push(format!("integrity_check: {ic}"));
        }
        let mut st = conn.prepare("PRAGMA foreign_key_check")?;
        let n = st.query_map([], |_| Ok(()))?.count();
        if n > 0 {
            problems.push(format!("{n} foreign key violations"));
        }
        let queued_without_event: i64 = conn.query_row(
            "SELECT count(*) FROM applications a WHERE a.stage != 'draft' AND a.stage != 'returned'
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.application_id = a.id AND o.kind = 'application_submitted')",
            [],
            |r| r.get(0),
        )?;
        if queued_without_event > 0 {
            problems.push(format!("{queued_without_event} submitted applications without an outbox event"));
        }
        let dup: i64 = conn.query_row(
            "SELECT count(*) FROM (SELECT application_id, json_extract(json, '$.application.revision') r, count(*) n
              FROM outbox WHERE kind = 'application_submitted' AND state != 'quarantined' GROUP BY 1, 2 HAVING n > 1)",
            [],
            |r| r.get(0),
        )?;
        if dup > 0 {
            problems.push(format!("{dup} revisions queued more than once"));
        }
        // (a purged photo's file is gone on purpose: see `retention`)
        let mut st = conn.prepare("SELECT hash FROM photos WHERE purged_at IS NULL")?;
        for h in st.query_map([], |r| r.get::<_, String>(0))? {
            let h = h?;
            match h.parse() {
                Ok(hash) if self.inner.photos.contains(&hash) => {}
                _ => problems.push(format!("photo {h} missing on disk")),
            }
        }
        Ok(problems)
    }
}

/// Record a processed photo (already durable on disk) in the `photos` table. A photo purged
/// under retention and taken again is alive again (and sent again: the centre may have
/// purged it too).
pub(crate) fn insert_photo(tx: &Transaction, p: &daiban_proto::PhotoRef, now: DateTime<Utc>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO photos(hash, bytes, width, height, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(hash) DO UPDATE SET purged_at = NULL,
             uploaded = CASE WHEN photos.purged_at IS NULL THEN photos.uploaded ELSE 0 END",
        (p.hash.to_hex(), p.bytes as i64, p.width, p.height, now.to_rfc3339()),
    )?;
    Ok(())
}

/// Where a catalogue comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogueSource {
    /// Built into the app (the demo township's), used until the centre sends its own.
    BuiltIn,
    /// Published by the township centre the phone is enrolled with.
    Centre,
}

/// Install `c` if it replaces the catalogue in use: the centre's first catalogue replaces the
/// built-in ones whatever their versions (they are dropped: the app still has them); after
/// that only a higher version from the centre does. A built-in one is installed only while
/// no catalogue from the centre is there, and only when newer.
pub(crate) fn install_catalogue_tx(tx: &Transaction, c: &Catalogue, source: CatalogueSource) -> Result<bool> {
    let from_centre = source == CatalogueSource::Centre;
    let newest = |centre: bool| -> rusqlite::Result<Option<u32>> {
        tx.query_row("SELECT max(version) FROM catalogue WHERE from_centre = ?1", [centre], |r| r.get(0))
    };
    let centre_newest = newest(true)?;
    let replaces = match source {
        CatalogueSource::Centre => centre_newest.is_none_or(|v| c.version > v),
        CatalogueSource::BuiltIn => centre_newest.is_none() && newest(false)?.is_none_or(|v| c.version > v),
    };
    if !replaces {
        return Ok(false);
    }
    c.validate().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if from_centre {
        tx.execute("DELETE FROM catalogue WHERE from_centre = 0", [])?;
    }
    tx.execute(
        "INSERT INTO catalogue(version, json, installed_at, from_centre) VALUES (?1, ?2, ?3, ?4)",
        (c.version, serde_json::to_string(c).expect("catalogue serialises"), Utc::now().to_rfc3339(), from_centre),
    )?;
    Ok(true)
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn parse_str<T: std::str::FromStr>(s: &str) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}
