//! The live numbers strip: deliveries today, success rate, failing webhooks.

use leptos::prelude::*;

use crate::api::live_stats;
use crate::components::live::use_live;
use crate::components::ui::percent;
use crate::fetched::fetched;

#[component]
pub fn LiveStrip() -> impl IntoView {
    let live = use_live();
    let numbers = fetched(move || live.get(), |_| live_stats());
    let cell = |label: &'static str, testid: &'static str, value: Signal<String>| {
        view! {
            <div class="rounded-lg border border-slate-200 bg-white px-4 py-3">
                <p class="text-xs uppercase tracking-wide text-slate-500">{label}</p>
                <p data-testid=testid class="text-xl font-semibold">{value}</p>
            </div>
        }
    };
    let get = move |f: fn(&wire::notifications::LiveNumbers) -> String| {
        Signal::derive(move || numbers.get().and_then(|r| r.ok()).map(|n| f(&n)).unwrap_or_else(|| "…".into()))
    };
    view! {
        <section aria-label="Live delivery numbers" class="mb-6 grid grid-cols-1 gap-3 sm:grid-cols-3">
            <Transition fallback=|| ()>
                {cell("Deliveries today", "live-deliveries", get(|n| n.deliveries_today.to_string()))}
                {cell("Success rate today", "live-success", get(|n| percent(n.success_rate_today)))}
                {cell("Failing webhooks", "live-failing", get(|n| n.failing_webhooks.to_string()))}
            </Transition>
        </section>
    }
}
