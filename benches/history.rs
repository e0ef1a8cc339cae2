//! Delivery history paging: how long one page takes near the start and deep
//! in a large history, by page number (OFFSET) and by cursor (keyset).
//!
//! `cargo bench -p purple-cross-domain --bench history` — env: `BENCH_ROWS`
//! (deliveries of one webhook, default 200000), `BENCH_DB=sqlite|postgres`.

use std::time::Instant;

use domain::store::with_pool;
use domain::testing::TestDb;
use domain::webhooks::{ListQuery, WebhookInput};

fn main() {
    let rows: i64 = std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let which = std::env::var("BENCH_DB").unwrap_or_else(|_| "sqlite".into());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let db = if which == "postgres" { TestDb::postgres().await } else { TestDb::sqlite().await };
        let s = db.services().await.unwrap();
        s.seed_event_types().await.unwrap();
        let input: WebhookInput = serde_json::from_value(serde_json::json!({
            "name": "History", "url": "https://example.com/hook", "events": ["invoice.paid"]
        }))
        .unwrap();
        let w = s.create_webhook(&domain::auth::system(), input).await.unwrap();

        let began = Instant::now();
        let start = 1_800_000_000_000i64;
        let mut n = 0;
        while n < rows {
            let chunk = (rows - n).min(500);
            let values: Vec<String> = (0..chunk)
                .map(|i| {
                    let k = n + i;
                    format!(
                        "('msg_{k:012}', '{}', 'evt_{k}', 'invoice.paid', 'succeeded', 1, 5, {t}, {t})",
                        w.id,
                        t = start + k
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, status, attempt, max_attempts, created_at, updated_at) VALUES {}",
                values.join(", ")
            );
            with_pool!(&s.db, pool => sqlx::query(&sql).execute(pool).await.map(|_| ())).unwrap();
            n += chunk;
        }
        println!("{which}: {rows} deliveries of one webhook written in {:.1} s", began.elapsed().as_secs_f64());

        let limit = 50u32;
        let last_page = (rows as u32).div_ceil(limit);
        for (label, page) in [("page 1", 1), ("middle page", last_page / 2), ("last page", last_page)] {
            let q = ListQuery { page: Some(page), limit: Some(limit), ..ListQuery::default() };
            let t = Instant::now();
            let runs = 5;
            for _ in 0..runs {
                s.list_deliveries(&domain::auth::system(), Some(&w.id), &q).await.unwrap();
            }
            let by_page = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;

            // The cursor a client holds after walking to the same depth: the row just before the page.
            let skip = (page as i64 - 1) * limit as i64;
            let cursor = if skip == 0 {
                None
            } else {
                let k = rows - skip; // newest first: the skip-th newest row is number rows - skip
                Some(format!("{}_msg_{k:012}", start + k))
            };
            let q = ListQuery { limit: Some(limit), cursor, ..ListQuery::default() };
            let t = Instant::now();
            for _ in 0..runs {
                s.list_deliveries(&domain::auth::system(), Some(&w.id), &q).await.unwrap();
            }
            let by_cursor = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
            println!("{which}: {label:<12} (page {page:>5}): by page {by_page:>7.1} ms   by cursor {by_cursor:>7.1} ms   (both include counting the total)");
        }
        s.db.close().await;
        db.cleanup().await;
    });
}
