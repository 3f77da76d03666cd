//! Retention of photos: the rule for which photos may be forgotten, and its row primitives.
//!
//! A photo may be purged once every application that refers to it (as a material or as a
//! delivery proof) is closed — rejected, delivered or rated ([`AppStatus::is_closed`]) — and
//! has not changed since the cut-off. A photo reused by an application still open is kept.
//! What is kept for ever: the applications, their revisions as submitted (which name each
//! photo by its SHA-256), the decisions and the audit log; one `photo.purged` audit entry per
//! application records when and under which cut-off its photo went.
//!
//! Like [`super::ops`], each function runs inside one transaction and reaches the database
//! only through [`RetentionTx`], implemented by each backend (`sqlite/retention_tx.rs`,
//! `postgres/retention_tx.rs`). The bytes themselves are removed by the caller
//! ([`crate::retention`]) after the record is gone.

use crate::store::error::Result;
use crate::store::model::*;
use crate::store::tx::Tx;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use daiban_proto::status::AppStatus;
use daiban_proto::{ApplicationId, PhotoHash};

/// An application that refers to a photo.
#[derive(Clone, Debug)]
pub(crate) struct PhotoUse {
    pub application_id: ApplicationId,
    pub township_id: TownshipId,
    pub status: AppStatus,
    pub updated_at: DateTime<Utc>,
}

/// The candidate query of [`RetentionTx::closed_photos`] for both backends, with their
/// placeholder style (`?1` / `$1`): parameter 1 is the cut-off, 2 the limit.
pub(crate) fn closed_photos_sql(param: fn(usize) -> String) -> String {
    let closed = AppStatus::ALL.iter().filter(|s| s.is_closed()).map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT p.hash FROM photos p WHERE EXISTS (SELECT 1 FROM photo_refs r WHERE r.hash = p.hash) \
         AND NOT EXISTS (SELECT 1 FROM photo_refs r JOIN applications a ON a.id = r.application_id \
                         WHERE r.hash = p.hash AND (a.status NOT IN ({closed}) OR a.updated_at >= {})) \
         ORDER BY p.stored_at LIMIT {}",
        param(1),
        param(2)
    )
}

#[async_trait]
pub(crate) trait RetentionTx: Send {
    /// Photos the centre holds whose every referring application is closed and unchanged
    /// since `closed_before` (candidates: [`purge_photo`] checks each again).
    async fn closed_photos(&mut self, closed_before: DateTime<Utc>, limit: u32) -> Result<Vec<PhotoHash>>;
    /// Keep new references to photos from being added until this transaction ends
    /// (PostgreSQL: a table lock; SQLite: nothing, its one writer is already alone).
    async fn hold_photo_refs(&mut self) -> Result<()>;
    /// Every application that refers to the photo.
    async fn photo_uses(&mut self, hash: &PhotoHash) -> Result<Vec<PhotoUse>>;
    /// Delete the photo's record (`false` if there was none).
    async fn delete_photo(&mut self, hash: &PhotoHash) -> Result<bool>;
}

pub(crate) async fn closed_photos(tx: &mut dyn Tx, closed_before: DateTime<Utc>, limit: u32) -> Result<Vec<PhotoHash>> {
    tx.closed_photos(closed_before, limit.clamp(1, 10_000)).await
}

/// Forget the photo's record if it (still) qualifies, auditing it on every application that
/// referred to it. `false`: it does not qualify (any more), nothing changed.
pub(crate) async fn purge_photo(tx: &mut dyn Tx, hash: &PhotoHash, closed_before: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
    tx.hold_photo_refs().await?;
    let uses = tx.photo_uses(hash).await?;
    let qualifies = !uses.is_empty() && uses.iter().all(|u| u.status.is_closed() && u.updated_at < closed_before);
    if !qualifies || !tx.delete_photo(hash).await? {
        return Ok(false);
    }
    for u in uses {
        let detail = serde_json::json!({ "photo": hash.to_hex(), "closed_before": closed_before });
        tx.insert_audit(&AuditEntry {
            at: now,
            township_id: u.township_id,
            actor: Actor::System,
            application_id: Some(u.application_id),
            action: "photo.purged".into(),
            detail,
        })
        .await?;
    }
    Ok(true)
}
