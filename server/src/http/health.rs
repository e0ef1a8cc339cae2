use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::problem::Problem;
use super::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, Problem> {
    state
        .services
        .db
        .ping()
        .await
        .map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("database unreachable: {e}")))?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let now = state.services.now_ms();
    if let Ok((depth, oldest)) = state.services.db.due_depth(domain::due::kinds::DELIVERY, now).await {
        state.metrics.queue_depth.set(depth);
        state.metrics.oldest_due_age_seconds.set(oldest.map(|t| (now - t) / 1000).unwrap_or(0));
    }
    if let Ok(waiting) = state.services.db.waiting_executions().await {
        state.metrics.workflow_waiting.set(waiting);
    }
    if let Ok(dead) = state.services.db.dead_count().await {
        state.metrics.due_dead_rows.set(dead);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
}
