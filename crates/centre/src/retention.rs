//! Retention of photos of closed cases: once every application a photo belongs to is closed
//! (rejected, delivered or rated) and has not changed for the retention period, the centre
//! deletes the photo's bytes and its record. Residents' ID cards and household registers
//! should not be kept longer than the case needs them.
//!
//! Kept for ever: applications, their revisions as submitted (naming each photo by its
//! SHA-256), decisions, deliveries, ratings and the audit log, where each purge leaves a
//! `photo.purged` entry on every application the photo belonged to. The rule itself (which
//! photos qualify, checked again inside the transaction that forgets the record) is in the
//! store (`store/retention_ops.rs`).
//!
//! `daiban-centre serve --retention-days N` runs [`spawn`]: a purge at start and then daily.
//! A purge and an upload completing the same photo never interleave ([`PhotoGate`]): an
//! application that reuses the photo while it is being purged simply gets it uploaded again.
//! A crash between forgetting a record and removing its file leaves the file behind
//! unreferenced (nothing is lost; see docs/reliability.md).

use crate::api::AppState;
use crate::store::StoreError;
use chrono::{DateTime, Duration, Utc};
use daiban_proto::PhotoHash;

/// Serialises the last step of an upload (moving the photo in and recording it) with a purge
/// of the same photo. Striped by the hash's first byte: no map to grow, little contention.
pub struct PhotoGate {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for PhotoGate {
    fn default() -> Self {
        Self { stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect() }
    }
}

impl PhotoGate {
    pub async fn lock(&self, hash: &PhotoHash) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripes[usize::from(hash.0[0]) % self.stripes.len()].lock().await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("removing a photo file: {0}")]
    Io(#[from] std::io::Error),
}

/// What one purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub photos: u32,
}

/// Candidates looked at per query.
const BATCH: u32 = 500;

/// Purge the photos of applications closed and unchanged for at least `keep` before `now`.
pub async fn purge(state: &AppState, keep: Duration, now: DateTime<Utc>) -> Result<PurgeReport, RetentionError> {
    let closed_before = now - keep;
    let mut report = PurgeReport::default();
    loop {
        let candidates = state.store.closed_photos(closed_before, BATCH).await?;
        let mut purged = 0;
        for hash in &candidates {
            let _gate = state.photo_gate.lock(hash).await;
            if state.store.forget_closed_photo(*hash, closed_before).await? {
                state.blobs.remove(hash).await?;
                purged += 1;
            }
        }
        report.photos += purged;
        // (a full batch of which nothing qualified any more would come back unchanged)
        if candidates.len() < BATCH as usize || purged == 0 {
            return Ok(report);
        }
    }
}

/// Purge now and then every `every`, for as long as the server runs.
pub fn spawn(state: AppState, keep: Duration, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match purge(&state, keep, Utc::now()).await {
                Ok(r) if r.photos > 0 => tracing::info!(photos = r.photos, keep_days = keep.num_days(), "photos of closed cases purged"),
                Ok(_) => {}
                Err(e) => tracing::error!("photo retention: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
