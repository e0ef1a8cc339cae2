//! The workflow library: templates by category, what starts each, how often
//! it ran, active or not, public or private; run one now with trigger data,
//! duplicate it, or delete it after a dialog that counts the runs not ended.
//! New templates and edits open the visual builder (`builder`).

use leptos::prelude::*;
use leptos_router::components::A;
use wire::workflows::WorkflowTemplate;

use crate::api_records::list_records;
use crate::api_workflows::{
    template_unfinished, workflow_templates, DeleteTemplate, DuplicateTemplate, RunTemplate, SetTemplateActive,
    SetTemplatePublic,
};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{clean_error, confirm, local_minute, ErrorMessage, Loading};
use crate::fetched::fetched;

/// What the library's buttons dispatch; each refreshes the list when done.
#[derive(Clone, Copy)]
struct LibraryActions {
    toggle: ServerAction<SetTemplateActive>,
    publicity: ServerAction<SetTemplatePublic>,
    duplicate: ServerAction<DuplicateTemplate>,
    delete: ServerAction<DeleteTemplate>,
}

/// The delete dialog's words: what happens to the runs that have not ended.
pub fn delete_question(name: &str, unfinished: i64) -> String {
    let runs = match unfinished {
        0 => "No run of it is under way.".to_string(),
        1 => "1 run has not ended yet (waiting or running); it finishes on the version it started with.".to_string(),
        n => format!("{n} runs have not ended yet (waiting or running); they finish on the version they started with."),
    };
    format!("Delete the workflow \"{name}\"? {runs} This cannot be undone.")
}

#[component]
pub fn WorkflowsPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let live = use_live();
    let actions = LibraryActions {
        toggle: ServerAction::new(),
        publicity: ServerAction::new(),
        duplicate: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let list = fetched(
        move || {
            let a = actions;
            (
                search.get(),
                live.get(),
                a.toggle.version().get(),
                a.publicity.version().get(),
                a.duplicate.version().get(),
                a.delete.version().get(),
            )
        },
        |(search, ..)| workflow_templates(search),
    );
    view! {
        <Shell title="Workflows">
            <div class="mb-4 flex flex-wrap items-end gap-3">
                <div>
                    <label for="wf-search" class="block text-sm font-medium">"Search"</label>
                    <input id="wf-search" type="search" placeholder="Names and descriptions…"
                        class="mt-1 w-64 rounded-md border border-slate-300 px-3 py-1.5"
                        prop:value=search on:input=move |ev| search.set(event_target_value(&ev))/>
                </div>
                <A href="/executions" attr:class="text-sm text-purple-800 hover:underline">"See what ran →"</A>
                <A href="/workflows/new" attr:class="ml-auto rounded-md bg-purple-700 px-4 py-2 font-medium text-white hover:bg-purple-800">"New workflow"</A>
            </div>
            {move || {
                let a = actions;
                let failed = a.toggle.value().get().and_then(Result::err)
                    .or_else(|| a.publicity.value().get().and_then(Result::err))
                    .or_else(|| a.duplicate.value().get().and_then(Result::err))
                    .or_else(|| a.delete.value().get().and_then(Result::err));
                failed.map(|e| view! { <ErrorMessage message=clean_error(&e.to_string())/> })
            }}
            {move || actions.duplicate.value().get().and_then(Result::ok).map(|t| view! {
                <p role="status" class="mb-3 text-sm text-green-800">{format!("Made \"{}\" (inactive until you activate it).", t.name)}</p>
            })}
            <Transition fallback=Loading>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(page) if page.data.is_empty() => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">
                            "No workflow templates yet. Build one with New workflow, or load the demo practice."
                        </p>
                    }.into_any(),
                    Ok(page) => {
                        let mut categories: Vec<String> = page.data.iter().map(|t| t.category.clone()).collect();
                        categories.sort();
                        categories.dedup();
                        categories.into_iter().map(|c| {
                            let in_category: Vec<WorkflowTemplate> = page.data.iter().filter(|t| t.category == c).cloned().collect();
                            view! {
                                <section class="mb-6">
                                    <h2 class="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500">{c.replace('_', " ")}</h2>
                                    <ul class="space-y-3">
                                        {in_category.into_iter().map(|t| view! { <TemplateCard template=t actions/> }).collect_view()}
                                    </ul>
                                </section>
                            }
                        }).collect_view().into_any()
                    }
                })}
            </Transition>
        </Shell>
    }
}

#[component]
fn TemplateCard(template: WorkflowTemplate, actions: LibraryActions) -> impl IntoView {
    let run = ServerAction::<RunTemplate>::new();
    let open = RwSignal::new(false);
    let data = RwSignal::new("{}".to_string());
    let id = template.id.clone();
    let id2 = StoredValue::new(template.id.clone());
    let field_id = StoredValue::new(format!("data-{}", template.id));
    let active = template.is_active;
    let public = template.is_public;
    let steps = template.actions.len();
    let name = StoredValue::new(template.name.clone());
    let title = template.name.clone();
    let ask_delete = move |_| {
        let id = id2.get_value();
        // Read before waiting: a live update may redraw this card meanwhile.
        let name = name.get_value();
        leptos::task::spawn_local(async move {
            let unfinished = template_unfinished(id.clone()).await.unwrap_or(0);
            if confirm(&delete_question(&name, unfinished)) {
                actions.delete.dispatch(DeleteTemplate { id });
            }
        });
    };
    view! {
        <li data-testid="template-card" class="rounded-lg border border-slate-200 bg-white p-4">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="min-w-0">
                    <h3 class="font-semibold"><A href=format!("/workflows/{}", id2.get_value()) attr:class="hover:underline">{title}</A></h3>
                    <p class="text-sm text-slate-600">{template.description.clone()}</p>
                    <p data-testid="trigger" class="mt-1 text-sm">{template.trigger_in_words()}</p>
                    {match template.last_run.clone() {
                        Some(r) => {
                            let class = format!("rounded-full px-2 py-0.5 underline {}", crate::pages::executions::badge(&r.status));
                            view! {
                            <p data-testid="last-run" class="mt-1 text-xs">
                                "Last run: "
                                <A href=format!("/executions/{}", r.execution_id) attr:class=class>{r.status.clone()}</A>
                                <span class="text-slate-500">{format!(" {}", local_minute(&r.started_at))}</span>
                            </p>
                        }.into_any()
                        }
                        None => view! { <p data-testid="last-run" class="mt-1 text-xs text-slate-500">"Never run"</p> }.into_any(),
                    }}
                    {(!template.next_runs.is_empty()).then(|| view! {
                        <p class="text-xs text-slate-500">{format!("Next: {}", template.next_runs.iter().take(3).map(|t| local_minute(t)).collect::<Vec<_>>().join(", "))}</p>
                    })}
                </div>
                <div class="flex flex-wrap items-center gap-3 text-sm">
                    <span class="text-slate-500">{format!("{steps} {} · ran {} times · v{}", if steps == 1 { "action" } else { "actions" }, template.usage_count, template.version)}</span>
                    <span class=if active { "rounded-full bg-green-100 px-2 py-0.5 text-xs text-green-800" } else { "rounded-full bg-slate-200 px-2 py-0.5 text-xs text-slate-700" }>
                        {if active { "active" } else { "inactive" }}
                    </span>
                    <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-700">{if public { "public" } else { "private" }}</span>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100"
                        on:click=move |_| { actions.toggle.dispatch(SetTemplateActive { id: id.clone(), active: !active }); }>
                        {if active { "Deactivate" } else { "Activate" }}
                    </button>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100"
                        on:click=move |_| { actions.publicity.dispatch(SetTemplatePublic { id: id2.get_value(), public: !public }); }>
                        {if public { "Make private" } else { "Make public" }}
                    </button>
                    <A href=format!("/workflows/{}", id2.get_value()) attr:class="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100">"Edit"</A>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100"
                        on:click=move |_| { actions.duplicate.dispatch(DuplicateTemplate { id: id2.get_value() }); }>
                        "Duplicate"
                    </button>
                    <button type="button" class="rounded-md border border-red-300 px-3 py-1 text-red-700 hover:bg-red-50"
                        on:click=ask_delete>
                        "Delete…"
                    </button>
                    <button type="button" class="rounded-md bg-purple-700 px-3 py-1 text-white hover:bg-purple-800 disabled:opacity-50"
                        disabled=!active aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.update(|o| *o = !*o)>
                        "Run…"
                    </button>
                </div>
            </div>
            <Show when=move || open.get()>
                <form class="mt-3 space-y-2" on:submit=move |ev| {
                    ev.prevent_default();
                    run.dispatch(RunTemplate { id: id2.get_value(), trigger_data: data.get() });
                }>
                    <div class="flex flex-wrap gap-3">
                        <RecordPicker entity="patient" label="A patient" key="patientId" data/>
                        <RecordPicker entity="appointment" label="An appointment" key="appointmentId" data/>
                        <RecordPicker entity="client" label="A client" key="clientId" data/>
                    </div>
                    <label class="block text-sm font-medium" for=field_id.get_value()>"Trigger data (JSON)"</label>
                    <textarea id=field_id.get_value() rows="3"
                        class="w-full rounded-md border border-slate-300 px-3 py-1.5 font-mono text-sm"
                        prop:value=data on:input=move |ev| data.set(event_target_value(&ev))></textarea>
                    <p class="text-xs text-slate-500">"Ids such as patientId, appointmentId or clientId bring their records in: {{patient.owner.email}}."</p>
                    <button type="submit" class="rounded-md bg-purple-700 px-3 py-1 text-sm text-white hover:bg-purple-800"
                        disabled=move || run.pending().get()>
                        {move || if run.pending().get() { "Starting…" } else { "Run now" }}
                    </button>
                    {move || run.value().get().map(|r| match r {
                        Ok(a) => view! {
                            <p role="status" class="text-sm text-green-800">
                                "Started: "<A href=format!("/executions/{}", a.execution_id) attr:class="underline">"watch the execution"</A>
                            </p>
                        }.into_any(),
                        Err(e) => view! { <p role="alert" class="text-sm text-red-700">{clean_error(&e.to_string())}</p> }.into_any(),
                    })}
                </form>
            </Show>
        </li>
    }
}

/// Fills the trigger data with a demo patient's id (and so their owner and records).
/// Picks a demo record (a patient, an appointment or a client) for the run's
/// trigger data: its id goes in under `key` (`patientId` …), beside what the
/// data already holds, and brings the record and its relations in.
#[component]
fn RecordPicker(entity: &'static str, label: &'static str, key: &'static str, data: RwSignal<String>) -> impl IntoView {
    let records =
        fetched(move || (), move |_| list_records(entity.into(), String::new(), String::new(), String::new()));
    let choose = move |id: String| {
        let mut v: serde_json::Value = serde_json::from_str(&data.get_untracked()).unwrap_or_default();
        if !v.is_object() {
            v = serde_json::json!({});
        }
        if id.is_empty() {
            if let Some(o) = v.as_object_mut() {
                o.remove(key);
            }
        } else {
            v[key] = serde_json::Value::String(id);
        }
        data.set(v.to_string());
    };
    view! {
        <Suspense fallback=move || view! { <p class="text-xs text-slate-500">{format!("Loading {entity}s…")}</p> }>
            {move || records.get().and_then(Result::ok).map(|list| view! {
                <label class="block text-sm font-medium">
                    {label}
                    <select class="ml-2 max-w-full rounded-md border border-slate-300 px-2 py-1 text-sm font-normal"
                        on:change=move |ev| choose(event_target_value(&ev))>
                        <option value="">"None"</option>
                        {list.data.into_iter().map(|r| {
                            let when = r.str("startsAt").map(|t| format!(" · {}", local_minute(t))).unwrap_or_default();
                            view! { <option value=r.id.clone()>{format!("{}{when}", r.title())}</option> }
                        }).collect_view()}
                    </select>
                </label>
            })}
        </Suspense>
    }
}
