//! Home delivery (送证上门): the list of results to hand over, and the handover itself —
//! recipient, proof by on-screen signature or photo, then the resident's 5-level rating
//! (好差评) with an optional comment. Both are saved at once and sync back to the centre.

use crate::app::Route;
use crate::components::{PhotoAdder, ReadError, TextField};
use crate::ctx::{use_ctx, use_data_version, use_store_read};
use crate::i18n::use_lang;
use daiban_agent_core::signature::{self, Stroke};
use daiban_agent_core::store::deliveries::ProofInput;
use daiban_proto::{DeliveryId, DeliveryMode, Rating};
use dioxus::prelude::*;

#[component]
pub fn Deliveries() -> Element {
    let lang = use_lang();
    let list = use_store_read(|s| s.deliveries(false));
    let list = match list() {
        Ok(l) => l,
        Err(error) => return rsx! { ReadError { error } },
    };
    rsx! {
        if list.is_empty() { div { class: "empty", {lang.t("暂无送达任务", "No deliveries")} } }
        ul { class: "list", id: "delivery-list",
            for d in list {
                Link { class: "item", to: Route::DeliveryView { id: d.id }, key: "{d.id}",
                    div { class: "row between",
                        span { class: "title", "{d.resident_name} · {lang.l(&d.result)}" }
                        span { class: if d.delivered_at.is_some() { "chip delivered" } else { "chip result_ready" },
                            {if d.rating.is_some() { lang.t("已评价", "Rated") } else if d.delivered_at.is_some() { lang.t("待评价", "To rate") } else { lang.t("待送达", "To deliver") }} }
                    }
                    div { class: "muted small", {d.address.clone().unwrap_or_default()} }
                }
            }
        }
    }
}

/// Canvas size of the signature pad, in CSS pixels (the SVG scales to the screen width).
const PAD_W: f32 = 340.0;
const PAD_H: f32 = 180.0;

#[component]
pub fn DeliveryView(id: DeliveryId) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let found = use_store_read(move |s| Ok(s.deliveries(false)?.into_iter().find(|d| d.id == id)));
    let recipient = use_signal(|| found.peek().as_ref().ok().and_then(Option::as_ref).map(|d| d.resident_name.clone()).unwrap_or_default());
    let mut strokes = use_signal(Vec::<Stroke>::new);
    let mut drawing = use_signal(|| false);
    let mut photo = use_signal(|| None::<Vec<u8>>);
    let mut rating = use_signal(|| None::<Rating>);
    let comment = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let d = match found() {
        Ok(Some(d)) => d,
        Ok(None) => return rsx! { div { class: "empty", {lang.t("找不到这个送达任务", "Delivery not found")} } },
        Err(error) => return rsx! { ReadError { error } },
    };
    let store = ctx.store.clone();
    let sync = ctx.sync.clone();
    let confirm = move |_| {
        let png;
        let taken = photo.peek().clone();
        let proof = match taken.as_deref() {
            Some(bytes) => ProofInput::Photo(bytes),
            None => match signature::to_png(&strokes.peek(), PAD_W as u32, PAD_H as u32, 4.0) {
                Ok(p) => {
                    png = p;
                    ProofInput::SignaturePng(&png)
                }
                Err(e) => return error.set(Some(e.to_string())),
            },
        };
        match store.confirm_delivery(id, &recipient.peek(), proof) {
            Ok(()) => {
                error.set(None);
                data.bump();
                sync.trigger();
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let store = ctx.store.clone();
    let sync = ctx.sync.clone();
    let rate = move |_| {
        let Some(r) = rating() else {
            return error.set(Some(lang.t("请先选择满意程度", "Choose a rating first").into()));
        };
        match store.rate_delivery(id, r, &comment.peek()) {
            Ok(()) => {
                error.set(None);
                data.bump();
                sync.trigger();
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let path_of = |s: &Stroke| {
        s.iter().enumerate().map(|(i, (x, y))| format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" })).collect::<String>()
    };
    rsx! {
        div { class: "card",
            h2 { "{d.resident_name}" }
            div { {format!("{}{}", lang.t("送达：", "Deliver: "), lang.l(&d.result))} }
            div { class: "muted", {format!("{} · {}", lang.l(&d.item_name), lang.l(&d.mode.label()))} }
            if let Some(a) = d.address.clone() { div { {lang.t("地址：", "Address: ")} "{a}" } }
            if let Some(p) = d.phone.clone() { div { {lang.t("电话：", "Phone: ")} a { href: "tel:{p}", "{p}" } } }
            if let Some(n) = d.note.clone() { div { class: "muted", "{n}" } }
        }
        if let Some(e) = error() { div { class: "errors", role: "alert", id: "delivery-error", {lang.msg(&e)} } }
        if d.delivered_at.is_none() {
            div { class: "section-title", {lang.t("一、签收", "1. Hand over")} }
            div { class: "card",
                TextField { id: "recipient", label: lang.t("签收人", "Recipient"), value: recipient, required: true,
                    hint: lang.t("本人或家属姓名", "the resident or a family member") }
                if photo().is_none() {
                    label { {lang.t("请签收人在下面签名：", "Recipient signs below:")} }
                    svg { class: "sigpad", id: "sigpad", view_box: "0 0 {PAD_W} {PAD_H}",
                        onpointerdown: move |e| {
                            let p = e.element_coordinates();
                            drawing.set(true);
                            strokes.write().push(vec![(p.x as f32, p.y as f32)]);
                        },
                        onpointermove: move |e| {
                            if drawing() {
                                let p = e.element_coordinates();
                                if let Some(s) = strokes.write().last_mut() { s.push((p.x as f32, p.y as f32)); }
                            }
                        },
                        onpointerup: move |_| drawing.set(false),
                        onpointerleave: move |_| drawing.set(false),
                        for (i, s) in strokes().iter().enumerate() {
                            path { key: "{i}", d: path_of(s), stroke: "#14143c", stroke_width: "4", fill: "none",
                                stroke_linecap: "round", stroke_linejoin: "round" }
                        }
                    }
                    div { class: "row",
                        button { class: "btn", onclick: move |_| strokes.write().clear(), {lang.t("重签", "Clear")} }
                        span { class: "muted small", {lang.t("或拍一张交接照片：", "or take a handover photo:")} }
                    }
                    PhotoAdder { id: "proof", on_photo: move |b| photo.set(Some(b)) }
                } else {
                    div { class: "notice", {lang.t("已拍交接照片", "Handover photo taken")}
                        button { class: "btn", style: "margin-left:8px", onclick: move |_| photo.set(None), {lang.t("改为签名", "Sign instead")} } }
                }
                button { class: "btn primary block", id: "confirm-delivery", style: "margin-top:12px", onclick: confirm,
                    {if d.mode == DeliveryMode::Home { lang.t("确认已送达", "Confirm delivered") } else { lang.t("确认已领取", "Confirm collected") }} }
            }
        } else {
            div { class: "notice", id: "delivered",
                {format!("{} {} · {}", lang.t("已送达，签收人", "Delivered to"), d.recipient.clone().unwrap_or_default(), d.delivered_at.map(|t| lang.datetime(t)).unwrap_or_default())}
            }
            if let Some(r) = d.rating {
                div { class: "notice", id: "rated", {format!("{}{}", lang.t("居民评价：", "Rating: "), lang.l(&r.label()))}
                    if let Some(c) = d.comment.clone() { div { class: "small", "“{c}”" } } }
            } else {
                div { class: "section-title", {lang.t("二、请居民评价（好差评）", "2. Resident's rating")} }
                div { class: "card",
                    div { class: "handover", id: "handover",
                        {lang.t("请把手机交给居民本人评价。", "Please hand the phone to the resident to rate.")} }
                    div { class: "muted small", style: "margin-bottom: 10px",
                        {lang.t("评价由居民自己选，代办员不代评；评价会直接报给镇里。", "The resident chooses, not the agent; the rating goes straight to the township.")} }
                    div { class: "ratings", id: "ratings",
                        for r in Rating::ALL {
                            button { key: "{r.score()}", class: if rating() == Some(r) { "on" } else { "" }, "data-score": "{r.score()}",
                                onclick: move |_| rating.set(Some(r)),
                                span { class: "face", {"★".repeat(usize::from(r.score()))} }
                                span { {lang.l(&r.label())} }
                            }
                        }
                    }
                    TextField { id: "comment", label: lang.t("意见建议（可不填）", "Comment (optional)"), value: comment, multiline: true }
                    button { class: "btn primary block", id: "submit-rating", onclick: rate, {lang.t("提交评价", "Save rating")} }
                }
            }
        }
    }
}
