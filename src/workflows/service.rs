//! Workflow operations as REST, server functions and the UI call them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wire::webhooks::Page;
use wire::workflows::{
    Action, CategoryCount, CustomExecuteInput, ExecuteAccepted, ExecuteInput, ExecutionPage, ExecutionQuery,
    ExecutionStats, TemplateInput, TemplateQuery, TemplateStats, TriggerType, WorkflowExecution, WorkflowExecutionStep,
    WorkflowTemplate,
};

use super::store::{self, ExecutionFilter, ExecutionRow, StepRow, TemplateFilter, TemplateRow};
use super::{render, schedule, template, triggers};
use crate::auth::{Action as Can, Authorize, Principal};
use crate::clock::rfc3339;
use crate::due::{self, kinds};
use crate::error::Validator;
use crate::ids::new_id;
use crate::{Error, Result, Services};

/// Event-triggered templates by event type, as ingest reads them (1 s, cleared on every change here).
#[derive(Default)]
pub struct TemplateCache {
    by_event: std::sync::Mutex<HashMap<String, CachedTemplates>>,
}

/// When they were read, and the templates.
type CachedTemplates = (Instant, Arc<Vec<TemplateRow>>);

impl TemplateCache {
    pub fn clear(&self) {
        self.by_event.lock().expect("template cache").clear();
    }
}

const TTL: Duration = Duration::from_secs(1);

fn to_wire(s: &Services, t: &TemplateRow) -> WorkflowTemplate {
    let trigger_config: Value = serde_json::from_str(&t.trigger_config).unwrap_or(json!({}));
    let next_runs = if t.trigger_type == "schedule" {
        let tz = trigger_config["timezone"].as_str().and_then(|z| z.parse().ok()).unwrap_or(s.settings.timezone);
        trigger_config["cron"]
            .as_str()
            .and_then(|c| schedule::parse(c).ok())
            .map(|c| schedule::next_runs(&c, tz, s.now_ms(), 5).into_iter().map(rfc3339).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    WorkflowTemplate {
        id: t.id.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        category: t.category.clone(),
        trigger_type: TriggerType::parse(&t.trigger_type).unwrap_or(TriggerType::Manual),
        trigger_config,
        actions: serde_json::from_str(&t.actions).unwrap_or_default(),
        is_public: t.is_public,
        is_active: t.is_active,
        usage_count: t.usage_count,
        version: t.version,
        next_runs,
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
    }
}

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
    /// Active templates an event of `event_type` starts (cached briefly).
    pub(crate) async fn workflow_templates_for(&self, event_type: &str) -> Result<Arc<Vec<TemplateRow>>> {
        if let Some((at, list)) = self.template_cache.by_event.lock().expect("template cache").get(event_type) {
            if at.elapsed() < TTL {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(self.db.templates_for_event(event_type).await?);
        self.template_cache
            .by_event
            .lock()
            .expect("template cache")
            .insert(event_type.to_string(), (Instant::now(), list.clone()));
        Ok(list)
    }

    /// Every template with the templates its `run_workflow` actions run (for cycle checks).
    pub(crate) async fn template_graph(&self) -> Result<Vec<template::TemplateRefs>> {
        Ok(self
            .db
            .template_actions()
            .await?
            .into_iter()
            .map(|(id, name, actions)| {
                let actions: Vec<Action> = serde_json::from_str(&actions).unwrap_or_default();
                template::TemplateRefs { id, name, runs: template::run_workflow_refs(&actions) }
            })
            .collect())
    }

    fn templates_changed(&self) {
        self.template_cache.clear();
        self.events_changed();
    }

    /// Checks `input` (applied over `current` for an update) and builds the row to write.
    async fn template_row(&self, input: TemplateInput, current: Option<&TemplateRow>, now: i64) -> Result<TemplateRow> {
        let env = render::environment(self.settings.timezone);
        let mut v = Validator::new();
        let name = input.name.map(|n| n.trim().to_string()).or_else(|| current.map(|c| c.name.clone()));
        match &name {
            Some(n) if !n.is_empty() && n.chars().count() <= 200 => {}
            Some(_) => v.push("name", "must be 1 to 200 characters"),
            None => v.push("name", "is required"),
        }
        let description = input.description.or_else(|| current.map(|c| c.description.clone())).unwrap_or_default();
        v.check(description.chars().count() <= 2000, "description", "must be at most 2000 characters");
        let category = input
            .category
            .map(|c| c.trim().to_string())
            .or_else(|| current.map(|c| c.category.clone()))
            .unwrap_or_else(|| "general".into());
        let category_ok = !category.is_empty()
            && category.len() <= 50
            && category.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        v.check(category_ok, "category", "must be 1 to 50 lower-case letters, digits or _ (patient_care)");
        let trigger_type = input.trigger_type.or_else(|| current.map(|c| c.trigger_type.clone()));
        let trigger = trigger_type.as_deref().and_then(TriggerType::parse);
        if trigger.is_none() {
            v.push("triggerType", "must be manual, event or schedule");
        }
        let trigger_config = input
            .trigger_config
            .or_else(|| current.map(|c| serde_json::from_str(&c.trigger_config).unwrap_or(json!({}))))
            .unwrap_or(json!({}));
        let mut trigger_event = None;
        if !trigger_config.is_object() {
            v.push("triggerConfig", "must be an object");
        } else {
            match trigger {
                Some(TriggerType::Event) => match trigger_config.get("event").and_then(Value::as_str) {
                    Some(e) if self.db.event_types().await?.iter().any(|t| t.name == e) => {
                        trigger_event = Some(e.to_string());
                        if let Some(c) = trigger_config.get("conditions").filter(|c| !c.is_null()) {
                            match serde_json::from_value::<wire::condition::ConditionGroup>(c.clone()) {
                                Ok(g) => v.merge(g.validate("triggerConfig.conditions")),
                                Err(e) => v.push("triggerConfig.conditions", format!("is not a condition group: {e}")),
                            }
                        }
                    }
                    Some(e) => v.push("triggerConfig.event", format!("{e:?} is not in the event catalog")),
                    None => v.push("triggerConfig.event", "is required: the event that starts the workflow"),
                },
                Some(TriggerType::Schedule) => {
                    match trigger_config.get("cron").and_then(Value::as_str).map(schedule::parse) {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => v.push("triggerConfig.cron", e),
                        None => v.push("triggerConfig.cron", "is required, such as \"0 8 * * MON\""),
                    }
                    if let Some(tz) = trigger_config.get("timezone") {
                        if tz.as_str().and_then(|z| z.parse::<chrono_tz::Tz>().ok()).is_none() {
                            v.push("triggerConfig.timezone", "must be an IANA timezone such as Europe/London");
                        }
                    }
                }
                _ => {}
            }
        }
        let email_templates: Vec<String> = self.db.email_templates().await?.into_iter().map(|t| t.name).collect();
        let templates = self.template_graph().await?;
        let this = current.map(|c| c.id.as_str());
        let known = template::Known { email_templates: &email_templates, templates: &templates, this };
        let actions: Vec<Action> = match input.actions {
            Some(raw) => template::parse_actions(&raw, &known, &env, &mut v),
            None => match current {
                Some(c) => serde_json::from_str(&c.actions).unwrap_or_default(),
                None => {
                    v.push("actions", "is required");
                    Vec::new()
                }
            },
        };
        v.finish()?;
        Ok(TemplateRow {
            id: current.map(|c| c.id.clone()).unwrap_or_else(|| new_id("wft")),
            name: name.unwrap_or_default(),
            description,
            category,
            trigger_type: trigger_type.unwrap_or_default(),
            trigger_config: trigger_config.to_string(),
            trigger_event,
            actions: serde_json::to_string(&actions).map_err(Error::internal)?,
            is_public: input.is_public.or(current.map(|c| c.is_public)).unwrap_or(false),
            is_active: input.is_active.or(current.map(|c| c.is_active)).unwrap_or(true),
            usage_count: current.map(|c| c.usage_count).unwrap_or(0),
            version: current.map(|c| c.version + 1).unwrap_or(1),
            created_at: current.map(|c| c.created_at).unwrap_or(now),
            updated_at: now,
        })
    }

    pub async fn create_template(&self, caller: &Principal, input: TemplateInput) -> Result<WorkflowTemplate> {
        caller.require(Can::ManageWorkflows)?;
        let now = self.now_ms();
        let row = self.template_row(input, None, now).await?;
        let wire = to_wire(self, &row);
        let mut tx = self.db.begin().await?;
        store::insert_template(&mut tx, &row).await?;
        store::insert_version(
            &mut tx,
            &row.id,
            row.version,
            &serde_json::to_string(&wire).map_err(Error::internal)?,
            now,
        )
        .await?;
        triggers::reschedule_template(self, &mut tx, &row, now).await?;
        tx.commit().await?;
        self.templates_changed();
        self.due_work_added();
        Ok(wire)
    }

    /// Every update makes a new version; executions under way keep the one they started with.
    pub async fn update_template(
        &self,
        caller: &Principal,
        id: &str,
        input: TemplateInput,
    ) -> Result<WorkflowTemplate> {
        caller.require(Can::ManageWorkflows)?;
        let current = self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
        let now = self.now_ms();
        let row = self.template_row(input, Some(&current), now).await?;
        let wire = to_wire(self, &row);
        let mut tx = self.db.begin().await?;
        if !store::update_template(&mut tx, &row, current.version).await? {
            return Err(Error::Conflict("the template changed meanwhile; read it again".into()));
        }
        store::insert_version(
            &mut tx,
            &row.id,
            row.version,
            &serde_json::to_string(&wire).map_err(Error::internal)?,
            now,
        )
        .await?;
        triggers::reschedule_template(self, &mut tx, &row, now).await?;
        tx.commit().await?;
        self.templates_changed();
        self.due_work_added();
        Ok(wire)
    }

    pub async fn get_template(&self, caller: &Principal, id: &str) -> Result<WorkflowTemplate> {
        caller.require(Can::ReadWorkflows)?;
        let row = self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
        Ok(to_wire(self, &row))
    }

    pub async fn list_templates(
        &self,
        caller: &Principal,
        q: &TemplateQuery,
        popular: bool,
    ) -> Result<Page<WorkflowTemplate>> {
        caller.require(Can::ReadWorkflows)?;
        let limit = q.limit.unwrap_or(50).clamp(1, 100);
        let page = q.page.unwrap_or(1).max(1);
        let f = TemplateFilter {
            category: q.category.clone().filter(|c| !c.is_empty()),
            search: q.search.clone().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            popular,
            limit: limit as i64,
            offset: (page as i64 - 1) * limit as i64,
        };
        let (rows, total) = self.db.list_templates(&f).await?;
        Ok(Page {
            data: rows.iter().map(|r| to_wire(self, r)).collect(),
            page,
            limit,
            total,
            total_pages: (total + limit as i64 - 1) / limit as i64,
            next_cursor: None,
        })
    }

    pub async fn template_categories(&self, caller: &Principal) -> Result<Vec<CategoryCount>> {
        caller.require(Can::ReadWorkflows)?;
        Ok(self
            .db
            .template_categories()
            .await?
            .into_iter()
            .map(|(category, count)| CategoryCount { category, count })
            .collect())
    }

    /// Deletes a template; executions under way finish on their snapshot.
    pub async fn delete_template(&self, caller: &Principal, id: &str) -> Result<()> {
        caller.require(Can::ManageWorkflows)?;
        let mut tx = self.db.begin().await?;
        due::store::cancel(&mut tx, kinds::WORKFLOW_SCHEDULE, id).await?;
        if !store::delete_template(&mut tx, id).await? {
            return Err(Error::NotFound("workflow template"));
        }
        tx.commit().await?;
        self.templates_changed();
        Ok(())
    }

    /// A template's versions, newest first, as each was saved.
    pub async fn template_versions(&self, caller: &Principal, id: &str) -> Result<Vec<WorkflowTemplate>> {
        caller.require(Can::ReadWorkflows)?;
        self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
        self.db
            .template_versions(id)
            .await?
            .into_iter()
            .map(|(_, snapshot, _)| serde_json::from_str(&snapshot).map_err(Error::internal))
            .collect()
    }

    pub async fn execute_template(&self, caller: &Principal, id: &str, input: ExecuteInput) -> Result<ExecuteAccepted> {
        caller.require(Can::RunWorkflows)?;
        let data = match input.trigger_data {
            Value::Null => json!({}),
            v @ Value::Object(_) => v,
            _ => return Err(Error::invalid("triggerData", "must be an object")),
        };
        let now = self.now_ms();
        let t = self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
        if !t.is_active {
            return Err(Error::Conflict("this template is inactive; activate it to run it".into()));
        }
        let row = triggers::new_execution(Some(&t), &t.name, "manual", &t.actions, &data, &[], now);
        let execution_id = row.id.clone();
        self.starter.get_or_init(|| super::starter::Starter::start(self.db.clone())).submit(row).await?;
        self.due_work_added();
        self.events_changed();
        Ok(ExecuteAccepted { execution_id, status: "pending".into() })
    }

    /// Runs actions given inline, without a template.
    pub async fn execute_custom(&self, caller: &Principal, input: CustomExecuteInput) -> Result<ExecuteAccepted> {
        caller.require(Can::ManageWorkflows)?;
        let env = render::environment(self.settings.timezone);
        let email_templates: Vec<String> = self.db.email_templates().await?.into_iter().map(|t| t.name).collect();
        let mut v = Validator::new();
        let actions = template::parse_actions(
            &input.actions,
            &template::Known {
                email_templates: &email_templates,
                templates: &self.template_graph().await?,
                this: None,
            },
            &env,
            &mut v,
        );
        if !input.trigger_data.is_object() && !input.trigger_data.is_null() {
            v.push("triggerData", "must be an object");
        }
        v.finish()?;
        let now = self.now_ms();
        let name = input.name.unwrap_or_else(|| "Ad-hoc workflow".into());
        let data = if input.trigger_data.is_null() { json!({}) } else { input.trigger_data };
        let mut tx = self.db.begin().await?;
        let actions = serde_json::to_string(&actions).map_err(Error::internal)?;
        let execution_id = triggers::start(&mut tx, None, &name, "manual", &actions, &data, &[], now).await?;
        tx.commit().await?;
        self.due_work_added();
        Ok(ExecuteAccepted { execution_id, status: "pending".into() })
    }

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
                match crate::records::service::parse_time(s, self.settings.timezone) {
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
        let rate = |ok: i64, bad: i64| (ok + bad > 0).then(|| (ok as f64 * 1000.0 / (ok + bad) as f64).round() / 10.0);
        for b in &mut by {
            b.success_rate = rate(b.completed, b.failed);
            if let Some(d) = durations.get_mut(&b.template_id) {
                d.sort_unstable();
                b.p50_duration_ms = percentile(d, 0.5);
                b.p95_duration_ms = percentile(d, 0.95);
            }
        }
        stats.success_rate = rate(stats.completed, stats.failed);
        stats.by_template = by;
        Ok(stats)
    }
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
