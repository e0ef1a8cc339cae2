//! A template's activity: its runs per day (the practice's) by outcome, every day of the
//! period present (zeros included), and its success rate of runs that ended.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{admin, eventually, test_settings, Harness};
use domain::clock::ManualClock;
use domain::store::with_pool;
use domain::testing::TestDb;
use domain::workflows::{ExecuteInput, TemplateInput};
use serde_json::json;

/// 2026-03-02T09:00:00Z.
const T0: i64 = 1_772_442_000_000;
const DAY: i64 = 86_400_000;

async fn runs_are_counted_per_day_by_outcome(db: TestDb) {
    let clock = ManualClock::new(T0);
    let h = Harness::new(&db, test_settings(), Some(Arc::new(clock.clone()))).await;
    let s = &h.services;
    let t: TemplateInput = serde_json::from_value(json!({"name": "Sometimes fails", "triggerType": "manual", "actions": [
        {"id": "check", "type": "condition", "config": {"logic": "AND",
            "conditions": [{"field": "trigger.fail", "operator": "equals", "value": true}],
            "then": [{"id": "bad", "type": "send_email", "config": {"to": "{{ nobody.email }}", "subject": "x", "body": "y"}}],
            "else": [{"id": "ok", "type": "send_notification", "config": {"title": "fine", "message": "fine"}}]}}]}))
    .unwrap();
    let id = s.create_template(&admin(), t).await.unwrap().id;
    let run = |fail: bool| {
        let id = id.clone();
        async move { s.execute_template(&admin(), &id, ExecuteInput { trigger_data: json!({"fail": fail}) }).await.unwrap() }
    };
    run(false).await;
    run(false).await;
    run(true).await;
    clock.advance(2 * DAY);
    run(false).await;
    let ended = || async {
        with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM workflow_executions WHERE status IN ('completed', 'failed')").fetch_one(pool).await)
        .unwrap()
            == 4
    };
    assert!(eventually(Duration::from_secs(10), ended).await, "{}: all four runs end", db.name);

    let a = s.template_activity(&admin(), &id, 14).await.unwrap();
    assert_eq!(a.days.len(), 14, "{}: every day of the period", db.name);
    let today = a.days.last().unwrap();
    assert_eq!(today.day, "2026-03-04");
    assert_eq!((today.completed, today.failed, today.other), (1, 0, 0));
    let first = &a.days[11];
    assert_eq!(first.day, "2026-03-02");
    assert_eq!((first.completed, first.failed, first.other), (2, 1, 0));
    assert_eq!(a.days.iter().map(|d| d.completed + d.failed + d.other).sum::<i64>(), 4);
    let stats = a.stats.expect("the template has stats");
    assert_eq!((stats.total, stats.completed, stats.failed), (4, 3, 1));
    assert_eq!(stats.success_rate, Some(75.0));
    assert!(s.template_activity(&admin(), "tpl_missing", 14).await.is_err(), "an unknown template is 404");
    h.shutdown().await;
}

/// Days are the practice's: in Sydney (UTC+11 in March) a run at 13:00 UTC
/// on 2 March is past midnight on 3 March.
async fn days_are_the_practices_days(db: TestDb) {
    let clock = ManualClock::new(T0);
    let mut settings = test_settings();
    settings.timezone = domain::settings::parse_timezone("Australia/Sydney").unwrap();
    let h = Harness::new(&db, settings, Some(Arc::new(clock.clone()))).await;
    let s = &h.services;
    let t: TemplateInput = serde_json::from_value(json!({"name": "Nightly", "triggerType": "manual", "actions": [
        {"id": "n", "type": "send_notification", "config": {"title": "hi", "message": "hi"}}]}))
    .unwrap();
    let id = s.create_template(&admin(), t).await.unwrap().id;
    let run = || {
        let id = id.clone();
        async move { s.execute_template(&admin(), &id, ExecuteInput { trigger_data: json!({}) }).await.unwrap() }
    };
    run().await; // 20:00 on 2 March in Sydney
    clock.advance(4 * 3_600_000);
    run().await; // 00:00 on 3 March in Sydney
    let ended = || async {
        with_pool!(&s.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM workflow_executions WHERE status = 'completed'").fetch_one(pool).await)
        .unwrap()
            == 2
    };
    assert!(eventually(Duration::from_secs(10), ended).await, "{}: both runs end", db.name);
    let a = s.template_activity(&admin(), &id, 7).await.unwrap();
    let days: Vec<(&str, i64)> = a.days.iter().map(|d| (d.day.as_str(), d.completed)).collect();
    assert_eq!(&days[5..], &[("2026-03-02", 1), ("2026-03-03", 1)], "{}", db.name);
    h.shutdown().await;
}

domain::per_backend!(runs_are_counted_per_day_by_outcome, days_are_the_practices_days);
