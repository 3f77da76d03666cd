//! Statuses of an application and the review state machine (受理 → 审核 → 办结 → 送达 → 评价).
//!
//! An application has an application-level [`Stage`] (draft, queued on the phone, received,
//! accepted, returned for correction) and, because a one-thing bundle gets one decision *per
//! item*, an [`ItemStatus`] for every item it contains. What lists show is the derived
//! [`AppStatus`] ([`overall`]). [`apply_decision`] is the one place the allowed transitions are
//! written down; the centre uses it to validate staff actions and the phone uses it to apply
//! the decisions it pulls, so both always agree.

use crate::catalogue::L10n;
use crate::text::Remark;
use serde::{Deserialize, Serialize};

/// Application-level stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Being captured on the phone (草稿).
    Draft,
    /// Submitted by the agent, waiting in the outbox (待上传).
    Queued,
    /// Arrived at the centre (已接收).
    Received,
    /// Accepted for processing by staff (已受理); the time limit runs from here.
    Accepted,
    /// Returned to the agent for correction (退回补正).
    Returned,
}

/// Per-item decision status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Pending,
    /// 不予受理 / 不予批准
    Rejected,
    /// 已办结(准予)
    Approved,
    /// 待送达 / 待领取
    ResultReady,
    /// 已送达 / 已领取
    Delivered,
    /// 已评价
    Rated,
}

/// What a list shows for an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Draft,
    Queued,
    Received,
    Accepted,
    Returned,
    Rejected,
    Approved,
    ResultReady,
    Delivered,
    Rated,
}

impl AppStatus {
    pub const ALL: [AppStatus; 10] = [
        AppStatus::Draft,
        AppStatus::Queued,
        AppStatus::Received,
        AppStatus::Accepted,
        AppStatus::Returned,
        AppStatus::Rejected,
        AppStatus::Approved,
        AppStatus::ResultReady,
        AppStatus::Delivered,
        AppStatus::Rated,
    ];

    pub fn label(self) -> L10n {
        let (zh, en) = match self {
            AppStatus::Draft => ("草稿", "Draft"),
            AppStatus::Queued => ("待上传", "Waiting to upload"),
            AppStatus::Received => ("已接收", "Received"),
            AppStatus::Accepted => ("已受理", "Accepted"),
            AppStatus::Returned => ("退回补正", "Returned for correction"),
            AppStatus::Rejected => ("不予受理", "Rejected"),
            AppStatus::Approved => ("已办结", "Approved"),
            AppStatus::ResultReady => ("待送达", "Result ready"),
            AppStatus::Delivered => ("已送达", "Delivered"),
            AppStatus::Rated => ("已评价", "Rated"),
        };
        L10n::new(zh, en)
    }

    /// Stable snake_case name (database columns, URLs, CSS classes).
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Draft => "draft",
            AppStatus::Queued => "queued",
            AppStatus::Received => "received",
            AppStatus::Accepted => "accepted",
            AppStatus::Returned => "returned",
            AppStatus::Rejected => "rejected",
            AppStatus::Approved => "approved",
            AppStatus::ResultReady => "result_ready",
            AppStatus::Delivered => "delivered",
            AppStatus::Rated => "rated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// No further action is expected from anyone.
    pub fn is_closed(self) -> bool {
        matches!(self, AppStatus::Rejected | AppStatus::Delivered | AppStatus::Rated)
    }

    /// The agent has something to do (correct and resubmit, or deliver).
    pub fn needs_agent(self) -> bool {
        matches!(self, AppStatus::Draft | AppStatus::Returned | AppStatus::ResultReady)
    }
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Rejected => "rejected",
            ItemStatus::Approved => "approved",
            ItemStatus::ResultReady => "result_ready",
            ItemStatus::Delivered => "delivered",
            ItemStatus::Rated => "rated",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [ItemStatus::Pending, ItemStatus::Rejected, ItemStatus::Approved, ItemStatus::ResultReady, ItemStatus::Delivered, ItemStatus::Rated]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
    pub fn label(self) -> L10n {
        let (zh, en) = match self {
            ItemStatus::Pending => ("审核中", "Under review"),
            ItemStatus::Rejected => ("不予批准", "Rejected"),
            ItemStatus::Approved => ("已办结", "Approved"),
            ItemStatus::ResultReady => ("待送达", "Result ready"),
            ItemStatus::Delivered => ("已送达", "Delivered"),
            ItemStatus::Rated => ("已评价", "Rated"),
        };
        L10n::new(zh, en)
    }
}

impl ItemStatus {
    /// The label of an item within its application: an undecided item waits to be accepted,
    /// is under review, or waits for the agent's correction.
    pub fn label_in(self, stage: Stage) -> L10n {
        match (self, stage) {
            (ItemStatus::Pending, Stage::Returned) => L10n::new("等待补正", "Waiting for the correction"),
            (ItemStatus::Pending, Stage::Draft | Stage::Queued | Stage::Received) => L10n::new("待受理", "Waiting to be accepted"),
            _ => self.label(),
        }
    }
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Queued => "queued",
            Stage::Received => "received",
            Stage::Accepted => "accepted",
            Stage::Returned => "returned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Stage::Draft, Stage::Queued, Stage::Received, Stage::Accepted, Stage::Returned].into_iter().find(|x| x.as_str() == s)
    }
}

/// The status a list shows: the stage until items are decided, then the least advanced
/// item that is still alive (all rejected = rejected).
pub fn overall(stage: Stage, items: &[ItemStatus]) -> AppStatus {
    match stage {
        Stage::Draft => return AppStatus::Draft,
        Stage::Queued => return AppStatus::Queued,
        Stage::Returned => return AppStatus::Returned,
        Stage::Received | Stage::Accepted => {}
    }
    if !items.is_empty() && items.iter().all(|s| *s == ItemStatus::Rejected) {
        return AppStatus::Rejected;
    }
    let rank = |s: &ItemStatus| match s {
        ItemStatus::Pending => 0,
        ItemStatus::Approved => 1,
        ItemStatus::ResultReady => 2,
        ItemStatus::Delivered => 3,
        ItemStatus::Rated => 4,
        ItemStatus::Rejected => 5,
    };
    match items.iter().filter(|s| **s != ItemStatus::Rejected).min_by_key(|s| rank(s)) {
        None | Some(ItemStatus::Pending) | Some(ItemStatus::Rejected) => {
            if stage == Stage::Accepted {
                AppStatus::Accepted
            } else {
                AppStatus::Received
            }
        }
        Some(ItemStatus::Approved) => AppStatus::Approved,
        Some(ItemStatus::ResultReady) => AppStatus::ResultReady,
        Some(ItemStatus::Delivered) => AppStatus::Delivered,
        Some(ItemStatus::Rated) => AppStatus::Rated,
    }
}

/// How a result reaches the resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// 送证上门: the agent brings it home (elderly, limited mobility).
    Home,
    /// 到中心领取.
    Centre,
}

impl DeliveryMode {
    pub fn label(self) -> L10n {
        match self {
            DeliveryMode::Home => L10n::new("送达到家", "Deliver to home"),
            DeliveryMode::Centre => L10n::new("到中心领取", "Collect at centre"),
        }
    }
}

/// The resident's 5-level satisfaction rating (好差评).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    VeryDissatisfied = 1,
    Dissatisfied = 2,
    Neutral = 3,
    Satisfied = 4,
    VerySatisfied = 5,
}

impl Rating {
    pub const ALL: [Rating; 5] =
        [Rating::VerySatisfied, Rating::Satisfied, Rating::Neutral, Rating::Dissatisfied, Rating::VeryDissatisfied];
    pub fn score(self) -> u8 {
        self as u8
    }
    pub fn from_score(n: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.score() == n)
    }
    /// A bad rating (差评) must be followed up by the centre (差评整改).
    pub fn is_bad(self) -> bool {
        self.score() <= 2
    }
    pub fn label(self) -> L10n {
        let (zh, en) = match self {
            Rating::VerySatisfied => ("非常满意", "Very satisfied"),
            Rating::Satisfied => ("满意", "Satisfied"),
            Rating::Neutral => ("基本满意", "Fairly satisfied"),
            Rating::Dissatisfied => ("不满意", "Dissatisfied"),
            Rating::VeryDissatisfied => ("非常不满意", "Very dissatisfied"),
        };
        L10n::new(zh, en)
    }
}

/// A staff decision on an application (or one item of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// 受理: the materials are complete; the time limit starts.
    Accept,
    /// 退回补正: back to the agent with a reason and the materials to add or re-take.
    Return { reason: Remark, materials: Vec<String> },
    /// 不予受理 / 不予批准 for one item.
    Reject { item: String, reason: Remark },
    /// 准予 / 办结 for one item.
    Approve { item: String },
    /// The result (card, certificate, payment) is ready.
    ResultReady { item: String, mode: DeliveryMode },
    /// Handed over: collected at the centre (staff) or delivered home (agent's proof).
    Delivered { item: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("当前状态“{0}”下不能执行此操作 / not allowed in status {0}")]
    NotAllowed(&'static str),
    #[error("申请中没有事项 {0} / no item {0} in this application")]
    NoSuchItem(String),
}

/// Apply `d` to an application at `stage` whose items (code, status) are `items`; returns the
/// new stage and updates `items` in place. Nothing is changed on error.
pub fn apply_decision(stage: Stage, items: &mut [(String, ItemStatus)], d: &Decision) -> Result<Stage, TransitionError> {
    let item_mut = |items: &mut [(String, ItemStatus)], code: &str| -> Result<usize, TransitionError> {
        items.iter().position(|(c, _)| c == code).ok_or_else(|| TransitionError::NoSuchItem(code.into()))
    };
    let not_allowed = || TransitionError::NotAllowed(stage.as_str());
    let open = matches!(stage, Stage::Received | Stage::Accepted);
    match d {
        Decision::Accept => {
            if stage != Stage::Received {
                return Err(not_allowed());
            }
            Ok(Stage::Accepted)
        }
        Decision::Return { .. } => {
            let undecided = items.iter().all(|(_, s)| matches!(s, ItemStatus::Pending | ItemStatus::Rejected));
            if !open || !undecided {
                return Err(not_allowed());
            }
            Ok(Stage::Returned)
        }
        Decision::Reject { item, .. } => {
            let i = item_mut(items, item)?;
            if !open || items[i].1 != ItemStatus::Pending {
                return Err(not_allowed());
            }
            items[i].1 = ItemStatus::Rejected;
            Ok(stage)
        }
        Decision::Approve { item } => {
            let i = item_mut(items, item)?;
            if stage != Stage::Accepted || items[i].1 != ItemStatus::Pending {
                return Err(not_allowed());
            }
            items[i].1 = ItemStatus::Approved;
            Ok(stage)
        }
        Decision::ResultReady { item, .. } => {
            let i = item_mut(items, item)?;
            if stage != Stage::Accepted || items[i].1 != ItemStatus::Approved {
                return Err(not_allowed());
            }
            items[i].1 = ItemStatus::ResultReady;
            Ok(stage)
        }
        Decision::Delivered { item } => {
            let i = item_mut(items, item)?;
            if stage != Stage::Accepted || items[i].1 != ItemStatus::ResultReady {
                return Err(not_allowed());
            }
            items[i].1 = ItemStatus::Delivered;
            Ok(stage)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(codes: &[&str]) -> Vec<(String, ItemStatus)> {
        codes.iter().map(|c| (c.to_string(), ItemStatus::Pending)).collect()
    }

    #[test]
    fn an_undecided_item_says_what_it_waits_for() {
        let zh = |s: ItemStatus, st: Stage| s.label_in(st).zh;
        assert_eq!(zh(ItemStatus::Pending, Stage::Received), "待受理");
        assert_eq!(zh(ItemStatus::Pending, Stage::Accepted), "审核中");
        assert_eq!(zh(ItemStatus::Pending, Stage::Returned), "等待补正");
        assert_eq!(zh(ItemStatus::Approved, Stage::Accepted), "已办结");
    }

    #[test]
    fn happy_path_of_a_bundle() {
        let mut it = items(&["a", "b"]);
        let mut st = Stage::Received;
        st = apply_decision(st, &mut it, &Decision::Accept).unwrap();
        assert_eq!(overall(st, &statuses(&it)), AppStatus::Accepted);
        st = apply_decision(st, &mut it, &Decision::Approve { item: "a".into() }).unwrap();
        assert_eq!(overall(st, &statuses(&it)), AppStatus::Accepted, "b still pending");
        st = apply_decision(st, &mut it, &Decision::Reject { item: "b".into(), reason: Remark::parse("不符合条件").unwrap() }).unwrap();
        assert_eq!(overall(st, &statuses(&it)), AppStatus::Approved);
        st = apply_decision(st, &mut it, &Decision::ResultReady { item: "a".into(), mode: DeliveryMode::Home }).unwrap();
        assert_eq!(overall(st, &statuses(&it)), AppStatus::ResultReady);
        st = apply_decision(st, &mut it, &Decision::Delivered { item: "a".into() }).unwrap();
        assert_eq!(overall(st, &statuses(&it)), AppStatus::Delivered);
    }

    #[test]
    fn illegal_moves_are_refused_and_change_nothing() {
        let mut it = items(&["a"]);
        let before = it.clone();
        assert!(apply_decision(Stage::Received, &mut it, &Decision::Approve { item: "a".into() }).is_err());
        assert!(apply_decision(Stage::Accepted, &mut it, &Decision::Accept).is_err());
        assert!(apply_decision(Stage::Returned, &mut it, &Decision::Accept).is_err());
        assert_eq!(
            apply_decision(Stage::Accepted, &mut it, &Decision::Approve { item: "zz".into() }),
            Err(TransitionError::NoSuchItem("zz".into()))
        );
        assert_eq!(it, before);
        it[0].1 = ItemStatus::Approved;
        let ret = Decision::Return { reason: Remark::parse("照片模糊").unwrap(), materials: vec![] };
        assert!(apply_decision(Stage::Accepted, &mut it, &ret).is_err(), "no return after a decision");
    }

    #[test]
    fn all_rejected_is_rejected() {
        assert_eq!(overall(Stage::Received, &[ItemStatus::Rejected, ItemStatus::Rejected]), AppStatus::Rejected);
        assert_eq!(overall(Stage::Received, &[ItemStatus::Rejected, ItemStatus::Pending]), AppStatus::Received);
        assert_eq!(overall(Stage::Returned, &[ItemStatus::Pending]), AppStatus::Returned);
    }

    #[test]
    fn names_round_trip() {
        for s in AppStatus::ALL {
            assert_eq!(AppStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(Rating::from_score(2), Some(Rating::Dissatisfied));
        assert!(Rating::Dissatisfied.is_bad() && !Rating::Neutral.is_bad());
    }

    fn statuses(it: &[(String, ItemStatus)]) -> Vec<ItemStatus> {
        it.iter().map(|(_, s)| *s).collect()
    }
}
