//! China Standard Time (UTC+8 all year, no daylight saving): the one place both sides turn an
//! instant into the calendar day people mean — "today", a deadline, a statistics period.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// UTC+8.
pub fn offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The calendar day in China of an instant.
pub fn date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&offset()).date_naive()
}

/// Today in China.
pub fn today() -> NaiveDate {
    date(Utc::now())
}

/// The instant a China calendar day begins.
pub fn midnight(d: NaiveDate) -> DateTime<Utc> {
    offset().from_local_datetime(&d.and_time(chrono::NaiveTime::MIN)).single().expect("a fixed offset has one midnight").with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_china_day_starts_at_16_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(midnight(d).to_rfc3339(), "2026-12-06T16:00:00+00:00");
        assert_eq!(date(midnight(d)), d);
        assert_eq!(date(midnight(d) - chrono::Duration::seconds(1)), d.pred_opt().unwrap());
    }
}
