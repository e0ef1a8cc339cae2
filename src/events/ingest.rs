//! Publishing an event: validate it, then store the event, one delivery per
//! subscribed webhook and their due work in ONE transaction, and wake the
//! worker. A crash before the commit loses nothing the caller was told was
//! accepted; after it, the worker finds every delivery.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::due::KIND_DELIVERY;
use crate::events::catalog;
use crate::ids::new_id;
use crate::store::{batch, with_pool, Db};
use crate::webhooks::store::WebhookRow;
use crate::webhooks::{Accepted, EventType};
use crate::{Error, Result, Services};

use super::batcher::{IngestBatcher, PendingEvent};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishInput {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub data: Option<Value>,
}

/// One delivery to create with its event.
#[derive(Debug, Clone)]
pub(crate) struct NewDelivery {
    pub id: String,
    pub webhook_id: String,
    pub max_attempts: i64,
    /// A worker slot was reserved: the due-work row is written leased to the
    /// worker and the delivery handed to it after the commit (the hot path).
    pub leased: bool,
}

impl Services {
    /// Makes sure the built-in event types are in the catalog table.
    pub async fn seed_event_types(&self) -> Result<()> {
        let now = self.now_ms();
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for e in catalog::BUILTIN_EVENTS {
                sqlx::query(
                    "INSERT INTO event_types (name, description, schema, example, strict, builtin, created_at)
                     VALUES ($1, $2, $3, $4, FALSE, TRUE, $5)
                     ON CONFLICT (name) DO UPDATE SET description = excluded.description,
                        schema = excluded.schema, example = excluded.example, builtin = TRUE")
                    .bind(e.name).bind(e.description)
                    .bind(catalog::schema_for(e.entity).to_string())
                    .bind(catalog::example_for(e.entity).to_string())
                    .bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn event_types(&self) -> Result<Vec<EventType>> {
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, (String, String, String, String, bool, bool)>(
            "SELECT name, description, schema, example, strict, builtin FROM event_types ORDER BY name")
            .fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(name, description, schema, example, strict, builtin)| EventType {
                name,
                description,
                schema: serde_json::from_str(&schema).unwrap_or(Value::Null),
                example: serde_json::from_str(&example).unwrap_or(Value::Null),
                strict,
                builtin,
            })
            .collect())
    }

    /// Registers (or updates) a custom event type. Built-in types cannot be changed.
    pub async fn register_event_type(&self, t: EventType) -> Result<EventType> {
        let mut v = crate::error::Validator::new();
        v.check(
            catalog::valid_event_name(&t.name),
            "name",
            "must look like entity.action (lower-case letters, digits, _)",
        );
        v.check(t.description.trim().len() <= 500, "description", "must be at most 500 characters");
        v.check(t.schema.is_object(), "schema", "must be a JSON Schema object");
        if t.schema.is_object() {
            if let Err(e) = jsonschema::validator_for(&t.schema) {
                v.push("schema", format!("is not a valid JSON Schema: {e}"));
            }
        }
        v.finish()?;
        let builtin = catalog::BUILTIN_EVENTS.iter().any(|e| e.name == t.name);
        if builtin {
            return Err(Error::Conflict(format!("{} is a built-in event type", t.name)));
        }
        let now = self.now_ms();
        with_pool!(&self.db, pool => sqlx::query(
            "INSERT INTO event_types (name, description, schema, example, strict, builtin, created_at)
             VALUES ($1, $2, $3, $4, $5, FALSE, $6)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, schema = excluded.schema,
                example = excluded.example, strict = excluded.strict")
            .bind(&t.name).bind(t.description.trim()).bind(t.schema.to_string()).bind(t.example.to_string())
            .bind(t.strict).bind(now)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(EventType { builtin: false, ..t })
    }

    /// Whether the type is in the catalog, and its schema when payloads must obey it.
    async fn catalog_entry(&self, name: &str) -> Result<Option<Option<Value>>> {
        if catalog::BUILTIN_EVENTS.iter().any(|e| e.name == name) {
            return Ok(Some(None));
        }
        let row = with_pool!(&self.db, pool => sqlx::query_as::<_, (bool, String)>(
            "SELECT strict, schema FROM event_types WHERE name = $1")
            .bind(name).fetch_optional(pool).await)?;
        Ok(row.map(|(strict, schema)| strict.then(|| serde_json::from_str(&schema).unwrap_or(Value::Null))))
    }

    /// `POST /events`.
    pub async fn publish(&self, input: PublishInput, idempotency_key: Option<String>) -> Result<Accepted> {
        let mut v = crate::error::Validator::new();
        let event_type = input.event_type.unwrap_or_default();
        if event_type.is_empty() {
            v.push("type", "is required");
        }
        let entry = if event_type.is_empty() { None } else { self.catalog_entry(&event_type).await? };
        if !event_type.is_empty() && entry.is_none() {
            v.push("type", format!("{event_type:?} is not in the event catalog (GET /api/v1/event-types)"));
        }
        let data = input.data.unwrap_or(Value::Null);
        if !data.is_object() {
            v.push("data", "must be a JSON object");
        } else if let Some(Some(schema)) = &entry {
            // Strict types refuse payloads that break their schema; others only document it.
            for (path, message) in schema_errors(schema, &data) {
                v.push(format!("data{path}"), message);
            }
        }
        if let Some(id) = &input.id {
            v.check(!id.is_empty() && id.len() <= 200, "id", "must be 1 to 200 characters");
        }
        if let Some(k) = &idempotency_key {
            v.check(!k.is_empty() && k.len() <= 200, "Idempotency-Key", "must be 1 to 200 characters");
        }
        v.finish()?;
        let data_text = data.to_string();
        if data_text.len() > self.settings.max_payload_bytes {
            return Err(Error::TooLarge(format!(
                "data is {} bytes; the limit is {} bytes",
                data_text.len(),
                self.settings.max_payload_bytes
            )));
        }

        let now = self.now_ms();
        let key = idempotency_key.or_else(|| input.id.clone());
        if let Some(k) = &key {
            if let Some(first) = self.db.event_by_idempotency_key(k, now - self.settings.idempotency_window_ms).await? {
                return Ok(first);
            }
        }

        let all = self.webhook_cache.subscribers(&self.db, &event_type).await?;
        let subscribers: Vec<&WebhookRow> =
            all.iter().map(|w| w.as_ref()).filter(|w| crate::webhooks::service::matches_filter(w, &data)).collect();
        let event_id = input.id.clone().unwrap_or_else(|| new_id("evt"));
        let body = request_body(&event_type, now, &data);
        let deliveries: Vec<NewDelivery> = subscribers
            .iter()
            .map(|w| NewDelivery {
                id: new_id("msg"),
                webhook_id: w.id.clone(),
                max_attempts: crate::delivery::worker::retry_policy(w).max_attempts as i64,
                leased: false,
            })
            .collect();
        let accepted = Accepted { id: event_id.clone(), deliveries: deliveries.len() as i64, workflow_executions: 0 };

        let pending = PendingEvent {
            accepted: accepted.clone(),
            event_type: event_type.clone(),
            data: data_text,
            key: key.clone(),
            body: body.into(),
            deliveries,
            now,
        };
        let stored = self
            .ingest
            .get_or_init(|| {
                IngestBatcher::start(self.db.clone(), self.dispatcher.clone(), self.wake.clone(), self.signals.clone())
            })
            .submit(pending)
            .await;
        match stored {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => {
                // A concurrent request with the same key won the race: answer as it did.
                if let Some(k) = &key {
                    if let Some(first) = self.db.event_by_idempotency_key(k, 0).await? {
                        return Ok(first);
                    }
                }
                return Err(Error::Conflict(format!("an event with id {event_id:?} already exists")));
            }
            Err(e) => return Err(e),
        }
        self.events_changed();
        Ok(accepted)
    }
}

/// The bytes every delivery of an event sends: built here only, so a replay
/// later sends exactly what ingest would have sent.
pub(crate) fn request_body(event_type: &str, at_ms: i64, data: &Value) -> String {
    json!({ "type": event_type, "timestamp": rfc3339(at_ms), "data": data }).to_string()
}

/// Where and how `data` breaks `schema` (JSON Pointer path, message); empty when it conforms.
pub fn schema_errors(schema: &Value, data: &Value) -> Vec<(String, String)> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => validator
            .iter_errors(data)
            .take(20)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() { String::new() } else { path.replace('/', ".") };
                (path, e.to_string())
            })
            .collect(),
        Err(e) => vec![(String::new(), format!("the event type's schema is invalid: {e}"))],
    }
}

impl Db {
    async fn event_by_idempotency_key(&self, key: &str, since: i64) -> Result<Option<Accepted>> {
        let row = with_pool!(self, pool => sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT id, deliveries, workflow_executions FROM events WHERE idempotency_key = $1 AND created_at >= $2")
            .bind(key).bind(since).fetch_optional(pool).await)?;
        Ok(row.map(|(id, deliveries, workflow_executions)| Accepted { id, deliveries, workflow_executions }))
    }

    /// Stores events with their deliveries and due work, all in one transaction,
    /// with multi-row statements. Leased deliveries' due work is written held by
    /// `lease_owner` for `lease_ms`.
    pub(crate) async fn insert_events(&self, events: &[PendingEvent], lease_owner: &str, lease_ms: i64) -> Result<()> {
        let deliveries: Vec<(&PendingEvent, &NewDelivery)> =
            events.iter().flat_map(|e| e.deliveries.iter().map(move |d| (e, d))).collect();
        let _turn = self.write_turn().await;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in batch::chunks(events) {
                let sql = format!(
                    "INSERT INTO events (id, type, data, idempotency_key, deliveries, workflow_executions, created_at) VALUES {}",
                    batch::values(self.backend(), chunk.len(), 7));
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q.bind(&e.accepted.id).bind(&e.event_type).bind(&e.data).bind(&e.key)
                        .bind(e.accepted.deliveries).bind(e.accepted.workflow_executions).bind(e.now);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in batch::chunks(&deliveries) {
                let sql = format!(
                    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, payload, max_attempts, created_at,
                        updated_at, next_retry_at, status, attempt) SELECT column1, column2, column3, column4, column5,
                        column6, column7, column7, column7, 'pending', 0 FROM (VALUES {}) AS v",
                    batch::values(self.backend(), chunk.len(), 7));
                let mut q = sqlx::query(&sql);
                for (e, d) in chunk {
                    q = q.bind(&d.id).bind(&d.webhook_id).bind(&e.accepted.id).bind(&e.event_type).bind(&*e.body)
                        .bind(d.max_attempts).bind(e.now);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in batch::chunks(&deliveries) {
                let sql = format!(
                    "INSERT INTO due_work (id, kind, partition_key, due_at, lease_owner, lease_expires_at) VALUES {}",
                    batch::values(self.backend(), chunk.len(), 6));
                let mut q = sqlx::query(&sql);
                for (e, d) in chunk {
                    let (owner, until) = if d.leased { (Some(lease_owner), Some(e.now + lease_ms)) } else { (None, None) };
                    q = q.bind(&d.id).bind(KIND_DELIVERY).bind(&d.webhook_id).bind(e.now).bind(owner).bind(until);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }
}
