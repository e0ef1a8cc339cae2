//! Delivery benchmark: prints events accepted/s, deliveries/s and
//! ingest-to-delivery latency (p50/p99) through the real HTTP API and worker,
//! on SQLite and PostgreSQL, beside the receiver hit directly (the ceiling).
//!
//! `cargo bench -p server --bench delivery` — env: `BENCH_DB=sqlite|postgres|both`,
//! `BENCH_EVENTS` (flat-out events, default 20000), `BENCH_RATE` (events/s of
//! the fixed-rate run, default 500), `BENCH_SECONDS` (its length, default 10),
//! `BENCH_ONLY=one,fanout,rate` (which scenarios; all by default).
//! The load generator and the server run in this process, the receiver in a
//! child process (so the RSS printed is the service's); all share the
//! machine's cores over loopback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use domain::auth::Role;
use domain::testing::TestDb;
use serde_json::json;

/// Wall-clock microseconds: the load generator and the receiver are separate processes.
fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64
}

#[derive(Clone, Default)]
struct RxState {
    count: Arc<AtomicU64>,
    latencies_us: Arc<Mutex<Vec<u64>>>,
}

async fn hook(State(rx): State<RxState>, body: Bytes) -> &'static str {
    let now = now_us();
    if let Some(t) = extract_t(&body) {
        rx.latencies_us.lock().unwrap().push(now.saturating_sub(t));
    }
    rx.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

/// The send time (µs) the load generator put in `data.t`.
fn extract_t(body: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(body).ok()?;
    let i = s.find("\"t\":")? + 4;
    s[i..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().ok()
}

/// The receiver process: counts deliveries and their latency, answers on
/// `/stats` and `/latencies`, forgets on `/reset`; exits when its stdin closes.
async fn receiver_child() {
    let rx = RxState::default();
    let stats = |State(rx): State<RxState>| async move { rx.count.load(Ordering::Relaxed).to_string() };
    let latencies =
        |State(rx): State<RxState>| async move { serde_json::to_string(&*rx.latencies_us.lock().unwrap()).unwrap() };
    let reset = |State(rx): State<RxState>| async move {
        rx.count.store(0, Ordering::Relaxed);
        rx.latencies_us.lock().unwrap().clear();
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/stats", axum::routing::get(stats))
        .route("/latencies", axum::routing::get(latencies))
        .route("/reset", post(reset))
        .with_state(rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("PORT {}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    })
    .await
    .unwrap();
}

/// The receiver runs in its own process, so the RSS reported is the service's
/// (plus the small load generator's), not the receiver's connections too.
struct Receiver {
    base: String,
    url: String,
    http: reqwest::Client,
    _child: std::process::Child,
}

impl Receiver {
    fn spawn() -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env("BENCH_RECEIVER_CHILD", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("PORT ").expect("the receiver prints its port").to_string();
        let base = format!("http://127.0.0.1:{port}");
        Receiver { url: format!("{base}/hook"), base, http: reqwest::Client::new(), _child: child }
    }

    async fn count(&self) -> u64 {
        self.http.get(format!("{}/stats", self.base)).send().await.unwrap().text().await.unwrap().parse().unwrap()
    }

    async fn latencies(&self) -> Vec<u64> {
        self.http.get(format!("{}/latencies", self.base)).send().await.unwrap().json().await.unwrap()
    }

    async fn reset(&self) {
        self.http.post(format!("{}/reset", self.base)).send().await.unwrap();
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// The highest RSS seen during the current scenario, sampled every 10 ms.
static PEAK_RSS_KB: AtomicU64 = AtomicU64::new(0);

async fn sample_rss() {
    loop {
        PEAK_RSS_KB.fetch_max((rss_mb() * 1024.0) as u64, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap())
        })
        .unwrap_or(0.0)
        / 1024.0
}

struct Server {
    base: String,
    key: String,
    stop: tokio::sync::watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
    services: domain::Services,
}

async fn start_server(db: &TestDb) -> Server {
    let base = db.services().await.unwrap();
    let services = domain::Services::with_settings(
        base.db.clone(),
        base.master_key.clone(),
        domain::settings::Settings::default(),
        domain::ssrf::TargetPolicy::from_allowlist("127.0.0.0/8").unwrap(),
    );
    services.seed_event_types().await.unwrap();
    let key = services.create_api_key(&domain::auth::system(), "bench", Role::Admin).await.unwrap().key;
    let addr = server::http::serve_in_process(services.clone()).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(services.runner().run(rx));
    Server { base: format!("http://{addr}/api/v1"), key, stop, worker, services }
}

async fn subscribe(s: &Server, http: &reqwest::Client, url: &str, n: usize) {
    for i in 0..n {
        let r = http
            .post(format!("{}/webhooks", s.base))
            .bearer_auth(&s.key)
            .json(&json!({"name": format!("bench {i}"), "url": url, "events": ["invoice.paid"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
}

async fn publish(s: &Server, http: &reqwest::Client) {
    let t = now_us();
    let r = http
        .post(format!("{}/events", s.base))
        .bearer_auth(&s.key)
        .json(&json!({"type": "invoice.paid", "data": {"id": "inv", "amount": 12.5, "t": t}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

/// Publishes `events` with `concurrency` clients as fast as possible.
async fn flat_out(s: &Arc<Server>, http: &reqwest::Client, events: usize, concurrency: usize) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (s, http, next) = (s.clone(), http.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while (next.fetch_add(1, Ordering::Relaxed) as usize) < events {
                publish(&s, &http).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    began.elapsed()
}

async fn wait_count(rx: &Receiver, n: u64, limit: Duration) -> Duration {
    let began = Instant::now();
    while rx.count().await < n && began.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    began.elapsed()
}

async fn direct_ceiling(url: &str, n: usize) -> f64 {
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (http, next, url) = (http.clone(), next.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            while (next.fetch_add(1, Ordering::Relaxed) as usize) < n {
                http.post(&url).body("{\"type\":\"x\",\"data\":{}}").send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / began.elapsed().as_secs_f64()
}

async fn scenario(rx: &Receiver, db_kind: &str, name: &str, endpoints: usize, events: usize, rate: Option<(u64, u64)>) {
    let db = if db_kind == "sqlite" { TestDb::sqlite().await } else { TestDb::postgres().await };
    let url = rx.url.clone();
    let server = Arc::new(start_server(&db).await);
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).build().unwrap();
    subscribe(&server, &http, &url, endpoints).await;
    // Warm up connections and caches.
    rx.reset().await;
    PEAK_RSS_KB.store(0, Ordering::Relaxed);
    for _ in 0..50 {
        publish(&server, &http).await;
    }
    wait_count(rx, 50 * endpoints as u64, Duration::from_secs(30)).await;
    rx.reset().await;

    let idle_rss = rss_mb();
    let began = Instant::now();
    let (events, ingest) = match rate {
        None => (events, flat_out(&server, &http, events, 64).await),
        Some((per_sec, secs)) => {
            let total = (per_sec * secs) as usize;
            let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / per_sec));
            let mut tasks = Vec::with_capacity(total);
            for _ in 0..total {
                ticker.tick().await;
                let (s, http) = (server.clone(), http.clone());
                tasks.push(tokio::spawn(async move { publish(&s, &http).await }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            (total, began.elapsed())
        }
    };
    let expected = (events * endpoints) as u64;
    wait_count(rx, expected, Duration::from_secs(120)).await;
    let total = began.elapsed();
    let delivered = rx.count().await;
    let mut lat = rx.latencies().await;
    lat.sort_unstable();
    println!(
        "{db_kind:<8} {name:<26} events {events:>6}  accepted/s {:>8.0}  deliveries/s {:>8.0}  delivered {delivered}/{expected}  p50 {:>7.1} ms  p99 {:>7.1} ms  rss idle {:>4.0} MB, peak {:>4.0} MB",
        events as f64 / ingest.as_secs_f64(),
        delivered as f64 / total.as_secs_f64(),
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        idle_rss,
        PEAK_RSS_KB.load(Ordering::Relaxed) as f64 / 1024.0,
    );
    let _ = server.stop.send(true);
    let server = Arc::try_unwrap(server).ok().expect("no other handles");
    let _ = server.worker.await;
    server.services.db.close().await;
    db.cleanup().await;
}

fn main() {
    server::allocator::tune();
    if std::env::var("BENCH_RECEIVER_CHILD").is_ok() {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(receiver_child());
        return;
    }
    let events: usize = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let rate: u64 = std::env::var("BENCH_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let secs: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let which = std::env::var("BENCH_DB").unwrap_or_else(|_| "both".into());
    let dbs: Vec<&str> = match which.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let rx = Receiver::spawn();
        tokio::spawn(sample_rss());
        println!(
            "receiver hit directly (64 clients, loopback): {:.0} requests/s",
            direct_ceiling(&rx.url, 50_000).await
        );
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let run = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
        for db in dbs {
            if run("one") {
                scenario(&rx, db, "1 endpoint, flat out", 1, events, None).await;
            }
            if run("fanout") {
                scenario(&rx, db, "10 endpoints, flat out", 10, events / 10, None).await;
            }
            if run("rate") {
                scenario(&rx, db, &format!("1 endpoint, {rate}/s fixed"), 1, 0, Some((rate, secs))).await;
            }
        }
    });
}
