//! Practice records: clients (pet owners), patients, appointments, invoices,
//! medical records, lab tests and prescriptions, as the REST API and the UI
//! exchange them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kinds of practice record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Client,
    Patient,
    Appointment,
    Invoice,
    MedicalRecord,
    LabTest,
    Prescription,
}

impl Entity {
    pub const ALL: [Entity; 7] = [
        Entity::Client,
        Entity::Patient,
        Entity::Appointment,
        Entity::Invoice,
        Entity::MedicalRecord,
        Entity::LabTest,
        Entity::Prescription,
    ];

    /// The name in paths and event types: `medical_record`.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Client => "client",
            Entity::Patient => "patient",
            Entity::Appointment => "appointment",
            Entity::Invoice => "invoice",
            Entity::MedicalRecord => "medical_record",
            Entity::LabTest => "lab_test",
            Entity::Prescription => "prescription",
        }
    }

    pub fn parse(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// The key a record of this kind has in event data and workflow
    /// variables: `{{medicalRecord.diagnosis}}`.
    pub fn key(self) -> &'static str {
        match self {
            Entity::Client => "client",
            Entity::Patient => "patient",
            Entity::Appointment => "appointment",
            Entity::Invoice => "invoice",
            Entity::MedicalRecord => "medicalRecord",
            Entity::LabTest => "labTest",
            Entity::Prescription => "prescription",
        }
    }

    /// The field that names a record of this kind in trigger data: `patientId`.
    pub fn id_field(self) -> &'static str {
        match self {
            Entity::Client => "clientId",
            Entity::Patient => "patientId",
            Entity::Appointment => "appointmentId",
            Entity::Invoice => "invoiceId",
            Entity::MedicalRecord => "medicalRecordId",
            Entity::LabTest => "labTestId",
            Entity::Prescription => "prescriptionId",
        }
    }

    /// The prefix of this kind's ids: `pat_…`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Entity::Client => "cli",
            Entity::Patient => "pat",
            Entity::Appointment => "apt",
            Entity::Invoice => "inv",
            Entity::MedicalRecord => "mr",
            Entity::LabTest => "lab",
            Entity::Prescription => "rx",
        }
    }

    /// The kind a record id names, by its prefix.
    pub fn of_id(id: &str) -> Option<Entity> {
        let prefix = id.split_once('_')?.0;
        Entity::ALL.into_iter().find(|e| e.id_prefix() == prefix)
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            Entity::Client => "Client",
            Entity::Patient => "Patient",
            Entity::Appointment => "Appointment",
            Entity::Invoice => "Invoice",
            Entity::MedicalRecord => "Medical record",
            Entity::LabTest => "Lab test",
            Entity::Prescription => "Prescription",
        }
    }

    /// Transitions with an operation of their own (`POST …/{id}/{transition}`).
    pub fn transitions(self) -> &'static [&'static str] {
        match self {
            Entity::Appointment => &["complete", "cancel"],
            Entity::Invoice => &["send", "pay"],
            Entity::LabTest => &["complete"],
            Entity::Prescription => &["refill"],
            _ => &[],
        }
    }
}

/// A record as stored and shown: its fields (camelCase, computed ones
/// included) beside `id`, `entity`, `version` and its times. Relations asked
/// for with `expand` appear as fields too (`owner`, `patient`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub entity: Entity,
    /// Send it back with an update: a stale one gets 409 and changes nothing.
    pub version: i64,
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub fields: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

impl Record {
    pub fn str(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }

    /// A name to show: a client's full name, a patient's name, else what it is.
    pub fn title(&self) -> String {
        match self.entity {
            Entity::Client => {
                format!("{} {}", self.str("firstName").unwrap_or_default(), self.str("lastName").unwrap_or_default())
                    .trim()
                    .to_string()
            }
            Entity::Patient => self.str("name").unwrap_or_default().to_string(),
            Entity::Appointment => self.str("reason").filter(|r| !r.is_empty()).unwrap_or("Appointment").to_string(),
            Entity::Invoice => format!("Invoice {}", &self.id),
            Entity::MedicalRecord => {
                self.str("diagnosis").filter(|d| !d.is_empty()).unwrap_or("Medical record").to_string()
            }
            Entity::LabTest => self.str("test").unwrap_or("Lab test").to_string(),
            Entity::Prescription => self.str("drug").unwrap_or("Prescription").to_string(),
        }
    }
}

/// A page of records, by keyset: pass `nextCursor` back as `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecordList {
    pub data: Vec<Record>,
    pub next_cursor: Option<String>,
}

/// Filters, order and paging of a record list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordQuery {
    /// Records of this client (an invoice's client, a patient's owner, and what belongs to their patients).
    pub client_id: Option<String>,
    /// Records of this patient.
    pub patient_id: Option<String>,
    pub status: Option<String>,
    /// The record's own time (an appointment's start, an invoice's due date) on or after this (RFC 3339 or a date).
    pub from: Option<String>,
    /// … and before this.
    pub to: Option<String>,
    /// Words in names, emails, reasons, drugs …
    pub search: Option<String>,
    /// `createdAt` (newest first, the default), `at` (soonest first) or `-at` (latest first).
    pub sort: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100 (default 25).
    pub limit: Option<u32>,
    /// Relations to embed, comma-separated: `owner`, `patient`, `client`, `appointment`.
    pub expand: Option<String>,
    /// Include soft-deleted records (admins).
    pub include_deleted: Option<bool>,
}

/// The body of a transition: a lab test's `complete` carries its result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitionInput {
    /// The record's version, when the caller wants the transition only on the state it saw.
    pub version: Option<i64>,
    /// `lab_test/complete`: the result text.
    pub result: Option<String>,
    /// `lab_test/complete`: whether the result is outside the normal range.
    pub abnormal: Option<bool>,
    /// `appointment/cancel`: why.
    pub reason: Option<String>,
}

/// An entity's JSON Schema, as served beside the event catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EntitySchema {
    pub entity: Entity,
    pub label: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schema: Value,
    pub transitions: Vec<String>,
}

/// An event a record emitted, with where it was delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecordEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: String,
    /// The workflow executions whose actions caused it, oldest first.
    pub cause: Vec<String>,
    pub deliveries: Vec<DeliveryRef>,
}

/// A delivery of an event, to link to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRef {
    pub id: String,
    pub webhook_id: String,
    pub status: String,
}

/// Minor units (pence, cents) as money text: `12050` → `120.50`.
pub fn format_minor(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", m / 100, m % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_name_their_ids_paths_and_keys() {
        for e in Entity::ALL {
            assert_eq!(Entity::parse(e.as_str()), Some(e));
            assert_eq!(Entity::of_id(&format!("{}_0192", e.id_prefix())), Some(e));
        }
        assert_eq!(Entity::MedicalRecord.key(), "medicalRecord");
        assert_eq!(Entity::parse("medicalRecord"), None);
        assert_eq!(serde_json::to_value(Entity::LabTest).unwrap(), "lab_test");
    }

    #[test]
    fn a_record_flattens_its_fields() {
        let r: Record = serde_json::from_value(serde_json::json!({
            "id": "pat_1", "entity": "patient", "version": 2, "name": "Bella", "species": "dog",
            "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"
        }))
        .unwrap();
        assert_eq!(r.str("name"), Some("Bella"));
        assert_eq!(r.title(), "Bella");
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["species"], "dog");
        assert!(back.get("deletedAt").is_none());
    }

    #[test]
    fn money_is_minor_units() {
        assert_eq!(format_minor(12050, "GBP"), "120.50 GBP");
        assert_eq!(format_minor(5, "EUR"), "0.05 EUR");
        assert_eq!(format_minor(-250, "USD"), "-2.50 USD");
    }
}
