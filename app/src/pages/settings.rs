//! Settings: the caller's account and, for admins, API keys.

use leptos::prelude::*;

use crate::api::{whoami, CreateApiKey, RevokeApiKey};
use crate::components::layout::Shell;
use crate::components::ui::{ErrorMessage, Loading};
use crate::fetched::{fetched, fetched_once};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let me = fetched_once(whoami);
    view! {
        <Shell title="Settings">
            <Suspense fallback=Loading>
                {move || {
                    me.get()
                        .map(|r| match r {
                            Ok(me) if me.is_admin() => view! { <ApiKeys/> }.into_any(),
                            Ok(_) => {
                                view! {
                                    <p class="text-slate-600">
                                        "API keys are managed by admins."
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(e) => view! { <ErrorMessage message=e.to_string()/> }.into_any(),
                        })
                }}
            </Suspense>
        </Shell>
    }
}

#[component]
fn ApiKeys() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let name = NodeRef::<leptos::html::Input>::new();
    let role = NodeRef::<leptos::html::Select>::new();
    let keys = fetched(move || (create.version().get(), revoke.version().get()), |_| crate::api::list_api_keys());

    view! {
        <section class="relative overflow-x-auto rounded-lg border border-slate-200 bg-white p-6">
            <h2 class="text-lg font-semibold">"API keys"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Integrators call the REST API with "
                <code>"Authorization: Bearer <key>"</code>
                ". A key is shown once, when it is created."
            </p>
            // A plain form: without JavaScript the browser posts it to the server
            // function itself; hydrated, the submit dispatches the action instead.
            <form
                method="post"
                action={<CreateApiKey as leptos::server_fn::ServerFn>::url()}
                class="mt-4 flex flex-wrap items-end gap-3"
                on:submit=move |ev| {
                    ev.prevent_default();
                    if let (Some(name), Some(role)) = (name.get(), role.get()) {
                        create.dispatch(CreateApiKey { name: name.value(), role: role.value() });
                    }
                }
            >
                <div>
                    <label for="key-name" class="block text-sm font-medium">"Name"</label>
                    <input
                        node_ref=name
                        id="key-name"
                        name="name"
                        required
                        maxlength="100"
                        class="mt-1 rounded-md border border-slate-300 px-3 py-2"
                    />
                </div>
                <div>
                    <label for="key-role" class="block text-sm font-medium">"Role"</label>
                    <select node_ref=role id="key-role" name="role" class="mt-1 rounded-md border border-slate-300 px-3 py-2">
                        <option value="staff">"staff"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </div>
                <button
                    type="submit"
                    class="rounded-md bg-purple-700 px-4 py-2 text-white hover:bg-purple-800 disabled:opacity-50"
                    disabled=move || create.pending().get()
                >
                    {move || if create.pending().get() { "Creating…" } else { "Create key" }}
                </button>
            </form>
            {move || {
                create
                    .value()
                    .get()
                    .map(|r| match r {
                        Ok(key) => {
                            view! {
                                <div class="mt-4 rounded-md border border-green-200 bg-green-50 p-3 text-sm">
                                    <p class="font-medium text-green-800">
                                        "Copy this key now; it will not be shown again:"
                                    </p>
                                    <code data-testid="new-api-key" class="mt-1 block break-all font-mono">
                                        {key}
                                    </code>
                                </div>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <div class="mt-4"><ErrorMessage message=e.to_string()/></div> }.into_any(),
                    })
            }}
            <Transition fallback=Loading>
                {move || {
                    keys.get()
                        .map(|r| match r {
                            Ok(list) if list.is_empty() => {
                                view! { <p class="mt-4 text-sm text-slate-500">"No API keys yet."</p> }.into_any()
                            }
                            Ok(list) => {
                                view! {
                                    <table class="mt-4 w-full text-left text-sm">
                                        <thead class="border-b text-slate-500">
                                            <tr>
                                                <th class="py-2">"Name"</th>
                                                <th>"Key"</th>
                                                <th>"Role"</th>
                                                <th>"Created"</th>
                                                <th><span class="sr-only">"Actions"</span></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {list
                                                .into_iter()
                                                .map(|k| {
                                                    let id = k.id.clone();
                                                    view! {
                                                        <tr class="border-b last:border-0">
                                                            <td class="py-2">{k.name}</td>
                                                            <td class="font-mono">{k.prefix} "…"</td>
                                                            <td>{k.role.as_str()}</td>
                                                            <td>{k.created_at}</td>
                                                            <td class="text-right">
                                                                {if k.revoked {
                                                                    view! { <span class="text-slate-400">"revoked"</span> }.into_any()
                                                                } else {
                                                                    view! {
                                                                        <button
                                                                            type="button"
                                                                            class="text-red-700 hover:underline"
                                                                            on:click=move |_| {
                                                                                let ok = window()
                                                                                    .confirm_with_message("Revoke this API key? Integrations using it stop working at once.")
                                                                                    .unwrap_or(false);
                                                                                if ok {
                                                                                    revoke.dispatch(RevokeApiKey { id: id.clone() });
                                                                                }
                                                                            }
                                                                        >
                                                                            "Revoke"
                                                                        </button>
                                                                    }
                                                                        .into_any()
                                                                }}
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                }
                                    .into_any()
                            }
                            Err(e) => view! { <div class="mt-4"><ErrorMessage message=e.to_string()/></div> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}
