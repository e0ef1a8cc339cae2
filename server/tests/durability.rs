//! Kill the real server with SIGKILL while deliveries are in flight, start it
//! again on the same database, and check that every event still reaches the
//! receiver (at least once, same webhook-id on repeats) — on SQLite and PostgreSQL.

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
use domain::testing::{TempDir, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_purple-cross");
const MASTER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

type Seen = Arc<Mutex<HashMap<String, HashSet<String>>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn hook(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> &'static str {
        // Slow enough that many deliveries are in flight when the server dies.
        tokio::time::sleep(Duration::from_millis(40)).await;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let event = v["data"]["n"].to_string();
        let msg = headers["webhook-id"].to_str().unwrap().to_string();
        seen.lock().unwrap().entry(event).or_default().insert(msg);
        "ok"
    }
    let app = Router::new().route("/hook", post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

fn spawn_server(db_url: &str, data: &TempDir, port: u16) -> Child {
    Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_MASTER_KEY", MASTER_KEY)
        .env("PURPLE_CROSS_BIND", format!("127.0.0.1:{port}"))
        .env("PURPLE_CROSS_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8")
        .env("PURPLE_CROSS_LEASE_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start purple-cross")
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server not ready");
}

const EVENTS: usize = 150;

async fn sigkill_with_deliveries_in_flight_loses_nothing(db: TestDb) {
    let data = TempDir::new("kill");
    let out = Command::new(BIN)
        .args(["keys", "create", "--name", "kill-test", "--role", "admin"])
        .env("DATABASE_URL", &db.url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let (url, seen) = receiver().await;

    let mut server = spawn_server(&db.url, &data, port);
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "durable", "url": url, "events": ["invoice.paid"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}: {}", db.name, created.text().await.unwrap());
    for n in 0..EVENTS {
        let r = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"type": "invoice.paid", "data": {"id": format!("inv_{n}"), "n": n}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    // Kill it mid-stream: some delivered, some in flight, most still queued.
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    unsafe_sigkill(&mut server);
    let at_kill = seen.lock().unwrap().len();
    assert!(at_kill < EVENTS, "{}: the kill came too late to prove anything ({at_kill})", db.name);

    let mut server = spawn_server(&db.url, &data, port);
    wait_ready(&base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(seen_now.len(), EVENTS, "{}: every event delivered after the crash (had {at_kill} at kill)", db.name);
    assert!(seen_now.values().all(|ids| ids.len() == 1), "{}: a repeat re-sends the same webhook-id", db.name);
    let _ = server.kill();
    let _ = server.wait();
}

fn unsafe_sigkill(child: &mut Child) {
    // Child::kill sends SIGKILL on Unix: no graceful shutdown, no flushing.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

domain::per_backend!(sigkill_with_deliveries_in_flight_loses_nothing);
