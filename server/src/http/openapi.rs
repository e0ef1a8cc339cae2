//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the REST API.

use axum::Json;
use serde_json::{json, Value};

fn op(summary: &str, tag: &str, ok: (&str, &str), body: Option<&str>) -> Value {
    let mut o = json!({
        "summary": summary,
        "tags": [tag],
        "responses": {
            ok.0: {"description": ok.1, "content": {"application/json": {"schema": {"type": "object"}}}},
            "401": {"$ref": "#/components/responses/Problem"},
            "403": {"$ref": "#/components/responses/Problem"},
            "404": {"$ref": "#/components/responses/Problem"},
            "422": {"$ref": "#/components/responses/Problem"}
        }
    });
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

fn id_param() -> Value {
    json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}])
}

fn page_params() -> Value {
    json!([
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
        {"name": "status", "in": "query", "schema": {"enum": ["pending", "succeeded", "failed"]}},
        {"name": "event", "in": "query", "schema": {"type": "string"}},
        {"name": "search", "in": "query", "schema": {"type": "string"}},
        {"name": "cursor", "in": "query", "description": "nextCursor of the previous page of deliveries (keyset paging, fast at any depth; page is then ignored)", "schema": {"type": "string"}}
    ])
}

pub fn document() -> Value {
    let with = |mut o: Value, params: Value| {
        o["parameters"] = params;
        o
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Purple Cross Automations",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Webhooks and workflow automation for the Purple Cross veterinary platform. Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 problem details."
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/events": {"post": op("Publish an event (202); `Idempotency-Key` or `id` makes it idempotent for 24 h", "events", ("202", "Accepted"), Some("EventInput"))},
            "/event-types": {
                "get": op("The event catalog with JSON Schemas and examples", "events", ("200", "Catalog"), None),
                "post": op("Register a custom event type (admin)", "events", ("201", "Registered"), Some("EventType"))
            },
            "/webhooks": {
                "get": with(op("List webhooks", "webhooks", ("200", "A page of webhooks"), None), page_params()),
                "post": op("Create a webhook (returns its secret)", "webhooks", ("201", "Created"), Some("WebhookInput"))
            },
            "/webhooks/{id}": {
                "get": with(op("A webhook (the secret for admins)", "webhooks", ("200", "Webhook"), None), id_param()),
                "put": with(op("Update a webhook; absent fields keep their value", "webhooks", ("200", "Updated"), Some("WebhookInput")), id_param()),
                "delete": with(op("Delete a webhook and its history", "webhooks", ("204", "Deleted"), None), id_param())
            },
            "/webhooks/{id}/regenerate-secret": {"post": with(op("New secret; the old one signs for 24 h more unless `revokeImmediately`", "webhooks", ("200", "Webhook with its new secret"), None), id_param())},
            "/webhooks/{id}/test": {"post": with(op("Send `webhook.test` now and report the attempt", "webhooks", ("200", "Test result"), None), id_param())},
            "/webhooks/{id}/deliveries": {"get": with(op("Delivery history of a webhook, newest first", "deliveries", ("200", "A page of deliveries"), None), page_params())},
            "/webhooks/{id}/stats": {"get": with(op("Counts by status, success rate, p50/p95 latency", "webhooks", ("200", "Stats"), None), id_param())},
            "/webhooks/{id}/recover": {"post": with(op("Re-queue every failed delivery since a time and, with includeMissed, send the events missed while disabled", "deliveries", ("202", "How many were re-queued and replayed"), Some("RecoverInput")), id_param())},
            "/webhooks/deliveries/all": {"get": with(op("All deliveries (admin)", "deliveries", ("200", "A page of deliveries"), None), page_params())},
            "/webhooks/deliveries/{id}": {"get": with(op("A delivery with every attempt", "deliveries", ("200", "Delivery"), None), id_param())},
            "/webhooks/deliveries/{id}/retry": {"post": with(op("Send a delivery again (same webhook-id)", "deliveries", ("200", "Delivery"), None), id_param())},
            "/webhooks/analytics": {"get": op("Totals, per event type and per day (admin)", "webhooks", ("200", "Analytics"), None)},
            "/webhooks/verify": {"post": op("Check a received payload's Standard Webhooks signature and say why it fails", "webhooks", ("200", "{valid, reason}"), Some("VerifyInput"))},
            "/me": {"get": op("The caller", "auth", ("200", "Principal"), None)},
            "/api-keys": {
                "get": op("API keys (admin; never their plaintext)", "auth", ("200", "Keys"), None),
                "post": op("Create an API key (admin); the key is shown once", "auth", ("201", "Key"), Some("ApiKeyInput"))
            },
            "/api-keys/{id}": {"delete": with(op("Revoke an API key (admin)", "auth", ("204", "Revoked"), None), id_param())}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Problem": {"description": "Problem details", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
            "schemas": {
                "Problem": {"type": "object", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}},
                "EventInput": {"type": "object", "required": ["type", "data"], "properties": {
                    "id": {"type": "string"}, "type": {"type": "string", "examples": ["appointment.completed"]}, "data": {"type": "object"}}},
                "EventType": {"type": "object", "required": ["name", "schema"], "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"}, "schema": {"type": "object"}, "example": {}, "strict": {"type": "boolean"}}},
                "Condition": {"type": "object", "required": ["field", "operator"], "properties": {
                    "field": {"type": "string"}, "operator": {"enum": ["equals", "not_equals", "greater_than", "less_than", "contains", "not_contains", "is_empty", "is_not_empty"]}, "value": {}}},
                "RetryPolicy": {"type": "object", "properties": {
                    "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 50},
                    "schedule": {"oneOf": [
                        {"type": "object", "properties": {"type": {"const": "exponential"}, "baseMs": {"type": "integer"}, "factor": {"type": "number"}, "capMs": {"type": "integer"}}},
                        {"type": "object", "properties": {"type": {"const": "fixed"}, "delaysMs": {"type": "array", "items": {"type": "integer"}}}}]},
                    "jitter": {"type": "number", "minimum": 0, "maximum": 1}}},
                "WebhookInput": {"type": "object", "properties": {
                    "name": {"type": "string"}, "url": {"type": "string", "format": "uri"}, "events": {"type": "array", "items": {"type": "string"}},
                    "active": {"type": "boolean"}, "secret": {"type": "string", "pattern": "^whsec_"},
                    "filter": {"type": ["object", "null"], "properties": {"logic": {"enum": ["AND", "OR"]}, "conditions": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}}}},
                    "retryPolicy": {"anyOf": [{"$ref": "#/components/schemas/RetryPolicy"}, {"type": "null"}]},
                    "rateLimit": {"type": ["integer", "null"], "minimum": 1},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "RecoverInput": {"type": "object", "required": ["since"], "properties": {"since": {"type": "string", "format": "date-time"}, "includeMissed": {"type": "boolean", "default": false}}},
                "VerifyInput": {"type": "object", "required": ["secret", "headers", "payload"], "properties": {
                    "secret": {"type": "string"}, "headers": {"type": "object", "additionalProperties": {"type": "string"}}, "payload": {"type": "string"}}},
                "ApiKeyInput": {"type": "object", "required": ["name", "role"], "properties": {"name": {"type": "string"}, "role": {"enum": ["admin", "staff"]}}}
            }
        }
    })
}

pub async fn openapi() -> Json<Value> {
    Json(document())
}
