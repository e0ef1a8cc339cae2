//! Executions claimed together share one transaction and write their steps,
//! execution rows and due rows at its end. Here 70 executions of four kinds
//! wake from one wait at the same moment, so the runner claims them in
//! groups: quick steps only, a parallel step (which reads its children), a
//! webhook call (which leaves the group), and a record change. Each must
//! do its work exactly once and record its steps in the order they ran.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::{admin, eventually, staff, test_settings, Harness, Receiver};
use domain::clock::ManualClock;
use domain::records::{Cause, Entity};
use domain::store::with_pool;
use domain::testing::TestDb;
use domain::workflows::{ExecuteInput, TemplateInput};
use domain::Services;
use serde_json::{json, Value};

const T0: i64 = 1_772_442_000_000;
const WAIT: i64 = 60_000;

async fn count(s: &Services, sql: &str) -> i64 {
    with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn template(s: &Services, name: &str, actions: Value) -> String {
    let t: TemplateInput =
        serde_json::from_value(json!({"name": name, "triggerType": "manual", "actions": actions})).unwrap();
    s.create_template(&admin(), t).await.unwrap().id
}

async fn start(s: &Services, template: &str, n: usize, data: impl Fn(usize) -> Value) -> Vec<String> {
    let caller = admin();
    let runs = (0..n).map(|i| s.execute_template(&caller, template, ExecuteInput { trigger_data: data(i) }));
    futures::future::join_all(runs).await.into_iter().map(|r| r.unwrap().execution_id).collect()
}

async fn executions_claimed_together_each_do_their_work_once(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = Harness::new(&db, test_settings(), Some(Arc::new(clock.clone()))).await;
    let s = &h.services;
    let hook = Receiver::start(vec![]).await;
    let owner = s
        .create_record(&staff(), Entity::Client, json!({"firstName": "Ann", "lastName": "Roe"}), &Cause::default())
        .await
        .unwrap();
    let dog = json!({"name": "Bella", "species": "dog", "ownerId": owner.id});
    let dog = s.create_record(&staff(), Entity::Patient, dog, &Cause::default()).await.unwrap();
    let wait = json!({"id": "w", "type": "wait", "config": {"duration": WAIT}});

    let quick = template(
        s,
        "Quick",
        json!([wait,
        {"id": "check", "type": "condition", "config": {"logic": "AND",
            "conditions": [{"field": "trigger.n", "operator": "equals", "value": 1}], "then": [], "else": []}},
        {"id": "tell", "type": "send_notification", "config": {"title": "quick", "message": "m"}},
        {"id": "mail", "type": "send_email", "config": {"to": "ops@example.com", "subject": "quick", "body": "b"}}]),
    )
    .await;
    let fan = template(s, "Fan", json!([wait,
        {"id": "fan", "type": "parallel", "config": {"branches": [
            [{"id": "a", "type": "send_notification", "config": {"title": "branch", "message": "m"}}],
            [{"id": "b", "type": "send_email", "config": {"to": "ops@example.com", "subject": "branch", "body": "b"}}]]}},
        {"id": "after", "type": "send_email", "config": {"to": "ops@example.com", "subject": "joined", "body": "b"}}]))
    .await;
    let call = template(s, "Call", json!([wait,
        {"id": "call", "type": "webhook", "config": {"method": "POST", "url": hook.url, "body": "{\"run\": \"{{ execution.id }}\"}"}},
        {"id": "tell", "type": "send_notification", "config": {"title": "called", "message": "m"}}]))
    .await;
    let weigh = template(
        s,
        "Weigh",
        json!([wait,
        {"id": "weigh", "type": "update_record",
         "config": {"entity": "patient", "id": "{{ trigger.patientId }}", "changes": {"weightKg": "{{ trigger.kg }}"}}},
        {"id": "mail", "type": "send_email", "config": {"to": "ops@example.com", "subject": "weighed", "body": "b"}}]),
    )
    .await;

    let mut runs: Vec<(String, Vec<&str>)> = Vec::new();
    let mut add =
        |ids: Vec<String>, order: &[&'static str]| runs.extend(ids.into_iter().map(|id| (id, order.to_vec())));
    add(start(s, &quick, 40, |_| json!({"n": 1})).await, &["w", "check", "tell", "mail"]);
    add(start(s, &fan, 10, |_| json!({})).await, &["w", "fan", "after"]);
    add(start(s, &call, 10, |_| json!({})).await, &["w", "call", "tell"]);
    // Each run changes the weight, so each change is an event.
    add(start(s, &weigh, 10, |i| json!({"patientId": dog.id, "kg": 20 + i})).await, &["w", "weigh", "mail"]);
    let waiting = "SELECT COUNT(*) FROM workflow_executions WHERE status = 'waiting' AND parent_execution_id IS NULL";
    assert!(
        eventually(Duration::from_secs(20), || async { count(s, waiting).await == 70 }).await,
        "{}: every execution reached its wait",
        db.name
    );

    // All 70 are due at the same moment: claimed together.
    clock.advance(WAIT);
    let done = "SELECT COUNT(*) FROM workflow_executions WHERE status = 'completed' AND parent_execution_id IS NULL";
    let finished = eventually(Duration::from_secs(30), || async { count(s, done).await == 70 }).await;
    assert!(finished, "{}: {} of 70 completed", db.name, count(s, done).await);

    for (id, order) in &runs {
        let e = s.get_execution(&admin(), id).await.unwrap();
        let ran: Vec<&str> = e.steps.iter().map(|st| st.action_id.as_str()).collect();
        assert_eq!(&ran, order, "{}: {id} recorded each step once, in the order it ran", db.name);
        assert!(e.steps.iter().all(|st| st.status == "completed"), "{}: {:?}", db.name, e.steps);
    }
    assert_eq!(count(s, "SELECT COUNT(*) FROM outbox WHERE subject = 'quick'").await, 40, "{}", db.name);
    assert_eq!(count(s, "SELECT COUNT(*) FROM outbox WHERE subject = 'branch'").await, 10);
    assert_eq!(count(s, "SELECT COUNT(*) FROM outbox WHERE subject = 'joined'").await, 10);
    assert_eq!(count(s, "SELECT COUNT(*) FROM outbox WHERE subject = 'weighed'").await, 10);
    assert_eq!(count(s, "SELECT COUNT(*) FROM notifications WHERE title = 'quick'").await, 40);
    assert_eq!(count(s, "SELECT COUNT(*) FROM notifications WHERE title = 'branch'").await, 10);
    assert_eq!(count(s, "SELECT COUNT(*) FROM notifications WHERE title = 'called'").await, 10);
    let hits = hook.wait_for_hits(10, Duration::from_secs(5)).await;
    let keys: HashSet<String> = hits.iter().map(|h| h.header("idempotency-key")).collect();
    assert_eq!((hits.len(), keys.len()), (10, 10), "{}: each webhook step called once", db.name);
    assert_eq!(count(s, "SELECT COUNT(*) FROM events WHERE type = 'patient.updated'").await, 10);
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM due_work WHERE kind = 'workflow'").await,
        0,
        "{}: no due row is left behind",
        db.name
    );
    h.shutdown().await;
}

domain::per_backend!(executions_claimed_together_each_do_their_work_once);
