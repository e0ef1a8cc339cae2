//! Every REST route and every server function, called with no credentials,
//! a revoked key (or ended session), a staff caller and an admin caller:
//! 401, 401, then 2xx or 403 by the table below, and never 401/403 for an
//! admin. The table must name every route the OpenAPI document lists and
//! every registered server function, so a new one cannot skip the check.

use std::collections::BTreeSet;

use domain::auth::{system, Role};
use domain::testing::TestDb;
use serde_json::{json, Value};

struct Fixture {
    base: String,
    http: reqwest::Client,
    admin_key: String,
    staff_key: String,
    revoked_key: String,
    admin_cookie: String,
    staff_cookie: String,
    ended_cookie: String,
    webhook_id: String,
    delivery_id: String,
    client_id: String,
    template_id: String,
    execution_id: String,
}

async fn fixture() -> (Fixture, TestDb) {
    let db = TestDb::sqlite().await;
    let base = db.services().await.unwrap();
    let s = domain::Services::with_settings(
        base.db.clone(),
        base.master_key.clone(),
        domain::settings::Settings::default(),
        domain::ssrf::TargetPolicy::from_allowlist("127.0.0.0/8").unwrap(),
    );
    s.seed_event_types().await.unwrap();
    let sys = system();
    let admin_key = s.create_api_key(&sys, "admin", Role::Admin).await.unwrap().key;
    let staff_key = s.create_api_key(&sys, "staff", Role::Staff).await.unwrap().key;
    let revoked = s.create_api_key(&sys, "gone", Role::Admin).await.unwrap();
    s.revoke_api_key(&sys, &revoked.id).await.unwrap();
    s.create_user(&sys, "admin@example.com", "correct horse battery", Role::Admin).await.unwrap();
    s.create_user(&sys, "staff@example.com", "staff password 123", Role::Staff).await.unwrap();
    let cookie = |t: String| format!("pc_session={t}");
    let admin_cookie = cookie(s.login("admin@example.com", "correct horse battery", None).await.unwrap().0);
    let staff_cookie = cookie(s.login("staff@example.com", "staff password 123", None).await.unwrap().0);
    let (ended, _) = s.login("staff@example.com", "staff password 123", None).await.unwrap();
    s.logout(&ended).await.unwrap();
    let input =
        serde_json::from_value(json!({"name": "Roles", "url": "http://127.0.0.1:9/hook", "events": ["invoice.paid"]}))
            .unwrap();
    let w = s.create_webhook(&sys, input).await.unwrap();
    let delivery_id = s.test_webhook(&sys, &w.id).await.unwrap().delivery_id;
    let fields = json!({"firstName": "Ann", "lastName": "Roe"});
    let client = s.create_record(&sys, domain::records::Entity::Client, fields, &Default::default()).await.unwrap();
    let t = serde_json::from_value(json!({"name": "Roles", "category": "patient_care", "triggerType": "manual",
        "actions": [{"id": "w", "type": "wait", "config": {"duration": 86400000}}]}))
    .unwrap();
    let template = s.create_template(&sys, t).await.unwrap();
    let execution = s.execute_template(&sys, &template.id, Default::default()).await.unwrap();
    let addr = server::http::serve_in_process(s).await;
    let f = Fixture {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        admin_key,
        staff_key,
        revoked_key: revoked.key,
        admin_cookie,
        staff_cookie,
        ended_cookie: cookie(ended),
        webhook_id: w.id,
        delivery_id,
        client_id: client.id,
        template_id: template.id,
        execution_id: execution.execution_id,
    };
    (f, db)
}

/// A REST route: method, path as the OpenAPI document writes it, whether staff may call it, a body.
struct Route(&'static str, &'static str, bool, Option<Value>);

fn rest_table() -> Vec<Route> {
    let wh = json!({"name": "New", "url": "http://127.0.0.1:9/new", "events": ["invoice.paid"]});
    vec![
        Route("GET", "/me", true, None),
        Route("GET", "/api-keys", false, None),
        Route("POST", "/api-keys", false, Some(json!({"name": "k", "role": "staff"}))),
        Route("POST", "/events", true, Some(json!({"type": "invoice.paid", "data": {}}))),
        Route("GET", "/event-types", true, None),
        Route(
            "POST",
            "/event-types",
            false,
            Some(
                json!({"name": "custom.thing", "description": "", "schema": {}, "example": {}, "strict": false, "builtin": false}),
            ),
        ),
        Route("GET", "/notifications", true, None),
        Route("GET", "/queue/dead", false, None),
        Route("POST", "/queue/dead/{id}/retry", false, None),
        Route("GET", "/webhooks", true, None),
        Route("POST", "/webhooks", false, Some(wh)),
        Route("GET", "/webhooks/analytics", true, None),
        Route("POST", "/webhooks/verify", true, Some(json!({"secret": "whsec_AAAA", "headers": {}, "payload": ""}))),
        Route("GET", "/webhooks/deliveries/all", false, None),
        Route("GET", "/webhooks/deliveries/{id}", true, None),
        Route("POST", "/webhooks/deliveries/{id}/retry", true, None),
        Route("GET", "/webhooks/{id}", true, None),
        Route("PUT", "/webhooks/{id}", false, Some(json!({"name": "Renamed"}))),
        Route("POST", "/webhooks/{id}/regenerate-secret", false, None),
        Route("POST", "/webhooks/{id}/test", true, None),
        Route("GET", "/webhooks/{id}/deliveries", true, None),
        Route("GET", "/webhooks/{id}/stats", true, None),
        Route("POST", "/webhooks/{id}/recover", false, Some(json!({"since": "2026-01-01T00:00:00Z"}))),
        Route("GET", "/inspector", true, None),
        Route("GET", "/inspector/{bin}", true, None),
        Route("GET", "/records", true, None),
        Route("GET", "/records/{entity}", true, None),
        Route("POST", "/records/{entity}", true, Some(json!({"firstName": "Sam", "lastName": "Lee"}))),
        Route("GET", "/records/{entity}/{id}", true, None),
        Route("PUT", "/records/{entity}/{id}", true, Some(json!({"phone": "+44 1", "version": 1}))),
        Route("GET", "/records/{entity}/{id}/events", true, None),
        Route("POST", "/records/{entity}/{id}/{transition}", false, None),
        Route("GET", "/workflow-templates", true, None),
        Route(
            "POST",
            "/workflow-templates",
            false,
            Some(json!({"name": "New", "triggerType": "manual", "actions": []})),
        ),
        Route("GET", "/workflow-templates/popular", true, None),
        Route("GET", "/workflow-templates/categories", true, None),
        Route("GET", "/workflow-templates/category/{category}", true, None),
        Route("GET", "/workflow-templates/{id}", true, None),
        Route("PUT", "/workflow-templates/{id}", false, Some(json!({"description": "Changed"}))),
        Route("GET", "/workflow-templates/{id}/versions", true, None),
        Route("POST", "/workflow-templates/{id}/execute", true, Some(json!({"triggerData": {}}))),
        Route("POST", "/workflow-templates/{id}/dry-run", true, Some(json!({"triggerData": {}}))),
        Route(
            "POST",
            "/workflow-executions/dry-run",
            true,
            Some(json!({"actions": [{"id": "w", "type": "wait", "config": {"duration": 1000}}]})),
        ),
        Route("GET", "/workflow-executions", true, None),
        Route("GET", "/workflow-executions/stats", true, None),
        Route("GET", "/workflow-executions/recent", true, None),
        Route(
            "POST",
            "/workflow-executions/execute",
            false,
            Some(json!({"actions": [{"id": "w", "type": "wait", "config": {"duration": 1000}}]})),
        ),
        Route("GET", "/workflow-executions/{id}", true, None),
        Route("POST", "/workflow-executions/{id}/retry", false, None),
        Route("POST", "/workflow-executions/{id}/cancel", false, None),
        Route("GET", "/email-templates", true, None),
        Route("PUT", "/email-templates/{name}", false, Some(json!({"subject": "Hi", "text": "Hello"}))),
        Route("GET", "/outbox", true, None),
        // Destructive ones last: the admin pass runs in this order.
        Route("DELETE", "/email-templates/{name}", false, None),
        Route("DELETE", "/workflow-templates/{id}", false, None),
        Route("DELETE", "/records/{entity}/{id}", false, None),
        Route("DELETE", "/queue/dead/{id}", false, None),
        Route("DELETE", "/api-keys/{id}", false, None),
        Route("DELETE", "/webhooks/{id}", false, None),
    ]
}

impl Fixture {
    fn path(&self, route: &Route) -> String {
        if route.1.starts_with("/records") {
            // A client record; `{transition}` is `restore`, which only admins may do.
            return format!("{}/api/v1{}", self.base, route.1)
                .replace("{entity}", "client")
                .replace("{id}", &self.client_id)
                .replace("{transition}", "restore");
        }
        let id = if route.1.starts_with("/webhooks/deliveries/") {
            self.delivery_id.as_str()
        } else if route.1.starts_with("/webhooks/") {
            self.webhook_id.as_str()
        } else if route.1.starts_with("/workflow-templates/") {
            self.template_id.as_str()
        } else if route.1.starts_with("/workflow-executions/") {
            self.execution_id.as_str()
        } else {
            "missing_id"
        };
        format!(
            "{}/api/v1{}",
            self.base,
            route
                .1
                .replace("{id}", id)
                .replace("{bin}", "clinic-sync")
                .replace("{category}", "patient_care")
                .replace("{name}", "clinic_note")
        )
    }

    async fn rest(&self, route: &Route, key: Option<&str>) -> u16 {
        let method = reqwest::Method::from_bytes(route.0.as_bytes()).unwrap();
        let mut req = self.http.request(method, self.path(route));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = &route.3 {
            req = req.json(b);
        }
        req.send().await.unwrap().status().as_u16()
    }

    async fn rpc(&self, f: &Rpc, cookie: Option<&str>) -> (u16, String) {
        let mut req = self.http.post(format!("{}/rpc/{}", self.base, f.0));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let args =
            f.2.replace("{webhook}", &self.webhook_id)
                .replace("{delivery}", &self.delivery_id)
                .replace("{client}", &self.client_id)
                .replace("{template}", &self.template_id)
                .replace("{execution}", &self.execution_id);
        req = if f.3 {
            req.header("content-type", "application/json").body(args)
        } else {
            req.header("content-type", "application/x-www-form-urlencoded").body(args)
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn every_rest_route_answers_by_role() {
    let (f, _db) = fixture().await;
    let table = rest_table();
    let doc: Value = f.http.get(format!("{}/api/v1/openapi.json", f.base)).send().await.unwrap().json().await.unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let tabled: BTreeSet<(String, String)> = table.iter().map(|r| (r.0.to_string(), r.1.to_string())).collect();
    assert_eq!(documented, tabled, "the table names exactly the documented routes");

    for r in &table {
        assert_eq!(f.rest(r, None).await, 401, "{} {} without credentials", r.0, r.1);
        assert_eq!(f.rest(r, Some(&f.revoked_key)).await, 401, "{} {} with a revoked key", r.0, r.1);
        let staff = f.rest(r, Some(&f.staff_key)).await;
        if r.2 {
            assert!((200..300).contains(&staff), "{} {}: staff may, got {staff}", r.0, r.1);
        } else {
            assert_eq!(staff, 403, "{} {}: staff may not", r.0, r.1);
        }
    }
    for r in &table {
        let admin = f.rest(r, Some(&f.admin_key)).await;
        assert!(!matches!(admin, 401 | 403) && admin < 500, "{} {}: admins may do everything, got {admin}", r.0, r.1);
    }
}

/// A server function: name, whether staff may call it, its arguments, whether they are JSON.
struct Rpc(&'static str, bool, &'static str, bool);

fn rpc_table() -> Vec<Rpc> {
    vec![
        Rpc("whoami", true, "", false),
        Rpc("list_api_keys", false, "", false),
        Rpc("create_api_key", false, "name=k&role=staff", false),
        Rpc("list_webhooks", true, "page=1&search=", false),
        Rpc("event_catalog", true, "", false),
        Rpc(
            "create_webhook",
            false,
            r#"{"input":{"name":"New","url":"http://127.0.0.1:9/new","events":["invoice.paid"]}}"#,
            true,
        ),
        Rpc("update_webhook", false, r#"{"id":"{webhook}","input":{"name":"Renamed"}}"#, true),
        Rpc("set_webhook_active", false, "id={webhook}&active=true", false),
        Rpc("test_webhook", true, "id={webhook}", false),
        Rpc("get_webhook", true, "id={webhook}", false),
        Rpc("webhook_stats", true, "id={webhook}", false),
        Rpc("webhook_series", true, "id={webhook}&days=7", false),
        Rpc("list_deliveries", true, "webhook_id={webhook}&page=1&status=&event=", false),
        Rpc("get_delivery", true, "id={delivery}", false),
        Rpc("retry_delivery", true, "id={delivery}", false),
        Rpc("regenerate_secret", false, "id={webhook}&revoke_now=false", false),
        Rpc("recover_failed", false, "id={webhook}&since=2026-01-01&include_missed=false", false),
        Rpc("analytics", true, "days=7", false),
        Rpc("live_stats", true, "", false),
        Rpc("list_notifications", true, "", false),
        Rpc("mark_notifications_read", true, "id=", false),
        Rpc("unhealthy_webhooks", true, "", false),
        Rpc("list_records", true, "entity_name=client&search=&status=&cursor=", false),
        Rpc("record_detail", true, "entity_name=client&id={client}", false),
        Rpc("inspector_bins", true, "", false),
        Rpc("inspector_requests", true, "bin=demo", false),
        Rpc("workflow_templates", true, "search=", false),
        Rpc("run_template", true, "id={template}&trigger_data=%7B%7D", false),
        Rpc("set_template_active", false, "id={template}&active=true", false),
        Rpc("set_template_public", false, "id={template}&public=true", false),
        Rpc("duplicate_template", false, "id={template}", false),
        Rpc("template_unfinished", true, "id={template}", false),
        Rpc("delete_template", false, "id=wft_none", false),
        Rpc("workflow_executions", true, "status=&template_id=&since=&cursor=", false),
        Rpc("builder_catalog", true, "", false),
        Rpc("builder_template", true, "id={template}", false),
        Rpc("save_template", false, r#"{"id":"{template}","input":{"name":"Renamed"}}"#, true),
        Rpc("schedule_preview", true, "cron=0%208%20*%20*%20MON&timezone=Europe%2FLondon", false),
        Rpc(
            "dry_run_draft",
            true,
            r#"{"actions":[{"id":"a","type":"wait","config":{"duration":1000}}],"trigger_data":"{}"}"#,
            true,
        ),
        Rpc("keep_draft", false, r#"{"id":"{template}","base_version":1,"body":{"name":"Half done"}}"#, true),
        Rpc("load_draft", false, "id={template}", false),
        Rpc("discard_draft", false, "id={template}", false),
        Rpc("template_versions", true, "id={template}", false),
        Rpc("template_activity", true, "id={template}", false),
        Rpc("execution_stats", true, "", false),
        Rpc("email_template_list", true, "", false),
        Rpc("save_email_template", false, r#"{"name":"clinic_note","input":{"subject":"S","text":"T"}}"#, true),
        Rpc("delete_email_template", false, "name=clinic_note", false),
        Rpc(
            "preview_email_template",
            true,
            r#"{"input":{"subject":"S","text":"T","html":"<p>{{ 1 }}</p>"},"trigger_data":{}}"#,
            true,
        ),
        Rpc("execution_detail", true, "id={execution}", false),
        Rpc("retry_workflow_execution", false, "id={execution}", false),
        Rpc("cancel_workflow_execution", false, "id={execution}", false),
        Rpc("outbox_emails", true, "", false),
        Rpc("revoke_api_key", false, "id=key_missing", false),
        Rpc("delete_webhook", false, "id={webhook}", false),
    ]
}

#[tokio::test]
async fn every_server_function_answers_by_role() {
    let (f, _db) = fixture().await;
    let table = rpc_table();
    let registered: BTreeSet<String> =
        server_fn::axum::server_fn_paths().map(|(p, _)| p.trim_start_matches("/rpc/").to_string()).collect();
    let tabled: BTreeSet<String> = table.iter().map(|r| r.0.to_string()).collect();
    assert_eq!(registered, tabled, "the table names exactly the registered server functions");

    for r in &table {
        assert_eq!(f.rpc(r, None).await.0, 401, "{} signed out", r.0);
        assert_eq!(f.rpc(r, Some(&f.ended_cookie)).await.0, 401, "{} with an ended session", r.0);
        let (staff, body) = f.rpc(r, Some(&f.staff_cookie)).await;
        if r.1 {
            assert!((200..300).contains(&staff), "{}: staff may, got {staff} {body}", r.0);
        } else {
            assert_eq!(staff, 403, "{}: staff may not ({body})", r.0);
        }
    }
    for r in &table {
        let (admin, body) = f.rpc(r, Some(&f.admin_cookie)).await;
        assert!(!matches!(admin, 401 | 403) && admin < 500, "{}: admins may, got {admin} {body}", r.0);
    }
}

/// Unreadable arguments to any server function are the caller's mistake:
/// 4xx, never a 5xx, whatever the function.
#[tokio::test]
async fn every_server_function_refuses_garbage_with_4xx() {
    let (f, _db) = fixture().await;
    let huge = "x=".to_string() + &"y".repeat(3 * 1024 * 1024);
    let bodies: [(&str, &str); 5] = [
        ("application/x-www-form-urlencoded", "%ZZ=%%%&id"),
        ("application/x-www-form-urlencoded", "id=\u{0}&page=-1&days=99999999999999999999"),
        ("application/json", "{\"id\": [1, {\"deep\": null}"),
        ("application/json", "[]"),
        ("application/x-www-form-urlencoded", huge.as_str()),
    ];
    for r in rpc_table() {
        for (content_type, body) in bodies {
            let resp = f
                .http
                .post(format!("{}/rpc/{}", f.base, r.0))
                .header("cookie", &f.admin_cookie)
                .header("content-type", content_type)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            assert!(status < 500, "{} with {:.40?}: {status} {:.200}", r.0, body, text);
        }
    }
}
