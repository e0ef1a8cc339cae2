//! Outcomes that nothing can wedge, fenced by their leases, one test per
//! database: hostile receivers beside a healthy one, an outcome that lost its
//! lease, a retry of a delivery in flight, an edit racing an auto-disable.

mod common;

use std::time::Duration;

use common::{admin, eventually, staff, test_settings, Harness, Receiver, Reply};
use domain::delivery::attempt::Completion;
use domain::delivery::outcome::Decision;
use domain::delivery::sender::AttemptResult;
use domain::due::{kinds, store::ClaimRequest};
use domain::testing::TestDb;
use domain::webhooks::{ListQuery, PublishInput, WebhookInput};
use domain::{Error, Services};
use serde_json::json;

fn input(name: &str, url: &str, events: &[&str], max_attempts: u32) -> WebhookInput {
    serde_json::from_value(
        json!({"name": name, "url": url, "events": events, "retryPolicy": {"maxAttempts": max_attempts}}),
    )
    .unwrap()
}

fn event(n: usize) -> PublishInput {
    serde_json::from_value(json!({"type": "invoice.paid", "data": {"n": n}})).unwrap()
}

async fn statuses(s: &Services, webhook_id: &str) -> Vec<String> {
    let q = ListQuery { limit: Some(100), ..ListQuery::default() };
    s.list_deliveries(&admin(), Some(webhook_id), &q).await.unwrap().data.into_iter().map(|d| d.status).collect()
}

async fn hostile_responses_are_recorded_and_never_wedge_the_others(db: TestDb) {
    let h = Harness::new(&db, test_settings(), None).await;
    let hostile = Receiver::start(vec![
        Reply::Bytes(500, b"nul\0byte".to_vec()),
        Reply::Bytes(500, vec![b'o', b'k', 0xff, 0xfe]),
        Reply::Bytes(500, vec![b'a'; 10 * 1024 * 1024]),
        Reply::ManyHeaders(500),
    ])
    .await;
    let healthy = Receiver::start(vec![]).await;
    let bad = h.services.create_webhook(&admin(), input("Hostile", &hostile.url, &["invoice.paid"], 1)).await.unwrap();
    let good = h.services.create_webhook(&admin(), input("Healthy", &healthy.url, &["invoice.paid"], 1)).await.unwrap();
    for n in 0..4 {
        h.services.publish(&admin(), event(n), None).await.unwrap();
    }
    let s = h.services.clone();
    let bad_id = bad.id.clone();
    assert!(
        eventually(Duration::from_secs(20), || {
            let (s, w) = (s.clone(), bad_id.clone());
            async move { statuses(&s, &w).await.iter().filter(|st| *st != "pending").count() == 4 }
        })
        .await,
        "{}: every hostile answer was recorded: {:?}",
        db.name,
        statuses(&h.services, &bad.id).await
    );
    let q = ListQuery { limit: Some(10), ..ListQuery::default() };
    let mut bodies = Vec::new();
    for d in h.services.list_deliveries(&admin(), Some(&bad.id), &q).await.unwrap().data {
        let attempt = h.services.get_delivery(&admin(), &d.id).await.unwrap().attempts.unwrap().remove(0);
        bodies.push((attempt.response_body.unwrap_or_default(), attempt.response_body_lossy, attempt.error_class));
    }
    assert!(bodies.iter().any(|(b, lossy, _)| b == "nul\u{FFFD}byte" && *lossy), "{}: NUL stored safely", db.name);
    assert!(bodies.iter().any(|(b, lossy, _)| b == "ok\u{FFFD}\u{FFFD}" && *lossy), "invalid UTF-8 replaced");
    assert!(
        bodies.iter().any(|(b, lossy, _)| b.ends_with("[truncated]") && b.len() <= 64 * 1024 + 20 && !*lossy),
        "a 10 MB body is capped"
    );
    assert!(bodies.iter().all(|(_, _, class)| class.is_some()), "each failure is classified: {bodies:?}");

    // The healthy endpoint got everything, and still does.
    for n in 4..24 {
        h.services.publish(&admin(), event(n), None).await.unwrap();
    }
    assert_eq!(healthy.wait_for_hits(24, Duration::from_secs(10)).await.len(), 24, "{}", db.name);
    let good_id = good.id.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (s, w) = (s.clone(), good_id.clone());
            async move { statuses(&s, &w).await.iter().all(|st| st == "succeeded") }
        })
        .await
    );
    let s2 = h.services.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let s = s2.clone();
            async move { s.db.due_count(kinds::DELIVERY).await.unwrap() == 0 }
        })
        .await,
        "{}: nothing is left stuck in the queue",
        db.name
    );
    h.shutdown().await;
}

/// Services with no runner: the test plays the workers.
async fn bare(db: &TestDb) -> Services {
    let s = db.services().await.unwrap();
    s.seed_event_types().await.unwrap();
    Services::with_settings(s.db.clone(), s.master_key.clone(), test_settings(), common::loopback_allowed())
}

/// Claims up to `limit` due deliveries for `owner` as if at `at`, with a one-second lease.
async fn claim(s: &Services, owner: &'static str, at: i64, limit: i64) -> Vec<domain::due::Claimed> {
    s.db.claim_due(&ClaimRequest {
        kind: kinds::DELIVERY,
        owner,
        now: at,
        lease_ms: 1_000,
        limit,
        skip_partitions: &[],
    })
    .await
    .unwrap()
}

fn attempted(
    lease: domain::due::Lease,
    delivery_id: &str,
    webhook_id: &str,
    code: u16,
    decision: Decision,
) -> Completion {
    Completion::Attempted {
        lease,
        delivery_id: delivery_id.into(),
        webhook_id: webhook_id.into(),
        attempt: 1,
        result: Box::new(AttemptResult {
            started_at: 0,
            duration_ms: 1,
            status_code: Some(code),
            response_body: Some(String::new()),
            response_body_lossy: false,
            error_class: None,
            error_message: None,
            request_headers: json!({}),
            retry_after_ms: None,
        }),
        decision,
        webhook_name: "w".into(),
    }
}

async fn an_outcome_whose_lease_was_lost_writes_nothing(db: TestDb) {
    let s = bare(&db).await;
    let w = s.create_webhook(&admin(), input("Fenced", "http://127.0.0.1:9/x", &["invoice.paid"], 5)).await.unwrap();
    s.publish(&admin(), event(1), None).await.unwrap();
    let now = s.now_ms();
    let slow = claim(&s, "w1", now, 1).await.remove(0);
    // w1's lease runs out while it is still sending; w2 claims and succeeds.
    let fast = claim(&s, "w2", now + 1_000, 1).await.remove(0);
    let ok = domain::delivery::record::write(
        &s.db,
        "w2",
        &[attempted(fast.lease(), &fast.subject_id, &w.id, 200, Decision::Succeeded)],
        now,
        i64::MAX,
    )
    .await;
    assert!(ok.is_ok(), "{}", db.name);
    // w1's late outcome, a failure, must not overwrite the success.
    domain::delivery::record::write(
        &s.db,
        "w1",
        &[attempted(slow.lease(), &slow.subject_id, &w.id, 500, Decision::Failed { disable: None })],
        now,
        i64::MAX,
    )
    .await
    .unwrap();
    let d = s.get_delivery(&admin(), &slow.subject_id).await.unwrap();
    assert_eq!((d.status.as_str(), d.status_code), ("succeeded", Some(200)), "{}", db.name);
    assert_eq!(d.attempts.unwrap().len(), 1, "the fenced-out attempt left no row");
    assert!(s.get_webhook(&admin(), &w.id).await.unwrap().failing_since.is_none(), "nor touched the webhook's health");
}

async fn a_stale_and_a_current_outcome_in_one_batch_write_one_attempt(db: TestDb) {
    let s = bare(&db).await;
    let w = s.create_webhook(&admin(), input("Twice", "http://127.0.0.1:9/x", &["invoice.paid"], 5)).await.unwrap();
    s.publish(&admin(), event(1), None).await.unwrap();
    let now = s.now_ms();
    let owner = "w1";
    // The same process claimed it twice (its first lease ran out); both outcomes arrive together, stale first.
    let first = claim(&s, owner, now, 1).await.remove(0);
    let second = claim(&s, owner, now + 1_000, 1).await.remove(0);
    let batch = [
        attempted(first.lease(), &first.subject_id, &w.id, 500, Decision::Failed { disable: None }),
        attempted(second.lease(), &second.subject_id, &w.id, 200, Decision::Succeeded),
    ];
    domain::delivery::record::write(&s.db, owner, &batch, now, i64::MAX).await.unwrap();
    let d = s.get_delivery(&admin(), &first.subject_id).await.unwrap();
    assert_eq!((d.status.as_str(), d.attempts.unwrap().len()), ("succeeded", 1), "{}", db.name);
    assert!(s.db.due_row(kinds::DELIVERY, &first.subject_id).await.unwrap().is_none(), "the current lease finished it");
}

/// Successes whose leases were lost write nothing (not even the webhook's
/// health), also in one batch with a success whose lease holds.
async fn late_successes_write_nothing_beside_held_ones(db: TestDb) {
    let s = bare(&db).await;
    let w = s.create_webhook(&admin(), input("Late", "http://127.0.0.1:9/x", &["invoice.paid"], 5)).await.unwrap();
    s.publish(&admin(), event(1), None).await.unwrap();
    s.publish(&admin(), event(2), None).await.unwrap();
    let now = s.now_ms();
    let w1 = claim(&s, "w1", now, 2).await;
    assert_eq!(w1.len(), 2);
    // w1's leases run out; w2 takes one of the two rows and is still sending.
    let taken = claim(&s, "w2", now + 1_000, 1).await.remove(0);
    let kept = w1.iter().find(|c| c.subject_id != taken.subject_id).unwrap();
    let lost = w1.iter().find(|c| c.subject_id == taken.subject_id).unwrap();
    // Only the lost one reports first: nothing of it is written, not even the webhook's health.
    let only_lost = [attempted(lost.lease(), &lost.subject_id, &w.id, 200, Decision::Succeeded)];
    domain::delivery::record::write(&s.db, "w1", &only_lost, now, i64::MAX).await.unwrap();
    let lost_delivery = s.get_delivery(&admin(), &lost.subject_id).await.unwrap();
    assert_eq!((lost_delivery.status.as_str(), lost_delivery.attempts.unwrap().len()), ("pending", 0), "{}", db.name);
    assert!(s.get_webhook(&admin(), &w.id).await.unwrap().last_success_at.is_none(), "{}", db.name);
    // Both in one batch: the held one is written and finished, the lost one still is not.
    let both = [
        attempted(kept.lease(), &kept.subject_id, &w.id, 200, Decision::Succeeded),
        attempted(lost.lease(), &lost.subject_id, &w.id, 200, Decision::Succeeded),
    ];
    domain::delivery::record::write(&s.db, "w1", &both, now, i64::MAX).await.unwrap();
    let k = s.get_delivery(&admin(), &kept.subject_id).await.unwrap();
    assert_eq!((k.status.as_str(), k.attempts.unwrap().len()), ("succeeded", 1), "{}", db.name);
    assert!(s.db.due_row(kinds::DELIVERY, &kept.subject_id).await.unwrap().is_none(), "{}", db.name);
    let l = s.get_delivery(&admin(), &lost.subject_id).await.unwrap();
    assert_eq!((l.status.as_str(), l.attempts.unwrap().len()), ("pending", 0), "{}", db.name);
    let row = s.db.due_row(kinds::DELIVERY, &lost.subject_id).await.unwrap().expect("w2's row stays");
    assert_eq!((row.lease_owner.as_deref(), row.fence), (Some("w2"), taken.lease().fence), "{}", db.name);
    assert!(s.get_webhook(&admin(), &w.id).await.unwrap().last_success_at.is_some(), "{}", db.name);
}

async fn a_retry_of_a_delivery_in_flight_is_refused(db: TestDb) {
    let s = bare(&db).await;
    let w = s.create_webhook(&admin(), input("Busy", "http://127.0.0.1:9/x", &["invoice.paid"], 5)).await.unwrap();
    s.publish(&admin(), event(1), None).await.unwrap();
    let now = s.now_ms();
    let c =
        s.db.claim_due(&ClaimRequest {
            kind: kinds::DELIVERY,
            owner: "w1",
            now,
            lease_ms: 60_000,
            limit: 1,
            skip_partitions: &[],
        })
        .await
        .unwrap()
        .remove(0);
    match s.retry_delivery(&staff(), &c.subject_id).await {
        Err(Error::Conflict(m)) => assert!(m.contains("being sent"), "{m}"),
        other => panic!("{}: a retry while it is in flight must be refused, got {other:?}", db.name),
    }
    let row = s.db.due_row(kinds::DELIVERY, &c.subject_id).await.unwrap().unwrap();
    assert_eq!((row.fence, row.lease_owner.as_deref()), (c.fence, Some("w1")), "the lease is untouched");
    let _ = w;
}

async fn an_edit_never_undoes_an_automatic_disable(db: TestDb) {
    let s = bare(&db).await;
    let w = s.create_webhook(&admin(), input("Racing", "http://127.0.0.1:9/x", &["invoice.paid"], 5)).await.unwrap();
    let stale = s.db.webhook(&w.id).await.unwrap().unwrap();
    // The worker disables it between the editor's read and write.
    let mut tx = s.db.begin().await.unwrap();
    let health = domain::webhooks::store::HealthUpdate { any_success: false, any_failure: true, last_succeeded: false };
    domain::webhooks::store::record_health(&mut tx, &w.id, health, 1).await.unwrap();
    assert!(domain::webhooks::store::auto_disable(&mut tx, &w.id, 10, 20).await.unwrap());
    tx.commit().await.unwrap();
    let renamed = domain::webhooks::store::WebhookRow { name: "Renamed".into(), ..stale };
    s.db.update_webhook(&renamed, &["invoice.paid".to_string()], None).await.unwrap();
    let after = s.get_webhook(&admin(), &w.id).await.unwrap();
    assert_eq!(
        (after.name.as_str(), after.active, after.status.as_str()),
        ("Renamed", false, "auto_disabled"),
        "{}",
        db.name
    );
    // Re-enabling by a person does clear the streak.
    let on = WebhookInput { active: Some(true), ..WebhookInput::default() };
    let back = s.update_webhook(&admin(), &w.id, on).await.unwrap();
    assert_eq!((back.active, back.status.as_str(), back.failing_since), (true, "active", None));
}

async fn staff_may_read_test_and_retry_but_not_change_webhooks(db: TestDb) {
    let s = bare(&db).await;
    let w = s.create_webhook(&admin(), input("Roles", "http://127.0.0.1:9/x", &["invoice.paid"], 1)).await.unwrap();
    let seen = s.get_webhook(&staff(), &w.id).await.unwrap();
    assert!(seen.secret.is_none(), "{}: staff never see the secret", db.name);
    assert!(s.get_webhook(&admin(), &w.id).await.unwrap().secret.is_some());
    let refused = [
        s.create_webhook(&staff(), input("x", "http://127.0.0.1:9/x", &["invoice.paid"], 1)).await.err(),
        s.update_webhook(&staff(), &w.id, WebhookInput { name: Some("x".into()), ..WebhookInput::default() })
            .await
            .err(),
        s.regenerate_secret(&staff(), &w.id, false).await.err(),
        s.delete_webhook(&staff(), &w.id).await.err(),
        s.recover(&staff(), &w.id, 0).await.err(),
    ];
    assert!(refused.iter().all(|e| matches!(e, Some(Error::Forbidden(_)))), "{refused:?}");
    // A staff caller is refused before its input is looked at: 403, not 422.
    let invalid = WebhookInput { url: Some("not a url".into()), ..WebhookInput::default() };
    assert!(matches!(s.update_webhook(&staff(), &w.id, invalid).await, Err(Error::Forbidden(_))));
    assert_eq!(s.get_webhook(&admin(), &w.id).await.unwrap().name, "Roles", "nothing changed");
}

domain::per_backend!(
    hostile_responses_are_recorded_and_never_wedge_the_others,
    an_outcome_whose_lease_was_lost_writes_nothing,
    a_stale_and_a_current_outcome_in_one_batch_write_one_attempt,
    late_successes_write_nothing_beside_held_ones,
    a_retry_of_a_delivery_in_flight_is_refused,
    an_edit_never_undoes_an_automatic_disable,
    staff_may_read_test_and_retry_but_not_change_webhooks,
);
