//! Steps that run other executions: `parallel` (each branch an execution of
//! its own, so branches really run at once, on any instance) and
//! `run_workflow` (a sub-workflow). The parent's step waits without a due
//! row; a child that ends schedules its parent in the child's own final
//! transaction, so the join is never missed: if the parent was looking at the
//! children meanwhile, that schedule takes its lease and its write is fenced out.

use serde_json::{json, Map, Value};
use wire::workflows::Action;

use super::actions::{Outcome, StepContext};
use super::store::{self, ExecutionRow, StepRow};
use super::template;
use super::triggers::{insert_started, new_execution};
use crate::due::{self, kinds};
use crate::ids::new_id;
use crate::store::Tx;
use crate::{Error, Result};

fn ended(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// Runs (or joins) a parallel or run_workflow step.
pub async fn step(cx: &StepContext<'_>, tx: &mut Tx, action: &Action, existing: Option<&StepRow>) -> Result<Outcome> {
    if let Some(waiting) = existing.filter(|st| st.status == "waiting") {
        let ids: Vec<String> = serde_json::from_str::<Value>(&waiting.output)
            .ok()
            .and_then(|o| serde_json::from_value(o["executions"].clone()).ok())
            .unwrap_or_default();
        return join(cx, tx, action, &ids).await;
    }
    let parent = cx.execution;
    // Changes a child makes carry the parent in their cause chain: the depth limit stops runaway nesting too.
    let cause = cx.cause.chain.clone();
    if cause.len() >= cx.services.settings.max_cause_depth {
        return Ok(Outcome::Failed {
            error: format!("refused: {} nested runs ({}) reach the limit", cause.len(), cause.join(" → ")),
        });
    }
    let mut children = Vec::new();
    let mut wait = true;
    if action.action_type == "parallel" {
        for (i, branch) in template::branches(action).iter().enumerate() {
            let actions = serde_json::to_string(branch).map_err(Error::internal)?;
            let name = format!("{} › {} branch {}", parent.workflow_name, action.id, i + 1);
            let trigger: Value = serde_json::from_str(&parent.trigger_data).unwrap_or(json!({}));
            let mut child = new_execution(None, &name, "parallel", &actions, &trigger, &cause, cx.now);
            child.template_id = parent.template_id.clone();
            child.template_version = parent.template_version;
            // A branch sees what the steps before the parallel step produced.
            child.variables = parent.variables.clone();
            children.push(child);
        }
    } else {
        let rendered = match super::render::render_value(cx.env, &action.config, cx.vars) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::Failed { error: format!("config: {e}") }),
        };
        wait = rendered.get("wait").and_then(Value::as_bool).unwrap_or(true);
        let id = rendered.get("templateId").and_then(Value::as_str).unwrap_or_default();
        let Some(t) = store::lock_template(tx, id).await? else {
            return Ok(Outcome::Failed { error: format!("config.templateId: there is no workflow template {id:?}") });
        };
        if !t.is_active {
            return Ok(Outcome::Failed { error: format!("the template {:?} is inactive", t.name) });
        }
        let data = rendered.get("triggerData").cloned().unwrap_or(json!({}));
        children.push(new_execution(Some(&t), &t.name, "run_workflow", &t.actions, &data, &cause, cx.now));
    }
    for c in &mut children {
        if wait {
            c.parent_execution_id = Some(parent.id.clone());
            c.parent_action_id = Some(action.id.clone());
        }
    }
    insert_started(tx, &children, cx.now).await?;
    let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
    if !wait {
        return Ok(Outcome::Done { output: json!({"executionId": ids[0]}), branch: None });
    }
    Ok(Outcome::Join { output: json!({"executions": ids}) })
}

/// Back at a waiting step: done once every child ended; failed as soon as one failed.
async fn join(cx: &StepContext<'_>, tx: &mut Tx, action: &Action, started: &[String]) -> Result<Outcome> {
    // The children this attempt of the step started (a retried step starts new ones).
    let children: Vec<ExecutionRow> = store::children(tx, &cx.execution.id, &action.id)
        .await?
        .into_iter()
        .filter(|c| started.contains(&c.id))
        .collect();
    let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
    if let Some((i, bad)) =
        children.iter().enumerate().find(|(_, c)| matches!(c.status.as_str(), "failed" | "cancelled"))
    {
        // One branch failed: the others stop too, and the step fails naming it.
        for other in children.iter().filter(|c| !ended(&c.status)) {
            cancel(tx, other, &format!("branch {} failed", i + 1), cx.now).await?;
        }
        let which = if action.action_type == "parallel" {
            format!("branch {}", i + 1)
        } else {
            format!("sub-workflow {}", bad.workflow_name)
        };
        let why = bad.error.clone().unwrap_or_else(|| bad.status.clone());
        return Ok(Outcome::Failed { error: format!("{which} ({}) {}: {why}", bad.id, bad.status) });
    }
    if children.iter().any(|c| !ended(&c.status)) {
        return Ok(Outcome::Join { output: json!({"executions": ids}) });
    }
    let outputs: Vec<Value> = children
        .iter()
        .map(|c| json!({"executionId": c.id, "status": c.status, "steps": serde_json::from_str::<Value>(&c.variables).unwrap_or(json!({}))}))
        .collect();
    Ok(Outcome::Done {
        output: if action.action_type == "parallel" { json!({"branches": outputs}) } else { outputs[0].clone() },
        branch: None,
    })
}

/// The outputs of a finished parallel step's branches, to merge into the parent's `steps`.
pub fn branch_steps(output: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for b in output.get("branches").and_then(Value::as_array).into_iter().flatten() {
        if let Some(steps) = b.get("steps").and_then(Value::as_object) {
            out.extend(steps.clone());
        }
    }
    out
}

/// Cancels an execution and its own children, in `tx`.
pub async fn cancel(tx: &mut Tx, e: &ExecutionRow, why: &str, now: i64) -> Result<()> {
    let mut stack = vec![e.id.clone()];
    while let Some(id) = stack.pop() {
        let Some(mut row) = store::lock_execution(tx, &id).await? else { continue };
        if ended(&row.status) {
            continue;
        }
        row.status = "cancelled".into();
        row.error = Some(why.to_string());
        row.completed_at = Some(now);
        row.updated_at = now;
        row.waiting_until = None;
        store::cancel_steps(tx, &id, now).await?;
        due::store::cancel(tx, kinds::WORKFLOW, &id).await?;
        store::save_execution(tx, &row).await?;
        stack.extend(store::running_children(tx, &id).await?);
    }
    Ok(())
}

/// An execution just ended in `tx`: the parent waiting for it looks again.
pub async fn ended_in(tx: &mut Tx, e: &ExecutionRow, now: i64) -> Result<()> {
    if let Some(parent) = &e.parent_execution_id {
        due::store::schedule(tx, &new_id("due"), kinds::WORKFLOW, parent, "workflows", now, now).await?;
    }
    Ok(())
}
