//! Browser security headers on every response.
//!
//! Pages set their own Content-Security-Policy with a per-response nonce
//! (`app::shell`); everything else (JSON, problem details, assets, event
//! streams) gets a policy that allows nothing, since none of it is meant to
//! run as a document. Responses are `no-store` unless they are the site's
//! static assets: pages, API answers and server function results carry
//! personal data or secrets.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;

const NOTHING_RUNS: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.ico" | "/favicon.svg")
}

pub async fn security_headers(mut req: Request<Body>, next: Next) -> Response {
    let cacheable = is_static_asset(req.uri().path());
    let page_policy = app::PagePolicy::default();
    req.extensions_mut().insert(page_policy.clone());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A page rendered for this request left its policy (with its nonce) here.
    let from_page = page_policy.0.lock().ok().and_then(|mut p| p.take()).and_then(|p| HeaderValue::from_str(&p).ok());
    match from_page {
        Some(p) => {
            h.insert(header::CONTENT_SECURITY_POLICY, p);
        }
        None => {
            h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(NOTHING_RUNS));
        }
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The setup link carries a one-time token in its query: never send it on.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_site_assets_may_be_cached() {
        assert!(is_static_asset("/pkg/purple-cross.wasm"));
        assert!(is_static_asset("/favicon.svg"));
        assert!(!is_static_asset("/api/v1/webhooks"));
        assert!(!is_static_asset("/rpc/whoami"));
        assert!(!is_static_asset("/"));
    }
}
