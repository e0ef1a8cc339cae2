//! Who is calling: API keys for `/api/v1`, a session cookie for pages and
//! server functions; plus sign-in, sign-out, first-run setup and the
//! cross-site request check.
//!
//! Every route needs a principal except the few in [`is_public`].

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use domain::auth::{Principal, Role};
use serde::Deserialize;

use super::problem::Problem;
use super::AppState;

pub const SESSION_COOKIE: &str = "pc_session";

fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz"
            | "/readyz"
            | "/metrics"
            | "/login"
            | "/setup"
            | "/favicon.ico"
            | "/favicon.svg"
            | "/api/v1/openapi.json"
    ) || path.starts_with("/pkg/")
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
}

/// Refuses state-changing browser requests that another site started. Browsers
/// send `Sec-Fetch-Site` (or at least `Origin`) on such requests; clients
/// that send neither are not browsers, and so cannot be tricked into it.
fn cross_site(req: &Request<Body>) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

async fn session_principal(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let token = session_token(headers)?;
    match state.services.principal_for_session(&token).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            None
        }
    }
}

/// The authentication middleware in front of every route.
pub async fn authenticate(State(state): State<AppState>, mut req: Request<Body>, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if cross_site(&req) {
        return Problem::new(StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    // The receiving end of the demo webhooks (POST only): it only keeps what is posted to it.
    let inspector_post = req.method() == Method::POST && path.starts_with("/inspector/");
    if is_public(&path) || inspector_post {
        return next.run(req).await;
    }

    let principal = if path.starts_with("/api/") {
        match bearer_token(req.headers()) {
            Some(key) => match state.services.principal_for_api_key(key).await {
                Ok(p) => p,
                Err(e) => return Problem::from(e).into_response(),
            },
            None => session_principal(&state, req.headers()).await,
        }
    } else {
        session_principal(&state, req.headers()).await
    };

    match principal {
        Some(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        None if path.starts_with("/api/") || path.starts_with("/rpc/") || path == "/live" => {
            Problem::unauthorized().into_response()
        }
        None => {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let mut login = format!("/login?next={}", urlencode(target));
            if state.services.user_count().await.unwrap_or(1) == 0 {
                login.push_str("&first_run=1");
            }
            Redirect::to(&login).into_response()
        }
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn session_cookie(token: String, headers: &HeaderMap) -> String {
    let https =
        headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(cookie::time::Duration::milliseconds(domain::services::SESSION_TTL_MS))
        .build()
        .to_string()
}

fn signed_in(token: String, headers: &HeaderMap, next: &str) -> Response {
    let mut resp = Redirect::to(next).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&session_cookie(token, headers)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /login` from the sign-in form.
pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = wire::auth::safe_next_path(form.next.as_deref()).to_string();
    let back = |code: &str| {
        Redirect::to(&format!("/login?error={code}&email={}&next={}", urlencode(form.email.trim()), urlencode(&next)))
            .into_response()
    };
    if form.email.trim().is_empty() || form.password.is_empty() {
        return back("missing");
    }
    match state.services.login(&form.email, &form.password, Some(peer.ip())).await {
        Ok((token, who)) => {
            tracing::info!(user = %who.name, "signed in");
            signed_in(token, &headers, &next)
        }
        Err(domain::Error::Unauthorized) => {
            tracing::info!(email = %form.email.trim(), "sign-in refused");
            back("invalid")
        }
        Err(domain::Error::TooManyRequests(ms)) => {
            tracing::warn!(email = %form.email.trim(), peer = %peer.ip(), "sign-in throttled");
            back(&format!("throttled&wait={}", domain::error::retry_after_seconds(ms)))
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        if let Err(e) = state.services.logout(&token).await {
            return Problem::from(e).into_response();
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    let cleared = Cookie::build((SESSION_COOKIE, "")).path("/").max_age(cookie::time::Duration::ZERO).build();
    if let Ok(v) = header::HeaderValue::from_str(&cleared.to_string()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// `on` when the demo practice should be loaded too.
    #[serde(default)]
    demo: Option<String>,
}

/// `POST /setup`: the one-time first-admin form, valid only while no user exists.
pub async fn setup_submit(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SetupForm>) -> Response {
    let expected = state.setup_token.lock().expect("setup token lock").clone();
    let token_ok =
        expected.as_deref().is_some_and(|t| domain::crypto::constant_time_eq(t.as_bytes(), form.token.as_bytes()));
    if !token_ok || state.services.user_count().await.unwrap_or(1) > 0 {
        return Redirect::to("/login?error=setup").into_response();
    }
    let again = |msg: String| {
        Redirect::to(&format!("/setup?token={}&error={}", urlencode(&form.token), urlencode(&msg))).into_response()
    };
    if let Err(e) = state.services.create_user(&domain::auth::system(), &form.email, &form.password, Role::Admin).await
    {
        return again(crate::cli::describe(&e));
    }
    *state.setup_token.lock().expect("setup token lock") = None;
    if form.demo.as_deref() == Some("on") {
        let base = format!("http://{}", state.leptos_options.site_addr);
        if let Err(e) = state.services.load_demo(&domain::auth::system(), &base, false).await {
            tracing::warn!(error = %e, "the demo practice was not loaded");
        }
    }
    match state.services.login(&form.email, &form.password, None).await {
        Ok((token, _)) => signed_in(token, &headers, "/"),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().method(method).uri("/rpc/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn cross_site_requests_are_detected() {
        assert!(!cross_site(&req(Method::GET, &[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&req(Method::POST, &[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&req(Method::POST, &[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&req(Method::POST, &[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&req(Method::POST, &[("origin", "https://evil.example"), ("host", "127.0.0.1:3000")])));
        assert!(!cross_site(&req(Method::POST, &[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")])));
        assert!(!cross_site(&req(Method::POST, &[])), "curl sends neither header");
    }

    #[test]
    fn bearer_tokens_parse() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer pck_abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("pck_abc"));
        h.insert(header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
