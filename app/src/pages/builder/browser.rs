//! What the builder does with the browser itself: keyboard shortcuts for
//! undo and redo, a warning before leaving with unsaved changes, and unsaved
//! edits kept in local storage so a refresh, a closed tab or a crash loses
//! nothing (they come back on the next visit, with a way to discard them).

use leptos::prelude::*;

use super::context::Builder;

#[cfg(feature = "hydrate")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    version: i64,
    draft: wire::builder::Draft,
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

impl Builder {
    #[cfg(feature = "hydrate")]
    fn storage_key(&self) -> String {
        format!("purple-cross:workflow-draft:{}", self.kept_as().0)
    }

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

    /// Brings back edits kept from an earlier visit (after hydration, so the
    /// page first matches what the server drew), then keeps every new one.
    pub fn keep_edits_in_the_browser(&self) {
        #[cfg(feature = "hydrate")]
        {
            let b = *self;
            Effect::new(move |_| {
                let (_, version) = b.kept_as();
                let kept = storage()
                    .and_then(|s| s.get_item(&b.storage_key()).ok().flatten())
                    .and_then(|text| serde_json::from_str::<Kept>(&text).ok());
                if let Some(k) = kept.filter(|k| k.version == version && k.draft != b.draft.get_untracked()) {
                    b.draft.set(k.draft);
                    b.dirty.set(true);
                    b.restored.set(true);
                }
            });
            Effect::new(move |_| {
                let draft = b.draft.get();
                if !b.dirty.get() {
                    return;
                }
                let kept = Kept { version: b.kept_as().1, draft };
                if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(&kept)) {
                    let _ = s.set_item(&b.storage_key(), &text);
                }
            });
        }
    }

    pub fn forget_kept(&self) {
        #[cfg(feature = "hydrate")]
        if let Some(s) = storage() {
            let _ = s.remove_item(&self.storage_key());
        }
    }

    /// Drops the brought-back edits and shows the saved template again.
    pub fn discard_kept(&self) {
        self.forget_kept();
        // Nothing is left unsaved to warn about.
        self.dirty.set(false);
        #[cfg(feature = "hydrate")]
        let _ = window().location().reload();
    }
}
