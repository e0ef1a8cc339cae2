//! Group commit for manual starts: concurrent `execute` calls share one
//! transaction (one WAL write on SQLite, one fsync round on PostgreSQL),
//! which also reads their templates, so a start costs no round trip of its
//! own. Each caller still waits until its execution is committed before it
//! answers 202; a batch that fails is retried one execution at a time, so one
//! bad start cannot fail the others.

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::store::{self, ExecutionRow, TemplateRow};
use super::triggers::{insert_started, new_execution};
use crate::store::Db;
use crate::{Error, Result};

/// Most executions committed together.
const MAX_BATCH: usize = 256;

/// A manual start of a template, as asked.
pub(crate) struct Start {
    pub template_id: String,
    pub trigger_data: Value,
    pub now: i64,
}

type Job = (Start, oneshot::Sender<Result<String>>);

pub(crate) struct Starter {
    tx: mpsc::Sender<Job>,
}

impl Starter {
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(run(db, rx));
        Starter { tx }
    }

    /// Commits an execution of the template (with its due row and the
    /// template's usage); returns its id once it is durable. A template that
    /// is gone or inactive is refused.
    pub async fn submit(&self, start: Start) -> Result<String> {
        let (done, wait) = oneshot::channel();
        self.tx.send((start, done)).await.map_err(|_| Error::internal("the workflow starter stopped"))?;
        wait.await.map_err(|_| Error::internal("the workflow starter stopped"))?
    }
}

/// The execution `start` asks for, of `template` as it is now.
fn execution_of(start: &Start, template: Option<&TemplateRow>) -> Result<ExecutionRow> {
    let t = template.ok_or(Error::NotFound("workflow template"))?;
    if !t.is_active {
        return Err(Error::Conflict("this template is inactive; activate it to run it".into()));
    }
    Ok(new_execution(Some(t), &t.name, "manual", &t.actions, &start.trigger_data, &[], start.now))
}

/// Stores the executions of `starts` in one transaction: each one's id, or why it was refused.
async fn store(db: &Db, starts: &[&Start]) -> Result<Vec<Result<String>>> {
    let mut tx = db.begin().await?;
    let mut ids: Vec<&str> = starts.iter().map(|s| s.template_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let templates = store::templates_in(&mut tx, &ids).await?;
    let answers: Vec<Result<ExecutionRow>> =
        starts.iter().map(|s| execution_of(s, templates.iter().find(|t| t.id == s.template_id))).collect();
    let rows: Vec<ExecutionRow> = answers.iter().filter_map(|a| a.as_ref().ok()).cloned().collect();
    let now = rows.iter().map(|r| r.created_at).max().unwrap_or_default();
    insert_started(&mut tx, &rows, now).await?;
    tx.commit().await?;
    Ok(answers.into_iter().map(|a| a.map(|r| r.id)).collect())
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (starts, replies): (Vec<Start>, Vec<_>) = jobs.drain(..).unzip();
        if starts.len() > 1 {
            if let Ok(answers) = store(&db, &starts.iter().collect::<Vec<_>>()).await {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(answer);
                }
                continue;
            }
        }
        for (start, reply) in starts.iter().zip(replies) {
            let answer = store(&db, &[start]).await.and_then(|mut a| a.pop().expect("one answer per start"));
            let _ = reply.send(answer);
        }
    }
}
