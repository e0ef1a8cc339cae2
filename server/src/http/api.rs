//! The REST API under `/api/v1`: thin handlers over the domain services.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use domain::auth::{Principal, Role};
use serde::Deserialize;

use super::problem::ApiResult;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/api-keys", get(list_keys).post(create_key))
        .route("/api-keys/{id}", delete(revoke_key))
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
    Json(body): Json<NewKey>,
) -> ApiResult<(StatusCode, Json<domain::services::CreatedApiKey>)> {
    p.require_admin()?;
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_api_key(&body.name, body.role).await?),
    ))
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
