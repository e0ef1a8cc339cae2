//! The "start from a template" gallery: what a veterinary practice
//! automates first, as template inputs. The demo practice loads the first
//! four; the builder offers them all.

use serde_json::{json, Value};

/// A starter: a short name for the gallery's button, and the template.
pub struct Starter {
    pub slug: &'static str,
    pub template: Value,
}

/// The starters the demo practice loads.
pub const IN_DEMO: usize = 4;

pub fn all() -> Vec<Starter> {
    let templates = vec![
        json!({"name": "Patient Follow-up", "description": "Send follow-up email after appointment", "category": "patient_care",
            "triggerType": "event", "triggerConfig": {"event": "appointment.completed"}, "isPublic": true,
            "actions": [
                {"id": "action-1", "type": "wait", "name": "Wait 24 hours", "config": {"duration": 86_400_000}},
                {"id": "action-2", "type": "send_email", "name": "Send follow-up email",
                 "config": {"to": "{{patient.owner.email}}", "subject": "Follow-up on {{patient.name}}", "template": "patient_followup"}}]}),
        json!({"name": "Appointment reminder", "description": "Email the owner 24 hours before the appointment; moves when the appointment does",
            "category": "reminders", "triggerType": "event", "triggerConfig": {"event": "appointment.created"}, "isPublic": true,
            "actions": [
                {"id": "wait", "type": "wait", "name": "Until a day before", "config": {"until": "{{appointment.startsAt}}", "offsetMs": -86_400_000}},
                {"id": "remind", "type": "send_email", "name": "Remind the owner",
                 "config": {"to": "{{patient.owner.email}}", "template": "appointment_reminder"}}]}),
        json!({"name": "Abnormal lab result", "description": "Tell the vets and book a recheck when a lab result is abnormal",
            "category": "clinical", "triggerType": "event", "triggerConfig": {"event": "lab_test.completed"},
            "actions": [
                {"id": "check", "type": "condition", "name": "Abnormal?", "config": {"logic": "AND",
                  "conditions": [{"field": "labTest.abnormal", "operator": "equals", "value": true}],
                  "then": [
                    {"id": "notify", "type": "send_notification", "name": "Tell the vets",
                     "config": {"title": "Abnormal {{labTest.test}} for {{patient.name}}", "message": "{{labTest.result}}", "to": {"roles": ["staff", "admin"]}}},
                    {"id": "recheck", "type": "create_record", "name": "Book a recheck",
                     "config": {"entity": "appointment", "fields": {"patientId": "{{patient.id}}", "vetName": "Dr Okafor",
                       "startsAt": "{{ (now | date('%Y-%m-%d')) }}T15:00:00Z", "durationMinutes": 15, "reason": "Recheck: {{labTest.test}}"}}}],
                  "else": []}}]}),
        json!({"name": "Weekly overdue invoices", "description": "Every Monday 08:00 London time, remind the admins to chase overdue invoices",
            "category": "billing", "triggerType": "schedule", "triggerConfig": {"cron": "0 8 * * MON", "timezone": "Europe/London"},
            "actions": [
                {"id": "tell", "type": "send_notification", "name": "Remind the admins",
                 "config": {"title": "Monday: chase overdue invoices", "message": "See Records → Invoices, status sent.", "link": "/records/invoice?status=sent"}}]}),
        json!({"name": "Overdue invoice reminder", "description": "Email the client when an invoice passes its due date unpaid",
            "category": "billing", "triggerType": "event", "triggerConfig": {"event": "invoice.overdue"},
            "actions": [
                {"id": "remind", "type": "send_email", "name": "Remind the client",
                 "config": {"to": "{{client.email}}", "template": "invoice_overdue"}}]}),
        json!({"name": "Vaccine due", "description": "Eleven months after a vaccination is recorded, invite the owner to book the next one",
            "category": "reminders", "triggerType": "event",
            "triggerConfig": {"event": "medical_record.created", "conditions": {"logic": "AND",
                "conditions": [{"field": "medicalRecord.diagnosis", "operator": "contains", "value": "vaccin"}]}},
            "actions": [
                {"id": "wait", "type": "wait", "name": "Wait eleven months", "config": {"duration": 28_944_000_000_i64}},
                {"id": "invite", "type": "send_email", "name": "Invite the owner",
                 "config": {"to": "{{patient.owner.email}}", "template": "vaccine_due"}}]}),
    ];
    let slugs = ["follow-up", "appointment-reminder", "lab-result", "weekly-overdue", "overdue-invoice", "vaccine-due"];
    slugs.into_iter().zip(templates).map(|(slug, template)| Starter { slug, template }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::TemplateInput;

    #[test]
    fn every_starter_is_a_template_input_the_builder_reads() {
        for s in all() {
            let input: TemplateInput = serde_json::from_value(s.template.clone()).unwrap();
            let draft = super::super::Draft::from_input(&input).unwrap();
            assert!(!draft.flow.is_empty(), "{}", s.slug);
        }
        assert_eq!(all()[0].template["actions"][0]["config"]["duration"], json!(86_400_000));
    }
}
