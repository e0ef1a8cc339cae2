//! Server functions of the Workflows, Executions and Mailbox pages: thin
//! calls into the domain's workflow services, which decide what the caller
//! may do (staff read and run templates; admins change them, cancel, retry).

use leptos::prelude::*;
use wire::webhooks::Page;
use wire::workflows::{ExecuteAccepted, ExecutionPage, OutboxEmail, WorkflowExecution, WorkflowTemplate};

#[cfg(feature = "ssr")]
use crate::api::ssr;

#[server(prefix = "/rpc", endpoint = "workflow_templates", protocol = crate::codec::Rpc)]
pub async fn workflow_templates(search: String) -> Result<Page<WorkflowTemplate>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let q = wire::workflows::TemplateQuery {
        search: Some(search).filter(|s| !s.trim().is_empty()),
        limit: Some(100),
        ..Default::default()
    };
    s.list_templates(&p, &q, true).await.map_err(ssr::user_error)
}

/// Runs a template now; `trigger_data` is the JSON object typed in the form.
#[server(prefix = "/rpc", endpoint = "run_template", protocol = crate::codec::Rpc)]
pub async fn run_template(id: String, trigger_data: String) -> Result<ExecuteAccepted, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let text = if trigger_data.trim().is_empty() { "{}" } else { trigger_data.trim() };
    let data = serde_json::from_str(text)
        .map_err(|e| ssr::user_error(domain::Error::invalid("triggerData", format!("is not JSON: {e}"))))?;
    s.execute_template(&p, &id, wire::workflows::ExecuteInput { trigger_data: data }).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "set_template_active", protocol = crate::codec::Rpc)]
pub async fn set_template_active(id: String, active: bool) -> Result<WorkflowTemplate, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let input = wire::workflows::TemplateInput { is_active: Some(active), ..Default::default() };
    s.update_template(&p, &id, input).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "set_template_public", protocol = crate::codec::Rpc)]
pub async fn set_template_public(id: String, public: bool) -> Result<WorkflowTemplate, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let input = wire::workflows::TemplateInput { is_public: Some(public), ..Default::default() };
    s.update_template(&p, &id, input).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "duplicate_template", protocol = crate::codec::Rpc)]
pub async fn duplicate_template(id: String) -> Result<WorkflowTemplate, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.duplicate_template(&p, &id).await.map_err(ssr::user_error)
}

/// How many runs of the template have not ended (what the delete dialog says).
#[server(prefix = "/rpc", endpoint = "template_unfinished", protocol = crate::codec::Rpc)]
pub async fn template_unfinished(id: String) -> Result<i64, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.unfinished_executions_of(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "delete_template", protocol = crate::codec::Rpc)]
pub async fn delete_template(id: String) -> Result<(), ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.delete_template(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "workflow_executions", protocol = crate::codec::Rpc)]
pub async fn workflow_executions(
    status: String,
    template_id: String,
    since: String,
    cursor: String,
) -> Result<ExecutionPage, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let q = wire::workflows::ExecutionQuery {
        status: Some(status).filter(|s| !s.is_empty()),
        template_id: Some(template_id).filter(|s| !s.is_empty()),
        // A date picked in the form: from its first moment, UTC.
        from: Some(since).filter(|s| !s.is_empty()).map(|d| if d.len() == 10 { format!("{d}T00:00:00Z") } else { d }),
        cursor: Some(cursor).filter(|c| !c.is_empty()),
        limit: Some(25),
        ..Default::default()
    };
    s.list_executions(&p, &q).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "execution_detail", protocol = crate::codec::Rpc)]
pub async fn execution_detail(id: String) -> Result<WorkflowExecution, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.get_execution(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "cancel_workflow_execution", protocol = crate::codec::Rpc)]
pub async fn cancel_workflow_execution(id: String) -> Result<WorkflowExecution, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.cancel_execution(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "retry_workflow_execution", protocol = crate::codec::Rpc)]
pub async fn retry_workflow_execution(id: String) -> Result<WorkflowExecution, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.retry_execution(&p, &id).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "outbox_emails", protocol = crate::codec::Rpc)]
pub async fn outbox_emails() -> Result<Vec<OutboxEmail>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.outbox(&p, 100).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "email_template_list", protocol = crate::codec::Rpc)]
pub async fn email_template_list() -> Result<Vec<wire::workflows::EmailTemplate>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.email_templates(&p).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "save_email_template", protocol = crate::codec::Rpc)]
pub async fn save_email_template(
    name: String,
    input: wire::workflows::EmailTemplateInput,
) -> Result<wire::workflows::EmailTemplate, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.put_email_template(&p, &name, input).await.map_err(ssr::user_error)
}

/// An email template being edited, rendered against the records `trigger_data` names.
#[server(prefix = "/rpc", endpoint = "preview_email_template", protocol = crate::codec::Rpc)]
pub async fn preview_email_template(
    input: wire::workflows::EmailTemplateInput,
    trigger_data: serde_json::Value,
) -> Result<wire::workflows::EmailPreview, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.preview_email(&p, input, trigger_data).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "delete_email_template", protocol = crate::codec::Rpc)]
pub async fn delete_email_template(name: String) -> Result<(), ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.delete_email_template(&p, &name).await.map_err(ssr::user_error)
}
