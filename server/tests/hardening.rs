//! What a hostile caller or browser finds at the edge, over real HTTP in
//! process: sign-in throttling, the `next` redirect, browser security
//! headers, problem+json for every API error, strict JSON and idempotency
//! keys. Each case is a regression test for a finding of the hardening issue.
//! The edge does not depend on the database, so this runs on SQLite only;
//! the idempotency store is covered on both by the event tests.

use domain::auth::{system, Role};
use domain::testing::TestDb;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use serde_json::{json, Value};

struct Edge {
    base: String,
    key: String,
    staff_key: String,
    /// Does not follow redirects: the tests read `Location`.
    http: reqwest::Client,
    _db: TestDb,
}

async fn edge() -> Edge {
    let db = TestDb::sqlite().await;
    let base = db.services().await.unwrap();
    let mut s = domain::Services::with_settings(
        base.db.clone(),
        base.master_key.clone(),
        domain::settings::Settings::default(),
        domain::ssrf::TargetPolicy::from_allowlist("127.0.0.0/8").unwrap(),
    );
    // Time stands still: a throttle's wait cannot run out while a busy
    // machine hashes the passwords of the attempts before it.
    s.clock = std::sync::Arc::new(domain::clock::ManualClock::new(1_800_000_000_000));
    s.seed_event_types().await.unwrap();
    let key = s.create_api_key(&system(), "admin", Role::Admin).await.unwrap().key;
    let staff_key = s.create_api_key(&system(), "staff", Role::Staff).await.unwrap().key;
    for email in ["vet@example.com", "nurse@example.com", "reception@example.com"] {
        s.create_user(&system(), email, "correct horse battery", Role::Staff).await.unwrap();
    }
    let addr = server::http::serve_in_process(s).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Edge { base: format!("http://{addr}"), key, staff_key, http, _db: db }
}

impl Edge {
    async fn sign_in(&self, email: &str, password: &str, next: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/login", self.base))
            .form(&[("email", email), ("password", password), ("next", next)])
            .send()
            .await
            .unwrap()
    }

    async fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.key)
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

async fn problem(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = r.text().await.unwrap();
    assert_eq!(ct, "application/problem+json", "{status}: {body}");
    (status, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn sign_in_is_throttled_per_account_without_telling_which_emails_exist() {
    let e = edge().await;
    for _ in 0..domain::auth::throttle::FREE_FAILURES_PER_ACCOUNT {
        let r = e.sign_in("vet@example.com", "wrong password", "/").await;
        assert!(location(&r).contains("error=invalid"), "{}", location(&r));
        let r = e.sign_in("nobody@example.com", "wrong password", "/").await;
        assert!(location(&r).contains("error=invalid"), "{}", location(&r));
    }
    // The right password no longer gets in at once: the account must wait.
    let r = e.sign_in("vet@example.com", "correct horse battery", "/").await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("error=throttled&wait=1"), "{}", location(&r));
    assert!(r.headers().get("set-cookie").is_none(), "no session while throttled");
    // An email that does not exist is answered the same way.
    let r = e.sign_in("nobody@example.com", "anything at all", "/").await;
    assert!(location(&r).contains("error=throttled&wait="), "{}", location(&r));
    // Another account is not affected, and the page says what happened.
    let r = e.sign_in("nurse@example.com", "correct horse battery", "/").await;
    assert_eq!(location(&r), "/");
    let page = e.http.get(format!("{}/login?error=throttled&wait=2", e.base)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Too many failed sign-ins. Wait 2 seconds"));
}

#[tokio::test]
async fn next_only_ever_leads_to_a_path_on_this_site() {
    let e = edge().await;
    for hostile in
        ["//evil.example/", "/\\evil.example", "https://evil.example/", "/\t/evil.example", "/a\r\nX-Evil: 1"]
    {
        let r = e.sign_in("reception@example.com", "correct horse battery", hostile).await;
        assert_eq!(r.status(), 303, "{hostile:?}");
        assert_eq!(location(&r), "/", "{hostile:?}");
        assert!(r.headers().get("set-cookie").is_some());
    }
    let r = e.sign_in("reception@example.com", "correct horse battery", "/workflows?tab=runs").await;
    assert_eq!(location(&r), "/workflows?tab=runs");
}

#[tokio::test]
async fn pages_and_api_answers_carry_browser_security_headers() {
    let e = edge().await;
    let page = e.http.get(format!("{}/login", e.base)).send().await.unwrap();
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_string();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the response's nonce");
    let again = e.http.get(format!("{}/login", e.base)).send().await.unwrap();
    assert!(!again.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().contains(&nonce), "a new nonce each time");

    let api = e.api(reqwest::Method::GET, "/me").await.send().await.unwrap();
    assert_eq!(api.status(), 200);
    assert_eq!(api.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().split(';').next(), Some("default-src 'none'"));
    assert_eq!(api.headers()[CACHE_CONTROL], "no-store");
    let unauthenticated = e.http.get(format!("{}/api/v1/me", e.base)).send().await.unwrap();
    assert_eq!(unauthenticated.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn every_api_error_is_problem_json_with_the_right_status() {
    let e = edge().await;
    let (status, p) = problem(e.api(reqwest::Method::GET, "/no-such-thing").await.send().await.unwrap()).await;
    assert_eq!((status, p["status"].as_i64()), (404, Some(404)));
    assert!(p["detail"].as_str().unwrap().contains("/api/v1/no-such-thing"));

    let r = e.api(reqwest::Method::DELETE, "/events").await.send().await.unwrap();
    let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
    let (status, _) = problem(r).await;
    assert_eq!(status, 405);
    assert!(allow.is_some_and(|a| a.contains("POST")));

    let (status, p) =
        problem(e.api(reqwest::Method::GET, "/notifications?limit=lots").await.send().await.unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "limit", "{p}");

    // A valid document followed by more is not JSON; nothing is published.
    let body = r#"{"type": "invoice.paid", "data": {"invoiceId": "inv_1"}} {"type": "invoice.paid"}"#;
    let r = e.api(reqwest::Method::POST, "/events").await.header(CONTENT_TYPE, "application/json").body(body);
    let (status, p) = problem(r.send().await.unwrap()).await;
    assert_eq!(status, 400, "{p}");
    let deep = format!(r#"{{"type": "invoice.paid", "data": {{"x": {}{}}}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let r = e.api(reqwest::Method::POST, "/events").await.header(CONTENT_TYPE, "application/json").body(deep);
    assert_eq!(problem(r.send().await.unwrap()).await.0, 400);

    // Unknown fields are refused everywhere, naming the field.
    for (path, body) in [
        ("/api-keys", json!({"name": "x", "role": "staff", "admin": true})),
        (
            "/event-types",
            json!({"name": "x.y", "description": "", "schema": {}, "example": {}, "strict": false,
                   "builtin": false, "extra": 1}),
        ),
    ] {
        let (status, p) = problem(e.api(reqwest::Method::POST, path).await.json(&body).send().await.unwrap()).await;
        assert_eq!(status, 422, "{path}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("unknown field"), "{path}: {p}");
    }
}

#[tokio::test]
async fn huge_invalid_input_gets_a_small_answer_and_bad_urls_are_refused() {
    let e = edge().await;
    let events: Vec<String> = (0..10_000).map(|i| format!("no.such.event.{i}")).collect();
    let body = json!({"name": "Flood", "url": "http://127.0.0.1:9/hook", "events": events});
    let r = e.api(reqwest::Method::POST, "/webhooks").await.json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 422);
    assert!(text.len() < 64 * 1024, "a {} byte answer", text.len());

    for url in ["http:///path", "http://127.0.0.1:0/hook"] {
        let body = json!({"name": "Bad", "url": url, "events": ["invoice.paid"]});
        let (status, p) =
            problem(e.api(reqwest::Method::POST, "/webhooks").await.json(&body).send().await.unwrap()).await;
        assert_eq!(status, 422, "{url}");
        assert_eq!(p["errors"][0]["field"], "url", "{url}: {p}");
    }
    let (_, list) = problem_or_json(e.api(reqwest::Method::GET, "/webhooks").await.send().await.unwrap()).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "nothing half-written: {list}");
}

async fn problem_or_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn idempotency_keys_are_honoured_for_any_utf8_and_refused_otherwise() {
    let e = edge().await;
    let publish = |key: reqwest::header::HeaderValue, invoice: &'static str| {
        let e = &e;
        async move {
            e.api(reqwest::Method::POST, "/events")
                .await
                .header("idempotency-key", key)
                .json(&json!({"type": "invoice.paid", "data": {"invoiceId": invoice}}))
                .send()
                .await
                .unwrap()
        }
    };
    let unicode = reqwest::header::HeaderValue::from_bytes("clé-😀-1".as_bytes()).unwrap();
    let first = publish(unicode.clone(), "inv_1").await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again = publish(unicode.clone(), "inv_1").await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"], "the same answer, no second event");

    let (status, p) = problem(publish(unicode, "inv_2").await).await;
    assert_eq!(status, 409, "the same key for another event: {p}");

    let not_utf8 = reqwest::header::HeaderValue::from_bytes(b"key-\xff\xfe").unwrap();
    let (status, p) = problem(publish(not_utf8, "inv_3").await).await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn server_functions_answer_unreadable_arguments_with_4xx() {
    let e = edge().await;
    let signed_in = e.sign_in("vet@example.com", "correct horse battery", "/").await;
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    // The browser sends JSON (codec::Rpc), a form posted without JavaScript
    // sends form fields: the same function reads both.
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let call = |content_type: &'static str, body: &'static str| {
        e.http
            .post(format!("{}/rpc/list_webhooks", e.base))
            .header("cookie", &cookie)
            .header(CONTENT_TYPE, content_type)
            .body(body)
    };
    let cases = [
        (form, "page=1&search=", 200),
        (form, "page=lots&search=", 400),
        (form, "page=1", 400),
        (form, "%%%", 400),
        (json, r#"{"page": 1, "search": ""}"#, 200),
        (json, r#"{"page": "lots", "search": ""}"#, 400),
        (json, r#"{"page": 1}"#, 400),
        (json, "{", 400),
    ];
    for (content_type, body, status) in cases {
        let r = call(content_type, body).send().await.unwrap();
        assert_eq!(r.status(), status, "{content_type} {body:?}: {}", r.text().await.unwrap());
    }
}

#[tokio::test]
async fn a_staff_caller_is_refused_before_its_body_is_judged() {
    let e = edge().await;
    let staff = e.staff_key.clone();
    for (method, path) in [
        (reqwest::Method::POST, "/api-keys"),
        (reqwest::Method::POST, "/event-types"),
        (reqwest::Method::POST, "/webhooks"),
        (reqwest::Method::PUT, "/webhooks/wh_none"),
        (reqwest::Method::POST, "/webhooks/wh_none/regenerate-secret"),
        (reqwest::Method::POST, "/webhooks/wh_none/recover"),
        (reqwest::Method::POST, "/workflow-templates"),
        (reqwest::Method::PUT, "/workflow-templates/wft_none"),
        (reqwest::Method::POST, "/workflow-executions/execute"),
        (reqwest::Method::PUT, "/email-templates/x"),
    ] {
        let r = e
            .http
            .request(method.clone(), format!("{}/api/v1{path}", e.base))
            .bearer_auth(&staff)
            .json(&json!({"not": "what this route takes"}))
            .send()
            .await
            .unwrap();
        let (status, p) = problem(r).await;
        assert_eq!(status, 403, "{method} {path}: {p}");
    }
}
