//! Capturing an application: the one form, then the materials checklist with photos.
//!
//! Every answer is saved when the agent leaves the field, every photo when it has been
//! processed, so nothing typed or photographed is lost if the phone dies. Reusable documents
//! already photographed for this resident (ID card, household register) are offered instead
//! of a new photo (证照复用). "Submit" checks everything and puts the application in the
//! outbox; problems are listed by field, in Chinese, and nothing already saved is lost.

use crate::app::Route;
use crate::components::fields::error_for;
use crate::components::{DeleteDraft, ErrorList, PhotoAdder, ReadError, Thumbs};
use crate::ctx::{found, use_ctx, use_data_version, use_store_read};
use crate::i18n::{use_lang, Lang};
use daiban_agent_core::forms::FieldError;
use daiban_agent_core::store::{MaterialView, ReusableMaterial};
use daiban_agent_core::StoreError;
use daiban_proto::catalogue::{FieldKind, FieldSpec};
use daiban_proto::{AppStatus, ApplicationId, PhotoHash};
use dioxus::prelude::*;

#[component]
pub fn Capture(id: ApplicationId) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let detail = use_store_read(move |s| found(s.application(id)));
    // offering earlier photos is a convenience: without it the agent photographs again
    let reusable = use_store_read(move |s| s.reusable_materials(id));
    let initial = detail.peek().as_ref().ok().and_then(Option::as_ref).map(|d| (d.fields.clone(), d.note.clone().unwrap_or_default()));
    let (init_fields, init_note) = initial.unwrap_or_default();
    let mut answers = use_signal(|| init_fields);
    let mut note = use_signal(|| init_note);
    let mut errors = use_signal(Vec::<FieldError>::new);
    let mut saved_at = use_signal(|| None::<String>);
    let busy = use_signal(|| None::<String>);

    let d = match detail() {
        Ok(Some(d)) => d,
        Ok(None) => return rsx! { div { class: "empty", {lang.t("找不到这份申请", "Application not found")} } },
        Err(error) => return rsx! { ReadError { error } },
    };
    if !d.editable() {
        return rsx! {
            div { class: "notice", {lang.t("这份申请已经提交，不能再修改。", "This application has been submitted.")} }
            Link { class: "btn block", to: Route::ApplicationView { id }, {lang.t("查看详情", "View")} }
        };
    }

    let store = ctx.store.clone();
    let mut save_draft = move || match store.save_fields(id, &answers.peek(), Some(note.peek().as_str())) {
        Ok(()) => {
            saved_at.set(Some(crate::i18n::Lang::Zh.datetime(chrono::Utc::now())));
            errors.write().retain(|e| e.field.starts_with("material:"));
        }
        Err(StoreError::Invalid(errs)) => {
            errors.set(errs);
            show_first_error();
        }
        Err(e) => {
            errors.set(vec![FieldError::new("save", "保存", e.to_string())]);
            show_first_error();
        }
    };
    let autosave = save_draft.clone();
    let mut save_now = save_draft.clone();
    let store = ctx.store.clone();
    let sync = ctx.sync.clone();
    let nav = navigator();
    let submit = move |_| {
        save_draft();
        if errors.peek().iter().any(|e| !e.field.starts_with("material:")) {
            return;
        }
        match store.submit(id) {
            Ok(_) => {
                data.bump();
                sync.trigger();
                nav.replace(Route::ApplicationView { id });
                return;
            }
            Err(StoreError::Invalid(errs)) => errors.set(errs),
            Err(e) => errors.set(vec![FieldError::new("submit", "提交", e.to_string())]),
        }
        // not sent: no "draft saved" that reads like success, and the problem in view
        saved_at.set(None);
        show_first_error();
    };
    // a material's problem goes from the list once the photos are there (fields are checked
    // again when they are saved)
    let errs: Vec<FieldError> = errors()
        .into_iter()
        .filter(|e| match e.field.strip_prefix("material:") {
            Some(code) => d.materials.iter().find(|m| m.kind.code == code).is_none_or(|m| !m.complete() || m.needs_retake()),
            None => true,
        })
        .collect();
    // which material each photo is filed under, to catch the same photo under two of them
    let filed: Vec<(PhotoHash, String)> =
        d.materials.iter().flat_map(|m| m.photos.iter().map(|p| (p.hash, lang.l(&m.kind.name)))).collect();
    // optional materials ("如有") neither count as done nor as wanted
    let required = d.materials.iter().filter(|m| m.required).count();
    let done = d.materials.iter().filter(|m| m.required && m.complete() && !m.photos.is_empty() && !m.needs_retake()).count();
    rsx! {
        div { class: "card",
            h2 { id: "capture-title", {lang.l(&d.title)} }
            div { class: "muted", "{d.resident.name} · {d.resident.id_number.masked()}" }
            if d.bundle.is_some() {
                div { class: "muted small",
                    {format!("{}{}", lang.t("一件事，包含：", "Bundle of: "), d.items.iter().map(|(_, n, _)| lang.l(n)).collect::<Vec<_>>().join(lang.t("、", ", ")))}
                }
            }
        }
        if d.status == AppStatus::Returned {
            div { class: "banner-return", id: "return-reason",
                strong { {lang.t("中心退回，需要补正：", "Returned by the centre: ")} }
                {d.return_reason.clone().unwrap_or_default()}
                if !d.return_materials.is_empty() {
                    div { class: "small", {lang.t("请重新拍摄下方橙色框标出的材料后再次提交。", "Re-take the materials marked in orange, then submit again.")} }
                }
            }
        }
        ErrorList { errors: errs.clone() }
        if !d.field_specs.is_empty() {
            div { class: "section-title", {lang.t("一、填写信息", "1. Form")} }
            div { class: "card", id: "form",
                for spec in d.field_specs.clone() {
                    FormField { key: "{spec.key}", spec: spec.clone(), lang,
                        value: answers().get(&spec.key).cloned().unwrap_or_default(),
                        error: error_for(&errs, &spec.key),
                        on_input: move |(k, v): (String, String)| { answers.write().insert(k, v); },
                        on_commit: { let mut a = autosave.clone(); move |_| a() } }
                }
                div { class: "field",
                    label { r#for: "note", {lang.t("备注（给审核人员）", "Note for the reviewer")} }
                    textarea { id: "note", value: "{note}", oninput: move |e| note.set(e.value()),
                        onchange: { let mut a = autosave.clone(); move |_| a() } }
                }
            }
        }
        div { class: "section-title", id: "materials-title",
            {format!("{}{done}/{required}{}", lang.t("二、材料清单（必需材料 ", "2. Materials (required "), lang.t("）", ")"))}
        }
        for m in d.materials.clone() {
            MaterialCard { key: "{m.kind.code}", id, material: m.clone(), lang, busy,
                elsewhere: filed.iter().filter(|(h, _)| !m.photos.iter().any(|p| p.hash == *h)).cloned().collect::<Vec<_>>(),
                reuse: reusable().unwrap_or_default().into_iter().find(|r| r.material == m.kind.code) }
        }
        if let Some(b) = busy() { div { class: "notice", id: "busy", "{b}" } }
        if let Some(t) = saved_at() { div { class: "muted small", id: "saved", {format!("{} {t}", lang.t("草稿已保存", "Draft saved"))} } }
        div { class: "btn-row",
            button { class: "btn", id: "save-draft", onclick: move |_| save_now(), {lang.t("保存草稿", "Save draft")} }
            button { class: "btn primary", id: "submit", disabled: busy().is_some(), onclick: submit,
                {if d.status == AppStatus::Returned { lang.t("重新提交", "Resubmit") } else { lang.t("提交", "Submit") }} }
        }
        // a draft started by mistake can go; a returned application belongs to the centre's case
        if d.status == AppStatus::Draft { DeleteDraft { id } }
    }
}

/// Scroll the first field in error (else the error list) into view and focus it, once the
/// screen has re-rendered with the errors: the agent may be at the bottom of a long form.
fn show_first_error() {
    spawn(async {
        let js = "requestAnimationFrame(() => { \
            const f = document.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea'); \
            const t = f || document.getElementById('errors'); \
            if (t) { t.scrollIntoView({block: 'center'}); if (f) f.focus({preventScroll: true}); } });";
        let _ = document::eval(js).await;
    });
}

#[component]
fn FormField(
    spec: FieldSpec,
    lang: Lang,
    value: String,
    error: Option<String>,
    on_input: EventHandler<(String, String)>,
    on_commit: EventHandler<()>,
) -> Element {
    let key = spec.key.clone();
    let k2 = key.clone();
    let input_type = match spec.kind {
        FieldKind::Number => "number",
        FieldKind::Date => "date",
        FieldKind::Month => "month",
        FieldKind::Phone => "tel",
        _ => "text",
    };
    let inputmode = match spec.kind {
        FieldKind::BankAccount | FieldKind::Phone => "numeric",
        FieldKind::Number => "decimal",
        _ => "text",
    };
    rsx! {
        div { class: if error.is_some() { "field invalid" } else { "field" },
            label { r#for: "f-{key}", {lang.l(&spec.label)} if spec.required { span { class: "req", "*" } } }
            match &spec.kind {
                FieldKind::Choice { options } => rsx! {
                    select { id: "f-{key}", value: "{value}",
                        onchange: move |e| { on_input.call((k2.clone(), e.value())); on_commit.call(()) },
                        option { value: "", {lang.t("请选择", "Choose…")} }
                        for o in options.clone() {
                            option { value: "{o.zh}", selected: o.zh == value, {lang.l(&o)} }
                        }
                    }
                },
                _ => rsx! {
                    input { id: "f-{key}", r#type: input_type, inputmode, value: "{value}",
                        oninput: move |e| on_input.call((k2.clone(), e.value())),
                        onchange: move |_| on_commit.call(()) }
                },
            }
            if let Some(e) = &error { div { class: "error", role: "alert", {lang.msg(e)} } }
            if !spec.hint.zh.is_empty() { div { class: "hint", {lang.l(&spec.hint)} } }
        }
    }
}

#[component]
fn MaterialCard(
    id: ApplicationId,
    material: MaterialView,
    lang: Lang,
    busy: Signal<Option<String>>,
    reuse: Option<ReusableMaterial>,
    /// Photos filed under the application's other materials, with those materials' names.
    elsewhere: Vec<(PhotoHash, String)>,
) -> Element {
    let ctx = use_ctx();
    let data = use_data_version();
    let mut error = use_signal(|| None::<String>);
    let m = material;
    let code = m.kind.code.clone();
    let want = m.kind.photos.max(1);
    let class = if m.needs_retake() {
        "material redo"
    } else if m.complete() && !m.photos.is_empty() {
        "material done"
    } else {
        "material"
    };
    let store = ctx.store.clone();
    let code_add = code.clone();
    let had: Vec<PhotoHash> = m.photos.iter().map(|p| p.hash).collect();
    let add = move |bytes: Vec<u8>| {
        let store = store.clone();
        let code = code_add.clone();
        let had = had.clone();
        let elsewhere = elsewhere.clone();
        let mut busy = busy;
        busy.set(Some(lang.t("正在处理照片，请稍候…", "Processing photo…").to_string()));
        spawn(async move {
            let result = tokio::task::spawn_blocking(move || store.add_photo(id, &code, &bytes)).await;
            busy.set(None);
            match result {
                // the same picture again is kept once: say so instead of showing nothing new
                Ok(Ok(photo)) if had.contains(&photo.hash) => error.set(Some(
                    lang.t(
                        "这张照片已拍过，请换一张（例如拍另一面）。",
                        "This photo is already here; take another one (e.g. the other side).",
                    )
                    .to_string(),
                )),
                // kept (a photo may show two documents), but the agent is asked to check
                Ok(Ok(photo)) if elsewhere.iter().any(|(h, _)| *h == photo.hash) => {
                    let other = elsewhere.iter().find(|(h, _)| *h == photo.hash).map(|(_, n)| n.clone()).unwrap_or_default();
                    error.set(Some(format!(
                        "{}{other}{}",
                        lang.t("这张照片也放在了「", "This photo is also filed under “"),
                        lang.t("」下，请确认没有选错。", "”; check it is the right one.")
                    )));
                    data.bump();
                }
                Ok(Ok(_)) => {
                    error.set(None);
                    data.bump();
                }
                Ok(Err(e)) => error.set(Some(e.to_string())),
                Err(e) => error.set(Some(format!("{}{e}", lang.t("照片处理中断：", "Photo processing stopped: ")))),
            }
        });
    };
    let store = ctx.store.clone();
    let code_rm = code.clone();
    let remove = move |h: PhotoHash| match store.remove_photo(id, &code_rm, &h) {
        Ok(()) => data.bump(),
        Err(e) => error.set(Some(e.to_string())),
    };
    let store = ctx.store.clone();
    let code_reuse = code.clone();
    rsx! {
        div { class: "{class}", id: "material-{code}",
            div { class: "mhead",
                span { class: "tick", if m.needs_retake() { "!" } else if m.complete() && !m.photos.is_empty() { "✓" } else if m.required { "○" } else { "·" } }
                div { class: "grow",
                    div { class: "title", {lang.l(&m.kind.name)}
                        if !m.required { span { class: "muted small", {lang.t("（如有）", " (optional)")} } }
                        if m.reused_from.is_some() { span { class: "tag", {lang.t("已复用", "reused")} } }
                        if m.retaken { span { class: "tag", id: "retaken-{code}", {lang.t("已重新拍摄", "re-taken")} } }
                    }
                    div { class: "muted small", id: "count-{code}",
                        {if usize::from(want) < m.photos.len() {
                            format!("{} {} {}", lang.t("已拍", "photos:"), m.photos.len(), lang.t("张", ""))
                        } else {
                            format!("{} {}/{}", lang.t("已拍", "photos"), m.photos.len(), want)
                        }}
                        if !m.note.zh.is_empty() { " · {lang.l(&m.note)}" }
                    }
                }
            }
            if m.needs_retake() { div { class: "small redo-note", style: "color: var(--orange)",
                {lang.t("需重新拍摄：中心要求重新提供这项材料，请删除原来的照片并拍新的。", "Re-take: the centre asked for this again; remove the old photo and take a new one.")} } }
            if !m.kind.hint.zh.is_empty() { div { class: "hint muted small", "{lang.l(&m.kind.hint)}" } }
            Thumbs { photos: m.photos.clone(), on_remove: remove }
            if let Some(r) = reuse {
                button { class: "btn block", id: "reuse-{code}", style: "margin-bottom:8px",
                    onclick: move |_| match store.reuse_material(id, &code_reuse, r.from) {
                        Ok(()) => data.bump(),
                        Err(e) => error.set(Some(e.to_string())),
                    },
                    {format!("{} {}({})", lang.t("使用已拍的", "Reuse photos from"), lang.l(&r.from_title), lang.datetime(r.captured_at))}
                }
            }
            PhotoAdder { id: "add-{code}", on_photo: add, busy: busy().is_some() }
            if let Some(e) = error() { div { class: "error", role: "alert", {lang.msg(&e)} } }
        }
    }
}
