//! Data exchanged between the server functions and the browser.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub role: String,
}

impl Me {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: String,
    pub revoked: bool,
}

/// The webhook fields the UI shows (the REST API's JSON, camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub secret: Option<String>,
    pub active: bool,
    pub status: String,
    pub rate_limit: Option<u32>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    pub total: i64,
    pub pending: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub success_rate: Option<f64>,
    pub p50_latency_ms: Option<i64>,
    pub p95_latency_ms: Option<i64>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
}

/// A row of the webhooks list: the webhook and its delivery health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRowView {
    pub webhook: WebhookView,
    pub stats: StatsView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<T> {
    pub data: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
    pub total_pages: i64,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeView {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResultView {
    pub delivery_id: String,
    pub success: bool,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i64,
    pub started_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub request_headers: serde_json::Value,
    pub response_body: Option<String>,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub status_code: Option<i64>,
    pub error_message: Option<String>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub next_retry_at: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub attempts: Option<Vec<AttemptView>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayView {
    pub day: String,
    pub succeeded: i64,
    pub failed: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsView {
    pub webhooks: i64,
    pub active_webhooks: i64,
    pub failing_webhooks: i64,
    pub totals: StatsView,
    pub by_day: Vec<DayView>,
}

/// The live strip: numbers that change while people watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveView {
    pub deliveries_today: i64,
    pub success_rate_today: Option<f64>,
    pub failing_webhooks: i64,
    pub unread_notifications: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: String,
    pub read: bool,
}

/// A one-condition payload filter from the create form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterInput {
    pub field: String,
    pub operator: String,
    pub value: String,
}
