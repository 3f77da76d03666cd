//! The centre's own domain types: places (township, village), people (staff), devices,
//! applications as the centre tracks them, the audit log and inbox queries.
//!
//! Wire types live in `daiban_proto`; these are what the storage layer hands to the sync API
//! and to the staff web UI. Values that come from outside (village codes, staff roles, inbox
//! cursors) are parsed into validated types here, once.

use chrono::{DateTime, NaiveDate, Utc};
use daiban_proto::catalogue::L10n;
use daiban_proto::status::{AppStatus, ItemStatus, Stage};
use daiban_proto::{ApplicationId, ApplicationRecord, DeviceId, PhotoHash, Rating, ResidentId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

row_id!(
    /// A township (镇/乡/街道) served by this centre; one server may serve many.
    TownshipId
);
row_id!(
    /// A village (行政村) of a township.
    VillageId
);
row_id!(
    /// A staff account of a township.
    StaffId
);
row_id!(
    /// A village agent (代办员) on the township's roster.
    AgentId
);

/// A village agent (代办员): a person, whose phones come and go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub village_id: VillageId,
    pub name: String,
    pub phone: String,
}

/// A 12-digit statistical division code (统计用区划代码) of a village, e.g. `370611101201`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VillageCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("村代码应为12位数字 / village code must be 12 digits")]
pub struct VillageCodeError;

impl VillageCode {
    pub fn parse(s: &str) -> Result<Self, VillageCodeError> {
        let s = s.trim();
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_string()))
        } else {
            Err(VillageCodeError)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VillageCode {
    type Error = VillageCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<VillageCode> for String {
    fn from(c: VillageCode) -> Self {
        c.0
    }
}

impl fmt::Display for VillageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Township {
    pub id: TownshipId,
    /// Division code of the township (9 digits by convention, e.g. `370611101`).
    pub code: String,
    pub name: L10n,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Village {
    pub id: VillageId,
    pub township_id: TownshipId,
    pub code: VillageCode,
    pub name: L10n,
}

/// What a staff member may do. Both roles review; only an admin manages devices, enrolment
/// codes and the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 审核员
    Reviewer,
    /// 镇管理员
    TownshipAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::TownshipAdmin => "township_admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Role::Reviewer, Role::TownshipAdmin].into_iter().find(|r| r.as_str() == s)
    }
    pub fn label(self) -> L10n {
        match self {
            Role::Reviewer => L10n::new("审核员", "Reviewer"),
            Role::TownshipAdmin => L10n::new("镇管理员", "Township admin"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub id: StaffId,
    pub township_id: TownshipId,
    /// Login name (unique across the centre).
    pub username: String,
    /// Shown on decisions and in the agent's timeline ("李审核").
    pub display_name: String,
    pub role: Role,
    pub active: bool,
}

/// The shortest password a staff account may have.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A staff account to create; the password is hashed (argon2) before it is stored.
#[derive(Clone)]
pub struct NewStaff {
    pub township_id: TownshipId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

impl fmt::Debug for NewStaff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewStaff")
            .field("township_id", &self.township_id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// An authenticated device: what every sync request is scoped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceAuth {
    pub device_id: DeviceId,
    pub village_id: VillageId,
    pub township_id: TownshipId,
}

/// A device as staff see it in the device list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub name: String,
    pub village_id: VillageId,
    pub village_name: L10n,
    pub enrolled_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Events still waiting on the device, as it reported on its last push.
    pub queue_len: u32,
    /// The agent the phone was enrolled for (codes issued to a named agent).
    pub agent: Option<Agent>,
}

impl DeviceInfo {
    /// How staff see whose phone it is: the agent's name and phone, else the device's name.
    pub fn label(&self) -> String {
        match &self.agent {
            Some(a) => format!("{} {}", a.name, a.phone),
            None => self.name.clone(),
        }
    }
}

/// A freshly made enrolment code. The plain code exists only here (the centre stores its
/// hash), so it must be shown to staff now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEnrolmentCode {
    /// E.g. `K7PQ-2M9X`; case, spaces and hyphens are ignored when it is typed in.
    pub code: String,
    pub village_id: VillageId,
    /// The agent it was issued to, if any.
    pub agent_id: Option<AgentId>,
    pub expires_at: DateTime<Utc>,
}

/// An application as the centre tracks it (the latest revision's state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationState {
    pub id: ApplicationId,
    pub township_id: TownshipId,
    pub village_id: VillageId,
    pub resident_id: ResidentId,
    /// The device (agent) that submitted it.
    pub device_id: DeviceId,
    pub bundle: Option<String>,
    /// Each item with its own decision status, in the order the agent listed them.
    pub items: Vec<(String, ItemStatus)>,
    pub stage: Stage,
    /// Derived from stage and items ([`daiban_proto::status::overall`]); stored for filtering.
    pub status: AppStatus,
    /// Latest revision received.
    pub revision: u32,
    pub catalogue_version: u32,
    /// When the latest revision arrived.
    pub received_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Promised completion date (承诺时限, working days). Counted from acceptance once
    /// accepted; before that it is provisional, counted from receipt, so that unaccepted
    /// work sorts by urgency too.
    pub deadline: NaiveDate,
    pub updated_at: DateTime<Utc>,
}

/// One submitted revision, kept forever exactly as the agent sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRevision {
    pub received_at: DateTime<Utc>,
    pub record: ApplicationRecord,
}

/// Who did something recorded in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    Staff {
        id: StaffId,
    },
    Device {
        id: DeviceId,
    },
    /// Set-up done by the operator (seeding, command line).
    System,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub township_id: TownshipId,
    pub actor: Actor,
    pub application_id: Option<ApplicationId>,
    /// Stable action name: `submitted`, `decision.accept`, `delivered`, `rated`,
    /// `reveal_id_number`, `device.revoke`, …
    pub action: String,
    pub detail: serde_json::Value,
}

/// Filters of the staff inbox. All set filters must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboxFilter {
    pub status: Option<AppStatus>,
    pub village: Option<VillageId>,
    pub item: Option<String>,
    /// The agent's device.
    pub device: Option<DeviceId>,
    /// Only applications still waiting for a decision whose deadline is before this day.
    pub overdue_on: Option<NaiveDate>,
    /// Only work still open at the centre ([`InboxFilter::OPEN`]): the reviewers' default view.
    pub open: bool,
}

impl InboxFilter {
    /// Statuses in which the centre still has something to do (accept, decide, hand over the
    /// result). The partial index `applications_open` is defined over exactly this list.
    pub const OPEN: [AppStatus; 4] = [AppStatus::Received, AppStatus::Accepted, AppStatus::Approved, AppStatus::ResultReady];
}

/// Keyset position in the inbox (sorted by deadline, then arrival, then id), so that paging
/// costs the same on page 1 and page 1,000.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    pub deadline: NaiveDate,
    pub received_at: DateTime<Utc>,
    pub id: ApplicationId,
}

impl fmt::Display for InboxCursor {
    /// `2026-12-01~2026-11-23T08:30:00.000000Z~<uuid>`: safe in a URL query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}~{}~{}", self.deadline, self.received_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), self.id)
    }
}

impl FromStr for InboxCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.split('~');
        let (Some(d), Some(r), Some(i), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(());
        };
        Ok(Self { deadline: d.parse().map_err(|_| ())?, received_at: r.parse().map_err(|_| ())?, id: i.parse().map_err(|_| ())? })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxRow {
    pub id: ApplicationId,
    pub village_id: VillageId,
    pub village_name: L10n,
    pub resident_id: ResidentId,
    pub resident_name: String,
    pub device_id: DeviceId,
    pub bundle: Option<String>,
    pub items: Vec<String>,
    pub status: AppStatus,
    pub revision: u32,
    pub received_at: DateTime<Utc>,
    pub deadline: NaiveDate,
}

impl InboxRow {
    pub fn cursor(&self) -> InboxCursor {
        InboxCursor { deadline: self.deadline, received_at: self.received_at, id: self.id }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxPage {
    pub rows: Vec<InboxRow>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<InboxCursor>,
}

/// A resident's rating as stored; bad ones (≤ 2) wait for follow-up (差评整改).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRating {
    pub application_id: ApplicationId,
    pub village_id: VillageId,
    pub item: String,
    pub rating: Rating,
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
    pub needs_follow_up: bool,
}

/// Id of a tus upload: 128 random bits as 32 hex characters (it is part of the upload URL,
/// so it is parsed strictly before it is used anywhere).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl Default for UploadId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for UploadId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_string()))
        } else {
            Err(())
        }
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tus upload in progress (or, when `offset == length`, finished).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// Random, unguessable; part of the upload URL.
    pub id: String,
    pub device_id: DeviceId,
    /// The content address announced at creation (`sha256` metadata).
    pub hash: PhotoHash,
    pub length: u64,
    /// Bytes received, fsynced and acknowledged.
    pub offset: u64,
    pub created_at: DateTime<Utc>,
}
