//! What every screen can reach: the store, the sync engine's status, photo thumbnails, and a
//! data version that moves whenever stored data changes so screens re-read what they show.

use crate::config::Config;
use daiban_agent_core::sync::{SyncHandle, SyncStatus};
use daiban_agent_core::{Store, StoreError};
use daiban_proto::PhotoHash;
use dioxus::prelude::*;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Shared application context, provided at the root of every VirtualDom (desktop window or
/// preview session). Cheap to clone.
#[derive(Clone)]
pub struct AppCtx {
    pub store: Store,
    pub sync: SyncHandle,
    /// Pre-filled centre address for enrolment.
    pub centre_url: Option<String>,
    /// Sample photos offered on the capture screen (preview and tests; see config).
    pub sample_photos: Option<PathBuf>,
    thumbs: Arc<Mutex<LruCache<PhotoHash, Arc<str>>>>,
}

/// Thumbnails kept for the session: a few KB each, so at most about 2 MB on a cheap phone
/// however many photos the agent scrolls past; the least recently shown are made again.
pub const THUMB_CACHE: NonZeroUsize = NonZeroUsize::new(256).expect("not zero");

impl AppCtx {
    /// Open the store and start the sync engine.
    pub fn start(cfg: &Config) -> anyhow::Result<Self> {
        let store = Store::open(&cfg.data_dir)?;
        let sync = daiban_agent_core::sync::start(store.clone(), cfg.centre_url.clone(), cfg.enrol_code_file.clone());
        start_housekeeping(store.clone());
        Ok(Self::new(store, sync, cfg))
    }

    pub fn new(store: Store, sync: SyncHandle, cfg: &Config) -> Self {
        Self {
            store,
            sync,
            centre_url: cfg.centre_url.clone(),
            sample_photos: cfg.sample_photos.clone(),
            thumbs: Arc::new(Mutex::new(LruCache::new(THUMB_CACHE))),
        }
    }

    /// A `data:` URL with a small JPEG preview of a stored photo (cached, [`THUMB_CACHE`]).
    pub fn thumb_url(&self, hash: &PhotoHash) -> Option<Arc<str>> {
        if let Some(u) = self.thumbs.lock().unwrap().get(hash) {
            return Some(u.clone());
        }
        let jpeg =
            daiban_agent_core::thumbnail::thumbnail(&self.store, hash).map_err(|e| tracing::warn!("thumbnail {hash:?}: {e}")).ok()?;
        use base64::Engine;
        let url: Arc<str> = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg)).into();
        self.thumbs.lock().unwrap().put(*hash, url.clone());
        Some(url)
    }

    /// The same context with room for `n` thumbnails (tests).
    pub fn with_thumb_cache(self, n: NonZeroUsize) -> Self {
        Self { thumbs: Arc::new(Mutex::new(LruCache::new(n))), ..self }
    }

    /// How many thumbnails are cached now.
    pub fn cached_thumbs(&self) -> usize {
        self.thumbs.lock().unwrap().len()
    }

    /// A `data:` URL with the whole stored photo, to look at it full size (not cached: one
    /// at a time, dropped when the viewer closes).
    pub fn photo_url(&self, hash: &PhotoHash) -> Option<String> {
        let jpeg = self.store.photos().read(hash).map_err(|e| tracing::warn!("photo {hash:?}: {e}")).ok()?;
        use base64::Engine;
        Some(format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg)))
    }

    /// Sample photos available for the capture screen (file names), if configured.
    pub fn sample_photo_names(&self) -> Vec<String> {
        let Some(dir) = &self.sample_photos else { return vec![] };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                let n = n.to_ascii_lowercase();
                n.ends_with(".jpg") || n.ends_with(".jpeg") || n.ends_with(".png")
            })
            .collect();
        names.sort();
        names
    }
}

/// Purge photos of closed cases past the retention setting and sweep orphan files: at start
/// and every six hours, on a low-priority thread of its own.
fn start_housekeeping(store: Store) {
    let spawned = std::thread::Builder::new().name("daiban-housekeeping".into()).spawn(move || loop {
        match store.housekeeping(chrono::Utc::now()) {
            Ok(r) if r.photos > 0 => tracing::info!(photos = r.photos, "retention: purged photos of closed cases"),
            Ok(_) => {}
            Err(e) => tracing::warn!("housekeeping: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_secs(6 * 3600));
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start housekeeping: {e}");
    }
}

/// Moves whenever stored data changed (a save here, or a sync that applied changes).
#[derive(Clone, Copy)]
pub struct DataVersion(pub Signal<u64>);

impl DataVersion {
    /// Read (and subscribe to) the version: call this in a memo that reads the store.
    pub fn get(self) -> u64 {
        (self.0)()
    }
    pub fn bump(mut self) {
        *self.0.write() += 1;
    }
}

pub fn use_ctx() -> AppCtx {
    use_context::<AppCtx>()
}

pub fn use_data_version() -> DataVersion {
    use_context::<DataVersion>()
}

/// Read from the store now and whenever stored data changes (and whatever signals `read`
/// uses). A failed read stays an error — a wrong key or a damaged database must not look like
/// an empty list; show it with [`crate::components::ReadError`].
pub fn use_store_read<T: Clone + PartialEq + 'static>(read: impl Fn(&Store) -> Result<T, StoreError> + 'static) -> Memo<Result<T, String>> {
    let store = use_ctx().store;
    let data = use_data_version();
    use_memo(move || {
        data.get();
        read(&store).map_err(|e| {
            tracing::error!("reading the store: {e}");
            e.to_string()
        })
    })
}

/// `Ok(None)` for a record that is not there (deleted meanwhile, a wrong link), so screens can
/// say "not found" for that and show real errors as errors.
pub fn found<T>(r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn use_sync_status() -> Signal<SyncStatus> {
    use_context::<Signal<SyncStatus>>()
}
