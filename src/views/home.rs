//! Home: today's work at a glance — returned applications to correct, results to deliver,
//! drafts to finish, what waits to sync — plus proactive reminders (主动服务) for residents
//! who are about to become eligible for something.

use crate::app::Route;
use crate::components::{ReadError, StatusChip};
use crate::ctx::{use_ctx, use_store_read, use_sync_status};
use crate::i18n::{today, use_lang, Lang};
use daiban_proto::AppStatus;
use dioxus::prelude::*;

/// Services most village agents handle every week, offered as shortcuts on the home screen.
const COMMON: [&str; 4] = ["elderly_card", "pension_certification", "medical_insurance_enrolment", "residence_certificate"];

#[component]
pub fn Home() -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let overview = use_store_read(move |store| {
        let counts = store.status_counts()?;
        let returned = store.applications(&[AppStatus::Returned], None, 5, 0)?;
        let drafts = store.applications(&[AppStatus::Draft], None, 3, 0)?;
        let deliveries = store.deliveries(true)?;
        let cat = store.catalogue();
        let mut reminders = Vec::new();
        for item in cat.items.iter().filter(|i| i.suggest_from_age.is_some()) {
            let age = u32::from(item.suggest_from_age.unwrap_or_default());
            for (r, day) in store.residents_reaching_age(age, today(), 30)? {
                reminders.push((r, day, age, item.code.clone(), item.name.clone()));
            }
        }
        reminders.sort_by_key(|r| r.1);
        Ok((counts, returned, drafts, deliveries, reminders, store.enrolment()?))
    });
    let (counts, returned, drafts, deliveries, reminders, enrolment) = match overview() {
        Ok(o) => o,
        Err(error) => return rsx! { ReadError { error } },
    };
    let n = |s: AppStatus| counts.get(&s).copied().unwrap_or(0);
    let in_review = n(AppStatus::Received) + n(AppStatus::Accepted);
    let open_deliveries = deliveries.iter().filter(|d| d.delivered_at.is_none()).count();
    let status = use_sync_status()();
    let sync = ctx.sync.clone();
    rsx! {
        match enrolment {
            Some(e) => rsx! {
                div { class: "muted small", id: "village", style: "margin: 0 4px 8px",
                    {format!("{} · {} · {}", lang.l(&e.village_name), lang.l(&e.township), lang.date(today()))} }
            },
            None => rsx! {
                Link { class: "banner-return", to: Route::SyncView {}, id: "enrol-hint", style: "display:block;text-decoration:none;color:inherit",
                    strong { {lang.t("还没有绑定便民服务中心", "Not enrolled with a centre yet")} }
                    div { class: "small", {lang.t("可以照常登记和办理，申请保存在手机上。点此输入镇里给的注册码。", "You can work as usual; applications stay on the phone. Tap to enter the code from the township.")} }
                }
            },
        }
        div { class: "stats", id: "today",
            Stat { n: n(AppStatus::Returned), label: lang.t("待补正", "To correct"), attn: true, to: Route::Applications {} }
            Stat { n: open_deliveries as u32, label: lang.t("待送达", "To deliver"), attn: true, to: Route::Deliveries {} }
            Stat { n: n(AppStatus::Draft), label: lang.t("草稿", "Drafts"), attn: false, to: Route::Applications {} }
            Stat { n: n(AppStatus::Queued), label: lang.t("待上传", "To upload"), attn: false, to: Route::SyncView {} }
            Stat { n: in_review, label: lang.t("审核中", "In review"), attn: false, to: Route::Applications {} }
            Stat { n: n(AppStatus::Approved) + n(AppStatus::ResultReady) + n(AppStatus::Delivered) + n(AppStatus::Rated),
                   label: lang.t("已办结", "Done"), attn: false, to: Route::Applications {} }
        }
        if status.enrolled {
            // Decisions arrive on their own within a minute while online; this is for "now".
            div { class: "row between small muted", id: "home-sync", style: "margin: 0 4px 8px",
                span { {format!("{}{}", lang.t("上次同步：", "Last sync: "),
                    status.last_success.map(|t| lang.datetime(t)).unwrap_or_else(|| lang.t("还没有", "never").into()))} }
                button { class: "btn small", id: "home-sync-now", disabled: status.running(),
                    onclick: move |_| sync.trigger(),
                    if status.running() { {lang.t("同步中…", "Syncing…")} } else { {lang.t("立即同步", "Sync now")} } }
            }
        }
        div { class: "btn-row",
            Link { class: "btn primary", to: Route::Residents {}, id: "new-application", {lang.t("＋ 新建申请", "+ New application")} }
            Link { class: "btn", to: Route::ResidentNew {}, id: "new-resident", {lang.t("＋ 登记居民", "+ New resident")} }
        }
        if !returned.is_empty() {
            div { class: "section-title", {lang.t("退回补正 · 请尽快处理", "Returned for correction")} }
            ul { class: "list",
                for a in returned {
                    Link { class: "item", to: Route::Capture { id: a.id }, key: "{a.id}",
                        div { class: "row between",
                            span { class: "title", "{a.resident_name} · {lang.l(&a.title)}" }
                            StatusChip { status: a.status }
                        }
                        if let Some(r) = a.return_reason { div { class: "muted", "{r}" } }
                    }
                }
            }
        }
        if open_deliveries > 0 {
            div { class: "section-title", {lang.t("送证上门", "Deliver results")} }
            ul { class: "list",
                for d in deliveries.into_iter().filter(|d| d.delivered_at.is_none()) {
                    Link { class: "item", to: Route::DeliveryView { id: d.id }, key: "{d.id}",
                        div { class: "title", "{d.resident_name} · {lang.l(&d.result)}" }
                        div { class: "muted", {d.address.clone().unwrap_or_default()} }
                    }
                }
            }
        }
        if !drafts.is_empty() {
            div { class: "section-title", {lang.t("未完成的草稿", "Unfinished drafts")} }
            ul { class: "list",
                for a in drafts {
                    Link { class: "item", to: Route::Capture { id: a.id }, key: "{a.id}",
                        div { class: "title", "{a.resident_name} · {lang.l(&a.title)}" }
                        div { class: "muted small", {format!("{} {}", lang.t("保存于", "saved"), lang.datetime(a.updated_at))} }
                    }
                }
            }
        }
        div { class: "section-title", {lang.t("常办事项", "Common services")} }
        div { class: "shortcuts", id: "common-services",
            for item in ctx.store.catalogue().items.iter().filter(|i| COMMON.contains(&i.code.as_str())) {
                Link { class: "btn", to: Route::ItemGuide { code: item.code.clone() }, key: "{item.code}", {lang.l(&item.name)} }
            }
            Link { class: "btn", to: Route::Services {}, {lang.t("全部事项…", "All services…")} }
        }
        if !reminders.is_empty() {
            div { class: "section-title", {lang.t("主动服务提醒", "Proactive reminders")} }
            ul { class: "list", id: "reminders",
                for (r, day, age, code, name) in reminders {
                    Link { class: "item", to: Route::ChooseService { resident: r.id }, key: "{r.id}-{code}",
                        div { class: "title", "{r.name}" }
                        div { class: "muted",
                            {match lang {
                                Lang::Zh => format!("{}年满{}岁，可办理{}", lang.date(day), age, name.zh),
                                Lang::En => format!("turns {} on {} — eligible for {}", age, lang.date(day), lang.l(&name)),
                            }}
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn Stat(n: u32, label: &'static str, attn: bool, to: Route) -> Element {
    rsx! {
        Link { class: if attn && n > 0 { "stat attn" } else { "stat" }, to,
            div { class: "n", "{n}" }
            div { class: "l", "{label}" }
        }
    }
}
