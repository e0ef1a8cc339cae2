//! All SQL on `events` and `event_types`.

use serde_json::Value;

use super::catalog;
use crate::store::{batch, with_pool, with_tx, Backend, Db, Tx};
use crate::webhooks::{Accepted, EventType};
use crate::Result;

/// An event to store.
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub data: &'a str,
    /// The request body every delivery of the event sends.
    pub body: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub deliveries: i64,
    pub workflow_executions: i64,
    pub created_at: i64,
    /// The practice record the event is about.
    pub record_id: Option<&'a str>,
    /// The chain of workflow executions that caused it (JSON array), if any.
    pub cause: Option<&'a str>,
}

/// An event as a replay reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub data: String,
    pub body: Option<String>,
    pub created_at: i64,
}

pub async fn insert(tx: &mut Tx, events: &[NewEvent<'_>]) -> Result<()> {
    for chunk in batch::chunks(events) {
        let sql = format!(
            "INSERT INTO events (id, type, data, body, idempotency_key, deliveries, workflow_executions, created_at,
                record_id, cause) VALUES {}",
            batch::values(Backend::Sqlite, chunk.len(), 10)
        );
        tx.write(&sql, |b| {
            for e in chunk {
                b.text(e.id).text(e.event_type).text(e.data).text(e.body).opt_text(e.idempotency_key);
                b.bind(e.deliveries)
                    .bind(e.workflow_executions)
                    .bind(e.created_at)
                    .opt_text(e.record_id)
                    .opt_text(e.cause);
            }
        })
        .await?;
    }
    Ok(())
}

/// Stores the body of an event that has none yet (events from before bodies were stored).
pub async fn fill_body(tx: &mut Tx, id: &str, body: &str) -> Result<()> {
    with_tx!(tx, conn => sqlx::query("UPDATE events SET body = $2 WHERE id = $1 AND body IS NULL")
        .bind(id).bind(body).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// What the first publish with an idempotency key answered and published.
pub struct FirstPublish {
    pub accepted: Accepted,
    pub event_type: String,
    /// The event's `data` as stored (JSON text).
    pub data: String,
}

impl FirstPublish {
    /// The answer to a repeat with this type and data: the first answer when
    /// it is the same event, 409 when the key was used for another one.
    pub fn replay(self, event_type: &str, data: &serde_json::Value) -> crate::Result<Accepted> {
        let same = self.event_type == event_type
            && serde_json::from_str::<serde_json::Value>(&self.data).is_ok_and(|first| &first == data);
        if same {
            Ok(self.accepted)
        } else {
            Err(crate::Error::Conflict(
                "this idempotency key (or event id) was used within 24 h for a different event; send it with a new key"
                    .into(),
            ))
        }
    }
}

impl Db {
    /// The first publish with this idempotency key since `since`: its answer and what it published.
    pub async fn event_by_idempotency_key(&self, key: &str, since: i64) -> Result<Option<FirstPublish>> {
        let row = with_pool!(self, pool => sqlx::query_as::<_, (String, i64, i64, String, String)>(
            "SELECT id, deliveries, workflow_executions, type, data FROM events
             WHERE idempotency_key = $1 AND created_at >= $2")
            .bind(key).bind(since).fetch_optional(pool).await)?;
        Ok(row.map(|(id, deliveries, workflow_executions, event_type, data)| FirstPublish {
            accepted: Accepted { id, deliveries, workflow_executions },
            event_type,
            data,
        }))
    }

    /// Up to `limit` events of `types` after the keyset `after` (created_at, id)
    /// that have no delivery to `webhook_id`, oldest first.
    pub async fn events_missed_by(
        &self,
        webhook_id: &str,
        types: &[String],
        after: &(i64, String),
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT id, type AS event_type, data, body, created_at FROM events e
             WHERE e.type IN ({}) AND (e.created_at > $1 OR (e.created_at = $1 AND e.id > $2))
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.webhook_id = $3)
             ORDER BY e.created_at, e.id LIMIT $4",
            (5..types.len() + 5).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        );
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, StoredEvent>(&sql).bind(after.0).bind(&after.1).bind(webhook_id).bind(limit);
            for t in types {
                q = q.bind(t);
            }
            q.fetch_all(pool).await
        })?)
    }

    /// Events about a record, newest first: (id, type, created_at, deliveries, cause).
    pub async fn events_of_record(
        &self,
        record_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, i64, i64, Option<String>)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, String, i64, i64, Option<String>)>(
            "SELECT id, type, created_at, deliveries, cause FROM events WHERE record_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2")
            .bind(record_id).bind(limit).fetch_all(pool).await)?)
    }

    /// Forgets idempotency keys older than `before`.
    pub async fn expire_idempotency_keys(&self, before: i64) -> Result<u64> {
        Ok(with_pool!(self, pool => sqlx::query(
            "UPDATE events SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND created_at < $1")
            .bind(before).execute(pool).await.map(|r| r.rows_affected()))?)
    }

    /// Deletes events older than `before` that no delivery still refers to.
    pub async fn delete_old_events(&self, before: i64) -> Result<u64> {
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM events WHERE created_at < $1
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)")
            .bind(before).execute(pool).await.map(|r| r.rows_affected()))?)
    }

    /// Makes sure the built-in event types are in the catalog table.
    pub async fn seed_event_types(&self, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        for e in catalog::BUILTIN_EVENTS {
            with_tx!(&mut tx, conn => sqlx::query(
                "INSERT INTO event_types (name, description, schema, example, strict, builtin, created_at)
                 VALUES ($1, $2, $3, $4, FALSE, TRUE, $5)
                 ON CONFLICT (name) DO UPDATE SET description = excluded.description,
                    schema = excluded.schema, example = excluded.example, builtin = TRUE")
                .bind(e.name).bind(e.description)
                .bind(catalog::schema_for(e.entity).to_string())
                .bind(catalog::example_for(e.entity).to_string())
                .bind(now)
                .execute(&mut **conn).await.map(|_| ()))?;
        }
        tx.commit().await
    }

    pub async fn event_types(&self) -> Result<Vec<EventType>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, (String, String, String, String, bool, bool)>(
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

    pub async fn upsert_event_type(&self, t: &EventType, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO event_types (name, description, schema, example, strict, builtin, created_at)
             VALUES ($1, $2, $3, $4, $5, FALSE, $6)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, schema = excluded.schema,
                example = excluded.example, strict = excluded.strict")
            .bind(&t.name).bind(t.description.trim()).bind(t.schema.to_string()).bind(t.example.to_string())
            .bind(t.strict).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// `(strict, schema)` of a custom event type.
    pub async fn event_type_schema(&self, name: &str) -> Result<Option<(bool, String)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (bool, String)>(
            "SELECT strict, schema FROM event_types WHERE name = $1")
            .bind(name).fetch_optional(pool).await)?)
    }
}
