//! The built-in request inspector: what was posted to `/inspector/{bin}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InspectedRequest {
    pub id: String,
    pub bin: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// Bytes that were not text were replaced before it was kept.
    pub body_lossy: bool,
    pub received_at: String,
    /// The Standard Webhooks signature checked with the secret of the webhook
    /// that points here: `valid`, or why not; `null` when no webhook does.
    pub signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InspectorBin {
    pub bin: String,
    pub requests: i64,
    pub last_at: String,
}
