//! The demo practice: a small, living practice loaded into an empty database
//! (`purple-cross demo`, or the first-run setup page), made through the same
//! services as everything else, so every record emits its events and the two
//! demo webhooks deliver them, signed, to the built-in request inspector.

use chrono::{Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;

use crate::auth::{Action, Authorize, Principal};
use crate::records::{Cause, Entity, TransitionInput};
use crate::webhooks::WebhookInput;
use crate::{Error, Result, Services};

/// What the demo loaded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSummary {
    pub clients: usize,
    pub patients: usize,
    pub appointments: usize,
    pub invoices: usize,
    pub lab_tests: usize,
    pub prescriptions: usize,
    pub medical_records: usize,
    pub webhooks: usize,
    pub workflows: usize,
}

const FIRST: &[&str] = &[
    "Sam", "Priya", "Oliver", "Amelia", "Noah", "Isla", "Jack", "Ava", "Leo", "Mia", "Arthur", "Freya", "Harry",
    "Grace", "Ethan", "Chloe", "Oscar", "Ruby", "Finn", "Zara",
];
const LAST: &[&str] = &[
    "Lee", "Shah", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Khan",
    "Walker", "Wright", "Hughes", "Green", "Hall", "Wood", "Clarke", "Patel",
];
const PETS: &[(&str, &str, &[&str])] = &[
    ("dog", "Labrador", &["Bella", "Max", "Luna", "Charlie", "Daisy", "Rocky", "Bailey", "Rosie"]),
    ("dog", "Cocker Spaniel", &["Teddy", "Archie", "Molly"]),
    ("dog", "Border Collie", &["Milo", "Poppy", "Bruno"]),
    ("cat", "Domestic Shorthair", &["Tigger", "Misty", "Oreo", "Simba", "Nala", "Pepper", "Smokey", "Jasper"]),
    ("cat", "Maine Coon", &["Gizmo", "Willow"]),
    ("rabbit", "Netherland Dwarf", &["Thumper", "Clover", "Biscuit"]),
    ("guinea pig", "Abyssinian", &["Peanut", "Hazel"]),
    ("parrot", "African Grey", &["Kiwi", "Mango"]),
];
const VETS: &[&str] = &["Dr Priya Shah", "Dr Tom Hughes", "Dr Anna Novak"];
const REASONS: &[&str] =
    &["Annual vaccination", "Check-up", "Dental clean", "Limping", "Skin irritation", "Weight check"];

impl Services {
    /// Loads the demo practice. Refuses when the database already has
    /// records, unless `force`. `inspector_base` is this service's own
    /// address (`http://127.0.0.1:3000`), where the demo webhooks point.
    pub async fn load_demo(&self, caller: &Principal, inspector_base: &str, force: bool) -> Result<DemoSummary> {
        caller.require(Action::ManageWebhooks)?;
        caller.require(Action::DeleteRecords)?;
        let existing: i64 = self.db.record_counts().await?.iter().map(|(_, n)| n).sum();
        if existing > 0 && !force {
            return Err(Error::Conflict(format!(
                "the database already has {existing} records; the demo loads into an empty one (use --force to add it anyway)"
            )));
        }
        let mut sum = DemoSummary::default();
        let mut rng = StdRng::seed_from_u64(42);
        let none = Cause::default();
        for (name, bin, events) in [
            (
                "Demo: clinic sync",
                "clinic-sync",
                vec![
                    "client.created",
                    "patient.created",
                    "patient.updated",
                    "appointment.created",
                    "appointment.completed",
                    "appointment.cancelled",
                ],
            ),
            ("Demo: billing", "billing", vec!["invoice.created", "invoice.paid", "invoice.overdue"]),
        ] {
            let input = WebhookInput {
                name: Some(name.into()),
                url: Some(format!("{}/inspector/{bin}", inspector_base.trim_end_matches('/'))),
                events: Some(events.into_iter().map(String::from).collect()),
                ..WebhookInput::default()
            };
            self.create_webhook(caller, input).await?;
            sum.webhooks += 1;
        }
        let have: Vec<String> = self.db.template_actions().await?.into_iter().map(|(_, name, _)| name).collect();
        for t in wire::builder::starters::all().into_iter().take(wire::builder::starters::IN_DEMO).map(|s| s.template) {
            if have.iter().any(|n| Some(n.as_str()) == t["name"].as_str()) {
                continue;
            }
            let input = serde_json::from_value(t).map_err(Error::internal)?;
            self.create_template(caller, input).await?;
            sum.workflows += 1;
        }
        let mut clients = Vec::new();
        for i in 0..20 {
            let (first, last) = (FIRST[i], LAST[(i * 7) % LAST.len()]);
            let fields = json!({
                "firstName": first, "lastName": last,
                "email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
                "phone": format!("+44 7700 900{:03}", 100 + i),
                "address": format!("{} High Street, Bristol", 10 + i * 3),
                "preferredContact": (["email", "sms", "phone"][i % 3]),
                "marketingConsent": i % 4 != 0,
            });
            clients.push(self.create_record(caller, Entity::Client, fields, &none).await?);
        }
        sum.clients = clients.len();
        let mut names: Vec<(&str, &str, &str)> =
            PETS.iter().flat_map(|(sp, br, ns)| ns.iter().map(move |n| (*sp, *br, *n))).collect();
        names.shuffle(&mut rng);
        let mut patients = Vec::new();
        for (i, (species, breed, name)) in names.into_iter().take(30).enumerate() {
            let owner = &clients[i % clients.len()];
            let tenths = match species {
                "dog" => rng.gen_range(80..400),
                "cat" => rng.gen_range(25..70),
                "rabbit" => rng.gen_range(10..30),
                "guinea pig" => rng.gen_range(7..12),
                _ => rng.gen_range(3..6),
            };
            let fields = json!({
                "name": name, "species": species, "breed": breed,
                "sex": (["male", "female", "male_neutered", "female_spayed"][i % 4]),
                "dateOfBirth": format!("{}-{:02}-{:02}", 2014 + i % 10, 1 + i % 12, 1 + i % 27),
                "weightKg": tenths as f64 / 10.0,
                "microchip": format!("9851120{:08}", 10_000_000 + i * 7919),
                "ownerId": owner.id,
            });
            patients.push(self.create_record(caller, Entity::Patient, fields, &none).await?);
        }
        sum.patients = patients.len();
        let today = Utc::now()
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or_else(Utc::now);
        for i in 0..40 {
            let p = &patients[(i * 11) % patients.len()];
            let day_offset = (i as i64 % 29) - 14;
            let start = today + Duration::days(day_offset) + Duration::hours((i as i64 % 7) - 3);
            let fields = json!({
                "patientId": p.id, "vetName": VETS[i % VETS.len()], "startsAt": crate::clock::rfc3339(start.timestamp_millis()),
                "durationMinutes": ([15, 30, 45][i % 3]), "reason": REASONS[i % REASONS.len()],
            });
            let apt = self.create_record(caller, Entity::Appointment, fields, &none).await?;
            sum.appointments += 1;
            if day_offset >= 0 {
                continue;
            }
            if i % 6 == 0 {
                let input = TransitionInput { reason: Some("Owner rescheduled".into()), ..TransitionInput::default() };
                self.transition(caller, Entity::Appointment, &apt.id, "cancel", input, &none).await?;
                continue;
            }
            self.transition(caller, Entity::Appointment, &apt.id, "complete", TransitionInput::default(), &none)
                .await?;
            let notes = json!({"patientId": p.id, "appointmentId": apt.id, "diagnosis": (["Healthy", "Mild dermatitis", "Dental tartar", "Sprain"][i % 4]), "notes": "Seen and examined.", "weightKg": p.fields["weightKg"]});
            self.create_record(caller, Entity::MedicalRecord, notes, &none).await?;
            sum.medical_records += 1;
            let owner = p.str("ownerId").unwrap_or_default().to_string();
            let due = (start + Duration::days(7)).date_naive().format("%Y-%m-%d").to_string();
            let invoice = json!({"clientId": owner, "appointmentId": apt.id, "currency": "GBP", "dueDate": due,
                "lines": [{"description": "Consultation", "quantity": 1, "unitPrice": 4500},
                          {"description": REASONS[i % REASONS.len()], "quantity": 1, "unitPrice": 1500 + (i as i64 % 5) * 750}]});
            let inv = self.create_record(caller, Entity::Invoice, invoice, &none).await?;
            sum.invoices += 1;
            self.transition(caller, Entity::Invoice, &inv.id, "send", TransitionInput::default(), &none).await?;
            if i % 3 != 0 {
                self.transition(caller, Entity::Invoice, &inv.id, "pay", TransitionInput::default(), &none).await?;
            }
        }
        for (i, p) in patients.iter().enumerate().take(8) {
            let lab = json!({"patientId": p.id, "test": (["Complete blood count", "Urinalysis", "Thyroid (T4)", "Faecal parasites"][i % 4])});
            let lab = self.create_record(caller, Entity::LabTest, lab, &none).await?;
            sum.lab_tests += 1;
            if i % 2 == 0 {
                let input = TransitionInput {
                    result: Some(if i == 0 {
                        "WBC 19.2 ×10⁹/L (high)".into()
                    } else {
                        "Within normal limits".into()
                    }),
                    abnormal: Some(i == 0),
                    ..TransitionInput::default()
                };
                self.transition(caller, Entity::LabTest, &lab.id, "complete", input, &none).await?;
            }
        }
        for (i, p) in patients.iter().enumerate().skip(8).take(6) {
            let rx = json!({"patientId": p.id, "drug": (["Carprofen 50 mg", "Amoxicillin 250 mg", "Apoquel 16 mg"][i % 3]),
                "dosage": "1 tablet twice daily with food", "refillsRemaining": i % 3});
            let rx = self.create_record(caller, Entity::Prescription, rx, &none).await?;
            sum.prescriptions += 1;
            if i % 3 > 0 {
                self.transition(caller, Entity::Prescription, &rx.id, "refill", TransitionInput::default(), &none)
                    .await?;
            }
        }
        Ok(sum)
    }
}
