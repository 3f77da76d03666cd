//! Storage of the township centre: one [`Store`] trait, two backends.
//!
//! - [`sqlite::SqliteBackend`]: embedded SQLite (the default; one file, WAL, one writer
//!   connection and a few readers, blocking work on tokio's blocking pool).
//! - [`postgres::PgBackend`]: PostgreSQL through a deadpool connection pool.
//!
//! The domain rules are in [`ops`], written once against the primitive row operations of
//! [`tx::Tx`] that each backend implements. [`Db`] turns a backend into a [`Store`]: every
//! method is one transaction running one operation, so the sync API and the staff web UI see
//! the same behaviour on both databases (the story tests in `tests/it` prove it).

pub mod error;
mod inbox_sql;
pub mod model;
mod ops;
pub mod postgres;
mod retention_ops;
pub mod secret;
pub mod sqlite;
mod staff_model;
mod staff_ops;
mod tx;

pub use error::{Refusal, Result, StoreError};
pub use model::*;
pub use ops::{china_date, Rules};
pub use staff_model::*;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use daiban_proto::catalogue::{Catalogue, L10n};
use daiban_proto::status::Decision;
use daiban_proto::sync::{EnrolRequest, EnrolResponse, Event, EventOutcome, PullResponse};
use daiban_proto::{ApplicationId, DeviceId, IdNumber, PhotoHash, ResidentId};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tx::Tx;

/// The centre's storage, as the sync API and the staff web UI use it. Every method runs in
/// one database transaction. Scope is checked here: staff act only within their township,
/// devices only within their village.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- set-up (operator, demo seeding)
    async fn create_township(&self, code: &str, name: L10n) -> Result<TownshipId>;
    async fn township(&self, id: TownshipId) -> Result<Option<Township>>;
    async fn township_by_code(&self, code: &str) -> Result<Option<Township>>;
    /// Every township of the centre, by code (none: the centre is not set up yet).
    async fn townships(&self) -> Result<Vec<Township>>;
    async fn create_village(&self, township: TownshipId, code: VillageCode, name: L10n) -> Result<VillageId>;
    async fn village(&self, id: VillageId) -> Result<Option<Village>>;
    async fn village_by_code(&self, code: &VillageCode) -> Result<Option<Village>>;
    async fn villages(&self, township: TownshipId) -> Result<Vec<Village>>;

    // --- staff accounts
    /// Store an account whose password is already hashed; use [`Store::create_staff`].
    async fn insert_staff(&self, new: NewStaff, password_hash: String) -> Result<StaffId>;
    async fn staff(&self, id: StaffId) -> Result<Option<Staff>>;
    async fn staff_credentials(&self, username: &str) -> Result<Option<(Staff, String)>>;

    /// Create a staff account with an argon2id-hashed password.
    async fn create_staff(&self, new: NewStaff) -> Result<StaffId> {
        let hash = secret::hash_password(new.password.clone()).await?;
        self.insert_staff(new, hash).await
    }

    /// The active account if `password` is right (same cost whether or not the user exists).
    async fn verify_staff_password(&self, username: &str, password: &str) -> Result<Option<Staff>> {
        let found = self.staff_credentials(username.trim()).await?;
        let (staff, hash) = match found {
            Some((s, h)) => (Some(s), Some(h)),
            None => (None, None),
        };
        let ok = secret::verify_password(password.to_string(), hash).await?;
        Ok(staff.filter(|s| ok && s.active))
    }

    // --- catalogue
    /// Publish a new catalogue version (township admin) to every village of the township.
    async fn publish_catalogue(&self, by: StaffId, catalogue: Catalogue) -> Result<u32>;
    /// The given version, or the latest when `None`.
    async fn catalogue(&self, township: TownshipId, version: Option<u32>) -> Result<Option<Catalogue>>;

    // --- devices
    async fn create_enrolment_code(&self, by: StaffId, village: VillageId, valid_for: Duration) -> Result<NewEnrolmentCode>;
    /// A code issued to a named agent: the phone enrolled with it is that agent's.
    async fn create_agent_enrolment_code(&self, by: StaffId, agent: AgentId, valid_for: Duration) -> Result<NewEnrolmentCode>;
    /// Put a village agent (代办员) on the roster of the admin's township (audited).
    async fn add_agent(&self, by: StaffId, village: VillageId, name: &str, phone: &str) -> Result<AgentId>;
    /// The township's agents, by village then name.
    async fn agents(&self, township: TownshipId) -> Result<Vec<Agent>>;
    /// Exchange a one-time code for a device token.
    async fn enrol(&self, req: EnrolRequest) -> Result<EnrolResponse>;
    /// The device a bearer token belongs to; `Revoked` as soon as staff revoke it.
    async fn authenticate_device(&self, token: &str) -> Result<DeviceAuth>;
    async fn revoke_device(&self, by: StaffId, device: DeviceId) -> Result<()>;
    async fn devices(&self, township: TownshipId) -> Result<Vec<DeviceInfo>>;
    /// Note that a device was heard from, with the queue length it reported on a push.
    async fn touch_device(&self, device: DeviceId, queue_len: Option<u32>) -> Result<()>;

    // --- sync
    /// Apply one pushed event exactly once (see [`ops`] for the rules).
    async fn ingest(&self, device: DeviceAuth, event: Event) -> Result<EventOutcome>;
    /// Changes of a village after `after`, at most `limit` (capped at `MAX_PULL_CHANGES`).
    async fn pull(&self, village: VillageId, after: i64, limit: usize) -> Result<PullResponse>;
    /// Which of these photos the centre does not have (duplicates removed, order kept).
    async fn photos_missing(&self, hashes: Vec<PhotoHash>) -> Result<Vec<PhotoHash>>;

    // --- staff work
    async fn decide(&self, by: StaffId, id: ApplicationId, revision: u32, decision: Decision) -> Result<ApplicationState>;
    async fn application(&self, township: TownshipId, id: ApplicationId) -> Result<Option<ApplicationState>>;
    /// Every revision received, oldest first (empty for other townships' applications).
    async fn revisions(&self, township: TownshipId, id: ApplicationId) -> Result<Vec<StoredRevision>>;
    /// The application's audit trail, oldest first (empty for other townships').
    async fn audit_log(&self, township: TownshipId, id: ApplicationId) -> Result<Vec<AuditEntry>>;
    /// One page of the township's applications sorted by deadline.
    async fn inbox(&self, township: TownshipId, filter: InboxFilter, after: Option<InboxCursor>, limit: u32) -> Result<InboxPage>;
    async fn reveal_id_number(&self, by: StaffId, resident: ResidentId) -> Result<IdNumber>;
    async fn ratings_needing_follow_up(&self, township: TownshipId) -> Result<Vec<StoredRating>>;

    // --- photo uploads (tus)
    async fn photo_upload_allowed(&self, device: DeviceAuth, hash: PhotoHash) -> Result<bool>;
    /// Before a new upload: `None` if no application or delivery of the device's village
    /// refers to the photo (it may not be uploaded), else whether the centre has it already.
    async fn photo_for_upload(&self, device: DeviceAuth, hash: PhotoHash) -> Result<Option<bool>>;
    async fn create_upload(&self, upload: Upload) -> Result<()>;
    /// The upload if it belongs to `device`.
    async fn upload(&self, device: DeviceId, id: &str) -> Result<Option<Upload>>;
    async fn set_upload_offset(&self, id: &str, offset: u64) -> Result<()>;
    /// The photo is in the blob store: record it and mark the upload finished.
    async fn complete_upload(&self, id: &str, hash: PhotoHash, bytes: u64) -> Result<()>;
    async fn discard_upload(&self, id: &str) -> Result<()>;

    // --- retention (rules in `retention_ops`)
    /// Photos the centre holds whose every application is closed (rejected, delivered or
    /// rated) and unchanged since `closed_before`, oldest first.
    async fn closed_photos(&self, closed_before: DateTime<Utc>, limit: u32) -> Result<Vec<PhotoHash>>;
    /// Forget the record of such a photo (checked again inside the transaction) and audit it
    /// on each of its applications; `false` if it no longer qualifies. The caller removes the
    /// bytes afterwards (see [`crate::retention`]).
    async fn forget_closed_photo(&self, hash: PhotoHash, closed_before: DateTime<Utc>) -> Result<bool>;

    // --- staff web UI (rules in `staff_ops`)
    /// Start a login session of an active account; only the cookie's hash is stored.
    async fn start_staff_session(&self, staff: StaffId, token_hash: String, policy: SessionPolicy) -> Result<()>;
    /// The session if it is alive under `policy` (not idle too long, not past its end) and
    /// its account is active.
    async fn staff_session(&self, token_hash: &str, policy: SessionPolicy) -> Result<Option<StaffSession>>;
    /// Note activity on a session (keeps it from going idle).
    async fn touch_staff_session(&self, token_hash: &str) -> Result<()>;
    async fn end_staff_session(&self, token_hash: &str) -> Result<()>;
    /// The township's staff accounts, admins first.
    async fn staff_of(&self, township: TownshipId) -> Result<Vec<Staff>>;
    /// Store an account made by admin `by`; use [`Store::add_staff`].
    async fn insert_staff_by(&self, by: StaffId, new: NewStaff, password_hash: String) -> Result<StaffId>;
    /// A township admin adds an account to their own township (audited).
    async fn add_staff(&self, by: StaffId, new: NewStaff) -> Result<StaffId> {
        let hash = secret::hash_password(new.password.clone()).await?;
        self.insert_staff_by(by, new, hash).await
    }
    /// A resident of the township (`None` for other townships' residents). The record holds
    /// the full ID number: show it masked; [`Store::reveal_id_number`] is the audited way.
    async fn resident(&self, township: TownshipId, id: ResidentId) -> Result<Option<daiban_proto::ResidentRecord>>;
    /// Whether an application or delivery of the township refers to this photo.
    async fn photo_in_township(&self, township: TownshipId, hash: PhotoHash) -> Result<bool>;
    /// Record what was done about a bad rating (差评整改), audited.
    async fn follow_up_rating(&self, by: StaffId, application: ApplicationId, item: String, note: daiban_proto::text::Remark)
        -> Result<()>;
    async fn statistics(&self, township: TownshipId, period: StatsPeriod) -> Result<Statistics>;
    /// The township's whole audit log (logins, reveals of ID numbers, decisions, devices…),
    /// newest first, keyset-paged by entry id: entries below `before`, at most `limit` (≤ 500).
    async fn township_audit(&self, township: TownshipId, before: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditEntry)>>;
}

/// The current time at the precision both databases keep (microseconds), so that a value
/// read back compares equal to the one written.
fn now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// Whether a transaction writes (SQLite: the single writer connection; PostgreSQL: a
/// transaction) or only reads (SQLite: a reader connection; PostgreSQL: statements without a
/// transaction, each seeing committed data as READ COMMITTED would).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
    /// A write that survives a crash of the centre but may be lost, with the last few before
    /// it, in a power cut (SQLite `synchronous=NORMAL`, PostgreSQL `synchronous_commit=off`):
    /// only for records whose loss costs a resend and nothing else — a tus upload's creation
    /// and offset (the client starts again, or resumes from the older offset whose bytes are
    /// fsynced in the file), and when a device was last heard from (its next request sets it
    /// again). A finished upload's record is a full write. **One statement**: PostgreSQL runs
    /// it without a transaction of its own.
    WriteRelaxed,
    /// A fully durable write that is **one statement** (atomic by itself): PostgreSQL runs it
    /// without BEGIN and COMMIT around it, three round trips fewer; SQLite as [`Mode::Write`].
    WriteOne,
}

/// An operation to run inside one transaction.
pub(crate) type TxFn<R> = Box<dyn for<'t> FnOnce(&'t mut dyn Tx) -> BoxFuture<'t, Result<R>> + Send>;

/// A database that can run a [`TxFn`] in one transaction (commit on `Ok`, roll back on `Err`).
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    async fn transact<R: Send + 'static>(&self, mode: Mode, f: TxFn<R>) -> Result<R>;
}

/// A [`Store`] over a backend.
pub struct Db<B> {
    backend: B,
    rules: Arc<Rules>,
    devices: DeviceCache,
}

impl<B> Db<B> {
    pub(crate) fn new(backend: B, rules: Rules) -> Self {
        Self { backend, rules: Arc::new(rules), devices: DeviceCache::default() }
    }
}

/// Devices authenticated in the last [`DEVICE_CACHE_TTL`], by token fingerprint. A phone
/// sends its requests in bursts (a push, then a `POST` and a `PATCH` per photo), and looking
/// its token up every time was a sixth of the database's work for a photo. A revocation
/// through this store takes effect at once (a request authenticating at that very moment can
/// keep the device for the TTL); one made by another centre process sharing the database,
/// within the TTL. Refusals (unknown or revoked tokens) are never cached.
#[derive(Default)]
struct DeviceCache(std::sync::Mutex<std::collections::HashMap<String, (DeviceAuth, std::time::Instant)>>);

const DEVICE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
/// Entries above which expired ones are dropped.
const DEVICE_CACHE_MAX: usize = 10_000;

impl DeviceCache {
    fn get(&self, fingerprint: &str) -> Option<DeviceAuth> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(fingerprint).filter(|(_, at)| at.elapsed() < DEVICE_CACHE_TTL).map(|(auth, _)| *auth)
    }

    fn put(&self, fingerprint: String, auth: DeviceAuth) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= DEVICE_CACHE_MAX {
            map.retain(|_, (_, at)| at.elapsed() < DEVICE_CACHE_TTL);
        }
        map.insert(fingerprint, (auth, std::time::Instant::now()));
    }

    fn forget(&self, device: DeviceId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, (auth, _)| auth.device_id != device);
    }
}

/// Run `$body` (an expression using the transaction `$tx` and the cloned values) in one
/// transaction of the given mode.
macro_rules! run {
    ($self:ident, $mode:ident, |$tx:ident $(, $v:ident)*| $body:expr) => {{
        $(let $v = $v.clone();)*
        $self.backend.transact(Mode::$mode, Box::new(move |$tx: &mut dyn Tx| Box::pin(async move { $body }))).await
    }};
}

#[async_trait]
impl<B: Backend> Store for Db<B> {
    async fn create_township(&self, code: &str, name: L10n) -> Result<TownshipId> {
        let code = code.to_string();
        run!(self, Write, |tx, code, name| ops::create_township(tx, &code, &name).await)
    }
    async fn township(&self, id: TownshipId) -> Result<Option<Township>> {
        run!(self, Read, |tx| tx.township(id).await)
    }
    async fn township_by_code(&self, code: &str) -> Result<Option<Township>> {
        let code = code.to_string();
        run!(self, Read, |tx, code| tx.township_by_code(&code).await)
    }
    async fn townships(&self) -> Result<Vec<Township>> {
        run!(self, Read, |tx| tx.townships().await)
    }
    async fn create_village(&self, township: TownshipId, code: VillageCode, name: L10n) -> Result<VillageId> {
        run!(self, Write, |tx, code, name| ops::create_village(tx, township, &code, &name, now()).await)
    }
    async fn village(&self, id: VillageId) -> Result<Option<Village>> {
        run!(self, Read, |tx| tx.village(id).await)
    }
    async fn village_by_code(&self, code: &VillageCode) -> Result<Option<Village>> {
        let code = code.clone();
        run!(self, Read, |tx, code| tx.village_by_code(&code).await)
    }
    async fn villages(&self, township: TownshipId) -> Result<Vec<Village>> {
        run!(self, Read, |tx| tx.villages_of(township).await)
    }
    async fn insert_staff(&self, new: NewStaff, password_hash: String) -> Result<StaffId> {
        run!(self, Write, |tx, new, password_hash| ops::insert_staff(tx, &new, &password_hash, now()).await)
    }
    async fn staff(&self, id: StaffId) -> Result<Option<Staff>> {
        run!(self, Read, |tx| tx.staff(id).await)
    }
    async fn staff_credentials(&self, username: &str) -> Result<Option<(Staff, String)>> {
        let username = username.to_string();
        run!(self, Read, |tx, username| tx.staff_credentials(&username).await)
    }
    async fn publish_catalogue(&self, by: StaffId, catalogue: Catalogue) -> Result<u32> {
        run!(self, Write, |tx, catalogue| ops::publish_catalogue(tx, by, &catalogue, now()).await)
    }
    async fn catalogue(&self, township: TownshipId, version: Option<u32>) -> Result<Option<Catalogue>> {
        run!(self, Read, |tx| tx.catalogue(township, version).await)
    }
    async fn create_enrolment_code(&self, by: StaffId, village: VillageId, valid_for: Duration) -> Result<NewEnrolmentCode> {
        run!(self, Write, |tx| ops::create_enrolment_code(tx, by, Some(village), None, valid_for, now()).await)
    }
    async fn create_agent_enrolment_code(&self, by: StaffId, agent: AgentId, valid_for: Duration) -> Result<NewEnrolmentCode> {
        run!(self, Write, |tx| ops::create_enrolment_code(tx, by, None, Some(agent), valid_for, now()).await)
    }
    async fn add_agent(&self, by: StaffId, village: VillageId, name: &str, phone: &str) -> Result<AgentId> {
        let (name, phone) = (name.to_string(), phone.to_string());
        run!(self, Write, |tx, name, phone| ops::add_agent(tx, by, village, &name, &phone, now()).await)
    }
    async fn agents(&self, township: TownshipId) -> Result<Vec<Agent>> {
        run!(self, Read, |tx| tx.agents_of(township).await)
    }
    async fn enrol(&self, req: EnrolRequest) -> Result<EnrolResponse> {
        run!(self, Write, |tx, req| ops::enrol(tx, &req, now()).await)
    }
    async fn authenticate_device(&self, token: &str) -> Result<DeviceAuth> {
        let fingerprint = secret::fingerprint(token);
        if let Some(auth) = self.devices.get(&fingerprint) {
            return Ok(auth);
        }
        let auth = {
            let fingerprint = fingerprint.clone();
            run!(self, Read, |tx, fingerprint| ops::authenticate_device(tx, &fingerprint).await)?
        };
        self.devices.put(fingerprint, auth);
        Ok(auth)
    }
    async fn revoke_device(&self, by: StaffId, device: DeviceId) -> Result<()> {
        // forgotten before and after: a request authenticated while the revocation commits
        // must not put the device back for the TTL
        self.devices.forget(device);
        let result = run!(self, Write, |tx| ops::revoke_device(tx, by, device, now()).await);
        self.devices.forget(device);
        result
    }
    async fn devices(&self, township: TownshipId) -> Result<Vec<DeviceInfo>> {
        run!(self, Read, |tx| tx.devices_of(township).await)
    }
    async fn touch_device(&self, device: DeviceId, queue_len: Option<u32>) -> Result<()> {
        // relaxed: "last heard from" is set again by the device's next request; a durable
        // commit here cost a WAL flush per pull
        run!(self, WriteRelaxed, |tx| tx.touch_device(device, queue_len, now()).await)
    }
    async fn ingest(&self, device: DeviceAuth, event: Event) -> Result<EventOutcome> {
        let rules = self.rules.clone();
        run!(self, Write, |tx, rules, event| ops::ingest(tx, &rules, device, &event, now()).await)
    }
    async fn pull(&self, village: VillageId, after: i64, limit: usize) -> Result<PullResponse> {
        run!(self, Read, |tx| ops::pull(tx, village, after, limit).await)
    }
    async fn photos_missing(&self, hashes: Vec<PhotoHash>) -> Result<Vec<PhotoHash>> {
        run!(self, Read, |tx, hashes| ops::photos_missing(tx, &hashes).await)
    }
    async fn decide(&self, by: StaffId, id: ApplicationId, revision: u32, decision: Decision) -> Result<ApplicationState> {
        let rules = self.rules.clone();
        run!(self, Write, |tx, rules, decision| ops::decide(tx, &rules, by, id, revision, &decision, now()).await)
    }
    async fn application(&self, township: TownshipId, id: ApplicationId) -> Result<Option<ApplicationState>> {
        run!(self, Read, |tx| ops::application_in(tx, township, id).await)
    }
    async fn revisions(&self, township: TownshipId, id: ApplicationId) -> Result<Vec<StoredRevision>> {
        run!(self, Read, |tx| match ops::application_in(tx, township, id).await? {
            Some(_) => tx.revisions(id).await,
            None => Ok(vec![]),
        })
    }
    async fn audit_log(&self, township: TownshipId, id: ApplicationId) -> Result<Vec<AuditEntry>> {
        run!(self, Read, |tx| match ops::application_in(tx, township, id).await? {
            Some(_) => tx.audit_of(id).await,
            None => Ok(vec![]),
        })
    }
    async fn inbox(&self, township: TownshipId, filter: InboxFilter, after: Option<InboxCursor>, limit: u32) -> Result<InboxPage> {
        run!(self, Read, |tx, filter, after| ops::inbox(tx, township, &filter, after.as_ref(), limit).await)
    }
    async fn reveal_id_number(&self, by: StaffId, resident: ResidentId) -> Result<IdNumber> {
        run!(self, Write, |tx| ops::reveal_id_number(tx, by, resident, now()).await)
    }
    async fn ratings_needing_follow_up(&self, township: TownshipId) -> Result<Vec<StoredRating>> {
        run!(self, Read, |tx| tx.ratings_needing_follow_up(township).await)
    }
    async fn photo_upload_allowed(&self, device: DeviceAuth, hash: PhotoHash) -> Result<bool> {
        run!(self, Read, |tx| ops::photo_upload_allowed(tx, device, &hash).await)
    }
    async fn photo_for_upload(&self, device: DeviceAuth, hash: PhotoHash) -> Result<Option<bool>> {
        run!(self, Read, |tx| ops::photo_for_upload(tx, device, &hash).await)
    }
    async fn create_upload(&self, upload: Upload) -> Result<()> {
        // relaxed: lost only in a power cut, when the client's HEAD finds no upload and it
        // starts a new one
        run!(self, WriteRelaxed, |tx, upload| tx.insert_upload(&upload).await)
    }
    async fn upload(&self, device: DeviceId, id: &str) -> Result<Option<Upload>> {
        let id = id.to_string();
        run!(self, Read, |tx, id| ops::device_upload(tx, device, &id).await)
    }
    async fn set_upload_offset(&self, id: &str, offset: u64) -> Result<()> {
        let id = id.to_string();
        run!(self, WriteRelaxed, |tx, id| tx.set_upload_offset(&id, offset, now()).await)
    }
    async fn complete_upload(&self, id: &str, hash: PhotoHash, bytes: u64) -> Result<()> {
        let id = id.to_string();
        run!(self, WriteOne, |tx, id| ops::complete_upload(tx, &id, &hash, bytes, now()).await)
    }
    async fn discard_upload(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        run!(self, Write, |tx, id| tx.delete_upload(&id).await)
    }
    async fn closed_photos(&self, closed_before: DateTime<Utc>, limit: u32) -> Result<Vec<PhotoHash>> {
        run!(self, Read, |tx| retention_ops::closed_photos(tx, closed_before, limit).await)
    }
    async fn forget_closed_photo(&self, hash: PhotoHash, closed_before: DateTime<Utc>) -> Result<bool> {
        run!(self, Write, |tx| retention_ops::purge_photo(tx, &hash, closed_before, now()).await)
    }
    async fn start_staff_session(&self, staff: StaffId, token_hash: String, policy: SessionPolicy) -> Result<()> {
        run!(self, Write, |tx, token_hash| staff_ops::start_staff_session(tx, staff, &token_hash, policy, now()).await)
    }
    async fn staff_session(&self, token_hash: &str, policy: SessionPolicy) -> Result<Option<StaffSession>> {
        let token_hash = token_hash.to_string();
        run!(self, Read, |tx, token_hash| staff_ops::staff_session(tx, &token_hash, policy, now()).await)
    }
    async fn touch_staff_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_string();
        run!(self, Write, |tx, token_hash| tx.touch_staff_session(&token_hash, now()).await)
    }
    async fn end_staff_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_string();
        run!(self, Write, |tx, token_hash| tx.delete_staff_session(&token_hash).await)
    }
    async fn staff_of(&self, township: TownshipId) -> Result<Vec<Staff>> {
        run!(self, Read, |tx| tx.staff_of(township).await)
    }
    async fn insert_staff_by(&self, by: StaffId, new: NewStaff, password_hash: String) -> Result<StaffId> {
        run!(self, Write, |tx, new, password_hash| staff_ops::insert_staff_by(tx, by, &new, &password_hash, now()).await)
    }
    async fn resident(&self, township: TownshipId, id: ResidentId) -> Result<Option<daiban_proto::ResidentRecord>> {
        run!(self, Read, |tx| staff_ops::resident_in(tx, township, id).await)
    }
    async fn photo_in_township(&self, township: TownshipId, hash: PhotoHash) -> Result<bool> {
        run!(self, Read, |tx| tx.photo_in_township(&hash, township).await)
    }
    async fn follow_up_rating(
        &self,
        by: StaffId,
        application: ApplicationId,
        item: String,
        note: daiban_proto::text::Remark,
    ) -> Result<()> {
        run!(self, Write, |tx, item, note| staff_ops::follow_up_rating(tx, by, application, &item, &note, now()).await)
    }
    async fn statistics(&self, township: TownshipId, period: StatsPeriod) -> Result<Statistics> {
        let rules = self.rules.clone();
        run!(self, Read, |tx, rules| staff_ops::statistics(tx, &rules, township, period, now()).await)
    }
    async fn township_audit(&self, township: TownshipId, before: Option<i64>, limit: u32) -> Result<Vec<(i64, AuditEntry)>> {
        run!(self, Read, |tx| tx.township_audit(township, before, limit.clamp(1, 500)).await)
    }
}

/// Where the centre keeps its data, parsed from `--database`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:PATH` (or a bare path).
    Sqlite(std::path::PathBuf),
    /// `postgres://…` or `postgresql://…`
    Postgres(String),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_string()))
        } else {
            let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or(s);
            if path.is_empty() {
                return Err("empty database path / 数据库路径为空".into());
            }
            Ok(Self::Sqlite(path.into()))
        }
    }
}

/// Open (and migrate) the store at `url`.
pub async fn open(url: &DatabaseUrl, rules: Rules) -> Result<Arc<dyn Store>> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Arc::new(Db::new(sqlite::SqliteBackend::open(path).await?, rules)),
        DatabaseUrl::Postgres(url) => Arc::new(Db::new(postgres::PgBackend::connect(url).await?, rules)),
    })
}
