//! SQLite rows of photo retention ([`RetentionTx`]).

use super::{parsed, uuid_col, SqliteTx};
use crate::store::error::Result;
use crate::store::model::*;
use crate::store::retention_ops::{closed_photos_sql, PhotoUse, RetentionTx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use daiban_proto::status::AppStatus;
use daiban_proto::{ApplicationId, PhotoHash};
use rusqlite::params;

#[async_trait]
impl RetentionTx for SqliteTx<'_> {
    async fn closed_photos(&mut self, closed_before: DateTime<Utc>, limit: u32) -> Result<Vec<PhotoHash>> {
        let sql = closed_photos_sql(|n| format!("?{n}"));
        self.all(&sql, params![closed_before, limit], |r| parsed(r, 0, |s| s.parse().ok()))
    }
    async fn hold_photo_refs(&mut self) -> Result<()> {
        Ok(())
    }
    async fn photo_uses(&mut self, hash: &PhotoHash) -> Result<Vec<PhotoUse>> {
        self.all(
            "SELECT a.id, a.township_id, a.status, a.updated_at FROM photo_refs r JOIN applications a ON a.id = r.application_id WHERE r.hash = ?1",
            [hash.to_hex()],
            |r| {
                Ok(PhotoUse {
                    application_id: ApplicationId(uuid_col(r, 0)?),
                    township_id: TownshipId(r.get(1)?),
                    status: parsed(r, 2, AppStatus::parse)?,
                    updated_at: r.get(3)?,
                })
            },
        )
    }
    async fn delete_photo(&mut self, hash: &PhotoHash) -> Result<bool> {
        Ok(self.exec("DELETE FROM photos WHERE hash = ?1", [hash.to_hex()])? > 0)
    }
}
