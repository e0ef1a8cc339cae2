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
    Cron::new(expr).with_seconds_optional().parse().map_err(|e| format!("is not a cron expression ({e})"))
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
    // Widening windows keep the walk short for any spacing of ticks: one a
    // second is found in the first window, one a year in the last.
    const WINDOWS_MS: [i64; 5] = [1_000, 60_000, 3_600_000, 86_400_000, 400 * 86_400_000];
    for window in WINDOWS_MS {
        let mut tick = next_after(cron, tz, now - window - 1)?;
        if tick > now {
            continue;
        }
        while let Some(next) = next_after(cron, tz, tick).filter(|n| *n <= now) {
            tick = next;
        }
        return Some(tick);
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
        assert!(parse("every monday").is_err());
        assert!(parse("").is_err());
        assert!(parse("61 * * * *").is_err());
    }
}
