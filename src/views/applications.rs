//! The application list (filter by status) and an application's page: items and their
//! decisions, the centre's return reason, form answers, materials with photos, and the
//! timeline from draft to rating.

use crate::app::Route;
use crate::components::{DeleteDraft, ReadError, StatusChip, Thumbs};
use crate::ctx::{found, use_ctx, use_store_read};
use crate::i18n::{today, use_lang, Lang};
use daiban_agent_core::store::{TimelineEntry, TimelineEvent};
use daiban_proto::status::Decision;
use daiban_proto::{AppStatus, ApplicationId, Catalogue};
use dioxus::prelude::*;

const FILTERS: [(&str, &str, &[AppStatus]); 6] = [
    ("全部", "All", &[]),
    ("待处理", "To do", &[AppStatus::Draft, AppStatus::Returned]),
    ("待上传", "Queued", &[AppStatus::Queued]),
    ("审核中", "In review", &[AppStatus::Received, AppStatus::Accepted]),
    ("已办结", "Done", &[AppStatus::Approved, AppStatus::ResultReady, AppStatus::Delivered, AppStatus::Rated]),
    ("未通过", "Rejected", &[AppStatus::Rejected]),
];

#[component]
pub fn Applications() -> Element {
    let lang = use_lang();
    let mut filter = use_signal(|| 0usize);
    let list = use_store_read(move |s| s.applications(FILTERS[filter()].2, None, 300, 0));
    let list = match list() {
        Ok(l) => l,
        Err(error) => return rsx! { ReadError { error } },
    };
    rsx! {
        div { class: "filters", id: "filters",
            for (i, (zh, en, _)) in FILTERS.iter().enumerate() {
                button { class: if filter() == i { "on" } else { "" }, key: "{i}", onclick: move |_| filter.set(i),
                    {lang.t(zh, en)} }
            }
        }
        if list.is_empty() { div { class: "empty", {lang.t("没有申请", "No applications")} } }
        ul { class: "list", id: "application-list",
            for a in list {
                Link { class: "item", key: "{a.id}",
                    to: if matches!(a.status, AppStatus::Draft | AppStatus::Returned) { Route::Capture { id: a.id } } else { Route::ApplicationView { id: a.id } },
                    div { class: "row between",
                        span { class: "title grow", "{a.resident_name} · {lang.l(&a.title)}"
                            if a.is_bundle { span { class: "tag", {lang.t("一件事", "bundle")} } }
                        }
                        StatusChip { status: a.status }
                    }
                    div { class: "muted small",
                        {format!("{} · {} {}", lang.datetime(a.updated_at), a.photos, lang.t("张照片", "photos"))}
                    }
                    if let Some(due) = a.deadline.filter(|_| matches!(a.status, AppStatus::Received | AppStatus::Accepted)) {
                        div { class: "small due", {lang.due(due, today())} }
                    }
                }
            }
        }
    }
}

/// A timeline entry in words.
pub fn describe(e: &TimelineEvent, cat: &Catalogue, lang: Lang) -> String {
    let item = |code: &str| cat.item(code).map(|i| lang.l(&i.name)).unwrap_or_else(|| code.to_string());
    let zh = lang == Lang::Zh;
    match e {
        TimelineEvent::Created => lang.t("创建草稿", "Draft created").into(),
        TimelineEvent::Submitted { revision } => {
            // an entry of the history: whether it has been sent since is the status chip's
            // and the sync strip's business ("等待上传" here stayed after the upload)
            if zh {
                format!("在手机上提交第{revision}版")
            } else {
                format!("Revision {revision} submitted on the phone")
            }
        }
        TimelineEvent::Received { .. } => lang.t("便民服务中心已接收", "Received by the centre").into(),
        TimelineEvent::Decision { decision, by } => {
            let what = match decision {
                Decision::Accept => lang.t("已受理", "Accepted").to_string(),
                Decision::Return { reason, materials } => {
                    let mats: Vec<String> =
                        materials.iter().map(|m| cat.material(m).map(|k| lang.l(&k.name)).unwrap_or(m.clone())).collect();
                    if zh {
                        format!(
                            "退回补正：{reason}{}",
                            if mats.is_empty() { String::new() } else { format!("（需补：{}）", mats.join("、")) }
                        )
                    } else {
                        format!(
                            "Returned: {reason}{}",
                            if mats.is_empty() { String::new() } else { format!(" (add: {})", mats.join(", ")) }
                        )
                    }
                }
                Decision::Reject { item: i, reason } => format!("{}{}{reason}", item(i), lang.t(" 不予受理：", " rejected: ")),
                Decision::Approve { item: i } => format!("{}{}", item(i), lang.t(" 已办结", " approved")),
                Decision::ResultReady { item: i, mode } => {
                    format!("{}{}{}", item(i), lang.t(" 结果已出，", " result ready, "), lang.l(&mode.label()))
                }
                Decision::Delivered { item: i } => format!("{}{}", item(i), lang.t(" 已领取", " collected")),
            };
            format!("{what} · {by}")
        }
        TimelineEvent::DeliveryTask { item: i } => format!("{}{}", lang.t("收到送达任务：", "Delivery task: "), item(i)),
        TimelineEvent::Delivered { item: i, recipient } => {
            format!("{} {}{}", item(i), lang.t("已送达，签收人 ", "delivered, signed by "), recipient)
        }
        TimelineEvent::Rated { rating, .. } => format!("{}{}", lang.t("居民评价：", "Rating: "), lang.l(&rating.label())),
        TimelineEvent::Refused { message } => format!("{}{message}", lang.t("中心拒收：", "Refused by the centre: ")),
    }
}

#[component]
pub fn Timeline(entries: Vec<TimelineEntry>) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let cat = ctx.store.catalogue();
    rsx! {
        ul { class: "timeline", id: "timeline",
            for (i, e) in entries.iter().enumerate().rev() {
                li { key: "{i}",
                    class: if matches!(e.event, TimelineEvent::Refused { .. } | TimelineEvent::Decision { decision: Decision::Return { .. } | Decision::Reject { .. }, .. }) { "warn" } else { "" },
                    div { {describe(&e.event, &cat, lang)} }
                    div { class: "when", {lang.datetime(e.at)} }
                }
            }
        }
    }
}

#[component]
pub fn ApplicationView(id: ApplicationId) -> Element {
    let lang = use_lang();
    let detail = use_store_read(move |s| found(s.application(id)));
    let d = match detail() {
        Ok(Some(d)) => d,
        Ok(None) => return rsx! { div { class: "empty", {lang.t("找不到这份申请", "Application not found")} } },
        Err(error) => return rsx! { ReadError { error } },
    };
    rsx! {
        div { class: "card",
            div { class: "row between",
                h2 { id: "app-title", {lang.l(&d.title)} }
                StatusChip { status: d.status }
            }
            div { class: "muted",
                Link { to: Route::ResidentView { id: d.resident.id }, "{d.resident.name}" }
                " · {d.resident.id_number.masked()}"
            }
            if d.revision > 1 { div { class: "muted small", {format!("{}{}{}", lang.t("第", "Revision "), d.revision, lang.t("版", ""))} } }
            // what to tell the resident: when the decision is due (working days, holidays skipped)
            if let Some(due) = d.deadline.filter(|_| matches!(d.status, AppStatus::Received | AppStatus::Accepted)) {
                div { class: "small", id: "deadline", {lang.due(due, today())} }
            }
            if d.items.len() > 1 || d.status >= AppStatus::Approved {
                ul { class: "list", style: "margin-top:8px",
                    for (code, name, st) in d.items.iter() {
                        li { key: "{code}", class: "row between",
                            span { {lang.l(name)} }
                            span { class: "chip", {lang.l(&st.label())} }
                        }
                    }
                }
            }
        }
        if let Some(r) = d.return_reason.clone().filter(|_| d.editable()) {
            div { class: "banner-return", id: "return-reason", strong { {lang.t("需要补正：", "To correct: ")} } "{r}" }
        }
        if d.editable() {
            Link { class: "btn primary block", to: Route::Capture { id }, id: "continue",
                {if d.status == AppStatus::Returned { lang.t("去补正", "Correct it") } else { lang.t("继续填写", "Continue") }} }
        }
        if !d.fields.is_empty() {
            div { class: "section-title", {lang.t("填写内容", "Form")} }
            div { class: "card",
                dl { class: "kv",
                    for spec in d.field_specs.iter().filter(|s| d.fields.contains_key(&s.key)) {
                        dt { {lang.l(&spec.label)} }
                        dd { {d.fields.get(&spec.key).cloned().unwrap_or_default()} }
                    }
                }
            }
        }
        div { class: "section-title", {lang.t("材料", "Materials")} }
        for m in d.materials.iter().filter(|m| !m.photos.is_empty()) {
            div { class: "material done", key: "{m.kind.code}",
                div { class: "title", {lang.l(&m.kind.name)}
                    if m.reused_from.is_some() { span { class: "tag", {lang.t("复用", "reused")} } } }
                Thumbs { photos: m.photos.clone() }
            }
        }
        div { class: "section-title", {lang.t("办理进度", "Progress")} }
        div { class: "card", Timeline { entries: d.timeline.clone() } }
        if d.status == AppStatus::Draft {
            DeleteDraft { id }
        }
    }
}
