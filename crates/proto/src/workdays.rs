//! Working-day arithmetic for promised time limits (承诺时限).
//!
//! Time limits are in working days counted from acceptance. Weekends are skipped; statutory
//! holidays and make-up working days (调休) are supplied by the caller from configuration,
//! since they are announced each year.

use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default)]
pub struct WorkCalendar {
    /// Weekdays that are holidays.
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休上班).
    pub workdays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
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
