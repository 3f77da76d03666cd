//! Retention on the phone: the files of document photos are deleted once the case is over.
//!
//! A photo's file goes when the centre has confirmed it has the photo (`uploaded`), every
//! application that uses it — as a material or as a handover proof — is closed (rejected,
//! delivered or rated, [`AppStatus::is_closed`]) and none of them changed during the
//! retention period. A photo shared with an open application (reused material) stays. The
//! photo's row stays too, marked `purged_at`, so the application's history still names it by
//! its SHA-256 (and the centre keeps its own copy under its own retention rule); it is no
//! longer offered for reuse, and the integrity check does not expect its file.
//!
//! The rows are marked in one transaction, then the files are removed; a crash in between is
//! finished by the next purge (it removes the files of every marked row still on disk).

use super::{ts, Result, Store};
use chrono::{DateTime, Duration, Utc};
use daiban_proto::status::AppStatus;
use daiban_proto::PhotoHash;
use rusqlite::OptionalExtension;

/// What a purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Photos newly marked as purged.
    pub photos: usize,
    /// Files removed (the newly marked ones, and any a crash left behind).
    pub files_removed: usize,
}

impl Store {
    /// Delete the files of photos of closed applications unchanged for `keep` before `now`
    /// (see the module docs).
    pub fn purge_closed_photos(&self, keep: Duration, now: DateTime<Utc>) -> Result<PurgeReport> {
        let closed = AppStatus::ALL.iter().filter(|s| s.is_closed()).map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
        let cutoff = ts(now - keep);
        let (photos, marked) = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let photos = tx.execute(
                &format!(
                    "UPDATE photos SET purged_at = ?1 WHERE purged_at IS NULL AND uploaded = 1
                     AND (EXISTS (SELECT 1 FROM material_photos m WHERE m.hash = photos.hash)
                          OR EXISTS (SELECT 1 FROM deliveries d WHERE d.proof_hash = photos.hash))
                     AND NOT EXISTS (SELECT 1 FROM material_photos m JOIN applications a ON a.id = m.application_id
                                     WHERE m.hash = photos.hash AND (a.status NOT IN ({closed}) OR a.updated_at >= ?2))
                     AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN applications a ON a.id = d.application_id
                                     WHERE d.proof_hash = photos.hash AND (a.status NOT IN ({closed}) OR a.updated_at >= ?2))"
                ),
                (ts(now), &cutoff),
            )?;
            let marked: Vec<String> = {
                let mut st = tx.prepare("SELECT hash FROM photos WHERE purged_at IS NOT NULL")?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            tx.commit()?;
            (photos, marked)
        };
        let mut files_removed = 0;
        for hash in marked.iter().filter_map(|h| h.parse::<PhotoHash>().ok()) {
            if self.photos().contains(&hash) {
                self.photos().remove(&hash)?;
                files_removed += 1;
            }
        }
        Ok(PurgeReport { photos, files_removed })
    }
}

/// Days a closed case's photos stay on the phone when the agent has not chosen otherwise.
pub const DEFAULT_PHOTO_RETENTION_DAYS: u32 = 30;
const RETENTION_KEY: &str = "retention.photo_days";

impl Store {
    /// How many days photos of closed cases are kept on this phone (the agent's setting).
    pub fn photo_retention_days(&self) -> Result<u32> {
        Ok(self.meta(RETENTION_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_PHOTO_RETENTION_DAYS))
    }

    /// Whether this photo's file was removed by retention (the screens then say so instead of
    /// showing a broken picture).
    pub fn photo_purged(&self, hash: &PhotoHash) -> Result<bool> {
        let conn = self.conn();
        let purged: Option<Option<String>> =
            conn.query_row("SELECT purged_at FROM photos WHERE hash = ?1", [hash.to_hex()], |r| r.get(0)).optional()?;
        Ok(matches!(purged, Some(Some(_))))
    }

    pub fn set_photo_retention_days(&self, days: u32) -> Result<()> {
        self.set_meta(RETENTION_KEY, &days.to_string())
    }

    /// Housekeeping run by the app now and then: purge photos of closed cases older than the
    /// retention setting, and remove orphan photo files a crash may have left.
    pub fn housekeeping(&self, now: DateTime<Utc>) -> Result<PurgeReport> {
        let keep = Duration::days(i64::from(self.photo_retention_days()?));
        let report = self.purge_closed_photos(keep, now)?;
        self.sweep_photos()?;
        Ok(report)
    }
}
