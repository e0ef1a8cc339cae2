//! The domain's error type. The HTTP layer maps it to RFC 9457 problem details.

pub use wire::error::{FieldError, Invalid, Validator};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("payload too large: {0}")]
    TooLarge(String),
    /// Too many attempts: try again after this many milliseconds.
    #[error("too many attempts; try again in {} s", retry_after_seconds(*.0))]
    TooManyRequests(i64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// A validation error for a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }

    /// The HTTP status this error should be reported with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Validation(_) => 422,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::Unauthorized => 401,
            Error::Forbidden(_) => 403,
            Error::TooLarge(_) => 413,
            Error::TooManyRequests(_) => 429,
            Error::Database(sqlx::Error::RowNotFound) => 404,
            e if e.is_unavailable() => 503,
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => 500,
        }
    }

    /// Whether the database could not be reached (down, restarting, every
    /// connection busy past the pool's timeout): nothing was done, and the same
    /// request may be sent again shortly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => true,
            // PostgreSQL's "operator intervention" (57P01 shutting down, 57P03 starting up) and connection classes.
            Error::Database(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08"))
            }
            _ => false,
        }
    }

    /// Whether the database rejected a write because of a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// Whole seconds to wait, rounded up (never 0: "try again in 0 s" would be a lie).
pub fn retry_after_seconds(ms: i64) -> i64 {
    ((ms + 999) / 1000).max(1)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Error::Validation(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_to_retry_and_other_failures_stay_500() {
        assert_eq!(Error::Database(sqlx::Error::PoolTimedOut).status(), 503);
        assert_eq!(Error::Database(sqlx::Error::PoolClosed).status(), 503);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(Error::Database(sqlx::Error::Io(refused)).status(), 503);
        assert_eq!(Error::Database(sqlx::Error::Protocol("garbled".into())).status(), 500);
        assert_eq!(Error::internal("bug").status(), 500);
        assert_eq!(Error::Database(sqlx::Error::RowNotFound).status(), 404);
    }
}
