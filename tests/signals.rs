//! Two instances on one PostgreSQL database, sharing signals through the
//! Redis at 127.0.0.1:6379 (`PURPLE_CROSS_TEST_REDIS` overrides): due work
//! committed by one wakes the other's worker at once, and a webhook changed
//! on one is seen by the other's cache at once, not after its TTL; and rate
//! limits count deliveries from every instance together.

mod common;

use std::time::{Duration, Instant};

use common::{admin, loopback_allowed, test_settings, Harness, Receiver};
use domain::testing::TestDb;
use domain::webhooks::PublishInput;
use domain::webhooks::WebhookInput;
use domain::Services;
use serde_json::json;

fn redis_url() -> String {
    std::env::var("PURPLE_CROSS_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn input(name: &str, url: &str) -> WebhookInput {
    serde_json::from_value(json!({"name": name, "url": url, "events": ["invoice.paid"]})).unwrap()
}

fn event() -> PublishInput {
    serde_json::from_value(json!({"type": "invoice.paid", "data": {"id": "inv"}})).unwrap()
}

#[tokio::test]
async fn instances_wake_each_other_and_drop_stale_webhooks_through_redis() {
    let db = TestDb::postgres().await;
    // Instance B runs the worker; left alone it would sleep a minute between polls.
    let mut slow_poll = test_settings();
    slow_poll.worker.idle_poll_ms = 60_000;
    let b = Harness::new(&db, slow_poll, None).await;
    // Instance A only serves the API: no worker, so nothing it accepts is sent by A.
    // Instances share the database and the master key.
    let a = Services::with_settings(
        b.services.db.clone(),
        b.services.master_key.clone(),
        test_settings(),
        loopback_allowed(),
    );
    domain::signals::connect(&a, &redis_url()).await.expect("Redis runs on 127.0.0.1:6379");
    domain::signals::connect(&b.services, &redis_url()).await.unwrap();

    // B caches "nobody subscribes to invoice.paid"…
    assert_eq!(
        b.services
            .webhook_cache
            .subscribers(&b.services.db, &b.services.master_key, "invoice.paid")
            .await
            .unwrap()
            .len(),
        0
    );
    let cleared_before = b.services.webhook_cache.generation();
    // …then A adds a subscriber: B's cache is cleared by A's signal (B itself
    // changes no webhook, so nothing else clears it), not left to its 1 s TTL.
    let rx = Receiver::start(vec![]).await;
    a.create_webhook(&admin(), input("Shared", &rx.url)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.services.webhook_cache.generation() == cleared_before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(b.services.webhook_cache.generation() > cleared_before, "B's webhook cache was cleared by A's signal");
    let seen = b
        .services
        .webhook_cache
        .subscribers(&b.services.db, &b.services.master_key, "invoice.paid")
        .await
        .unwrap()
        .len();
    assert_eq!(seen, 1, "B sees the new webhook once its cache was cleared");

    // Let B's worker fall into its long idle sleep, then publish on A.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published = Instant::now();
    assert_eq!(a.publish(&admin(), event(), None).await.unwrap().deliveries, 1);
    let hits = rx.wait_for_hits(1, Duration::from_secs(10)).await;
    assert_eq!(hits.len(), 1);
    assert!(
        published.elapsed() < Duration::from_secs(5),
        "B's worker was woken by A's signal ({:?}), not by its 60 s poll",
        published.elapsed()
    );
    // A browser's live view on B hears of an event accepted on A (one nobody
    // subscribes to, so B itself does nothing that would tell it).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut live_on_b = b.services.changes.subscribe();
    live_on_b.borrow_and_update();
    let unsubscribed = serde_json::from_value(json!({"type": "patient.created", "data": {"id": "pat"}})).unwrap();
    assert_eq!(a.publish(&admin(), unsubscribed, None).await.unwrap().deliveries, 0);
    let heard = tokio::time::timeout(Duration::from_secs(10), live_on_b.changed()).await;
    assert!(matches!(heard, Ok(Ok(()))), "B's live views were told of A's event");
    b.shutdown().await;
    a.db.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn rate_limits_count_across_instances_in_redis() {
    let db = TestDb::sqlite().await;
    let base = db.services().await.unwrap();
    let a = Services::with_settings(base.db.clone(), base.master_key.clone(), test_settings(), loopback_allowed());
    let b = Services::with_settings(base.db.clone(), base.master_key.clone(), test_settings(), loopback_allowed());
    domain::signals::connect(&a, &redis_url()).await.expect("Redis runs on 127.0.0.1:6379");
    domain::signals::connect(&b, &redis_url()).await.unwrap();

    // A webhook limited to 3 deliveries a second, asked for alternately by two
    // instances within one second: three go in all, not three each.
    let webhook = domain::ids::new_id("wh");
    let now = 1_800_000_000_250;
    let mut allowed = 0;
    for i in 0..8 {
        let instance = if i % 2 == 0 { &a } else { &b };
        match instance.rate_limits.take(&webhook, 3, now).await {
            None => allowed += 1,
            Some(wait) => assert_eq!(wait, Duration::from_millis(750), "until the next second"),
        }
    }
    assert_eq!(allowed, 3);
    // The next second starts a new count.
    assert_eq!(b.rate_limits.take(&webhook, 3, now + 1_000).await, None);
    db.cleanup().await;
}
