//! Adding and editing a resident. The ID number is checked as it is typed (GB 11643 check
//! character); birth date, sex and age are shown as derived from it, never typed. Errors
//! name the field in Chinese; a failed save changes nothing.

use crate::app::Route;
use crate::components::fields::error_for;
use crate::components::{ErrorList, TextField};
use crate::ctx::{use_ctx, use_data_version};
use crate::i18n::{today, use_lang};
use daiban_agent_core::forms::{FieldError, ResidentForm, ELDERLY_AGE};
use daiban_agent_core::StoreError;
use daiban_proto::{IdNumber, ResidentId};
use dioxus::prelude::*;

#[component]
pub fn ResidentNew() -> Element {
    rsx! { ResidentEditor { id: None } }
}

#[component]
pub fn ResidentEdit(id: ResidentId) -> Element {
    rsx! { ResidentEditor { id: Some(id) } }
}

#[component]
fn ResidentEditor(id: Option<ResidentId>) -> Element {
    let ctx = use_ctx();
    let lang = use_lang();
    let data = use_data_version();
    let existing = use_hook(|| id.and_then(|id| ctx.store.resident(id).ok()));
    let ex = existing.clone();
    let name = use_signal(|| ex.as_ref().map(|r| r.name.to_string()).unwrap_or_default());
    let idn = use_signal(|| ex.as_ref().map(|r| r.id_number.expose().to_string()).unwrap_or_default());
    let phone = use_signal(|| ex.as_ref().and_then(|r| r.phone.as_ref().map(|p| p.to_string())).unwrap_or_default());
    let group = use_signal(|| ex.as_ref().and_then(|r| r.village_group.as_ref().map(|p| p.to_string())).unwrap_or_default());
    let address = use_signal(|| ex.as_ref().and_then(|r| r.address.as_ref().map(|p| p.to_string())).unwrap_or_default());
    let mut elderly = use_signal(|| ex.as_ref().map(|r| Some(r.elderly)).unwrap_or(None));
    let mut mobility = use_signal(|| ex.as_ref().is_some_and(|r| r.mobility_limited));
    let mut errors = use_signal(Vec::<FieldError>::new);
    let nav = navigator();

    // Live feedback on the ID number once it has 18 characters.
    let derived = use_memo(move || {
        let v = idn();
        if v.trim().chars().count() < 18 {
            return None;
        }
        Some(IdNumber::parse(&v))
    });
    let auto_elderly = match derived() {
        Some(Ok(id)) => id.age_on(today()) >= ELDERLY_AGE,
        _ => false,
    };
    let is_elderly = elderly().unwrap_or(auto_elderly);

    let store = ctx.store.clone();
    let save = move |_| {
        let form = ResidentForm {
            name: name(),
            id_number: idn(),
            phone: phone(),
            village_group: group(),
            address: address(),
            elderly: elderly(),
            mobility_limited: mobility(),
        };
        let input = match form.parse(today()) {
            Ok(i) => i,
            Err(errs) => return errors.set(errs),
        };
        let result = match id {
            Some(id) => store.update_resident(id, &input).map(|_| id),
            None => store.add_resident(&input),
        };
        match result {
            Ok(rid) => {
                data.bump();
                nav.replace(Route::ResidentView { id: rid });
            }
            Err(StoreError::Invalid(errs)) => errors.set(errs),
            Err(e) => errors.set(vec![FieldError::new("save", "保存", e.to_string())]),
        }
    };
    let errs = errors();
    rsx! {
        form { class: "card", id: "resident-form", onsubmit: move |e| e.prevent_default(),
            ErrorList { errors: errs.clone() }
            TextField { id: "name", label: lang.t("姓名", "Name"), value: name, required: true,
                error: error_for(&errs, "name"), placeholder: lang.t("与身份证一致", "as on the ID card") }
            TextField { id: "id_number", label: lang.t("身份证号", "ID number"), value: idn, required: true,
                error: error_for(&errs, "id_number").or_else(|| match derived() { Some(Err(e)) => Some(e.to_string()), _ => None }),
                placeholder: lang.t("18位，最后一位可能是X", "18 characters, last may be X") }
            if let Some(Ok(id)) = derived() {
                div { class: "derived field", id: "derived",
                    {format!("{} {} · {} · {}{}", lang.t("出生", "Born"), lang.date(id.birth_date()), lang.t(id.sex().zh(), id.sex().en()), id.age_on(today()), lang.t("岁", " years"))}
                }
            }
            TextField { id: "phone", label: lang.t("联系电话", "Phone"), value: phone, kind: "tel",
                error: error_for(&errs, "phone"), hint: lang.t("本人或家属电话，可不填", "resident or family; optional") }
            TextField { id: "village_group", label: lang.t("村民小组", "Village group"), value: group,
                error: error_for(&errs, "village_group"), placeholder: lang.t("如：第三村民小组", "e.g. Group 3") }
            TextField { id: "address", label: lang.t("住址", "Address"), value: address,
                error: error_for(&errs, "address"), hint: lang.t("送证上门时使用", "used for home delivery") }
            label { class: "check",
                input { r#type: "checkbox", id: "elderly", checked: is_elderly,
                    onchange: move |e| elderly.set(Some(e.checked())) }
                {lang.t("老年人（办结后默认送证上门）", "Elderly (results delivered home)")}
            }
            label { class: "check",
                input { r#type: "checkbox", id: "mobility", checked: mobility(),
                    onchange: move |e| mobility.set(e.checked()) }
                {lang.t("行动不便，需要上门服务", "Limited mobility, needs home visits")}
            }
            button { class: "btn primary block", r#type: "button", id: "save-resident", onclick: save,
                {lang.t("保存", "Save")} }
        }
    }
}
