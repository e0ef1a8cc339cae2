//! Webhooks as the hot paths read them, prepared once: who subscribes to an
//! event type (with the payload filter parsed) at ingest, and a webhook's
//! URL, decrypted signing keys, headers and retry policy at delivery. Both
//! are read thousands of times a second and change a few times a day.
//!
//! Invariants:
//! - The database stays the truth. Every change made through this process
//!   clears the cache at once; changes made by another instance are seen
//!   within [`TTL`] (at once with Redis, which relays the clear).
//! - A load that raced a change is not stored: each entry remembers the
//!   generation it was loaded in, and a clear bumps the generation.
//! - A stored filter that does not parse matches nothing (and says so in the
//!   log): a broken filter never turns into "deliver everything".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::store::WebhookRow;
use crate::condition::ConditionGroup;
use crate::crypto::MasterKey;
use crate::retry::RetryPolicy;
use crate::store::{Db, Tx};
use crate::Result;

/// How long another instance's change may go unseen.
pub const TTL: Duration = Duration::from_secs(1);

/// Event types whose subscriber lists are kept at most (beyond that the cache starts over).
const MAX_ENTRIES: usize = 10_000;

/// A webhook with everything a delivery needs already parsed and decrypted.
#[derive(Debug)]
pub struct PreparedWebhook {
    pub row: WebhookRow,
    pub policy: RetryPolicy,
    /// Custom headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    filter: Filter,
    keys: std::result::Result<Vec<SigningKey>, String>,
}

#[derive(Debug)]
enum Filter {
    None,
    Group(ConditionGroup),
    Broken,
}

#[derive(Debug)]
struct SigningKey {
    bytes: Vec<u8>,
    /// A rotated-out secret signs alongside the new one until then.
    until: Option<i64>,
}

impl PreparedWebhook {
    pub fn prepare(row: WebhookRow, master: &MasterKey) -> Self {
        let filter = match row.filter.as_deref().map(serde_json::from_str::<ConditionGroup>) {
            None => Filter::None,
            Some(Ok(g)) => Filter::Group(g),
            Some(Err(e)) => {
                tracing::error!(webhook = %row.id, error = %e, "the stored payload filter does not parse; the webhook gets no events until it is fixed");
                Filter::Broken
            }
        };
        let policy = row.retry_policy.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
        let headers = super::headers::open(master, &row.headers)
            .unwrap_or_else(|e| {
                tracing::error!(webhook = %row.id, error = %e, "the stored custom headers do not open; sending without them");
                Default::default()
            })
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let keys = signing_keys(&row, master);
        PreparedWebhook { row, policy, headers, filter, keys }
    }

    /// Whether `data` passes the payload filter (no filter: everything does; a broken one: nothing).
    pub fn matches(&self, data: &Value) -> bool {
        match &self.filter {
            Filter::None => true,
            Filter::Group(g) => g.evaluate(data),
            Filter::Broken => false,
        }
    }

    /// The keys that sign at `now`: the current secret first, then a rotated-out one still valid.
    pub fn keys_at(&self, now: i64) -> std::result::Result<Vec<&[u8]>, String> {
        let keys = self.keys.as_ref().map_err(Clone::clone)?;
        Ok(keys.iter().filter(|k| k.until.is_none_or(|t| t > now)).map(|k| k.bytes.as_slice()).collect())
    }
}

fn signing_keys(w: &WebhookRow, master: &MasterKey) -> std::result::Result<Vec<SigningKey>, String> {
    let open = |sealed: &str| -> std::result::Result<Vec<u8>, String> {
        let secret = master.open(sealed).map_err(|e| e.to_string())?;
        crate::signature::decode_secret(&secret).map_err(|e| e.to_string())
    };
    let mut keys = vec![SigningKey { bytes: open(&w.secret_sealed)?, until: None }];
    if let (Some(prev), Some(until)) = (&w.previous_secret_sealed, w.previous_secret_expires_at) {
        keys.push(SigningKey { bytes: open(prev)?, until: Some(until) });
    }
    Ok(keys)
}

pub type Subscribers = Arc<Vec<Arc<PreparedWebhook>>>;

#[derive(Default)]
pub struct WebhookCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    by_event: HashMap<String, (Instant, Subscribers)>,
    by_id: HashMap<String, (Instant, Option<Arc<PreparedWebhook>>)>,
}

impl WebhookCache {
    /// Forgets everything: call after any change to a webhook or its subscriptions.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().expect("webhook cache lock");
        inner.generation += 1;
        inner.by_event.clear();
        inner.by_id.clear();
    }

    /// How many times the cache was cleared (here or, through Redis, by another instance).
    pub fn generation(&self) -> u64 {
        self.inner.lock().expect("webhook cache lock").generation
    }

    /// Active webhooks subscribed to `event_type`.
    pub async fn subscribers(&self, db: &Db, master: &MasterKey, event_type: &str) -> Result<Subscribers> {
        self.subscribers_or_load(master, event_type, db.subscribers(event_type)).await
    }

    /// [`Self::subscribers`] for a change's transaction `tx`: a miss reads on
    /// `tx`'s connection, never waiting for a second one.
    pub async fn subscribers_in(&self, tx: &mut Tx, master: &MasterKey, event_type: &str) -> Result<Subscribers> {
        self.subscribers_or_load(master, event_type, super::store::subscribers_in(tx, event_type)).await
    }

    /// The cached entry, or what `load` reads (`load` is only awaited on a miss).
    async fn subscribers_or_load(
        &self,
        master: &MasterKey,
        event_type: &str,
        load: impl std::future::Future<Output = Result<Vec<WebhookRow>>>,
    ) -> Result<Subscribers> {
        let generation = {
            let inner = self.inner.lock().expect("webhook cache lock");
            if let Some((at, subs)) = inner.by_event.get(event_type) {
                if at.elapsed() < TTL {
                    return Ok(subs.clone());
                }
            }
            inner.generation
        };
        let rows = load.await?;
        let subs: Subscribers =
            Arc::new(rows.into_iter().map(|r| Arc::new(PreparedWebhook::prepare(r, master))).collect());
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
    pub async fn webhook(&self, db: &Db, master: &MasterKey, id: &str) -> Result<Option<Arc<PreparedWebhook>>> {
        let generation = {
            let inner = self.inner.lock().expect("webhook cache lock");
            if let Some((at, w)) = inner.by_id.get(id) {
                if at.elapsed() < TTL {
                    return Ok(w.clone());
                }
            }
            inner.generation
        };
        let w = db.webhook(id).await?.map(|r| Arc::new(PreparedWebhook::prepare(r, master)));
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

    fn key() -> MasterKey {
        MasterKey::from_base64(&MasterKey::generate_encoded()).unwrap()
    }

    fn sealed_row(id: &str, master: &MasterKey) -> WebhookRow {
        WebhookRow { secret_sealed: master.seal(&crate::signature::generate_secret()), ..row(id) }
    }

    #[tokio::test]
    async fn serves_from_memory_until_cleared() {
        let t = TestDb::sqlite().await;
        let db = t.services().await.unwrap().db.clone();
        let m = key();
        let cache = WebhookCache::default();
        db.insert_webhook(&sealed_row("wh_a", &m), &["invoice.paid".into()]).await.unwrap();
        assert_eq!(cache.subscribers(&db, &m, "invoice.paid").await.unwrap().len(), 1);
        assert!(cache.webhook(&db, &m, "wh_a").await.unwrap().is_some());

        // A change behind the cache's back is not seen until it is cleared (or the TTL passes)…
        db.insert_webhook(&sealed_row("wh_b", &m), &["invoice.paid".into()]).await.unwrap();
        assert!(db.delete_webhook("wh_a").await.unwrap());
        assert_eq!(cache.subscribers(&db, &m, "invoice.paid").await.unwrap().len(), 1);
        assert!(cache.webhook(&db, &m, "wh_a").await.unwrap().is_some());

        // …and is after a clear.
        cache.clear();
        let subs = cache.subscribers(&db, &m, "invoice.paid").await.unwrap();
        assert_eq!(subs.iter().map(|w| w.row.id.as_str()).collect::<Vec<_>>(), vec!["wh_b"]);
        assert!(cache.webhook(&db, &m, "wh_a").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn expires_after_the_ttl() {
        let t = TestDb::sqlite().await;
        let db = t.services().await.unwrap().db.clone();
        let m = key();
        let cache = WebhookCache::default();
        assert!(cache.subscribers(&db, &m, "invoice.paid").await.unwrap().is_empty());
        db.insert_webhook(&sealed_row("wh_a", &m), &["invoice.paid".into()]).await.unwrap();
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        assert_eq!(cache.subscribers(&db, &m, "invoice.paid").await.unwrap().len(), 1);
    }

    #[test]
    fn a_broken_filter_matches_nothing_and_rotated_keys_expire() {
        let m = key();
        let broken = WebhookRow { filter: Some("{not json".into()), ..sealed_row("wh_x", &m) };
        assert!(!PreparedWebhook::prepare(broken, &m).matches(&serde_json::json!({})));
        let none = PreparedWebhook::prepare(sealed_row("wh_y", &m), &m);
        assert!(none.matches(&serde_json::json!({"any": 1})));

        let rotated = WebhookRow {
            previous_secret_sealed: Some(m.seal(&crate::signature::generate_secret())),
            previous_secret_expires_at: Some(1_000),
            ..sealed_row("wh_z", &m)
        };
        let p = PreparedWebhook::prepare(rotated, &m);
        assert_eq!(p.keys_at(999).unwrap().len(), 2);
        assert_eq!(p.keys_at(1_000).unwrap().len(), 1);
        let undecryptable = WebhookRow { secret_sealed: "garbage".into(), ..row("wh_g") };
        assert!(PreparedWebhook::prepare(undecryptable, &m).keys_at(0).is_err());
    }
}
