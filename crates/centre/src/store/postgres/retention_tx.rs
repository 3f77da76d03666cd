//! PostgreSQL rows of photo retention ([`RetentionTx`]); the queries of
//! `sqlite/retention_tx.rs`, plus a table lock so that no application can start referring to a
//! photo while it is being purged.

use super::{parse, PgTx};
use crate::store::error::Result;
use crate::store::model::*;
use crate::store::retention_ops::{closed_photos_sql, PhotoUse, RetentionTx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use daiban_proto::status::AppStatus;
use daiban_proto::{ApplicationId, PhotoHash};

#[async_trait]
impl RetentionTx for PgTx<'_> {
    async fn closed_photos(&mut self, closed_before: DateTime<Utc>, limit: u32) -> Result<Vec<PhotoHash>> {
        let sql = closed_photos_sql(|n| format!("${n}"));
        self.all(&sql, &[&closed_before, &i64::from(limit)], |r| parse("photo hash", r.try_get(0)?, |s| s.parse().ok())).await
    }
    async fn hold_photo_refs(&mut self) -> Result<()> {
        // SHARE conflicts with the ROW EXCLUSIVE lock an INSERT takes: new references wait.
        self.exec("LOCK TABLE photo_refs IN SHARE MODE", &[]).await?;
        Ok(())
    }
    async fn photo_uses(&mut self, hash: &PhotoHash) -> Result<Vec<PhotoUse>> {
        self.all(
            "SELECT a.id, a.township_id, a.status, a.updated_at FROM photo_refs r JOIN applications a ON a.id = r.application_id WHERE r.hash = $1",
            &[&hash.to_hex()],
            |r| {
                Ok(PhotoUse {
                    application_id: ApplicationId(r.try_get(0)?),
                    township_id: TownshipId(r.try_get(1)?),
                    status: parse("status", r.try_get(2)?, AppStatus::parse)?,
                    updated_at: r.try_get(3)?,
                })
            },
        )
        .await
    }
    async fn delete_photo(&mut self, hash: &PhotoHash) -> Result<bool> {
        Ok(self.exec("DELETE FROM photos WHERE hash = $1", &[&hash.to_hex()]).await? > 0)
    }
}
