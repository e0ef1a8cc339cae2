//! The builder's state, shared by its cards through context: the draft,
//! its undo history, the server's errors, the dry run's results, the copied
//! action and the one being dragged.

use leptos::prelude::*;
use serde_json::Value;
use wire::builder::history::History;
use wire::builder::tree::{self, Node};
use wire::builder::{Catalog, Draft};
use wire::workflows::DryRunStep;

#[derive(Clone, Copy)]
pub struct Builder {
    pub draft: RwSignal<Draft>,
    history: StoredValue<History<Draft>>,
    /// Bumped whenever the history changes, for the undo and redo buttons.
    history_changed: RwSignal<u32>,
    pub dirty: RwSignal<bool>,
    /// The last save's errors: (field, message).
    pub errors: RwSignal<Vec<(String, String)>>,
    pub dry: RwSignal<Vec<DryRunStep>>,
    pub clipboard: RwSignal<Option<Node>>,
    pub dragging: RwSignal<Option<String>>,
    pub catalog: StoredValue<Catalog>,
    /// Kept edits from an earlier visit were brought back.
    pub restored: RwSignal<bool>,
    /// How keeping the unsaved edits on the server went: Ok(when) or Err(why).
    pub kept: RwSignal<Option<Result<String, String>>>,
    /// Which template the unsaved edits are kept under (`new` or its id) and the version they start from.
    pub(super) kept_as: StoredValue<(String, i64)>,
}

pub fn use_builder() -> Builder {
    expect_context::<Builder>()
}

impl Builder {
    pub fn new(draft: Draft, catalog: Catalog, kept_as: (String, i64)) -> Builder {
        let b = Builder {
            draft: RwSignal::new(draft),
            history: StoredValue::new(History::default()),
            history_changed: RwSignal::new(0),
            dirty: RwSignal::new(false),
            errors: RwSignal::new(Vec::new()),
            dry: RwSignal::new(Vec::new()),
            clipboard: RwSignal::new(None),
            dragging: RwSignal::new(None),
            catalog: StoredValue::new(catalog),
            restored: RwSignal::new(false),
            kept: RwSignal::new(None),
            kept_as: StoredValue::new(kept_as),
        };
        b.keep_edits_on_the_server();
        b
    }

    /// Applies an edit, noting the draft before it for undo. `field` names
    /// the input typed into, so a run of keystrokes is one edit.
    pub fn edit(&self, field: Option<&str>, f: impl FnOnce(&mut Draft)) {
        let before = self.draft.get_untracked();
        let mut after = before.clone();
        f(&mut after);
        if after == before {
            return;
        }
        self.history.update_value(|h| h.record(&before, field));
        self.draft.set(after);
        self.dirty.set(true);
        self.history_changed.update(|v| *v += 1);
    }

    /// Ends a typing run (an input lost focus).
    pub fn settle(&self) {
        self.history.update_value(|h| h.settle());
    }

    pub fn undo(&self) {
        self.travel(History::undo);
    }

    pub fn redo(&self) {
        self.travel(History::redo);
    }

    /// One step back or forward in the history, if there is one.
    fn travel(&self, step: fn(&mut History<Draft>, Draft) -> Option<Draft>) {
        let current = self.draft.get_untracked();
        if let Some(other) = self.history.try_update_value(|h| step(h, current)).flatten() {
            self.draft.set(other);
            self.dirty.set(true);
        }
        self.history_changed.update(|v| *v += 1);
    }

    pub fn can_undo(&self) -> bool {
        self.history_changed.track();
        self.history.with_value(|h| h.can_undo())
    }

    pub fn can_redo(&self) -> bool {
        self.history_changed.track();
        self.history.with_value(|h| h.can_redo())
    }

    /// A setting of an action (tracked).
    pub fn config(&self, id: &str, key: &str) -> Value {
        self.draft
            .with(|d| tree::node(&d.flow, id).and_then(|n| n.action.config.get(key).cloned()).unwrap_or(Value::Null))
    }

    pub fn config_str(&self, id: &str, key: &str) -> String {
        match self.config(id, key) {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// Sets a setting; `Value::Null` removes it.
    pub fn set_config(&self, id: &str, key: &str, value: Value) {
        let field = format!("{id}.{key}");
        self.edit(Some(&field), |d| {
            if let Some(n) = tree::node_mut(&mut d.flow, id) {
                if !n.action.config.is_object() {
                    n.action.config = Value::Object(Default::default());
                }
                let m = n.action.config.as_object_mut().expect("an object");
                if value.is_null() {
                    m.remove(key);
                } else {
                    m.insert(key.to_string(), value);
                }
            }
        });
    }

    pub fn with_node(&self, id: &str, f: impl FnOnce(&mut Node)) {
        self.edit(None, |d| {
            if let Some(n) = tree::node_mut(&mut d.flow, id) {
                f(n)
            }
        });
    }

    /// The errors of one action's card: (field within the action, message).
    pub fn errors_of(&self, id: &str) -> Vec<(String, String)> {
        let errors = self.errors.get();
        self.draft.with(|d| {
            errors
                .iter()
                .filter_map(|(field, msg)| {
                    let (owner, rest) = tree::owner_of(&d.flow, field)?;
                    (owner == id).then(|| (rest, msg.clone()))
                })
                .collect()
        })
    }

    /// The message for one field of the draft itself (`name`, `triggerConfig.cron`).
    pub fn error_at(&self, field: &str) -> Option<String> {
        self.errors
            .with(|e| e.iter().find(|(f, _)| f == field || f.starts_with(&format!("{field}."))).map(|(_, m)| m.clone()))
    }

    /// Errors that belong to no card or field shown (a conflict, a refusal), as one message.
    pub fn general_errors(&self) -> Option<String> {
        let errors = self.errors.get();
        let loose: Vec<String> = self.draft.with(|d| {
            errors
                .iter()
                .filter(|(f, _)| {
                    f.is_empty()
                        || (!f.starts_with("actions")
                            && tree::owner_of(&d.flow, f).is_none()
                            && !SHOWN.iter().any(|s| f.starts_with(s)))
                })
                .map(|(f, m)| if f.is_empty() { m.clone() } else { format!("{f}: {m}") })
                .collect()
        });
        let on_cards = errors.iter().filter(|(f, _)| f.starts_with("actions")).count();
        match (loose.is_empty(), on_cards) {
            (true, 0) => None,
            (true, n) => {
                Some(format!("Not saved: {n} {} on the cards below.", if n == 1 { "problem" } else { "problems" }))
            }
            (false, _) => Some(format!("Not saved: {}", loose.join("; "))),
        }
    }

    pub fn show_errors(&self, message: &str) {
        let fields = wire::builder::field_errors(message);
        self.errors.set(if fields.is_empty() { vec![(String::new(), message.to_string())] } else { fields });
    }

    pub fn saved(&self) {
        self.dirty.set(false);
        self.errors.set(Vec::new());
        self.forget_kept();
    }

    pub fn kept_as(&self) -> (String, i64) {
        self.kept_as.get_value()
    }

    /// The variables the picker offers an action.
    pub fn variables_for(&self, id: &str) -> Vec<String> {
        self.catalog.with_value(|c| {
            let (trigger, event, before) = self.draft.with(|d| {
                let before: Vec<(String, Vec<String>)> = tree::actions_before(&d.flow, id)
                    .into_iter()
                    .map(|a| (a.id.clone(), wire::builder::output_fields(a, &c.entity_fields)))
                    .collect();
                (d.trigger_type, d.trigger_config.get("event").and_then(Value::as_str).map(str::to_string), before)
            });
            let example = match trigger {
                wire::workflows::TriggerType::Event => {
                    event.and_then(|e| c.events.iter().find(|(n, _)| *n == e).map(|(_, x)| x.clone()))
                }
                wire::workflows::TriggerType::Schedule => Some(Value::Object(Default::default())),
                wire::workflows::TriggerType::Manual => None,
            };
            wire::builder::variables(example.as_ref(), &c.records, &before)
        })
    }
}

/// Draft fields shown beside their inputs rather than in the banner.
const SHOWN: &[&str] = &["name", "category", "description", "triggerType", "triggerConfig"];
