//! Each action type's form: the settings of `shared/spec/interface.md` as
//! inputs, pickers and rows, so nobody has to write JSON. Text settings are
//! templates, with a variable picker and a warning for unknown variables.

use leptos::prelude::*;
use serde_json::{json, Value};
use wire::builder::{duration_parts, unit_ms};

use super::conditions::ConditionRows;
use super::context::use_builder;

fn field_class(invalid: bool) -> &'static str {
    if invalid {
        "mt-1 w-full rounded-md border border-red-500 px-2 py-1 text-sm"
    } else {
        "mt-1 w-full rounded-md border border-slate-300 px-2 py-1 text-sm"
    }
}

#[component]
pub fn ConfigForm(id: String, action_type: String) -> impl IntoView {
    let i = id;
    match action_type.as_str() {
        "wait" => view! { <WaitForm id=i/> }.into_any(),
        "send_email" => view! {
            <div class="grid gap-2 md:grid-cols-2">
                <VarInput id=i.clone() key="to" label="To"/>
                <VarInput id=i.clone() key="cc" label="Cc (optional)"/>
                <EmailTemplatePicker id=i.clone()/>
                <VarInput id=i.clone() key="subject" label="Subject (replaces the template's)"/>
            </div>
            <VarInput id=i key="body" label="Body (when no email template is picked)" multiline=true/>
        }
        .into_any(),
        "send_notification" => view! {
            <div class="grid gap-2 md:grid-cols-2">
                <VarInput id=i.clone() key="title" label="Title"/>
                <VarInput id=i.clone() key="link" label="Link (optional)"/>
            </div>
            <VarInput id=i.clone() key="message" label="Message" multiline=true/>
            <Recipients id=i/>
        }
        .into_any(),
        "create_record" => view! {
            <EntityPicker id=i.clone()/>
            <KeyValues id=i key="fields" label="Fields"/>
        }
        .into_any(),
        "update_record" => view! {
            <div class="grid gap-2 md:grid-cols-2">
                <EntityPicker id=i.clone()/>
                <VarInput id=i.clone() key="id" label="Record id"/>
            </div>
            <KeyValues id=i key="changes" label="Changes"/>
        }
        .into_any(),
        "webhook" => view! {
            <div class="grid gap-2 md:grid-cols-[8rem_1fr]">
                <Choice id=i.clone() key="method" label="Method" options=vec!["POST", "PUT", "PATCH", "GET", "DELETE"]/>
                <VarInput id=i.clone() key="url" label="URL"/>
            </div>
            <VarInput id=i.clone() key="body" label="Body" multiline=true/>
            <KeyValues id=i key="headers" label="Headers"/>
        }
        .into_any(),
        "condition" => view! { <ConditionRows id=i/> }.into_any(),
        "parallel" => view! { <Branches id=i/> }.into_any(),
        "run_workflow" => view! { <RunWorkflowForm id=i/> }.into_any(),
        _ => view! { <p class="text-sm text-slate-600">"Edit this action in the JSON view."</p> }.into_any(),
    }
}

/// A template text setting, with the variable picker (opened by the `{ }`
/// button, or by typing `{{`) and unknown variables pointed out.
#[component]
pub fn VarInput(
    id: String,
    key: &'static str,
    #[prop(into)] label: String,
    #[prop(optional)] multiline: bool,
) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let dom_id = format!("{id}-{key}");
    let picking = RwSignal::new(false);
    let value = move || b.config_str(&idv.get_value(), key);
    let set = move |v: String| {
        let v = if v.is_empty() { Value::Null } else { Value::String(v) };
        b.set_config(&idv.get_value(), key, v);
    };
    let on_input = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        if v.ends_with("{{") {
            picking.set(true);
        }
        set(v);
    };
    let invalid = move || {
        b.errors_of(&idv.get_value())
            .iter()
            .any(|(f, _)| f == &format!("config.{key}") || f.starts_with(&format!("config.{key}.")))
    };
    let unknown = move || {
        let text = value();
        if !text.contains("{{") {
            return Vec::new();
        }
        wire::builder::unknown_variables(&text, &b.variables_for(&idv.get_value()))
    };
    let pick = move |var: String| {
        let current = value();
        let next =
            if current.ends_with("{{") { format!("{current}{var}}}}}") } else { format!("{current}{{{{{var}}}}}") };
        set(next);
        b.settle();
        picking.set(false);
    };
    let input = if multiline {
        view! {
            <textarea id=dom_id.clone() rows="3" class=move || format!("{} font-mono", field_class(invalid())) aria-invalid=move || invalid().to_string()
                prop:value=value on:input=on_input on:blur=move |_| b.settle()></textarea>
        }
        .into_any()
    } else {
        view! {
            <input id=dom_id.clone() type="text" class=move || field_class(invalid()) aria-invalid=move || invalid().to_string()
                prop:value=value on:input=on_input on:blur=move |_| b.settle()/>
        }
        .into_any()
    };
    view! {
        <div class="relative mt-1">
            <div class="flex items-center justify-between">
                <label for=dom_id class="text-xs font-medium text-slate-700">{label.clone()}</label>
                <button type="button" class="rounded border border-slate-300 px-1 font-mono text-xs text-slate-600 hover:bg-slate-100"
                    aria-label=format!("Insert a variable into {label}") aria-expanded=move || picking.get().to_string()
                    on:click=move |_| picking.update(|p| *p = !*p)>"{ }"</button>
            </div>
            {input}
            {move || {
                let u = unknown();
                (!u.is_empty()).then(|| view! {
                    <p data-testid="unknown-variable" class="text-xs text-amber-800 underline decoration-wavy">
                        {format!("Unknown variable: {}", u.join(", "))}
                    </p>
                })
            }}
            <Show when=move || picking.get()>
                <ul role="listbox" aria-label="Variables" data-testid="variable-picker"
                    class="absolute right-0 z-10 mt-1 max-h-56 w-72 overflow-auto rounded-md border border-slate-200 bg-white py-1 text-sm shadow-lg">
                    {move || b.variables_for(&idv.get_value()).into_iter().map(|var| {
                        let v2 = var.clone();
                        view! {
                            <li role="option" aria-selected="false" class="cursor-pointer px-3 py-1 font-mono text-xs hover:bg-purple-50"
                                on:mousedown=move |ev| { ev.prevent_default(); pick(v2.clone()); }>{var}</li>
                        }
                    }).collect_view()}
                </ul>
            </Show>
        </div>
    }
}

/// A setting picked from a fixed list.
#[component]
fn Choice(id: String, key: &'static str, #[prop(into)] label: String, options: Vec<&'static str>) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let dom_id = format!("{id}-{key}");
    view! {
        <div class="mt-1">
            <label for=dom_id.clone() class="text-xs font-medium text-slate-700">{label}</label>
            <select id=dom_id class=field_class(false) prop:value=move || b.config_str(&idv.get_value(), key)
                on:change=move |ev| b.set_config(&idv.get_value(), key, Value::String(event_target_value(&ev)))>
                {options.into_iter().map(|o| view! { <option value=o>{o}</option> }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn WaitForm(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let ms = move || b.config(&idv.get_value(), "duration").as_i64().unwrap_or(0);
    let until_mode = move || !b.config(&idv.get_value(), "until").is_null();
    let unit = RwSignal::new(duration_parts(ms()).1);
    let amount_id = format!("{id}-amount");
    let unit_id = format!("{id}-unit");
    let set_mode = move |ev: leptos::ev::Event| {
        let id = idv.get_value();
        b.with_node(&id, |n| {
            n.action.config = if event_target_value(&ev) == "until" {
                json!({"until": "{{appointment.startsAt}}", "offsetMs": -86_400_000})
            } else {
                json!({"duration": 3_600_000})
            };
        });
    };
    view! {
        <div class="flex flex-wrap items-end gap-2">
            <div>
                <label class="text-xs font-medium text-slate-700" for=format!("{id}-mode")>"Wait"</label>
                <select id=format!("{id}-mode") class=field_class(false) prop:value=move || if until_mode() { "until" } else { "for" } on:change=set_mode>
                    <option value="for">"for a while"</option>
                    <option value="until">"until a date"</option>
                </select>
            </div>
            <Show when=move || !until_mode()>
                <div>
                    <label class="text-xs font-medium text-slate-700" for=amount_id.clone()>"Amount"</label>
                    <input id=amount_id.clone() type="number" min="0" class="mt-1 w-28 rounded-md border border-slate-300 px-2 py-1 text-sm"
                        prop:value=move || { let (m, u) = (ms(), unit.get()); let size = unit_ms(u); if m % size == 0 { (m / size).to_string() } else { format!("{:.3}", m as f64 / size as f64) } }
                        on:input=move |ev| {
                            if let Ok(n) = event_target_value(&ev).trim().parse::<f64>() {
                                b.set_config(&idv.get_value(), "duration", json!((n * unit_ms(unit.get_untracked()) as f64).round() as i64));
                            }
                        }
                        on:blur=move |_| b.settle()/>
                </div>
                <div>
                    <label class="text-xs font-medium text-slate-700" for=unit_id.clone()>"Unit"</label>
                    <select id=unit_id.clone() class=field_class(false) prop:value=move || unit.get()
                        on:change=move |ev| {
                            let next = match event_target_value(&ev).as_str() { "days" => "days", "hours" => "hours", "minutes" => "minutes", "seconds" => "seconds", _ => "milliseconds" };
                            let amount = ms() as f64 / unit_ms(unit.get_untracked()) as f64;
                            unit.set(next);
                            b.set_config(&idv.get_value(), "duration", json!((amount * unit_ms(next) as f64).round() as i64));
                        }>
                        {["seconds", "minutes", "hours", "days", "milliseconds"].into_iter().map(|u| view! { <option value=u>{u}</option> }).collect_view()}
                    </select>
                </div>
            </Show>
            <Show when=until_mode>
                <div class="min-w-64 flex-1"><VarInput id=idv.get_value() key="until" label="Until (a date or a date field)"/></div>
                <div>
                    <label class="text-xs font-medium text-slate-700" for=format!("{}-offset", idv.get_value())>"Hours before (−) or after (+)"</label>
                    <input id=format!("{}-offset", idv.get_value()) type="number" class="mt-1 w-28 rounded-md border border-slate-300 px-2 py-1 text-sm"
                        prop:value=move || (b.config(&idv.get_value(), "offsetMs").as_i64().unwrap_or(0) as f64 / 3_600_000.0).to_string()
                        on:input=move |ev| {
                            if let Ok(h) = event_target_value(&ev).trim().parse::<f64>() {
                                b.set_config(&idv.get_value(), "offsetMs", json!((h * 3_600_000.0).round() as i64));
                            }
                        }/>
                </div>
            </Show>
        </div>
    }
}

#[component]
fn EmailTemplatePicker(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let names = b.catalog.with_value(|c| c.email_templates.clone());
    let dom_id = format!("{id}-template");
    view! {
        <div class="mt-1">
            <label for=dom_id.clone() class="text-xs font-medium text-slate-700">"Email template"</label>
            <select id=dom_id class=field_class(false) prop:value=move || b.config_str(&idv.get_value(), "template")
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    b.set_config(&idv.get_value(), "template", if v.is_empty() { Value::Null } else { Value::String(v) });
                }>
                <option value="">"None: write the subject and body here"</option>
                {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn Recipients(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let to = move || b.config(&idv.get_value(), "to");
    let has_role = move |r: &str| to()["roles"].as_array().is_some_and(|a| a.iter().any(|v| v == r));
    let set_to = move |roles: Vec<String>, users: Vec<String>| {
        let mut m = serde_json::Map::new();
        if !roles.is_empty() {
            m.insert("roles".into(), json!(roles));
        }
        if !users.is_empty() {
            m.insert("users".into(), json!(users));
        }
        b.set_config(&idv.get_value(), "to", if m.is_empty() { Value::Null } else { Value::Object(m) });
    };
    let list = |v: &Value, k: &str| -> Vec<String> {
        v[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
    };
    let users_id = format!("{id}-users");
    view! {
        <fieldset class="mt-2 text-sm">
            <legend class="text-xs font-medium text-slate-700">"Who gets it (nobody picked: every admin)"</legend>
            <div class="flex flex-wrap items-center gap-3">
                {["admin", "staff"].into_iter().map(|role| view! {
                    <label class="flex items-center gap-1">
                        <input type="checkbox" class="accent-purple-700" prop:checked=move || has_role(role)
                            on:change=move |ev| {
                                let mut roles = list(&to(), "roles");
                                roles.retain(|r| r != role);
                                if event_target_checked(&ev) { roles.push(role.to_string()); }
                                set_to(roles, list(&to(), "users"));
                            }/>
                        {format!("every {role}")}
                    </label>
                }).collect_view()}
                <label for=users_id.clone() class="text-xs">"and these users (emails, comma-separated)"</label>
                <input id=users_id type="text" class="min-w-48 flex-1 rounded-md border border-slate-300 px-2 py-1"
                    prop:value=move || list(&to(), "users").join(", ")
                    on:change=move |ev| {
                        let users = event_target_value(&ev).split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                        set_to(list(&to(), "roles"), users);
                    }/>
            </div>
        </fieldset>
    }
}

#[component]
fn EntityPicker(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let entities: Vec<String> = b.catalog.with_value(|c| c.entity_fields.iter().map(|(e, _)| e.clone()).collect());
    let dom_id = format!("{id}-entity");
    view! {
        <div class="mt-1">
            <label for=dom_id.clone() class="text-xs font-medium text-slate-700">"Record type"</label>
            <select id=dom_id class=field_class(false) prop:value=move || b.config_str(&idv.get_value(), "entity")
                on:change=move |ev| b.set_config(&idv.get_value(), "entity", Value::String(event_target_value(&ev)))>
                {entities.into_iter().map(|e| view! { <option value=e.clone()>{e.replace('_', " ")}</option> }).collect_view()}
            </select>
        </div>
    }
}

/// Rows of name → template text: a record's fields or changes, a request's headers.
#[component]
fn KeyValues(id: String, key: &'static str, #[prop(into)] label: String) -> impl IntoView {
    let b = use_builder();
    let row_label = label.clone();
    let idv = StoredValue::new(id.clone());
    let map = move || b.config(&idv.get_value(), key).as_object().cloned().unwrap_or_default();
    let keys = Memo::new(move |_| map().keys().cloned().collect::<Vec<_>>());
    let fields_of_entity = move || {
        let entity = b.config_str(&idv.get_value(), "entity");
        b.catalog.with_value(|c| {
            c.entity_fields.iter().find(|(e, _)| *e == entity).map(|(_, f)| f.clone()).unwrap_or_default()
        })
    };
    let list_id = format!("{id}-{key}-names");
    let new_name = RwSignal::new(String::new());
    let add = move || {
        let name = new_name.get_untracked().trim().to_string();
        if name.is_empty() {
            return;
        }
        let mut m = map();
        m.entry(name).or_insert(Value::String(String::new()));
        b.set_config(&idv.get_value(), key, Value::Object(m));
        b.settle();
        new_name.set(String::new());
    };
    view! {
        <fieldset class="mt-2">
            <legend class="text-xs font-medium text-slate-700">{label.clone()}</legend>
            <datalist id=list_id.clone()>
                {move || fields_of_entity().into_iter().map(|f| view! { <option value=f/> }).collect_view()}
            </datalist>
            {move || keys.get().into_iter().map(|k| {
                let label = row_label.clone();
                let k2 = k.clone();
                let k3 = k.clone();
                view! {
                    <div class="mt-1 flex items-center gap-2" data-testid="key-value">
                        <span class="w-40 truncate font-mono text-xs">{k.clone()}</span>
                        <input type="text" aria-label=format!("{label}: {k}") class="flex-1 rounded-md border border-slate-300 px-2 py-1 text-sm"
                            prop:value=move || map().get(&k2).map(|v| match v { Value::String(s) => s.clone(), o => o.to_string() }).unwrap_or_default()
                            on:input=move |ev| {
                                let mut m = map();
                                m.insert(k3.clone(), Value::String(event_target_value(&ev)));
                                let field = format!("{key}.{k3}");
                                let id = idv.get_value();
                                b.edit(Some(&format!("{id}.{field}")), |d| if let Some(n) = wire::builder::tree::node_mut(&mut d.flow, &id) { n.action.config[key] = Value::Object(m); });
                            }
                            on:blur=move |_| b.settle()/>
                        <button type="button" class="text-xs text-red-700 hover:underline" aria-label=format!("Remove {k}")
                            on:click=move |_| { let mut m = map(); m.remove(&k); b.set_config(&idv.get_value(), key, Value::Object(m)); b.settle(); }>"Remove"</button>
                    </div>
                }
            }).collect_view()}
            <div class="mt-1 flex items-center gap-2">
                <input type="text" list=list_id placeholder="name" aria-label=format!("New {label} name") class="w-40 rounded-md border border-slate-300 px-2 py-1 text-sm"
                    prop:value=new_name on:input=move |ev| new_name.set(event_target_value(&ev))
                    on:keydown=move |ev| if ev.key() == "Enter" { ev.prevent_default(); add(); }/>
                <button type="button" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100" on:click=move |_| add()>"Add"</button>
            </div>
        </fieldset>
    }
}

#[component]
fn Branches(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id);
    let count = move || {
        b.draft.with(|d| wire::builder::tree::node(&d.flow, &idv.get_value()).map(|n| n.lanes.len()).unwrap_or(0))
    };
    view! {
        <div class="flex items-center gap-2 text-sm">
            <span class="text-slate-600">{move || format!("{} branches run at the same time; the next action waits for all of them.", count())}</span>
            <button type="button" class="rounded-md border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 disabled:opacity-40"
                disabled=move || { count() >= 10 } on:click=move |_| b.with_node(&idv.get_value(), |n| n.lanes.push(Vec::new()))>"Add branch"</button>
            <button type="button" class="rounded-md border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 disabled:opacity-40"
                disabled=move || { count() <= 2 } on:click=move |_| b.with_node(&idv.get_value(), |n| { n.lanes.pop(); })>"Remove last branch"</button>
        </div>
    }
}

#[component]
fn RunWorkflowForm(id: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let templates = b.catalog.with_value(|c| c.templates.clone());
    let bad_json = RwSignal::new(None::<String>);
    view! {
        <div class="grid gap-2 md:grid-cols-2">
            <div class="mt-1">
                <label for=format!("{id}-template") class="text-xs font-medium text-slate-700">"Workflow"</label>
                <select id=format!("{id}-template") class=field_class(false) prop:value=move || b.config_str(&idv.get_value(), "templateId")
                    on:change=move |ev| b.set_config(&idv.get_value(), "templateId", Value::String(event_target_value(&ev)))>
                    <option value="">"Pick a workflow…"</option>
                    {templates.into_iter().map(|(tid, name)| view! { <option value=tid>{name}</option> }).collect_view()}
                </select>
            </div>
            <label class="mt-5 flex items-center gap-2 text-sm">
                <input type="checkbox" class="accent-purple-700" prop:checked=move || b.config(&idv.get_value(), "wait").as_bool().unwrap_or(false)
                    on:change=move |ev| b.set_config(&idv.get_value(), "wait", Value::Bool(event_target_checked(&ev)))/>
                "Wait until it ends"
            </label>
        </div>
        <label for=format!("{id}-data") class="mt-2 block text-xs font-medium text-slate-700">"Its trigger data (JSON; strings may use variables)"</label>
        <textarea id=format!("{id}-data") rows="2" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1 font-mono text-sm"
            prop:value=move || { let v = b.config(&idv.get_value(), "triggerData"); if v.is_null() { String::new() } else { v.to_string() } }
            on:change=move |ev| {
                let text = event_target_value(&ev);
                match serde_json::from_str::<Value>(if text.trim().is_empty() { "null" } else { &text }) {
                    Ok(v) => { bad_json.set(None); b.set_config(&idv.get_value(), "triggerData", v); }
                    Err(e) => bad_json.set(Some(e.to_string())),
                }
            }></textarea>
        {move || bad_json.get().map(|e| view! { <p role="alert" class="text-xs text-red-700">{format!("Not JSON: {e}")}</p> })}
    }
}
