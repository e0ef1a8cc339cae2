//! Pure rules of practice records: defaults and computed fields, what a
//! record's columns are derived from, what changed between two versions,
//! which event a change emits and what its data holds. No I/O.

use serde_json::{json, Map, Value};
use wire::records::{Entity, Record};

/// Fields a new record gets when its creator leaves them out.
pub fn apply_defaults(entity: Entity, fields: &mut Map<String, Value>) {
    let mut default = |k: &str, v: Value| {
        fields.entry(k.to_string()).or_insert(v);
    };
    match entity {
        Entity::Client => {
            default("preferredContact", json!("email"));
            default("marketingConsent", json!(false));
        }
        Entity::Patient => default("deceased", json!(false)),
        Entity::Appointment => {
            default("status", json!("scheduled"));
            default("durationMinutes", json!(30));
        }
        Entity::Invoice => default("status", json!("draft")),
        Entity::LabTest => default("status", json!("ordered")),
        Entity::Prescription => default("refills", json!([])),
        Entity::MedicalRecord => {}
    }
}

/// Recomputes what is derived from other fields: an invoice's total, in minor units.
pub fn compute(entity: Entity, fields: &mut Map<String, Value>) {
    if entity == Entity::Invoice {
        let total: i64 = fields
            .get("lines")
            .and_then(Value::as_array)
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| {
                        let q = l.get("quantity").and_then(Value::as_i64).unwrap_or(0);
                        let p = l.get("unitPrice").and_then(Value::as_i64).unwrap_or(0);
                        q.saturating_mul(p)
                    })
                    .fold(0i64, i64::saturating_add)
            })
            .unwrap_or(0);
        fields.insert("total".into(), json!(total));
    }
}

/// The status a create may start in.
pub fn initial_status(entity: Entity) -> Option<&'static str> {
    match entity {
        Entity::Appointment => Some("scheduled"),
        Entity::Invoice => Some("draft"),
        Entity::LabTest => Some("ordered"),
        _ => None,
    }
}

/// Status changes an update may make itself; the others have their own transition.
pub fn status_update_allowed(entity: Entity, from: &str, to: &str) -> bool {
    from == to
        || match entity {
            Entity::Appointment => {
                matches!((from, to), ("scheduled", "checked_in") | ("scheduled" | "checked_in", "no_show"))
            }
            Entity::Invoice => matches!((from, to), ("draft" | "sent", "void")),
            _ => false,
        }
}

/// The field naming the client a record belongs to, or the patient whose owner it is.
pub fn client_field(entity: Entity) -> Option<&'static str> {
    match entity {
        Entity::Patient => Some("ownerId"),
        Entity::Invoice => Some("clientId"),
        _ => None,
    }
}

pub fn patient_field(entity: Entity) -> Option<&'static str> {
    match entity {
        Entity::Appointment | Entity::MedicalRecord | Entity::LabTest | Entity::Prescription => Some("patientId"),
        _ => None,
    }
}

/// The field holding the record's own time (ordering, `from`/`to` filters, due dates).
pub fn time_field(entity: Entity) -> Option<&'static str> {
    match entity {
        Entity::Appointment => Some("startsAt"),
        Entity::Invoice => Some("dueDate"),
        Entity::LabTest => Some("completedAt"),
        _ => None,
    }
}

/// Lower-cased words a search matches.
pub fn search_text(entity: Entity, id: &str, fields: &Map<String, Value>) -> String {
    let keys: &[&str] = match entity {
        Entity::Client => &["firstName", "lastName", "email", "phone"],
        Entity::Patient => &["name", "species", "breed", "microchip"],
        Entity::Appointment => &["reason", "vetName"],
        Entity::Invoice => &["currency"],
        Entity::MedicalRecord => &["diagnosis", "notes"],
        Entity::LabTest => &["test", "result"],
        Entity::Prescription => &["drug", "dosage"],
    };
    let mut words = vec![id.to_lowercase()];
    words.extend(keys.iter().filter_map(|k| fields.get(*k).and_then(Value::as_str)).map(str::to_lowercase));
    let mut s = words.join(" ");
    s.truncate(s.char_indices().nth(2000).map(|(i, _)| i).unwrap_or(s.len()));
    s
}

/// `{field: {from, to}}` for every field that differs (a missing field is `null`).
pub fn changes(before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (a, b) = (before.get(k).unwrap_or(&Value::Null), after.get(k).unwrap_or(&Value::Null));
        if a != b {
            out.insert(k.clone(), json!({"from": a, "to": b}));
        }
    }
    out
}

/// What happened to a record, for the event it emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    Created,
    Updated,
    Deleted,
    /// A named transition (`complete`, `pay`, `refill` …).
    Transition(&'a str),
}

/// The catalog event a change emits, if the seed names one.
pub fn event_for(entity: Entity, change: Change<'_>) -> Option<&'static str> {
    Some(match (entity, change) {
        (Entity::Client, Change::Created) => "client.created",
        (Entity::Client, Change::Updated) => "client.updated",
        (Entity::Client, Change::Deleted) => "client.deleted",
        (Entity::Patient, Change::Created) => "patient.created",
        (Entity::Patient, Change::Updated) => "patient.updated",
        (Entity::Patient, Change::Deleted) => "patient.deleted",
        (Entity::Appointment, Change::Created) => "appointment.created",
        (Entity::Appointment, Change::Updated) => "appointment.updated",
        (Entity::Appointment, Change::Transition("complete")) => "appointment.completed",
        (Entity::Appointment, Change::Transition("cancel")) => "appointment.cancelled",
        (Entity::Invoice, Change::Created) => "invoice.created",
        (Entity::Invoice, Change::Transition("pay")) => "invoice.paid",
        (Entity::Invoice, Change::Transition("overdue")) => "invoice.overdue",
        (Entity::MedicalRecord, Change::Created) => "medical_record.created",
        (Entity::MedicalRecord, Change::Updated) => "medical_record.updated",
        (Entity::LabTest, Change::Created) => "lab_test.ordered",
        (Entity::LabTest, Change::Transition("complete")) => "lab_test.completed",
        (Entity::Prescription, Change::Created) => "prescription.created",
        (Entity::Prescription, Change::Transition("refill")) => "prescription.refilled",
        _ => return None,
    })
}

/// An event's `data`: the record under its key, its relations embedded (an
/// appointment's `patient` with the patient's `owner`, an invoice's
/// `client`), the ids at the top level as a manual trigger would pass them,
/// and for updates what changed.
pub fn event_data(
    record: &Record,
    patient: Option<&Record>,
    owner: Option<&Record>,
    changes: Option<Map<String, Value>>,
) -> Value {
    let mut data = Map::new();
    data.insert(record.entity.id_field().into(), json!(record.id));
    data.insert(record.entity.key().into(), serde_json::to_value(record).expect("records serialise"));
    if let Some(p) = patient {
        let mut p = serde_json::to_value(p).expect("records serialise");
        if let Some(o) = owner {
            p["owner"] = serde_json::to_value(o).expect("records serialise");
        }
        data.insert("patientId".into(), json!(record_id(&p)));
        data.insert("patient".into(), p);
    }
    if let Some(o) = owner {
        data.insert("clientId".into(), json!(o.id));
        if record.entity == Entity::Patient {
            data["patient"]["owner"] = serde_json::to_value(o).expect("records serialise");
        } else if patient.is_none() {
            data.insert("client".into(), serde_json::to_value(o).expect("records serialise"));
        }
    }
    if let Some(c) = changes {
        data.insert("changes".into(), Value::Object(c));
    }
    Value::Object(data)
}

fn record_id(v: &Value) -> &str {
    v.get("id").and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(entity: Entity, id: &str, fields: Value) -> Record {
        Record {
            id: id.into(),
            entity,
            version: 1,
            fields: fields.as_object().unwrap().clone(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            deleted_at: None,
        }
    }

    #[test]
    fn invoice_totals_are_whole_minor_units() {
        let mut f = json!({"lines": [{"quantity": 2, "unitPrice": 4550}, {"quantity": 1, "unitPrice": 899}]})
            .as_object()
            .unwrap()
            .clone();
        compute(Entity::Invoice, &mut f);
        assert_eq!(f["total"], 9999);
    }

    #[test]
    fn changes_name_each_field_from_and_to() {
        let a = json!({"weightKg": 10, "name": "Bella", "breed": "Lab"}).as_object().unwrap().clone();
        let b = json!({"weightKg": 12.5, "name": "Bella", "microchip": "123"}).as_object().unwrap().clone();
        assert_eq!(
            Value::Object(changes(&a, &b)),
            json!({"breed": {"from": "Lab", "to": null}, "microchip": {"from": null, "to": "123"}, "weightKg": {"from": 10, "to": 12.5}})
        );
        assert!(changes(&a, &a).is_empty());
    }

    #[test]
    fn appointment_events_embed_the_patient_and_its_owner() {
        let owner = rec(Entity::Client, "cli_1", json!({"firstName": "Sam", "email": "sam@example.com"}));
        let patient = rec(Entity::Patient, "pat_1", json!({"name": "Bella", "ownerId": "cli_1"}));
        let apt = rec(Entity::Appointment, "apt_1", json!({"patientId": "pat_1", "status": "completed"}));
        let d = event_data(&apt, Some(&patient), Some(&owner), None);
        assert_eq!(d["appointment"]["status"], "completed");
        assert_eq!(d["patient"]["owner"]["email"], "sam@example.com");
        assert_eq!(
            (d["appointmentId"].as_str(), d["patientId"].as_str(), d["clientId"].as_str()),
            (Some("apt_1"), Some("pat_1"), Some("cli_1"))
        );
        assert!(d.get("client").is_none(), "the owner sits under the patient");

        let p = event_data(&patient, None, Some(&owner), None);
        assert_eq!(p["patient"]["owner"]["firstName"], "Sam");
        let inv = rec(Entity::Invoice, "inv_1", json!({"clientId": "cli_1"}));
        assert_eq!(event_data(&inv, None, Some(&owner), None)["client"]["id"], "cli_1");
    }

    #[test]
    fn every_seed_record_event_has_a_source() {
        let sources: Vec<&str> = Entity::ALL
            .into_iter()
            .flat_map(|e| {
                [Change::Created, Change::Updated, Change::Deleted]
                    .into_iter()
                    .chain(e.transitions().iter().map(|t| Change::Transition(t)))
                    .chain(std::iter::once(Change::Transition("overdue")))
                    .filter_map(move |c| event_for(e, c))
            })
            .collect();
        for e in crate::events::catalog::BUILTIN_EVENTS.iter().filter(|e| e.name != "webhook.test") {
            assert!(sources.contains(&e.name), "{} has no source", e.name);
        }
    }

    #[test]
    fn statuses_move_only_where_allowed() {
        assert!(status_update_allowed(Entity::Appointment, "scheduled", "checked_in"));
        assert!(!status_update_allowed(Entity::Appointment, "scheduled", "completed"), "completing is a transition");
        assert!(status_update_allowed(Entity::Invoice, "sent", "void"));
        assert!(!status_update_allowed(Entity::Invoice, "paid", "void"));
        assert!(!status_update_allowed(Entity::LabTest, "ordered", "completed"));
    }
}
