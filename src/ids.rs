//! Identifiers: a short type prefix plus a UUIDv7, so ids sort by creation time
//! and say what they name (`wh_…` is a webhook, `msg_…` a delivery).

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
