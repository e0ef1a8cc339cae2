//! One webhook: configuration with edit, secret, stats, a chart, and the
//! delivery history with each delivery's attempts.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{
    get_delivery, get_webhook, list_deliveries, webhook_series, webhook_stats, DeleteWebhook, RecoverFailed,
    RegenerateSecret, RetryDelivery, SetWebhookActive, TestWebhook, UpdateWebhook,
};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{
    confirm, confirm_webhook_delete, local_time, ms, percent, ErrorMessage, Loading, Pager, StatCard, StatusBadge,
};
use crate::fetched::fetched;
use crate::pages::webhooks::{EventPicker, TestOutcome};
use wire::webhooks::{DayStats, Delivery, Webhook};

#[component]
pub fn WebhookDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    // Live refreshes pause once a delete is under way: the webhook is going,
    // and refetching its numbers would only meet 404s before the page leaves.
    let deleting = RwSignal::new(false);
    let any_change = use_live();
    let live = Memo::new(move |prev: Option<&u64>| match prev {
        Some(p) if deleting.get() => *p,
        _ => any_change.get(),
    });
    let update = ServerAction::<UpdateWebhook>::new();
    let toggle = ServerAction::<SetWebhookActive>::new();
    let regenerate = ServerAction::<RegenerateSecret>::new();
    // Reload the configuration after a successful change only: after a failed
    // edit the form must stay open with the person's input and the error.
    let reload = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            reload.update(|r| *r += 1);
        }
    });
    let webhook = fetched(
        move || (id.get(), reload.get(), toggle.version().get(), regenerate.version().get()),
        |(id, ..)| get_webhook(id),
    );
    let stats = fetched(move || (id.get(), live.get()), |(id, _)| webhook_stats(id));
    let series = fetched(move || (id.get(), live.get()), |(id, _)| webhook_series(id, 14));

    view! {
        <Shell title="Webhook">
            <p class="mb-4 text-sm"><a href="/webhooks" class="text-purple-800 hover:underline">"← All webhooks"</a></p>
            <Suspense fallback=Loading>
                {move || webhook.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(w) => view! { <Config w=w update=update toggle=toggle regenerate=regenerate deleting=deleting/> }.into_any(),
                })}
            </Suspense>
            <section aria-label="Statistics" class="mt-6 grid grid-cols-2 gap-3 md:grid-cols-6">
                <Transition fallback=Loading>
                    {move || stats.get().map(|r| match r {
                        Err(e) => view! { <div class="col-span-full"><ErrorMessage message=e.to_string()/></div> }.into_any(),
                        Ok(s) => view! {
                            <StatCard label="Success rate" value=percent(s.success_rate)/>
                            <StatCard label="Succeeded" value=s.succeeded.to_string()/>
                            <StatCard label="Failed" value=s.failed.to_string()/>
                            <StatCard label="Pending" value=s.pending.to_string()/>
                            <StatCard label="p50 latency" value=ms(s.p50_latency_ms)/>
                            <StatCard label="p95 latency" value=ms(s.p95_latency_ms)/>
                        }.into_any(),
                    })}
                </Transition>
            </section>
            <section class="mt-6 rounded-lg border border-slate-200 bg-white p-5">
                <h2 class="text-lg font-semibold">"Deliveries per day (last 14 days)"</h2>
                <Transition fallback=Loading>
                    {move || series.get().map(|r| match r {
                        Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                        Ok(days) => view! { <DayChart days=days/> }.into_any(),
                    })}
                </Transition>
            </section>
            <Deliveries webhook_id=id live=live.into()/>
        </Shell>
    }
}

#[component]
fn Config(
    w: Webhook,
    update: ServerAction<UpdateWebhook>,
    toggle: ServerAction<SetWebhookActive>,
    regenerate: ServerAction<RegenerateSecret>,
    deleting: RwSignal<bool>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let name = RwSignal::new(w.name.clone());
    let url = RwSignal::new(w.url.clone());
    let events = RwSignal::new(w.events.clone());
    let reveal = RwSignal::new(false);
    let revoke_now = RwSignal::new(false);
    let test = ServerAction::<TestWebhook>::new();
    let remove = ServerAction::<DeleteWebhook>::new();
    let recover = ServerAction::<RecoverFailed>::new();
    let since = RwSignal::new(String::new());
    let include_missed = RwSignal::new(true);
    let navigate = use_navigate();
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(())) => navigate("/webhooks", Default::default()),
        Some(Err(_)) => deleting.set(false),
        None => {}
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            editing.set(false);
        }
    });
    let secret = w.secret.clone();
    let (id1, id2, id3, id4, id5, id6) =
        (w.id.clone(), w.id.clone(), w.id.clone(), w.id.clone(), w.id.clone(), w.id.clone());
    let wname = w.name.clone();
    let active = w.active;

    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-5">
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div>
                    <h2 data-testid="webhook-name" class="text-xl font-semibold">{w.name.clone()}</h2>
                    <p class="break-all font-mono text-sm text-slate-600">{w.url.clone()}</p>
                    <p class="mt-1 flex items-center gap-2 text-sm"><StatusBadge status=w.status.clone()/></p>
                </div>
                <div class="flex flex-wrap items-center gap-2 text-sm">
                    <label class="flex items-center gap-2">
                        <input type="checkbox" class="h-4 w-4 accent-purple-700" prop:checked=active
                            on:change=move |ev| { toggle.dispatch(SetWebhookActive { id: id1.clone(), active: event_target_checked(&ev) }); }/>
                        "Active"
                    </label>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-100 disabled:opacity-50"
                        disabled=move || test.pending().get()
                        on:click=move |_| { test.dispatch(TestWebhook { id: id2.clone() }); }>
                        {move || if test.pending().get() { "Sending…" } else { "Send test event" }}
                    </button>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-100"
                        on:click=move |_| editing.update(|e| *e = !*e)>
                        {move || if editing.get() { "Cancel edit" } else { "Edit" }}
                    </button>
                    <button type="button" class="rounded-md border border-red-200 px-3 py-1.5 text-red-700 hover:bg-red-50"
                        on:click=move |_| {
                            if confirm_webhook_delete(&wname) {
                                deleting.set(true);
                                remove.dispatch(DeleteWebhook { id: id3.clone() });
                            }
                        }>
                        "Delete"
                    </button>
                </div>
            </div>
            {move || test.value().get().map(|r| view! { <TestOutcome result=r.map_err(|e| e.to_string())/> })}
            {move || toggle.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            {move || (active && matches!(toggle.value().get(), Some(Ok(())))).then(|| view! {
                <p role="status" data-testid="replay-offer" class="mt-3 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">
                    "Enabled again. Events that happened while it was off were not sent to it: "
                    <a href="#recover" class="font-medium underline">"replay what it missed"</a>"."
                </p>
            })}
            {move || remove.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            <Show when=move || editing.get()>
                {
                    let id4 = id4.clone();
                    view! {
                        <form class="mt-4 space-y-3 border-t pt-4" aria-label="Edit webhook"
                            on:submit=move |ev| {
                                ev.prevent_default();
                                update.dispatch(UpdateWebhook {
                                    id: id4.clone(),
                                    input: wire::webhooks::WebhookInput {
                                        name: Some(name.get()),
                                        url: Some(url.get()),
                                        events: Some(events.get()),
                                        ..Default::default()
                                    },
                                });
                            }>
                            <div class="grid gap-3 md:grid-cols-2">
                                <div>
                                    <label for="edit-name" class="block text-sm font-medium">"Name"</label>
                                    <input id="edit-name" class="mt-1 w-full rounded-md border border-slate-300 px-3 py-2"
                                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                                </div>
                                <div>
                                    <label for="edit-url" class="block text-sm font-medium">"Endpoint URL"</label>
                                    <input id="edit-url" class="mt-1 w-full rounded-md border border-slate-300 px-3 py-2"
                                        prop:value=url on:input=move |ev| url.set(event_target_value(&ev))/>
                                </div>
                            </div>
                            <EventPicker selected=events/>
                            {move || update.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
                            <button type="submit" class="rounded-md bg-purple-700 px-4 py-2 text-white hover:bg-purple-800">"Save changes"</button>
                        </form>
                    }
                }
            </Show>
            <div class="mt-4 border-t pt-4">
                <h3 class="text-sm font-semibold">"Signing secret"</h3>
                {match secret {
                    None => view! { <p class="text-sm text-slate-500">"Only admins can see the secret."</p> }.into_any(),
                    Some(s) => {
                        let shown = s.clone();
                        let copy = s.clone();
                        view! {
                            <div class="mt-1 flex flex-wrap items-center gap-2">
                                <code data-testid="secret" class="rounded bg-slate-100 px-2 py-1 font-mono text-sm">
                                    {move || if reveal.get() { shown.clone() } else { "whsec_••••••••••••••••".to_string() }}
                                </code>
                                <button type="button" class="text-sm text-purple-800 hover:underline" on:click=move |_| reveal.update(|r| *r = !*r)>
                                    {move || if reveal.get() { "Hide" } else { "Reveal" }}
                                </button>
                                <button type="button" class="text-sm text-purple-800 hover:underline" on:click=move |_| copy_text(&copy)>"Copy"</button>
                            </div>
                        }.into_any()
                    }
                }}
                {w.previous_secret_expires_at.clone().map(|t| view! {
                    <p class="mt-1 text-xs text-amber-700">{format!("The previous secret is still accepted until {}.", local_time(&t))}</p>
                })}
                <div class="mt-2 flex flex-wrap items-center gap-3 text-sm">
                    <label class="flex items-center gap-2">
                        <input type="checkbox" prop:checked=revoke_now on:change=move |ev| revoke_now.set(event_target_checked(&ev))/>
                        "Revoke the old secret immediately (otherwise it stays valid for 24 hours)"
                    </label>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-100"
                        on:click=move |_| {
                            let msg = if revoke_now.get() {
                                "Regenerate the secret and revoke the old one now? Receivers must switch at once."
                            } else {
                                "Regenerate the secret? The old one keeps working for 24 hours."
                            };
                            if confirm(msg) {
                                regenerate.dispatch(RegenerateSecret { id: id5.clone(), revoke_now: revoke_now.get() });
                            }
                        }>
                        "Regenerate secret"
                    </button>
                </div>
                {move || regenerate.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            </div>
            <div id="recover" class="mt-4 border-t pt-4">
                <h3 class="text-sm font-semibold">"Recover failed and missed deliveries"</h3>
                <form class="mt-1 flex flex-wrap items-end gap-2 text-sm" on:submit=move |ev| {
                    ev.prevent_default();
                    recover.dispatch(RecoverFailed { id: id6.clone(), since: since.get(), include_missed: include_missed.get() });
                }>
                    <label for="recover-since">"Since"</label>
                    <input id="recover-since" type="date" class="rounded-md border border-slate-300 px-2 py-1"
                        prop:value=since on:input=move |ev| since.set(event_target_value(&ev))/>
                    <label class="flex items-center gap-1">
                        <input type="checkbox" class="h-4 w-4 accent-purple-700" prop:checked=include_missed
                            on:change=move |ev| include_missed.set(event_target_checked(&ev))/>
                        "Also send events it missed while off"
                    </label>
                    <button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-100">"Re-send them"</button>
                </form>
                {move || recover.value().get().map(|r| match r {
                    Ok((requeued, replayed)) => view! {
                        <p role="status" class="mt-1 text-sm text-green-800">
                            {format!("{requeued} failed deliveries queued again; {replayed} missed events queued.")}
                        </p>
                    }.into_any(),
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                })}
            </div>
        </section>
    }
}

fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// Stacked bars of succeeded (green), failed (red) and pending (amber) per day.
#[component]
pub fn DayChart(days: Vec<DayStats>) -> impl IntoView {
    let max = days.iter().map(|d| d.succeeded + d.failed + d.pending).max().unwrap_or(0).max(1) as f64;
    let (w, h, pad) = (700.0, 180.0, 24.0);
    let bar_w = (w - pad) / days.len().max(1) as f64;
    let total: i64 = days.iter().map(|d| d.succeeded + d.failed + d.pending).sum();
    let summary = format!("{total} deliveries in the last {} days", days.len());
    view! {
        <figure class="mt-3">
            <svg viewBox=format!("0 0 {w} {}", h + 20.0) role="img" aria-label=summary.clone() class="h-48 w-full">
                <line x1=pad y1=h x2=w y2=h stroke="#cbd5e1"/>
                <text x="0" y="12" font-size="11" fill="#64748b">{max as i64}</text>
                <text x="0" y=h font-size="11" fill="#64748b">"0"</text>
                {days.iter().enumerate().map(|(i, d)| {
                    let x = pad + i as f64 * bar_w + 2.0;
                    let bw = (bar_w - 4.0).max(1.0);
                    let mut y = h;
                    let mut rects = Vec::new();
                    for (v, color) in [(d.succeeded, "#16a34a"), (d.failed, "#dc2626"), (d.pending, "#f59e0b")] {
                        let bh = v as f64 / max * (h - 16.0);
                        y -= bh;
                        if v > 0 {
                            rects.push(view! { <rect x=x y=y width=bw height=bh fill=color><title>{format!("{}: {v}", d.day)}</title></rect> });
                        }
                    }
                    let label = d.day.get(5..).unwrap_or(&d.day).to_string();
                    view! {
                        <g>
                            {rects}
                            <text x=x + bw / 2.0 y=h + 14.0 font-size="10" text-anchor="middle" fill="#64748b">{label}</text>
                        </g>
                    }
                }).collect_view()}
            </svg>
            <figcaption class="mt-1 flex gap-4 text-xs text-slate-600">
                <span><span class="mr-1 inline-block h-2 w-2 bg-green-600"></span>"succeeded"</span>
                <span><span class="mr-1 inline-block h-2 w-2 bg-red-600"></span>"failed"</span>
                <span><span class="mr-1 inline-block h-2 w-2 bg-amber-500"></span>"pending"</span>
                <span class="ml-auto">{summary}</span>
            </figcaption>
        </figure>
    }
}

#[component]
fn Deliveries(webhook_id: Signal<String>, live: Signal<u64>) -> impl IntoView {
    let page = RwSignal::new(1u32);
    let status = RwSignal::new(String::new());
    let event = RwSignal::new(String::new());
    // `?delivery=msg_…` opens that delivery's details (links from a record's events).
    let query = leptos_router::hooks::use_query_map();
    let open = RwSignal::new(query.read_untracked().get("delivery"));
    let retry = ServerAction::<RetryDelivery>::new();
    let list = fetched(
        move || (webhook_id.get(), page.get(), status.get(), event.get(), live.get(), retry.version().get()),
        |(id, page, status, event, ..)| list_deliveries(id, page, status, event),
    );
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-5">
            <div class="flex flex-wrap items-end justify-between gap-3">
                <h2 class="text-lg font-semibold">"Delivery history"</h2>
                <div class="flex flex-wrap gap-3 text-sm">
                    <label class="flex flex-col">"Status"
                        <select class="rounded-md border border-slate-300 px-2 py-1" aria-label="Filter by status"
                            on:change=move |ev| { status.set(event_target_value(&ev)); page.set(1); }>
                            <option value="">"All"</option>
                            <option value="pending">"pending"</option>
                            <option value="succeeded">"succeeded"</option>
                            <option value="failed">"failed"</option>
                        </select>
                    </label>
                    <label class="flex flex-col">"Event"
                        <input class="rounded-md border border-slate-300 px-2 py-1" placeholder="e.g. invoice.paid" aria-label="Filter by event"
                            on:change=move |ev| { event.set(event_target_value(&ev).trim().to_string()); page.set(1); }/>
                    </label>
                </div>
            </div>
            {move || retry.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            <Transition fallback=Loading>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(p) if p.data.is_empty() => view! { <p class="mt-4 text-sm text-slate-500">"No deliveries match."</p> }.into_any(),
                    Ok(p) => view! {
                        <div class="relative mt-3 overflow-x-auto">
                            <table class="w-full text-left text-sm">
                                <thead class="border-b text-slate-500">
                                    <tr>
                                        <th class="py-2">"Event"</th><th>"Status"</th><th>"Code"</th><th>"Attempt"</th>
                                        <th>"Next retry"</th><th>"Created"</th><th><span class="sr-only">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {p.data.into_iter().map(|d| view! { <DeliveryRow d=d open=open retry=retry/> }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <Pager page=page total_pages=p.total_pages/>
                    }.into_any(),
                })}
            </Transition>
            {move || open.get().map(|id| view! { <DeliveryDrawer id=id open=open retry=retry/> })}
        </section>
    }
}

#[component]
fn DeliveryRow(d: Delivery, open: RwSignal<Option<String>>, retry: ServerAction<RetryDelivery>) -> impl IntoView {
    let (id, id2) = (d.id.clone(), d.id.clone());
    view! {
        <tr class="border-b last:border-0" data-testid="delivery-row">
            <td class="py-2 font-mono text-xs">{d.event.clone()}</td>
            <td><StatusBadge status=d.status.clone()/></td>
            <td>{d.status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td>{format!("{} of {}", d.attempt, d.max_attempts)}</td>
            <td>{d.next_retry_at.as_deref().filter(|_| d.status == "pending").map(local_time).unwrap_or_else(|| "—".into())}</td>
            <td>{local_time(&d.created_at)}</td>
            <td class="space-x-2 whitespace-nowrap text-right">
                <button type="button" class="text-purple-800 hover:underline" on:click=move |_| open.set(Some(id.clone()))>"Details"</button>
                <button type="button" class="text-purple-800 hover:underline" on:click=move |_| { retry.dispatch(RetryDelivery { id: id2.clone() }); }>"Retry"</button>
            </td>
        </tr>
    }
}

#[component]
fn DeliveryDrawer(id: String, open: RwSignal<Option<String>>, retry: ServerAction<RetryDelivery>) -> impl IntoView {
    let live = use_live();
    let id_for_fetch = id.clone();
    let detail = fetched(move || (live.get(), retry.version().get()), move |_| get_delivery(id_for_fetch.clone()));
    view! {
        <div class="fixed inset-0 z-40 bg-black/30" on:click=move |_| open.set(None)></div>
        <aside role="dialog" aria-modal="true" aria-label="Delivery details"
            class="fixed inset-y-0 right-0 z-50 w-full max-w-xl overflow-y-auto bg-white p-6 shadow-2xl">
            <div class="flex items-center justify-between">
                <h2 class="text-lg font-semibold">"Delivery"</h2>
                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 text-sm" on:click=move |_| open.set(None)>"Close"</button>
            </div>
            <p class="break-all font-mono text-xs text-slate-500">{id}</p>
            <Suspense fallback=Loading>
                {move || detail.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(d) => view! {
                        <p class="mt-2 text-sm"><StatusBadge status=d.status.clone()/> " " {format!("attempt {} of {}", d.attempt, d.max_attempts)}</p>
                        <h3 class="mt-4 text-sm font-semibold">"Payload"</h3>
                        <pre class="mt-1 max-h-64 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100">
                            {serde_json::to_string_pretty(&d.payload).unwrap_or_default()}
                        </pre>
                        <h3 class="mt-4 text-sm font-semibold">"Attempts"</h3>
                        <ol class="mt-1 space-y-3" data-testid="attempts">
                            {d.attempts.unwrap_or_default().into_iter().map(|a| view! {
                                <li class="rounded border border-slate-200 p-3 text-xs" data-testid="attempt">
                                    <p class="font-medium">
                                        {format!("#{} · {} · {} ms · {}", a.attempt, local_time(&a.started_at), a.duration_ms,
                                            a.status_code.map(|c| format!("HTTP {c}")).unwrap_or_else(|| "no response".into()))}
                                    </p>
                                    {a.error_message.clone().map(|e| view! { <p class="mt-1 text-red-700">{format!("{}: {e}", a.error_class.clone().unwrap_or_default())}</p> })}
                                    <details class="mt-1">
                                        <summary class="cursor-pointer">"Request headers"</summary>
                                        <pre class="mt-1 overflow-auto rounded bg-slate-100 p-2">{serde_json::to_string_pretty(&a.request_headers).unwrap_or_default()}</pre>
                                    </details>
                                    {a.response_body.clone().map(|b| view! {
                                        <details class="mt-1">
                                            <summary class="cursor-pointer">"Response body"</summary>
                                            <pre class="mt-1 max-h-48 overflow-auto whitespace-pre-wrap break-all rounded bg-slate-100 p-2">{b}</pre>
                                        </details>
                                    })}
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any(),
                })}
            </Suspense>
        </aside>
    }
}
