//! Test support shared by this crate's and the server's test suites: a fresh,
//! migrated database of each kind, and [`per_backend!`](crate::per_backend),
//! which turns one test case into one test per database.

use crate::crypto::MasterKey;
use crate::store::Db;
use crate::{Result, Services};

/// The PostgreSQL server the suites use; `PURPLE_CROSS_TEST_POSTGRES` overrides it.
pub fn postgres_admin_url() -> String {
    std::env::var("PURPLE_CROSS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database that is dropped (PostgreSQL) or deleted (SQLite) by [`TestDb::cleanup`].
pub struct TestDb {
    pub url: String,
    pub name: &'static str,
    /// The database's master key: every `services()` opens its secrets with it, as a restarted process would.
    master_key: String,
    cleanup: Option<(String, String)>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pc-{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = TempDir::new("sqlite");
        let url = format!("sqlite://{}", dir.0.join("test.db").display());
        TestDb { url, name: "sqlite", master_key: MasterKey::generate_encoded(), cleanup: None, _dir: Some(dir) }
    }

    /// A new, empty PostgreSQL database. Panics when PostgreSQL is unreachable:
    /// the suites must run against both databases, never silently one.
    pub async fn postgres() -> Self {
        let admin = postgres_admin_url();
        let db_name = format!("pc_test_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed by the test suite: {e}"));
        sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(&pool).await.expect("create test database");
        pool.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
        TestDb {
            url: format!("{base}/{db_name}"),
            name: "postgres",
            master_key: MasterKey::generate_encoded(),
            cleanup: Some((admin, db_name)),
            _dir: None,
        }
    }

    pub async fn services(&self) -> Result<Services> {
        let db = Db::connect(&self.url).await?;
        db.migrate().await?;
        let key = MasterKey::from_base64(&self.master_key)?;
        let s = Services::new(db, key);
        s.seed_email_templates().await?;
        Ok(s)
    }

    /// Drops the database now (dropping the `TestDb` does the same, also when a test panics).
    pub async fn cleanup(mut self) {
        if let Some((admin, name)) = self.cleanup.take() {
            drop_database(&admin, &name).await;
        }
    }
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await;
        pool.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.cleanup.take() else { return };
        // Drop runs outside async (and during a panic): a thread with its own runtime does the work.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(drop_database(&admin, &name));
            }
        })
        .join();
    }
}

/// One test per database from one test case: for each `case`, an
/// `async fn case(db: TestDb)` in the calling module, this defines
/// `sqlite::case` and `postgres::case`. A SQLite failure cannot hide the
/// PostgreSQL result, and each database is dropped even when its test panics.
#[macro_export]
macro_rules! per_backend {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::testing::TestDb::sqlite().await).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::testing::TestDb::postgres().await).await
                }
            )+
        }
    };
}
