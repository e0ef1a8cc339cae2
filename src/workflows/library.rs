//! What the template library offers beside create/update/delete: a copy to
//! start from, and how many runs a deletion would leave finishing on their
//! saved version.

use wire::workflows::{TemplateInput, WorkflowTemplate};

use super::schedule;
use crate::auth::{Action as Can, Authorize, Principal};
use crate::{Error, Result, Services};

impl Services {
    /// A new, inactive template with the same trigger and actions, named "… (copy)".
    pub async fn duplicate_template(&self, caller: &Principal, id: &str) -> Result<WorkflowTemplate> {
        caller.require(Can::ManageWorkflows)?;
        let t = self.get_template(caller, id).await?;
        let name: String = format!("{} (copy)", t.name).chars().take(200).collect();
        let input = TemplateInput {
            name: Some(name),
            description: Some(t.description),
            category: Some(t.category),
            trigger_type: Some(t.trigger_type.as_str().to_string()),
            trigger_config: Some(t.trigger_config),
            actions: Some(serde_json::to_value(&t.actions).map_err(Error::internal)?),
            is_public: Some(t.is_public),
            // A copy of an event or schedule template must not start running twice as often.
            is_active: Some(false),
        };
        self.create_template(caller, input).await
    }

    /// How many of a template's executions have not ended: they finish on
    /// their own snapshot if the template is deleted.
    pub async fn unfinished_executions_of(&self, caller: &Principal, id: &str) -> Result<i64> {
        caller.require(Can::ReadWorkflows)?;
        self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
        self.db.unfinished_executions_of(id).await
    }

    /// The next five runs of a schedule being drafted, in its own timezone
    /// ("Mon 2026-12-07 08:00 GMT"), for the builder's trigger panel.
    pub fn schedule_preview(&self, caller: &Principal, cron: &str, timezone: &str) -> Result<Vec<String>> {
        caller.require(Can::ReadWorkflows)?;
        let parsed = schedule::parse(cron).map_err(|e| Error::invalid("triggerConfig.cron", e))?;
        let tz: chrono_tz::Tz = match timezone.trim() {
            "" => self.settings.timezone,
            name => name.parse().map_err(|_| {
                Error::invalid("triggerConfig.timezone", "is not an IANA timezone such as Europe/London")
            })?,
        };
        Ok(schedule::next_runs(&parsed, tz, self.now_ms(), 5)
            .into_iter()
            .filter_map(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z").to_string())
            .collect())
    }
}
