//! Retention: old finished deliveries (with their attempts), old events and
//! ended workflow executions (with their steps) are
//! deleted in small batches, so the job never holds the database for long.

use crate::{Result, Services};

const BATCH: i64 = 1000;

impl Services {
    /// Deletes what is older than the retention period; returns the deliveries deleted.
    pub async fn run_retention(&self) -> Result<u64> {
        let now = self.now_ms();
        let cutoff = now - self.settings.retention_days * 86_400_000;
        let mut deleted = 0u64;
        loop {
            let n = self.db.delete_finished_deliveries(cutoff, BATCH).await?;
            deleted += n;
            if n < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        self.db.expire_idempotency_keys(now - self.settings.idempotency_window_ms).await?;
        // Events that deliveries still wait on are kept.
        self.db.delete_old_events(cutoff).await?;
        self.db.delete_expired_sessions(now).await?;
        // Workflow executions that ended, with their steps (waiting ones are kept however old).
        while self.db.delete_old_executions(cutoff, BATCH).await? == BATCH as u64 {
            tokio::task::yield_now().await;
        }
        if deleted > 0 {
            tracing::info!(deleted, retention_days = self.settings.retention_days, "retention removed old deliveries");
        }
        self.metrics.retention_deleted.inc_by(deleted);
        Ok(deleted)
    }
}
