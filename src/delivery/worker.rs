//! The delivery worker: sends what ingest hands over (the hot path, see
//! [`super::dispatch`]) and claims the rest of the due deliveries (retries,
//! overflow, work left by a crash); sends concurrently with a cap per
//! endpoint; and records outcomes in batches (group commit).
//!
//! Invariants:
//! - A delivery's outcome (attempt row, delivery status, the due-work row's
//!   removal or new due time, the webhook's health) is written in one
//!   transaction, so a crash leaves either all of it or none.
//! - An endpoint never has more than `per_endpoint` attempts in flight, and
//!   endpoints at the cap are skipped when claiming, so a slow or dead
//!   endpoint cannot occupy the slots that healthy endpoints need.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{mpsc, watch};

use super::dispatch::{Dispatcher, HotDelivery};
use super::outcome::{decide, Decision};
use super::sender::{AttemptRequest, AttemptResult};
use crate::due::{ClaimRequest, Claimed, KIND_DELIVERY};
use crate::ids::new_id;
use crate::metrics::PathLabels;
use crate::retry::RetryPolicy;
use crate::store::{batch, with_pool, Db};
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
        webhook_name: String,
    },
    /// The webhook was deleted or deactivated before the delivery was sent.
    Skipped { delivery_id: String, reason: String },
    /// The webhook's rate limit is used up: try again at `at`, no attempt made.
    Deferred { delivery_id: String, at: i64 },
}

/// A delivery to attempt now, its slot already reserved.
struct Job {
    id: String,
    /// Attempts made before this one.
    attempts_made: i64,
    webhook_id: String,
    payload: Arc<str>,
    /// Still waiting to be delivered (a manual retry or a stale lease may have finished it).
    pending: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PendingDelivery {
    id: String,
    webhook_id: String,
    payload: String,
    attempt: i64,
    status: String,
}

pub struct DeliveryWorker {
    services: Services,
    dispatcher: Arc<Dispatcher>,
    hot: mpsc::UnboundedReceiver<Vec<HotDelivery>>,
}

type Done = mpsc::UnboundedSender<Completion>;

impl DeliveryWorker {
    pub fn new(services: Services) -> Self {
        let (dispatcher, hot) = Dispatcher::new(services.lease_owner("worker"), &services.settings.worker);
        DeliveryWorker { services, dispatcher, hot }
    }

    /// Runs until `shutdown` turns true, then waits (bounded) for attempts in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let DeliveryWorker { services: s, dispatcher, hot } = self;
        if s.db.backend() == crate::store::Backend::Sqlite {
            // One process owns an SQLite file: leases left by a killed process are stale.
            match s.db.release_stale_leases(KIND_DELIVERY, &s.instance).await {
                Ok(n) if n > 0 => tracing::info!(released = n, "re-queued deliveries leased before a restart"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not release stale leases"),
            }
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Completion>();
        let completer = tokio::spawn(complete_loop(s.clone(), done_rx, dispatcher.clone()));
        let hot_task = tokio::spawn(hot_loop(s.clone(), dispatcher.clone(), hot, done_tx.clone(), shutdown.clone()));
        *s.dispatcher.lock().expect("dispatcher slot") = Some(dispatcher.clone());
        let cfg = s.settings.worker.clone();
        tracing::info!(owner = %dispatcher.owner, concurrency = cfg.concurrency, per_endpoint = cfg.per_endpoint, "delivery worker started");

        while !*shutdown.borrow() {
            let (room, skip) = dispatcher.room();
            if room == 0 {
                tokio::select! {
                    _ = dispatcher.slot_freed.notified() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let jobs = match claim(&s, &dispatcher, room.min(cfg.claim_batch as usize) as i64, &skip).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if jobs.is_empty() {
                let sleep = idle_sleep(&s).await;
                tokio::select! {
                    _ = s.wake.notified() => {}
                    _ = dispatcher.slot_freed.notified(), if !skip.is_empty() => {}
                    _ = tokio::time::sleep(sleep) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            s.metrics.deliveries_dispatched.get_or_create(&PathLabels { path: "claimed" }).inc_by(jobs.len() as u64);
            for job in jobs {
                spawn_attempt(&s, &dispatcher, job, &done_tx);
            }
        }

        // Ingest stops handing work here; what was handed but not started goes back to the queue.
        *s.dispatcher.lock().expect("dispatcher slot") = None;
        let unsent = hot_task.await.unwrap_or_default();
        if !unsent.is_empty() {
            let ids: Vec<String> = unsent.iter().map(|h| h.id.clone()).collect();
            if let Err(e) = s.db.release_leases(&ids, &dispatcher.owner).await {
                tracing::warn!(error = %e, "could not release hot deliveries at shutdown; their leases will expire");
            }
            dispatcher.release(unsent.iter().map(|h| h.webhook_id.as_str()));
        }
        // Let attempts in flight finish (bounded by the request timeout).
        let deadline = Instant::now() + s.settings.request_timeout + Duration::from_secs(1);
        while dispatcher.in_flight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(done_tx);
        let _ = completer.await;
        tracing::info!("delivery worker stopped");
    }
}

/// Sends what ingest hands over until shutdown; returns what was left unsent.
async fn hot_loop(
    s: Services,
    dispatcher: Arc<Dispatcher>,
    mut rx: mpsc::UnboundedReceiver<Vec<HotDelivery>>,
    done: Done,
    mut shutdown: watch::Receiver<bool>,
) -> Vec<HotDelivery> {
    loop {
        tokio::select! {
            batch = rx.recv() => match batch {
                Some(batch) => {
                    s.metrics.deliveries_dispatched.get_or_create(&PathLabels { path: "hot" }).inc_by(batch.len() as u64);
                    for h in batch {
                        let job = Job { id: h.id, webhook_id: h.webhook_id, attempts_made: 0, payload: h.payload, pending: true };
                        spawn_attempt(&s, &dispatcher, job, &done);
                    }
                }
                None => return Vec::new(),
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    rx.close();
                    let mut left = Vec::new();
                    while let Ok(batch) = rx.try_recv() {
                        left.extend(batch);
                    }
                    return left;
                }
            }
        }
    }
}

async fn idle_sleep(s: &Services) -> Duration {
    let max = Duration::from_millis(s.settings.worker.idle_poll_ms);
    match s.db.next_due_at(KIND_DELIVERY).await {
        Ok(Some(at)) => {
            let wait = (at - s.now_ms()).max(1) as u64;
            Duration::from_millis(wait).min(max)
        }
        _ => max,
    }
}

/// Claims due deliveries, reserving a slot for each; what finds no slot is handed back at once,
/// so it waits in the database, not here.
async fn claim(s: &Services, dispatcher: &Dispatcher, limit: i64, skip: &[String]) -> Result<Vec<Job>> {
    let claimed =
        s.db.claim_due(&ClaimRequest {
            kind: KIND_DELIVERY,
            owner: &dispatcher.owner,
            now: s.now_ms(),
            lease_ms: dispatcher.lease_ms,
            limit,
            skip_partitions: skip,
        })
        .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let (mut reserved, mut excess) = (Vec::with_capacity(claimed.len()), Vec::new());
    for c in claimed {
        if dispatcher.try_reserve(&c.partition_key) {
            reserved.push(c);
        } else {
            excess.push(c.id);
        }
    }
    let give_back = |which: &[&Claimed]| dispatcher.release(which.iter().map(|c| c.partition_key.as_str()));
    let all: Vec<&Claimed> = reserved.iter().collect();
    if !excess.is_empty() {
        if let Err(e) = s.db.release_leases(&excess, &dispatcher.owner).await {
            give_back(&all);
            return Err(e);
        }
    }
    let ids: Vec<String> = reserved.iter().map(|c| c.id.clone()).collect();
    let loaded = match load_jobs(s, &ids).await {
        Ok(l) => l,
        Err(e) => {
            give_back(&all);
            return Err(e);
        }
    };
    let found: HashSet<&str> = loaded.iter().map(|j| j.id.as_str()).collect();
    let orphans: Vec<&Claimed> = reserved.iter().filter(|c| !found.contains(c.id.as_str())).collect();
    if !orphans.is_empty() {
        // The delivery row is gone (its webhook was deleted): drop the work.
        give_back(&orphans);
        s.db.delete_due_work(&orphans.iter().map(|c| c.id.clone()).collect::<Vec<_>>()).await?;
    }
    Ok(loaded)
}

async fn load_jobs(s: &Services, ids: &[String]) -> Result<Vec<Job>> {
    Ok(load_pending(&s.db, ids)
        .await?
        .into_iter()
        .map(|d| Job {
            id: d.id,
            webhook_id: d.webhook_id,
            attempts_made: d.attempt,
            payload: Arc::from(d.payload),
            pending: d.status == "pending",
        })
        .collect())
}

fn spawn_attempt(s: &Services, d: &Arc<Dispatcher>, job: Job, done: &Done) {
    let (services, dispatcher, done) = (s.clone(), d.clone(), done.clone());
    tokio::spawn(async move {
        let partition = job.webhook_id.clone();
        let completion = attempt(&services, job).await;
        dispatcher.request_done(&partition);
        let _ = done.send(completion);
    });
}

async fn load_pending(db: &Db, ids: &[String]) -> Result<Vec<PendingDelivery>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in batch::chunks(ids) {
        let sql = format!(
            "SELECT id, webhook_id, payload, attempt, status FROM webhook_deliveries WHERE id IN ({})",
            batch::params(db.backend(), 1, chunk.len())
        );
        out.extend(with_pool!(db, pool => {
            let mut q = sqlx::query_as::<_, PendingDelivery>(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(pool).await
        })?);
    }
    Ok(out)
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

async fn attempt(services: &Services, job: Job) -> Completion {
    let webhook = match services.webhook_cache.webhook(&services.db, &job.webhook_id).await {
        Ok(w) => w,
        Err(e) => {
            // Cannot tell whether to send: try again shortly rather than guess.
            tracing::warn!(error = %e, "loading the webhook failed; deferring its delivery");
            return Completion::Deferred { delivery_id: job.id, at: services.now_ms() + 1_000 };
        }
    };
    let Some(w) = webhook.filter(|w| w.active) else {
        return Completion::Skipped {
            delivery_id: job.id,
            reason: "the webhook was disabled or deleted before this delivery was sent".into(),
        };
    };
    if !job.pending {
        // Finished already (a manual retry or a stale lease raced us): nothing to send.
        return Completion::Skipped { delivery_id: job.id, reason: String::new() };
    }
    if let Some(rate) = w.rate_limit.filter(|r| *r > 0) {
        let now = services.now_ms();
        if let Some(wait) = services.rate_limits.take(&w.id, rate as u32, now).await {
            return Completion::Deferred { delivery_id: job.id, at: now + wait.as_millis().max(1) as i64 };
        }
    }
    let now = services.now_ms();
    let result = match attempt_request(services, &job.id, &job.payload, &w, now) {
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
    let attempt_no = job.attempts_made + 1;
    services.metrics.attempt_seconds.observe(result.duration_ms as f64 / 1000.0);
    let policy = retry_policy(&w);
    let finished_at = services.now_ms();
    let decision = decide(&result, attempt_no as u32, &policy, finished_at, rand::thread_rng().gen::<f64>());
    let outcome = match decision {
        Decision::Succeeded => "succeeded",
        Decision::Retry { .. } => "retrying",
        Decision::Failed { .. } => "failed",
    };
    services.metrics.delivery_attempts.get_or_create(&crate::metrics::OutcomeLabels { outcome }).inc();
    Completion::Attempted {
        delivery_id: job.id,
        webhook_id: w.id.clone(),
        attempt: attempt_no,
        result: Box::new(result),
        decision,
        webhook_name: w.name.clone(),
    }
}

async fn complete_loop(services: Services, mut rx: mpsc::UnboundedReceiver<Completion>, dispatcher: Arc<Dispatcher>) {
    let mut completions = Vec::with_capacity(512);
    while rx.recv_many(&mut completions, 512).await > 0 {
        let mut delay = Duration::from_millis(100);
        loop {
            match services
                .db
                .complete_deliveries(&completions, services.now_ms(), services.settings.auto_disable_after_ms)
                .await
            {
                Ok(disabled) => {
                    if disabled {
                        services.webhooks_changed();
                    }
                    break;
                }
                Err(e) => {
                    // The attempts happened; keep trying to record them rather than lose them.
                    tracing::error!(error = %e, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        dispatcher.committed(completions.len());
        completions.clear();
        services.events_changed();
    }
}

impl Db {
    /// Gives claimed work back without attempting it.
    pub async fn release_leases(&self, ids: &[String], owner: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in batch::chunks(ids) {
                let sql = format!(
                    "UPDATE due_work SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = {} AND id IN ({})",
                    batch::params(self.backend(), 1, 1), batch::params(self.backend(), 2, chunk.len()));
                let mut q = sqlx::query(&sql).bind(owner);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn delete_due_work(&self, ids: &[String]) -> Result<()> {
        let _turn = self.write_turn().await;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in batch::chunks(ids) {
                let sql = format!("DELETE FROM due_work WHERE id IN ({})", batch::params(self.backend(), 1, chunk.len()));
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Records a batch of outcomes in one transaction, with a few multi-row
    /// statements rather than several statements per delivery. Returns whether
    /// a webhook was disabled (410 Gone, or failing for the whole auto-disable period).
    pub async fn complete_deliveries(
        &self,
        completions: &[Completion],
        now: i64,
        auto_disable_after_ms: i64,
    ) -> Result<bool> {
        let mut health: HashMap<&str, Health<'_>> = HashMap::new();
        let mut attempts: Vec<AttemptInsert> = Vec::with_capacity(completions.len());
        let mut updates: Vec<DeliveryUpdate> = Vec::with_capacity(completions.len());
        let mut reschedule: Vec<(&str, i64)> = Vec::new();
        let mut finished: Vec<&str> = Vec::with_capacity(completions.len());
        let mut skipped: Vec<(&str, &str)> = Vec::new();
        let mut gone: Vec<(&str, &str)> = Vec::new();
        for c in completions {
            match c {
                Completion::Skipped { delivery_id, reason } => {
                    if !reason.is_empty() {
                        skipped.push((delivery_id, reason));
                    }
                    finished.push(delivery_id);
                }
                Completion::Deferred { delivery_id, at } => reschedule.push((delivery_id, *at)),
                Completion::Attempted { delivery_id, webhook_id, attempt, result, decision, webhook_name } => {
                    let (status, delivered_at, next_retry_at) = match decision {
                        Decision::Succeeded => ("succeeded", Some(now), None),
                        Decision::Retry { at } => ("pending", None, Some(*at)),
                        Decision::Failed { .. } => ("failed", None, None),
                    };
                    updates.push(DeliveryUpdate {
                        id: delivery_id,
                        status,
                        status_code: result.status_code.map(i64::from),
                        // Capped by the sender (`max_response_bytes`) when it was read.
                        response: result.response_body.as_deref(),
                        error_message: result.error_message.as_deref(),
                        attempt: *attempt,
                        delivered_at,
                        next_retry_at,
                    });
                    attempts.push(AttemptInsert {
                        delivery_id,
                        webhook_id,
                        attempt: *attempt,
                        result: result.as_ref(),
                        request_headers: result.request_headers.to_string(),
                    });
                    match decision {
                        Decision::Retry { at } => reschedule.push((delivery_id, *at)),
                        _ => finished.push(delivery_id),
                    }
                    let h = health.entry(webhook_id).or_default();
                    if result.succeeded() {
                        h.any_success = true;
                    } else {
                        h.any_failure = true;
                    }
                    h.last_succeeded = result.succeeded();
                    h.name = webhook_name.as_str();
                    if let Decision::Failed { disable: Some(_) } = decision {
                        gone.push((webhook_id, webhook_name));
                    }
                }
            }
        }
        // Webhooks this batch switched off, and why: `gone` (410) or `auto`.
        let mut disabled: Vec<(&str, &str, &str)> = Vec::new();
        let _turn = self.write_turn().await;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in batch::chunks(&attempts) {
                let sql = format!(
                    "INSERT INTO delivery_attempts (id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code,
                        request_headers, response_body, error_class, error_message) VALUES {}", batch::values(self.backend(), chunk.len(), 11));
                let mut q = sqlx::query(&sql);
                for a in chunk {
                    q = q.bind(new_id("att")).bind(a.delivery_id).bind(a.webhook_id).bind(a.attempt)
                        .bind(a.result.started_at).bind(a.result.duration_ms).bind(a.result.status_code.map(i64::from))
                        .bind(&a.request_headers).bind(&a.result.response_body).bind(&a.result.error_class).bind(&a.result.error_message);
                }
                q.execute(&mut *tx).await?;
            }
            // VALUES columns are named column1, column2, … on both databases.
            for chunk in batch::chunks(&updates) {
                let sql = format!(
                    "UPDATE webhook_deliveries SET status = v.column2, status_code = v.column3, response_body = v.column4,
                        error_message = v.column5, attempt = v.column6, delivered_at = v.column7, next_retry_at = v.column8,
                        updated_at = v.column9
                     FROM (VALUES {}) AS v WHERE webhook_deliveries.id = v.column1", batch::values(self.backend(), chunk.len(), 9));
                let mut q = sqlx::query(&sql);
                for u in chunk {
                    q = q.bind(u.id).bind(u.status).bind(u.status_code).bind(u.response).bind(u.error_message)
                        .bind(u.attempt).bind(u.delivered_at).bind(u.next_retry_at).bind(now);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in batch::chunks(&reschedule) {
                let sql = format!(
                    "UPDATE due_work SET due_at = v.column2, lease_owner = NULL, lease_expires_at = NULL
                     FROM (VALUES {}) AS v WHERE due_work.id = v.column1", batch::values(self.backend(), chunk.len(), 2));
                let mut q = sqlx::query(&sql);
                for (id, at) in chunk {
                    q = q.bind(*id).bind(*at);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in batch::chunks(&finished) {
                let sql = format!("DELETE FROM due_work WHERE id IN ({})", batch::params(self.backend(), 1, chunk.len()));
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            for (delivery_id, reason) in &skipped {
                sqlx::query("UPDATE webhook_deliveries SET status = 'failed', error_message = $2, next_retry_at = NULL, updated_at = $3 WHERE id = $1 AND status = 'pending'")
                    .bind(*delivery_id).bind(*reason).bind(now).execute(&mut *tx).await?;
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
                    .bind(*webhook_id).bind(h.any_success).bind(h.any_failure).bind(h.last_succeeded).bind(now)
                    .execute(&mut *tx).await?;
                if !h.last_succeeded {
                    // Decided on the stored `failing_since`, not on a cached copy of the webhook.
                    let changed = sqlx::query(
                        "UPDATE webhooks SET active = FALSE, disabled_reason = 'auto', updated_at = $3
                         WHERE id = $1 AND active AND failing_since IS NOT NULL AND failing_since <= $2")
                        .bind(*webhook_id).bind(now - auto_disable_after_ms).bind(now)
                        .execute(&mut *tx).await?.rows_affected();
                    if changed > 0 {
                        disabled.push((webhook_id, h.name, "auto"));
                    }
                }
            }
            for (webhook_id, webhook_name) in &gone {
                let changed = sqlx::query("UPDATE webhooks SET active = FALSE, disabled_reason = 'gone', updated_at = $2 WHERE id = $1 AND active")
                    .bind(*webhook_id).bind(now).execute(&mut *tx).await?.rows_affected();
                if changed > 0 {
                    disabled.push((webhook_id, webhook_name, "gone"));
                }
            }
            for (webhook_id, webhook_name, reason) in &disabled {
                let (title, body) = disabled_notice(webhook_name, reason);
                sqlx::query("INSERT INTO notifications (id, kind, title, body, link, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(new_id("ntf")).bind("webhook.disabled").bind(title).bind(body)
                    .bind(format!("/webhooks/{webhook_id}")).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(!disabled.is_empty())
    }
}

/// The admins' notification when a webhook was switched off (`gone`: 410; `auto`: failing too long).
fn disabled_notice(webhook_name: &str, reason: &str) -> (String, &'static str) {
    if reason == "gone" {
        (
            format!("Webhook \"{webhook_name}\" was disabled"),
            "Its endpoint answered 410 Gone, which means it no longer wants deliveries.",
        )
    } else {
        (
            format!("Webhook \"{webhook_name}\" was disabled automatically"),
            "It kept failing for the whole auto-disable period. Fix the endpoint, re-enable it, and replay what it missed with Recover.",
        )
    }
}

struct AttemptInsert<'a> {
    delivery_id: &'a str,
    webhook_id: &'a str,
    attempt: i64,
    result: &'a AttemptResult,
    request_headers: String,
}

struct DeliveryUpdate<'a> {
    id: &'a str,
    status: &'static str,
    status_code: Option<i64>,
    response: Option<&'a str>,
    error_message: Option<&'a str>,
    attempt: i64,
    delivered_at: Option<i64>,
    next_retry_at: Option<i64>,
}

/// What a batch of outcomes says about one webhook's health.
#[derive(Default)]
struct Health<'a> {
    any_success: bool,
    any_failure: bool,
    last_succeeded: bool,
    name: &'a str,
}
