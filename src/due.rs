//! Due work: the one mechanism for "do this at (or after) that time" —
//! webhook deliveries now, workflow steps and durable timers next.
//!
//! A row in `due_work` is a promise that its subject will be worked on. A
//! worker *claims* rows that are due by writing a lease (owner + expiry);
//! finishing deletes the row or moves `due_at` forward, in the same
//! transaction as the work's own result. A worker that dies simply lets its
//! leases expire, and the rows become claimable again: nothing is lost, and a
//! subject may be worked on more than once (at-least-once).
//!
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so instances never block
//! each other or claim the same row; SQLite has a single writer, so its
//! `UPDATE … RETURNING` is atomic by itself.

use sqlx::FromRow;

use crate::store::{with_pool, Db};
use crate::Result;

pub const KIND_DELIVERY: &str = "delivery";

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    pub partition_key: String,
}

/// How to claim: which kind, for whom, for how long, how many, and which
/// partitions (e.g. endpoints already at their in-flight cap) to leave alone.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub kind: &'a str,
    pub owner: &'a str,
    pub now: i64,
    pub lease_ms: i64,
    pub limit: i64,
    pub skip_partitions: &'a [String],
}

impl Db {
    pub async fn claim_due(&self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>> {
        let skip = if req.skip_partitions.is_empty() {
            String::new()
        } else {
            let params: Vec<String> = (0..req.skip_partitions.len()).map(|i| format!("${}", i + 6)).collect();
            format!("AND partition_key NOT IN ({})", params.join(", "))
        };
        let lock = match self {
            Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Db::Sqlite(..) => "",
        };
        let sql = format!(
            "UPDATE due_work SET lease_owner = $1, lease_expires_at = $2
             WHERE id IN (
                SELECT id FROM due_work
                WHERE kind = $3 AND due_at <= $4 AND (lease_expires_at IS NULL OR lease_expires_at <= $4) {skip}
                ORDER BY due_at LIMIT $5 {lock})
             RETURNING id, partition_key"
        );
        let _turn = self.write_turn().await;
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, Claimed>(&sql)
                .bind(req.owner)
                .bind(req.now + req.lease_ms)
                .bind(req.kind)
                .bind(req.now)
                .bind(req.limit);
            for p in req.skip_partitions {
                q = q.bind(p);
            }
            q.fetch_all(pool).await
        })?)
    }

    /// Frees the leases of `kind` that no part of this process holds: used at
    /// start-up by the embedded (single process) database, where they were left
    /// by a process that died. Leases this process already took (owners that
    /// start with `instance`) are kept, however soon after start they were taken.
    pub async fn release_stale_leases(&self, kind: &str, instance: &str) -> Result<u64> {
        Ok(with_pool!(self, pool => sqlx::query(
            "UPDATE due_work SET lease_owner = NULL, lease_expires_at = NULL
             WHERE kind = $1 AND lease_owner IS NOT NULL AND SUBSTR(lease_owner, 1, $3) <> $2")
            .bind(kind).bind(instance).bind(instance.len() as i32).execute(pool).await.map(|r| r.rows_affected()))?)
    }

    /// How much work is waiting, and since when the oldest due item waits.
    pub async fn due_depth(&self, kind: &str, now: i64) -> Result<(i64, Option<i64>)> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT COUNT(*), MIN(due_at) FROM due_work WHERE kind = $1 AND due_at <= $2")
            .bind(kind).bind(now).fetch_one(pool).await)?)
    }

    /// The earliest future due time, so an idle worker knows how long it may sleep.
    pub async fn next_due_at(&self, kind: &str) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(CASE WHEN lease_expires_at IS NULL OR lease_expires_at < due_at THEN due_at ELSE lease_expires_at END)
             FROM due_work WHERE kind = $1")
            .bind(kind).fetch_one(pool).await)?)
    }
}
