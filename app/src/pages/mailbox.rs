//! The outbox: every email workflows sent, with who it went to, the text,
//! and the execution that sent it (and, with SMTP, whether it went out).

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api_workflows::outbox_emails;
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{local_time, ErrorMessage, Loading};
use crate::fetched::fetched;

#[component]
pub fn MailboxPage() -> impl IntoView {
    let live = use_live();
    let mail = fetched(move || live.get(), |_| outbox_emails());
    view! {
        <Shell title="Mailbox">
            <p class="mb-4 max-w-3xl text-sm text-slate-600">
                "Emails sent by workflows. Without an SMTP server (--smtp-url) they are kept here only."
            </p>
            <Transition fallback=Loading>
                {move || mail.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">"No email yet."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="space-y-3">
                            {list.into_iter().map(|m| view! {
                                <li data-testid="email" class="rounded-lg border border-slate-200 bg-white p-4">
                                    <div class="flex flex-wrap items-center gap-3 text-sm">
                                        <span data-testid="email-subject" class="font-semibold">{m.subject.clone()}</span>
                                        <span class="text-slate-600">{format!("to {}", m.to.join(", "))}</span>
                                        <span class="text-slate-500">{local_time(&m.created_at)}</span>
                                        <span class="rounded-full bg-slate-200 px-2 py-0.5 text-xs">{m.status.clone()}</span>
                                        {m.execution_id.clone().map(|id| view! {
                                            <A href=format!("/executions/{id}") attr:class="text-purple-800 hover:underline">"execution"</A>
                                        })}
                                    </div>
                                    {m.error.clone().map(|e| view! { <p role="alert" class="mt-1 text-sm text-red-700">{e}</p> })}
                                    <pre class="mt-2 whitespace-pre-wrap rounded bg-slate-50 p-3 text-sm">{m.text.clone()}</pre>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </Shell>
    }
}
