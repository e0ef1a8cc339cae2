use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    crate::components::ui::mark_hydrated();
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Page not found"/>
        <main class="flex min-h-screen flex-col items-center justify-center gap-4 p-6 text-center">
            <p class="text-6xl font-bold text-purple-700">"404"</p>
            <h1 class="text-xl font-semibold">"Page not found"</h1>
            <p class="text-slate-600">"There is nothing at this address."</p>
            <a href="/" class="rounded-md bg-purple-700 px-4 py-2 text-white hover:bg-purple-800">
                "Back to the dashboard"
            </a>
        </main>
    }
}
