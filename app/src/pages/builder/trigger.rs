//! What starts the workflow: by hand, an event from the catalog, or a
//! schedule (cron in words, its timezone and the next five runs).

use leptos::prelude::*;
use serde_json::{json, Value};
use wire::workflows::{event_in_words, TriggerType};

use super::context::use_builder;
use crate::api_builder::schedule_preview;
use crate::components::ui::clean_error;
use crate::fetched::fetched;

#[component]
pub fn TriggerPanel() -> impl IntoView {
    let b = use_builder();
    let kind = move || b.draft.with(|d| d.trigger_type);
    let setting = move |k: &str| {
        b.draft.with(|d| d.trigger_config.get(k).and_then(Value::as_str).unwrap_or_default().to_string())
    };
    let set_setting = move |k: &'static str, v: String| {
        b.edit(Some(&format!("trigger.{k}")), |d| {
            if !d.trigger_config.is_object() {
                d.trigger_config = json!({});
            }
            d.trigger_config[k] = Value::String(v);
        })
    };
    let set_kind = move |ev: leptos::ev::Event| {
        let t = TriggerType::parse(&event_target_value(&ev)).unwrap_or(TriggerType::Manual);
        b.edit(None, |d| {
            d.trigger_type = t;
            if t == TriggerType::Schedule && d.trigger_config.get("cron").is_none() {
                d.trigger_config = json!({"cron": "0 8 * * MON", "timezone": ""});
            }
        });
    };
    let events: Vec<String> = b.catalog.with_value(|c| c.events.iter().map(|(n, _)| n.clone()).collect());
    let preview = fetched(
        move || (kind() == TriggerType::Schedule).then(|| (setting("cron"), setting("timezone"))),
        |q| async move {
            match q {
                Some((cron, tz)) if !cron.trim().is_empty() => schedule_preview(cron, tz).await.map(Some),
                _ => Ok(None),
            }
        },
    );
    let error = move |f: &str| b.error_at(f);
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="trigger-heading">
            <h2 id="trigger-heading" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Trigger"</h2>
            <div class="mt-2 flex flex-wrap items-end gap-3">
                <div>
                    <label for="trigger-type" class="block text-xs font-medium text-slate-700">"Starts"</label>
                    <select id="trigger-type" class="mt-1 rounded-md border border-slate-300 px-2 py-1 text-sm" prop:value=move || kind().as_str() on:change=set_kind>
                        <option value="manual">"when someone runs it"</option>
                        <option value="event">"when an event happens"</option>
                        <option value="schedule">"on a schedule"</option>
                    </select>
                </div>
                <Show when=move || kind() == TriggerType::Event>
                    <div>
                        <label for="trigger-event" class="block text-xs font-medium text-slate-700">"Event"</label>
                        <select id="trigger-event" class="mt-1 rounded-md border border-slate-300 px-2 py-1 text-sm"
                            prop:value=move || setting("event") on:change=move |ev| set_setting("event", event_target_value(&ev))>
                            <option value="">"Pick an event…"</option>
                            {events.iter().map(|e| view! { <option value=e.clone()>{e.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <p class="text-sm text-slate-700">{move || { let e = setting("event"); if e.is_empty() { String::new() } else { event_in_words(&e) } }}</p>
                </Show>
                <Show when=move || kind() == TriggerType::Schedule>
                    <div>
                        <label for="trigger-cron" class="block text-xs font-medium text-slate-700">"Cron (minute hour day month weekday)"</label>
                        <input id="trigger-cron" type="text" class="mt-1 w-40 rounded-md border border-slate-300 px-2 py-1 font-mono text-sm"
                            prop:value=move || setting("cron") on:input=move |ev| set_setting("cron", event_target_value(&ev)) on:blur=move |_| b.settle()/>
                    </div>
                    <div>
                        <label for="trigger-tz" class="block text-xs font-medium text-slate-700">"Timezone (blank: the practice's)"</label>
                        <input id="trigger-tz" type="text" placeholder="Europe/London" class="mt-1 w-48 rounded-md border border-slate-300 px-2 py-1 text-sm"
                            prop:value=move || setting("timezone") on:input=move |ev| set_setting("timezone", event_target_value(&ev)) on:blur=move |_| b.settle()/>
                    </div>
                </Show>
            </div>
            <Show when=move || kind() == TriggerType::Schedule>
                <p data-testid="cron-words" class="mt-2 text-sm font-medium">
                    {move || wire::cron_words::describe(&setting("cron")).unwrap_or_else(|| format!("On the schedule {}", setting("cron")))}
                </p>
                <Suspense fallback=|| view! { <p class="text-xs text-slate-500">"Working out the next runs…"</p> }>
                    {move || preview.get().and_then(Result::transpose).map(|r| match r {
                        Ok(runs) => view! {
                            <p class="text-xs text-slate-600">"Next runs: "</p>
                            <ol data-testid="next-runs" class="list-decimal pl-6 text-xs text-slate-700">
                                {runs.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
                            </ol>
                            <p class="text-xs text-slate-500">"After downtime, a missed run happens once, not once per missed tick."</p>
                        }.into_any(),
                        Err(e) => view! { <p role="alert" class="text-xs text-red-700">{clean_error(&e.to_string())}</p> }.into_any(),
                    })}
                </Suspense>
            </Show>
            <Show when=move || kind() == TriggerType::Event && !setting("event").is_empty()>
                <div class="mt-3 border-t border-slate-100 pt-3">
                    <p class="mb-1 text-xs text-slate-600">"Optional: start only for some of these events (the event's own fields, such as status)."</p>
                    <super::conditions::TriggerConditions/>
                </div>
            </Show>
            {move || error("triggerConfig").or_else(|| error("triggerType")).map(|m| view! { <p role="alert" class="mt-2 text-sm text-red-700">{m}</p> })}
        </section>
    }
}
