//! Validated free-text values typed by agents (names, phone numbers, reasons, form answers).
//!
//! Each type bounds its length and strips control characters so that storage, logs and the
//! staff web UI never have to deal with overlong or invisible input. Error messages are
//! bilingual, Chinese first, and name the field.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{field}不能为空 / {field_en} is required")]
    Empty { field: &'static str, field_en: &'static str },
    #[error("{field}太长（最多{max}个字） / {field_en} is too long (max {max})")]
    TooLong { field: &'static str, field_en: &'static str, max: usize },
    #[error("{field}格式不对：{hint} / {field_en} is not valid")]
    Format { field: &'static str, field_en: &'static str, hint: &'static str },
}

/// Messages meant for people (errors above all) are written once in both languages, Chinese
/// first, as `中文 / English`: they cross crates and the wire as one string. A screen shows the
/// reader's half only; a message without the separator is shown as it is.
pub fn in_language(message: &str, english: bool) -> &str {
    match message.split_once(" / ") {
        Some((_, en)) if english => en.trim(),
        Some((zh, _)) => zh.trim(),
        None => message,
    }
}

/// Trim, drop control characters (keeping newlines when `multiline`), check length.
pub fn clean(input: &str, field: &'static str, field_en: &'static str, max: usize, multiline: bool) -> Result<String, TextError> {
    let s: String = input.trim().chars().filter(|c| !c.is_control() || (multiline && *c == '\n')).collect();
    if s.is_empty() {
        return Err(TextError::Empty { field, field_en });
    }
    if s.chars().count() > max {
        return Err(TextError::TooLong { field, field_en, max });
    }
    Ok(s)
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $field_en:literal, $max:expr, $multi:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX: usize = $max;
            pub fn parse(s: &str) -> Result<Self, TextError> {
                clean(s, $field, $field_en, $max, $multi).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

bounded_text!(
    /// A person's name as on the ID card (Chinese names are 2–4 characters; minority and
    /// foreign names can be much longer, hence the generous bound).
    PersonName, "姓名", "name", 40, false
);
bounded_text!(
    /// A postal address or a village group (村民小组) name.
    Address, "地址", "address", 120, false
);
bounded_text!(
    /// A reason or comment typed by staff or an agent (return reason, rating comment, note).
    Remark, "说明", "remark", 500, true
);
bounded_text!(
    /// The answer to one form field.
    FieldText, "填写内容", "field value", 500, true
);

/// A mainland mobile (11 digits starting with 1) or a landline with area code (7–12 digits,
/// optional hyphen). Stored without spaces.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let err = TextError::Format { field: "电话", field_en: "phone", hint: "11位手机号或带区号的座机号" };
        if s.is_empty() {
            return Err(TextError::Empty { field: "电话", field_en: "phone" });
        }
        let digits: String = s.chars().filter(|c| *c != '-').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) || s.matches('-').count() > 1 {
            return Err(err);
        }
        let mobile = digits.len() == 11 && digits.starts_with('1') && !s.contains('-');
        let landline = (7..=12).contains(&digits.len()) && digits.starts_with('0');
        if mobile || landline {
            Ok(Self(s))
        } else {
            Err(err)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `138****5678`
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        if n < 7 {
            return "****".into();
        }
        format!("{}****{}", &self.0[..3], &self.0[n - 4..])
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bilingual_message_shows_one_language() {
        let m = TextError::Empty { field: "姓名", field_en: "name" }.to_string();
        assert_eq!(in_language(&m, false), "姓名不能为空");
        assert_eq!(in_language(&m, true), "name is required");
        assert_eq!(in_language("只有中文", true), "只有中文");
        // only the first separator splits: an English half may quote another message
        assert_eq!(in_language("中心说明 / centre says: a / b", true), "centre says: a / b");
    }

    #[test]
    fn names_are_trimmed_bounded_and_cleaned() {
        assert_eq!(PersonName::parse("  王 秀英\u{7}\n").unwrap().as_str(), "王 秀英");
        assert!(matches!(PersonName::parse("   "), Err(TextError::Empty { field: "姓名", .. })));
        let long = "张".repeat(41);
        let e = PersonName::parse(&long).unwrap_err();
        assert!(e.to_string().starts_with("姓名太长"), "{e}");
        assert_eq!(Remark::parse("第一行\n第二行").unwrap().as_str(), "第一行\n第二行");
        assert!(serde_json::from_str::<PersonName>("\"\"").is_err());
    }

    #[test]
    fn phones() {
        assert_eq!(Phone::parse("138 0013 8000").unwrap().as_str(), "13800138000");
        assert_eq!(Phone::parse("13800138000").unwrap().masked(), "138****8000");
        assert!(Phone::parse("0535-6881234").is_ok());
        assert!(Phone::parse("23800138000").is_err());
        assert!(Phone::parse("1380013800a").is_err());
        assert!(Phone::parse("12345").is_err());
    }
}
