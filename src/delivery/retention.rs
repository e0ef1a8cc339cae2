//! Retention: old finished deliveries (with their attempts) and old events are
//! deleted in small batches, so the job never holds the database for long.

use crate::store::with_pool;
use crate::{Result, Services};

const BATCH: i64 = 1000;

impl Services {
    /// Deletes what is older than the retention period; returns the deliveries deleted.
    pub async fn run_retention(&self) -> Result<u64> {
        let now = self.now_ms();
        let cutoff = now - self.settings.retention_days * 86_400_000;
        let mut deleted = 0u64;
        loop {
            let n = with_pool!(&self.db, pool => sqlx::query(
                "DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending' LIMIT $2)")
                .bind(cutoff).bind(BATCH).execute(pool).await.map(|r| r.rows_affected()))?;
            deleted += n;
            if n < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let idempotency_cutoff = now - self.settings.idempotency_window_ms;
        with_pool!(&self.db, pool => sqlx::query(
            "UPDATE events SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND created_at < $1")
            .bind(idempotency_cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
        with_pool!(&self.db, pool => sqlx::query("DELETE FROM events WHERE created_at < $1")
            .bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
        self.db.delete_expired_sessions(now).await?;
        if deleted > 0 {
            tracing::info!(deleted, retention_days = self.settings.retention_days, "retention removed old deliveries");
        }
        self.metrics.retention_deleted.inc_by(deleted);
        Ok(deleted)
    }
}
