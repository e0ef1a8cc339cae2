//! Any text as a schedule's cron expression, in a zone with summer time:
//! parsing never panics; the next runs move forward from the start; the tick a
//! claim serves is at or before the claim and is a tick.
#![no_main]

use domain::workflows::schedule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((from, expr)) = input.split_first_chunk::<6>() else { return };
    let Ok(expr) = std::str::from_utf8(expr) else { return };
    let Ok(cron) = schedule::parse(expr) else { return };
    // Any instant from 1970 to about 2248, at millisecond precision.
    let from = (u64::from_le_bytes([from[0], from[1], from[2], from[3], from[4], from[5], 0, 0]) % 8_800_000_000_000) as i64;
    let london = chrono_tz::Europe::London;
    let runs = schedule::next_runs(&cron, london, from, 5);
    assert!(runs.windows(2).all(|w| w[0] < w[1]), "{expr}: {runs:?}");
    assert!(runs.first().is_none_or(|first| *first > from), "{expr}: runs start after {from}");
    if let Some(tick) = schedule::latest_at_or_before(&cron, london, from) {
        assert!(tick <= from, "{expr}: served tick {tick} is after the claim at {from}");
        assert_eq!(schedule::next_after(&cron, london, tick - 1), Some(tick), "{expr}: {tick} is a tick");
    }
});
