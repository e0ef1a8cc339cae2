//! Shared test support: a real HTTP receiver on 127.0.0.1 and a running
//! due-work runner over a fresh database.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use domain::auth::{Principal, PrincipalKind, Role};
use domain::settings::Settings;
use domain::ssrf::TargetPolicy;
use domain::testing::TestDb;
use domain::Services;

#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    WithHeader(u16, &'static str, &'static str),
    Hang(Duration),
    Body(u16, String),
    /// A body of raw bytes (invalid UTF-8, NUL …).
    Bytes(u16, Vec<u8>),
    /// 200 with this many extra response headers.
    ManyHeaders(usize),
}

#[derive(Clone, Default)]
struct ReceiverState {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

/// A webhook endpoint that records every request and answers from a script
/// (then 200 once the script is used up).
pub struct Receiver {
    pub url: String,
    state: ReceiverState,
}

impl Receiver {
    pub async fn start(script: Vec<Reply>) -> Self {
        let state = ReceiverState { hits: Arc::default(), script: Arc::new(Mutex::new(script.into())) };
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url: format!("http://{addr}/hook"), state }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    pub async fn wait_for_hits(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n || Instant::now() > deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(s): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> Response {
    s.hits.lock().unwrap().push(Hit { headers, body: String::from_utf8_lossy(&body).into_owned(), at: Instant::now() });
    let reply = s.script.lock().unwrap().pop_front();
    match reply {
        None => StatusCode::OK.into_response(),
        Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Reply::WithHeader(code, k, v)) => (StatusCode::from_u16(code).unwrap(), [(k, v)]).into_response(),
        Some(Reply::Body(code, body)) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        Some(Reply::Bytes(code, body)) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        Some(Reply::ManyHeaders(n)) => {
            let mut resp = StatusCode::OK.into_response();
            for i in 0..n {
                let name = axum::http::HeaderName::try_from(format!("x-extra-{i}")).unwrap();
                resp.headers_mut().insert(name, axum::http::HeaderValue::from_static("v"));
            }
            resp
        }
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
    }
}

/// Settings for tests: loopback allowed, short timeouts, fast polling.
pub fn test_settings() -> Settings {
    let defaults = Settings::default();
    Settings {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        worker: domain::settings::WorkerSettings { idle_poll_ms: 50, lease_ms: 10_000, ..defaults.worker.clone() },
        ..defaults
    }
}

pub fn loopback_allowed() -> TargetPolicy {
    TargetPolicy::from_allowlist("127.0.0.0/8,::1/128").unwrap()
}

/// A signed-in admin and a staff member, as the services see callers.
pub fn admin() -> Principal {
    Principal { id: "usr_admin".into(), name: "admin@example.com".into(), role: Role::Admin, kind: PrincipalKind::User }
}

pub fn staff() -> Principal {
    Principal { id: "usr_staff".into(), name: "staff@example.com".into(), role: Role::Staff, kind: PrincipalKind::User }
}

/// Services over `db` with test settings, plus a running due-work runner with the delivery handler.
pub struct Harness {
    pub services: Services,
    /// An admin caller, for the operations under test.
    pub admin: Principal,
    stop: tokio::sync::watch::Sender<bool>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl Harness {
    pub async fn new(db: &TestDb, settings: Settings, clock: Option<Arc<dyn domain::clock::Clock>>) -> Self {
        let base = db.services().await.unwrap();
        let mut services =
            Services::with_settings(base.db.clone(), base.master_key.clone(), settings, loopback_allowed());
        if let Some(c) = clock {
            services = services.with_clock(c);
        }
        services.seed_event_types().await.unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(services.runner().run(rx));
        // Ready once ingest can hand it work (the hot path), so tests do not race its start.
        let ready = services.dispatcher.lock().unwrap().is_some();
        assert!(ready, "the delivery worker did not start");
        Harness { services, admin: admin(), stop, worker: Some(worker) }
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(w) = self.worker.take() {
            let _ = w.await;
        }
        self.services.db.close().await;
    }
}

/// Polls until `f` is true or the time is up.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
