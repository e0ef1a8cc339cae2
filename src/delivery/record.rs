//! Recording outcomes: a batch of completions in one transaction (group
//! commit), fenced by each delivery's lease.
//!
//! Invariants:
//! - A delivery's outcome (attempt row, delivery status, the due-work row's
//!   removal or new due time, the webhook's health, an auto-disable and its
//!   notification) commits in one transaction, or not at all.
//! - An outcome whose lease was lost (it expired and another worker claimed
//!   the row, or a person re-queued it) writes nothing: the newer attempt's
//!   outcome stands.
//! - Nothing wedges: a batch that fails is written one outcome at a time, an
//!   outcome that still fails is recorded as a failure of its due-work row
//!   (retried, dead after `due_max_attempts`), and the worker's slots are
//!   given back on every path.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::attempt::Completion;
use super::dispatch::Dispatcher;
use super::outcome::Decision;
use super::store::{self as deliveries, AttemptInsert, DeliveryUpdate};
use crate::due::{self, Lease};
use crate::store::Db;
use crate::webhooks::store::{self as webhooks, HealthUpdate};
use crate::{notifications, Result, Services};

/// Most outcomes committed together.
pub const MAX_BATCH: usize = 512;

/// How long a small batch waits for more outcomes before it is written.
/// Under a moderate load each outcome would otherwise be a transaction of
/// its own (at 500 deliveries/s one every 2 ms), rewriting the same few
/// pages each time; a short wait lets several share one commit. Only the
/// worker's slots and the delivery's status wait for it (the receiver
/// already has the delivery, and latency is measured to the receiver), and
/// a crash inside it loses nothing: the lease expires and the delivery is
/// sent again with the same `webhook-id`, as after any crash before the
/// commit.
pub const LINGER: Duration = Duration::from_millis(10);
/// A batch this big is written at once: the loop is behind, and waiting
/// would only add to it. At most a quarter of the worker's slots, so that a
/// wait holds few of them (a worker with fewer than 8 slots never waits).
fn linger_below(concurrency: usize) -> usize {
    (concurrency / 4).min(16)
}

/// Writes what the attempts of this worker report, batch by batch, until
/// every sender of `rx` is gone.
pub async fn complete_loop(
    services: Services,
    mut rx: mpsc::UnboundedReceiver<Completion>,
    dispatcher: Arc<Dispatcher>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let enough = linger_below(dispatcher.concurrency());
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() < enough {
            gather(&mut rx, &mut batch, enough, tokio::time::Instant::now() + LINGER).await;
        }
        record(&services, &dispatcher.owner, &batch).await;
        dispatcher.committed(batch.len());
        batch.clear();
        services.events_changed();
    }
}

/// Adds to `batch` what arrives before `deadline`, until it holds `enough`.
async fn gather<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    batch: &mut Vec<T>,
    enough: usize,
    deadline: tokio::time::Instant,
) {
    while batch.len() < enough {
        match tokio::time::timeout_at(deadline, rx.recv_many(batch, MAX_BATCH - batch.len())).await {
            Ok(n) if n > 0 => {}
            // Every sender is gone (the worker is stopping), or the time is up.
            _ => return,
        }
    }
}

/// Records `batch`; never fails as a whole (see the module's invariants).
pub async fn record(services: &Services, owner: &str, batch: &[Completion]) {
    let now = services.now_ms();
    let auto_disable = services.settings.auto_disable_after_ms;
    match write(&services.db, owner, batch, now, auto_disable).await {
        Ok(disabled) => after_commit(services, disabled),
        Err(e) if batch.len() > 1 => {
            services.metrics.outcome_batch_failures.inc();
            tracing::warn!(error = %e, size = batch.len(), "recording a batch of outcomes failed; recording them one by one");
            for c in batch {
                match write(&services.db, owner, std::slice::from_ref(c), now, auto_disable).await {
                    Ok(disabled) => after_commit(services, disabled),
                    Err(e) => fail_one(services, owner, c.lease(), &e).await,
                }
            }
        }
        Err(e) => fail_one(services, owner, batch[0].lease(), &e).await,
    }
}

fn after_commit(services: &Services, disabled: bool) {
    if disabled {
        services.webhooks_changed();
    }
}

/// The outcome could not be written: the due-work row records why and is
/// tried again later (or dies), so this delivery cannot hold up the others.
async fn fail_one(services: &Services, owner: &str, lease: &Lease, e: &crate::Error) {
    tracing::error!(error = %e, due = %lease.id, "recording a delivery outcome failed");
    let now = services.now_ms();
    let message = format!("recording the outcome failed: {e}");
    let failed = async {
        let mut tx = services.db.begin().await?;
        let dead =
            due::store::fail(&mut tx, owner, lease, &message, now + 5_000, services.settings.due_max_attempts, now)
                .await?;
        tx.commit().await?;
        Result::<Option<bool>>::Ok(dead)
    }
    .await;
    match failed {
        Ok(Some(true)) => {
            services.metrics.due_dead.inc();
        }
        Ok(_) => {}
        // The lease runs out and the row is claimed again.
        Err(e) => tracing::error!(error = %e, due = %lease.id, "could not record the failure either"),
    }
}

/// One transaction for the whole batch. Returns whether a webhook was
/// disabled (410 Gone, or failing for the whole auto-disable period).
pub async fn write(db: &Db, owner: &str, batch: &[Completion], now: i64, auto_disable_after_ms: i64) -> Result<bool> {
    // A lease that ran out and the claim after it may both report in one batch: only the newer can hold.
    let newest = due::store::newest_per_row(batch.iter().map(Completion::lease));
    let mut finished: Vec<&Lease> = Vec::with_capacity(batch.len());
    let mut moved: Vec<(&Lease, i64)> = Vec::new();
    for c in batch.iter().filter(|c| newest.contains(c.lease())) {
        match c {
            Completion::Attempted { lease, decision: Decision::Retry { at }, .. } => moved.push((lease, *at)),
            Completion::Deferred { lease, at, .. } => moved.push((lease, *at)),
            Completion::Attempted { lease, .. } | Completion::Skipped { lease, .. } => finished.push(lease),
        }
    }
    let mut tx = db.begin().await?;
    // Fencing first: only outcomes whose lease still holds are written.
    let mut held: HashSet<Lease> = due::store::finish(&mut tx, owner, &finished).await?;
    held.extend(due::store::reschedule(&mut tx, owner, &moved).await?);
    let held = |l: &Lease| held.contains(l);

    let mut attempts = Vec::with_capacity(batch.len());
    let mut updates = Vec::with_capacity(batch.len());
    // Ordered by webhook id, so concurrent batches on PostgreSQL lock webhook rows in the same order.
    let mut health: BTreeMap<&str, (HealthUpdate, &str)> = BTreeMap::new();
    let mut gone: Vec<(&str, &str)> = Vec::new();
    for c in batch.iter().filter(|c| held(c.lease())) {
        match c {
            Completion::Skipped { delivery_id, reason, .. } if !reason.is_empty() => {
                deliveries::give_up(&mut tx, delivery_id, reason, now).await?;
            }
            Completion::Skipped { .. } | Completion::Deferred { .. } => {}
            Completion::Attempted { delivery_id, webhook_id, attempt, result, decision, webhook_name, .. } => {
                let (status, delivered_at, next_retry_at) = match decision {
                    Decision::Succeeded => ("succeeded", Some(now), None),
                    Decision::Retry { at } => ("pending", None, Some(*at)),
                    Decision::Failed { .. } => ("failed", None, None),
                };
                updates.push(DeliveryUpdate {
                    id: delivery_id,
                    status,
                    status_code: result.status_code.map(i64::from),
                    // Capped by the sender (`max_response_bytes`) and made storable when it was read.
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
                    started_at: result.started_at,
                    duration_ms: result.duration_ms,
                    status_code: result.status_code.map(i64::from),
                    request_headers: result.request_headers.to_string(),
                    response_body: result.response_body.as_deref(),
                    response_body_lossy: result.response_body_lossy,
                    error_class: result.error_class.as_deref(),
                    error_message: result.error_message.as_deref(),
                });
                let (h, name) = health.entry(webhook_id).or_insert((HealthUpdate::default(), webhook_name));
                if result.succeeded() {
                    h.any_success = true;
                } else {
                    h.any_failure = true;
                }
                h.last_succeeded = result.succeeded();
                *name = webhook_name;
                if let Decision::Failed { disable: Some(_) } = decision {
                    gone.push((webhook_id, webhook_name));
                }
            }
        }
    }
    deliveries::record(&mut tx, &attempts, &updates, now).await?;

    // One health update per webhook per batch, not per delivery: a busy
    // endpoint's row would otherwise be rewritten hundreds of times a second.
    let mut disabled: Vec<(&str, &str, &str)> = Vec::new();
    for (webhook_id, (h, name)) in &health {
        webhooks::record_health(&mut tx, webhook_id, *h, now).await?;
        if !h.last_succeeded && webhooks::auto_disable(&mut tx, webhook_id, now - auto_disable_after_ms, now).await? {
            disabled.push((webhook_id, name, "auto"));
        }
    }
    for (webhook_id, name) in &gone {
        if webhooks::disable_gone(&mut tx, webhook_id, now).await? {
            disabled.push((webhook_id, name, "gone"));
        }
    }
    for (webhook_id, name, reason) in &disabled {
        let (title, body) = disabled_notice(name, reason);
        notifications::insert(&mut tx, "webhook.disabled", &title, body, Some(&format!("/webhooks/{webhook_id}")), now)
            .await?;
    }
    tx.commit().await?;
    Ok(!disabled.is_empty())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;
    use tokio::time::Instant;

    use super::{gather, linger_below, LINGER};

    #[tokio::test(start_paused = true)]
    async fn a_small_batch_takes_in_what_arrives_while_it_lingers() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut batch = vec![1];
        let sender = tokio::spawn(async move {
            for i in 2..=4 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                tx.send(i).unwrap();
            }
            tokio::time::sleep(LINGER).await;
            tx.send(5).unwrap();
        });
        let started = Instant::now();
        gather(&mut rx, &mut batch, 16, started + LINGER).await;
        assert_eq!(batch, vec![1, 2, 3, 4], "what came within the linger, not what came after");
        assert!(Instant::now() - started >= LINGER);
        sender.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_is_big_enough_or_whose_senders_are_gone_goes_at_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut batch = vec![1];
        tx.send(2).unwrap();
        tx.send(3).unwrap();
        let started = Instant::now();
        gather(&mut rx, &mut batch, 3, started + LINGER).await;
        assert_eq!((batch.len(), Instant::now()), (3, started), "enough already: no wait");

        drop(tx);
        let mut batch = vec![1];
        gather(&mut rx, &mut batch, 16, started + LINGER).await;
        assert_eq!((batch.len(), Instant::now()), (1, started), "the worker is stopping: no wait");
    }

    #[test]
    fn a_worker_with_few_slots_does_not_linger() {
        assert_eq!(linger_below(2048), 16);
        assert_eq!(linger_below(8), 2);
        assert_eq!(linger_below(3), 0, "a batch is never smaller than nothing: written at once");
    }
}
