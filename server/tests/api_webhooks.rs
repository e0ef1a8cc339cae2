//! The REST API over HTTP, in-process: status codes, problem details naming
//! fields, pagination, and the webhook operations, on SQLite and PostgreSQL.

use domain::auth::Role;
use domain::testing::TestDb;
use serde_json::{json, Value};

struct Api {
    base: String,
    key: String,
    staff_key: String,
    http: reqwest::Client,
}

impl Api {
    async fn start(db: &TestDb) -> Api {
        let base_services = db.services().await.unwrap();
        let services = domain::Services::with_settings(
            base_services.db.clone(),
            base_services.master_key.clone(),
            domain::settings::Settings::default(),
            domain::ssrf::TargetPolicy::from_allowlist("127.0.0.0/8").unwrap(),
        );
        services.seed_event_types().await.unwrap();
        let key = services.create_api_key(&domain::auth::system(), "admin", Role::Admin).await.unwrap().key;
        let staff_key = services.create_api_key(&domain::auth::system(), "staff", Role::Staff).await.unwrap().key;
        let addr = server::http::serve_in_process(services).await;
        Api { base: format!("http://{addr}/api/v1"), key, staff_key, http: reqwest::Client::new() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

async fn webhook_crud_validation_and_pagination(db: TestDb) {
    let api = Api::start(&db).await;
    use reqwest::Method as M;

    let (s, p) =
        api.call(M::POST, "/webhooks", Some(json!({"name": "", "url": "ftp://x", "events": ["nope.nope"]}))).await;
    assert_eq!(s, 422, "{}: {p}", db.name);
    assert_eq!(p["status"], 422);
    assert_eq!(fields(&p), ["name", "url", "events[0]"]);

    let (s, p) = api
        .call(M::POST, "/webhooks", Some(json!({"name": "x", "url": "http://10.0.0.1/", "events": ["invoice.paid"]})))
        .await;
    assert_eq!(s, 422);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("private"), "{p}");

    let (s, p) = api
        .call(M::POST, "/webhooks", Some(json!({"name": "x", "url": "http://127.0.0.1:1/", "events": "invoice.paid"})))
        .await;
    assert_eq!(s, 422, "wrong JSON type names the field: {p}");
    assert_eq!(fields(&p), ["events"]);

    let (s, created) = api.call(M::POST, "/webhooks", Some(json!({
        "name": "Sync", "url": "http://127.0.0.1:1/hook", "events": ["invoice.paid", "patient.created"],
        "headers": {"X-Clinic": "c1"}, "rateLimit": 10,
        "retryPolicy": {"maxAttempts": 3, "schedule": {"type": "exponential", "baseMs": 1000, "factor": 2.0, "capMs": 60000}}
    }))).await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["retryPolicy"]["maxAttempts"], 3);
    assert_eq!(created["status"], "active");
    assert_eq!(created["createdAt"].as_str().unwrap().len(), 24);
    assert_eq!(created["headers"]["X-Clinic"], "c1", "an admin sees header values");
    // Staff see the names, not the values (they may be receiver credentials).
    let staff_view: Value = api
        .http
        .get(format!("{}/webhooks/{id}", api.base))
        .bearer_auth(&api.staff_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(staff_view["headers"]["X-Clinic"], domain::webhooks::headers::MASKED, "{staff_view}");
    // A masked value sent back keeps the stored one.
    let masked = json!({"headers": {"X-Clinic": domain::webhooks::headers::MASKED}});
    let (s, _) = api.call(M::PUT, &format!("/webhooks/{id}"), Some(masked)).await;
    assert_eq!(s, 200);
    let (_, kept) = api.call(M::GET, &format!("/webhooks/{id}"), None).await;
    assert_eq!(kept["headers"]["X-Clinic"], "c1", "{kept}");

    let (s, upd) = api.call(M::PUT, &format!("/webhooks/{id}"), Some(json!({"active": false, "name": "Sync 2"}))).await;
    assert_eq!(s, 200);
    assert_eq!((upd["name"].as_str(), upd["status"].as_str()), (Some("Sync 2"), Some("paused")));
    assert!(upd.get("secret").is_none(), "updates do not echo the secret");

    // Paused, it misses an event; re-enabled, recover with includeMissed replays it.
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (s, acc) = api.call(M::POST, "/events", Some(json!({"type": "patient.created", "data": {"id": "p1"}}))).await;
    assert_eq!((s, acc["deliveries"].as_i64()), (202, Some(0)), "{acc}");
    let (s, p) = api
        .call(M::POST, &format!("/webhooks/{id}/recover"), Some(json!({"since": since, "includeMissed": true})))
        .await;
    assert_eq!(s, 409, "a paused webhook replays nothing: {p}");
    api.call(M::PUT, &format!("/webhooks/{id}"), Some(json!({"active": true}))).await;
    let (s, p) = api
        .call(M::POST, &format!("/webhooks/{id}/recover"), Some(json!({"since": since, "includeMissed": true})))
        .await;
    assert_eq!((s, p["requeued"].as_i64(), p["replayed"].as_i64()), (202, Some(0), Some(1)), "{p}");
    let (_, page) = api.call(M::GET, &format!("/webhooks/{id}/deliveries?limit=1"), None).await;
    assert_eq!(page["total"], 1);
    assert!(page["nextCursor"].as_str().is_some(), "a full page offers a cursor: {page}");
    let (_, next) = api
        .call(
            M::GET,
            &format!("/webhooks/{id}/deliveries?limit=1&cursor={}", page["nextCursor"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!((next["data"].as_array().unwrap().len(), next["nextCursor"].is_null()), (0, true), "{next}");
    let (s, p) = api.call(M::GET, &format!("/webhooks/{id}/deliveries?cursor=nope"), None).await;
    assert_eq!((s, fields(&p)), (422, vec!["cursor".to_string()]), "{p}");
    api.call(M::PUT, &format!("/webhooks/{id}"), Some(json!({"active": false}))).await;

    for i in 0..25 {
        let (s, _) = api.call(M::POST, "/webhooks", Some(json!({"name": format!("bulk {i:02}"), "url": "https://example.com/h", "events": ["client.created"]}))).await;
        assert_eq!(s, 201);
    }
    let (_, page) = api.call(M::GET, "/webhooks?page=2&limit=10", None).await;
    assert_eq!(
        (page["page"].as_i64(), page["limit"].as_i64(), page["total"].as_i64(), page["totalPages"].as_i64()),
        (Some(2), Some(10), Some(26), Some(3))
    );
    assert_eq!(page["data"].as_array().unwrap().len(), 10);
    let (_, found) = api.call(M::GET, "/webhooks?search=SYNC", None).await;
    assert_eq!(found["total"], 1);

    let (s, _) = api.call(M::GET, "/webhooks/wh_missing", None).await;
    assert_eq!(s, 404);
    let (s, _) = api.call(M::DELETE, &format!("/webhooks/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = api.call(M::GET, &format!("/webhooks/{id}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn events_ingest_catalog_verify_and_roles() {
    let db = TestDb::sqlite().await;
    let api = Api::start(&db).await;
    use reqwest::Method as M;

    let (_, types) = api.call(M::GET, "/event-types", None).await;
    let names: Vec<&str> = types["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for n in ["patient.created", "appointment.completed", "invoice.paid", "lab_test.completed", "webhook.test"] {
        assert!(names.contains(&n), "{n}");
    }
    assert!(types["data"][0]["example"].is_object());

    let (s, acc) = api.call(M::POST, "/events", Some(json!({"type": "invoice.paid", "data": {"id": "inv_1"}}))).await;
    assert_eq!(s, 202);
    assert_eq!(acc["deliveries"], 0);
    assert_eq!(acc["workflowExecutions"], 0);
    let (s, p) = api.call(M::POST, "/events", Some(json!({"type": "invoice.exploded", "data": {}}))).await;
    assert_eq!((s, fields(&p)), (422, vec!["type".to_string()]));
    let big = "x".repeat(300 * 1024);
    let (s, _) = api.call(M::POST, "/events", Some(json!({"type": "invoice.paid", "data": {"blob": big}}))).await;
    assert_eq!(s, 413);
    let resp = api
        .http
        .post(format!("{}/events", api.base))
        .bearer_auth(&api.key)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    let publish_abc = || async {
        api.http
            .post(format!("{}/events", api.base))
            .bearer_auth(&api.key)
            .header("Idempotency-Key", "abc")
            .json(&json!({"type": "invoice.paid", "data": {}}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let (r1, r2) = (publish_abc().await, publish_abc().await);
    assert_eq!(r1["id"], r2["id"]);

    // The verification endpoint explains failures.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let now = chrono::Utc::now().timestamp();
    let body = r#"{"test": 2432232314}"#;
    let key = domain::signature::decode_secret(secret).unwrap();
    let sig = domain::signature::sign(&key, "msg_1", now, body.as_bytes());
    let (_, ok) = api
        .call(
            M::POST,
            "/webhooks/verify",
            Some(json!({"secret": secret, "payload": body,
        "headers": {"webhook-id": "msg_1", "webhook-timestamp": now.to_string(), "webhook-signature": sig}})),
        )
        .await;
    assert_eq!(ok["valid"], true, "{ok}");
    let (_, bad) = api
        .call(
            M::POST,
            "/webhooks/verify",
            Some(json!({"secret": secret, "payload": "{\"test\":1}",
        "headers": {"webhook-id": "msg_1", "webhook-timestamp": now.to_string(), "webhook-signature": sig}})),
        )
        .await;
    assert_eq!(bad["valid"], false);
    assert!(!bad["reason"].as_str().unwrap().is_empty());

    // The OpenAPI document needs no key and lists every seed endpoint.
    let doc: Value = reqwest::get(format!("{}/openapi.json", api.base)).await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/webhooks",
        "/webhooks/{id}",
        "/webhooks/{id}/regenerate-secret",
        "/webhooks/{id}/test",
        "/webhooks/{id}/deliveries",
        "/webhooks/{id}/stats",
        "/webhooks/deliveries/all",
        "/webhooks/analytics",
        "/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from openapi.json");
    }

    // Admin-only views refuse staff keys.
    let staff =
        api.http.get(format!("{}/webhooks/deliveries/all", api.base)).bearer_auth(&api.staff_key).send().await.unwrap();
    assert_eq!(staff.status(), 403);
    let (s, analytics) = api.call(M::GET, "/webhooks/analytics?days=7", None).await;
    assert_eq!(s, 200);
    assert_eq!(analytics["byDay"].as_array().unwrap().len(), 7);
    db.cleanup().await;
}

domain::per_backend!(webhook_crud_validation_and_pagination,);
