//! The practice's timezone as the browser needs it: its UTC offsets over a
//! window of years, taken from the tz database on the server. Server-rendered
//! and browser-rendered times then read the same ("2026-12-03 09:45 GMT")
//! without shipping the tz database to WASM.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

/// One stretch of time with a single offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// When this offset starts, in ms since the epoch (UTC).
    pub from: i64,
    /// Seconds east of UTC.
    pub offset: i32,
    /// What the zone calls itself then ("GMT", "BST", "+03").
    pub abbr: String,
}

/// A named zone and its offsets, oldest first. Times before the first span
/// use the first span's offset; after the last, the last's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub name: String,
    pub spans: Vec<Span>,
}

impl Default for Zone {
    fn default() -> Self {
        Zone::utc()
    }
}

impl Zone {
    pub fn utc() -> Zone {
        Zone { name: "UTC".into(), spans: vec![Span { from: i64::MIN, offset: 0, abbr: "UTC".into() }] }
    }

    fn span_at(&self, ms: i64) -> Option<&Span> {
        let after = self.spans.partition_point(|s| s.from <= ms);
        self.spans.get(after.saturating_sub(1))
    }

    /// The offset and abbreviation in force at `ms`.
    pub fn at(&self, ms: i64) -> (i32, &str) {
        self.span_at(ms).map(|s| (s.offset, s.abbr.as_str())).unwrap_or((0, "UTC"))
    }

    /// An RFC 3339 time as the practice reads it: `2026-12-03 09:45:12 GMT`
    /// (with `seconds`) or `2026-12-03 09:45 GMT`. Text that is not a time
    /// comes back as it was.
    pub fn format(&self, rfc3339: &str, seconds: bool) -> String {
        let Ok(t) = DateTime::parse_from_rfc3339(rfc3339.trim()) else {
            return rfc3339.to_string();
        };
        self.format_ms(t.timestamp_millis(), seconds)
    }

    pub fn format_ms(&self, ms: i64, seconds: bool) -> String {
        let (offset, abbr) = self.at(ms);
        let Some(local) = DateTime::from_timestamp_millis(ms + i64::from(offset) * 1000).map(|t| t.naive_utc()) else {
            return ms.to_string();
        };
        let mut s = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute()
        );
        if seconds {
            s.push_str(&format!(":{:02}", local.second()));
        }
        s.push(' ');
        s.push_str(abbr);
        s
    }

    /// The local date (`2026-12-03`) of an instant, for grouping by day.
    pub fn local_date(&self, ms: i64) -> String {
        let (offset, _) = self.at(ms);
        DateTime::from_timestamp_millis(ms + i64::from(offset) * 1000)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }

    /// A wall-clock time typed in the practice's zone (`2026-12-03T09:45`, as
    /// a `datetime-local` input gives it) as an RFC 3339 UTC instant. In a
    /// gap (clocks going forward) the earlier offset applies; in an overlap,
    /// the first of the two instants.
    pub fn local_to_utc(&self, local: &str) -> Option<String> {
        let local = local.trim();
        let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
            .ok()?;
        let wall = naive.and_utc().timestamp_millis();
        // Try each offset the zone uses near this time; keep the earliest
        // instant whose own offset agrees.
        let guess = self.at(wall).0;
        let mut candidates: Vec<i64> = [guess, self.at(wall - 86_400_000).0, self.at(wall + 86_400_000).0]
            .iter()
            .map(|o| wall - i64::from(*o) * 1000)
            .filter(|ms| wall - i64::from(self.at(*ms).0) * 1000 == *ms)
            .collect();
        candidates.sort_unstable();
        // In a gap no instant fits: the offset in force before the change applies.
        let before = self.at(wall - i64::from(guess) * 1000).0;
        let ms = candidates.first().copied().unwrap_or(wall - i64::from(before) * 1000);
        DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    }

    /// An RFC 3339 instant as a `datetime-local` value in the practice's zone.
    pub fn utc_to_local_input(&self, rfc3339: &str) -> Option<String> {
        let ms = DateTime::parse_from_rfc3339(rfc3339.trim()).ok()?.timestamp_millis();
        let (offset, _) = self.at(ms);
        DateTime::from_timestamp_millis(ms + i64::from(offset) * 1000).map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// London around the change of 2026-10-25 01:00 UTC (BST → GMT) and of
    /// 2027-03-28 01:00 UTC (GMT → BST).
    fn london() -> Zone {
        let ms = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        Zone {
            name: "Europe/London".into(),
            spans: vec![
                Span { from: ms("2026-03-29T01:00:00Z"), offset: 3600, abbr: "BST".into() },
                Span { from: ms("2026-10-25T01:00:00Z"), offset: 0, abbr: "GMT".into() },
                Span { from: ms("2027-03-28T01:00:00Z"), offset: 3600, abbr: "BST".into() },
            ],
        }
    }

    #[test]
    fn formats_in_the_offset_of_the_moment() {
        let z = london();
        assert_eq!(z.format("2026-07-01T12:00:00Z", false), "2026-07-01 13:00 BST");
        assert_eq!(z.format("2026-12-03T09:45:12.345Z", true), "2026-12-03 09:45:12 GMT");
        assert_eq!(z.format("2026-10-25T00:59:59Z", true), "2026-10-25 01:59:59 BST");
        assert_eq!(z.format("2026-10-25T01:00:00Z", true), "2026-10-25 01:00:00 GMT");
        assert_eq!(z.format("not a time", false), "not a time");
        assert_eq!(Zone::utc().format("2026-12-03T09:45:00+01:00", false), "2026-12-03 08:45 UTC");
    }

    #[test]
    fn before_the_window_uses_the_first_offset() {
        assert_eq!(london().format("2020-01-01T00:00:00Z", false), "2020-01-01 01:00 BST");
    }

    #[test]
    fn typed_local_times_become_utc_across_changes() {
        let z = london();
        assert_eq!(z.local_to_utc("2026-07-01T13:00").as_deref(), Some("2026-07-01T12:00:00.000Z"));
        assert_eq!(z.local_to_utc("2026-12-03T09:45").as_deref(), Some("2026-12-03T09:45:00.000Z"));
        // 01:30 happens twice on 2026-10-25: the first (BST) is meant.
        assert_eq!(z.local_to_utc("2026-10-25T01:30").as_deref(), Some("2026-10-25T00:30:00.000Z"));
        // 01:30 does not happen on 2027-03-28; read with the offset before.
        assert_eq!(z.local_to_utc("2027-03-28T01:30").as_deref(), Some("2027-03-28T01:30:00.000Z"));
        assert_eq!(z.local_to_utc("yesterday"), None);
        assert_eq!(z.utc_to_local_input("2026-07-01T12:00:00Z").as_deref(), Some("2026-07-01T13:00"));
    }

    #[test]
    fn local_dates_follow_the_zone() {
        let z = london();
        let ms = DateTime::parse_from_rfc3339("2026-07-01T23:30:00Z").unwrap().timestamp_millis();
        assert_eq!(z.local_date(ms), "2026-07-02");
    }
}
