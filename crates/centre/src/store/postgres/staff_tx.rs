//! PostgreSQL rows of the staff web UI ([`StaffTx`]); the same queries as
//! `sqlite/staff_tx.rs` in PostgreSQL's dialect (typed nullable window bounds, JSONB paths).

use super::{audit_row, corrupt, parse, staff_row, PgTx};
use crate::store::error::Result;
use crate::store::model::*;
use crate::store::staff_model::*;
use crate::store::staff_ops::{ApprovalRow, RatingFollowUp, StaffTx, Window};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use daiban_proto::status::{AppStatus, ItemStatus};
use daiban_proto::{ApplicationId, PhotoHash, Rating};
use tokio_postgres::Row;

/// Applications whose first revision arrived in the window (`$2`, `$3`) of township `$1`.
const FIRST_SUBMITTED_IN: &str = "applications a JOIN application_revisions first ON first.application_id = a.id AND first.revision = 1 \
     WHERE a.township_id = $1 AND ($2::timestamptz IS NULL OR first.received_at >= $2) \
       AND ($3::timestamptz IS NULL OR first.received_at < $3)";

fn count(r: &Row, col: usize) -> Result<u64> {
    let n: i64 = r.try_get(col)?;
    u64::try_from(n).map_err(|_| corrupt("negative count", &n.to_string()))
}

#[async_trait]
impl StaffTx for PgTx<'_> {
    async fn insert_staff_session(
        &mut self,
        token_hash: &str,
        staff: StaffId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)",
            &[&token_hash, &staff.0, &now, &expires_at],
        )
        .await?;
        Ok(())
    }
    async fn purge_staff_sessions(&mut self, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<()> {
        self.exec("DELETE FROM staff_sessions WHERE expires_at <= $1 OR last_seen_at <= $2", &[&now, &idle_since]).await?;
        Ok(())
    }
    async fn staff_session(&mut self, token_hash: &str) -> Result<Option<StaffSession>> {
        self.one(
            "SELECT s.id, s.township_id, s.username, s.display_name, s.role, s.active, ss.created_at, ss.last_seen_at, ss.expires_at \
             FROM staff_sessions ss JOIN staff s ON s.id = ss.staff_id WHERE ss.token_hash = $1",
            &[&token_hash],
            |r| {
                Ok(StaffSession { staff: staff_row(r)?, created_at: r.try_get(6)?, last_seen_at: r.try_get(7)?, expires_at: r.try_get(8)? })
            },
        )
        .await
    }
    async fn touch_staff_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE staff_sessions SET last_seen_at = $2 WHERE token_hash = $1", &[&token_hash, &now]).await?;
        Ok(())
    }
    async fn delete_staff_session(&mut self, token_hash: &str) -> Result<()> {
        self.exec("DELETE FROM staff_sessions WHERE token_hash = $1", &[&token_hash]).await?;
        Ok(())
    }
    async fn staff_of(&mut self, township: TownshipId) -> Result<Vec<Staff>> {
        self.all(
            "SELECT id, township_id, username, display_name, role, active FROM staff WHERE township_id = $1 \
             ORDER BY CASE role WHEN 'township_admin' THEN 0 ELSE 1 END, display_name, id",
            &[&township.0],
            staff_row,
        )
        .await
    }
    async fn photo_in_township(&mut self, hash: &PhotoHash, township: TownshipId) -> Result<bool> {
        Ok(self
            .one(
                "SELECT 1 FROM photo_refs p JOIN villages v ON v.id = p.village_id WHERE p.hash = $1 AND v.township_id = $2 LIMIT 1",
                &[&hash.to_hex(), &township.0],
                |_| Ok(()),
            )
            .await?
            .is_some())
    }
    async fn rating_follow_up(&mut self, app: ApplicationId, item: &str) -> Result<Option<RatingFollowUp>> {
        self.one(
            "SELECT v.township_id, r.needs_follow_up, r.followed_up_at IS NOT NULL FROM ratings r JOIN villages v ON v.id = r.village_id \
             WHERE r.application_id = $1 AND r.item = $2 FOR UPDATE OF r",
            &[&app.0, &item],
            |r| Ok(RatingFollowUp { township_id: TownshipId(r.try_get(0)?), needs_follow_up: r.try_get(1)?, followed_up: r.try_get(2)? }),
        )
        .await
    }
    async fn set_rating_follow_up(&mut self, app: ApplicationId, item: &str, by: StaffId, note: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "UPDATE ratings SET followed_up_at = $3, followed_up_by = $4, follow_up_note = $5 WHERE application_id = $1 AND item = $2",
            &[&app.0, &item, &now, &by.0, &note],
        )
        .await?;
        Ok(())
    }
    async fn stats_applications(&mut self, township: TownshipId, w: Window, today: NaiveDate) -> Result<Vec<StatusCount>> {
        let sql = format!(
            "SELECT a.village_id, a.status, COUNT(*), \
                    SUM(CASE WHEN a.deadline < $4 AND a.status IN ('received', 'accepted') THEN 1 ELSE 0 END)::BIGINT \
             FROM {FIRST_SUBMITTED_IN} GROUP BY a.village_id, a.status ORDER BY a.village_id, a.status"
        );
        self.all(&sql, &[&township.0, &w.from, &w.until, &today], |r| {
            Ok(StatusCount {
                village_id: VillageId(r.try_get(0)?),
                status: parse("status", r.try_get(1)?, AppStatus::parse)?,
                count: count(r, 2)?,
                overdue: count(r, 3)?,
            })
        })
        .await
    }
    async fn stats_items(&mut self, township: TownshipId, w: Window, today: NaiveDate) -> Result<Vec<ItemCount>> {
        let sql = format!(
            "SELECT a.village_id, i.item, i.status, COUNT(*), \
                    SUM(CASE WHEN i.status = 'pending' AND a.deadline < $4 AND a.status IN ('received', 'accepted') THEN 1 ELSE 0 END)::BIGINT \
             FROM application_items i, {FIRST_SUBMITTED_IN} AND i.application_id = a.id \
             GROUP BY a.village_id, i.item, i.status ORDER BY a.village_id, i.item, i.status"
        );
        self.all(&sql, &[&township.0, &w.from, &w.until, &today], |r| {
            Ok(ItemCount {
                village_id: VillageId(r.try_get(0)?),
                item: r.try_get(1)?,
                status: parse("item status", r.try_get(2)?, ItemStatus::parse)?,
                count: count(r, 3)?,
                overdue: count(r, 4)?,
            })
        })
        .await
    }
    async fn stats_approvals(&mut self, township: TownshipId, w: Window) -> Result<Vec<ApprovalRow>> {
        self.all(
            "SELECT a.village_id, l.detail #>> '{decision,item}', a.accepted_at, l.at, a.deadline \
             FROM audit_log l JOIN applications a ON a.id = l.application_id \
             WHERE l.township_id = $1 AND l.action = 'decision.approve' AND a.accepted_at IS NOT NULL \
               AND ($2::timestamptz IS NULL OR l.at >= $2) AND ($3::timestamptz IS NULL OR l.at < $3)",
            &[&township.0, &w.from, &w.until],
            |r| {
                Ok(ApprovalRow {
                    village_id: VillageId(r.try_get(0)?),
                    item: r.try_get(1)?,
                    accepted_at: r.try_get(2)?,
                    approved_at: r.try_get(3)?,
                    deadline: r.try_get(4)?,
                })
            },
        )
        .await
    }
    async fn stats_ratings(&mut self, township: TownshipId, w: Window) -> Result<Vec<RatingCount>> {
        self.all(
            "SELECT r.village_id, r.item, r.score, COUNT(*) FROM ratings r JOIN villages v ON v.id = r.village_id \
             WHERE v.township_id = $1 AND ($2::timestamptz IS NULL OR r.rated_at >= $2) AND ($3::timestamptz IS NULL OR r.rated_at < $3) \
             GROUP BY r.village_id, r.item, r.score ORDER BY r.village_id, r.item, r.score",
            &[&township.0, &w.from, &w.until],
            |r| {
                let score: i16 = r.try_get(2)?;
                Ok(RatingCount {
                    village_id: VillageId(r.try_get(0)?),
                    item: r.try_get(1)?,
                    rating: Rating::from_score(score as u8).ok_or_else(|| corrupt("score", &score.to_string()))?,
                    count: count(r, 3)?,
                })
            },
        )
        .await
    }
    async fn township_audit(&mut self, township: TownshipId, before: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditEntry)>> {
        self.all(
            "SELECT at, township_id, actor, application_id, action, detail, id FROM audit_log \
             WHERE township_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
            &[&township.0, &before, &i64::from(limit)],
            |r| Ok((r.try_get(6)?, audit_row(r)?)),
        )
        .await
    }
}
