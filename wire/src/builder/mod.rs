//! The visual builder's pure logic, shared by the browser and its tests: the
//! draft being edited, its action tree ([`tree`]), undo and redo
//! ([`history`]), what the variable picker offers, and how server errors find
//! their card and field.

pub mod history;
pub mod starters;
pub mod tree;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::workflows::{TemplateInput, TriggerType, WorkflowTemplate};
use tree::Node;

/// A template as the builder edits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub name: String,
    pub description: String,
    pub category: String,
    pub trigger_type: TriggerType,
    pub trigger_config: Value,
    pub flow: Vec<Node>,
    pub is_active: bool,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            name: String::new(),
            description: String::new(),
            category: "general".into(),
            trigger_type: TriggerType::Manual,
            trigger_config: json!({}),
            flow: Vec::new(),
            is_active: true,
        }
    }
}

impl Draft {
    pub fn from_template(t: &WorkflowTemplate) -> Draft {
        Draft {
            name: t.name.clone(),
            description: t.description.clone(),
            category: t.category.clone(),
            trigger_type: t.trigger_type,
            trigger_config: t.trigger_config.clone(),
            flow: tree::from_actions(&t.actions),
            is_active: t.is_active,
        }
    }

    /// What create and update take; a trigger's settings are only those of its type.
    pub fn to_input(&self) -> TemplateInput {
        let keep: &[&str] = match self.trigger_type {
            TriggerType::Manual => &[],
            TriggerType::Event => &["event", "conditions"],
            TriggerType::Schedule => &["cron", "timezone"],
        };
        let mut config = serde_json::Map::new();
        for k in keep {
            if let Some(v) = self.trigger_config.get(*k).filter(|v| !v.is_null()) {
                config.insert((*k).to_string(), v.clone());
            }
        }
        TemplateInput {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            category: Some(self.category.clone()),
            trigger_type: Some(self.trigger_type.as_str().into()),
            trigger_config: Some(Value::Object(config)),
            actions: Some(serde_json::to_value(tree::to_actions(&self.flow)).unwrap_or(json!([]))),
            is_public: None,
            is_active: Some(self.is_active),
        }
    }
}

/// The `field: message; field: message` text of a validation error, as pairs.
pub fn field_errors(message: &str) -> Vec<(String, String)> {
    message
        .split("; ")
        .filter_map(|part| {
            let (field, msg) = part.split_once(": ")?;
            let looks_like_field =
                !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || "._[]-'".contains(c));
            looks_like_field.then(|| (field.to_string(), msg.to_string()))
        })
        .collect()
}

/// The dotted paths of every leaf of a JSON example (`patient.owner.email`).
pub fn leaf_paths(example: &Value) -> Vec<String> {
    fn go(v: &Value, prefix: &str, out: &mut Vec<String>, depth: usize) {
        match v {
            Value::Object(m) if depth < 6 => {
                for (k, inner) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    go(inner, &p, out, depth + 1);
                }
            }
            _ if !prefix.is_empty() => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(example, "", &mut out, 0);
    out
}

/// The fields of an action's step output, as later steps read them
/// (`steps.x.subject`): what the engine's actions put there. A record step's
/// output is the record, so its entity's fields come too.
pub fn output_fields(action: &crate::workflows::Action, entity_fields: &[(String, Vec<String>)]) -> Vec<String> {
    let fixed: &[&str] = match action.action_type.as_str() {
        "send_email" => &["emailId", "to", "subject", "status"],
        "send_notification" => &["notificationId", "to"],
        "condition" => &["result", "branch"],
        "webhook" => &["status", "body", "durationMs"],
        "wait" => &["waitedUntil"],
        "parallel" => &["branches"],
        "run_workflow" => &["executionId"],
        "create_record" | "update_record" => &["id", "version", "createdAt", "updatedAt"],
        _ => &[],
    };
    let mut out: Vec<String> = fixed.iter().map(|f| f.to_string()).collect();
    if matches!(action.action_type.as_str(), "create_record" | "update_record") {
        let entity = action.config.get("entity").and_then(Value::as_str).unwrap_or_default();
        if let Some((_, fields)) = entity_fields.iter().find(|(e, _)| e == entity) {
            out.extend(fields.iter().filter(|f| !out.contains(f)).cloned().collect::<Vec<_>>());
        }
    }
    out
}

/// What the variable picker offers an action: the trigger's data (an event's
/// example, or for manual starts the records known ids bring in), then the
/// outputs of the actions before it (each step, and each field of its
/// output: `before` holds their ids and [`output_fields`]), then the
/// execution's own.
pub fn variables(
    event_example: Option<&Value>,
    records: &[(String, Vec<String>)],
    before: &[(String, Vec<String>)],
) -> Vec<String> {
    let mut out: Vec<String> = match event_example {
        Some(example) => leaf_paths(example),
        None => records.iter().flat_map(|(root, fields)| fields.iter().map(move |f| format!("{root}.{f}"))).collect(),
    };
    for (id, fields) in before {
        let step = if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            format!("steps.{id}")
        } else {
            format!("steps['{id}']")
        };
        out.extend(fields.iter().map(|f| format!("{step}.{f}")));
        out.push(step);
    }
    out.extend(["execution.id".to_string(), "now".to_string()]);
    out.dedup();
    out
}

/// A wait's milliseconds as the form shows them: an amount and a unit.
pub fn duration_parts(ms: i64) -> (i64, &'static str) {
    for (unit, size) in [("days", 86_400_000), ("hours", 3_600_000), ("minutes", 60_000), ("seconds", 1000)] {
        if ms != 0 && ms % size == 0 {
            return (ms / size, unit);
        }
    }
    (ms, "milliseconds")
}

pub fn unit_ms(unit: &str) -> i64 {
    match unit {
        "days" => 86_400_000,
        "hours" => 3_600_000,
        "minutes" => 60_000,
        "seconds" => 1000,
        _ => 1,
    }
}

/// What a person typed as a condition's value: a number, `true`, `false` or
/// `null` as themselves, anything else as text.
pub fn typed_value(text: &str) -> Value {
    let t = text.trim();
    match t {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => t.parse::<serde_json::Number>().map(Value::Number).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// The text a condition's value is edited as (the inverse of [`typed_value`]).
pub fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// What the builder needs to know besides the draft, loaded once per page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Event names with an example of their data.
    pub events: Vec<(String, Value)>,
    pub email_templates: Vec<String>,
    /// Other templates a `run_workflow` may start: id and name.
    pub templates: Vec<(String, String)>,
    /// The record variables manual starts bring in (`patient` → its fields).
    pub records: Vec<(String, Vec<String>)>,
    /// Each record entity's fields, for create and update forms.
    pub entity_fields: Vec<(String, Vec<String>)>,
    /// The "start from a template" gallery: slug and template input. Sent by
    /// the server so that the browser's WASM does not carry the library.
    pub starters: Vec<(String, Value)>,
}

/// The record variables known ids bring in, from the entities' JSON Schemas:
/// each entity under its key, and a patient's owner under `patient.owner`.
pub fn record_roots(schemas: &[crate::records::EntitySchema]) -> Vec<(String, Vec<String>)> {
    let fields = |s: &crate::records::EntitySchema| -> Vec<String> {
        let mut f: Vec<String> = vec!["id".into()];
        f.extend(s.schema.get("properties").and_then(Value::as_object).into_iter().flat_map(|p| p.keys().cloned()));
        f.dedup();
        f
    };
    let mut out: Vec<(String, Vec<String>)> = schemas.iter().map(|s| (s.entity.key().to_string(), fields(s))).collect();
    if let Some(client) = schemas.iter().find(|s| s.entity == crate::records::Entity::Client) {
        out.insert(1.min(out.len()), ("patient.owner".into(), fields(client)));
    }
    out
}

/// The variables a template text names (`{{ patient.owner.email | upper }}` →
/// `patient.owner.email`) that the picker does not offer, nor any of its
/// prefixes or extensions; the server still has the last word when it runs.
pub fn unknown_variables(text: &str, offered: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        // An unclosed tag is a syntax error, which the server names.
        let Some(end) = after.find("}}") else { break };
        let expr = after[..end].trim();
        let name: String = expr.chars().take_while(|c| c.is_ascii_alphanumeric() || "_.[]'-".contains(*c)).collect();
        let name = name.trim_end_matches('.').to_string();
        let starts_like_a_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let known = |v: &String| {
            v == &name
                || v.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('.') || r.starts_with('['))
                || name.strip_prefix(v.as_str()).is_some_and(|r| r.starts_with('.') || r.starts_with('['))
        };
        let roots = ["trigger", "steps", "execution", "now", "loop", "true", "false", "none"];
        let root = name.split(['.', '[']).next().unwrap_or_default();
        let builtin = roots.contains(&root) && root != "steps";
        if starts_like_a_name && !builtin && !offered.iter().any(known) && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end..];
    }
    out
}

impl Draft {
    /// The draft a template input's JSON describes (the JSON view's text, a starter).
    pub fn from_json(json: Value) -> Result<Draft, String> {
        let input: TemplateInput = serde_json::from_value(json).map_err(|e| e.to_string())?;
        Draft::from_input(&input)
    }

    /// The draft the JSON view's text describes (a template input, as the API takes it).
    pub fn from_input(input: &TemplateInput) -> Result<Draft, String> {
        let trigger_type = match input.trigger_type.as_deref() {
            None => TriggerType::Manual,
            Some(t) => {
                TriggerType::parse(t).ok_or_else(|| format!("triggerType: {t} is not manual, event or schedule"))?
            }
        };
        let actions: Vec<crate::workflows::Action> = match &input.actions {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("actions: {e}"))?,
        };
        let d = Draft::default();
        Ok(Draft {
            name: input.name.clone().unwrap_or_default(),
            description: input.description.clone().unwrap_or_default(),
            category: input.category.clone().unwrap_or(d.category),
            trigger_type,
            trigger_config: input.trigger_config.clone().unwrap_or(json!({})),
            flow: tree::from_actions(&actions),
            is_active: input.is_active.unwrap_or(true),
        })
    }
}

/// Two texts side by side, line by line: equal lines pair up, a line only
/// in one side faces a gap. (A longest-common-subsequence diff; versions are
/// a few hundred lines at most.)
pub fn side_by_side(left: &str, right: &str) -> Vec<(Option<String>, Option<String>)> {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push((Some(a[i].to_string()), Some(b[j].to_string())));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push((None, Some(b[j].to_string())));
            j += 1;
        } else {
            out.push((Some(a[i].to_string()), None));
            i += 1;
        }
    }
    out
}
