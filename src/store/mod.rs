//! Storage: SQLite (embedded, the default) and PostgreSQL behind one API.
//!
//! Each query is written once in portable SQL (`$1` placeholders, `BIGINT`
//! millisecond timestamps, `TEXT` ids and JSON) and expanded by [`with_pool!`]
//! into one concrete implementation per database, so each backend keeps its
//! native driver and types and the two can never drift apart. Where the
//! databases truly differ (claiming due work) the code branches on [`Db`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::{Error, Result};

mod api_keys;
pub mod batch;
mod sessions;
pub mod text;
mod users;

pub use api_keys::ApiKeyRow;
pub use users::UserRow;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, WriteGate),
    Postgres(PgPool),
}

/// SQLite has one writer at a time, and a writer that finds the lock taken
/// sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms …). The busy write paths
/// (ingest, outcomes, claims) queue here instead, so the lock passes from one
/// to the next without sleeping.
pub type WriteGate = std::sync::Arc<tokio::sync::Mutex<()>>;

/// Runs `$body` with `$pool` bound to the concrete pool of whichever database
/// `$db` is: the body is compiled once per backend.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, _) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub use with_pool;

/// A transaction on whichever database [`Db`] is. Store functions that must
/// commit together with others (an event, its deliveries and their due work)
/// take `&mut Tx`; the caller opens it with [`Db::begin`] and commits it.
pub enum Tx {
    /// Holds this process's SQLite write turn until it ends.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>, tokio::sync::OwnedMutexGuard<()>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$conn` bound to the concrete connection of the
/// transaction `$tx` (use `&mut **$conn` as the executor).
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite($conn, _) => $body,
            $crate::store::Tx::Postgres($conn) => $body,
        }
    };
}
pub use with_tx;

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx, _turn) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Ends the transaction writing nothing (dropping it does the same).
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx, _turn) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Db {
    /// Connects to `postgres://…` or `sqlite://…` (the SQLite file and its
    /// folder are created when missing).
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // WAL with synchronous=NORMAL survives a killed process (kill -9)
                // without losing committed transactions; only an OS crash or power
                // loss can drop the last commits.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(path) = sqlite_path(url) {
                create_private_file(std::path::Path::new(&path)).map_err(Error::internal)?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                // An embedded connection cannot drop like a socket, so the ping sqlx
                // sends on every acquire (a round trip to the connection's thread) buys nothing.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool, WriteGate::default()))
        } else {
            Err(Error::invalid("databaseUrl", "must start with sqlite:// or postgres://"))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Waits for this process's turn to write (SQLite); PostgreSQL needs no turn.
    pub async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self {
            Db::Sqlite(_, gate) => Some(gate.clone().lock_owned().await),
            Db::Postgres(_) => None,
        }
    }

    /// Opens a write transaction (on SQLite, after waiting for this process's write turn).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(pool, gate) => {
                let turn = gate.clone().lock_owned().await;
                // IMMEDIATE takes SQLite's write lock now: a transaction that reads
                // before it writes cannot then fail because another process (the CLI,
                // a second instance in a test) wrote in between; it waits its turn.
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Applies the migrations of this database's folder under `migrations/`.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// Creates the database file (and its folders) readable by its owner only,
/// when missing: it holds personal data. SQLite gives its `-wal` and `-shm`
/// files the database file's permissions.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path).map(drop)
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[cfg(unix)]
    #[test]
    fn a_new_database_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("pc-perm-{}", std::process::id()));
        let file = root.join("nested/pc.db");
        super::create_private_file(&file).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/pc.db").as_deref(), Some("data/pc.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/x.db?mode=rwc").as_deref(), Some("/tmp/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
