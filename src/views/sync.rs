//! Sync and settings: which centre this phone reports to, whether it is online, what waits
//! to be sent (and why something was refused), the photos-on-Wi-Fi / data budget setting, and
//! a big "sync now" button.

use crate::app::Route;
use crate::components::{ReadError, TextField};
use crate::ctx::{use_ctx, use_data_version, use_store_read, use_sync_status};
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
    let info = use_store_read(move |store| {
        status.read();
        Ok((
            store.enrolment()?,
            store.outbox_summary()?,
            store.quarantined_events()?,
            store.sync_settings()?,
            store.last_outbox_error()?,
            store.photo_retention_days()?,
        ))
    });
    let (enrolment, summary, refused, settings, last_error, retention_days) = match info() {
        Ok(i) => i,
        Err(error) => return rsx! { ReadError { error } },
    };
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
    let store = ctx.store.clone();
    let save_retention = move |e: FormEvent| {
        if let Ok(days) = e.value().trim().parse::<u32>() {
            if let Err(err) = store.set_photo_retention_days(days.max(1)) {
                tracing::warn!("saving retention: {err}");
            }
            data.bump();
        }
    };
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
                    // Revoked or unknown to the centre: nothing local is lost; a new code re-enrols.
                    if s.stopped {
                        div { class: "errors", role: "alert", {lang.msg(s.last_error.as_deref().unwrap_or_default())} }
                        EnrolForm {}
                    }
                },
                None => rsx! {
                    p { class: "muted", {lang.t("这部手机还没有绑定便民服务中心。申请会保存在手机上，绑定后自动上传。", "This phone is not enrolled yet. Applications stay on the phone and upload after enrolment.")} }
                    EnrolForm {}
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
                    dd { {lang.msg(&err)} if let Some(n) = next { {format!(" · {} {}", lang.t("将于", "retry at"), lang.datetime(n))} } }
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
                        div { class: "error", {lang.msg(e.last_error.as_deref().unwrap_or_default())} }
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
            div { class: "field",
                label { r#for: "retention", {lang.t("办结案件的照片在手机上保留天数", "Days to keep photos of closed cases on the phone")} }
                input { r#type: "number", id: "retention", min: "1", value: "{retention_days}", onchange: save_retention }
                div { class: "hint", {lang.t("中心已收到、案件已办结的照片到期后从手机删除，保护居民隐私，也节省空间。", "Photos the centre has, of closed cases, are deleted from the phone after this — for residents' privacy and space.")} }
            }
        }
    }
}

/// What the agent typed or scanned: either a bare code, or the enrolment link the staff UI
/// shows as a QR code (`daiban://enrol?centre=<url>&code=<code>[&pin=sha256:<hex>]`; the pin
/// is the centre's certificate when it has its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolInput {
    pub centre: Option<String>,
    pub code: String,
    pub pin: Option<String>,
}

pub fn parse_enrolment(input: &str) -> EnrolInput {
    let s = input.trim();
    match url::Url::parse(s) {
        Ok(u) if u.scheme() == "daiban" => {
            let get = |k: &str| u.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
            EnrolInput { centre: get("centre"), code: get("code").unwrap_or_default(), pin: get("pin") }
        }
        _ => EnrolInput { centre: None, code: s.to_string(), pin: None },
    }
}

/// Enrol with the township centre: its address, the one-time code (typed, or the scanned
/// link pasted), and a name staff will see for this phone.
#[component]
fn EnrolForm() -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let centre = use_signal(|| ctx.centre_url.clone().unwrap_or_default());
    let code = use_signal(String::new);
    let name = use_signal(|| "代办员手机".to_string());
    let mut busy = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let store = ctx.store.clone();
    let sync = ctx.sync.clone();
    let enrol = move |_| {
        let EnrolInput { centre: linked_centre, code: the_code, pin } = parse_enrolment(&code());
        let url = linked_centre.unwrap_or_else(|| centre.cloned());
        if url.trim().is_empty() || the_code.is_empty() {
            return error.set(Some(lang.t("请填写中心地址和注册码", "Enter the centre address and the code").into()));
        }
        let (store, sync) = (store.clone(), sync.clone());
        busy.set(true);
        spawn(async move {
            let r = daiban_agent_core::sync::enrol_pinned(&store, &url, &the_code, &name.peek(), pin.as_deref()).await;
            busy.set(false);
            match r {
                Ok(_) => {
                    error.set(None);
                    sync.trigger();
                    data.bump();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    rsx! {
        form { id: "enrol-form", onsubmit: move |e| e.prevent_default(),
            if let Some(e) = error() { div { class: "errors", role: "alert", id: "enrol-error", {lang.msg(&e)} } }
            TextField { id: "centre", label: lang.t("便民服务中心地址", "Centre address"), value: centre, kind: "url",
                placeholder: "https://…" }
            TextField { id: "code", label: lang.t("注册码", "Enrolment code"), value: code, required: true,
                hint: lang.t("由镇便民服务中心提供，只能用一次；扫码得到的链接也可直接粘贴", "from the township centre, single use; a scanned link works too") }
            TextField { id: "device-name", label: lang.t("本机名称", "Device name"), value: name,
                hint: lang.t("方便镇里区分是谁的手机", "so staff can tell phones apart") }
            button { class: "btn primary block", r#type: "button", id: "enrol", disabled: busy(), onclick: enrol,
                {if busy() { lang.t("正在绑定…", "Enrolling…") } else { lang.t("绑定", "Enrol") }} }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_enrolment, EnrolInput};

    #[test]
    fn accepts_a_code_or_the_scanned_link() {
        assert_eq!(parse_enrolment(" K7PQ-2M9X "), EnrolInput { centre: None, code: "K7PQ-2M9X".into(), pin: None });
        assert_eq!(
            parse_enrolment("daiban://enrol?centre=http%3A%2F%2F127.0.0.1%3A8080&code=K7PQ-2M9X"),
            EnrolInput { centre: Some("http://127.0.0.1:8080".into()), code: "K7PQ-2M9X".into(), pin: None }
        );
        assert_eq!(
            parse_enrolment("daiban://enrol?centre=https%3A%2F%2F10.0.0.2&code=K7PQ-2M9X&pin=sha256%3Aab12").pin.as_deref(),
            Some("sha256:ab12"),
            "a centre with its own certificate"
        );
    }
}
