//! Publishing an event: validate it, then store the event, one delivery per
//! subscribed webhook and their due work in ONE transaction, and wake the
//! worker. A crash before the commit loses nothing the caller was told was
//! accepted; after it, the worker finds every delivery.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::due::{self, kinds, NewDue};
use crate::events::{catalog, store as event_store};
use crate::ids::new_id;
use crate::store::Db;
use crate::webhooks::{Accepted, EventType, PublishInput};
use crate::{delivery, Error, Result, Services};

use super::batcher::{IngestBatcher, PendingEvent};

/// One delivery to create with its event.
#[derive(Debug, Clone)]
pub(crate) struct NewDelivery {
    pub id: String,
    /// Its row in the due-work queue.
    pub due_id: String,
    pub webhook_id: String,
    pub max_attempts: i64,
    /// A worker slot was reserved: the due-work row is written leased to the
    /// worker and the delivery handed to it after the commit (the hot path).
    pub leased: bool,
}

impl Services {
    /// Makes sure the built-in event types are in the catalog table.
    pub async fn seed_event_types(&self) -> Result<()> {
        self.db.seed_event_types(self.now_ms()).await
    }

    /// The event catalog.
    pub async fn event_types(&self, caller: &Principal) -> Result<Vec<EventType>> {
        caller.require(Action::ReadEventTypes)?;
        self.db.event_types().await
    }

    /// Registers (or updates) a custom event type. Built-in types cannot be changed.
    pub async fn register_event_type(&self, caller: &Principal, t: EventType) -> Result<EventType> {
        caller.require(Action::ManageEventTypes)?;
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
        self.db.upsert_event_type(&t, self.now_ms()).await?;
        Ok(EventType { builtin: false, ..t })
    }

    /// Whether the type is in the catalog, and its schema when payloads must obey it.
    async fn catalog_entry(&self, name: &str) -> Result<Option<Option<Value>>> {
        if catalog::BUILTIN_EVENTS.iter().any(|e| e.name == name) {
            return Ok(Some(None));
        }
        let row = self.db.event_type_schema(name).await?;
        Ok(row.map(|(strict, schema)| strict.then(|| serde_json::from_str(&schema).unwrap_or(Value::Null))))
    }

    /// `POST /events`.
    pub async fn publish(
        &self,
        caller: &Principal,
        input: PublishInput,
        idempotency_key: Option<String>,
    ) -> Result<Accepted> {
        caller.require(Action::PublishEvents)?;
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
                return first.replay(&event_type, &data);
            }
        }

        let subscribers = self.webhook_cache.subscribers(&self.db, &self.master_key, &event_type).await?;
        let event_id = input.id.clone().unwrap_or_else(|| new_id("evt"));
        let body = request_body(&event_type, now, &data);
        let deliveries: Vec<NewDelivery> = subscribers
            .iter()
            .filter(|w| w.matches(&data))
            .map(|w| NewDelivery {
                id: new_id("msg"),
                due_id: new_id("due"),
                webhook_id: w.row.id.clone(),
                max_attempts: w.policy.max_attempts as i64,
                leased: false,
            })
            .collect();
        let executions = crate::workflows::triggers::for_event(self, None, &event_type, &data, &[], now).await?;
        let accepted = Accepted {
            id: event_id.clone(),
            deliveries: deliveries.len() as i64,
            workflow_executions: executions.len() as i64,
        };

        let pending = PendingEvent {
            accepted: accepted.clone(),
            event_type: event_type.clone(),
            data: data_text,
            key: key.clone(),
            body: Bytes::from(body),
            deliveries,
            executions,
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
                        return first.replay(&event_type, &data);
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

impl Services {
    /// Publishes an event as part of another change's transaction `tx` (a
    /// record's creation, a transition): the event, one delivery per
    /// subscribed webhook and their due rows commit with the change, or not
    /// at all. After the commit, call [`Services::emitted`].
    pub(crate) async fn emit(
        &self,
        tx: &mut crate::store::Tx,
        event_type: &str,
        data: &Value,
        record_id: Option<&str>,
        cause: &[String],
    ) -> Result<Accepted> {
        let now = self.now_ms();
        // Read on `tx`'s connection: waiting for a second one while holding this one
        // deadlocks once every connection of the pool is held that way.
        let subscribers = self.webhook_cache.subscribers_in(tx, &self.master_key, event_type).await?;
        let event_id = new_id("evt");
        let body = request_body(event_type, now, data);
        let data_text = data.to_string();
        let executions = crate::workflows::triggers::for_event(self, Some(tx), event_type, data, cause, now).await?;
        let cause = (!cause.is_empty()).then(|| serde_json::to_string(cause).expect("strings serialise"));
        let targets: Vec<(String, String, &str, i64)> = subscribers
            .iter()
            .filter(|w| w.matches(data))
            .map(|w| (new_id("msg"), new_id("due"), w.row.id.as_str(), w.policy.max_attempts as i64))
            .collect();
        event_store::insert(
            tx,
            &[event_store::NewEvent {
                id: &event_id,
                event_type,
                data: &data_text,
                body: &body,
                idempotency_key: None,
                deliveries: targets.len() as i64,
                workflow_executions: executions.len() as i64,
                created_at: now,
                record_id,
                cause: cause.as_deref(),
            }],
        )
        .await?;
        let rows: Vec<delivery::store::NewDeliveryRow> = targets
            .iter()
            .map(|(id, _, webhook_id, max_attempts)| delivery::store::NewDeliveryRow {
                id,
                webhook_id,
                event_id: &event_id,
                event: event_type,
                max_attempts: *max_attempts,
                created_at: now,
            })
            .collect();
        delivery::store::insert(tx, &rows).await?;
        let due_rows: Vec<NewDue> = targets
            .iter()
            .map(|(id, due_id, webhook_id, _)| NewDue {
                id: due_id,
                kind: kinds::DELIVERY,
                subject_id: id,
                partition_key: webhook_id,
                available_at: now,
                lease_owner: None,
            })
            .collect();
        due::store::insert(tx, &due_rows, now).await?;
        crate::workflows::triggers::insert_started(tx, &executions, now).await?;
        Ok(Accepted { id: event_id, deliveries: targets.len() as i64, workflow_executions: executions.len() as i64 })
    }

    /// Events emitted in a transaction that has now committed: wake the workers, refresh live views.
    pub(crate) fn emitted(&self, accepted: &[Accepted]) {
        if accepted.iter().any(|a| a.deliveries > 0 || a.workflow_executions > 0) {
            self.due_work_added();
        }
        if !accepted.is_empty() {
            self.events_changed();
        }
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

/// Stores events with their deliveries and due work, all in one
/// transaction, with multi-row statements. Leased deliveries' due work is
/// written held by `lease_owner` for `lease_ms`.
pub(crate) async fn store_events(db: &Db, events: &[PendingEvent], lease_owner: &str, lease_ms: i64) -> Result<()> {
    let rows: Vec<event_store::NewEvent> = events
        .iter()
        .map(|e| event_store::NewEvent {
            id: &e.accepted.id,
            event_type: &e.event_type,
            data: &e.data,
            body: e.body_text(),
            idempotency_key: e.key.as_deref(),
            deliveries: e.accepted.deliveries,
            workflow_executions: e.accepted.workflow_executions,
            created_at: e.now,
            record_id: None,
            cause: None,
        })
        .collect();
    let deliveries: Vec<delivery::store::NewDeliveryRow> = events
        .iter()
        .flat_map(|e| {
            e.deliveries.iter().map(move |d| delivery::store::NewDeliveryRow {
                id: &d.id,
                webhook_id: &d.webhook_id,
                event_id: &e.accepted.id,
                event: &e.event_type,
                max_attempts: d.max_attempts,
                created_at: e.now,
            })
        })
        .collect();
    let due_rows: Vec<NewDue> = events
        .iter()
        .flat_map(|e| {
            e.deliveries.iter().map(move |d| NewDue {
                id: &d.due_id,
                kind: kinds::DELIVERY,
                subject_id: &d.id,
                partition_key: &d.webhook_id,
                available_at: if d.leased { e.now + lease_ms } else { e.now },
                lease_owner: d.leased.then_some(lease_owner),
            })
        })
        .collect();
    let now = events.first().map(|e| e.now).unwrap_or_default();
    let executions: Vec<crate::workflows::store::ExecutionRow> =
        events.iter().flat_map(|e| e.executions.iter().cloned()).collect();
    let mut tx = db.begin().await?;
    event_store::insert(&mut tx, &rows).await?;
    delivery::store::insert(&mut tx, &deliveries).await?;
    due::store::insert(&mut tx, &due_rows, now).await?;
    crate::workflows::triggers::insert_started(&mut tx, &executions, now).await?;
    tx.commit().await
}
