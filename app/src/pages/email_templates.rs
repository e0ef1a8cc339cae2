//! The email-template library: pick one, edit its subject, text and HTML
//! (minijinja), preview it against a demo patient, save; custom templates
//! can be added and deleted, built-in ones edited.

use leptos::prelude::*;
use serde_json::json;
use wire::workflows::{EmailTemplate, EmailTemplateInput};

use crate::api_records::list_records;
use crate::api_workflows::{email_template_list, DeleteEmailTemplate, PreviewEmailTemplate, SaveEmailTemplate};
use crate::components::layout::Shell;
use crate::components::ui::{clean_error, confirm, ErrorMessage, Loading};
use crate::fetched::fetched;

#[component]
pub fn EmailTemplatesPage() -> impl IntoView {
    let save = ServerAction::<SaveEmailTemplate>::new();
    let remove = ServerAction::<DeleteEmailTemplate>::new();
    let list = fetched(move || (save.version().get(), remove.version().get()), |_| email_template_list());
    let selected = RwSignal::new(None::<EmailTemplate>);
    let new_name = RwSignal::new(String::new());
    view! {
        <Shell title="Email templates">
            <p class="mb-4 max-w-3xl text-sm text-slate-600">
                "What send_email actions send when they name a template. Subject, text and HTML are templates: "
                <code>"{{ patient.name }}"</code>", "<code>"{{ appointment.startsAt | date }}"</code>", "<code>"{% if labTest.abnormal %}…{% endif %}"</code>"."
            </p>
            <div class="grid gap-6 md:grid-cols-[16rem_1fr]">
                <div>
                    <Transition fallback=Loading>
                        {move || list.get().map(|r| match r {
                            Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                            Ok(all) => view! {
                                <ul class="space-y-1" aria-label="Email templates">
                                    {all.into_iter().map(|t| {
                                        let t2 = t.clone();
                                        let name = t.name.clone();
                                        view! {
                                            <li>
                                                <button type="button" data-testid="email-template"
                                                    class=move || if selected.with(|s| s.as_ref().map(|s| s.name.as_str()) == Some(name.as_str())) { "w-full rounded-md bg-purple-100 px-3 py-1.5 text-left text-sm font-medium" } else { "w-full rounded-md px-3 py-1.5 text-left text-sm hover:bg-slate-100" }
                                                    on:click=move |_| selected.set(Some(t2.clone()))>
                                                    <span class="font-mono">{t.name.clone()}</span>
                                                    {t.builtin.then(|| view! { <span class="ml-2 rounded bg-slate-200 px-1 text-xs">"built-in"</span> })}
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        })}
                    </Transition>
                    <form class="mt-4 flex gap-2" on:submit=move |ev| {
                        ev.prevent_default();
                        let name = new_name.get_untracked().trim().to_string();
                        if !name.is_empty() {
                            selected.set(Some(EmailTemplate { name, subject: String::new(), text: String::new(), html: None, builtin: false, updated_at: String::new() }));
                            new_name.set(String::new());
                        }
                    }>
                        <label for="new-email-template" class="sr-only">"New template name"</label>
                        <input id="new-email-template" type="text" placeholder="new_template_name" class="w-full rounded-md border border-slate-300 px-2 py-1 font-mono text-sm"
                            prop:value=new_name on:input=move |ev| new_name.set(event_target_value(&ev))/>
                        <button type="submit" class="rounded-md border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100">"New"</button>
                    </form>
                </div>
                <div>
                    {move || match selected.get() {
                        None => view! {
                            <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">"Pick a template to edit it, or make a new one."</p>
                        }.into_any(),
                        Some(t) => view! { <Editor template=t save remove on_deleted=move || selected.set(None)/> }.into_any(),
                    }}
                </div>
            </div>
        </Shell>
    }
}

#[component]
fn Editor(
    template: EmailTemplate,
    save: ServerAction<SaveEmailTemplate>,
    remove: ServerAction<DeleteEmailTemplate>,
    on_deleted: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let name = StoredValue::new(template.name.clone());
    let subject = RwSignal::new(template.subject.clone());
    let text = RwSignal::new(template.text.clone());
    let html = RwSignal::new(template.html.clone().unwrap_or_default());
    let patients = fetched(|| (), |_| list_records("patient".into(), String::new(), String::new(), String::new()));
    let patient = RwSignal::new(String::new());
    let preview = ServerAction::<PreviewEmailTemplate>::new();
    let run_preview = move || {
        let data =
            if patient.get_untracked().is_empty() { json!({}) } else { json!({"patientId": patient.get_untracked()}) };
        let html = html.get_untracked();
        let input = EmailTemplateInput {
            subject: subject.get_untracked(),
            text: text.get_untracked(),
            html: (!html.trim().is_empty()).then_some(html),
        };
        preview.dispatch(PreviewEmailTemplate { input, trigger_data: data });
    };
    let builtin = template.builtin;
    let fresh = template.updated_at.is_empty();
    view! {
        <form class="space-y-3 rounded-lg border border-slate-200 bg-white p-4" on:submit=move |ev| {
            ev.prevent_default();
            let html = html.get_untracked();
            save.dispatch(SaveEmailTemplate { name: name.get_value(), input: EmailTemplateInput { subject: subject.get_untracked(), text: text.get_untracked(), html: (!html.trim().is_empty()).then_some(html) } });
        }>
            <h2 class="font-mono text-lg font-semibold">{template.name.clone()}</h2>
            <div>
                <label for="et-subject" class="block text-xs font-medium text-slate-700">"Subject"</label>
                <input id="et-subject" type="text" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1" prop:value=subject on:input=move |ev| subject.set(event_target_value(&ev))/>
            </div>
            <div>
                <label for="et-text" class="block text-xs font-medium text-slate-700">"Text"</label>
                <textarea id="et-text" rows="8" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1 font-mono text-sm" prop:value=text on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </div>
            <div>
                <label for="et-html" class="block text-xs font-medium text-slate-700">"HTML (optional)"</label>
                <textarea id="et-html" rows="5" class="mt-1 w-full rounded-md border border-slate-300 px-2 py-1 font-mono text-sm" prop:value=html on:input=move |ev| html.set(event_target_value(&ev))></textarea>
            </div>
            <div class="flex flex-wrap items-center gap-2">
                <button type="submit" class="rounded-md bg-purple-700 px-4 py-1.5 text-sm font-medium text-white hover:bg-purple-800 disabled:opacity-50" disabled=move || save.pending().get()>
                    {move || if save.pending().get() { "Saving…" } else { "Save" }}
                </button>
                {(!builtin && !fresh).then(|| view! {
                    <button type="button" class="rounded-md border border-red-300 px-3 py-1.5 text-sm text-red-700 hover:bg-red-50"
                        on:click=move |_| if confirm(&format!("Delete the email template \"{}\"? Workflows that name it will fail to send.", name.get_value())) {
                            remove.dispatch(DeleteEmailTemplate { name: name.get_value() });
                            on_deleted();
                        }>"Delete…"</button>
                })}
                {move || save.value().get().map(|r| match r {
                    Ok(_) => view! { <span role="status" class="text-sm text-green-800">"Saved."</span> }.into_any(),
                    Err(e) => view! { <span role="alert" class="text-sm text-red-700">{clean_error(&e.to_string())}</span> }.into_any(),
                })}
            </div>
        </form>
        <section class="mt-4 rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="preview-heading">
            <h2 id="preview-heading" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Preview"</h2>
            <div class="mt-2 flex flex-wrap items-end gap-2">
                <Suspense fallback=Loading>
                    {move || patients.get().map(|r| r.map(|list| view! {
                        <label for="et-patient" class="text-xs font-medium text-slate-700">"With the records of"</label>
                        <select id="et-patient" class="rounded-md border border-slate-300 px-2 py-1 text-sm" prop:value=patient on:change=move |ev| patient.set(event_target_value(&ev))>
                            <option value="">"no patient"</option>
                            {list.data.into_iter().map(|p| view! { <option value=p.id.clone()>{p.title()}</option> }).collect_view()}
                        </select>
                    }))}
                </Suspense>
                <button type="button" class="rounded-md border border-purple-700 px-3 py-1 text-sm text-purple-800 hover:bg-purple-50" on:click=move |_| run_preview()>"Preview"</button>
            </div>
            {move || preview.value().get().map(|r| match r {
                Err(e) => view! { <p role="alert" data-testid="preview-error" class="mt-2 text-sm text-red-700">{clean_error(&e.to_string())}</p> }.into_any(),
                Ok(p) => view! {
                    <div data-testid="email-preview" class="mt-2 space-y-2 rounded-md border border-slate-200 p-3">
                        <p class="font-semibold">{p.subject}</p>
                        <pre class="whitespace-pre-wrap text-sm">{p.text}</pre>
                        {p.html.map(|h| view! {
                            <p class="text-xs font-medium text-slate-600">"HTML"</p>
                            // No scripts, no forms, no navigation: the rendered mail is only looked at.
                            <iframe data-testid="html-preview" title="HTML preview" sandbox="" srcdoc=h
                                class="h-64 w-full rounded border border-slate-200 bg-white"></iframe>
                        })}
                    </div>
                }.into_any(),
            })}
            <p class="mt-2 text-xs text-slate-500">"The preview renders the subject, text and HTML as a workflow would (values in the HTML are escaped); nothing is sent."</p>
        </section>
    }
}
