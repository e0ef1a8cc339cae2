//! Transactions behave the same on both databases, although each keeps its
//! writes and sends them together (SQLite as one script, `store::script`;
//! PostgreSQL as one statement of chained CTEs, `store::chain`): a
//! transaction reads its own writes, writes to the same rows apply in order,
//! foreign keys hold, a failure at the commit writes nothing and leaves no
//! connection inside a transaction, a dropped one writes nothing, and a
//! statement bound with the wrong number of arguments is refused.

use domain::store::{with_pool, Db, Tx};
use domain::testing::TestDb;

async fn db(t: &TestDb) -> Db {
    t.services().await.unwrap_or_else(|e| panic!("{}: {e}", t.name)).db.clone()
}

const INSERT: &str =
    "INSERT INTO event_types (name, description, schema, example, strict, builtin, created_at) VALUES (?, ?, '{}', '{}', FALSE, FALSE, ?)";

async fn insert(tx: &mut Tx, name: &str) -> domain::Result<()> {
    tx.write(INSERT, |b| {
        b.text(name).text("test").bind(1_i64);
    })
    .await
}

async fn names(db: &Db, prefix: &str) -> Vec<String> {
    let like = format!("{prefix}%");
    with_pool!(db, pool => sqlx::query_scalar::<_, String>("SELECT name FROM event_types WHERE name LIKE $1 ORDER BY name")
        .bind(&like).fetch_all(pool).await)
    .unwrap()
}

async fn kept_writes_are_read_back_and_committed(t: TestDb) {
    let db = db(&t).await;
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, "tx.one").await.unwrap();
    insert(&mut tx, "tx.two").await.unwrap();
    let seen: Vec<(String,)> = tx
        .fetch_all("SELECT name FROM event_types WHERE name LIKE ? ORDER BY name", |b| {
            b.text("tx.%");
        })
        .await
        .unwrap();
    assert_eq!(seen, [("tx.one".to_string(),), ("tx.two".to_string(),)], "a transaction reads its own writes");
    assert!(names(&db, "tx.").await.is_empty(), "nothing is visible before the commit");
    insert(&mut tx, "tx.three").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names(&db, "tx.").await, ["tx.one", "tx.three", "tx.two"]);
    // A transaction that writes nothing commits at no cost, and one that only reads ends cleanly.
    db.begin().await.unwrap().commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let n: Vec<(i64,)> = tx
        .fetch_all("SELECT COUNT(*) FROM event_types WHERE name LIKE ?", |b| {
            b.text("tx.%");
        })
        .await
        .unwrap();
    assert_eq!(n, [(3,)]);
    tx.commit().await.unwrap();
}

async fn a_failed_commit_writes_nothing_and_leaves_no_transaction_open(t: TestDb) {
    let db = db(&t).await;
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, "dup.taken").await.unwrap();
    tx.commit().await.unwrap();
    // More rounds than the pool has connections: each must come back clean.
    for round in 0..10 {
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, &format!("dup.new{round}")).await.unwrap();
        // On PostgreSQL the duplicate fails here, on SQLite at the commit; either way, it fails.
        let failed = match insert(&mut tx, "dup.taken").await {
            Err(e) => e,
            Ok(()) => tx.commit().await.expect_err("a duplicate key must fail the commit"),
        };
        assert!(failed.is_unique_violation(), "{failed:?}");
        assert_eq!(names(&db, "dup.").await, ["dup.taken"], "round {round}: nothing of the failed transaction");
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, &format!("ok.{round}")).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(names(&db, "ok.").await.len(), 10);
}

async fn a_dropped_transaction_writes_nothing(t: TestDb) {
    let db = db(&t).await;
    for round in 0..6 {
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, &format!("drop.{round}")).await.unwrap();
        // Sent, so the transaction is open on its connection when it is dropped.
        let _: Vec<(i64,)> = tx
            .fetch_all("SELECT COUNT(*) FROM event_types WHERE name = ?", |b| {
                b.text("drop.x");
            })
            .await
            .unwrap();
        drop(tx);
        // The next transaction waits for the rollback (SQLite: the write turn is held until then).
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, &format!("kept.{round}")).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert!(names(&db, "drop.").await.is_empty());
    assert_eq!(names(&db, "kept.").await.len(), 6);
}

async fn a_miscounted_statement_is_refused_and_fails_the_transaction(t: TestDb) {
    let db = db(&t).await;
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, "miscount.first").await.unwrap();
    let refused = tx
        .write(INSERT, |b| {
            b.text("miscount.short");
        })
        .await;
    assert!(refused.is_err(), "two placeholders left unbound");
    // The kept script or chain can no longer be trusted: nothing more is taken, nothing commits.
    assert!(insert(&mut tx, "miscount.after").await.is_err());
    assert!(tx.commit().await.is_err());
    assert!(names(&db, "miscount.").await.is_empty());
}

/// PostgreSQL sends kept writes as one statement whose parts see one
/// snapshot: a write to a table already in it must go after what came before.
async fn writes_to_the_same_rows_apply_in_order(t: TestDb) {
    let db = db(&t).await;
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, "order.row").await.unwrap();
    for suffix in ["+a", "+b"] {
        tx.write("UPDATE event_types SET description = description || ? WHERE name = ?", |b| {
            b.text(suffix).text("order.row");
        })
        .await
        .unwrap();
    }
    insert(&mut tx, "order.other").await.unwrap();
    tx.commit().await.unwrap();
    let description = with_pool!(&db, pool => sqlx::query_scalar::<_, String>(
        "SELECT description FROM event_types WHERE name = 'order.row'").fetch_one(pool).await)
    .unwrap();
    assert_eq!(description, "test+a+b", "each update saw the insert and the update before it");
    assert_eq!(names(&db, "order.").await, ["order.other", "order.row"]);
}

const USER: &str = "INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, 'x', 'staff', 1)";
const SESSION: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, 1, 2)";

/// A row and the rows referring to it may be written together; a reference
/// to nothing fails the commit and writes nothing, the rows before it included.
async fn foreign_keys_hold_across_kept_writes(t: TestDb) {
    let db = db(&t).await;
    let mut tx = db.begin().await.unwrap();
    tx.write(USER, |b| {
        b.text("usr_fk1").text("fk1@example.com");
    })
    .await
    .unwrap();
    tx.write(SESSION, |b| {
        b.text("hash_fk1").text("usr_fk1");
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    tx.write(USER, |b| {
        b.text("usr_fk2").text("fk2@example.com");
    })
    .await
    .unwrap();
    let failed = match tx
        .write(SESSION, |b| {
            b.text("hash_fk2").text("usr_nobody");
        })
        .await
    {
        Err(e) => e,
        Ok(()) => tx.commit().await.expect_err("a session of no user must fail the commit"),
    };
    assert!(failed.to_string().to_lowercase().contains("foreign key"), "{failed}");
    let users = with_pool!(&db, pool => sqlx::query_scalar::<_, String>(
        "SELECT id FROM users WHERE id LIKE 'usr_fk%' ORDER BY id").fetch_all(pool).await)
    .unwrap();
    assert_eq!(users, ["usr_fk1"], "nothing of the failed transaction");
}

domain::per_backend!(
    kept_writes_are_read_back_and_committed,
    a_failed_commit_writes_nothing_and_leaves_no_transaction_open,
    a_dropped_transaction_writes_nothing,
    a_miscounted_statement_is_refused_and_fails_the_transaction,
    writes_to_the_same_rows_apply_in_order,
    foreign_keys_hold_across_kept_writes,
);
