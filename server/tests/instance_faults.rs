//! Faults under several instances of the real binary on PostgreSQL and Redis:
//! PostgreSQL crashes and comes back mid-run; the worker, then the API
//! instance of an `api` + `worker` split are SIGKILLed mid-run; a cron
//! schedule ticks over three instances while one is killed. Nothing accepted
//! is lost, a repeat only ever carries the same `webhook-id`, no attempt
//! number is used twice, and each tick runs once. `PURPLE_CROSS_SOAK=1` runs
//! the long versions: 10,000 events, and a dozen kills under the schedule.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use domain::testing::{TempDir, TestDb};
use support::{
    admin_key, assert_clean_history, assert_each_got_all_once, port, publish_until_accepted, ready, receiver,
    shared_redis, subscribe, wait_delivered, Instance, PrivatePostgres,
};

const READY: Duration = Duration::from_secs(60);

fn events() -> usize {
    if support::soak() {
        10_000
    } else {
        600
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashing_mid_run_loses_nothing_accepted() {
    let events = events();
    let pg = PrivatePostgres::start();
    let url = pg.url();
    let data = TempDir::new("pg-crash");
    let key = admin_key(&url, &data, "pg-crash");
    let redis = shared_redis();
    let a = Instance::spawn(&url, &data, port(), "all", &redis);
    let b = Instance::spawn(&url, &data, port(), "all", &redis);
    let c = Instance::spawn(&url, &data, port(), "worker", &redis);
    for i in [&a, &b, &c] {
        ready(&i.base, READY).await;
    }
    let http = reqwest::Client::new();
    let (hook, seen) = receiver(Duration::from_millis(10)).await;
    subscribe(&http, &a.base, &key, "r", &hook).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // B's webhook cache

    let via = vec![a.base.clone(), b.base.clone()];
    let publisher = {
        let (http, key) = (http.clone(), key.clone());
        tokio::spawn(async move {
            let mut retried = 0;
            for n in 0..events {
                retried += publish_until_accepted(&http, &via, &key, n).await - 1;
            }
            retried
        })
    };
    let receivers = [seen];
    let at_crash = wait_delivered(&receivers, events / 4, Duration::from_secs(60)).await;
    assert!(at_crash < events, "the crash came too late to prove anything");
    pg.crash();
    let down = Instant::now();
    // Longer than the pools' 10 s acquire timeout: the publish in flight fails and is sent again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (readiness, probe) = tokio::join!(
        http.get(format!("{}/readyz", a.base)).timeout(Duration::from_secs(15)).send(),
        http.post(format!("{}/api/v1/events", b.base))
            .bearer_auth(&key)
            .timeout(Duration::from_secs(15))
            .json(&serde_json::json!({"type": "invoice.paid", "data": {"n": 999_999}}))
            .send()
    );
    assert_eq!(readiness.unwrap().status(), 503, "not ready while its database is away");
    let probe = probe.unwrap();
    assert_eq!(probe.status(), 503, "a publish while the database is away is refused, to be sent again");
    assert_eq!(probe.headers()["retry-after"], "1");
    assert_eq!(probe.headers()["content-type"], "application/problem+json");
    tokio::time::sleep(Duration::from_secs(12).saturating_sub(down.elapsed())).await;
    pg.up();
    println!("PostgreSQL down {:?}, crashed with {at_crash} of {events} delivered", down.elapsed());
    let retried = publisher.await.expect("every event was accepted in the end");
    println!("{retried} publishes were sent again with their idempotency key");

    let delivered = wait_delivered(&receivers, events, Duration::from_secs(300)).await;
    assert_eq!(delivered, events, "every accepted event was delivered");
    assert_each_got_all_once(&receivers, events);
    assert_clean_history(&url, events as i64).await;
    for i in [&a, &b, &c] {
        ready(&i.base, Duration::from_secs(5)).await;
    }
    drop((a, b, c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_and_worker_split_loses_nothing_when_either_is_killed() {
    let events = events();
    let db = TestDb::postgres().await;
    let data = TempDir::new("split");
    let key = admin_key(&db.url, &data, "split");
    let redis = shared_redis();
    let (api_port, worker_port) = (port(), port());
    let api = Instance::spawn(&db.url, &data, api_port, "api", &redis);
    let worker = Instance::spawn(&db.url, &data, worker_port, "worker", &redis);
    ready(&api.base, READY).await;
    ready(&worker.base, READY).await;
    let http = reqwest::Client::new();
    let (hook, seen) = receiver(Duration::from_millis(10)).await;
    subscribe(&http, &api.base, &key, "r", &hook).await;
    let receivers = [seen];
    let via = vec![api.base.clone()];
    let publish = |range: std::ops::Range<usize>| {
        let (http, key, via) = (http.clone(), key.clone(), via.clone());
        tokio::spawn(async move {
            for n in range {
                publish_until_accepted(&http, &via, &key, n).await;
            }
        })
    };

    // The worker dies mid-run: the API instance goes on accepting, and nothing is sent until it is back.
    let first = publish(0..events / 2);
    let at_kill = wait_delivered(&receivers, events / 8, Duration::from_secs(60)).await;
    drop(worker);
    first.await.unwrap();
    assert!(at_kill < events / 2, "the worker's kill came too late to prove anything");
    let accepted_meanwhile = Instant::now();
    publish(events / 2..3 * events / 4).await.unwrap();
    println!("{} events accepted in {:?} with no worker", events / 4, accepted_meanwhile.elapsed());
    let worker = Instance::spawn(&db.url, &data, worker_port, "worker", &redis);
    ready(&worker.base, READY).await;

    // The API instance dies mid-publish: the client sends the same keys again once it is back.
    let rest = publish(3 * events / 4..events);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(api);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let api = Instance::spawn(&db.url, &data, api_port, "api", &redis);
    rest.await.expect("every event was accepted in the end");

    let delivered = wait_delivered(&receivers, events, Duration::from_secs(300)).await;
    assert_eq!(delivered, events, "every accepted event was delivered (had {at_kill} when the worker died)");
    assert_each_got_all_once(&receivers, events);
    assert_clean_history(&db.url, events as i64).await;
    drop((api, worker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_tick_runs_once_over_three_instances_while_one_is_killed() {
    const EVERY_MS: i64 = 3_000;
    let db = TestDb::postgres().await;
    let data = TempDir::new("cron");
    let key = admin_key(&db.url, &data, "cron");
    let redis = shared_redis();
    let ports = [port(), port(), port()];
    let mut instances: Vec<Instance> =
        ports.iter().map(|p| Instance::spawn(&db.url, &data, *p, "all", &redis)).collect();
    for i in &instances {
        ready(&i.base, READY).await;
    }
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/workflow-templates", instances[0].base))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "name": "Every three seconds", "triggerType": "schedule", "isActive": true,
            "triggerConfig": {"cron": "*/3 * * * * *", "timezone": "Europe/London"},
            "actions": [{"id": "n", "type": "send_notification", "name": "Tick",
                         "config": {"title": "Tick {{ scheduledAt }}", "message": "m"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // Kill one instance at a time, each twice, bringing it back, while the ticks go on.
    let started = Instant::now();
    let rounds = if support::soak() { 12 } else { 4 };
    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(3_700)).await;
        let i = round % 3;
        instances[i] = Instance::spawn(&db.url, &data, ports[i], "all", &redis); // drops (SIGKILLs) the old one
        ready(&instances[i].base, READY).await;
    }
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    drop(instances);
    let ran_for = started.elapsed();

    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let data: Vec<String> =
        sqlx::query_scalar("SELECT trigger_data FROM workflow_executions WHERE trigger_type = 'schedule'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut runs: BTreeMap<i64, usize> = BTreeMap::new();
    for d in &data {
        let v: serde_json::Value = serde_json::from_str(d).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(v["scheduledAt"].as_str().unwrap()).unwrap().timestamp_millis();
        assert_eq!(at % EVERY_MS, 0, "a run names its tick: {}", v["scheduledAt"]);
        *runs.entry(at).or_default() += 1;
    }
    let ticks: Vec<i64> = runs.keys().copied().collect();
    println!("{} ticks in {ran_for:?} over three instances, {rounds} kills", ticks.len());
    assert!(runs.values().all(|n| *n == 1), "each tick ran once: {runs:?}");
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == EVERY_MS), "no tick was skipped: {ticks:?}");
    assert!(ticks.len() as u128 >= ran_for.as_millis() / EVERY_MS as u128 - 2, "ticks ran all along ({ticks:?})");
    pool.close().await;
}
