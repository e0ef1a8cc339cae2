//! The home dashboard: live numbers, delivery volume and success over time,
//! the webhooks that need attention, recent workflow runs and the workflows
//! whose runs fail.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{analytics, unhealthy_webhooks};
use crate::api_builder::execution_stats;
use crate::api_workflows::workflow_executions;
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::live_strip::LiveStrip;
use crate::components::ui::{local_time, ms, percent, ErrorMessage, Loading, StatCard, StatusBadge};
use crate::fetched::fetched;
use crate::pages::webhook_detail::DayChart;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let live = use_live();
    let totals = fetched(move || live.get(), |_| analytics(14));
    let unhealthy = fetched(move || live.get(), |_| unhealthy_webhooks());
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
                                    let last = w.last_failure_at.as_deref().map(local_time).unwrap_or_default();
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
            <section class="mt-6 grid gap-6 md:grid-cols-2">
                <RecentExecutions/>
                <FailingWorkflows/>
            </section>
        </Shell>
    }
}

#[component]
fn RecentExecutions() -> impl IntoView {
    let live = use_live();
    let recent = fetched(
        move || live.get(),
        |_| workflow_executions(String::new(), String::new(), String::new(), String::new()),
    );
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-5">
            <h2 class="text-lg font-semibold">"Recent workflow runs"</h2>
            <Transition fallback=Loading>
                {move || recent.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(page) if page.data.is_empty() => view! {
                        <p class="mt-2 text-sm text-slate-600">"No workflow has run yet."</p>
                    }.into_any(),
                    Ok(page) => view! {
                        <ul class="mt-2 divide-y" data-testid="recent-executions">
                            {page.data.into_iter().take(8).map(|e| view! {
                                <li class="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                                    <A href=format!("/executions/{}", e.id) attr:class="font-medium text-purple-800 hover:underline">{e.workflow_name.clone()}</A>
                                    <span class="flex items-center gap-2 text-slate-600">
                                        <StatusBadge status=e.status.clone()/>
                                        {local_time(&e.started_at)}
                                    </span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </div>
    }
}

/// Workflows with failed runs, worst success rate first.
#[component]
fn FailingWorkflows() -> impl IntoView {
    let live = use_live();
    let stats = fetched(move || live.get(), |_| execution_stats());
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-5">
            <h2 class="text-lg font-semibold">"Workflows with failed runs"</h2>
            <Transition fallback=Loading>
                {move || stats.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(s) => {
                        let mut failing: Vec<_> = s.by_template.into_iter().filter(|t| t.failed > 0).collect();
                        failing.sort_by(|a, b| a.success_rate.unwrap_or(0.0).total_cmp(&b.success_rate.unwrap_or(0.0)));
                        if failing.is_empty() {
                            view! { <p data-testid="no-failing-workflows" class="mt-2 text-sm text-slate-600">"No workflow run has failed."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="mt-2 divide-y" data-testid="failing-workflows">
                                    {failing.into_iter().map(|t| {
                                        let link = t.template_id.clone().map(|id| format!("/workflows/{id}")).unwrap_or_else(|| "/executions".into());
                                        view! {
                                            <li class="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                                                <A href=link attr:class="font-medium text-purple-800 hover:underline">{t.workflow_name.clone()}</A>
                                                <span class="text-slate-600">{format!("{} failed of {} · {} succeeded of ended runs", t.failed, t.total, percent(t.success_rate))}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </div>
    }
}
