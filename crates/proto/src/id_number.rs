//! Resident ID numbers (公民身份号码, GB 11643-1999).
//!
//! An [`IdNumber`] can only be made by [`IdNumber::parse`], which checks the 18-character
//! layout, the province code, the birth date and the ISO 7064 MOD 11-2 check character. Birth
//! date and sex are derived from it, never typed in separately, so they cannot disagree.
//!
//! The number is sensitive personal information. `Debug` and `Display` print the masked form
//! (`3701**********1234`) so an id number never ends up in a log by accident; the full value
//! is only available through [`IdNumber::expose`], which callers use deliberately (storage,
//! the wire, an audited "reveal" on the centre).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a string is not a valid ID number. The messages are meant for people (Chinese first);
/// the UI shows them next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号应为18位（现为{0}位） / must be 18 characters (got {0})")]
    Length(usize),
    #[error("身份证号前17位应为数字，最后一位为数字或X / first 17 must be digits, last a digit or X")]
    Characters,
    #[error("身份证号的地区码无效 / unknown region code")]
    Region,
    #[error("身份证号中的出生日期无效 / invalid birth date")]
    BirthDate,
    #[error("身份证号校验位不对，请核对是否输错 / check digit does not match, please re-check")]
    Checksum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// A validated 18-character resident ID number (check character upper-case).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";
/// Province-level codes (first two digits) in use.
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// The check character for the first 17 digits (ISO 7064 MOD 11-2).
pub fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize] as char
}

impl IdNumber {
    /// Parse user input: surrounding spaces are ignored and a lower-case `x` is accepted.
    pub fn parse(input: &str) -> Result<Self, IdNumberError> {
        let s: String = input.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdNumberError::Length(n));
        }
        let b = s.as_bytes();
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        let province = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !PROVINCES.contains(&province) {
            return Err(IdNumberError::Region);
        }
        let date = parse_birth(&s[6..14]).ok_or(IdNumberError::BirthDate)?;
        if !(1890..=2100).contains(&date.year()) {
            return Err(IdNumberError::BirthDate);
        }
        if check_char(&b[..17]) != b[17] as char {
            return Err(IdNumberError::Checksum);
        }
        Ok(Self(s))
    }

    /// The full number. Use only where it is really needed (storage, wire, audited reveal).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `3701**********1234`: what lists, logs and most screens show.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }

    pub fn birth_date(&self) -> NaiveDate {
        parse_birth(&self.0[6..14]).expect("validated at parse")
    }

    /// Odd sequence digit = male, even = female.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in whole years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        age_between(self.birth_date(), today)
    }

    /// The 6-digit administrative region code of the place of first registration.
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }
}

/// Age in whole years of someone born on `birth`, on `today` (0 before birth).
pub fn age_between(birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

fn parse_birth(s: &str) -> Option<NaiveDate> {
    let y = s[0..4].parse().ok()?;
    let m = s[4..6].parse().ok()?;
    let d = s[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IdNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Build a valid number from region, birth date and sequence (tests, demo data, load generators).
pub fn make_id_number(region: &str, birth: NaiveDate, seq: u16) -> IdNumber {
    assert!(region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit()));
    let first17 = format!("{region}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
    let c = check_char(first17.as_bytes());
    IdNumber::parse(&format!("{first17}{c}")).expect("constructed valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numbers_and_derives_birth_and_sex() {
        // The standard's own worked example.
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(1101**********002X)");
        assert_eq!(id.to_string(), "1101**********002X");
        assert_eq!(id.age_on(NaiveDate::from_ymd_opt(2026, 12, 30).unwrap()), 76);
        assert_eq!(id.age_on(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()), 77);
        let m = IdNumber::parse(" 440524193001010010 ").unwrap();
        assert_eq!(m.sex(), Sex::Male);
    }

    #[test]
    fn rejects_each_kind_of_mistake() {
        assert_eq!(IdNumber::parse("1101051949123100"), Err(IdNumberError::Length(16)));
        assert_eq!(IdNumber::parse("11010519491231002Y"), Err(IdNumberError::Characters));
        assert_eq!(IdNumber::parse("99010519491231002X"), Err(IdNumberError::Region));
        assert_eq!(IdNumber::parse("110105194902300021"), Err(IdNumberError::BirthDate));
        assert_eq!(IdNumber::parse("110105194912310021"), Err(IdNumberError::Checksum));
    }

    #[test]
    fn serde_validates() {
        let id: IdNumber = serde_json::from_str("\"11010519491231002X\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"11010519491231002X\"");
        assert!(serde_json::from_str::<IdNumber>("\"110105194912310021\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn made_numbers_parse_and_any_single_digit_change_is_caught(
            days in 0i64..40000, seq in 0u16..1000, pos in 0usize..17, delta in 1u8..10
        ) {
            let birth = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap() + chrono::Duration::days(days);
            let id = make_id_number("370611", birth, seq);
            proptest::prop_assert_eq!(id.birth_date(), birth);
            let mut b = id.expose().as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).unwrap();
            proptest::prop_assert!(IdNumber::parse(&changed).is_err());
        }
    }
}
