//! Setting up a real township without touching code: what `daiban-centre admin …` does for
//! the county's IT staff (README, "Set up a real township").
//!
//! Each operation checks all of its input before it writes anything, so a bad row in a
//! villages file or a bad catalogue changes nothing; problems are reported by line, in
//! Chinese first. Creating a township or importing villages that are already there (same
//! code, same name) is not an error, so a set-up script can be run again.

use crate::store::{NewEnrolmentCode, NewStaff, Role, Staff, Store, StoreError, Township, VillageCode, MIN_PASSWORD_CHARS};
use chrono::Duration;
use daiban_proto::catalogue::{Catalogue, L10n};
use std::collections::HashMap;

/// Why an admin operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is wrong; the message says which part and how.
    #[error("{0}")]
    Invalid(String),
    /// Rows of an input file that are wrong, each with its line number.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Lines(Vec<LineError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A problem on one line of an input file (1-based, as an editor shows it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("第{line}行 / line {line}: {message}")]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, AdminError>;

/// The township's own 9 digits of a division code: its 12-digit 统计用区划代码 (which ends
/// in `000` at township level, e.g. `370611101000`) or those 9 digits as they are.
pub fn township_code(s: &str) -> Result<String> {
    let s = s.trim();
    let digits = s.bytes().all(|b| b.is_ascii_digit());
    match s.len() {
        12 if digits && s.ends_with("000") => Ok(s[..9].to_string()),
        9 if digits => Ok(s.to_string()),
        _ => Err(AdminError::Invalid(format!(
            "镇的区划代码应为12位统计用区划代码（以000结尾）或其前9位，而不是“{s}” / a township's division code is its 12-digit code (ending in 000) or its first 9 digits"
        ))),
    }
}

fn name(zh: &str, en: Option<&str>, field: &'static str, field_en: &'static str) -> std::result::Result<L10n, String> {
    let zh = daiban_proto::text::clean(zh, field, field_en, 40, false).map_err(|e| e.to_string())?;
    let en = match en.map(str::trim).filter(|s| !s.is_empty()) {
        Some(en) => daiban_proto::text::clean(en, field, field_en, 80, false).map_err(|e| e.to_string())?,
        None => zh.clone(),
    };
    Ok(L10n::new(&zh, &en))
}

/// Create the township, or find it when one with this code and name is there already.
pub async fn township(store: &dyn Store, code: &str, zh: &str, en: Option<&str>) -> Result<(Township, bool)> {
    let code = township_code(code)?;
    let name = name(zh, en, "镇名", "township name").map_err(AdminError::Invalid)?;
    if let Some(t) = store.township_by_code(&code).await? {
        return if t.name.zh == name.zh {
            Ok((t, false))
        } else {
            Err(AdminError::Invalid(format!("区划代码 {code} 已是“{}”，不是“{}” / code {code} is another township", t.name.zh, name.zh)))
        };
    }
    let id = store.create_township(&code, name.clone()).await?;
    Ok((Township { id, code, name }, true))
}

/// A township by its code, or a clear error.
pub async fn find_township(store: &dyn Store, code: &str) -> Result<Township> {
    let code = township_code(code)?;
    store
        .township_by_code(&code)
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("没有区划代码为 {code} 的镇，请先建立 / no township {code}: create it first")))
}

/// One row of a villages file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VillageRow {
    pub line: u64,
    pub code: VillageCode,
    pub name: L10n,
}

/// Read a villages file: `code,name[,English name]` per line, UTF-8 (a BOM, as Excel writes
/// it, is fine), an optional header line, blank lines ignored. Every village code must be 12
/// digits within the township's code and appear once.
pub fn parse_villages(text: &str, township_code: &str) -> std::result::Result<Vec<VillageRow>, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let mut seen: HashMap<String, u64> = HashMap::new();
    // the line an editor shows (csv's own count skips blank lines, and a record's position
    // is where the blank lines before it begin)
    let line_at = |p: Option<&csv::Position>, fallback: usize| {
        let Some(at) = p.map(|p| p.byte() as usize).filter(|at| text.is_char_boundary(*at)) else { return fallback as u64 + 1 };
        let blank = text[at..].chars().take_while(|c| *c == '\n' || *c == '\r').filter(|c| *c == '\n').count();
        (text[..at].matches('\n').count() + blank) as u64 + 1
    };
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = line_at(e.position(), i);
                errors.push(LineError { line, message: format!("无法读取 / unreadable: {e}") });
                continue;
            }
        };
        let line = line_at(record.position(), i);
        let field = |k: usize| record.get(k).unwrap_or("").trim();
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // a header: the first line, not starting with a number
        if rows.is_empty() && errors.is_empty() && seen.is_empty() && !field(0).bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut problem = |message: String| errors.push(LineError { line, message });
        let code = match VillageCode::parse(field(0)) {
            Ok(c) => c,
            Err(e) => {
                problem(format!("村代码“{}”：{e}", field(0)));
                continue;
            }
        };
        if !code.as_str().starts_with(township_code) {
            problem(format!("村代码 {} 不在本镇（{township_code}）之下 / not within township {township_code}", code.as_str()));
            continue;
        }
        if let Some(first) = seen.insert(code.as_str().to_string(), line) {
            problem(format!("村代码 {} 与第{first}行重复 / repeats line {first}", code.as_str()));
            continue;
        }
        match name(field(1), record.get(2), "村名", "village name") {
            Ok(name) => rows.push(VillageRow { line, code, name }),
            Err(e) => problem(e),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub already_there: usize,
}

/// Add the villages of a file to the township. Nothing is added when any row is wrong, or
/// names a village that exists under another name or in another township.
pub async fn import_villages(store: &dyn Store, township: &Township, text: &str) -> Result<Imported> {
    let rows = parse_villages(text, &township.code).map_err(AdminError::Lines)?;
    let mut errors = Vec::new();
    let mut new = Vec::new();
    let mut imported = Imported::default();
    for row in rows {
        match store.village_by_code(&row.code).await? {
            None => new.push(row),
            Some(v) if v.township_id == township.id && v.name.zh == row.name.zh => imported.already_there += 1,
            Some(v) if v.township_id == township.id => errors.push(LineError {
                line: row.line,
                message: format!("村代码 {} 已登记为“{}” / already registered under another name", row.code.as_str(), v.name.zh),
            }),
            Some(_) => errors.push(LineError {
                line: row.line,
                message: format!("村代码 {} 已属于另一个镇 / belongs to another township", row.code.as_str()),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(AdminError::Lines(errors));
    }
    for row in new {
        store.create_village(township.id, row.code, row.name).await?;
        imported.added += 1;
    }
    Ok(imported)
}

/// A role as IT staff type it: `admin` (镇管理员) or `reviewer` (审核员).
pub fn role(s: &str) -> Result<Role> {
    match s.trim() {
        "admin" | "township_admin" | "管理员" => Ok(Role::TownshipAdmin),
        "reviewer" | "审核员" => Ok(Role::Reviewer),
        other => Err(AdminError::Invalid(format!("角色应为 admin 或 reviewer，而不是“{other}” / role must be admin or reviewer"))),
    }
}

/// A password to hand over once: 12 characters from an alphabet that reads out clearly.
pub fn new_password() -> String {
    let mut p = crate::store::secret::new_enrolment_code().replace('-', "");
    p.push_str(&crate::store::secret::new_enrolment_code().replace('-', "")[..4]);
    p
}

/// Whether an account can be made with these: a free user name without spaces, a name, a
/// long enough password. Returns the cleaned display name.
pub async fn check_staff(store: &dyn Store, username: &str, display: &str, password: &str) -> Result<String> {
    let username = username.trim();
    if username.is_empty() || username.chars().any(char::is_whitespace) || username.chars().count() > 40 {
        return Err(AdminError::Invalid("用户名不能为空、不含空格、最多40个字符 / user name: 1–40 characters, no spaces".into()));
    }
    let display = daiban_proto::text::clean(display, "姓名", "name", 40, false).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!(
            "密码至少{MIN_PASSWORD_CHARS}位 / the password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if store.staff_credentials(username).await?.is_some() {
        return Err(AdminError::Invalid(format!("用户名 {username} 已被使用 / user name taken")));
    }
    Ok(display)
}

/// Add a staff account to the township.
pub async fn add_staff(store: &dyn Store, township: &Township, username: &str, display: &str, role: Role, password: &str) -> Result<Staff> {
    let display = check_staff(store, username, display, password).await?;
    let username = username.trim();
    let new = NewStaff { township_id: township.id, username: username.into(), display_name: display, role, password: password.into() };
    let id = store.create_staff(new).await?;
    store.staff(id).await?.ok_or_else(|| AdminError::Invalid("账号创建后读不到 / account not found after creating it".into()))
}

/// A township administrator by user name (who publishes and issues codes).
pub async fn admin_named(store: &dyn Store, username: &str) -> Result<Staff> {
    match store.staff_credentials(username.trim()).await? {
        Some((s, _)) if s.role == Role::TownshipAdmin && s.active => Ok(s),
        Some(_) => Err(AdminError::Invalid(format!("{username} 不是在用的镇管理员 / not an active township admin"))),
        None => Err(AdminError::Invalid(format!("没有用户名为 {username} 的账号 / no such user"))),
    }
}

/// Publish a catalogue (JSON, the shape of `assets/catalogue/default.json`) for the admin's
/// township as its next version (whatever version the file says); its own township name is
/// put in.
pub async fn publish_catalogue(store: &dyn Store, by: &Staff, json: &str) -> Result<u32> {
    let mut catalogue: Catalogue = serde_json::from_str(json).map_err(|e| {
        AdminError::Lines(vec![LineError { line: e.line() as u64, message: format!("事项清单格式不对 / not a catalogue: {e}") }])
    })?;
    catalogue.validate().map_err(|e| AdminError::Invalid(format!("事项清单有误 / catalogue: {e}")))?;
    if let Some(t) = store.township(by.township_id).await? {
        catalogue.township = t.name;
    }
    catalogue.version = store.catalogue(by.township_id, None).await?.map_or(1, |c| c.version + 1);
    Ok(store.publish_catalogue(by.id, catalogue).await?)
}

/// A village of the admin's township by its 12-digit code, or a clear error.
async fn own_village(store: &dyn Store, by: &Staff, village: &str) -> Result<crate::store::Village> {
    let code = VillageCode::parse(village).map_err(|e| AdminError::Invalid(format!("{village}: {e}")))?;
    store
        .village_by_code(&code)
        .await?
        .filter(|v| v.township_id == by.township_id)
        .ok_or_else(|| AdminError::Invalid(format!("本镇没有村代码为 {village} 的村 / no such village in the township")))
}

/// Put a village agent (代办员) on the roster.
pub async fn add_agent(store: &dyn Store, by: &Staff, village: &str, name: &str, phone: &str) -> Result<crate::store::AgentId> {
    let v = own_village(store, by, village).await?;
    Ok(store.add_agent(by.id, v.id, name, phone).await?)
}

/// A one-time enrolment code for the phone of the agent with this phone number.
pub async fn agent_enrolment_code(store: &dyn Store, by: &Staff, agent_phone: &str, valid_for: Duration) -> Result<NewEnrolmentCode> {
    let wanted: String = agent_phone.chars().filter(|c| !c.is_whitespace()).collect();
    let agent = store
        .agents(by.township_id)
        .await?
        .into_iter()
        .find(|a| a.phone == wanted)
        .ok_or_else(|| AdminError::Invalid(format!("本镇没有电话为 {agent_phone} 的代办员 / no agent with this phone")))?;
    Ok(store.create_agent_enrolment_code(by.id, agent.id, valid_for).await?)
}

/// A one-time enrolment code for a phone of the village, issued by `by`.
pub async fn enrolment_code(store: &dyn Store, by: &Staff, village: &str, valid_for: Duration) -> Result<NewEnrolmentCode> {
    let v = own_village(store, by, village).await?;
    Ok(store.create_enrolment_code(by.id, v.id, valid_for).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn township_codes_are_the_twelve_digit_code_or_its_first_nine() {
        assert_eq!(township_code("370611101000").unwrap(), "370611101");
        assert_eq!(township_code(" 370611101 ").unwrap(), "370611101");
        for bad in ["370611101201", "37061110", "3706111010000", "37061110l"] {
            assert!(township_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_villages_file_is_read_whole_or_its_bad_lines_are_named() {
        let good = "\u{feff}代码,名称,英文名\n370611101201,王家村,Wangjia Village\n\n370611101202,李家庄\n";
        let rows = parse_villages(good, "370611101").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].name.en.as_str()), (2, "Wangjia Village"));
        assert_eq!((rows[1].line, rows[1].name.en.as_str()), (4, "李家庄"), "no English name: the Chinese one");

        let bad = "370611101201,王家村\n37061110120,短码村\n370611102201,外镇村\n370611101201,重复村\n370611101203,\n";
        let errors = parse_villages(bad, "370611101").unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5], "{errors:?}");
        assert!(errors[0].message.contains("12位"), "{}", errors[0].message);
        assert!(errors[1].message.contains("不在本镇"), "{}", errors[1].message);
        assert!(errors[2].message.contains("与第1行重复"), "{}", errors[2].message);
        assert!(errors[3].message.contains("村名不能为空"), "{}", errors[3].message);
    }

    #[test]
    fn roles_and_passwords() {
        assert_eq!(role("admin").unwrap(), Role::TownshipAdmin);
        assert_eq!(role("reviewer").unwrap(), Role::Reviewer);
        assert!(role("root").is_err());
        let p = new_password();
        assert_eq!(p.chars().count(), 12);
        assert!(p.chars().count() >= MIN_PASSWORD_CHARS);
        assert_ne!(p, new_password());
    }
}
