//! How a template's runs went: success rate (of runs that ended), p50/p95
//! duration, and a bar per day of the last two weeks split by outcome.

use leptos::prelude::*;
use wire::workflows::TemplateDay;

use crate::api_builder::template_activity;
use crate::components::ui::{ms, percent, practice_zone, ErrorMessage};
use crate::fetched::fetched;

#[component]
pub fn Activity(id: String, current: RwSignal<i64>) -> impl IntoView {
    let activity = fetched(move || (id.clone(), current.get()), |(id, _)| template_activity(id));
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="activity-heading">
            <h2 id="activity-heading" class="text-sm font-semibold uppercase tracking-wide text-slate-500">{format!("How it runs (14 days, {})", practice_zone().name)}</h2>
            <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Loading runs…"</p> }>
                {move || activity.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(a) => {
                        let s = a.stats.clone();
                        let total = s.as_ref().map(|s| s.total).unwrap_or(0);
                        view! {
                            <dl class="mt-2 grid grid-cols-2 gap-2 text-sm" data-testid="template-stats">
                                <div><dt class="text-xs text-slate-500">"Runs"</dt><dd class="font-semibold">{total}</dd></div>
                                <div><dt class="text-xs text-slate-500">"Succeeded (of ended)"</dt><dd class="font-semibold">{percent(s.as_ref().and_then(|s| s.success_rate))}</dd></div>
                                <div><dt class="text-xs text-slate-500">"Failed"</dt><dd class="font-semibold">{s.as_ref().map(|s| s.failed).unwrap_or(0)}</dd></div>
                                <div><dt class="text-xs text-slate-500">"p50 / p95 duration"</dt><dd class="font-semibold">{format!("{} / {}", ms(s.as_ref().and_then(|s| s.p50_duration_ms)), ms(s.as_ref().and_then(|s| s.p95_duration_ms)))}</dd></div>
                            </dl>
                            {if total == 0 {
                                view! { <p class="mt-2 text-xs text-slate-600">"It has not run yet."</p> }.into_any()
                            } else {
                                view! { <RunsChart days=a.days/> }.into_any()
                            }}
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RunsChart(days: Vec<TemplateDay>) -> impl IntoView {
    let top = days.iter().map(|d| d.completed + d.failed + d.other).max().unwrap_or(0).max(1) as f64;
    let pct = move |n: i64| format!("height: {:.1}%", n as f64 / top * 100.0);
    view! {
        <div class="mt-3 flex h-24 items-end gap-0.5" role="img" aria-label="Runs per day: completed, failed and other">
            {days.into_iter().map(|d| {
                let label = format!("{}: {} completed, {} failed, {} other", d.day, d.completed, d.failed, d.other);
                view! {
                    <div class="flex h-full flex-1 flex-col justify-end" title=label.clone() data-testid="run-day">
                        <div class="bg-slate-300" style=pct(d.other)></div>
                        <div class="bg-red-500" style=pct(d.failed)></div>
                        <div class="bg-green-500" style=pct(d.completed)></div>
                    </div>
                }
            }).collect_view()}
        </div>
        <p class="mt-1 flex gap-3 text-xs text-slate-600">
            <span><span class="mr-1 inline-block h-2 w-2 bg-green-500"></span>"completed"</span>
            <span><span class="mr-1 inline-block h-2 w-2 bg-red-500"></span>"failed"</span>
            <span><span class="mr-1 inline-block h-2 w-2 bg-slate-300"></span>"cancelled or under way"</span>
        </p>
    }
}
