//! The notifications list, newest first, with mark-as-read.

use leptos::prelude::*;

use crate::api::{list_notifications, MarkNotificationsRead};
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{local_time, ErrorMessage, Loading};
use crate::fetched::fetched;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let live = use_live();
    let mark = ServerAction::<MarkNotificationsRead>::new();
    let list = fetched(move || (live.get(), mark.version().get()), |_| list_notifications());
    view! {
        <Shell title="Notifications">
            <div class="mb-4 flex justify-end">
                <button type="button" class="rounded-md border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100"
                    on:click=move |_| { mark.dispatch(MarkNotificationsRead { id: String::new() }); }>
                    "Mark all as read"
                </button>
            </div>
            {move || mark.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=e.to_string()/> })}
            <Transition fallback=Loading>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(items) if items.is_empty() => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">"No notifications."</p>
                    }.into_any(),
                    Ok(items) => view! {
                        <ul class="space-y-2">
                            {items.into_iter().map(|n| {
                                let id = n.id.clone();
                                view! {
                                    <li data-testid="notification" class=if n.read { "rounded-lg border border-slate-200 bg-white p-4" } else { "rounded-lg border border-purple-300 bg-purple-50 p-4" }>
                                        <div class="flex flex-wrap items-start justify-between gap-2">
                                            <div>
                                                <p class="font-medium">{n.title.clone()}</p>
                                                <p class="text-sm text-slate-600">{n.body.clone()}</p>
                                                <p class="mt-1 text-xs text-slate-500">{local_time(&n.created_at)}</p>
                                            </div>
                                            <div class="flex gap-3 text-sm">
                                                {n.link.clone().map(|l| view! { <a href=l class="text-purple-800 hover:underline">"Open"</a> })}
                                                {(!n.read).then(|| view! {
                                                    <button type="button" class="text-purple-800 hover:underline"
                                                        on:click=move |_| { mark.dispatch(MarkNotificationsRead { id: id.clone() }); }>
                                                        "Mark read"
                                                    </button>
                                                })}
                                            </div>
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </Shell>
    }
}
