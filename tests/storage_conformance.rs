//! The storage conformance suite: every case runs on SQLite and on PostgreSQL
//! (the queue's own cases are in `due_queue.rs`), and both databases' migrations
//! define the same schema.

use domain::auth::{PrincipalKind, Role};
use domain::testing::TestDb;
use domain::{Error, Services};

async fn services(db: &TestDb) -> Services {
    db.services().await.unwrap_or_else(|e| panic!("{}: {e}", db.name))
}

fn admin() -> domain::auth::Principal {
    domain::auth::system()
}

async fn migrations_are_idempotent_and_db_is_ready(db: TestDb) {
    let s = services(&db).await;
    {
        s.db.migrate().await.expect("second migrate is a no-op");
        s.db.ping().await.expect("ping");
    }
}

async fn users_login_sessions_and_logout(db: TestDb) {
    let s = services(&db).await;
    {
        assert_eq!(s.user_count().await.unwrap(), 0);
        let u = s.create_user(&admin(), "Vet@Example.com", "correct horse battery", Role::Admin).await.unwrap();
        assert_eq!(u.email, "vet@example.com");
        assert_eq!(s.user_count().await.unwrap(), 1);

        let dup = s.create_user(&admin(), "vet@example.com", "another password!", Role::Staff).await;
        match dup {
            Err(Error::Validation(errs)) => assert_eq!(errs[0].field, "email"),
            other => panic!("duplicate email must be refused, got {other:?}"),
        }

        assert!(matches!(s.login("vet@example.com", "wrong password", None).await, Err(Error::Unauthorized)));
        assert!(matches!(s.login("nobody@example.com", "whatever", None).await, Err(Error::Unauthorized)));

        let (token, who) = s.login("VET@example.com", "correct horse battery", None).await.unwrap();
        assert_eq!(who.role, Role::Admin);
        let p = s.principal_for_session(&token).await.unwrap().expect("session valid");
        assert_eq!(p.name, "vet@example.com");
        assert_eq!(p.kind, PrincipalKind::User);
        assert!(s.principal_for_session("forged-token").await.unwrap().is_none());

        s.logout(&token).await.unwrap();
        assert!(s.principal_for_session(&token).await.unwrap().is_none());
    }
}

async fn invalid_users_report_every_field(db: TestDb) {
    let s = services(&db).await;
    {
        match s.create_user(&admin(), "not-an-email", "short", Role::Staff).await {
            Err(Error::Validation(errs)) => {
                let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["email", "password"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
        assert_eq!(s.user_count().await.unwrap(), 0, "nothing half-written");
    }
}

async fn api_keys_authenticate_until_revoked(db: TestDb) {
    let s = services(&db).await;
    {
        let created = s.create_api_key(&admin(), "ci", Role::Staff).await.unwrap();
        let p = s.principal_for_api_key(&created.key).await.unwrap().expect("key valid");
        assert_eq!((p.name.as_str(), p.role, p.kind), ("ci", Role::Staff, PrincipalKind::ApiKey));
        assert!(s.principal_for_api_key("pck_wrong").await.unwrap().is_none());
        assert!(s.principal_for_api_key("").await.unwrap().is_none());

        let listed = s.list_api_keys(&admin()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(created.key.starts_with(&listed[0].prefix));
        assert!(!serde_json::to_string(&listed).unwrap().contains(&created.key), "plaintext never listed");

        s.revoke_api_key(&admin(), &created.id).await.unwrap();
        assert!(s.principal_for_api_key(&created.key).await.unwrap().is_none());
        assert!(matches!(s.revoke_api_key(&admin(), &created.id).await, Err(Error::NotFound(_))));
    }
}

/// Upgrading a database that already has deliveries (0002's schema) keeps
/// every delivery, its exact body and its due work, including a delivery
/// whose event row retention had already deleted.
async fn migrating_existing_deliveries_keeps_them_and_their_bodies(db: TestDb) {
    use domain::store::{with_pool, Db};
    let conn = Db::connect(&db.url).await.unwrap();
    let mut old = match &conn {
        Db::Sqlite(..) => sqlx::migrate!("./migrations/sqlite"),
        Db::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
    };
    old.migrations = std::borrow::Cow::Owned(old.migrations.iter().filter(|m| m.version <= 2).cloned().collect());
    with_pool!(&conn, pool => old.run(pool).await).unwrap();
    let body = r#"{"type":"invoice.paid","timestamp":"2026-11-01T00:00:00.000Z","data":{"id":"inv_1"}}"#;
    let orphan = r#"{"type":"invoice.paid","timestamp":"2026-10-01T00:00:00.000Z","data":{"id":"inv_0"}}"#;
    with_pool!(&conn, pool => async {
        sqlx::query("INSERT INTO webhooks (id, name, url, events, secret_sealed, active, headers, created_at, updated_at)
                     VALUES ('wh_1', 'n', 'http://127.0.0.1:9/x', '[\"invoice.paid\"]', 'x', TRUE, '{}', 1, 1)")
            .execute(pool).await?;
        sqlx::query("INSERT INTO events (id, type, data, deliveries, workflow_executions, created_at)
                     VALUES ('evt_1', 'invoice.paid', '{\"id\":\"inv_1\"}', 1, 0, 10)").execute(pool).await?;
        for (id, event, payload, status) in [("msg_1", "evt_1", body, "pending"), ("msg_0", "evt_gone", orphan, "pending")] {
            sqlx::query("INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, payload, status, attempt, max_attempts, created_at, updated_at)
                         VALUES ($1, 'wh_1', $2, 'invoice.paid', $3, $4, 1, 5, 5, 5)")
                .bind(id).bind(event).bind(payload).bind(status).execute(pool).await?;
            sqlx::query("INSERT INTO due_work (id, kind, partition_key, due_at, lease_owner, lease_expires_at)
                         VALUES ($1, 'delivery', 'wh_1', 100, 'inst_old/worker', 200)").bind(id).execute(pool).await?;
        }
        Ok::<_, sqlx::Error>(())
    }.await)
    .unwrap();
    conn.migrate().await.unwrap();
    let pending = conn.pending_deliveries(&["msg_1", "msg_0"]).await.unwrap();
    let bodies: std::collections::BTreeMap<String, String> = pending.into_iter().map(|d| (d.id, d.body)).collect();
    assert_eq!(bodies.get("msg_1").map(String::as_str), Some(body), "{}", db.name);
    assert_eq!(bodies.get("msg_0").map(String::as_str), Some(orphan), "{}: kept on a stand-in event", db.name);
    let row = conn.due_row("delivery", "msg_1").await.unwrap().unwrap();
    assert_eq!(
        (row.available_at, row.lease_owner.as_deref(), row.partition_key.as_str()),
        (200, Some("inst_old/worker"), "wh_1")
    );
    conn.close().await;
}

/// The two migration sets define the same tables with the same columns.
async fn webhook_headers_are_sealed_at_rest_including_older_rows(db: TestDb) {
    use domain::store::with_pool;
    let s = services(&db).await;
    s.seed_event_types().await.unwrap();
    let input = serde_json::from_value(serde_json::json!({"name": "Creds", "url": "https://example.com/hook",
        "events": ["invoice.paid"], "headers": {"Authorization": "Bearer receiver-token"}}))
    .unwrap();
    let w = s.create_webhook(&admin(), input).await.unwrap();
    let stored = || {
        let db = s.db.clone();
        let id = w.id.clone();
        async move {
            with_pool!(&db, pool => sqlx::query_scalar::<_, String>("SELECT headers FROM webhooks WHERE id = $1")
                .bind(id).fetch_one(pool).await)
            .unwrap()
        }
    };
    assert!(!stored().await.contains("receiver-token"), "{}: sealed on write", db.name);
    // A row from before headers were sealed is sealed at start-up, and reads the same.
    with_pool!(&s.db, pool => sqlx::query("UPDATE webhooks SET headers = $2 WHERE id = $1")
        .bind(&w.id).bind(r#"{"Authorization":"Bearer receiver-token"}"#).execute(pool).await.map(|_| ()))
    .unwrap();
    assert_eq!(s.get_webhook(&admin(), &w.id).await.unwrap().headers["Authorization"], "Bearer receiver-token");
    assert_eq!(s.seal_plain_headers().await.unwrap(), 1, "{}", db.name);
    assert!(!stored().await.contains("receiver-token"), "{}", db.name);
    assert_eq!(s.seal_plain_headers().await.unwrap(), 0);
    assert_eq!(s.get_webhook(&admin(), &w.id).await.unwrap().headers["Authorization"], "Bearer receiver-token");
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    use domain::store::with_pool;
    let (lite, pg) = (TestDb::sqlite().await, TestDb::postgres().await);
    let (lite_s, pg_s) = (services(&lite).await, services(&pg).await);
    let lite_cols: Vec<(String, String)> = with_pool!(&lite_s.db, pool => sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' ORDER BY 1, 2")
        .fetch_all(pool).await)
    .unwrap();
    let pg_cols: Vec<(String, String)> = with_pool!(&pg_s.db, pool => sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1, 2")
        .fetch_all(pool).await)
    .unwrap();
    assert!(lite_cols.len() > 20, "the schema was read");
    assert_eq!(lite_cols, pg_cols, "SQLite and PostgreSQL schemas differ");
    let index_names = |rows: Vec<(String,)>| rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
    let lite_idx = index_names(
        with_pool!(&lite_s.db, pool => sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
        .fetch_all(pool).await)
        .unwrap(),
    );
    let pg_idx = index_names(
        with_pool!(&pg_s.db, pool => sqlx::query_as(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey'
         AND indexname NOT LIKE '%_key' AND tablename <> '_sqlx_migrations' ORDER BY 1")
        .fetch_all(pool).await)
        .unwrap(),
    );
    assert_eq!(lite_idx, pg_idx, "SQLite and PostgreSQL indexes differ");
}

domain::per_backend!(
    migrations_are_idempotent_and_db_is_ready,
    users_login_sessions_and_logout,
    invalid_users_report_every_field,
    api_keys_authenticate_until_revoked,
    migrating_existing_deliveries_keeps_them_and_their_bodies,
    webhook_headers_are_sealed_at_rest_including_older_rows,
);
