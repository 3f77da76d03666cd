//! The default township catalogue (`assets/catalogue/default.json`) that the agent app loads
//! on first start, before the centre has pushed one. It is data, not code, so these tests are
//! what stops an edit from shipping a catalogue that does not parse, breaks a reference, or
//! leaves an agent with an item that has no guide, no required material, a bundle whose form
//! cannot be merged, or Chinese text without an English rendering.

use daiban_proto::catalogue::{Catalogue, L10n};

const DEFAULT_JSON: &str = include_str!("../../../assets/catalogue/default.json");

fn catalogue() -> Catalogue {
    let c: Catalogue = serde_json::from_str(DEFAULT_JSON).expect("default catalogue must deserialize");
    c.validate().expect("default catalogue must validate");
    c
}

fn all_item_codes(c: &Catalogue) -> Vec<String> {
    c.items.iter().map(|i| i.code.clone()).collect()
}

fn is_snake_case(code: &str) -> bool {
    code.starts_with(|ch: char| ch.is_ascii_lowercase())
        && !code.ends_with('_')
        && !code.contains("__")
        && code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

#[test]
fn parses_validates_and_has_the_expected_size() {
    let c = catalogue();
    assert_eq!(c.version, 1);
    assert!(!c.township.zh.is_empty() && !c.township.en.is_empty());
    assert!(c.items.len() >= 15, "only {} items", c.items.len());
    assert_eq!(c.bundles.len(), 3);
}

#[test]
fn every_item_is_usable_by_an_agent() {
    let c = catalogue();
    for item in &c.items {
        let code = &item.code;
        assert!(!item.category.zh.is_empty() && !item.category.en.is_empty(), "{code}: no category");
        assert!((3..=6).contains(&item.guide.len()), "{code}: guide has {} steps, want 3–6", item.guide.len());
        for step in &item.guide {
            assert!(!step.zh.is_empty() && !step.en.is_empty(), "{code}: empty guide step {step:?}");
        }
        assert!(item.materials.iter().any(|m| m.required), "{code}: no required material");
        assert!(!item.result.zh.is_empty(), "{code}: no result to deliver");
        assert!(item.time_limit_days > 0, "{code}: no time limit");
        assert_eq!(item.fee_yuan, 0, "{code}: village services are free");
    }
}

#[test]
fn materials_are_photographable_and_all_used() {
    let c = catalogue();
    for m in &c.materials {
        assert!(m.photos >= 1, "{}: needs at least one photo", m.code);
        assert!(!m.hint.zh.is_empty() && !m.hint.en.is_empty(), "{}: no camera hint", m.code);
        assert!(c.items.iter().any(|i| i.materials.iter().any(|r| r.code == m.code)), "{}: no item asks for this material", m.code);
    }
    for code in ["id_card", "household_register", "bank_card", "disability_cert"] {
        let m = c.material(code).unwrap_or_else(|| panic!("{code} missing"));
        assert!(m.reusable, "{code} should be reusable (证照复用)");
    }
    assert_eq!(c.material("id_card").unwrap().photos, 2, "ID card: front and back");
    assert_eq!(c.material("household_register").unwrap().photos, 2, "index page and own page");
    assert!(c.material("authorisation").is_some(), "the 委托书 must be in the catalogue");
}

#[test]
fn proactive_service_ages() {
    let c = catalogue();
    assert_eq!(c.item("elderly_card").expect("elderly_card").suggest_from_age, Some(60));
    assert_eq!(c.item("longevity_allowance").expect("longevity_allowance").suggest_from_age, Some(80));
}

#[test]
fn bundles_merge_into_one_form_and_one_set_of_materials() {
    let c = catalogue();
    for b in &c.bundles {
        let materials = c.materials_for(&b.items);
        let ids: Vec<_> = materials.iter().filter(|m| m.code == "id_card").collect();
        assert_eq!(ids.len(), 1, "{}: id_card must be asked once", b.code);
        assert!(ids[0].required, "{}: id_card is required", b.code);
        let mut codes: Vec<_> = materials.iter().map(|m| m.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), materials.len(), "{}: a material appears twice", b.code);

        let fields = c.fields_for(&b.items).unwrap_or_else(|key| panic!("{}: field {key} conflicts", b.code));
        assert!(!fields.is_empty(), "{}: empty form", b.code);
        assert!(!b.description.zh.is_empty(), "{}: no description", b.code);
    }
    let newborn = c.fields_for(&c.bundle("newborn").expect("newborn bundle").items).unwrap();
    let birth_date = newborn.iter().find(|f| f.key == "newborn_birth_date").expect("birth date asked");
    assert!(birth_date.required, "required in one item makes it required in the bundle");
}

/// Applications may also combine items outside any bundle, so every shared field key must
/// mean the same kind of input across the whole catalogue.
#[test]
fn any_combination_of_items_has_one_consistent_form() {
    let c = catalogue();
    c.fields_for(&all_item_codes(&c)).unwrap_or_else(|key| panic!("field {key} has two kinds"));
}

#[test]
fn codes_are_snake_case_ascii() {
    let c = catalogue();
    let codes = c
        .materials
        .iter()
        .map(|m| &m.code)
        .chain(c.items.iter().map(|i| &i.code))
        .chain(c.bundles.iter().map(|b| &b.code))
        .chain(c.items.iter().flat_map(|i| i.fields.iter().map(|f| &f.key)));
    for code in codes {
        assert!(is_snake_case(code), "{code:?} is not snake_case ASCII");
    }
    for bad in ["", "Id_card", "id-card", "id__card", "id_card_", "身份证", "1card"] {
        assert!(!is_snake_case(bad), "{bad:?} accepted");
    }
}

#[test]
fn every_chinese_text_has_an_english_rendering() {
    let c = catalogue();
    let mut texts: Vec<(&str, &L10n)> = vec![("township", &c.township)];
    for m in &c.materials {
        texts.extend([(m.code.as_str(), &m.name), (m.code.as_str(), &m.hint)]);
    }
    for i in &c.items {
        let code = i.code.as_str();
        texts.extend([(code, &i.name), (code, &i.category), (code, &i.conditions), (code, &i.result)]);
        texts.extend(i.guide.iter().chain(&i.pitfalls).map(|t| (code, t)));
        texts.extend(i.materials.iter().map(|m| (code, &m.note)));
        for f in &i.fields {
            texts.extend([(code, &f.label), (code, &f.hint)]);
            if let daiban_proto::FieldKind::Choice { options } = &f.kind {
                assert!(options.len() >= 2, "{code}.{}: a choice needs options", f.key);
                texts.extend(options.iter().map(|o| (code, o)));
            }
        }
    }
    for b in &c.bundles {
        texts.extend([(b.code.as_str(), &b.name), (b.code.as_str(), &b.description)]);
    }
    for (code, t) in texts {
        assert_eq!(t.zh.is_empty(), t.en.is_empty(), "{code}: {t:?} is only half translated");
    }
}

/// A guide step that promises "N个工作日" must promise the item's own time limit, so changing
/// `time_limit_days` without the guide (or the other way round) is caught.
#[test]
fn guides_promise_the_items_time_limit() {
    let c = catalogue();
    for item in &c.items {
        for step in &item.guide {
            for (at, _) in step.zh.match_indices("个工作日") {
                let digits: String = step.zh[..at].chars().rev().take_while(char::is_ascii_digit).collect();
                let days: u16 = digits.chars().rev().collect::<String>().parse().expect("a number before 个工作日");
                assert_eq!(days, item.time_limit_days, "{}: guide says {days} working days", item.code);
            }
        }
    }
}
