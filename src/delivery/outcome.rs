//! What an attempt's result means for its delivery: pure rules, no I/O.

use crate::retry::{clamp_retry_after, RetryPolicy};

use super::sender::AttemptResult;

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Succeeded,
    /// Try again at this time (ms).
    Retry {
        at: i64,
    },
    /// Give up. `disable` names why the webhook itself must stop (410 Gone).
    Failed {
        disable: Option<&'static str>,
    },
}

/// Decides after attempt number `attempt` (1-based).
pub fn decide(result: &AttemptResult, attempt: u32, policy: &RetryPolicy, now: i64, unit_random: f64) -> Decision {
    if result.succeeded() {
        return Decision::Succeeded;
    }
    if result.status_code == Some(410) {
        return Decision::Failed { disable: Some("gone") };
    }
    match policy.delay_before_attempt(attempt + 1, unit_random) {
        None => Decision::Failed { disable: None },
        Some(backoff) => {
            let delay = match result.retry_after_ms {
                Some(requested) => clamp_retry_after(requested, backoff),
                None => backoff,
            };
            Decision::Retry { at: now + delay as i64 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(status: Option<u16>, retry_after_ms: Option<u64>) -> AttemptResult {
        AttemptResult {
            started_at: 0,
            duration_ms: 5,
            status_code: status,
            response_body: None,
            response_body_lossy: false,
            error_class: None,
            error_message: None,
            request_headers: json!({}),
            retry_after_ms,
        }
    }

    fn no_jitter() -> RetryPolicy {
        RetryPolicy { jitter: 0.0, ..RetryPolicy::default() }
    }

    #[test]
    fn success_on_any_2xx() {
        for s in [200, 201, 204, 299] {
            assert_eq!(decide(&result(Some(s), None), 1, &no_jitter(), 0, 0.5), Decision::Succeeded);
        }
    }

    #[test]
    fn failures_follow_the_backoff_then_give_up() {
        let p = no_jitter();
        // The seed's schedule: 5 s, 10 s, 20 s, 40 s between the five attempts.
        let mut expected = vec![5_000, 10_000, 20_000, 40_000].into_iter();
        for attempt in 1..p.max_attempts {
            for r in [result(Some(500), None), result(None, None), result(Some(302), None), result(Some(404), None)] {
                let want = expected.clone().next().unwrap();
                assert_eq!(decide(&r, attempt, &p, 1_000, 0.5), Decision::Retry { at: 1_000 + want });
            }
            expected.next();
        }
        assert_eq!(decide(&result(Some(500), None), p.max_attempts, &p, 0, 0.5), Decision::Failed { disable: None });
    }

    #[test]
    fn gone_disables_the_webhook() {
        assert_eq!(
            decide(&result(Some(410), None), 1, &no_jitter(), 0, 0.5),
            Decision::Failed { disable: Some("gone") }
        );
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let p = no_jitter();
        let at = |ra| match decide(&result(Some(429), Some(ra)), 1, &p, 0, 0.5) {
            Decision::Retry { at } => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(at(30_000), 30_000);
        assert!(at(10) >= 1_000, "a tiny Retry-After is raised to the floor");
        assert!(at(u64::MAX / 2) <= 3_600_000, "a huge Retry-After is capped");
    }
}
