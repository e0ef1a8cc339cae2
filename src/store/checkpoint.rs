//! How SQLite's write-ahead log is kept small without slowing commits.
//!
//! A commit writes every page it changed to the WAL, whole: with 4 KB pages
//! one delivery (its event, delivery and due row, then its attempt and
//! outcome) wrote about 100 KB in small transactions. New databases use
//! 1 KB pages, a quarter of that. And by default the commit that fills the
//! WAL to 1,000 pages copies it back into the database file and syncs,
//! while it holds the write turn that every other writer waits for; here a
//! task does that every half second beside the writers (a passive
//! checkpoint takes no write lock), and the automatic one only runs as a
//! backstop at 20,000 pages. Measured at 500 events/s (`benches/delivery.rs`):
//! p99 6.6 ms → 2.7 ms, CPU 1.34 → 1.18 ms per event.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use super::WriteGate;

/// Page size of a new database file (an existing one keeps its own).
const PAGE_SIZE: u32 = 1024;
/// WAL pages after which a commit checkpoints by itself (the task normally comes first).
const AUTO_CHECKPOINT_PAGES: u32 = 20_000;
/// How often the task checkpoints.
const EVERY: Duration = Duration::from_millis(500);

pub(super) fn tune(opts: SqliteConnectOptions) -> SqliteConnectOptions {
    opts.page_size(PAGE_SIZE).pragma("wal_autocheckpoint", AUTO_CHECKPOINT_PAGES.to_string())
}

/// Checkpoints `pool`'s database every [`EVERY`] until the pool is closed or
/// every `Db` holding `gate` is gone.
pub(super) fn start(pool: SqlitePool, gate: &WriteGate) {
    let alive = std::sync::Arc::downgrade(gate);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 || pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!(error = %e, "checkpoint skipped");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::store::Db;
    use crate::testing::TestDb;

    #[tokio::test]
    async fn a_new_database_has_small_pages_and_checkpoints_in_the_background() {
        let t = TestDb::sqlite().await;
        let db = Db::connect(&t.url).await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool, _) = &db else { unreachable!() };
        let pragma = |name: &'static str| async move {
            sqlx::query_scalar::<_, i64>(&format!("PRAGMA {name}")).fetch_one(pool).await.unwrap()
        };
        assert_eq!(pragma("page_size").await, 1024);
        assert_eq!(pragma("wal_autocheckpoint").await, 20_000);
        let mut tx = db.begin().await.unwrap();
        for i in 0..50 {
            tx.write("INSERT INTO event_types (name, description, schema, example, created_at) VALUES (?, 'x', '{}', '{}', 1)", |b| {
                b.bind(format!("ckpt.t{i}"));
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        // Only a checkpoint puts the rows in the database file itself (the automatic one
        // waits for 20,000 pages): a copy of the file without its log must come to hold them.
        let file = t.url.trim_start_matches("sqlite://").to_string();
        let copy = format!("{file}.copy");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            std::fs::copy(&file, &copy).unwrap();
            let seen =
                sqlx::SqlitePool::connect(&format!("sqlite://{copy}?immutable=true")).await.map(|p| async move {
                    let n = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM event_types WHERE name LIKE 'ckpt.%'")
                        .fetch_one(&p)
                        .await
                        .unwrap_or(0);
                    p.close().await;
                    n
                });
            let seen = match seen {
                Ok(f) => f.await,
                Err(_) => 0,
            };
            if seen == 50 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the log was not copied back into the file ({seen} rows)");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
