//! Workflow engine figures (release build, in process, the real runner on a
//! real database): three-step executions per second without waits, start to
//! finish latency at a fixed rate, memory with many executions waiting, and
//! how late timers fire when many are due.
//!
//! `cargo bench -p server --bench workflows` — env: `BENCH_DB=sqlite|postgres|both`,
//! `BENCH_WF_RUNS` (flat-out executions, default 5000), `BENCH_WF_RATE`
//! (executions/s of the fixed-rate run, default 200) for `BENCH_WF_SECONDS`
//! (default 10), `BENCH_WF_WAITING` (executions left waiting for the memory
//! row, default 100000), `BENCH_WF_BURST` (timers due in the same second,
//! default 10000), `BENCH_WF_SPREAD` and `BENCH_WF_SPREAD_SECONDS` (timers
//! due evenly over a window, default 100000 over 600 s; 0 skips),
//! `BENCH_ONLY=throughput,rate,waiting,burst,spread`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::auth::system;
use domain::store::with_pool;
use domain::testing::TestDb;
use domain::workflows::{ExecuteInput, TemplateInput};
use domain::Services;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn pct(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1] as f64
}

struct Bench {
    services: Services,
    stop: tokio::sync::watch::Sender<bool>,
    runner: tokio::task::JoinHandle<()>,
    _db: TestDb,
}

async fn start(kind: &str) -> Bench {
    let db = if kind == "postgres" { TestDb::postgres().await } else { TestDb::sqlite().await };
    let services = db.services().await.unwrap();
    services.seed_event_types().await.unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(services.runner().run(rx));
    Bench { services, stop, runner, _db: db }
}

impl Bench {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.runner.await;
        self.services.db.close().await;
    }

    async fn template(&self, actions: serde_json::Value) -> String {
        let t: TemplateInput =
            serde_json::from_value(json!({"name": "Bench", "triggerType": "manual", "actions": actions})).unwrap();
        self.services.create_template(&system(), t).await.unwrap().id
    }

    async fn count(&self, sql: &str) -> i64 {
        with_pool!(&self.services.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
    }

    async fn until_count(&self, sql: &str, n: i64, limit: Duration) -> Duration {
        let began = Instant::now();
        while self.count(sql).await < n && began.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        began.elapsed()
    }

    /// Starts `n` executions of `template` from 16 concurrent callers.
    async fn start_many(&self, template: &str, n: usize, data: impl Fn(usize) -> serde_json::Value) {
        let data = Arc::new(data);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (s, t, next, data) = (self.services.clone(), template.to_string(), next.clone(), data.clone());
            tasks.push(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    s.execute_template(&system(), &t, ExecuteInput { trigger_data: data(i) }).await.unwrap();
                }
            });
        }
        futures::future::join_all(tasks).await;
    }
}

const DONE: &str = "SELECT COUNT(*) FROM workflow_executions WHERE status = 'completed'";
const WAITING: &str = "SELECT COUNT(*) FROM workflow_executions WHERE status = 'waiting'";

fn three_steps() -> serde_json::Value {
    json!([
        {"id": "check", "type": "condition", "config": {"logic": "AND",
            "conditions": [{"field": "trigger.n", "operator": "greater_than", "value": -1}], "then": [], "else": []}},
        {"id": "tell", "type": "send_notification", "config": {"title": "Run {{ trigger.n }}", "message": "m"}},
        {"id": "mail", "type": "send_email", "config": {"to": "ops@example.com", "subject": "Run {{ trigger.n }}", "body": "b"}}
    ])
}

async fn throughput(kind: &str, runs: usize) {
    let b = start(kind).await;
    let t = b.template(three_steps()).await;
    let began = Instant::now();
    b.start_many(&t, runs, |n| json!({"n": n})).await;
    let started = began.elapsed();
    b.until_count(DONE, runs as i64, Duration::from_secs(600)).await;
    let total = began.elapsed();
    println!(
        "| {kind:<8} | three-step executions, flat out | {runs} | {:.0} executions/s ({:.0} started/s) | ≥ {} |",
        runs as f64 / total.as_secs_f64(),
        runs as f64 / started.as_secs_f64(),
        if kind == "sqlite" { "2,000/s" } else { "1,000/s" }
    );
    b.stop().await;
}

async fn fixed_rate(kind: &str, rate: usize, seconds: usize) {
    let b = start(kind).await;
    let t = b.template(three_steps()).await;
    let total = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate as u64));
    let mut pending = Vec::new();
    for n in 0..total {
        tick.tick().await;
        let (s, t) = (b.services.clone(), t.clone());
        pending.push(tokio::spawn(async move {
            s.execute_template(&system(), &t, ExecuteInput { trigger_data: json!({"n": n}) }).await.unwrap();
        }));
    }
    futures::future::join_all(pending).await;
    b.until_count(DONE, total as i64, Duration::from_secs(120)).await;
    let mut d: Vec<i64> = with_pool!(&b.services.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT completed_at - started_at FROM workflow_executions WHERE status = 'completed'").fetch_all(pool).await)
    .unwrap();
    d.sort_unstable();
    println!(
        "| {kind:<8} | start to finish at {rate}/s for {seconds} s | {total} | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | p99 ≤ 20 ms |",
        pct(&d, 0.5),
        pct(&d, 0.99),
        pct(&d, 1.0)
    );
    b.stop().await;
}

async fn waiting(kind: &str, n: usize) {
    let b = start(kind).await;
    let before = rss_mb();
    let t = b.template(json!([{"id": "w", "type": "wait", "config": {"duration": 86_400_000}}])).await;
    let began = Instant::now();
    b.start_many(&t, n, |_| json!({})).await;
    b.until_count(WAITING, n as i64, Duration::from_secs(1200)).await;
    let took = began.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "| {kind:<8} | executions waiting (RSS) | {n} | {:.0} MB RSS ({:.0} MB before; {:.0} started and parked/s) | ≤ 150 MB |",
        rss_mb(),
        before,
        n as f64 / took.as_secs_f64()
    );
    b.stop().await;
}

/// `n` timers due between `due_from` and `due_from + spread_ms`: how late each fired.
async fn timers(kind: &str, label: &str, n: usize, lead_ms: i64, spread_ms: i64, budget: &str) {
    let b = start(kind).await;
    let t = b
        .template(json!([{"id": "w", "type": "wait", "config": {"until": "{{ trigger.at }}"}},
                          {"id": "n", "type": "condition", "config": {"logic": "AND", "conditions": [], "then": [], "else": []}}]))
        .await;
    let due_from = b.services.now_ms() + lead_ms;
    let step = if n > 1 { spread_ms / (n as i64 - 1).max(1) } else { 0 };
    b.start_many(
        &t,
        n,
        move |i| json!({"at": domain::clock::rfc3339(due_from + step * i as i64), "due": due_from + step * i as i64}),
    )
    .await;
    let armed = b.count(WAITING).await;
    let limit = Duration::from_millis((lead_ms + spread_ms) as u64 + 120_000);
    b.until_count(DONE, n as i64, limit).await;
    let all_fired_after = b.services.now_ms() - (due_from + spread_ms);
    // Lateness: when the wait step completed, after the time it waited for.
    let rows: Vec<(String, Option<i64>)> = with_pool!(&b.services.db, pool => sqlx::query_as(
        "SELECT e.trigger_data, s.completed_at FROM workflow_executions e
         JOIN workflow_steps s ON s.execution_id = e.id AND s.action_id = 'w'").fetch_all(pool).await)
    .unwrap();
    let mut late: Vec<i64> = rows
        .into_iter()
        .filter_map(|(data, done)| {
            Some(done? - serde_json::from_str::<serde_json::Value>(&data).ok()?["due"].as_i64()?)
        })
        .collect();
    late.sort_unstable();
    println!(
        "| {kind:<8} | {label} | {n} ({armed} armed in time) | lateness p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; last fired {:.1} s after the last due | {budget} |",
        pct(&late, 0.5),
        pct(&late, 0.99),
        pct(&late, 1.0),
        all_fired_after as f64 / 1000.0
    );
    b.stop().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let which = std::env::var("BENCH_DB").unwrap_or_else(|_| "both".into());
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wants = |s: &str| only.is_empty() || only.split(',').any(|o| o == s);
    let kinds: Vec<&str> = match which.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    println!("| db | scenario | executions | result | goal |");
    println!("|---|---|---|---|---|");
    rt.block_on(async {
        for kind in kinds {
            if wants("throughput") {
                throughput(kind, env("BENCH_WF_RUNS", 5000)).await;
            }
            if wants("rate") {
                fixed_rate(kind, env("BENCH_WF_RATE", 200), env("BENCH_WF_SECONDS", 10)).await;
            }
            if wants("waiting") && env("BENCH_WF_WAITING", 100_000) > 0 {
                waiting(kind, env("BENCH_WF_WAITING", 100_000)).await;
            }
            if wants("burst") && env("BENCH_WF_BURST", 10_000) > 0 {
                let n = env("BENCH_WF_BURST", 10_000);
                // Armed well before they are due, all in the same second.
                let lead = (n as i64 / 200).max(10) * 1000;
                timers(kind, "timers due in the same second", n, lead, 1000, "all within 5 s").await;
            }
            if wants("spread") && env("BENCH_WF_SPREAD", 100_000) > 0 {
                let n = env("BENCH_WF_SPREAD", 100_000);
                let secs = env("BENCH_WF_SPREAD_SECONDS", 600) as i64;
                let lead = (n as i64 / 200).max(10) * 1000;
                timers(kind, &format!("timers due over {secs} s"), n, lead, secs * 1000, "p99 ≤ 1 s").await;
            }
        }
    });
}
