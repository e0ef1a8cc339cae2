//! The one runner per process: it claims due rows of every registered kind
//! and hands them to that kind's [`Handler`].
//!
//! When nothing is due it sleeps until the next row's `available_at` (at
//! most `idle_poll_ms`), so an idle runner costs about one index probe per
//! poll; it wakes at once when this process commits due work, when another
//! instance says so through Redis, and, while due work waits for room, when
//! a handler frees some.

use std::sync::Arc;

/// After a partial claim, how soon the runner looks for the next due row (ms).
const RECHECK_MS: u64 = 10;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{watch, Notify};

use super::store::{self, ClaimRequest, Claimed};
use crate::Services;

/// How much a handler can take now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Room {
    /// Rows it can start now.
    pub free: usize,
    /// Partitions it cannot take more of (a claim leaves their rows alone).
    pub skip: Vec<String>,
}

/// Does the work of one kind of due row.
pub trait Handler: Send + Sync + 'static {
    fn kind(&self) -> &'static str;

    fn room(&self) -> Room;

    /// Takes rows the runner leased to [`Runner::owner`] for it. The handler
    /// finishes each one with a fenced write (`store::finish`,
    /// `store::reschedule`, `store::fail`), or lets its lease run out.
    fn start(&self, rows: Vec<Claimed>);

    /// The runner stopped claiming: finish or give back what is in hand.
    fn stop(self: Arc<Self>) -> BoxFuture<'static, ()>;
}

pub struct Runner {
    services: Services,
    handlers: Vec<Arc<dyn Handler>>,
}

/// Records that handling `row` failed with `error`: tried again in `retry_in_ms`,
/// dead after `due_max_attempts` (fenced: a lost lease records nothing). A
/// failure to record it is logged; the lease then ends on its own.
pub async fn record_failure(s: &Services, row: &Claimed, error: &str, retry_in_ms: i64) {
    let now = s.now_ms();
    let recorded = async {
        let mut tx = s.db.begin().await?;
        let owner = Runner::owner(s);
        store::fail(&mut tx, &owner, &row.lease(), error, now + retry_in_ms, s.settings.due_max_attempts, now).await?;
        tx.commit().await
    };
    if let Err(e) = recorded.await {
        tracing::error!(error = %e, kind = %row.kind, subject = %row.subject_id, "could not record a failed handling; its lease will end");
    }
}

impl Runner {
    pub fn new(services: Services) -> Self {
        Runner { services, handlers: Vec::new() }
    }

    pub fn with(mut self, handler: Arc<dyn Handler>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// The lease owner this process's runner writes.
    pub fn owner(services: &Services) -> String {
        services.lease_owner("runner")
    }

    /// Runs until `shutdown` turns true, then stops every handler.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let s = &self.services;
        let owner = Self::owner(s);
        let kinds: Vec<&'static str> = self.handlers.iter().map(|h| h.kind()).collect();
        if s.db.backend() == crate::store::Backend::Sqlite {
            // One process owns an SQLite file: leases held by another process are stale.
            match s.db.release_stale_leases(&s.instance, s.now_ms()).await {
                Ok(n) if n > 0 => tracing::info!(released = n, "re-queued work leased before a restart"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "could not release stale leases"),
            }
        }
        let wake: Arc<Notify> = s.wake.clone();
        let room_freed: Arc<Notify> = s.room_freed.clone();
        let cfg = s.settings.worker.clone();
        tracing::info!(%owner, kinds = ?kinds, "due-work runner started");
        while !*shutdown.borrow() {
            let now = s.now_ms();
            s.metrics.due_runner_queries.inc();
            let next = match s.db.next_available_by_kind(&kinds).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "looking for due work failed");
                    pause(&mut shutdown, Duration::from_millis(500)).await;
                    continue;
                }
            };
            let mut more = false;
            let mut claimed_any = false;
            // Due work that could not all be claimed for want of room (or of free partitions).
            let mut blocked = false;
            for (handler, at) in self.handlers.iter().zip(&next) {
                if !at.is_some_and(|t| t <= now) {
                    continue;
                }
                let room = handler.room();
                if room.free == 0 {
                    blocked = true;
                    continue;
                }
                blocked |= !room.skip.is_empty();
                let limit = room.free.min(cfg.claim_batch.max(1) as usize) as i64;
                let claimed =
                    s.db.claim_due(&ClaimRequest {
                        kind: handler.kind(),
                        owner: &owner,
                        now,
                        lease_ms: cfg.lease_ms,
                        limit,
                        skip_partitions: &room.skip,
                    })
                    .await;
                match claimed {
                    Ok(rows) => {
                        more |= rows.len() as i64 == limit;
                        claimed_any |= !rows.is_empty();
                        let rows = bury_exhausted(s, &owner, rows).await;
                        if !rows.is_empty() {
                            handler.start(rows);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, kind = handler.kind(), "claiming due work failed"),
                }
            }
            if more {
                // A full batch: more may be due right now.
                tokio::task::yield_now().await;
                continue;
            }
            let idle = Duration::from_millis(cfg.idle_poll_ms);
            let sleep = match next.iter().flatten().min() {
                // A partial claim with room to spare: the probe saw the rows just claimed, not
                // when the next one is due; look again shortly rather than a whole poll later.
                _ if claimed_any && !blocked => Duration::from_millis(RECHECK_MS).min(idle),
                Some(&t) if t > now => Duration::from_millis((t - now) as u64).min(idle),
                // Due but not claimable now (handlers full, partitions saturated): wait to be woken.
                _ => idle,
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = room_freed.notified(), if blocked => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
            }
        }
        for h in self.handlers {
            h.stop().await;
        }
        tracing::info!("due-work runner stopped");
    }
}

/// Rows claimed more often than `due_max_attempts` without a clean finish
/// crashed or wedged their handler each time: they are marked dead instead
/// of being handed out again. Returns the others.
async fn bury_exhausted(s: &Services, owner: &str, rows: Vec<Claimed>) -> Vec<Claimed> {
    let max = s.settings.due_max_attempts;
    let (exhausted, live): (Vec<Claimed>, Vec<Claimed>) = rows.into_iter().partition(|r| r.attempts > max);
    for row in exhausted {
        let message = format!("claimed {} times without finishing: its handling crashed or timed out each time", max);
        let now = s.now_ms();
        let buried = async {
            let mut tx = s.db.begin().await?;
            let dead = store::fail(&mut tx, owner, &row.lease(), &message, now, max, now).await?;
            tx.commit().await?;
            crate::Result::<Option<bool>>::Ok(dead)
        }
        .await;
        match buried {
            Ok(Some(true)) => {
                s.metrics.due_dead.inc();
                tracing::error!(id = %row.id, kind = %row.kind, subject = %row.subject_id, "due work marked dead");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, id = %row.id, "could not mark due work dead"),
        }
    }
    live
}

async fn pause(shutdown: &mut watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}
