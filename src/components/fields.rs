//! Form inputs with a label, an inline error in Chinese naming the field, and a hint.

use crate::i18n::use_lang;
use daiban_agent_core::forms::FieldError;
use dioxus::prelude::*;

#[component]
pub fn TextField(
    id: String,
    label: String,
    value: Signal<String>,
    #[props(default)] error: Option<String>,
    #[props(default)] hint: Option<String>,
    #[props(default = "text".to_string())] kind: String,
    #[props(default)] required: bool,
    #[props(default)] placeholder: String,
    #[props(default)] multiline: bool,
) -> Element {
    let lang = use_lang();
    let mut value = value;
    rsx! {
        div { class: if error.is_some() { "field invalid" } else { "field" },
            label { r#for: "{id}", "{label}"
                if required { span { class: "req", "*" } }
            }
            if multiline {
                textarea { id: "{id}", name: "{id}", value: "{value}", placeholder: "{placeholder}",
                    oninput: move |e| value.set(e.value()) }
            } else {
                input { id: "{id}", name: "{id}", r#type: "{kind}", value: "{value}", placeholder: "{placeholder}",
                    oninput: move |e| value.set(e.value()) }
            }
            if let Some(e) = &error { div { class: "error", role: "alert", {lang.msg(e)} } }
            if let Some(h) = &hint { div { class: "hint", "{h}" } }
        }
    }
}

/// The problems of a failed save, listed at the top of a form.
#[component]
pub fn ErrorList(errors: Vec<FieldError>) -> Element {
    let lang = use_lang();
    if errors.is_empty() {
        return rsx! {};
    }
    rsx! {
        div { class: "errors", id: "errors", role: "alert",
            strong { {lang.t("请修改以下内容后再保存：", "Please correct the following:")} }
            ul {
                for e in errors { li { {format!("{}{}{}", e.label, lang.t("：", ": "), lang.msg(&e.message))} } }
            }
        }
    }
}

/// The message for a field, if any of the errors is about it.
pub fn error_for(errors: &[FieldError], field: &str) -> Option<String> {
    errors.iter().find(|e| e.field == field).map(|e| e.message.clone())
}

/// A read of the phone's own data that failed (a wrong key, a damaged file): said as such,
/// with what to do, never shown as an empty list.
#[component]
pub fn ReadError(error: String) -> Element {
    let lang = use_lang();
    rsx! {
        div { class: "errors", role: "alert", id: "read-error",
            strong { {lang.t("读取手机上的数据出错。", "Could not read the data on this phone.")} }
            div { class: "small",
                {lang.t("已保存的内容没有被删除。请退出后重新打开应用；如果仍然出错，请联系镇便民服务中心。",
                    "Nothing saved was deleted. Close and reopen the app; if it happens again, call the township centre.")} }
            div { class: "small muted", {lang.msg(&error)} }
        }
    }
}
