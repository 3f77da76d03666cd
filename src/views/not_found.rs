//! An address no screen answers (an old bookmark, a link from a message, a record that is
//! gone): said plainly in the app's own style, with the way back home.

use crate::app::Route;
use crate::i18n::use_lang;
use dioxus::prelude::*;

#[component]
pub fn NotFound(segments: Vec<String>) -> Element {
    let lang = use_lang();
    // the address itself is not shown: it can hold a record id, and means nothing to an agent
    let _ = segments;
    rsx! {
        div { class: "card", id: "not-found",
            h2 { {lang.t("找不到这一页", "This page does not exist")} }
            p { {lang.t("链接可能已过期，或者这条记录已不在手机上。已保存的申请和照片都不受影响。",
                "The link may be out of date, or the record is no longer on this phone. Everything saved is unaffected.")} }
            Link { class: "btn primary block", to: Route::Home {}, id: "go-home", {lang.t("回到首页", "Back to home")} }
        }
    }
}
