//! One attempt of one delivery: look the webhook up (prepared, cached),
//! honour its rate limit, sign and send, and decide what follows.

use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;

use super::outcome::{decide, Decision};
use super::sender::{AttemptRequest, AttemptResult};
use crate::due::Lease;
use crate::webhooks::cache::PreparedWebhook;
use crate::Services;

/// A delivery to attempt now, its slot already reserved.
#[derive(Debug, Clone)]
pub struct Job {
    pub lease: Lease,
    pub id: String,
    /// Attempts made before this one.
    pub attempts_made: i64,
    pub webhook_id: String,
    pub payload: Bytes,
    /// Still waiting to be delivered (a manual retry or a stale lease may have finished it).
    pub pending: bool,
}

/// What the worker learned about one delivery; each names the lease its
/// outcome is fenced by.
#[derive(Debug, Clone)]
pub enum Completion {
    Attempted {
        lease: Lease,
        delivery_id: String,
        webhook_id: String,
        attempt: i64,
        result: Box<AttemptResult>,
        decision: Decision,
        webhook_name: String,
    },
    /// Not sent: the webhook was deleted or deactivated (`reason` says so),
    /// or the delivery was already finished (`reason` empty).
    Skipped { lease: Lease, delivery_id: String, reason: String },
    /// The webhook's rate limit is used up: try again at `at`, no attempt made.
    Deferred { lease: Lease, delivery_id: String, at: i64 },
}

impl Completion {
    pub fn lease(&self) -> &Lease {
        match self {
            Completion::Attempted { lease, .. }
            | Completion::Skipped { lease, .. }
            | Completion::Deferred { lease, .. } => lease,
        }
    }
}

/// The request an attempt sends for `webhook` at `now`.
pub fn request<'a>(
    delivery_id: &'a str,
    body: Bytes,
    webhook: &'a PreparedWebhook,
    now: i64,
) -> Result<AttemptRequest<'a>, String> {
    Ok(AttemptRequest {
        delivery_id,
        url: &webhook.row.url,
        body,
        keys: webhook.keys_at(now)?,
        headers: &webhook.headers,
    })
}

/// Sends the request, or reports why it could not be signed.
pub async fn send(services: &Services, delivery_id: &str, body: Bytes, w: &PreparedWebhook, now: i64) -> AttemptResult {
    match request(delivery_id, body, w, now) {
        Ok(req) => services.sender.send(&req, now).await,
        Err(e) => AttemptResult {
            started_at: now,
            duration_ms: 0,
            status_code: None,
            response_body: None,
            response_body_lossy: false,
            error_class: Some("secret".into()),
            error_message: Some(format!("cannot sign: {e}")),
            request_headers: serde_json::json!({}),
            retry_after_ms: None,
        },
    }
}

pub async fn attempt(services: &Services, job: Job) -> Completion {
    let webhook = match services.webhook_cache.webhook(&services.db, &services.master_key, &job.webhook_id).await {
        Ok(w) => w,
        Err(e) => {
            // Cannot tell whether to send: try again shortly rather than guess.
            tracing::warn!(error = %e, "loading the webhook failed; deferring its delivery");
            return Completion::Deferred { lease: job.lease, delivery_id: job.id, at: services.now_ms() + 1_000 };
        }
    };
    let Some(w): Option<Arc<PreparedWebhook>> = webhook.filter(|w| w.row.active) else {
        return Completion::Skipped {
            lease: job.lease,
            delivery_id: job.id,
            reason: "the webhook was disabled or deleted before this delivery was sent".into(),
        };
    };
    if !job.pending {
        return Completion::Skipped { lease: job.lease, delivery_id: job.id, reason: String::new() };
    }
    if let Some(rate) = w.row.rate_limit.filter(|r| *r > 0) {
        let now = services.now_ms();
        if let Some(wait) = services.rate_limits.take(&w.row.id, rate as u32, now).await {
            return Completion::Deferred {
                lease: job.lease,
                delivery_id: job.id,
                at: now + wait.as_millis().max(1) as i64,
            };
        }
    }
    let now = services.now_ms();
    let result = send(services, &job.id, job.payload.clone(), &w, now).await;
    let attempt_no = job.attempts_made + 1;
    services.metrics.attempt_seconds.observe(result.duration_ms as f64 / 1000.0);
    let finished_at = services.now_ms();
    let decision = decide(&result, attempt_no as u32, &w.policy, finished_at, rand::thread_rng().gen::<f64>());
    let outcome = match decision {
        Decision::Succeeded => "succeeded",
        Decision::Retry { .. } => "retrying",
        Decision::Failed { .. } => "failed",
    };
    services.metrics.delivery_attempts.get_or_create(&crate::metrics::OutcomeLabels { outcome }).inc();
    Completion::Attempted {
        lease: job.lease,
        delivery_id: job.id,
        webhook_id: w.row.id.clone(),
        attempt: attempt_no,
        result: Box::new(result),
        decision,
        webhook_name: w.row.name.clone(),
    }
}
