//! PostgreSQL transactions whose writes go as one statement.
//!
//! Each statement on PostgreSQL is a round trip to the server, and on a small
//! machine the wake-ups on both ends cost more than the SQL. So, as on SQLite
//! (see [`super::script`]), a transaction's writes whose answers nobody needs
//! ([`super::Tx::write`]) are kept here and sent together: as one statement,
//! a chain of data-modifying CTEs (`WITH w0 AS (INSERT …), w1 AS (INSERT …)
//! INSERT …`). A transaction that only writes never opens one: its chain runs
//! alone, atomic as every statement is, without `BEGIN` and `COMMIT`. Ingest's
//! transaction is one round trip instead of five.
//!
//! Invariants:
//! - The statements of a chain see one snapshot and run in no set order, so
//!   a chain holds a table twice only when every statement on it is a plain
//!   `INSERT` (new rows, no `ON CONFLICT`); any other write to a table already
//!   in the chain sends the chain first. Foreign keys are checked when the
//!   whole chain has run, so a row and the rows referring to it may share it.
//!   What this cannot see is a statement that *reads* another table of the
//!   chain (`INSERT … SELECT`, a subquery): it would read the snapshot from
//!   before the chain. `Tx::write` statements must not (none do: they are
//!   `VALUES` inserts and updates by id); use `with_tx!` for those.
//! - A statement that needs an answer, and `with_tx!`, open the transaction
//!   (`BEGIN`) and send the chain first: a transaction reads its own writes.
//! - A chain that fails rolls the transaction back, and the transaction
//!   refuses everything after (nothing half-written can commit); a
//!   transaction dropped open is rolled back before its connection is given
//!   back.
//! - A chain never passes PostgreSQL's 65,535 arguments per statement: a
//!   write that would sends the chain first.

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, Postgres};

use super::script::{self, roll_back_detached, State};

/// Chains up to this long are prepared once per connection and kept (sqlx
/// caches statements by their text); longer ones, whose shapes vary with the
/// batch, are prepared for the one use.
const KEEP_PREPARED_UP_TO: usize = 2048;

/// PostgreSQL's limit of arguments in one statement.
const MAX_ARGUMENTS: usize = 65_535;

/// How a kept statement writes its table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    table: String,
    plain_insert: bool,
}

pub struct PgTx {
    conn: Option<PoolConnection<Postgres>>,
    state: State,
    statements: Vec<String>,
    targets: Vec<Target>,
    args: PgArguments,
    arguments: usize,
}

impl PgTx {
    pub(super) fn new(conn: PoolConnection<Postgres>) -> Self {
        PgTx {
            conn: Some(conn),
            state: State::Idle,
            statements: Vec::new(),
            targets: Vec::new(),
            args: PgArguments::default(),
            arguments: 0,
        }
    }

    fn usable(&self) -> Result<(), sqlx::Error> {
        self.state.usable()
    }

    fn conn(&mut self) -> &mut PoolConnection<Postgres> {
        self.conn.as_mut().expect("the connection is held until the transaction is dropped")
    }

    /// Gets the chain ready for `sql`: sends it first when `sql` may not
    /// join it. Returns where to bind `sql`'s arguments (then call
    /// [`PgTx::kept`]), or `None` when `sql` must run on its own.
    pub(super) async fn make_room(&mut self, sql: &str) -> Result<Option<&mut PgArguments>, sqlx::Error> {
        self.usable()?;
        let target = target(sql);
        let joins = target.as_ref().is_some_and(|t| {
            self.arguments + script::placeholders(sql) <= MAX_ARGUMENTS
                && self.targets.iter().all(|k| k.table != t.table || (k.plain_insert && t.plain_insert))
        });
        if !joins && !self.statements.is_empty() {
            self.flush().await?;
        }
        Ok(target.is_some().then_some(&mut self.args))
    }

    /// `sql`'s arguments are bound (after [`PgTx::make_room`]): it joins the chain.
    pub(super) fn kept(&mut self, sql: &str) {
        if let Some(t) = target(sql) {
            self.arguments += script::placeholders(sql);
            self.statements.push(sql.to_string());
            self.targets.push(t);
        }
    }

    /// Opens the transaction, sends the chain, and gives the connection for
    /// a statement of the caller's own.
    pub async fn flush(&mut self) -> Result<&mut PoolConnection<Postgres>, sqlx::Error> {
        self.usable()?;
        if self.state == State::Idle {
            // Open from the moment `BEGIN` may run: if the caller's future is dropped
            // while it runs, `Drop` must still roll back (a stray ROLLBACK only warns).
            self.state = State::Open;
            if let Err(e) = sqlx::query("BEGIN").execute(&mut **self.conn()).await {
                return Err(self.failed(e).await);
            }
        }
        self.send_chain().await?;
        Ok(self.conn())
    }

    /// Sends the chain, if any, as one statement (inside the transaction if
    /// it is open, else as a transaction of its own).
    async fn send_chain(&mut self) -> Result<(), sqlx::Error> {
        if self.statements.is_empty() {
            return Ok(());
        }
        let (sql, args) = self.take_chain();
        let ran =
            sqlx::query_with(&sql, args).persistent(sql.len() <= KEEP_PREPARED_UP_TO).execute(&mut **self.conn()).await;
        match ran {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// The chain as one statement (`$n` placeholders) with its arguments; empties the chain.
    fn take_chain(&mut self) -> (String, PgArguments) {
        let sql = script::numbered(&chained(&std::mem::take(&mut self.statements)));
        self.targets.clear();
        self.arguments = 0;
        (sql, std::mem::take(&mut self.args))
    }

    /// Something failed: the transaction is rolled back and refuses everything after.
    async fn failed(&mut self, e: sqlx::Error) -> sqlx::Error {
        self.fail().await;
        e
    }

    /// Ends the transaction with nothing written; nothing of it may be sent any more.
    pub(super) async fn fail(&mut self) {
        if self.state == State::Open {
            self.roll_back().await;
        }
        self.statements.clear();
        self.targets.clear();
        self.args = PgArguments::default();
        self.arguments = 0;
        self.state = State::Failed;
    }

    async fn roll_back(&mut self) {
        if sqlx::query("ROLLBACK").execute(&mut **self.conn()).await.is_err() {
            // Whatever state the connection is in, it must not serve anyone else.
            self.conn().close_on_drop();
        }
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.usable()?;
        if self.state == State::Idle {
            // Never opened: the chain alone is the transaction, atomic as any statement.
            self.send_chain().await?;
            self.state = State::Done;
            return Ok(());
        }
        self.flush().await?;
        if let Err(e) = sqlx::query("COMMIT").execute(&mut **self.conn()).await {
            return Err(self.failed(e).await);
        }
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

impl Drop for PgTx {
    fn drop(&mut self) {
        if self.state != State::Open {
            return;
        }
        // The connection goes back to the pool only after the rollback.
        if let Some(conn) = self.conn.take() {
            roll_back_detached(conn, ());
        }
    }
}

/// `statements` as one: the last is the main statement, the others CTEs before it.
fn chained(statements: &[String]) -> String {
    match statements {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => {
            let mut sql = String::from("WITH ");
            for (i, s) in init.iter().enumerate() {
                if i > 0 {
                    sql.push_str(",\n");
                }
                sql.push_str(&format!("w{i} AS ({s})"));
            }
            sql.push('\n');
            sql.push_str(last);
            sql
        }
    }
}

/// The table `sql` writes and whether it only adds rows; `None` when `sql`
/// is not a single `INSERT`, `UPDATE` or `DELETE` this can read.
fn target(sql: &str) -> Option<Target> {
    let mut words = sql.split_whitespace();
    let verb = words.next()?.to_ascii_uppercase();
    let table = match verb.as_str() {
        "INSERT" | "DELETE" => {
            let _into_or_from = words.next()?;
            words.next()?
        }
        "UPDATE" => words.next()?,
        _ => return None,
    };
    let table = table.split('(').next()?.trim();
    // Every kept write passes here: the text is upper-cased once, and its words are not collected.
    let upper = sql.to_ascii_uppercase();
    if table.is_empty() || sql.trim_end().ends_with(';') || upper.contains("RETURNING") {
        return None;
    }
    let on_conflict = || {
        let words = upper.split_whitespace();
        words.clone().zip(words.skip(1)).any(|(a, b)| a == "ON" && b.starts_with("CONFLICT"))
    };
    let plain_insert = verb == "INSERT" && !on_conflict();
    Some(Target { table: table.to_ascii_lowercase(), plain_insert })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_chain_as_ctes_before_the_last() {
        assert_eq!(chained(&["INSERT INTO a VALUES (?)".into()]), "INSERT INTO a VALUES (?)");
        assert_eq!(
            script::numbered(&chained(&[
                "INSERT INTO a VALUES (?)".into(),
                "INSERT INTO b VALUES (?, ?)".into(),
                "UPDATE c SET x = ? WHERE id = ?".into(),
            ])),
            "WITH w0 AS (INSERT INTO a VALUES ($1)),\nw1 AS (INSERT INTO b VALUES ($2, $3))\nUPDATE c SET x = $4 WHERE id = $5"
        );
    }

    #[test]
    fn targets_name_the_table_and_whether_rows_are_only_added() {
        let t = |table: &str, plain_insert| Some(Target { table: table.into(), plain_insert });
        assert_eq!(target("INSERT INTO events (id, type) VALUES (?, ?)"), t("events", true));
        assert_eq!(target("insert into due_work(id) VALUES (?)"), t("due_work", true));
        assert_eq!(target("INSERT INTO x (id) VALUES (?) ON CONFLICT (id) DO NOTHING"), t("x", false));
        assert_eq!(target("INSERT INTO x (id) VALUES (?)\n  ON\n CONFLICT(id) DO NOTHING"), t("x", false));
        assert_eq!(target("UPDATE webhooks SET a = ? WHERE id = ?"), t("webhooks", false));
        assert_eq!(target("DELETE FROM due_work WHERE id = ?"), t("due_work", false));
        assert_eq!(target("SELECT 1"), None);
        assert_eq!(target("DELETE FROM due_work WHERE id = ? RETURNING id"), None);
        assert_eq!(target("WITH x AS (SELECT 1) INSERT INTO a SELECT * FROM x"), None);
    }
}
