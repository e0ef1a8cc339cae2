//! Server functions of the workflow builder: thin calls into the domain's
//! workflow services, which validate drafts and decide who may save them.

use leptos::prelude::*;
use serde_json::Value;
use wire::builder::Catalog;
use wire::workflows::{DryRun, KeptDraft, TemplateInput, WorkflowTemplate};

#[cfg(feature = "ssr")]
use crate::api::ssr;

/// Everything the builder's pickers offer: events and their examples, email
/// templates, other templates, and the records' fields.
#[server(prefix = "/rpc", endpoint = "builder_catalog", protocol = crate::codec::Rpc)]
pub async fn builder_catalog() -> Result<Catalog, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let events = s.event_types(&p).await.map_err(ssr::user_error)?;
    let emails = s.email_templates(&p).await.map_err(ssr::user_error)?;
    let q = wire::workflows::TemplateQuery { limit: Some(100), ..Default::default() };
    let templates = s.list_templates(&p, &q, false).await.map_err(ssr::user_error)?;
    let schemas = s.entity_schemas(&p).map_err(ssr::user_error)?;
    Ok(Catalog {
        events: events.into_iter().map(|e| (e.name, e.example)).collect(),
        email_templates: emails.into_iter().map(|e| e.name).collect(),
        templates: templates.data.into_iter().map(|t| (t.id, t.name)).collect(),
        records: wire::builder::record_roots(&schemas),
        entity_fields: schemas
            .iter()
            .map(|s| {
                let fields = s.schema.get("properties").and_then(Value::as_object);
                (s.entity.as_str().to_string(), fields.into_iter().flat_map(|f| f.keys().cloned()).collect())
            })
            .collect(),
        starters: wire::builder::starters::all().into_iter().map(|s| (s.slug.to_string(), s.template)).collect(),
    })
}

#[server(prefix = "/rpc", endpoint = "builder_template", protocol = crate::codec::Rpc)]
pub async fn builder_template(id: String) -> Result<WorkflowTemplate, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.get_template(&p, &id).await.map_err(ssr::user_error)
}

/// Creates the template (`id` empty) or saves a new version of it; the
/// caller's kept draft of it is then dropped.
#[server(prefix = "/rpc", endpoint = "save_template", protocol = crate::codec::Rpc)]
pub async fn save_template(id: String, input: TemplateInput) -> Result<WorkflowTemplate, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let saved = if id.is_empty() {
        s.create_template(&p, input).await.map_err(ssr::user_error)?
    } else {
        s.update_template(&p, &id, input).await.map_err(ssr::user_error)?
    };
    s.discard_draft(&p, Some(&id)).await.map_err(ssr::user_error)?;
    Ok(saved)
}

/// Keeps the caller's unsaved edits of a template (`id` empty: a new one) on the server.
#[server(prefix = "/rpc", endpoint = "keep_draft", protocol = crate::codec::Rpc)]
pub async fn keep_draft(id: String, base_version: i64, body: Value) -> Result<KeptDraft, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.keep_draft(&p, Some(&id), base_version, &body).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "load_draft", protocol = crate::codec::Rpc)]
pub async fn load_draft(id: String) -> Result<Option<KeptDraft>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.kept_draft(&p, Some(&id)).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "discard_draft", protocol = crate::codec::Rpc)]
pub async fn discard_draft(id: String) -> Result<(), ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.discard_draft(&p, Some(&id)).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "schedule_preview", protocol = crate::codec::Rpc)]
pub async fn schedule_preview(cron: String, timezone: String) -> Result<Vec<String>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.schedule_preview(&p, &cron, &timezone).map_err(ssr::user_error)
}

/// What the draft's actions would do with this trigger data (JSON text); sends nothing.
#[server(prefix = "/rpc", endpoint = "dry_run_draft", protocol = crate::codec::Rpc)]
pub async fn dry_run_draft(actions: Value, trigger_data: String) -> Result<DryRun, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let text = if trigger_data.trim().is_empty() { "{}" } else { trigger_data.trim() };
    let data = serde_json::from_str(text)
        .map_err(|e| ssr::user_error(domain::Error::invalid("triggerData", format!("is not JSON: {e}"))))?;
    let input = wire::workflows::DryRunInput { actions: Some(actions), trigger_data: data };
    s.dry_run(&p, None, input).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "template_versions", protocol = crate::codec::Rpc)]
pub async fn template_versions(id: String) -> Result<Vec<WorkflowTemplate>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.template_versions(&p, &id).await.map_err(ssr::user_error)
}

/// How the template's runs went over the last two weeks.
#[server(prefix = "/rpc", endpoint = "template_activity", protocol = crate::codec::Rpc)]
pub async fn template_activity(id: String) -> Result<wire::workflows::TemplateActivity, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.template_activity(&p, &id, 14).await.map_err(ssr::user_error)
}

/// Counts by status and by template (the dashboard's failing workflows).
#[server(prefix = "/rpc", endpoint = "execution_stats", protocol = crate::codec::Rpc)]
pub async fn execution_stats() -> Result<wire::workflows::ExecutionStats, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.execution_stats(&p).await.map_err(ssr::user_error)
}
