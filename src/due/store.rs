//! The SQL on `due_work` (with `leases`, which hands leases back at start-up
//! and shutdown). Writes that belong to another module's work (an
//! event's deliveries, an outcome) take that work's transaction, so the row
//! and the work commit or roll back together.

use std::collections::HashSet;

use sqlx::FromRow;

use crate::store::{batch, with_pool, with_tx, with_writer, Backend, Db, Tx};
use crate::Result;

/// A row to add. With `lease_owner` it is created already claimed by that
/// owner (fence 1, one attempt, invisible until `available_at`): the hot
/// path, where the process that writes the work also does it.
#[derive(Debug, Clone)]
pub struct NewDue<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub subject_id: &'a str,
    pub partition_key: &'a str,
    pub available_at: i64,
    pub lease_owner: Option<&'a str>,
}

impl NewDue<'_> {
    /// The lease a row created with an owner is held under.
    pub fn lease(&self) -> Option<Lease> {
        self.lease_owner.map(|_| Lease { id: self.id.to_string(), fence: 1 })
    }
}

/// What a fenced write names: the row, and the claim it was leased under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: String,
    pub fence: i64,
}

/// A row a claim leased.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub partition_key: String,
    pub fence: i64,
    /// Claims since the last clean finish, this one included.
    pub attempts: i64,
}

impl Claimed {
    pub fn lease(&self) -> Lease {
        Lease { id: self.id.clone(), fence: self.fence }
    }
}

/// A row that stopped being leased after too many failed attempts.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct DeadRow {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub partition_key: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: i64,
    pub created_at: i64,
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

/// Adds rows (multi-row statements).
pub async fn insert(tx: &mut Tx, rows: &[NewDue<'_>], now: i64) -> Result<()> {
    for chunk in batch::chunks(rows) {
        let sql = format!(
            "INSERT INTO due_work (id, kind, subject_id, partition_key, available_at, lease_owner, fence, attempts, created_at)
             VALUES {}",
            batch::values(Backend::Sqlite, chunk.len(), 9)
        );
        tx.write(&sql, |b| {
            for r in chunk {
                let claimed = i64::from(r.lease_owner.is_some());
                b.text(r.id).text(r.kind).text(r.subject_id).text(r.partition_key).bind(r.available_at);
                b.opt_text(r.lease_owner).bind(claimed).bind(claimed).bind(now);
            }
        })
        .await?;
    }
    Ok(())
}

/// Makes `subject` due now: adds its row, or brings a waiting (or dead) row
/// forward. A row leased right now is left alone (its work is under way),
/// and then this returns false.
pub async fn requeue(tx: &mut Tx, id: &str, kind: &str, subject: &str, partition: &str, now: i64) -> Result<bool> {
    let sql = "INSERT INTO due_work (id, kind, subject_id, partition_key, available_at, fence, attempts, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, 0, $5)
         ON CONFLICT (kind, subject_id) DO UPDATE SET available_at = excluded.available_at, lease_owner = NULL,
            fence = due_work.fence + 1, attempts = 0, last_error = NULL, dead_at = NULL
         WHERE due_work.lease_owner IS NULL OR due_work.available_at <= excluded.available_at
            OR due_work.dead_at IS NOT NULL
         RETURNING id";
    let row = with_tx!(tx, conn => sqlx::query_scalar::<_, String>(sql)
        .bind(id).bind(kind).bind(subject).bind(partition).bind(now).fetch_optional(&mut **conn).await)?;
    Ok(row.is_some())
}

/// Schedules `subject` for `at`: adds its row, or moves an existing one
/// there (taking it from whoever holds it: their finish is fenced out).
pub async fn schedule(
    tx: &mut Tx,
    id: &str,
    kind: &str,
    subject: &str,
    partition: &str,
    at: i64,
    now: i64,
) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "INSERT INTO due_work (id, kind, subject_id, partition_key, available_at, fence, attempts, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, 0, $6)
         ON CONFLICT (kind, subject_id) DO UPDATE SET available_at = excluded.available_at, lease_owner = NULL,
            fence = due_work.fence + 1, attempts = 0, last_error = NULL, dead_at = NULL")
        .bind(id).bind(kind).bind(subject).bind(partition).bind(at).bind(now)
        .execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// Removes the row of `subject`, whoever holds it (the work is no longer wanted).
pub async fn cancel(tx: &mut Tx, kind: &str, subject: &str) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query("DELETE FROM due_work WHERE kind = $1 AND subject_id = $2")
        .bind(kind).bind(subject).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The fenced match of `n` leases whose parameters start at `first`: `id IN
/// (…) AND fence = CASE id WHEN … THEN … END`, bound as the ids, then each
/// (id, fence) pair. Written so both databases find the rows by primary key
/// (a row-value `(id, fence) IN (VALUES …)` makes SQLite scan the table).
fn fenced(backend: Backend, first: usize, n: usize) -> String {
    let ids = batch::params(backend, first, n);
    let whens: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "WHEN {} THEN {}",
                batch::params(backend, first + n + 2 * i, 1),
                batch::params(backend, first + n + 2 * i + 1, 1)
            )
        })
        .collect();
    format!("id IN ({ids}) AND fence = CASE id {} END", whens.join(" "))
}

/// Whether `owner` still holds `lease`; if so its lease is extended to
/// `until` (a long piece of work renews as it goes). On PostgreSQL the row is
/// locked until the transaction ends, so nobody re-queues it meanwhile.
pub async fn holds(tx: &mut Tx, owner: &str, lease: &Lease, until: i64) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query(
        "UPDATE due_work SET available_at = $4 WHERE id = $1 AND fence = $2 AND lease_owner = $3")
        .bind(&lease.id).bind(lease.fence).bind(owner).bind(until)
        .execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// [`holds`] for many leases in one statement: returns those `owner` still
/// holds, each extended to `until` (and on PostgreSQL locked until the
/// transaction ends). Each row may appear once.
pub async fn hold_all(tx: &mut Tx, owner: &str, leases: &[&Lease], until: i64) -> Result<HashSet<Lease>> {
    let backend = tx.backend();
    let mut held = HashSet::with_capacity(leases.len());
    for chunk in batch::chunks(leases) {
        let sql = format!(
            "UPDATE due_work SET available_at = {} WHERE lease_owner = {} AND {} RETURNING id, fence",
            batch::params(backend, 1, 1),
            batch::params(backend, 2, 1),
            fenced(backend, 3, chunk.len())
        );
        let rows = with_tx!(tx, conn => {
            let mut q = sqlx::query_as::<_, (String, i64)>(&sql).bind(until).bind(owner);
            for l in chunk {
                q = q.bind(&l.id);
            }
            for l in chunk {
                q = q.bind(&l.id).bind(l.fence);
            }
            q.fetch_all(&mut **conn).await
        })?;
        held.extend(rows.into_iter().map(|(id, fence)| Lease { id, fence }));
    }
    Ok(held)
}

/// Deletes finished rows still leased under `leases` by `owner`; returns the
/// leases that matched. A lease missing from the answer was lost. Each row
/// may appear once (see [`newest_per_row`]).
pub async fn finish(tx: &mut Tx, owner: &str, leases: &[&Lease]) -> Result<HashSet<Lease>> {
    let mut matched = HashSet::with_capacity(leases.len());
    for chunk in batch::chunks(leases) {
        let sql = format!(
            "DELETE FROM due_work WHERE lease_owner = ? AND {} RETURNING id, fence",
            fenced(Backend::Sqlite, 2, chunk.len())
        );
        let rows: Vec<(String, i64)> = tx
            .fetch_all(&sql, |b| {
                b.text(owner);
                for l in chunk {
                    b.text(&l.id);
                }
                for l in chunk {
                    b.text(&l.id).bind(l.fence);
                }
            })
            .await?;
        matched.extend(rows.into_iter().map(|(id, fence)| Lease { id, fence }));
    }
    Ok(matched)
}

/// Of several leases on one row (a lease that ran out and the claim that
/// followed, both reporting in one batch), only the newest can still hold:
/// keeps that one per row, in the order given.
pub fn newest_per_row<'a>(leases: impl IntoIterator<Item = &'a Lease>) -> HashSet<&'a Lease> {
    let mut newest: std::collections::HashMap<&str, &Lease> = std::collections::HashMap::new();
    for l in leases {
        let e = newest.entry(l.id.as_str()).or_insert(l);
        if l.fence > e.fence {
            *e = l;
        }
    }
    newest.into_values().collect()
}

/// Moves rows still leased under `items` by `owner` to a new due time, free
/// for anyone to claim then, with the attempt count reset (the work went as
/// planned; it just is not done). Returns the leases that matched.
pub async fn reschedule(tx: &mut Tx, owner: &str, items: &[(&Lease, i64)]) -> Result<HashSet<Lease>> {
    let mut matched = HashSet::with_capacity(items.len());
    for chunk in batch::chunks(items) {
        // VALUES columns are named column1, column2, … on both databases.
        let sql = format!(
            "UPDATE due_work SET available_at = v.column3, lease_owner = NULL, attempts = 0, last_error = NULL
             FROM (VALUES {}) AS v
             WHERE due_work.id = v.column1 AND due_work.fence = v.column2 AND due_work.lease_owner = ?
             RETURNING due_work.id, due_work.fence",
            batch::values(Backend::Sqlite, chunk.len(), 3),
        );
        let rows: Vec<(String, i64)> = tx
            .fetch_all(&sql, |b| {
                for (l, at) in chunk {
                    b.text(&l.id).bind(l.fence).bind(*at);
                }
                b.text(owner);
            })
            .await?;
        matched.extend(rows.into_iter().map(|(id, fence)| Lease { id, fence }));
    }
    Ok(matched)
}

/// Gives leased rows back unworked: due again at `now`, and the claim that
/// leased them not counted as an attempt.
pub async fn release(tx: &mut Tx, owner: &str, leases: &[&Lease], now: i64) -> Result<u64> {
    let backend = tx.backend();
    let mut n = 0;
    for chunk in batch::chunks(leases) {
        let sql = format!(
            "UPDATE due_work SET available_at = {}, lease_owner = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
             WHERE lease_owner = {} AND {}",
            batch::params(backend, 1, 1),
            batch::params(backend, 2, 1),
            fenced(backend, 3, chunk.len())
        );
        n += with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql).bind(now).bind(owner);
            for l in chunk {
                q = q.bind(&l.id);
            }
            for l in chunk {
                q = q.bind(&l.id).bind(l.fence);
            }
            q.execute(&mut **conn).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(n)
}

/// Records that handling a leased row failed: due again at `retry_at`, or
/// dead once it has been attempted `max_attempts` times. `None` when the
/// lease was lost; else whether the row is now dead.
pub async fn fail(
    tx: &mut Tx,
    owner: &str,
    lease: &Lease,
    error: &str,
    retry_at: i64,
    max_attempts: i64,
    now: i64,
) -> Result<Option<bool>> {
    let error = crate::store::text::storable(error);
    let error: String = error.chars().take(2000).collect();
    let dead = with_tx!(tx, conn => sqlx::query_scalar::<_, Option<i64>>(
        "UPDATE due_work SET lease_owner = NULL, last_error = $4, available_at = $5,
            dead_at = CASE WHEN attempts >= $6 THEN $7 ELSE NULL END
         WHERE id = $1 AND fence = $2 AND lease_owner = $3
         RETURNING dead_at")
        .bind(&lease.id).bind(lease.fence).bind(owner).bind(&error).bind(retry_at).bind(max_attempts).bind(now)
        .fetch_optional(&mut **conn).await)?;
    Ok(dead.map(|d| d.is_some()))
}

/// Deletes the rows of one partition of a kind (say, a deleted webhook's deliveries).
pub async fn delete_partition(tx: &mut Tx, kind: &str, partition_key: &str) -> Result<u64> {
    Ok(with_tx!(tx, conn => sqlx::query("DELETE FROM due_work WHERE kind = $1 AND partition_key = $2")
        .bind(kind).bind(partition_key).execute(&mut **conn).await.map(|r| r.rows_affected()))?)
}

/// Makes a dead row live again, due now, with its attempts forgotten.
pub async fn revive(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query(
        "UPDATE due_work SET dead_at = NULL, attempts = 0, available_at = $2, lease_owner = NULL, fence = fence + 1
         WHERE id = $1 AND dead_at IS NOT NULL")
        .bind(id).bind(now).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes a dead row for good; returns it when there was one.
pub async fn discard(tx: &mut Tx, id: &str) -> Result<Option<DeadRow>> {
    Ok(with_tx!(tx, conn => sqlx::query_as::<_, DeadRow>(
        "DELETE FROM due_work WHERE id = $1 AND dead_at IS NOT NULL
         RETURNING id, kind, subject_id, partition_key, attempts, last_error, dead_at, created_at")
        .bind(id).fetch_optional(&mut **conn).await)?)
}

impl Db {
    /// Leases up to `limit` due rows of a kind to `owner`.
    pub async fn claim_due(&self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>> {
        let backend = self.backend();
        let skip = if req.skip_partitions.is_empty() {
            String::new()
        } else {
            format!("AND partition_key NOT IN ({})", batch::params(backend, 5, req.skip_partitions.len()))
        };
        let lock = match backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let p = |n: usize| batch::params(backend, n, 1);
        let sql = format!(
            "UPDATE due_work SET lease_owner = {}, available_at = {}, fence = fence + 1, attempts = attempts + 1
             WHERE id IN (
                SELECT id FROM due_work
                WHERE kind = {} AND dead_at IS NULL AND available_at <= {} {skip}
                ORDER BY available_at LIMIT {} {lock})
             RETURNING id, kind, subject_id, partition_key, fence, attempts",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5 + req.skip_partitions.len())
        );
        Ok(with_writer!(self, conn => {
            let mut q = sqlx::query_as::<_, Claimed>(&sql)
                .bind(req.owner)
                .bind(req.now + req.lease_ms)
                .bind(req.kind)
                .bind(req.now);
            for s in req.skip_partitions {
                q = q.bind(s);
            }
            q.bind(req.limit).fetch_all(&mut *conn).await
        })?)
    }

    /// When the next live row of each of `kinds` becomes claimable (leased
    /// rows count at their lease's end), in the order given: one statement,
    /// one index probe per kind.
    pub async fn next_available_by_kind(&self, kinds: &[&str]) -> Result<Vec<Option<i64>>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let parts: Vec<String> = (0..kinds.len())
            .map(|i| {
                format!(
                    "SELECT {} AS k, (SELECT MIN(available_at) FROM due_work WHERE kind = {} AND dead_at IS NULL) AS at",
                    batch::params(backend, 2 * i + 1, 1),
                    batch::params(backend, 2 * i + 2, 1)
                )
            })
            .collect();
        let sql = parts.join(" UNION ALL ");
        let rows = with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, (String, Option<i64>)>(&sql);
            for k in kinds {
                q = q.bind(*k).bind(*k);
            }
            q.fetch_all(pool).await
        })?;
        Ok(kinds.iter().map(|k| rows.iter().find(|(name, _)| name == k).and_then(|(_, at)| *at)).collect())
    }

    /// How many live rows of a kind are due (not leased), and the oldest due time.
    pub async fn due_depth(&self, kind: &str, now: i64) -> Result<(i64, Option<i64>)> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT COUNT(*), MIN(available_at) FROM due_work WHERE kind = $1 AND dead_at IS NULL AND available_at <= $2")
            .bind(kind).bind(now).fetch_one(pool).await)?)
    }

    /// Dead rows, newest first.
    pub async fn dead_rows(&self, limit: i64) -> Result<Vec<DeadRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, DeadRow>(
            "SELECT id, kind, subject_id, partition_key, attempts, last_error, dead_at, created_at
             FROM due_work WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1")
            .bind(limit).fetch_all(pool).await)?)
    }

    pub async fn dead_count(&self) -> Result<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM due_work WHERE dead_at IS NOT NULL").fetch_one(pool).await)?)
    }

    /// The row of a subject, for tests and diagnostics.
    pub async fn due_row(&self, kind: &str, subject_id: &str) -> Result<Option<DueRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, DueRow>(
            "SELECT id, kind, subject_id, partition_key, available_at, lease_owner, fence, attempts, last_error, dead_at
             FROM due_work WHERE kind = $1 AND subject_id = $2")
            .bind(kind).bind(subject_id).fetch_optional(pool).await)?)
    }

    /// How many rows of a kind exist (live or dead), for tests and diagnostics.
    pub async fn due_count(&self, kind: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM due_work WHERE kind = $1")
            .bind(kind).fetch_one(pool).await)?)
    }
}

/// A whole row, as stored.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct DueRow {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub partition_key: String,
    pub available_at: i64,
    pub lease_owner: Option<String>,
    pub fence: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_lease_of_a_row_is_kept() {
        let (a1, a2, b) = (
            Lease { id: "a".into(), fence: 1 },
            Lease { id: "a".into(), fence: 2 },
            Lease { id: "b".into(), fence: 7 },
        );
        let kept = newest_per_row([&a1, &b, &a2]);
        assert_eq!(kept.len(), 2);
        assert!(kept.contains(&a2) && kept.contains(&b) && !kept.contains(&a1));
    }

    /// The statement `finish` sends finds its rows by primary key on SQLite.
    #[tokio::test]
    async fn fenced_writes_use_the_primary_key() {
        let t = crate::testing::TestDb::sqlite().await;
        let db = t.services().await.unwrap().db.clone();
        let sql = format!(
            "EXPLAIN QUERY PLAN DELETE FROM due_work WHERE lease_owner = ? AND {}",
            fenced(Backend::Sqlite, 2, 4)
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql).bind("w");
        for i in 0..4 {
            q = q.bind(format!("due_{i}"));
        }
        for i in 0..4 {
            q = q.bind(format!("due_{i}")).bind(i);
        }
        let plan: Vec<String> = match &db {
            Db::Sqlite(pool, _) => q.fetch_all(pool).await.unwrap().into_iter().map(|r| r.3).collect(),
            Db::Postgres(_) => unreachable!(),
        };
        let plan = plan.join(" | ");
        assert!(plan.contains("USING INDEX") && !plan.contains("SCAN"), "{plan}");
    }
}
