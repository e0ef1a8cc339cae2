//! Live updates: the server's `/live` event stream bumps a counter that
//! resources depend on, so numbers refresh without a reload.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Live(pub ReadSignal<u64>);

/// Opens the event stream for the signed-in frame (browser only) and closes it with the frame.
pub fn provide_live() {
    let (version, set_version) = signal(0u64);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let path = window().location().pathname().unwrap_or_default();
        let signed_out_page = path.starts_with("/login") || path.starts_with("/setup");
        if let Some(source) = (!signed_out_page).then(|| web_sys::EventSource::new("/live").ok()).flatten() {
            let on_change = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
                set_version.update(|v| *v += 1);
            });
            let _ = source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
            // The browser tests wait for this mark before they cause a change the page
            // should hear of (one signalled before the stream opened is not replayed).
            let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                if let Some(body) = document().body() {
                    let _ = body.set_attribute("data-live", "open");
                }
            });
            let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
            let handle = send_wrapper::SendWrapper::new((source, on_change, on_open));
            on_cleanup(move || handle.0.close());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_version;
    provide_context(Live(version));
}

/// The live version counter; 0 when no stream is open (server rendering).
pub fn use_live() -> ReadSignal<u64> {
    use_context::<Live>().map(|l| l.0).unwrap_or_else(|| signal(0).0)
}
