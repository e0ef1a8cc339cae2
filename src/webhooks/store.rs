//! All SQL on `webhooks` and `webhook_events` (who subscribes to what).

use sqlx::FromRow;

use crate::store::{with_pool, with_tx, with_writer, Db, Tx};
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

impl Db {
    pub async fn insert_webhook(&self, w: &WebhookRow, events: &[String]) -> Result<()> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, conn => sqlx::query(&format!(
                "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"
            ))
            .bind(&w.id).bind(&w.name).bind(&w.url).bind(&w.events).bind(&w.secret_sealed)
            .bind(&w.previous_secret_sealed).bind(w.previous_secret_expires_at).bind(w.active)
            .bind(&w.disabled_reason).bind(&w.filter).bind(&w.retry_policy).bind(w.rate_limit)
            .bind(&w.headers).bind(w.failing_since).bind(w.last_success_at).bind(w.last_failure_at)
            .bind(w.created_at).bind(w.updated_at)
            .execute(&mut **conn).await.map(|_| ()))?;
        insert_subscriptions(&mut tx, &w.id, events).await?;
        tx.commit().await
    }

    /// Writes the editable fields and the event subscriptions. Health
    /// (`failing_since`, an automatic disable) is never written back from
    /// `w`, which may be stale: only `set_active` changes it, and
    /// re-enabling forgets the failure streak.
    pub async fn update_webhook(&self, w: &WebhookRow, events: &[String], set_active: Option<bool>) -> Result<()> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, conn => sqlx::query(
                "UPDATE webhooks SET name=$2, url=$3, events=$4, filter=$5, retry_policy=$6, rate_limit=$7, headers=$8,
                    updated_at=$9,
                    disabled_reason = CASE WHEN $10 IS NULL THEN disabled_reason WHEN $10 THEN NULL
                        WHEN active THEN 'manual' ELSE disabled_reason END,
                    failing_since = CASE WHEN $10 AND NOT active THEN NULL ELSE failing_since END,
                    active = COALESCE($10, active)
                 WHERE id=$1",
            )
            .bind(&w.id).bind(&w.name).bind(&w.url).bind(&w.events).bind(&w.filter).bind(&w.retry_policy)
            .bind(w.rate_limit).bind(&w.headers).bind(w.updated_at).bind(set_active)
            .execute(&mut **conn).await.map(|_| ()))?;
        with_tx!(&mut tx, conn => sqlx::query("DELETE FROM webhook_events WHERE webhook_id = $1")
            .bind(&w.id).execute(&mut **conn).await.map(|_| ()))?;
        insert_subscriptions(&mut tx, &w.id, events).await?;
        tx.commit().await
    }

    /// Replaces the signing secret (and the rotated-out one, while it overlaps).
    pub async fn set_secrets(&self, w: &WebhookRow) -> Result<()> {
        with_writer!(self, conn => sqlx::query(
            "UPDATE webhooks SET secret_sealed = $2, previous_secret_sealed = $3, previous_secret_expires_at = $4,
                updated_at = $5 WHERE id = $1")
            .bind(&w.id).bind(&w.secret_sealed).bind(&w.previous_secret_sealed).bind(w.previous_secret_expires_at)
            .bind(w.updated_at).execute(&mut *conn).await.map(|_| ()))?;
        Ok(())
    }

    /// Webhooks whose custom headers are still stored as plain JSON: `(id, headers)`.
    pub async fn webhooks_with_plain_headers(&self) -> Result<Vec<(String, String)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, String)>(
            "SELECT id, headers FROM webhooks WHERE headers LIKE '{%' AND headers <> '{}'")
            .fetch_all(pool).await)?)
    }

    /// Replaces a webhook's headers column if it still holds `was`.
    pub async fn reseal_headers(&self, id: &str, was: &str, sealed: &str) -> Result<bool> {
        Ok(with_writer!(self, conn => sqlx::query("UPDATE webhooks SET headers = $3 WHERE id = $1 AND headers = $2")
            .bind(id).bind(was).bind(sealed).execute(&mut *conn).await.map(|r| r.rows_affected() == 1))?)
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

    /// Deletes the webhook (its deliveries and attempts cascade) and its queued deliveries.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        crate::due::store::delete_partition(&mut tx, crate::due::kinds::DELIVERY, id).await?;
        let n = with_tx!(&mut tx, conn => sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
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
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, WebhookRow>(&crate::store::script::numbered(&subscribers_sql()))
            .bind(event_type).fetch_all(pool).await)?,
        )
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

fn subscribers_sql() -> String {
    let cols = WEBHOOK_COLUMNS.split(", ").map(|c| format!("w.{}", c.trim())).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT {cols} FROM webhook_events we JOIN webhooks w ON w.id = we.webhook_id
         WHERE we.event_type = ? AND w.active"
    )
}

/// [`Db::subscribers`] read on `tx`'s own connection: a transaction that
/// waited for a second connection could wait forever once every connection
/// is held by such a transaction.
pub async fn subscribers_in(tx: &mut Tx, event_type: &str) -> Result<Vec<WebhookRow>> {
    tx.fetch_all(&subscribers_sql(), |b| {
        b.text(event_type);
    })
    .await
}

/// What a batch of outcomes says about one webhook's health.
#[derive(Debug, Default, Clone, Copy)]
pub struct HealthUpdate {
    pub any_success: bool,
    pub any_failure: bool,
    /// Whether the last outcome of the batch was a success (it ends a failure streak).
    pub last_succeeded: bool,
}

/// Records successes and failures; a failure streak starts at the first failure.
pub async fn record_health(tx: &mut Tx, webhook_id: &str, h: HealthUpdate, now: i64) -> Result<()> {
    let sql = "UPDATE webhooks SET
            last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END,
            last_failure_at = CASE WHEN ? THEN ? ELSE last_failure_at END,
            failing_since = CASE WHEN ? THEN NULL ELSE COALESCE(failing_since, ?) END
         WHERE id = ?";
    tx.write(sql, |b| {
        b.bind(h.any_success).bind(now).bind(h.any_failure).bind(now).bind(h.last_succeeded).bind(now).text(webhook_id);
    })
    .await
}

/// Disables the webhook when it has been failing since `failing_before` or
/// earlier (decided on the stored streak, not a cached copy). Returns whether it did.
pub async fn auto_disable(tx: &mut Tx, webhook_id: &str, failing_before: i64, now: i64) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query(
        "UPDATE webhooks SET active = FALSE, disabled_reason = 'auto', updated_at = $3
         WHERE id = $1 AND active AND failing_since IS NOT NULL AND failing_since <= $2")
        .bind(webhook_id).bind(failing_before).bind(now).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Disables the webhook because its endpoint answered 410 Gone. Returns whether it did.
pub async fn disable_gone(tx: &mut Tx, webhook_id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query(
        "UPDATE webhooks SET active = FALSE, disabled_reason = 'gone', updated_at = $2 WHERE id = $1 AND active")
        .bind(webhook_id).bind(now).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A webhook's event subscriptions, written in the transaction that writes the webhook.
/// Kept writes (`Tx::write`): they go with the commit, not one round trip each.
async fn insert_subscriptions(tx: &mut Tx, webhook_id: &str, events: &[String]) -> Result<()> {
    for e in events {
        tx.write("INSERT INTO webhook_events (event_type, webhook_id) VALUES (?, ?)", |b| {
            b.text(e).text(webhook_id);
        })
        .await?;
    }
    Ok(())
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
