//! Group commit for manual starts: concurrent `execute` calls share one
//! transaction (one WAL write on SQLite, one fsync round on PostgreSQL).
//! Each caller still waits until its execution is committed before it
//! answers 202; a batch that fails is retried one execution at a time, so one
//! bad start cannot fail the others.

use tokio::sync::{mpsc, oneshot};

use super::store::ExecutionRow;
use super::triggers::insert_started;
use crate::store::Db;
use crate::Result;

/// Most executions committed together.
const MAX_BATCH: usize = 256;

type Job = (ExecutionRow, oneshot::Sender<Result<()>>);

pub(crate) struct Starter {
    tx: mpsc::Sender<Job>,
}

impl Starter {
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(run(db, rx));
        Starter { tx }
    }

    /// Commits `execution` (with its due row and its template's usage); returns once it is durable.
    pub async fn submit(&self, execution: ExecutionRow) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((execution, done)).await.map_err(|_| crate::Error::internal("the workflow starter stopped"))?;
        wait.await.map_err(|_| crate::Error::internal("the workflow starter stopped"))?
    }
}

async fn store(db: &Db, rows: &[ExecutionRow]) -> Result<()> {
    let now = rows.iter().map(|r| r.created_at).max().unwrap_or_default();
    let mut tx = db.begin().await?;
    insert_started(&mut tx, rows, now).await?;
    tx.commit().await
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (rows, replies): (Vec<ExecutionRow>, Vec<_>) = jobs.drain(..).unzip();
        if rows.len() > 1 && store(&db, &rows).await.is_ok() {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
            continue;
        }
        for (row, reply) in rows.into_iter().zip(replies) {
            let _ = reply.send(store(&db, std::slice::from_ref(&row)).await);
        }
    }
}
