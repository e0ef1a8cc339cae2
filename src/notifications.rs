//! In-app notifications (an auto-disabled webhook now; workflows later) and
//! the live numbers the UI's stats strip shows.

use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::store::{with_pool, with_tx, Tx};
use crate::{Error, Result, Services};

pub use wire::notifications::{LiveNumbers, Notification};

type NotificationRow = (String, String, String, String, Option<String>, i64, Option<i64>, Option<String>);

/// Adds a notification for admins in the transaction of what caused it.
pub async fn insert(tx: &mut Tx, kind: &str, title: &str, body: &str, link: Option<&str>, now: i64) -> Result<()> {
    insert_for(tx, kind, title, body, link, None, now).await.map(|_| ())
}

/// Adds a notification for an audience (`{"roles": [...], "users": [emails]}`; none: admins); returns its id.
pub async fn insert_for(
    tx: &mut Tx,
    kind: &str,
    title: &str,
    body: &str,
    link: Option<&str>,
    audience: Option<&serde_json::Value>,
    now: i64,
) -> Result<String> {
    let id = crate::ids::new_id("ntf");
    let audience = audience.map(|a| a.to_string());
    with_tx!(tx, conn => sqlx::query(
        "INSERT INTO notifications (id, kind, title, body, link, created_at, audience) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id).bind(kind).bind(title).bind(body).bind(link).bind(now).bind(audience)
        .execute(&mut **conn).await.map(|_| ()))?;
    Ok(id)
}

/// Whether a notification's audience includes the caller (none means admins).
fn for_caller(audience: Option<&str>, caller: &Principal) -> bool {
    let Some(a) = audience.and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()) else {
        return caller.is_admin();
    };
    let in_list = |key: &str, what: &str| a[key].as_array().is_some_and(|l| l.iter().any(|v| v.as_str() == Some(what)));
    in_list("roles", caller.role.as_str()) || in_list("users", &caller.name)
}

impl Services {
    /// Newest first.
    pub async fn notifications(&self, caller: &Principal, limit: i64) -> Result<Vec<Notification>> {
        caller.require(Action::ReadNotifications)?;
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, NotificationRow>(
            "SELECT id, kind, title, body, link, created_at, read_at, audience FROM notifications ORDER BY created_at DESC, id DESC LIMIT $1")
            .bind(limit.clamp(1, 500)).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .filter(|r| for_caller(r.7.as_deref(), caller))
            .map(|(id, kind, title, body, link, created_at, read_at, _)| Notification {
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

    /// The ids of the unread notifications addressed to the caller (the bell counts these).
    async fn unread_for(&self, caller: &Principal) -> Result<Vec<String>> {
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT id, audience FROM notifications WHERE read_at IS NULL ORDER BY created_at DESC LIMIT 10000")
            .fetch_all(pool).await)?;
        Ok(rows.into_iter().filter(|(_, a)| for_caller(a.as_deref(), caller)).map(|(id, _)| id).collect())
    }

    /// Marks one notification (or, with `None`, all the caller's) as read.
    pub async fn mark_notifications_read(&self, caller: &Principal, id: Option<&str>) -> Result<()> {
        caller.require(Action::ReadNotifications)?;
        let now = self.now_ms();
        let ids = match id {
            Some(one) => vec![one.to_string()],
            None => self.unread_for(caller).await?,
        };
        let mut tx = self.db.begin().await?;
        let mut n = 0;
        for one in &ids {
            n += with_tx!(&mut tx, conn => sqlx::query("UPDATE notifications SET read_at = $2 WHERE id = $1 AND read_at IS NULL")
                .bind(one).bind(now).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
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

    /// Deliveries created today (the practice's day) and their success rate, failing webhooks, unread notifications.
    pub async fn live_numbers(&self, caller: &Principal) -> Result<LiveNumbers> {
        caller.require(Action::ReadWebhooks)?;
        let (_, today) = crate::settings::last_days(self.settings.timezone, self.now_ms(), 1);
        let (total, succeeded, failed) = self.db.delivery_counts_since(today).await?;
        let (_, _, failing) = self.db.webhook_counts().await?;
        let finished = succeeded + failed;
        Ok(LiveNumbers {
            deliveries_today: total,
            success_rate_today: (finished > 0).then(|| (succeeded as f64 * 1000.0 / finished as f64).round() / 10.0),
            failing_webhooks: failing,
            unread_notifications: self.unread_for(caller).await?.len() as i64,
        })
    }
}
