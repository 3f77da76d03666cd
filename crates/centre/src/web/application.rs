//! One application: the resident (ID number masked until an audited reveal), the form, the
//! materials checklist, every photo with zoom and rotate, the revisions and what changed
//! between them, the timeline (its audit log), and the review actions.
//!
//! Actions are POST forms that go through [`crate::store::Store::decide`], which checks the
//! state machine, appends the audit entry and publishes the change the agent's phone pulls.
//! Only the actions the current state allows are offered (tried on a copy with
//! [`apply_decision`]); if the state moved meanwhile (another reviewer, a resubmission) the
//! store refuses and the page comes back with the refusal in Chinese and what was typed
//! still in the form.
//!
//! Photos are served only through [`photo`], to staff of the township whose application
//! refers to them, never cached by shared proxies.

use crate::api::AppState;
use crate::store::{Actor, ApplicationState, AuditEntry, StoreError, StoredRevision};
use crate::web::auth::Me;
use crate::web::diff::{diff, RevisionDiff};
use crate::web::error::{WebError, WebResult};
use crate::web::i18n::Lang;
use crate::web::inbox::{due_note, items_label, today};
use crate::web::layout::{alert, csrf, date, frame, notice, status_badge, time, Nav};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use daiban_proto::catalogue::Catalogue;
use daiban_proto::status::{apply_decision, Decision, DeliveryMode, ItemStatus};
use daiban_proto::text::Remark;
use daiban_proto::{ApplicationId, ApplicationRecord, DeviceId, IdNumber, PhotoHash, PhotoRef, ResidentRecord, Sex};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};

/// Everything the page shows, loaded within the staff member's township.
struct View {
    app: ApplicationState,
    revisions: Vec<StoredRevision>,
    audit: Vec<AuditEntry>,
    resident: Option<ResidentRecord>,
    catalogue: Option<Catalogue>,
    staff_names: HashMap<i64, String>,
    device_names: HashMap<DeviceId, String>,
    /// Photos of the latest revision the centre does not have yet.
    missing: BTreeSet<PhotoHash>,
}

fn parse_id(id: &str) -> WebResult<ApplicationId> {
    id.parse().map_err(|_| not_found())
}

fn not_found() -> WebError {
    WebError::not_found("申请不存在 / no such application")
}

async fn load(state: &AppState, me: &Me, id: ApplicationId) -> WebResult<View> {
    let township = me.staff.township_id;
    let store = &state.store;
    let app = store.application(township, id).await?.ok_or_else(not_found)?;
    let revisions = store.revisions(township, id).await?;
    let hashes: Vec<PhotoHash> = revisions.last().map(|r| r.record.photos().map(|p| p.hash).collect()).unwrap_or_default();
    Ok(View {
        resident: store.resident(township, app.resident_id).await?,
        catalogue: store.catalogue(township, Some(app.catalogue_version)).await?,
        audit: store.audit_log(township, id).await?,
        staff_names: store.staff_of(township).await?.into_iter().map(|s| (s.id.0, s.display_name)).collect(),
        device_names: store.devices(township).await?.into_iter().map(|d| (d.id, d.label())).collect(),
        missing: store.photos_missing(hashes).await?.into_iter().collect(),
        app,
        revisions,
    })
}

/// What a failed action form held, to show it again with the refusal.
#[derive(Clone, Debug, Default)]
struct Draft {
    action: String,
    item: String,
    reason: String,
    materials: Vec<String>,
    mode: String,
    error: String,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /staff/applications/{id}`
pub async fn page(State(state): State<AppState>, me: Me, Path(id): Path<String>, Query(done): Query<Done>) -> WebResult<Markup> {
    let view = load(&state, &me, parse_id(&id)?).await?;
    Ok(render(&me, &view, None, None, done.done.as_deref()))
}

/// `POST /staff/applications/{id}/reveal`: show the full ID number once (audited).
pub async fn reveal(State(state): State<AppState>, me: Me, Path(id): Path<String>) -> WebResult<Markup> {
    let view = load(&state, &me, parse_id(&id)?).await?;
    let number = state.store.reveal_id_number(me.staff.id, view.app.resident_id).await?;
    Ok(render(&me, &view, Some(&number), None, None))
}

#[derive(Deserialize)]
pub struct DecideForm {
    revision: u32,
    action: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    materials: Vec<String>,
    #[serde(default)]
    mode: String,
}

impl DecideForm {
    fn decision(&self) -> Result<Decision, String> {
        let reason = || {
            // the same rules as `Remark`, with the field named for the reviewer
            daiban_proto::text::clean(&self.reason, "原因", "reason", Remark::MAX, true).map_err(|e| e.to_string())?;
            Remark::parse(&self.reason).map_err(|e| e.to_string())
        };
        let item = self.item.clone();
        Ok(match self.action.as_str() {
            "accept" => Decision::Accept,
            "return" => {
                if self.materials.is_empty() && self.reason.trim().is_empty() {
                    return Err("请填写退回原因,并勾选需要补正的材料 / give a reason and tick the materials to correct".into());
                }
                Decision::Return { reason: reason()?, materials: self.materials.clone() }
            }
            "reject" => Decision::Reject { item, reason: reason()? },
            "approve" => Decision::Approve { item },
            "result_ready" => Decision::ResultReady {
                item,
                mode: match self.mode.as_str() {
                    "home" => DeliveryMode::Home,
                    "centre" => DeliveryMode::Centre,
                    _ => return Err("请选择送达方式 / choose how the result reaches the resident".into()),
                },
            },
            "delivered" => Decision::Delivered { item },
            _ => return Err("未知操作 / unknown action".into()),
        })
    }
}

/// `POST /staff/applications/{id}/decide`
pub async fn decide(State(state): State<AppState>, me: Me, Path(id): Path<String>, Form(f): Form<DecideForm>) -> WebResult<Response> {
    let id = parse_id(&id)?;
    let refused = |status: StatusCode, error: String| (status, error);
    let outcome = match f.decision() {
        Err(e) => Err(refused(StatusCode::UNPROCESSABLE_ENTITY, e)),
        Ok(d) => match state.store.decide(me.staff.id, id, f.revision, d).await {
            Ok(_) => Ok(()),
            Err(StoreError::Refused(r)) if r.code == daiban_proto::sync::ErrorCode::NotFound => return Err(not_found()),
            Err(StoreError::Refused(r)) => Err(refused(crate::api::error::status_of(r.code), r.message)),
            Err(e) => return Err(e.into()),
        },
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/staff/applications/{id}?done={}#actions", f.action)).into_response()),
        Err((status, error)) => {
            let view = load(&state, &me, id).await?;
            let draft = Draft { action: f.action, item: f.item, reason: f.reason, materials: f.materials, mode: f.mode, error };
            Ok((status, render(&me, &view, None, Some(&draft), None)).into_response())
        }
    }
}

/// `GET /staff/photos/{hash}`: a photo of an application or delivery of the staff member's
/// township; anything else is "not found".
pub async fn photo(State(state): State<AppState>, me: Me, Path(hash): Path<String>) -> WebResult<Response> {
    let missing = || WebError::not_found("照片不存在或尚未上传 / no such photo (or not uploaded yet)");
    let hash: PhotoHash = hash.parse().map_err(|_| missing())?;
    if !state.store.photo_in_township(me.staff.township_id, hash).await? {
        return Err(missing());
    }
    let bytes = state.blobs.get(&hash).await?.ok_or_else(missing)?;
    let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") { "image/png" } else { "image/jpeg" };
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "private, no-store"), (header::CONTENT_DISPOSITION, "inline")];
    Ok((headers, bytes).into_response())
}

// ---------------------------------------------------------------- rendering

fn material_name(lang: Lang, c: Option<&Catalogue>, code: &str) -> String {
    c.and_then(|c| c.material(code)).map_or(code.to_string(), |m| lang.l(&m.name).to_string())
}

fn item_name(lang: Lang, c: Option<&Catalogue>, code: &str) -> String {
    c.and_then(|c| c.item(code)).map_or(code.to_string(), |i| lang.l(&i.name).to_string())
}

/// The materials the last 退回补正 asked for.
fn last_return(audit: &[AuditEntry]) -> Option<(String, Vec<String>)> {
    audit.iter().rev().find(|e| e.action == "decision.return").and_then(|e| {
        match serde_json::from_value::<Decision>(e.detail.get("decision")?.clone()).ok()? {
            Decision::Return { reason, materials } => Some((reason.as_str().to_string(), materials)),
            _ => None,
        }
    })
}

/// How an item's result was sent out (its latest 出件 decision).
fn delivery_mode(audit: &[AuditEntry], item: &str) -> Option<DeliveryMode> {
    audit.iter().rev().find_map(|e| match serde_json::from_value::<Decision>(e.detail.get("decision")?.clone()).ok()? {
        Decision::ResultReady { item: i, mode } if i == item => Some(mode),
        _ => None,
    })
}

fn render(me: &Me, v: &View, revealed: Option<&IdNumber>, draft: Option<&Draft>, done: Option<&str>) -> Markup {
    let lang = me.lang;
    let latest = &v.revisions.last().expect("an application has its first revision").record;
    let title = match &v.resident {
        Some(r) => format!("{} · {}", r.name.as_str(), items_label(lang, v.catalogue.as_ref(), v.app.bundle.as_deref(), &latest.items)),
        None => items_label(lang, v.catalogue.as_ref(), v.app.bundle.as_deref(), &latest.items),
    };
    let changes = (v.revisions.len() > 1).then(|| diff(&v.revisions[v.revisions.len() - 2].record, latest));
    let body = html! {
        header.app-head {
            h1 { (title) }
            div.meta {
                (status_badge(lang, v.app.status))
                span { (lang.t("办结期限 ", "Deadline ")) strong #deadline { (date(v.app.deadline)) } }
                @if let Some(n) = due_note(lang, v.app.deadline, v.app.status, today()) { (n) }
                span { (lang.t("修订 ", "Revision ")) (v.app.revision) }
                span { (lang.t("收到 ", "Received ")) (time(v.app.received_at)) }
                @if let Some(a) = v.app.accepted_at { span { (lang.t("受理 ", "Accepted ")) (time(a)) } }
                span { (lang.t("代办员 ", "Agent ")) (v.device_names.get(&v.app.device_id).map_or("—", String::as_str)) }
            }
            @if let Some(d) = done { (notice(done_text(lang, d))) }
        }
        div.app-grid {
            div.main-col {
                div.two {
                    (resident_card(me, v, revealed))
                    (fields_card(lang, v, latest))
                }
                (checklist(lang, v, latest))
                @if let Some(c) = &changes { @if !c.is_empty() {
                    section.card.changes #latest-changes {
                        h2 { (lang.t("本次补正的变化", "What this correction changed")) (lang.t("（修订", " (revision ")) (v.app.revision - 1) " → " (v.app.revision) (lang.t("）", ")")) }
                        (diff_list(lang, v, c))
                    }
                } }
                (photos(lang, v, latest, changes.as_ref()))
                (revisions(lang, v))
            }
            aside.side-col {
                (actions(me, v, latest, draft))
                (timeline(lang, v))
            }
        }
    };
    frame(me, Nav::Inbox, &title, body)
}

fn done_text(lang: Lang, action: &str) -> &'static str {
    match action {
        "accept" => lang.t("已受理，办结期限从今天起算。", "Accepted; the time limit runs from today."),
        "return" => lang
            .t("已退回补正,代办员下次同步时会收到原因和需补材料。", "Returned; the agent gets the reason and materials on the next sync."),
        "reject" => lang.t("已作出不予受理/不予批准决定。", "Rejected."),
        "approve" => lang.t("已办结（准予）。", "Approved."),
        "result_ready" => lang.t("已出件。", "Result ready."),
        "delivered" => lang.t("已登记在中心领取。", "Recorded as collected at the centre."),
        _ => lang.t("已完成。", "Done."),
    }
}

fn resident_card(me: &Me, v: &View, revealed: Option<&IdNumber>) -> Markup {
    let lang = me.lang;
    html! {
        section.card.resident #resident {
            h2 { (lang.t("居民", "Resident")) }
            @match &v.resident {
                None => p.muted { (lang.t("居民信息尚未上传。", "The resident's record has not arrived yet.")) },
                Some(r) => {
                    dl {
                        dt { (lang.t("姓名", "Name")) } dd { (r.name.as_str()) }
                        dt { (lang.t("身份证号", "ID number")) }
                        dd {
                            @if let Some(n) = revealed {
                                span #id-number.revealed { (n.expose()) }
                                " " span.muted { (lang.t("（本次查看已记入审计日志）", "(this view is in the audit log)")) }
                            } @else {
                                span #id-number { (r.id_number.masked()) }
                                form.inline method="post" action=(format!("/staff/applications/{}/reveal", v.app.id)) {
                                    (csrf(me))
                                    button.small #reveal type="submit" accesskey="i" title=(lang.t("查看完整号码（记入审计日志）", "Show the full number (audited)")) {
                                        (lang.t("查看完整号码", "Reveal"))
                                    }
                                }
                            }
                        }
                        dt { (lang.t("性别 · 年龄", "Sex · age")) }
                        dd {
                            (match r.id_number.sex() { Sex::Male => lang.t("男", "male"), Sex::Female => lang.t("女", "female") })
                            " · " (r.id_number.age_on(today())) (lang.t("岁", " years"))
                        }
                        @if let Some(p) = &r.phone { dt { (lang.t("电话", "Phone")) } dd { (p.as_str()) } }
                        @if let Some(g) = &r.village_group { dt { (lang.t("村民小组", "Group")) } dd { (g.as_str()) } }
                        @if let Some(a) = &r.address { dt { (lang.t("住址", "Address")) } dd { (a.as_str()) } }
                    }
                    p.flags {
                        @if r.elderly { span.flag { (lang.t("老年人", "Elderly")) } }
                        @if r.mobility_limited { span.flag { (lang.t("行动不便", "Limited mobility")) } }
                    }
                }
            }
        }
    }
}

fn fields_card(lang: Lang, v: &View, latest: &ApplicationRecord) -> Markup {
    let specs = v.catalogue.as_ref().and_then(|c| c.fields_for(&latest.items).ok()).unwrap_or_default();
    let unknown: Vec<_> = latest.fields.iter().filter(|(k, _)| !specs.iter().any(|s| &s.key == *k)).collect();
    html! {
        section.card.fields #fields {
            h2 { (lang.t("申请表", "Form")) }
            dl {
                @for s in &specs {
                    dt { (lang.l(&s.label)) @if s.required { span.req title=(lang.t("必填", "required")) { "*" } } }
                    dd { @match latest.fields.get(&s.key) { Some(x) => (x), None => span.muted { (lang.t("（未填）", "(empty)")) } } }
                }
                @for (k, x) in unknown { dt { (k) } dd { (x) } }
            }
            @if let Some(n) = &latest.note { p.note { strong { (lang.t("代办员备注：", "Agent's note: ")) } (n.as_str()) } }
        }
    }
}

fn checklist(lang: Lang, v: &View, latest: &ApplicationRecord) -> Markup {
    let c = v.catalogue.as_ref();
    let wanted = c.map(|c| c.materials_for(&latest.items)).unwrap_or_default();
    let asked = last_return(&v.audit).map(|(_, m)| m).unwrap_or_default();
    html! {
        section.card #checklist {
            h2 { (lang.t("材料清单", "Materials checklist")) }
            table.checklist {
                thead { tr {
                    th { (lang.t("材料", "Material")) } th { (lang.t("要求", "Needed")) } th { (lang.t("已提供", "Present")) } th { (lang.t("说明", "Notes")) }
                } }
                tbody {
                    @for req in &wanted {
                        @let kind = c.and_then(|c| c.material(&req.code));
                        @let need = kind.map_or(1, |k| usize::from(k.photos));
                        @let rec = latest.materials.iter().find(|m| m.code == req.code);
                        @let n = rec.map_or(0, |m| m.photos.len());
                        @let state = if n >= need { "ok" } else if n > 0 { "partial" } else if req.required { "missing" } else { "optional" };
                        tr class=(format!("m-{state}")) data-material=(req.code) {
                            td { (material_name(lang, c, &req.code)) @if !lang.l(&req.note).is_empty() { br; small.muted { (lang.l(&req.note)) } } }
                            td { @if req.required { (lang.t("必需", "required")) } @else { (lang.t("视情况", "if applicable")) } }
                            td.state {
                                @match state {
                                    "ok" => { "✓ " (n) (lang.t("张", " photo(s)")) },
                                    "partial" => { "◐ " (n) "/" (need) (lang.t("张", "")) },
                                    "missing" => { "✗ " (lang.t("缺", "missing")) },
                                    _ => { "—" },
                                }
                            }
                            td {
                                @if let Some(from) = rec.and_then(|m| m.reused_from) {
                                    span.reused { (lang.t("复用自 ", "reused from ")) a href=(format!("/staff/applications/{from}")) { (lang.t("以往申请", "an earlier application")) } }
                                }
                                @if asked.contains(&req.code) { " " span.asked { (lang.t("曾要求补正", "asked to correct")) } }
                                @let gone = rec.map_or(0, |m| m.photos.iter().filter(|p| v.missing.contains(&p.hash)).count());
                                @if gone > 0 { " " span.pending { (gone) (lang.t("张照片尚未上传", " photo(s) still uploading")) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One photo with CSS-only rotate (0/90/180/270°) and zoom (1×/2×/3×): radio buttons, so it
/// works without JavaScript and with the keyboard (arrow keys within each group).
/// One photo with its tools. `is_new`: added to this material by the latest correction;
/// `also_in`: other materials the same photo is filed under (usually a slip of the agent).
fn viewer(lang: Lang, v: &View, id: &str, p: &PhotoRef, caption: &str, is_new: bool, also_in: &[String]) -> Markup {
    let src = format!("/staff/photos/{}", p.hash);
    let dims = format!("--w:{};--h:{}", p.width.max(1), p.height.max(1));
    html! {
        figure.viewer id=(id) style=(dims) {
            @if v.missing.contains(&p.hash) {
                div.frame.placeholder { (lang.t("照片尚未上传", "Photo not uploaded yet")) }
            } @else {
                div.tools {
                    span.group role="radiogroup" aria-label=(lang.t("旋转", "Rotate")) {
                        @for (deg, label) in [(0, "0°"), (90, "↻90°"), (180, "180°"), (270, "↺90°")] {
                            input type="radio" class=(format!("r{deg}")) name=(format!("{id}-rot")) id=(format!("{id}-r{deg}")) checked[deg == 0];
                            label for=(format!("{id}-r{deg}")) { (label) }
                        }
                    }
                    span.group role="radiogroup" aria-label=(lang.t("放大", "Zoom")) {
                        @for z in [1, 2, 3] {
                            input type="radio" class=(format!("z{z}")) name=(format!("{id}-zoom")) id=(format!("{id}-z{z}")) checked[z == 1];
                            label for=(format!("{id}-z{z}")) { (z) "×" }
                        }
                    }
                    a.small href=(src) target="_blank" rel="noopener" { (lang.t("原图", "Original")) }
                }
                div.frame tabindex="0" { div.pan { img src=(src) alt=(caption) loading="lazy"; } }
            }
            figcaption {
                (caption) @if is_new { " " span.new { (lang.t("本次新增", "new")) } }
                @if !also_in.is_empty() { br; span.dup.warn { (lang.t("同一张照片也放在了：", "The same photo is also filed under: ")) (also_in.join(lang.t("、", ", "))) } }
            }
        }
    }
}

fn photos(lang: Lang, v: &View, latest: &ApplicationRecord, changes: Option<&RevisionDiff>) -> Markup {
    let c = v.catalogue.as_ref();
    // new within its own material: a photo filed under another one before is still new here
    let added: BTreeSet<(&str, PhotoHash)> = changes
        .map(|d| d.materials.iter().flat_map(|m| m.added.iter().map(move |p| (m.code.as_str(), p.hash))).collect())
        .unwrap_or_default();
    let mut filed: HashMap<PhotoHash, Vec<&str>> = HashMap::new();
    for m in &latest.materials {
        for p in &m.photos {
            filed.entry(p.hash).or_default().push(m.code.as_str());
        }
    }
    let also_in = |hash: &PhotoHash, code: &str| -> Vec<String> {
        filed.get(hash).into_iter().flatten().filter(|c| **c != code).map(|c| material_name(lang, v.catalogue.as_ref(), c)).collect()
    };
    html! {
        section.card #photos {
            h2 { (lang.t("材料照片", "Photos")) }
            @if latest.materials.is_empty() { p.muted { (lang.t("没有照片。", "No photos.")) } }
            @for (mi, m) in latest.materials.iter().enumerate() {
                h3 { (material_name(lang, c, &m.code)) }
                div.photo-row {
                    @for (pi, p) in m.photos.iter().enumerate() {
                        @let caption = format!("{} {}/{}", material_name(lang, c, &m.code), pi + 1, m.photos.len());
                        (viewer(lang, v, &format!("ph{mi}-{pi}"), p, &caption, added.contains(&(m.code.as_str(), p.hash)), &also_in(&p.hash, &m.code)))
                    }
                }
            }
        }
    }
}

fn diff_list(lang: Lang, v: &View, d: &RevisionDiff) -> Markup {
    let c = v.catalogue.as_ref();
    let label = |key: &str| {
        c.and_then(|c| c.items.iter().flat_map(|i| i.fields.iter()).find(|f| f.key == key))
            .map_or(key.to_string(), |f| lang.l(&f.label).to_string())
    };
    let empty = lang.t("（空）", "(empty)");
    let colon = lang.t("：", ": ");
    html! {
        @if d.is_empty() { p.muted { (lang.t("与上一修订相同。", "Same as the previous revision.")) } }
        ul.diff {
            @for f in &d.fields {
                li.field { (label(&f.key)) (colon) del { (f.before.as_deref().unwrap_or(empty)) } " → " ins { (f.after.as_deref().unwrap_or(empty)) } }
            }
            @for m in &d.materials {
                li.material {
                    (material_name(lang, c, &m.code)) (colon)
                    @if !m.added.is_empty() { ins { "+" (m.added.len()) (lang.t("张照片", " photo(s)")) } " " }
                    @if !m.removed.is_empty() { del { "−" (m.removed.len()) (lang.t("张照片", " photo(s)")) } " " }
                    @if let Some((_, after)) = m.reuse { @if after.is_some() { (lang.t("改为复用以往材料", "now reused from an earlier application")) } @else { (lang.t("不再复用", "no longer reused")) } }
                    div.thumbs {
                        @for p in &m.added { @if !v.missing.contains(&p.hash) { img.thumb.added src=(format!("/staff/photos/{}", p.hash)) alt=(lang.t("新增照片", "added photo")) loading="lazy"; } }
                        @for p in &m.removed { img.thumb.removed src=(format!("/staff/photos/{}", p.hash)) alt=(lang.t("被替换的照片", "removed photo")) loading="lazy"; }
                    }
                }
            }
            @if let Some((before, after)) = &d.note {
                li.note { (lang.t("备注", "Note")) (colon) del { (before.as_deref().unwrap_or(empty)) } " → " ins { (after.as_deref().unwrap_or(empty)) } }
            }
        }
    }
}

fn revisions(lang: Lang, v: &View) -> Markup {
    html! {
        section.card #revisions {
            h2 { (lang.t("历次提交", "Revisions")) }
            ol.revisions {
                @for (i, r) in v.revisions.iter().enumerate() {
                    li {
                        strong { (lang.t("修订", "Revision ")) (r.record.revision) } " · " (time(r.received_at))
                        @if let Some(n) = &r.record.note { " · " (n.as_str()) }
                        @if i > 0 { (diff_list(lang, v, &diff(&v.revisions[i - 1].record, &r.record))) }
                    }
                }
            }
        }
    }
}

/// Decisions the state allows now, tried on a copy.
fn allowed(app: &ApplicationState, d: &Decision) -> bool {
    let mut items = app.items.clone();
    apply_decision(app.stage, &mut items, d).is_ok()
}

fn actions(me: &Me, v: &View, latest: &ApplicationRecord, draft: Option<&Draft>) -> Markup {
    let lang = me.lang;
    let app = &v.app;
    let c = v.catalogue.as_ref();
    let dummy = || Remark::parse("-").expect("valid");
    let can_accept = allowed(app, &Decision::Accept);
    let can_return = allowed(app, &Decision::Return { reason: dummy(), materials: vec![] });
    let draft_for = |action: &str, item: &str| draft.filter(|d| d.action == action && (item.is_empty() || d.item == item));
    let home_default = v.resident.as_ref().is_some_and(|r| r.elderly || r.mobility_limited);
    let form_head = |action: &str, item: &str| {
        html! {
            (csrf(me))
            input type="hidden" name="revision" value=(app.revision);
            input type="hidden" name="action" value=(action);
            @if !item.is_empty() { input type="hidden" name="item" value=(item); }
        }
    };
    let post = format!("/staff/applications/{}/decide", app.id);
    let wanted = c.map(|c| c.materials_for(&latest.items)).unwrap_or_default();
    let mut any = can_accept || can_return;
    let items_html = html! {
        @for (pos, (code, status)) in app.items.iter().enumerate() {
            @let first = pos == 0;
            @let can_approve = allowed(app, &Decision::Approve { item: code.clone() });
            @let can_reject = allowed(app, &Decision::Reject { item: code.clone(), reason: dummy() });
            @let can_ready = allowed(app, &Decision::ResultReady { item: code.clone(), mode: DeliveryMode::Centre });
            @let can_collect = allowed(app, &Decision::Delivered { item: code.clone() });
            div.item-actions data-item=(code) {
                h3 { (item_name(lang, c, code)) " " span.muted.item-status { (lang.l(&status.label_in(app.stage))) } }
                @if can_approve {
                    form method="post" action=(post) data-confirm=(lang.t("确认准予并办结这一事项？办结后不能撤回。", "Approve this item? This cannot be undone.")) {
                        (form_head("approve", code))
                        button.primary type="submit" accesskey=[first.then_some("p")] { (lang.t("准予 / 办结", "Approve")) @if first { kbd { "P" } } }
                    }
                }
                @if can_ready {
                    form method="post" action=(post) {
                        (form_head("result_ready", code))
                        @let mode = draft_for("result_ready", code).map(|d| d.mode.clone()).unwrap_or_else(|| if home_default { "home".into() } else { "centre".into() });
                        fieldset.modes {
                            legend { (lang.t("结果送达方式", "How the result reaches the resident")) }
                            label.check { input type="radio" name="mode" value="home" checked[mode == "home"]; (lang.l(&DeliveryMode::Home.label())) @if home_default { small.muted { (lang.t("（老年人/行动不便默认）", " (default for elderly / limited mobility)")) } } }
                            label.check { input type="radio" name="mode" value="centre" checked[mode == "centre"]; (lang.l(&DeliveryMode::Centre.label())) }
                        }
                        button.primary type="submit" accesskey=[first.then_some("d")] { (lang.t("出件", "Result ready")) @if first { kbd { "D" } } }
                    }
                }
                @if can_collect {
                    @let collect = html! {
                        form method="post" action=(post) {
                            (form_head("delivered", code))
                            button type="submit" accesskey=[first.then_some("c")] { (lang.t("已在中心领取", "Collected at the centre")) @if first { kbd { "C" } } }
                        }
                    };
                    @if delivery_mode(&v.audit, code) == Some(DeliveryMode::Home) {
                        // the agent takes it home and records the signature; the centre only
                        // records a collection when the resident came after all
                        p.muted.waiting { (lang.t("等待代办员送达到家，居民签收后自动记录。", "Waiting for the agent to deliver it home; the resident's signature is recorded from the phone.")) }
                        details.collect-instead {
                            summary { (lang.t("居民已自己到中心领取…", "The resident collected it at the centre…")) }
                            (collect)
                        }
                    } @else {
                        (collect)
                    }
                }
                @if can_reject {
                    details.reject open[draft_for("reject", code).is_some()] {
                        summary { (if app.accepted_at.is_some() { lang.t("不予批准…", "Reject…") } else { lang.t("不予受理…", "Reject…") }) }
                        form method="post" action=(post) {
                            (form_head("reject", code))
                            label for=(format!("reject-reason-{pos}")) { (lang.t("理由（将告知代办员和居民）", "Reason (shown to the agent and resident)")) }
                            textarea id=(format!("reject-reason-{pos}")) name="reason" rows="2" maxlength="500" required { (draft_for("reject", code).map_or("", |d| d.reason.as_str())) }
                            button.danger type="submit" { (lang.t("确认不予批准", "Confirm rejection")) }
                        }
                    }
                }
                @if *status == ItemStatus::ResultReady && !can_collect { p.muted.waiting { (lang.t("等待代办员送达确认。", "Waiting for the agent's delivery proof.")) } }
            }
        }
    };
    any |= app.items.iter().any(|(code, _)| {
        [
            Decision::Approve { item: code.clone() },
            Decision::Reject { item: code.clone(), reason: dummy() },
            Decision::ResultReady { item: code.clone(), mode: DeliveryMode::Centre },
            Decision::Delivered { item: code.clone() },
        ]
        .iter()
        .any(|d| allowed(app, d))
    });
    let return_draft = draft_for("return", "");
    let missing_required: Vec<&str> = wanted
        .iter()
        .filter(|m| m.required && latest.materials.iter().find(|r| r.code == m.code).is_none_or(|r| r.photos.is_empty()))
        .map(|m| m.code.as_str())
        .collect();
    html! {
        section.card.actions #actions {
            h2 { (lang.t("审核操作", "Review")) }
            @if let Some(d) = draft {
                (alert(lang, &d.error))
                @if !d.reason.trim().is_empty() {
                    div.kept #kept-reason {
                        (lang.t("您填写的内容（未保存，可复制）：", "What you typed (not saved; copy it if needed):"))
                        blockquote { (d.reason) }
                    }
                }
            }
            @if can_accept {
                form method="post" action=(post) {
                    (form_head("accept", ""))
                    button.primary.big #accept type="submit" accesskey="a" { (lang.t("受理", "Accept")) kbd { "A" } }
                }
            }
            @if can_return {
                details.return open[return_draft.is_some()] {
                    summary accesskey="r" { (lang.t("退回补正…", "Return for correction…")) kbd { "R" } }
                    form method="post" action=(post) #return-form {
                        (form_head("return", ""))
                        label for="return-reason" { (lang.t("退回原因（代办员会在手机上看到）", "Reason (the agent sees it on the phone)")) }
                        textarea #return-reason name="reason" rows="3" maxlength="500" { (return_draft.map_or("", |d| d.reason.as_str())) }
                        fieldset.materials {
                            legend { (lang.t("需要补充或重拍的材料", "Materials to add or re-take")) }
                            @for m in &wanted {
                                @let checked = match return_draft { Some(d) => d.materials.contains(&m.code), None => missing_required.contains(&m.code.as_str()) };
                                label.check { input type="checkbox" name="materials" value=(m.code) checked[checked]; (material_name(lang, c, &m.code)) }
                            }
                        }
                        button.warn type="submit" { (lang.t("退回补正", "Return")) }
                    }
                }
            }
            (items_html)
            @if !any { p.muted #no-actions { (lang.t("当前状态下中心无需操作。", "Nothing for the centre to do in this state.")) } }
            p.hint { (lang.t("快捷键：Alt+A 受理，Alt+R 退回，Alt+P 准予，Alt+D 出件，Alt+C 领取，Alt+I 查看身份证号。", "Shortcuts: Alt+A accept, Alt+R return, Alt+P approve, Alt+D result ready, Alt+C collected, Alt+I reveal ID.")) }
        }
    }
}

fn actor_name(v: &View, a: &Actor, lang: Lang) -> String {
    match a {
        Actor::Staff { id } => v.staff_names.get(&id.0).cloned().unwrap_or_else(|| format!("#{id}")),
        Actor::Device { id } => format!("{}{}", lang.t("代办员 ", "agent "), v.device_names.get(id).map_or("—", String::as_str)),
        Actor::System => lang.t("系统", "system").to_string(),
    }
}

/// A timeline line for an audit entry.
fn describe(lang: Lang, v: &View, e: &AuditEntry) -> String {
    let c = v.catalogue.as_ref();
    let item = |key: &str| e.detail.get(key).and_then(|x| x.as_str()).map(|code| item_name(lang, c, code)).unwrap_or_default();
    let decision = e.detail.get("decision").and_then(|d| serde_json::from_value::<Decision>(d.clone()).ok());
    match (e.action.as_str(), decision) {
        ("submitted", _) => {
            format!("{}{}", lang.t("提交申请，修订", "submitted revision "), e.detail.get("revision").and_then(|r| r.as_u64()).unwrap_or(0))
        }
        (_, Some(Decision::Accept)) => lang.t("受理", "accepted").into(),
        (_, Some(Decision::Return { reason, materials })) => {
            let names: Vec<String> = materials.iter().map(|m| material_name(lang, c, m)).collect();
            format!("{}{}{}{}", lang.t("退回补正：", "returned: "), reason.as_str(), lang.t("；需补：", "; materials: "), names.join("、"))
        }
        (_, Some(Decision::Reject { item, reason })) => {
            format!("{}{}{}{}", lang.t("不予批准 ", "rejected "), item_name(lang, c, &item), lang.t("：", ": "), reason.as_str())
        }
        (_, Some(Decision::Approve { item })) => format!("{}{}", lang.t("准予/办结 ", "approved "), item_name(lang, c, &item)),
        (_, Some(Decision::ResultReady { item, mode })) => {
            format!(
                "{}{}{}{}{}",
                lang.t("出件 ", "result ready "),
                item_name(lang, c, &item),
                lang.t("（", " ("),
                lang.l(&mode.label()),
                lang.t("）", ")")
            )
        }
        (_, Some(Decision::Delivered { item })) => {
            format!("{}{}", lang.t("在中心领取 ", "collected at the centre "), item_name(lang, c, &item))
        }
        ("delivered", _) => {
            let recipient = e.detail.get("recipient").and_then(|r| r.as_str()).unwrap_or("");
            let mut s = format!("{}{}", lang.t("送达到家 ", "delivered home "), item("item"));
            if !recipient.is_empty() {
                s += &format!("{}{recipient}", lang.t("，签收人 ", ", received by "));
            }
            s
        }
        ("rated", _) => {
            let score = e.detail.get("score").and_then(|s| s.as_u64()).and_then(|s| daiban_proto::Rating::from_score(s as u8));
            format!(
                "{}{}{}{}",
                lang.t("居民评价 ", "rated "),
                item("item"),
                lang.t("：", ": "),
                score.map_or("?".to_string(), |r| lang.l(&r.label()).to_string())
            ) + &e
                .detail
                .get("comment")
                .and_then(|c| c.as_str())
                .map(|c| format!("{}{c}{}", lang.t("，“", ", “"), lang.t("”", "”")))
                .unwrap_or_default()
        }
        ("rating.follow_up", _) => {
            format!("{}{}", lang.t("差评整改：", "bad rating followed up: "), e.detail.get("note").and_then(|n| n.as_str()).unwrap_or(""))
        }
        (other, _) => other.to_string(),
    }
}

fn timeline(lang: Lang, v: &View) -> Markup {
    html! {
        section.card #timeline {
            h2 { (lang.t("办理记录", "Timeline")) }
            ol.timeline {
                @for e in v.audit.iter().rev() {
                    li data-action=(e.action) {
                        span.when { (time(e.at)) } " "
                        span.who { (actor_name(v, &e.actor, lang)) } " "
                        span.what { (describe(lang, v, e)) }
                        @if let Some(hash) = e.detail.get("proof").and_then(|p| p.get("hash")).and_then(|h| h.as_str()) {
                            a.proof href=(format!("/staff/photos/{hash}")) target="_blank" {
                                img.thumb src=(format!("/staff/photos/{hash}")) loading="lazy"
                                    alt=(if e.detail["proof"]["kind"] == "signature" { lang.t("签名", "signature") } else { lang.t("交接照片", "handover photo") });
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(action: &str, reason: &str, materials: &[&str], mode: &str) -> DecideForm {
        DecideForm {
            revision: 1,
            action: action.into(),
            item: "elderly_card".into(),
            reason: reason.into(),
            materials: materials.iter().map(|m| m.to_string()).collect(),
            mode: mode.into(),
        }
    }

    #[test]
    fn forms_become_decisions_or_chinese_errors() {
        assert_eq!(form("accept", "", &[], "").decision(), Ok(Decision::Accept));
        let ret = form("return", "身份证反面模糊", &["id_card"], "").decision().unwrap();
        assert!(matches!(ret, Decision::Return { ref materials, .. } if materials == &["id_card"]));
        let e = form("return", "", &[], "").decision().unwrap_err();
        assert!(e.starts_with("请填写退回原因"), "{e}");
        let e = form("reject", "  ", &[], "").decision().unwrap_err();
        assert!(e.starts_with("原因不能为空"), "{e}");
        assert!(matches!(form("result_ready", "", &[], "home").decision(), Ok(Decision::ResultReady { mode: DeliveryMode::Home, .. })));
        assert!(form("result_ready", "", &[], "").decision().unwrap_err().starts_with("请选择送达方式"));
        assert!(form("explode", "", &[], "").decision().is_err());
    }
}
