//! Invalid input: which field, and what is wrong with it.

use serde::{Deserialize, Serialize};

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Where the problem is, as a path into the input: `url`, `actions[1].config.to`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Input that failed validation: every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid(vec![FieldError::new(field, message)])
    }

    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Invalid {}

/// The most problems one request reports: enough to fix a form, bounded so a
/// huge invalid body cannot produce a huge answer.
pub const MAX_REPORTED: usize = 50;

/// Collects field errors so a request reports every problem at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.push(field, message);
        }
        self
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// Takes in the problems another validation found (say, of a nested part).
    pub fn merge(&mut self, result: Result<(), Invalid>) {
        if let Err(Invalid(errors)) = result {
            for e in errors {
                self.push(e.field, e.message);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), Invalid> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_merges_and_caps() {
        let mut v = Validator::new();
        v.check(true, "a", "fine");
        v.check(false, "b", "bad");
        v.merge(Err(Invalid::one("c.d", "worse")));
        v.merge(Ok(()));
        assert_eq!(v.finish().unwrap_err().fields(), ["b", "c.d"]);

        let mut v = Validator::new();
        for i in 0..10_000 {
            v.push(format!("x[{i}]"), "bad");
        }
        assert_eq!(v.finish().unwrap_err().0.len(), MAX_REPORTED);
    }
}
