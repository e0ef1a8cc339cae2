//! The built-in request inspector: `POST /inspector/{bin}` keeps what it is
//! sent (no credentials: it is a webhook receiver); `/api/v1/inspector…`
//! shows it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use domain::auth::Principal;
use wire::inspector::{InspectedRequest, InspectorBin};

use super::problem::ApiResult;
use super::query::ApiQuery;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/inspector", get(bins)).route("/inspector/{bin}", get(requests))
}

pub async fn receive(
    State(s): State<AppState>,
    method: Method,
    Path(bin): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "cookie" | "authorization"))
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    s.services.inspector_receive(&bin, method.as_str(), headers, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/inspector", tag = "inspector", summary = "Bins of the built-in request inspector",
    responses((status = 200, body = Vec<InspectorBin>)))]
pub async fn bins(State(s): State<AppState>, Extension(p): Extension<Principal>) -> ApiResult<Json<Vec<InspectorBin>>> {
    Ok(Json(s.services.inspector_bins(&p).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/inspector/{bin}", tag = "inspector",
    summary = "What a bin received, newest first, each signature checked with the secret of the webhook pointing there",
    params(("bin" = String, Path), Limit), responses((status = 200, body = Vec<InspectedRequest>)))]
pub async fn requests(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(bin): Path<String>,
    ApiQuery(q): ApiQuery<Limit>,
) -> ApiResult<Json<Vec<InspectedRequest>>> {
    Ok(Json(s.services.inspector_requests(&p, &bin, q.limit.unwrap_or(50)).await?))
}
