//! A webhook's life over days, with a controllable clock, on SQLite and
//! PostgreSQL: auto-disable after failing for the whole period, replaying what
//! it missed once re-enabled, and retention of old history.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{admin, eventually, test_settings, Harness, Receiver, Reply};
use domain::clock::ManualClock;
use domain::store::with_pool;
use domain::testing::TestDb;
use domain::webhooks::PublishInput;
use domain::webhooks::{ListQuery, WebhookInput};
use domain::Services;
use serde_json::json;

const DAY: i64 = 24 * 60 * 60 * 1000;
const START: i64 = 1_800_000_000_000;

fn input(name: &str, url: &str, events: &[&str]) -> WebhookInput {
    serde_json::from_value(json!({"name": name, "url": url, "events": events, "retryPolicy": {"maxAttempts": 1}}))
        .unwrap()
}

fn event(t: &str, data: serde_json::Value) -> PublishInput {
    serde_json::from_value(json!({"type": t, "data": data})).unwrap()
}

async fn count(s: &Services, sql: &str) -> i64 {
    with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn settled(s: &Services) -> bool {
    count(s, "SELECT COUNT(*) FROM due_work").await == 0
}

async fn failing_for_the_whole_period_disables_the_webhook_and_notifies_admins(db: TestDb) {
    let clock = ManualClock::new(START);
    let h = Harness::new(&db, test_settings(), Some(Arc::new(clock.clone()))).await;
    let rx = Receiver::start(vec![Reply::Status(500); 10]).await;
    let w = h.services.create_webhook(&admin(), input("Flaky", &rx.url, &["invoice.paid"])).await.unwrap();

    h.services.publish(&admin(), event("invoice.paid", json!({"n": 1})), None).await.unwrap();
    rx.wait_for_hits(1, Duration::from_secs(10)).await;
    let s = h.services.clone();
    assert!(eventually(Duration::from_secs(10), || settled(&s)).await, "{}", db.name);
    let got = h.services.get_webhook(&admin(), &w.id).await.unwrap();
    assert_eq!((got.active, got.status.as_str()), (true, "failing"), "{}", db.name);

    // Still failing just before the period ends: stays on.
    clock.advance(5 * DAY - 1_000);
    h.services.publish(&admin(), event("invoice.paid", json!({"n": 2})), None).await.unwrap();
    rx.wait_for_hits(2, Duration::from_secs(10)).await;
    assert!(eventually(Duration::from_secs(10), || settled(&s)).await);
    assert!(h.services.get_webhook(&admin(), &w.id).await.unwrap().active, "{}: not yet", db.name);

    // Failing past five days without a single success: disabled, with a notification.
    clock.advance(2_000);
    h.services.publish(&admin(), event("invoice.paid", json!({"n": 3})), None).await.unwrap();
    rx.wait_for_hits(3, Duration::from_secs(10)).await;
    let wid = w.id.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (s, wid) = (s.clone(), wid.clone());
            async move { s.get_webhook(&admin(), &wid).await.unwrap().status == "auto_disabled" }
        })
        .await,
        "{}",
        db.name
    );
    assert_eq!(count(&h.services, "SELECT COUNT(*) FROM notifications WHERE kind = 'webhook.disabled'").await, 1);

    // Disabled: new events do not reach it.
    let accepted = h.services.publish(&admin(), event("invoice.paid", json!({"n": 4})), None).await.unwrap();
    assert_eq!(accepted.deliveries, 0, "{}", db.name);
    h.shutdown().await;
}

#[tokio::test]
async fn a_success_resets_the_failing_period() {
    let db = TestDb::sqlite().await;
    let clock = ManualClock::new(START);
    let h = Harness::new(&db, test_settings(), Some(Arc::new(clock.clone()))).await;
    let rx = Receiver::start(vec![Reply::Status(500), Reply::Status(200), Reply::Status(500)]).await;
    let w = h.services.create_webhook(&admin(), input("Recovers", &rx.url, &["invoice.paid"])).await.unwrap();
    let s = h.services.clone();
    for (n, advance) in [(1, 0), (2, 3 * DAY), (3, 3 * DAY)] {
        clock.advance(advance);
        h.services.publish(&admin(), event("invoice.paid", json!({"n": n})), None).await.unwrap();
        rx.wait_for_hits(n as usize, Duration::from_secs(10)).await;
        assert!(eventually(Duration::from_secs(10), || settled(&s)).await);
    }
    // Failed at day 0, succeeded at day 3, failed at day 6: failing for 3 days only.
    let got = h.services.get_webhook(&admin(), &w.id).await.unwrap();
    assert_eq!((got.active, got.status.as_str()), (true, "failing"));
    h.shutdown().await;
    db.cleanup().await;
}

async fn re_enabled_webhooks_replay_the_events_they_missed(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![]).await;
    let w = h
        .services
        .create_webhook(&admin(), input("Paused", &rx.url, &["invoice.paid", "invoice.created"]))
        .await
        .unwrap();
    let since = h.services.now_ms();
    let off: WebhookInput = serde_json::from_value(json!({"active": false})).unwrap();
    h.services.update_webhook(&admin(), &w.id, off).await.unwrap();

    let missed = h.services.publish(&admin(), event("invoice.paid", json!({"id": "inv_1"})), None).await.unwrap();
    assert_eq!(missed.deliveries, 0);
    h.services.publish(&admin(), event("invoice.created", json!({"id": "inv_2"})), None).await.unwrap();
    h.services.publish(&admin(), event("patient.created", json!({"id": "p"})), None).await.unwrap(); // not subscribed

    let err = h.services.replay_missed(&admin(), &w.id, since).await.unwrap_err();
    assert!(err.to_string().contains("enable it"), "{err}");
    let on: WebhookInput = serde_json::from_value(json!({"active": true})).unwrap();
    h.services.update_webhook(&admin(), &w.id, on).await.unwrap();
    assert_eq!(h.services.replay_missed(&admin(), &w.id, since).await.unwrap(), 2, "{}", db.name);
    // Replaying again finds nothing new: each event reaches it once.
    assert_eq!(h.services.replay_missed(&admin(), &w.id, since).await.unwrap(), 0);

    let hits = rx.wait_for_hits(2, Duration::from_secs(10)).await;
    assert_eq!(hits.len(), 2, "{}", db.name);
    let mut types: Vec<String> = hits
        .iter()
        .map(|h| serde_json::from_str::<serde_json::Value>(&h.body).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(types, vec!["invoice.created", "invoice.paid"]);
    let body: serde_json::Value = serde_json::from_str(&hits[0].body).unwrap();
    assert!(body["data"]["id"].as_str().unwrap().starts_with("inv_"));
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    h.shutdown().await;
}

async fn retention_deletes_old_finished_history_and_keeps_pending_work(db: TestDb) {
    let clock = ManualClock::new(START);
    let mut settings = test_settings();
    settings.retention_days = 30;
    let h = Harness::new(&db, settings, Some(Arc::new(clock.clone()))).await;
    let rx = Receiver::start(vec![]).await;
    let w = h.services.create_webhook(&admin(), input("Kept", &rx.url, &["invoice.paid"])).await.unwrap();
    for n in 0..3 {
        h.services.publish(&admin(), event("invoice.paid", json!({"n": n})), None).await.unwrap();
    }
    rx.wait_for_hits(3, Duration::from_secs(10)).await;
    let s = h.services.clone();
    assert!(eventually(Duration::from_secs(10), || settled(&s)).await);
    assert_eq!(count(&h.services, "SELECT COUNT(*) FROM delivery_attempts").await, 3);

    // A delivery still waiting when its time comes is kept: only finished history goes.
    with_pool!(&h.services.db, pool => sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, status, attempt, max_attempts, created_at, updated_at)
         VALUES ('msg_waiting', $1, 'evt_x', 'invoice.paid', 'pending', 0, 1, $2, $2)")
        .bind(&w.id).bind(START).execute(pool).await.map(|r| r.rows_affected())).unwrap();

    clock.advance(29 * DAY);
    assert_eq!(h.services.run_retention().await.unwrap(), 0, "{}: nothing is 30 days old yet", db.name);
    clock.advance(2 * DAY);
    h.services.publish(&admin(), event("invoice.paid", json!({"n": "recent"})), None).await.unwrap();
    rx.wait_for_hits(4, Duration::from_secs(10)).await;
    assert!(eventually(Duration::from_secs(10), || settled(&s)).await);

    assert_eq!(h.services.run_retention().await.unwrap(), 3, "{}", db.name);
    let left = h.services.list_deliveries(&admin(), Some(&w.id), &ListQuery::default()).await.unwrap();
    let mut ids: Vec<String> = left.data.iter().map(|d| d.status.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec!["pending", "succeeded"], "{}", db.name);
    assert_eq!(count(&h.services, "SELECT COUNT(*) FROM delivery_attempts").await, 1, "attempts go with them");
    assert_eq!(count(&h.services, "SELECT COUNT(*) FROM events").await, 1, "old events go too");
    h.shutdown().await;
}

domain::per_backend!(
    a_new_process_on_the_same_database_delivers,
    failing_for_the_whole_period_disables_the_webhook_and_notifies_admins,
    re_enabled_webhooks_replay_the_events_they_missed,
    retention_deletes_old_finished_history_and_keeps_pending_work,
);

/// A process that stopped cleanly and a new one on the same database: the new one delivers.
async fn a_new_process_on_the_same_database_delivers(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![]).await;
    h.services.create_webhook(&admin(), input("Again", &rx.url, &["invoice.paid"])).await.unwrap();
    h.services.publish(&admin(), event("invoice.paid", json!({"n": 1})), None).await.unwrap();
    assert_eq!(rx.wait_for_hits(1, Duration::from_secs(10)).await.len(), 1, "{}", db.name);
    h.shutdown().await;
    let h = Harness::new(&db, test_settings(), None).await;
    for n in 2..12 {
        h.services.publish(&admin(), event("invoice.paid", json!({"n": n})), None).await.unwrap();
    }
    assert_eq!(
        rx.wait_for_hits(11, Duration::from_secs(10)).await.len(),
        11,
        "{}: the second process delivers",
        db.name
    );
    h.shutdown().await;
}
