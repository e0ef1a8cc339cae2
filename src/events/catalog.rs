//! The built-in event catalog: the seed's platform events, each with a JSON
//! Schema (documentation and the builder's variable picker) and an example.

use serde_json::{json, Value};
use wire::records::Entity;

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

/// A stored record's JSON Schema: the entity's fields and the system ones.
fn record_schema(entity: Entity) -> Value {
    let mut schema = crate::records::schema::schema(entity);
    let props = schema["properties"].as_object_mut().expect("entity schemas have properties");
    for (k, v) in [
        ("id", json!({"type": "string"})),
        ("entity", json!({"const": entity.as_str()})),
        ("version", json!({"type": "integer"})),
        ("createdAt", json!({"type": "string", "format": "date-time"})),
        ("updatedAt", json!({"type": "string", "format": "date-time"})),
        ("deletedAt", json!({"type": "string", "format": "date-time"})),
    ] {
        props.insert(k.into(), v);
    }
    schema.as_object_mut().expect("an object").remove("$schema");
    // Records in events may carry relations the entity schema does not list (`owner`).
    schema["additionalProperties"] = json!(true);
    schema["required"] = json!(["id"]);
    schema
}

/// The `data` of an event about `entity` (see `records::data::event_data`).
pub fn schema_for(entity: &str) -> Value {
    let Some(e) = Entity::parse(entity) else {
        return json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"message": {"type": "string"}, "webhookId": {"type": "string"}, "webhookName": {"type": "string"}},
        });
    };
    let mut props = serde_json::Map::new();
    props.insert(e.id_field().into(), json!({"type": "string"}));
    props.insert(e.key().into(), record_schema(e));
    let mut patient = record_schema(Entity::Patient);
    patient["properties"]["owner"] = record_schema(Entity::Client);
    match e {
        Entity::Client => {}
        Entity::Patient => {
            props.insert("patient".into(), patient);
            props.insert("clientId".into(), json!({"type": "string"}));
        }
        Entity::Invoice => {
            props.insert("client".into(), record_schema(Entity::Client));
            props.insert("clientId".into(), json!({"type": "string"}));
        }
        _ => {
            props.insert("patient".into(), patient);
            props.insert("patientId".into(), json!({"type": "string"}));
            props.insert("clientId".into(), json!({"type": "string"}));
        }
    }
    props.insert(
        "changes".into(),
        json!({"type": "object", "description": "updated events: each changed field with its value before and after",
               "additionalProperties": {"type": "object", "properties": {"from": {}, "to": {}}}}),
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": props,
        "required": [e.key(), e.id_field()],
    })
}

fn example_record(entity: Entity, id: &str, fields: Value) -> Value {
    let mut r = json!({"id": id, "entity": entity.as_str(), "version": 1,
        "createdAt": "2026-11-20T09:30:00.000Z", "updatedAt": "2026-11-28T10:45:00.000Z"});
    for (k, v) in fields.as_object().expect("example fields are an object") {
        r[k] = v.clone();
    }
    r
}

pub fn example_for(entity: &str) -> Value {
    let owner = example_record(
        Entity::Client,
        "cli_0193a1",
        json!({"firstName": "Sam", "lastName": "Lee", "email": "sam.lee@example.com", "phone": "+44 20 7946 0000",
               "preferredContact": "email", "marketingConsent": true}),
    );
    let mut patient = example_record(
        Entity::Patient,
        "pat_0193a2",
        json!({"name": "Bella", "species": "dog", "breed": "Labrador", "sex": "female_spayed", "dateOfBirth": "2019-04-02",
               "weightKg": 28.4, "ownerId": "cli_0193a1", "deceased": false}),
    );
    let with_patient = |key: &str, id_field: &str, record: Value, patient: &Value| json!({id_field: record["id"], key: record, "patientId": "pat_0193a2", "patient": patient, "clientId": "cli_0193a1"});
    patient["owner"] = owner.clone();
    let Some(e) = Entity::parse(entity) else {
        return json!({"message": "This is a test event from Purple Cross", "webhookId": "wh_example", "webhookName": "Example"});
    };
    match e {
        Entity::Client => json!({"clientId": "cli_0193a1", "client": owner}),
        Entity::Patient => json!({"patientId": "pat_0193a2", "patient": patient, "clientId": "cli_0193a1"}),
        Entity::Appointment => with_patient(
            "appointment",
            "appointmentId",
            example_record(
                Entity::Appointment,
                "apt_0193a3",
                json!({"patientId": "pat_0193a2", "vetName": "Dr Priya Shah", "startsAt": "2026-11-28T10:00:00.000Z",
                       "durationMinutes": 30, "reason": "Annual vaccination", "status": "completed",
                       "completedAt": "2026-11-28T10:40:00.000Z"}),
            ),
            &patient,
        ),
        Entity::Invoice => json!({"invoiceId": "inv_0193a4", "invoice": example_record(
            Entity::Invoice,
            "inv_0193a4",
            json!({"clientId": "cli_0193a1", "appointmentId": "apt_0193a3",
                   "lines": [{"description": "Consultation", "quantity": 1, "unitPrice": 4500},
                             {"description": "Rabies vaccine", "quantity": 1, "unitPrice": 3250}],
                   "total": 7750, "currency": "GBP", "dueDate": "2026-12-12", "status": "paid",
                   "paidAt": "2026-11-29T08:12:00.000Z"}),
        ), "clientId": "cli_0193a1", "client": owner}),
        Entity::MedicalRecord => with_patient(
            "medicalRecord",
            "medicalRecordId",
            example_record(
                Entity::MedicalRecord,
                "mr_0193a5",
                json!({"patientId": "pat_0193a2", "appointmentId": "apt_0193a3", "diagnosis": "Healthy",
                       "notes": "Vaccinated; weight stable.", "weightKg": 28.4}),
            ),
            &patient,
        ),
        Entity::LabTest => with_patient(
            "labTest",
            "labTestId",
            example_record(
                Entity::LabTest,
                "lab_0193a6",
                json!({"patientId": "pat_0193a2", "test": "Complete blood count", "status": "completed",
                       "result": "WBC 19.2 ×10⁹/L (high)", "abnormal": true, "completedAt": "2026-11-29T15:00:00.000Z"}),
            ),
            &patient,
        ),
        Entity::Prescription => with_patient(
            "prescription",
            "prescriptionId",
            example_record(
                Entity::Prescription,
                "rx_0193a7",
                json!({"patientId": "pat_0193a2", "drug": "Carprofen 50 mg", "dosage": "1 tablet twice daily with food",
                       "refillsRemaining": 1, "refills": [{"at": "2026-11-30T09:00:00.000Z"}]}),
            ),
            &patient,
        ),
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
            let errors = crate::events::ingest::schema_errors(&schema_for(e.entity), &example);
            assert!(errors.is_empty(), "{}'s example breaks its schema: {errors:?}", e.name);
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
