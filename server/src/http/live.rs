//! `GET /live`: server-sent events telling open pages that something changed
//! (a delivery finished, an event arrived, a notification appeared), so they
//! refetch their numbers without a reload.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use super::AppState;

pub async fn live(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.services.changes.subscribe();
    let stop = state.shutdown.clone();
    let stream = futures::stream::unfold((changes, stop), |(mut changes, mut stop)| async move {
        tokio::select! {
            changed = changes.changed() => changed.ok()?,
            _ = stop.wait_for(|s| *s) => return None,
        }
        // Coalesce bursts (hundreds of deliveries a second) into a few updates.
        tokio::time::sleep(Duration::from_millis(250)).await;
        changes.borrow_and_update();
        Some((Ok(Event::default().event("change").data("changed")), (changes, stop)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
