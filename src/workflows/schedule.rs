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
    fn bad_expressions_are_refused() {
        assert!(parse("every monday").is_err());
        assert!(parse("").is_err());
        assert!(parse("61 * * * *").is_err());
    }
}
