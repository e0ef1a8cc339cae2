//! Pure rules of workflow templates: validating actions (errors name the
//! field, `actions[1].config.to`) and walking the action tree (where an
//! execution goes after a step). No I/O.

use std::collections::HashSet;

use minijinja::Environment;
use serde_json::Value;
use wire::condition::ConditionGroup;
use wire::records::Entity;
use wire::workflows::{Action, ACTION_TYPES};
use wire::Validator;

use super::render;

/// At most this many actions in a template, nested ones included.
pub const MAX_ACTIONS: usize = 200;
/// The longest a `wait` may last: a year.
pub const MAX_WAIT_MS: i64 = 366 * 24 * 60 * 60 * 1000;

/// What validation needs from outside: the email templates and workflow
/// templates that exist, and the template being saved (for cycles).
pub struct Known<'a> {
    pub email_templates: &'a [String],
    pub templates: &'a [TemplateRefs],
    pub this: Option<&'a str>,
}

/// A saved template and the templates its `run_workflow` actions run.
#[derive(Debug, Clone)]
pub struct TemplateRefs {
    pub id: String,
    pub name: String,
    pub runs: Vec<String>,
}

/// The templates `actions` run as sub-workflows.
pub fn run_workflow_refs(actions: &[Action]) -> Vec<String> {
    all_actions(actions)
        .into_iter()
        .filter(|a| a.action_type == "run_workflow")
        .filter_map(|a| a.config.get("templateId").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The chain of names by which running `target` would run `this` again, if it would.
fn cycle(templates: &[TemplateRefs], target: &str, this: &str) -> Option<Vec<String>> {
    fn walk(
        templates: &[TemplateRefs],
        at: &str,
        this: &str,
        path: &mut Vec<String>,
        seen: &mut HashSet<String>,
    ) -> bool {
        let name = templates.iter().find(|t| t.id == at).map(|t| t.name.clone()).unwrap_or_else(|| at.to_string());
        path.push(name);
        if at == this {
            return true;
        }
        if seen.insert(at.to_string()) {
            let runs = templates.iter().find(|t| t.id == at).map(|t| t.runs.clone()).unwrap_or_default();
            for next in runs {
                if walk(templates, &next, this, path, seen) {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut path =
        vec![templates.iter().find(|t| t.id == this).map(|t| t.name.clone()).unwrap_or_else(|| "this template".into())];
    walk(templates, target, this, &mut path, &mut HashSet::new()).then_some(path)
}

/// Parses and checks a template's actions; every problem is pushed to `v`
/// under its field (`actions[2].config.then[0].config.to`).
pub fn parse_actions(raw: &Value, known: &Known<'_>, env: &Environment<'_>, v: &mut Validator) -> Vec<Action> {
    let Some(list) = raw.as_array() else {
        v.push("actions", "must be a list of actions");
        return Vec::new();
    };
    if list.is_empty() {
        v.push("actions", "add at least one action");
    }
    let mut ids = HashSet::new();
    let mut count = 0;
    let actions = parse_list(list, "actions", known, env, v, &mut ids, &mut count);
    if count > MAX_ACTIONS {
        v.push("actions", format!("at most {MAX_ACTIONS} actions in all"));
    }
    actions
}

fn parse_list(
    list: &[Value],
    prefix: &str,
    known: &Known<'_>,
    env: &Environment<'_>,
    v: &mut Validator,
    ids: &mut HashSet<String>,
    count: &mut usize,
) -> Vec<Action> {
    let mut out = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        *count += 1;
        if *count > MAX_ACTIONS {
            break;
        }
        let at = format!("{prefix}[{i}]");
        let action: Action = match serde_json::from_value(raw.clone()) {
            Ok(a) => a,
            Err(e) => {
                v.push(at, format!("is not an action ({{\"id\", \"type\", \"name\", \"config\"}}): {e}"));
                continue;
            }
        };
        let id_ok = !action.id.is_empty()
            && action.id.len() <= 64
            && action.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            v.push(format!("{at}.id"), "must be 1 to 64 letters, digits, - or _");
        } else if !ids.insert(action.id.clone()) {
            v.push(format!("{at}.id"), format!("{:?} is used by another action; ids must be unique", action.id));
        }
        if action.name.chars().count() > 200 {
            v.push(format!("{at}.name"), "must be at most 200 characters");
        }
        if !ACTION_TYPES.contains(&action.action_type.as_str()) {
            v.push(format!("{at}.type"), format!("must be one of {}", ACTION_TYPES.join(", ")));
            continue;
        }
        let config = format!("{at}.config");
        if !action.config.is_object() {
            v.push(config, "must be an object");
            continue;
        }
        check_config(&action, &config, known, env, v, ids, count);
        out.push(action);
    }
    out
}

fn check_config(
    a: &Action,
    at: &str,
    known: &Known<'_>,
    env: &Environment<'_>,
    v: &mut Validator,
    ids: &mut HashSet<String>,
    count: &mut usize,
) {
    let c = &a.config;
    let field = |k: &str| format!("{at}.{k}");
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let allowed: &[&str] = match a.action_type.as_str() {
        "wait" => &["duration", "until", "offsetMs"],
        "send_email" => &["to", "cc", "template", "subject", "body", "html"],
        "send_notification" => &["title", "message", "to", "link"],
        "create_record" => &["entity", "fields"],
        "update_record" => &["entity", "id", "changes"],
        "webhook" => &["method", "url", "headers", "body"],
        "condition" => &["logic", "conditions", "then", "else"],
        "parallel" => &["branches"],
        "run_workflow" => &["templateId", "triggerData", "wait"],
        _ => &[],
    };
    for k in c.as_object().into_iter().flat_map(|m| m.keys()) {
        if !allowed.contains(&k.as_str()) {
            v.push(field(k), format!("is not a setting of {} (use {})", a.action_type, allowed.join(", ")));
        }
    }
    match a.action_type.as_str() {
        "wait" => match (c.get("duration"), c.get("until")) {
            (Some(d), None) => {
                if !d.as_i64().is_some_and(|ms| (1..=MAX_WAIT_MS).contains(&ms)) {
                    v.push(field("duration"), "must be milliseconds, from 1 to a year (86400000 is a day)");
                }
            }
            (None, Some(u)) => {
                if u.as_str().is_none_or(|s| s.trim().is_empty()) {
                    v.push(field("until"), "must be a time, such as {{appointment.startsAt}}");
                }
                if let Some(off) = c.get("offsetMs") {
                    if off.as_i64().is_none_or(|o| o.abs() > MAX_WAIT_MS) {
                        v.push(field("offsetMs"), "must be milliseconds, at most a year either way");
                    }
                }
            }
            (Some(_), Some(_)) => v.push(field("duration"), "give duration or until, not both"),
            (None, None) => v.push(field("duration"), "is required (milliseconds), or until a time"),
        },
        "send_email" => {
            if text("to").is_none() {
                v.push(field("to"), "is required: who gets the email, such as {{patient.owner.email}}");
            }
            match text("template") {
                Some(t) if !t.contains("{{") && !known.email_templates.iter().any(|k| k == t) => {
                    v.push(field("template"), format!("there is no email template {t:?}"))
                }
                Some(_) => {}
                None => {
                    if text("subject").is_none() {
                        v.push(field("subject"), "is required without a template");
                    }
                    if text("body").is_none() {
                        v.push(field("body"), "is required without a template");
                    }
                }
            }
        }
        "send_notification" => {
            if text("title").is_none() {
                v.push(field("title"), "is required");
            }
            if let Some(to) = c.get("to") {
                let roles_ok = to.get("roles").is_none_or(|r| {
                    r.as_array().is_some_and(|a| a.iter().all(|x| matches!(x.as_str(), Some("admin" | "staff"))))
                });
                if !to.is_object() || !roles_ok {
                    v.push(field("to"), "must be {\"roles\": [\"admin\" or \"staff\"], \"users\": [emails]}");
                }
            }
        }
        "create_record" | "update_record" => {
            match text("entity") {
                Some(e) if Entity::parse(e).is_some() => {}
                _ => v.push(
                    field("entity"),
                    "must be client, patient, appointment, invoice, medical_record, lab_test or prescription",
                ),
            }
            let key = if a.action_type == "create_record" { "fields" } else { "changes" };
            if c.get(key).is_none_or(|f| f.as_object().is_none_or(|m| m.is_empty())) {
                v.push(field(key), "must be an object of fields");
            }
            if a.action_type == "update_record" && text("id").is_none() {
                v.push(field("id"), "is required: the record to change, such as {{patient.id}}");
            }
        }
        "webhook" => {
            if text("url").is_none() {
                v.push(field("url"), "is required");
            }
            if let Some(m) = c.get("method") {
                if !matches!(m.as_str(), Some("GET" | "POST" | "PUT" | "PATCH" | "DELETE")) {
                    v.push(field("method"), "must be GET, POST, PUT, PATCH or DELETE");
                }
            }
            if let Some(h) = c.get("headers") {
                if !h.as_object().is_some_and(|m| m.len() <= 20 && m.values().all(Value::is_string)) {
                    v.push(field("headers"), "must be at most 20 headers, each a string");
                }
            }
        }
        "condition" => {
            let group = serde_json::json!({"logic": c.get("logic").cloned().unwrap_or(Value::from("AND")), "conditions": c.get("conditions").cloned().unwrap_or(Value::Array(vec![]))});
            match serde_json::from_value::<ConditionGroup>(group) {
                Ok(g) => v.merge(g.validate(at)),
                Err(e) => v.push(field("conditions"), format!("is not a condition group: {e}")),
            }
            for branch in ["then", "else"] {
                match c.get(branch) {
                    None => {}
                    Some(Value::Array(list)) => {
                        parse_list(list, &field(branch), known, env, v, ids, count);
                    }
                    Some(_) => v.push(field(branch), "must be a list of actions"),
                }
            }
        }
        "parallel" => match c.get("branches").and_then(Value::as_array) {
            Some(branches) if (2..=10).contains(&branches.len()) => {
                for (i, b) in branches.iter().enumerate() {
                    match b.as_array() {
                        Some(list) if !list.is_empty() => {
                            parse_list(list, &format!("{at}.branches[{i}]"), known, env, v, ids, count);
                        }
                        _ => v.push(format!("{at}.branches[{i}]"), "must be a list of at least one action"),
                    }
                }
            }
            _ => v.push(field("branches"), "must be 2 to 10 lists of actions, which run at the same time"),
        },
        "run_workflow" => {
            match text("templateId") {
                None => v.push(field("templateId"), "is required: the template to run"),
                Some(t) if !known.templates.iter().any(|k| k.id == t) => {
                    v.push(field("templateId"), format!("there is no workflow template {t:?}"))
                }
                Some(t) => {
                    if let Some(path) = known.this.and_then(|me| cycle(known.templates, t, me)) {
                        v.push(field("templateId"), format!("would run itself again: {}", path.join(" → ")));
                    }
                }
            }
            if c.get("triggerData").is_some_and(|d| !d.is_object()) {
                v.push(field("triggerData"), "must be an object (its strings are templates)");
            }
            if c.get("wait").is_some_and(|w| !w.is_boolean()) {
                v.push(field("wait"), "must be true (wait for it to finish) or false");
            }
        }
        _ => {}
    }
    // Every string in the config is a template: it must parse now, not 24 hours from now.
    if !matches!(a.action_type.as_str(), "condition" | "parallel") {
        check_strings(c, at, env, v);
    }
}

fn check_strings(value: &Value, at: &str, env: &Environment<'_>, v: &mut Validator) {
    match value {
        Value::String(s) => {
            if let Err(e) = render::check_syntax(env, s) {
                v.push(at, format!("is not a valid template: {e}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_strings(item, &format!("{at}[{i}]"), env, v);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                check_strings(item, &format!("{at}.{k}"), env, v);
            }
        }
        _ => {}
    }
}

// ---- walking the tree ----

/// Where an execution is: indexes into nested lists. `[3]` is root action
/// 3; `[3, 0, 1]` is action 1 of root action 3's list 0 (a condition's
/// `then` is list 0, its `else` list 1).
pub type Path = Vec<usize>;

/// The lists of actions inside an action: a condition's then and else.
pub fn lists(a: &Action) -> [Vec<Action>; 2] {
    let list = |k: &str| {
        a.config.get(k).and_then(|l| serde_json::from_value::<Vec<Action>>(l.clone()).ok()).unwrap_or_default()
    };
    if a.action_type == "condition" {
        [list("then"), list("else")]
    } else {
        [Vec::new(), Vec::new()]
    }
}

/// The action at `path`, if there is one.
pub fn action_at(actions: &[Action], path: &[usize]) -> Option<Action> {
    let (&first, mut rest) = path.split_first()?;
    let mut current = actions.get(first)?.clone();
    while let [list, index, tail @ ..] = rest {
        current = lists(&current).get(*list)?.get(*index)?.clone();
        rest = tail;
    }
    Some(current)
}

/// Where to go after the action at `path` is done (and did not choose a branch):
/// the next sibling, or the step after the action whose list it ends.
pub fn after(actions: &[Action], path: &[usize]) -> Option<Path> {
    let mut p: Path = path.to_vec();
    loop {
        let last = p.len() - 1;
        p[last] += 1;
        if action_at(actions, &p).is_some() {
            return Some(p);
        }
        if p.len() < 3 {
            return None;
        }
        p.truncate(p.len() - 2);
    }
}

/// Where a condition at `path` goes when it chose `list` (0 then, 1 else).
pub fn into_branch(actions: &[Action], path: &[usize], list: usize) -> Option<Path> {
    let mut p = path.to_vec();
    p.extend([list, 0]);
    if action_at(actions, &p).is_some() {
        Some(p)
    } else {
        after(actions, path)
    }
}

/// The branches of a parallel action.
pub fn branches(a: &Action) -> Vec<Vec<Action>> {
    if a.action_type != "parallel" {
        return Vec::new();
    }
    a.config.get("branches").and_then(|b| serde_json::from_value(b.clone()).ok()).unwrap_or_default()
}

/// Every action in the tree, nested ones (branches, parallel branches) included.
pub fn all_actions(actions: &[Action]) -> Vec<Action> {
    let mut out = Vec::new();
    for a in actions {
        out.push(a.clone());
        for l in lists(a).into_iter().chain(branches(a)) {
            out.extend(all_actions(&l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> Environment<'static> {
        render::environment(chrono_tz::UTC)
    }

    fn check(actions: Value) -> Vec<String> {
        let mut v = Validator::new();
        let known = Known { email_templates: &["patient_followup".to_string()], templates: &[], this: None };
        parse_actions(&actions, &known, &env(), &mut v);
        v.finish().err().map(|e| e.0.into_iter().map(|f| f.field).collect()).unwrap_or_default()
    }

    #[test]
    fn the_seed_example_is_valid() {
        let seed = json!([
            {"id": "action-1", "type": "wait", "name": "Wait 24 hours", "config": {"duration": 86400000}},
            {"id": "action-2", "type": "send_email", "name": "Send follow-up email",
             "config": {"to": "{{patient.owner.email}}", "subject": "Follow-up on {{patient.name}}", "template": "patient_followup"}}
        ]);
        assert_eq!(check(seed), Vec::<String>::new());
    }

    #[test]
    fn errors_name_the_field() {
        let bad = json!([
            {"id": "a", "type": "wait", "config": {}},
            {"id": "a", "type": "send_email", "config": {"to": "", "template": "nope"}},
            {"id": "c", "type": "teleport", "config": {}},
            {"id": "d", "type": "condition", "config": {"conditions": [{"field": "labTest.abnormal", "operator": "equals", "value": true}],
                "then": [{"id": "e", "type": "send_notification", "config": {"title": "{{ broken"}}]}},
            {"id": "f", "type": "update_record", "config": {"entity": "pet", "changes": {}}},
        ]);
        assert_eq!(
            check(bad),
            [
                "actions[0].config.duration",
                "actions[1].id",
                "actions[1].config.to",
                "actions[1].config.template",
                "actions[2].type",
                "actions[3].config.then[0].config.title",
                "actions[4].config.entity",
                "actions[4].config.changes",
                "actions[4].config.id",
            ]
        );
        assert_eq!(check(json!([])), ["actions"]);
        assert_eq!(check(json!({"not": "a list"})), ["actions"]);
        assert_eq!(
            check(json!([{"id": "x", "type": "wait", "config": {"duration": 5, "sleep": 1}}])),
            ["actions[0].config.sleep"]
        );
    }

    #[test]
    fn the_walk_goes_into_branches_and_back_out() {
        let actions: Vec<Action> = serde_json::from_value(json!([
            {"id": "a", "type": "wait", "config": {"duration": 1}},
            {"id": "b", "type": "condition", "config": {"conditions": [],
                "then": [{"id": "t1", "type": "wait", "config": {"duration": 1}}, {"id": "t2", "type": "wait", "config": {"duration": 1}}],
                "else": []}},
            {"id": "c", "type": "wait", "config": {"duration": 1}}
        ]))
        .unwrap();
        let id = |p: &Path| action_at(&actions, p).unwrap().id;
        assert_eq!(after(&actions, &[0]), Some(vec![1]));
        let t1 = into_branch(&actions, &[1], 0).unwrap();
        assert_eq!((t1.clone(), id(&t1)), (vec![1, 0, 0], "t1".to_string()));
        let t2 = after(&actions, &t1).unwrap();
        assert_eq!(id(&t2), "t2");
        assert_eq!(after(&actions, &t2), Some(vec![2]), "the end of a branch goes on after the condition");
        assert_eq!(into_branch(&actions, &[1], 1), Some(vec![2]), "an empty branch is skipped");
        assert_eq!(after(&actions, &[2]), None, "the end");
        assert_eq!(all_actions(&actions).len(), 5);
    }
}
