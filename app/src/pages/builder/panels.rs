//! The builder's side panels: the template's details, the dry run, the
//! JSON view (kept in sync both ways) and the versions with a side-by-side
//! comparison and restore.

use leptos::prelude::*;
use serde_json::Value;
use wire::builder::{side_by_side, Draft};
use wire::workflows::{DryRunStep, WorkflowTemplate};

use super::context::use_builder;
use crate::api_builder::{template_versions, DryRunDraft};
use crate::api_records::list_records;
use crate::components::ui::{clean_error, local_time, ErrorMessage};
use crate::fetched::fetched;

const CATEGORIES: &[&str] = &["general", "patient_care", "appointments", "lab", "billing", "reminders", "operations"];

#[component]
pub fn Details() -> impl IntoView {
    let b = use_builder();
    let text = move |f: fn(&Draft) -> &String| b.draft.with(|d| f(d).clone());
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-label="Details">
            <div class="grid gap-3 md:grid-cols-[1fr_12rem]">
                <div>
                    <label for="wf-name" class="block text-xs font-medium text-slate-700">"Name"</label>
                    <input id="wf-name" type="text" placeholder="Patient Follow-up"
                        class=move || if b.error_at("name").is_some() { "mt-1 w-full rounded-md border border-red-500 px-2 py-1" } else { "mt-1 w-full rounded-md border border-slate-300 px-2 py-1" }
                        aria-invalid=move || b.error_at("name").is_some().to_string()
                        prop:value=move || text(|d| &d.name)
                        on:input=move |ev| { let v = event_target_value(&ev); b.edit(Some("name"), |d| d.name = v); }
                        on:blur=move |_| b.settle()/>
                    {move || b.error_at("name").map(|m| view! { <p role="alert" class="text-xs text-red-700">{m}</p> })}
                </div>
                <div>
                    <label for="wf-category" class="block text-xs font-medium text-slate-700">"Category"</label>
                    <select id="wf-category" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1"
                        prop:value=move || text(|d| &d.category)
                        on:change=move |ev| { let v = event_target_value(&ev); b.edit(None, |d| d.category = v); }>
                        {move || {
                            let current = text(|d| &d.category);
                            let mut all: Vec<String> = CATEGORIES.iter().map(|c| c.to_string()).collect();
                            if !all.contains(&current) { all.push(current); }
                            all.into_iter().map(|c| view! { <option value=c.clone()>{c.replace('_', " ")}</option> }).collect_view()
                        }}
                    </select>
                </div>
            </div>
            <label for="wf-description" class="mt-2 block text-xs font-medium text-slate-700">"Description"</label>
            <input id="wf-description" type="text" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1 text-sm"
                prop:value=move || text(|d| &d.description)
                on:input=move |ev| { let v = event_target_value(&ev); b.edit(Some("description"), |d| d.description = v); }
                on:blur=move |_| b.settle()/>
            <label class="mt-2 flex items-center gap-2 text-sm">
                <input type="checkbox" class="accent-purple-700" prop:checked=move || b.draft.with(|d| d.is_active)
                    on:change=move |ev| { let v = event_target_checked(&ev); b.edit(None, |d| d.is_active = v); }/>
                "Active (event and schedule triggers start it; inactive templates cannot run)"
            </label>
        </section>
    }
}

#[component]
pub fn DryRunPanel() -> impl IntoView {
    let b = use_builder();
    let data = RwSignal::new("{}".to_string());
    let run = ServerAction::<DryRunDraft>::new();
    let patients = fetched(|| (), |_| list_records("patient".into(), String::new(), String::new(), String::new()));
    Effect::new(move |_| match run.value().get() {
        Some(Ok(r)) => b.dry.set(r.steps),
        Some(Err(_)) => b.dry.set(Vec::new()),
        None => {}
    });
    let try_it = move |_| {
        let actions =
            serde_json::to_value(wire::builder::tree::to_actions(&b.draft.get_untracked().flow)).unwrap_or(Value::Null);
        run.dispatch(DryRunDraft { actions, trigger_data: data.get_untracked() });
    };
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="dry-heading">
            <h2 id="dry-heading" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Try it (dry run)"</h2>
            <p class="mt-1 text-xs text-slate-600">"Shows, card by card, what would happen with this data. Nothing is sent or written."</p>
            <label for="dry-patient" class="mt-2 block text-xs font-medium text-slate-700">"A demo patient"</label>
            <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Loading patients…"</p> }>
                {move || patients.get().map(|r| match r {
                    Ok(list) => view! {
                        <select id="dry-patient" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1 text-sm"
                            on:change=move |ev| { let id = event_target_value(&ev); if !id.is_empty() { data.set(format!("{{\"patientId\": \"{id}\"}}")); } }>
                            <option value="">"Pick a patient…"</option>
                            {list.data.into_iter().map(|p| view! { <option value=p.id.clone()>{p.title()}</option> }).collect_view()}
                        </select>
                    }.into_any(),
                    Err(e) => view! { <p class="text-xs text-red-700">{clean_error(&e.to_string())}</p> }.into_any(),
                })}
            </Suspense>
            <label for="dry-data" class="mt-2 block text-xs font-medium text-slate-700">"Trigger data (JSON)"</label>
            <textarea id="dry-data" rows="3" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
                prop:value=data on:input=move |ev| data.set(event_target_value(&ev))></textarea>
            <button type="button" class="mt-2 rounded-md border border-purple-700 px-3 py-1 text-sm text-purple-800 hover:bg-purple-50 disabled:opacity-50"
                disabled=move || run.pending().get() on:click=try_it>
                {move || if run.pending().get() { "Trying…" } else { "Dry run" }}
            </button>
            {move || run.value().get().map(|r| match r {
                Ok(r) => view! {
                    <p role="status" data-testid="dry-summary" class="mt-2 text-xs text-slate-700">
                        {format!("{} actions walked; the result is on each card.", r.steps.len())}
                    </p>
                }.into_any(),
                Err(e) => view! { <div class="mt-2"><ErrorMessage message=e.to_string()/></div> }.into_any(),
            })}
        </section>
    }
}

/// What the dry run says one card would do.
#[component]
pub fn DryRunResult(step: DryRunStep) -> impl IntoView {
    let (class, words) = match step.status.as_str() {
        "would_run" => ("bg-green-100 text-green-800", "would run"),
        "would_wait" => ("bg-amber-100 text-amber-800", "would wait"),
        "would_fail" => ("bg-red-100 text-red-800", "would fail"),
        "skipped" => ("bg-slate-200 text-slate-700", "skipped (branch not taken)"),
        _ => ("bg-slate-200 text-slate-700", "not reached"),
    };
    let d = &step.detail;
    let line = |k: &str| {
        d.get(k).map(|v| match v {
            Value::String(s) => s.clone(),
            // Recipients are a list: "a@example.com, b@example.com".
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            o => o.to_string(),
        })
    };
    let summary = match step.action_type.as_str() {
        "send_email" => format!(
            "To {} · {}\n{}",
            line("to").unwrap_or_default(),
            line("subject").unwrap_or_default(),
            line("text").unwrap_or_default()
        ),
        _ => serde_json::to_string_pretty(d).unwrap_or_default(),
    };
    let html = (step.action_type == "send_email").then(|| line("html")).flatten().filter(|h| h != "null");
    view! {
        <div data-testid="dry-result" class="mt-2 rounded-md border border-dashed border-slate-300 bg-slate-50 p-2 text-xs">
            <span class=format!("rounded-full px-2 py-0.5 font-medium {class}")>{words}</span>
            {step.error.clone().map(|e| view! { <p class="mt-1 text-red-700">{e}</p> })}
            <pre class="mt-1 max-h-40 overflow-auto whitespace-pre-wrap font-mono">{summary}</pre>
            {html.map(|h| view! {
                // The rendered HTML mail, looked at only: no scripts, forms or navigation.
                <iframe data-testid="dry-html" title="The email's HTML" sandbox="" srcdoc=h
                    class="mt-1 h-48 w-full rounded border border-slate-200 bg-white"></iframe>
            })}
        </div>
    }
}

fn pretty_input(d: &Draft) -> String {
    serde_json::to_string_pretty(&d.to_input()).unwrap_or_default()
}

/// The draft as the API's JSON; edits that parse replace the draft.
#[component]
pub fn JsonView() -> impl IntoView {
    let b = use_builder();
    let open = RwSignal::new(false);
    // While the text does not parse it is kept here (and the draft left alone).
    let broken = RwSignal::new(None::<(String, String)>);
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4">
            <button type="button" class="text-sm font-semibold uppercase tracking-wide text-slate-500 hover:text-purple-800"
                aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                {move || if open.get() { "▾ JSON view" } else { "▸ JSON view" }}
            </button>
            <Show when=move || open.get()>
                <label for="json-view" class="sr-only">"The template as JSON"</label>
                <textarea id="json-view" rows="18" spellcheck="false" class="mt-2 w-full rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
                    prop:value=move || broken.get().map(|(t, _)| t).unwrap_or_else(|| b.draft.with(pretty_input))
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        match serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()).and_then(Draft::from_json) {
                            Ok(d) => { broken.set(None); b.edit(Some("json"), |draft| *draft = d); }
                            Err(e) => broken.set(Some((text, e))),
                        }
                    }
                    on:blur=move |_| b.settle()></textarea>
                {move || broken.get().map(|(_, e)| view! { <p role="alert" class="text-xs text-red-700">{format!("Not applied: {e}")}</p> })}
            </Show>
        </section>
    }
}

#[component]
pub fn Versions(id: String, current: RwSignal<i64>) -> impl IntoView {
    let b = use_builder();
    let versions = fetched(move || (id.clone(), current.get()), |(id, _)| template_versions(id));
    let comparing = RwSignal::new(None::<WorkflowTemplate>);
    let restored = RwSignal::new(None::<i64>);
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="versions-heading">
            <h2 id="versions-heading" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Versions"</h2>
            {move || restored.get().map(|v| view! {
                <p role="status" class="mt-1 text-xs text-green-800">{format!("Version {v} is in the editor: save to make it the live version (undo takes it back).")}</p>
            })}
            <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Loading versions…"</p> }>
                {move || versions.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(list) => view! {
                        <ul class="mt-2 space-y-1 text-sm">
                            {list.into_iter().map(|v| {
                                let (v1, v2) = (v.clone(), v.clone());
                                let live = v.version == current.get_untracked();
                                view! {
                                    <li data-testid="version" class="flex flex-wrap items-center gap-2">
                                        <span class="font-medium">{format!("v{}", v.version)}</span>
                                        <span class="text-xs text-slate-500">{local_time(&v.updated_at)}</span>
                                        <span class="text-xs text-slate-600">{format!("{} actions", v.actions.len())}</span>
                                        {live.then(|| view! { <span class="rounded-full bg-green-100 px-2 text-xs text-green-800">"live"</span> })}
                                        <button type="button" class="text-xs text-purple-800 hover:underline" on:click=move |_| comparing.set(Some(v1.clone()))>"Compare"</button>
                                        {(!live).then(|| view! {
                                            <button type="button" class="text-xs text-purple-800 hover:underline"
                                                on:click=move |_| { let t = v2.clone(); restored.set(Some(t.version)); b.edit(None, |d| *d = Draft::from_template(&t)); }>
                                                {format!("Restore v{}", v2.version)}
                                            </button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Suspense>
            {move || comparing.get().map(|v| {
                let rows = side_by_side(&pretty_input(&Draft::from_template(&v)), &b.draft.with(pretty_input));
                view! {
                    <div class="mt-3" data-testid="version-diff">
                        <div class="flex items-center justify-between text-xs font-medium">
                            <span>{format!("v{}", v.version)}</span><span>"In the editor"</span>
                            <button type="button" class="text-purple-800 hover:underline" on:click=move |_| comparing.set(None)>"Close"</button>
                        </div>
                        <div class="mt-1 grid max-h-96 grid-cols-2 overflow-auto rounded border border-slate-200 font-mono text-[11px] leading-4">
                            {rows.into_iter().map(|(l, r)| {
                                let changed = l != r;
                                let left_class = if changed && l.is_some() { "whitespace-pre-wrap bg-red-50 px-1 text-red-900" } else { "whitespace-pre-wrap px-1" };
                                let right_class = if changed && r.is_some() { "whitespace-pre-wrap bg-green-50 px-1 text-green-900" } else { "whitespace-pre-wrap px-1" };
                                view! {
                                    <pre class=left_class>{l.unwrap_or_default()}</pre>
                                    <pre class=right_class>{r.unwrap_or_default()}</pre>
                                }
                            }).collect_view()}
                        </div>
                    </div>
                }
            })}
        </section>
    }
}

/// "Start from a template": the vet-practice starters, loaded into the editor (undo takes it back).
#[component]
pub fn Gallery() -> impl IntoView {
    let b = use_builder();
    let starters = b.catalog.with_value(|c| c.starters.clone());
    view! {
        <section class="rounded-lg border border-purple-200 bg-purple-50 p-4" aria-labelledby="gallery-heading">
            <h2 id="gallery-heading" class="text-sm font-semibold uppercase tracking-wide text-purple-900">"Start from a template"</h2>
            <ul class="mt-2 grid gap-2 md:grid-cols-3">
                {starters.into_iter().map(|(slug, template)| {
                    let name = template["name"].as_str().unwrap_or_default().to_string();
                    let description = template["description"].as_str().unwrap_or_default().to_string();
                    view! {
                        <li>
                            <button type="button" data-testid="starter" data-starter=slug
                                class="h-full w-full rounded-md border border-purple-200 bg-white p-2 text-left hover:border-purple-500"
                                on:click=move |_| {
                                    if let Ok(d) = Draft::from_json(template.clone()) { b.edit(None, |draft| *draft = d); }
                                }>
                                <span class="block text-sm font-medium">{name}</span>
                                <span class="block text-xs text-slate-600">{description}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
