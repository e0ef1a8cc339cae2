//! What each action does in a step. Pure decisions where possible (the wait
//! time, the branch, the rendered email); the writes happen in the step's
//! transaction, which the engine commits with the step's outcome.

use serde_json::{json, Value};
use wire::condition::ConditionGroup;
use wire::workflows::Action;

use super::render;
use super::store::{self, EmailRow, ExecutionRow};
use crate::auth::Principal;
use crate::ids::new_id;
use crate::records::{Cause, Entity};
use crate::store::Tx;
use crate::webhooks::Accepted;
use crate::{Error, Result, Services};

/// What a step came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done; `branch` is the list a condition chose (0 then, 1 else).
    Done { output: Value, branch: Option<usize> },
    /// Wait until then (ms); `anchor` is the record time the wait follows.
    Wait { until: i64, anchor: Option<Anchor> },
    /// Try again then, after a failure that may pass (a webhook's 503).
    Retry { at: i64, error: String, output: Value },
    /// The step failed, and with it the execution.
    Failed { error: String },
    /// Waiting for executions it started (branches, a sub-workflow); they wake it when they end.
    Join { output: Value },
}

/// A wait that follows a record's time: `until` is `record.field` + `offset_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub record_id: String,
    pub field: String,
    pub offset_ms: i64,
}

/// The engine's view of one step: the execution, its variables, the clock.
pub struct StepContext<'a> {
    pub services: &'a Services,
    pub execution: &'a ExecutionRow,
    pub vars: &'a Value,
    pub now: i64,
    pub env: &'a minijinja::Environment<'static>,
    /// The cause chain changes made by this step carry.
    pub cause: Cause,
    /// Attempts of this step before this one (webhook retries).
    pub attempts: i64,
}

impl StepContext<'_> {
    fn idempotency_key(&self, action: &Action) -> String {
        format!("{}:{}", self.execution.id, action.id)
    }

    fn render(&self, v: &Value) -> std::result::Result<Value, String> {
        render::render_value(self.env, v, self.vars)
    }
}

/// The wait's end, and what it follows: `duration` from now, or `until` (+ `offsetMs`).
pub fn wait_until(cx: &StepContext<'_>, action: &Action) -> Outcome {
    let c = &action.config;
    if let Some(ms) = c.get("duration").and_then(Value::as_i64) {
        return Outcome::Wait { until: cx.now + ms, anchor: None };
    }
    let Some(source) = c.get("until").and_then(Value::as_str) else {
        return Outcome::Failed { error: "config.until: is missing".into() };
    };
    let offset = c.get("offsetMs").and_then(Value::as_i64).unwrap_or(0);
    let rendered = match render::render(cx.env, source, cx.vars) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed { error: format!("config.until: {e}") },
    };
    let Some(at) = crate::records::time::parse_time(rendered.trim(), cx.services.settings.timezone) else {
        return Outcome::Failed { error: format!("config.until: {rendered:?} is not a time") };
    };
    Outcome::Wait { until: at + offset, anchor: anchor_of(source, cx.vars, offset) }
}

/// `{{ appointment.startsAt }}` names a record's field: the wait follows it when the record changes.
fn anchor_of(source: &str, vars: &Value, offset_ms: i64) -> Option<Anchor> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let (key, field) = inner.split_once('.')?;
    if field.contains(['.', '|', ' ']) {
        return None;
    }
    let record_id = vars.get(key)?.get("id")?.as_str()?;
    Entity::of_id(record_id)?;
    Some(Anchor { record_id: record_id.to_string(), field: field.to_string(), offset_ms })
}

pub fn condition(cx: &StepContext<'_>, action: &Action) -> Outcome {
    let c = &action.config;
    let group = json!({"logic": c.get("logic").cloned().unwrap_or(json!("AND")), "conditions": c.get("conditions").cloned().unwrap_or(json!([]))});
    match serde_json::from_value::<ConditionGroup>(group) {
        Ok(g) => {
            let taken = g.evaluate(cx.vars);
            Outcome::Done {
                output: json!({"result": taken, "branch": if taken { "then" } else { "else" }}),
                branch: Some(usize::from(!taken)),
            }
        }
        Err(e) => Outcome::Failed { error: format!("config.conditions: {e}") },
    }
}

/// Renders the email and keeps it in the outbox (queued for SMTP when configured), once per step.
pub async fn send_email(cx: &StepContext<'_>, tx: &mut Tx, action: &Action) -> Result<Outcome> {
    let c = &action.config;
    let field = |k: &str| -> std::result::Result<Option<String>, String> {
        match c.get(k) {
            None => Ok(None),
            Some(v) => cx
                .render(v)
                .map(|r| match r {
                    Value::String(s) => Some(s),
                    Value::Array(a) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
                    other => Some(other.to_string()),
                })
                .map_err(|e| format!("config.{k}: {e}")),
        }
    };
    let rendered = (|| -> std::result::Result<_, String> {
        Ok((field("to")?, field("cc")?, field("subject")?, field("body")?, field("template")?))
    })();
    let (to, cc, subject, body, template) = match rendered {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed { error: e }),
    };
    let to = match super::email::addresses(to.as_deref().unwrap_or_default()) {
        Ok(list) => list,
        Err(e) => return Ok(Outcome::Failed { error: format!("config.to: {e}") }),
    };
    let cc = match cc.filter(|c| !c.trim().is_empty()) {
        None => Vec::new(),
        Some(c) => match super::email::addresses(&c) {
            Ok(list) => list,
            Err(e) => return Ok(Outcome::Failed { error: format!("config.cc: {e}") }),
        },
    };
    let (mut final_subject, mut text, mut html) =
        (subject.clone().unwrap_or_default(), body.clone().unwrap_or_default(), None);
    if let Some(name) = &template {
        let Some(t) = super::store::email_template_in(tx, name).await? else {
            return Ok(Outcome::Failed { error: format!("config.template: there is no email template {name:?}") });
        };
        let pieces =
            super::email::render_template(cx.env, &t, cx.vars).map_err(|e| format!("email template {name} {e}"));
        match pieces {
            Ok((s, tx_body, h)) => {
                if subject.is_none() {
                    final_subject = s;
                }
                text = if body.is_some() { text } else { tx_body };
                html = h;
            }
            Err(e) => return Ok(Outcome::Failed { error: e }),
        }
    }
    let smtp = cx.services.settings.smtp_url.is_some();
    let email = EmailRow {
        id: new_id("eml"),
        idempotency_key: Some(cx.idempotency_key(action)),
        to_addrs: serde_json::to_string(&to).expect("strings serialise"),
        cc_addrs: serde_json::to_string(&cc).expect("strings serialise"),
        subject: final_subject.chars().take(500).collect(),
        text_body: text,
        html_body: html,
        template: template.clone(),
        status: if smtp { "queued".into() } else { "kept".into() },
        error: None,
        execution_id: Some(cx.execution.id.clone()),
        created_at: cx.now,
        sent_at: None,
    };
    let id = store::insert_email(tx, &email).await?;
    if smtp {
        crate::due::store::schedule(tx, &new_id("due"), crate::due::kinds::EMAIL, &id, "email", cx.now, cx.now).await?;
    }
    Ok(Outcome::Done {
        output: json!({"emailId": id, "to": to, "subject": email.subject, "status": email.status}),
        branch: None,
    })
}

pub async fn send_notification(cx: &StepContext<'_>, tx: &mut Tx, action: &Action) -> Result<Outcome> {
    let rendered = match cx.render(&action.config) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed { error: format!("config: {e}") }),
    };
    let text = |k: &str| rendered.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let audience = rendered.get("to").cloned().unwrap_or(json!({"roles": ["admin"]}));
    let id = crate::notifications::insert_for(
        tx,
        "workflow",
        &text("title"),
        &text("message"),
        Some(&text("link")).filter(|l| !l.is_empty()).map(String::as_str),
        Some(&audience),
        cx.now,
    )
    .await?;
    Ok(Outcome::Done { output: json!({"notificationId": id, "to": audience}), branch: None })
}

/// Creates or changes a practice record in the step's transaction (with its event).
pub async fn record(
    cx: &StepContext<'_>,
    tx: &mut Tx,
    action: &Action,
    caller: &Principal,
) -> Result<(Outcome, Vec<Accepted>)> {
    let rendered = match cx.render(&action.config) {
        Ok(r) => r,
        Err(e) => return Ok((Outcome::Failed { error: format!("config: {e}") }, Vec::new())),
    };
    let entity = rendered.get("entity").and_then(Value::as_str).and_then(Entity::parse);
    let Some(entity) = entity else {
        return Ok((Outcome::Failed { error: "config.entity: is not a kind of record".into() }, Vec::new()));
    };
    let result = if action.action_type == "create_record" {
        let fields = typed(rendered.get("fields").cloned().unwrap_or(json!({})));
        cx.services.create_record_in(tx, caller, entity, fields, &cx.cause).await
    } else {
        let id = rendered.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let changes = typed(rendered.get("changes").cloned().unwrap_or(json!({})));
        cx.services.update_record_in(tx, caller, entity, &id, changes, &cx.cause).await
    };
    Ok(match result {
        Ok((record, emitted)) => {
            (Outcome::Done { output: serde_json::to_value(&record).map_err(Error::internal)?, branch: None }, emitted)
        }
        Err(Error::Validation(errs)) => {
            let why = errs.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
            (Outcome::Failed { error: format!("the {} was refused: {why}", entity.label().to_lowercase()) }, Vec::new())
        }
        Err(e @ (Error::Conflict(_) | Error::NotFound(_) | Error::Forbidden(_))) => {
            (Outcome::Failed { error: e.to_string() }, Vec::new())
        }
        Err(e) => return Err(e),
    })
}

/// Rendered templates are text; fields that read as numbers or booleans
/// (`"12.5"`, `"true"`) become those, so `{{ steps['a'].weight }}` can fill a number.
fn typed(v: Value) -> Value {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(n @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => n,
            _ => Value::String(s),
        },
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, typed(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(typed).collect()),
        other => other,
    }
}

/// Calls the webhook (outside any transaction): SSRF-checked, with the step's idempotency key.
pub async fn webhook(cx: &StepContext<'_>, action: &Action) -> Outcome {
    let rendered = match cx.render(&action.config) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed { error: format!("config: {e}") },
    };
    let method = rendered.get("method").and_then(Value::as_str).unwrap_or("POST").to_string();
    let url = rendered.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
    let body = match rendered.get("body") {
        None => json!({"executionId": cx.execution.id, "data": cx.vars.get("trigger").cloned().unwrap_or(Value::Null)})
            .to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let mut headers: Vec<(String, String)> = rendered
        .get("headers")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    headers.push(("idempotency-key".into(), cx.idempotency_key(action)));
    let result = cx.services.sender.call(&method, &url, &headers, bytes::Bytes::from(body), cx.now).await;
    let output = json!({"status": result.status_code, "body": result.response_body.as_deref().map(|b| serde_json::from_str::<Value>(b).unwrap_or(Value::String(b.to_string()))), "durationMs": result.duration_ms});
    if result.succeeded() {
        return Outcome::Done { output, branch: None };
    }
    let error = result.error_message.unwrap_or_else(|| "the call failed".into());
    let retryable =
        result.status_code.is_none_or(|s| s >= 500 || s == 429) && result.error_class.as_deref() != Some("ssrf");
    if retryable && cx.attempts < 2 {
        let delay = 5_000i64 << cx.attempts;
        return Outcome::Retry { at: cx.now + delay, error, output };
    }
    Outcome::Failed { error }
}
