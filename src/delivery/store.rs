//! All SQL on `webhook_deliveries` and `delivery_attempts`. A delivery's
//! request body is its event's (`events.body`), stored once per event.

use sqlx::FromRow;

use crate::store::{batch, with_pool, with_tx, Backend, Db, Tx};
use crate::Result;

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    /// The event's request body: the bytes every attempt sends.
    pub payload: String,
    pub status: String,
    pub status_code: Option<i64>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub delivered_at: Option<i64>,
    pub next_retry_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event_id, d.event, COALESCE(e.body, '{}') AS payload, d.status, \
    d.status_code, d.response_body, d.error_message, d.attempt, d.max_attempts, d.delivered_at, d.next_retry_at, \
    d.created_at, d.updated_at";
const DELIVERY_FROM: &str = "webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id";

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub webhook_id: String,
    pub attempt: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub request_headers: String,
    pub response_body: Option<String>,
    pub response_body_lossy: bool,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
}

/// Filters of a delivery history listing.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub webhook_id: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
}

impl DeliveryFilter {
    fn where_clause(&self) -> (String, Vec<String>) {
        let mut clauses = Vec::new();
        let mut binds = Vec::new();
        for (col, val) in [("d.webhook_id", &self.webhook_id), ("d.status", &self.status), ("d.event", &self.event)] {
            if let Some(v) = val {
                binds.push(v.clone());
                clauses.push(format!("{col} = ${}", binds.len()));
            }
        }
        let sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        (sql, binds)
    }
}

#[derive(Debug, Clone, Default, FromRow)]
pub struct StatusCounts {
    pub pending: i64,
    pub succeeded: i64,
    pub failed: i64,
}

/// A delivery to create.
#[derive(Debug, Clone)]
pub struct NewDeliveryRow<'a> {
    pub id: &'a str,
    pub webhook_id: &'a str,
    pub event_id: &'a str,
    pub event: &'a str,
    pub max_attempts: i64,
    pub created_at: i64,
}

/// A delivery about to be attempted: what the worker loads for a claimed row.
#[derive(Debug, Clone, FromRow)]
pub struct PendingDelivery {
    pub id: String,
    pub webhook_id: String,
    pub body: String,
    pub attempt: i64,
    pub status: String,
}

/// One attempt to record.
pub struct AttemptInsert<'a> {
    pub delivery_id: &'a str,
    pub webhook_id: &'a str,
    pub attempt: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub request_headers: String,
    pub response_body: Option<&'a str>,
    pub response_body_lossy: bool,
    pub error_class: Option<&'a str>,
    pub error_message: Option<&'a str>,
}

/// A delivery's state after an attempt.
pub struct DeliveryUpdate<'a> {
    pub id: &'a str,
    pub status: &'static str,
    pub status_code: Option<i64>,
    pub response: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub attempt: i64,
    pub delivered_at: Option<i64>,
    pub next_retry_at: Option<i64>,
}

pub async fn insert(tx: &mut Tx, rows: &[NewDeliveryRow<'_>]) -> Result<()> {
    for chunk in batch::chunks(rows) {
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, max_attempts, created_at,
                updated_at, next_retry_at, status, attempt) SELECT column1, column2, column3, column4, column5,
                column6, column6, column6, 'pending', 0 FROM (VALUES {}) AS v",
            batch::values(Backend::Sqlite, chunk.len(), 6)
        );
        tx.write(&sql, |b| {
            for d in chunk {
                b.text(d.id).text(d.webhook_id).text(d.event_id).text(d.event).bind(d.max_attempts).bind(d.created_at);
            }
        })
        .await?;
    }
    Ok(())
}

/// Writes a batch of attempts and the deliveries' new states.
pub async fn record(
    tx: &mut Tx,
    attempts: &[AttemptInsert<'_>],
    updates: &[DeliveryUpdate<'_>],
    now: i64,
) -> Result<()> {
    for chunk in batch::chunks(attempts) {
        let sql = format!(
            "INSERT INTO delivery_attempts (id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code,
                request_headers, response_body, response_body_lossy, error_class, error_message) VALUES {}",
            batch::values(Backend::Sqlite, chunk.len(), 12)
        );
        tx.write(&sql, |b| {
            for a in chunk {
                b.bind(crate::ids::new_id("att")).text(a.delivery_id).text(a.webhook_id).bind(a.attempt);
                b.bind(a.started_at).bind(a.duration_ms).bind(a.status_code).text(&a.request_headers);
                b.opt_text(a.response_body)
                    .bind(a.response_body_lossy)
                    .opt_text(a.error_class)
                    .opt_text(a.error_message);
            }
        })
        .await?;
    }
    // VALUES columns are named column1, column2, … on both databases.
    for chunk in batch::chunks(updates) {
        let sql = format!(
            "UPDATE webhook_deliveries SET status = v.column2, status_code = v.column3, response_body = v.column4,
                error_message = v.column5, attempt = v.column6, delivered_at = v.column7, next_retry_at = v.column8,
                updated_at = v.column9
             FROM (VALUES {}) AS v WHERE webhook_deliveries.id = v.column1",
            batch::values(Backend::Sqlite, chunk.len(), 9)
        );
        tx.write(&sql, |b| {
            for u in chunk {
                b.text(u.id).text(u.status).bind(u.status_code).opt_text(u.response).opt_text(u.error_message);
                b.bind(u.attempt).bind(u.delivered_at).bind(u.next_retry_at).bind(now);
            }
        })
        .await?;
    }
    Ok(())
}

/// A pending delivery that will not be sent (its webhook is gone or off).
pub async fn give_up(tx: &mut Tx, id: &str, reason: &str, now: i64) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', error_message = $2, next_retry_at = NULL, updated_at = $3
         WHERE id = $1 AND status = 'pending'")
        .bind(id).bind(reason).bind(now).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// Starts a new round of up to `extra_attempts` attempts on top of those made.
pub async fn reopen(tx: &mut Tx, id: &str, extra_attempts: i64, now: i64) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', max_attempts = attempt + $2, next_retry_at = $3, updated_at = $3
         WHERE id = $1")
        .bind(id).bind(extra_attempts).bind(now).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

impl Db {
    /// The deliveries of `ids` with their request bodies.
    pub async fn pending_deliveries(&self, ids: &[&str]) -> Result<Vec<PendingDelivery>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in batch::chunks(ids) {
            let sql = format!(
                "SELECT d.id, d.webhook_id, COALESCE(e.body, '{{}}') AS body, d.attempt, d.status
                 FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id WHERE d.id IN ({})",
                batch::params(self.backend(), 1, chunk.len())
            );
            out.extend(with_pool!(self, pool => {
                let mut q = sqlx::query_as::<_, PendingDelivery>(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?);
        }
        Ok(out)
    }

    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, DeliveryRow>(
            &format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.id = $1"))
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(
            "SELECT id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code, request_headers,
                    response_body, response_body_lossy, error_class, error_message
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt, started_at")
            .bind(delivery_id).fetch_all(pool).await)?)
    }

    /// (id, webhook id, status) of an event's deliveries.
    pub async fn deliveries_of_event(&self, event_id: &str) -> Result<Vec<(String, String, String)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, String, String)>(
            "SELECT id, webhook_id, status FROM webhook_deliveries WHERE event_id = $1 ORDER BY created_at, id")
            .bind(event_id).fetch_all(pool).await)?)
    }

    /// Ids of the webhook's failed deliveries created since `since`.
    pub async fn failed_deliveries_since(&self, webhook_id: &str, since: i64) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'failed' AND created_at >= $2")
            .bind(webhook_id).bind(since).fetch_all(pool).await)?)
    }

    /// Newest first; after the keyset `after` (created_at, id) when given, else from `offset`.
    pub async fn list_deliveries(
        &self,
        f: &DeliveryFilter,
        after: Option<&(i64, String)>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<DeliveryRow>, i64)> {
        let (where_sql, binds) = f.where_clause();
        let n = binds.len();
        let res = with_pool!(self, pool => {
            let rows = if let Some((at, id)) = after {
                let keyset = format!("(d.created_at < ${a} OR (d.created_at = ${a} AND d.id < ${b}))", a = n + 1, b = n + 2);
                let cond = if where_sql.is_empty() { format!("WHERE {keyset}") } else { format!("{where_sql} AND {keyset}") };
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} {cond}
                     ORDER BY d.created_at DESC, d.id DESC LIMIT ${}", n + 3);
                let mut q = sqlx::query_as::<_, DeliveryRow>(&sql);
                for b in &binds { q = q.bind(b); }
                q.bind(at).bind(id).bind(limit).fetch_all(pool).await?
            } else {
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} {where_sql}
                     ORDER BY d.created_at DESC, d.id DESC LIMIT ${} OFFSET ${}", n + 1, n + 2);
                let mut q = sqlx::query_as::<_, DeliveryRow>(&sql);
                for b in &binds { q = q.bind(b); }
                q.bind(limit).bind(offset).fetch_all(pool).await?
            };
            let count_sql = format!("SELECT COUNT(*) FROM webhook_deliveries d {where_sql}");
            let mut c = sqlx::query_scalar::<_, i64>(&count_sql);
            for b in &binds { c = c.bind(b); }
            let total = c.fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        })?;
        Ok(res)
    }

    pub async fn delivery_counts(&self, webhook_id: Option<&str>) -> Result<StatusCounts> {
        let sql = "SELECT
                COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
                COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0) AS succeeded,
                COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed
             FROM webhook_deliveries WHERE ($1 IS NULL OR webhook_id = $1)";
        Ok(with_pool!(self, pool => sqlx::query_as::<_, StatusCounts>(sql)
            .bind(webhook_id).fetch_one(pool).await)?)
    }

    /// (all, succeeded, failed) deliveries created since `since`.
    pub async fn delivery_counts_since(&self, since: i64) -> Result<(i64, i64, i64)> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0)
             FROM webhook_deliveries WHERE created_at >= $1")
            .bind(since).fetch_one(pool).await)?)
    }

    /// Durations of the most recent attempts, for latency percentiles.
    pub async fn recent_attempt_durations(&self, webhook_id: Option<&str>, limit: i64) -> Result<Vec<i64>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT duration_ms FROM delivery_attempts WHERE ($1 IS NULL OR webhook_id = $1)
             ORDER BY started_at DESC LIMIT $2")
            .bind(webhook_id).bind(limit).fetch_all(pool).await)?)
    }

    pub async fn counts_by_event(&self, since: i64) -> Result<Vec<(String, i64, i64, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, i64, i64, i64)>(
            "SELECT event,
                COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0)
             FROM webhook_deliveries WHERE created_at >= $1 GROUP BY event ORDER BY event")
            .bind(since).fetch_all(pool).await)?)
    }

    /// Per UTC day (or any bucket size) since `since`: (bucket start ms, succeeded, failed, pending).
    pub async fn counts_by_bucket(
        &self,
        webhook_id: Option<&str>,
        since: i64,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, i64, i64, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT (created_at / $3) * $3 AS bucket,
                COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0)
             FROM webhook_deliveries WHERE created_at >= $2 AND ($1 IS NULL OR webhook_id = $1)
             GROUP BY bucket ORDER BY bucket")
            .bind(webhook_id).bind(since).bind(bucket_ms).fetch_all(pool).await)?)
    }

    /// Deletes up to `limit` finished deliveries created before `cutoff` (their attempts go with them).
    pub async fn delete_finished_deliveries(&self, cutoff: i64, limit: i64) -> Result<u64> {
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN (
                SELECT id FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending' LIMIT $2)")
            .bind(cutoff).bind(limit).execute(pool).await.map(|r| r.rows_affected()))?)
    }
}
