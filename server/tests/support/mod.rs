//! What the tests that run the real binary share: starting and stopping
//! instances, an admin key made by the CLI, a receiver that records what it
//! was sent, and a Redis and a PostgreSQL of a test's own, which it may kill.
#![allow(dead_code)] // each test file uses its own part of this module

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use domain::testing::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_purple-cross");
pub const MASTER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

pub fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether to run the long versions (`PURPLE_CROSS_SOAK=1`): the issue's
/// sizes instead of the test command's short ones.
pub fn soak() -> bool {
    std::env::var("PURPLE_CROSS_SOAK").is_ok_and(|v| v == "1")
}

pub fn shared_redis() -> String {
    std::env::var("PURPLE_CROSS_TEST_REDIS").unwrap_or("redis://127.0.0.1:6379".into())
}

/// Per event (its `data.n`), the `webhook-id`s one receiver was sent.
pub type Seen = Arc<Mutex<HashMap<u64, HashSet<String>>>>;

/// A receiver on 127.0.0.1 that answers 200 after `delay`.
pub async fn receiver(delay: Duration) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(move |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                tokio::time::sleep(delay).await;
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let n = v["data"]["n"].as_u64().unwrap();
                let id = headers["webhook-id"].to_str().unwrap().to_string();
                seen.lock().unwrap().entry(n).or_default().insert(id);
                "ok"
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

/// A running `purple-cross serve`; dropping it SIGKILLs it.
pub struct Instance {
    pub child: Child,
    pub base: String,
    pub port: u16,
}

impl Instance {
    /// Starts `serve` in `role` (`all`, `api` or `worker`) with leases of one second.
    pub fn spawn(db_url: &str, data: &TempDir, port: u16, role: &str, redis: &str) -> Instance {
        let child = Command::new(BIN)
            .arg("serve")
            .env("DATABASE_URL", db_url)
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
        Instance { child, base: format!("http://127.0.0.1:{port}"), port }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Child::kill is SIGKILL on Unix: no graceful shutdown, nothing flushed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `/readyz` answers 200 (the database is reachable).
pub async fn ready(base: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} was not ready within {within:?}");
}

/// An admin API key made by the binary's `keys create` (which migrates the database first).
pub fn admin_key(db_url: &str, data: &TempDir, name: &str) -> String {
    let out = Command::new(BIN)
        .args(["keys", "create", "--name", name, "--role", "admin"])
        .env("DATABASE_URL", db_url)
        .env("PURPLE_CROSS_DATA_DIR", &data.0)
        .env("PURPLE_CROSS_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "keys create: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string()
}

/// Subscribes a webhook to `invoice.paid` through `base`.
pub async fn subscribe(http: &reqwest::Client, base: &str, key: &str, name: &str, url: &str) {
    let r = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(key)
        .json(&serde_json::json!({"name": name, "url": url, "events": ["invoice.paid"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Publishes `invoice.paid` number `n` with the idempotency key `evt-<n>`,
/// sending it again (same key) through the next of `via` whenever it is not
/// accepted — an instance down, a database away — as a careful client does.
/// How many tries it took.
pub async fn publish_until_accepted(http: &reqwest::Client, via: &[String], key: &str, n: usize) -> usize {
    let body = serde_json::json!({"type": "invoice.paid", "data": {"n": n}});
    let deadline = Instant::now() + Duration::from_secs(60);
    for attempt in 1.. {
        let base = &via[(n + attempt - 1) % via.len()];
        let sent = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(key)
            .header("idempotency-key", format!("evt-{n}"))
            .timeout(Duration::from_secs(15))
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 202 => return attempt,
            Ok(r) if r.status().is_server_error() => {}
            Ok(r) => panic!("event {n}: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "event {n} was never accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

/// Waits until the receivers together hold `want` events, or `within` passes.
pub async fn wait_delivered(receivers: &[Seen], want: usize, within: Duration) -> usize {
    let delivered = || receivers.iter().map(|s| s.lock().unwrap().len()).sum::<usize>();
    let deadline = Instant::now() + within;
    while delivered() < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    delivered()
}

/// Every receiver got every one of `events`, and a repeat only ever carried the same `webhook-id`.
pub fn assert_each_got_all_once(receivers: &[Seen], events: usize) {
    for (i, seen) in receivers.iter().enumerate() {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), events, "receiver {i} got every event");
        let repeats = seen.values().filter(|ids| ids.len() > 1).count();
        assert_eq!(repeats, 0, "receiver {i}: a repeat always carries the same webhook-id");
    }
}

/// No attempt number of a delivery recorded twice, every delivery succeeded,
/// and each published event stored once. The receivers having everything does
/// not mean every outcome is committed: the last ones may still be in a write
/// batch, or (lost with the database) re-sent when their 1 s lease ends, so
/// the outcomes get up to 30 s to settle before the checks.
pub async fn assert_clean_history(db_url: &str, events: i64) {
    let pool = sqlx::PgPool::connect(db_url).await.unwrap();
    let scalar = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    const UNFINISHED: &str = "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'";
    let settle_by = Instant::now() + Duration::from_secs(30);
    while scalar(UNFINISHED).await > 0 && Instant::now() < settle_by {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let twice = scalar(
        "SELECT COUNT(*) FROM (SELECT delivery_id, attempt FROM delivery_attempts
         GROUP BY delivery_id, attempt HAVING COUNT(*) > 1) AS d",
    )
    .await;
    assert_eq!(twice, 0, "no attempt number of a delivery is recorded twice");
    let unfinished = scalar(UNFINISHED).await;
    assert_eq!(unfinished, 0, "every delivery is recorded as succeeded");
    assert_eq!(scalar("SELECT COUNT(*) FROM events").await, events, "each event stored once, retries or not");
    pool.close().await;
}

/// A Redis of the test's own, so it can be killed without touching the shared one.
pub struct PrivateRedis(Child);

impl PrivateRedis {
    pub async fn start(port: u16) -> PrivateRedis {
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

/// A PostgreSQL cluster of the test's own (Debian's server binaries, a data
/// folder under the temp dir, trust auth on 127.0.0.1), so the test can stop
/// and start it under the instances without touching the shared server.
pub struct PrivatePostgres {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let bin = postgres_bin_dir();
        let pg = PrivatePostgres { dir: TempDir::new("pg"), bin, port: port() };
        // initdb refuses to run as root; the cluster then belongs to `postgres`.
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&pg.dir.0));
        }
        let data = pg.data();
        run(pg.as_owner("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        pg.up();
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.0.display()
        );
        run(self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.0.join("log"))
            .arg("start"));
    }

    /// Stops the server as a crash would: every backend killed, no checkpoint.
    pub fn crash(&self) {
        run(self.as_owner("pg_ctl").arg("-D").arg(self.data()).args(["-w", "-m", "immediate", "stop"]));
    }

    fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    fn as_owner(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.as_owner("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "stop"]).output();
    }
}

fn postgres_bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).filter(|p| p.join("pg_ctl").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL's server binaries (Debian's postgresql package) under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
