//! A coloured chip with an application's status in words.

use crate::i18n::use_lang;
use daiban_proto::AppStatus;
use dioxus::prelude::*;

#[component]
pub fn StatusChip(status: AppStatus) -> Element {
    let lang = use_lang();
    rsx! {
        span { class: "chip {status.as_str()}", {lang.l(&status.label())} }
    }
}
