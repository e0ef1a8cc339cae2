//! Small shared pieces: error and loading states.

use leptos::prelude::*;

/// A red, announced error message.
#[component]
pub fn ErrorMessage(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <p role="alert" class="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
            {message}
        </p>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="animate-pulse text-sm text-slate-500" aria-live="polite">
            "Loading…"
        </p>
    }
}

/// Shows the errors an ErrorBoundary caught, as readable text.
pub fn error_fallback(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div role="alert" class="rounded-md border border-red-200 bg-red-50 p-4 text-sm text-red-700">
            <p class="font-semibold">"Something went wrong"</p>
            <ul class="mt-1 list-disc pl-5">
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
