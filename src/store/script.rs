//! SQLite transactions sent as scripts.
//!
//! sqlx runs each SQLite statement on the connection's own thread: every
//! statement is a message there and an answer back, two thread wake-ups, and
//! on a small machine those cost more than the SQL. So a transaction's
//! writes whose answers nobody needs ([`super::Tx::write`]) are kept here and
//! sent together with the next statement that needs an answer, or with the
//! `COMMIT`: `BEGIN IMMEDIATE; INSERT …; INSERT …; COMMIT` is one message.
//! SQLite's bare `?` placeholders bind in order across the statements of a
//! script, so the kept arguments are one list.
//!
//! Invariants:
//! - `BEGIN IMMEDIATE` is sent with the first statement that runs, so a
//!   transaction that writes nothing costs nothing.
//! - A statement that needs an answer, and `with_tx!`, first send what is
//!   kept: a transaction reads its own writes.
//! - A script that fails rolls the transaction back at once, and the
//!   transaction refuses everything after (nothing half-written can commit).
//! - A transaction dropped open is rolled back before its connection (and
//!   this process's SQLite write turn) is given back.

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use tokio::sync::OwnedMutexGuard;

/// Scripts up to this long are prepared once per connection and kept (sqlx
/// caches statements by their text); longer ones, the big batches of a busy
/// moment, are prepared for the one use. A script's text depends on how many
/// rows each of its statements has, so keeping every shape would keep
/// hundreds of large prepared programs per connection (memory doubled in the
/// benchmark) for a parse that a big batch hardly notices.
const KEEP_PREPARED_UP_TO: usize = 2048;

/// Where a kept-writes transaction is (SQLite's script, PostgreSQL's chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Nothing sent yet: the next thing sent starts with `BEGIN`.
    Idle,
    /// `BEGIN` was sent (or is being sent): the transaction is open on the connection.
    Open,
    /// Something failed and the transaction was rolled back.
    Failed,
    /// Committed or rolled back.
    Done,
}

impl State {
    /// Whether the transaction still takes statements.
    pub(super) fn usable(self) -> Result<(), sqlx::Error> {
        match self {
            State::Idle | State::Open => Ok(()),
            State::Failed => Err(sqlx::Error::Protocol("the transaction failed and was rolled back".into())),
            State::Done => Err(sqlx::Error::Protocol("the transaction has ended".into())),
        }
    }
}

/// A transaction dropped open: rolls it back on a task of its own, and only
/// then gives `conn` back to the pool and drops `hold` (SQLite's write turn).
/// Without a runtime, closing the connection discards the transaction.
pub(super) fn roll_back_detached<DB>(mut conn: PoolConnection<DB>, hold: impl Send + 'static)
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(async move {
                if sqlx::query::<DB>("ROLLBACK").execute(&mut *conn).await.is_err() {
                    conn.close_on_drop();
                }
                drop(hold);
            });
        }
        Err(_) => conn.close_on_drop(),
    }
}

pub struct SqliteTx {
    conn: Option<PoolConnection<Sqlite>>,
    turn: Option<OwnedMutexGuard<()>>,
    script: String,
    args: SqliteArguments<'static>,
    state: State,
}

impl SqliteTx {
    pub(super) fn new(conn: PoolConnection<Sqlite>, turn: OwnedMutexGuard<()>) -> Self {
        SqliteTx {
            conn: Some(conn),
            turn: Some(turn),
            script: String::new(),
            args: SqliteArguments::default(),
            state: State::Idle,
        }
    }

    fn usable(&self) -> Result<(), sqlx::Error> {
        self.state.usable()
    }

    /// Keeps `sql` (`?` placeholders) to send later; its arguments are bound
    /// into [`SqliteTx::args`] by the caller, in order.
    pub(super) fn keep(&mut self, sql: &str) -> Result<&mut SqliteArguments<'static>, sqlx::Error> {
        self.usable()?;
        self.script.push_str(sql);
        self.script.push_str(";\n");
        Ok(&mut self.args)
    }

    /// Where the arguments of the statement sent next (by `fetch_all`) are bound.
    pub(super) fn args(&mut self) -> Result<&mut SqliteArguments<'static>, sqlx::Error> {
        self.usable()?;
        Ok(&mut self.args)
    }

    /// The script to send now: `BEGIN IMMEDIATE` first if the transaction is
    /// not open yet, then what was kept, then `tail`.
    fn take_script(&mut self, tail: &str) -> (String, SqliteArguments<'static>) {
        let mut sql = String::with_capacity(self.script.len() + tail.len() + 20);
        if self.state == State::Idle {
            sql.push_str("BEGIN IMMEDIATE;\n");
            // Open from the moment the script may run: if the caller's future is
            // dropped while it runs, `Drop` must still roll back.
            self.state = State::Open;
        }
        sql.push_str(&std::mem::take(&mut self.script));
        sql.push_str(tail);
        (sql, std::mem::take(&mut self.args))
    }

    fn conn(&mut self) -> &mut PoolConnection<Sqlite> {
        self.conn.as_mut().expect("the connection is held until the transaction is dropped")
    }

    /// Sends what is kept (opening the transaction if needed) and gives the
    /// connection for a statement of the caller's own.
    pub async fn flush(&mut self) -> Result<&mut PoolConnection<Sqlite>, sqlx::Error> {
        self.usable()?;
        if self.state == State::Idle || !self.script.is_empty() {
            self.send("").await?;
        }
        Ok(self.conn())
    }

    /// Sends what is kept followed by `tail`, which needs no answer.
    async fn send(&mut self, tail: &str) -> Result<(), sqlx::Error> {
        let (sql, args) = self.take_script(tail);
        let ran =
            sqlx::query_with(&sql, args).persistent(sql.len() <= KEEP_PREPARED_UP_TO).execute(&mut **self.conn()).await;
        match ran {
            Ok(_) => {
                self.state = State::Open;
                Ok(())
            }
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Sends what is kept followed by `sql` (`?` placeholders; its arguments
    /// bound into what `args` returned) and answers `sql`'s rows: the kept
    /// statements write without `RETURNING`, so every row is `sql`'s.
    pub(super) async fn fetch_all<T>(&mut self, sql: &str) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    {
        self.usable()?;
        let (script, args) = self.take_script(sql);
        let rows = sqlx::query_as_with::<_, T, _>(&script, args)
            .persistent(script.len() <= KEEP_PREPARED_UP_TO)
            .fetch_all(&mut **self.conn())
            .await;
        match rows {
            Ok(rows) => {
                self.state = State::Open;
                Ok(rows)
            }
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// A script failed: the transaction is rolled back and refuses everything after.
    async fn failed(&mut self, e: sqlx::Error) -> sqlx::Error {
        self.roll_back().await;
        self.state = State::Failed;
        e
    }

    /// Ends the transaction with nothing written; "no transaction is active"
    /// (the script failed before its `BEGIN`, or SQLite already rolled back) is fine.
    async fn roll_back(&mut self) {
        self.script.clear();
        self.args = SqliteArguments::default();
        if let Err(e) = sqlx::query("ROLLBACK").execute(&mut **self.conn()).await {
            let not_open = e.as_database_error().is_some_and(|d| d.message().contains("no transaction is active"));
            if !not_open {
                // Whatever state the connection is in, it must not serve anyone else.
                self.conn().close_on_drop();
            }
        }
    }

    /// A statement was kept with the wrong arguments: nothing of this
    /// transaction may be sent any more.
    pub(super) async fn fail(&mut self) {
        if self.state == State::Open {
            self.roll_back().await;
        }
        self.script.clear();
        self.args = SqliteArguments::default();
        self.state = State::Failed;
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.usable()?;
        if self.state == State::Idle && self.script.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        self.send("COMMIT").await?;
        self.state = State::Done;
        Ok(())
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        if self.state == State::Open {
            self.roll_back().await;
        }
        self.state = State::Done;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.state != State::Open {
            return;
        }
        // The connection and the write turn go back only after the rollback.
        if let (Some(conn), turn) = (self.conn.take(), self.turn.take()) {
            roll_back_detached(conn, turn);
        }
    }
}

/// Counts the `?` placeholders of `sql` outside quotes.
pub fn placeholders(sql: &str) -> usize {
    let (mut n, mut quote) = (0, None);
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => n += 1,
            _ => {}
        }
    }
    n
}

/// `sql` with its `?` placeholders (outside quotes) numbered `$1`, `$2` … in
/// order, for PostgreSQL.
pub fn numbered(sql: &str) -> String {
    let (mut out, mut n, mut quote) = (String::with_capacity(sql.len() + 16), 0, None);
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order_outside_quotes() {
        assert_eq!(
            numbered("UPDATE t SET a = ?, b = '?' WHERE id = ? AND c = \"?\""),
            "UPDATE t SET a = $1, b = '?' WHERE id = $2 AND c = \"?\""
        );
        assert_eq!(placeholders("UPDATE t SET a = ?, b = '?' WHERE id = ?"), 2);
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
        assert_eq!(numbered("(?, ?), (?, ?)"), "($1, $2), ($3, $4)");
    }
}
