//! `/api/v1/records/...`: practice records over REST, thin handlers over
//! the domain's record services.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use domain::auth::Principal;
use domain::records::service::entity;
use domain::records::{Cause, Record, RecordList, RecordQuery, TransitionInput};
use serde::Deserialize;
use serde_json::Value;
use wire::records::{EntitySchema, RecordEvent};

use super::json::ApiJson;
use super::problem::ApiResult;
use super::query::ApiQuery;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/records", get(schemas))
        .route("/records/{entity}", get(list).post(create))
        .route("/records/{entity}/{id}", get(read).put(update).delete(remove))
        .route("/records/{entity}/{id}/events", get(events))
        .route("/records/{entity}/{id}/{transition}", axum::routing::post(transition))
}

type Caller = Extension<Principal>;

/// A record with its version as the `ETag`.
fn with_etag(status: StatusCode, r: Record) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", r.version)).expect("digits are a valid header value");
    (status, [(header::ETAG, etag)], Json(r)).into_response()
}

/// The version an `If-Match` names: `"3"`, `W/"3"` or `3`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, domain::Error> {
    let Some(v) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let s = v.to_str().unwrap_or_default().trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| domain::Error::invalid("If-Match", "must be the record's version as its ETag gave it, e.g. \"3\""))
}

#[utoipa::path(get, path = "/records", tag = "records", summary = "Every kind of record, with its JSON Schema and transitions",
    responses((status = 200, body = Vec<EntitySchema>)))]
pub async fn schemas(State(s): State<AppState>, Extension(p): Caller) -> ApiResult<Json<Vec<EntitySchema>>> {
    Ok(Json(s.services.entity_schemas(&p)?))
}

#[utoipa::path(get, path = "/records/{entity}", tag = "records",
    summary = "List records: filter by client, patient, status and time; keyset pages (nextCursor)",
    params(("entity" = String, Path, description = "client, patient, appointment, invoice, medical_record, lab_test or prescription"), RecordQuery),
    responses((status = 200, body = RecordList)))]
pub async fn list(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> ApiResult<Json<RecordList>> {
    Ok(Json(s.services.list_records(&p, entity(&name)?, &q).await?))
}

#[utoipa::path(post, path = "/records/{entity}", tag = "records",
    summary = "Create a record (its fields, as its JSON Schema says); emits its `created` event",
    params(("entity" = String, Path)), request_body = Object, responses((status = 201, body = Record)))]
pub async fn create(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path(name): Path<String>,
    ApiJson(fields): ApiJson<Value>,
) -> ApiResult<Response> {
    let r = s.services.create_record(&p, entity(&name)?, fields, &Cause::default()).await?;
    Ok(with_etag(StatusCode::CREATED, r))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpandQuery {
    /// Relations to embed, comma-separated: owner, patient, client, appointment.
    expand: Option<String>,
}

#[utoipa::path(get, path = "/records/{entity}/{id}", tag = "records", summary = "A record; its version is also its ETag",
    params(("entity" = String, Path), ("id" = String, Path), ExpandQuery), responses((status = 200, body = Record)))]
pub async fn read(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path((name, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ExpandQuery>,
) -> ApiResult<Response> {
    let r = s.services.get_record(&p, entity(&name)?, &id, q.expand.as_deref()).await?;
    Ok(with_etag(StatusCode::OK, r))
}

#[utoipa::path(put, path = "/records/{entity}/{id}", tag = "records",
    summary = "Change fields (sent fields replace, null removes) on the version you read (`version` in the body or If-Match); a stale one gets 409",
    params(("entity" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body = Object, responses((status = 200, body = Record)))]
pub async fn update(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let r = s.services.update_record(&p, entity(&name)?, &id, patch, version, &Cause::default()).await?;
    Ok(with_etag(StatusCode::OK, r))
}

#[utoipa::path(delete, path = "/records/{entity}/{id}", tag = "records",
    summary = "Soft-delete a record (admin); lists hide it, `restore` brings it back",
    params(("entity" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted")))]
pub async fn remove(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let version = if_match(&headers)?;
    s.services.delete_record(&p, entity(&name)?, &id, version).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/records/{entity}/{id}/{transition}", tag = "records",
    summary = "A transition that emits its event: appointment complete/cancel, invoice send/pay, lab_test complete (result, abnormal), prescription refill; `restore` (admin) undoes a delete",
    params(("entity" = String, Path), ("id" = String, Path), ("transition" = String, Path)),
    request_body(content = Option<TransitionInput>, description = "Optional"), responses((status = 200, body = Record)))]
pub async fn transition(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path((name, id, transition)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let e = entity(&name)?;
    let input: TransitionInput = if body.iter().all(u8::is_ascii_whitespace) {
        TransitionInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| domain::Error::invalid("body", err.to_string()))?
    };
    let r = if transition == "restore" {
        s.services.restore_record(&p, e, &id).await?
    } else {
        s.services.transition(&p, e, &id, &transition, input, &Cause::default()).await?
    };
    Ok(with_etag(StatusCode::OK, r))
}

#[utoipa::path(get, path = "/records/{entity}/{id}/events", tag = "records",
    summary = "The events a record emitted, newest first, with their deliveries",
    params(("entity" = String, Path), ("id" = String, Path)), responses((status = 200, body = Vec<RecordEvent>)))]
pub async fn events(
    State(s): State<AppState>,
    Extension(p): Caller,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<RecordEvent>>> {
    Ok(Json(s.services.record_events(&p, entity(&name)?, &id).await?))
}
