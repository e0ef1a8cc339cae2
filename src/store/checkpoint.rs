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
//!
//! A passive checkpoint beside busy writers never finishes (frames keep
//! coming while it copies), and only a finished one lets the log start over;
//! so the backstop fired in a writer's commit every second or so under a
//! steady load, and that commit paid the checkpoint's two `fsync`s. Now each
//! round, after the passive pass, the task copies the few frames written
//! meanwhile while it holds the write turn, if it gets the turn at once (a
//! busy moment skips it and leaves the backstop to do it): a short pause
//! for the writers instead of a long one. Measured at 500 events/s on a
//! machine whose `fsync` takes 5–15 ms: p99 9.8–13.6 ms → 4.4–5.3 ms.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use super::WriteGate;

/// Page size of a new database file (an existing one keeps its own).
const PAGE_SIZE: u32 = 1024;
/// WAL pages after which a commit checkpoints by itself (the task normally comes first).
const AUTO_CHECKPOINT_PAGES: u32 = 20_000;
/// How often the task checkpoints.
const EVERY: Duration = Duration::from_millis(500);
/// How long the task waits for the write turn to finish a checkpoint: any
/// longer and writers are queueing, and a pause would cost them more.
const TURN_WAIT: Duration = Duration::from_millis(2);

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
            let Some(gate) = alive.upgrade() else { return };
            if pool.is_closed() {
                return;
            }
            // One connection for both passes, taken before the write turn: the
            // writers must never wait for a reader to give a connection back.
            let mut conn = match pool.acquire().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "checkpoint skipped");
                    continue;
                }
            };
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *conn).await {
                tracing::debug!(error = %e, "checkpoint skipped");
                continue;
            }
            // With this process's writers held back, the pass copies what came in
            // during the first one and finishes, so the next commit starts the log over.
            let turn = tokio::time::timeout(TURN_WAIT, gate.lock()).await;
            if turn.is_ok() {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *conn).await {
                    tracing::debug!(error = %e, "finishing the checkpoint failed");
                }
            }
            drop(turn);
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::store::Db;
    use crate::testing::TestDb;

    /// The log's checkpoint sequence number (in its header), which grows each time it starts over.
    fn log_generation(wal: &str) -> u32 {
        use std::io::Read;
        let mut header = [0u8; 16];
        match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
            Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
            Err(_) => 0,
        }
    }

    /// A writer that never pauses keeps every passive checkpoint from
    /// finishing, so only the commit-time backstop (20,000 pages) would start
    /// the log over; the task finishes checkpoints while it holds the write
    /// turn, so the log starts over while it is still small.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_writes_that_never_pause_the_log_starts_over_while_small() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let t = TestDb::sqlite().await;
        let db = Db::connect(&t.url).await.unwrap();
        db.migrate().await.unwrap();
        let wal = format!("{}-wal", t.url.trim_start_matches("sqlite://"));
        let first = log_generation(&wal);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let writer = {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut tx = db.begin().await.unwrap();
                    tx.write(
                        "INSERT INTO event_types (name, description, schema, example, created_at) VALUES (?, 'x', '{}', '{}', 1)",
                        |b| {
                            b.bind(format!("steady.{i}"));
                        },
                    )
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                    i += 1;
                }
                i
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while log_generation(&wal) < first + 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let commits = writer.await.unwrap();
        let size = std::fs::metadata(&wal).unwrap().len();
        assert!(log_generation(&wal) >= first + 2, "the log never started over in {commits} commits");
        // A frame is a 1 KB page and its 24-byte header; the backstop lets it reach
        // 20,000 before it starts over. How far it gets between two rounds of the task
        // depends on the machine's speed and load (2–5 MB alone; 15.8 MB once beside
        // the other tests of this binary, whose rounds found the turn busy for 2 ms and
        // skipped): the bound only says the task, not the backstop, started it over.
        println!("the log reached {size} bytes in {commits} commits");
        assert!(size < 19_000 * 1_048, "the log reached {size} bytes before starting over ({commits} commits)");
    }

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
