//! One record: its fields, what it points at, what belongs to it, and the
//! events it emitted, each linked to its deliveries.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use wire::records::{format_minor, Entity, Record, RecordEvent};

use super::records::record_href;
use crate::api_records::record_detail;
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{local_time, ErrorMessage, Loading, StatusBadge};
use crate::fetched::fetched;

/// Fields shown in their own section (relations) or not at all.
const HIDDEN: &[&str] = &["owner", "patient", "client", "appointment", "lines", "refills"];

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// "firstName" → "First name".
fn label(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[component]
pub fn RecordDetailPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || (params.read().get("entity").unwrap_or_default(), params.read().get("id").unwrap_or_default());
    let live = use_live();
    let detail = fetched(move || (key(), live.get()), |((e, id), _)| record_detail(e, id));
    view! {
        <Shell title="Record">
            <p class="mb-4 text-sm"><A href=move || format!("/records?entity={}", key().0) attr:class="text-purple-800 hover:underline">"← All records"</A></p>
            <Transition fallback=Loading>
                {move || detail.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok((record, related, events)) => view! { <Detail record=record related=related events=events/> }.into_any(),
                })}
            </Transition>
        </Shell>
    }
}

#[component]
fn Detail(record: Record, related: Vec<Record>, events: Vec<RecordEvent>) -> impl IntoView {
    let mut fields: Vec<(String, Value)> = record
        .fields
        .iter()
        .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let relations: Vec<(&str, Record)> = ["owner", "patient", "client", "appointment"]
        .into_iter()
        .filter_map(|k| record.fields.get(k).and_then(|v| crate::codec::from_value::<Record>(v).ok()).map(|r| (k, r)))
        .collect();
    let lines = record.fields.get("lines").and_then(Value::as_array).cloned().unwrap_or_default();
    let currency = record.str("currency").unwrap_or_default().to_string();
    view! {
        <div class="mb-6 flex flex-wrap items-center gap-3">
            <h2 data-testid="record-title" class="text-xl font-semibold">{record.title()}</h2>
            <span class="rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-600">{record.entity.label()}</span>
            {record.str("status").map(|s| view! { <StatusBadge status=s.to_string()/> })}
            {record.deleted_at.clone().map(|d| view! { <span class="rounded-full bg-red-100 px-2 py-0.5 text-xs text-red-800">{format!("deleted {}", local_time(&d))}</span> })}
        </div>
        <div class="grid gap-6 lg:grid-cols-2">
            <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="fields-h">
                <h3 id="fields-h" class="mb-3 font-semibold">"Details"</h3>
                <dl class="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
                    <dt class="text-slate-500">"Id"</dt><dd class="font-mono text-xs">{record.id.clone()}</dd>
                    {fields.into_iter().map(|(k, v)| view! { <dt class="text-slate-500">{label(&k)}</dt><dd>{show(&v)}</dd> }).collect_view()}
                    <dt class="text-slate-500">"Version"</dt><dd>{record.version}</dd>
                    <dt class="text-slate-500">"Updated"</dt><dd>{local_time(&record.updated_at)}</dd>
                </dl>
                {(!lines.is_empty()).then(|| view! {
                    <table class="mt-4 w-full text-sm">
                        <thead class="border-b text-slate-500"><tr><th class="text-left">"Line"</th><th class="text-right">"Qty"</th><th class="text-right">"Price"</th></tr></thead>
                        <tbody>
                            {lines.iter().map(|l| view! {
                                <tr>
                                    <td>{show(&l["description"])}</td>
                                    <td class="text-right">{show(&l["quantity"])}</td>
                                    <td class="text-right">{format_minor(l["unitPrice"].as_i64().unwrap_or(0), &currency)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </section>
            <div class="space-y-6">
                {(!relations.is_empty()).then(|| view! {
                    <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="rel-h">
                        <h3 id="rel-h" class="mb-3 font-semibold">"Belongs to"</h3>
                        <ul class="space-y-1 text-sm">
                            {relations.into_iter().map(|(k, r)| { let (href, title) = (record_href(&r), r.title()); view! {
                                <li><span class="text-slate-500">{label(k)}": "</span><A href=href attr:class="text-purple-800 hover:underline">{title}</A></li>
                            }}).collect_view()}
                        </ul>
                    </section>
                })}
                {matches!(record.entity, Entity::Client | Entity::Patient).then(|| view! {
                    <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="own-h">
                        <h3 id="own-h" class="mb-3 font-semibold">{if record.entity == Entity::Client { "Patients and visits" } else { "Visits, tests and prescriptions" }}</h3>
                        {if related.is_empty() {
                            view! { <p class="text-sm text-slate-500">"Nothing yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="space-y-1 text-sm" data-testid="related-records">
                                    {related.into_iter().map(|r| { let (href, title) = (record_href(&r), r.title()); view! {
                                        <li class="flex flex-wrap gap-2">
                                            <span class="w-28 text-slate-500">{r.entity.label()}</span>
                                            <A href=href attr:class="text-purple-800 hover:underline">{title}</A>
                                            {r.str("startsAt").map(|t| view! { <span class="text-slate-500">{local_time(t)}</span> })}
                                            {r.str("status").map(|s| view! { <StatusBadge status=s.to_string()/> })}
                                        </li>
                                    }}).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                })}
                <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="ev-h">
                    <h3 id="ev-h" class="mb-3 font-semibold">"Events"</h3>
                    {if events.is_empty() {
                        view! { <p class="text-sm text-slate-500">"This record has emitted no events."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="space-y-3 text-sm">
                                {events.into_iter().map(|e| view! {
                                    <li data-testid="record-event">
                                        <p><span class="font-mono">{e.event_type.clone()}</span>" "<span class="text-slate-500">{local_time(&e.created_at)}</span></p>
                                        {(!e.cause.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{format!("caused by workflow runs {}", e.cause.join(" → "))}</p> })}
                                        {if e.deliveries.is_empty() {
                                            view! { <p class="text-xs text-slate-500">"No webhook subscribed."</p> }.into_any()
                                        } else {
                                            view! {
                                                <ul class="mt-1 flex flex-wrap gap-2">
                                                    {e.deliveries.into_iter().map(|d| view! {
                                                        <li>
                                                            <A href=format!("/webhooks/{}?delivery={}", d.webhook_id, d.id) attr:class="inline-flex items-center gap-1 rounded border border-slate-200 px-2 py-0.5 text-xs hover:bg-slate-50">
                                                                "Delivery "<StatusBadge status=d.status.clone()/>
                                                            </A>
                                                        </li>
                                                    }).collect_view()}
                                                </ul>
                                            }.into_any()
                                        }}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </section>
            </div>
        </div>
    }
}
