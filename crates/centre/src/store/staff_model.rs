//! Types of the staff web UI's storage: login sessions, the statistics aggregates and their
//! summaries (median / 90th percentile, on-time rate, satisfaction).
//!
//! The store returns statistics as small grouped counts (per village × status, per village ×
//! item × item status, per village × item × score) plus one sample per approval, so that the
//! statistics page and its CSV export can regroup them any way without another query, and
//! percentiles are computed exactly (nearest rank) rather than estimated.

use crate::store::model::{Staff, VillageId};
use chrono::{DateTime, NaiveDate, Utc};
use daiban_proto::status::{AppStatus, ItemStatus};
use daiban_proto::Rating;

/// A logged-in staff member's session, as found by its cookie's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    pub staff: Staff,
    pub created_at: DateTime<Utc>,
    /// Last request that refreshed the session (refreshed at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of the session.
    pub expires_at: DateTime<Utc>,
}

/// How long a session lives: it ends after `idle` without a request, and at `max` at the
/// latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: chrono::Duration,
    pub max: chrono::Duration,
}

impl Default for SessionPolicy {
    /// 30 minutes idle (a shared office PC left alone), 10 hours at most (one working day).
    fn default() -> Self {
        Self { idle: chrono::Duration::minutes(30), max: chrono::Duration::hours(10) }
    }
}

/// The days (China time, both inclusive) statistics are about; open ends are unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsPeriod {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Applications first submitted in the period, per village and current status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCount {
    pub village_id: VillageId,
    pub status: AppStatus,
    pub count: u64,
    /// Of these, still waiting for a decision after their deadline.
    pub overdue: u64,
}

/// Items of applications first submitted in the period, per village, item and item status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemCount {
    pub village_id: VillageId,
    pub item: String,
    pub status: ItemStatus,
    pub count: u64,
    /// Of these, still pending after their application's deadline.
    pub overdue: u64,
}

/// One item approved in the period: how long it took from acceptance (受理) to approval (办结).
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    pub village_id: VillageId,
    pub item: String,
    pub hours: f64,
    /// Working days after the day of acceptance up to and including the day of approval.
    pub working_days: u32,
    /// Approved on or before the promised day (承诺时限).
    pub on_time: bool,
}

/// Ratings given in the period, per village, item and level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatingCount {
    pub village_id: VillageId,
    pub item: String,
    pub rating: Rating,
    pub count: u64,
}

/// Everything the statistics page shows, for one township and period.
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// The day "overdue" was judged on (China time).
    pub today: NaiveDate,
    pub applications: Vec<StatusCount>,
    pub items: Vec<ItemCount>,
    pub approvals: Vec<Approval>,
    pub ratings: Vec<RatingCount>,
}

/// Processing-time summary of a set of approvals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    pub approved: usize,
    pub on_time: usize,
    pub median_hours: f64,
    pub p90_hours: f64,
    pub median_days: u32,
    pub p90_days: u32,
}

impl Timing {
    /// `None` when nothing was approved.
    pub fn of<'a>(approvals: impl IntoIterator<Item = &'a Approval>) -> Option<Self> {
        let (mut hours, mut days, mut on_time) = (Vec::new(), Vec::new(), 0);
        for a in approvals {
            hours.push(a.hours);
            days.push(a.working_days);
            on_time += usize::from(a.on_time);
        }
        hours.sort_by(f64::total_cmp);
        days.sort_unstable();
        Some(Self {
            approved: hours.len(),
            on_time,
            median_hours: *nearest_rank(&hours, 50)?,
            p90_hours: *nearest_rank(&hours, 90)?,
            median_days: *nearest_rank(&days, 50)?,
            p90_days: *nearest_rank(&days, 90)?,
        })
    }

    /// Share approved on time, 0–1.
    pub fn on_time_rate(&self) -> f64 {
        self.on_time as f64 / self.approved as f64
    }
}

/// The `p`th percentile of sorted values by the nearest-rank method (always a real sample).
pub fn nearest_rank<T>(sorted: &[T], p: u32) -> Option<&T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1)
}

/// Counts of each level, very satisfied first (the order of [`Rating::ALL`]).
pub fn rating_distribution<'a>(ratings: impl IntoIterator<Item = &'a RatingCount>) -> [u64; 5] {
    let mut out = [0; 5];
    for r in ratings {
        let i = Rating::ALL.iter().position(|x| *x == r.rating).expect("every rating is in ALL");
        out[i] += r.count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(hours: f64, days: u32, on_time: bool) -> Approval {
        Approval { village_id: VillageId(1), item: "x".into(), hours, working_days: days, on_time }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 50), Some(&5));
        assert_eq!(nearest_rank(&v, 90), Some(&9));
        assert_eq!(nearest_rank(&v, 100), Some(&10));
        assert_eq!(nearest_rank(&[7], 90), Some(&7));
        assert_eq!(nearest_rank::<u32>(&[], 50), None);
    }

    #[test]
    fn timing_summarises_approvals() {
        assert!(Timing::of(&[]).is_none());
        let a = [approval(30.0, 3, true), approval(2.0, 0, true), approval(200.0, 12, false), approval(50.0, 4, true)];
        let t = Timing::of(&a).unwrap();
        assert_eq!((t.approved, t.on_time, t.median_days, t.p90_days), (4, 3, 3, 12));
        assert_eq!((t.median_hours, t.p90_hours), (30.0, 200.0));
        assert_eq!(t.on_time_rate(), 0.75);
    }
}
