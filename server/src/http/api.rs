//! The REST API under `/api/v1`: thin handlers over the domain services,
//! which decide what the caller may do. Each handler's `#[utoipa::path]`
//! feeds the OpenAPI document (`openapi.rs`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use domain::auth::Principal;
use domain::services::{ApiKeyInfo, CreatedApiKey};
use domain::webhooks::{
    Accepted, Analytics, Delivery, EventType, EventTypeList, ListQuery, Page, PublishInput, RecoverInput,
    RecoverResult, RegenerateInput, TestResult, VerifyInput, VerifyResult, Webhook, WebhookInput, WebhookStats,
};
use serde::Deserialize;
use wire::auth::NewApiKey;
use wire::notifications::Notification;
use wire::queue::{DeadWork, DeadWorkList};

use super::allowed::{needs, Allowed};
use super::json::ApiJson;
use super::problem::ApiResult;
use super::query::ApiQuery;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(super::openapi::openapi))
        .route("/me", get(me))
        .route("/api-keys", get(list_keys).post(create_key))
        .route("/api-keys/{id}", delete(revoke_key))
        .route("/events", post(publish))
        .route("/event-types", get(event_types).post(register_event_type))
        .route("/notifications", get(notifications))
        .route("/queue/dead", get(dead_work))
        .route("/queue/dead/{id}", delete(discard_dead_work))
        .route("/queue/dead/{id}/retry", post(retry_dead_work))
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

type Caller = Extension<Principal>;

#[utoipa::path(get, path = "/me", tag = "auth", summary = "The caller",
    responses((status = 200, body = Principal)))]
pub async fn me(Extension(p): Caller) -> Json<Principal> {
    Json(p)
}

#[utoipa::path(get, path = "/api-keys", tag = "auth", summary = "API keys (admin; never their plaintext)",
    responses((status = 200, body = Vec<ApiKeyInfo>)))]
pub async fn list_keys(State(s): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    Ok(Json(s.services.list_api_keys(&p).await?))
}

#[utoipa::path(post, path = "/api-keys", tag = "auth", summary = "Create an API key (admin); the key is shown once",
    request_body = NewApiKey, responses((status = 201, body = CreatedApiKey)))]
pub async fn create_key(
    State(s): State<AppState>,
    Extension(p): Caller,
    _: Allowed<needs::ManageAccess>,
    ApiJson(body): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    Ok((StatusCode::CREATED, Json(s.services.create_api_key(&p, &body.name, body.role).await?)))
}

#[utoipa::path(delete, path = "/api-keys/{id}", tag = "auth", summary = "Revoke an API key (admin)",
    params(("id" = String, Path)), responses((status = 204, description = "Revoked")))]
pub async fn revoke_key(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.revoke_api_key(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- events ----

#[utoipa::path(post, path = "/events", tag = "events",
    summary = "Publish an event (202); `Idempotency-Key` or `id` makes it idempotent for 24 h",
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key within 24 h answers as the first time")),
    request_body = PublishInput, responses((status = 202, body = Accepted), (status = 413, description = "`data` is larger than the limit")))]
pub async fn publish(
    State(s): State<AppState>,
    Extension(p): Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PublishInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    // Any UTF-8 is a key; bytes that are not UTF-8 are refused, never ignored.
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            String::from_utf8(v.as_bytes().to_vec())
                .map_err(|_| domain::Error::invalid("Idempotency-Key", "must be UTF-8 text"))?,
        ),
    };
    let accepted = s.services.publish(&p, input, key).await?;
    s.metrics.events_accepted.inc();
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

#[utoipa::path(get, path = "/event-types", tag = "events", summary = "The event catalog with JSON Schemas and examples",
    responses((status = 200, body = EventTypeList)))]
pub async fn event_types(State(s): State<AppState>, Extension(p): Caller) -> ApiResult<Json<EventTypeList>> {
    Ok(Json(EventTypeList { data: s.services.event_types(&p).await? }))
}

#[utoipa::path(post, path = "/event-types", tag = "events", summary = "Register a custom event type (admin)",
    request_body = EventType, responses((status = 201, body = EventType)))]
pub async fn register_event_type(
    State(s): State<AppState>,
    Extension(p): Caller,
    _: Allowed<needs::ManageEventTypes>,
    ApiJson(t): ApiJson<EventType>,
) -> ApiResult<(StatusCode, Json<EventType>)> {
    Ok((StatusCode::CREATED, Json(s.services.register_event_type(&p, t).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// How many, at most (default 100).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/notifications", tag = "notifications", summary = "In-app notifications, newest first",
    params(LimitQuery), responses((status = 200, body = Vec<Notification>)))]
pub async fn notifications(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(s.services.notifications(&p, q.limit.unwrap_or(100)).await?))
}

// ---- the queue ----

#[utoipa::path(get, path = "/queue/dead", tag = "queue",
    summary = "Work that stopped being retried after failing or crashing too often (admin)",
    params(LimitQuery), responses((status = 200, body = DeadWorkList)))]
pub async fn dead_work(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<DeadWorkList>> {
    Ok(Json(DeadWorkList { data: s.services.dead_work(&p, q.limit.unwrap_or(100)).await? }))
}

#[utoipa::path(post, path = "/queue/dead/{id}/retry", tag = "queue", summary = "Make dead work due again now (admin)",
    params(("id" = String, Path)), responses((status = 204, description = "Queued")))]
pub async fn retry_dead_work(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.retry_dead_work(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/queue/dead/{id}", tag = "queue",
    summary = "Discard dead work for good (admin); a delivery is marked failed",
    params(("id" = String, Path)), responses((status = 200, body = DeadWork)))]
pub async fn discard_dead_work(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeadWork>> {
    Ok(Json(s.services.discard_dead_work(&p, &id).await?))
}

// ---- webhooks ----

#[utoipa::path(get, path = "/webhooks", tag = "webhooks", summary = "List webhooks", params(ListQuery),
    responses((status = 200, body = Page<Webhook>)))]
pub async fn list_webhooks(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Webhook>>> {
    Ok(Json(s.services.list_webhooks(&p, &q).await?))
}

#[utoipa::path(post, path = "/webhooks", tag = "webhooks", summary = "Create a webhook (admin; returns its secret)",
    request_body = WebhookInput, responses((status = 201, body = Webhook)))]
pub async fn create_webhook(
    State(s): State<AppState>,
    Extension(p): Caller,
    _: Allowed<needs::ManageWebhooks>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    Ok((StatusCode::CREATED, Json(s.services.create_webhook(&p, input).await?)))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", summary = "A webhook (its secret for admins)",
    params(("id" = String, Path)), responses((status = 200, body = Webhook)))]
pub async fn get_webhook(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(s.services.get_webhook(&p, &id).await?))
}

#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", summary = "Update a webhook (admin); absent fields keep their value",
    params(("id" = String, Path)), request_body = WebhookInput, responses((status = 200, body = Webhook)))]
pub async fn update_webhook(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    _: Allowed<needs::ManageWebhooks>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(s.services.update_webhook(&p, &id, input).await?))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", summary = "Delete a webhook and its history (admin)",
    params(("id" = String, Path)), responses((status = 204, description = "Deleted")))]
pub async fn delete_webhook(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_webhook(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/webhooks/{id}/regenerate-secret", tag = "webhooks",
    summary = "New secret (admin); the old one signs for 24 h more unless `revokeImmediately`",
    params(("id" = String, Path)), request_body(content = Option<RegenerateInput>, description = "Optional"),
    responses((status = 200, body = Webhook)))]
pub async fn regenerate_secret(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    _: Allowed<needs::RevealSecrets>,
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
    Ok(Json(s.services.regenerate_secret(&p, &id, revoke).await?))
}

#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", summary = "Send `webhook.test` now and report the attempt",
    params(("id" = String, Path)), responses((status = 200, body = TestResult)))]
pub async fn test_webhook(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TestResult>> {
    Ok(Json(s.services.test_webhook(&p, &id).await?))
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "deliveries",
    summary = "Delivery history of a webhook, newest first", params(("id" = String, Path), ListQuery),
    responses((status = 200, body = Page<Delivery>)))]
pub async fn webhook_deliveries(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    Ok(Json(s.services.list_deliveries(&p, Some(&id), &q).await?))
}

#[utoipa::path(get, path = "/webhooks/deliveries/all", tag = "deliveries", summary = "All deliveries (admin)",
    params(ListQuery), responses((status = 200, body = Page<Delivery>)))]
pub async fn all_deliveries(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    Ok(Json(s.services.list_deliveries(&p, None, &q).await?))
}

#[utoipa::path(get, path = "/webhooks/deliveries/{id}", tag = "deliveries", summary = "A delivery with every attempt",
    params(("id" = String, Path)), responses((status = 200, body = Delivery)))]
pub async fn delivery(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(s.services.get_delivery(&p, &id).await?))
}

#[utoipa::path(post, path = "/webhooks/deliveries/{id}/retry", tag = "deliveries",
    summary = "Send a delivery again (same webhook-id); 409 while it is being sent",
    params(("id" = String, Path)), responses((status = 200, body = Delivery)))]
pub async fn retry_delivery(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(s.services.retry_delivery(&p, &id).await?))
}

#[utoipa::path(get, path = "/webhooks/{id}/stats", tag = "webhooks", summary = "Counts by status, success rate, p50/p95 latency",
    params(("id" = String, Path)), responses((status = 200, body = WebhookStats)))]
pub async fn webhook_stats(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookStats>> {
    Ok(Json(s.services.webhook_stats(&p, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Days of history, 1 to 90 (default 14).
    days: Option<i64>,
}

#[utoipa::path(get, path = "/webhooks/analytics", tag = "webhooks", summary = "Totals, per event type and per day",
    params(AnalyticsQuery), responses((status = 200, body = Analytics)))]
pub async fn analytics(
    State(s): State<AppState>,
    Extension(p): Caller,
    ApiQuery(q): ApiQuery<AnalyticsQuery>,
) -> ApiResult<Json<Analytics>> {
    Ok(Json(s.services.analytics(&p, q.days.unwrap_or(14)).await?))
}

#[utoipa::path(post, path = "/webhooks/{id}/recover", tag = "deliveries",
    summary = "Re-queue every failed delivery since a time (admin) and, with includeMissed, send the events missed while disabled",
    params(("id" = String, Path)), request_body = RecoverInput, responses((status = 202, body = RecoverResult)))]
pub async fn recover(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(id): Path<String>,
    _: Allowed<needs::RecoverWebhooks>,
    ApiJson(input): ApiJson<RecoverInput>,
) -> ApiResult<(StatusCode, Json<RecoverResult>)> {
    let since = chrono::DateTime::parse_from_rfc3339(&input.since)
        .map_err(|_| domain::Error::invalid("since", "must be an RFC 3339 time, e.g. 2026-11-28T00:00:00Z"))?
        .timestamp_millis();
    let requeued = s.services.recover(&p, &id, since).await?;
    let replayed = if input.include_missed { s.services.replay_missed(&p, &id, since).await? } else { 0 };
    Ok((StatusCode::ACCEPTED, Json(RecoverResult { requeued, replayed })))
}

#[utoipa::path(post, path = "/webhooks/verify", tag = "webhooks",
    summary = "Check a received payload's Standard Webhooks signature and say why it fails",
    request_body = VerifyInput, responses((status = 200, body = VerifyResult)))]
pub async fn verify(ApiJson(input): ApiJson<VerifyInput>) -> Json<VerifyResult> {
    let now = chrono::Utc::now().timestamp();
    Json(match domain::webhooks::service::verify_request(&input.secret, &input.headers, &input.payload, now) {
        Ok(()) => VerifyResult { valid: true, reason: None },
        Err(e) => VerifyResult { valid: false, reason: Some(e.to_string()) },
    })
}
