//! The engine: the due-work handler of `kinds::WORKFLOW`. A claim runs an
//! execution's steps, in one transaction fenced by the execution's lease,
//! until one waits, ends, fails, or a batch is done. Steps that stay inside
//! the database (conditions, emails to the outbox, notifications, record
//! changes, starting branches) commit together: a crash redoes them all or
//! none. A step that calls out (a webhook) commits what came before it first,
//! makes its call outside any transaction, and records the answer in a new
//! one; so no transaction is ever held across a call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Value};
use wire::workflows::Action;

use super::actions::{self, Outcome, StepContext};
use super::step::{advance, status_label, variables, IfEmpty};
use super::store::{self, ExecutionRow, StepRow};
use super::template::{self, Path};
use super::writes::Writes;
use crate::auth::{Principal, PrincipalKind, Role};
use crate::due::{self, kinds, Claimed, Handler, Room, Runner};
use crate::records::Cause;
use crate::store::Tx;
use crate::webhooks::Accepted;
use crate::{Error, Result, Services};

/// Steps one claim runs before giving others a turn.
const STEPS_PER_CLAIM: usize = 50;
/// Executions in hand at once.
const IN_HAND: usize = 256;
/// Claimed executions whose steps share one transaction.
const GROUP: usize = 32;

/// Who a workflow acts as: the system, named after the execution.
fn actor(execution_id: &str) -> Principal {
    Principal { id: execution_id.to_string(), name: "workflow".into(), role: Role::Admin, kind: PrincipalKind::System }
}

pub struct WorkflowHandler {
    services: Services,
    in_hand: Arc<AtomicUsize>,
}

impl WorkflowHandler {
    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(WorkflowHandler { services, in_hand: Arc::default() })
    }
}

impl Handler for WorkflowHandler {
    fn kind(&self) -> &'static str {
        kinds::WORKFLOW
    }

    fn room(&self) -> Room {
        Room { free: IN_HAND.saturating_sub(self.in_hand.load(Ordering::Relaxed)), skip: Vec::new() }
    }

    fn start(&self, rows: Vec<Claimed>) {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let group: Vec<Claimed> = rows.by_ref().take(GROUP).collect();
            self.in_hand.fetch_add(group.len(), Ordering::Relaxed);
            let (s, in_hand) = (self.services.clone(), self.in_hand.clone());
            tokio::spawn(async move {
                let n = group.len();
                run_group(&s, group).await;
                // Wake a runner waiting for room once half of it is free, so that it claims
                // in batches rather than one row per finished execution.
                if in_hand.fetch_sub(n, Ordering::Relaxed) - n <= IN_HAND / 2 {
                    s.room_freed.notify_one();
                }
            });
        }
    }

    fn stop(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

fn cursor_of(e: &ExecutionRow) -> Option<Path> {
    e.cursor.as_deref().and_then(|c| serde_json::from_str(c).ok())
}

fn step_id(execution_id: &str, action_id: &str) -> String {
    format!("stp_{}_{action_id}", execution_id.trim_start_matches("exe_"))
}

fn ended(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// What a batch did, told after its commit.
#[derive(Default)]
struct Told {
    emitted: Vec<Accepted>,
    steps: Vec<(&'static str, f64)>,
    ended: Option<&'static str>,
    more: bool,
}

impl Told {
    fn tell(&mut self, s: &Services) {
        s.emitted(&self.emitted);
        for (status, secs) in self.steps.drain(..) {
            s.metrics.workflow_steps.get_or_create(&crate::metrics::OutcomeLabels { outcome: status }).inc();
            s.metrics.workflow_step_seconds.observe(secs);
        }
        if let Some(outcome) = self.ended.take() {
            s.metrics.workflow_executions.get_or_create(&crate::metrics::OutcomeLabels { outcome }).inc();
        }
        if std::mem::take(&mut self.more) {
            s.due_work_added();
        }
        self.emitted.clear();
        s.events_changed();
    }
}

/// What a claimed row's steps start from: its execution (None when it is
/// gone) and the steps it ran so far.
type Loaded = (Option<ExecutionRow>, Vec<StepRow>);

/// Reads (and on PostgreSQL locks) the executions of `rows` and their steps, in `tx`.
async fn load(tx: &mut Tx, rows: &[&Claimed]) -> Result<HashMap<String, Loaded>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.subject_id.as_str()).collect();
    let mut out: HashMap<String, Loaded> = HashMap::with_capacity(ids.len());
    let executions = store::lock_executions(tx, &ids).await?;
    // A pending execution has no steps yet (the claim that ran its first ones would have moved it on).
    let started: Vec<&str> = executions.iter().filter(|e| e.status != "pending").map(|e| e.id.as_str()).collect();
    let steps = if started.is_empty() { Vec::new() } else { store::steps_of(tx, &started).await? };
    for e in executions {
        out.insert(e.id.clone(), (Some(e), Vec::new()));
    }
    for st in steps {
        if let Some((_, list)) = out.get_mut(&st.execution_id) {
            list.push(st);
        }
    }
    Ok(out)
}

/// A webhook step reached: its call happens outside any transaction.
struct Call {
    exec: ExecutionRow,
    action: Action,
    path: Path,
    vars: Value,
    attempts: i64,
    cause: Cause,
    now: i64,
}

enum Flow {
    /// The claim's work is written (to commit).
    Done,
    /// What came before is written (to commit); then the call, then [`steps`] again with its outcome.
    Call(Box<Call>),
}

/// Runs claimed executions, their steps sharing one transaction; one that
/// reaches a webhook, or a group that fails, goes on alone.
async fn run_group(s: &Services, rows: Vec<Claimed>) {
    if rows.len() > 1 {
        let owner = Runner::owner(s);
        let shared = async {
            let mut tx = s.db.begin().await?;
            let mut told = Told::default();
            let mut writes = Writes::default();
            let mut alone = Vec::new();
            let until = s.now_ms() + s.settings.worker.lease_ms;
            let leases: Vec<_> = rows.iter().map(Claimed::lease).collect();
            let held = due::store::hold_all(&mut tx, &owner, &leases.iter().collect::<Vec<_>>(), until).await?;
            // Someone else has the others now (or they were cancelled).
            let mine: Vec<&Claimed> = rows.iter().filter(|r| held.contains(&r.lease())).collect();
            let mut loaded = load(&mut tx, &mine).await?;
            for (i, row) in rows.iter().enumerate().filter(|(_, r)| held.contains(&r.lease())) {
                let start = loaded.remove(&row.subject_id).unwrap_or_default();
                if let Flow::Call(_) = steps(s, &mut tx, row, start, &mut writes, &mut told, None).await? {
                    alone.push(i);
                }
            }
            writes.flush(&mut tx, &owner).await?;
            tx.commit().await?;
            told.tell(s);
            Ok::<_, Error>(alone)
        };
        match shared.await {
            Ok(alone) => {
                for i in alone {
                    run_alone(s, &rows[i]).await;
                }
                return;
            }
            Err(e) => tracing::debug!(error = %e, "a group of workflow steps failed; each runs on its own"),
        }
    }
    for row in &rows {
        run_alone(s, row).await;
    }
}

/// Runs one claimed execution; a failure is recorded on its due row (retried, dead after too many).
async fn run_alone(s: &Services, row: &Claimed) {
    if let Err(e) = run(s, row).await {
        tracing::warn!(error = %e, execution = %row.subject_id, "a workflow step could not be recorded; it is tried again");
        due::record_failure(s, row, &e.to_string(), 5_000).await;
    }
}

/// Runs the execution of a claimed row for up to a batch of steps, making
/// each webhook call between two transactions.
async fn run(s: &Services, row: &Claimed) -> Result<()> {
    let owner = Runner::owner(s);
    let env = super::render::environment(s.settings.timezone);
    let mut called = None;
    loop {
        let mut tx = s.db.begin().await?;
        let until = s.now_ms() + s.settings.worker.lease_ms;
        if !due::store::holds(&mut tx, &owner, &row.lease(), until).await? {
            return Ok(()); // Someone else has it now (or it was cancelled): write nothing.
        }
        let start = load(&mut tx, &[row]).await?.remove(&row.subject_id).unwrap_or_default();
        let mut told = Told::default();
        let mut writes = Writes::default();
        let flow = steps(s, &mut tx, row, start, &mut writes, &mut told, called.take()).await?;
        writes.flush(&mut tx, &owner).await?;
        tx.commit().await?;
        told.tell(s);
        let Flow::Call(c) = flow else { return Ok(()) };
        let cx = StepContext {
            services: s,
            execution: &c.exec,
            vars: &c.vars,
            now: c.now,
            env: &env,
            cause: c.cause.clone(),
            attempts: c.attempts,
        };
        called = Some((c.path.clone(), actions::webhook(&cx, &c.action).await));
    }
}

/// Runs steps of the claimed execution in `tx` (which holds its row) until
/// one stops it, a batch is done, or a webhook is next (`Flow::Call`);
/// `called` is the outcome of the call a previous pass stopped for. What
/// the steps change goes to `writes`, flushed before anything that reads it.
#[allow(clippy::too_many_arguments)]
async fn steps(
    s: &Services,
    tx: &mut Tx,
    row: &Claimed,
    (exec, mut steps): Loaded,
    writes: &mut Writes,
    told: &mut Told,
    mut called: Option<(Path, Outcome)>,
) -> Result<Flow> {
    let owner = Runner::owner(s);
    let lease = row.lease();
    let env = super::render::environment(s.settings.timezone);
    let Some(mut exec) = exec else {
        writes.finish(lease);
        return Ok(Flow::Done);
    };
    let actions: Vec<Action> = serde_json::from_str(&exec.actions).map_err(Error::internal)?;
    let mut ran = 0;
    // The execution row is written once per batch, and before anything that may read it.
    let mut dirty = false;
    loop {
        if ended(&exec.status) {
            writes.finish(lease);
            break;
        }
        let Some((path, action)) = cursor_of(&exec).and_then(|p| template::action_at(&actions, &p).map(|a| (p, a)))
        else {
            complete(tx, writes, &mut exec, s.now_ms()).await?;
            dirty = false;
            writes.finish(lease);
            told.ended = Some("completed");
            break;
        };
        if ran >= STEPS_PER_CLAIM {
            // A long run of quick steps: give the rest of the queue a turn, and come back at once.
            writes.reschedule(lease, s.now_ms());
            told.more = true;
            break;
        }
        let began = std::time::Instant::now();
        let now = s.now_ms();
        let existing = steps.iter().find(|st| st.action_id == action.id).cloned();
        let attempts = existing
            .as_ref()
            .and_then(|st| serde_json::from_str::<Value>(&st.output).ok())
            .and_then(|o| o["attempts"].as_i64())
            .unwrap_or(0);
        let cause = Cause::by_execution(
            &Cause { chain: exec.cause.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default() },
            &exec.id,
        );
        let vars = variables(tx, &exec, now).await?;
        if matches!(
            action.action_type.as_str(),
            "webhook" | "create_record" | "update_record" | "parallel" | "run_workflow"
        ) {
            // These commit, or read other executions (a record's waits, a branch's children): the rows must be current.
            if dirty {
                writes.execution(&exec);
            }
            writes.flush(tx, &owner).await?;
        }
        // The answer of the call a previous pass stopped for, if it was for this step.
        let answer = called.take().filter(|(p, _)| *p == path).map(|(_, o)| o);
        if action.action_type == "webhook" && answer.is_none() {
            // The call happens with no transaction open: what came before commits first (saved above).
            return Ok(Flow::Call(Box::new(Call { exec, action, path, vars, attempts, cause, now })));
        }
        let cx = StepContext { services: s, execution: &exec, vars: &vars, now, env: &env, cause, attempts };
        let mut emitted = Vec::new();
        let outcome = match (action.action_type.as_str(), answer) {
            (_, Some(o)) => o,
            ("wait", _) => match existing.as_ref().filter(|st| st.status == "waiting") {
                // Back from the wait: it is over (or it was moved earlier).
                Some(_) if exec.waiting_until.is_none_or(|t| t <= now) => {
                    if let Some(t) = exec.waiting_until {
                        s.metrics.workflow_timer_lateness_seconds.observe((now - t) as f64 / 1000.0);
                    }
                    Outcome::Done {
                        output: json!({"waitedUntil": exec.waiting_until.map(crate::clock::rfc3339)}),
                        branch: None,
                    }
                }
                Some(_) => Outcome::Wait { until: exec.waiting_until.unwrap_or(now), anchor: None },
                None => actions::wait_until(&cx, &action),
            },
            ("condition", _) => actions::condition(&cx, &action),
            ("parallel" | "run_workflow", _) => super::children::step(&cx, tx, &action, existing.as_ref()).await?,
            ("send_email", _) => actions::send_email(&cx, tx, &action).await?,
            ("send_notification", _) => actions::send_notification(&cx, tx, &action).await?,
            ("create_record" | "update_record", _) => {
                let (o, e) = actions::record(&cx, tx, &action, &actor(&exec.id)).await?;
                emitted = e;
                o
            }
            (other, _) => Outcome::Failed { error: format!("unknown action type {other:?}") },
        };
        let mut step = StepRow {
            id: step_id(&exec.id, &action.id),
            execution_id: exec.id.clone(),
            action_id: action.id.clone(),
            action_type: action.action_type.clone(),
            action_name: action.name.clone(),
            action_config: action.config.to_string(),
            status: String::new(),
            output: "{}".into(),
            error: None,
            branch: None,
            started_at: existing.as_ref().map(|st| st.started_at).unwrap_or(now),
            completed_at: None,
            seq: existing
                .as_ref()
                .map(|st| st.seq)
                .unwrap_or_else(|| steps.iter().map(|st| st.seq).max().unwrap_or(0) + 1),
        };
        exec.updated_at = now;
        exec.current_action_id = Some(action.id.clone());
        let mut stop = true;
        match outcome {
            Outcome::Wait { until, anchor } if until > now => {
                step.status = "waiting".into();
                step.output = json!({"until": crate::clock::rfc3339(until)}).to_string();
                exec.status = "waiting".into();
                exec.waiting_until = Some(until);
                exec.wait_record_id = anchor.as_ref().map(|a| a.record_id.clone());
                exec.wait_field = anchor.as_ref().map(|a| a.field.clone());
                exec.wait_offset_ms = anchor.map(|a| a.offset_ms);
                writes.reschedule(lease.clone(), until);
            }
            Outcome::Wait { until, .. } => {
                // A time already past: the wait is over at once.
                let output = json!({"waitedUntil": crate::clock::rfc3339(until)});
                advance(&mut exec, &mut step, &actions, &path, output, None, now);
                stop = false;
            }
            Outcome::Done { output, branch } => {
                advance(&mut exec, &mut step, &actions, &path, output, branch, now);
                stop = false;
            }
            Outcome::Join { output } => {
                step.status = "waiting".into();
                step.output = output.to_string();
                exec.status = "waiting".into();
                exec.waiting_until = None;
                // No due row while it waits: each child schedules it when it ends.
                writes.finish(lease.clone());
            }
            Outcome::Retry { at, error, output } => {
                let mut o = output;
                o["attempts"] = json!(attempts + 1);
                step.status = "running".into();
                step.output = o.to_string();
                step.error = Some(error);
                exec.status = "running".into();
                writes.reschedule(lease.clone(), at);
            }
            Outcome::Failed { error } => {
                step.status = "failed".into();
                step.error = Some(error.clone());
                step.completed_at = Some(now);
                exec.status = "failed".into();
                exec.error =
                    Some(format!("{} ({}): {error}", action.name.clone().if_empty(&action.id), action.action_type));
                exec.completed_at = Some(now);
                exec.cursor = Some(serde_json::to_string(&path).expect("paths serialise"));
                writes.finish(lease.clone());
                super::children::ended_in(tx, &exec, now).await?;
                told.ended = Some("failed");
            }
        }
        writes.step(&step);
        dirty = true;
        told.emitted.extend(emitted);
        told.steps.push((status_label(&step.status), began.elapsed().as_secs_f64()));
        match steps.iter_mut().find(|st| st.action_id == step.action_id) {
            Some(st) => *st = step,
            None => steps.push(step),
        }
        ran += 1;
        if stop {
            break;
        }
    }
    if dirty {
        writes.execution(&exec);
    }
    Ok(Flow::Done)
}

/// The execution ran its last step.
async fn complete(tx: &mut Tx, writes: &mut Writes, e: &mut ExecutionRow, now: i64) -> Result<()> {
    e.status = "completed".into();
    e.completed_at = Some(now);
    e.updated_at = now;
    e.cursor = None;
    writes.execution(e);
    super::children::ended_in(tx, e, now).await
}
