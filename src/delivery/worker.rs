//! The delivery worker: claims due deliveries, sends them concurrently with a
//! cap per endpoint, and records outcomes in batches (group commit).
//!
//! Invariants:
//! - A delivery's outcome (attempt row, delivery status, the due-work row's
//!   removal or new due time, the webhook's health) is written in one
//!   transaction, so a crash leaves either all of it or none.
//! - An endpoint never has more than `per_endpoint` attempts in flight, and
//!   endpoints at the cap are skipped when claiming, so a slow or dead
//!   endpoint cannot occupy the slots that healthy endpoints need.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{mpsc, watch};

use super::outcome::{decide, Decision};
use super::sender::{AttemptRequest, AttemptResult};
use crate::due::{ClaimRequest, KIND_DELIVERY};
use crate::ids::new_id;
use crate::retry::RetryPolicy;
use crate::store::{with_pool, Db};
use crate::webhooks::store::WebhookRow;
use crate::{Result, Services};

/// What the worker learned about one claimed delivery.
#[derive(Debug, Clone)]
pub enum Completion {
    Attempted {
        delivery_id: String,
        webhook_id: String,
        attempt: i64,
        result: Box<AttemptResult>,
        decision: Decision,
        /// The webhook has failed for longer than the auto-disable period.
        auto_disable: bool,
        webhook_name: String,
    },
    /// The webhook was deleted or deactivated before the delivery was sent.
    Skipped { delivery_id: String, reason: String },
    /// The webhook's rate limit is used up: try again at `at`, no attempt made.
    Deferred { delivery_id: String, at: i64 },
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PendingDelivery {
    id: String,
    webhook_id: String,
    payload: String,
    attempt: i64,
    status: String,
}

#[derive(Default)]
struct InFlight {
    total: usize,
    by_endpoint: HashMap<String, usize>,
}

/// A token bucket per webhook with a rate limit.
#[derive(Default)]
struct RateLimiter {
    buckets: HashMap<String, (f64, Instant)>,
}

impl RateLimiter {
    /// None when a token was taken; otherwise how long until the next one.
    fn take(&mut self, key: &str, per_second: u32) -> Option<Duration> {
        let rate = per_second.max(1) as f64;
        let now = Instant::now();
        let (tokens, last) = self.buckets.entry(key.to_string()).or_insert((rate, now));
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

pub struct DeliveryWorker {
    services: Services,
    owner: String,
    in_flight: Arc<Mutex<InFlight>>,
    limiter: Arc<Mutex<RateLimiter>>,
    slot_freed: Arc<tokio::sync::Notify>,
}

impl DeliveryWorker {
    pub fn new(services: Services) -> Self {
        DeliveryWorker {
            services,
            owner: new_id("worker"),
            in_flight: Arc::default(),
            limiter: Arc::default(),
            slot_freed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Runs until `shutdown` turns true, then waits (bounded) for attempts in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let s = &self.services;
        if s.db.backend() == crate::store::Backend::Sqlite {
            // One process owns an SQLite file: leases left by a killed process are stale.
            match s.db.release_all_leases(KIND_DELIVERY).await {
                Ok(n) if n > 0 => tracing::info!(released = n, "re-queued deliveries leased before a restart"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not release stale leases"),
            }
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel::<(String, Completion)>();
        let completer =
            tokio::spawn(complete_loop(s.clone(), done_rx, self.in_flight.clone(), self.slot_freed.clone()));
        let cfg = s.settings.worker.clone();
        tracing::info!(owner = %self.owner, concurrency = cfg.concurrency, per_endpoint = cfg.per_endpoint, "delivery worker started");

        while !*shutdown.borrow() {
            let (room, skip) = {
                let f = self.in_flight.lock().expect("in-flight lock");
                let skip: Vec<String> =
                    f.by_endpoint.iter().filter(|(_, n)| **n >= cfg.per_endpoint).map(|(k, _)| k.clone()).collect();
                (cfg.concurrency.saturating_sub(f.total), skip)
            };
            if room == 0 {
                tokio::select! {
                    _ = self.slot_freed.notified() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let claimed = match self.claim(room.min(cfg.claim_batch as usize) as i64, &skip).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                let sleep = self.idle_sleep().await;
                tokio::select! {
                    _ = s.wake.notified() => {}
                    _ = self.slot_freed.notified(), if !skip.is_empty() => {}
                    _ = tokio::time::sleep(sleep) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            self.dispatch(claimed, &done_tx);
        }

        // Let attempts in flight finish (bounded by the request timeout).
        let deadline = Instant::now() + s.settings.request_timeout + Duration::from_secs(1);
        while self.in_flight.lock().expect("in-flight lock").total > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(done_tx);
        let _ = completer.await;
        tracing::info!("delivery worker stopped");
    }

    async fn idle_sleep(&self) -> Duration {
        let max = Duration::from_millis(self.services.settings.worker.idle_poll_ms);
        match self.services.db.next_due_at(KIND_DELIVERY).await {
            Ok(Some(at)) => {
                let wait = (at - self.services.now_ms()).max(1) as u64;
                Duration::from_millis(wait).min(max)
            }
            _ => max,
        }
    }

    async fn claim(&self, limit: i64, skip: &[String]) -> Result<Vec<(PendingDelivery, Option<WebhookRow>)>> {
        let s = &self.services;
        let claimed =
            s.db.claim_due(&ClaimRequest {
                kind: KIND_DELIVERY,
                owner: &self.owner,
                now: s.now_ms(),
                lease_ms: s.settings.worker.lease_ms,
                limit,
                skip_partitions: skip,
            })
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        // One claim may bring more work for an endpoint than its free slots:
        // hand the excess back at once, so it waits in the database, not here.
        let cap = s.settings.worker.per_endpoint;
        let mut room: HashMap<String, usize> = {
            let f = self.in_flight.lock().expect("in-flight lock");
            claimed
                .iter()
                .map(|c| {
                    (c.partition_key.clone(), cap.saturating_sub(*f.by_endpoint.get(&c.partition_key).unwrap_or(&0)))
                })
                .collect()
        };
        let (mut ids, mut excess) = (Vec::with_capacity(claimed.len()), Vec::new());
        for c in claimed {
            let r = room.get_mut(&c.partition_key).expect("room computed for every partition");
            if *r > 0 {
                *r -= 1;
                ids.push(c.id);
            } else {
                excess.push(c.id);
            }
        }
        if !excess.is_empty() {
            s.db.release_leases(&excess, &self.owner).await?;
        }
        let deliveries = load_pending(&s.db, &ids).await?;
        let webhook_ids: HashSet<&str> = deliveries.iter().map(|d| d.webhook_id.as_str()).collect();
        let mut webhooks = HashMap::new();
        for id in webhook_ids {
            if let Some(w) = s.db.webhook(id).await? {
                webhooks.insert(id.to_string(), w);
            }
        }
        let found: HashSet<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
        let orphans: Vec<String> = ids.iter().filter(|id| !found.contains(id.as_str())).cloned().collect();
        if !orphans.is_empty() {
            // The delivery row is gone (its webhook was deleted): drop the work.
            s.db.delete_due_work(&orphans).await?;
        }
        Ok(deliveries
            .into_iter()
            .map(|d| {
                let w = webhooks.get(&d.webhook_id).cloned();
                (d, w)
            })
            .collect())
    }

    fn dispatch(
        &self,
        claimed: Vec<(PendingDelivery, Option<WebhookRow>)>,
        done: &mpsc::UnboundedSender<(String, Completion)>,
    ) {
        for (delivery, webhook) in claimed {
            {
                let mut f = self.in_flight.lock().expect("in-flight lock");
                f.total += 1;
                *f.by_endpoint.entry(delivery.webhook_id.clone()).or_default() += 1;
            }
            let services = self.services.clone();
            let done = done.clone();
            let limiter = self.limiter.clone();
            tokio::spawn(async move {
                let partition = delivery.webhook_id.clone();
                let completion = attempt(&services, delivery, webhook, &limiter).await;
                let _ = done.send((partition, completion));
            });
        }
    }
}

async fn load_pending(db: &Db, ids: &[String]) -> Result<Vec<PendingDelivery>> {
    let params: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, webhook_id, payload, attempt, status FROM webhook_deliveries WHERE id IN ({})",
        params.join(", ")
    );
    Ok(with_pool!(db, pool => {
        let mut q = sqlx::query_as::<_, PendingDelivery>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })?)
}

/// The signing keys of a webhook: the current secret, then the previous one while it overlaps.
pub fn signing_keys(services: &Services, w: &WebhookRow, now: i64) -> Result<Vec<Vec<u8>>> {
    let mut keys = Vec::with_capacity(2);
    let current = services.master_key.open(&w.secret_sealed)?;
    keys.push(crate::signature::decode_secret(&current).map_err(crate::Error::internal)?);
    if let (Some(prev), Some(until)) = (&w.previous_secret_sealed, w.previous_secret_expires_at) {
        if until > now {
            let prev = services.master_key.open(prev)?;
            keys.push(crate::signature::decode_secret(&prev).map_err(crate::Error::internal)?);
        }
    }
    Ok(keys)
}

pub fn attempt_request(
    services: &Services,
    delivery_id: &str,
    body: &str,
    w: &WebhookRow,
    now: i64,
) -> Result<AttemptRequest> {
    Ok(AttemptRequest {
        delivery_id: delivery_id.to_string(),
        url: w.url.clone(),
        body: body.to_string(),
        keys: signing_keys(services, w, now)?,
        headers: serde_json::from_str(&w.headers).unwrap_or_default(),
    })
}

pub fn retry_policy(w: &WebhookRow) -> RetryPolicy {
    w.retry_policy.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default()
}

async fn attempt(
    services: &Services,
    delivery: PendingDelivery,
    webhook: Option<WebhookRow>,
    limiter: &Mutex<RateLimiter>,
) -> Completion {
    let Some(w) = webhook.filter(|w| w.active) else {
        return Completion::Skipped {
            delivery_id: delivery.id,
            reason: "the webhook was disabled or deleted before this delivery was sent".into(),
        };
    };
    if delivery.status != "pending" {
        // Finished already (a manual retry or a stale lease raced us): nothing to send.
        return Completion::Skipped { delivery_id: delivery.id, reason: String::new() };
    }
    if let Some(rate) = w.rate_limit.filter(|r| *r > 0) {
        if let Some(wait) = limiter.lock().expect("limiter lock").take(&w.id, rate as u32) {
            return Completion::Deferred {
                delivery_id: delivery.id,
                at: services.now_ms() + wait.as_millis().max(1) as i64,
            };
        }
    }
    let now = services.now_ms();
    let result = match attempt_request(services, &delivery.id, &delivery.payload, &w, now) {
        Ok(req) => services.sender.send(&req, now).await,
        Err(e) => AttemptResult {
            started_at: now,
            duration_ms: 0,
            status_code: None,
            response_body: None,
            error_class: Some("secret".into()),
            error_message: Some(format!("cannot sign: {e}")),
            request_headers: serde_json::json!({}),
            retry_after_ms: None,
        },
    };
    let attempt_no = delivery.attempt + 1;
    services.metrics.attempt_seconds.observe(result.duration_ms as f64 / 1000.0);
    let policy = retry_policy(&w);
    let finished_at = services.now_ms();
    let decision = decide(&result, attempt_no as u32, &policy, finished_at, rand::thread_rng().gen::<f64>());
    let auto_disable = !result.succeeded()
        && w.failing_since.is_some_and(|since| finished_at - since >= services.settings.auto_disable_after_ms);
    let outcome = match decision {
        Decision::Succeeded => "succeeded",
        Decision::Retry { .. } => "retrying",
        Decision::Failed { .. } => "failed",
    };
    services.metrics.delivery_attempts.get_or_create(&crate::metrics::OutcomeLabels { outcome }).inc();
    Completion::Attempted {
        delivery_id: delivery.id,
        webhook_id: w.id,
        attempt: attempt_no,
        result: Box::new(result),
        decision,
        auto_disable,
        webhook_name: w.name,
    }
}

async fn complete_loop(
    services: Services,
    mut rx: mpsc::UnboundedReceiver<(String, Completion)>,
    in_flight: Arc<Mutex<InFlight>>,
    slot_freed: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(512);
    while rx.recv_many(&mut batch, 512).await > 0 {
        let completions: Vec<Completion> = batch.iter().map(|(_, c)| c.clone()).collect();
        let mut delay = Duration::from_millis(100);
        loop {
            match services.db.complete_deliveries(&completions, services.now_ms()).await {
                Ok(()) => break,
                Err(e) => {
                    // The attempts happened; keep trying to record them rather than lose them.
                    tracing::error!(error = %e, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        {
            let mut f = in_flight.lock().expect("in-flight lock");
            for (partition, _) in batch.drain(..) {
                f.total = f.total.saturating_sub(1);
                if let Some(n) = f.by_endpoint.get_mut(&partition) {
                    *n -= 1;
                    if *n == 0 {
                        f.by_endpoint.remove(&partition);
                    }
                }
            }
        }
        slot_freed.notify_one();
        services.events_changed();
    }
}

fn cap(s: Option<String>, max: usize) -> Option<String> {
    s.map(|mut s| {
        if s.len() > max {
            let mut cut = max;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        s
    })
}

impl Db {
    /// Gives claimed work back without attempting it.
    pub async fn release_leases(&self, ids: &[String], owner: &str) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query("UPDATE due_work SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2")
                    .bind(id).bind(owner).execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn delete_due_work(&self, ids: &[String]) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query("DELETE FROM due_work WHERE id = $1").bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Records a batch of outcomes in one transaction.
    pub async fn complete_deliveries(&self, completions: &[Completion], now: i64) -> Result<()> {
        let mut health: HashMap<&str, Health> = HashMap::new();
        let mut attempts: Vec<AttemptInsert> = Vec::with_capacity(completions.len());
        let mut finished: Vec<&str> = Vec::with_capacity(completions.len());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for c in completions {
                match c {
                    Completion::Skipped { delivery_id, reason } => {
                        if !reason.is_empty() {
                            sqlx::query("UPDATE webhook_deliveries SET status = 'failed', error_message = $2, next_retry_at = NULL, updated_at = $3 WHERE id = $1 AND status = 'pending'")
                                .bind(delivery_id).bind(reason).bind(now).execute(&mut *tx).await?;
                        }
                        sqlx::query("DELETE FROM due_work WHERE id = $1").bind(delivery_id).execute(&mut *tx).await?;
                    }
                    Completion::Deferred { delivery_id, at } => {
                        sqlx::query("UPDATE due_work SET due_at = $2, lease_owner = NULL, lease_expires_at = NULL WHERE id = $1")
                            .bind(delivery_id).bind(at).execute(&mut *tx).await?;
                    }
                    Completion::Attempted { delivery_id, webhook_id, attempt, result, decision, auto_disable, webhook_name } => {
                        let response = cap(result.response_body.clone(), 64 * 1024 + 16);
                        attempts.push(AttemptInsert {
                            delivery_id: delivery_id.as_str(),
                            webhook_id: webhook_id.as_str(),
                            attempt: *attempt,
                            result: result.as_ref(),
                            response: response.clone(),
                            request_headers: result.request_headers.to_string(),
                        });
                        let (status, delivered_at, next_retry_at) = match decision {
                            Decision::Succeeded => ("succeeded", Some(now), None),
                            Decision::Retry { at } => ("pending", None, Some(*at)),
                            Decision::Failed { .. } => ("failed", None, None),
                        };
                        sqlx::query(
                            "UPDATE webhook_deliveries SET status = $2, status_code = $3, response_body = $4, error_message = $5,
                                attempt = $6, delivered_at = $7, next_retry_at = $8, updated_at = $9 WHERE id = $1")
                            .bind(delivery_id).bind(status).bind(result.status_code.map(i64::from)).bind(&response)
                            .bind(&result.error_message).bind(attempt).bind(delivered_at).bind(next_retry_at).bind(now)
                            .execute(&mut *tx).await?;
                        match decision {
                            Decision::Retry { at } => {
                                sqlx::query("UPDATE due_work SET due_at = $2, lease_owner = NULL, lease_expires_at = NULL WHERE id = $1")
                                    .bind(delivery_id).bind(at).execute(&mut *tx).await?;
                            }
                            _ => finished.push(delivery_id.as_str()),
                        }
                        let h = health.entry(webhook_id.as_str()).or_default();
                        if result.succeeded() {
                            h.any_success = true;
                        } else {
                            h.any_failure = true;
                        }
                        h.last_succeeded = result.succeeded();
                        let disable = match decision {
                            Decision::Failed { disable: Some(reason) } => Some(*reason),
                            _ if *auto_disable => Some("auto"),
                            _ => None,
                        };
                        if let Some(reason) = disable {
                            let changed = sqlx::query("UPDATE webhooks SET active = FALSE, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND active")
                                .bind(webhook_id).bind(reason).bind(now).execute(&mut *tx).await?.rows_affected();
                            if changed > 0 {
                                let (title, body) = if reason == "gone" {
                                    (format!("Webhook \"{webhook_name}\" was disabled"),
                                     "Its endpoint answered 410 Gone, which means it no longer wants deliveries.".to_string())
                                } else {
                                    (format!("Webhook \"{webhook_name}\" was disabled automatically"),
                                     "It kept failing for the whole auto-disable period. Fix the endpoint, re-enable it, and replay what it missed with Recover.".to_string())
                                };
                                sqlx::query("INSERT INTO notifications (id, kind, title, body, link, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                                    .bind(new_id("ntf")).bind("webhook.disabled").bind(title).bind(body)
                                    .bind(format!("/webhooks/{webhook_id}")).bind(now)
                                    .execute(&mut *tx).await?;
                            }
                        }
                    }
                }
            }
            // Multi-row statements: one round trip for many rows.
            for chunk in attempts.chunks(ATTEMPT_ROWS_PER_INSERT) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|r| {
                        let b = r * 11;
                        format!("(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11)
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO delivery_attempts (id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code,
                        request_headers, response_body, error_class, error_message) VALUES {}", values.join(", "));
                let mut q = sqlx::query(&sql);
                for a in chunk {
                    q = q.bind(new_id("att")).bind(a.delivery_id).bind(a.webhook_id).bind(a.attempt)
                        .bind(a.result.started_at).bind(a.result.duration_ms).bind(a.result.status_code.map(i64::from))
                        .bind(&a.request_headers).bind(&a.response).bind(&a.result.error_class).bind(&a.result.error_message);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in finished.chunks(500) {
                let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let sql = format!("DELETE FROM due_work WHERE id IN ({})", params.join(", "));
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            // One health update per webhook per batch, not per delivery: a busy
            // endpoint's row would otherwise be rewritten hundreds of times a second.
            for (webhook_id, h) in &health {
                sqlx::query(
                    "UPDATE webhooks SET
                        last_success_at = CASE WHEN $2 THEN $5 ELSE last_success_at END,
                        last_failure_at = CASE WHEN $3 THEN $5 ELSE last_failure_at END,
                        failing_since = CASE WHEN $4 THEN NULL ELSE COALESCE(failing_since, $5) END
                     WHERE id = $1")
                    .bind(webhook_id).bind(h.any_success).bind(h.any_failure).bind(h.last_succeeded).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }
}

/// Attempt rows per multi-row INSERT (11 parameters each, well under both databases' limits).
const ATTEMPT_ROWS_PER_INSERT: usize = 200;

struct AttemptInsert<'a> {
    delivery_id: &'a str,
    webhook_id: &'a str,
    attempt: i64,
    result: &'a AttemptResult,
    response: Option<String>,
    request_headers: String,
}

/// What a batch of outcomes says about one webhook's health.
#[derive(Default)]
struct Health {
    any_success: bool,
    any_failure: bool,
    last_succeeded: bool,
}
