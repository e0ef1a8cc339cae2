//! The engine: the due-work handler of `kinds::WORKFLOW`. A claim runs an
//! execution's steps until it waits, ends, fails, or has run a batch of
//! steps; each step commits on its own, fenced by the execution's lease.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use wire::workflows::Action;

use super::actions::{self, Outcome, StepContext};
use super::store::{self, ExecutionRow, StepRow};
use super::template::{self, Path};
use crate::auth::{Principal, PrincipalKind, Role};
use crate::due::{self, kinds, Claimed, Handler, Lease, Room, Runner};
use crate::records::{Cause, Entity};
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

/// Runs the execution of a claimed row for up to a batch of steps.
async fn run(s: &Services, row: &Claimed) -> Result<()> {
    let owner = Runner::owner(s);
    let lease = row.lease();
    let env = super::render::environment(s.settings.timezone);
    for _ in 0..STEPS_PER_CLAIM {
        let Some(exec) = s.db.execution(&row.subject_id).await? else {
            return finish_row(s, &owner, &lease).await;
        };
        if matches!(exec.status.as_str(), "completed" | "failed" | "cancelled") {
            return finish_row(s, &owner, &lease).await;
        }
        let actions: Vec<Action> = serde_json::from_str(&exec.actions).map_err(Error::internal)?;
        let Some(path) = cursor_of(&exec) else {
            return complete(s, &owner, &lease, &exec).await;
        };
        let Some(action) = template::action_at(&actions, &path) else {
            return complete(s, &owner, &lease, &exec).await;
        };
        let now = s.now_ms();
        let vars = variables(s, &exec, now).await?;
        let existing = s.db.steps(&exec.id).await?.into_iter().find(|st| st.action_id == action.id);
        let attempts = existing
            .as_ref()
            .and_then(|st| serde_json::from_str::<Value>(&st.output).ok())
            .and_then(|o| o["attempts"].as_i64())
            .unwrap_or(0);
        let cause = Cause::by_execution(
            &Cause { chain: exec.cause.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default() },
            &exec.id,
        );
        let cx = StepContext { services: s, execution: &exec, vars: &vars, now, env: &env, cause, attempts };
        // A call out happens before the step's transaction (it may take seconds).
        let called = if action.action_type == "webhook" { Some(actions::webhook(&cx, &action).await) } else { None };

        let mut tx = s.db.begin().await?;
        if !due::store::holds(&mut tx, &owner, &lease, now + s.settings.worker.lease_ms).await? {
            return Ok(()); // Someone else has it now (or it was cancelled): write nothing.
        }
        let Some(mut exec) = store::lock_execution(&mut tx, &row.subject_id).await? else { return Ok(()) };
        if cursor_of(&exec).as_ref() != Some(&path) || exec.status == "cancelled" {
            tx.commit().await?;
            continue;
        }
        let mut emitted = Vec::new();
        let outcome = match (action.action_type.as_str(), called) {
            (_, Some(o)) => o,
            ("wait", _) => match existing.as_ref().filter(|st| st.status == "waiting") {
                // Back from the wait: it is over (or it was moved earlier).
                Some(_) if exec.waiting_until.is_none_or(|t| t <= now) => Outcome::Done {
                    output: json!({"waitedUntil": exec.waiting_until.map(crate::clock::rfc3339)}),
                    branch: None,
                },
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
        let mut stop = false;
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
                stop = true;
            }
            Outcome::Wait { until, .. } => {
                // A time already past: the wait is over at once.
                advance(
                    &mut exec,
                    &mut step,
                    &actions,
                    &path,
                    json!({"waitedUntil": crate::clock::rfc3339(until)}),
                    None,
                    now,
                );
            }
            Outcome::Done { output, branch } => advance(&mut exec, &mut step, &actions, &path, output, branch, now),
            Outcome::Join { output } => {
                step.status = "waiting".into();
                step.output = output.to_string();
                exec.status = "waiting".into();
                exec.waiting_until = None;
                // No due row while it waits: each child schedules it when it ends.
                if due::store::finish(&mut tx, &owner, &[&lease]).await?.is_empty() {
                    return Ok(()); // A child ended meanwhile and took the row: look again then.
                }
                stop = true;
            }
            Outcome::Retry { at, error, output } => {
                let mut o = output;
                o["attempts"] = json!(attempts + 1);
                step.status = "running".into();
                step.output = o.to_string();
                step.error = Some(error);
                exec.status = "running".into();
                due::store::reschedule(&mut tx, &owner, &[(&lease, at)]).await?;
                stop = true;
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
                s.metrics.workflow_executions.get_or_create(&crate::metrics::OutcomeLabels { outcome: "failed" }).inc();
                stop = true;
            }
        }
        store::upsert_step(&mut tx, &step).await?;
        store::save_execution(&mut tx, &exec).await?;
        tx.commit().await?;
        s.emitted(&emitted);
        s.metrics
            .workflow_steps
            .get_or_create(&crate::metrics::OutcomeLabels { outcome: status_label(&step.status) })
            .inc();
        s.events_changed();
        if stop {
            return Ok(());
        }
    }
    // A long run of quick steps: give the rest of the queue a turn, and come back at once.
    let mut tx = s.db.begin().await?;
    due::store::reschedule(&mut tx, &owner, &[(&lease, s.now_ms())]).await?;
    tx.commit().await?;
    s.due_work_added();
    Ok(())
}

fn status_label(status: &str) -> &'static str {
    match status {
        "completed" => "completed",
        "waiting" => "waiting",
        "failed" => "failed",
        _ => "running",
    }
}

trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() {
            other.to_string()
        } else {
            self
        }
    }
}

/// A step that completed: record its output and move the cursor on.
fn advance(
    exec: &mut ExecutionRow,
    step: &mut StepRow,
    actions: &[Action],
    path: &Path,
    output: Value,
    branch: Option<usize>,
    now: i64,
) {
    step.status = "completed".into();
    step.output = output.to_string();
    step.completed_at = Some(now);
    step.branch = branch.map(|b| if b == 0 { "then".into() } else { "else".into() });
    let mut vars: Map<String, Value> = serde_json::from_str(&exec.variables).unwrap_or_default();
    if step.action_type == "parallel" {
        // The branches' steps are reachable as the parent's: `steps['in-a-branch']`.
        vars.extend(super::children::branch_steps(&output));
    }
    vars.insert(step.action_id.clone(), output);
    exec.variables = Value::Object(vars).to_string();
    let next = match branch {
        Some(list) => template::into_branch(actions, path, list),
        None => template::after(actions, path),
    };
    exec.cursor = next.map(|p| serde_json::to_string(&p).expect("paths serialise"));
    exec.status = "running".into();
    exec.waiting_until = None;
    exec.wait_record_id = None;
    exec.wait_field = None;
    exec.wait_offset_ms = None;
}

async fn finish_row(s: &Services, owner: &str, lease: &Lease) -> Result<()> {
    let mut tx = s.db.begin().await?;
    due::store::finish(&mut tx, owner, &[lease]).await?;
    tx.commit().await
}

async fn complete(s: &Services, owner: &str, lease: &Lease, exec: &ExecutionRow) -> Result<()> {
    let now = s.now_ms();
    let mut tx = s.db.begin().await?;
    if due::store::finish(&mut tx, owner, &[lease]).await?.is_empty() {
        return Ok(());
    }
    let Some(mut e) = store::lock_execution(&mut tx, &exec.id).await? else { return Ok(()) };
    if e.status != "cancelled" {
        e.status = "completed".into();
        e.completed_at = Some(now);
        e.updated_at = now;
        e.cursor = None;
        store::save_execution(&mut tx, &e).await?;
        super::children::ended_in(&mut tx, &e, now).await?;
    }
    tx.commit().await?;
    s.metrics.workflow_executions.get_or_create(&crate::metrics::OutcomeLabels { outcome: "completed" }).inc();
    s.events_changed();
    Ok(())
}

/// The variables a step renders with: the trigger data at the root, the
/// records its ids name (fresh, with relations: `patient.owner`), each
/// finished step's output under `steps`, `execution` and `now`.
pub async fn variables(s: &Services, exec: &ExecutionRow, now: i64) -> Result<Value> {
    let trigger: Value = serde_json::from_str(&exec.trigger_data).unwrap_or(json!({}));
    let mut root = match trigger.clone() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    resolve_records(s, &mut root).await?;
    root.insert("trigger".into(), trigger);
    root.insert("steps".into(), serde_json::from_str(&exec.variables).unwrap_or(json!({})));
    root.insert(
        "execution".into(),
        json!({"id": exec.id, "templateId": exec.template_id, "startedAt": crate::clock::rfc3339(exec.started_at)}),
    );
    root.insert("now".into(), json!(crate::clock::rfc3339(now)));
    Ok(Value::Object(root))
}

/// Puts the records the known ids name (`patientId` → `patient`, with its
/// `owner`) into `root`, deriving a patient from an appointment or a lab
/// test and a client from a patient or an invoice.
pub async fn resolve_records(s: &Services, root: &mut Map<String, Value>) -> Result<()> {
    let order = [
        Entity::Appointment,
        Entity::LabTest,
        Entity::Prescription,
        Entity::MedicalRecord,
        Entity::Invoice,
        Entity::Patient,
        Entity::Client,
    ];
    for e in order {
        let Some(id) = root.get(e.id_field()).and_then(Value::as_str).map(str::to_string) else { continue };
        let Some(row) = s.db.record(&id).await?.filter(|r| r.entity == e.as_str()) else { continue };
        let record = crate::records::service::to_record(&row)?;
        for (derived, field) in [(Entity::Patient, "patientId"), (Entity::Client, "clientId")] {
            if let Some(v) = record.str(field) {
                root.entry(derived.id_field().to_string()).or_insert(json!(v));
            }
        }
        if e == Entity::Patient {
            if let Some(owner) = record.str("ownerId") {
                root.entry("clientId".to_string()).or_insert(json!(owner));
            }
        }
        root.insert(e.key().into(), serde_json::to_value(&record).map_err(Error::internal)?);
    }
    // The owner sits under the patient, as in event data: `{{patient.owner.email}}`.
    if let (Some(client), Some(Value::Object(p))) = (root.get("client").cloned(), root.get_mut("patient")) {
        p.insert("owner".into(), client);
    }
    Ok(())
}
