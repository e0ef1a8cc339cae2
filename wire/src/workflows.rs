//! Workflow templates, executions and their steps: the seed's models, camelCase.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What starts a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    Manual,
    Event,
    Schedule,
}

impl TriggerType {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::Manual => "manual",
            TriggerType::Event => "event",
            TriggerType::Schedule => "schedule",
        }
    }

    pub fn parse(s: &str) -> Option<TriggerType> {
        [TriggerType::Manual, TriggerType::Event, TriggerType::Schedule].into_iter().find(|t| t.as_str() == s)
    }
}

/// One action of a template: `{"id", "type", "name", "config"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub id: String,
    #[serde(rename = "type")]
    pub action_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Value,
}

/// The action types the engine runs.
pub const ACTION_TYPES: &[&str] = &[
    "send_email",
    "send_notification",
    "update_record",
    "create_record",
    "webhook",
    "wait",
    "condition",
    "parallel",
    "run_workflow",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTemplate {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub trigger_type: TriggerType,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub trigger_config: Value,
    pub actions: Vec<Action>,
    pub is_public: bool,
    pub is_active: bool,
    pub usage_count: i64,
    /// Every update makes a new version; an execution runs the version it started with.
    pub version: i64,
    /// A schedule's next five run times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_runs: Vec<String>,
    /// Its latest execution (in lists of templates; absent when it never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
    pub created_at: String,
    pub updated_at: String,
}

/// How a template's latest execution went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    pub execution_id: String,
    /// running, waiting, completed, failed or cancelled.
    pub status: String,
    pub started_at: String,
}

/// Create (name, triggerType and actions required) or update (absent fields keep their value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub trigger_config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub actions: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// `POST /workflow-templates/{id}/execute`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteInput {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub trigger_data: Value,
}

/// `POST /workflow-executions/execute`: a workflow given inline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomExecuteInput {
    #[serde(default)]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub actions: Value,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub trigger_data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecuteAccepted {
    pub execution_id: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkflowExecution {
    pub id: String,
    pub template_id: Option<String>,
    pub template_version: Option<i64>,
    pub workflow_name: String,
    pub trigger_type: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub trigger_data: Value,
    /// `pending`, `running`, `waiting`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub current_action_id: Option<String>,
    /// The outputs of finished steps, by action id.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub variables: Value,
    /// When a waiting execution goes on.
    pub waiting_until: Option<String>,
    pub steps: Vec<WorkflowExecutionStep>,
    pub started_at: String,
    pub completed_at: Option<String>,
    /// From start to end, or to now while it runs (ms).
    #[serde(default)]
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The workflow runs whose actions caused this one, oldest first.
    pub cause: Vec<String>,
    /// The execution this one is a branch or sub-workflow of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_execution_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkflowExecutionStep {
    pub id: String,
    pub execution_id: String,
    pub action_id: String,
    pub action_type: String,
    pub action_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub action_config: Value,
    /// `pending`, `running`, `waiting`, `completed`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub output: Value,
    pub error: Option<String>,
    /// A condition's branch: `then` or `else`.
    pub branch: Option<String>,
    pub started_at: String,
    pub completed_at: Option<String>,
    /// From start to end, or to now while it runs (ms).
    #[serde(default)]
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPage {
    pub data: Vec<WorkflowExecution>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionQuery {
    pub status: Option<String>,
    pub template_id: Option<String>,
    /// Started on or after (RFC 3339).
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TemplateStats {
    pub template_id: Option<String>,
    pub workflow_name: String,
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    /// Completed among finished (completed + failed), 0–100; `null` before any finished.
    pub success_rate: Option<f64>,
    pub p50_duration_ms: Option<i64>,
    pub p95_duration_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStats {
    pub total: i64,
    pub pending: i64,
    pub running: i64,
    pub waiting: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub success_rate: Option<f64>,
    pub by_template: Vec<TemplateStats>,
}

/// One day (in the practice's timezone) of a template's runs, by outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TemplateDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub completed: i64,
    pub failed: i64,
    /// Cancelled, or not ended yet.
    pub other: i64,
}

/// How a template's runs went: its totals and percentiles, and the last days day by day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TemplateActivity {
    pub stats: Option<TemplateStats>,
    /// Every day of the period, oldest first (days without runs included, as zeros).
    pub days: Vec<TemplateDay>,
}

/// An email the workflows sent, or kept in the outbox when no SMTP server is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OutboxEmail {
    pub id: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub template: Option<String>,
    /// `kept` (no SMTP server), `queued`, `sent` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub execution_id: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// An email template: subject, text and HTML bodies, in minijinja.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmailTemplate {
    pub name: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub builtin: bool,
    pub updated_at: String,
}

/// Create or replace an email template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailTemplateInput {
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

/// An email template rendered against sample records, sending nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailPreview {
    pub subject: String,
    pub text: String,
    /// The HTML body with every value escaped; none when the template has no HTML.
    pub html: Option<String>,
}

/// A template category and how many templates are in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CategoryCount {
    pub category: String,
    pub count: i64,
}

/// Template list filters and paging.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateQuery {
    pub category: Option<String>,
    pub search: Option<String>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

/// `POST /workflow-templates/{id}/dry-run`, or `/workflow-executions/dry-run` with `actions` (a draft).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DryRunInput {
    /// The actions to try (a draft); a template's own when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub actions: Option<Value>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub trigger_data: Value,
}

/// What each action would do with this trigger data; nothing was sent or written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    pub steps: Vec<DryRunStep>,
    /// The variables the first step would render with (trigger data and the records it names).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub variables: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DryRunStep {
    pub action_id: String,
    pub action_type: String,
    pub action_name: String,
    /// `would_run`, `would_wait`, `would_fail`, `skipped` (a branch not taken) or `not_reached` (after a failure).
    pub status: String,
    /// The config as it would render (the email, the record change, the request, the branch taken).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An event name in words: `appointment.completed` → "When an appointment is completed".
pub fn event_in_words(event: &str) -> String {
    let Some((entity, action)) = event.split_once('.') else { return format!("When {event} happens") };
    let noun = entity.replace('_', " ");
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("When {article} {noun} is {}", action.replace('_', " "))
}

impl WorkflowTemplate {
    /// What starts it, in words: "When an appointment is completed", "Every Monday at 08:00, Europe/London", "Run by hand".
    pub fn trigger_in_words(&self) -> String {
        let config = |k: &str| self.trigger_config.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match self.trigger_type {
            TriggerType::Manual => "Run by hand".into(),
            TriggerType::Event => {
                let conditions = self.trigger_config.get("conditions").is_some_and(|c| !c.is_null());
                format!(
                    "{}{}",
                    event_in_words(&config("event")),
                    if conditions { ", if its conditions hold" } else { "" }
                )
            }
            TriggerType::Schedule => {
                let tz = Some(config("timezone"))
                    .filter(|z| !z.is_empty())
                    .unwrap_or_else(|| "the practice's timezone".into());
                match crate::cron_words::describe(&config("cron")) {
                    Some(words) => format!("{words}, {tz}"),
                    None => format!("On the schedule {} ({tz})", config("cron")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_sentences() {
        assert_eq!(event_in_words("appointment.completed"), "When an appointment is completed");
        assert_eq!(event_in_words("lab_test.ordered"), "When a lab test is ordered");
        assert_eq!(event_in_words("invoice.overdue"), "When an invoice is overdue");
    }
}

/// Unsaved builder edits kept on the server for their author: never live,
/// back after a refresh, a closed tab or a crash, in any browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptDraft {
    /// The template version the edits started from (0 for a new template).
    pub base_version: i64,
    /// The builder's draft ([`crate::builder::Draft`]) as JSON.
    pub body: Value,
    pub updated_at: String,
}
