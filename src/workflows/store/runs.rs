//! The SQL of running executions: `workflow_executions` and `workflow_steps`
//! as the engine reads and writes them inside its transactions, one row at a
//! time or a claimed group at a time.

use super::{for_update, ExecutionRow, StepRow, EXECUTION_COLUMNS, STEP_COLUMNS};
use crate::store::{batch, with_tx, Tx};
use crate::Result;

/// Inserts executions with multi-row statements.
pub async fn insert_executions(tx: &mut Tx, rows: &[ExecutionRow]) -> Result<()> {
    write_executions(tx, rows, "").await
}

/// Writes the moving parts of executions that exist (status, cursor,
/// variables, wait, error, times), with multi-row statements: an upsert
/// whose insert never happens, so both databases take one statement shape.
pub async fn save_executions(tx: &mut Tx, rows: &[ExecutionRow]) -> Result<()> {
    write_executions(
        tx,
        rows,
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, cursor = excluded.cursor,
            current_action_id = excluded.current_action_id, variables = excluded.variables,
            waiting_until = excluded.waiting_until, wait_record_id = excluded.wait_record_id,
            wait_field = excluded.wait_field, wait_offset_ms = excluded.wait_offset_ms, error = excluded.error,
            completed_at = excluded.completed_at, updated_at = excluded.updated_at",
    )
    .await
}

async fn write_executions(tx: &mut Tx, rows: &[ExecutionRow], on_conflict: &str) -> Result<()> {
    let backend = tx.backend();
    for chunk in batch::chunks(rows) {
        let sql = format!(
            "INSERT INTO workflow_executions ({EXECUTION_COLUMNS}) VALUES {}{on_conflict}",
            batch::values(backend, chunk.len(), 23)
        );
        with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q.bind(&e.id).bind(&e.template_id).bind(e.template_version).bind(&e.workflow_name).bind(&e.trigger_type)
                    .bind(&e.trigger_data).bind(&e.actions).bind(&e.status).bind(&e.cursor).bind(&e.current_action_id)
                    .bind(&e.variables).bind(e.waiting_until).bind(&e.wait_record_id).bind(&e.wait_field)
                    .bind(e.wait_offset_ms).bind(&e.cause).bind(&e.parent_execution_id).bind(&e.parent_action_id)
                    .bind(&e.error).bind(e.started_at).bind(e.completed_at).bind(e.created_at).bind(e.updated_at);
            }
            q.execute(&mut **conn).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Writes the execution's moving parts (status, cursor, variables, wait, error, times).
pub async fn save_execution(tx: &mut Tx, e: &ExecutionRow) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "UPDATE workflow_executions SET status = $2, cursor = $3, current_action_id = $4, variables = $5,
            waiting_until = $6, wait_record_id = $7, wait_field = $8, wait_offset_ms = $9, error = $10,
            completed_at = $11, updated_at = $12
         WHERE id = $1")
        .bind(&e.id).bind(&e.status).bind(&e.cursor).bind(&e.current_action_id).bind(&e.variables).bind(e.waiting_until)
        .bind(&e.wait_record_id).bind(&e.wait_field).bind(e.wait_offset_ms).bind(&e.error).bind(e.completed_at)
        .bind(e.updated_at)
        .execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

pub async fn lock_execution(tx: &mut Tx, id: &str) -> Result<Option<ExecutionRow>> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM workflow_executions WHERE id = $1{}", for_update(tx.backend()));
    Ok(with_tx!(tx, conn => sqlx::query_as::<_, ExecutionRow>(&sql).bind(id).fetch_optional(&mut **conn).await)?)
}

/// The executions of `ids` that exist, locked for the rest of `tx` (in id
/// order on PostgreSQL, so two groups lock shared rows in one order).
pub async fn lock_executions(tx: &mut Tx, ids: &[&str]) -> Result<Vec<ExecutionRow>> {
    let backend = tx.backend();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in batch::chunks(ids) {
        let sql = format!(
            "SELECT {EXECUTION_COLUMNS} FROM workflow_executions WHERE id IN ({}) ORDER BY id{}",
            batch::params(backend, 1, chunk.len()),
            for_update(backend)
        );
        out.extend(with_tx!(tx, conn => {
            let mut q = sqlx::query_as::<_, ExecutionRow>(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut **conn).await
        })?);
    }
    Ok(out)
}

/// The executions `parent` started for its action `action_id` (branches, a sub-workflow), oldest first.
pub async fn children(tx: &mut Tx, parent: &str, action_id: &str) -> Result<Vec<ExecutionRow>> {
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM workflow_executions WHERE parent_execution_id = $1 AND parent_action_id = $2
         ORDER BY created_at, id"
    );
    Ok(
        with_tx!(tx, conn => sqlx::query_as::<_, ExecutionRow>(&sql).bind(parent).bind(action_id).fetch_all(&mut **conn).await)?,
    )
}

/// An execution's steps in the order they ran, as `tx` sees them.
pub async fn steps_in(tx: &mut Tx, execution_id: &str) -> Result<Vec<StepRow>> {
    steps_of(tx, &[execution_id]).await
}

/// The steps of the executions of `execution_ids`, each execution's in the order they ran.
pub async fn steps_of(tx: &mut Tx, execution_ids: &[&str]) -> Result<Vec<StepRow>> {
    let backend = tx.backend();
    let mut out = Vec::new();
    for chunk in batch::chunks(execution_ids) {
        let sql = format!(
            "SELECT {STEP_COLUMNS} FROM workflow_steps WHERE execution_id IN ({}) ORDER BY execution_id, seq",
            batch::params(backend, 1, chunk.len())
        );
        out.extend(with_tx!(tx, conn => {
            let mut q = sqlx::query_as::<_, StepRow>(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut **conn).await
        })?);
    }
    Ok(out)
}

/// Unfinished executions started by `parent` (to cancel with it).
pub async fn running_children(tx: &mut Tx, parent: &str) -> Result<Vec<String>> {
    Ok(with_tx!(tx, conn => sqlx::query_scalar::<_, String>(
        "SELECT id FROM workflow_executions WHERE parent_execution_id = $1 AND status IN ('pending', 'running', 'waiting')")
        .bind(parent).fetch_all(&mut **conn).await)?)
}

/// Executions waiting on a time taken from `record_id` (a reminder before an appointment).
pub async fn waiting_on_record(tx: &mut Tx, record_id: &str) -> Result<Vec<ExecutionRow>> {
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM workflow_executions WHERE wait_record_id = $1 AND status = 'waiting'{}",
        for_update(tx.backend())
    );
    Ok(with_tx!(tx, conn => sqlx::query_as::<_, ExecutionRow>(&sql).bind(record_id).fetch_all(&mut **conn).await)?)
}

/// Writes steps (new ones at the `seq` they carry; a step that exists keeps
/// its place and takes the new state), with multi-row statements. Each step
/// may appear once.
pub async fn upsert_steps(tx: &mut Tx, steps: &[StepRow]) -> Result<()> {
    let backend = tx.backend();
    for chunk in batch::chunks(steps) {
        let sql = format!(
            "INSERT INTO workflow_steps ({STEP_COLUMNS}) VALUES {}
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, output = excluded.output, error = excluded.error,
                branch = excluded.branch, action_config = excluded.action_config, completed_at = excluded.completed_at",
            batch::values(backend, chunk.len(), 13)
        );
        with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(&s.id).bind(&s.execution_id).bind(&s.action_id).bind(&s.action_type).bind(&s.action_name)
                    .bind(&s.action_config).bind(&s.status).bind(&s.output).bind(&s.error).bind(&s.branch)
                    .bind(s.started_at).bind(s.completed_at).bind(s.seq);
            }
            q.execute(&mut **conn).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Marks the steps of an execution that have not finished as cancelled.
pub async fn cancel_steps(tx: &mut Tx, execution_id: &str, now: i64) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "UPDATE workflow_steps SET status = 'cancelled', completed_at = $2
         WHERE execution_id = $1 AND status IN ('pending', 'running', 'waiting')")
        .bind(execution_id).bind(now).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// Reopens a failed execution's failed step (for a retry from there).
pub async fn reopen_failed_steps(tx: &mut Tx, execution_id: &str) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "UPDATE workflow_steps SET status = 'pending', error = NULL, output = '{}', completed_at = NULL
         WHERE execution_id = $1 AND status = 'failed'")
        .bind(execution_id).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}
