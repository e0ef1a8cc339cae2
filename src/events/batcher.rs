//! Group commit for ingest: concurrent `publish` calls share one transaction.
//!
//! Each caller still waits until *its* event is committed before it answers
//! 202, so durability is unchanged; what changes is that one commit (one WAL
//! write on SQLite, one round of fsync on PostgreSQL) serves many events.

use tokio::sync::{mpsc, oneshot};

use super::ingest::NewDelivery;
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
    pub body: String,
    pub deliveries: Vec<NewDelivery>,
    pub now: i64,
}

type Job = (PendingEvent, oneshot::Sender<Result<()>>);

pub(crate) struct IngestBatcher {
    tx: mpsc::Sender<Job>,
}

impl IngestBatcher {
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(run(db, rx));
        IngestBatcher { tx }
    }

    pub async fn submit(&self, event: PendingEvent) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((event, done)).await.map_err(|_| crate::Error::internal("the ingest writer stopped"))?;
        wait.await.map_err(|_| crate::Error::internal("the ingest writer stopped"))?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let events: Vec<PendingEvent> = jobs.iter().map(|(e, _)| e.clone()).collect();
        if jobs.len() > 1 && db.insert_events(&events).await.is_ok() {
            for (_, done) in jobs.drain(..) {
                let _ = done.send(Ok(()));
            }
            continue;
        }
        // Alone, or the shared transaction failed (say, one duplicate id): commit
        // each event on its own so one bad event cannot fail the others.
        for (event, done) in jobs.drain(..) {
            let _ = done.send(db.insert_events(std::slice::from_ref(&event)).await);
        }
    }
}
