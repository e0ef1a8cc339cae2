//! The due-work queue as admins see it.

use serde::{Deserialize, Serialize};

/// A row of the due-work queue that stopped being retried: its handling
/// failed or crashed too many times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeadWork {
    pub id: String,
    /// `delivery` (and, with workflows, their steps, timers and schedules).
    pub kind: String,
    /// What the work is for: a delivery id, an execution id …
    pub subject_id: String,
    pub partition_key: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadWorkList {
    pub data: Vec<DeadWork>,
}
