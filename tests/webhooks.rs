//! Webhooks end to end against real HTTP receivers on 127.0.0.1, on SQLite
//! and on PostgreSQL: signing, retries, isolation, SSRF, idempotency.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{admin, eventually, test_settings, Harness, Receiver, Reply};
use domain::clock::ManualClock;
use domain::due::kinds;
use domain::testing::TestDb;
use domain::webhooks::PublishInput;
use domain::webhooks::{ListQuery, WebhookInput};
use domain::{Error, Services};
use serde_json::json;

fn input(name: &str, url: &str, events: &[&str]) -> WebhookInput {
    serde_json::from_value(json!({"name": name, "url": url, "events": events})).unwrap()
}

fn event(t: &str, data: serde_json::Value) -> PublishInput {
    serde_json::from_value(json!({"type": t, "data": data})).unwrap()
}

async fn delivery_status(s: &Services, webhook_id: &str) -> Vec<(String, i64)> {
    let page = s.list_deliveries(&admin(), Some(webhook_id), &ListQuery::default()).await.unwrap();
    page.data.into_iter().map(|d| (d.status, d.attempt)).collect()
}

async fn signed_delivery_reaches_a_verifying_receiver(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![]).await;
    let w = h
        .services
        .create_webhook(&admin(), input("Billing", &rx.url, &["invoice.paid", "invoice.created"]))
        .await
        .unwrap();
    let secret = w.secret.clone().expect("secret shown on create");
    assert!(secret.starts_with("whsec_"));

    let accepted = h
        .services
        .publish(&admin(), event("invoice.paid", json!({"id": "inv_1", "amount": 12.5})), None)
        .await
        .unwrap();
    assert_eq!(accepted.deliveries, 1, "{}", db.name);
    // Not subscribed: no delivery.
    assert_eq!(
        h.services.publish(&admin(), event("patient.created", json!({"id": "p"})), None).await.unwrap().deliveries,
        0
    );

    let hits = rx.wait_for_hits(1, Duration::from_secs(10)).await;
    assert_eq!(hits.len(), 1, "{}", db.name);
    let hit = &hits[0];
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(hit.header("user-agent").starts_with("PurpleCross-Webhooks/"));
    let body: serde_json::Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(body["type"], "invoice.paid");
    assert_eq!(body["data"]["id"], "inv_1");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let now = chrono::Utc::now().timestamp();
    domain::signature::verify(
        &secret,
        &hit.header("webhook-id"),
        &hit.header("webhook-timestamp"),
        &hit.header("webhook-signature"),
        hit.body.as_bytes(),
        now,
        300,
    )
    .expect("signature verifies with the webhook's secret");

    let services = h.services.clone();
    let wid = w.id.clone();
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = services.clone();
            let wid = wid.clone();
            async move { delivery_status(&s, &wid).await == vec![("succeeded".to_string(), 1)] }
        })
        .await,
        "{}: delivery recorded as succeeded",
        db.name
    );
    let d = &h.services.list_deliveries(&admin(), Some(&w.id), &ListQuery::default()).await.unwrap().data[0];
    assert_eq!(d.id, hit.header("webhook-id"));
    let detail = h.services.get_delivery(&admin(), &d.id).await.unwrap();
    let attempts = detail.attempts.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, Some(200));
    assert_eq!(attempts[0].request_headers["webhook-id"], d.id.as_str());

    let stats = h.services.webhook_stats(&admin(), &w.id).await.unwrap();
    assert_eq!((stats.succeeded, stats.failed, stats.pending), (1, 0, 0));
    assert_eq!(stats.success_rate, Some(100.0));
    assert!(stats.p50_latency_ms.is_some() && stats.last_success_at.is_some());

    h.shutdown().await;
}

async fn a_500_then_200_delivers_once_more_with_the_same_webhook_id(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![Reply::Status(500), Reply::Status(503)]).await;
    let mut inp = input("Flaky", &rx.url, &["appointment.completed"]);
    inp.retry_policy = Some(Some(
        serde_json::from_value(json!({"schedule": {"type": "fixed", "delaysMs": [100]}, "jitter": 0.0})).unwrap(),
    ));
    let w = h.services.create_webhook(&admin(), inp).await.unwrap();
    h.services.publish(&admin(), event("appointment.completed", json!({"id": "apt_1"})), None).await.unwrap();

    let hits = rx.wait_for_hits(3, Duration::from_secs(10)).await;
    assert_eq!(hits.len(), 3, "{}", db.name);
    let id = hits[0].header("webhook-id");
    assert!(hits.iter().all(|h| h.header("webhook-id") == id), "the same webhook-id on every retry");
    assert!(hits.iter().all(|h| h.body == hits[0].body), "the same body on every retry");
    let services = h.services.clone();
    let wid = w.id.clone();
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = services.clone();
            let wid = wid.clone();
            async move { delivery_status(&s, &wid).await == vec![("succeeded".to_string(), 3)] }
        })
        .await
    );
    let attempts = h.services.get_delivery(&admin(), &id).await.unwrap().attempts.unwrap();
    let codes: Vec<_> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, vec![Some(500), Some(503), Some(200)]);
    assert_eq!(attempts[0].error_class.as_deref(), Some("http_status"));
    // Delivered, then never again: nothing is left in the queue for it.
    assert!(h.services.db.due_row(kinds::DELIVERY, &id).await.unwrap().is_none(), "{}", db.name);
    assert_eq!(rx.hits().len(), 3);
    // The first attempt went straight from ingest to the worker; the retries came from the queue.
    let metrics = h.services.metrics.render();
    assert!(metrics.contains("purple_cross_deliveries_dispatched_total{path=\"hot\"} 1"), "{metrics}");
    assert!(metrics.contains("purple_cross_deliveries_dispatched_total{path=\"claimed\"} 2"), "{metrics}");
    h.shutdown().await;
}

#[tokio::test]
async fn retry_schedule_and_retry_after_follow_a_controllable_clock() {
    let db = TestDb::sqlite().await;
    let clock = ManualClock::new(1_800_000_000_000);
    let h = Harness::new(&db, test_settings(), Some(Arc::new(clock.clone()))).await;
    let rx =
        Receiver::start(vec![Reply::Status(500), Reply::WithHeader(429, "retry-after", "120"), Reply::Status(500)])
            .await;
    let mut inp = input("Clocked", &rx.url, &["invoice.paid"]);
    inp.retry_policy = Some(Some(serde_json::from_value(json!({"maxAttempts": 3, "jitter": 0.0})).unwrap()));
    let w = h.services.create_webhook(&admin(), inp).await.unwrap();
    h.services.publish(&admin(), event("invoice.paid", json!({"id": "i"})), None).await.unwrap();

    let next_retry = |s: Services, wid: String| async move {
        let d = s.list_deliveries(&admin(), Some(&wid), &ListQuery::default()).await.unwrap().data.remove(0);
        (d.status, d.attempt, d.next_retry_at)
    };
    assert_eq!(rx.wait_for_hits(1, Duration::from_secs(5)).await.len(), 1);
    let s = h.services.clone();
    let wid = w.id.clone();
    assert!(
        eventually(Duration::from_secs(5), || {
            let (s, w) = (s.clone(), wid.clone());
            async move { next_retry(s, w).await.1 == 1 }
        })
        .await
    );
    let (status, _, at) = next_retry(h.services.clone(), w.id.clone()).await;
    assert_eq!(status, "pending");
    assert_eq!(
        at.as_deref(),
        Some(domain::clock::rfc3339(1_800_000_000_000 + 5_000).as_str()),
        "first retry after 5 s"
    );

    // Nothing is sent before the time comes: the row waits, unleased, until then.
    let delivery_id = rx.hits()[0].header("webhook-id");
    let waiting = h.services.db.due_row(kinds::DELIVERY, &delivery_id).await.unwrap().unwrap();
    assert_eq!((waiting.available_at, waiting.lease_owner), (1_800_000_000_000 + 5_000, None));
    assert_eq!(rx.hits().len(), 1);
    clock.advance(5_000);
    assert_eq!(rx.wait_for_hits(2, Duration::from_secs(5)).await.len(), 2);
    assert!(
        eventually(Duration::from_secs(5), || {
            let (s, w) = (s.clone(), wid.clone());
            async move { next_retry(s, w).await.1 == 2 }
        })
        .await
    );
    let (_, _, at) = next_retry(h.services.clone(), w.id.clone()).await;
    assert_eq!(
        at.as_deref(),
        Some(domain::clock::rfc3339(1_800_000_005_000 + 120_000).as_str()),
        "429 Retry-After: 120 s honoured"
    );

    let waiting = h.services.db.due_row(kinds::DELIVERY, &delivery_id).await.unwrap().unwrap();
    assert_eq!(
        (waiting.available_at, waiting.lease_owner),
        (1_800_000_005_000 + 120_000, None),
        "not before Retry-After"
    );
    clock.advance(119_000);
    assert_eq!(rx.hits().len(), 2);
    clock.advance(1_000);
    assert_eq!(rx.wait_for_hits(3, Duration::from_secs(5)).await.len(), 3);
    assert!(
        eventually(Duration::from_secs(5), || {
            let (s, w) = (s.clone(), wid.clone());
            async move { next_retry(s, w).await.0 == "failed" }
        })
        .await,
        "after maxAttempts the delivery is dead"
    );
    h.shutdown().await;
}

async fn a_hanging_receiver_does_not_delay_a_healthy_one(db: TestDb) {
    let mut settings = test_settings();
    settings.worker.per_endpoint = 4;
    // Held up behind the hanging endpoint, the healthy one would wait a request
    // timeout: make it twice the bound below, so a slow machine is not mistaken
    // for a held-up delivery (and the lease outlives two timeouts, as in the server).
    settings.request_timeout = Duration::from_secs(8);
    settings.worker.lease_ms = 20_000;
    let h = Harness::new(&db, settings, None).await;
    let slow = Receiver::start((0..50).map(|_| Reply::Hang(Duration::from_secs(20))).collect()).await;
    let fast = Receiver::start(vec![]).await;
    h.services.create_webhook(&admin(), input("Slow", &slow.url, &["patient.created"])).await.unwrap();
    h.services.create_webhook(&admin(), input("Fast", &fast.url, &["patient.created"])).await.unwrap();
    let started = std::time::Instant::now();
    for i in 0..20 {
        h.services.publish(&admin(), event("patient.created", json!({"id": format!("p{i}")})), None).await.unwrap();
    }
    let hits = fast.wait_for_hits(20, Duration::from_secs(10)).await;
    assert_eq!(hits.len(), 20, "{}", db.name);
    assert!(started.elapsed() < Duration::from_secs(4), "{}: healthy endpoint waited {:?}", db.name, started.elapsed());
    assert!(slow.hits().len() <= 4, "the hanging endpoint never has more than its cap in flight");
    h.shutdown().await;
}

/// A delivery waiting at its endpoint's gate when the worker stops is not
/// sent: its row goes back to the queue, due at once, for the next worker.
async fn deliveries_waiting_at_the_gate_are_given_back_at_shutdown(db: TestDb) {
    let mut settings = test_settings();
    settings.worker.per_endpoint = 1;
    // The first request hangs until well after the shutdown began (a slow
    // machine must not let it end first and the second go through the gate).
    settings.request_timeout = Duration::from_secs(10);
    settings.worker.lease_ms = 25_000;
    let h = Harness::new(&db, settings, None).await;
    let rx = Receiver::start(vec![Reply::Hang(Duration::from_secs(5))]).await;
    let w = h.services.create_webhook(&admin(), input("Slow", &rx.url, &["patient.created"])).await.unwrap();
    for i in 0..2 {
        h.services.publish(&admin(), event("patient.created", json!({"id": format!("p{i}")})), None).await.unwrap();
    }
    assert_eq!(rx.wait_for_hits(1, Duration::from_secs(5)).await.len(), 1, "{}", db.name);
    h.shutdown().await;
    assert_eq!(rx.hits().len(), 1, "{}: nothing new is sent once the worker stops", db.name);
    let after = db.services().await.unwrap();
    let page = after.list_deliveries(&admin(), Some(&w.id), &ListQuery::default()).await.unwrap();
    let mut rows = Vec::new();
    for d in &page.data {
        rows.push(after.db.due_row(kinds::DELIVERY, &d.id).await.unwrap());
    }
    let waiting: Vec<_> = rows.into_iter().flatten().collect();
    assert_eq!(waiting.len(), 1, "{}: the one not sent is still due: {waiting:?}", db.name);
    assert_eq!(waiting[0].lease_owner, None, "{}: given back, not left leased", db.name);
    assert!(waiting[0].available_at <= after.now_ms(), "{}: due at once", db.name);
}

#[tokio::test]
async fn ssrf_targets_are_refused_unless_allowed() {
    let db = TestDb::sqlite().await;
    let strict = db.services().await.unwrap(); // default policy: nothing private allowed
    strict.seed_event_types().await.unwrap();
    for url in [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://localhost:8080/",
    ] {
        match strict.create_webhook(&admin(), input("x", url, &["invoice.paid"])).await {
            Err(Error::Validation(errs)) => assert_eq!(errs[0].field, "url", "{url}"),
            other => panic!("{url} must be refused, got {other:?}"),
        }
    }
    let listed = strict.list_webhooks(&admin(), &ListQuery::default()).await.unwrap();
    assert_eq!(listed.total, 0, "nothing half-written");
    // The allowlist lets loopback through.
    let h = Harness::new(&db, test_settings(), None).await;
    h.services.create_webhook(&admin(), input("ok", "http://127.0.0.1:9/x", &["invoice.paid"])).await.unwrap();
    h.shutdown().await;
}

async fn ingest_is_idempotent_and_validates(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![]).await;
    let w = h.services.create_webhook(&admin(), input("Once", &rx.url, &["client.created"])).await.unwrap();
    let a =
        h.services.publish(&admin(), event("client.created", json!({"id": "c1"})), Some("key-1".into())).await.unwrap();
    let b =
        h.services.publish(&admin(), event("client.created", json!({"id": "c1"})), Some("key-1".into())).await.unwrap();
    assert_eq!(a, b, "the same key returns the first answer");
    let with_id: PublishInput =
        serde_json::from_value(json!({"id": "evt_custom", "type": "client.created", "data": {}})).unwrap();
    let c = h.services.publish(&admin(), with_id.clone(), None).await.unwrap();
    assert_eq!(c.id, "evt_custom");
    assert_eq!(h.services.publish(&admin(), with_id, None).await.unwrap(), c);
    rx.wait_for_hits(2, Duration::from_secs(10)).await;
    let s = h.services.clone();
    let settled = || {
        let s = s.clone();
        async move { s.db.due_count(kinds::DELIVERY).await.unwrap() == 0 }
    };
    assert!(eventually(Duration::from_secs(10), settled).await, "{}: nothing more is queued", db.name);
    assert_eq!(rx.hits().len(), 2, "{}: one delivery per distinct event", db.name);
    assert_eq!(h.services.list_deliveries(&admin(), Some(&w.id), &ListQuery::default()).await.unwrap().total, 2);

    match h.services.publish(&admin(), event("no.such_event", json!({})), None).await {
        Err(Error::Validation(errs)) => assert_eq!(errs[0].field, "type"),
        other => panic!("{other:?}"),
    }
    match h
        .services
        .publish(&admin(), serde_json::from_value(json!({"type": "client.created", "data": [1]})).unwrap(), None)
        .await
    {
        Err(Error::Validation(errs)) => assert_eq!(errs[0].field, "data"),
        other => panic!("{other:?}"),
    }
    // Strict custom types refuse payloads that break their schema.
    let t: domain::webhooks::EventType = serde_json::from_value(json!({
        "name": "vaccine.due", "description": "A vaccination is due", "strict": true, "builtin": false,
        "schema": {"type": "object", "required": ["patientId"], "properties": {"patientId": {"type": "string"}, "dose": {"type": "integer"}}},
        "example": {"patientId": "pat_1", "dose": 2}
    })).unwrap();
    h.services.register_event_type(&admin(), t).await.unwrap();
    match h.services.publish(&admin(), event("vaccine.due", json!({"dose": "two"})), None).await {
        Err(Error::Validation(errs)) => {
            let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
            assert!(fields.contains(&"data") && fields.contains(&"data.dose"), "{errs:?}");
        }
        other => panic!("a strict type must refuse a bad payload, got {other:?}"),
    }
    h.services.publish(&admin(), event("vaccine.due", json!({"patientId": "p", "dose": 2})), None).await.unwrap();
    let bad_schema: domain::webhooks::EventType = serde_json::from_value(json!({
        "name": "vaccine.given", "description": "", "strict": true, "builtin": false,
        "schema": {"type": "not-a-type"}, "example": {}
    }))
    .unwrap();
    assert!(matches!(h.services.register_event_type(&admin(), bad_schema).await, Err(Error::Validation(_))));

    let big = "x".repeat(300 * 1024);
    assert!(matches!(
        h.services.publish(&admin(), event("client.created", json!({"blob": big})), None).await,
        Err(Error::TooLarge(_))
    ));
    h.shutdown().await;
}

async fn gone_disables_and_notifies_and_filters_select_events(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let gone = Receiver::start(vec![Reply::Status(410)]).await;
    let w = h.services.create_webhook(&admin(), input("Gone", &gone.url, &["invoice.overdue"])).await.unwrap();
    h.services.publish(&admin(), event("invoice.overdue", json!({"id": "i"})), None).await.unwrap();
    gone.wait_for_hits(1, Duration::from_secs(10)).await;
    let s = h.services.clone();
    let wid = w.id.clone();
    assert!(
        eventually(Duration::from_secs(5), || {
            let (s, w) = (s.clone(), wid.clone());
            async move {
                let w = s.get_webhook(&admin(), &w).await.unwrap();
                !w.active && w.status == "disabled"
            }
        })
        .await,
        "{}",
        db.name
    );
    let notes: i64 = domain::store::with_pool!(&h.services.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM notifications").fetch_one(pool).await).unwrap();
    assert_eq!(notes, 1);

    let clinic = Receiver::start(vec![]).await;
    let mut inp = input("Clinic 1 only", &clinic.url, &["appointment.created"]);
    inp.filter = Some(Some(
        serde_json::from_value(json!({"conditions": [{"field": "clinicId", "operator": "equals", "value": "c1"}]}))
            .unwrap(),
    ));
    h.services.create_webhook(&admin(), inp).await.unwrap();
    assert_eq!(
        h.services
            .publish(&admin(), event("appointment.created", json!({"id": "a", "clinicId": "c2"})), None)
            .await
            .unwrap()
            .deliveries,
        0
    );
    assert_eq!(
        h.services
            .publish(&admin(), event("appointment.created", json!({"id": "b", "clinicId": "c1"})), None)
            .await
            .unwrap()
            .deliveries,
        1
    );
    h.shutdown().await;
}

async fn test_send_manual_retry_recover_and_secret_rotation(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![Reply::Body(500, "x".repeat(100 * 1024))]).await;
    let mut inp = input("Ops", &rx.url, &["lab_test.completed"]);
    inp.retry_policy = Some(Some(serde_json::from_value(json!({"maxAttempts": 1})).unwrap()));
    let w = h.services.create_webhook(&admin(), inp).await.unwrap();

    let t = h.services.test_webhook(&admin(), &w.id).await.unwrap();
    assert!(!t.success);
    assert_eq!(t.status_code, Some(500));
    let body = t.response_body.unwrap();
    assert!(body.len() <= 64 * 1024 + 20 && body.ends_with("[truncated]"), "response bodies are capped");
    let failed = h.services.get_delivery(&admin(), &t.delivery_id).await.unwrap();
    assert_eq!(failed.status, "failed");

    let retried = h.services.retry_delivery(&admin(), &t.delivery_id).await.unwrap();
    assert_eq!(retried.status, "pending");
    let s = h.services.clone();
    let did = t.delivery_id.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (s, d) = (s.clone(), did.clone());
            async move { s.get_delivery(&admin(), &d).await.unwrap().status == "succeeded" }
        })
        .await,
        "{}",
        db.name
    );
    let hits = rx.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].header("webhook-id"), hits[1].header("webhook-id"));

    // Rotation: both signatures are sent while the old secret overlaps.
    let old = w.secret.unwrap();
    let rotated = h.services.regenerate_secret(&admin(), &w.id, false).await.unwrap();
    let new = rotated.secret.unwrap();
    assert_ne!(old, new);
    assert!(rotated.previous_secret_expires_at.is_some());
    let t2 = h.services.test_webhook(&admin(), &w.id).await.unwrap();
    assert!(t2.success);
    let hit = rx.hits().pop().unwrap();
    let sig = hit.header("webhook-signature");
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    let now = chrono::Utc::now().timestamp();
    for secret in [&old, &new] {
        domain::signature::verify(
            secret,
            &hit.header("webhook-id"),
            &hit.header("webhook-timestamp"),
            &sig,
            hit.body.as_bytes(),
            now,
            300,
        )
        .unwrap();
    }
    let revoked = h.services.regenerate_secret(&admin(), &w.id, true).await.unwrap();
    assert!(revoked.previous_secret_expires_at.is_none());

    // Recover re-queues failures since a time.
    let dead = Receiver::start(vec![Reply::Status(500), Reply::Status(500)]).await;
    let mut inp = input("Dead", &dead.url, &["prescription.created"]);
    inp.retry_policy = Some(Some(serde_json::from_value(json!({"maxAttempts": 1})).unwrap()));
    let d = h.services.create_webhook(&admin(), inp).await.unwrap();
    for i in 0..2 {
        h.services
            .publish(&admin(), event("prescription.created", json!({"id": format!("rx{i}")})), None)
            .await
            .unwrap();
    }
    let s2 = h.services.clone();
    let dwid = d.id.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (s, w) = (s2.clone(), dwid.clone());
            async move { s.webhook_stats(&admin(), &w).await.unwrap().failed == 2 }
        })
        .await
    );
    assert_eq!(h.services.recover(&admin(), &d.id, 0).await.unwrap(), 2);
    assert!(
        eventually(Duration::from_secs(10), || {
            let (s, w) = (s2.clone(), dwid.clone());
            async move { s.webhook_stats(&admin(), &w).await.unwrap().succeeded == 2 }
        })
        .await
    );
    h.shutdown().await;
}

async fn delivery_history_pages_by_cursor_in_the_same_order_as_by_page(db: TestDb) {
    // A stopped clock: every delivery has the same created_at, so the id must break ties.
    let clock = ManualClock::new(1_800_000_000_000);
    let h = Harness::new(&db, test_settings(), Some(Arc::new(clock.clone()))).await;
    let rx = Receiver::start(vec![]).await;
    let w = h.services.create_webhook(&admin(), input("Paged", &rx.url, &["invoice.paid"])).await.unwrap();
    for n in 0..25 {
        h.services.publish(&admin(), event("invoice.paid", json!({"n": n})), None).await.unwrap();
        if n == 12 {
            clock.advance(1);
        }
    }
    let q =
        |page: Option<u32>, cursor: Option<String>| ListQuery { page, limit: Some(10), cursor, ..ListQuery::default() };
    let mut by_page = Vec::new();
    for p in 1..=3 {
        by_page.extend(h.services.list_deliveries(&admin(), Some(&w.id), &q(Some(p), None)).await.unwrap().data);
    }
    let mut by_cursor = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = h.services.list_deliveries(&admin(), Some(&w.id), &q(None, cursor.clone())).await.unwrap();
        assert_eq!(page.total, 25);
        by_cursor.extend(page.data);
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3, "{}", db.name);
    let ids = |v: &[domain::webhooks::Delivery]| v.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&by_cursor), ids(&by_page), "{}", db.name);
    let mut unique = ids(&by_cursor);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 25);
    assert!(by_cursor[0].created_at > by_cursor[24].created_at, "newest first");

    match h.services.list_deliveries(&admin(), Some(&w.id), &q(None, Some("garbage".into()))).await {
        Err(Error::Validation(fields)) => assert_eq!(fields[0].field, "cursor"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_webhook_gets_its_deliveries_spread_out() {
    let db = TestDb::sqlite().await;
    let h = Harness::new(&db, test_settings(), None).await;
    let rx = Receiver::start(vec![]).await;
    let mut inp = input("Slow down", &rx.url, &["invoice.paid"]);
    inp.rate_limit = Some(Some(5));
    h.services.create_webhook(&admin(), inp).await.unwrap();
    // Before the first delivery can take from the bucket.
    let began = std::time::Instant::now();
    for n in 0..15 {
        h.services.publish(&admin(), event("invoice.paid", json!({"n": n})), None).await.unwrap();
    }
    let hits = rx.wait_for_hits(15, Duration::from_secs(15)).await;
    assert_eq!(hits.len(), 15, "every delivery arrives, only later");
    // A bucket of 5 that refills 5 a second: the last 10 need 2 s of refills after
    // the first take (measured from before it, not from the first arrival, which a
    // slow moment can delay).
    let span = hits[14].at.duration_since(began);
    assert!(span >= Duration::from_millis(1_900), "15 deliveries at 5/s took only {span:?}");
    let mut ids: Vec<String> = hits.iter().map(|h| h.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 15, "deferred, not duplicated");
    h.shutdown().await;
    db.cleanup().await;
}

domain::per_backend!(
    signed_delivery_reaches_a_verifying_receiver,
    a_500_then_200_delivers_once_more_with_the_same_webhook_id,
    a_hanging_receiver_does_not_delay_a_healthy_one,
    deliveries_waiting_at_the_gate_are_given_back_at_shutdown,
    ingest_is_idempotent_and_validates,
    gone_disables_and_notifies_and_filters_select_events,
    test_send_manual_retry_recover_and_secret_rotation,
    delivery_history_pages_by_cursor_in_the_same_order_as_by_page,
);
