//! What the builder does around editing: keyboard shortcuts for undo and
//! redo, a warning before leaving with unsaved changes, and unsaved edits
//! kept on the server as a draft that is not live, so a refresh, a closed tab
//! or a crash loses nothing (they come back on the next visit, in any
//! browser, with a way to discard them).

use leptos::prelude::*;

use super::context::Builder;

#[cfg(feature = "hydrate")]
use crate::api_builder::{discard_draft, keep_draft, load_draft};

/// How long typing must pause before the draft is sent to the server.
#[cfg(feature = "hydrate")]
const KEEP_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

impl Builder {
    /// Ctrl+Z undoes, Ctrl+Shift+Z (or Ctrl+Y) redoes, inside inputs too:
    /// the builder's history covers typing, so the browser's own would fight it.
    pub fn listen_for_shortcuts(&self) {
        let b = *self;
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if !(ev.ctrl_key() || ev.meta_key()) {
                return;
            }
            match (ev.key().to_lowercase().as_str(), ev.shift_key()) {
                ("z", false) => {
                    ev.prevent_default();
                    b.undo();
                }
                ("z", true) | ("y", _) => {
                    ev.prevent_default();
                    b.redo();
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }

    pub fn warn_before_leaving(&self) {
        let dirty = self.dirty;
        let handle = window_event_listener(leptos::ev::beforeunload, move |ev| {
            if dirty.get_untracked() {
                ev.prevent_default();
                ev.set_return_value("You have unsaved changes.");
            }
        });
        on_cleanup(move || handle.remove());
    }

    /// Brings back edits kept on the server from an earlier visit (after
    /// hydration, so the page first matches what the server drew; in any
    /// browser the author signs in to), then keeps every new one there, a
    /// moment after typing pauses. A kept draft is never live.
    pub fn keep_edits_on_the_server(&self) {
        #[cfg(feature = "hydrate")]
        {
            let b = *self;
            Effect::new(move |_| {
                let (key, version) = b.kept_as();
                leptos::task::spawn_local(async move {
                    let Ok(Some(k)) = load_draft(key).await else { return };
                    let Ok(draft) = crate::codec::from_value::<wire::builder::Draft>(&k.body) else { return };
                    // The page may be gone by now (try_*), and edits made since
                    // it opened win over older kept ones.
                    let untouched = b.dirty.try_get_untracked() == Some(false);
                    if k.base_version == version && untouched && b.draft.try_get_untracked().is_some_and(|d| d != draft)
                    {
                        b.draft.try_set(draft);
                        b.dirty.try_set(true);
                        b.restored.try_set(true);
                        b.kept.try_set(Some(Ok(k.updated_at)));
                    }
                });
            });
            let pending = StoredValue::new(None::<leptos::leptos_dom::helpers::TimeoutHandle>);
            Effect::new(move |_| {
                let draft = b.draft.get();
                if !b.dirty.get() {
                    return;
                }
                if let Some(h) = pending.get_value() {
                    h.clear();
                }
                let send = move || {
                    // Saved, discarded or left meanwhile: nothing is left to keep.
                    if b.dirty.try_get_untracked() != Some(true) {
                        return;
                    }
                    let Some((key, version)) = b.kept_as.try_get_value() else { return };
                    let Ok(body) = serde_json::to_value(&draft) else { return };
                    leptos::task::spawn_local(async move {
                        let outcome = keep_draft(key, version, body).await;
                        b.kept.try_set(Some(
                            outcome
                                .map(|k| k.updated_at)
                                .map_err(|e| crate::components::ui::clean_error(&e.to_string())),
                        ));
                    });
                };
                pending.set_value(set_timeout_with_handle(send, KEEP_AFTER).ok());
            });
            on_cleanup(move || {
                if let Some(Some(h)) = pending.try_get_value() {
                    h.clear();
                }
            });
        }
    }

    /// After a save: the server dropped the kept draft; drop it again in
    /// case a keep sent just before the save landed after it.
    pub fn forget_kept(&self) {
        self.kept.set(None);
        #[cfg(feature = "hydrate")]
        {
            let key = self.kept_as().0;
            leptos::task::spawn_local(async move {
                let _ = discard_draft(key).await;
            });
        }
    }

    /// Drops the brought-back edits and shows the saved template again.
    pub fn discard_kept(&self) {
        // Nothing is left unsaved to warn about.
        self.dirty.set(false);
        #[cfg(feature = "hydrate")]
        {
            let key = self.kept_as().0;
            leptos::task::spawn_local(async move {
                let _ = discard_draft(key).await;
                let _ = window().location().reload();
            });
        }
    }
}
