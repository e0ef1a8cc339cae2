//! The built-in event catalog: the seed's platform events, each with a JSON
//! Schema (documentation and the builder's variable picker) and an example.

use serde_json::{json, Value};

pub struct BuiltinEvent {
    pub name: &'static str,
    pub description: &'static str,
    pub entity: &'static str,
}

pub const BUILTIN_EVENTS: &[BuiltinEvent] = &[
    BuiltinEvent { name: "patient.created", description: "A patient was registered", entity: "patient" },
    BuiltinEvent { name: "patient.updated", description: "A patient's details changed", entity: "patient" },
    BuiltinEvent { name: "patient.deleted", description: "A patient was removed", entity: "patient" },
    BuiltinEvent { name: "client.created", description: "A client (pet owner) was registered", entity: "client" },
    BuiltinEvent { name: "client.updated", description: "A client's details changed", entity: "client" },
    BuiltinEvent { name: "client.deleted", description: "A client was removed", entity: "client" },
    BuiltinEvent { name: "appointment.created", description: "An appointment was booked", entity: "appointment" },
    BuiltinEvent { name: "appointment.updated", description: "An appointment was changed", entity: "appointment" },
    BuiltinEvent { name: "appointment.cancelled", description: "An appointment was cancelled", entity: "appointment" },
    BuiltinEvent { name: "appointment.completed", description: "An appointment took place", entity: "appointment" },
    BuiltinEvent { name: "invoice.created", description: "An invoice was issued", entity: "invoice" },
    BuiltinEvent { name: "invoice.paid", description: "An invoice was paid", entity: "invoice" },
    BuiltinEvent { name: "invoice.overdue", description: "An invoice passed its due date unpaid", entity: "invoice" },
    BuiltinEvent {
        name: "medical_record.created",
        description: "A medical record was written",
        entity: "medical_record",
    },
    BuiltinEvent {
        name: "medical_record.updated",
        description: "A medical record was amended",
        entity: "medical_record",
    },
    BuiltinEvent { name: "lab_test.ordered", description: "A lab test was ordered", entity: "lab_test" },
    BuiltinEvent { name: "lab_test.completed", description: "Lab test results arrived", entity: "lab_test" },
    BuiltinEvent { name: "prescription.created", description: "A prescription was written", entity: "prescription" },
    BuiltinEvent { name: "prescription.refilled", description: "A prescription was refilled", entity: "prescription" },
    BuiltinEvent {
        name: "webhook.test",
        description: "A test event sent from the webhook's Test button",
        entity: "webhook",
    },
];

fn props(entity: &str) -> Value {
    match entity {
        "patient" => json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "species": {"type": "string"},
            "breed": {"type": "string"}, "clinicId": {"type": "string"},
            "owner": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string", "format": "email"}}}
        }),
        "client" => json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string", "format": "email"},
            "phone": {"type": "string"}, "clinicId": {"type": "string"}
        }),
        "appointment" => json!({
            "id": {"type": "string"}, "patientId": {"type": "string"}, "clinicId": {"type": "string"},
            "startsAt": {"type": "string", "format": "date-time"}, "reason": {"type": "string"},
            "patient": {"type": "object", "properties": {"name": {"type": "string"}, "owner": {"type": "object", "properties": {"email": {"type": "string"}}}}}
        }),
        "invoice" => json!({
            "id": {"type": "string"}, "clientId": {"type": "string"}, "clinicId": {"type": "string"},
            "amount": {"type": "number"}, "currency": {"type": "string"}, "dueDate": {"type": "string", "format": "date"}
        }),
        "medical_record" => json!({
            "id": {"type": "string"}, "patientId": {"type": "string"}, "diagnosis": {"type": "string"}, "vetId": {"type": "string"}
        }),
        "lab_test" => json!({
            "id": {"type": "string"}, "patientId": {"type": "string"}, "test": {"type": "string"}, "result": {"type": "string"}
        }),
        "prescription" => json!({
            "id": {"type": "string"}, "patientId": {"type": "string"}, "medication": {"type": "string"}, "refills": {"type": "integer"}
        }),
        _ => json!({"message": {"type": "string"}, "webhookId": {"type": "string"}}),
    }
}

pub fn schema_for(entity: &str) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": props(entity),
        "required": if entity == "webhook" { json!([]) } else { json!(["id"]) },
    })
}

pub fn example_for(entity: &str) -> Value {
    match entity {
        "patient" => {
            json!({"id": "pat_123", "name": "Bella", "species": "dog", "breed": "Labrador", "clinicId": "clinic_1",
            "owner": {"id": "cli_9", "name": "Sam Lee", "email": "sam@example.com"}})
        }
        "client" => {
            json!({"id": "cli_9", "name": "Sam Lee", "email": "sam@example.com", "phone": "+44 20 7946 0000", "clinicId": "clinic_1"})
        }
        "appointment" => {
            json!({"id": "apt_456", "patientId": "pat_123", "clinicId": "clinic_1", "startsAt": "2026-11-28T10:00:00Z",
            "reason": "Vaccination", "patient": {"name": "Bella", "owner": {"email": "sam@example.com"}}})
        }
        "invoice" => {
            json!({"id": "inv_789", "clientId": "cli_9", "clinicId": "clinic_1", "amount": 120.5, "currency": "GBP", "dueDate": "2026-12-15"})
        }
        "medical_record" => json!({"id": "mr_1", "patientId": "pat_123", "diagnosis": "Healthy", "vetId": "vet_2"}),
        "lab_test" => json!({"id": "lab_1", "patientId": "pat_123", "test": "CBC", "result": "normal"}),
        "prescription" => json!({"id": "rx_1", "patientId": "pat_123", "medication": "Amoxicillin", "refills": 2}),
        _ => json!({"message": "This is a test event from Purple Cross", "webhookId": "wh_example"}),
    }
}

/// The entity an event name belongs to (`appointment.completed` → `appointment`).
pub fn entity_of(event: &str) -> &str {
    event.split('.').next().unwrap_or(event)
}

/// Event type names: `entity.action`, lower-case letters, digits and underscores.
pub fn valid_event_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if ok(a) && ok(b))
        && name.len() <= 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_seed_events_with_examples() {
        assert_eq!(BUILTIN_EVENTS.len(), 20);
        for e in BUILTIN_EVENTS {
            assert!(valid_event_name(e.name), "{}", e.name);
            assert_eq!(entity_of(e.name), e.entity);
            let example = example_for(e.entity);
            assert!(example.is_object());
            for field in schema_for(e.entity)["required"].as_array().unwrap() {
                assert!(example.get(field.as_str().unwrap()).is_some(), "{} example lacks {field}", e.name);
            }
        }
    }

    #[test]
    fn event_names() {
        assert!(valid_event_name("invoice.paid"));
        assert!(valid_event_name("lab_test.completed"));
        assert!(!valid_event_name("Invoice.Paid"));
        assert!(!valid_event_name("invoice"));
        assert!(!valid_event_name("a.b.c"));
        assert!(!valid_event_name("invoice."));
    }
}
