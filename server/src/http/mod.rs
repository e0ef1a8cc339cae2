//! The HTTP surface: pages (Leptos SSR + server functions), the REST API,
//! health and metrics, behind one authentication middleware.

pub mod allowed;
pub mod api;
pub mod auth;
pub mod headers;
pub mod health;
pub mod inspector;
pub mod json;
pub mod live;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod records;
pub mod workflows;

use std::sync::{Arc, Mutex};

use axum::extract::FromRef;
use axum::http::Request;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use domain::Services;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::cli::{ProcessRole, ServeArgs};
use domain::metrics::{HttpLabels, Metrics};

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    /// Behind an `Arc`: axum clones the state for every request, and the options are a dozen strings.
    pub leptos_options: Arc<LeptosOptions>,
    /// The one-time first-admin token while no user exists.
    pub setup_token: Arc<Mutex<Option<String>>>,
    pub metrics: Arc<Metrics>,
    /// Turns true when the server begins to shut down (ends live streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        LeptosOptions::clone(&state.leptos_options)
    }
}

pub fn leptos_options(site_addr: std::net::SocketAddr) -> LeptosOptions {
    let root = crate::site::site_root();
    LeptosOptions::builder()
        .output_name("purple-cross")
        .site_root(root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .build()
}

/// The full HTTP service over `services` on a free loopback port, in this
/// process, for tests and benchmarks; returns its address.
pub async fn serve_in_process(services: Services) -> std::net::SocketAddr {
    let served = InProcess::start(services).await;
    let addr = served.addr;
    std::mem::forget(served.stop);
    addr
}

/// An in-process HTTP service that can be stopped (benchmarks stop each
/// scenario's server before the next starts).
pub struct InProcess {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl InProcess {
    pub async fn start(services: Services) -> InProcess {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let state = AppState {
            metrics: services.metrics.clone(),
            leptos_options: Arc::new(leptos_options(addr)),
            setup_token: Arc::new(Mutex::new(None)),
            shutdown: stopped.clone(),
            services,
        };
        let mut until = stopped;
        let task = tokio::spawn(async move {
            axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = until.wait_for(|s| *s).await;
                })
                .await
                .expect("the in-process server runs")
        });
        InProcess { addr, stop, task }
    }

    /// Stops taking requests and waits for those under way.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub fn router(state: AppState) -> Router {
    let ctx = app::api::ssr::AppContext { services: state.services.clone() };
    let routes = generate_route_list(app::App);
    let shell_options = LeptosOptions::clone(&state.leptos_options);
    let metrics = state.metrics.clone();
    let body_limit = (state.services.settings.max_payload_bytes * 4).max(1024 * 1024);

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/login", post(auth::login_submit))
        .route("/logout", post(auth::logout))
        .route("/setup", post(auth::setup_submit))
        .route("/live", get(live::live))
        .route("/inspector/{bin}", post(inspector::receive))
        // Room for the envelope and escaping around the largest accepted `data`;
        // ingest itself answers 413 with the limit in words.
        .nest(
            "/api/v1",
            api::routes()
                .merge(records::routes())
                .merge(workflows::routes())
                .merge(inspector::routes())
                .fallback(api_route_not_found)
                .layer(middleware::from_fn(problem::every_error_is_a_problem))
                .layer(axum::extract::DefaultBodyLimit::max(body_limit)),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx.clone()),
            move || app::shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(middleware::from_fn(problem::rpc_bad_arguments_are_4xx))
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(middleware::from_fn(headers::security_headers))
        .layer(middleware::from_fn(move |req: Request<axum::body::Body>, next: middleware::Next| {
            let metrics = metrics.clone();
            async move {
                let method = req.method().to_string();
                let resp = next.run(req).await;
                metrics.http_requests.get_or_create(&HttpLabels { method, status: resp.status().as_u16() }).inc();
                resp
            }
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `purple-cross serve`.
pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let mut targets = domain::ssrf::TargetPolicy::from_allowlist(&args.allow_private_targets)
        .map_err(|e| format!("--allow-private-targets: {e}"))?;
    targets.require_https = args.require_https;
    // The built-in request inspector is a webhook target on this very address.
    targets.inspector = Some(args.bind);
    let timezone = domain::settings::parse_timezone(&args.timezone).map_err(|e| format!("--timezone: {e}"))?;
    let defaults = domain::settings::Settings::default();
    let request_timeout = std::time::Duration::from_secs(args.request_timeout.clamp(1, 300));
    // A lease must outlive the longest attempt and its wait for a request slot
    // (one round of the endpoint's requests, see delivery::dispatch), or a
    // slow request could be sent twice at once.
    let lease_ms = (args.lease_seconds * 1000).max(2 * request_timeout.as_millis() as i64 + 1000);
    let settings = domain::settings::Settings {
        retention_days: args.retention_days,
        connect_timeout: std::time::Duration::from_secs(args.connect_timeout.clamp(1, 60)).min(request_timeout),
        request_timeout,
        auto_disable_after_ms: args.auto_disable_hours.max(1) * 60 * 60 * 1000,
        max_payload_bytes: args.max_payload_kib.clamp(1, 16 * 1024) * 1024,
        timezone,
        smtp_url: args.smtp_url.clone().filter(|u| !u.trim().is_empty()),
        worker: domain::settings::WorkerSettings {
            lease_ms,
            concurrency: args.concurrency.max(1),
            per_endpoint: args.per_endpoint.max(1),
            ..defaults.worker.clone()
        },
        ..defaults
    };
    let services = crate::config::open_with(&args.db, crate::config::MasterKeyUse::Needed, settings, targets).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut background = Vec::new();
    if args.role != ProcessRole::Api {
        background.push(tokio::spawn(services.runner().run(stop_rx.clone())));
        background.push(tokio::spawn(retention_loop(services.clone(), stop_rx.clone())));
    }
    if let Some(url) = args.redis_url.clone() {
        // Redis only speeds instances up (wake-ups, cache invalidation), so the
        // service starts without it and keeps trying in the background.
        let services = services.clone();
        tokio::spawn(async move {
            let mut delay = std::time::Duration::from_secs(1);
            while let Err(e) = domain::signals::connect(&services, &url).await {
                tracing::warn!(error = %e, "Redis is not reachable; instances poll until it is");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(60));
            }
        });
    }
    let setup_token = if services.user_count().await.map_err(|e| e.to_string())? == 0 {
        let token = domain::crypto::random_token();
        println!(
            "No users yet. Create the first admin at http://{}/setup?token={token}\n(or run: purple-cross users create --email you@example.com --role admin)",
            args.bind
        );
        Some(token)
    } else {
        None
    };
    let state = AppState {
        services: services.clone(),
        leptos_options: Arc::new(leptos_options(args.bind)),
        setup_token: Arc::new(Mutex::new(setup_token)),
        metrics: services.metrics.clone(),
        shutdown: stop_rx.clone(),
    };
    tracing::info!(site_root = %state.leptos_options.site_root, "serving site assets");
    let listener =
        tokio::net::TcpListener::bind(args.bind).await.map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    tracing::info!(addr = %args.bind, role = ?args.role, "purple-cross listening");
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut stopping = stop_rx.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let db = services.db.clone();
    let (role, deadline) = (args.role, std::time::Duration::from_secs(args.shutdown_seconds.max(1)));
    let run = async move {
        let served = if role == ProcessRole::Worker {
            // A worker instance still answers health and metrics, nothing else.
            axum::serve(listener, worker_router(state)).with_graceful_shutdown(stopped).await
        } else {
            axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(stopped)
                .await
        };
        for task in background {
            let _ = task.await;
        }
        db.close().await;
        served.map_err(|e| e.to_string())
    };
    let mut signalled = stop_rx.clone();
    let deadline_passed = async move {
        let _ = signalled.wait_for(|s| *s).await;
        tokio::time::sleep(deadline).await;
    };
    tokio::select! {
        outcome = run => outcome?,
        () = deadline_passed => {
            tracing::warn!(seconds = deadline.as_secs(), "shutdown deadline passed with work in hand; exiting anyway");
            // Hand back what is still leased so it is taken up at once (it would
            // be anyway when the leases expire): at-least-once holds either way.
            let release = services.db.release_own_leases(&services.instance, services.now_ms());
            match tokio::time::timeout(std::time::Duration::from_secs(1), release).await {
                Ok(Ok(n)) => tracing::info!(released = n, "handed back the work in hand"),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not hand back the work in hand"),
                Err(_) => tracing::warn!("the database did not answer; leases will expire instead"),
            }
            return Ok(());
        }
    }
    tracing::info!("stopped");
    Ok(())
}

fn worker_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(middleware::from_fn(headers::security_headers))
        .with_state(state)
}

async fn api_route_not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> problem::Problem {
    problem::Problem::new(
        axum::http::StatusCode::NOT_FOUND,
        format!("no API route {}; GET /api/v1/openapi.json lists them", uri.path()),
    )
}

async fn retention_loop(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = services.run_retention().await {
            tracing::error!(error = %e, "retention job failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
