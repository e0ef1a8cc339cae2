//! Several instances of the real binary on one PostgreSQL and one Redis: two
//! full instances and a worker-only one share the deliveries of 1,200 events
//! to three receivers while one of them is SIGKILLed and restarted. Every
//! delivery arrives, a repeat only ever carries the same `webhook-id`, and no
//! attempt number of a delivery is recorded twice; and an API instance with a
//! worker instance whose Redis (a private one) dies and comes back empty
//! mid-run. (PostgreSQL only: the embedded SQLite database belongs to one
//! process.)

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use domain::store::with_pool;
use domain::testing::{TempDir, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_purple-cross");
const MASTER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const EVENTS: usize = 1200;

/// Per event number, the `webhook-id`s one receiver was sent.
type Seen = Arc<Mutex<HashMap<u64, HashSet<String>>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn hook(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> &'static str {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let n = v["data"]["n"].as_u64().unwrap();
        seen.lock().unwrap().entry(n).or_default().insert(headers["webhook-id"].to_str().unwrap().to_string());
        "ok"
    }
    let app = Router::new().route("/hook", post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(db: &TestDb, data: &TempDir, port: u16, role: &str) -> Instance {
    let redis = std::env::var("PURPLE_CROSS_TEST_REDIS").unwrap_or("redis://127.0.0.1:6379".into());
    spawn_with_redis(db, data, port, role, &redis)
}

fn spawn_with_redis(db: &TestDb, data: &TempDir, port: u16, role: &str, redis: &str) -> Instance {
    let child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_MASTER_KEY", MASTER_KEY)
        .env("PURPLE_CROSS_BIND", format!("127.0.0.1:{port}"))
        .env("PURPLE_CROSS_ROLE", role)
        .env("REDIS_URL", redis)
        .env("PURPLE_CROSS_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
        .env("PURPLE_CROSS_REQUEST_TIMEOUT", "2")
        .env("PURPLE_CROSS_LEASE_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start purple-cross");
    Instance { child, base: format!("http://127.0.0.1:{port}") }
}

async fn ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} never became ready");
}

/// An admin API key made by the binary's `keys create`.
fn admin_key(db: &TestDb, data: &TempDir, name: &str) -> String {
    let out = Command::new(BIN)
        .args(["keys", "create", "--name", name, "--role", "admin"])
        .env("DATABASE_URL", &db.url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_lose_nothing_when_one_is_killed() {
    let db = TestDb::postgres().await;
    let data = TempDir::new("instances");
    let key = admin_key(&db, &data, "instances");

    let (port_a, port_b, port_c) = (port(), port(), port());
    let a = spawn(&db, &data, port_a, "all");
    let b = spawn(&db, &data, port_b, "all");
    let c = spawn(&db, &data, port_c, "worker");
    for i in [&a, &b, &c] {
        ready(&i.base).await;
    }
    let http = reqwest::Client::new();
    let mut receivers = Vec::new();
    for name in ["one", "two", "three"] {
        let (url, seen) = receiver().await;
        let r = http
            .post(format!("{}/api/v1/webhooks", a.base))
            .bearer_auth(&key)
            .json(&serde_json::json!({"name": name, "url": url, "events": ["invoice.paid"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        receivers.push(seen);
    }
    // Published through both full instances; the webhooks made on A reach B's cache within 1 s.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Published through both full instances, in the background; a publish that
    // fails because its instance died is sent again to A with the same key.
    let publisher = {
        let (http, key, a_base, b_base) = (http.clone(), key.clone(), a.base.clone(), b.base.clone());
        tokio::spawn(async move {
            for n in 0..EVENTS {
                let body = serde_json::json!({"type": "invoice.paid", "data": {"n": n}});
                let mut via = if n % 2 == 0 { &a_base } else { &b_base };
                loop {
                    let sent = http
                        .post(format!("{via}/api/v1/events"))
                        .bearer_auth(&key)
                        .header("idempotency-key", format!("evt-{n}"))
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 202 => {
                            let accepted: serde_json::Value = r.json().await.unwrap();
                            assert_eq!(accepted["deliveries"], 3, "event {n}");
                            break;
                        }
                        Ok(r) if r.status().is_server_error() => via = &a_base,
                        Ok(r) => panic!("event {n}: {}", r.status()),
                        Err(_) => via = &a_base,
                    }
                }
            }
        })
    };
    // Kill B mid-stream, then bring it back.
    let delivered = || receivers.iter().map(|s| s.lock().unwrap().len()).sum::<usize>();
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(b); // SIGKILL
    let at_kill = delivered();
    println!("B killed with {at_kill} of {} deliveries made", 3 * EVENTS);
    assert!(at_kill < 3 * EVENTS, "the kill came too late to prove anything");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = spawn(&db, &data, port_b, "all");
    ready(&b.base).await;
    publisher.await.expect("every event was published");

    let deadline = Instant::now() + Duration::from_secs(90);
    while delivered() < 3 * EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (i, seen) in receivers.iter().enumerate() {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), EVENTS, "receiver {i} got every event (had {at_kill} in all at the kill)");
        let repeats = seen.values().filter(|ids| ids.len() > 1).count();
        assert_eq!(repeats, 0, "receiver {i}: a repeat always carries the same webhook-id");
    }
    let services = db.services().await.unwrap();
    let twice: i64 = with_pool!(&services.db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT delivery_id, attempt FROM delivery_attempts
         GROUP BY delivery_id, attempt HAVING COUNT(*) > 1) AS d")
        .fetch_one(pool).await)
    .unwrap();
    assert_eq!(twice, 0, "no attempt number of a delivery is recorded twice");
    let unfinished: i64 = with_pool!(&services.db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'").fetch_one(pool).await)
    .unwrap();
    assert_eq!(unfinished, 0, "every delivery is recorded as succeeded");
    drop((a, b, c));
}

/// A Redis of this test's own, so it can be killed without touching the shared one.
struct PrivateRedis(Child);

impl PrivateRedis {
    async fn start(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the private Redis did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        PrivateRedis(child)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn publish(http: &reqwest::Client, base: &str, key: &str, n: usize) {
    let r = http
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(key)
        .json(&serde_json::json!({"type": "invoice.paid", "data": {"n": n}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "event {n}");
}

/// Waits until `seen` holds event `n`; how long that took.
async fn arrival(seen: &Seen, n: u64, since: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.lock().unwrap().contains_key(&n) {
        assert!(Instant::now() < deadline, "event {n} never arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    since.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lost_and_back_empty_loses_nothing_and_wake_ups_recover() {
    let db = TestDb::postgres().await;
    let data = TempDir::new("redis-loss");
    let key = admin_key(&db, &data, "redis-loss");
    let redis_port = port();
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let redis = PrivateRedis::start(redis_port).await;
    // The API instance sends nothing itself: every delivery is the worker's,
    // found through a Redis wake-up or, without one, its next poll (≤ 1 s).
    let api = spawn_with_redis(&db, &data, port(), "api", &redis_url);
    let worker = spawn_with_redis(&db, &data, port(), "worker", &redis_url);
    ready(&api.base).await;
    ready(&worker.base).await;
    let http = reqwest::Client::new();
    let (url, seen) = receiver().await;
    let r = http
        .post(format!("{}/api/v1/webhooks", api.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "r", "url": url, "events": ["invoice.paid"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Isolated events after an idle second: a wake-up delivers each at once,
    // a poll would take 500 ms on average.
    let isolated = |from: u64| {
        let (http, key, base, seen) = (http.clone(), key.clone(), api.base.clone(), seen.clone());
        async move {
            let mut waits = Vec::new();
            for n in from..from + 5 {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                let at = Instant::now();
                publish(&http, &base, &key, n as usize).await;
                waits.push(arrival(&seen, n, at).await);
            }
            waits.sort();
            waits[2]
        }
    };
    let before = isolated(0).await;

    // Redis dies mid-stream and comes back empty.
    for n in 100..200 {
        publish(&http, &api.base, &key, n).await;
    }
    drop(redis);
    for n in 200..300 {
        publish(&http, &api.base, &key, n).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let redis = PrivateRedis::start(redis_port).await;
    for n in 300..400 {
        publish(&http, &api.base, &key, n).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < 305 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 305, "every event arrived, Redis or not");
        assert!(seen.values().all(|ids| ids.len() == 1), "repeats carry the same webhook-id");
    }
    // Both instances reconnect (fred retries with backoff) and wake-ups work again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = isolated(1000).await;
    println!("median isolated delivery: {before:?} before the Redis loss, {after:?} after");
    assert!(before < Duration::from_millis(250), "wake-ups through Redis at the start ({before:?})");
    assert!(after < Duration::from_millis(250), "wake-ups through Redis again after it came back ({after:?})");
    drop((api, worker, redis));
}
