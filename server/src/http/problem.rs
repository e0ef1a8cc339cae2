//! RFC 9457 problem details: every API error is `application/problem+json`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use serde::Serialize;

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid input: every field found wrong.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before trying again (429), sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after_seconds: Option<i64>,
}

/// At most this many field errors are reported: a huge invalid body must not
/// turn into an even larger answer.
pub const MAX_REPORTED_ERRORS: usize = 50;

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            type_: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_seconds: None,
        }
    }

    pub fn unauthorized() -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "send an API key as `Authorization: Bearer <key>`, or sign in")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_seconds {
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        resp
    }
}

impl From<domain::Error> for Problem {
    fn from(e: domain::Error) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match e {
            domain::Error::Validation(mut errors) => {
                let more = errors.len().saturating_sub(MAX_REPORTED_ERRORS);
                errors.truncate(MAX_REPORTED_ERRORS);
                for e in &mut errors {
                    truncate_chars(&mut e.field, 200);
                    truncate_chars(&mut e.message, 500);
                }
                let mut detail =
                    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
                if more > 0 {
                    detail.push_str(&format!("; and {more} more"));
                }
                Problem {
                    type_: "https://purple-cross.dev/problems/validation".into(),
                    title: "Invalid input".into(),
                    status: status.as_u16(),
                    detail,
                    errors,
                    retry_after_seconds: None,
                }
            }
            domain::Error::TooManyRequests(ms) => {
                let seconds = domain::error::retry_after_seconds(ms);
                let mut p = Problem::new(status, format!("too many attempts; try again in {seconds} s"));
                p.retry_after_seconds = Some(seconds);
                p
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "the database is unavailable");
                let mut p = Problem::new(status, "the database is unavailable; send the request again shortly");
                p.retry_after_seconds = Some(1);
                p
            }
            e if status.is_server_error() => {
                tracing::error!(error = %e, "request failed");
                Problem::new(status, "internal error; the server log has details")
            }
            e => Problem::new(status, e.to_string()),
        }
    }
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
        s.push('…');
    }
}

/// Makes every error answer under `/api/v1` problem+json: axum's own
/// rejections (a path segment that does not decode, a method the route does
/// not take, a form or body limit) answer in plain text or with no body.
pub async fn every_error_is_a_problem(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 8 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, true) => {
            let allowed = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default();
            format!("this route does not take that method; it takes {allowed}")
        }
        (_, true) => status.canonical_reason().unwrap_or("error").to_string(),
        (_, false) => text,
    };
    let mut answer = Problem::new(status, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, v.clone());
        }
    }
    answer
}

/// Server functions answer arguments they cannot read (a bad integer,
/// truncated JSON, a body over the limit) with 500; those are the caller's
/// mistake, so this makes them 400 (413 for size). The body keeps server_fn's
/// own error encoding (`Args|…`), which the WASM client decodes.
pub async fn rpc_bad_arguments_are_4xx(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !req.uri().path().starts_with("/rpc/") {
        return next.run(req).await;
    }
    let resp = next.run(req).await;
    if resp.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    if text.starts_with("Args|") || text.starts_with("Deserialization|") {
        let too_large = text.contains("length limit exceeded") || text.contains("too large");
        parts.status = if too_large { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// What REST handlers return.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_field_errors_is_capped() {
        let errors = (0..10_000).map(|i| FieldError::new(format!("items[{i}]"), "x".repeat(2000))).collect();
        let p = Problem::from(domain::Error::Validation(errors));
        assert_eq!(p.errors.len(), MAX_REPORTED_ERRORS);
        assert!(p.detail.ends_with("; and 9950 more"), "{}", &p.detail[p.detail.len() - 40..]);
        assert!(serde_json::to_vec(&p).unwrap().len() < 64 * 1024);
    }

    #[test]
    fn throttled_answers_say_when_to_retry() {
        let resp = Problem::from(domain::Error::TooManyRequests(1500)).into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
    }
}
