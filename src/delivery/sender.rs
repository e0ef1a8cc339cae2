//! One HTTP attempt: sign, POST, time it, keep a capped response, and say
//! precisely what went wrong.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use crate::settings::Settings;
use crate::signature;
use crate::ssrf::{GuardedResolver, TargetPolicy};

pub const USER_AGENT: &str = concat!("PurpleCross-Webhooks/", env!("CARGO_PKG_VERSION"));

pub struct Sender {
    client: reqwest::Client,
    targets: Arc<TargetPolicy>,
    max_response_bytes: usize,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct AttemptRequest<'a> {
    pub delivery_id: &'a str,
    pub url: &'a str,
    pub body: Bytes,
    /// Signing keys: the current secret first, then a rotated-out one still valid.
    pub keys: Vec<&'a [u8]>,
    /// Custom headers, names lower-cased.
    pub headers: &'a [(String, String)],
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    pub response_body: Option<String>,
    /// Whether bytes of the response that are not storable text (invalid
    /// UTF-8, NUL) were replaced with U+FFFD.
    pub response_body_lossy: bool,
    /// `timeout`, `connect`, `dns`, `tls`, `ssrf`, `http_status`, `invalid_url`, `body`.
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub request_headers: Value,
    /// The receiver's `Retry-After`, in ms, on 429 and 503.
    pub retry_after_ms: Option<u64>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

impl Sender {
    pub fn new(settings: &Settings, targets: Arc<TargetPolicy>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // Keep a connection for every attempt that may be in flight: many webhooks
            // often share one host, and dropping extras means reconnecting for each.
            .pool_max_idle_per_host(settings.worker.concurrency.max(64))
            .tcp_nodelay(true)
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(GuardedResolver::new(targets.clone())))
            .build()
            .expect("the HTTP client configuration is valid");
        Sender { client, targets, max_response_bytes: settings.max_response_bytes }
    }

    pub async fn send(&self, req: &AttemptRequest<'_>, now_ms: i64) -> AttemptResult {
        let timestamp = now_ms / 1000;
        let signature = signature::signature_header(&req.keys, req.delivery_id, timestamp, &req.body);
        let mut headers: Vec<(String, String)> = req.headers.to_vec();
        headers.push(("content-type".into(), "application/json".into()));
        headers.push(("user-agent".into(), USER_AGENT.into()));
        headers.push(("webhook-id".into(), req.delivery_id.to_string()));
        headers.push(("webhook-timestamp".into(), timestamp.to_string()));
        headers.push(("webhook-signature".into(), signature));
        let request_headers = Value::Object(
            headers
                .iter()
                .map(|(k, v)| {
                    // Signatures are safe to show (they do not reveal the secret), and debugging needs them.
                    (k.clone(), Value::String(v.clone()))
                })
                .collect(),
        );

        let started = Instant::now();
        let fail = |class: &str, message: String, started: Instant| AttemptResult {
            started_at: now_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            status_code: None,
            response_body: None,
            response_body_lossy: false,
            error_class: Some(class.to_string()),
            error_message: Some(crate::store::text::storable(&message).into_owned()),
            request_headers: request_headers.clone(),
            retry_after_ms: None,
        };

        let url = match self.targets.check_url(req.url) {
            Ok(url) => url,
            Err(reason) => return fail(refusal_class(&reason), reason, started),
        };

        // The URL as checked, not parsed a second time.
        let mut builder = self.client.post(url).body(req.body.clone());
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                let (class, message) = classify(&e);
                return fail(class, message, started);
            }
        };
        let status = resp.status().as_u16();
        let retry_after_ms = if status == 429 || status == 503 {
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::retry::parse_retry_after(v, chrono::Utc::now()))
        } else {
            None
        };

        let mut body = Vec::new();
        let mut truncated = false;
        let mut body_error = None;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.max_response_bytes.saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(classify(&e));
                    break;
                }
            }
        }
        if truncated {
            // The cap may have cut a character in two: drop its first half rather than call the text invalid.
            if let Err(e) = std::str::from_utf8(&body) {
                if e.error_len().is_none() {
                    body.truncate(e.valid_up_to());
                }
            }
        }
        let (mut text, lossy) = crate::store::text::from_bytes(&body);
        if truncated {
            text.push_str("\n[truncated]");
        }
        let (error_class, error_message) = match body_error {
            Some((class, msg)) if (200..300).contains(&status) => {
                (Some(class.to_string()), Some(crate::store::text::storable(&msg).into_owned()))
            }
            _ if !(200..300).contains(&status) => {
                (Some("http_status".to_string()), Some(format!("receiver answered HTTP {status}")))
            }
            _ => (None, None),
        };
        AttemptResult {
            started_at: now_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            status_code: Some(status),
            response_body: Some(text),
            response_body_lossy: lossy,
            error_class,
            error_message,
            request_headers,
            retry_after_ms,
        }
    }
}

/// The error class of a URL the target policy refused: refusals of private
/// targets all carry the hint naming the allowlist.
fn refusal_class(reason: &str) -> &'static str {
    if reason.contains("PURPLE_CROSS_ALLOW_PRIVATE_TARGETS") {
        "ssrf"
    } else {
        "invalid_url"
    }
}

impl Sender {
    /// A workflow's webhook call: any method, the caller's headers, the same
    /// SSRF guard, timeouts and response cap as deliveries (unsigned: the
    /// receiver is not a subscriber with a secret).
    pub async fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
        now_ms: i64,
    ) -> AttemptResult {
        let started = Instant::now();
        let request_headers =
            Value::Object(headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect());
        let fail = |class: &str, message: String| AttemptResult {
            started_at: now_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            status_code: None,
            response_body: None,
            response_body_lossy: false,
            error_class: Some(class.to_string()),
            error_message: Some(crate::store::text::storable(&message).into_owned()),
            request_headers: request_headers.clone(),
            retry_after_ms: None,
        };
        let checked = match self.targets.check_url(url) {
            Ok(checked) => checked,
            Err(reason) => return fail(refusal_class(&reason), reason),
        };
        let Ok(m) = reqwest::Method::from_bytes(method.as_bytes()) else {
            return fail("invalid_method", format!("{method:?} is not an HTTP method"));
        };
        let mut b = self.client.request(m, checked).body(body);
        if !headers.iter().any(|(k, _)| k == "content-type") {
            b = b.header("content-type", "application/json");
        }
        for (k, v) in headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let resp = match b.send().await {
            Ok(r) => r,
            Err(e) => {
                let (class, message) = classify(&e);
                return fail(class, message);
            }
        };
        let status = resp.status().as_u16();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let (class, message) = classify(&e);
                return fail(class, message);
            }
        };
        let (text, lossy) = crate::store::text::from_bytes(&bytes[..bytes.len().min(self.max_response_bytes)]);
        AttemptResult {
            started_at: now_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            status_code: Some(status),
            response_body: Some(text),
            response_body_lossy: lossy,
            error_class: (!(200..300).contains(&status)).then(|| "http_status".to_string()),
            error_message: (!(200..300).contains(&status)).then(|| format!("the receiver answered HTTP {status}")),
            request_headers,
            retry_after_ms: None,
        }
    }
}

/// What rustls and hyper-rustls say when a TLS handshake fails (an endpoint
/// that speaks plain HTTP on an https URL says "corrupt message").
const TLS_MARKERS: &[&str] =
    &["certificate", "tls", "handshake", "corrupt message", "invalidcontenttype", "alert", "peer misbehaved"];

/// Names the failure of a request in words an operator can act on.
fn classify(e: &reqwest::Error) -> (&'static str, String) {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let lower = chain.to_lowercase();
    let class = if lower.contains("ssrf:") {
        "ssrf"
    } else if e.is_timeout() || lower.contains("timed out") {
        "timeout"
    } else if lower.contains("dns") || lower.contains("failed to lookup") || lower.contains("name or service not known")
    {
        "dns"
    } else if TLS_MARKERS.iter().any(|m| lower.contains(m)) {
        "tls"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "connect"
    };
    (class, chain)
}
