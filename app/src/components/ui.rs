//! Small shared pieces: error and loading states, badges, stat cards, pagination.

use leptos::prelude::*;

/// A red, announced error message.
#[component]
pub fn ErrorMessage(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <p role="alert" class="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-700">
            {clean_error(&message)}
        </p>
    }
}

/// Server function errors arrive as "error running server function: …"; people need only the "…".
pub fn clean_error(message: &str) -> String {
    message.trim_start_matches("error running server function: ").trim_start_matches("ServerFnError: ").to_string()
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
                    errors.get().into_iter().map(|(_, e)| view! { <li>{clean_error(&e.to_string())}</li> }).collect_view()
                }}
            </ul>
        </div>
    }
}

/// A coloured label for a webhook or delivery status.
#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let (class, label) = match status.as_str() {
        "active" | "succeeded" => ("bg-green-100 text-green-800", status.clone()),
        "failing" | "pending" => ("bg-amber-100 text-amber-800", status.clone()),
        "failed" | "disabled" => ("bg-red-100 text-red-800", status.clone()),
        "auto_disabled" => ("bg-red-100 text-red-800", "auto-disabled".to_string()),
        _ => ("bg-slate-200 text-slate-700", status.clone()),
    };
    view! {
        <span data-testid="status-badge" class=format!("inline-block rounded-full px-2 py-0.5 text-xs font-medium {class}")>
            {label}
        </span>
    }
}

#[component]
pub fn StatCard(#[prop(into)] label: String, #[prop(into)] value: String) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-4">
            <p class="text-xs uppercase tracking-wide text-slate-500">{label}</p>
            <p class="mt-1 text-2xl font-semibold">{value}</p>
        </div>
    }
}

/// Previous / next with "page x of y".
#[component]
pub fn Pager(page: RwSignal<u32>, total_pages: i64) -> impl IntoView {
    view! {
        <nav aria-label="Pagination" class="mt-3 flex items-center justify-end gap-3 text-sm">
            <button
                type="button"
                class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                disabled=move || { page.get() <= 1 }
                on:click=move |_| page.update(|p| *p = p.saturating_sub(1).max(1))
            >
                "Previous"
            </button>
            <span data-testid="page-indicator">
                {move || format!("Page {} of {}", page.get(), total_pages.max(1))}
            </span>
            <button
                type="button"
                class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                disabled=move || { i64::from(page.get()) >= total_pages }
                on:click=move |_| page.update(|p| *p += 1)
            >
                "Next"
            </button>
        </nav>
    }
}

pub fn percent(v: Option<f64>) -> String {
    v.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "—".into())
}

pub fn ms(v: Option<i64>) -> String {
    v.map(|m| format!("{m} ms")).unwrap_or_else(|| "—".into())
}

/// Marks the page as hydrated once the calling page component is: effects run
/// only in the browser, after hydration, and a page's code may arrive in a
/// lazily loaded chunk after the shell's. The browser tests wait for this
/// mark before they click.
pub fn mark_hydrated() {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// The practice's timezone (`--timezone`), as the server put it on the page.
pub fn practice_zone() -> std::sync::Arc<wire::zone::Zone> {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::api::ssr::AppContext>().map(|c| c.services.practice_zone()).unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        thread_local! {
            static ZONE: std::sync::Arc<wire::zone::Zone> = std::sync::Arc::new(
                document()
                    .body()
                    .and_then(|b| b.get_attribute("data-zone"))
                    .and_then(|z| serde_json::from_str(&z).ok())
                    .unwrap_or_default(),
            );
        }
        ZONE.with(|z| z.clone())
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        std::sync::Arc::default()
    }
}

/// `2026-11-28T10:00:00.000Z` in the practice's timezone, named: `2026-11-28 10:00:00 GMT`.
pub fn local_time(t: &str) -> String {
    practice_zone().format(t, true)
}

/// The same to the minute: `2026-11-28 10:00 GMT`.
pub fn local_minute(t: &str) -> String {
    practice_zone().format(t, false)
}

/// Asks the browser's confirm dialog (always false during server rendering).
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        window().confirm_with_message(message).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// Asks before deleting a webhook, wherever the button is.
pub fn confirm_webhook_delete(name: &str) -> bool {
    confirm(&format!("Delete the webhook \"{name}\" and its delivery history? This cannot be undone."))
}
