//! The webhooks list: live numbers, search, create, toggle, test, delete.

use std::collections::{BTreeMap, HashMap, HashSet};

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{event_catalog, list_webhooks, test_webhook, CreateWebhook, DeleteWebhook, SetWebhookActive};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::live_strip::LiveStrip;
use crate::components::ui::{
    clean_error, confirm_webhook_delete, local_time, percent, ErrorMessage, Loading, Pager, StatusBadge,
};
use crate::fetched::{fetched, fetched_once};
use wire::condition::{Condition, ConditionGroup, Logic, Operator};
use wire::webhooks::{EventType, TestResult, WebhookInput, WebhookSummary};

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let page = RwSignal::new(1u32);
    let search = RwSignal::new(String::new());
    let creating = RwSignal::new(false);
    let create = ServerAction::<CreateWebhook>::new();
    let toggle = ServerAction::<SetWebhookActive>::new();
    let remove = ServerAction::<DeleteWebhook>::new();
    // Test results live here, not in the rows: live updates re-render the rows.
    let tests = TestState::default();
    let live = use_live();
    let list = fetched(
        move || {
            (
                page.get(),
                search.get(),
                create.version().get(),
                toggle.version().get(),
                remove.version().get(),
                live.get(),
            )
        },
        |(page, search, ..)| list_webhooks(page, search),
    );

    view! {
        <Shell title="Webhooks">
            <LiveStrip/>
            <div class="mb-4 flex flex-wrap items-end justify-between gap-3">
                <div>
                    <label for="webhook-search" class="block text-sm font-medium">"Search"</label>
                    <input
                        id="webhook-search"
                        type="search"
                        placeholder="Name or URL"
                        class="mt-1 w-64 rounded-md border border-slate-300 px-3 py-2"
                        prop:value=search
                        on:input=move |ev| {
                            search.set(event_target_value(&ev));
                            page.set(1);
                        }
                    />
                </div>
                <button
                    type="button"
                    class="rounded-md bg-purple-700 px-4 py-2 font-medium text-white hover:bg-purple-800"
                    aria-expanded=move || creating.get().to_string()
                    on:click=move |_| creating.update(|c| *c = !*c)
                >
                    {move || if creating.get() { "Close form" } else { "New webhook" }}
                </button>
            </div>
            <Show when=move || creating.get()>
                <CreateForm create=create on_done=move || creating.set(false)/>
            </Show>
            {move || {
                create.value().get().and_then(|r| r.ok()).and_then(|w| w.secret.map(|s| (w.name, s))).map(|(name, secret)| {
                    view! {
                        <div role="status" class="mb-4 rounded-md border border-green-200 bg-green-50 p-3 text-sm">
                            <p class="font-medium text-green-800">
                                {format!("Webhook \"{name}\" created. Its signing secret (also on its page):")}
                            </p>
                            <code data-testid="new-secret" class="mt-1 block break-all font-mono">{secret}</code>
                        </div>
                    }
                })
            }}
            {move || remove.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            {move || toggle.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            <Transition fallback=Loading>
                {move || {
                    list.get().map(|r| match r {
                        Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                        Ok(p) if p.data.is_empty() => view! {
                            <div class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">
                                {if search.get_untracked().is_empty() { "No webhooks yet. Create one to start receiving events." } else { "No webhook matches this search." }}
                            </div>
                        }.into_any(),
                        Ok(p) => view! {
                            <div class="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
                                <table class="w-full text-left text-sm">
                                    <thead class="border-b bg-slate-50 text-slate-500">
                                        <tr>
                                            <th class="px-4 py-2">"Name"</th>
                                            <th class="px-4 py-2">"Status"</th>
                                            <th class="px-4 py-2">"Success"</th>
                                            <th class="px-4 py-2">"Last delivery"</th>
                                            <th class="px-4 py-2">"Active"</th>
                                            <th class="px-4 py-2"><span class="sr-only">"Actions"</span></th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {p.data.into_iter().map(|row| view! { <Row row=row toggle=toggle remove=remove tests=tests/> }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <Pager page=page total_pages=p.total_pages/>
                        }.into_any(),
                    })
                }}
            </Transition>
        </Shell>
    }
}

#[component]
fn Row(
    row: WebhookSummary,
    toggle: ServerAction<SetWebhookActive>,
    remove: ServerAction<DeleteWebhook>,
    tests: TestState,
) -> impl IntoView {
    let w = row.webhook;
    let (row_id, row_id2) = (w.id.clone(), w.id.clone());
    let pending = Signal::derive(move || tests.running.with(|r| r.contains(&row_id)));
    let last = [w.last_success_at.clone(), w.last_failure_at.clone()].into_iter().flatten().max();
    let (id, id2, id3, name) = (w.id.clone(), w.id.clone(), w.id.clone(), w.name.clone());
    let active = w.active;
    let (href, link_text, toggle_label) =
        (format!("/webhooks/{}", w.id), w.name.clone(), format!("Active: {}", w.name));
    view! {
        <tr class="border-b align-top last:border-0" data-testid="webhook-row">
            <td class="px-4 py-3">
                <A href=href attr:class="font-medium text-purple-800 hover:underline">{link_text}</A>
                <p class="max-w-xs truncate text-xs text-slate-500" title=w.url.clone()>{w.url.clone()}</p>
                {move || tests.results.with(|m| m.get(&row_id2).cloned()).map(|r| view! { <TestOutcome result=r/> })}
            </td>
            <td class="px-4 py-3"><StatusBadge status=w.status.clone()/></td>
            <td class="px-4 py-3">{percent(row.stats.success_rate)}</td>
            <td class="px-4 py-3 text-slate-600">{last.map(|t| local_time(&t)).unwrap_or_else(|| "never".into())}</td>
            <td class="px-4 py-3">
                <label class="inline-flex cursor-pointer items-center gap-2">
                    <input
                        type="checkbox"
                        class="h-4 w-4 accent-purple-700"
                        aria-label=toggle_label
                        prop:checked=active
                        on:change=move |ev| {
                            toggle.dispatch(SetWebhookActive { id: id.clone(), active: event_target_checked(&ev) });
                        }
                    />
                </label>
            </td>
            <td class="space-x-2 whitespace-nowrap px-4 py-3 text-right">
                <button
                    type="button"
                    class="rounded-md border border-slate-300 px-2 py-1 hover:bg-slate-100 disabled:opacity-50"
                    disabled=move || pending.get()
                    on:click=move |_| tests.run(id2.clone())
                >
                    {move || if pending.get() { "Sending…" } else { "Test" }}
                </button>
                <button
                    type="button"
                    class="rounded-md border border-red-200 px-2 py-1 text-red-700 hover:bg-red-50"
                    on:click=move |_| {
                        if confirm_webhook_delete(&name) {
                            remove.dispatch(DeleteWebhook { id: id3.clone() });
                        }
                    }
                >
                    "Delete"
                </button>
            </td>
        </tr>
    }
}

/// Test sends in flight and their results, per webhook id.
#[derive(Clone, Copy, Default)]
struct TestState {
    running: RwSignal<HashSet<String>>,
    results: RwSignal<HashMap<String, Result<TestResult, String>>>,
}

impl TestState {
    fn run(self, id: String) {
        self.running.update(|r| {
            r.insert(id.clone());
        });
        leptos::task::spawn_local(async move {
            let result = test_webhook(id.clone()).await.map_err(|e| e.to_string());
            self.results.update(|m| {
                m.insert(id.clone(), result);
            });
            self.running.update(|r| {
                r.remove(&id);
            });
        });
    }
}

#[component]
pub fn TestOutcome(result: Result<TestResult, String>) -> impl IntoView {
    match result {
        Err(e) => {
            view! { <p role="alert" class="mt-2 text-xs text-red-700">{clean_error(&e.to_string())}</p> }.into_any()
        }
        Ok(t) => {
            let (class, head) = if t.success {
                ("border-green-200 bg-green-50 text-green-800", "Delivered")
            } else {
                ("border-red-200 bg-red-50 text-red-800", "Failed")
            };
            let status = t.status_code.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no response".into());
            let excerpt: String =
                t.response_body.clone().or(t.error.clone()).unwrap_or_default().chars().take(200).collect();
            view! {
                <div data-testid="test-result" role="status" class=format!("mt-2 rounded border px-2 py-1 text-xs {class}")>
                    <p class="font-medium">{format!("{head}: {status} in {} ms", t.duration_ms)}</p>
                    {(!excerpt.is_empty()).then(|| view! { <pre class="mt-1 whitespace-pre-wrap break-all font-mono">{excerpt}</pre> })}
                </div>
            }
            .into_any()
        }
    }
}

/// Event types grouped by entity (`appointment.completed` → `appointment`).
pub fn group_events(types: Vec<EventType>) -> BTreeMap<String, Vec<EventType>> {
    let mut groups: BTreeMap<String, Vec<EventType>> = BTreeMap::new();
    for t in types {
        let entity = t.name.split('.').next().unwrap_or(&t.name).to_string();
        groups.entry(entity).or_default().push(t);
    }
    groups
}

/// The event catalog as grouped checkboxes with a select-all per group.
#[component]
pub fn EventPicker(selected: RwSignal<Vec<String>>) -> impl IntoView {
    let catalog = fetched_once(event_catalog);
    view! {
        <fieldset>
            <legend class="text-sm font-medium">"Events"</legend>
            <Suspense fallback=Loading>
                {move || catalog.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(types) => view! {
                        <div class="mt-2 grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
                            {group_events(types).into_iter().map(|(entity, events)| {
                                let names: Vec<String> = events.iter().map(|e| e.name.clone()).collect();
                                let names2 = names.clone();
                                let all_on = move || names.iter().all(|n| selected.get().contains(n));
                                view! {
                                    <div class="rounded-md border border-slate-200 p-3">
                                        <label class="flex items-center gap-2 text-sm font-semibold capitalize">
                                            <input
                                                type="checkbox"
                                                class="accent-purple-700"
                                                aria-label=format!("All {} events", entity.replace('_', " "))
                                                prop:checked=all_on
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    selected.update(|s| {
                                                        s.retain(|n| !names2.contains(n));
                                                        if on { s.extend(names2.iter().cloned()); }
                                                    });
                                                }
                                            />
                                            {entity.replace('_', " ")}
                                        </label>
                                        <div class="mt-1 space-y-1 pl-5">
                                            {events.into_iter().map(|e| {
                                                let (n1, n2) = (e.name.clone(), e.name.clone());
                                                view! {
                                                    <label class="flex items-center gap-2 text-sm" title=e.description.clone()>
                                                        <input
                                                            type="checkbox"
                                                            class="accent-purple-700"
                                                            prop:checked=move || selected.get().contains(&n1)
                                                            on:change=move |ev| {
                                                                let on = event_target_checked(&ev);
                                                                selected.update(|s| {
                                                                    s.retain(|n| n != &n2);
                                                                    if on { s.push(n2.clone()); }
                                                                });
                                                            }
                                                        />
                                                        <span class="font-mono text-xs">{e.name.clone()}</span>
                                                    </label>
                                                }
                                            }).collect_view()}
                                        </div>
                                    </div>
                                }
                            }).collect_view()}
                        </div>
                    }.into_any(),
                })}
            </Suspense>
        </fieldset>
    }
}

#[component]
fn CreateForm(create: ServerAction<CreateWebhook>, on_done: impl Fn() + Send + Sync + 'static + Copy) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let events = RwSignal::new(Vec::<String>::new());
    let rate = RwSignal::new(String::new());
    let attempts = RwSignal::new(String::new());
    let filter_field = RwSignal::new(String::new());
    let filter_op = RwSignal::new("equals".to_string());
    let filter_value = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    let url_hint = move || {
        let u = url.get();
        let u = u.trim();
        if u.is_empty() || u.starts_with("https://") || u.starts_with("http://") {
            None
        } else {
            Some("The URL must start with https:// or http://")
        }
    };
    // Close the form once the server accepted it.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            on_done();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        local_error.set(None);
        let rate_limit = match rate.get().trim() {
            "" => None,
            r => match r.parse::<u32>() {
                Ok(v) => Some(v),
                Err(_) => {
                    local_error.set(Some("Rate limit: enter a whole number of deliveries per second".into()));
                    return;
                }
            },
        };
        let max_attempts = match attempts.get().trim() {
            "" => None,
            a => match a.parse::<u32>() {
                Ok(v) => Some(v),
                Err(_) => {
                    local_error.set(Some("Max attempts: enter a whole number".into()));
                    return;
                }
            },
        };
        let filter = if filter_field.get().trim().is_empty() {
            None
        } else {
            let Some(operator) = Operator::parse(&filter_op.get()) else {
                local_error.set(Some("Filter: pick an operator".into()));
                return;
            };
            let value = filter_value.get();
            let condition = Condition {
                field: filter_field.get().trim().to_string(),
                operator,
                value: (!value.is_empty()).then_some(serde_json::Value::String(value)),
            };
            let group = ConditionGroup::all(Logic::And, vec![condition]);
            // The same check the server makes, before the round trip.
            if let Err(e) = group.validate("filter") {
                local_error.set(Some(e.to_string()));
                return;
            }
            Some(group)
        };
        let retry_policy =
            max_attempts.map(|n| wire::retry::RetryPolicy { max_attempts: n, ..wire::retry::RetryPolicy::default() });
        create.dispatch(CreateWebhook {
            input: WebhookInput {
                name: Some(name.get()),
                url: Some(url.get().trim().to_string()),
                events: Some(events.get()),
                rate_limit: Some(rate_limit),
                retry_policy: Some(retry_policy),
                filter: Some(filter),
                ..WebhookInput::default()
            },
        });
    };
    view! {
        <form on:submit=submit class="mb-6 space-y-4 rounded-lg border border-slate-200 bg-white p-5" aria-label="New webhook">
            <h2 class="text-lg font-semibold">"New webhook"</h2>
            <div class="grid gap-4 md:grid-cols-2">
                <div>
                    <label for="wh-name" class="block text-sm font-medium">"Name"</label>
                    <input id="wh-name" required maxlength="200" class="mt-1 w-full rounded-md border border-slate-300 px-3 py-2"
                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                </div>
                <div>
                    <label for="wh-url" class="block text-sm font-medium">"Endpoint URL"</label>
                    <input id="wh-url" required type="text" inputmode="url" placeholder="https://example.com/webhooks"
                        class="mt-1 w-full rounded-md border border-slate-300 px-3 py-2"
                        prop:value=url on:input=move |ev| url.set(event_target_value(&ev))/>
                    {move || url_hint().map(|h| view! { <p class="mt-1 text-xs text-red-700">{h}</p> })}
                </div>
            </div>
            <EventPicker selected=events/>
            <details class="rounded-md border border-slate-200 p-3">
                <summary class="cursor-pointer text-sm font-medium">"Advanced"</summary>
                <div class="mt-3 grid gap-4 md:grid-cols-2">
                    <div>
                        <label for="wh-rate" class="block text-sm font-medium">"Rate limit (deliveries per second, empty for none)"</label>
                        <input id="wh-rate" inputmode="numeric" class="mt-1 w-40 rounded-md border border-slate-300 px-3 py-2"
                            prop:value=rate on:input=move |ev| rate.set(event_target_value(&ev))/>
                    </div>
                    <div>
                        <label for="wh-attempts" class="block text-sm font-medium">"Max attempts (default 5: retries after 5 s, 10 s, 20 s, 40 s)"</label>
                        <input id="wh-attempts" inputmode="numeric" class="mt-1 w-40 rounded-md border border-slate-300 px-3 py-2"
                            prop:value=attempts on:input=move |ev| attempts.set(event_target_value(&ev))/>
                    </div>
                </div>
                <fieldset class="mt-3">
                    <legend class="text-sm font-medium">"Only deliver events whose data matches (optional)"</legend>
                    <div class="mt-1 flex flex-wrap gap-2">
                        <input aria-label="Filter field" placeholder="field, e.g. clinicId" class="rounded-md border border-slate-300 px-3 py-2"
                            prop:value=filter_field on:input=move |ev| filter_field.set(event_target_value(&ev))/>
                        <select aria-label="Filter operator" class="rounded-md border border-slate-300 px-2 py-2"
                            on:change=move |ev| filter_op.set(event_target_value(&ev))>
                            {["equals", "not_equals", "greater_than", "less_than", "contains", "not_contains", "is_empty", "is_not_empty"]
                                .into_iter()
                                .map(|o| view! { <option value=o>{o.replace('_', " ")}</option> })
                                .collect_view()}
                        </select>
                        <input aria-label="Filter value" placeholder="value" class="rounded-md border border-slate-300 px-3 py-2"
                            prop:value=filter_value on:input=move |ev| filter_value.set(event_target_value(&ev))/>
                    </div>
                </fieldset>
            </details>
            {move || local_error.get().map(|m| view! { <ErrorMessage message=m/> })}
            {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            <button type="submit" class="rounded-md bg-purple-700 px-4 py-2 font-medium text-white hover:bg-purple-800 disabled:opacity-50"
                disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create webhook" }}
            </button>
        </form>
    }
}
