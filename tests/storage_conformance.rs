//! The storage conformance suite: every case runs on SQLite and on PostgreSQL.

use domain::auth::{PrincipalKind, Role};
use domain::testing::TestDb;
use domain::{Error, Services};

async fn each_backend<F, Fut>(case: F)
where
    F: Fn(Services) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::both().await {
        let services = db.services().await.unwrap_or_else(|e| panic!("{}: {e}", db.name));
        eprintln!("-- on {}", db.name);
        case(services.clone()).await;
        services.db.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_db_is_ready() {
    each_backend(|s| async move {
        s.db.migrate().await.expect("second migrate is a no-op");
        s.db.ping().await.expect("ping");
    })
    .await;
}

#[tokio::test]
async fn users_login_sessions_and_logout() {
    each_backend(|s| async move {
        assert_eq!(s.user_count().await.unwrap(), 0);
        let u = s.create_user("Vet@Example.com", "correct horse battery", Role::Admin).await.unwrap();
        assert_eq!(u.email, "vet@example.com");
        assert_eq!(s.user_count().await.unwrap(), 1);

        let dup = s.create_user("vet@example.com", "another password!", Role::Staff).await;
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
    })
    .await;
}

#[tokio::test]
async fn invalid_users_report_every_field() {
    each_backend(|s| async move {
        match s.create_user("not-an-email", "short", Role::Staff).await {
            Err(Error::Validation(errs)) => {
                let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["email", "password"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
        assert_eq!(s.user_count().await.unwrap(), 0, "nothing half-written");
    })
    .await;
}

#[tokio::test]
async fn api_keys_authenticate_until_revoked() {
    each_backend(|s| async move {
        let created = s.create_api_key("ci", Role::Staff).await.unwrap();
        let p = s.principal_for_api_key(&created.key).await.unwrap().expect("key valid");
        assert_eq!((p.name.as_str(), p.role, p.kind), ("ci", Role::Staff, PrincipalKind::ApiKey));
        assert!(s.principal_for_api_key("pck_wrong").await.unwrap().is_none());
        assert!(s.principal_for_api_key("").await.unwrap().is_none());

        let listed = s.list_api_keys().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(created.key.starts_with(&listed[0].prefix));
        assert!(!serde_json::to_string(&listed).unwrap().contains(&created.key), "plaintext never listed");

        s.revoke_api_key(&created.id).await.unwrap();
        assert!(s.principal_for_api_key(&created.key).await.unwrap().is_none());
        assert!(matches!(s.revoke_api_key(&created.id).await, Err(Error::NotFound(_))));
    })
    .await;
}

#[tokio::test]
async fn due_work_claims_leases_and_frees_only_stale_ones() {
    use domain::due::{ClaimRequest, KIND_DELIVERY};
    use domain::store::with_pool;
    each_backend(|s| async move {
        let now = 1_800_000_000_000i64;
        for (id, owner) in [
            ("due_free", None),
            ("due_dead", Some("inst_gone/worker".to_string())),
            ("due_mine", Some(s.lease_owner("test"))),
        ] {
            with_pool!(&s.db, pool => sqlx::query(
                "INSERT INTO due_work (id, kind, partition_key, due_at, lease_owner, lease_expires_at) VALUES ($1, $2, 'wh', $3, $4, $5)")
                .bind(id).bind(KIND_DELIVERY).bind(now).bind(&owner).bind(owner.as_ref().map(|_| now + 60_000))
                .execute(pool).await.map(|_| ())).unwrap();
        }
        let owner = s.lease_owner("worker");
        let claim = |limit| ClaimRequest {
            kind: KIND_DELIVERY,
            owner: &owner,
            now,
            lease_ms: 60_000,
            limit,
            skip_partitions: &[],
        };
        // Leased rows are not claimable until their lease ends.
        let first = s.db.claim_due(&claim(10)).await.unwrap();
        assert_eq!(first.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["due_free"]);
        assert!(s.db.claim_due(&claim(10)).await.unwrap().is_empty(), "claimed once only");

        // At start-up only leases of other processes are freed: not the test send this
        // process made a moment ago, nor what its own worker claimed.
        assert_eq!(s.db.release_stale_leases(KIND_DELIVERY, &s.instance).await.unwrap(), 1);
        let again = s.db.claim_due(&claim(10)).await.unwrap();
        assert_eq!(again.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["due_dead"]);
    })
    .await;
}
