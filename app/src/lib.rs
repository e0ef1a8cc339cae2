//! The browser UI: Leptos components rendered on the server and hydrated in
//! WASM. Server functions live in [`api`] and only call the domain services.

#![recursion_limit = "512"]

pub mod api;
pub mod api_builder;
pub mod api_records;
pub mod api_workflows;
pub mod codec;
pub mod components;
pub mod fetched;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{FlatRoutes, Route, Router};
use leptos_router::{path, SsrMode};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_content_security_policy();
    // The browser formats times with the same zone table the server used.
    let zone = serde_json::to_string(&*components::ui::practice_zone()).unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased" data-zone=zone>
                <App/>
            </body>
        </html>
    }
}

/// Where a page leaves its Content-Security-Policy for the server's security
/// headers middleware, which put this slot in the request's extensions: the
/// page's nonce reaches the header even on a response whose Leptos response
/// options were not applied (seen now and then with the lazy routes this app
/// had until 2026-12-03; kept, as nothing guarantees it cannot recur).
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct PagePolicy(pub std::sync::Arc<std::sync::Mutex<Option<String>>>);

/// The Content-Security-Policy of every page: scripts only from this site or
/// carrying this response's nonce (Leptos puts it on its hydration and
/// streaming scripts), WebAssembly allowed to compile, nothing framed, forms
/// posted only here. Inline `style` attributes stay allowed (they cannot run
/// code; the charts size their bars with them).
#[cfg(feature = "ssr")]
fn provide_content_security_policy() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    leptos::nonce::provide_nonce();
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Some(slot) =
        use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<PagePolicy>().cloned())
    {
        if let Ok(mut s) = slot.0.lock() {
            *s = Some(policy.clone());
        }
    }
    if let (Some(res), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(&policy)) {
        res.insert_header(CONTENT_SECURITY_POLICY, v);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::live::provide_live();

    view! {
        <Stylesheet id="leptos" href="/pkg/purple-cross.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=|t: String| if t.is_empty() { "Purple Cross Automations".to_string() } else { format!("{t} · Purple Cross Automations") }/>
        <Router>
            <FlatRoutes fallback=pages::not_found::NotFound>
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/setup") view=pages::login::SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/") view=pages::dashboard::DashboardPage ssr=SsrMode::Async/>
                <Route path=path!("/webhooks") view=pages::webhooks::WebhooksPage ssr=SsrMode::Async/>
                <Route path=path!("/webhooks/:id") view=pages::webhook_detail::WebhookDetailPage ssr=SsrMode::Async/>
                <Route path=path!("/workflows") view=pages::workflows::WorkflowsPage ssr=SsrMode::Async/>
                <Route path=path!("/workflows/new") view=pages::builder::BuilderPage ssr=SsrMode::Async/>
                <Route path=path!("/workflows/:id") view=pages::builder::BuilderPage ssr=SsrMode::Async/>
                <Route path=path!("/executions") view=pages::executions::ExecutionsPage ssr=SsrMode::Async/>
                <Route path=path!("/executions/:id") view=pages::executions::ExecutionDetailPage ssr=SsrMode::Async/>
                <Route path=path!("/mailbox") view=pages::mailbox::MailboxPage ssr=SsrMode::Async/>
                <Route path=path!("/email-templates") view=pages::email_templates::EmailTemplatesPage ssr=SsrMode::Async/>
                <Route path=path!("/records") view=pages::records::RecordsPage ssr=SsrMode::Async/>
                <Route path=path!("/records/:entity/:id") view=pages::record_detail::RecordDetailPage ssr=SsrMode::Async/>
                <Route path=path!("/inspector") view=pages::inspector::InspectorPage ssr=SsrMode::Async/>
                <Route path=path!("/notifications") view=pages::notifications::NotificationsPage ssr=SsrMode::Async/>
                <Route path=path!("/settings") view=pages::settings::SettingsPage ssr=SsrMode::Async/>
            </FlatRoutes>
        </Router>
    }
}
