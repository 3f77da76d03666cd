//! The primitive reads and writes of one database transaction, implemented once per backend.
//!
//! The domain rules ([`super::ops`]) are written once against `dyn Tx`, and every backend only
//! says how to read and write rows. For PostgreSQL the methods really await the server; for
//! SQLite they run synchronously on a blocking thread (the futures complete at once and are
//! driven by a trivial executor there), so the same rules run on both.
//!
//! Methods named `*_for_update` lock the row until commit (PostgreSQL `FOR UPDATE`; SQLite
//! has a single writer, so every write transaction is already serial).

use crate::store::error::Result;
use crate::store::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use daiban_proto::catalogue::{Catalogue, L10n};
use daiban_proto::record::{DeliveryRecord, RatingRecord};
use daiban_proto::sync::{Change, ChangeBody, DeliveryTask, EventResult};
use daiban_proto::{ApplicationId, ApplicationRecord, DeliveryId, DeviceId, EventId, PhotoHash, ResidentId, ResidentRecord};

/// A device as found by token or id.
#[derive(Clone, Debug)]
pub(crate) struct DeviceRow {
    pub auth: DeviceAuth,
    pub revoked: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct EnrolmentCodeRow {
    pub id: i64,
    pub village_id: VillageId,
    pub agent_id: Option<AgentId>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// Result of claiming an event id for processing.
#[derive(Clone, Debug)]
pub(crate) enum Claim {
    /// First time this id is seen: process it (the claim commits with the outcome).
    New,
    /// Already processed (by `device_id`), with the answer it got.
    Done { device_id: DeviceId, outcome: EventResult },
}

#[derive(Clone, Debug)]
pub(crate) struct DeliveryRow {
    pub task: DeliveryTask,
    pub delivered: bool,
}

/// Everything the domain operations need from a backend, inside one transaction (the staff
/// web UI's primitives are in [`StaffTx`](crate::store::staff_ops::StaffTx)).
#[async_trait]
pub(crate) trait Tx: crate::store::staff_ops::StaffTx + crate::store::retention_ops::RetentionTx + Send {
    // --- places and people
    async fn insert_township(&mut self, code: &str, name: &L10n) -> Result<TownshipId>;
    async fn township(&mut self, id: TownshipId) -> Result<Option<Township>>;
    async fn township_by_code(&mut self, code: &str) -> Result<Option<Township>>;
    async fn townships(&mut self) -> Result<Vec<Township>>;
    async fn insert_village(&mut self, township: TownshipId, code: &VillageCode, name: &L10n) -> Result<VillageId>;
    async fn village(&mut self, id: VillageId) -> Result<Option<Village>>;
    async fn village_by_code(&mut self, code: &VillageCode) -> Result<Option<Village>>;
    /// Ordered by id (the lock order used when appending changes to several villages).
    async fn villages_of(&mut self, township: TownshipId) -> Result<Vec<Village>>;
    async fn insert_staff(&mut self, new: &NewStaff, password_hash: &str, now: DateTime<Utc>) -> Result<StaffId>;
    async fn staff(&mut self, id: StaffId) -> Result<Option<Staff>>;
    /// The account and its password hash.
    async fn staff_credentials(&mut self, username: &str) -> Result<Option<(Staff, String)>>;

    // --- devices and enrolment
    async fn insert_enrolment_code(
        &mut self,
        hash: &str,
        village: VillageId,
        by: StaffId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    async fn enrolment_code_for_update(&mut self, hash: &str) -> Result<Option<EnrolmentCodeRow>>;
    /// Issue the (just inserted) code to an agent of its village.
    async fn set_code_agent(&mut self, hash: &str, agent: AgentId) -> Result<()>;
    async fn set_device_agent(&mut self, device: DeviceId, agent: AgentId) -> Result<()>;
    async fn insert_agent(&mut self, village: VillageId, name: &str, phone: &str, now: DateTime<Utc>) -> Result<AgentId>;
    async fn agent(&mut self, id: AgentId) -> Result<Option<Agent>>;
    /// The township's roster, by village then name.
    async fn agents_of(&mut self, township: TownshipId) -> Result<Vec<Agent>>;
    async fn use_enrolment_code(&mut self, id: i64, device: DeviceId, now: DateTime<Utc>) -> Result<()>;
    async fn insert_device(&mut self, id: DeviceId, village: VillageId, name: &str, token_hash: &str, now: DateTime<Utc>) -> Result<()>;
    async fn device_by_token_hash(&mut self, hash: &str) -> Result<Option<DeviceRow>>;
    async fn device(&mut self, id: DeviceId) -> Result<Option<DeviceRow>>;
    async fn devices_of(&mut self, township: TownshipId) -> Result<Vec<DeviceInfo>>;
    async fn revoke_device(&mut self, id: DeviceId, by: StaffId, now: DateTime<Utc>) -> Result<()>;
    /// Record that the device was heard from (and, on push, its queue length).
    async fn touch_device(&mut self, id: DeviceId, queue_len: Option<u32>, now: DateTime<Utc>) -> Result<()>;

    // --- idempotency record
    /// Insert the event id if new; if another transaction is inserting it concurrently, wait
    /// for that one to finish (unique index) and report its outcome.
    async fn claim_event(&mut self, id: EventId, device: DeviceId, kind: &str, now: DateTime<Utc>) -> Result<Claim>;
    async fn store_outcome(&mut self, id: EventId, outcome: &EventResult) -> Result<()>;
    /// Mark a point to roll back to when an event turns out to be refused half-way.
    async fn savepoint(&mut self) -> Result<()>;
    async fn rollback_to_savepoint(&mut self) -> Result<()>;

    // --- residents and applications
    /// The village and last update of a resident.
    async fn resident_home(&mut self, id: ResidentId) -> Result<Option<(VillageId, DateTime<Utc>)>>;
    async fn resident(&mut self, id: ResidentId) -> Result<Option<(VillageId, ResidentRecord)>>;
    async fn upsert_resident(&mut self, village: VillageId, r: &ResidentRecord, now: DateTime<Utc>) -> Result<()>;
    async fn application(&mut self, id: ApplicationId) -> Result<Option<ApplicationState>>;
    async fn application_for_update(&mut self, id: ApplicationId) -> Result<Option<ApplicationState>>;
    /// `false` if an application with this id already exists.
    async fn insert_application(&mut self, a: &ApplicationState) -> Result<bool>;
    /// Stage, status, revision, dates and item statuses.
    async fn update_application(&mut self, a: &ApplicationState) -> Result<()>;
    async fn insert_revision(&mut self, r: &ApplicationRecord, event: EventId, now: DateTime<Utc>) -> Result<()>;
    async fn revisions(&mut self, id: ApplicationId) -> Result<Vec<StoredRevision>>;
    async fn insert_photo_refs(&mut self, app: ApplicationId, village: VillageId, hashes: &[PhotoHash]) -> Result<()>;
    async fn inbox(&mut self, township: TownshipId, filter: &InboxFilter, after: Option<&InboxCursor>, limit: u32)
        -> Result<Vec<InboxRow>>;

    // --- delivery and rating
    async fn insert_delivery(&mut self, t: &DeliveryTask, village: VillageId, now: DateTime<Utc>) -> Result<()>;
    async fn delivery(&mut self, id: DeliveryId) -> Result<Option<DeliveryRow>>;
    async fn delivery_for_item(&mut self, app: ApplicationId, item: &str) -> Result<Option<DeliveryRow>>;
    async fn confirm_delivery(&mut self, d: &DeliveryRecord, event: EventId) -> Result<()>;
    async fn insert_rating(&mut self, r: &RatingRecord, village: VillageId, follow_up: bool, now: DateTime<Utc>) -> Result<()>;
    async fn ratings_needing_follow_up(&mut self, township: TownshipId) -> Result<Vec<StoredRating>>;

    // --- change feed, audit, catalogue
    /// Append a change to a village's feed and return its seq (gap-free, see backends).
    async fn append_change(&mut self, village: VillageId, at: DateTime<Utc>, body: &ChangeBody) -> Result<i64>;
    async fn changes(&mut self, village: VillageId, after: i64, limit: u32) -> Result<Vec<Change>>;
    async fn insert_audit(&mut self, e: &AuditEntry) -> Result<()>;
    async fn audit_of(&mut self, app: ApplicationId) -> Result<Vec<AuditEntry>>;
    async fn insert_catalogue(&mut self, township: TownshipId, c: &Catalogue, by: Option<StaffId>, now: DateTime<Utc>) -> Result<()>;
    /// The given version, or the latest when `None`.
    async fn catalogue(&mut self, township: TownshipId, version: Option<u32>) -> Result<Option<Catalogue>>;

    // --- photos and uploads
    async fn photos_present(&mut self, hashes: &[PhotoHash]) -> Result<Vec<PhotoHash>>;
    /// Some application or delivery of `village` refers to the photo.
    async fn photo_referenced(&mut self, hash: &PhotoHash, village: VillageId) -> Result<bool>;
    /// In one statement: whether some application or delivery of `village` refers to the
    /// photo, and whether the centre has it.
    async fn photo_referenced_and_present(&mut self, hash: &PhotoHash, village: VillageId) -> Result<(bool, bool)>;
    async fn insert_photo(&mut self, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()>;
    async fn insert_upload(&mut self, u: &Upload) -> Result<()>;
    /// The photo is stored: record it (if new) and its upload as complete, in one statement
    /// where the backend allows (PostgreSQL; SQLite makes two in its transaction).
    async fn record_photo_upload(&mut self, id: &str, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()>;
    async fn upload(&mut self, id: &str) -> Result<Option<Upload>>;
    async fn set_upload_offset(&mut self, id: &str, offset: u64, now: DateTime<Utc>) -> Result<()>;
    async fn delete_upload(&mut self, id: &str) -> Result<()>;
}
