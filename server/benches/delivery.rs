//! Delivery benchmark: prints events accepted/s, deliveries/s (and as a share
//! of the receiver hit directly, the ceiling, measured before and after each
//! row: the share is of their mean, and both are printed),
//! ingest-to-delivery latency (p50/p99), CPU per event at a fixed rate and
//! RSS, through the real HTTP API and runner, on SQLite and PostgreSQL; then
//! the same with a million deliveries already in the history, and the queue
//! on its own (claims/s, an idle runner's statements/s).
//!
//! `cargo bench -p server --bench delivery` — env: `BENCH_DB=sqlite|postgres|both`,
//! `BENCH_EVENTS` (flat-out events, default 20000), `BENCH_RATE` (events/s of
//! the fixed-rate run, default 500), `BENCH_SECONDS` (its length, default 10),
//! `BENCH_HISTORY` (deliveries prefilled, default 1000000; 0 skips),
//! `BENCH_QUEUE` (due rows of the queue row, default 100000; 0 skips),
//! `BENCH_ONLY=one,fanout,rate,history,queue,records` (which scenarios; all by default),
//! `BENCH_DIAG=1` (also prints how busy the SQLite threads and the process were).
//! Each row also says which share of its deliveries took the hot path (handed
//! over by ingest rather than claimed from the queue).
//! CPU per event is the service's: this process's CPU less that of the fixed-rate
//! publishers, which run on a runtime (thread `bench-load`) of their own.
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
    runner: tokio::task::JoinHandle<()>,
    http_server: server::http::InProcess,
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
    let http_server = server::http::InProcess::start(services.clone()).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(services.runner().run(rx));
    Server { base: format!("http://{}/api/v1", http_server.addr), key, stop, runner, http_server, services }
}

impl Server {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.runner.await;
        self.http_server.stop().await;
        self.services.db.close().await;
    }
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

/// Requests of one ceiling reading.
const CEILING_REQUESTS: usize = 30_000;

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

/// One printed row.
struct Row {
    db: &'static str,
    name: String,
    /// The ceiling read just before and just after the row: how much the machine's speed moved during it.
    ceiling_readings: (f64, f64),
    accepted: f64,
    delivered: f64,
    p50: f64,
    p99: f64,
    cpu_ms_per_event: Option<Cpu>,
    rss_idle: f64,
    rss_peak: f64,
    /// Deliveries handed over by ingest (the hot path), as a share of all dispatched.
    hot_share: f64,
}

/// CPU per event at a fixed rate: the service's, and the part of it spent on
/// sqlx's SQLite connection threads (each statement is a hand-off to one).
#[derive(Clone, Copy)]
struct Cpu {
    service_ms: f64,
    sqlite_threads_ms: f64,
}

fn cpu_cell(c: Option<Cpu>) -> String {
    match c {
        // PostgreSQL's work happens in its own processes: no SQLite threads to show.
        Some(c) if c.sqlite_threads_ms > 0.0 => {
            format!("{:.2} ms (SQLite threads {:.2})", c.service_ms, c.sqlite_threads_ms)
        }
        Some(c) => format!("{:.2} ms", c.service_ms),
        None => "—".into(),
    }
}

enum Load {
    FlatOut(usize),
    Rate(u64, u64),
}

/// Concurrent publishers of the flat-out rows (`BENCH_CLIENTS`, default 64).
fn clients() -> usize {
    std::env::var("BENCH_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

/// CPU time this process has used (user + system), in ms.
fn cpu_ms() -> f64 {
    stat_cpu_ms(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// User + system CPU time (ms) in a `/proc/.../stat` line.
fn stat_cpu_ms(stat: &str) -> f64 {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks * 1000.0 / 100.0
}

/// The name of the fixed-rate publishers' threads.
const LOAD_THREAD: &str = "bench-load";
/// sqlx names each SQLite connection's thread `sqlx-sqlite-worker-N`.
const SQLITE_THREAD: &str = "sqlx-sqlite";

/// The fixed-rate publishers' runtime (one thread), apart from the service's.
fn load_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(LOAD_THREAD)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// CPU time (user + system, ms) of this process's threads whose name starts with `prefix`.
fn threads_cpu_ms(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    tasks
        .flatten()
        .map(|task| std::fs::read_to_string(task.path().join("stat")).unwrap_or_default())
        .filter(|stat| stat.split_once('(').is_some_and(|(_, name)| name.starts_with(prefix)))
        .map(|stat| stat_cpu_ms(&stat))
        .sum()
}

async fn measure(
    rx: &Receiver,
    server: &Arc<Server>,
    endpoints: usize,
    load: Load,
) -> (f64, f64, f64, f64, Option<Cpu>, f64) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).build().unwrap();
    // Warm up connections and caches.
    rx.reset().await;
    for _ in 0..50 {
        publish(server, &http).await;
    }
    wait_count(rx, 50 * endpoints as u64, Duration::from_secs(30)).await;
    rx.reset().await;
    PEAK_RSS_KB.store(0, Ordering::Relaxed);
    let idle_rss = rss_mb();
    let cpu_before = cpu_ms();
    let load_cpu_before = threads_cpu_ms(LOAD_THREAD);
    let sqlite_cpu_before = threads_cpu_ms(SQLITE_THREAD);
    let began = Instant::now();
    let (events, ingest, per_event_cpu) = match load {
        Load::FlatOut(events) => (events, flat_out(server, &http, events, clients()).await, false),
        Load::Rate(per_sec, secs) => {
            // The publishers run on a runtime of their own, so their CPU can be told apart from the service's.
            let server = server.clone();
            let publishing = load_runtime().spawn(async move {
                // A client of its own: the warm-up's connections are driven by tasks on the service's runtime.
                let http = reqwest::Client::builder().pool_max_idle_per_host(128).build().unwrap();
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
                total
            });
            (publishing.await.unwrap(), began.elapsed(), true)
        }
    };
    let expected = (events * endpoints) as u64;
    wait_count(rx, expected, Duration::from_secs(180)).await;
    let total = began.elapsed();
    if std::env::var("BENCH_DIAG").is_ok() {
        eprintln!(
            "diag: SQLite threads busy {:.0} % of the run, process {:.0} % (of one core)",
            (threads_cpu_ms(SQLITE_THREAD) - sqlite_cpu_before) / total.as_secs_f64() / 10.0,
            (cpu_ms() - cpu_before) / total.as_secs_f64() / 10.0,
        );
    }
    let cpu = Cpu {
        service_ms: (cpu_ms() - cpu_before - (threads_cpu_ms(LOAD_THREAD) - load_cpu_before)) / events as f64,
        sqlite_threads_ms: (threads_cpu_ms(SQLITE_THREAD) - sqlite_cpu_before) / events as f64,
    };
    let delivered = rx.count().await;
    assert_eq!(delivered, expected, "every delivery arrived");
    let mut lat = rx.latencies().await;
    lat.sort_unstable();
    (
        events as f64 / ingest.as_secs_f64(),
        delivered as f64 / total.as_secs_f64(),
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        per_event_cpu.then_some(cpu),
        idle_rss,
    )
}

async fn row(rx: &Receiver, db: &'static str, name: String, server: Server, endpoints: usize, load: Load) -> Row {
    // This shared machine's speed drifts by tens of percent within minutes: one
    // reading before the row alone could flatter or wrong it.
    let before = direct_ceiling(&rx.url, CEILING_REQUESTS).await;
    let server = Arc::new(server);
    let (accepted, delivered, p50, p99, cpu_ms_per_event, rss_idle) = measure(rx, &server, endpoints, load).await;
    // The peak is the row's: read before the second reading's client adds its connections.
    let rss_peak = PEAK_RSS_KB.load(Ordering::Relaxed) as f64 / 1024.0;
    let after = direct_ceiling(&rx.url, CEILING_REQUESTS).await;
    let dispatched = |path| {
        server.services.metrics.deliveries_dispatched.get_or_create(&domain::metrics::PathLabels { path }).get() as f64
    };
    let hot_share = dispatched("hot") / (dispatched("hot") + dispatched("claimed")).max(1.0);
    let server = Arc::try_unwrap(server).ok().expect("no other handles");
    server.stop().await;
    let r = Row {
        db,
        name,
        ceiling_readings: (before, after),
        accepted,
        delivered,
        p50,
        p99,
        cpu_ms_per_event,
        rss_idle,
        rss_peak,
        hot_share,
    };
    print_row(&r);
    r
}

impl Row {
    /// What the row's share is of: the mean of its two readings.
    fn ceiling(&self) -> f64 {
        (self.ceiling_readings.0 + self.ceiling_readings.1) / 2.0
    }
}

fn print_row(r: &Row) {
    println!(
        "{:<10} {:<44} ceiling {:>7.0}/s (before {:.0}, after {:.0})  accepted/s {:>7.0}  deliveries/s {:>7.0} ({:>5.1} % of ceiling)  p50 {:>6.1} ms  p99 {:>6.1} ms  cpu/event {}  rss idle {:>4.0} MB, peak {:>4.0} MB  hot path {:>3.0} %",
        r.db,
        r.name,
        r.ceiling(),
        r.ceiling_readings.0,
        r.ceiling_readings.1,
        r.accepted,
        r.delivered,
        100.0 * r.delivered / r.ceiling(),
        r.p50,
        r.p99,
        cpu_cell(r.cpu_ms_per_event),
        r.rss_idle,
        r.rss_peak,
        100.0 * r.hot_share,
    );
}

/// Record writes through the REST API with one webhook subscribed: each write
/// is the record, its event, a delivery and its due row in one transaction.
async fn records_row(rx: &Receiver, db_kind: &'static str, writes: usize) {
    let db = fresh(db_kind).await;
    let s = Arc::new(start_server(&db).await);
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).build().unwrap();
    let r = http
        .post(format!("{}/webhooks", s.base))
        .bearer_auth(&s.key)
        .json(&json!({"name": "records", "url": rx.url, "events": ["client.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    rx.reset().await;
    let next = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients() {
        let (s, http, next) = (s.clone(), http.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                if n >= writes {
                    break;
                }
                let r = http
                    .post(format!("{}/records/client", s.base))
                    .bearer_auth(&s.key)
                    .json(&json!({"firstName": format!("Client {n}"), "lastName": "Bench", "email": format!("c{n}@example.com")}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                assert_eq!(status, 201, "{}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let written = began.elapsed();
    wait_count(rx, writes as u64, Duration::from_secs(120)).await;
    println!(
        "{db_kind:<10} records: {writes} client writes with one subscribed webhook: {:>6.0} writes/s ({} delivered in {:.1} s)",
        writes as f64 / written.as_secs_f64(),
        rx.count().await,
        began.elapsed().as_secs_f64()
    );
    let s = Arc::try_unwrap(s).ok().expect("no other handles");
    s.stop().await;
    db.cleanup().await;
}

/// Fills a webhook's history with `n` finished deliveries, each with one attempt.
async fn prefill_history(services: &domain::Services, webhook_id: &str, n: usize) {
    use domain::store::with_pool;
    let began = Instant::now();
    let start = services.now_ms() - 86_400_000;
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(500);
        let deliveries: Vec<String> = (0..chunk)
            .map(|i| {
                let k = done + i;
                format!("('msg_h{k:012}', '{webhook_id}', 'evt_h{k}', 'invoice.paid', 'succeeded', 200, 1, 5, {t}, {t}, {t})", t = start + k as i64)
            })
            .collect();
        let attempts: Vec<String> = (0..chunk)
            .map(|i| {
                let k = done + i;
                format!(
                    "('att_h{k:012}', 'msg_h{k:012}', '{webhook_id}', 1, {t}, 3, 200, '{{}}', 'ok')",
                    t = start + k as i64
                )
            })
            .collect();
        let d = format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, status, status_code, attempt, max_attempts, delivered_at, created_at, updated_at) VALUES {}",
            deliveries.join(", ")
        );
        let a = format!(
            "INSERT INTO delivery_attempts (id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code, request_headers, response_body) VALUES {}",
            attempts.join(", ")
        );
        with_pool!(&services.db, pool => {
            sqlx::query(&d).execute(pool).await.unwrap();
            sqlx::query(&a).execute(pool).await.map(|_| ())
        })
        .unwrap();
        done += chunk;
    }
    println!("           ({n} deliveries with their attempts written in {:.0} s)", began.elapsed().as_secs_f64());
}

/// Finishes every row it is given at once: the queue's own cost, with no work behind it.
struct Noop {
    services: domain::Services,
    done: Arc<AtomicU64>,
    in_hand: Arc<AtomicU64>,
}

const NOOP: &str = "bench_noop";

impl domain::due::Handler for Noop {
    fn kind(&self) -> &'static str {
        NOOP
    }

    fn room(&self) -> domain::due::Room {
        domain::due::Room {
            free: 1024usize.saturating_sub(self.in_hand.load(Ordering::Relaxed) as usize),
            skip: vec![],
        }
    }

    fn start(&self, rows: Vec<domain::due::Claimed>) {
        let (s, done, in_hand) = (self.services.clone(), self.done.clone(), self.in_hand.clone());
        in_hand.fetch_add(rows.len() as u64, Ordering::Relaxed);
        tokio::spawn(async move {
            let owner = domain::due::Runner::owner(&s);
            let leases: Vec<domain::due::Lease> = rows.iter().map(|r| r.lease()).collect();
            let mut tx = s.db.begin().await.unwrap();
            let n =
                domain::due::store::finish(&mut tx, &owner, &leases.iter().collect::<Vec<_>>()).await.unwrap().len();
            tx.commit().await.unwrap();
            done.fetch_add(n as u64, Ordering::Relaxed);
            in_hand.fetch_sub(rows.len() as u64, Ordering::Relaxed);
            s.room_freed.notify_one();
        });
    }

    fn stop(self: Arc<Self>) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Claims and finishes `due` rows of a second kind while `waiting` rows wait in the future;
/// then counts the idle runner's statements per second.
async fn queue_row(db_kind: &'static str, due: usize, waiting: usize) {
    let db = if db_kind == "sqlite" { TestDb::sqlite().await } else { TestDb::postgres().await };
    let services = db.services().await.unwrap();
    let now = services.now_ms();
    let ids: Vec<String> = (0..due + waiting).map(|i| format!("due_b{i:09}")).collect();
    for (c, chunk) in ids.chunks(5_000).enumerate() {
        let rows: Vec<domain::due::NewDue> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| domain::due::NewDue {
                id,
                kind: NOOP,
                subject_id: id,
                partition_key: "p",
                available_at: if c * 5_000 + i < due { now - 1 } else { now + 3_600_000 },
                lease_owner: None,
            })
            .collect();
        let mut tx = services.db.begin().await.unwrap();
        domain::due::store::insert(&mut tx, &rows, now).await.unwrap();
        tx.commit().await.unwrap();
    }
    let done = Arc::new(AtomicU64::new(0));
    let handler = Arc::new(Noop { services: services.clone(), done: done.clone(), in_hand: Arc::default() });
    let (stop, rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(domain::due::Runner::new(services.clone()).with(handler).run(rx));
    let began = Instant::now();
    while done.load(Ordering::Relaxed) < due as u64 && began.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = began.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let q0 = services.metrics.due_runner_queries.get();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_qps = (services.metrics.due_runner_queries.get() - q0) as f64 / 5.0;
    println!(
        "{db_kind:<10} queue: claim + finish {due} due rows while {waiting} wait: {:>7.0} rows/s; idle runner {idle_qps:.1} statements/s",
        due as f64 / secs
    );
    let _ = stop.send(true);
    let _ = runner.await;
    services.db.close().await;
    db.cleanup().await;
}

async fn fresh(db_kind: &str) -> TestDb {
    if db_kind == "sqlite" {
        TestDb::sqlite().await
    } else {
        TestDb::postgres().await
    }
}

fn main() {
    server::allocator::tune();
    if std::env::var("BENCH_RECEIVER_CHILD").is_ok() {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(receiver_child());
        return;
    }
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let events = env("BENCH_EVENTS", 20_000);
    let rate = env("BENCH_RATE", 500) as u64;
    let secs = env("BENCH_SECONDS", 10) as u64;
    let history = env("BENCH_HISTORY", 1_000_000);
    let queue = env("BENCH_QUEUE", 100_000);
    let which = std::env::var("BENCH_DB").unwrap_or_else(|_| "both".into());
    let dbs: Vec<&'static str> = match which.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let rx = Receiver::spawn();
        tokio::spawn(sample_rss());
        let mut rows = Vec::new();
        for db in dbs {
            let a = fresh(db).await;
            if run("one") || run("rate") {
                let s = start_server(&a).await;
                subscribe(&s, &reqwest::Client::new(), &rx.url, 1).await;
                if run("one") {
                    rows.push(row(&rx, db, "1 endpoint, flat out".into(), s, 1, Load::FlatOut(events)).await);
                } else {
                    s.stop().await;
                }
            }
            if run("fanout") {
                let b = fresh(db).await;
                let s = start_server(&b).await;
                subscribe(&s, &reqwest::Client::new(), &rx.url, 10).await;
                rows.push(row(&rx, db, "10 endpoints, flat out".into(), s, 10, Load::FlatOut(events / 10)).await);
                b.cleanup().await;
            }
            if run("rate") {
                // The same database as the flat-out row, its history included.
                let s = start_server(&a).await;
                let name = format!("1 endpoint, {rate}/s, after the flat-out row");
                rows.push(row(&rx, db, name, s, 1, Load::Rate(rate, secs)).await);
            }
            a.cleanup().await;
            if run("history") && history > 0 {
                let c = fresh(db).await;
                let s = start_server(&c).await;
                subscribe(&s, &reqwest::Client::new(), &rx.url, 1).await;
                let w = s.services.db.subscribers("invoice.paid").await.unwrap().remove(0);
                prefill_history(&s.services, &w.id, history).await;
                let name = format!("1 endpoint, flat out, {history} in history");
                rows.push(row(&rx, db, name, s, 1, Load::FlatOut(events)).await);
                let s = start_server(&c).await;
                let name = format!("1 endpoint, {rate}/s, {history} in history");
                rows.push(row(&rx, db, name, s, 1, Load::Rate(rate, secs)).await);
                c.cleanup().await;
            }
            if run("queue") && queue > 0 {
                queue_row(db, queue, queue).await;
            }
            if run("records") {
                records_row(&rx, db, events / 4).await;
            }
        }
        println!(
            "\n| database | scenario | ceiling/s (before, after) | deliveries/s | % of ceiling | p50 | p99 | CPU/event | peak RSS |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {:.0} ({:.0}, {:.0}) | {:.0} | {:.1} % | {:.1} ms | {:.1} ms | {} | {:.0} MB |",
                r.db,
                r.name,
                r.ceiling(),
                r.ceiling_readings.0,
                r.ceiling_readings.1,
                r.delivered,
                100.0 * r.delivered / r.ceiling(),
                r.p50,
                r.p99,
                cpu_cell(r.cpu_ms_per_event),
                r.rss_peak
            );
        }
    });
}
