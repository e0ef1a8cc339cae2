//! Retry schedules: how long a failed delivery waits before its next attempt.
//!
//! Attempts are numbered from 1 (the first send). A policy allows
//! `max_attempts` in all, and the schedule gives the wait before each later
//! attempt, spread by jitter so that many deliveries failing together (a
//! receiver outage) do not all come back at the same instant.

use serde::{Deserialize, Serialize};

use crate::error::{Invalid, Validator};

/// Bounds a policy must respect, so a single webhook cannot make the worker
/// hammer a receiver or keep a delivery alive for months.
pub const MAX_ATTEMPTS_LIMIT: u32 = 50;
/// The shortest wait a schedule may ask for.
pub const MIN_DELAY_MS: u64 = 100;
/// The longest wait a schedule may ask for: 7 days.
pub const MAX_DELAY_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// A receiver's `Retry-After` is honoured, but never below this: a `0` or a
/// date in the past must not turn into a tight retry loop.
pub const MIN_RETRY_AFTER_MS: u64 = 1_000;
/// A receiver's `Retry-After` is honoured up to this (1 hour) or the
/// policy's own backoff, whichever is longer, so a misconfigured receiver
/// cannot park deliveries indefinitely.
pub const MAX_RETRY_AFTER_MS: u64 = 60 * 60 * 1000;

const DEFAULT_MAX_ATTEMPTS: u32 = 5;
const DEFAULT_BASE_MS: u64 = 5_000;
const DEFAULT_FACTOR: f64 = 2.0;
const DEFAULT_CAP_MS: u64 = 60 * 60 * 1000;
const DEFAULT_JITTER: f64 = 0.1;

/// How many times to try, and how long to wait in between.
///
/// JSON: `{"maxAttempts": 5, "schedule": {"type": "exponential", "baseMs": 5000,
/// "factor": 2.0, "capMs": 3600000}, "jitter": 0.2}`; every field is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first send included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default)]
    pub schedule: Schedule,
    /// How far each wait may stray from the schedule, as a fraction: 0.1
    /// means ±10 %.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

/// The waits between attempts, before jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    /// `base_ms`, then `base_ms * factor`, `base_ms * factor²`, … up to `cap_ms`.
    #[serde(rename_all = "camelCase")]
    Exponential {
        #[serde(default = "default_base_ms")]
        base_ms: u64,
        #[serde(default = "default_factor")]
        factor: f64,
        #[serde(default = "default_cap_ms")]
        cap_ms: u64,
    },
    /// Exactly these waits, in order; the last one repeats if there are more
    /// attempts than delays.
    #[serde(rename_all = "camelCase")]
    Fixed {
        // Defaulted so that a missing list is reported by `validate` with a
        // field name, rather than as a bare deserialisation error.
        #[serde(default)]
        delays_ms: Vec<u64>,
    },
}

fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}
fn default_jitter() -> f64 {
    DEFAULT_JITTER
}
fn default_base_ms() -> u64 {
    DEFAULT_BASE_MS
}
fn default_factor() -> f64 {
    DEFAULT_FACTOR
}
fn default_cap_ms() -> u64 {
    DEFAULT_CAP_MS
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Exponential { base_ms: DEFAULT_BASE_MS, factor: DEFAULT_FACTOR, cap_ms: DEFAULT_CAP_MS }
    }
}

impl Default for RetryPolicy {
    /// Five attempts, 5 s, 10 s, 20 s and 40 s apart, ±10 %.
    fn default() -> Self {
        RetryPolicy { max_attempts: DEFAULT_MAX_ATTEMPTS, schedule: Schedule::default(), jitter: DEFAULT_JITTER }
    }
}

impl RetryPolicy {
    /// Checks every bound, reporting all problems at once under
    /// `retryPolicy.*` field names.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut v = Validator::new();
        v.check(
            (1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts),
            "retryPolicy.maxAttempts",
            format!("must be between 1 and {MAX_ATTEMPTS_LIMIT}"),
        );
        match &self.schedule {
            Schedule::Exponential { base_ms, factor, cap_ms } => {
                v.check(
                    (MIN_DELAY_MS..=MAX_DELAY_MS).contains(base_ms),
                    "retryPolicy.schedule.baseMs",
                    format!("must be between {MIN_DELAY_MS} ms and 7 days"),
                );
                v.check((1.0..=10.0).contains(factor), "retryPolicy.schedule.factor", "must be between 1 and 10");
                v.check(
                    cap_ms >= base_ms && *cap_ms <= MAX_DELAY_MS,
                    "retryPolicy.schedule.capMs",
                    "must be at least baseMs and at most 7 days",
                );
            }
            Schedule::Fixed { delays_ms } => {
                v.check(!delays_ms.is_empty(), "retryPolicy.schedule.delaysMs", "must list at least one delay");
                // More delays than attempts could never be used.
                v.check(
                    delays_ms.len() <= MAX_ATTEMPTS_LIMIT as usize,
                    "retryPolicy.schedule.delaysMs",
                    format!("must list at most {MAX_ATTEMPTS_LIMIT} delays"),
                );
                for (i, delay) in delays_ms.iter().enumerate() {
                    v.check(
                        (MIN_DELAY_MS..=MAX_DELAY_MS).contains(delay),
                        &format!("retryPolicy.schedule.delaysMs[{i}]"),
                        format!("must be between {MIN_DELAY_MS} ms and 7 days"),
                    );
                }
            }
        }
        v.check((0.0..=1.0).contains(&self.jitter), "retryPolicy.jitter", "must be between 0 and 1");
        v.finish()
    }

    /// Milliseconds to wait before attempt number `next_attempt`, or `None`
    /// when the policy allows no such attempt. `unit_random` is a uniform
    /// sample from [0, 1), passed in so that callers (and tests) own the
    /// randomness. The first attempt is sent at once, so it waits 0.
    pub fn delay_before_attempt(&self, next_attempt: u32, unit_random: f64) -> Option<u64> {
        if next_attempt > self.max_attempts {
            return None;
        }
        let Some(retry_index) = next_attempt.checked_sub(2) else {
            return Some(0);
        };
        let scheduled = match &self.schedule {
            Schedule::Exponential { base_ms, factor, cap_ms } => {
                let exponent = i32::try_from(retry_index).unwrap_or(i32::MAX);
                // In f64 so huge exponents saturate to infinity and are then
                // capped, instead of overflowing an integer.
                (*base_ms as f64 * factor.powi(exponent)).min(*cap_ms as f64)
            }
            Schedule::Fixed { delays_ms } => {
                let delay = delays_ms
                    .get(retry_index as usize)
                    .or(delays_ms.last())
                    // Only an unvalidated policy has no delays; wait the
                    // default base rather than retrying immediately.
                    .copied()
                    .unwrap_or(DEFAULT_BASE_MS);
                delay as f64
            }
        };
        let jitter = self.jitter.clamp(0.0, 1.0);
        let unit = unit_random.clamp(0.0, 1.0);
        let spread = 1.0 - jitter + 2.0 * jitter * unit;
        // `as` saturates, and max(0) also turns NaN into 0.
        Some((scheduled * spread).max(0.0).round() as u64)
    }
}

/// The wait a `Retry-After` header asks for, in milliseconds: either whole
/// seconds or an HTTP-date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
/// A date already past means "now" (`Some(0)`); anything else is `None`.
/// The obsolete RFC 850 and asctime date forms are not accepted: senders
/// have been required to emit IMF-fixdate since RFC 7231.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits but too large for u64 still means "a very long time";
        // the caller clamps it.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(secs.saturating_mul(1000));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - now).num_milliseconds();
    Some(u64::try_from(ms).unwrap_or(0))
}

/// The wait to use when a receiver sent `Retry-After` (`requested_ms`) and the
/// policy would have waited `computed_ms`. The receiver knows its own load
/// best, so its request wins, within bounds: at least [`MIN_RETRY_AFTER_MS`],
/// and at most [`MAX_RETRY_AFTER_MS`], or `computed_ms` when that is longer,
/// since a receiver asking for a long pause should not get a shorter one
/// than our own schedule would have given it.
pub fn clamp_retry_after(requested_ms: u64, computed_ms: u64) -> u64 {
    let ceiling = MAX_RETRY_AFTER_MS.max(computed_ms);
    requested_ms.clamp(MIN_RETRY_AFTER_MS, ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn exponential(base_ms: u64, factor: f64, cap_ms: u64) -> Schedule {
        Schedule::Exponential { base_ms, factor, cap_ms }
    }

    fn no_jitter(max_attempts: u32, schedule: Schedule) -> RetryPolicy {
        RetryPolicy { max_attempts, schedule, jitter: 0.0 }
    }

    fn invalid_fields(p: &RetryPolicy) -> Vec<String> {
        match p.validate() {
            Ok(()) => vec![],
            Err(Invalid(errs)) => errs.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn the_default_is_the_seed_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.schedule, exponential(5_000, 2.0, 3_600_000));
        assert_eq!(p.jitter, 0.1);
        assert!(p.validate().is_ok());
        let p = RetryPolicy { jitter: 0.0, ..p };
        let waits: Vec<_> = (2..=5).map(|n| p.delay_before_attempt(n, 0.5)).collect();
        assert_eq!(waits, [Some(5_000), Some(10_000), Some(20_000), Some(40_000)]);
        assert_eq!(p.delay_before_attempt(6, 0.5), None);
    }

    #[test]
    fn json_shape_and_defaults() {
        let p: RetryPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, RetryPolicy::default());

        let p: RetryPolicy = serde_json::from_value(json!({
            "maxAttempts": 7,
            "schedule": {"type": "exponential", "baseMs": 1000, "factor": 3.0, "capMs": 60000},
            "jitter": 0.2
        }))
        .unwrap();
        assert_eq!(p.max_attempts, 7);
        assert_eq!(p.schedule, exponential(1_000, 3.0, 60_000));
        assert_eq!(p.jitter, 0.2);

        let p: RetryPolicy =
            serde_json::from_value(json!({"schedule": {"type": "fixed", "delaysMs": [1000, 60000]}})).unwrap();
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.schedule, Schedule::Fixed { delays_ms: vec![1_000, 60_000] });

        let p: RetryPolicy =
            serde_json::from_value(json!({"schedule": {"type": "exponential", "baseMs": 200}})).unwrap();
        assert_eq!(p.schedule, exponential(200, 2.0, 3_600_000));

        let back = serde_json::to_value(RetryPolicy::default()).unwrap();
        assert_eq!(
            back,
            json!({
                "maxAttempts": 5,
                "schedule": {"type": "exponential", "baseMs": 5000, "factor": 2.0, "capMs": 3600000},
                "jitter": 0.1
            })
        );
        assert!(serde_json::from_value::<RetryPolicy>(json!({"schedule": {"type": "linear"}})).is_err());
    }

    #[test]
    fn exponential_waits_grow_then_cap() {
        let p = no_jitter(10, exponential(1_000, 3.0, 20_000));
        let waits: Vec<_> = (2..=6).filter_map(|n| p.delay_before_attempt(n, 0.3)).collect();
        assert_eq!(waits, [1_000, 3_000, 9_000, 20_000, 20_000]);
        assert_eq!(p.delay_before_attempt(1, 0.3), Some(0), "the first send is immediate");
        assert_eq!(p.delay_before_attempt(11, 0.3), None);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let p = no_jitter(u32::MAX, exponential(5_000, 10.0, MAX_DELAY_MS));
        assert_eq!(p.delay_before_attempt(u32::MAX, 0.0), Some(MAX_DELAY_MS));
    }

    #[test]
    fn fixed_waits_repeat_the_last() {
        let p = no_jitter(6, Schedule::Fixed { delays_ms: vec![1_000, 60_000] });
        let waits: Vec<_> = (2..=6).filter_map(|n| p.delay_before_attempt(n, 0.9)).collect();
        assert_eq!(waits, [1_000, 60_000, 60_000, 60_000, 60_000]);
        assert_eq!(p.delay_before_attempt(7, 0.9), None);
    }

    #[test]
    fn jitter_spreads_both_ways() {
        let p = RetryPolicy { jitter: 0.2, ..no_jitter(5, exponential(10_000, 2.0, 3_600_000)) };
        assert_eq!(p.delay_before_attempt(2, 0.0), Some(8_000));
        assert_eq!(p.delay_before_attempt(2, 0.5), Some(10_000));
        assert_eq!(p.delay_before_attempt(2, 0.75), Some(11_000));
        assert!(p.delay_before_attempt(2, 0.999_999).unwrap() <= 12_000);

        let full = RetryPolicy { jitter: 1.0, ..p };
        assert_eq!(full.delay_before_attempt(2, 0.0), Some(0), "never negative");
        assert_eq!(full.delay_before_attempt(2, 0.5), Some(10_000));
    }

    #[test]
    fn valid_policies_pass() {
        assert!(no_jitter(1, exponential(100, 1.0, 100)).validate().is_ok());
        assert!(no_jitter(50, exponential(MAX_DELAY_MS, 10.0, MAX_DELAY_MS)).validate().is_ok());
        let fixed = RetryPolicy { jitter: 1.0, ..no_jitter(3, Schedule::Fixed { delays_ms: vec![100, MAX_DELAY_MS] }) };
        assert!(fixed.validate().is_ok());
    }

    #[test]
    fn every_bound_is_reported_by_field() {
        let p = RetryPolicy { max_attempts: 0, schedule: exponential(99, 0.5, 50), jitter: 1.5 };
        assert_eq!(
            invalid_fields(&p),
            [
                "retryPolicy.maxAttempts",
                "retryPolicy.schedule.baseMs",
                "retryPolicy.schedule.factor",
                "retryPolicy.schedule.capMs",
                "retryPolicy.jitter",
            ]
        );
        assert_eq!(
            invalid_fields(&no_jitter(51, exponential(1_000, 10.1, MAX_DELAY_MS + 1))),
            ["retryPolicy.maxAttempts", "retryPolicy.schedule.factor", "retryPolicy.schedule.capMs",]
        );
        assert_eq!(invalid_fields(&RetryPolicy { jitter: -0.1, ..RetryPolicy::default() }), ["retryPolicy.jitter"]);
    }

    #[test]
    fn fixed_delays_are_checked_one_by_one() {
        let empty = no_jitter(3, Schedule::Fixed { delays_ms: vec![] });
        assert_eq!(invalid_fields(&empty), ["retryPolicy.schedule.delaysMs"]);
        let bad = no_jitter(3, Schedule::Fixed { delays_ms: vec![1_000, 99, MAX_DELAY_MS + 1] });
        assert_eq!(invalid_fields(&bad), ["retryPolicy.schedule.delaysMs[1]", "retryPolicy.schedule.delaysMs[2]"]);
        let too_many = no_jitter(3, Schedule::Fixed { delays_ms: vec![1_000; 51] });
        assert_eq!(invalid_fields(&too_many), ["retryPolicy.schedule.delaysMs"]);
        let missing: RetryPolicy = serde_json::from_value(json!({"schedule": {"type": "fixed"}})).unwrap();
        assert_eq!(invalid_fields(&missing), ["retryPolicy.schedule.delaysMs"]);
    }

    #[test]
    fn retry_after_seconds() {
        let now = chrono::Utc::now();
        assert_eq!(parse_retry_after("120", now), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(u64::MAX));
    }

    #[test]
    fn retry_after_dates() {
        let now = chrono::Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(30_000));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 08:28:00 GMT", now), Some(3_600_000));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(0), "a past date means now");
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        let now = chrono::Utc::now();
        for bad in ["", "  ", "soon", "-5", "1.5", "+30", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_is_clamped() {
        assert_eq!(clamp_retry_after(30_000, 5_000), 30_000);
        assert_eq!(clamp_retry_after(30_000, 60_000), 30_000, "the receiver may ask for less");
        assert_eq!(clamp_retry_after(0, 5_000), MIN_RETRY_AFTER_MS);
        assert_eq!(clamp_retry_after(u64::MAX, 5_000), MAX_RETRY_AFTER_MS);
        assert_eq!(
            clamp_retry_after(u64::MAX, 3 * MAX_RETRY_AFTER_MS),
            3 * MAX_RETRY_AFTER_MS,
            "a long own backoff raises the ceiling"
        );
    }
}
