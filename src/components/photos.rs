//! Photo tiles and the "take a photo" control.
//!
//! [`PhotoAdder`] offers whatever this platform has (see `platform::camera`): the file input
//! on desktop and in the preview, the native camera on phones. When sample photos are
//! configured (demos and browser tests, where the preview cannot receive uploads), it also
//! offers those. Whatever the source, the parent receives raw bytes.

use crate::components::icons::{Ico, Icon};
use crate::ctx::use_ctx;
use crate::i18n::use_lang;
use crate::platform::camera::{photo_source, take_photo, PhotoSource};
use daiban_proto::{PhotoHash, PhotoRef};
use dioxus::prelude::*;

/// Thumbnails of photos, optionally each with a remove button that asks before it removes
/// (a photo of a document may be gone from the resident's hands by then). Tapping one shows
/// it full size, so the agent can check that an ID number is readable before leaving.
#[component]
pub fn Thumbs(photos: Vec<PhotoRef>, #[props(default)] on_remove: Option<EventHandler<PhotoHash>>) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let mut confirming = use_signal(|| None::<PhotoHash>);
    let mut viewing = use_signal(|| None::<PhotoHash>);
    let full_ctx = ctx.clone();
    // one full-size photo at a time, decrypted when opened and dropped when closed
    let full = use_memo(move || viewing().map(|h| full_ctx.photo_url(&h)));
    rsx! {
        if let Some(url) = full() {
            div { class: "photo-viewer", id: "photo-viewer", role: "dialog", "aria-modal": "true", onclick: move |_| viewing.set(None),
                if let Some(url) = url {
                    img { src: "{url}", alt: lang.t("材料照片（原图）", "document photo (full size)") }
                } else {
                    div { class: "thumb-gone", {lang.t("照片无法显示", "Photo cannot be shown")} }
                }
                button { class: "btn", id: "close-viewer", onclick: move |_| viewing.set(None), {lang.t("关闭", "Close")} }
            }
        }
        div { class: "thumbs",
            for p in photos {
                div { class: "thumb", key: "{p.hash}",
                    if let Some(url) = ctx.thumb_url(&p.hash) {
                        button { class: "thumb-open", "aria-label": lang.t("查看大图", "View full size"),
                            onclick: move |_| viewing.set(Some(p.hash)),
                            img { src: "{url}", alt: lang.t("材料照片", "document photo") }
                        }
                    } else if ctx.store.photo_purged(&p.hash).unwrap_or(false) {
                        span { class: "thumb-gone",
                            {lang.t("已按保留期限从手机删除，中心留存", "Removed from the phone after the retention period; kept at the centre")}
                        }
                    } else {
                        span { class: "thumb-gone", {lang.t("照片无法显示", "Photo cannot be shown")} }
                    }
                    if let Some(h) = on_remove {
                        if confirming() == Some(p.hash) {
                            div { class: "confirm",
                                button { class: "confirm-remove", onclick: move |_| { confirming.set(None); h.call(p.hash) },
                                    {lang.t("删除", "Delete")} }
                                button { class: "confirm-cancel", onclick: move |_| confirming.set(None), {lang.t("取消", "Cancel")} }
                            }
                        } else {
                            button { class: "remove", "aria-label": lang.t("删除这张", "Remove"),
                                onclick: move |_| confirming.set(Some(p.hash)), "✕" }
                        }
                    }
                }
            }
        }
    }
}

/// Raw photo bytes from the camera, the file dialog, or a sample photo.
#[component]
pub fn PhotoAdder(id: String, on_photo: EventHandler<Vec<u8>>, #[props(default)] busy: bool) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let mut error = use_signal(|| None::<String>);
    // Re-created after each pick so choosing the same sample again fires `onchange` again.
    let mut picks = use_signal(|| 0u32);
    let samples = ctx.sample_photo_names();
    let sample_dir = ctx.sample_photos.clone();
    let label = if busy { lang.t("正在处理照片…", "Processing…") } else { lang.t("拍照 / 选照片", "Take / choose photo") };
    rsx! {
        div { class: "row wrap",
            match photo_source() {
                PhotoSource::FileInput => rsx! {
                    label { class: "btn filepick", id: "{id}-pick",
                        Ico { icon: Icon::Camera }
                        "{label}"
                        input { r#type: "file", accept: "image/*", capture: "environment", multiple: true, disabled: busy,
                            id: "{id}-file",
                            onchange: move |e: FormEvent| async move {
                                for f in e.files() {
                                    match f.read_bytes().await {
                                        Ok(b) => on_photo.call(b.to_vec()),
                                        Err(err) => error.set(Some(format!("{}{err}", lang.t("读取照片失败：", "Cannot read the photo: ")))),
                                    }
                                }
                            }
                        }
                    }
                },
                PhotoSource::NativeCamera => rsx! {
                    button { class: "btn", id: "{id}-camera", disabled: busy,
                        onclick: move |_| async move {
                            match take_photo().await {
                                Ok(b) => on_photo.call(b),
                                Err(e) => error.set(Some(e.to_string())),
                            }
                        },
                        Ico { icon: Icon::Camera }
                        "{label}"
                    }
                },
            }
            if !samples.is_empty() {
                select { class: "btn", id: "{id}-sample", disabled: busy, key: "{picks}",
                    onchange: move |e: FormEvent| {
                        let name = e.value();
                        picks += 1;
                        if let Some(dir) = &sample_dir {
                            match std::fs::read(dir.join(&name)) {
                                Ok(b) => on_photo.call(b),
                                Err(err) => error.set(Some(format!("{name}: {err}"))),
                            }
                        }
                    },
                    option { value: "", {lang.t("示例照片…", "Sample photo…")} }
                    for n in samples { option { value: "{n}", "{n}" } }
                }
            }
        }
        if let Some(e) = error() { div { class: "error", role: "alert", {lang.msg(&e)} } }
    }
}
