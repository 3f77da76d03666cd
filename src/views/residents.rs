//! The resident register: search by name, ID digits, phone or group; a resident's page with
//! their applications. ID numbers are masked in lists and on screen until the agent taps to
//! show them (someone may be looking over the agent's shoulder).

use crate::app::Route;
use crate::components::{ReadError, StatusChip};
use crate::ctx::{found, use_store_read};
use crate::i18n::{today, use_lang};
use daiban_proto::ResidentId;
use dioxus::prelude::*;

#[component]
pub fn Residents() -> Element {
    let lang = use_lang();
    let mut query = use_signal(String::new);
    let read = use_store_read(move |s| Ok((s.search_residents(&query(), 200)?, s.resident_count()?)));
    let (found, total) = match read() {
        Ok(r) => r,
        Err(error) => return rsx! { ReadError { error } },
    };
    rsx! {
        input { class: "search", r#type: "search", id: "resident-search", value: "{query}",
            placeholder: lang.t("搜索姓名、身份证后四位、电话或组别", "Search name, ID digits, phone, group"),
            oninput: move |e| query.set(e.value()) }
        div { class: "muted small", style: "margin: 6px 4px",
            {format!("{} {} / {}", lang.t("共", "showing"), found.len(), total)}
        }
        if found.is_empty() {
            div { class: "empty",
                if total == 0 { {lang.t("还没有登记居民。点右下角“登记居民”开始。", "No residents yet. Tap “New resident” to start.")} }
                else { {lang.t("没有找到，换个关键词试试", "Nothing found — try other words")} }
            }
        }
        ul { class: "list", id: "resident-list",
            for r in found {
                Link { class: "item", to: Route::ResidentView { id: r.id }, key: "{r.id}",
                    div { class: "row between",
                        span { class: "title", "{r.name}"
                            if r.elderly { span { class: "tag", {lang.t("老人", "elderly")} } }
                            if r.mobility_limited { span { class: "tag", {lang.t("行动不便", "limited mobility")} } }
                        }
                        if r.open_applications > 0 {
                            span { class: "chip accepted", {format!("{} {}", r.open_applications, lang.t("件在办", "open"))} }
                        }
                    }
                    div { class: "muted small",
                        {format!("{} · {} · {}{}", r.id_masked, lang.t(r.sex.zh(), r.sex.en()), r.age_on(today()), lang.t("岁", " y"))}
                        if let Some(g) = r.village_group { " · {g}" }
                    }
                }
            }
        }
        Link { class: "btn primary fab", to: Route::ResidentNew {}, id: "add-resident", {lang.t("＋ 登记居民", "+ New resident")} }
    }
}

#[component]
pub fn ResidentView(id: ResidentId) -> Element {
    let lang = use_lang();
    let mut reveal = use_signal(|| false);
    let loaded = use_store_read(move |s| Ok((found(s.resident(id))?, s.applications(&[], Some(id), 100, 0)?)));
    let (r, apps) = match loaded() {
        Ok((Some(r), apps)) => (r, apps),
        Ok((None, _)) => return rsx! { div { class: "empty", {lang.t("找不到这位居民", "Resident not found")} } },
        Err(error) => return rsx! { ReadError { error } },
    };
    let idn = if reveal() { r.id_number.expose().to_string() } else { r.id_number.masked() };
    let birth = r.id_number.birth_date();
    rsx! {
        div { class: "card",
            div { class: "row between",
                h2 { id: "resident-name", "{r.name}" }
                Link { class: "btn", to: Route::ResidentEdit { id }, id: "edit-resident", {lang.t("修改", "Edit")} }
            }
            dl { class: "kv",
                dt { {lang.t("身份证号", "ID number")} }
                dd { span { id: "resident-idn", "{idn} " }
                    button { class: "chip", onclick: move |_| reveal.toggle(),
                        {if reveal() { lang.t("隐藏", "hide") } else { lang.t("显示", "show") }} }
                }
                dt { {lang.t("出生/性别", "Born / sex")} }
                dd { {format!("{} · {} · {}{}", lang.date(birth), lang.t(r.id_number.sex().zh(), r.id_number.sex().en()), r.id_number.age_on(today()), lang.t("岁", " y"))} }
                dt { {lang.t("电话", "Phone")} }
                dd { {r.phone.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "—".into())} }
                dt { {lang.t("组别", "Group")} }
                dd { {r.village_group.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "—".into())} }
                dt { {lang.t("住址", "Address")} }
                dd { {r.address.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "—".into())} }
                dt { {lang.t("情况", "Notes")} }
                dd {
                    if r.elderly { span { class: "tag", {lang.t("老人", "elderly")} } }
                    if r.mobility_limited { span { class: "tag", {lang.t("行动不便，需上门", "limited mobility")} } }
                    if !r.elderly && !r.mobility_limited { "—" }
                }
            }
        }
        Link { class: "btn primary block", to: Route::ChooseService { resident: id }, id: "apply-for-resident",
            {lang.t("为TA办事", "Apply for this resident")} }
        div { class: "section-title", {lang.t("办理记录", "Applications")} }
        if apps.is_empty() { div { class: "empty", {lang.t("还没有申请", "No applications yet")} } }
        ul { class: "list",
            for a in apps {
                Link { class: "item", to: Route::ApplicationView { id: a.id }, key: "{a.id}",
                    div { class: "row between",
                        span { class: "title", {lang.l(&a.title)} }
                        StatusChip { status: a.status }
                    }
                    div { class: "muted small", {lang.datetime(a.updated_at)} }
                }
            }
        }
    }
}
