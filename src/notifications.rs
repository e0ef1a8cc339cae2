//! In-app notifications (an auto-disabled webhook now; workflows later) and
//! the live numbers the UI's stats strip shows.

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::store::with_pool;
use crate::{Error, Result, Services};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: String,
    pub read: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LiveNumbers {
    pub deliveries_today: i64,
    pub success_rate_today: Option<f64>,
    pub failing_webhooks: i64,
    pub unread_notifications: i64,
}

type NotificationRow = (String, String, String, String, Option<String>, i64, Option<i64>);

impl Services {
    /// Newest first.
    pub async fn notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, NotificationRow>(
            "SELECT id, kind, title, body, link, created_at, read_at FROM notifications ORDER BY created_at DESC, id DESC LIMIT $1")
            .bind(limit.clamp(1, 500)).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, title, body, link, created_at, read_at)| Notification {
                id,
                kind,
                title,
                body,
                link,
                created_at: rfc3339(created_at),
                read: read_at.is_some(),
            })
            .collect())
    }

    pub async fn unread_notifications(&self) -> Result<i64> {
        Ok(with_pool!(&self.db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM notifications WHERE read_at IS NULL").fetch_one(pool).await)?)
    }

    /// Marks one notification (or, with `None`, all) as read.
    pub async fn mark_notifications_read(&self, id: Option<&str>) -> Result<()> {
        let now = self.now_ms();
        let n = with_pool!(&self.db, pool => sqlx::query(
            "UPDATE notifications SET read_at = $2 WHERE ($1 IS NULL OR id = $1) AND read_at IS NULL")
            .bind(id).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        if id.is_some() && n == 0 {
            let exists = with_pool!(&self.db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notifications WHERE id = $1")
                .bind(id).fetch_one(pool).await)?;
            if exists == 0 {
                return Err(Error::NotFound("notification"));
            }
        }
        self.events_changed();
        Ok(())
    }

    /// Deliveries created today (UTC) and their success rate, failing webhooks, unread notifications.
    pub async fn live_numbers(&self) -> Result<LiveNumbers> {
        const DAY: i64 = 86_400_000;
        let today = self.now_ms() / DAY * DAY;
        let (total, succeeded, failed) = with_pool!(&self.db, pool => sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0)
             FROM webhook_deliveries WHERE created_at >= $1")
            .bind(today).fetch_one(pool).await)?;
        let (_, _, failing) = self.db.webhook_counts().await?;
        let finished = succeeded + failed;
        Ok(LiveNumbers {
            deliveries_today: total,
            success_rate_today: (finished > 0).then(|| (succeeded as f64 * 1000.0 / finished as f64).round() / 10.0),
            failing_webhooks: failing,
            unread_notifications: self.unread_notifications().await?,
        })
    }
}
