//! Workflow execution operations: read, list, cancel, retry, stats.

use std::collections::HashMap;

use serde_json::Value;
use wire::workflows::{
    ExecutionPage, ExecutionQuery, ExecutionStats, TemplateActivity, TemplateDay, TemplateStats, WorkflowExecution,
    WorkflowExecutionStep,
};

use super::store::{self, ExecutionFilter, ExecutionRow, StepRow};
use crate::auth::{Action as Can, Authorize, Principal};
use crate::clock::rfc3339;
use crate::due::{self, kinds};
use crate::error::Validator;
use crate::ids::new_id;
use crate::{Error, Result, Services};

fn execution_to_wire(e: ExecutionRow, steps: Vec<StepRow>, now: i64) -> WorkflowExecution {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    WorkflowExecution {
        trigger_data: parse(&e.trigger_data),
        variables: parse(&e.variables),
        waiting_until: e.waiting_until.map(rfc3339),
        steps: steps
            .into_iter()
            .map(|s| WorkflowExecutionStep {
                action_config: parse(&s.action_config),
                output: parse(&s.output),
                duration_ms: (s.completed_at.unwrap_or(now) - s.started_at).max(0),
                started_at: rfc3339(s.started_at),
                completed_at: s.completed_at.map(rfc3339),
                id: s.id,
                execution_id: s.execution_id,
                action_id: s.action_id,
                action_type: s.action_type,
                action_name: s.action_name,
                status: s.status,
                error: s.error,
                branch: s.branch,
            })
            .collect(),
        duration_ms: (e.completed_at.unwrap_or(now) - e.started_at).max(0),
        started_at: rfc3339(e.started_at),
        completed_at: e.completed_at.map(rfc3339),
        cause: e.cause.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default(),
        parent_execution_id: e.parent_execution_id,
        created_at: rfc3339(e.created_at),
        updated_at: rfc3339(e.updated_at),
        id: e.id,
        template_id: e.template_id,
        template_version: e.template_version,
        workflow_name: e.workflow_name,
        trigger_type: e.trigger_type,
        status: e.status,
        current_action_id: e.current_action_id,
        error: e.error,
    }
}

impl Services {
    pub async fn get_execution(&self, caller: &Principal, id: &str) -> Result<WorkflowExecution> {
        caller.require(Can::ReadWorkflows)?;
        let e = self.db.execution(id).await?.ok_or(Error::NotFound("workflow execution"))?;
        let steps = self.db.steps(id).await?;
        Ok(execution_to_wire(e, steps, self.now_ms()))
    }

    pub async fn list_executions(&self, caller: &Principal, q: &ExecutionQuery) -> Result<ExecutionPage> {
        caller.require(Can::ReadWorkflows)?;
        let mut v = Validator::new();
        let limit = q.limit.unwrap_or(25);
        v.check((1..=100).contains(&limit), "limit", "must be 1 to 100");
        if let Some(s) = &q.status {
            v.check(
                ["pending", "running", "waiting", "completed", "failed", "cancelled"].contains(&s.as_str()),
                "status",
                "must be pending, running, waiting, completed, failed or cancelled",
            );
        }
        let time = |field: &str, t: &Option<String>, v: &mut Validator| {
            t.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
                match crate::records::time::parse_time(s, self.settings.timezone) {
                    Some(ms) => Some(ms),
                    None => {
                        v.push(field, "must be an RFC 3339 time or a date");
                        None
                    }
                }
            })
        };
        let (from, to) = (time("from", &q.from, &mut v), time("to", &q.to, &mut v));
        let after = q.cursor.as_deref().filter(|c| !c.is_empty()).and_then(|c| {
            let parsed = c.split_once('_').and_then(|(a, id)| Some((a.parse::<i64>().ok()?, id.to_string())));
            if parsed.is_none() {
                v.push("cursor", "is not a cursor this API returned");
            }
            parsed
        });
        v.finish()?;
        let f = ExecutionFilter {
            status: q.status.clone(),
            template_id: q.template_id.clone().filter(|t| !t.is_empty()),
            from,
            to,
            after,
            limit: limit as i64,
        };
        let rows = self.db.list_executions(&f).await?;
        let next_cursor = match rows.last() {
            Some(last) if rows.len() == limit as usize => Some(format!("{}_{}", last.created_at, last.id)),
            _ => None,
        };
        Ok(ExecutionPage {
            data: rows.into_iter().map(|e| execution_to_wire(e, Vec::new(), self.now_ms())).collect(),
            next_cursor,
        })
    }

    /// Stops a running or waiting execution at once.
    pub async fn cancel_execution(&self, caller: &Principal, id: &str) -> Result<WorkflowExecution> {
        caller.require(Can::ManageWorkflows)?;
        let now = self.now_ms();
        let mut tx = self.db.begin().await?;
        let e = store::lock_execution(&mut tx, id).await?.ok_or(Error::NotFound("workflow execution"))?;
        if matches!(e.status.as_str(), "completed" | "failed" | "cancelled") {
            return Err(Error::Conflict(format!("this execution is already {}", e.status)));
        }
        // Whoever holds its due row now finds it gone: their fenced step writes nothing.
        // Its branches and sub-workflows stop with it; a parent waiting on it looks again.
        super::children::cancel(&mut tx, &e, &format!("cancelled by {}", caller.name), now).await?;
        super::children::ended_in(&mut tx, &e, now).await?;
        tx.commit().await?;
        self.events_changed();
        self.get_execution(caller, id).await
    }

    /// Runs a failed execution again from the step that failed; the steps before it keep their outputs.
    pub async fn retry_execution(&self, caller: &Principal, id: &str) -> Result<WorkflowExecution> {
        caller.require(Can::ManageWorkflows)?;
        let now = self.now_ms();
        let mut tx = self.db.begin().await?;
        let mut e = store::lock_execution(&mut tx, id).await?.ok_or(Error::NotFound("workflow execution"))?;
        if e.status != "failed" {
            return Err(Error::Conflict(format!("only a failed execution can be retried; this one is {}", e.status)));
        }
        e.status = "running".into();
        e.error = None;
        e.completed_at = None;
        e.updated_at = now;
        store::reopen_failed_steps(&mut tx, id).await?;
        store::save_execution(&mut tx, &e).await?;
        due::store::schedule(&mut tx, &new_id("due"), kinds::WORKFLOW, id, "workflows", now, now).await?;
        tx.commit().await?;
        self.due_work_added();
        self.events_changed();
        self.get_execution(caller, id).await
    }

    /// Counts by status, success rate and duration percentiles per template.
    pub async fn execution_stats(&self, caller: &Principal) -> Result<ExecutionStats> {
        caller.require(Can::ReadWorkflows)?;
        let counts = self.db.execution_counts().await?;
        let mut durations: HashMap<Option<String>, Vec<i64>> = HashMap::new();
        for (t, d) in self.db.execution_durations(5_000).await? {
            durations.entry(t).or_default().push(d);
        }
        let mut stats = ExecutionStats {
            total: 0,
            pending: 0,
            running: 0,
            waiting: 0,
            completed: 0,
            failed: 0,
            cancelled: 0,
            success_rate: None,
            by_template: Vec::new(),
        };
        let mut by: Vec<TemplateStats> = Vec::new();
        for (template_id, name, status, n) in counts {
            stats.total += n;
            match status.as_str() {
                "pending" => stats.pending += n,
                "running" => stats.running += n,
                "waiting" => stats.waiting += n,
                "completed" => stats.completed += n,
                "failed" => stats.failed += n,
                _ => stats.cancelled += n,
            }
            let entry = match by.iter_mut().position(|b| b.template_id == template_id) {
                Some(i) => &mut by[i],
                None => {
                    by.push(TemplateStats {
                        template_id: template_id.clone(),
                        workflow_name: name,
                        total: 0,
                        completed: 0,
                        failed: 0,
                        success_rate: None,
                        p50_duration_ms: None,
                        p95_duration_ms: None,
                    });
                    by.last_mut().expect("just pushed")
                }
            };
            entry.total += n;
            match status.as_str() {
                "completed" => entry.completed += n,
                "failed" => entry.failed += n,
                _ => {}
            }
        }
        for b in &mut by {
            b.success_rate = success_rate(b.completed, b.failed);
            if let Some(d) = durations.get_mut(&b.template_id) {
                d.sort_unstable();
                b.p50_duration_ms = percentile(d, 0.5);
                b.p95_duration_ms = percentile(d, 0.95);
            }
        }
        stats.success_rate = success_rate(stats.completed, stats.failed);
        stats.by_template = by;
        Ok(stats)
    }
}

impl Services {
    /// One template's totals and percentiles, read for it alone (none when it never ran).
    async fn template_stats(&self, id: &str, name: &str) -> Result<Option<TemplateStats>> {
        let counts = self.db.execution_counts_of(id).await?;
        if counts.is_empty() {
            return Ok(None);
        }
        let of = |s: &str| counts.iter().filter(|(st, _)| st == s).map(|(_, n)| n).sum::<i64>();
        let (completed, failed) = (of("completed"), of("failed"));
        let mut durations = self.db.execution_durations_of(id, 5_000).await?;
        durations.sort_unstable();
        Ok(Some(TemplateStats {
            template_id: Some(id.to_string()),
            workflow_name: name.to_string(),
            total: counts.iter().map(|(_, n)| n).sum(),
            completed,
            failed,
            success_rate: success_rate(completed, failed),
            p50_duration_ms: percentile(&durations, 0.5),
            p95_duration_ms: percentile(&durations, 0.95),
        }))
    }
}

/// Of the runs that ended, the share that completed (one decimal), or none.
fn success_rate(ok: i64, bad: i64) -> Option<f64> {
    (ok + bad > 0).then(|| (ok as f64 * 1000.0 / (ok + bad) as f64).round() / 10.0)
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

impl Services {
    /// A template's runs over the last `days` days (UTC), day by day, with its stats.
    pub async fn template_activity(&self, caller: &Principal, id: &str, days: i64) -> Result<TemplateActivity> {
        caller.require(Can::ReadWorkflows)?;
        let template = self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
        let days = days.clamp(1, 90);
        // Days are the practice's: a run at 23:30 UTC is tomorrow in Sydney.
        let tz = self.settings.timezone;
        let (names, since) = crate::settings::last_days(tz, self.now_ms(), days);
        let mut out: Vec<TemplateDay> =
            names.into_iter().map(|day| TemplateDay { day, completed: 0, failed: 0, other: 0 }).collect();
        for (quarter, status, n) in self.db.execution_quarters(id, since).await? {
            let day = crate::settings::local_date(tz, quarter * 900_000).format("%Y-%m-%d").to_string();
            let Some(slot) = out.iter_mut().find(|d| d.day == day) else { continue };
            match status.as_str() {
                "completed" => slot.completed += n,
                "failed" => slot.failed += n,
                _ => slot.other += n,
            }
        }
        Ok(TemplateActivity { stats: self.template_stats(id, &template.name).await?, days: out })
    }
}
