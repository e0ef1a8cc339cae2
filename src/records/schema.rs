//! Each entity's JSON Schema (served to clients and the workflow builder) and
//! the validation of a record's fields against it, with errors that name
//! the field. Pure: no I/O.

use std::sync::OnceLock;

use serde_json::{json, Value};
use wire::records::Entity;
use wire::FieldError;

/// Fields a client never writes: computed, or changed only by a transition.
pub fn read_only(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Invoice => &["total", "paidAt", "overdueAt"],
        Entity::LabTest => &["completedAt"],
        Entity::Prescription => &["refills"],
        Entity::Appointment => &["completedAt", "cancelledAt", "cancelReason"],
        _ => &[],
    }
}

/// The JSON Schema of an entity's fields (draft 2020-12).
pub fn schema(entity: Entity) -> Value {
    let date_time = json!({"type": "string", "format": "date-time"});
    let date = json!({"type": "string", "format": "date"});
    let id = |of: &str| json!({"type": "string", "pattern": format!("^{of}_[A-Za-z0-9]+$"), "maxLength": 64});
    let text = |max: u32| json!({"type": "string", "maxLength": max});
    let (props, required) = match entity {
        Entity::Client => (
            json!({
                "firstName": {"type": "string", "minLength": 1, "maxLength": 100},
                "lastName": {"type": "string", "minLength": 1, "maxLength": 100},
                "email": {"type": "string", "format": "email", "maxLength": 254},
                "phone": text(40),
                "address": text(500),
                "preferredContact": {"enum": ["email", "sms", "phone"]},
                "marketingConsent": {"type": "boolean"}
            }),
            json!(["firstName", "lastName"]),
        ),
        Entity::Patient => (
            json!({
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "species": {"type": "string", "minLength": 1, "maxLength": 50},
                "breed": text(100),
                "sex": {"enum": ["male", "female", "male_neutered", "female_spayed", "unknown"]},
                "dateOfBirth": date,
                "weightKg": {"type": "number", "exclusiveMinimum": 0, "maximum": 5000},
                "microchip": text(40),
                "ownerId": id("cli"),
                "deceased": {"type": "boolean"}
            }),
            json!(["name", "species", "ownerId"]),
        ),
        Entity::Appointment => (
            json!({
                "patientId": id("pat"),
                "vetName": {"type": "string", "minLength": 1, "maxLength": 100},
                "startsAt": date_time,
                "durationMinutes": {"type": "integer", "minimum": 5, "maximum": 480},
                "reason": text(500),
                "status": {"enum": ["scheduled", "checked_in", "completed", "cancelled", "no_show"]},
                "completedAt": date_time,
                "cancelledAt": date_time,
                "cancelReason": text(500)
            }),
            json!(["patientId", "vetName", "startsAt"]),
        ),
        Entity::Invoice => (
            json!({
                "clientId": id("cli"),
                "appointmentId": id("apt"),
                "lines": {
                    "type": "array", "minItems": 1, "maxItems": 100,
                    "items": {
                        "type": "object", "additionalProperties": false,
                        "required": ["description", "quantity", "unitPrice"],
                        "properties": {
                            "description": {"type": "string", "minLength": 1, "maxLength": 200},
                            "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                            "unitPrice": {"type": "integer", "minimum": 0, "maximum": 100000000, "description": "minor units (pence, cents)"}
                        }
                    }
                },
                "total": {"type": "integer", "description": "minor units, computed from the lines"},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "dueDate": date,
                "status": {"enum": ["draft", "sent", "paid", "void"]},
                "paidAt": date_time,
                "overdueAt": date_time
            }),
            json!(["clientId", "lines", "currency", "dueDate"]),
        ),
        Entity::MedicalRecord => (
            json!({
                "patientId": id("pat"),
                "appointmentId": id("apt"),
                "notes": text(10000),
                "diagnosis": text(500),
                "weightKg": {"type": "number", "exclusiveMinimum": 0, "maximum": 5000}
            }),
            json!(["patientId"]),
        ),
        Entity::LabTest => (
            json!({
                "patientId": id("pat"),
                "test": {"type": "string", "minLength": 1, "maxLength": 200},
                "status": {"enum": ["ordered", "completed"]},
                "result": text(5000),
                "abnormal": {"type": "boolean"},
                "completedAt": date_time
            }),
            json!(["patientId", "test"]),
        ),
        Entity::Prescription => (
            json!({
                "patientId": id("pat"),
                "drug": {"type": "string", "minLength": 1, "maxLength": 200},
                "dosage": {"type": "string", "minLength": 1, "maxLength": 200},
                "refillsRemaining": {"type": "integer", "minimum": 0, "maximum": 100},
                "refills": {"type": "array", "items": {"type": "object", "properties": {"at": date_time}}}
            }),
            json!(["patientId", "drug", "dosage", "refillsRemaining"]),
        ),
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": entity.label(),
        "type": "object",
        "additionalProperties": false,
        "properties": props,
        "required": required,
    })
}

fn validators() -> &'static [(Entity, jsonschema::Validator)] {
    static V: OnceLock<Vec<(Entity, jsonschema::Validator)>> = OnceLock::new();
    V.get_or_init(|| {
        Entity::ALL
            .into_iter()
            .map(|e| {
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema(e))
                    .expect("the built-in schemas are valid");
                (e, v)
            })
            .collect()
    })
}

/// Every way `fields` breaks the entity's schema, as field errors (at most 20).
pub fn check(entity: Entity, fields: &Value) -> Vec<FieldError> {
    let (_, validator) = validators().iter().find(|(e, _)| *e == entity).expect("a validator per entity");
    validator
        .iter_errors(fields)
        .take(20)
        .map(|e| {
            let mut path = pointer_to_field(&e.instance_path().to_string());
            if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
                let name = property.as_str().unwrap_or_default();
                path = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
                return FieldError::new(path, "is required");
            }
            if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } = e.kind() {
                let names = unexpected.join(", ");
                let field = if path.is_empty() { unexpected.first().cloned().unwrap_or_default() } else { path };
                return FieldError::new(field, format!("unknown field(s): {names}"));
            }
            FieldError::new(if path.is_empty() { "body".to_string() } else { path }, e.to_string())
        })
        .collect()
}

/// `/lines/0/quantity` → `lines[0].quantity`.
fn pointer_to_field(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn errors_name_the_field() {
        assert!(check(Entity::Client, &json!({"firstName": "Sam", "lastName": "Lee"})).is_empty());
        assert_eq!(fields(check(Entity::Client, &json!({"firstName": "Sam"}))), ["lastName"]);
        assert_eq!(
            fields(check(Entity::Client, &json!({"firstName": "Sam", "lastName": "L", "email": "nope"}))),
            ["email"]
        );
        let bad_line = json!({"clientId": "cli_1", "currency": "GBP", "dueDate": "2026-12-01",
            "lines": [{"description": "Exam", "quantity": 0, "unitPrice": 100}]});
        assert_eq!(fields(check(Entity::Invoice, &bad_line)), ["lines[0].quantity"]);
        let missing =
            json!({"clientId": "cli_1", "currency": "GBP", "dueDate": "2026-12-01", "lines": [{"description": "x"}]});
        assert_eq!(fields(check(Entity::Invoice, &missing)), ["lines[0].quantity", "lines[0].unitPrice"]);
        let unknown =
            check(Entity::Patient, &json!({"name": "B", "species": "dog", "ownerId": "cli_1", "colour": "red"}));
        assert_eq!(fields(unknown), ["colour"]);
        assert_eq!(
            fields(check(Entity::Appointment, &json!({"patientId": "pat_1", "vetName": "Dr", "startsAt": "soon"}))),
            ["startsAt"]
        );
        assert_eq!(
            fields(check(Entity::Patient, &json!({"name": "B", "species": "dog", "ownerId": "pat_1"}))),
            ["ownerId"]
        );
    }

    #[test]
    fn money_is_whole_minor_units() {
        let float = json!({"clientId": "cli_1", "currency": "GBP", "dueDate": "2026-12-01",
            "lines": [{"description": "Exam", "quantity": 1, "unitPrice": 12.5}]});
        assert_eq!(fields(check(Entity::Invoice, &float)), ["lines[0].unitPrice"]);
    }
}
