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
pub mod chain;
mod checkpoint;
pub mod script;
mod sessions;
pub mod text;
mod users;

pub use api_keys::ApiKeyRow;
pub use users::UserRow;

#[derive(Clone, Debug)]
pub enum Db {
    /// Reads go to the pool; transactions and the other busy writes to the writer.
    Sqlite(SqlitePool, Writer),
    Postgres(PgPool),
}

/// SQLite has one writer at a time, and a writer that finds the lock taken
/// sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms …). The busy write paths
/// (ingest, outcomes, claims) queue for this process's turn instead, so the
/// lock passes from one to the next without sleeping. They also all write on
/// the same connection: a connection drops its whole page cache when it
/// finds the database changed by another one, so writes spread over the
/// pool read back from the file what the last writer had just written
/// (measured flat out: 7 page reads per delivery).
#[derive(Clone, Debug)]
pub struct Writer {
    turn: WriteGate,
    conn: SqlitePool,
}

pub type WriteGate = std::sync::Arc<tokio::sync::Mutex<()>>;

/// This process's write turn on SQLite and the writer connection; derefs to the connection.
pub struct WriteTurn {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    turn: tokio::sync::OwnedMutexGuard<()>,
}

impl std::ops::Deref for WriteTurn {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteTurn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl Writer {
    /// Waits for this process's turn, then takes the writer connection (see [`with_writer!`]).
    pub async fn acquire(&self) -> std::result::Result<WriteTurn, sqlx::Error> {
        let turn = self.turn.clone().lock_owned().await;
        Ok(WriteTurn { conn: self.conn.acquire().await?, turn })
    }
}

/// Runs `$body` with `$conn` bound to a connection that may write: on
/// SQLite the writer, held with this process's write turn; on PostgreSQL one
/// from the pool (use `&mut *$conn` as the executor).
#[macro_export]
macro_rules! with_writer {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(_, writer) => {
                let mut $conn = writer.acquire().await?;
                $body
            }
            $crate::store::Db::Postgres(pool) => {
                let mut $conn = pool.acquire().await?;
                $body
            }
        }
    };
}
pub use with_writer;

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
/// Writes made through [`Tx::write`] are sent with the next statement that
/// reads, or with the commit (see [`script`] and [`chain`]).
pub enum Tx {
    /// Holds this process's SQLite write turn until it ends.
    Sqlite(script::SqliteTx),
    /// Opens (`BEGIN`) only when it first reads.
    Postgres(chain::PgTx),
}

/// Runs `$body` with `$conn` bound to the concrete connection of the
/// transaction `$tx` (use `&mut **$conn` as the executor). On SQLite the
/// writes kept so far are sent first.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(script) => match script.flush().await {
                Ok($conn) => $body,
                Err(e) => Err(e.into()),
            },
            $crate::store::Tx::Postgres(chain) => match chain.flush().await {
                Ok($conn) => $body,
                Err(e) => Err(e.into()),
            },
        }
    };
}
pub use with_tx;

/// Binds the arguments of one statement of [`Tx::write`] or [`Tx::fetch_all`], in order.
pub struct Binder<'a> {
    args: BinderArgs<'a>,
    bound: usize,
    error: Option<sqlx::error::BoxDynError>,
}

enum BinderArgs<'a> {
    Sqlite(&'a mut sqlx::sqlite::SqliteArguments<'static>),
    Postgres(&'a mut sqlx::postgres::PgArguments),
}

impl Binder<'_> {
    /// Binds the next `?` (owned values: on SQLite they wait for the script).
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: sqlx::Encode<'static, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Encode<'static, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send
            + 'static,
    {
        use sqlx::Arguments;
        let added = match &mut self.args {
            BinderArgs::Sqlite(a) => a.add(value),
            BinderArgs::Postgres(a) => a.add(value),
        };
        self.bound += 1;
        if let (Err(e), None) = (added, &self.error) {
            self.error = Some(e);
        }
        self
    }

    /// Binds text (copied).
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.bind(value.to_owned())
    }

    /// Binds text or NULL (copied).
    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        self.bind(value.map(str::to_owned))
    }

    /// Binds one statement's arguments through `bind` and checks them against `sql`.
    fn fill(args: BinderArgs<'_>, sql: &str, bind: impl FnOnce(&mut Binder)) -> std::result::Result<(), sqlx::Error> {
        let mut b = Binder { args, bound: 0, error: None };
        bind(&mut b);
        b.check(sql)
    }

    fn check(self, sql: &str) -> std::result::Result<(), sqlx::Error> {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e));
        }
        let wanted = script::placeholders(sql);
        if wanted != self.bound {
            // A miscount would shift every later argument of a SQLite script.
            return Err(sqlx::Error::Protocol(format!("{wanted} placeholders but {} arguments in {sql}", self.bound)));
        }
        Ok(())
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// A write whose answer is not needed: `sql` with `?` placeholders, bound
    /// in order by `bind`. Both databases keep it for the next statement
    /// that reads, or the commit (SQLite in a script, PostgreSQL in a chain
    /// of CTEs). Its errors may therefore surface there: callers only pass
    /// them on.
    pub async fn write(&mut self, sql: &str, bind: impl FnOnce(&mut Binder)) -> Result<()> {
        match self {
            Tx::Sqlite(s) => {
                if let Err(e) = Binder::fill(BinderArgs::Sqlite(s.keep(sql)?), sql, bind) {
                    s.fail().await;
                    return Err(e.into());
                }
            }
            Tx::Postgres(pg) => match pg.make_room(sql).await? {
                Some(args) => {
                    if let Err(e) = Binder::fill(BinderArgs::Postgres(args), sql, bind) {
                        pg.fail().await;
                        return Err(e.into());
                    }
                    pg.kept(sql);
                }
                None => {
                    let mut args = sqlx::postgres::PgArguments::default();
                    if let Err(e) = Binder::fill(BinderArgs::Postgres(&mut args), sql, bind) {
                        pg.fail().await;
                        return Err(e.into());
                    }
                    let conn = pg.flush().await?;
                    sqlx::query_with(&script::numbered(sql), args).execute(&mut **conn).await?;
                }
            },
        }
        Ok(())
    }

    /// The rows of `sql` (`?` placeholders bound in order by `bind`); on
    /// SQLite sent in one script with the writes kept before it.
    pub async fn fetch_all<T>(&mut self, sql: &str, bind: impl FnOnce(&mut Binder)) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        Ok(match self {
            Tx::Sqlite(s) => {
                if let Err(e) = Binder::fill(BinderArgs::Sqlite(s.args()?), sql, bind) {
                    s.fail().await;
                    return Err(e.into());
                }
                s.fetch_all(sql).await?
            }
            Tx::Postgres(pg) => {
                let mut args = sqlx::postgres::PgArguments::default();
                Binder::fill(BinderArgs::Postgres(&mut args), sql, bind)?;
                let conn = pg.flush().await?;
                sqlx::query_as_with::<_, T, _>(&script::numbered(sql), args).fetch_all(&mut **conn).await?
            }
        })
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Ends the transaction writing nothing (dropping it does the same).
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
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
            // sqlx pings each connection before handing it out: a round trip per
            // transaction, and what replaces a connection a PostgreSQL restart cut.
            // (Pinging only connections idle for a second measured no faster here.)
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
            let opts = checkpoint::tune(opts);
            if let Some(path) = sqlite_path(url) {
                create_private_file(std::path::Path::new(&path)).map_err(Error::internal)?;
            }
            // An embedded connection cannot drop like a socket, so the ping sqlx
            // sends on every acquire (a round trip to the connection's thread) buys nothing.
            let pool_of = |n| {
                SqlitePoolOptions::new()
                    .max_connections(n)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(10))
            };
            let pool = pool_of(4).connect_with(opts.clone()).await?;
            let writer = Writer { turn: WriteGate::default(), conn: pool_of(1).connect_with(opts).await? };
            checkpoint::start(pool.clone(), &writer.turn);
            Ok(Db::Sqlite(pool, writer))
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

    /// Starts a write transaction (on SQLite, after waiting for this process's
    /// write turn; on PostgreSQL `BEGIN` is sent at its first read, if any).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(_, writer) => {
                // The script starts with BEGIN IMMEDIATE, which takes SQLite's write
                // lock at once: a transaction that reads before it writes cannot then
                // fail because another process (the CLI, a second instance in a test)
                // wrote in between; it waits its turn.
                let WriteTurn { conn, turn } = writer.acquire().await?;
                Tx::Sqlite(script::SqliteTx::new(conn, turn))
            }
            Db::Postgres(pool) => Tx::Postgres(chain::PgTx::new(pool.acquire().await?)),
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
        if let Db::Sqlite(_, writer) = self {
            writer.conn.close().await;
        }
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

    /// A TEMP table is private to the connection that made it, so seeing
    /// one made in an earlier transaction shows that both ran on one connection.
    #[tokio::test]
    async fn every_write_of_a_process_goes_through_one_sqlite_connection() {
        use super::Db;
        let t = crate::testing::TestDb::sqlite().await;
        let db = Db::connect(&t.url).await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool, _) = &db else { unreachable!() };
        // Open every read connection, so that a write taken from that pool would land on any of them.
        let all: Vec<_> = futures::future::try_join_all((0..4).map(|_| pool.acquire())).await.unwrap();
        drop(all);

        let mut tx = db.begin().await.unwrap();
        tx.write("CREATE TEMP TABLE writer_probe (x INTEGER)", |_| {}).await.unwrap();
        tx.commit().await.unwrap();
        async fn insert_on_the_writer(db: &Db) -> crate::Result<()> {
            with_writer!(db, conn => sqlx::query("INSERT INTO temp.writer_probe VALUES (1)")
                .execute(&mut *conn).await.map(|_| ()))?;
            Ok(())
        }
        for i in 0..8 {
            insert_on_the_writer(&db).await.unwrap();
            let mut tx = db.begin().await.unwrap();
            let seen: Vec<(i64,)> =
                tx.fetch_all("SELECT COUNT(*) FROM temp.writer_probe", |_| {}).await.expect("the writer's own table");
            tx.commit().await.unwrap();
            assert_eq!(seen[0].0, i + 1);
            db.ping().await.unwrap();
        }
        db.close().await;
    }

    /// A PostgreSQL restart cuts every pooled connection; the next caller
    /// must get a working one, not the error of a dead one.
    #[tokio::test]
    async fn a_postgres_connection_cut_while_idle_is_replaced() {
        use sqlx::Connection;
        let t = crate::testing::TestDb::postgres().await;
        let db = super::Db::connect(&t.url).await.unwrap();
        db.ping().await.unwrap();
        let name = t.url.rsplit('/').next().unwrap().to_string();
        let mut admin = sqlx::PgConnection::connect(&t.url).await.unwrap();
        let others = "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()";
        let cut: Vec<bool> = sqlx::query_scalar(&format!("SELECT pg_terminate_backend(pid) {others}"))
            .bind(&name)
            .fetch_all(&mut admin)
            .await
            .unwrap();
        assert!(!cut.is_empty() && cut.iter().all(|c| *c), "the pool's connections were cut");
        // Terminating is asynchronous: wait until those backends are gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {others}"))
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            if left == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the cut backends did not exit");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        admin.close().await.unwrap();
        db.ping().await.expect("a dead idle connection is replaced, not handed out");
        db.close().await;
        t.cleanup().await;
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/pc.db").as_deref(), Some("data/pc.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/x.db?mode=rwc").as_deref(), Some("/tmp/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
