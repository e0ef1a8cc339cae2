//! The practice's timezone as the browser needs it: its UTC offsets over a
//! window of years, taken from the tz database on the server. Server-rendered
//! and browser-rendered times then read the same ("2026-12-03 09:45 GMT")
//! without shipping the tz database to WASM.

use chrono::{DateTime, Datelike, Timelike};
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
}
