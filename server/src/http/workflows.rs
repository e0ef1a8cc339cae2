//! `/api/v1/workflow-templates…`, `/api/v1/workflow-executions…` (the seed's
//! fifteen endpoints), template versions, email templates and the outbox:
//! thin handlers over the domain's workflow services.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use domain::auth::Principal;
use serde::Deserialize;
use wire::webhooks::Page;
use wire::workflows::{
    CategoryCount, CustomExecuteInput, DryRun, DryRunInput, EmailTemplate, EmailTemplateInput, ExecuteAccepted,
    ExecuteInput, ExecutionPage, ExecutionQuery, ExecutionStats, OutboxEmail, TemplateInput, TemplateQuery,
    WorkflowExecution, WorkflowTemplate,
};

use super::allowed::{needs, Allowed};
use super::json::ApiJson;
use super::problem::ApiResult;
use super::query::ApiQuery;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workflow-templates", get(list_templates).post(create_template))
        .route("/workflow-templates/popular", get(popular_templates))
        .route("/workflow-templates/categories", get(categories))
        .route("/workflow-templates/category/{category}", get(templates_in_category))
        .route("/workflow-templates/{id}", get(get_template).put(update_template).delete(delete_template))
        .route("/workflow-templates/{id}/versions", get(template_versions))
        .route("/workflow-templates/{id}/execute", post(execute_template))
        .route("/workflow-templates/{id}/dry-run", post(dry_run_template))
        .route("/workflow-executions", get(list_executions))
        .route("/workflow-executions/stats", get(execution_stats))
        .route("/workflow-executions/recent", get(recent_executions))
        .route("/workflow-executions/execute", post(execute_custom))
        .route("/workflow-executions/dry-run", post(dry_run_draft))
        .route("/workflow-executions/{id}", get(get_execution))
        .route("/workflow-executions/{id}/cancel", post(cancel_execution))
        .route("/workflow-executions/{id}/retry", post(retry_execution))
        .route("/email-templates", get(email_templates))
        .route("/email-templates/{name}", put(put_email_template).delete(delete_email_template))
        .route("/outbox", get(outbox))
}

type Caller = Extension<Principal>;

#[utoipa::path(post, path = "/workflow-templates", tag = "workflows",
    summary = "Create a template; everything is checked first (errors name the field, like `actions[1].config.to`)",
    request_body = TemplateInput, responses((status = 201, body = WorkflowTemplate)))]
pub async fn create_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    _: Allowed<needs::ManageWorkflows>,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<(StatusCode, Json<WorkflowTemplate>)> {
    Ok((StatusCode::CREATED, Json(s.services.create_template(&p, input).await?)))
}

#[utoipa::path(get, path = "/workflow-templates", tag = "workflows", summary = "List templates (filter by category, search)",
    params(TemplateQuery), responses((status = 200, body = Page<WorkflowTemplate>)))]
pub async fn list_templates(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<Page<WorkflowTemplate>>> {
    Ok(Json(s.services.list_templates(&p, &q, false).await?))
}

#[utoipa::path(get, path = "/workflow-templates/popular", tag = "workflows", summary = "Templates by usage count, most used first",
    params(TemplateQuery), responses((status = 200, body = Page<WorkflowTemplate>)))]
pub async fn popular_templates(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<Page<WorkflowTemplate>>> {
    Ok(Json(s.services.list_templates(&p, &q, true).await?))
}

#[utoipa::path(get, path = "/workflow-templates/categories", tag = "workflows", summary = "Categories with their template counts",
    responses((status = 200, body = Vec<CategoryCount>)))]
pub async fn categories(State(s): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Vec<CategoryCount>>> {
    Ok(Json(s.services.template_categories(&p).await?))
}

#[utoipa::path(get, path = "/workflow-templates/category/{category}", tag = "workflows", summary = "Templates of one category",
    params(("category" = String, Path), TemplateQuery), responses((status = 200, body = Page<WorkflowTemplate>)))]
pub async fn templates_in_category(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(category): Path<String>,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<Page<WorkflowTemplate>>> {
    let q = TemplateQuery { category: Some(category), ..q };
    Ok(Json(s.services.list_templates(&p, &q, false).await?))
}

#[utoipa::path(get, path = "/workflow-templates/{id}", tag = "workflows", summary = "A template (schedules show their next five runs)",
    params(("id" = String, Path)), responses((status = 200, body = WorkflowTemplate)))]
pub async fn get_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowTemplate>> {
    Ok(Json(s.services.get_template(&p, &id).await?))
}

#[utoipa::path(put, path = "/workflow-templates/{id}", tag = "workflows",
    summary = "Change a template: a new version; executions under way keep the version they started with",
    params(("id" = String, Path)), request_body = TemplateInput, responses((status = 200, body = WorkflowTemplate)))]
pub async fn update_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    _: Allowed<needs::ManageWorkflows>,
    ApiJson(input): ApiJson<TemplateInput>,
) -> ApiResult<Json<WorkflowTemplate>> {
    Ok(Json(s.services.update_template(&p, &id, input).await?))
}

#[utoipa::path(delete, path = "/workflow-templates/{id}", tag = "workflows",
    summary = "Delete a template; executions under way finish on their snapshot",
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_template(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/workflow-templates/{id}/versions", tag = "workflows", summary = "Every saved version, newest first",
    params(("id" = String, Path)), responses((status = 200, body = Vec<WorkflowTemplate>)))]
pub async fn template_versions(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<WorkflowTemplate>>> {
    Ok(Json(s.services.template_versions(&p, &id).await?))
}

#[utoipa::path(post, path = "/workflow-templates/{id}/execute", tag = "workflows",
    summary = "Run a template now with `triggerData`; the execution runs in the background",
    params(("id" = String, Path)), request_body = ExecuteInput, responses((status = 202, body = ExecuteAccepted)))]
pub async fn execute_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ExecuteInput>,
) -> ApiResult<(StatusCode, Json<ExecuteAccepted>)> {
    Ok((StatusCode::ACCEPTED, Json(s.services.execute_template(&p, &id, input).await?)))
}

#[utoipa::path(post, path = "/workflow-templates/{id}/dry-run", tag = "workflows",
    summary = "What each action would do with this trigger data (or with `actions`, a draft); sends and writes nothing",
    params(("id" = String, Path)), request_body = DryRunInput, responses((status = 200, body = DryRun)))]
pub async fn dry_run_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<DryRunInput>,
) -> ApiResult<Json<DryRun>> {
    Ok(Json(s.services.dry_run(&p, Some(&id), input).await?))
}

#[utoipa::path(post, path = "/workflow-executions/dry-run", tag = "workflows",
    summary = "What the actions given would do with this trigger data; sends and writes nothing",
    request_body = DryRunInput, responses((status = 200, body = DryRun)))]
pub async fn dry_run_draft(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiJson(input): ApiJson<DryRunInput>,
) -> ApiResult<Json<DryRun>> {
    Ok(Json(s.services.dry_run(&p, None, input).await?))
}

#[utoipa::path(get, path = "/workflow-executions", tag = "workflows",
    summary = "List executions, newest first: filter by status, template and start time; keyset pages (nextCursor)",
    params(ExecutionQuery), responses((status = 200, body = ExecutionPage)))]
pub async fn list_executions(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<ExecutionQuery>,
) -> ApiResult<Json<ExecutionPage>> {
    Ok(Json(s.services.list_executions(&p, &q).await?))
}

#[utoipa::path(get, path = "/workflow-executions/stats", tag = "workflows",
    summary = "Executions by status, success rate, and duration p50/p95 per template",
    responses((status = 200, body = ExecutionStats)))]
pub async fn execution_stats(State(s): State<AppState>, Extension(p): Caller) -> ApiResult<Json<ExecutionStats>> {
    Ok(Json(s.services.execution_stats(&p).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecentQuery {
    /// How many (1 to 100; 10 unless given).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/workflow-executions/recent", tag = "workflows", summary = "The most recent executions",
    params(RecentQuery), responses((status = 200, body = Vec<WorkflowExecution>)))]
pub async fn recent_executions(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<RecentQuery>,
) -> ApiResult<Json<Vec<WorkflowExecution>>> {
    let q = ExecutionQuery { limit: Some(q.limit.unwrap_or(10)), ..Default::default() };
    Ok(Json(s.services.list_executions(&p, &q).await?.data))
}

#[utoipa::path(post, path = "/workflow-executions/execute", tag = "workflows",
    summary = "Run actions given inline (no template), checked as a template's are",
    request_body = CustomExecuteInput, responses((status = 202, body = ExecuteAccepted)))]
pub async fn execute_custom(
    State(s): State<AppState>,
    Extension(p): Caller,
    _: Allowed<needs::ManageWorkflows>,
    ApiJson(input): ApiJson<CustomExecuteInput>,
) -> ApiResult<(StatusCode, Json<ExecuteAccepted>)> {
    Ok((StatusCode::ACCEPTED, Json(s.services.execute_custom(&p, input).await?)))
}

#[utoipa::path(get, path = "/workflow-executions/{id}", tag = "workflows",
    summary = "An execution with every step: status, config, output, error, timings, branch taken",
    params(("id" = String, Path)), responses((status = 200, body = WorkflowExecution)))]
pub async fn get_execution(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowExecution>> {
    Ok(Json(s.services.get_execution(&p, &id).await?))
}

#[utoipa::path(post, path = "/workflow-executions/{id}/cancel", tag = "workflows",
    summary = "Stop a pending, running or waiting execution (409 when it already ended)",
    params(("id" = String, Path)), responses((status = 200, body = WorkflowExecution)))]
pub async fn cancel_execution(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowExecution>> {
    Ok(Json(s.services.cancel_execution(&p, &id).await?))
}

#[utoipa::path(post, path = "/workflow-executions/{id}/retry", tag = "workflows",
    summary = "Run a failed execution again from the step that failed (409 unless it failed)",
    params(("id" = String, Path)), responses((status = 200, body = WorkflowExecution)))]
pub async fn retry_execution(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowExecution>> {
    Ok(Json(s.services.retry_execution(&p, &id).await?))
}

#[utoipa::path(get, path = "/email-templates", tag = "workflows", summary = "Email templates that `send_email` names",
    responses((status = 200, body = Vec<EmailTemplate>)))]
pub async fn email_templates(State(s): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Vec<EmailTemplate>>> {
    Ok(Json(s.services.email_templates(&p).await?))
}

#[utoipa::path(put, path = "/email-templates/{name}", tag = "workflows", summary = "Create or change an email template",
    params(("name" = String, Path)), request_body = EmailTemplateInput, responses((status = 200, body = EmailTemplate)))]
pub async fn put_email_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(name): Path<String>,
    _: Allowed<needs::ManageWorkflows>,
    ApiJson(input): ApiJson<EmailTemplateInput>,
) -> ApiResult<Json<EmailTemplate>> {
    Ok(Json(s.services.put_email_template(&p, &name, input).await?))
}

#[utoipa::path(delete, path = "/email-templates/{name}", tag = "workflows",
    summary = "Delete an email template (built-in ones can be edited, not deleted)",
    params(("name" = String, Path)), responses((status = 204)))]
pub async fn delete_email_template(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_email_template(&p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// How many (1 to 500; 100 unless given).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/outbox", tag = "workflows",
    summary = "Emails workflows sent, newest first (kept here, and sent too when SMTP is configured)",
    params(OutboxQuery), responses((status = 200, body = Vec<OutboxEmail>)))]
pub async fn outbox(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<Vec<OutboxEmail>>> {
    Ok(Json(s.services.outbox(&p, q.limit.unwrap_or(100)).await?))
}
