//! A retry policy as the API takes it (JSON): a policy that validates never
//! panics when asked for any attempt's wait, and never waits longer than its
//! cap (plus jitter) or past its last attempt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::retry::RetryPolicy;

fuzz_target!(|input: &[u8]| {
    let (policy, unit) = match input.split_last() {
        Some((last, rest)) => (rest, *last as f64 / 255.0),
        None => return,
    };
    let Ok(policy) = serde_json::from_slice::<RetryPolicy>(policy) else { return };
    if policy.validate().is_err() {
        return;
    }
    for attempt in 0..=policy.max_attempts.saturating_add(2).min(1_000) {
        if let Some(wait) = policy.delay_before_attempt(attempt, unit) {
            assert!(attempt <= policy.max_attempts, "no wait after the last attempt");
            // Seven days at most, doubled at most by jitter.
            assert!(wait <= 14 * 86_400_000, "a wait of {wait} ms is past any schedule the API accepts");
        }
    }
});
