//! Condition rows: field / operator / value joined by AND or OR, checked as
//! you type with the same validation the server runs (`wire::condition`).
//! Used by a condition action (its `logic` and `conditions`) and by an event
//! trigger (its optional `conditions` group on the event's data). A row may
//! be a group of its own (AND or OR inside an OR, say), edited the same way,
//! as deep as the server allows (`wire::condition::MAX_DEPTH`).

use leptos::prelude::*;
use serde_json::{json, Value};
use wire::builder::{typed_value, value_text};
use wire::condition::{ConditionGroup, Operator, MAX_DEPTH};

use super::context::use_builder;

fn operator_words(o: Operator) -> &'static str {
    match o {
        Operator::Equals => "equals",
        Operator::NotEquals => "does not equal",
        Operator::GreaterThan => "is greater than",
        Operator::LessThan => "is less than",
        Operator::Contains => "contains",
        Operator::NotContains => "does not contain",
        Operator::IsEmpty => "is empty",
        Operator::IsNotEmpty => "is not empty",
    }
}

/// A condition action's rows: `logic` and `conditions` in its config.
#[component]
pub fn ConditionRows(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let group = Signal::derive(move || {
        let id = idv.get_value();
        json!({"logic": b.config(&id, "logic"), "conditions": b.config(&id, "conditions")})
    });
    let set_group = Callback::new(move |(g, field): (Value, Option<String>)| {
        let id = idv.get_value();
        b.edit(field.as_deref(), |d| {
            if let Some(n) = wire::builder::tree::node_mut(&mut d.flow, &id) {
                for key in ["logic", "conditions"] {
                    match g.get(key) {
                        Some(v) if !v.is_null() => n.action.config[key] = v.clone(),
                        _ => {
                            if let Some(c) = n.action.config.as_object_mut() {
                                c.remove(key);
                            }
                        }
                    }
                }
            }
        });
    });
    let fields = Signal::derive(move || b.variables_for(&idv.get_value()));
    let path = id.clone();
    view! { <Rows scope=id path number=String::new() depth=1 lead="Go to Then when".into() group set_group fields/> }
}

/// An event trigger's optional conditions on the event's data: the
/// workflow starts only for events that pass them.
#[component]
pub fn TriggerConditions() -> impl IntoView {
    let b = use_builder();
    let group =
        Signal::derive(move || b.draft.with(|d| d.trigger_config.get("conditions").cloned().unwrap_or(Value::Null)));
    let set_group = Callback::new(move |(g, field): (Value, Option<String>)| {
        b.edit(field.as_deref(), |d| {
            if !d.trigger_config.is_object() {
                d.trigger_config = json!({});
            }
            let empty = g.get("conditions").and_then(Value::as_array).is_none_or(|l| l.is_empty());
            if empty {
                if let Some(c) = d.trigger_config.as_object_mut() {
                    c.remove("conditions");
                }
            } else {
                d.trigger_config["conditions"] = g;
            }
        });
    });
    // Trigger conditions read the event's data itself (`status`, not `trigger.status`).
    let fields = Signal::derive(move || {
        let event = b.draft.with(|d| d.trigger_config.get("event").and_then(Value::as_str).map(str::to_string));
        b.catalog.with_value(|c| {
            event
                .and_then(|e| c.events.iter().find(|(n, _)| *n == e).map(|(_, x)| wire::builder::leaf_paths(x)))
                .unwrap_or_default()
        })
    });
    view! {
        <Rows scope="event-trigger".to_string() path="triggerConfig.conditions".to_string() number=String::new() depth=1
            lead="Start only when".into() group set_group fields/>
    }
}

#[component]
fn Rows(
    /// Prefixes element ids (an action's id; a nested group adds its row).
    scope: String,
    /// The group's place in the config, naming the field of each edit.
    path: String,
    /// The group's number in labels: "" at the top, "2." for row 2's group.
    number: String,
    depth: usize,
    lead: String,
    group: Signal<Value>,
    set_group: Callback<(Value, Option<String>)>,
    fields: Signal<Vec<String>>,
) -> AnyView {
    // AnyView, not `impl IntoView`: a row that is a group renders Rows again.
    let b = use_builder();
    let pathv = StoredValue::new(path);
    let numberv = StoredValue::new(number);
    let scopev = StoredValue::new(scope.clone());
    let rows = move || group.with(|g| g.get("conditions").and_then(Value::as_array).cloned().unwrap_or_default());
    let logic = move || group.with(|g| g.get("logic").and_then(Value::as_str).unwrap_or("AND").to_string());
    let count = Memo::new(move |_| rows().len());
    let set_rows = move |list: Vec<Value>, field: Option<String>| {
        set_group.run((json!({"logic": logic(), "conditions": list}), field));
    };
    let update_row = move |i: usize, key: &'static str, v: Value| {
        let mut list = rows();
        if let Some(Value::Object(row)) = list.get_mut(i) {
            if v.is_null() {
                row.remove(key);
            } else {
                row.insert(key.into(), v);
            }
        }
        set_rows(list, Some(format!("{}.conditions[{i}].{key}", pathv.get_value())));
    };
    // The same check the server makes on save, run here on every edit (at
    // the top only: a nested group's problems are its parent's too).
    let problems = move || {
        if depth > 1 {
            return None;
        }
        let g = json!({"logic": logic(), "conditions": rows()});
        match crate::codec::from_value::<ConditionGroup>(&g) {
            Ok(g) => g.validate("").err().map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        }
    };
    let list_id = format!("{scope}-fields");
    let label = move |i: usize| format!("Condition {}{}", numberv.get_value(), i + 1);
    let nested = depth > 1;
    view! {
        <div class=if nested { "mt-1 rounded-md border-l-4 border-purple-200 bg-purple-50/40 py-1 pl-3 text-sm" } else { "text-sm" }
            data-testid=format!("{scope}-conditions")>
            <div class="flex items-center gap-2">
                <label for=format!("{scope}-logic") class="text-xs font-medium text-slate-700">{lead}</label>
                <select id=format!("{scope}-logic") class="rounded-md border border-slate-300 px-2 py-1 text-sm"
                    prop:value=logic
                    on:change=move |ev| set_group.run((json!({"logic": event_target_value(&ev), "conditions": rows()}), None))>
                    <option value="AND">"all of these hold"</option>
                    <option value="OR">"any of these holds"</option>
                </select>
            </div>
            <datalist id=list_id.clone()>
                {move || fields.get().into_iter().map(|v| view! { <option value=v/> }).collect_view()}
            </datalist>
            {move || (0..count.get()).map(|i| {
                let row = move || rows().get(i).cloned().unwrap_or(Value::Null);
                if row().get("conditions").is_some() {
                    let inner = Signal::derive(row);
                    let set_inner = Callback::new(move |(g, field): (Value, Option<String>)| {
                        let mut list = rows();
                        if let Some(slot) = list.get_mut(i) {
                            *slot = g;
                        }
                        set_rows(list, field);
                    });
                    let number = format!("{}{}.", numberv.get_value(), i + 1);
                    return view! {
                        <div data-testid="condition-group">
                            <Rows scope=format!("{}-{}", scopev.get_value(), i + 1) path=format!("{}.conditions[{i}]", pathv.get_value())
                                number=number.clone() depth=depth + 1 lead=format!("Group {} holds when", number.trim_end_matches('.'))
                                group=inner set_group=set_inner fields/>
                            <button type="button" class="ml-3 text-xs text-red-700 hover:underline"
                                aria-label=format!("Remove group {}", number.trim_end_matches('.'))
                                on:click=move |_| { let mut l = rows(); l.remove(i); set_rows(l, None); }>"Remove group"</button>
                        </div>
                    }.into_any();
                }
                let op = move || row()["operator"].as_str().and_then(Operator::parse).unwrap_or(Operator::Equals);
                view! {
                    <div class="mt-1 flex flex-wrap items-center gap-2" data-testid="condition-row">
                        <input type="text" list=list_id.clone() placeholder="field, e.g. labTest.abnormal" aria-label=format!("{} field", label(i))
                            class="w-56 rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
                            prop:value=move || row()["field"].as_str().unwrap_or_default().to_string()
                            on:input=move |ev| update_row(i, "field", Value::String(event_target_value(&ev)))
                            on:blur=move |_| b.settle()/>
                        <select aria-label=format!("{} operator", label(i)) class="rounded-md border border-slate-300 px-2 py-1 text-sm"
                            prop:value=move || op().as_str()
                            on:change=move |ev| {
                                let o = Operator::parse(&event_target_value(&ev)).unwrap_or(Operator::Equals);
                                update_row(i, "operator", Value::String(o.as_str().into()));
                                if !o.needs_value() { update_row(i, "value", Value::Null); }
                            }>
                            {Operator::ALL.into_iter().map(|o| view! { <option value=o.as_str()>{operator_words(o)}</option> }).collect_view()}
                        </select>
                        <Show when=move || op().needs_value()>
                            <input type="text" placeholder="value" aria-label=format!("{} value", label(i))
                                class="w-40 rounded-md border border-slate-300 px-2 py-1 text-sm"
                                prop:value=move || value_text(row().get("value"))
                                on:input=move |ev| update_row(i, "value", typed_value(&event_target_value(&ev)))
                                on:blur=move |_| b.settle()/>
                        </Show>
                        <button type="button" class="text-xs text-red-700 hover:underline" aria-label=format!("Remove {}", label(i).to_lowercase())
                            on:click=move |_| { let mut l = rows(); l.remove(i); set_rows(l, None); }>"Remove"</button>
                    </div>
                }.into_any()
            }).collect_view()}
            <div class="mt-2 flex gap-2">
                <button type="button" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100"
                    on:click=move |_| { let mut l = rows(); l.push(json!({"field": "", "operator": "equals", "value": ""})); set_rows(l, None); }>
                    "Add condition"
                </button>
                // A group inside this one, up to the depth the server accepts.
                <Show when=move || depth < MAX_DEPTH>
                    <button type="button" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100"
                        on:click=move |_| {
                            let mut l = rows();
                            let other = if logic() == "AND" { "OR" } else { "AND" };
                            l.push(json!({"logic": other, "conditions": [{"field": "", "operator": "equals", "value": ""}]}));
                            set_rows(l, None);
                        }>
                        "Add group"
                    </button>
                </Show>
            </div>
            {(!nested).then(|| view! { <p class="mt-1 text-xs text-slate-500">"Values such as 5, true or null are read as themselves; anything else as text."</p> })}
            {move || problems().map(|p| view! { <p role="alert" data-testid="condition-problems" class="mt-1 text-xs text-red-700">{p}</p> })}
        </div>
    }
    .into_any()
}
