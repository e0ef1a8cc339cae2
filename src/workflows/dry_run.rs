//! Dry runs: what each action of a template (or a draft) would do with some
//! trigger data — the rendered email, the branch a condition takes, the
//! record change, the request — sending and writing nothing.

use serde_json::{json, Map, Value};
use wire::condition::ConditionGroup;
use wire::workflows::{Action, DryRun, DryRunInput, DryRunStep, EmailPreview, EmailTemplateInput};

use super::render;
use super::store::ExecutionRow;
use super::template;
use crate::auth::{Action as Can, Authorize, Principal};
use crate::error::Validator;
use crate::{Error, Result, Services};

struct Walk<'a> {
    env: &'a minijinja::Environment<'static>,
    services: &'a Services,
    vars: Value,
    steps: Vec<DryRunStep>,
    failed: bool,
}

fn entry(a: &Action, status: &str, detail: Value, error: Option<String>) -> DryRunStep {
    DryRunStep {
        action_id: a.id.clone(),
        action_type: a.action_type.clone(),
        action_name: a.name.clone(),
        status: status.into(),
        detail,
        error,
    }
}

impl Walk<'_> {
    fn skip(&mut self, actions: &[Action], status: &str) {
        for a in template::all_actions(actions) {
            self.steps.push(entry(&a, status, json!({}), None));
        }
    }

    /// What a step's output would look like, so later steps can render `steps['id']`.
    fn remember(&mut self, id: &str, output: Value) {
        if let Some(steps) = self.vars.get_mut("steps").and_then(Value::as_object_mut) {
            steps.insert(id.to_string(), output);
        }
    }

    async fn walk(&mut self, actions: &[Action]) -> Result<()> {
        for a in actions {
            if self.failed {
                self.skip(std::slice::from_ref(a), "not_reached");
                continue;
            }
            if a.action_type == "condition" {
                let c = &a.config;
                let group = json!({"logic": c.get("logic").cloned().unwrap_or(json!("AND")), "conditions": c.get("conditions").cloned().unwrap_or(json!([]))});
                let taken =
                    serde_json::from_value::<ConditionGroup>(group).map(|g| g.evaluate(&self.vars)).unwrap_or(false);
                let branch = if taken { "then" } else { "else" };
                self.steps.push(entry(a, "would_run", json!({"result": taken, "branch": branch}), None));
                self.remember(&a.id, json!({"result": taken, "branch": branch}));
                let [then, otherwise] = template::lists(a);
                let (run, skip) = if taken { (then, otherwise) } else { (otherwise, then) };
                Box::pin(self.walk(&run)).await?;
                self.skip(&skip, "skipped");
                continue;
            }
            if a.action_type == "parallel" {
                self.steps.push(entry(a, "would_run", json!({"branches": template::branches(a).len()}), None));
                for branch in template::branches(a) {
                    Box::pin(self.walk(&branch)).await?;
                }
                continue;
            }
            let rendered = match render::render_value(self.env, &a.config, &self.vars) {
                Ok(r) => r,
                Err(e) => {
                    self.steps.push(entry(a, "would_fail", a.config.clone(), Some(format!("config: {e}"))));
                    self.failed = true;
                    continue;
                }
            };
            let (status, detail) = match a.action_type.as_str() {
                "wait" => ("would_wait", rendered.clone()),
                "send_email" => match self.email(&rendered).await? {
                    Ok(mail) => ("would_run", mail),
                    Err(e) => {
                        self.steps.push(entry(a, "would_fail", rendered, Some(e)));
                        self.failed = true;
                        continue;
                    }
                },
                _ => ("would_run", rendered.clone()),
            };
            self.remember(&a.id, detail.clone());
            self.steps.push(entry(a, status, detail, None));
        }
        Ok(())
    }

    /// The email as it would be kept: recipients, subject and text, the template rendered.
    async fn email(&self, rendered: &Value) -> Result<std::result::Result<Value, String>> {
        let text = |k: &str| rendered.get(k).and_then(Value::as_str).map(str::to_string);
        let to = match super::email::addresses(&text("to").unwrap_or_default()) {
            Ok(t) => t,
            Err(e) => return Ok(Err(format!("config.to: {e}"))),
        };
        let (mut subject, mut body, mut html) = (text("subject"), text("body"), None);
        if let Some(name) = text("template") {
            let Some(t) = self.services.db.email_template(&name).await? else {
                return Ok(Err(format!("config.template: there is no email template {name:?}")));
            };
            match super::email::render_template(self.env, &t, &self.vars) {
                Ok((s, b, h)) => {
                    subject = subject.or(Some(s));
                    body = body.or(Some(b));
                    html = h;
                }
                Err(e) => return Ok(Err(format!("email template {name} {e}"))),
            }
        }
        Ok(Ok(json!({"to": to, "subject": subject, "text": body, "html": html, "template": text("template"),
            "status": "not sent (dry run)"})))
    }
}

impl Services {
    /// The variables a run started with `trigger_data` would render with:
    /// the records its ids name are read as a step would, writing nothing.
    async fn sample_variables(&self, trigger_data: Value) -> Result<Value> {
        let data = if trigger_data.is_null() { json!({}) } else { trigger_data };
        let probe = ExecutionRow {
            id: "exe_dry_run".into(),
            ..super::triggers::new_execution(None, "dry run", "manual", "[]", &data, &[], self.now_ms())
        };
        let mut tx = self.db.begin().await?;
        let vars = super::step::variables(&mut tx, &probe, self.now_ms()).await?;
        drop(tx);
        Ok(vars)
    }

    /// An email template being edited (not saved), rendered with the
    /// records `trigger_data` names: subject, text and the HTML (escaped).
    pub async fn preview_email(
        &self,
        caller: &Principal,
        input: EmailTemplateInput,
        trigger_data: Value,
    ) -> Result<EmailPreview> {
        caller.require(Can::ReadWorkflows)?;
        if !trigger_data.is_object() && !trigger_data.is_null() {
            return Err(Error::invalid("triggerData", "must be an object"));
        }
        let env = render::environment(self.settings.timezone);
        let vars = self.sample_variables(trigger_data).await?;
        let row = super::store::EmailTemplateRow {
            name: "preview".into(),
            subject: input.subject,
            text_body: input.text,
            html_body: input.html.filter(|h| !h.trim().is_empty()),
            builtin: false,
            updated_at: 0,
        };
        let (subject, text, html) = super::email::render_template(&env, &row, &vars).map_err(|e| {
            let (part, why) = e.trim_start_matches('(').split_once("): ").unwrap_or(("text", e.as_str()));
            Error::invalid(part, why)
        })?;
        Ok(EmailPreview { subject, text, html })
    }

    /// Walks a template's actions (or a draft's) with `input.triggerData`.
    pub async fn dry_run(&self, caller: &Principal, template_id: Option<&str>, input: DryRunInput) -> Result<DryRun> {
        caller.require(Can::ReadWorkflows)?;
        let mut v = Validator::new();
        if !input.trigger_data.is_object() && !input.trigger_data.is_null() {
            v.push("triggerData", "must be an object");
        }
        let env = render::environment(self.settings.timezone);
        let actions: Vec<Action> = match (&input.actions, template_id) {
            (Some(raw), _) => {
                let email_templates: Vec<String> =
                    self.db.email_templates().await?.into_iter().map(|t| t.name).collect();
                let templates = self.template_graph().await?;
                let known =
                    template::Known { email_templates: &email_templates, templates: &templates, this: template_id };
                template::parse_actions(raw, &known, &env, &mut v)
            }
            (None, Some(id)) => {
                let t = self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
                serde_json::from_str(&t.actions).map_err(Error::internal)?
            }
            (None, None) => {
                v.push("actions", "is required without a template");
                Vec::new()
            }
        };
        v.finish()?;
        let vars = self.sample_variables(input.trigger_data).await?;
        let mut walk = Walk { env: &env, services: self, vars: vars.clone(), steps: Vec::new(), failed: false };
        if !matches!(walk.vars.get("steps"), Some(Value::Object(_))) {
            walk.vars["steps"] = Value::Object(Map::new());
        }
        walk.walk(&actions).await?;
        Ok(DryRun { steps: walk.steps, variables: vars })
    }
}
