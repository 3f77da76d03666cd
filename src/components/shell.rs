//! The frame around every screen: a top bar (back, title, network state, language), a
//! strip that always says what is waiting to sync and shows progress in items and bytes,
//! and the bottom navigation with four large targets.

use crate::app::Route;
use crate::components::icons::{Ico, Icon};
use crate::ctx::{use_ctx, use_data_version, use_sync_status};
use crate::i18n::{use_lang, Lang};
use daiban_agent_core::store::OutboxSummary;
use daiban_agent_core::sync::{SyncPhase, SyncStatus};
use dioxus::prelude::*;

/// Which bottom tab a route belongs to, and whether it is a tab's top screen.
fn tab_of(route: &Route) -> (usize, bool) {
    match route {
        Route::Home {} => (0, true),
        Route::Residents {} => (1, true),
        Route::ResidentNew {} | Route::ResidentView { .. } | Route::ResidentEdit { .. } | Route::ChooseService { .. } => (1, false),
        Route::Services {} => (2, true),
        Route::ItemGuide { .. } | Route::BundleGuide { .. } | Route::ChooseResident { .. } => (2, false),
        Route::Applications {} => (3, true),
        Route::ApplicationView { .. } | Route::Capture { .. } => (3, false),
        Route::Deliveries {} | Route::DeliveryView { .. } | Route::SyncView {} | Route::NotFound { .. } => (0, false),
    }
}

fn title_of(route: &Route, lang: Lang) -> &'static str {
    match route {
        Route::Home {} => lang.t("代办工作台", "Agent desk"),
        Route::Residents {} => lang.t("居民名册", "Residents"),
        Route::ResidentNew {} => lang.t("登记居民", "New resident"),
        Route::ResidentView { .. } => lang.t("居民信息", "Resident"),
        Route::ResidentEdit { .. } => lang.t("修改居民信息", "Edit resident"),
        Route::Services {} => lang.t("办事指南", "Services"),
        Route::ItemGuide { .. } | Route::BundleGuide { .. } => lang.t("白话办事指南", "Plain guide"),
        Route::ChooseService { .. } => lang.t("选择办理事项", "Choose a service"),
        Route::ChooseResident { .. } => lang.t("为谁办理", "For whom"),
        Route::Applications {} => lang.t("申请记录", "Applications"),
        Route::ApplicationView { .. } => lang.t("申请详情", "Application"),
        Route::Capture { .. } => lang.t("填写与拍照", "Fill in & photos"),
        Route::Deliveries {} => lang.t("送达任务", "Deliveries"),
        Route::DeliveryView { .. } => lang.t("送达签收", "Hand over"),
        Route::SyncView {} => lang.t("同步与设置", "Sync & settings"),
        Route::NotFound { .. } => lang.t("找不到这一页", "Page not found"),
    }
}

#[component]
pub fn Shell() -> Element {
    let route = use_route::<Route>();
    let mut lang_sig: Signal<Lang> = use_context();
    let lang = lang_sig();
    let ctx = use_ctx();
    let (tab, top) = tab_of(&route);
    let status = use_sync_status();
    let data = use_data_version();
    let store = ctx.store.clone();
    let summary = use_memo(move || {
        data.get();
        status.read();
        store.outbox_summary().unwrap_or_default()
    });
    let store = ctx.store.clone();
    let toggle_lang = move |_| {
        let next = if lang_sig() == Lang::Zh { Lang::En } else { Lang::Zh };
        lang_sig.set(next);
        if let Err(e) = store.set_meta("ui.lang", next.code()) {
            tracing::warn!("saving language: {e}");
        }
    };
    let nav = navigator();
    rsx! {
        header { class: "topbar",
            if !top {
                button { class: "icon-btn", id: "back", "aria-label": lang.t("返回", "Back"),
                    onclick: move |_| nav.go_back(), "←" }
            }
            h1 { {title_of(&route, lang)} }
            NetBadge { status: status(), summary: summary() }
            button { class: "icon-btn lang", id: "lang", onclick: toggle_lang,
                {lang.t("EN", "中")} }
        }
        SyncStrip { status: status(), summary: summary() }
        main { class: "content", Outlet::<Route> {} }
        BottomNav { tab, pending: summary().pending_applications }
    }
}

/// Online / offline / syncing, always visible.
#[component]
pub fn NetBadge(status: SyncStatus, summary: OutboxSummary) -> Element {
    let lang = use_lang();
    let (class, text) = if !status.enrolled {
        ("net offline", lang.t("未绑定", "Not enrolled").to_string())
    } else if status.stopped {
        ("net offline", lang.t("同步已停", "Sync stopped").to_string())
    } else if status.running() {
        ("net syncing", lang.t("同步中", "Syncing").to_string())
    } else if status.online {
        ("net online", lang.t("● 在线", "● Online").to_string())
    } else {
        ("net offline", lang.t("○ 离线", "○ Offline").to_string())
    };
    rsx! {
        Link { to: Route::SyncView {}, class: "{class}", id: "net", "{text}" }
    }
}

/// What is waiting, and progress while syncing (items and bytes).
#[component]
pub fn SyncStrip(status: SyncStatus, summary: OutboxSummary) -> Element {
    let lang = use_lang();
    if status.running() {
        let phase = match status.phase {
            SyncPhase::Pushing => lang.t("正在上传申请", "Sending applications"),
            SyncPhase::Uploading => lang.t("正在上传照片", "Uploading photos"),
            SyncPhase::Pulling => lang.t("正在接收审核结果", "Fetching decisions"),
            SyncPhase::Idle => "",
        };
        let pct = (status.bytes_done * 100)
            .checked_div(status.bytes_total)
            .or_else(|| u64::from(status.items_done * 100).checked_div(u64::from(status.items_total)))
            .unwrap_or(0)
            .min(100);
        return rsx! {
            div { class: "syncstrip", id: "syncstrip",
                "{phase} {status.items_done}/{status.items_total} · {lang.bytes(status.bytes_done)}/{lang.bytes(status.bytes_total)}"
                div { class: "bar", div { style: "width: {pct}%" } }
            }
        };
    }
    if status.stopped {
        return rsx! {
            Link { to: Route::SyncView {}, class: "syncstrip warn", id: "syncstrip",
                {lang.msg(status.last_error.as_deref().unwrap_or_default())}
            }
        };
    }
    if summary.quarantined > 0 {
        return rsx! {
            Link { to: Route::SyncView {}, class: "syncstrip warn", id: "syncstrip",
                {format!("{} {} {}", lang.t("有", ""), summary.quarantined, lang.t("条被中心拒收，请查看原因", "item(s) refused by the centre — see why"))}
            }
        };
    }
    if summary.is_empty() {
        return rsx! {};
    }
    let waiting = match lang {
        Lang::Zh => format!(
            "待上传：{} 条记录、{} 张照片（{}）",
            summary.pending_events,
            summary.pending_photos,
            lang.bytes(summary.pending_photo_bytes)
        ),
        Lang::En => format!(
            "Waiting to sync: {} record(s), {} photo(s) ({})",
            summary.pending_events,
            summary.pending_photos,
            lang.bytes(summary.pending_photo_bytes)
        ),
    };
    let when = if status.photos_held {
        lang.t(" · 照片等待Wi-Fi", " · photos wait for Wi-Fi")
    } else if !status.online {
        lang.t(" · 有信号时自动上传", " · will send when online")
    } else {
        ""
    };
    rsx! {
        Link { to: Route::SyncView {}, class: "syncstrip", id: "syncstrip", "{waiting}{when}" }
    }
}

#[component]
fn BottomNav(tab: usize, pending: u32) -> Element {
    let lang = use_lang();
    let item = |i: usize, to: Route, icon: Icon, label: &'static str, id: &'static str, badge: u32| {
        rsx! {
            Link { to, class: if i == tab { "active" } else { "" }, id,
                Ico { icon }
                span { "{label}"
                    if badge > 0 { span { class: "badge", "{badge}" } }
                }
            }
        }
    };
    rsx! {
        nav { class: "bottom",
            div { class: "inner",
                {item(0, Route::Home {}, Icon::Home, lang.t("首页", "Home"), "tab-home", 0)}
                {item(1, Route::Residents {}, Icon::People, lang.t("居民", "Residents"), "tab-residents", 0)}
                {item(2, Route::Services {}, Icon::List, lang.t("办事", "Services"), "tab-services", 0)}
                {item(3, Route::Applications {}, Icon::Folder, lang.t("申请", "Applications"), "tab-applications", pending)}
            }
        }
    }
}
