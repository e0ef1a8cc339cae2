//! A JSON body extractor whose errors are problem details naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use domain::FieldError;
use serde::de::DeserializeOwned;

use super::problem::Problem;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        if !is_json {
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the body as application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(status, "the request body is too large")
            } else {
                Problem::new(StatusCode::BAD_REQUEST, e.body_text())
            }
        })?;
        let not_json = |e: serde_json::Error| {
            let mut p = Problem::new(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}"));
            p.errors.push(FieldError::new("body", e.to_string()));
            p
        };
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return not_json(inner);
            }
            let field = if path == "." { "body".to_string() } else { path };
            domain::Error::Validation(vec![FieldError::new(field, inner.to_string())]).into()
        })?;
        // A valid value followed by anything but whitespace is not one JSON document.
        de.end().map_err(not_json)?;
        Ok(ApiJson(value))
    }
}
