//! The home dashboard: live numbers, delivery volume and success over time,
//! and the webhooks that need attention.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{analytics, unhealthy_webhooks};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::live_strip::LiveStrip;
use crate::components::ui::{ms, percent, short_time, ErrorMessage, Loading, StatCard, StatusBadge};
use crate::pages::webhook_detail::DayChart;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let live = use_live();
    let totals = Resource::new(move || live.get(), |_| analytics(14));
    let unhealthy = Resource::new(move || live.get(), |_| unhealthy_webhooks());
    view! {
        <Shell title="Dashboard">
            <LiveStrip/>
            <section class="rounded-lg border border-slate-200 bg-white p-5">
                <h2 class="text-lg font-semibold">"Deliveries per day, all webhooks (last 14 days)"</h2>
                <Transition fallback=Loading>
                    {move || totals.get().map(|r| match r {
                        Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                        Ok(a) => view! {
                            <div class="mt-3 grid grid-cols-2 gap-3 md:grid-cols-4">
                                <StatCard label="Webhooks" value=format!("{} ({} active)", a.webhooks, a.active_webhooks)/>
                                <StatCard label="Success rate" value=percent(a.totals.success_rate)/>
                                <StatCard label="Deliveries kept" value=a.totals.total.to_string()/>
                                <StatCard label="p95 latency" value=ms(a.totals.p95_latency_ms)/>
                            </div>
                            <DayChart days=a.by_day/>
                        }.into_any(),
                    })}
                </Transition>
            </section>
            <section class="mt-6 rounded-lg border border-slate-200 bg-white p-5">
                <h2 class="text-lg font-semibold">"Webhooks that need attention"</h2>
                <Transition fallback=Loading>
                    {move || unhealthy.get().map(|r| match r {
                        Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p data-testid="all-healthy" class="mt-2 text-sm text-slate-600">"All webhooks are delivering."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="mt-2 divide-y" data-testid="unhealthy-webhooks">
                                {list.into_iter().map(|w| {
                                    let last = w.last_failure_at.as_deref().map(short_time).unwrap_or_default();
                                    view! {
                                        <li class="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                                            <A href=format!("/webhooks/{}", w.id) attr:class="font-medium text-purple-800 hover:underline">{w.name.clone()}</A>
                                            <span class="flex items-center gap-2 text-slate-600">
                                                <StatusBadge status=w.status.clone()/>
                                                {format!("last failure {last}")}
                                            </span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    })}
                </Transition>
            </section>
            <section class="mt-6 rounded-lg border border-dashed border-slate-300 bg-white p-5 text-sm text-slate-600">
                "Recent workflow executions will appear here once workflows ship."
            </section>
        </Shell>
    }
}
