//! A query-string extractor whose errors are problem details naming the
//! parameter (axum's own answers in plain text).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::FieldError;
use serde::de::DeserializeOwned;

use super::problem::Problem;

pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            // serde names the parameter in its message when the path cannot ("missing field `x`").
            let field = if path == "." { "query".to_string() } else { path };
            domain::Error::Validation(vec![FieldError::new(field, message)]).into()
        })
    }
}
