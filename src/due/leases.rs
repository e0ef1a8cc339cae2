//! Handing leases back when a process starts or stops, so that its work is
//! taken up at once instead of when the leases expire.

use crate::store::{with_writer, Db};
use crate::Result;

impl Db {
    /// Makes rows leased by other processes claimable now: used at start-up
    /// by the embedded (single process) database, where they were left by a
    /// process that died. Leases this process already took (owners that
    /// start with `instance`) are kept, however soon after start they were taken.
    pub async fn release_stale_leases(&self, instance: &str, now: i64) -> Result<u64> {
        Ok(with_writer!(self, conn => sqlx::query(
            "UPDATE due_work SET lease_owner = NULL, available_at = $3
             WHERE lease_owner IS NOT NULL AND dead_at IS NULL AND available_at > $3 AND SUBSTR(lease_owner, 1, $2) <> $1")
            .bind(instance).bind(instance.len() as i32).bind(now).execute(&mut *conn).await.map(|r| r.rows_affected()))?)
    }

    /// Makes every row this process (`instance`) still holds claimable now:
    /// at shutdown, when the deadline passed with work in hand. A handler of
    /// this process that still finishes one finds its fence gone and writes
    /// nothing; the row is tried again (at least once, same ids).
    pub async fn release_own_leases(&self, instance: &str, now: i64) -> Result<u64> {
        Ok(with_writer!(self, conn => sqlx::query(
            "UPDATE due_work SET lease_owner = NULL, available_at = $3
             WHERE lease_owner IS NOT NULL AND dead_at IS NULL AND SUBSTR(lease_owner, 1, $2) = $1")
            .bind(instance).bind(instance.len() as i32).bind(now).execute(&mut *conn).await.map(|r| r.rows_affected()))?)
    }
}
