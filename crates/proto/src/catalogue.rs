//! The township's service catalogue (事项清单): what can be applied for, with which materials,
//! in how many working days, and a plain-language guide (白话办事指南).
//!
//! The catalogue is versioned: the device keeps the version it has, and the centre pushes a
//! whole new catalogue as a pull change when staff publish one. Applications record the
//! catalogue version they were captured against, so a later change never reinterprets an old
//! application. [`Catalogue::validate`] checks the internal references once, at the edge,
//! when a catalogue is loaded or received.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A text in Chinese with an English rendering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct L10n {
    pub zh: String,
    #[serde(default)]
    pub en: String,
}

impl L10n {
    pub fn new(zh: &str, en: &str) -> Self {
        Self { zh: zh.into(), en: en.into() }
    }
    /// The text in the wanted language, falling back to Chinese when no translation exists.
    pub fn get(&self, english: bool) -> &str {
        if english && !self.en.is_empty() {
            &self.en
        } else {
            &self.zh
        }
    }
}

/// A kind of supporting document (申请材料), e.g. the ID card or the household register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaterialKind {
    /// Stable code, e.g. `id_card`.
    pub code: String,
    pub name: L10n,
    /// Personal documents that do not change between applications (ID card, household
    /// register, bank book) can be reused from an earlier application of the same resident
    /// instead of being photographed again (证照复用).
    #[serde(default)]
    pub reusable: bool,
    /// How many photos make one complete copy (ID card: front and back = 2).
    #[serde(default = "one")]
    pub photos: u8,
    /// A hint shown in the camera checklist ("四角完整、字迹清楚、不反光").
    #[serde(default)]
    pub hint: L10n,
}

fn one() -> u8 {
    1
}

/// The kind of a form field, which decides the input widget and validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Date,
    /// A year and month (`2015-06`), for dates people remember only to the month.
    Month,
    Phone,
    /// A bank card / account number (digits, 12–30).
    BankAccount,
    Choice {
        options: Vec<L10n>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldSpec {
    /// Stable key; the same key in two items of a bundle is asked only once.
    pub key: String,
    pub label: L10n,
    #[serde(flatten)]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub hint: L10n,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaterialRequirement {
    pub code: String,
    #[serde(default = "yes")]
    pub required: bool,
    /// Item-specific note, e.g. "本人页和户主页".
    #[serde(default)]
    pub note: L10n,
}

fn yes() -> bool {
    true
}

/// Which level of government decides the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Village,
    Township,
    County,
}

impl Level {
    pub fn label(self) -> L10n {
        match self {
            Level::Village => L10n::new("村级", "village"),
            Level::Township => L10n::new("镇级", "township"),
            Level::County => L10n::new("县级", "county"),
        }
    }
}

/// One service item (事项).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceItem {
    pub code: String,
    pub name: L10n,
    /// Grouping for the catalogue screen (社保, 医保, 民政, 证明, …).
    pub category: L10n,
    pub level: Level,
    /// Promised time limit (承诺时限) in working days from acceptance.
    pub time_limit_days: u16,
    /// Fee in yuan; almost always 0.
    #[serde(default)]
    pub fee_yuan: u32,
    /// Who can apply (申请条件), in plain words.
    #[serde(default)]
    pub conditions: L10n,
    pub materials: Vec<MaterialRequirement>,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// The plain-language guide, one step per entry.
    pub guide: Vec<L10n>,
    /// Common mistakes to avoid (易错提醒).
    #[serde(default)]
    pub pitfalls: Vec<L10n>,
    /// The result handed to the resident (老年证, 社保卡, 证明, 到账…).
    #[serde(default)]
    pub result: L10n,
    /// Suggest this item for residents of at least this age (主动服务), e.g. 60 for the elderly card.
    #[serde(default)]
    pub suggest_from_age: Option<u8>,
}

/// A "one-thing" bundle (一件事一次办): several items, one form, one set of materials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bundle {
    pub code: String,
    pub name: L10n,
    pub items: Vec<String>,
    #[serde(default)]
    pub description: L10n,
    /// Offer it first to residents of at least this age (e.g. retirement).
    #[serde(default)]
    pub suggest_from_age: Option<u8>,
    /// Offer it first only to residents younger than this (e.g. a newborn's parents).
    #[serde(default)]
    pub suggest_below_age: Option<u8>,
}

impl Bundle {
    /// Whether a resident of this age is who the bundle is for (no limits: anyone).
    pub fn suits_age(&self, age: u32) -> bool {
        self.suggest_from_age.is_none_or(|a| age >= u32::from(a)) && self.suggest_below_age.is_none_or(|a| age < u32::from(a))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalogue {
    /// Monotonic version; a device replaces its catalogue only with a higher one.
    pub version: u32,
    pub township: L10n,
    pub materials: Vec<MaterialKind>,
    pub items: Vec<ServiceItem>,
    pub bundles: Vec<Bundle>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue: duplicate code {0}")]
    Duplicate(String),
    #[error("catalogue: item {item} requires unknown material {material}")]
    UnknownMaterial { item: String, material: String },
    #[error("catalogue: bundle {bundle} contains unknown item {item}")]
    UnknownItem { bundle: String, item: String },
    #[error("catalogue: bundle {0} needs at least two items")]
    SmallBundle(String),
    #[error("catalogue: item {0} has no guide")]
    NoGuide(String),
    #[error("catalogue: field {key} has different kinds in items of bundle {bundle}")]
    FieldConflict { bundle: String, key: String },
}

impl Catalogue {
    /// Check that every code is unique and every reference resolves.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        let mut seen = BTreeSet::new();
        for code in
            self.materials.iter().map(|m| &m.code).chain(self.items.iter().map(|i| &i.code)).chain(self.bundles.iter().map(|b| &b.code))
        {
            if !seen.insert(code.clone()) {
                return Err(CatalogueError::Duplicate(code.clone()));
            }
        }
        for item in &self.items {
            if item.guide.is_empty() {
                return Err(CatalogueError::NoGuide(item.code.clone()));
            }
            for m in &item.materials {
                if self.material(&m.code).is_none() {
                    return Err(CatalogueError::UnknownMaterial { item: item.code.clone(), material: m.code.clone() });
                }
            }
        }
        for b in &self.bundles {
            if b.items.len() < 2 {
                return Err(CatalogueError::SmallBundle(b.code.clone()));
            }
            for code in &b.items {
                if self.item(code).is_none() {
                    return Err(CatalogueError::UnknownItem { bundle: b.code.clone(), item: code.clone() });
                }
            }
            self.fields_for(&b.items).map_err(|key| CatalogueError::FieldConflict { bundle: b.code.clone(), key })?;
        }
        Ok(())
    }

    pub fn item(&self, code: &str) -> Option<&ServiceItem> {
        self.items.iter().find(|i| i.code == code)
    }
    pub fn bundle(&self, code: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.code == code)
    }
    pub fn material(&self, code: &str) -> Option<&MaterialKind> {
        self.materials.iter().find(|m| m.code == code)
    }

    /// The one form for a set of items: fields in order of first appearance, a key shared by
    /// several items asked once (required if any item requires it). `Err(key)` when two items
    /// define the same key with different kinds.
    pub fn fields_for(&self, item_codes: &[String]) -> Result<Vec<FieldSpec>, String> {
        let mut out: Vec<FieldSpec> = Vec::new();
        for item in item_codes.iter().filter_map(|c| self.item(c)) {
            for f in &item.fields {
                match out.iter_mut().find(|o| o.key == f.key) {
                    Some(o) if o.kind != f.kind => return Err(f.key.clone()),
                    Some(o) => o.required |= f.required,
                    None => out.push(f.clone()),
                }
            }
        }
        Ok(out)
    }

    /// The one set of materials for a set of items: each material once, required if any item
    /// requires it, notes joined.
    pub fn materials_for(&self, item_codes: &[String]) -> Vec<MaterialRequirement> {
        let mut out: BTreeMap<String, (usize, MaterialRequirement)> = BTreeMap::new();
        let mut order = 0;
        for item in item_codes.iter().filter_map(|c| self.item(c)) {
            for m in &item.materials {
                let e = out.entry(m.code.clone()).or_insert_with(|| {
                    order += 1;
                    (order, MaterialRequirement { code: m.code.clone(), required: false, note: L10n::default() })
                });
                e.1.required |= m.required;
                for (dst, src) in [(&mut e.1.note.zh, &m.note.zh), (&mut e.1.note.en, &m.note.en)] {
                    if !src.is_empty() && !dst.contains(src.as_str()) {
                        if !dst.is_empty() {
                            dst.push_str("; ");
                        }
                        dst.push_str(src);
                    }
                }
            }
        }
        let mut v: Vec<_> = out.into_values().collect();
        v.sort_by_key(|(o, _)| *o);
        v.into_iter().map(|(_, m)| m).collect()
    }

    /// The longest time limit among the items (a bundle is promised when its slowest item is).
    pub fn time_limit_for(&self, item_codes: &[String]) -> u16 {
        item_codes.iter().filter_map(|c| self.item(c)).map(|i| i.time_limit_days).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, kind: FieldKind, required: bool) -> FieldSpec {
        FieldSpec { key: key.into(), label: L10n::new(key, key), kind, required, hint: L10n::default() }
    }

    fn cat() -> Catalogue {
        let mat = |code: &str, reusable| MaterialKind {
            code: code.into(),
            name: L10n::new(code, code),
            reusable,
            photos: 1,
            hint: L10n::default(),
        };
        let req = |code: &str, required| MaterialRequirement { code: code.into(), required, note: L10n::default() };
        let item = |code: &str, mats: Vec<MaterialRequirement>, fields: Vec<FieldSpec>, days| ServiceItem {
            code: code.into(),
            name: L10n::new(code, code),
            category: L10n::new("c", "c"),
            level: Level::Township,
            time_limit_days: days,
            fee_yuan: 0,
            conditions: L10n::default(),
            materials: mats,
            fields,
            guide: vec![L10n::new("step", "step")],
            pitfalls: vec![],
            result: L10n::default(),
            suggest_from_age: None,
        };
        Catalogue {
            version: 1,
            township: L10n::new("镇", "town"),
            materials: vec![mat("id_card", true), mat("photo", false), mat("bank", true)],
            items: vec![
                item("a", vec![req("id_card", true), req("photo", false)], vec![field("phone", FieldKind::Phone, false)], 5),
                item(
                    "b",
                    vec![req("id_card", true), req("bank", true), req("photo", true)],
                    vec![field("phone", FieldKind::Phone, true), field("acct", FieldKind::BankAccount, true)],
                    10,
                ),
            ],
            bundles: vec![Bundle {
                code: "ab".into(),
                name: L10n::new("ab", "ab"),
                items: vec!["a".into(), "b".into()],
                description: L10n::default(),
                suggest_from_age: None,
                suggest_below_age: None,
            }],
        }
    }

    #[test]
    fn bundle_merges_fields_and_materials() {
        let c = cat();
        c.validate().unwrap();
        let codes = vec!["a".to_string(), "b".to_string()];
        let f = c.fields_for(&codes).unwrap();
        assert_eq!(f.iter().map(|f| (f.key.as_str(), f.required)).collect::<Vec<_>>(), [("phone", true), ("acct", true)]);
        let m = c.materials_for(&codes);
        assert_eq!(
            m.iter().map(|m| (m.code.as_str(), m.required)).collect::<Vec<_>>(),
            [("id_card", true), ("photo", true), ("bank", true)]
        );
        assert_eq!(c.time_limit_for(&codes), 10);
    }

    #[test]
    fn validation_catches_broken_references() {
        let mut c = cat();
        c.items[0].materials.push(MaterialRequirement { code: "nope".into(), required: true, note: L10n::default() });
        assert!(matches!(c.validate(), Err(CatalogueError::UnknownMaterial { .. })));
        let mut c = cat();
        c.bundles[0].items.push("zzz".into());
        assert!(matches!(c.validate(), Err(CatalogueError::UnknownItem { .. })));
        let mut c = cat();
        c.items[1].fields[0].kind = FieldKind::Text;
        assert!(matches!(c.validate(), Err(CatalogueError::FieldConflict { .. })));
        let mut c = cat();
        c.materials.push(c.materials[0].clone());
        assert!(matches!(c.validate(), Err(CatalogueError::Duplicate(_))));
    }
}
