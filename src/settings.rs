//! Operator settings the domain obeys (the server fills them from the CLI).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest accepted event `data`, in bytes (413 beyond).
    pub max_payload_bytes: usize,
    /// Largest receiver response body kept per attempt.
    pub max_response_bytes: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// A webhook failing without a single success for this long is disabled.
    pub auto_disable_after_ms: i64,
    /// How long a rotated-out secret keeps signing alongside the new one.
    pub secret_overlap_ms: i64,
    /// Idempotency keys are honoured for this long.
    pub idempotency_window_ms: i64,
    /// Deliveries and attempts older than this are deleted by the retention job.
    pub retention_days: i64,
    /// A due-work row claimed this many times without a clean finish is marked dead.
    pub due_max_attempts: i64,
    /// The practice's timezone: dates (an invoice's due date) are its days.
    pub timezone: chrono_tz::Tz,
    /// A record change caused by a chain of this many workflow runs is refused.
    pub max_cause_depth: usize,
    /// Where workflow emails go (`smtp://host:port`); none keeps them in the outbox.
    pub smtp_url: Option<String>,
    pub worker: WorkerSettings,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Deliveries this worker holds at once, over all endpoints: from the hot
    /// path's reservation or the claim until the outcome is committed. Each
    /// busy endpoint may hold twice `per_endpoint` of them.
    pub concurrency: usize,
    /// Requests in flight at once to one webhook, so a slow endpoint cannot take every slot.
    pub per_endpoint: usize,
    /// Due items claimed per query.
    pub claim_batch: i64,
    /// How long a claim is held; must exceed twice the request timeout (an
    /// attempt may wait for one round of its endpoint's requests, then make its own).
    pub lease_ms: i64,
    /// The longest an idle worker sleeps before looking again.
    pub idle_poll_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_payload_bytes: 256 * 1024,
            max_response_bytes: 64 * 1024,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            auto_disable_after_ms: 5 * 24 * 60 * 60 * 1000,
            secret_overlap_ms: 24 * 60 * 60 * 1000,
            idempotency_window_ms: 24 * 60 * 60 * 1000,
            retention_days: 30,
            due_max_attempts: 10,
            timezone: chrono_tz::Tz::UTC,
            max_cause_depth: 5,
            smtp_url: None,
            worker: WorkerSettings::default(),
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings { concurrency: 2048, per_endpoint: 64, claim_batch: 256, lease_ms: 60_000, idle_poll_ms: 1_000 }
    }
}

/// An IANA timezone name (`Europe/London`), or why it is not one.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("{name:?} is not an IANA timezone such as Europe/London or UTC"))
}

/// The practice's zone as the browser reads it ([`wire::zone::Zone`]): its
/// offsets from ten years before `now_ms` to five after. Changes are found by
/// sampling every hour (no zone changes twice within one) and then pinned to
/// the second.
pub fn zone_table(tz: chrono_tz::Tz, now_ms: i64) -> wire::zone::Zone {
    use chrono::{Offset, TimeZone};
    use chrono_tz::OffsetName;
    const HOUR: i64 = 3_600_000;
    let at = |ms: i64| {
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().naive_utc();
        let o = tz.offset_from_utc_datetime(&t);
        let secs = o.fix().local_minus_utc();
        let abbr = o.abbreviation().map(str::to_string).unwrap_or_else(|| o.fix().to_string());
        (secs, abbr)
    };
    let start = now_ms - 10 * 366 * 24 * HOUR;
    let end = now_ms + 5 * 366 * 24 * HOUR;
    let first = at(start);
    let mut spans = vec![wire::zone::Span { from: start, offset: first.0, abbr: first.1 }];
    let mut t = start;
    while t < end {
        let next = at(t + HOUR);
        let last = spans.last().expect("spans start with one");
        if (next.0, next.1.as_str()) != (last.offset, last.abbr.as_str()) {
            // The change lies in (t, t + HOUR]: find its first second.
            let (mut lo, mut hi) = (t, t + HOUR);
            while hi - lo > 1000 {
                let mid = lo + (hi - lo) / 2;
                if at(mid) == next {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            spans.push(wire::zone::Span { from: hi - hi.rem_euclid(1000), offset: next.0, abbr: next.1 });
        }
        t += HOUR;
    }
    spans[0].from = i64::MIN;
    wire::zone::Zone { name: tz.name().to_string(), spans }
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    #[test]
    fn london_changes_at_one_in_the_morning_utc() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-03T09:00:00Z").unwrap().timestamp_millis();
        let z = zone_table(parse_timezone("Europe/London").unwrap(), now);
        assert_eq!(z.name, "Europe/London");
        assert_eq!(z.format("2026-10-25T00:59:59Z", true), "2026-10-25 01:59:59 BST");
        assert_eq!(z.format("2026-10-25T01:00:00Z", true), "2026-10-25 01:00:00 GMT");
        assert_eq!(z.format("2027-07-01T12:00:00Z", false), "2027-07-01 13:00 BST");
        // Two changes a year, over fifteen years.
        assert!((28..=32).contains(&z.spans.len()), "{}", z.spans.len());
    }

    #[test]
    fn a_zone_without_changes_is_one_span() {
        let z = zone_table(chrono_tz::Tz::UTC, 0);
        assert_eq!(z.spans.len(), 1);
        assert_eq!(z.format("2026-12-03T09:45:00Z", false), "2026-12-03 09:45 UTC");
        let kolkata = zone_table(parse_timezone("Asia/Kolkata").unwrap(), 1_800_000_000_000);
        assert_eq!(kolkata.format("2026-12-03T09:45:00Z", false), "2026-12-03 15:15 IST");
    }
}

/// The practice's date at an instant.
pub fn local_date(tz: chrono_tz::Tz, ms: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&tz).date_naive()
}

/// The practice's last `days` days up to today (oldest first, as `YYYY-MM-DD`)
/// and the instant the first of them began: charts count by these days.
pub fn last_days(tz: chrono_tz::Tz, now_ms: i64, days: i64) -> (Vec<String>, i64) {
    let today = local_date(tz, now_ms);
    let first = today - chrono::Days::new(days.max(1) as u64 - 1);
    let since = crate::records::time::start_of_day(first, tz).unwrap_or(now_ms);
    let names = first.iter_days().take(days.max(1) as usize).map(|d| d.format("%Y-%m-%d").to_string()).collect();
    (names, since)
}

#[cfg(test)]
mod day_tests {
    use super::*;

    #[test]
    fn the_last_days_are_the_practices() {
        // 2026-03-02T13:00Z is 00:00 on 3 March in Sydney (UTC+11).
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T13:00:00Z").unwrap().timestamp_millis();
        let sydney = parse_timezone("Australia/Sydney").unwrap();
        let (days, since) = last_days(sydney, now, 2);
        assert_eq!(days, ["2026-03-02", "2026-03-03"]);
        assert_eq!(crate::clock::rfc3339(since), "2026-03-01T13:00:00.000Z");
        let (days, _) = last_days(chrono_tz::Tz::UTC, now, 1);
        assert_eq!(days, ["2026-03-02"]);
    }
}
