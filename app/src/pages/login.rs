//! Sign-in and first-run setup. Both are plain HTML forms posted to the
//! server, so they work before (or without) the WASM; hydration only adds the
//! "show password" toggle.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::ui::ErrorMessage;

fn login_error_text(code: &str, wait_seconds: Option<String>) -> String {
    match code {
        "invalid" => "Wrong email or password. Check both and try again.".into(),
        "missing" => "Enter your email and your password.".into(),
        "setup" => "That setup link is invalid or was already used.".into(),
        "throttled" => {
            let wait = wait_seconds.and_then(|w| w.parse::<u64>().ok()).unwrap_or(1);
            let unit = if wait == 1 { "second" } else { "seconds" };
            format!("Too many failed sign-ins. Wait {wait} {unit}, then try again.")
        }
        _ => "Sign-in failed. Please try again.".into(),
    }
}

#[component]
fn PasswordField(#[prop(into)] autocomplete: String) -> impl IntoView {
    let (show, set_show) = signal(false);
    view! {
        <div>
            <label for="password" class="block text-sm font-medium text-slate-700">
                "Password"
            </label>
            <input
                id="password"
                name="password"
                type=move || if show.get() { "text" } else { "password" }
                required
                autocomplete=autocomplete
                class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 focus:border-purple-600 focus:outline-none focus:ring-2 focus:ring-purple-200"
            />
            <label class="mt-2 flex items-center gap-2 text-sm text-slate-600">
                <input
                    type="checkbox"
                    id="show-password"
                    prop:checked=show
                    on:change=move |ev| set_show.set(event_target_checked(&ev))
                />
                "Show password"
            </label>
        </div>
    }
}

#[component]
fn AuthCard(#[prop(into)] heading: String, children: Children) -> impl IntoView {
    view! {
        <main class="flex min-h-screen items-center justify-center bg-gradient-to-br from-purple-900 to-purple-700 p-4">
            <div class="w-full max-w-sm rounded-xl bg-white p-8 shadow-xl">
                <p class="text-center text-3xl text-purple-700" aria-hidden="true">"✚"</p>
                <h1 class="mt-2 text-center text-xl font-semibold">{heading}</h1>
                <p class="mb-6 text-center text-sm text-slate-500">"Purple Cross Automations"</p>
                {children()}
            </div>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    crate::components::ui::mark_hydrated();
    let query = use_query_map();
    let error = move || {
        let q = query.read();
        q.get("error").map(|c| login_error_text(&c, q.get("wait")))
    };
    let next = move || wire::auth::safe_next_path(query.read().get("next").as_deref()).to_string();
    let email = move || query.read().get("email").unwrap_or_default();
    let no_users = move || query.read().get("first_run").is_some();

    view! {
        <Title text="Sign in"/>
        <AuthCard heading="Sign in">
            <form method="post" action="/login" class="space-y-4">
                {move || error().map(|m| view! { <ErrorMessage message=m/> })}
                {move || {
                    no_users()
                        .then(|| {
                            view! {
                                <p class="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-800">
                                    "No users exist yet. Open the one-time setup link that "
                                    <code>"purple-cross serve"</code>
                                    " printed, or run "
                                    <code>"purple-cross users create"</code>
                                    "."
                                </p>
                            }
                        })
                }}
                <input type="hidden" name="next" value=next/>
                <div>
                    <label for="email" class="block text-sm font-medium text-slate-700">
                        "Email"
                    </label>
                    <input
                        id="email"
                        name="email"
                        type="email"
                        required
                        autocomplete="username"
                        value=email
                        class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 focus:border-purple-600 focus:outline-none focus:ring-2 focus:ring-purple-200"
                    />
                </div>
                <PasswordField autocomplete="current-password"/>
                <button
                    type="submit"
                    class="w-full rounded-md bg-purple-700 px-4 py-2 font-medium text-white hover:bg-purple-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-purple-400"
                >
                    "Sign in"
                </button>
            </form>
        </AuthCard>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    crate::components::ui::mark_hydrated();
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let error = move || query.read().get("error");
    view! {
        <Title text="Create the first admin"/>
        <AuthCard heading="Create the first admin">
            <form method="post" action="/setup" class="space-y-4">
                {move || error().map(|m| view! { <ErrorMessage message=m/> })}
                <input type="hidden" name="token" value=token/>
                <div>
                    <label for="email" class="block text-sm font-medium text-slate-700">
                        "Email"
                    </label>
                    <input
                        id="email"
                        name="email"
                        type="email"
                        required
                        autocomplete="username"
                        class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2"
                    />
                </div>
                <PasswordField autocomplete="new-password"/>
                <p class="text-xs text-slate-500">"At least 10 characters."</p>
                <label class="flex items-start gap-2 rounded-md border border-purple-100 bg-purple-50 p-3 text-sm">
                    <input type="checkbox" name="demo" value="on" checked class="mt-0.5"/>
                    <span>
                        <span class="font-medium">"Load the demo practice"</span>
                        <span class="block text-slate-600">
                            "20 clients, their pets, appointments, invoices and lab tests, and two webhooks delivering to the built-in request inspector."
                        </span>
                    </span>
                </label>
                <button
                    type="submit"
                    class="w-full rounded-md bg-purple-700 px-4 py-2 font-medium text-white hover:bg-purple-800"
                >
                    "Create admin and sign in"
                </button>
            </form>
        </AuthCard>
    }
}
