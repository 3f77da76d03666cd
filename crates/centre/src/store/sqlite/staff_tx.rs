//! SQLite rows of the staff web UI ([`StaffTx`]): sessions, staff lists, photo scope, rating
//! follow-up and the statistics aggregates (grouped in SQL, so a page over 100,000
//! applications moves a few hundred rows, plus one row per approval in the period).

use super::{bad_column, json_col, parsed, staff_row, SqliteTx};
use crate::store::error::Result;
use crate::store::model::*;
use crate::store::staff_model::*;
use crate::store::staff_ops::{ApprovalRow, RatingFollowUp, StaffTx, Window};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use daiban_proto::status::{AppStatus, ItemStatus};
use daiban_proto::{ApplicationId, PhotoHash, Rating};
use rusqlite::{params, Row};

/// Applications whose first revision arrived in the window (`?2`, `?3`) of township `?1`.
const FIRST_SUBMITTED_IN: &str = "applications a JOIN application_revisions first ON first.application_id = a.id AND first.revision = 1 \
     WHERE a.township_id = ?1 AND (?2 IS NULL OR first.received_at >= ?2) AND (?3 IS NULL OR first.received_at < ?3)";

fn count(r: &Row, col: usize) -> rusqlite::Result<u64> {
    let n: i64 = r.get(col)?;
    u64::try_from(n).map_err(|_| bad_column(col, "negative count"))
}

#[async_trait]
impl StaffTx for SqliteTx<'_> {
    async fn insert_staff_session(
        &mut self,
        token_hash: &str,
        staff: StaffId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen_at, expires_at) VALUES (?1, ?2, ?3, ?3, ?4)",
            params![token_hash, staff.0, now, expires_at],
        )?;
        Ok(())
    }
    async fn purge_staff_sessions(&mut self, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<()> {
        self.exec("DELETE FROM staff_sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2", params![now, idle_since])?;
        Ok(())
    }
    async fn staff_session(&mut self, token_hash: &str) -> Result<Option<StaffSession>> {
        self.one(
            "SELECT s.id, s.township_id, s.username, s.display_name, s.role, s.active, ss.created_at, ss.last_seen_at, ss.expires_at \
             FROM staff_sessions ss JOIN staff s ON s.id = ss.staff_id WHERE ss.token_hash = ?1",
            [token_hash],
            |r| Ok(StaffSession { staff: staff_row(r)?, created_at: r.get(6)?, last_seen_at: r.get(7)?, expires_at: r.get(8)? }),
        )
    }
    async fn touch_staff_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE staff_sessions SET last_seen_at = ?2 WHERE token_hash = ?1", params![token_hash, now])?;
        Ok(())
    }
    async fn delete_staff_session(&mut self, token_hash: &str) -> Result<()> {
        self.exec("DELETE FROM staff_sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }
    async fn staff_of(&mut self, township: TownshipId) -> Result<Vec<Staff>> {
        self.all(
            "SELECT id, township_id, username, display_name, role, active FROM staff WHERE township_id = ?1 \
             ORDER BY CASE role WHEN 'township_admin' THEN 0 ELSE 1 END, display_name, id",
            [township.0],
            staff_row,
        )
    }
    async fn photo_in_township(&mut self, hash: &PhotoHash, township: TownshipId) -> Result<bool> {
        Ok(self
            .one(
                "SELECT 1 FROM photo_refs p JOIN villages v ON v.id = p.village_id WHERE p.hash = ?1 AND v.township_id = ?2 LIMIT 1",
                params![hash.to_hex(), township.0],
                |_| Ok(()),
            )?
            .is_some())
    }
    async fn rating_follow_up(&mut self, app: ApplicationId, item: &str) -> Result<Option<RatingFollowUp>> {
        self.one(
            "SELECT v.township_id, r.needs_follow_up, r.followed_up_at IS NOT NULL FROM ratings r JOIN villages v ON v.id = r.village_id \
             WHERE r.application_id = ?1 AND r.item = ?2",
            params![app.0, item],
            |r| Ok(RatingFollowUp { township_id: TownshipId(r.get(0)?), needs_follow_up: r.get(1)?, followed_up: r.get(2)? }),
        )
    }
    async fn set_rating_follow_up(&mut self, app: ApplicationId, item: &str, by: StaffId, note: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "UPDATE ratings SET followed_up_at = ?3, followed_up_by = ?4, follow_up_note = ?5 WHERE application_id = ?1 AND item = ?2",
            params![app.0, item, now, by.0, note],
        )?;
        Ok(())
    }
    async fn stats_applications(&mut self, township: TownshipId, w: Window, today: NaiveDate) -> Result<Vec<StatusCount>> {
        let sql = format!(
            "SELECT a.village_id, a.status, COUNT(*), \
                    SUM(CASE WHEN a.deadline < ?4 AND a.status IN ('received', 'accepted') THEN 1 ELSE 0 END) \
             FROM {FIRST_SUBMITTED_IN} GROUP BY a.village_id, a.status ORDER BY a.village_id, a.status"
        );
        self.all(&sql, params![township.0, w.from, w.until, today], |r| {
            Ok(StatusCount {
                village_id: VillageId(r.get(0)?),
                status: parsed(r, 1, AppStatus::parse)?,
                count: count(r, 2)?,
                overdue: count(r, 3)?,
            })
        })
    }
    async fn stats_items(&mut self, township: TownshipId, w: Window, today: NaiveDate) -> Result<Vec<ItemCount>> {
        let sql = format!(
            "SELECT a.village_id, i.item, i.status, COUNT(*), \
                    SUM(CASE WHEN i.status = 'pending' AND a.deadline < ?4 AND a.status IN ('received', 'accepted') THEN 1 ELSE 0 END) \
             FROM application_items i, {FIRST_SUBMITTED_IN} AND i.application_id = a.id \
             GROUP BY a.village_id, i.item, i.status ORDER BY a.village_id, i.item, i.status"
        );
        self.all(&sql, params![township.0, w.from, w.until, today], |r| {
            Ok(ItemCount {
                village_id: VillageId(r.get(0)?),
                item: r.get(1)?,
                status: parsed(r, 2, ItemStatus::parse)?,
                count: count(r, 3)?,
                overdue: count(r, 4)?,
            })
        })
    }
    async fn stats_approvals(&mut self, township: TownshipId, w: Window) -> Result<Vec<ApprovalRow>> {
        self.all(
            "SELECT a.village_id, json_extract(l.detail, '$.decision.item'), a.accepted_at, l.at, a.deadline \
             FROM audit_log l JOIN applications a ON a.id = l.application_id \
             WHERE l.township_id = ?1 AND l.action = 'decision.approve' AND a.accepted_at IS NOT NULL \
               AND (?2 IS NULL OR l.at >= ?2) AND (?3 IS NULL OR l.at < ?3)",
            params![township.0, w.from, w.until],
            |r| {
                Ok(ApprovalRow {
                    village_id: VillageId(r.get(0)?),
                    item: r.get(1)?,
                    accepted_at: r.get(2)?,
                    approved_at: r.get(3)?,
                    deadline: r.get(4)?,
                })
            },
        )
    }
    async fn stats_ratings(&mut self, township: TownshipId, w: Window) -> Result<Vec<RatingCount>> {
        self.all(
            "SELECT r.village_id, r.item, r.score, COUNT(*) FROM ratings r JOIN villages v ON v.id = r.village_id \
             WHERE v.township_id = ?1 AND (?2 IS NULL OR r.rated_at >= ?2) AND (?3 IS NULL OR r.rated_at < ?3) \
             GROUP BY r.village_id, r.item, r.score ORDER BY r.village_id, r.item, r.score",
            params![township.0, w.from, w.until],
            |r| {
                Ok(RatingCount {
                    village_id: VillageId(r.get(0)?),
                    item: r.get(1)?,
                    rating: Rating::from_score(r.get(2)?).ok_or_else(|| bad_column(2, "score"))?,
                    count: count(r, 3)?,
                })
            },
        )
    }
    async fn township_audit(&mut self, township: TownshipId, before: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditEntry)>> {
        self.all(
            "SELECT id, at, township_id, actor, application_id, action, detail FROM audit_log \
             WHERE township_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
            params![township.0, before, limit],
            |r| {
                Ok((
                    r.get(0)?,
                    AuditEntry {
                        at: r.get(1)?,
                        township_id: TownshipId(r.get(2)?),
                        actor: json_col(r, 3)?,
                        application_id: r.get::<_, Option<uuid::Uuid>>(4)?.map(ApplicationId),
                        action: r.get(5)?,
                        detail: json_col(r, 6)?,
                    },
                ))
            },
        )
    }
}
