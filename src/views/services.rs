//! The township's service catalogue (事项清单) with plain-language guides (白话办事指南),
//! and the two ways into a new application: resident first, or service first.

use crate::app::Route;
use crate::ctx::{use_ctx, use_data_version};
use crate::i18n::{today, use_lang, Lang};
use daiban_agent_core::store::Target;
use daiban_proto::catalogue::{Bundle, Catalogue, MaterialRequirement, ServiceItem};
use daiban_proto::ResidentId;
use dioxus::prelude::*;
use std::collections::BTreeMap;

fn target_from(s: &str) -> Option<Target> {
    let (kind, code) = s.split_once(':')?;
    match kind {
        "item" => Some(Target::Item(code.into())),
        "bundle" => Some(Target::Bundle(code.into())),
        _ => None,
    }
}

fn days(lang: Lang, n: u16) -> String {
    match lang {
        Lang::Zh => format!("{n}个工作日"),
        Lang::En => format!("{n} working days"),
    }
}

/// Items grouped by category, in catalogue order.
fn by_category(cat: &Catalogue, lang: Lang, filter: &str) -> Vec<(String, Vec<ServiceItem>)> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<ServiceItem>> = BTreeMap::new();
    for i in &cat.items {
        let name = lang.l(&i.name);
        if !filter.is_empty() && !name.contains(filter) && !i.name.zh.contains(filter) {
            continue;
        }
        let c = lang.l(&i.category);
        if !order.contains(&c) {
            order.push(c.clone());
        }
        groups.entry(c).or_default().push(i.clone());
    }
    order.into_iter().map(|c| (c.clone(), groups.remove(&c).unwrap_or_default())).collect()
}

#[component]
pub fn Services() -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let mut q = use_signal(String::new);
    let store = ctx.store.clone();
    let cat = use_memo(move || {
        data.get();
        store.catalogue()
    });
    let cat = cat();
    rsx! {
        input { class: "search", r#type: "search", id: "service-search", value: "{q}",
            placeholder: lang.t("搜索事项，如：老年证", "Search, e.g. elderly card"), oninput: move |e| q.set(e.value()) }
        if q().is_empty() {
            div { class: "section-title", {lang.t("一件事一次办", "One-thing bundles")} }
            ul { class: "list",
                for b in cat.bundles.iter() {
                    Link { class: "item", to: Route::BundleGuide { code: b.code.clone() }, key: "{b.code}",
                        div { class: "title", {lang.l(&b.name)} }
                        div { class: "muted small", {lang.l(&b.description)} }
                    }
                }
            }
        }
        for (category, items) in by_category(&cat, lang, &q()) {
            div { class: "section-title", key: "{category}", "{category}" }
            ul { class: "list",
                for i in items {
                    Link { class: "item", to: Route::ItemGuide { code: i.code.clone() }, key: "{i.code}",
                        div { class: "row between",
                            span { class: "title", {lang.l(&i.name)} }
                            span { class: "muted small", {days(lang, i.time_limit_days)} }
                        }
                    }
                }
            }
        }
        div { class: "muted small", style: "text-align:center;margin-top:12px",
            {format!("{} {} · {} v{}", lang.l(&cat.township), lang.t("事项清单", "catalogue"), lang.t("版本", "version"), cat.version)}
        }
    }
}

#[component]
fn MaterialList(cat: Catalogue, materials: Vec<MaterialRequirement>) -> Element {
    let lang = use_lang();
    rsx! {
        ul { class: "list",
            for m in materials {
                li { key: "{m.code}",
                    div { class: "title",
                        {cat.material(&m.code).map(|k| lang.l(&k.name)).unwrap_or(m.code.clone())}
                        if !m.required { span { class: "muted small", {lang.t("（如有）", " (if any)")} } }
                    }
                    if !m.note.zh.is_empty() { div { class: "muted small", {lang.l(&m.note)} } }
                }
            }
        }
    }
}

#[component]
pub fn ItemGuide(code: String) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let cat = ctx.store.catalogue();
    let Some(item) = cat.item(&code).cloned() else {
        return rsx! { div { class: "empty", {lang.t("没有这个事项", "No such service")} } };
    };
    rsx! {
        div { class: "card",
            h2 { {lang.l(&item.name)} }
            div { class: "muted",
                {format!("{} · {} · {}", lang.l(&item.level.label()), days(lang, item.time_limit_days),
                    if item.fee_yuan == 0 { lang.t("不收费", "free").to_string() } else { format!("{} 元", item.fee_yuan) })}
            }
            if !item.conditions.zh.is_empty() {
                p { strong { {lang.t("谁能办：", "Who can apply: ")} } {lang.l(&item.conditions)} }
            }
            if !item.result.zh.is_empty() {
                p { strong { {lang.t("办好后得到：", "Result: ")} } {lang.l(&item.result)} }
            }
        }
        div { class: "card", id: "guide",
            h3 { {lang.t("怎么办（白话指南）", "How it works")} }
            ol { class: "guide", for s in item.guide.iter() { li { {lang.l(s)} } } }
            for p in item.pitfalls.iter() { div { class: "pitfall", strong { {lang.t("易错提醒：", "Watch out: ")} } {lang.l(p)} } }
        }
        div { class: "section-title", {lang.t("要准备的材料", "Materials")} }
        MaterialList { cat: (*cat).clone(), materials: item.materials.clone() }
        Link { class: "btn primary block", to: Route::ChooseResident { target: format!("item:{code}") }, id: "apply-item",
            {lang.t("为居民办理", "Apply for a resident")} }
    }
}

#[component]
pub fn BundleGuide(code: String) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let cat = ctx.store.catalogue();
    let Some(b) = cat.bundle(&code).cloned() else {
        return rsx! { div { class: "empty", {lang.t("没有这个一件事", "No such bundle")} } };
    };
    let materials = cat.materials_for(&b.items);
    rsx! {
        div { class: "card",
            h2 { {lang.l(&b.name)} }
            p { {lang.l(&b.description)} }
            p { class: "muted", {lang.t("一张表、一套材料，各事项分别审批。", "One form, one set of materials; each item is decided separately.")} }
            ul { class: "list",
                for code in b.items.iter() {
                    if let Some(i) = cat.item(code) {
                        Link { class: "item", to: Route::ItemGuide { code: code.clone() }, key: "{code}",
                            div { class: "row between",
                                span { {lang.l(&i.name)} }
                                span { class: "muted small", {days(lang, i.time_limit_days)} }
                            }
                        }
                    }
                }
            }
        }
        div { class: "section-title", {lang.t("一套材料", "One set of materials")} }
        MaterialList { cat: (*cat).clone(), materials }
        Link { class: "btn primary block", to: Route::ChooseResident { target: format!("bundle:{code}") }, id: "apply-bundle",
            {lang.t("为居民办理", "Apply for a resident")} }
    }
}

/// Create the draft and go to the capture screen.
fn start(ctx: &crate::AppCtx, resident: ResidentId, target: &Target, mut error: Signal<Option<String>>) {
    match ctx.store.create_draft(resident, target) {
        Ok(id) => {
            navigator().replace(Route::Capture { id });
        }
        Err(e) => error.set(Some(e.to_string())),
    }
}

#[component]
pub fn ChooseService(resident: ResidentId) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let error = use_signal(|| None::<String>);
    let cat = ctx.store.catalogue();
    let Ok(r) = ctx.store.resident(resident) else {
        return rsx! { div { class: "empty", {lang.t("找不到这位居民", "Resident not found")} } };
    };
    let age = r.id_number.age_on(today());
    let (suggested, others): (Vec<_>, Vec<_>) =
        cat.items.iter().cloned().partition(|i| i.suggest_from_age.is_some_and(|a| age >= u32::from(a)));
    // a newborn's services are not offered first to a 76-year-old, nor retirement to a parent
    let (bundles, other_bundles): (Vec<_>, Vec<_>) = cat.bundles.iter().cloned().partition(|b| b.suits_age(age));
    let ctx2 = ctx.clone();
    let choose = move |t: Target| start(&ctx2, resident, &t, error);
    let pick_bundle = {
        let choose = choose.clone();
        move |b: Bundle| {
            let c = choose.clone();
            let code = b.code.clone();
            rsx! {
                li { key: "b-{b.code}", onclick: move |_| c(Target::Bundle(code.clone())), class: "pick", "data-code": "{b.code}",
                    div { class: "title", {lang.l(&b.name)} }
                    div { class: "muted small", {lang.l(&b.description)} }
                }
            }
        }
    };
    rsx! {
        div { class: "card", h2 { "{r.name}" } div { class: "muted", {format!("{age}{}", lang.t("岁", " years"))} } }
        if let Some(e) = error() { div { class: "errors", role: "alert", {lang.msg(&e)} } }
        if !suggested.is_empty() {
            div { class: "section-title", {lang.t("按年龄可办", "Eligible by age")} }
            ul { class: "list",
                for i in suggested {
                    li { key: "s-{i.code}", onclick: { let c = choose.clone(); let code = i.code.clone(); move |_| c(Target::Item(code.clone())) },
                        class: "pick", "data-code": "{i.code}",
                        div { class: "title", {lang.l(&i.name)} }
                    }
                }
            }
        }
        if !bundles.is_empty() {
            div { class: "section-title", {lang.t("一件事一次办", "One-thing bundles")} }
            ul { class: "list", id: "bundles",
                for b in bundles { {pick_bundle(b)} }
            }
        }
        if !other_bundles.is_empty() {
            details { class: "more", id: "other-bundles",
                summary { class: "section-title", {lang.t("其他一件事（按年龄一般用不上）", "Other bundles (not usual at this age)")} }
                ul { class: "list",
                    for b in other_bundles { {pick_bundle(b)} }
                }
            }
        }
        div { class: "section-title", {lang.t("单个事项", "Single services")} }
        ul { class: "list",
            for i in others {
                li { key: "i-{i.code}", onclick: { let c = choose.clone(); let code = i.code.clone(); move |_| c(Target::Item(code.clone())) },
                    class: "pick", "data-code": "{i.code}",
                    div { class: "title", {lang.l(&i.name)} }
                    div { class: "muted small", {lang.l(&i.category)} }
                }
            }
        }
    }
}

#[component]
pub fn ChooseResident(target: String) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let error = use_signal(|| None::<String>);
    let mut q = use_signal(String::new);
    let Some(t) = target_from(&target) else {
        return rsx! { div { class: "empty", {lang.t("无效的事项", "Invalid service")} } };
    };
    let store = ctx.store.clone();
    let found = use_memo(move || {
        data.get();
        store.search_residents(&q(), 100).unwrap_or_default()
    });
    rsx! {
        input { class: "search", r#type: "search", value: "{q}", id: "resident-search",
            placeholder: lang.t("搜索居民", "Search residents"), oninput: move |e| q.set(e.value()) }
        if let Some(e) = error() { div { class: "errors", role: "alert", {lang.msg(&e)} } }
        ul { class: "list",
            for r in found() {
                li { key: "{r.id}", class: "pick",
                    onclick: { let ctx = ctx.clone(); let t = t.clone(); let id = r.id; move |_| start(&ctx, id, &t, error) },
                    div { class: "title", "{r.name}" }
                    div { class: "muted small", "{r.id_masked}" }
                }
            }
        }
        Link { class: "btn block", to: Route::ResidentNew {}, {lang.t("＋ 登记新居民", "+ New resident")} }
    }
}
