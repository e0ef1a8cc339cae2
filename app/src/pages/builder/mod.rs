//! The visual workflow builder (`/workflows/new`, `/workflows/:id`): the
//! trigger, then a vertical flow of action cards with a form per type,
//! nested lanes for conditions and parallel branches, drag and drop (and
//! keyboard moves), undo and redo, a JSON view, a dry run and versions. The
//! editing logic is `wire::builder`'s, tested there; this is the page.

mod activity;
mod browser;
mod conditions;
mod context;
mod flow;
mod forms;
mod panels;
mod trigger;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use wire::builder::{Catalog, Draft};

use crate::api_builder::{builder_catalog, builder_template, SaveTemplate};
use crate::components::layout::Shell;
use crate::components::ui::{clean_error, ErrorMessage, Loading};
use crate::fetched::fetched;
pub use context::{use_builder, Builder};

#[component]
pub fn BuilderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let loaded = fetched(id, |id| async move {
        let catalog = builder_catalog().await?;
        let template = if id.is_empty() || id == "new" { None } else { Some(builder_template(id).await?) };
        Ok::<_, ServerFnError>((catalog, template))
    });
    view! {
        <Shell title="Workflow builder">
            <Transition fallback=Loading>
                {move || loaded.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok((catalog, template)) => view! { <Editor catalog template/> }.into_any(),
                })}
            </Transition>
        </Shell>
    }
}

#[component]
fn Editor(catalog: Catalog, template: Option<wire::workflows::WorkflowTemplate>) -> impl IntoView {
    let saved_id = RwSignal::new(template.as_ref().map(|t| t.id.clone()).unwrap_or_default());
    let version = RwSignal::new(template.as_ref().map(|t| t.version).unwrap_or(0));
    let draft = template.as_ref().map(Draft::from_template).unwrap_or_default();
    let kept_as = (template.as_ref().map(|t| t.id.clone()).unwrap_or_else(|| "new".into()), version.get_untracked());
    let b = Builder::new(draft, catalog, kept_as);
    provide_context(b);
    b.listen_for_shortcuts();
    b.warn_before_leaving();
    let save = ServerAction::<SaveTemplate>::new();
    let navigate = use_navigate();
    Effect::new(move |_| match save.value().get() {
        Some(Ok(t)) => {
            b.saved();
            version.set(t.version);
            if saved_id.get_untracked().is_empty() {
                saved_id.set(t.id.clone());
                navigate(&format!("/workflows/{}", t.id), Default::default());
            }
        }
        Some(Err(e)) => b.show_errors(&clean_error(&e.to_string())),
        None => {}
    });
    let on_save = move |_| {
        b.errors.set(Vec::new());
        save.dispatch(SaveTemplate { id: saved_id.get_untracked(), input: b.draft.get_untracked().to_input() });
    };
    view! {
        <div class="mb-4 flex flex-wrap items-center justify-between gap-3">
            <A href="/workflows" attr:class="text-sm text-purple-800 hover:underline">"← All workflows"</A>
            <div class="flex flex-wrap items-center gap-2 text-sm">
                <span data-testid="draft-state" class="text-xs text-slate-500">
                    {move || match b.kept.get() {
                        Some(Ok(at)) if b.dirty.get() => format!("Draft kept {}", crate::components::ui::local_minute(&at)),
                        Some(Err(e)) => format!("Draft not kept: {e}"),
                        _ => String::new(),
                    }}
                </span>
                <span data-testid="save-state" class="text-slate-600" aria-live="polite">
                    {move || match (save.pending().get(), b.dirty.get(), version.get()) {
                        (true, ..) => "Saving…".to_string(),
                        (_, true, _) => "Unsaved changes".to_string(),
                        (_, false, 0) => "Not saved yet".to_string(),
                        (_, false, v) => format!("Saved · version {v}"),
                    }}
                </span>
                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                    title="Undo (Ctrl+Z)" disabled=move || !b.can_undo() on:click=move |_| b.undo()>"Undo"</button>
                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                    title="Redo (Ctrl+Shift+Z)" disabled=move || !b.can_redo() on:click=move |_| b.redo()>"Redo"</button>
                <button type="button" class="rounded-md bg-purple-700 px-4 py-1.5 font-medium text-white hover:bg-purple-800 disabled:opacity-50"
                    disabled=move || save.pending().get() on:click=on_save>"Save"</button>
            </div>
        </div>
        {move || b.general_errors().map(|m| view! { <ErrorMessage message=m/> })}
        {move || b.restored.get().then(|| view! {
            <p role="status" class="mb-3 rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900">
                "Your unsaved changes from before were brought back. "
                <button type="button" class="underline" on:click=move |_| b.discard_kept()>"Discard them"</button>
            </p>
        })}
        <div class="grid gap-6 lg:grid-cols-[1fr_22rem]">
            <div class="min-w-0 space-y-4">
                {move || saved_id.get().is_empty().then(|| view! { <panels::Gallery/> })}
                <panels::Details/>
                <trigger::TriggerPanel/>
                <section aria-labelledby="flow-heading">
                    <h2 id="flow-heading" class="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500">"Actions"</h2>
                    <flow::FlowList lane=None/>
                </section>
            </div>
            <aside class="space-y-4">
                <panels::DryRunPanel/>
                <panels::JsonView/>
                {move || (!saved_id.get().is_empty()).then(|| view! {
                    <activity::Activity id=saved_id.get() current=version/>
                    <panels::Versions id=saved_id.get() current=version/>
                })}
            </aside>
        </div>
    }
}
