//! Transitions: what each named transition does to a record's fields (pure rules, no I/O).

use serde_json::{json, Map, Value};

use super::{Entity, TransitionInput};
use crate::{Error, Result};

/// What a transition does to a record's fields, or why it may not happen now.
pub fn apply_transition(
    entity: Entity,
    name: &str,
    f: &mut Map<String, Value>,
    input: TransitionInput,
    now: &str,
) -> Result<()> {
    let status = f.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
    let refuse =
        |what: &str| Err(Error::Conflict(format!("this {} is {status}: {what}", entity.label().to_lowercase())));
    match (entity, name) {
        (Entity::Appointment, "complete" | "cancel") => {
            if !matches!(status.as_str(), "scheduled" | "checked_in") {
                return refuse("only scheduled or checked-in appointments can be completed or cancelled");
            }
            if name == "complete" {
                f.insert("status".into(), json!("completed"));
                f.insert("completedAt".into(), json!(now));
            } else {
                f.insert("status".into(), json!("cancelled"));
                f.insert("cancelledAt".into(), json!(now));
                if let Some(r) = input.reason.filter(|r| !r.trim().is_empty()) {
                    f.insert("cancelReason".into(), json!(r.trim()));
                }
            }
        }
        (Entity::Invoice, "send") => {
            if status != "draft" {
                return refuse("only a draft invoice can be sent");
            }
            f.insert("status".into(), json!("sent"));
        }
        (Entity::Invoice, "pay") => {
            if !matches!(status.as_str(), "draft" | "sent") {
                return refuse("only a draft or sent invoice can be paid");
            }
            f.insert("status".into(), json!("paid"));
            f.insert("paidAt".into(), json!(now));
        }
        (Entity::LabTest, "complete") => {
            if status != "ordered" {
                return refuse("only an ordered lab test can be completed");
            }
            let Some(result) = input.result.filter(|r| !r.trim().is_empty()) else {
                return Err(Error::invalid("result", "is required to complete a lab test"));
            };
            f.insert("status".into(), json!("completed"));
            f.insert("result".into(), json!(result.trim()));
            f.insert("abnormal".into(), json!(input.abnormal.unwrap_or(false)));
            f.insert("completedAt".into(), json!(now));
        }
        (Entity::Prescription, "refill") => {
            let left = f.get("refillsRemaining").and_then(Value::as_i64).unwrap_or(0);
            if left <= 0 {
                return Err(Error::Conflict(
                    "no refills remaining on this prescription: write a new prescription instead".into(),
                ));
            }
            f.insert("refillsRemaining".into(), json!(left - 1));
            let mut refills = f.get("refills").and_then(Value::as_array).cloned().unwrap_or_default();
            refills.push(json!({"at": now}));
            f.insert("refills".into(), Value::Array(refills));
        }
        _ => return Err(Error::NotFound("transition")),
    }
    Ok(())
}
