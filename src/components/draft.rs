//! Deleting a draft: asked once more, because what was typed and photographed goes with it.

use crate::app::Route;
use crate::ctx::{use_ctx, use_data_version};
use crate::i18n::use_lang;
use daiban_proto::ApplicationId;
use dioxus::prelude::*;

/// "删除草稿", then a confirmation; on success the applications list is shown.
#[component]
pub fn DeleteDraft(id: ApplicationId) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let mut confirming = use_signal(|| false);
    let mut error = use_signal(|| None::<String>);
    let store = ctx.store.clone();
    let delete = move |_| match store.delete_draft(id) {
        Ok(()) => {
            data.bump();
            navigator().replace(Route::Applications {});
        }
        Err(e) => {
            confirming.set(false);
            error.set(Some(e.to_string()));
        }
    };
    rsx! {
        if let Some(e) = error() { div { class: "errors", role: "alert", {lang.msg(&e)} } }
        if confirming() {
            div { class: "confirm-box", id: "confirm-delete", role: "alertdialog",
                p { {lang.t("删除这份草稿？已填写的内容和已拍的照片都会删除，不能恢复。", "Delete this draft? What was typed and photographed is removed for good.")} }
                div { class: "btn-row",
                    button { class: "btn", id: "delete-cancel", onclick: move |_| confirming.set(false), {lang.t("不删除", "Keep it")} }
                    button { class: "btn primary danger", id: "delete-confirm", onclick: delete, {lang.t("删除草稿", "Delete draft")} }
                }
            }
        } else {
            button { class: "btn block danger", id: "delete-draft", style: "margin-top:16px", onclick: move |_| confirming.set(true),
                {lang.t("删除草稿", "Delete draft")} }
        }
    }
}
