//! Sync and settings: which centre this phone reports to, whether it is online, what waits
//! to be sent (and why something was refused), the photos-on-Wi-Fi / data budget setting, and
//! a big "sync now" button.

use crate::app::Route;
use crate::ctx::{use_ctx, use_data_version, use_sync_status};
use crate::i18n::use_lang;
use daiban_agent_core::sync::SyncSettings;
use daiban_proto::sync::EventBody;
use dioxus::prelude::*;

#[component]
pub fn SyncView() -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let status = use_sync_status();
    let store = ctx.store.clone();
    let info = use_memo(move || {
        data.get();
        status.read();
        (
            store.enrolment().ok().flatten(),
            store.outbox_summary().unwrap_or_default(),
            store.quarantined_events().unwrap_or_default(),
            store.sync_settings().unwrap_or_default(),
            store.last_outbox_error().ok().flatten(),
        )
    });
    let (enrolment, summary, refused, settings, last_error) = info();
    let s = status();
    let store = ctx.store.clone();
    let save_settings = move |new: SyncSettings| {
        if let Err(e) = store.set_sync_settings(&new) {
            tracing::warn!("saving sync settings: {e}");
        }
        data.bump();
    };
    let save_budget = save_settings.clone();
    let sync = ctx.sync.clone();
    let st2 = settings.clone();
    rsx! {
        div { class: "card", id: "enrolment",
            h2 { {lang.t("便民服务中心", "Service centre")} }
            match enrolment {
                Some(e) => rsx! {
                    dl { class: "kv",
                        dt { {lang.t("乡镇", "Township")} } dd { {lang.l(&e.township)} }
                        dt { {lang.t("村", "Village")} } dd { {lang.l(&e.village_name)} }
                        dt { {lang.t("地址", "Address")} } dd { "{e.centre_url}" }
                    }
                },
                None => rsx! {
                    p { class: "muted", {lang.t("这部手机还没有绑定便民服务中心。申请会保存在手机上，绑定后自动上传。", "This phone is not enrolled yet. Applications stay on the phone and upload after enrolment.")} }
                },
            }
        }
        div { class: "card", id: "sync-state",
            h2 { {lang.t("同步状态", "Sync")} }
            dl { class: "kv",
                dt { {lang.t("网络", "Network")} }
                dd { {if s.online { lang.t("在线", "online") } else { lang.t("离线", "offline") }} }
                dt { {lang.t("上次成功", "Last sync")} }
                dd { {s.last_success.map(|t| lang.datetime(t)).unwrap_or_else(|| lang.t("还没有", "never").into())} }
                dt { {lang.t("待上传", "Waiting")} }
                dd { id: "waiting",
                    {format!("{} {} · {} {} ({})", summary.pending_events, lang.t("条记录", "records"), summary.pending_photos, lang.t("张照片", "photos"), lang.bytes(summary.pending_photo_bytes))} }
                if let Some((err, next)) = last_error {
                    dt { {lang.t("上次出错", "Last error")} }
                    dd { "{err}" if let Some(n) = next { {format!(" · {} {}", lang.t("将于", "retry at"), lang.datetime(n))} } }
                }
            }
            button { class: "btn primary block", id: "sync-now", disabled: s.running() || !s.enrolled,
                onclick: move |_| sync.trigger(), {lang.t("立即同步", "Sync now")} }
        }
        if !refused.is_empty() {
            div { class: "section-title", {lang.t("被中心拒收（不影响其他上传）", "Refused by the centre (others still go)")} }
            ul { class: "list", id: "refused",
                for e in refused {
                    li { key: "{e.seq}",
                        div { class: "title",
                            {match &e.event.body {
                                EventBody::ApplicationSubmitted { .. } => lang.t("申请", "Application"),
                                EventBody::ResidentUpserted { .. } => lang.t("居民信息", "Resident"),
                                EventBody::DeliveryConfirmed { .. } => lang.t("送达确认", "Delivery"),
                                EventBody::RatingGiven { .. } => lang.t("评价", "Rating"),
                            }}
                        }
                        div { class: "error", {e.last_error.clone().unwrap_or_default()} }
                        if let EventBody::ApplicationSubmitted { application } = &e.event.body {
                            Link { to: Route::Capture { id: application.id }, {lang.t("去修改并重新提交", "Fix and resubmit")} }
                        }
                    }
                }
            }
        }
        div { class: "card", id: "settings",
            h2 { {lang.t("流量设置", "Data usage")} }
            label { class: "check",
                input { r#type: "checkbox", id: "wifi-only", checked: settings.photos_wifi_only,
                    onchange: move |e| save_settings(SyncSettings { photos_wifi_only: e.checked(), ..st2.clone() }) }
                {lang.t("照片只在连接Wi-Fi时上传（文字随时上传）", "Upload photos on Wi-Fi only (text always goes)")}
            }
            div { class: "field",
                label { r#for: "budget", {lang.t("每月照片流量上限（MB，空为不限）", "Monthly photo data limit (MB, empty = none)")} }
                input { r#type: "number", id: "budget", min: "0",
                    value: settings.monthly_budget_mb.map(|v| v.to_string()).unwrap_or_default(),
                    onchange: move |e| save_budget(SyncSettings { monthly_budget_mb: e.value().trim().parse().ok(), ..settings.clone() }) }
            }
        }
    }
}
