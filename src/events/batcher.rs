//! Group commit for ingest: concurrent `publish` calls share one transaction.
//!
//! Each caller still waits until *its* event is committed before it answers
//! 202, so durability is unchanged; what changes is that one commit (one WAL
//! write on SQLite, one round of fsync on PostgreSQL) serves many events.
//!
//! The writer is also where the hot path starts (see `delivery::dispatch`):
//! it reserves worker slots before the insert, writes those deliveries leased,
//! and hands them to the worker once the commit succeeded.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Notify};

use super::ingest::{store_events, NewDelivery};
use crate::delivery::dispatch::{Dispatcher, DispatcherSlot, HotDelivery};
use crate::due::Lease;
use crate::signals::{Signal, Signals};
use crate::store::Db;
use crate::webhooks::Accepted;
use crate::Result;

/// Most events committed together.
const MAX_BATCH: usize = 256;

/// An event ready to store: validated, fanned out, its request body built.
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    pub accepted: Accepted,
    pub event_type: String,
    pub data: String,
    pub key: Option<String>,
    /// The request body every delivery of this event sends (JSON text).
    pub body: Bytes,
    pub deliveries: Vec<NewDelivery>,
    /// Workflow executions the event starts, written in its transaction.
    pub executions: Vec<crate::workflows::store::ExecutionRow>,
    pub now: i64,
}

impl PendingEvent {
    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("request bodies are built from JSON text")
    }
}

type Job = (PendingEvent, oneshot::Sender<Result<()>>);

pub(crate) struct IngestBatcher {
    tx: mpsc::Sender<Job>,
}

impl IngestBatcher {
    pub fn start(db: Db, dispatcher: DispatcherSlot, wake: Arc<Notify>, signals: SignalSlot) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(run(db, dispatcher, Waker { local: wake, signals }, rx));
        IngestBatcher { tx }
    }

    pub async fn submit(&self, event: PendingEvent) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((event, done)).await.map_err(|_| crate::Error::internal("the ingest writer stopped"))?;
        wait.await.map_err(|_| crate::Error::internal("the ingest writer stopped"))?
    }
}

type SignalSlot = Arc<std::sync::OnceLock<Signals>>;

/// Wakes this instance's worker and, through Redis, the other instances'.
struct Waker {
    local: Arc<Notify>,
    signals: SignalSlot,
}

impl Waker {
    fn wake(&self) {
        self.local.notify_one();
        if let Some(s) = self.signals.get() {
            s.send(Signal::DueWork);
        }
    }
}

async fn run(db: Db, slot: DispatcherSlot, wake: Waker, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (mut events, replies): (Vec<PendingEvent>, Vec<_>) = jobs.drain(..).unzip();
        let dispatcher = slot.lock().expect("dispatcher slot").clone();
        if let Some(d) = &dispatcher {
            for delivery in events.iter_mut().flat_map(|e| e.deliveries.iter_mut()) {
                delivery.leased = d.try_reserve(&delivery.webhook_id);
            }
        }
        let (owner, lease_ms) = dispatcher.as_ref().map(|d| (d.owner.as_str(), d.lease_ms)).unwrap_or(("", 0));
        let mut stored = Vec::with_capacity(events.len());
        if events.len() > 1 && store_events(&db, &events, owner, lease_ms).await.is_ok() {
            for (event, reply) in events.into_iter().zip(replies) {
                let _ = reply.send(Ok(()));
                stored.push(event);
            }
        } else {
            // Alone, or the shared transaction failed (say, one duplicate id): commit
            // each event on its own so one bad event cannot fail the others.
            for (event, reply) in events.into_iter().zip(replies) {
                let result = store_events(&db, std::slice::from_ref(&event), owner, lease_ms).await;
                if result.is_ok() {
                    stored.push(event);
                } else if let Some(d) = &dispatcher {
                    d.release(event.deliveries.iter().filter(|n| n.leased).map(|n| n.webhook_id.as_str()));
                }
                let _ = reply.send(result);
            }
        }
        hand_over(&db, dispatcher.as_deref(), &wake, stored).await;
    }
}

/// Passes the leased deliveries of committed events to the worker, and wakes
/// it for the rest (they wait in the database for a free slot).
async fn hand_over(db: &Db, dispatcher: Option<&Dispatcher>, wake: &Waker, stored: Vec<PendingEvent>) {
    let mut hot = Vec::new();
    let mut queued = false;
    let now = stored.iter().map(|e| e.now).max().unwrap_or_default();
    for e in stored {
        queued |= !e.executions.is_empty();
        for d in e.deliveries {
            if d.leased {
                hot.push(HotDelivery {
                    lease: Lease { id: d.due_id, fence: 1 },
                    id: d.id,
                    webhook_id: d.webhook_id,
                    payload: e.body.clone(),
                });
            } else {
                queued = true;
            }
        }
    }
    if let (Some(d), false) = (dispatcher, hot.is_empty()) {
        if let Err(unsent) = d.hand_over(hot) {
            // The worker stopped between the reservation and now: give the rows back to the queue.
            d.release(unsent.iter().map(|h| h.webhook_id.as_str()));
            let leases: Vec<&Lease> = unsent.iter().map(|h| &h.lease).collect();
            let released = async {
                let mut tx = db.begin().await?;
                crate::due::store::release(&mut tx, &d.owner, &leases, now).await?;
                tx.commit().await
            };
            if let Err(e) = released.await {
                tracing::warn!(error = %e, count = unsent.len(), "the delivery worker stopped; hot deliveries wait for their leases to end");
            }
            queued = true;
        }
    }
    if queued {
        wake.wake();
    }
}
