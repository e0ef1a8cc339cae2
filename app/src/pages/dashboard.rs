use leptos::prelude::*;

use crate::components::layout::Shell;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Shell title="Dashboard">
            <section class="grid gap-4 md:grid-cols-3">
                <Card title="Webhooks" body="Delivery volume, success rate and failing endpoints will show here once webhooks are set up."/>
                <Card title="Workflows" body="Recent workflow executions and their outcomes will show here."/>
                <Card title="Notifications" body="Alerts such as auto-disabled webhooks will appear here and in the bell."/>
            </section>
            <section class="mt-6 rounded-lg border border-slate-200 bg-white p-6">
                <h2 class="text-lg font-semibold">"Getting started"</h2>
                <ol class="mt-2 list-decimal space-y-1 pl-5 text-sm text-slate-700">
                    <li>"Create an API key under Settings for your integration."</li>
                    <li>"Subscribe a URL to platform events under Webhooks."</li>
                    <li>"Publish events with " <code>"POST /api/v1/events"</code> "."</li>
                </ol>
            </section>
        </Shell>
    }
}

#[component]
fn Card(title: &'static str, body: &'static str) -> impl IntoView {
    view! {
        <article class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm">
            <h2 class="font-semibold text-purple-900">{title}</h2>
            <p class="mt-1 text-sm text-slate-600">{body}</p>
        </article>
    }
}
