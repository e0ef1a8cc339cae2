//! The Records section: the practice's records, one kind at a time, with
//! search and a status filter (read-only: records change through the API,
//! the platform and workflows).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use wire::records::{format_minor, Entity, Record};

use crate::api_records::list_records;
use crate::components::layout::Shell;
use crate::components::live::use_live;
use crate::components::ui::{local_time, ErrorMessage, Loading, StatusBadge};
use crate::fetched::fetched;

/// Statuses a kind of record can be in, for the filter.
fn statuses(e: Entity) -> &'static [&'static str] {
    match e {
        Entity::Appointment => &["scheduled", "checked_in", "completed", "cancelled", "no_show"],
        Entity::Invoice => &["draft", "sent", "paid", "void"],
        Entity::LabTest => &["ordered", "completed"],
        _ => &[],
    }
}

fn plural(e: Entity) -> &'static str {
    match e {
        Entity::Client => "Clients",
        Entity::Patient => "Patients",
        Entity::Appointment => "Appointments",
        Entity::Invoice => "Invoices",
        Entity::MedicalRecord => "Medical records",
        Entity::LabTest => "Lab tests",
        Entity::Prescription => "Prescriptions",
    }
}

/// The link to a record's page.
pub fn record_href(r: &Record) -> String {
    format!("/records/{}/{}", r.entity.as_str(), r.id)
}

/// A related record embedded by `expand`, as a link (or a dash).
fn related_link(r: &Record, key: &str) -> AnyView {
    match r.fields.get(key).and_then(|v| crate::codec::from_value::<Record>(v).ok()) {
        Some(other) => {
            let (href, title) = (record_href(&other), other.title());
            view! { <A href=href attr:class="text-purple-800 hover:underline">{title}</A> }.into_any()
        }
        None => view! { <span class="text-slate-400">"—"</span> }.into_any(),
    }
}

fn text(r: &Record, key: &str) -> String {
    match r.fields.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => "—".into(),
        Some(v) => v.to_string(),
    }
}

/// How a column shows a record.
type Cell = fn(&Record) -> AnyView;

/// The columns of a kind of record: (heading, cell).
fn columns(e: Entity) -> Vec<(&'static str, Cell)> {
    let t = |key: &'static str| -> Cell {
        match key {
            "email" => |r| text(r, "email").into_any(),
            "phone" => |r| text(r, "phone").into_any(),
            "species" => |r| format!("{} · {}", text(r, "species"), text(r, "breed")).into_any(),
            "vetName" => |r| text(r, "vetName").into_any(),
            "reason" => |r| text(r, "reason").into_any(),
            "diagnosis" => |r| text(r, "diagnosis").into_any(),
            "test" => |r| text(r, "test").into_any(),
            "drug" => |r| text(r, "drug").into_any(),
            "refills" => |r| text(r, "refillsRemaining").into_any(),
            _ => |r| text(r, "dueDate").into_any(),
        }
    };
    let status: Cell = |r| view! { <StatusBadge status=text(r, "status")/> }.into_any();
    let patient: Cell = |r| related_link(r, "patient");
    match e {
        Entity::Client => vec![("Email", t("email")), ("Phone", t("phone"))],
        Entity::Patient => vec![("Species", t("species")), ("Owner", |r| related_link(r, "owner"))],
        Entity::Appointment => vec![
            ("Starts", |r| local_time(&text(r, "startsAt")).into_any()),
            ("Patient", patient),
            ("Vet", t("vetName")),
            ("Status", status),
        ],
        Entity::Invoice => vec![
            ("Client", |r| related_link(r, "client")),
            ("Total", |r| {
                let total = r.fields.get("total").and_then(serde_json::Value::as_i64).unwrap_or(0);
                format_minor(total, &text(r, "currency")).into_any()
            }),
            ("Due", t("dueDate")),
            ("Status", status),
        ],
        Entity::MedicalRecord => vec![("Patient", patient), ("Diagnosis", t("diagnosis"))],
        Entity::LabTest => vec![("Patient", patient), ("Test", t("test")), ("Status", status)],
        Entity::Prescription => vec![("Patient", patient), ("Drug", t("drug")), ("Refills left", t("refills"))],
    }
}

#[component]
pub fn RecordsPage() -> impl IntoView {
    let query = use_query_map();
    let entity =
        Memo::new(move |_| query.read().get("entity").and_then(|e| Entity::parse(&e)).unwrap_or(Entity::Client));
    let search = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    // The keyset cursors of the pages seen so far, to go back.
    let cursors = RwSignal::new(vec![String::new()]);
    Effect::new(move |_| {
        entity.track();
        status.set(String::new());
        cursors.set(vec![String::new()]);
    });
    let live = use_live();
    let list = fetched(
        move || {
            (entity.get(), search.get(), status.get(), cursors.get().last().cloned().unwrap_or_default(), live.get())
        },
        |(e, search, status, cursor, _)| list_records(e.as_str().to_string(), search, status, cursor),
    );
    view! {
        <Shell title="Records">
            <nav aria-label="Kinds of record" class="mb-4 flex flex-wrap gap-2">
                {Entity::ALL.into_iter().map(|e| view! {
                    <A href=format!("/records?entity={}", e.as_str())
                        attr:class=move || if entity.get() == e { "rounded-full bg-purple-700 px-3 py-1 text-sm text-white" } else { "rounded-full border border-slate-300 bg-white px-3 py-1 text-sm hover:bg-slate-100" }
                        attr:aria-current=move || (entity.get() == e).then_some("page")>
                        {plural(e)}
                    </A>
                }).collect_view()}
            </nav>
            <div class="mb-4 flex flex-wrap items-end gap-3">
                <div>
                    <label for="rec-search" class="block text-sm font-medium">"Search"</label>
                    <input id="rec-search" type="search" placeholder="Names, emails, reasons…"
                        class="mt-1 w-64 rounded-md border border-slate-300 px-3 py-1.5"
                        prop:value=search
                        on:input=move |ev| { search.set(event_target_value(&ev)); cursors.set(vec![String::new()]); }/>
                </div>
                {move || (!statuses(entity.get()).is_empty()).then(|| view! {
                    <div>
                        <label for="rec-status" class="block text-sm font-medium">"Status"</label>
                        <select id="rec-status" class="mt-1 rounded-md border border-slate-300 px-3 py-1.5"
                            prop:value=status
                            on:change=move |ev| { status.set(event_target_value(&ev)); cursors.set(vec![String::new()]); }>
                            <option value="">"Any"</option>
                            {statuses(entity.get()).iter().map(|s| view! { <option value=*s>{s.replace('_', " ")}</option> }).collect_view()}
                        </select>
                    </div>
                })}
            </div>
            <Transition fallback=Loading>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                    Ok(page) if page.data.is_empty() => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">
                            {format!("No {} match.", plural(entity.get_untracked()).to_lowercase())}
                            " The demo practice (set up on first run, or "<code>"purple-cross demo"</code>") fills every list."
                        </p>
                    }.into_any(),
                    Ok(page) => {
                        let cols = columns(entity.get_untracked());
                        let next = page.next_cursor.clone();
                        view! {
                            <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white">
                                <table class="w-full text-left text-sm">
                                    <thead class="border-b bg-slate-50 text-slate-500">
                                        <tr>
                                            <th class="px-3 py-2">"Name"</th>
                                            {cols.iter().map(|(h, _)| view! { <th class="px-3 py-2">{*h}</th> }).collect_view()}
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {page.data.into_iter().map(|r| {
                                            let (href, title) = (record_href(&r), r.title());
                                            let cells = cols.iter().map(|(_, cell)| view! { <td class="px-3 py-2">{cell(&r)}</td> }).collect_view();
                                            view! {
                                                <tr data-testid="record-row" class="border-b last:border-0">
                                                    <td class="px-3 py-2"><A href=href attr:class="font-medium text-purple-800 hover:underline">{title}</A></td>
                                                    {cells}
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <nav aria-label="Pagination" class="mt-3 flex justify-end gap-3 text-sm">
                                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                                    disabled=move || cursors.with(|c| c.len() <= 1)
                                    on:click=move |_| cursors.update(|c| { c.pop(); })>"Previous"</button>
                                <button type="button" class="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40"
                                    disabled=next.is_none()
                                    on:click=move |_| if let Some(n) = next.clone() { cursors.update(|c| c.push(n)); }>"Next"</button>
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </Shell>
    }
}
