//! Deliveries as due work: the handler the runner hands claimed delivery
//! rows to, and the receiving end of the hot path from ingest.
//!
//! Invariants:
//! - An endpoint never has more than `per_endpoint` attempts in flight, nor
//!   more than its hand (see `dispatch`) of deliveries in this worker, and
//!   endpoints whose hand is full are skipped when claiming, so a slow or
//!   dead endpoint cannot occupy the slots that healthy endpoints need.
//! - Every claimed row either gets an attempt and a recorded outcome, or is
//!   given back (fenced) at once: claims that find no slot, rows whose
//!   delivery is gone, and hot deliveries not yet started at shutdown.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::attempt::{attempt, Completion, Job};
use super::dispatch::{Dispatcher, HotDelivery};
use super::record::complete_loop;
use crate::due::{self, kinds, Claimed, Handler, Lease, Room, Runner};
use crate::metrics::PathLabels;
use crate::{Result, Services};

pub struct DeliveryHandler {
    services: Services,
    dispatcher: Arc<Dispatcher>,
    done: Mutex<Option<mpsc::UnboundedSender<Completion>>>,
    stop_hot: watch::Sender<bool>,
    tasks: Mutex<Option<Tasks>>,
}

/// The hot-path receiver (it returns what it was handed but did not start) and the outcome writer.
type Tasks = (JoinHandle<Vec<HotDelivery>>, JoinHandle<()>);

impl DeliveryHandler {
    /// Starts the hot-path receiver and the outcome writer, and tells ingest
    /// it may hand deliveries to this process.
    pub fn start(services: Services) -> Arc<Self> {
        let (dispatcher, hot) =
            Dispatcher::new(Runner::owner(&services), &services.settings.worker, services.room_freed.clone());
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Completion>();
        let (stop_hot, stop_rx) = watch::channel(false);
        let completer = tokio::spawn(complete_loop(services.clone(), done_rx, dispatcher.clone()));
        let hot_task = tokio::spawn(hot_loop(services.clone(), dispatcher.clone(), hot, done_tx.clone(), stop_rx));
        *services.dispatcher.lock().expect("dispatcher slot") = Some(dispatcher.clone());
        let cfg = &services.settings.worker;
        tracing::info!(owner = %dispatcher.owner, concurrency = cfg.concurrency, per_endpoint = cfg.per_endpoint, "delivery handler started");
        Arc::new(DeliveryHandler {
            services,
            dispatcher,
            done: Mutex::new(Some(done_tx)),
            stop_hot,
            tasks: Mutex::new(Some((hot_task, completer))),
        })
    }

    fn done(&self) -> Option<mpsc::UnboundedSender<Completion>> {
        self.done.lock().expect("done lock").clone()
    }
}

impl Handler for DeliveryHandler {
    fn kind(&self) -> &'static str {
        kinds::DELIVERY
    }

    fn room(&self) -> Room {
        let (free, skip) = self.dispatcher.room();
        Room { free, skip }
    }

    fn start(&self, rows: Vec<Claimed>) {
        let Some(done) = self.done() else { return };
        let (s, d) = (self.services.clone(), self.dispatcher.clone());
        tokio::spawn(async move {
            match prepare(&s, &d, rows).await {
                Ok(jobs) => {
                    s.metrics
                        .deliveries_dispatched
                        .get_or_create(&PathLabels { path: "claimed" })
                        .inc_by(jobs.len() as u64);
                    for job in jobs {
                        spawn_attempt(&s, &d, job, &done);
                    }
                }
                Err(e) => tracing::error!(error = %e, "starting claimed deliveries failed; their leases will expire"),
            }
        });
    }

    fn stop(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let s = &self.services;
            // Ingest stops handing work here; what was handed but not started goes back to the queue.
            *s.dispatcher.lock().expect("dispatcher slot") = None;
            let _ = self.stop_hot.send(true);
            self.dispatcher.stop_sending();
            let tasks = self.tasks.lock().expect("tasks lock").take();
            let Some((hot_task, completer)) = tasks else { return };
            let unsent = hot_task.await.unwrap_or_default();
            if !unsent.is_empty() {
                let leases: Vec<&Lease> = unsent.iter().map(|h| &h.lease).collect();
                if let Err(e) = give_back(s, &self.dispatcher.owner, &leases).await {
                    tracing::warn!(error = %e, "could not release hot deliveries at shutdown; their leases will expire");
                }
                self.dispatcher.release(unsent.iter().map(|h| h.webhook_id.as_str()));
            }
            // Let attempts in flight finish (bounded by the request timeout: those
            // still waiting at their endpoint's gate give their rows back instead).
            let deadline = Instant::now() + s.settings.request_timeout + Duration::from_secs(1);
            while self.dispatcher.in_flight() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.done.lock().expect("done lock").take();
            let _ = completer.await;
            tracing::info!("delivery handler stopped");
        })
    }
}

async fn give_back(s: &Services, owner: &str, leases: &[&Lease]) -> Result<u64> {
    let mut tx = s.db.begin().await?;
    let n = due::store::release(&mut tx, owner, leases, s.now_ms()).await?;
    tx.commit().await?;
    Ok(n)
}

/// Sends what ingest hands over until told to stop; returns what was left unsent.
async fn hot_loop(
    s: Services,
    dispatcher: Arc<Dispatcher>,
    mut rx: mpsc::UnboundedReceiver<Vec<HotDelivery>>,
    done: mpsc::UnboundedSender<Completion>,
    mut stop: watch::Receiver<bool>,
) -> Vec<HotDelivery> {
    loop {
        tokio::select! {
            batch = rx.recv() => match batch {
                Some(batch) => {
                    s.metrics.deliveries_dispatched.get_or_create(&PathLabels { path: "hot" }).inc_by(batch.len() as u64);
                    for h in batch {
                        let job = Job { lease: h.lease, id: h.id, webhook_id: h.webhook_id, attempts_made: 0, payload: h.payload, pending: true };
                        spawn_attempt(&s, &dispatcher, job, &done);
                    }
                }
                None => return Vec::new(),
            },
            _ = stop.changed() => {
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

/// Reserves a slot for each claimed row and loads its delivery. What finds
/// no slot is handed back at once, so it waits in the database, not here;
/// rows whose delivery no longer exists are finished.
async fn prepare(s: &Services, dispatcher: &Dispatcher, claimed: Vec<Claimed>) -> Result<Vec<Job>> {
    let (mut reserved, mut excess) = (Vec::with_capacity(claimed.len()), Vec::new());
    for c in claimed {
        if dispatcher.try_reserve(&c.partition_key) {
            reserved.push(c);
        } else {
            excess.push(c);
        }
    }
    let give_slots_back = |which: &[&Claimed]| dispatcher.release(which.iter().map(|c| c.partition_key.as_str()));
    let all: Vec<&Claimed> = reserved.iter().collect();
    if !excess.is_empty() {
        let leases: Vec<Lease> = excess.iter().map(Claimed::lease).collect();
        if let Err(e) = give_back(s, &dispatcher.owner, &leases.iter().collect::<Vec<_>>()).await {
            give_slots_back(&all);
            return Err(e);
        }
    }
    let ids: Vec<&str> = reserved.iter().map(|c| c.subject_id.as_str()).collect();
    let loaded = match s.db.pending_deliveries(&ids).await {
        Ok(l) => l,
        Err(e) => {
            give_slots_back(&all);
            return Err(e);
        }
    };
    let found: HashSet<&str> = loaded.iter().map(|d| d.id.as_str()).collect();
    let orphans: Vec<&Claimed> = reserved.iter().filter(|c| !found.contains(c.subject_id.as_str())).collect();
    if !orphans.is_empty() {
        // The delivery row is gone (its webhook was deleted): drop the work.
        give_slots_back(&orphans);
        let leases: Vec<Lease> = orphans.iter().map(|c| c.lease()).collect();
        let dropped = async {
            let mut tx = s.db.begin().await?;
            due::store::finish(&mut tx, &dispatcher.owner, &leases.iter().collect::<Vec<_>>()).await?;
            tx.commit().await
        };
        if let Err(e) = dropped.await {
            // Not fatal: the leases run out and the rows are looked at again.
            tracing::warn!(error = %e, "could not drop due work whose delivery is gone");
        }
    }
    let by_subject: std::collections::HashMap<&str, &Claimed> =
        reserved.iter().map(|c| (c.subject_id.as_str(), c)).collect();
    Ok(loaded
        .into_iter()
        .filter_map(|d| {
            let c = by_subject.get(d.id.as_str())?;
            Some(Job {
                lease: c.lease(),
                pending: d.status == "pending",
                attempts_made: d.attempt,
                payload: bytes::Bytes::from(d.body),
                webhook_id: d.webhook_id,
                id: d.id,
            })
        })
        .collect())
}

fn spawn_attempt(s: &Services, d: &Arc<Dispatcher>, job: Job, done: &mpsc::UnboundedSender<Completion>) {
    let (services, dispatcher, done) = (s.clone(), d.clone(), done.clone());
    tokio::spawn(async move {
        let partition = job.webhook_id.clone();
        let mut unwinding =
            GiveBackOnPanic { dispatcher: dispatcher.clone(), endpoint: partition.clone(), armed: true };
        let request = dispatcher.request_slot(&partition).await;
        let completion = if dispatcher.sending() {
            attempt(&services, job).await
        } else {
            // Stopping: no new request; the row is due again at once, for whoever runs next.
            Completion::Deferred { lease: job.lease, delivery_id: job.id, at: services.now_ms() }
        };
        drop(request);
        unwinding.armed = false;
        dispatcher.request_done(&partition);
        if done.send(completion).is_err() {
            // The writer is gone (shutting down): the lease expires and the row is claimed again.
            dispatcher.committed(1);
        }
    });
}

/// An attempt that panicked gives its places in the hand and in all back
/// (its lease runs out and the row is claimed again); without this they
/// would stay taken for good.
struct GiveBackOnPanic {
    dispatcher: Arc<Dispatcher>,
    endpoint: String,
    armed: bool,
}

impl Drop for GiveBackOnPanic {
    fn drop(&mut self) {
        if self.armed {
            self.dispatcher.release([self.endpoint.as_str()]);
        }
    }
}
