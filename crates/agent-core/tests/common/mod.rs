//! Shared fixtures for the store and crash tests: real photographs and valid residents.

#![allow(dead_code)]

use chrono::NaiveDate;
use daiban_agent_core::forms::{ResidentForm, ResidentInput};
use daiban_agent_core::Store;
use daiban_proto::catalogue::FieldKind;
use daiban_proto::ApplicationId;
use std::path::PathBuf;

/// Real photographs shipped by Debian's wallpaper packages (installed by scripts/setup.sh).
pub fn real_photos() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = glob_jpegs("/usr/share/wallpapers");
    found.sort();
    assert!(
        !found.is_empty(),
        "no real photographs found under /usr/share/wallpapers: run scripts/setup.sh (installs plasma-workspace-wallpapers)"
    );
    found
}

fn glob_jpegs(root: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(root)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jpg" || x == "jpeg") && !p.ends_with("screenshot.jpg") {
                out.push(p);
            }
        }
    }
    out
}

/// A smallish real photo (fast to process), different for each `n`.
pub fn photo(n: usize) -> Vec<u8> {
    let mut small: Vec<(u64, PathBuf)> = real_photos()
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .filter(|(len, _)| *len < 1_500_000)
        .collect();
    small.sort();
    small.dedup_by_key(|(len, _)| *len);
    assert!(!small.is_empty(), "need photos under 1.5 MB");
    std::fs::read(&small[n % small.len()].1).unwrap()
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// A valid resident; `n` varies name and ID number.
pub fn resident(n: u16, birth_year: i32) -> ResidentInput {
    let id = daiban_proto::id_number::make_id_number("370611", NaiveDate::from_ymd_opt(birth_year, 3, 15).unwrap(), n);
    ResidentForm {
        name: format!("王秀英{n}"),
        id_number: id.expose().to_string(),
        phone: "13800138000".into(),
        village_group: "第三村民小组".into(),
        address: "王家村东街12号".into(),
        elderly: None,
        mobility_limited: n.is_multiple_of(2),
    }
    .parse(today())
    .unwrap()
}

/// Fill every required field of a draft with a valid answer of its kind.
pub fn fill_required(store: &Store, app: ApplicationId) {
    let d = store.application(app).unwrap();
    let answers = d
        .field_specs
        .iter()
        .filter(|s| s.required)
        .map(|s| {
            let v = match &s.kind {
                FieldKind::Text => "测试".to_string(),
                FieldKind::Number => "3".to_string(),
                FieldKind::Date => "2026-10-01".to_string(),
                FieldKind::Month => "2015-06".to_string(),
                FieldKind::Phone => "13800138000".to_string(),
                FieldKind::BankAccount => "6222021234567890123".to_string(),
                FieldKind::Choice { options } => options[0].zh.clone(),
            };
            (s.key.clone(), v)
        })
        .collect();
    store.save_fields(app, &answers, None).unwrap();
}
