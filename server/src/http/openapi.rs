//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the REST API,
//! derived from the handlers' `#[utoipa::path]` and the wire types, so it
//! cannot drift from what the API accepts and answers.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::problem::Problem;
use super::{api, inspector, records, workflows};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Purple Cross Automations",
        description = "Webhooks and workflow automation for the Purple Cross veterinary platform. Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 problem details (`application/problem+json`) naming the invalid fields."
    ),
    servers((url = "/api/v1")),
    security(("bearer" = [])),
    paths(
        api::me, api::list_keys, api::create_key, api::revoke_key,
        api::publish, api::event_types, api::register_event_type, api::notifications,
        api::dead_work, api::retry_dead_work, api::discard_dead_work,
        api::list_webhooks, api::create_webhook, api::get_webhook, api::update_webhook, api::delete_webhook,
        api::regenerate_secret, api::test_webhook, api::webhook_deliveries, api::all_deliveries, api::delivery,
        api::retry_delivery, api::webhook_stats, api::analytics, api::recover, api::verify,
        records::schemas, records::list, records::create, records::read, records::update, records::remove,
        records::transition, records::events, inspector::bins, inspector::requests,
        workflows::create_template, workflows::list_templates, workflows::popular_templates, workflows::categories,
        workflows::templates_in_category, workflows::get_template, workflows::update_template,
        workflows::delete_template, workflows::template_versions, workflows::execute_template,
        workflows::dry_run_template, workflows::dry_run_draft,
        workflows::list_executions, workflows::execution_stats, workflows::recent_executions,
        workflows::execute_custom, workflows::get_execution, workflows::cancel_execution, workflows::retry_execution,
        workflows::email_templates, workflows::put_email_template, workflows::delete_email_template,
        workflows::outbox,
    ),
    // ConditionNode is recursive (groups nest), so it is registered by hand.
    components(schemas(Problem, wire::condition::ConditionNode)),
    modifiers(&Common)
)]
struct ApiDoc;

/// What every operation shares: bearer authentication and problem-details errors.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let problem = ResponseBuilder::new()
            .description("Problem details: what went wrong, and for invalid input which fields")
            .content(
                "application/problem+json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .build();
        components.responses.insert("Problem".to_string(), RefOr::T(problem));
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                add_problems(op);
            }
        }
    }
}

fn add_problems(op: &mut Operation) {
    let mut codes = vec!["400", "401", "403", "404", "409", "422"];
    if op.request_body.is_some() {
        codes.extend(["413", "415"]);
    }
    for code in codes {
        op.responses
            .responses
            .entry(code.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::new("#/components/responses/Problem")));
    }
}

pub fn document() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    serde_json::to_value(doc).expect("the OpenAPI document serialises")
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in the document names something the document defines.
    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external ref {r}"));
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
        assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    }

    #[test]
    fn operations_have_real_schemas() {
        let doc = document();
        let ok = &doc["paths"]["/webhooks/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(ok["$ref"], "#/components/schemas/Webhook");
        let webhook = &doc["components"]["schemas"]["Webhook"]["properties"];
        for field in ["id", "name", "url", "events", "active", "status", "retryPolicy", "createdAt"] {
            assert!(webhook.get(field).is_some(), "Webhook.{field} is documented");
        }
        assert!(doc["paths"]["/events"]["post"]["requestBody"].is_object());
    }

    fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "$ref" {
                        out.push(v.as_str().unwrap_or_default().to_string());
                    } else {
                        collect_refs(v, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
