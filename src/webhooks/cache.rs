//! Webhooks as the hot paths read them: who subscribes to an event type at
//! ingest, and a webhook's URL, secret and policy at delivery. Both are read
//! thousands of times a second and change a few times a day, so they are kept
//! in memory for a short time.
//!
//! Invariants:
//! - The database stays the truth. Every change made through this process
//!   clears the cache at once; changes made by another instance are seen
//!   within [`TTL`].
//! - A load that raced a change is not stored: each entry remembers the
//!   generation it was loaded in, and a clear bumps the generation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::store::WebhookRow;
use crate::store::Db;
use crate::Result;

/// How long another instance's change may go unseen.
pub const TTL: Duration = Duration::from_secs(1);

/// Event types whose subscriber lists are kept at most (beyond that the cache starts over).
const MAX_ENTRIES: usize = 10_000;

pub type Subscribers = Arc<Vec<Arc<WebhookRow>>>;

#[derive(Default)]
pub struct WebhookCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    by_event: HashMap<String, (Instant, Subscribers)>,
    by_id: HashMap<String, (Instant, Option<Arc<WebhookRow>>)>,
}

impl WebhookCache {
    /// Forgets everything: call after any change to a webhook or its subscriptions.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().expect("webhook cache lock");
        inner.generation += 1;
        inner.by_event.clear();
        inner.by_id.clear();
    }

    /// Active webhooks subscribed to `event_type`.
    pub async fn subscribers(&self, db: &Db, event_type: &str) -> Result<Subscribers> {
        let generation = {
            let inner = self.inner.lock().expect("webhook cache lock");
            if let Some((at, subs)) = inner.by_event.get(event_type) {
                if at.elapsed() < TTL {
                    return Ok(subs.clone());
                }
            }
            inner.generation
        };
        let subs: Subscribers = Arc::new(db.subscribers(event_type).await?.into_iter().map(Arc::new).collect());
        let mut inner = self.inner.lock().expect("webhook cache lock");
        if inner.generation == generation {
            if inner.by_event.len() >= MAX_ENTRIES {
                inner.by_event.clear();
            }
            inner.by_event.insert(event_type.to_string(), (Instant::now(), subs.clone()));
        }
        Ok(subs)
    }

    /// One webhook by id, active or not; `None` when it does not exist.
    pub async fn webhook(&self, db: &Db, id: &str) -> Result<Option<Arc<WebhookRow>>> {
        let generation = {
            let inner = self.inner.lock().expect("webhook cache lock");
            if let Some((at, w)) = inner.by_id.get(id) {
                if at.elapsed() < TTL {
                    return Ok(w.clone());
                }
            }
            inner.generation
        };
        let w = db.webhook(id).await?.map(Arc::new);
        let mut inner = self.inner.lock().expect("webhook cache lock");
        if inner.generation == generation {
            if inner.by_id.len() >= MAX_ENTRIES {
                inner.by_id.clear();
            }
            inner.by_id.insert(id.to_string(), (Instant::now(), w.clone()));
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use crate::webhooks::store::tests_support::row;

    #[tokio::test]
    async fn serves_from_memory_until_cleared() {
        let t = TestDb::sqlite().await;
        let db = t.services().await.unwrap().db;
        let cache = WebhookCache::default();
        db.insert_webhook(&row("wh_a"), &["invoice.paid".into()]).await.unwrap();
        assert_eq!(cache.subscribers(&db, "invoice.paid").await.unwrap().len(), 1);
        assert!(cache.webhook(&db, "wh_a").await.unwrap().is_some());

        // A change behind the cache's back is not seen until it is cleared (or the TTL passes)…
        db.insert_webhook(&row("wh_b"), &["invoice.paid".into()]).await.unwrap();
        assert!(db.delete_webhook("wh_a").await.unwrap());
        assert_eq!(cache.subscribers(&db, "invoice.paid").await.unwrap().len(), 1);
        assert!(cache.webhook(&db, "wh_a").await.unwrap().is_some());

        // …and is after a clear.
        cache.clear();
        let subs = cache.subscribers(&db, "invoice.paid").await.unwrap();
        assert_eq!(subs.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), vec!["wh_b"]);
        assert!(cache.webhook(&db, "wh_a").await.unwrap().is_none());
        t.cleanup().await;
    }

    #[tokio::test]
    async fn expires_after_the_ttl() {
        let t = TestDb::sqlite().await;
        let db = t.services().await.unwrap().db;
        let cache = WebhookCache::default();
        assert!(cache.subscribers(&db, "invoice.paid").await.unwrap().is_empty());
        db.insert_webhook(&row("wh_a"), &["invoice.paid".into()]).await.unwrap();
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        assert_eq!(cache.subscribers(&db, "invoice.paid").await.unwrap().len(), 1);
        t.cleanup().await;
    }
}
