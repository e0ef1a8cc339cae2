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

        assert!(matches!(s.login("vet@example.com", "wrong password").await, Err(Error::Unauthorized)));
        assert!(matches!(s.login("nobody@example.com", "whatever").await, Err(Error::Unauthorized)));

        let (token, who) = s.login("VET@example.com", "correct horse battery").await.unwrap();
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

/// The two migration sets define the same tables with the same columns.
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
);
