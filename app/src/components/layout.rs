//! The frame around every signed-in page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{live_stats, whoami};
use crate::components::live::use_live;
use crate::components::ui::error_fallback;
use crate::fetched::{fetched, fetched_once};

stylance::import_crate_style!(style, "src/components/layout.module.css");

const NAV: &[(&str, &str)] = &[
    ("/", "Dashboard"),
    ("/webhooks", "Webhooks"),
    ("/workflows", "Workflows"),
    ("/executions", "Executions"),
    ("/mailbox", "Mailbox"),
    ("/email-templates", "Email templates"),
    ("/records", "Records"),
    ("/inspector", "Inspector"),
    ("/notifications", "Notifications"),
    ("/settings", "Settings"),
];

#[component]
pub fn Shell(#[prop(into)] title: String, children: Children) -> impl IntoView {
    crate::components::ui::mark_hydrated();
    let me = fetched_once(whoami);
    let live = use_live();
    let numbers = fetched(move || live.get(), |_| live_stats());
    let (menu_open, set_menu_open) = signal(false);
    let nav_class = move || {
        if menu_open.get() {
            format!("{} {}", style::nav, style::navOpen)
        } else {
            style::nav.to_string()
        }
    };

    view! {
        <Title text=title.clone()/>
        <div class=style::frame>
            <aside class=style::sidebar>
                <div class="flex items-center justify-between">
                    <a href="/" class=style::brand>
                        <span aria-hidden="true" class="text-2xl">"✚"</span>
                        "Purple Cross"
                    </a>
                    <button
                        type="button"
                        class="mr-3 rounded-md px-3 py-2 text-sm text-purple-100 hover:bg-purple-800 md:hidden"
                        aria-controls="main-nav"
                        aria-expanded=move || menu_open.get().to_string()
                        on:click=move |_| set_menu_open.update(|o| *o = !*o)
                    >
                        "Menu"
                    </button>
                </div>
                <nav id="main-nav" aria-label="Main" class=nav_class>
                    {NAV
                        .iter()
                        .map(|(href, label)| {
                            view! {
                                <A href=*href attr:class=style::navLink exact=true>
                                    {*label}
                                </A>
                            }
                        })
                        .collect_view()}
                </nav>
            </aside>
            <div class="flex min-w-0 flex-1 flex-col">
                <header class=style::header>
                    <h1 class="text-xl font-semibold">{title}</h1>
                    <div class="flex items-center gap-3 text-sm">
                        <a
                            href="/notifications"
                            data-testid="bell"
                            class="relative rounded-full p-2 text-slate-600 hover:bg-slate-100"
                            aria-label=move || {
                                let n = numbers.get().and_then(|r| r.ok()).map(|n| n.unread_notifications).unwrap_or(0);
                                format!("Notifications: {n} unread")
                            }
                        >
                            <svg aria-hidden="true" viewBox="0 0 24 24" class="h-5 w-5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                                <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/>
                                <path d="M13.73 21a2 2 0 0 1-3.46 0"/>
                            </svg>
                            <Transition fallback=|| ()>
                                {move || {
                                    numbers
                                        .get()
                                        .and_then(|r| r.ok())
                                        .filter(|n| n.unread_notifications > 0)
                                        .map(|n| {
                                            view! {
                                                <span
                                                    data-testid="unread-count"
                                                    class="absolute -right-1 -top-1 rounded-full bg-red-600 px-1.5 text-xs font-semibold text-white"
                                                >
                                                    {n.unread_notifications}
                                                </span>
                                            }
                                        })
                                }}
                            </Transition>
                        </a>
                        <Suspense fallback=|| view! { <span class="text-slate-400">"…"</span> }>
                            {move || {
                                me.get()
                                    .map(|r| match r {
                                        Ok(me) => {
                                            view! {
                                                <span data-testid="current-user" class="text-slate-600">
                                                    {me.name}
                                                    <span class="ml-2 rounded bg-purple-100 px-2 py-0.5 text-xs text-purple-800">
                                                        {me.role.as_str()}
                                                    </span>
                                                </span>
                                            }
                                                .into_any()
                                        }
                                        Err(_) => view! { <a href="/login">"Sign in"</a> }.into_any(),
                                    })
                            }}
                        </Suspense>
                        <form method="post" action="/logout">
                            <button
                                type="submit"
                                class="rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-100"
                            >
                                "Log out"
                            </button>
                        </form>
                    </div>
                </header>
                <main class=style::content>
                    <ErrorBoundary fallback=error_fallback>{children()}</ErrorBoundary>
                </main>
            </div>
        </div>
    }
}
