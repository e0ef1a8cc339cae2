//! The built-in request inspector: what the demo webhooks (or any webhook
//! pointed at `/inspector/{bin}`) delivered, with each signature checked.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::api_records::{inspector_bins, inspector_requests};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{local_time, ErrorMessage, Loading};
use crate::fetched::fetched;

#[component]
pub fn InspectorPage() -> impl IntoView {
    let query = use_query_map();
    let live = use_live();
    let bins = fetched(move || live.get(), |_| inspector_bins());
    let chosen = move || query.read().get("bin");
    view! {
        <Shell title="Request inspector">
            <p class="mb-4 max-w-3xl text-sm text-slate-600">
                "Point a webhook at "<code class="rounded bg-slate-100 px-1">"http://<this server>/inspector/<name>"</code>
                " and what it delivers shows up here, signature checked with the webhook's secret."
            </p>
            <Transition fallback=Loading>
                {move || bins.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">"Nothing received yet."</p>
                    }.into_any(),
                    Ok(list) => {
                        let current = chosen().unwrap_or_else(|| list[0].bin.clone());
                        view! {
                            <nav aria-label="Bins" class="mb-4 flex flex-wrap gap-2">
                                {list.into_iter().map(|b| {
                                    let active = b.bin == current;
                                    view! {
                                        <A href=format!("/inspector?bin={}", b.bin)
                                            attr:class=if active { "rounded-full bg-purple-700 px-3 py-1 text-sm text-white" } else { "rounded-full border border-slate-300 bg-white px-3 py-1 text-sm" }>
                                            {format!("{} ({})", b.bin, b.requests)}
                                        </A>
                                    }
                                }).collect_view()}
                            </nav>
                            <Requests bin=current/>
                        }.into_any()
                    }
                })}
            </Transition>
        </Shell>
    }
}

#[component]
fn Requests(bin: String) -> impl IntoView {
    let live = use_live();
    let bin_for = bin.clone();
    let reqs = fetched(move || (bin_for.clone(), live.get()), |(b, _)| inspector_requests(b));
    view! {
        <Transition fallback=Loading>
            {move || reqs.get().map(|r| match r {
                Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                Ok(list) => view! {
                    <ul class="space-y-3">
                        {list.into_iter().map(|req| {
                            let verdict = req.signature.clone();
                            let ok = verdict.as_deref() == Some("valid");
                            let event = serde_json::from_str::<serde_json::Value>(&req.body).ok()
                                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                                .unwrap_or_default();
                            view! {
                                <li data-testid="inspected-request" class="rounded-lg border border-slate-200 bg-white p-4">
                                    <div class="flex flex-wrap items-center gap-3 text-sm">
                                        <span class="font-mono">{event}</span>
                                        <span class="text-slate-500">{local_time(&req.received_at)}</span>
                                        {match verdict {
                                            Some(v) if ok => view! { <span data-testid="signature" class="rounded-full bg-green-100 px-2 py-0.5 text-xs text-green-800">{format!("signature {v}")}</span> }.into_any(),
                                            Some(v) => view! { <span data-testid="signature" class="rounded-full bg-red-100 px-2 py-0.5 text-xs text-red-800">{format!("signature invalid: {v}")}</span> }.into_any(),
                                            None => view! { <span class="text-xs text-slate-500">"no webhook points here"</span> }.into_any(),
                                        }}
                                    </div>
                                    <details class="mt-2 text-xs">
                                        <summary class="cursor-pointer text-purple-800">"Headers and body"</summary>
                                        <pre class="mt-2 overflow-x-auto rounded bg-slate-50 p-2">{req.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>()}</pre>
                                        <pre class="mt-2 overflow-x-auto whitespace-pre-wrap rounded bg-slate-50 p-2">{req.body.clone()}</pre>
                                    </details>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
        </Transition>
    }
}
