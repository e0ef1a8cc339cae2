//! Webhook, delivery and attempt rows.

use sqlx::FromRow;

use crate::store::{with_pool, Db};
use crate::Result;

#[derive(Debug, Clone, FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: String,
    pub secret_sealed: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub filter: Option<String>,
    pub retry_policy: Option<String>,
    pub rate_limit: Option<i64>,
    pub headers: String,
    pub failing_since: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookRow {
    /// A new, active webhook with no name, URL or subscriptions yet.
    pub(crate) fn new(id: String, secret_sealed: String, now: i64) -> Self {
        WebhookRow {
            id,
            name: String::new(),
            url: String::new(),
            events: "[]".into(),
            secret_sealed,
            previous_secret_sealed: None,
            previous_secret_expires_at: None,
            active: true,
            disabled_reason: None,
            filter: None,
            retry_policy: None,
            rate_limit: None,
            headers: "{}".into(),
            failing_since: None,
            last_success_at: None,
            last_failure_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

pub(crate) const WEBHOOK_COLUMNS: &str = "id, name, url, events, secret_sealed, previous_secret_sealed, \
    previous_secret_expires_at, active, disabled_reason, filter, retry_policy, rate_limit, headers, \
    failing_since, last_success_at, last_failure_at, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
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

pub(crate) const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event, payload, status, status_code, \
    response_body, error_message, attempt, max_attempts, delivered_at, next_retry_at, created_at, updated_at";

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
        for (col, val) in [("webhook_id", &self.webhook_id), ("status", &self.status), ("event", &self.event)] {
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

impl Db {
    pub async fn insert_webhook(&self, w: &WebhookRow, events: &[String]) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&format!(
                "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"
            ))
            .bind(&w.id).bind(&w.name).bind(&w.url).bind(&w.events).bind(&w.secret_sealed)
            .bind(&w.previous_secret_sealed).bind(w.previous_secret_expires_at).bind(w.active)
            .bind(&w.disabled_reason).bind(&w.filter).bind(&w.retry_policy).bind(w.rate_limit)
            .bind(&w.headers).bind(w.failing_since).bind(w.last_success_at).bind(w.last_failure_at)
            .bind(w.created_at).bind(w.updated_at)
            .execute(&mut *tx).await?;
            for e in events {
                sqlx::query("INSERT INTO webhook_events (event_type, webhook_id) VALUES ($1, $2)")
                    .bind(e).bind(&w.id).execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Replaces every mutable field and the event subscriptions.
    pub async fn update_webhook(&self, w: &WebhookRow, events: &[String]) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE webhooks SET name=$2, url=$3, events=$4, secret_sealed=$5, previous_secret_sealed=$6,
                 previous_secret_expires_at=$7, active=$8, disabled_reason=$9, filter=$10, retry_policy=$11,
                 rate_limit=$12, headers=$13, failing_since=$14, updated_at=$15 WHERE id=$1",
            )
            .bind(&w.id).bind(&w.name).bind(&w.url).bind(&w.events).bind(&w.secret_sealed)
            .bind(&w.previous_secret_sealed).bind(w.previous_secret_expires_at).bind(w.active)
            .bind(&w.disabled_reason).bind(&w.filter).bind(&w.retry_policy).bind(w.rate_limit)
            .bind(&w.headers).bind(w.failing_since).bind(w.updated_at)
            .execute(&mut *tx).await?;
            sqlx::query("DELETE FROM webhook_events WHERE webhook_id = $1").bind(&w.id).execute(&mut *tx).await?;
            for e in events {
                sqlx::query("INSERT INTO webhook_events (event_type, webhook_id) VALUES ($1, $2)")
                    .bind(e).bind(&w.id).execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn webhook(&self, id: &str) -> Result<Option<WebhookRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, WebhookRow>(
            &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
            .bind(id).fetch_optional(pool).await)?)
    }

    /// Newest first; `search` matches name or URL, case-insensitively.
    pub async fn list_webhooks(&self, search: Option<&str>, offset: i64, limit: i64) -> Result<(Vec<WebhookRow>, i64)> {
        let pattern = search.map(|s| format!("%{}%", s.to_lowercase().replace('%', "\\%").replace('_', "\\_")));
        let filter = "WHERE ($1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(url) LIKE $1 ESCAPE '\\')";
        let (rows, total) = with_pool!(self, pool => {
            let rows = sqlx::query_as::<_, WebhookRow>(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks {filter} ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"))
                .bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM webhooks {filter}"))
                .bind(&pattern).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        })?;
        Ok((rows, total))
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<bool> {
        let n = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM due_work WHERE partition_key = $1").bind(id).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(n)
        })?;
        Ok(n > 0)
    }

    /// Webhooks that need attention: failing now, or disabled by a failure (410 Gone, auto-disable).
    pub async fn unhealthy_webhooks(&self, limit: i64) -> Result<Vec<WebhookRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, WebhookRow>(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks
             WHERE (active AND failing_since IS NOT NULL) OR (NOT active AND disabled_reason IN ('auto', 'gone'))
             ORDER BY updated_at DESC LIMIT $1"))
            .bind(limit).fetch_all(pool).await)?)
    }

    /// Active webhooks subscribed to `event_type`.
    pub async fn subscribers(&self, event_type: &str) -> Result<Vec<WebhookRow>> {
        let cols = WEBHOOK_COLUMNS.split(", ").map(|c| format!("w.{}", c.trim())).collect::<Vec<_>>().join(", ");
        Ok(with_pool!(self, pool => sqlx::query_as::<_, WebhookRow>(&format!(
            "SELECT {cols} FROM webhook_events we JOIN webhooks w ON w.id = we.webhook_id
             WHERE we.event_type = $1 AND w.active"))
            .bind(event_type).fetch_all(pool).await)?)
    }

    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, DeliveryRow>(
            &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"))
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(
            "SELECT id, delivery_id, webhook_id, attempt, started_at, duration_ms, status_code, request_headers,
                    response_body, error_class, error_message
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(delivery_id).fetch_all(pool).await)?)
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
                let keyset = format!("(created_at < ${a} OR (created_at = ${a} AND id < ${b}))", a = n + 1, b = n + 2);
                let cond = if where_sql.is_empty() { format!("WHERE {keyset}") } else { format!("{where_sql} AND {keyset}") };
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries {cond}
                     ORDER BY created_at DESC, id DESC LIMIT ${}", n + 3);
                let mut q = sqlx::query_as::<_, DeliveryRow>(&sql);
                for b in &binds { q = q.bind(b); }
                q.bind(at).bind(id).bind(limit).fetch_all(pool).await?
            } else {
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries {where_sql}
                     ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}", n + 1, n + 2);
                let mut q = sqlx::query_as::<_, DeliveryRow>(&sql);
                for b in &binds { q = q.bind(b); }
                q.bind(limit).bind(offset).fetch_all(pool).await?
            };
            let count_sql = format!("SELECT COUNT(*) FROM webhook_deliveries {where_sql}");
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

    /// (all, active, failing) webhook counts.
    pub async fn webhook_counts(&self) -> Result<(i64, i64, i64)> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN active THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN active AND failing_since IS NOT NULL THEN 1 ELSE 0 END), 0)
             FROM webhooks")
            .fetch_one(pool).await)?)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::WebhookRow;

    /// An active webhook subscribed to `invoice.paid`, as stored.
    pub fn row(id: &str) -> WebhookRow {
        WebhookRow {
            name: "n".into(),
            url: "https://example.com/hook".into(),
            events: "[\"invoice.paid\"]".into(),
            ..WebhookRow::new(id.into(), "x".into(), 1)
        }
    }
}
