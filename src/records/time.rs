//! Times in records and workflow configs, read in the practice's timezone.

/// An RFC 3339 time, or a date (midnight of it in the practice's timezone), in ms.
pub fn parse_time(s: &str, tz: chrono_tz::Tz) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    start_of_day(date, tz)
}

/// The first instant of `date` in `tz` (a day that starts in a DST gap starts when the gap ends).
pub fn start_of_day(date: chrono::NaiveDate, tz: chrono_tz::Tz) -> Option<i64> {
    use chrono::TimeZone;
    let midnight = date.and_hms_opt(0, 0, 0)?;
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => Some(t.timestamp_millis()),
        chrono::LocalResult::None => {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1))).earliest().map(|t| t.timestamp_millis())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_in_the_practice_timezone() {
        let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
        // Summer time: midnight in London is 23:00 UTC the day before.
        assert_eq!(parse_time("2026-07-01", london), Some(1_782_860_400_000));
        assert_eq!(parse_time("2026-01-01", london), Some(1_767_225_600_000));
        assert_eq!(parse_time("2026-01-01T10:00:00Z", london), Some(1_767_261_600_000));
        assert_eq!(parse_time("soon", london), None);
    }
}
