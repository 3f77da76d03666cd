//! The centre's domain operations, written once for every storage backend.
//!
//! Each function here runs inside ONE database transaction (the caller opens and commits it)
//! and talks to the database only through [`Tx`]. This is where the rules live: who may do
//! what (village and township scope, staff roles), which events are acceptable (catalogue,
//! revisions, the review state machine of `daiban_proto::status`), and what every change
//! publishes to the villages' change feeds and to the audit log.
//!
//! A pushed event that is permanently unacceptable becomes `EventResult::Rejected` with a
//! Chinese-first message; that outcome is stored under the event id like a success, so a
//! replay gets the same answer.

use crate::store::error::{invalid, refuse, Result, StoreError};
use crate::store::model::*;
use crate::store::secret;
use crate::store::tx::{Claim, Tx};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use daiban_proto::catalogue::{Catalogue, L10n};
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::{apply_decision, overall, Decision, DeliveryMode, ItemStatus, Stage};
use daiban_proto::sync::{
    ChangeBody, DeliveryTask, EnrolRequest, EnrolResponse, ErrorCode, Event, EventBody, EventOutcome, EventResult, PullResponse,
};
use daiban_proto::workdays::WorkCalendar;
use daiban_proto::{ApplicationId, ApplicationRecord, DeliveryId, DeviceId, IdNumber, PhotoHash, ResidentId, ResidentRecord};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Settings the rules need besides the data.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Working days for time limits: weekends, statutory holidays and make-up working days
    /// (by default [`WorkCalendar::china`]; `serve --holidays` reads a township's own file).
    pub calendar: WorkCalendar,
    /// Catalogue versions already read (shared by the clones of these rules).
    pub(crate) catalogues: Arc<CatalogueCache>,
}

impl Default for Rules {
    fn default() -> Self {
        Self { calendar: WorkCalendar::china(), catalogues: Arc::default() }
    }
}

/// Catalogue versions read so far. A published version never changes (a changed catalogue
/// is a new version), so each is read and parsed once per process instead of once per pushed
/// application — a catalogue is tens of KB of JSON, most of the database's work for a push.
#[derive(Debug, Default)]
pub(crate) struct CatalogueCache(Mutex<HashMap<(TownshipId, u32), Arc<Catalogue>>>);

impl CatalogueCache {
    /// The township's catalogue `version`, if it exists (committed, as `tx` sees it).
    async fn version(&self, tx: &mut dyn Tx, township: TownshipId, version: u32) -> Result<Option<Arc<Catalogue>>> {
        if let Some(c) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&(township, version)) {
            return Ok(Some(c.clone()));
        }
        let Some(c) = tx.catalogue(township, Some(version)).await? else { return Ok(None) };
        let c = Arc::new(c);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert((township, version), c.clone());
        Ok(Some(c))
    }
}

/// The calendar day in China (UTC+8, no daylight saving) of an instant.
pub fn china_date(t: DateTime<Utc>) -> NaiveDate {
    daiban_proto::china_time::date(t)
}

fn audit(
    township: TownshipId,
    actor: Actor,
    app: Option<ApplicationId>,
    action: &str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry { at, township_id: township, actor, application_id: app, action: action.into(), detail }
}

// ---------------------------------------------------------------- places and staff

pub(crate) async fn create_township(tx: &mut dyn Tx, code: &str, name: &L10n) -> Result<TownshipId> {
    let code = code.trim();
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid("code", "镇代码应为1–32位字母或数字 / township code must be 1–32 letters or digits"));
    }
    if tx.township_by_code(code).await?.is_some() {
        return Err(refuse(ErrorCode::Conflict, format!("镇代码 {code} 已存在 / township {code} exists")));
    }
    tx.insert_township(code, name).await
}

/// A new village; it gets the township's current catalogue in its change feed at once, so a
/// device enrolled there later finds it on its first pull.
pub(crate) async fn create_village(
    tx: &mut dyn Tx,
    township: TownshipId,
    code: &VillageCode,
    name: &L10n,
    now: DateTime<Utc>,
) -> Result<VillageId> {
    if tx.township(township).await?.is_none() {
        return Err(refuse(ErrorCode::NotFound, "镇不存在 / no such township"));
    }
    if tx.village_by_code(code).await?.is_some() {
        return Err(refuse(ErrorCode::Conflict, format!("村代码 {code} 已存在 / village {code} exists")));
    }
    let id = tx.insert_village(township, code, name).await?;
    if let Some(catalogue) = tx.catalogue(township, None).await? {
        tx.append_change(id, now, &ChangeBody::Catalogue { catalogue }).await?;
    }
    Ok(id)
}

pub(crate) async fn insert_staff(tx: &mut dyn Tx, new: &NewStaff, password_hash: &str, now: DateTime<Utc>) -> Result<StaffId> {
    let username = new.username.trim();
    if username.is_empty() || username.chars().count() > 40 || username.chars().any(char::is_whitespace) {
        return Err(invalid("username", "用户名应为1–40个字符且不含空格 / user name must be 1–40 characters without spaces"));
    }
    daiban_proto::text::clean(&new.display_name, "显示名称", "display name", 40, false)
        .map_err(|e| invalid("display_name", e.to_string()))?;
    if tx.township(new.township_id).await?.is_none() {
        return Err(refuse(ErrorCode::NotFound, "镇不存在 / no such township"));
    }
    if tx.staff_credentials(username).await?.is_some() {
        return Err(StoreError::Refused(crate::store::Refusal {
            code: ErrorCode::Conflict,
            message: format!("用户名 {username} 已被使用 / user name {username} is taken"),
            field: Some("username".into()),
        }));
    }
    let new = NewStaff { username: username.to_string(), ..new.clone() };
    tx.insert_staff(&new, password_hash, now).await
}

async fn acting_staff(tx: &mut dyn Tx, id: StaffId) -> Result<Staff> {
    match tx.staff(id).await? {
        Some(s) if s.active => Ok(s),
        _ => Err(refuse(ErrorCode::Unauthorized, "工作人员账号不存在或已停用 / staff account unknown or disabled")),
    }
}

fn require_admin(s: &Staff, what: &str) -> Result<()> {
    if s.role == Role::TownshipAdmin {
        Ok(())
    } else {
        Err(refuse(ErrorCode::Forbidden, format!("只有镇管理员可以{what} / only a township admin may do this")))
    }
}

/// A village of the staff member's own township (others are reported as not found, so that
/// staff learn nothing about other townships).
async fn own_village(tx: &mut dyn Tx, staff: &Staff, village: VillageId) -> Result<Village> {
    match tx.village(village).await? {
        Some(v) if v.township_id == staff.township_id => Ok(v),
        _ => Err(refuse(ErrorCode::NotFound, "村不存在 / no such village")),
    }
}

// ---------------------------------------------------------------- catalogue

pub(crate) async fn publish_catalogue(tx: &mut dyn Tx, by: StaffId, catalogue: &Catalogue, now: DateTime<Utc>) -> Result<u32> {
    let staff = acting_staff(tx, by).await?;
    require_admin(&staff, "发布事项清单")?;
    catalogue.validate().map_err(|e| invalid("catalogue", format!("事项清单有误:{e} / invalid catalogue: {e}")))?;
    if let Some(latest) = tx.catalogue(staff.township_id, None).await? {
        if catalogue.version <= latest.version {
            return Err(refuse(
                ErrorCode::Conflict,
                format!("事项清单版本应大于当前的第{}版 / catalogue version must be above {}", latest.version, latest.version),
            ));
        }
    }
    tx.insert_catalogue(staff.township_id, catalogue, Some(by), now).await?;
    for v in tx.villages_of(staff.township_id).await? {
        tx.append_change(v.id, now, &ChangeBody::Catalogue { catalogue: catalogue.clone() }).await?;
    }
    let detail = serde_json::json!({ "version": catalogue.version });
    tx.insert_audit(&audit(staff.township_id, Actor::Staff { id: by }, None, "catalogue.publish", detail, now)).await?;
    Ok(catalogue.version)
}

// ---------------------------------------------------------------- devices

/// Put a village agent (代办员) on the roster of the admin's township (audited).
pub(crate) async fn add_agent(
    tx: &mut dyn Tx,
    by: StaffId,
    village: VillageId,
    name: &str,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<AgentId> {
    let staff = acting_staff(tx, by).await?;
    require_admin(&staff, "登记代办员")?;
    own_village(tx, &staff, village).await?;
    let name = daiban_proto::text::PersonName::parse(name).map_err(|e| invalid("name", e.to_string()))?;
    let phone = daiban_proto::text::Phone::parse(phone).map_err(|e| invalid("phone", e.to_string()))?;
    let id = tx.insert_agent(village, name.as_str(), phone.as_str(), now).await?;
    let detail = serde_json::json!({ "agent_id": id, "village_id": village, "name": name.as_str() });
    tx.insert_audit(&audit(staff.township_id, Actor::Staff { id: by }, None, "agent.add", detail, now)).await?;
    Ok(id)
}

/// A one-time enrolment code for a phone of `village`, or of the agent's village for a code
/// issued to a named agent (the phone enrolled with it is then that agent's).
pub(crate) async fn create_enrolment_code(
    tx: &mut dyn Tx,
    by: StaffId,
    village: Option<VillageId>,
    agent: Option<AgentId>,
    valid_for: Duration,
    now: DateTime<Utc>,
) -> Result<NewEnrolmentCode> {
    let staff = acting_staff(tx, by).await?;
    require_admin(&staff, "生成设备注册码")?;
    let agent = match agent {
        Some(id) => Some(tx.agent(id).await?.ok_or_else(|| refuse(ErrorCode::NotFound, "代办员不存在 / no such agent"))?),
        None => None,
    };
    let village = match (&agent, village) {
        (Some(a), _) => a.village_id,
        (None, Some(v)) => v,
        (None, None) => return Err(invalid("village", "请选择村 / choose a village")),
    };
    own_village(tx, &staff, village).await?;
    let code = secret::new_enrolment_code();
    let expires_at = now + valid_for;
    let hash = secret::fingerprint(&secret::normalise_code(&code));
    tx.insert_enrolment_code(&hash, village, by, now, expires_at).await?;
    if let Some(a) = &agent {
        tx.set_code_agent(&hash, a.id).await?;
    }
    let detail = serde_json::json!({ "village_id": village, "expires_at": expires_at, "agent_id": agent.as_ref().map(|a| a.id) });
    tx.insert_audit(&audit(staff.township_id, Actor::Staff { id: by }, None, "enrolment_code.create", detail, now)).await?;
    Ok(NewEnrolmentCode { code, village_id: village, agent_id: agent.map(|a| a.id), expires_at })
}

pub(crate) async fn enrol(tx: &mut dyn Tx, req: &EnrolRequest, now: DateTime<Utc>) -> Result<EnrolResponse> {
    let name = daiban_proto::text::clean(&req.device_name, "设备名称", "device name", 60, false)
        .map_err(|e| invalid("device_name", e.to_string()))?;
    let bad_code =
        || refuse(ErrorCode::EnrolmentCode, "注册码无效、已使用或已过期,请向镇中心索取新码 / enrolment code unknown, used or expired");
    let key = match &req.device_key {
        Some(k) if daiban_proto::sync::is_device_token(k) => Some(k.clone()),
        Some(_) => return Err(invalid("device_key", "设备密钥格式不对 / device_key must be dbn_ and 64 hex digits")),
        None => None,
    };
    let hash = secret::fingerprint(&secret::normalise_code(&req.code));
    let code = tx.enrolment_code_for_update(&hash).await?.ok_or_else(bad_code)?;
    let holder = match &key {
        Some(k) => tx.device_by_token_hash(&secret::fingerprint(k)).await?,
        None => None,
    };
    if code.used {
        // The same phone asking again (its answer was lost): the same answer, once more.
        return match (holder, key) {
            (Some(d), Some(key)) if !d.revoked && d.auth.village_id == code.village_id => {
                let village = tx.village(code.village_id).await?.ok_or_else(bad_code)?;
                let township = tx.township(village.township_id).await?.ok_or_else(bad_code)?;
                Ok(EnrolResponse {
                    device_id: d.auth.device_id,
                    token: key,
                    township: township.name,
                    village_code: village.code.to_string(),
                    village_name: village.name,
                })
            }
            _ => Err(bad_code()),
        };
    }
    if code.expires_at <= now {
        return Err(bad_code());
    }
    if holder.is_some() {
        return Err(invalid("device_key", "此设备密钥已被使用,请重新生成 / device_key already in use, make a new one"));
    }
    let village = tx.village(code.village_id).await?.ok_or_else(bad_code)?;
    let township = tx.township(village.township_id).await?.ok_or_else(bad_code)?;
    let device_id = DeviceId::new();
    let token = key.unwrap_or_else(secret::new_device_token);
    tx.insert_device(device_id, village.id, &name, &secret::fingerprint(&token), now).await?;
    if let Some(agent) = code.agent_id {
        tx.set_device_agent(device_id, agent).await?;
    }
    tx.use_enrolment_code(code.id, device_id, now).await?;
    let detail = serde_json::json!({ "village_id": village.id, "name": name });
    tx.insert_audit(&audit(township.id, Actor::Device { id: device_id }, None, "device.enrol", detail, now)).await?;
    Ok(EnrolResponse { device_id, token, township: township.name, village_code: village.code.to_string(), village_name: village.name })
}

/// The device whose token has this [`secret::fingerprint`].
pub(crate) async fn authenticate_device(tx: &mut dyn Tx, token_fingerprint: &str) -> Result<DeviceAuth> {
    match tx.device_by_token_hash(token_fingerprint).await? {
        None => Err(refuse(ErrorCode::Unauthorized, "设备未注册或令牌无效 / unknown device token")),
        Some(d) if d.revoked => {
            Err(refuse(ErrorCode::Revoked, "此设备已被镇中心停用,请重新注册 / this device was revoked by the township centre"))
        }
        Some(d) => Ok(d.auth),
    }
}

pub(crate) async fn revoke_device(tx: &mut dyn Tx, by: StaffId, device: DeviceId, now: DateTime<Utc>) -> Result<()> {
    let staff = acting_staff(tx, by).await?;
    require_admin(&staff, "停用设备")?;
    match tx.device(device).await? {
        Some(d) if d.auth.township_id == staff.township_id => {
            if !d.revoked {
                tx.revoke_device(device, by, now).await?;
                let detail = serde_json::json!({ "device_id": device });
                tx.insert_audit(&audit(staff.township_id, Actor::Staff { id: by }, None, "device.revoke", detail, now)).await?;
            }
            Ok(())
        }
        _ => Err(refuse(ErrorCode::NotFound, "设备不存在 / no such device")),
    }
}

// ---------------------------------------------------------------- ingest

/// Apply one pushed event exactly once. A replay (same event id) returns the stored outcome
/// unchanged; a concurrent duplicate waits for the first and gets its answer.
pub(crate) async fn ingest(tx: &mut dyn Tx, rules: &Rules, device: DeviceAuth, event: &Event, now: DateTime<Utc>) -> Result<EventOutcome> {
    let outcome = |result| EventOutcome { event_id: event.id, result };
    match tx.claim_event(event.id, device.device_id, event.body.kind(), now).await? {
        Claim::Done { device_id, outcome: stored } if device_id == device.device_id => return Ok(outcome(stored)),
        Claim::Done { .. } => {
            return Ok(outcome(EventResult::Rejected {
                code: ErrorCode::Conflict,
                message: format!("事件编号 {} 已被另一台设备使用 / event id used by another device", event.id),
            }))
        }
        Claim::New => {}
    }
    tx.savepoint().await?;
    let result = match apply_event(tx, rules, device, event, now).await {
        Ok(()) => EventResult::Applied,
        Err(StoreError::Refused(r)) => {
            tx.rollback_to_savepoint().await?;
            EventResult::Rejected { code: r.code, message: r.message }
        }
        Err(e) => return Err(e),
    };
    tx.store_outcome(event.id, &result).await?;
    Ok(outcome(result))
}

async fn apply_event(tx: &mut dyn Tx, rules: &Rules, device: DeviceAuth, event: &Event, now: DateTime<Utc>) -> Result<()> {
    match &event.body {
        EventBody::ResidentUpserted { resident } => upsert_resident(tx, device, resident, now).await,
        EventBody::ApplicationSubmitted { application } => submit(tx, rules, device, application, event, now).await,
        EventBody::DeliveryConfirmed { delivery } => confirm_delivery(tx, device, delivery, event, now).await,
        EventBody::RatingGiven { rating } => rate(tx, device, rating, now).await,
    }
}

fn other_village(what: &str) -> StoreError {
    refuse(ErrorCode::Forbidden, format!("{what}属于其他村,本设备无权操作 / the {what} belongs to another village"))
}

async fn upsert_resident(tx: &mut dyn Tx, device: DeviceAuth, r: &ResidentRecord, now: DateTime<Utc>) -> Result<()> {
    match tx.resident_home(r.id).await? {
        Some((village, _)) if village != device.village_id => Err(other_village("该居民")),
        // Records are sent whole; an older copy arriving late never overwrites a newer one.
        Some((_, updated_at)) if updated_at > r.updated_at => Ok(()),
        _ => tx.upsert_resident(device.village_id, r, now).await,
    }
}

/// Most form answers one application may carry, and the longest key. (Each answer is at most
/// a [`FieldText`](daiban_proto::text::FieldText): the record's `fields` are plain strings on
/// the wire, so without these bounds a device could store megabytes of text per application.)
const MAX_FIELDS: usize = 100;
const MAX_FIELD_KEY: usize = 64;

/// The application's items and materials must exist in the catalogue version it names, and
/// its form answers must be of a sane size.
fn check_against_catalogue(c: &Catalogue, a: &ApplicationRecord) -> Result<()> {
    if a.items.is_empty() {
        return Err(invalid("items", "申请中没有事项 / the application lists no service item"));
    }
    let max_value = daiban_proto::text::FieldText::MAX;
    if a.fields.len() > MAX_FIELDS || a.fields.iter().any(|(k, v)| k.chars().count() > MAX_FIELD_KEY || v.chars().count() > max_value) {
        return Err(invalid(
            "fields",
            format!(
                "填写内容太多或太长（每项最多{max_value}个字） / too many or too long form answers (at most {max_value} characters each)"
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for code in &a.items {
        if !seen.insert(code.as_str()) {
            return Err(invalid("items", format!("事项 {code} 重复 / item {code} listed twice")));
        }
        if c.item(code).is_none() {
            return Err(invalid(
                "items",
                format!("事项 {code} 不在第{}版事项清单中 / unknown service item {code} in catalogue version {}", c.version, c.version),
            ));
        }
    }
    match &a.bundle {
        Some(code) => {
            let b = c.bundle(code).ok_or_else(|| invalid("bundle", format!("“一件事” {code} 不在事项清单中 / unknown bundle {code}")))?;
            if b.items.iter().map(String::as_str).collect::<BTreeSet<_>>() != seen {
                return Err(invalid(
                    "items",
                    format!(
                        "“一件事” {code} 应包含事项 {} / bundle {code} must contain exactly {}",
                        b.items.join("、"),
                        b.items.join(", ")
                    ),
                ));
            }
        }
        None if a.items.len() > 1 => {
            return Err(invalid("bundle", "多个事项须作为“一件事”提交 / several items must be submitted as a bundle"));
        }
        None => {}
    }
    let wanted = c.materials_for(&a.items);
    if let Some(m) = a.materials.iter().find(|m| !wanted.iter().any(|w| w.code == m.code)) {
        return Err(invalid(
            "materials",
            format!("材料 {} 不是所申请事项需要的材料 / material {} is not asked for by these items", m.code, m.code),
        ));
    }
    Ok(())
}

/// Deadline `time limit` working days after `from` (the day itself does not count).
fn deadline(rules: &Rules, c: &Catalogue, items: &[String], from: DateTime<Utc>) -> NaiveDate {
    rules.calendar.add_working_days(china_date(from), c.time_limit_for(items))
}

async fn submit(
    tx: &mut dyn Tx,
    rules: &Rules,
    device: DeviceAuth,
    a: &ApplicationRecord,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<()> {
    let catalogue = rules.catalogues.version(tx, device.township_id, a.catalogue_version).await?.ok_or_else(|| {
        invalid(
            "catalogue_version",
            format!("第{}版事项清单不存在,请先同步 / catalogue version {} is unknown", a.catalogue_version, a.catalogue_version),
        )
    })?;
    check_against_catalogue(&catalogue, a)?;
    match tx.resident_home(a.resident_id).await? {
        None => {
            return Err(invalid(
                "resident_id",
                format!("居民 {} 的信息尚未上传 / resident {} is not known to the centre", a.resident_id, a.resident_id),
            ))
        }
        Some((village, _)) if village != device.village_id => return Err(other_village("该居民")),
        Some(_) => {}
    }
    let due = deadline(rules, &catalogue, &a.items, now);
    let state = match tx.application_for_update(a.id).await? {
        None => {
            if a.revision != 1 {
                return Err(refuse(
                    ErrorCode::Conflict,
                    format!(
                        "中心没有此申请,修订号应为1(收到{}) / unknown application, revision must be 1 (got {})",
                        a.revision, a.revision
                    ),
                ));
            }
            let items: Vec<_> = a.items.iter().map(|i| (i.clone(), ItemStatus::Pending)).collect();
            let state = ApplicationState {
                id: a.id,
                township_id: device.township_id,
                village_id: device.village_id,
                resident_id: a.resident_id,
                device_id: device.device_id,
                bundle: a.bundle.clone(),
                status: overall(Stage::Received, &statuses(&items)),
                items,
                stage: Stage::Received,
                revision: 1,
                catalogue_version: a.catalogue_version,
                received_at: now,
                accepted_at: None,
                deadline: due,
                updated_at: now,
            };
            if !tx.insert_application(&state).await? {
                return Err(refuse(ErrorCode::Conflict, format!("申请 {} 已存在 / application {} exists", a.id, a.id)));
            }
            state
        }
        Some(mut s) => {
            if s.village_id != device.village_id {
                return Err(other_village("该申请"));
            }
            if a.revision <= s.revision {
                return Err(refuse(
                    ErrorCode::Conflict,
                    format!(
                        "修订{}已收到过(中心最新为修订{}) / revision {} already received (latest is {})",
                        a.revision, s.revision, a.revision, s.revision
                    ),
                ));
            }
            if a.revision != s.revision + 1 {
                return Err(refuse(
                    ErrorCode::Conflict,
                    format!("修订号应为{}(收到{}) / revision must be {} (got {})", s.revision + 1, a.revision, s.revision + 1, a.revision),
                ));
            }
            if s.stage != Stage::Returned {
                return Err(refuse(ErrorCode::Conflict, "申请未被退回补正,不能重新提交 / the application was not returned for correction"));
            }
            if a.resident_id != s.resident_id || a.items != s.items.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>() {
                return Err(invalid("items", "补正时不能更换居民或事项 / a correction cannot change the resident or the items"));
            }
            s.revision = a.revision;
            s.catalogue_version = a.catalogue_version;
            s.stage = Stage::Received;
            s.status = overall(Stage::Received, &statuses(&s.items));
            s.received_at = now;
            s.accepted_at = None;
            s.deadline = due;
            s.updated_at = now;
            tx.update_application(&s).await?;
            s
        }
    };
    tx.insert_revision(a, event.id, now).await?;
    let hashes: Vec<PhotoHash> = a.photos().map(|p| p.hash).collect();
    tx.insert_photo_refs(a.id, device.village_id, &hashes).await?;
    tx.append_change(
        device.village_id,
        now,
        &ChangeBody::Received { application_id: a.id, revision: a.revision, deadline: Some(state.deadline) },
    )
    .await?;
    let detail = serde_json::json!({ "revision": a.revision, "event_id": event.id });
    tx.insert_audit(&audit(state.township_id, Actor::Device { id: device.device_id }, Some(a.id), "submitted", detail, now)).await?;
    Ok(())
}

fn statuses(items: &[(String, ItemStatus)]) -> Vec<ItemStatus> {
    items.iter().map(|(_, s)| *s).collect()
}

/// The application, locked, if it belongs to the device's village.
async fn village_application(tx: &mut dyn Tx, device: DeviceAuth, id: ApplicationId) -> Result<ApplicationState> {
    match tx.application_for_update(id).await? {
        None => Err(refuse(ErrorCode::NotFound, format!("申请 {id} 不存在 / no application {id}"))),
        Some(a) if a.village_id != device.village_id => Err(other_village("该申请")),
        Some(a) => Ok(a),
    }
}

async fn confirm_delivery(tx: &mut dyn Tx, device: DeviceAuth, d: &DeliveryRecord, event: &Event, now: DateTime<Utc>) -> Result<()> {
    let mut app = village_application(tx, device, d.application_id).await?;
    let task =
        tx.delivery(d.delivery_id).await?.filter(|t| t.task.application_id == d.application_id && t.task.item == d.item).ok_or_else(
            || {
                invalid(
                    "delivery_id",
                    format!("没有事项 {} 的送达任务 {} / no delivery task {} for item {}", d.item, d.delivery_id, d.delivery_id, d.item),
                )
            },
        )?;
    if task.delivered {
        return Err(refuse(ErrorCode::Conflict, format!("事项 {} 已送达 / item {} was already delivered", d.item, d.item)));
    }
    app.stage = apply_decision(app.stage, &mut app.items, &Decision::Delivered { item: d.item.clone() })
        .map_err(|e| refuse(ErrorCode::Conflict, e.to_string()))?;
    app.status = overall(app.stage, &statuses(&app.items));
    app.updated_at = now;
    tx.update_application(&app).await?;
    tx.confirm_delivery(d, event.id).await?;
    tx.insert_photo_refs(app.id, app.village_id, &[d.proof.photo().hash]).await?;
    // who signed and the proof, for the staff timeline (the township's own audit log)
    let proof = match &d.proof {
        Proof::Signature { photo } => serde_json::json!({ "kind": "signature", "hash": photo.hash.to_hex() }),
        Proof::Photo { photo } => serde_json::json!({ "kind": "photo", "hash": photo.hash.to_hex() }),
    };
    let detail = serde_json::json!({
        "item": d.item, "delivery_id": d.delivery_id, "delivered_at": d.delivered_at,
        "recipient": d.recipient.as_str(), "proof": proof,
    });
    tx.insert_audit(&audit(app.township_id, Actor::Device { id: device.device_id }, Some(app.id), "delivered", detail, now)).await?;
    Ok(())
}

async fn rate(tx: &mut dyn Tx, device: DeviceAuth, r: &RatingRecord, now: DateTime<Utc>) -> Result<()> {
    let mut app = village_application(tx, device, r.application_id).await?;
    let Some(i) = app.items.iter().position(|(c, _)| *c == r.item) else {
        return Err(invalid("item", format!("申请中没有事项 {} / no item {} in this application", r.item, r.item)));
    };
    if app.items[i].1 != ItemStatus::Delivered {
        return Err(refuse(
            ErrorCode::Conflict,
            format!("事项 {} 当前为“{}”,只能对已送达的事项评价 / only a delivered item can be rated", r.item, app.items[i].1.label().zh),
        ));
    }
    // Results collected at the centre have no delivery task; a home delivery must be named.
    if let Some(t) = tx.delivery_for_item(app.id, &r.item).await? {
        if t.task.id != r.delivery_id {
            return Err(invalid("delivery_id", format!("送达任务应为 {} / the delivery of this item is {}", t.task.id, t.task.id)));
        }
    }
    app.items[i].1 = ItemStatus::Rated;
    app.status = overall(app.stage, &statuses(&app.items));
    app.updated_at = now;
    tx.update_application(&app).await?;
    tx.insert_rating(r, app.village_id, r.rating.is_bad(), now).await?;
    let detail = serde_json::json!({
        "item": r.item, "score": r.rating.score(), "follow_up": r.rating.is_bad(),
        "comment": r.comment.as_ref().map(|c| c.as_str()),
    });
    tx.insert_audit(&audit(app.township_id, Actor::Device { id: device.device_id }, Some(app.id), "rated", detail, now)).await?;
    Ok(())
}

// ---------------------------------------------------------------- staff decisions

/// Record a staff decision on revision `revision` (the one the reviewer looked at) of an
/// application, publish it to the village's devices and, for a result to be delivered home,
/// create the delivery task.
pub(crate) async fn decide(
    tx: &mut dyn Tx,
    rules: &Rules,
    by: StaffId,
    id: ApplicationId,
    revision: u32,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<ApplicationState> {
    let staff = acting_staff(tx, by).await?;
    let mut app = match tx.application_for_update(id).await? {
        Some(a) if a.township_id == staff.township_id => a,
        _ => return Err(refuse(ErrorCode::NotFound, format!("申请 {id} 不存在 / no application {id}"))),
    };
    if revision != app.revision {
        return Err(refuse(
            ErrorCode::Conflict,
            format!("申请已更新为修订{},请刷新后再操作 / the application is now at revision {}", app.revision, app.revision),
        ));
    }
    let catalogue = tx
        .catalogue(app.township_id, Some(app.catalogue_version))
        .await?
        .ok_or_else(|| StoreError::Backend(format!("catalogue version {} missing", app.catalogue_version).into()))?;
    if let Decision::Return { materials, .. } = decision {
        if let Some(m) = materials.iter().find(|m| catalogue.material(m).is_none()) {
            return Err(invalid("materials", format!("材料 {m} 不在事项清单中 / unknown material {m}")));
        }
    }
    app.stage = apply_decision(app.stage, &mut app.items, decision).map_err(|e| refuse(ErrorCode::Conflict, e.to_string()))?;
    app.status = overall(app.stage, &statuses(&app.items));
    app.updated_at = now;
    if *decision == Decision::Accept {
        let codes: Vec<String> = app.items.iter().map(|(c, _)| c.clone()).collect();
        app.accepted_at = Some(now);
        app.deadline = deadline(rules, &catalogue, &codes, now);
    }
    tx.update_application(&app).await?;
    let body = ChangeBody::Decision {
        application_id: id,
        revision,
        decision: decision.clone(),
        by: staff.display_name.clone(),
        deadline: (*decision == Decision::Accept).then_some(app.deadline),
    };
    tx.append_change(app.village_id, now, &body).await?;
    if let Decision::ResultReady { item, mode: DeliveryMode::Home } = decision {
        let task = DeliveryTask {
            id: DeliveryId::new(),
            application_id: id,
            item: item.clone(),
            resident_id: app.resident_id,
            mode: DeliveryMode::Home,
            result: catalogue.item(item).map(|i| i.result.clone()).unwrap_or_default(),
            note: None,
        };
        tx.insert_delivery(&task, app.village_id, now).await?;
        tx.append_change(app.village_id, now, &ChangeBody::DeliveryTask { task }).await?;
    }
    let action = format!("decision.{}", decision_name(decision));
    let detail = serde_json::json!({ "revision": revision, "decision": decision });
    tx.insert_audit(&audit(app.township_id, Actor::Staff { id: by }, Some(id), &action, detail, now)).await?;
    Ok(app)
}

fn decision_name(d: &Decision) -> &'static str {
    match d {
        Decision::Accept => "accept",
        Decision::Return { .. } => "return",
        Decision::Reject { .. } => "reject",
        Decision::Approve { .. } => "approve",
        Decision::ResultReady { .. } => "result_ready",
        Decision::Delivered { .. } => "delivered",
    }
}

/// The full ID number of a resident of the staff member's township; every reveal is audited.
pub(crate) async fn reveal_id_number(tx: &mut dyn Tx, by: StaffId, resident: ResidentId, now: DateTime<Utc>) -> Result<IdNumber> {
    let staff = acting_staff(tx, by).await?;
    let not_found = || refuse(ErrorCode::NotFound, "居民不存在 / no such resident");
    let (village, record) = tx.resident(resident).await?.ok_or_else(not_found)?;
    own_village(tx, &staff, village).await.map_err(|_| not_found())?;
    let detail = serde_json::json!({ "resident_id": resident });
    tx.insert_audit(&audit(staff.township_id, Actor::Staff { id: by }, None, "reveal_id_number", detail, now)).await?;
    Ok(record.id_number)
}

// ---------------------------------------------------------------- reads

pub(crate) async fn pull(tx: &mut dyn Tx, village: VillageId, after: i64, limit: usize) -> Result<PullResponse> {
    let limit = limit.clamp(1, daiban_proto::sync::MAX_PULL_CHANGES);
    let mut changes = tx.changes(village, after, limit as u32 + 1).await?;
    let more = changes.len() > limit;
    changes.truncate(limit);
    let cursor = changes.last().map_or(after, |c| c.seq);
    Ok(PullResponse { changes, cursor, more })
}

pub(crate) async fn photos_missing(tx: &mut dyn Tx, hashes: &[PhotoHash]) -> Result<Vec<PhotoHash>> {
    let present: BTreeSet<PhotoHash> = tx.photos_present(hashes).await?.into_iter().collect();
    let mut seen = BTreeSet::new();
    Ok(hashes.iter().filter(|h| !present.contains(h) && seen.insert(**h)).copied().collect())
}

/// An application of the given township (`None` for other townships' applications).
pub(crate) async fn application_in(tx: &mut dyn Tx, township: TownshipId, id: ApplicationId) -> Result<Option<ApplicationState>> {
    Ok(tx.application(id).await?.filter(|a| a.township_id == township))
}

pub(crate) async fn inbox(
    tx: &mut dyn Tx,
    township: TownshipId,
    filter: &InboxFilter,
    after: Option<&InboxCursor>,
    limit: u32,
) -> Result<InboxPage> {
    let limit = limit.clamp(1, 500);
    let mut rows = tx.inbox(township, filter, after, limit + 1).await?;
    let next = (rows.len() > limit as usize).then(|| rows[limit as usize - 1].cursor());
    rows.truncate(limit as usize);
    Ok(InboxPage { rows, next })
}

// ---------------------------------------------------------------- uploads

/// May this device upload this photo? Only photos that an application or delivery of its own
/// village refers to are accepted (the text always travels before its photos).
pub(crate) async fn photo_upload_allowed(tx: &mut dyn Tx, device: DeviceAuth, hash: &PhotoHash) -> Result<bool> {
    tx.photo_referenced(hash, device.village_id).await
}

/// For a new upload of the photo by `device`: `None` if the device's village has nothing that
/// refers to it (it may not upload it), else whether the centre has it already.
pub(crate) async fn photo_for_upload(tx: &mut dyn Tx, device: DeviceAuth, hash: &PhotoHash) -> Result<Option<bool>> {
    let (referenced, present) = tx.photo_referenced_and_present(hash, device.village_id).await?;
    Ok(referenced.then_some(present))
}

/// The upload, if it is this device's.
pub(crate) async fn device_upload(tx: &mut dyn Tx, device: DeviceId, id: &str) -> Result<Option<Upload>> {
    Ok(tx.upload(id).await?.filter(|u| u.device_id == device))
}

pub(crate) async fn complete_upload(tx: &mut dyn Tx, id: &str, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()> {
    tx.record_photo_upload(id, hash, bytes, now).await
}
