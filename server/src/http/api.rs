//! The REST API under `/api/v1`: thin handlers over the domain services.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use domain::auth::{Principal, Role};
use domain::events::ingest::PublishInput;
use domain::webhooks::{
    Accepted, Analytics, Delivery, EventType, ListQuery, Page, TestResult, Webhook, WebhookInput, WebhookStats,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::json::ApiJson;
use super::problem::{ApiResult, Problem};
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(super::openapi::openapi))
        .route("/me", get(me))
        .route("/api-keys", get(list_keys).post(create_key))
        .route("/api-keys/{id}", delete(revoke_key))
        .route("/events", post(publish))
        .route("/event-types", get(event_types).post(register_event_type))
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route("/webhooks/analytics", get(analytics))
        .route("/webhooks/verify", post(verify))
        .route("/webhooks/deliveries/all", get(all_deliveries))
        .route("/webhooks/deliveries/{id}", get(delivery))
        .route("/webhooks/deliveries/{id}/retry", post(retry_delivery))
        .route("/webhooks/{id}", get(get_webhook).put(update_webhook).delete(delete_webhook))
        .route("/webhooks/{id}/regenerate-secret", post(regenerate_secret))
        .route("/webhooks/{id}/test", post(test_webhook))
        .route("/webhooks/{id}/deliveries", get(webhook_deliveries))
        .route("/webhooks/{id}/stats", get(webhook_stats))
        .route("/webhooks/{id}/recover", post(recover))
}

async fn me(Extension(p): Extension<Principal>) -> Json<Principal> {
    Json(p)
}

async fn list_keys(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<domain::services::ApiKeyInfo>>> {
    p.require_admin()?;
    Ok(Json(s.services.list_api_keys().await?))
}

#[derive(Deserialize)]
struct NewKey {
    name: String,
    role: Role,
}

async fn create_key(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<domain::services::CreatedApiKey>)> {
    p.require_admin()?;
    Ok((StatusCode::CREATED, Json(s.services.create_api_key(&body.name, body.role).await?)))
}

async fn revoke_key(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    p.require_admin()?;
    s.services.revoke_api_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- events ----

async fn publish(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PublishInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let accepted = s.services.publish(input, key).await?;
    s.metrics.events_accepted.inc();
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

async fn event_types(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "data": s.services.event_types().await? })))
}

async fn register_event_type(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(t): ApiJson<EventType>,
) -> ApiResult<(StatusCode, Json<EventType>)> {
    p.require_admin()?;
    Ok((StatusCode::CREATED, Json(s.services.register_event_type(t).await?)))
}

// ---- webhooks ----

async fn list_webhooks(State(s): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Webhook>>> {
    Ok(Json(s.services.list_webhooks(&q).await?))
}

async fn create_webhook(
    State(s): State<AppState>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    Ok((StatusCode::CREATED, Json(s.services.create_webhook(input).await?)))
}

async fn get_webhook(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(s.services.get_webhook(&id, p.is_admin()).await?))
}

async fn update_webhook(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(s.services.update_webhook(&id, input).await?))
}

async fn delete_webhook(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.services.delete_webhook(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RegenerateInput {
    #[serde(default)]
    revoke_immediately: bool,
}

async fn regenerate_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Webhook>> {
    // The body is optional: no body keeps the old secret valid for the overlap period.
    let revoke = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<RegenerateInput>(&body)
            .map_err(|e| domain::Error::invalid("revokeImmediately", e.to_string()))?
            .revoke_immediately
    };
    Ok(Json(s.services.regenerate_secret(&id, revoke).await?))
}

async fn test_webhook(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<TestResult>> {
    Ok(Json(s.services.test_webhook(&id).await?))
}

async fn webhook_deliveries(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    Ok(Json(s.services.list_deliveries(Some(&id), &q).await?))
}

async fn all_deliveries(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    p.require_admin()?;
    Ok(Json(s.services.list_deliveries(None, &q).await?))
}

async fn delivery(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Delivery>> {
    Ok(Json(s.services.get_delivery(&id).await?))
}

async fn retry_delivery(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Delivery>> {
    Ok(Json(s.services.retry_delivery(&id).await?))
}

async fn webhook_stats(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<WebhookStats>> {
    Ok(Json(s.services.webhook_stats(&id).await?))
}

#[derive(Deserialize)]
struct AnalyticsQuery {
    days: Option<i64>,
}

async fn analytics(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AnalyticsQuery>,
) -> ApiResult<Json<Analytics>> {
    p.require_admin()?;
    Ok(Json(s.services.analytics(q.days.unwrap_or(14)).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecoverInput {
    since: String,
    /// Also create deliveries for the events it missed while paused or disabled.
    #[serde(default)]
    include_missed: bool,
}

async fn recover(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RecoverInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let since = chrono::DateTime::parse_from_rfc3339(&input.since)
        .map_err(|_| domain::Error::invalid("since", "must be an RFC 3339 time, e.g. 2026-11-28T00:00:00Z"))?
        .timestamp_millis();
    let requeued = s.services.recover(&id, since).await?;
    let replayed = if input.include_missed { s.services.replay_missed(&id, since).await? } else { 0 };
    Ok((StatusCode::ACCEPTED, Json(json!({ "requeued": requeued, "replayed": replayed }))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyInput {
    secret: String,
    headers: BTreeMap<String, String>,
    payload: String,
}

async fn verify(ApiJson(input): ApiJson<VerifyInput>) -> Result<Json<Value>, Problem> {
    let now = chrono::Utc::now().timestamp();
    Ok(Json(match domain::webhooks::service::verify_request(&input.secret, &input.headers, &input.payload, now) {
        Ok(()) => json!({ "valid": true }),
        Err(e) => json!({ "valid": false, "reason": e.to_string() }),
    }))
}
