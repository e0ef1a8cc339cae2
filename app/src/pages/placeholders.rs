//! Sections whose pages are still being built; each says what is coming.

use leptos::prelude::*;

use crate::components::layout::Shell;

#[component]
fn Coming(title: &'static str, body: &'static str) -> impl IntoView {
    view! {
        <Shell title=title>
            <div class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center">
                <p class="text-slate-600">{body}</p>
            </div>
        </Shell>
    }
}

#[component]
pub fn WorkflowsPage() -> impl IntoView {
    view! { <Coming title="Workflows" body="The visual workflow builder will live here."/> }
}

#[component]
pub fn ExecutionsPage() -> impl IntoView {
    view! { <Coming title="Executions" body="Workflow executions and their steps will be listed here."/> }
}
