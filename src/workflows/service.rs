//! Workflow template operations as REST, server functions and the UI call
//! them (the executions' are in `executions.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wire::webhooks::Page;
use wire::workflows::{
    Action, CategoryCount, CustomExecuteInput, ExecuteAccepted, ExecuteInput, LastRun, TemplateInput, TemplateQuery,
    TriggerType, WorkflowTemplate,
};

use super::store::{self, TemplateFilter, TemplateRow};
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
        last_run: None,
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
    }
}

impl Services {
    /// Active templates an event of `event_type` starts (cached briefly).
    pub(crate) async fn workflow_templates_for(&self, event_type: &str) -> Result<Arc<Vec<TemplateRow>>> {
        self.workflow_templates_or_load(event_type, self.db.templates_for_event(event_type)).await
    }

    /// [`Self::workflow_templates_for`] for a change's transaction `tx`: a
    /// miss reads on `tx`'s connection, never waiting for a second one.
    pub(crate) async fn workflow_templates_for_in(
        &self,
        tx: &mut crate::store::Tx,
        event_type: &str,
    ) -> Result<Arc<Vec<TemplateRow>>> {
        self.workflow_templates_or_load(event_type, super::store::templates_for_event_in(tx, event_type)).await
    }

    /// The cached list, or what `load` reads (`load` is only awaited on a miss).
    async fn workflow_templates_or_load(
        &self,
        event_type: &str,
        load: impl std::future::Future<Output = Result<Vec<TemplateRow>>>,
    ) -> Result<Arc<Vec<TemplateRow>>> {
        if let Some((at, list)) = self.template_cache.by_event.lock().expect("template cache").get(event_type) {
            if at.elapsed() < TTL {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(load.await?);
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

    /// Finishes a template write in `tx`: the version's snapshot, the schedule row, the caches.
    async fn commit_version(
        &self,
        mut tx: crate::store::Tx,
        row: &TemplateRow,
        wire: WorkflowTemplate,
        now: i64,
    ) -> Result<WorkflowTemplate> {
        let snapshot = serde_json::to_string(&wire).map_err(Error::internal)?;
        store::insert_version(&mut tx, &row.id, row.version, &snapshot, now).await?;
        triggers::reschedule_template(self, &mut tx, row, now).await?;
        tx.commit().await?;
        self.templates_changed();
        self.due_work_added();
        Ok(wire)
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
        self.commit_version(tx, &row, wire, now).await
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
        self.commit_version(tx, &row, wire, now).await
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
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut last: HashMap<String, LastRun> = self
            .db
            .last_runs(&ids)
            .await?
            .into_iter()
            .map(|(t, execution_id, status, at)| (t, LastRun { execution_id, status, started_at: rfc3339(at) }))
            .collect();
        Ok(Page {
            data: rows.iter().map(|r| WorkflowTemplate { last_run: last.remove(&r.id), ..to_wire(self, r) }).collect(),
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
        super::drafts::delete_drafts_of(&mut tx, id).await?;
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
        let start = super::starter::Start { template_id: id.to_string(), trigger_data: data, now: self.now_ms() };
        let execution_id =
            self.starter.get_or_init(|| super::starter::Starter::start(self.db.clone())).submit(start).await?;
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
}
