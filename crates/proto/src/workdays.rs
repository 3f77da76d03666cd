//! Working-day arithmetic for promised time limits (承诺时限).
//!
//! Time limits are in working days counted from acceptance. Weekends are skipped, and so are
//! statutory holidays, while make-up working days (调休上班) count. Both are announced each
//! year by the State Council; [`WorkCalendar::china`] is the calendar shipped with Daiban
//! (`assets/holidays/china.txt`, one line per day or range), and [`WorkCalendar::parse`]
//! reads a township's own copy of that file.

use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default)]
pub struct WorkCalendar {
    /// Weekdays that are holidays.
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休上班).
    pub workdays: BTreeSet<NaiveDate>,
}

/// A line of a calendar file that could not be taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("节假日文件第 {line} 行：{message}")]
pub struct CalendarError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

/// The calendar file shipped with Daiban.
const CHINA: &str = include_str!("../../../assets/holidays/china.txt");

impl WorkCalendar {
    /// Mainland China's statutory holidays and make-up working days as shipped
    /// (`assets/holidays/china.txt`: the years whose notices have been published).
    pub fn china() -> Self {
        Self::parse(CHINA).expect("the shipped holiday file parses (tested)")
    }

    /// Read a calendar file: `DATE[..DATE] 休|班 NAME` per line, `#` comments. A 班 day must
    /// be a weekend day, a day cannot be both, a range cannot run backwards or over 31 days;
    /// the first bad line is reported by number and nothing is taken.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let mut cal = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| CalendarError { line: i + 1, message };
            let mut words = line.split_whitespace();
            let (dates, kind) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| err(format!("日期“{s}”应写成 2026-10-01 的样子")));
            let (from, to) = match dates.split_once("..") {
                Some((a, b)) => (day(a)?, day(b)?),
                None => (day(dates)?, day(dates)?),
            };
            let span = (to - from).num_days();
            if !(0..=31).contains(&span) {
                return Err(err(format!("日期范围 {dates} 应从前到后，且不超过31天")));
            }
            for d in from.iter_days().take_while(|d| *d <= to) {
                let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
                match kind {
                    "休" => {
                        if cal.workdays.contains(&d) {
                            return Err(err(format!("{d} 已写为上班日，不能又是假日")));
                        }
                        if !weekend {
                            cal.holidays.insert(d);
                        }
                    }
                    "班" => {
                        if !weekend {
                            return Err(err(format!("{d} 不是周末，不需要写为调休上班日")));
                        }
                        if cal.holidays.contains(&d) {
                            return Err(err(format!("{d} 已写为假日，不能又是上班日")));
                        }
                        cal.workdays.insert(d);
                    }
                    other => return Err(err(format!("“{other}”应为“休”（放假）或“班”（调休上班）"))),
                }
            }
        }
        Ok(cal)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    /// The date `days` working days after `start` (the day of acceptance does not count).
    pub fn add_working_days(&self, start: NaiveDate, days: u16) -> NaiveDate {
        let mut d = start;
        let mut left = days;
        while left > 0 {
            d = d.succ_opt().expect("date in range");
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_shipped_calendar_knows_2025_and_2026() {
        let cal = WorkCalendar::china();
        // 2025 National Day and Mid-Autumn: 1–8 October off, Sunday 28 September and
        // Saturday 11 October worked.
        assert!(cal.is_working_day(d("2025-09-28")) && cal.is_working_day(d("2025-10-11")));
        assert!(d("2025-10-01").iter_days().take(8).all(|x| !cal.is_working_day(x)));
        // accepted on 30 September: one working day later is 9 October, not 1 October
        assert_eq!(cal.add_working_days(d("2025-09-30"), 1), d("2025-10-09"));
        // Spring Festival 2026: 15–23 February off, Saturdays 14 and 28 February worked
        assert_eq!(cal.add_working_days(d("2026-02-13"), 1), d("2026-02-14"));
        assert_eq!(cal.add_working_days(d("2026-02-14"), 1), d("2026-02-24"));
        assert!(cal.is_working_day(d("2026-02-28")));
        // an ordinary week is untouched
        assert_eq!(cal.add_working_days(d("2026-11-20"), 5), d("2026-11-27"));
        for year in [2025, 2026] {
            let days_off = cal.holidays.iter().filter(|x| x.year() == year).count();
            assert!((18..=25).contains(&days_off), "{year}: {days_off} weekday holidays");
        }
    }

    #[test]
    fn a_bad_calendar_line_is_reported_by_number() {
        let e = WorkCalendar::parse("# 2026\n2026-10-01..2026-10-07 休 国庆节\n2026-10-08 班 国庆节\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().contains("第 3 行") && e.to_string().contains("不是周末"), "{e}");
        let e = WorkCalendar::parse("2026-13-01 休 x").unwrap_err();
        assert!(e.message.contains("2026-13-01"), "{e}");
        let e = WorkCalendar::parse("2026-10-07..2026-10-01 休 x").unwrap_err();
        assert!(e.message.contains("从前到后"), "{e}");
        let e = WorkCalendar::parse("2026-10-10 班 x\n2026-10-10 休 x").unwrap_err();
        assert_eq!(e.line, 2);
        let e = WorkCalendar::parse("2026-10-01 放 x").unwrap_err();
        assert!(e.message.contains("“放”"), "{e}");
    }

    #[test]
    fn skips_weekends_and_holidays() {
        let cal = WorkCalendar::default();
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(cal.add_working_days(fri, 1), NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(cal.add_working_days(fri, 5), NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        assert_eq!(cal.add_working_days(fri, 0), fri);
        let mut cal = WorkCalendar::default();
        cal.holidays.insert(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        cal.workdays.insert(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        assert_eq!(cal.add_working_days(fri, 2), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    }
}
