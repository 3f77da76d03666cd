//! Chinese-first text with English available.
//!
//! Every UI string is written as a (Chinese, English) pair at the place it is used, so a
//! string cannot lack its translation and nothing is looked up at run time. Catalogue texts
//! come as `L10n` from the data. Dates and times are shown in China Standard Time (UTC+8),
//! which is where every user of the app is.

use chrono::{DateTime, FixedOffset, Utc};
use daiban_proto::catalogue::L10n;
use dioxus::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Pick the text for this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// A catalogue text in this language (Chinese when no translation exists).
    pub fn l(self, text: &L10n) -> String {
        text.get(self == Lang::En).to_string()
    }

    /// A message written `中文 / English` (errors from the store, the sync engine, the centre),
    /// in this language only.
    pub fn msg(self, message: &str) -> String {
        daiban_proto::text::in_language(message, self == Lang::En).to_string()
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Lang {
        if s == "en" {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// `11月23日 16:30` / `23 Nov 16:30`
    pub fn datetime(self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&china());
        match self {
            Lang::Zh => local.format("%-m月%-d日 %H:%M").to_string(),
            Lang::En => local.format("%-d %b %H:%M").to_string(),
        }
    }

    /// `2026年11月23日` / `23 Nov 2026`
    pub fn date(self, d: chrono::NaiveDate) -> String {
        match self {
            Lang::Zh => d.format("%Y年%-m月%-d日").to_string(),
            Lang::En => d.format("%-d %b %Y").to_string(),
        }
    }

    /// `办结期限 2026年12月15日（还剩5天）`: a deadline and how far it is from `today`.
    pub fn due(self, deadline: chrono::NaiveDate, today: chrono::NaiveDate) -> String {
        let days = (deadline - today).num_days();
        let left = match (self, days) {
            (Lang::Zh, d) if d < 0 => format!("已超期{}天", -d),
            (Lang::Zh, 0) => "今天到期".to_string(),
            (Lang::Zh, d) => format!("还剩{d}天"),
            (Lang::En, d) if d < 0 => format!("{} days overdue", -d),
            (Lang::En, 0) => "due today".to_string(),
            (Lang::En, d) => format!("{d} days left"),
        };
        match self {
            Lang::Zh => format!("办结期限 {}（{left}）", self.date(deadline)),
            Lang::En => format!("Decision due {} ({left})", self.date(deadline)),
        }
    }

    /// `1.2 MB`, `340 KB`
    pub fn bytes(self, n: u64) -> String {
        if n >= 1_000_000 {
            format!("{:.1} MB", n as f64 / 1_000_000.0)
        } else if n >= 1000 {
            format!("{} KB", n / 1000)
        } else {
            format!("{n} B")
        }
    }
}

/// China Standard Time.
pub fn china() -> FixedOffset {
    daiban_proto::china_time::offset()
}

/// Today's date in China.
pub fn today() -> chrono::NaiveDate {
    daiban_proto::china_time::today()
}

/// The language chosen in the app (provided by `App`).
pub fn use_lang() -> Lang {
    let lang: Signal<Lang> = use_context();
    lang()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_deadline_says_how_far_it_is() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        let on = |day: u32| chrono::NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        assert_eq!(Lang::Zh.due(d, on(10)), "办结期限 2026年12月15日（还剩5天）");
        assert_eq!(Lang::Zh.due(d, on(15)), "办结期限 2026年12月15日（今天到期）");
        assert_eq!(Lang::Zh.due(d, on(17)), "办结期限 2026年12月15日（已超期2天）");
        assert_eq!(Lang::En.due(d, on(10)), "Decision due 15 Dec 2026 (5 days left)");
    }

    #[test]
    fn formats_in_china_time() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 20, 5, 0).unwrap();
        assert_eq!(Lang::Zh.datetime(t), "11月24日 04:05");
        assert_eq!(Lang::En.datetime(t), "24 Nov 04:05");
        assert_eq!(Lang::Zh.bytes(1_234_567), "1.2 MB");
        assert_eq!(Lang::En.bytes(340_100), "340 KB");
        assert_eq!(Lang::parse("en"), Lang::En);
        assert_eq!(Lang::En.l(&L10n::new("老年证", "")), "老年证");
    }
}
