//! Webhooks, their deliveries and statistics, events and the event catalog:
//! camelCase JSON with the seed's field names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::ConditionGroup;
use crate::retry::RetryPolicy;

/// Create (all required fields) or update (absent fields keep their value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Only deliver events whose `data` matches; `null` removes the filter.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ConditionGroup>))]
    pub filter: Option<Option<ConditionGroup>>,
    /// `null` goes back to the default policy.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<RetryPolicy>))]
    pub retry_policy: Option<Option<RetryPolicy>>,
    /// Deliveries per second; `null` removes the limit.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub rate_limit: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// A caller-chosen secret (`whsec_…`); generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    /// Present only where the caller may see it (create, regenerate, detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub active: bool,
    /// `active`, `paused`, `failing`, `disabled` (410 Gone) or `auto_disabled`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub filter: Option<ConditionGroup>,
    pub retry_policy: RetryPolicy,
    pub rate_limit: Option<u32>,
    pub headers: BTreeMap<String, String>,
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    pub payload: Value,
    pub status: String,
    pub status_code: Option<i64>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub delivered_at: Option<String>,
    pub next_retry_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<Attempt>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: String,
    pub attempt: i64,
    pub started_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub request_headers: Value,
    pub response_body: Option<String>,
    /// Bytes of the response that were not valid text (invalid UTF-8, NUL)
    /// were replaced with U+FFFD before it was stored.
    #[serde(default)]
    pub response_body_lossy: bool,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
    pub total_pages: i64,
    /// Pass as `cursor` for the page after this one (keyset: as fast at any
    /// depth); `null` on the last page or where cursors are not offered.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListQuery {
    pub page: Option<u32>,
    pub limit: Option<u32>,
    pub search: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
    /// The `nextCursor` of the previous page: continues after it without
    /// counting rows to skip (deliveries only); `page` is then ignored.
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(20).clamp(1, 100)
    }
    pub fn offset(&self) -> i64 {
        (self.page() as i64 - 1) * self.limit() as i64
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookStats {
    pub total: i64,
    pub pending: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Succeeded among finished deliveries, 0–100; `null` before any finished.
    pub success_rate: Option<f64>,
    pub p50_latency_ms: Option<i64>,
    pub p95_latency_ms: Option<i64>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventTypeStats {
    pub event: String,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub succeeded: i64,
    pub failed: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    pub webhooks: i64,
    pub active_webhooks: i64,
    pub failing_webhooks: i64,
    pub totals: WebhookStats,
    pub by_event: Vec<EventTypeStats>,
    pub by_day: Vec<DayStats>,
}

/// The result of a test send, shown inline in the UI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub delivery_id: String,
    pub success: bool,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventType {
    pub name: String,
    pub description: String,
    pub schema: Value,
    pub example: Value,
    pub strict: bool,
    pub builtin: bool,
}

/// `POST /events`: what was accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub id: String,
    pub deliveries: i64,
    pub workflow_executions: i64,
}

/// `POST /events`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishInput {
    /// The caller's id for the event: publishing the same id again within
    /// 24 hours answers as the first time (like `Idempotency-Key`).
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub data: Option<Value>,
}

/// `GET /event-types`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventTypeList {
    pub data: Vec<EventType>,
}

/// `POST /webhooks/{id}/regenerate-secret` (the body is optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegenerateInput {
    /// Stop signing with the old secret at once instead of after the overlap period.
    #[serde(default)]
    pub revoke_immediately: bool,
}

/// `POST /webhooks/{id}/recover`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverInput {
    /// RFC 3339: re-queue failed deliveries created since then.
    pub since: String,
    /// Also create deliveries for the events it missed while paused or disabled.
    #[serde(default)]
    pub include_missed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecoverResult {
    pub requeued: i64,
    pub replayed: i64,
}

/// `POST /webhooks/verify`: checks a received request against a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyInput {
    pub secret: String,
    pub headers: BTreeMap<String, String>,
    pub payload: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A row of the webhooks list: the webhook and its delivery health.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookSummary {
    pub webhook: Webhook,
    pub stats: WebhookStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a browser sends is what the server reads: fields left out stay
    /// out, and an explicit `null` still removes.
    #[test]
    fn webhook_input_round_trips_absent_and_null() {
        let partial = WebhookInput { name: Some("n".into()), ..Default::default() };
        let text = serde_json::to_string(&partial).unwrap();
        assert_eq!(text, r#"{"name":"n"}"#);
        assert_eq!(serde_json::from_str::<WebhookInput>(&text).unwrap(), partial);
        let remove: WebhookInput = serde_json::from_str(r#"{"filter":null}"#).unwrap();
        assert_eq!(remove.filter, Some(None));
        assert_eq!(serde_json::from_str::<WebhookInput>(&serde_json::to_string(&remove).unwrap()).unwrap(), remove);
        assert!(serde_json::from_str::<WebhookInput>(r#"{"nmae":"typo"}"#).is_err());
    }
}
