//! Cron schedules in an IANA timezone (croner, chrono-tz): DST-correct, and a
//! tick missed while the service was down runs once, not once per tick.

use chrono::TimeZone;
use croner::Cron;

/// Parses a cron expression (5 fields, or 6 with seconds).
pub fn parse(expr: &str) -> Result<Cron, String> {
    let expr = expr.trim();
    if expr.is_empty() || expr.len() > 100 {
        return Err("must be a cron expression such as \"0 8 * * MON\"".into());
    }
    // croner takes an empty list item (", * * * *") as a field that matches
    // nothing, and then searches thousands of years for a tick (40 s of CPU,
    // found by the `cron` fuzz target): refuse it before it gets there.
    if expr.split_whitespace().any(|field| field.split(',').any(str::is_empty)) {
        return Err("has an empty item in a list (a stray comma, as in \"1,,2\")".into());
    }
    let cron =
        Cron::new(expr).with_seconds_optional().parse().map_err(|e| format!("is not a cron expression ({e})"))?;
    // A field that matches nothing ("L" as the minute) sends croner on the same
    // long search: each time field must match at least one value.
    let p = &cron.pattern;
    let matches_one = (0..=59).any(|v| p.second_match(v).unwrap_or(false))
        && (0..=59).any(|v| p.minute_match(v).unwrap_or(false))
        && (0..=23).any(|v| p.hour_match(v).unwrap_or(false))
        && (1..=12).any(|v| p.month_match(v).unwrap_or(false));
    if !matches_one {
        return Err("never runs: one of its fields matches no value".into());
    }
    // No year field: a schedule that matches once matches every few years, so
    // one that has no tick after 2000 never runs (the 30th of February).
    let y2k = chrono::Utc.timestamp_opt(946_684_800, 0).single().expect("a valid instant");
    if cron.find_next_occurrence(&y2k, false).is_err() {
        return Err("never runs: no date matches it (such as the 30th of February)".into());
    }
    Ok(cron)
}

/// The first tick strictly after `after_ms`, in `tz`.
pub fn next_after(cron: &Cron, tz: chrono_tz::Tz, after_ms: i64) -> Option<i64> {
    let t = tz.timestamp_millis_opt(after_ms).single()?;
    cron.find_next_occurrence(&t, false).ok().map(|n| n.timestamp_millis())
}

/// The next `n` ticks after `from_ms`.
pub fn next_runs(cron: &Cron, tz: chrono_tz::Tz, from_ms: i64, n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    let mut t = from_ms;
    while out.len() < n {
        match next_after(cron, tz, t) {
            Some(next) => {
                out.push(next);
                t = next;
            }
            None => break,
        }
    }
    out
}

/// When a schedule runs next once it ran (late, perhaps) at `now`: the first
/// tick after now, so ticks missed during downtime are not run one by one.
pub fn following(cron: &Cron, tz: chrono_tz::Tz, now: i64) -> Option<i64> {
    next_after(cron, tz, now)
}

/// The tick a claim at `now` serves: the latest one at or before `now` (after
/// downtime, the latest of those missed), so a run says which tick it is for
/// rather than when an instance got to it. `None` when there was none in 400 days.
pub fn latest_at_or_before(cron: &Cron, tz: chrono_tz::Tz, now: i64) -> Option<i64> {
    // The first of the widening windows that holds a tick, then a bisection in
    // it: "the next tick after s is at or before now" holds at the window's
    // start and not at now, and is monotone in s. About 35 lookups at most,
    // whatever the spacing of ticks (one every 2 s on the 2nd of each month
    // walked tick by tick would take a million; found by the cron fuzz target).
    const WINDOWS_MS: [i64; 5] = [1_000, 60_000, 3_600_000, 86_400_000, 400 * 86_400_000];
    for window in WINDOWS_MS {
        let start = now - window - 1;
        if next_after(cron, tz, start)? > now {
            continue;
        }
        let (mut lo, mut hi) = (start, now);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if next_after(cron, tz, mid).is_some_and(|t| t <= now) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return next_after(cron, tz, lo);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn iso(ms: i64) -> String {
        crate::clock::rfc3339(ms)
    }

    #[test]
    fn monday_eight_in_london_follows_the_clock_change() {
        let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
        let cron = parse("0 8 * * MON").unwrap();
        // Summer time ends on Sunday 2026-10-25: 08:00 BST is 07:00 UTC, then 08:00 GMT is 08:00 UTC.
        let runs = next_runs(&cron, london, utc("2026-10-15T00:00:00Z"), 3);
        assert_eq!(
            runs.into_iter().map(iso).collect::<Vec<_>>(),
            ["2026-10-19T07:00:00.000Z", "2026-10-26T08:00:00.000Z", "2026-11-02T08:00:00.000Z"]
        );
        // Summer time starts on Sunday 2026-03-29.
        let runs = next_runs(&cron, london, utc("2026-03-20T00:00:00Z"), 2);
        assert_eq!(
            runs.into_iter().map(iso).collect::<Vec<_>>(),
            ["2026-03-23T08:00:00.000Z", "2026-03-30T07:00:00.000Z"]
        );
    }

    #[test]
    fn a_daily_tick_inside_the_spring_gap_still_runs_once() {
        let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
        // 01:30 does not exist on 2026-03-29 in London.
        let cron = parse("30 1 * * *").unwrap();
        let runs = next_runs(&cron, london, utc("2026-03-28T12:00:00Z"), 3);
        assert_eq!(runs.len(), 3);
        assert!(runs.windows(2).all(|w| w[1] > w[0]));
        // The clocks jump from 01:00 GMT to 02:00 BST: that day's tick runs as the gap ends.
        assert_eq!(
            runs.into_iter().map(iso).collect::<Vec<_>>(),
            ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z", "2026-03-31T00:30:00.000Z"]
        );
    }

    #[test]
    fn missed_ticks_run_once() {
        let cron = parse("*/5 * * * *").unwrap();
        let down_until = utc("2026-01-01T10:17:00Z");
        // Due at 10:00, claimed at 10:17 after downtime: the next one is 10:20, not 10:05.
        assert_eq!(iso(following(&cron, chrono_tz::UTC, down_until).unwrap()), "2026-01-01T10:20:00.000Z");
    }

    #[test]
    fn a_claim_serves_the_latest_tick_at_or_before_it() {
        let every_five_seconds = parse("*/5 * * * * *").unwrap();
        let at = |cron: &Cron, now: &str| latest_at_or_before(cron, chrono_tz::UTC, utc(now)).map(iso);
        assert_eq!(at(&every_five_seconds, "2026-01-01T10:00:07.250Z").unwrap(), "2026-01-01T10:00:05.000Z");
        assert_eq!(at(&every_five_seconds, "2026-01-01T10:00:05.000Z").unwrap(), "2026-01-01T10:00:05.000Z");
        let daily = parse("0 8 * * *").unwrap();
        assert_eq!(at(&daily, "2026-01-02T10:00:00Z").unwrap(), "2026-01-02T08:00:00.000Z");
        assert_eq!(at(&daily, "2026-01-02T07:59:59Z").unwrap(), "2026-01-01T08:00:00.000Z");
        // After three days down, the latest missed tick.
        let hourly = parse("30 * * * *").unwrap();
        assert_eq!(at(&hourly, "2026-01-04T12:10:00Z").unwrap(), "2026-01-04T11:30:00.000Z");
        let yearly = parse("0 0 1 1 *").unwrap();
        assert_eq!(at(&yearly, "2026-11-30T00:00:00Z").unwrap(), "2026-01-01T00:00:00.000Z");
        // Dense ticks on sparse days: every 2 s on the 2nd of the month, asked on the 20th.
        let bursts = parse("*/2 * * 2 * *").unwrap();
        assert_eq!(at(&bursts, "2026-01-20T12:00:00Z").unwrap(), "2026-01-02T23:59:58.000Z");
        // In London's spring gap the 01:30 tick runs at 01:00 UTC; that is the tick served.
        let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
        let gap = parse("30 1 * * *").unwrap();
        assert_eq!(
            iso(latest_at_or_before(&gap, london, utc("2026-03-29T01:00:00.400Z")).unwrap()),
            "2026-03-29T01:00:00.000Z"
        );
    }

    #[test]
    fn bad_expressions_are_refused() {
        assert!(parse(", * * * *").unwrap_err().contains("empty item"));
        assert!(parse("1,,2 * * * *").unwrap_err().contains("empty item"));
        assert!(parse("0 0 30 2 *").unwrap_err().contains("never runs"));
        assert!(parse("*/2 L 2 * * *").unwrap_err().contains("never runs"), "found by the cron fuzz target");
        assert!(parse("0 0 29 2 *").is_ok(), "leap days come round");
        assert!(parse("every monday").is_err());
        assert!(parse("").is_err());
        assert!(parse("61 * * * *").is_err());
    }
}
