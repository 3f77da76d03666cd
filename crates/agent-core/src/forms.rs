//! Parsing what the agent typed into validated values, with errors that name the field.
//!
//! The UI hands over raw strings; everything here turns them into proto's validated types
//! or a list of [`FieldError`]s (Chinese first) to show next to the inputs. Nothing already
//! saved is touched when validation fails.

use chrono::NaiveDate;
use daiban_proto::catalogue::{FieldKind, FieldSpec};
use daiban_proto::text::{Address, FieldText, PersonName, Phone, TextError};
use daiban_proto::{Catalogue, IdNumber};
use std::collections::BTreeMap;
use std::fmt;

/// A problem with one input, keyed by the field's key so the UI can put it next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    /// The field's label in Chinese, for messages shown outside the form.
    pub label: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, label: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), label: label.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}：{}", self.label, daiban_proto::text::in_language(&self.message, false))
    }
}

/// The resident form as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResidentForm {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub village_group: String,
    pub address: String,
    /// `None`: derive from age (60 and over).
    pub elderly: Option<bool>,
    pub mobility_limited: bool,
}

/// A resident's validated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentInput {
    pub name: PersonName,
    pub id_number: IdNumber,
    pub phone: Option<Phone>,
    pub village_group: Option<Address>,
    pub address: Option<Address>,
    pub elderly: bool,
    pub mobility_limited: bool,
}

/// Age from which a resident counts as elderly by default (老年人).
pub const ELDERLY_AGE: u32 = 60;

fn optional<T>(s: &str, parse: impl Fn(&str) -> Result<T, TextError>) -> Result<Option<T>, TextError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse(s).map(Some)
    }
}

fn text_err(field: &str, label: &str, e: TextError) -> FieldError {
    let msg = match e {
        TextError::Empty { .. } => "不能为空".to_string(),
        TextError::TooLong { max, .. } => format!("太长（最多{max}个字） / too long (max {max})"),
        TextError::Format { hint, .. } => format!("格式不对，应为{hint}"),
    };
    FieldError::new(field, label, msg)
}

impl ResidentForm {
    pub fn parse(&self, today: NaiveDate) -> Result<ResidentInput, Vec<FieldError>> {
        let mut errs = Vec::new();
        let name = PersonName::parse(&self.name).map_err(|e| errs.push(text_err("name", "姓名", e))).ok();
        let id_number =
            IdNumber::parse(&self.id_number).map_err(|e| errs.push(FieldError::new("id_number", "身份证号", e.to_string()))).ok();
        if let Some(id) = &id_number {
            if id.birth_date() > today {
                errs.push(FieldError::new(
                    "id_number",
                    "身份证号",
                    "出生日期在今天之后，请核对 / the birth date is after today: check the number",
                ));
            }
        }
        let phone = optional(&self.phone, Phone::parse).map_err(|e| errs.push(text_err("phone", "联系电话", e))).ok();
        let village_group =
            optional(&self.village_group, Address::parse).map_err(|e| errs.push(text_err("village_group", "村民小组", e))).ok();
        let address = optional(&self.address, Address::parse).map_err(|e| errs.push(text_err("address", "住址", e))).ok();
        if !errs.is_empty() {
            return Err(errs);
        }
        let id_number = id_number.expect("no errors");
        let elderly = self.elderly.unwrap_or_else(|| id_number.age_on(today) >= ELDERLY_AGE);
        Ok(ResidentInput {
            name: name.expect("no errors"),
            id_number,
            phone: phone.flatten(),
            village_group: village_group.flatten(),
            address: address.flatten(),
            elderly,
            mobility_limited: self.mobility_limited,
        })
    }
}

/// Check one form answer against its spec; `Ok` carries the normalised value.
pub fn check_field(spec: &FieldSpec, raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() {
        return if spec.required { Err("必填，不能为空 / required".into()) } else { Ok(String::new()) };
    }
    match &spec.kind {
        FieldKind::Text => FieldText::parse(v).map(|t| t.as_str().to_string()).map_err(|e| match e {
            TextError::TooLong { max, .. } => format!("太长（最多{max}个字）"),
            other => other.to_string(),
        }),
        FieldKind::Number => {
            v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0).map(|_| v.to_string()).ok_or_else(|| "应填数字 / a number".into())
        }
        FieldKind::Date => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .map_err(|_| "日期格式应为 2024-05-01 / a date such as 2024-05-01".into()),
        // a month the resident remembers, when the day is not known: stored as its first day's month
        FieldKind::Month => NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d")
            .map(|d| d.format("%Y-%m").to_string())
            .map_err(|_| "年月格式应为 2015-06 / a month such as 2015-06".into()),
        FieldKind::Phone => Phone::parse(v)
            .map(|p| p.as_str().to_string())
            .map_err(|_| "应为11位手机号或带区号的座机号 / a mobile or landline number".into()),
        FieldKind::BankAccount => {
            let digits: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            if (12..=30).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
                Ok(digits)
            } else {
                Err("银行卡号应为12到30位数字 / 12 to 30 digits".into())
            }
        }
        FieldKind::Choice { options } => options
            .iter()
            .find(|o| o.zh == v || o.en == v)
            .map(|o| o.zh.clone())
            .ok_or_else(|| "请从选项中选择 / choose one of the options".into()),
    }
}

/// Validate all answers of an application's one form; returns normalised answers (only the
/// keys the form has) or every problem found.
pub fn check_fields(
    catalogue: &Catalogue,
    items: &[String],
    answers: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Vec<FieldError>> {
    let specs = catalogue.fields_for(items).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut errs = Vec::new();
    for spec in &specs {
        let raw = answers.get(&spec.key).map(String::as_str).unwrap_or("");
        match check_field(spec, raw) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                out.insert(spec.key.clone(), v);
            }
            Err(m) => errs.push(FieldError::new(&spec.key, &spec.label.zh, m)),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daiban_proto::catalogue::L10n;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn resident_form_collects_every_error_and_derives_elderly() {
        let f = ResidentForm { name: " ".into(), id_number: "110105194912310021".into(), phone: "123".into(), ..Default::default() };
        let errs = f.parse(today()).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "id_number", "phone"]);
        assert!(errs[1].message.contains("校验位"), "{}", errs[1]);

        let ok =
            ResidentForm { name: "王秀英".into(), id_number: "11010519491231002X".into(), ..Default::default() }.parse(today()).unwrap();
        assert!(ok.elderly, "76 years old");
        assert_eq!(ok.phone, None);
        let id = daiban_proto::id_number::make_id_number("440524", NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(), 13);
        let young = ResidentForm { name: "李强".into(), id_number: id.expose().into(), ..Default::default() };
        assert!(!young.parse(today()).unwrap().elderly);
    }

    #[test]
    fn field_kinds() {
        let spec = |kind| FieldSpec { key: "k".into(), label: L10n::new("金额", "amount"), kind, required: true, hint: L10n::default() };
        assert_eq!(check_field(&spec(FieldKind::Number), "12.5"), Ok("12.5".into()));
        assert!(check_field(&spec(FieldKind::Number), "-1").is_err());
        assert!(check_field(&spec(FieldKind::Number), "").is_err());
        assert_eq!(check_field(&spec(FieldKind::Date), "2024-5-1"), Ok("2024-05-01".into()));
        assert!(check_field(&spec(FieldKind::Date), "2024/05/01").is_err());
        assert_eq!(check_field(&spec(FieldKind::Month), "2015-6"), Ok("2015-06".into()));
        assert_eq!(check_field(&spec(FieldKind::Month), "2015-06"), Ok("2015-06".into()));
        assert!(check_field(&spec(FieldKind::Month), "2015-13").is_err());
        assert!(check_field(&spec(FieldKind::Month), "2015-06-01").is_err(), "a month, not a day");
        assert_eq!(check_field(&spec(FieldKind::BankAccount), "6222 0212 3456 7890"), Ok("6222021234567890".into()));
        let choice = FieldKind::Choice { options: vec![L10n::new("本人", "self"), L10n::new("配偶", "spouse")] };
        assert_eq!(check_field(&spec(choice.clone()), "spouse"), Ok("配偶".into()));
        assert!(check_field(&spec(choice), "邻居").is_err());
    }
}
