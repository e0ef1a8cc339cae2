//! The flow of action cards: a list per lane, a gap before every card (and
//! at the end) that takes drops and opens the palette, and the cards with
//! their move, copy and delete buttons. Lists redraw only when the outline
//! changes, so typing in a card never loses focus.

use leptos::prelude::*;
use wire::builder::tree::{self, Anchor, Lane};
use wire::workflows::ACTION_TYPES;

use super::context::use_builder;
use super::forms::ConfigForm;

/// What each type is called on its card and in the palette.
pub fn type_label(t: &str) -> &'static str {
    match t {
        "send_email" => "Send email",
        "send_notification" => "Send notification",
        "update_record" => "Update record",
        "create_record" => "Create record",
        "webhook" => "Call a webhook",
        "wait" => "Wait",
        "condition" => "Condition",
        "parallel" => "Parallel branches",
        "run_workflow" => "Run another workflow",
        _ => "Unknown action",
    }
}

#[component]
pub fn FlowList(lane: Option<Lane>) -> AnyView {
    let b = use_builder();
    let lane_for_shape = lane.clone();
    let outline = Memo::new(move |_| {
        b.draft.with(|d| match &lane_for_shape {
            None => tree::shape(&d.flow),
            Some((id, i)) => {
                tree::node(&d.flow, id).and_then(|n| n.lanes.get(*i)).map(|l| tree::shape(l)).unwrap_or_default()
            }
        })
    });
    let empty_top = lane.is_none();
    let end = Anchor::End(lane.clone());
    view! {
        <ol class="space-y-1" data-testid="flow-list">
            <For each=move || outline.get() key=|s| s.id.clone() children=move |s| {
                view! {
                    <Gap anchor=Anchor::Before(s.id.clone())/>
                    <ActionCard id=s.id.clone() action_type=s.action_type.clone()/>
                }
            }/>
            {move || (empty_top && outline.with(Vec::is_empty)).then(|| view! {
                <li class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-center text-sm text-slate-600">
                    "No actions yet. Add the first one with the + below."
                </li>
            })}
            <Gap anchor=end/>
        </ol>
    }
    .into_any()
}

/// A place between cards: drop a dragged card here, or add an action here.
#[component]
fn Gap(anchor: Anchor) -> impl IntoView {
    let b = use_builder();
    let open = RwSignal::new(false);
    let over = RwSignal::new(false);
    let anchor = StoredValue::new(anchor);
    let add = move |t: &'static str| {
        b.edit(None, |d| {
            if let Some(place) = tree::resolve(&d.flow, &anchor.get_value()) {
                let id = tree::fresh_id(&d.flow);
                tree::insert(&mut d.flow, &place, tree::new_node(id, t));
            }
        });
        open.set(false);
    };
    let paste = move |_| {
        if let Some(copy) = b.clipboard.get_untracked() {
            b.edit(None, |d| {
                if let Some(place) = tree::resolve(&d.flow, &anchor.get_value()) {
                    tree::paste(&mut d.flow, copy, &place);
                }
            });
        }
        open.set(false);
    };
    let drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        if let Some(id) = b.dragging.get_untracked() {
            b.edit(None, |d| {
                if let Some(place) = tree::resolve(&d.flow, &anchor.get_value()) {
                    tree::move_to(&mut d.flow, &id, &place);
                }
            });
        }
        b.dragging.set(None);
    };
    view! {
        <li data-testid="gap" class="list-none">
            <div data-testid="drop-zone"
                class=move || if over.get() { "flex h-8 items-center justify-center rounded border-2 border-dashed border-purple-500 bg-purple-50" } else { "flex h-8 items-center justify-center" }
                on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); over.set(true); }
                on:dragleave=move |_| over.set(false)
                on:drop=drop>
                <button type="button" aria-label="Add an action here" aria-expanded=move || open.get().to_string()
                    class="rounded-full border border-slate-300 bg-white px-2 text-sm leading-5 text-slate-600 hover:border-purple-500 hover:text-purple-800"
                    on:click=move |_| open.update(|o| *o = !*o)>"+"</button>
            </div>
            <Show when=move || open.get()>
                <div role="menu" aria-label="Action types" class="mb-2 flex flex-wrap gap-2 rounded-md border border-slate-200 bg-white p-2 shadow-sm">
                    {ACTION_TYPES.iter().map(|t| view! {
                        <button type="button" role="menuitem" class="rounded-md border border-slate-300 px-2 py-1 text-sm hover:bg-purple-50"
                            on:click=move |_| add(t)>{type_label(t)}</button>
                    }).collect_view()}
                    {move || b.clipboard.get().map(|c| view! {
                        <button type="button" role="menuitem" class="rounded-md border border-purple-300 px-2 py-1 text-sm text-purple-800 hover:bg-purple-50"
                            on:click=paste>{format!("Paste \"{}\"", if c.action.name.is_empty() { type_label(&c.action.action_type).to_string() } else { c.action.name.clone() })}</button>
                    })}
                </div>
            </Show>
        </li>
    }
}

/// Moves focus back to a card's handle after a keyboard move redrew it.
fn refocus(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        let selector = format!("[data-action-id=\"{id}\"] [data-handle]");
        request_animation_frame(move || {
            use wasm_bindgen::JsCast;
            if let Some(el) = document()
                .query_selector(&selector)
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = el.focus();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

#[component]
fn ActionCard(id: String, action_type: String) -> impl IntoView {
    let b = use_builder();
    let idv = StoredValue::new(id.clone());
    let lanes = {
        let id = id.clone();
        Memo::new(move |_| b.draft.with(|d| tree::node(&d.flow, &id).map(|n| n.lanes.len()).unwrap_or(0)))
    };
    let in_lane = {
        let id = id.clone();
        Memo::new(move |_| b.draft.with(|d| tree::locate(&d.flow, &id).is_some_and(|p| p.lane.is_some())))
    };
    let moved = move |f: fn(&mut Vec<tree::Node>, &str) -> bool| {
        let id = idv.get_value();
        b.edit(None, |d| {
            f(&mut d.flow, &id);
        });
        refocus(&id);
    };
    let up = move || moved(|f, id| tree::shift(f, id, -1));
    let down = move || moved(|f, id| tree::shift(f, id, 1));
    let into = move || moved(tree::into_lane_above);
    let out = move || moved(tree::out_of_lane);
    let on_handle_key = move |ev: leptos::ev::KeyboardEvent| {
        if !ev.alt_key() {
            return;
        }
        match ev.key().as_str() {
            "ArrowUp" => up(),
            "ArrowDown" => down(),
            "ArrowRight" => into(),
            "ArrowLeft" => out(),
            _ => return,
        }
        ev.prevent_default();
    };
    let name_id = format!("name-{id}");
    let label = type_label(&action_type);
    let t = action_type.clone();
    let lane_type = action_type.clone();
    let card_errors = {
        let id = id.clone();
        move || b.errors_of(&id)
    };
    let dry = {
        let id = id.clone();
        move || b.dry.with(|steps| steps.iter().find(|s| s.action_id == id).cloned())
    };
    view! {
        <li data-testid="action-card" data-action-id=id.clone() data-type=action_type.clone()
            class=move || if b.dragging.get().as_deref() == Some(idv.get_value().as_str()) { "list-none rounded-lg border border-purple-400 bg-purple-50 p-3 opacity-60" } else { "list-none rounded-lg border border-slate-200 bg-white p-3 shadow-sm" }
            draggable="true"
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                ev.stop_propagation();
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &idv.get_value());
                    dt.set_effect_allowed("move");
                }
                b.dragging.set(Some(idv.get_value()));
            }
            on:dragend=move |_| b.dragging.set(None)>
            <div class="flex flex-wrap items-center gap-2">
                <button type="button" data-handle="" class="cursor-grab rounded px-1 text-slate-500 hover:bg-slate-100"
                    aria-label=format!("Move {label} (Alt+Arrow keys)") title="Drag, or Alt+↑/↓ to move, Alt+→ into the branch above, Alt+← out"
                    on:keydown=on_handle_key>"⠿"</button>
                <span class="rounded bg-purple-100 px-2 py-0.5 text-xs font-semibold text-purple-900">{label}</span>
                <label class="sr-only" for=name_id.clone()>"Action name"</label>
                <input id=name_id type="text" placeholder="Name (optional)"
                    class="min-w-0 flex-1 rounded border border-transparent px-2 py-0.5 text-sm hover:border-slate-300"
                    prop:value=move || b.draft.with(|d| tree::node(&d.flow, &idv.get_value()).map(|n| n.action.name.clone()).unwrap_or_default())
                    on:input=move |ev| { let v = event_target_value(&ev); let id = idv.get_value(); b.edit(Some(&format!("{id}.name")), |d| if let Some(n) = tree::node_mut(&mut d.flow, &id) { n.action.name = v; }); }
                    on:blur=move |_| b.settle()/>
                <span class="font-mono text-xs text-slate-500">{id.clone()}</span>
                <div class="flex gap-1 text-xs">
                    <button type="button" class="rounded border border-slate-300 px-1.5 py-0.5 hover:bg-slate-100" aria-label="Move up" on:click=move |_| up()>"↑"</button>
                    <button type="button" class="rounded border border-slate-300 px-1.5 py-0.5 hover:bg-slate-100" aria-label="Move down" on:click=move |_| down()>"↓"</button>
                    {move || in_lane.get().then(|| view! {
                        <button type="button" class="rounded border border-slate-300 px-1.5 py-0.5 hover:bg-slate-100" aria-label="Move out of the branch" on:click=move |_| out()>"⇤"</button>
                    })}
                    <button type="button" class="rounded border border-slate-300 px-1.5 py-0.5 hover:bg-slate-100"
                        on:click=move |_| { b.edit(None, |d| { tree::duplicate(&mut d.flow, &idv.get_value()); }); }>"Duplicate"</button>
                    <button type="button" class="rounded border border-slate-300 px-1.5 py-0.5 hover:bg-slate-100"
                        on:click=move |_| b.clipboard.set(b.draft.with_untracked(|d| tree::node(&d.flow, &idv.get_value()).cloned()))>"Copy"</button>
                    <button type="button" class="rounded border border-red-300 px-1.5 py-0.5 text-red-700 hover:bg-red-50"
                        on:click=move |_| { b.edit(None, |d| { tree::remove(&mut d.flow, &idv.get_value()); }); }>"Delete"</button>
                </div>
            </div>
            {move || {
                let errs = card_errors();
                (!errs.is_empty()).then(|| view! {
                    <ul role="alert" data-testid="card-errors" class="mt-2 list-disc rounded-md border border-red-200 bg-red-50 py-1 pl-6 pr-2 text-sm text-red-700">
                        {errs.into_iter().map(|(field, msg)| view! {
                            <li>{if field.is_empty() { msg } else { format!("{}: {msg}", field.trim_start_matches("config.")) }}</li>
                        }).collect_view()}
                    </ul>
                })
            }}
            <div class="mt-2"><ConfigForm id=id.clone() action_type=t/></div>
            {move || dry().map(|s| view! { <super::panels::DryRunResult step=s/> })}
            {move || {
                let n = lanes.get();
                let names = wire::builder::tree::lane_names(&lane_type, n);
                (n > 0).then(|| view! {
                    <div class="mt-3 grid gap-3 md:grid-cols-2">
                        {names.into_iter().enumerate().map(|(i, name)| (name.to_lowercase().replace(' ', "-"), name, i)).map(|(slug, name, i)| view! {
                            <div data-testid="lane" data-lane=slug class="rounded-md border-l-4 border-purple-300 bg-slate-50 p-2">
                                <h4 class="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">{name}</h4>
                                <FlowList lane=Some((idv.get_value(), i))/>
                            </div>
                        }).collect_view()}
                    </div>
                })
            }}
        </li>
    }
}
