//! The workflow engine end to end, one test per database: the seed's usage
//! example as written (by the controllable clock), every action, both
//! branches of a condition, waits that survive a restart and follow the
//! record they are anchored to, cancel during a wait, schedules that tick
//! once across instances and once after downtime, events that start
//! executions in their own transaction, and errors that name the field or
//! the variable.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{admin, eventually, staff, test_settings, Harness, Receiver};
use domain::clock::ManualClock;
use domain::records::{Cause, Entity, TransitionInput};
use domain::store::with_pool;
use domain::testing::TestDb;
use domain::workflows::{CustomExecuteInput, ExecuteInput, TemplateInput, WorkflowExecution};
use domain::{Error, Services};
use serde_json::{json, Value};

/// 2026-03-02 09:00 UTC, a Monday.
const T0: i64 = 1_772_442_000_000;
const DAY: i64 = 86_400_000;

async fn harness(db: &TestDb, clock: &ManualClock) -> Harness {
    let h = Harness::new(db, test_settings(), Some(Arc::new(clock.clone()))).await;
    h.services.seed_email_templates().await.unwrap();
    h
}

fn none() -> Cause {
    Cause::default()
}

/// An owner with an email, their dog, and an appointment at T0 + 3 days.
async fn practice(s: &Services) -> (String, String, String) {
    practice_at(s, T0 + 3 * DAY).await
}

async fn practice_at(s: &Services, starts_at: i64) -> (String, String, String) {
    let owner = json!({"firstName": "Ann", "lastName": "Roe", "email": "ann@example.com"});
    let owner = s.create_record(&staff(), Entity::Client, owner, &none()).await.unwrap();
    let dog = json!({"name": "Bella", "species": "dog", "ownerId": owner.id});
    let dog = s.create_record(&staff(), Entity::Patient, dog, &none()).await.unwrap();
    let visit = json!({"patientId": dog.id, "vetName": "Dr Vale", "startsAt": domain::clock::rfc3339(starts_at),
        "durationMinutes": 30, "reason": "Vaccination"});
    let visit = s.create_record(&staff(), Entity::Appointment, visit, &none()).await.unwrap();
    (owner.id, dog.id, visit.id)
}

fn template(body: Value) -> TemplateInput {
    serde_json::from_value(body).unwrap()
}

async fn count(s: &Services, sql: &str) -> i64 {
    with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn execution(s: &Services, id: &str) -> WorkflowExecution {
    s.get_execution(&admin(), id).await.unwrap()
}

/// Waits until the execution reaches `status`, and returns it.
async fn reaches(s: &Services, id: &str, status: &str) -> WorkflowExecution {
    let done = eventually(Duration::from_secs(15), || {
        let (s, id) = (s.clone(), id.to_string());
        async move { execution(&s, &id).await.status == status }
    })
    .await;
    let e = execution(s, id).await;
    assert!(done, "execution {id} never became {status}: {e:#?}");
    e
}

fn field_errors<T: std::fmt::Debug>(r: Result<T, Error>) -> Vec<String> {
    match r {
        Err(Error::Validation(errs)) => errs.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// The seed document's example, as written.
fn patient_follow_up() -> Value {
    json!({
        "name": "Patient Follow-up",
        "description": "Send follow-up email after appointment",
        "category": "patient_care",
        "triggerType": "event",
        "triggerConfig": { "event": "appointment.completed" },
        "actions": [
            { "id": "action-1", "type": "wait", "name": "Wait 24 hours", "config": { "duration": 86400000 } },
            { "id": "action-2", "type": "send_email", "name": "Send follow-up email",
              "config": { "to": "{{patient.owner.email}}", "subject": "Follow-up on {{patient.name}}", "template": "patient_followup" } }
        ],
        "isPublic": false
    })
}

async fn the_seed_example_works_as_written(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let (_, patient_id, appointment_id) = practice(s).await;
    let t = s.create_template(&admin(), template(patient_follow_up())).await.unwrap();
    assert_eq!((t.version, t.usage_count, t.is_active), (1, 0, true));

    let run = s
        .execute_template(
            &staff(),
            &t.id,
            ExecuteInput { trigger_data: json!({"patientId": patient_id, "appointmentId": appointment_id}) },
        )
        .await
        .unwrap();
    let waiting = reaches(s, &run.execution_id, "waiting").await;
    assert_eq!(waiting.waiting_until.as_deref(), Some(domain::clock::rfc3339(T0 + DAY).as_str()));
    assert_eq!(waiting.steps[0].status, "waiting");
    assert!(s.outbox(&admin(), 10).await.unwrap().is_empty(), "nothing is sent before the 24 hours");

    clock.advance(DAY - 1_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(execution(s, &run.execution_id).await.status, "waiting", "{}: not a second early", db.name);

    clock.advance(1_000);
    let done = reaches(s, &run.execution_id, "completed").await;
    assert_eq!(done.steps.iter().map(|st| st.status.as_str()).collect::<Vec<_>>(), ["completed", "completed"]);
    let outbox = s.outbox(&admin(), 10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, ["ann@example.com"], "the owner of that patient has the email");
    assert_eq!(outbox[0].subject, "Follow-up on Bella", "the subject beside the template overrides the template's");
    assert!(outbox[0].text.contains("Bella"), "the patient_followup template rendered: {}", outbox[0].text);
    assert_eq!(outbox[0].execution_id.as_deref(), Some(run.execution_id.as_str()));

    // Its trigger too: completing the appointment starts it, in the transition's transaction.
    s.transition(&staff(), Entity::Appointment, &appointment_id, "complete", TransitionInput::default(), &none())
        .await
        .unwrap();
    assert_eq!(count(s, "SELECT workflow_executions FROM events WHERE type = 'appointment.completed'").await, 1);
    let started = s.list_executions(&admin(), &Default::default()).await.unwrap().data;
    let by_event = started.iter().find(|e| e.trigger_type == "event").expect("the event started an execution");
    reaches(s, &by_event.id, "waiting").await;
    clock.advance(DAY);
    reaches(s, &by_event.id, "completed").await;
    assert_eq!(s.outbox(&admin(), 10).await.unwrap().len(), 2);
    assert_eq!(s.get_template(&admin(), &t.id).await.unwrap().usage_count, 2);
    h.shutdown().await;
}

async fn every_action_runs_and_a_condition_takes_each_branch(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let (_, patient_id, _) = practice(s).await;
    let hook = Receiver::start(vec![]).await;
    let actions = json!([
        {"id": "weigh", "type": "update_record", "name": "Record the weight",
         "config": {"entity": "patient", "id": "{{patient.id}}", "changes": {"weightKg": "{{ trigger.weight }}"}}},
        {"id": "check", "type": "condition", "name": "Heavy?",
         "config": {"logic": "AND", "conditions": [{"field": "trigger.weight", "operator": "greater_than", "value": 30}],
           "then": [
             {"id": "recheck", "type": "create_record", "name": "Book a recheck",
              "config": {"entity": "appointment", "fields": {"patientId": "{{patient.id}}", "vetName": "Dr Vale",
                 "startsAt": "2026-04-01T10:00:00Z", "durationMinutes": 15, "reason": "Weight recheck for {{patient.name}}"}}},
             {"id": "tell", "type": "send_notification", "name": "Tell the vets",
              "config": {"title": "{{patient.name}} weighs {{ trigger.weight }} kg", "message": "Recheck booked", "to": {"roles": ["staff", "admin"]}}}
           ],
           "else": [
             {"id": "fine", "type": "send_email", "name": "All good",
              "config": {"to": "{{patient.owner.email}}", "subject": "{{patient.name}} is fine", "body": "Weight {{ trigger.weight }} kg"}}
           ]}},
        {"id": "call", "type": "webhook", "name": "Tell the lab system",
         "config": {"method": "POST", "url": hook.url, "headers": {"x-practice": "north"}, "body": "{\"patient\": \"{{patient.id}}\"}"}}
    ]);
    let run = |weight: i64| {
        let input = CustomExecuteInput {
            name: Some("Weigh-in".into()),
            actions: actions.clone(),
            trigger_data: json!({"patientId": patient_id, "weight": weight}),
        };
        let s = s.clone();
        async move { s.execute_custom(&admin(), input).await.unwrap().execution_id }
    };

    let heavy = reaches(s, &run(35).await, "completed").await;
    let status =
        |e: &WorkflowExecution, id: &str| e.steps.iter().find(|st| st.action_id == id).map(|st| st.status.clone());
    assert_eq!(status(&heavy, "check").as_deref(), Some("completed"));
    assert_eq!(heavy.steps.iter().find(|st| st.action_id == "check").unwrap().branch.as_deref(), Some("then"));
    assert_eq!(status(&heavy, "recheck").as_deref(), Some("completed"));
    assert_eq!(status(&heavy, "tell").as_deref(), Some("completed"));
    assert!(matches!(status(&heavy, "fine").as_deref(), None | Some("skipped")), "the else branch did not run");
    let dog = s.get_record(&staff(), Entity::Patient, &patient_id, None).await.unwrap();
    assert_eq!(dog.fields["weightKg"], json!(35), "{}: the rendered number was written as a number", db.name);
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM records WHERE entity = 'appointment'").await,
        2,
        "the recheck was booked"
    );
    let caused: Option<String> = with_pool!(&s.db, pool => sqlx::query_scalar(
        "SELECT cause FROM events WHERE type = 'patient.updated'").fetch_one(pool).await)
    .unwrap();
    assert_eq!(caused, Some(format!("[\"{}\"]", heavy.id)), "the change carries the execution that caused it");
    let note = s.notifications(&staff(), 50).await.unwrap();
    assert!(note.iter().any(|n| n.title == "Bella weighs 35 kg"), "{note:?}");
    let hits = hook.wait_for_hits(1, Duration::from_secs(5)).await;
    assert_eq!(hits[0].header("x-practice"), "north");
    assert_eq!(hits[0].header("idempotency-key"), format!("{}:call", heavy.id));
    assert_eq!(hits[0].body, format!("{{\"patient\": \"{patient_id}\"}}"));
    assert_eq!(heavy.steps.iter().find(|st| st.action_id == "call").unwrap().output["status"], json!(200));

    let light = reaches(s, &run(12).await, "completed").await;
    assert_eq!(light.steps.iter().find(|st| st.action_id == "check").unwrap().branch.as_deref(), Some("else"));
    assert_eq!(status(&light, "fine").as_deref(), Some("completed"));
    assert!(matches!(status(&light, "recheck").as_deref(), None | Some("skipped")));
    assert_eq!(s.outbox(&admin(), 10).await.unwrap()[0].subject, "Bella is fine");

    // The builder's variable picker offers later steps these outputs' fields
    // (`wire::builder::output_fields`): every step that ran has each of them.
    let parsed: Vec<wire::workflows::Action> = serde_json::from_value(actions.clone()).unwrap();
    let flow = wire::builder::tree::from_actions(&parsed);
    for e in [&heavy, &light] {
        for step in e.steps.iter().filter(|st| st.status == "completed") {
            let node = wire::builder::tree::walk(&flow).into_iter().find(|n| n.action.id == step.action_id).unwrap();
            for field in wire::builder::output_fields(&node.action, &[]) {
                assert!(
                    step.output.get(&field).is_some(),
                    "{}: {} output has {field}: {}",
                    db.name,
                    step.action_id,
                    step.output
                );
            }
        }
    }
    h.shutdown().await;
}

async fn a_wait_survives_a_restart_and_completes_once(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let input = CustomExecuteInput {
        name: None,
        actions: json!([{"id": "w", "type": "wait", "config": {"duration": 2000}},
                        {"id": "e", "type": "send_email", "config": {"to": "ops@example.com", "subject": "after", "body": "b"}}]),
        trigger_data: json!({}),
    };
    let id = h.services.execute_custom(&admin(), input).await.unwrap().execution_id;
    reaches(&h.services, &id, "waiting").await;
    h.shutdown().await;

    clock.advance(5_000);
    let a = harness(&db, &clock).await;
    let b = harness(&db, &clock).await;
    reaches(&a.services, &id, "completed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&a.services, "SELECT COUNT(*) FROM outbox").await, 1, "{}: exactly once", db.name);
    assert_eq!(count(&a.services, "SELECT COUNT(*) FROM due_work").await, 0, "nothing left to do");
    a.shutdown().await;
    b.shutdown().await;
}

async fn ten_thousand_executions_wait_as_rows(db: TestDb) {
    let n: i64 = std::env::var("WORKFLOW_WAITING").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let t = s
        .create_template(
            &admin(),
            template(json!({"name": "Remind", "triggerType": "manual",
            "actions": [{"id": "w", "type": "wait", "config": {"duration": DAY}}]})),
        )
        .await
        .unwrap();
    for _ in 0..n {
        s.execute_template(&staff(), &t.id, ExecuteInput::default()).await.unwrap();
    }
    let all_waiting = eventually(Duration::from_secs(600), || {
        let s = s.clone();
        async move { count(&s, "SELECT COUNT(*) FROM workflow_executions WHERE status = 'waiting'").await == n }
    })
    .await;
    assert!(all_waiting, "{}: every execution reached its wait", db.name);
    let later = count(
        s,
        &format!(
            "SELECT COUNT(*) FROM due_work WHERE kind = 'workflow' AND lease_owner IS NULL AND available_at = {}",
            T0 + DAY
        ),
    )
    .await;
    assert_eq!(later, n, "each waits as one due row a day away, held by no one");
    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    assert!(tasks < 100, "no task per waiting execution: {tasks} alive");
    h.shutdown().await;
}

async fn cancel_during_a_wait_stops_it(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let (_, patient_id, appointment_id) = practice(s).await;
    let t = s.create_template(&admin(), template(patient_follow_up())).await.unwrap();
    let id = s
        .execute_template(
            &staff(),
            &t.id,
            ExecuteInput { trigger_data: json!({"patientId": patient_id, "appointmentId": appointment_id}) },
        )
        .await
        .unwrap()
        .execution_id;
    reaches(s, &id, "waiting").await;
    assert!(matches!(s.cancel_execution(&staff(), &id).await, Err(Error::Forbidden(_))), "staff may not cancel");
    let cancelled = s.cancel_execution(&admin(), &id).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(cancelled.steps[0].status, "cancelled");
    assert!(matches!(s.cancel_execution(&admin(), &id).await, Err(Error::Conflict(_))), "twice is a conflict");
    clock.advance(2 * DAY);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(execution(s, &id).await.status, "cancelled");
    assert!(s.outbox(&admin(), 10).await.unwrap().is_empty(), "{}: a cancelled wait sends nothing", db.name);
    h.shutdown().await;
}

async fn a_wait_follows_the_appointment_it_is_anchored_to(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    s.create_template(&admin(), template(json!({"name": "Reminder", "category": "reminders", "triggerType": "event",
        "triggerConfig": {"event": "appointment.created"},
        "actions": [
          {"id": "w", "type": "wait", "config": {"until": "{{appointment.startsAt}}", "offsetMs": -DAY}},
          {"id": "e", "type": "send_email", "config": {"to": "{{patient.owner.email}}", "template": "appointment_reminder"}}
        ]})))
        .await
        .unwrap();
    let (_, _, visit) = practice(s).await; // starts at T0 + 3 days
    let list = s.list_executions(&admin(), &Default::default()).await.unwrap().data;
    assert_eq!(list.len(), 1, "the appointment's creation started the reminder");
    let id = list[0].id.clone();
    let e = reaches(s, &id, "waiting").await;
    assert_eq!(e.waiting_until, Some(domain::clock::rfc3339(T0 + 2 * DAY)));

    let current = s.get_record(&staff(), Entity::Appointment, &visit, None).await.unwrap();
    let moved = json!({"startsAt": domain::clock::rfc3339(T0 + 5 * DAY), "version": current.version});
    s.update_record(&staff(), Entity::Appointment, &visit, moved, None, &none()).await.unwrap();
    assert_eq!(
        execution(s, &id).await.waiting_until,
        Some(domain::clock::rfc3339(T0 + 4 * DAY)),
        "{}: the reminder moved",
        db.name
    );
    clock.advance(3 * DAY);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(execution(s, &id).await.status, "waiting", "not at the old time");
    clock.advance(DAY);
    reaches(s, &id, "completed").await;
    assert_eq!(s.outbox(&admin(), 10).await.unwrap().len(), 1);

    // A second appointment, cancelled: its reminder is cancelled with it.
    let (_, _, other) = practice_at(s, T0 + 10 * DAY).await;
    let list = s.list_executions(&admin(), &Default::default()).await.unwrap().data;
    let second = list.iter().find(|e| e.id != id).unwrap().id.clone();
    reaches(s, &second, "waiting").await;
    s.transition(&staff(), Entity::Appointment, &other, "cancel", TransitionInput::default(), &none()).await.unwrap();
    let e = execution(s, &second).await;
    assert_eq!(e.status, "cancelled");
    assert!(e.error.unwrap_or_default().contains("cancelled"));
    h.shutdown().await;
}

async fn a_schedule_ticks_once_across_instances_and_once_after_downtime(db: TestDb) {
    let clock = ManualClock::new(T0); // Monday 09:00 UTC
    let a = harness(&db, &clock).await;
    let b = harness(&db, &clock).await;
    let s = &a.services;
    let t = s
        .create_template(&admin(), template(json!({"name": "Hourly", "triggerType": "schedule",
            "triggerConfig": {"cron": "30 * * * *", "timezone": "Europe/London"},
            "actions": [{"id": "n", "type": "send_notification", "config": {"title": "Tick {{ scheduledAt }}", "message": "m"}}]})))
        .await
        .unwrap();
    assert_eq!(t.next_runs.len(), 5);
    assert_eq!(t.next_runs[0], domain::clock::rfc3339(T0 + 30 * 60_000));
    let schedule_executions =
        || async { count(s, "SELECT COUNT(*) FROM workflow_executions WHERE trigger_type = 'schedule'").await };

    clock.advance(31 * 60_000);
    assert!(eventually(Duration::from_secs(10), || async { schedule_executions().await == 1 }).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(schedule_executions().await, 1, "{}: one tick, one execution, with two instances", db.name);
    let data: String = with_pool!(&s.db, pool => sqlx::query_scalar(
        "SELECT trigger_data FROM workflow_executions WHERE trigger_type = 'schedule'").fetch_one(pool).await)
    .unwrap();
    let scheduled_at = serde_json::from_str::<serde_json::Value>(&data).unwrap()["scheduledAt"].clone();
    assert_eq!(scheduled_at, domain::clock::rfc3339(T0 + 30 * 60_000), "a run names its tick, not when it was claimed");

    // Down for five hours: the five missed ticks run once, then the schedule goes on from now.
    a.shutdown().await;
    b.shutdown().await;
    clock.advance(5 * 3_600_000);
    let a = harness(&db, &clock).await;
    let s = &a.services;
    assert!(
        eventually(Duration::from_secs(10), || async {
            count(s, "SELECT COUNT(*) FROM workflow_executions WHERE trigger_type = 'schedule'").await == 2
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM workflow_executions WHERE trigger_type = 'schedule'").await,
        2,
        "missed ticks run once"
    );
    let next: i64 = count(
        s,
        &format!("SELECT available_at FROM due_work WHERE kind = 'workflow_schedule' AND subject_id = '{}'", t.id),
    )
    .await;
    assert_eq!(next, T0 + 6 * 3_600_000 + 30 * 60_000, "the next tick is the first after now");
    a.shutdown().await;
}

async fn an_event_starts_its_workflows_in_its_own_transaction(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    s.create_template(&admin(), template(json!({"name": "Abnormal lab", "triggerType": "event",
        "triggerConfig": {"event": "lab_test.completed", "conditions": {"logic": "AND", "conditions": [
            {"field": "labTest.abnormal", "operator": "equals", "value": true}]}},
        "actions": [{"id": "n", "type": "send_notification", "config": {"title": "Abnormal {{ labTest.test }}", "message": "m"}}]})))
        .await
        .unwrap();
    let publish = |abnormal: bool, key: &str| {
        let input = serde_json::from_value(
            json!({"type": "lab_test.completed", "data": {"labTest": {"test": "CBC", "abnormal": abnormal}}}),
        )
        .unwrap();
        let (s, key) = (s.clone(), key.to_string());
        async move { s.publish(&staff(), input, Some(key)).await.unwrap() }
    };
    assert_eq!(publish(true, "k1").await.workflow_executions, 1, "POST /events says how many it started");
    assert_eq!(publish(true, "k1").await.workflow_executions, 1, "a repeat answers as the first did");
    assert_eq!(publish(false, "k2").await.workflow_executions, 0, "the trigger's conditions decide");
    assert_eq!(count(s, "SELECT COUNT(*) FROM workflow_executions").await, 1, "{}: started once", db.name);
    let id: String =
        with_pool!(&s.db, pool => sqlx::query_scalar("SELECT id FROM workflow_executions").fetch_one(pool).await)
            .unwrap();
    reaches(s, &id, "completed").await;
    let told = s.notifications(&admin(), 50).await.unwrap();
    assert_eq!(told.iter().filter(|n| n.title == "Abnormal CBC").count(), 1, "it ran once");

    // A record change that fails writes neither its event nor the executions the event would start.
    let (_, patient_id, _) = practice(s).await;
    let lab = s
        .create_record(&staff(), Entity::LabTest, json!({"patientId": patient_id, "test": "CBC"}), &none())
        .await
        .unwrap();
    let input: TransitionInput =
        serde_json::from_value(json!({"result": "High WBC", "abnormal": true, "version": lab.version + 7})).unwrap();
    assert!(s.transition(&staff(), Entity::LabTest, &lab.id, "complete", input, &none()).await.is_err());
    assert_eq!(count(s, "SELECT COUNT(*) FROM workflow_executions").await, 1);
    let input: TransitionInput = serde_json::from_value(json!({"result": "High WBC", "abnormal": true})).unwrap();
    s.transition(&staff(), Entity::LabTest, &lab.id, "complete", input, &none()).await.unwrap();
    assert_eq!(count(s, "SELECT COUNT(*) FROM workflow_executions").await, 2, "the completed lab test started it");
    h.shutdown().await;
}

async fn errors_name_the_field_and_the_variable(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let mut bad = patient_follow_up();
    bad["actions"][1]["config"]["to"] = json!("{{ patient.owner.email");
    bad["actions"][0]["config"] = json!({});
    bad["triggerConfig"]["event"] = json!("appointment.exploded");
    let errs = field_errors(s.create_template(&admin(), template(bad)).await);
    for f in ["actions[1].config.to", "actions[0].config.duration", "triggerConfig.event"] {
        assert!(errs.iter().any(|e| e == f), "{}: {f} is named in {errs:?}", db.name);
    }
    let mut dup = patient_follow_up();
    dup["actions"][1]["id"] = json!("action-1");
    assert!(field_errors(s.create_template(&admin(), template(dup)).await).iter().any(|e| e == "actions[1].id"));
    let cron = json!({"name": "x", "triggerType": "schedule", "triggerConfig": {"cron": "61 * * * *", "timezone": "Mars/Base"}, "actions": []});
    let errs = field_errors(s.create_template(&admin(), template(cron)).await);
    assert!(
        errs.contains(&"triggerConfig.cron".to_string()) && errs.contains(&"triggerConfig.timezone".to_string()),
        "{errs:?}"
    );
    assert_eq!(count(s, "SELECT COUNT(*) FROM workflow_templates").await, 0, "nothing half-written");
    assert!(matches!(s.create_template(&staff(), template(patient_follow_up())).await, Err(Error::Forbidden(_))));

    let input = CustomExecuteInput {
        name: None,
        actions: json!([{"id": "e", "type": "send_email", "config": {"to": "{{ patient.owner.emial }}", "subject": "s", "body": "b"}}]),
        trigger_data: json!({"patient": {"name": "Bella", "owner": {"email": "ann@example.com"}}}),
    };
    let id = s.execute_custom(&admin(), input).await.unwrap().execution_id;
    let failed = reaches(s, &id, "failed").await;
    let error = failed.steps[0].error.clone().unwrap_or_default();
    assert!(error.contains("patient.owner.emial"), "the error names the variable: {error}");
    assert!(failed.error.unwrap_or_default().contains("send_email"));
    h.shutdown().await;
}

async fn editing_a_template_keeps_running_executions_on_their_version(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let t = s
        .create_template(&admin(), template(json!({"name": "Two steps", "triggerType": "manual", "actions": [
            {"id": "w", "type": "wait", "config": {"duration": 1000}},
            {"id": "e", "type": "send_email", "config": {"to": "a@example.com", "subject": "version one", "body": "b"}}]})))
        .await
        .unwrap();
    let id = s.execute_template(&staff(), &t.id, ExecuteInput::default()).await.unwrap().execution_id;
    reaches(s, &id, "waiting").await;
    let edit = template(
        json!({"actions": [{"id": "e", "type": "send_email", "config": {"to": "a@example.com", "subject": "version two", "body": "b"}}]}),
    );
    let t2 = s.update_template(&admin(), &t.id, edit).await.unwrap();
    assert_eq!(t2.version, 2);
    let versions = s.template_versions(&admin(), &t.id).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
    clock.advance(2_000);
    let e = reaches(s, &id, "completed").await;
    assert_eq!(e.template_version, Some(1));
    assert_eq!(s.outbox(&admin(), 10).await.unwrap()[0].subject, "version one", "{}: the snapshot ran", db.name);
    s.delete_template(&admin(), &t.id).await.unwrap();
    assert!(matches!(s.get_template(&admin(), &t.id).await, Err(Error::NotFound(_))));
    let stats = s.execution_stats(&admin()).await.unwrap();
    assert_eq!((stats.total, stats.completed, stats.success_rate), (1, 1, Some(100.0)));
    h.shutdown().await;
}

async fn parallel_branches_join_and_sub_workflows_run(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let actions = json!([
        {"id": "fan", "type": "parallel", "name": "Both at once", "config": {"branches": [
            [{"id": "slow", "type": "wait", "config": {"duration": 60_000}},
             {"id": "a", "type": "send_notification", "config": {"title": "after the wait", "message": "m"}}],
            [{"id": "b", "type": "send_email", "config": {"to": "ops@example.com", "subject": "at once", "body": "b"}}]
        ]}},
        {"id": "after", "type": "send_email", "config": {"to": "ops@example.com", "subject": "joined: {{ steps.b.status }}", "body": "b"}}
    ]);
    let input = CustomExecuteInput { name: Some("Fan out".into()), actions, trigger_data: json!({}) };
    let id = s.execute_custom(&admin(), input).await.unwrap().execution_id;
    assert!(
        eventually(Duration::from_secs(10), || async { s.outbox(&admin(), 10).await.unwrap().len() == 1 }).await,
        "the quick branch ran"
    );
    let parent = reaches(s, &id, "waiting").await;
    assert_eq!(
        parent.steps.iter().find(|st| st.action_id == "fan").unwrap().status,
        "waiting",
        "the parallel step waits for its branches"
    );
    assert_eq!(
        s.outbox(&admin(), 10).await.unwrap()[0].subject,
        "at once",
        "{}: the second branch did not wait for the first",
        db.name
    );
    clock.advance(60_000);
    let done = reaches(s, &id, "completed").await;
    assert_eq!(
        done.steps.iter().find(|st| st.action_id == "fan").unwrap().output["branches"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        s.outbox(&admin(), 10).await.unwrap()[0].subject,
        "joined: kept",
        "a branch's outputs are the parent's steps"
    );

    // A sub-workflow, waited for; and a template that would run itself is refused.
    let child = s
        .create_template(&admin(), template(json!({"name": "Child", "triggerType": "manual",
            "actions": [{"id": "c", "type": "send_email", "config": {"to": "{{ who }}", "subject": "from the child", "body": "b"}}]})))
        .await
        .unwrap();
    let parent_t = s
        .create_template(&admin(), template(json!({"name": "Parent", "triggerType": "manual", "actions": [
            {"id": "sub", "type": "run_workflow", "config": {"templateId": child.id, "triggerData": {"who": "{{ email }}"}, "wait": true}},
            {"id": "n", "type": "send_notification", "config": {"title": "child said {{ steps.sub.status }}", "message": "m"}}]})))
        .await
        .unwrap();
    let run = s
        .execute_template(&staff(), &parent_t.id, ExecuteInput { trigger_data: json!({"email": "kid@example.com"}) })
        .await
        .unwrap();
    let done = reaches(s, &run.execution_id, "completed").await;
    assert_eq!(done.steps.iter().find(|st| st.action_id == "sub").unwrap().output["status"], "completed");
    assert!(s.outbox(&admin(), 10).await.unwrap().iter().any(|m| m.to == ["kid@example.com"]));
    let looping =
        template(json!({"actions": [{"id": "back", "type": "run_workflow", "config": {"templateId": parent_t.id}}]}));
    let errs = field_errors(s.update_template(&admin(), &child.id, looping).await);
    assert_eq!(errs, ["actions[0].config.templateId"], "{}: Child → Parent → Child is refused", db.name);

    // Cancelling a parent stops its branches.
    let input = CustomExecuteInput {
        name: None,
        actions: json!([{"id": "p", "type": "parallel", "config": {"branches": [
        [{"id": "w1", "type": "wait", "config": {"duration": DAY}}], [{"id": "w2", "type": "wait", "config": {"duration": DAY}}]]}}]),
        trigger_data: json!({}),
    };
    let id = s.execute_custom(&admin(), input).await.unwrap().execution_id;
    reaches(s, &id, "waiting").await;
    assert!(eventually(Duration::from_secs(10), || async {
        count(s, &format!("SELECT COUNT(*) FROM workflow_executions WHERE parent_execution_id = '{id}' AND status = 'waiting'")).await == 2
    })
    .await);
    s.cancel_execution(&admin(), &id).await.unwrap();
    assert_eq!(
        count(
            s,
            &format!(
                "SELECT COUNT(*) FROM workflow_executions WHERE parent_execution_id = '{id}' AND status = 'cancelled'"
            )
        )
        .await,
        2
    );
    h.shutdown().await;
}

async fn a_failed_execution_is_retried_from_its_failed_step(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let input = CustomExecuteInput {
        name: None,
        actions: json!([
            {"id": "first", "type": "send_email", "config": {"to": "ops@example.com", "subject": "once", "body": "b"}},
            {"id": "second", "type": "update_record", "config": {"entity": "patient", "id": "{{ patientId }}", "changes": {"weightKg": 9}}}
        ]),
        trigger_data: json!({"patientId": "pat_missing"}),
    };
    let id = s.execute_custom(&admin(), input).await.unwrap().execution_id;
    let failed = reaches(s, &id, "failed").await;
    assert_eq!(failed.steps.iter().find(|st| st.action_id == "second").unwrap().status, "failed");
    assert!(matches!(s.retry_execution(&staff(), &id).await, Err(Error::Forbidden(_))));
    s.retry_execution(&admin(), &id).await.unwrap();
    let again = reaches(s, &id, "failed").await;
    assert_eq!(again.steps.len(), 2);
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM outbox").await,
        1,
        "{}: the step before the failed one did not run again",
        db.name
    );
    assert!(s.retry_execution(&admin(), &id).await.is_ok(), "a failed execution may be retried again");
    reaches(s, &id, "failed").await;

    // Retention removes ended executions with their steps, and keeps waiting ones.
    let waiting = s
        .execute_custom(
            &admin(),
            CustomExecuteInput {
                name: None,
                actions: json!([{"id": "w", "type": "wait", "config": {"duration": 400 * DAY / 2}}]),
                trigger_data: json!({}),
            },
        )
        .await
        .unwrap()
        .execution_id;
    reaches(s, &waiting, "waiting").await;
    clock.advance(100 * DAY);
    s.run_retention().await.unwrap();
    assert_eq!(count(s, &format!("SELECT COUNT(*) FROM workflow_executions WHERE id = '{id}'")).await, 0);
    assert_eq!(count(s, &format!("SELECT COUNT(*) FROM workflow_steps WHERE execution_id = '{id}'")).await, 0);
    assert_eq!(execution(s, &waiting).await.status, "waiting");
    h.shutdown().await;
}

async fn a_dry_run_shows_each_action_and_sends_nothing(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = harness(&db, &clock).await;
    let s = &h.services;
    let (_, patient_id, appointment_id) = practice(s).await;
    let t = s.create_template(&admin(), template(patient_follow_up())).await.unwrap();
    let input = domain::workflows::DryRunInput {
        actions: None,
        trigger_data: json!({"patientId": patient_id, "appointmentId": appointment_id}),
    };
    let run = s.dry_run(&staff(), Some(&t.id), input).await.unwrap();
    assert_eq!(run.steps.iter().map(|st| st.status.as_str()).collect::<Vec<_>>(), ["would_wait", "would_run"]);
    assert_eq!(run.steps[1].detail["to"], json!(["ann@example.com"]));
    assert_eq!(run.steps[1].detail["subject"], "Follow-up on Bella");
    assert!(run.steps[1].detail["text"].as_str().unwrap().contains("Bella"));

    let draft = json!([
        {"id": "c", "type": "condition", "config": {"logic": "AND", "conditions": [{"field": "patient.species", "operator": "equals", "value": "cat"}],
          "then": [{"id": "cat", "type": "send_notification", "config": {"title": "cat", "message": "m"}}],
          "else": [{"id": "dog", "type": "update_record", "config": {"entity": "patient", "id": "{{patient.id}}", "changes": {"weightKg": 20}}}]}},
        {"id": "bad", "type": "send_email", "config": {"to": "{{ patient.owner.phone_number }}", "subject": "s", "body": "b"}},
        {"id": "after", "type": "send_notification", "config": {"title": "t", "message": "m"}}
    ]);
    let input = domain::workflows::DryRunInput { actions: Some(draft), trigger_data: json!({"patientId": patient_id}) };
    let run = s.dry_run(&staff(), None, input).await.unwrap();
    let status = |id: &str| run.steps.iter().find(|st| st.action_id == id).unwrap().status.clone();
    assert_eq!(run.steps[0].detail["branch"], "else");
    assert_eq!((status("cat"), status("dog")), ("skipped".into(), "would_run".into()));
    assert_eq!(status("bad"), "would_fail");
    assert!(run
        .steps
        .iter()
        .find(|st| st.action_id == "bad")
        .unwrap()
        .error
        .as_deref()
        .unwrap()
        .contains("patient.owner.phone_number"));
    assert_eq!(status("after"), "not_reached");
    assert!(s.outbox(&admin(), 10).await.unwrap().is_empty(), "{}: nothing sent", db.name);
    assert_eq!(s.get_record(&staff(), Entity::Patient, &patient_id, None).await.unwrap().version, 1, "nothing written");
    assert_eq!(count(s, "SELECT COUNT(*) FROM workflow_executions").await, 0);
    h.shutdown().await;
}

domain::per_backend!(
    a_dry_run_shows_each_action_and_sends_nothing,
    parallel_branches_join_and_sub_workflows_run,
    a_failed_execution_is_retried_from_its_failed_step,
    the_seed_example_works_as_written,
    every_action_runs_and_a_condition_takes_each_branch,
    a_wait_survives_a_restart_and_completes_once,
    ten_thousand_executions_wait_as_rows,
    cancel_during_a_wait_stops_it,
    a_wait_follows_the_appointment_it_is_anchored_to,
    a_schedule_ticks_once_across_instances_and_once_after_downtime,
    an_event_starts_its_workflows_in_its_own_transaction,
    errors_name_the_field_and_the_variable,
    editing_a_template_keeps_running_executions_on_their_version,
);
