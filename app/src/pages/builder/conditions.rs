//! A condition's form: rows of field / operator / value joined by AND or OR,
//! checked as you type with the same validation the server runs
//! (`wire::condition`). Nested groups are kept, and edited in the JSON view.

use leptos::prelude::*;
use serde_json::{json, Value};
use wire::builder::{typed_value, value_text};
use wire::condition::{ConditionGroup, Operator};

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

#[component]
pub fn ConditionRows(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let rows = move || b.config(&idv.get_value(), "conditions").as_array().cloned().unwrap_or_default();
    let count = Memo::new(move |_| rows().len());
    let set_rows = move |list: Vec<Value>, field: Option<String>| {
        let id = idv.get_value();
        b.edit(field.as_deref(), |d| {
            if let Some(n) = wire::builder::tree::node_mut(&mut d.flow, &id) {
                n.action.config["conditions"] = Value::Array(list);
            }
        });
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
        set_rows(list, Some(format!("{}.conditions[{i}].{key}", idv.get_value())));
    };
    // The same check the server makes on save, run here on every edit.
    let problems = move || {
        let group = json!({"logic": b.config(&idv.get_value(), "logic"), "conditions": rows()});
        let group = if group["logic"].is_null() { json!({"conditions": group["conditions"]}) } else { group };
        match serde_json::from_value::<ConditionGroup>(group) {
            Ok(g) => g.validate("").err().map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        }
    };
    let list_id = format!("{id}-fields");
    view! {
        <div class="text-sm">
            <div class="flex items-center gap-2">
                <label for=format!("{id}-logic") class="text-xs font-medium text-slate-700">"Go to Then when"</label>
                <select id=format!("{id}-logic") class="rounded-md border border-slate-300 px-2 py-1 text-sm"
                    prop:value=move || b.config_str(&idv.get_value(), "logic")
                    on:change=move |ev| b.set_config(&idv.get_value(), "logic", Value::String(event_target_value(&ev)))>
                    <option value="AND">"all of these hold"</option>
                    <option value="OR">"any of these holds"</option>
                </select>
            </div>
            <datalist id=list_id.clone()>
                {move || b.variables_for(&idv.get_value()).into_iter().map(|v| view! { <option value=v/> }).collect_view()}
            </datalist>
            {move || (0..count.get()).map(|i| {
                let row = move || rows().get(i).cloned().unwrap_or(Value::Null);
                let is_group = row().get("conditions").is_some();
                if is_group {
                    return view! { <p class="mt-1 text-xs text-slate-600">"A nested group (edit it in the JSON view)."</p> }.into_any();
                }
                let op = move || row()["operator"].as_str().and_then(Operator::parse).unwrap_or(Operator::Equals);
                view! {
                    <div class="mt-1 flex flex-wrap items-center gap-2" data-testid="condition-row">
                        <input type="text" list=list_id.clone() placeholder="field, e.g. labTest.abnormal" aria-label=format!("Condition {} field", i + 1)
                            class="w-56 rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
                            prop:value=move || row()["field"].as_str().unwrap_or_default().to_string()
                            on:input=move |ev| update_row(i, "field", Value::String(event_target_value(&ev)))
                            on:blur=move |_| b.settle()/>
                        <select aria-label=format!("Condition {} operator", i + 1) class="rounded-md border border-slate-300 px-2 py-1 text-sm"
                            prop:value=move || op().as_str()
                            on:change=move |ev| {
                                let o = Operator::parse(&event_target_value(&ev)).unwrap_or(Operator::Equals);
                                update_row(i, "operator", Value::String(o.as_str().into()));
                                if !o.needs_value() { update_row(i, "value", Value::Null); }
                            }>
                            {Operator::ALL.into_iter().map(|o| view! { <option value=o.as_str()>{operator_words(o)}</option> }).collect_view()}
                        </select>
                        <Show when=move || op().needs_value()>
                            <input type="text" placeholder="value" aria-label=format!("Condition {} value", i + 1)
                                class="w-40 rounded-md border border-slate-300 px-2 py-1 text-sm"
                                prop:value=move || value_text(row().get("value"))
                                on:input=move |ev| update_row(i, "value", typed_value(&event_target_value(&ev)))
                                on:blur=move |_| b.settle()/>
                        </Show>
                        <button type="button" class="text-xs text-red-700 hover:underline" aria-label=format!("Remove condition {}", i + 1)
                            on:click=move |_| { let mut l = rows(); l.remove(i); set_rows(l, None); }>"Remove"</button>
                    </div>
                }.into_any()
            }).collect_view()}
            <button type="button" class="mt-2 rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100"
                on:click=move |_| { let mut l = rows(); l.push(json!({"field": "", "operator": "equals", "value": ""})); set_rows(l, None); }>
                "Add condition"
            </button>
            <p class="mt-1 text-xs text-slate-500">"Values such as 5, true or null are read as themselves; anything else as text."</p>
            {move || problems().map(|p| view! { <p role="alert" data-testid="condition-problems" class="mt-1 text-xs text-red-700">{p}</p> })}
        </div>
    }
}
