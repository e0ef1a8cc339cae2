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
    /// Attempts in flight at once, over all endpoints.
    pub concurrency: usize,
    /// Attempts in flight at once to one webhook, so a slow endpoint cannot take every slot.
    pub per_endpoint: usize,
    /// Due items claimed per query.
    pub claim_batch: i64,
    /// How long a claim is held; must exceed the request timeout.
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
        WorkerSettings { concurrency: 512, per_endpoint: 64, claim_batch: 256, lease_ms: 60_000, idle_poll_ms: 1_000 }
    }
}

/// An IANA timezone name (`Europe/London`), or why it is not one.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("{name:?} is not an IANA timezone such as Europe/London or UTC"))
}
