//! What a step's outcome does to its execution (the cursor's move, the
//! variables), and the variables a step renders with. Pure but for the
//! record reads, which go through the step's transaction so that a step sees
//! what the steps before it in the same batch wrote.

use serde_json::{json, Map, Value};
use wire::workflows::Action;

use super::store::{ExecutionRow, StepRow};
use super::template::{self, Path};
use crate::records::Entity;
use crate::store::Tx;
use crate::{Error, Result};

pub(crate) fn status_label(status: &str) -> &'static str {
    match status {
        "completed" => "completed",
        "waiting" => "waiting",
        "failed" => "failed",
        _ => "running",
    }
}

pub(crate) trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() {
            other.to_string()
        } else {
            self
        }
    }
}

/// A step that completed: record its output and move the cursor on.
pub(crate) fn advance(
    exec: &mut ExecutionRow,
    step: &mut StepRow,
    actions: &[Action],
    path: &Path,
    output: Value,
    branch: Option<usize>,
    now: i64,
) {
    step.status = "completed".into();
    step.output = output.to_string();
    step.completed_at = Some(now);
    step.branch = branch.map(|b| if b == 0 { "then".into() } else { "else".into() });
    let mut vars: Map<String, Value> = serde_json::from_str(&exec.variables).unwrap_or_default();
    if step.action_type == "parallel" {
        // The branches' steps are reachable as the parent's: `steps['in-a-branch']`.
        vars.extend(super::children::branch_steps(&output));
    }
    vars.insert(step.action_id.clone(), output);
    exec.variables = Value::Object(vars).to_string();
    let next = match branch {
        Some(list) => template::into_branch(actions, path, list),
        None => template::after(actions, path),
    };
    exec.cursor = next.map(|p| serde_json::to_string(&p).expect("paths serialise"));
    exec.status = "running".into();
    exec.waiting_until = None;
    exec.wait_record_id = None;
    exec.wait_field = None;
    exec.wait_offset_ms = None;
}

/// The variables a step renders with: the trigger data at the root, the
/// records its ids name (fresh, with relations: `patient.owner`), each
/// finished step's output under `steps`, `execution` and `now`.
pub async fn variables(tx: &mut Tx, exec: &ExecutionRow, now: i64) -> Result<Value> {
    let trigger: Value = serde_json::from_str(&exec.trigger_data).unwrap_or(json!({}));
    let mut root = match trigger.clone() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    resolve_records(tx, &mut root).await?;
    root.insert("trigger".into(), trigger);
    root.insert("steps".into(), serde_json::from_str(&exec.variables).unwrap_or(json!({})));
    root.insert(
        "execution".into(),
        json!({"id": exec.id, "templateId": exec.template_id, "startedAt": crate::clock::rfc3339(exec.started_at)}),
    );
    root.insert("now".into(), json!(crate::clock::rfc3339(now)));
    Ok(Value::Object(root))
}

/// Puts the records the known ids name (`patientId` → `patient`, with its
/// `owner`) into `root`, deriving a patient from an appointment or a lab
/// test and a client from a patient or an invoice.
pub async fn resolve_records(tx: &mut Tx, root: &mut Map<String, Value>) -> Result<()> {
    let order = [
        Entity::Appointment,
        Entity::LabTest,
        Entity::Prescription,
        Entity::MedicalRecord,
        Entity::Invoice,
        Entity::Patient,
        Entity::Client,
    ];
    for e in order {
        let Some(id) = root.get(e.id_field()).and_then(Value::as_str).map(str::to_string) else { continue };
        let Some(row) = crate::records::store::get_in(tx, &id).await?.filter(|r| r.entity == e.as_str()) else {
            continue;
        };
        let record = crate::records::service::to_record(&row)?;
        for (derived, field) in [(Entity::Patient, "patientId"), (Entity::Client, "clientId")] {
            if let Some(v) = record.str(field) {
                root.entry(derived.id_field().to_string()).or_insert(json!(v));
            }
        }
        if e == Entity::Patient {
            if let Some(owner) = record.str("ownerId") {
                root.entry("clientId".to_string()).or_insert(json!(owner));
            }
        }
        root.insert(e.key().into(), serde_json::to_value(&record).map_err(Error::internal)?);
    }
    // The owner sits under the patient, as in event data: `{{patient.owner.email}}`.
    if let (Some(client), Some(Value::Object(p))) = (root.get("client").cloned(), root.get_mut("patient")) {
        p.insert("owner".into(), client);
    }
    Ok(())
}
