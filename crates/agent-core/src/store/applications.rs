//! Capturing applications: drafts, form answers, material photos (with reuse), submission.
//!
//! An application is editable while it is a draft or has been returned for correction.
//! Submitting validates the one form and the materials checklist, then — in one transaction —
//! freezes the revision, queues the resident (first time only) and the application in the
//! outbox, and records the step in the timeline.

use super::residents::{queue_resident_tx, resident_tx};
use super::{insert_photo, parse_json, parse_str, parse_ts, ts, Result, Store, StoreError};
use crate::forms::{check_fields, FieldError};
use crate::photo::PipelineOptions;
use chrono::{DateTime, Utc};
use daiban_proto::catalogue::{FieldKind, FieldSpec, L10n, MaterialKind};
use daiban_proto::status::{overall, Decision, ItemStatus, Stage};
use daiban_proto::sync::{Event, EventBody};
use daiban_proto::text::Remark;
use daiban_proto::{
    AppStatus, ApplicationId, ApplicationRecord, Catalogue, EventId, MaterialRecord, PhotoHash, PhotoRef, Rating, ResidentId,
    ResidentRecord,
};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What to apply for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Item(String),
    Bundle(String),
}

/// A line in the application list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationSummary {
    pub id: ApplicationId,
    pub resident_id: ResidentId,
    pub resident_name: String,
    pub title: L10n,
    pub is_bundle: bool,
    pub status: AppStatus,
    pub revision: u32,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub photos: u32,
    pub return_reason: Option<String>,
    /// The centre's 办结期限, once it has received the application.
    pub deadline: Option<chrono::NaiveDate>,
}

/// One line of the materials checklist with its photos.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialView {
    pub kind: MaterialKind,
    pub required: bool,
    pub note: L10n,
    pub photos: Vec<PhotoRef>,
    pub reused_from: Option<ApplicationId>,
    /// The centre asked for this material again (退回补正).
    pub requested_again: bool,
    /// It was asked for again and now has a photo the returned revision did not have.
    pub retaken: bool,
}

impl MaterialView {
    /// Asked for again and not re-taken yet: the agent still has to photograph it.
    pub fn needs_retake(&self) -> bool {
        self.requested_again && !self.retaken
    }

    /// Enough photos for a required material (or any for an optional one).
    pub fn complete(&self) -> bool {
        !self.required || self.photos.len() >= usize::from(self.kind.photos.max(1))
    }
}

/// Something that happened to an application, shown in its timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineEvent {
    Created,
    Submitted {
        revision: u32,
    },
    Received {
        revision: u32,
    },
    Decision {
        decision: Decision,
        by: String,
    },
    DeliveryTask {
        item: String,
    },
    Delivered {
        item: String,
        recipient: String,
    },
    Rated {
        item: String,
        rating: Rating,
    },
    /// The centre refused the submission permanently; the reason is shown to the agent.
    Refused {
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: TimelineEvent,
}

/// Everything the detail and capture screens show.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationDetail {
    pub id: ApplicationId,
    pub resident: ResidentRecord,
    pub bundle: Option<String>,
    pub title: L10n,
    pub items: Vec<(String, L10n, ItemStatus)>,
    pub fields: BTreeMap<String, String>,
    pub field_specs: Vec<FieldSpec>,
    pub materials: Vec<MaterialView>,
    pub note: Option<String>,
    pub stage: Stage,
    pub status: AppStatus,
    pub revision: u32,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub return_reason: Option<String>,
    pub return_materials: Vec<String>,
    pub time_limit_days: u16,
    /// The date the centre promised a decision by (办结期限), once it has received it.
    pub deadline: Option<chrono::NaiveDate>,
    pub timeline: Vec<TimelineEntry>,
}

impl ApplicationDetail {
    pub fn editable(&self) -> bool {
        matches!(self.stage, Stage::Draft | Stage::Returned)
    }
}

/// Earlier photos of a reusable material of the same resident (证照复用).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReusableMaterial {
    pub material: String,
    pub from: ApplicationId,
    pub from_title: L10n,
    pub captured_at: DateTime<Utc>,
    pub photos: Vec<PhotoRef>,
}

pub(crate) fn title_of(c: &Catalogue, bundle: Option<&str>, items: &[String]) -> L10n {
    if let Some(b) = bundle.and_then(|b| c.bundle(b)) {
        return b.name.clone();
    }
    match items {
        [one] => c.item(one).map(|i| i.name.clone()).unwrap_or_else(|| L10n::new(one, one)),
        many => L10n::new(&many.join("、"), &many.join(", ")),
    }
}

pub(crate) fn add_timeline_tx(tx: &Transaction, app: ApplicationId, at: DateTime<Utc>, ev: &TimelineEvent) -> rusqlite::Result<()> {
    let json = serde_json::to_value(ev).expect("timeline serialises");
    let kind = json["kind"].as_str().unwrap_or("unknown").to_string();
    tx.execute(
        "INSERT INTO timeline(application_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
        params![app.to_string(), ts(at), kind, json.to_string()],
    )?;
    Ok(())
}

/// Recompute and store the derived list status from stage and item statuses.
pub(crate) fn refresh_status_tx(tx: &Transaction, app: ApplicationId) -> rusqlite::Result<AppStatus> {
    let stage: String = tx.query_row("SELECT stage FROM applications WHERE id = ?1", [app.to_string()], |r| r.get(0))?;
    let stage = Stage::parse(&stage).unwrap_or(Stage::Draft);
    let items = item_statuses_tx(tx, app)?;
    let status = overall(stage, &items.iter().map(|(_, s)| *s).collect::<Vec<_>>());
    tx.execute(
        "UPDATE applications SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![app.to_string(), status.as_str(), ts(Utc::now())],
    )?;
    Ok(status)
}

pub(crate) fn item_statuses_tx(tx: &Transaction, app: ApplicationId) -> rusqlite::Result<Vec<(String, ItemStatus)>> {
    let mut st = tx.prepare_cached("SELECT item, status FROM application_items WHERE application_id = ?1 ORDER BY rowid")?;
    let rows = st.query_map([app.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, ItemStatus::parse(&r.get::<_, String>(1)?).unwrap_or(ItemStatus::Pending)))
    })?;
    rows.collect()
}

pub(crate) fn app_exists(tx: &Transaction, app: ApplicationId) -> rusqlite::Result<bool> {
    tx.query_row("SELECT EXISTS(SELECT 1 FROM applications WHERE id = ?1)", [app.to_string()], |r| r.get(0))
}

pub(crate) fn stage_tx(tx: &Transaction, app: ApplicationId) -> Result<Stage> {
    let s: Option<String> = tx.query_row("SELECT stage FROM applications WHERE id = ?1", [app.to_string()], |r| r.get(0)).optional()?;
    s.and_then(|s| Stage::parse(&s)).ok_or(StoreError::NotFound("申请"))
}

fn require_editable(tx: &Transaction, app: ApplicationId) -> Result<Stage> {
    let stage = stage_tx(tx, app)?;
    if matches!(stage, Stage::Draft | Stage::Returned) {
        Ok(stage)
    } else {
        Err(StoreError::State("申请已提交，不能再修改（退回补正后可修改） / already submitted".into()))
    }
}

fn photos_of_tx(tx: &Transaction, app: ApplicationId) -> rusqlite::Result<Vec<(String, PhotoRef, Option<ApplicationId>)>> {
    let mut st = tx.prepare_cached(
        "SELECT m.material, p.hash, p.bytes, p.width, p.height, m.reused_from
         FROM material_photos m JOIN photos p ON p.hash = m.hash
         WHERE m.application_id = ?1 ORDER BY m.material, m.position",
    )?;
    let rows = st.query_map([app.to_string()], |r| {
        let reused: Option<String> = r.get(5)?;
        Ok((
            r.get::<_, String>(0)?,
            PhotoRef { hash: parse_str(&r.get::<_, String>(1)?)?, bytes: r.get::<_, i64>(2)? as u64, width: r.get(3)?, height: r.get(4)? },
            reused.map(|s| parse_str(&s)).transpose()?,
        ))
    })?;
    rows.collect()
}

/// Delete photo rows (and files) nothing refers to any more: not a material of any
/// application, not in any submitted revision, not a delivery proof.
pub(crate) fn unreferenced_photos_tx(tx: &Transaction) -> rusqlite::Result<Vec<PhotoHash>> {
    let mut st = tx.prepare(
        "SELECT hash FROM photos p
         WHERE NOT EXISTS (SELECT 1 FROM material_photos m WHERE m.hash = p.hash)
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.proof_hash = p.hash)
           AND NOT EXISTS (SELECT 1 FROM application_revisions r, json_tree(r.json) j
                           WHERE j.key = 'hash' AND j.value = p.hash)",
    )?;
    let hashes: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for h in &hashes {
        tx.execute("DELETE FROM photos WHERE hash = ?1", [h])?;
    }
    Ok(hashes.iter().filter_map(|h| h.parse().ok()).collect())
}

/// Read an application inside a transaction (so a caller can act on what it read atomically).
pub(crate) fn application_tx(tx: &Transaction, cat: &Catalogue, app: ApplicationId) -> Result<ApplicationDetail> {
    type Row = (
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        String,
        u32,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = tx
        .query_row(
            "SELECT resident_id, bundle, items, fields, note, stage, status, revision, created_at, submitted_at,
                    return_reason, return_materials
             FROM applications WHERE id = ?1",
            [app.to_string()],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ))
            },
        )
        .optional()?;
    let (resident_id, bundle, items, fields, note, stage, status, revision, created, submitted, reason, ret_mats) =
        row.ok_or(StoreError::NotFound("申请"))?;
    let items_codes: Vec<String> = parse_json(&items)?;
    let return_materials: Vec<String> = ret_mats.as_deref().map(parse_json).transpose()?.unwrap_or_default();
    let photos = photos_of_tx(tx, app)?;
    let returned_photos = if return_materials.is_empty() { Vec::new() } else { revision_photos(tx, app, revision)? };
    let materials = cat
        .materials_for(&items_codes)
        .into_iter()
        .map(|req| {
            let kind = cat.material(&req.code).cloned().unwrap_or_else(|| MaterialKind {
                code: req.code.clone(),
                name: L10n::new(&req.code, &req.code),
                reusable: false,
                photos: 1,
                hint: L10n::default(),
            });
            let mine: Vec<_> = photos.iter().filter(|(c, _, _)| *c == req.code).collect();
            let requested_again = return_materials.contains(&req.code);
            MaterialView {
                requested_again,
                retaken: requested_again
                    && mine.iter().any(|(_, p, _)| !returned_photos.iter().any(|(c, h)| *c == req.code && *h == p.hash)),
                reused_from: mine.iter().find_map(|(_, _, r)| *r),
                photos: mine.into_iter().map(|(_, p, _)| p.clone()).collect(),
                kind,
                required: req.required,
                note: req.note,
            }
        })
        .collect();
    let item_status = item_statuses_tx(tx, app)?;
    let items = item_status
        .into_iter()
        .map(|(code, st)| {
            let name = cat.item(&code).map(|i| i.name.clone()).unwrap_or_else(|| L10n::new(&code, &code));
            (code, name, st)
        })
        .collect();
    let mut st = tx.prepare_cached("SELECT at, detail FROM timeline WHERE application_id = ?1 ORDER BY id")?;
    let timeline = st
        .query_map([app.to_string()], |r| {
            Ok(TimelineEntry { at: parse_ts(&r.get::<_, String>(0)?)?, event: parse_json(&r.get::<_, String>(1)?)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(st);
    let resident = resident_tx(tx, parse_str(&resident_id)?)?;
    let deadline: Option<String> = tx.query_row("SELECT deadline FROM applications WHERE id = ?1", [app.to_string()], |r| r.get(0))?;
    Ok(ApplicationDetail {
        deadline: deadline.as_deref().map(parse_str).transpose()?,
        id: app,
        resident,
        title: title_of(cat, bundle.as_deref(), &items_codes),
        field_specs: cat.fields_for(&items_codes).unwrap_or_default(),
        time_limit_days: cat.time_limit_for(&items_codes),
        bundle,
        items,
        fields: parse_json(&fields)?,
        materials,
        note,
        stage: Stage::parse(&stage).ok_or_else(|| StoreError::Corrupt(format!("stage {stage}")))?,
        status: AppStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
        revision,
        created_at: parse_ts(&created)?,
        submitted_at: submitted.as_deref().map(parse_ts).transpose()?,
        return_reason: reason,
        return_materials,
        timeline,
    })
}

impl Store {
    /// Start a draft for a resident. Durable on return.
    pub fn create_draft(&self, resident: ResidentId, target: &Target) -> Result<ApplicationId> {
        let cat = self.catalogue();
        let (bundle, items) = match target {
            Target::Item(code) => {
                cat.item(code).ok_or(StoreError::NotFound("事项"))?;
                (None, vec![code.clone()])
            }
            Target::Bundle(code) => (Some(code.clone()), cat.bundle(code).ok_or(StoreError::NotFound("一件事"))?.items.clone()),
        };
        let id = ApplicationId::new();
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let who = resident_tx(&tx, resident)?;
        // What the register already knows is filled in (the agent can still change it): the
        // resident's own phone, not other phone fields such as an emergency contact's.
        let mut fields = BTreeMap::new();
        let asks_phone =
            cat.fields_for(&items).unwrap_or_default().iter().any(|f| f.key == RESIDENT_PHONE_FIELD && matches!(f.kind, FieldKind::Phone));
        if let (true, Some(phone)) = (asks_phone, &who.phone) {
            fields.insert(RESIDENT_PHONE_FIELD.to_string(), phone.to_string());
        }
        tx.execute(
            "INSERT INTO applications(id, resident_id, bundle, items, fields, catalogue_version, stage, status, revision,
                                      created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', 'draft', 1, ?7, ?7)",
            params![
                id.to_string(),
                resident.to_string(),
                bundle,
                serde_json::to_string(&items).unwrap(),
                serde_json::to_string(&fields).unwrap(),
                cat.version,
                ts(now)
            ],
        )?;
        for item in &items {
            tx.execute("INSERT INTO application_items(application_id, item, status) VALUES (?1, ?2, 'pending')", (id.to_string(), item))?;
        }
        add_timeline_tx(&tx, id, now, &TimelineEvent::Created)?;
        tx.commit()?;
        Ok(id)
    }

    /// Save form answers as they are (a draft may be incomplete; checks happen at submit).
    /// Only keys of this application's form are kept.
    pub fn save_fields(&self, app: ApplicationId, answers: &BTreeMap<String, String>, note: Option<&str>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        require_editable(&tx, app)?;
        let items: String = tx.query_row("SELECT items FROM applications WHERE id = ?1", [app.to_string()], |r| r.get(0))?;
        let items: Vec<String> = parse_json(&items)?;
        let specs = self.catalogue().fields_for(&items).unwrap_or_default();
        let mut kept = BTreeMap::new();
        let mut errs = Vec::new();
        for spec in &specs {
            if let Some(v) = answers.get(&spec.key) {
                if v.chars().count() > 500 {
                    errs.push(FieldError::new(&spec.key, &spec.label.zh, "太长（最多500个字） / too long (max 500)"));
                }
                kept.insert(spec.key.clone(), v.clone());
            }
        }
        let note = match note.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => match Remark::parse(n) {
                Ok(r) => Some(r.as_str().to_string()),
                Err(e) => {
                    errs.push(FieldError::new("note", "备注", e.to_string()));
                    None
                }
            },
            None => None,
        };
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        tx.execute(
            "UPDATE applications SET fields = ?2, note = ?3, updated_at = ?4 WHERE id = ?1",
            params![app.to_string(), serde_json::to_string(&kept).unwrap(), note, ts(self.now())],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Process a photo of a material and attach it. The photo file is durable before the row
    /// that refers to it is committed.
    pub fn add_photo(&self, app: ApplicationId, material: &str, raw: &[u8]) -> Result<PhotoRef> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            require_editable(&tx, app)?;
        }
        let photo = self.photos().ingest(raw, &PipelineOptions::default())?;
        self.attach_photo(app, material, &photo)?;
        Ok(photo)
    }

    /// Attach an already processed and stored photo to a material.
    pub fn attach_photo(&self, app: ApplicationId, material: &str, photo: &PhotoRef) -> Result<()> {
        if self.catalogue().material(material).is_none() {
            return Err(StoreError::NotFound("材料"));
        }
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        require_editable(&tx, app)?;
        insert_photo(&tx, photo, now)?;
        // A photo replaced by reuse is replaced wholesale: adding a new photo ends the reuse.
        tx.execute(
            "UPDATE material_photos SET reused_from = NULL WHERE application_id = ?1 AND material = ?2",
            (app.to_string(), material),
        )?;
        let dup: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM material_photos WHERE application_id = ?1 AND material = ?2 AND hash = ?3)",
            (app.to_string(), material, photo.hash.to_hex()),
            |r| r.get(0),
        )?;
        if !dup {
            tx.execute(
                "INSERT INTO material_photos(application_id, material, position, hash, added_at)
                 VALUES (?1, ?2, (SELECT coalesce(max(position), -1) + 1 FROM material_photos
                                  WHERE application_id = ?1 AND material = ?2), ?3, ?4)",
                params![app.to_string(), material, photo.hash.to_hex(), ts(now)],
            )?;
        }
        tx.execute("UPDATE applications SET updated_at = ?2 WHERE id = ?1", (app.to_string(), ts(now)))?;
        tx.commit()?;
        Ok(())
    }

    /// Remove one photo from a material (e.g. a blurred shot).
    pub fn remove_photo(&self, app: ApplicationId, material: &str, hash: &PhotoHash) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        require_editable(&tx, app)?;
        tx.execute(
            "DELETE FROM material_photos WHERE application_id = ?1 AND material = ?2 AND hash = ?3",
            (app.to_string(), material, hash.to_hex()),
        )?;
        let gone = unreferenced_photos_tx(&tx)?;
        tx.commit()?;
        drop(conn);
        self.remove_photo_files(&gone);
        Ok(())
    }

    fn remove_photo_files(&self, hashes: &[PhotoHash]) {
        for h in hashes {
            if let Err(e) = std::fs::remove_file(self.photos().path(h)) {
                tracing::debug!("photo file already gone: {e}");
            }
        }
    }

    /// Delete a draft that was never submitted, with the photos only it used.
    pub fn delete_draft(&self, app: ApplicationId) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if stage_tx(&tx, app)? != Stage::Draft {
            return Err(StoreError::State("只能删除未提交的草稿 / only drafts can be deleted".into()));
        }
        tx.execute("DELETE FROM applications WHERE id = ?1", [app.to_string()])?;
        let gone = unreferenced_photos_tx(&tx)?;
        tx.commit()?;
        drop(conn);
        self.remove_photo_files(&gone);
        Ok(())
    }

    /// Photos of reusable materials this application needs, already captured for the same
    /// resident in another application (newest first per material).
    pub fn reusable_materials(&self, app: ApplicationId) -> Result<Vec<ReusableMaterial>> {
        let detail = self.application(app)?;
        let cat = self.catalogue();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut out = Vec::new();
        for m in detail.materials.iter().filter(|m| m.kind.reusable) {
            let found: Option<(String, String, Option<String>, String)> = tx
                .query_row(
                    "SELECT a.id, a.items, a.bundle, max(mp.added_at)
                     FROM material_photos mp JOIN applications a ON a.id = mp.application_id
                     JOIN photos p ON p.hash = mp.hash
                     WHERE a.resident_id = ?1 AND mp.material = ?2 AND a.id != ?3
                     GROUP BY a.id HAVING count(p.purged_at) = 0 ORDER BY max(mp.added_at) DESC LIMIT 1",
                    params![detail.resident.id.to_string(), m.kind.code, app.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((from, items, bundle, at)) = found {
                let from: ApplicationId = parse_str(&from)?;
                let items: Vec<String> = parse_json(&items)?;
                let photos =
                    photos_of_tx(&tx, from)?.into_iter().filter(|(code, _, _)| *code == m.kind.code).map(|(_, p, _)| p).collect::<Vec<_>>();
                if photos != m.photos {
                    out.push(ReusableMaterial {
                        material: m.kind.code.clone(),
                        from,
                        from_title: title_of(&cat, bundle.as_deref(), &items),
                        captured_at: parse_ts(&at)?,
                        photos,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Use the photos of a material from another application of the same resident instead of
    /// photographing it again. Replaces this material's photos.
    pub fn reuse_material(&self, app: ApplicationId, material: &str, from: ApplicationId) -> Result<()> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        require_editable(&tx, app)?;
        let same_resident: bool = tx
            .query_row(
                "SELECT (SELECT resident_id FROM applications WHERE id = ?1) = (SELECT resident_id FROM applications WHERE id = ?2)",
                (app.to_string(), from.to_string()),
                |r| r.get::<_, Option<bool>>(0),
            )?
            .unwrap_or(false);
        let reusable = self.catalogue().material(material).is_some_and(|m| m.reusable);
        if !same_resident || !reusable {
            return Err(StoreError::State("只能复用同一居民的证件类材料 / only the same resident's documents can be reused".into()));
        }
        let photos: Vec<PhotoRef> = photos_of_tx(&tx, from)?.into_iter().filter(|(c, _, _)| c == material).map(|(_, p, _)| p).collect();
        if photos.is_empty() {
            return Err(StoreError::NotFound("可复用的材料照片"));
        }
        tx.execute("DELETE FROM material_photos WHERE application_id = ?1 AND material = ?2", (app.to_string(), material))?;
        for (i, p) in photos.iter().enumerate() {
            tx.execute(
                "INSERT INTO material_photos(application_id, material, position, hash, reused_from, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![app.to_string(), material, i as i64, p.hash.to_hex(), from.to_string(), ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Validate and put the application in the outbox. On a validation problem nothing
    /// changes and every problem is returned.
    pub fn submit(&self, app: ApplicationId) -> Result<u32> {
        let cat = self.catalogue();
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let stage = require_editable(&tx, app)?;
        let detail = application_tx(&tx, &cat, app)?;
        let items: Vec<String> = detail.items.iter().map(|(c, _, _)| c.clone()).collect();
        let mut errs = Vec::new();
        let fields = check_fields(&cat, &items, &detail.fields).unwrap_or_else(|e| {
            errs.extend(e);
            BTreeMap::new()
        });
        for m in &detail.materials {
            if !m.complete() {
                errs.push(FieldError::new(
                    &format!("material:{}", m.kind.code),
                    &m.kind.name.zh,
                    format!("需要拍{0}张照片，现有{1}张 / needs {0} photo(s), has {1}", m.kind.photos.max(1), m.photos.len()),
                ));
            }
        }
        if stage == Stage::Returned && errs.is_empty() {
            errs.extend(unchanged_since_return(&tx, app, &detail, &fields)?);
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        let revision = if stage == Stage::Returned { detail.revision + 1 } else { detail.revision };
        let record = ApplicationRecord {
            id: app,
            revision,
            resident_id: detail.resident.id,
            bundle: detail.bundle.clone(),
            items,
            fields: fields.clone(),
            materials: detail
                .materials
                .iter()
                .filter(|m| !m.photos.is_empty())
                .map(|m| MaterialRecord { code: m.kind.code.clone(), photos: m.photos.clone(), reused_from: m.reused_from })
                .collect(),
            catalogue_version: cat.version,
            note: detail.note.as_deref().and_then(|n| Remark::parse(n).ok()),
            created_at: detail.created_at,
            submitted_at: now,
        };
        queue_resident_tx(&tx, detail.resident.id)?;
        super::outbox::enqueue_tx(
            &tx,
            &Event { id: EventId::new(), created_at: now, body: EventBody::ApplicationSubmitted { application: record.clone() } },
            Some(app),
        )?;
        tx.execute(
            "INSERT INTO application_revisions(application_id, revision, json, submitted_at) VALUES (?1, ?2, ?3, ?4)",
            params![app.to_string(), revision, serde_json::to_string(&record).unwrap(), ts(now)],
        )?;
        tx.execute(
            "UPDATE applications SET stage = 'queued', revision = ?2, fields = ?3, submitted_at = ?4,
                    catalogue_version = ?5 WHERE id = ?1",
            params![app.to_string(), revision, serde_json::to_string(&fields).unwrap(), ts(now), cat.version],
        )?;
        refresh_status_tx(&tx, app)?;
        add_timeline_tx(&tx, app, now, &TimelineEvent::Submitted { revision })?;
        tx.commit()?;
        Ok(revision)
    }

    /// The application with everything the detail and capture screens need.
    pub fn application(&self, app: ApplicationId) -> Result<ApplicationDetail> {
        let cat = self.catalogue();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        application_tx(&tx, &cat, app)
    }

    /// Applications, newest activity first, optionally only some statuses or one resident.
    pub fn applications(
        &self,
        statuses: &[AppStatus],
        resident: Option<ResidentId>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ApplicationSummary>> {
        let cat = self.catalogue();
        let conn = self.conn();
        let status_list: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let mut st = conn.prepare_cached(
            "SELECT a.id, a.resident_id, r.name, a.bundle, a.items, a.status, a.revision, a.updated_at, a.submitted_at,
                    (SELECT count(*) FROM material_photos m WHERE m.application_id = a.id), a.return_reason, a.deadline
             FROM applications a JOIN residents r ON r.id = a.resident_id
             WHERE (?1 = '[]' OR a.status IN (SELECT value FROM json_each(?1)))
               AND (?2 IS NULL OR a.resident_id = ?2)
             ORDER BY a.updated_at DESC, a.id DESC
             LIMIT ?3 OFFSET ?4",
        )?;
        let rows =
            st.query_map(params![serde_json::to_string(&status_list).unwrap(), resident.map(|r| r.to_string()), limit, offset], |r| {
                let bundle: Option<String> = r.get(3)?;
                let items: Vec<String> = parse_json(&r.get::<_, String>(4)?)?;
                let status: String = r.get(5)?;
                Ok(ApplicationSummary {
                    id: parse_str(&r.get::<_, String>(0)?)?,
                    resident_id: parse_str(&r.get::<_, String>(1)?)?,
                    resident_name: r.get(2)?,
                    title: title_of(&cat, bundle.as_deref(), &items),
                    is_bundle: bundle.is_some(),
                    status: AppStatus::parse(&status).unwrap_or(AppStatus::Draft),
                    revision: r.get(6)?,
                    updated_at: parse_ts(&r.get::<_, String>(7)?)?,
                    submitted_at: r.get::<_, Option<String>>(8)?.as_deref().map(parse_ts).transpose()?,
                    photos: r.get(9)?,
                    return_reason: r.get(10)?,
                    deadline: r.get::<_, Option<String>>(11)?.as_deref().map(parse_str).transpose()?,
                })
            })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Number of applications per status.
    pub fn status_counts(&self) -> Result<BTreeMap<AppStatus, u32>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT status, count(*) FROM applications GROUP BY status")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (s, n) = row?;
            if let Some(s) = AppStatus::parse(&s) {
                out.insert(s, n);
            }
        }
        Ok(out)
    }
}

/// The form field that is the resident's own phone number (联系电话) in every catalogue item.
const RESIDENT_PHONE_FIELD: &str = "phone";

/// A stored revision as it was sent (`None` when it is not stored).
fn revision_record(tx: &Transaction, app: ApplicationId, revision: u32) -> Result<Option<ApplicationRecord>> {
    let json: Option<String> = tx
        .query_row(
            "SELECT json FROM application_revisions WHERE application_id = ?1 AND revision = ?2",
            params![app.to_string(), revision],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json.as_deref().map(parse_json).transpose()?)
}

/// The photos, by material, of a stored revision (none when it is not stored).
fn revision_photos(tx: &Transaction, app: ApplicationId, revision: u32) -> Result<Vec<(String, PhotoHash)>> {
    let record = revision_record(tx, app, revision)?;
    Ok(record.iter().flat_map(|r| &r.materials).flat_map(|m| m.photos.iter().map(|p| (m.code.clone(), p.hash))).collect())
}

/// What a returned application must change before it goes back: every material the centre
/// asked for again needs a photo it did not have, and something must differ from the revision
/// that was returned (sending it back unchanged would only be returned again).
fn unchanged_since_return(
    tx: &Transaction,
    app: ApplicationId,
    detail: &ApplicationDetail,
    fields: &BTreeMap<String, String>,
) -> Result<Vec<FieldError>> {
    let Some(before) = revision_record(tx, app, detail.revision)? else { return Ok(Vec::new()) };
    let photos_before = |code: &str| -> Vec<PhotoHash> {
        before.materials.iter().filter(|m| m.code == code).flat_map(|m| m.photos.iter().map(|p| p.hash)).collect()
    };
    let mut errs = Vec::new();
    for m in detail.materials.iter().filter(|m| m.needs_retake()) {
        errs.push(FieldError::new(
            &format!("material:{}", m.kind.code),
            &m.kind.name.zh,
            "中心要求重新提供这项材料：请拍新的照片替换原来的 / the centre asked for this again: take a new photo to replace the old one"
                .to_string(),
        ));
    }
    let same_photos = detail.materials.iter().all(|m| {
        let mut now: Vec<PhotoHash> = m.photos.iter().map(|p| p.hash).collect();
        let mut old = photos_before(&m.kind.code);
        now.sort();
        old.sort();
        now == old
    });
    let same_note = detail.note.as_deref().unwrap_or("") == before.note.as_ref().map(|n| n.as_str()).unwrap_or("");
    if errs.is_empty() && same_photos && same_note && *fields == before.fields {
        errs.push(FieldError::new(
            "submit",
            "提交",
            "退回后还没有做任何修改：请按退回原因补正后再提交 / nothing has changed since the return: correct it as asked, then submit"
                .to_string(),
        ));
    }
    Ok(errs)
}
