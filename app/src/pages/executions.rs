//! What ran: executions with their live status, and one execution's steps
//! as a timeline (a bar per step, its length the step's share of the run;
//! waits drawn as waits), each step's config, output and error; cancel and
//! retry from the failed step.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use wire::workflows::{WorkflowExecution, WorkflowExecutionStep};

use crate::api_workflows::{
    execution_detail, workflow_executions, workflow_templates, CancelWorkflowExecution, RetryWorkflowExecution,
};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{clean_error, confirm, local_minute, local_time, ErrorMessage, Loading};
use crate::fetched::fetched;

const STATUSES: &[&str] = &["pending", "running", "waiting", "completed", "failed", "cancelled"];

/// The colours of an execution status badge.
pub(crate) fn badge(status: &str) -> &'static str {
    match status {
        "completed" => "bg-green-100 text-green-800",
        "failed" => "bg-red-100 text-red-800",
        "waiting" | "pending" => "bg-amber-100 text-amber-800",
        "running" => "bg-blue-100 text-blue-800",
        _ => "bg-slate-200 text-slate-700",
    }
}

/// "waiting until 2026-12-03 09:00" rather than a bare "waiting".
fn status_words(e: &WorkflowExecution) -> String {
    match (&*e.status, &e.waiting_until) {
        ("waiting", Some(t)) => format!("waiting until {}", local_minute(t)),
        ("waiting", None) => "waiting for its branches".into(),
        (s, _) => s.to_string(),
    }
}

#[component]
pub fn ExecutionsPage() -> impl IntoView {
    let status = RwSignal::new(String::new());
    let template = RwSignal::new(String::new());
    let since = RwSignal::new(String::new());
    let cursors = RwSignal::new(vec![String::new()]);
    let live = use_live();
    let list = fetched(
        move || {
            (status.get(), template.get(), since.get(), cursors.get().last().cloned().unwrap_or_default(), live.get())
        },
        |(status, template, since, cursor, _)| workflow_executions(status, template, since, cursor),
    );
    let templates = fetched(|| (), |_| workflow_templates(String::new()));
    view! {
        <Shell title="Executions">
            <div class="mb-4 flex flex-wrap items-end gap-4">
                <div>
                    <label for="ex-status" class="block text-sm font-medium">"Status"</label>
                    <select id="ex-status" class="mt-1 rounded-md border border-slate-300 px-3 py-1.5" prop:value=status
                        on:change=move |ev| { status.set(event_target_value(&ev)); cursors.set(vec![String::new()]); }>
                        <option value="">"Any"</option>
                        {STATUSES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                    </select>
                </div>
                <div>
                    <label for="ex-template" class="block text-sm font-medium">"Workflow"</label>
                    <select id="ex-template" class="mt-1 max-w-64 rounded-md border border-slate-300 px-3 py-1.5" prop:value=template
                        on:change=move |ev| { template.set(event_target_value(&ev)); cursors.set(vec![String::new()]); }>
                        <option value="">"Any"</option>
                        <Suspense fallback=|| ()>
                            {move || templates.get().and_then(Result::ok).map(|page| page.data.into_iter().map(|t| view! { <option value=t.id.clone()>{t.name.clone()}</option> }).collect_view())}
                        </Suspense>
                    </select>
                </div>
                <div>
                    <label for="ex-since" class="block text-sm font-medium">"Started since"</label>
                    <input id="ex-since" type="date" class="mt-1 rounded-md border border-slate-300 px-3 py-1" prop:value=since
                        on:change=move |ev| { since.set(event_target_value(&ev)); cursors.set(vec![String::new()]); }/>
                </div>
            </div>
            <Transition fallback=Loading>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(page) if page.data.is_empty() => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">
                            {if status.get().is_empty() && template.get().is_empty() && since.get().is_empty() { "Nothing has run yet." } else { "No executions match." }}
                        </p>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone();
                        view! {
                            <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white">
                                <table class="min-w-full text-sm">
                                    <thead class="bg-slate-50 text-left text-slate-600">
                                        <tr><th class="px-3 py-2">"Workflow"</th><th class="px-3 py-2">"Started by"</th><th class="px-3 py-2">"Started"</th><th class="px-3 py-2">"Status"</th></tr>
                                    </thead>
                                    <tbody>
                                        {page.data.into_iter().map(|e| { let words = status_words(&e); view! {
                                            <tr data-testid="execution-row" class="border-t border-slate-100">
                                                <td class="px-3 py-2"><A href=format!("/executions/{}", e.id.clone()) attr:class="text-purple-800 hover:underline">{e.workflow_name.clone()}</A></td>
                                                <td class="px-3 py-2">{e.trigger_type.clone()}</td>
                                                <td class="px-3 py-2">{local_time(&e.started_at)}</td>
                                                <td class="px-3 py-2"><span class=format!("rounded-full px-2 py-0.5 text-xs {}", badge(&e.status))>{words}</span></td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <nav aria-label="Pagination" class="mt-3 flex justify-end gap-3 text-sm">
                                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                                    disabled=move || cursors.get().len() <= 1
                                    on:click=move |_| cursors.update(|c| { c.pop(); })>"Newer"</button>
                                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                                    disabled=next.is_none()
                                    on:click=move |_| if let Some(n) = next.clone() { cursors.update(|c| c.push(n)); }>"Older"</button>
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </Shell>
    }
}

#[component]
pub fn ExecutionDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let live = use_live();
    let cancel = ServerAction::<CancelWorkflowExecution>::new();
    let retry = ServerAction::<RetryWorkflowExecution>::new();
    let detail = fetched(
        move || (id(), live.get(), cancel.version().get(), retry.version().get()),
        |(id, _, _, _)| execution_detail(id),
    );
    view! {
        <Shell title="Execution">
            {move || cancel.value().get().and_then(Result::err).or_else(|| retry.value().get().and_then(Result::err))
                .map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            <Transition fallback=Loading>
                {move || detail.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(e) => {
                        let total = e.duration_ms.max(1);
                        let can_cancel = matches!(e.status.as_str(), "pending" | "running" | "waiting");
                        let can_retry = e.status == "failed";
                        let (cid, rid, name) = (e.id.clone(), e.id.clone(), e.workflow_name.clone());
                        view! {
                            <div class="mb-4 flex flex-wrap items-center gap-3">
                                <h2 data-testid="execution-name" class="text-lg font-semibold">{e.workflow_name.clone()}</h2>
                                <span data-testid="execution-status" class=format!("rounded-full px-2 py-0.5 text-xs {}", badge(&e.status))>{status_words(&e)}</span>
                                <span class="text-sm text-slate-500">{format!("started {} ({}), v{}", local_time(&e.started_at), e.trigger_type, e.template_version.unwrap_or(0))}</span>
                                {can_cancel.then(|| view! {
                                    <button type="button" class="rounded-md border border-red-300 px-3 py-1 text-sm text-red-700 hover:bg-red-50"
                                        on:click=move |_| if confirm(&format!("Cancel this run of \"{name}\"? Steps not yet run will not run.")) {
                                            cancel.dispatch(CancelWorkflowExecution { id: cid.clone() });
                                        }>"Cancel"</button>
                                })}
                                {can_retry.then(|| view! {
                                    <button type="button" class="rounded-md bg-purple-700 px-3 py-1 text-sm text-white hover:bg-purple-800"
                                        on:click=move |_| { retry.dispatch(RetryWorkflowExecution { id: rid.clone() }); }>"Retry from the failed step"</button>
                                })}
                            </div>
                            {e.error.clone().map(|err| view! { <p role="alert" class="mb-4 rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">{err}</p> })}
                            {(!e.cause.is_empty()).then(|| view! { <p class="mb-4 text-sm text-slate-600">{format!("Caused by: {}", e.cause.join(" → "))}</p> })}
                            {if e.steps.is_empty() {
                                view! { <p class="text-sm text-slate-600">"No step has run yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ol class="space-y-3">
                                        {e.steps.into_iter().map(|st| view! { <Step step=st total/> }).collect_view()}
                                    </ol>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                })}
            </Transition>
        </Shell>
    }
}

#[component]
fn Step(step: WorkflowExecutionStep, total: i64) -> impl IntoView {
    let took = step.duration_ms;
    let width = ((took as f64 / total as f64) * 100.0).clamp(2.0, 100.0);
    let waiting = step.action_type == "wait";
    let bar = if waiting {
        "bg-amber-300 bg-[repeating-linear-gradient(45deg,transparent,transparent_4px,rgba(255,255,255,.5)_4px,rgba(255,255,255,.5)_8px)]"
    } else if step.status == "failed" {
        "bg-red-500"
    } else {
        "bg-purple-600"
    };
    let title = if step.action_name.is_empty() { step.action_id.clone() } else { step.action_name.clone() };
    let output = serde_json::to_string_pretty(&step.output).unwrap_or_default();
    let config = serde_json::to_string_pretty(&step.action_config).unwrap_or_default();
    view! {
        <li data-testid="execution-step" class="rounded-lg border border-slate-200 bg-white p-3">
            <div class="flex flex-wrap items-center gap-3 text-sm">
                <span class="font-medium">{title}</span>
                <span class="font-mono text-xs text-slate-500">{step.action_type.clone()}</span>
                <span data-testid="step-status" class=format!("rounded-full px-2 py-0.5 text-xs {}", badge(&step.status))>{step.status.clone()}</span>
                {step.branch.clone().map(|b| view! { <span data-testid="step-branch" class="text-xs text-slate-600">{format!("took the {b} branch")}</span> })}
                <span class="text-xs text-slate-500">{if waiting { format!("waited {}", words(took)) } else { format!("{took} ms") }}</span>
            </div>
            <div class="mt-2 h-2 w-full rounded bg-slate-100" aria-hidden="true">
                <div class=format!("h-2 rounded {bar}") style=format!("width: {width:.1}%")></div>
            </div>
            {step.error.clone().map(|e| view! { <p role="alert" class="mt-2 text-sm text-red-700">{clean_error(&e)}</p> })}
            <details class="mt-2 text-xs">
                <summary class="cursor-pointer text-slate-600">"Config and output"</summary>
                <div class="mt-2 grid gap-2 md:grid-cols-2">
                    <pre class="overflow-x-auto rounded bg-slate-50 p-2">{config}</pre>
                    <pre data-testid="step-output" class="overflow-x-auto rounded bg-slate-50 p-2">{output}</pre>
                </div>
            </details>
        </li>
    }
}

/// 90061000 → "1 d 1 h 1 min"; under a minute, seconds.
fn words(ms: i64) -> String {
    if ms < 60_000 {
        return format!("{:.1} s", ms as f64 / 1000.0);
    }
    let (d, h, m) = (ms / 86_400_000, ms / 3_600_000 % 24, ms / 60_000 % 60);
    [(d, "d"), (h, "h"), (m, "min")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n} {u}"))
        .collect::<Vec<_>>()
        .join(" ")
}
