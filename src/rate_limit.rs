//! Per-webhook rate limits (deliveries per second, the seed's "rate limiting
//! per webhook"): how long a delivery must wait before it may be sent.
//!
//! One instance uses a token bucket in memory. With Redis, every instance
//! counts in the same one-second window (`INCR` on a key per webhook and
//! second), so a webhook limited to 10/s gets 10/s in all, not 10/s from each
//! instance. A fixed window may let up to twice the rate through across a
//! window boundary; receivers that need a smooth rate should set a lower one.
//! If Redis fails, the local bucket decides: a limit never stops deliveries.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fred::prelude::*;

#[derive(Default)]
pub struct RateLimits {
    local: Mutex<HashMap<String, (f64, Instant)>>,
    shared: OnceLock<Client>,
}

impl RateLimits {
    /// Counts in Redis from now on.
    pub(crate) fn share(&self, client: Client) {
        let _ = self.shared.set(client);
    }

    /// `None` when a delivery to `webhook_id` may go now; otherwise how long to wait.
    pub async fn take(&self, webhook_id: &str, per_second: u32, now_ms: i64) -> Option<Duration> {
        if let Some(client) = self.shared.get() {
            match take_shared(client, webhook_id, per_second, now_ms).await {
                Ok(wait) => return wait,
                Err(e) => tracing::debug!(error = %e, "shared rate limit unavailable; limiting in this process"),
            }
        }
        self.take_local(webhook_id, per_second)
    }

    fn take_local(&self, webhook_id: &str, per_second: u32) -> Option<Duration> {
        let rate = per_second.max(1) as f64;
        let now = Instant::now();
        let mut buckets = self.local.lock().expect("rate limit lock");
        let (tokens, last) = buckets.entry(webhook_id.to_string()).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// The Redis key counting `webhook_id`'s deliveries in the second `now_ms` falls in.
fn window_key(webhook_id: &str, now_ms: i64) -> String {
    format!("purple-cross:rate:{webhook_id}:{}", now_ms.div_euclid(1000))
}

/// How long until the next one-second window opens.
fn until_next_window(now_ms: i64) -> Duration {
    Duration::from_millis((1000 - now_ms.rem_euclid(1000)) as u64)
}

async fn take_shared(
    client: &Client,
    webhook_id: &str,
    per_second: u32,
    now_ms: i64,
) -> Result<Option<Duration>, Error> {
    let key = window_key(webhook_id, now_ms);
    let n: i64 = client.incr(&key).await?;
    if n == 1 {
        // The window's key outlives it briefly, then Redis forgets it.
        let _: () = client.pexpire(&key, 2_000, None).await?;
    }
    Ok((n > i64::from(per_second.max(1))).then(|| until_next_window(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_bucket_allows_the_rate_then_says_how_long_to_wait() {
        let limits = RateLimits::default();
        for _ in 0..3 {
            assert_eq!(limits.take_local("wh_a", 3), None);
        }
        let wait = limits.take_local("wh_a", 3).expect("the fourth in the same instant waits");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(334), "{wait:?}");
        assert_eq!(limits.take_local("wh_b", 3), None, "each webhook has its own bucket");
    }

    #[test]
    fn windows_are_whole_seconds() {
        assert_eq!(window_key("wh_a", 1_800_000_000_999), "purple-cross:rate:wh_a:1800000000");
        assert_eq!(window_key("wh_a", 1_800_000_001_000), "purple-cross:rate:wh_a:1800000001");
        assert_eq!(until_next_window(1_800_000_000_250), Duration::from_millis(750));
        assert_eq!(until_next_window(1_800_000_001_000), Duration::from_millis(1000));
    }
}
