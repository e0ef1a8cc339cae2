//! Records over REST (ETag, If-Match, 409, 422 naming fields) and the demo
//! practice delivering signed requests to the built-in inspector, in-process.

use std::time::{Duration, Instant};

use domain::auth::{system, Role};
use domain::testing::TestDb;
use serde_json::{json, Value};

struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
    services: domain::Services,
}

async fn start(db: &TestDb) -> Api {
    let base = db.services().await.unwrap();
    let settings = domain::settings::Settings {
        worker: domain::settings::WorkerSettings { idle_poll_ms: 50, ..Default::default() },
        ..Default::default()
    };
    let s = domain::Services::with_settings(
        base.db.clone(),
        base.master_key.clone(),
        settings,
        domain::ssrf::TargetPolicy::from_allowlist("127.0.0.0/8").unwrap(),
    );
    s.seed_event_types().await.unwrap();
    let key = s.create_api_key(&system(), "admin", Role::Admin).await.unwrap().key;
    let addr = server::http::serve_in_process(s.clone()).await;
    Api { base: format!("http://{addr}"), key, http: reqwest::Client::new(), services: s }
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        let mut req = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let etag = resp.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), etag)
    }
}

async fn records_over_rest(db: TestDb) {
    use reqwest::Method as M;
    let api = start(&db).await;
    let (s, p, _) = api.call(M::POST, "/records/patient", Some(json!({"name": "", "species": "dog"})), None).await;
    assert_eq!(s, 422, "{}: {p}", db.name);
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"ownerId"), "{fields:?}");
    let (s, c, etag) =
        api.call(M::POST, "/records/client", Some(json!({"firstName": "Sam", "lastName": "Lee"})), None).await;
    assert_eq!((s, etag.as_deref()), (201, Some("\"1\"")));
    let id = c["id"].as_str().unwrap();
    let (s, _, etag) =
        api.call(M::PUT, &format!("/records/client/{id}"), Some(json!({"phone": "1"})), Some("\"1\"")).await;
    assert_eq!((s, etag.as_deref()), (200, Some("\"2\"")));
    let (s, p, _) =
        api.call(M::PUT, &format!("/records/client/{id}"), Some(json!({"phone": "2"})), Some("\"1\"")).await;
    assert_eq!(s, 409, "a stale If-Match: {p}");
    assert_eq!(p["type"], "about:blank");
    let (_, now, _) = api.call(M::GET, &format!("/records/client/{id}"), None, None).await;
    assert_eq!((now["version"].clone(), now["phone"].clone()), (json!(2), json!("1")));
    let (s, _, _) = api.call(M::POST, "/records/unicorn", Some(json!({})), None).await;
    assert_eq!(s, 404);
    let (s, list, _) = api.call(M::GET, "/records/client?search=sam&limit=10", None, None).await;
    assert_eq!((s, list["data"].as_array().unwrap().len()), (200, 1));
    let (s, schemas, _) = api.call(M::GET, "/records", None, None).await;
    assert_eq!((s, schemas.as_array().unwrap().len()), (200, 7));
    let (s, events, _) = api.call(M::GET, &format!("/records/client/{id}/events"), None, None).await;
    assert_eq!((s, events.as_array().unwrap().len()), (200, 2));
}

async fn the_demo_delivers_signed_requests_to_the_inspector(db: TestDb) {
    let api = start(&db).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(api.services.runner().run(rx));
    api.services.load_demo(&system(), &api.base, false).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut bins = Vec::new();
    while Instant::now() < deadline {
        bins = api.services.inspector_bins(&system()).await.unwrap();
        if bins.iter().map(|b| b.requests).sum::<i64>() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bins.len(), 2, "{}: both demo webhooks delivered: {bins:?}", db.name);
    let seen = api.services.inspector_requests(&system(), "clinic-sync", 5).await.unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|r| r.signature.as_deref() == Some("valid")), "{seen:?}");
    assert!(seen[0].headers.contains_key("webhook-id"));
    let (s, listed, _) = api.call(reqwest::Method::GET, "/inspector/billing", None, None).await;
    assert!(s == 200 && listed.as_array().is_some_and(|a| !a.is_empty()), "{listed}");
    let _ = stop.send(true);
    let _ = runner.await;
}

domain::per_backend!(records_over_rest, the_demo_delivers_signed_requests_to_the_inspector);
