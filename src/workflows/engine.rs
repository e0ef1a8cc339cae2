//! The engine: the due-work handler of `kinds::WORKFLOW`. A claim runs an
//! execution's steps, in one transaction fenced by the execution's lease,
//! until one waits, ends, fails, or a batch is done. Steps that stay inside
//! the database (conditions, emails to the outbox, notifications, record
//! changes, starting branches) commit together: a crash redoes them all or
//! none. A step that calls out (a webhook) commits what came before it first,
//! makes its call outside any transaction, and records the answer in a new
//! one; so no transaction is ever held across a call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Value};
use wire::workflows::Action;

use super::actions::{self, Outcome, StepContext};
use super::step::{advance, status_label, variables, IfEmpty};
use super::store::{self, ExecutionRow, StepRow};
use super::template::{self, Path};
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
        for row in rows {
            self.in_hand.fetch_add(1, Ordering::Relaxed);
            let (s, in_hand) = (self.services.clone(), self.in_hand.clone());
            tokio::spawn(async move {
                if let Err(e) = run(&s, &row).await {
                    tracing::warn!(error = %e, execution = %row.subject_id, "a workflow step could not be recorded; it is tried again");
                    let now = s.now_ms();
                    let failed = async {
                        let mut tx = s.db.begin().await?;
                        let owner = Runner::owner(&s);
                        due::store::fail(
                            &mut tx,
                            &owner,
                            &row.lease(),
                            &e.to_string(),
                            now + 5_000,
                            s.settings.due_max_attempts,
                            now,
                        )
                        .await?;
                        tx.commit().await
                    };
                    if let Err(e) = failed.await {
                        tracing::error!(error = %e, "could not record the failure either; the lease will end");
                    }
                }
                in_hand.fetch_sub(1, Ordering::Relaxed);
                s.room_freed.notify_one();
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

/// Begins a transaction that holds the claimed row (extending its lease), or None when the lease was lost.
async fn hold(s: &Services, owner: &str, row: &Claimed) -> Result<Option<Tx>> {
    let mut tx = s.db.begin().await?;
    let until = s.now_ms() + s.settings.worker.lease_ms;
    Ok(due::store::holds(&mut tx, owner, &row.lease(), until).await?.then_some(tx))
}

/// Runs the execution of a claimed row for up to a batch of steps.
async fn run(s: &Services, row: &Claimed) -> Result<()> {
    let owner = Runner::owner(s);
    let lease = row.lease();
    let env = super::render::environment(s.settings.timezone);
    let mut told = Told::default();
    // Someone else has it now (or it was cancelled): write nothing.
    let Some(mut tx) = hold(s, &owner, row).await? else { return Ok(()) };
    let Some(mut exec) = store::lock_execution(&mut tx, &row.subject_id).await? else {
        due::store::finish(&mut tx, &owner, &[&lease]).await?;
        return tx.commit().await;
    };
    let actions: Vec<Action> = serde_json::from_str(&exec.actions).map_err(Error::internal)?;
    let mut steps = store::steps_in(&mut tx, &exec.id).await?;
    let mut ran = 0;
    loop {
        if ended(&exec.status) {
            due::store::finish(&mut tx, &owner, &[&lease]).await?;
            break;
        }
        let Some((path, action)) = cursor_of(&exec).and_then(|p| template::action_at(&actions, &p).map(|a| (p, a)))
        else {
            complete(&mut tx, &mut exec, s.now_ms()).await?;
            due::store::finish(&mut tx, &owner, &[&lease]).await?;
            told.ended = Some("completed");
            break;
        };
        if ran >= STEPS_PER_CLAIM {
            // A long run of quick steps: give the rest of the queue a turn, and come back at once.
            due::store::reschedule(&mut tx, &owner, &[(&lease, s.now_ms())]).await?;
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
        let vars = variables(&mut tx, &exec, now).await?;
        let mut called = None;
        if action.action_type == "webhook" {
            // Commit what came before, call with no transaction open, then look again.
            tx.commit().await?;
            told.tell(s);
            let cx = StepContext {
                services: s,
                execution: &exec,
                vars: &vars,
                now,
                env: &env,
                cause: cause.clone(),
                attempts,
            };
            called = Some(actions::webhook(&cx, &action).await);
            let Some(again) = hold(s, &owner, row).await? else { return Ok(()) };
            tx = again;
            let Some(fresh) = store::lock_execution(&mut tx, &row.subject_id).await? else { return Ok(()) };
            if cursor_of(&fresh).as_ref() != Some(&path) || ended(&fresh.status) {
                exec = fresh;
                continue;
            }
            exec = fresh;
        }
        let cx = StepContext { services: s, execution: &exec, vars: &vars, now, env: &env, cause, attempts };
        let mut emitted = Vec::new();
        let outcome = match (action.action_type.as_str(), called) {
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
            ("parallel" | "run_workflow", _) => super::children::step(&cx, &mut tx, &action, existing.as_ref()).await?,
            ("send_email", _) => actions::send_email(&cx, &mut tx, &action).await?,
            ("send_notification", _) => actions::send_notification(&cx, &mut tx, &action).await?,
            ("create_record" | "update_record", _) => {
                let (o, e) = actions::record(&cx, &mut tx, &action, &actor(&exec.id)).await?;
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
                due::store::reschedule(&mut tx, &owner, &[(&lease, until)]).await?;
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
                due::store::finish(&mut tx, &owner, &[&lease]).await?;
            }
            Outcome::Retry { at, error, output } => {
                let mut o = output;
                o["attempts"] = json!(attempts + 1);
                step.status = "running".into();
                step.output = o.to_string();
                step.error = Some(error);
                exec.status = "running".into();
                due::store::reschedule(&mut tx, &owner, &[(&lease, at)]).await?;
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
                due::store::finish(&mut tx, &owner, &[&lease]).await?;
                super::children::ended_in(&mut tx, &exec, now).await?;
                told.ended = Some("failed");
            }
        }
        store::upsert_step(&mut tx, &step).await?;
        store::save_execution(&mut tx, &exec).await?;
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
    tx.commit().await?;
    told.tell(s);
    Ok(())
}

/// The execution ran its last step.
async fn complete(tx: &mut Tx, e: &mut ExecutionRow, now: i64) -> Result<()> {
    e.status = "completed".into();
    e.completed_at = Some(now);
    e.updated_at = now;
    e.cursor = None;
    store::save_execution(tx, e).await?;
    super::children::ended_in(tx, e, now).await
}
