//! Rules and row primitives behind the staff web UI: login sessions, staff accounts made by a
//! township admin, who may see which photo, bad-rating follow-up (差评整改) and statistics.
//!
//! Like [`super::ops`], every function runs inside one transaction and reaches the database
//! only through a transaction trait — here [`StaffTx`], which every backend's transaction
//! implements next to its [`super::tx::Tx`] (`Tx: StaffTx`), in `sqlite/staff_tx.rs` and
//! `postgres/staff_tx.rs`. Scope works as elsewhere: a staff member acts only within their
//! own township, and whatever belongs to another township is reported as not found.

use crate::store::error::{invalid, refuse, Result};
use crate::store::model::*;
use crate::store::ops::{china_date, Rules};
use crate::store::staff_model::*;
use crate::store::tx::Tx;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use daiban_proto::sync::ErrorCode;
use daiban_proto::text::Remark;
use daiban_proto::{ApplicationId, PhotoHash, ResidentId, ResidentRecord};

/// An approval as stored: when the application was accepted and the item approved.
#[derive(Clone, Debug)]
pub(crate) struct ApprovalRow {
    pub village_id: VillageId,
    pub item: String,
    pub accepted_at: DateTime<Utc>,
    pub approved_at: DateTime<Utc>,
    pub deadline: NaiveDate,
}

/// Where a rating stands with respect to follow-up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RatingFollowUp {
    pub township_id: TownshipId,
    pub needs_follow_up: bool,
    pub followed_up: bool,
}

/// Instants bounding a [`StatsPeriod`] (China midnights), `None` for an open end.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Window {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The staff web UI's row primitives, inside one transaction.
#[async_trait]
pub(crate) trait StaffTx: Send {
    async fn insert_staff_session(&mut self, token_hash: &str, staff: StaffId, now: DateTime<Utc>, expires_at: DateTime<Utc>)
        -> Result<()>;
    /// Remove sessions past their end or idle since before `idle_since`.
    async fn purge_staff_sessions(&mut self, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<()>;
    async fn staff_session(&mut self, token_hash: &str) -> Result<Option<StaffSession>>;
    async fn touch_staff_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<()>;
    async fn delete_staff_session(&mut self, token_hash: &str) -> Result<()>;
    /// Ordered by role (admins first), then name.
    async fn staff_of(&mut self, township: TownshipId) -> Result<Vec<Staff>>;
    /// Some application or delivery of a village of `township` refers to the photo.
    async fn photo_in_township(&mut self, hash: &PhotoHash, township: TownshipId) -> Result<bool>;
    async fn rating_follow_up(&mut self, app: ApplicationId, item: &str) -> Result<Option<RatingFollowUp>>;
    async fn set_rating_follow_up(&mut self, app: ApplicationId, item: &str, by: StaffId, note: &str, now: DateTime<Utc>) -> Result<()>;
    /// Applications first submitted in `w`, per village and status; overdue judged on `today`.
    async fn stats_applications(&mut self, township: TownshipId, w: Window, today: NaiveDate) -> Result<Vec<StatusCount>>;
    async fn stats_items(&mut self, township: TownshipId, w: Window, today: NaiveDate) -> Result<Vec<ItemCount>>;
    /// `decision.approve` entries of the audit log in `w`.
    async fn stats_approvals(&mut self, township: TownshipId, w: Window) -> Result<Vec<ApprovalRow>>;
    /// Ratings given in `w`.
    async fn stats_ratings(&mut self, township: TownshipId, w: Window) -> Result<Vec<RatingCount>>;
    /// The township's audit log, newest first, entries with id below `before`.
    async fn township_audit(&mut self, township: TownshipId, before: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditEntry)>>;
}

fn audit(
    township: TownshipId,
    by: StaffId,
    app: Option<ApplicationId>,
    action: &str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry { at, township_id: township, actor: Actor::Staff { id: by }, application_id: app, action: action.into(), detail }
}

async fn acting_staff(tx: &mut dyn Tx, id: StaffId) -> Result<Staff> {
    match tx.staff(id).await? {
        Some(s) if s.active => Ok(s),
        _ => Err(refuse(ErrorCode::Unauthorized, "工作人员账号不存在或已停用 / staff account unknown or disabled")),
    }
}

// ---------------------------------------------------------------- sessions

/// Start a session for an active account (and sweep away ended ones).
pub(crate) async fn start_staff_session(
    tx: &mut dyn Tx,
    staff: StaffId,
    token_hash: &str,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> Result<()> {
    let s = acting_staff(tx, staff).await?;
    tx.purge_staff_sessions(now, now - policy.idle).await?;
    tx.insert_staff_session(token_hash, staff, now, now + policy.max).await?;
    tx.insert_audit(&audit(s.township_id, staff, None, "staff.login", serde_json::json!({}), now)).await
}

/// The session if it is still alive under `policy` and its account is active.
pub(crate) async fn staff_session(
    tx: &mut dyn Tx,
    token_hash: &str,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> Result<Option<StaffSession>> {
    Ok(tx.staff_session(token_hash).await?.filter(|s| s.staff.active && now < s.expires_at && now < s.last_seen_at + policy.idle))
}

// ---------------------------------------------------------------- staff accounts

/// A township admin creates an account in their own township.
pub(crate) async fn insert_staff_by(
    tx: &mut dyn Tx,
    by: StaffId,
    new: &NewStaff,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<StaffId> {
    let admin = acting_staff(tx, by).await?;
    if admin.role != Role::TownshipAdmin {
        return Err(refuse(ErrorCode::Forbidden, "只有镇管理员可以添加工作人员 / only a township admin may add staff"));
    }
    if new.township_id != admin.township_id {
        return Err(refuse(ErrorCode::NotFound, "镇不存在 / no such township"));
    }
    let id = crate::store::ops::insert_staff(tx, new, password_hash, now).await?;
    let detail = serde_json::json!({ "staff_id": id, "username": new.username.trim(), "role": new.role });
    tx.insert_audit(&audit(admin.township_id, by, None, "staff.create", detail, now)).await?;
    Ok(id)
}

// ---------------------------------------------------------------- residents, photos, ratings

/// A resident of one of the township's villages (`None` otherwise).
pub(crate) async fn resident_in(tx: &mut dyn Tx, township: TownshipId, id: ResidentId) -> Result<Option<ResidentRecord>> {
    let Some((village, record)) = tx.resident(id).await? else {
        return Ok(None);
    };
    Ok(tx.village(village).await?.filter(|v| v.township_id == township).map(|_| record))
}

/// Record what was done about a bad rating (audited).
pub(crate) async fn follow_up_rating(
    tx: &mut dyn Tx,
    by: StaffId,
    app: ApplicationId,
    item: &str,
    note: &Remark,
    now: DateTime<Utc>,
) -> Result<()> {
    let staff = acting_staff(tx, by).await?;
    let state = match tx.rating_follow_up(app, item).await? {
        Some(r) if r.township_id == staff.township_id => r,
        _ => return Err(refuse(ErrorCode::NotFound, "评价不存在 / no such rating")),
    };
    if !state.needs_follow_up {
        return Err(invalid("item", "这条评价不是差评,无需整改 / this rating is not a bad one"));
    }
    if state.followed_up {
        return Err(refuse(ErrorCode::Conflict, "这条差评已整改 / this bad rating was already followed up"));
    }
    tx.set_rating_follow_up(app, item, by, note.as_str(), now).await?;
    let detail = serde_json::json!({ "item": item, "note": note.as_str() });
    tx.insert_audit(&audit(staff.township_id, by, Some(app), "rating.follow_up", detail, now)).await
}

// ---------------------------------------------------------------- statistics

fn china_midnight(d: NaiveDate) -> DateTime<Utc> {
    daiban_proto::china_time::midnight(d)
}

impl From<StatsPeriod> for Window {
    fn from(p: StatsPeriod) -> Self {
        Self { from: p.from.map(china_midnight), until: p.to.and_then(|d| d.succ_opt()).map(china_midnight) }
    }
}

/// Working days after `from`'s day up to and including `to`'s day.
fn working_days_between(rules: &Rules, from: NaiveDate, to: NaiveDate) -> u32 {
    from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| rules.calendar.is_working_day(*d)).count() as u32
}

pub(crate) async fn statistics(
    tx: &mut dyn Tx,
    rules: &Rules,
    township: TownshipId,
    period: StatsPeriod,
    now: DateTime<Utc>,
) -> Result<Statistics> {
    let (w, today) = (Window::from(period), china_date(now));
    let approvals = tx
        .stats_approvals(township, w)
        .await?
        .into_iter()
        .map(|a| {
            let approved_day = china_date(a.approved_at);
            Approval {
                village_id: a.village_id,
                item: a.item,
                hours: (a.approved_at - a.accepted_at).num_seconds().max(0) as f64 / 3600.0,
                working_days: working_days_between(rules, china_date(a.accepted_at), approved_day),
                on_time: approved_day <= a.deadline,
            }
        })
        .collect();
    Ok(Statistics {
        today,
        applications: tx.stats_applications(township, w, today).await?,
        items: tx.stats_items(township, w, today).await?,
        approvals,
        ratings: tx.stats_ratings(township, w).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_china_days() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let w = Window::from(StatsPeriod { from: Some(d("2026-11-02")), to: Some(d("2026-11-02")) });
        assert_eq!(w.from.unwrap().to_rfc3339(), "2026-11-01T16:00:00+00:00");
        assert_eq!(w.until.unwrap().to_rfc3339(), "2026-11-02T16:00:00+00:00");
        assert!(Window::from(StatsPeriod::default()).from.is_none());
    }

    #[test]
    fn working_days_skip_weekends() {
        let rules = Rules::default();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Friday → next Tuesday: Monday and Tuesday
        assert_eq!(working_days_between(&rules, d("2026-11-20"), d("2026-11-24")), 2);
        assert_eq!(working_days_between(&rules, d("2026-11-20"), d("2026-11-20")), 0);
    }
}
