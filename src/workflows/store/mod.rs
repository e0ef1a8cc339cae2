//! All SQL on `workflow_templates`, `workflow_template_versions`,
//! `workflow_executions`, `workflow_steps`, `email_templates` and `outbox`.

use sqlx::FromRow;

mod runs;
pub use runs::*;

use crate::store::{with_pool, with_tx, Backend, Db, Tx};
use crate::Result;

#[derive(Debug, Clone, FromRow)]
pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub trigger_type: String,
    pub trigger_config: String,
    pub trigger_event: Option<String>,
    pub actions: String,
    pub is_public: bool,
    pub is_active: bool,
    pub usage_count: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const TEMPLATE_COLUMNS: &str =
    "id, name, description, category, trigger_type, trigger_config, trigger_event, actions, \
    is_public, is_active, usage_count, version, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct ExecutionRow {
    pub id: String,
    pub template_id: Option<String>,
    pub template_version: Option<i64>,
    pub workflow_name: String,
    pub trigger_type: String,
    pub trigger_data: String,
    pub actions: String,
    pub status: String,
    pub cursor: Option<String>,
    pub current_action_id: Option<String>,
    pub variables: String,
    pub waiting_until: Option<i64>,
    pub wait_record_id: Option<String>,
    pub wait_field: Option<String>,
    pub wait_offset_ms: Option<i64>,
    pub cause: Option<String>,
    pub parent_execution_id: Option<String>,
    pub parent_action_id: Option<String>,
    pub error: Option<String>,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const EXECUTION_COLUMNS: &str =
    "id, template_id, template_version, workflow_name, trigger_type, trigger_data, actions, \
    status, cursor, current_action_id, variables, waiting_until, wait_record_id, wait_field, wait_offset_ms, cause, \
    parent_execution_id, parent_action_id, error, started_at, completed_at, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct StepRow {
    pub id: String,
    pub execution_id: String,
    pub action_id: String,
    pub action_type: String,
    pub action_name: String,
    pub action_config: String,
    pub status: String,
    pub output: String,
    pub error: Option<String>,
    pub branch: Option<String>,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    /// Its place in the execution's order of steps.
    pub seq: i64,
}

/// The columns of [`StepRow`], in its order.
const STEP_COLUMNS: &str = "id, execution_id, action_id, action_type, action_name, action_config, status, output, \
    error, branch, started_at, completed_at, seq";

#[derive(Debug, Clone, FromRow)]
pub struct EmailRow {
    pub id: String,
    pub idempotency_key: Option<String>,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub template: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub execution_id: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const EMAIL_COLUMNS: &str =
    "id, idempotency_key, to_addrs, cc_addrs, subject, text_body, html_body, template, status, \
    error, execution_id, created_at, sent_at";

#[derive(Debug, Clone, FromRow)]
pub struct EmailTemplateRow {
    pub name: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub builtin: bool,
    pub updated_at: i64,
}

fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

// ---- templates ----

pub async fn insert_template(tx: &mut Tx, t: &TemplateRow) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(&format!(
        "INSERT INTO workflow_templates ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"))
        .bind(&t.id).bind(&t.name).bind(&t.description).bind(&t.category).bind(&t.trigger_type).bind(&t.trigger_config)
        .bind(&t.trigger_event).bind(&t.actions).bind(t.is_public).bind(t.is_active).bind(t.usage_count).bind(t.version)
        .bind(t.created_at).bind(t.updated_at)
        .execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// Writes `t` (carrying `expected + 1`) over the row still at `expected`.
pub async fn update_template(tx: &mut Tx, t: &TemplateRow, expected: i64) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query(
        "UPDATE workflow_templates SET name = $3, description = $4, category = $5, trigger_type = $6,
            trigger_config = $7, trigger_event = $8, actions = $9, is_public = $10, is_active = $11, version = $12,
            updated_at = $13
         WHERE id = $1 AND version = $2")
        .bind(&t.id).bind(expected).bind(&t.name).bind(&t.description).bind(&t.category).bind(&t.trigger_type)
        .bind(&t.trigger_config).bind(&t.trigger_event).bind(&t.actions).bind(t.is_public).bind(t.is_active)
        .bind(t.version).bind(t.updated_at)
        .execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn insert_version(tx: &mut Tx, template_id: &str, version: i64, snapshot: &str, now: i64) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(
        "INSERT INTO workflow_template_versions (template_id, version, snapshot, created_at) VALUES ($1, $2, $3, $4)")
        .bind(template_id).bind(version).bind(snapshot).bind(now).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// Adds `n` runs to a template's usage count.
pub async fn count_usage(tx: &mut Tx, template_id: &str, n: i64) -> Result<()> {
    with_tx!(tx, conn => sqlx::query("UPDATE workflow_templates SET usage_count = usage_count + $2 WHERE id = $1")
        .bind(template_id).bind(n).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

pub async fn delete_template(tx: &mut Tx, id: &str) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query("DELETE FROM workflow_templates WHERE id = $1")
        .bind(id).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn lock_template(tx: &mut Tx, id: &str) -> Result<Option<TemplateRow>> {
    let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM workflow_templates WHERE id = $1{}", for_update(tx.backend()));
    Ok(with_tx!(tx, conn => sqlx::query_as::<_, TemplateRow>(&sql).bind(id).fetch_optional(&mut **conn).await)?)
}

fn templates_for_event_sql() -> String {
    format!("SELECT {TEMPLATE_COLUMNS} FROM workflow_templates WHERE trigger_event = ? AND is_active ORDER BY id")
}

/// [`Db::templates_for_event`] read on `tx`'s own connection (a change's
/// transaction never waits for a second connection).
pub async fn templates_for_event_in(tx: &mut Tx, event_type: &str) -> Result<Vec<TemplateRow>> {
    tx.fetch_all(&templates_for_event_sql(), |b| {
        b.text(event_type);
    })
    .await
}

/// The templates of `ids` that exist, as `tx` sees them.
pub async fn templates_in(tx: &mut Tx, ids: &[&str]) -> Result<Vec<TemplateRow>> {
    let backend = tx.backend();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in crate::store::batch::chunks(ids) {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM workflow_templates WHERE id IN ({})",
            crate::store::batch::params(backend, 1, chunk.len())
        );
        out.extend(with_tx!(tx, conn => {
            let mut q = sqlx::query_as::<_, TemplateRow>(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut **conn).await
        })?);
    }
    Ok(out)
}

/// Template list filters.
#[derive(Debug, Clone, Default)]
pub struct TemplateFilter {
    pub category: Option<String>,
    pub search: Option<String>,
    pub popular: bool,
    pub limit: i64,
    pub offset: i64,
}

impl Db {
    /// Executions of a template not ended yet (pending, running or waiting).
    pub async fn unfinished_executions_of(&self, template_id: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM workflow_executions
             WHERE template_id = $1 AND status IN ('pending', 'running', 'waiting')")
            .bind(template_id).fetch_one(pool).await)?)
    }

    pub async fn template(&self, id: &str) -> Result<Option<TemplateRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, TemplateRow>(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM workflow_templates WHERE id = $1"))
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn list_templates(&self, f: &TemplateFilter) -> Result<(Vec<TemplateRow>, i64)> {
        let pattern =
            f.search.as_ref().map(|s| format!("%{}%", s.to_lowercase().replace('%', "\\%").replace('_', "\\_")));
        let filter = "WHERE ($1 IS NULL OR category = $1) AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(description) LIKE $2 ESCAPE '\\')";
        let order = if f.popular { "usage_count DESC, updated_at DESC, id" } else { "updated_at DESC, id DESC" };
        Ok(with_pool!(self, pool => async {
            let rows = sqlx::query_as::<_, TemplateRow>(&format!(
                "SELECT {TEMPLATE_COLUMNS} FROM workflow_templates {filter} ORDER BY {order} LIMIT $3 OFFSET $4"))
                .bind(&f.category).bind(&pattern).bind(f.limit).bind(f.offset).fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM workflow_templates {filter}"))
                .bind(&f.category).bind(&pattern).fetch_one(pool).await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?)
    }

    /// The latest execution of each of these templates that ran: (template, execution, status, created_at).
    pub async fn last_runs(&self, template_ids: &[String]) -> Result<Vec<(String, String, String, i64)>> {
        if template_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (1..=template_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        // One index probe per template on (template_id, created_at).
        let sql = format!(
            "SELECT t.id, e.id, e.status, e.created_at FROM workflow_templates t
             JOIN workflow_executions e ON e.id = (SELECT x.id FROM workflow_executions x WHERE x.template_id = t.id
                ORDER BY x.created_at DESC, x.id DESC LIMIT 1)
             WHERE t.id IN ({list})"
        );
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, (String, String, String, i64)>(&sql);
            for id in template_ids {
                q = q.bind(id);
            }
            q.fetch_all(pool).await
        })?)
    }

    /// Active templates an event of `event_type` starts.
    pub async fn templates_for_event(&self, event_type: &str) -> Result<Vec<TemplateRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, TemplateRow>(&crate::store::script::numbered(&templates_for_event_sql()))
            .bind(event_type).fetch_all(pool).await)?,
        )
    }

    /// Categories with how many templates each has.
    /// Every template's id, name and actions.
    pub async fn template_actions(&self) -> Result<Vec<(String, String, String)>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as("SELECT id, name, actions FROM workflow_templates").fetch_all(pool).await)?,
        )
    }

    pub async fn template_categories(&self) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, i64)>(
            "SELECT category, COUNT(*) FROM workflow_templates GROUP BY category ORDER BY category")
            .fetch_all(pool).await)?)
    }

    pub async fn template_versions(&self, id: &str) -> Result<Vec<(i64, String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT version, snapshot, created_at FROM workflow_template_versions WHERE template_id = $1 ORDER BY version DESC")
            .bind(id).fetch_all(pool).await)?)
    }
}

/// Execution list filters, already checked.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub status: Option<String>,
    pub template_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

impl Db {
    pub async fn execution(&self, id: &str) -> Result<Option<ExecutionRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, ExecutionRow>(
            &format!("SELECT {EXECUTION_COLUMNS} FROM workflow_executions WHERE id = $1"))
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn waiting_executions(&self) -> Result<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM workflow_executions WHERE status = 'waiting'").fetch_one(pool).await)?)
    }

    pub async fn steps(&self, execution_id: &str) -> Result<Vec<StepRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, StepRow>(
            &format!("SELECT {STEP_COLUMNS} FROM workflow_steps WHERE execution_id = $1 ORDER BY seq"))
            .bind(execution_id).fetch_all(pool).await)?)
    }

    /// Newest first, by keyset on (created_at, id).
    pub async fn list_executions(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionRow>> {
        let (after_at, after_id) = f.after.clone().unwrap_or((i64::MAX, String::new()));
        Ok(with_pool!(self, pool => sqlx::query_as::<_, ExecutionRow>(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM workflow_executions
             WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR template_id = $2)
               AND created_at >= $3 AND created_at < $4
               AND (created_at < $5 OR (created_at = $5 AND id < $6) OR $6 = '')
             ORDER BY created_at DESC, id DESC LIMIT $7"))
            .bind(&f.status).bind(&f.template_id).bind(f.from.unwrap_or(0)).bind(f.to.unwrap_or(i64::MAX))
            .bind(after_at).bind(&after_id).bind(f.limit)
            .fetch_all(pool).await)?)
    }

    /// (template id, name, status, count) over every execution.
    pub async fn execution_counts(&self) -> Result<Vec<(Option<String>, String, String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (Option<String>, String, String, i64)>(
            "SELECT template_id, MIN(workflow_name), status, COUNT(*) FROM workflow_executions
             GROUP BY template_id, status ORDER BY 2")
            .fetch_all(pool).await)?)
    }

    /// One template's executions by status.
    pub async fn execution_counts_of(&self, template_id: &str) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, i64)>(
            "SELECT status, COUNT(*) FROM workflow_executions WHERE template_id = $1 GROUP BY status")
            .bind(template_id).fetch_all(pool).await)?)
    }

    /// Durations (ms) of one template's most recent completed executions.
    pub async fn execution_durations_of(&self, template_id: &str, limit: i64) -> Result<Vec<i64>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT completed_at - started_at FROM workflow_executions
             WHERE template_id = $1 AND completed_at IS NOT NULL AND status = 'completed'
             ORDER BY completed_at DESC LIMIT $2")
            .bind(template_id).bind(limit).fetch_all(pool).await)?)
    }

    /// Executions of a template started since `since`, counted by status per
    /// quarter hour (`created_at / 900000`): fine enough for any zone's days.
    pub async fn execution_quarters(&self, template_id: &str, since: i64) -> Result<Vec<(i64, String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT created_at / 900000, status, COUNT(*) FROM workflow_executions
             WHERE template_id = $1 AND created_at >= $2 GROUP BY 1, 2 ORDER BY 1")
            .bind(template_id).bind(since).fetch_all(pool).await)?)
    }

    /// Durations (ms) of the most recent finished executions of each template.
    pub async fn execution_durations(&self, limit: i64) -> Result<Vec<(Option<String>, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (Option<String>, i64)>(
            "SELECT template_id, completed_at - started_at FROM workflow_executions
             WHERE completed_at IS NOT NULL AND status = 'completed' ORDER BY completed_at DESC LIMIT $1")
            .bind(limit).fetch_all(pool).await)?)
    }

    /// Deletes up to `limit` executions that ended before `before`, with their steps; returns how many.
    pub async fn delete_old_executions(&self, before: i64, limit: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let ids: Vec<String> = with_tx!(&mut tx, conn => sqlx::query_scalar(
            "SELECT id FROM workflow_executions WHERE created_at < $1 AND status IN ('completed', 'failed', 'cancelled')
             ORDER BY created_at LIMIT $2")
            .bind(before).bind(limit).fetch_all(&mut **conn).await)?;
        for id in &ids {
            with_tx!(&mut tx, conn => sqlx::query("DELETE FROM workflow_steps WHERE execution_id = $1")
                .bind(id).execute(&mut **conn).await.map(|_| ()))?;
            with_tx!(&mut tx, conn => sqlx::query("DELETE FROM workflow_executions WHERE id = $1")
                .bind(id).execute(&mut **conn).await.map(|_| ()))?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}

// ---- email ----

const EMAIL_TEMPLATE_BY_NAME: &str =
    "SELECT name, subject, text_body, html_body, builtin, updated_at FROM email_templates WHERE name = $1";

/// [`Db::email_template`] read on `tx`'s own connection (a workflow step's
/// transaction never waits for a second connection).
pub async fn email_template_in(tx: &mut Tx, name: &str) -> Result<Option<EmailTemplateRow>> {
    Ok(with_tx!(tx, conn => sqlx::query_as::<_, EmailTemplateRow>(EMAIL_TEMPLATE_BY_NAME)
        .bind(name).fetch_optional(&mut **conn).await)?)
}

/// Adds an email unless one with its idempotency key exists; returns its id either way.
pub async fn insert_email(tx: &mut Tx, e: &EmailRow) -> Result<String> {
    let inserted = with_tx!(tx, conn => sqlx::query_scalar::<_, String>(&format!(
        "INSERT INTO outbox ({EMAIL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"))
        .bind(&e.id).bind(&e.idempotency_key).bind(&e.to_addrs).bind(&e.cc_addrs).bind(&e.subject).bind(&e.text_body)
        .bind(&e.html_body).bind(&e.template).bind(&e.status).bind(&e.error).bind(&e.execution_id).bind(e.created_at)
        .bind(e.sent_at)
        .fetch_optional(&mut **conn).await)?;
    match inserted {
        Some(id) => Ok(id),
        None => {
            Ok(with_tx!(tx, conn => sqlx::query_scalar::<_, String>("SELECT id FROM outbox WHERE idempotency_key = $1")
            .bind(&e.idempotency_key).fetch_one(&mut **conn).await)?)
        }
    }
}

pub async fn mark_email(tx: &mut Tx, id: &str, status: &str, error: Option<&str>, sent_at: Option<i64>) -> Result<()> {
    with_tx!(tx, conn => sqlx::query("UPDATE outbox SET status = $2, error = $3, sent_at = $4 WHERE id = $1")
        .bind(id).bind(status).bind(error).bind(sent_at).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

impl Db {
    pub async fn outbox(&self, limit: i64) -> Result<Vec<EmailRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, EmailRow>(&format!(
            "SELECT {EMAIL_COLUMNS} FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1"))
            .bind(limit).fetch_all(pool).await)?)
    }

    pub async fn email(&self, id: &str) -> Result<Option<EmailRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, EmailRow>(&format!("SELECT {EMAIL_COLUMNS} FROM outbox WHERE id = $1"))
            .bind(id).fetch_optional(pool).await)?,
        )
    }

    pub async fn email_templates(&self) -> Result<Vec<EmailTemplateRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, EmailTemplateRow>(
            "SELECT name, subject, text_body, html_body, builtin, updated_at FROM email_templates ORDER BY name")
            .fetch_all(pool).await)?)
    }

    pub async fn email_template(&self, name: &str) -> Result<Option<EmailTemplateRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, EmailTemplateRow>(EMAIL_TEMPLATE_BY_NAME)
            .bind(name).fetch_optional(pool).await)?)
    }

    /// Writes a template; `builtin` ones keep their flag (an admin may edit them, not delete them).
    pub async fn put_email_template(&self, t: &EmailTemplateRow, keep_existing: bool) -> Result<()> {
        let conflict = if keep_existing {
            "DO NOTHING"
        } else {
            "DO UPDATE SET subject = excluded.subject, text_body = excluded.text_body, html_body = excluded.html_body, updated_at = excluded.updated_at"
        };
        with_pool!(self, pool => sqlx::query(&format!(
            "INSERT INTO email_templates (name, subject, text_body, html_body, builtin, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (name) {conflict}"))
            .bind(&t.name).bind(&t.subject).bind(&t.text_body).bind(&t.html_body).bind(t.builtin).bind(t.updated_at)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_email_template(&self, name: &str) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM email_templates WHERE name = $1 AND NOT builtin")
            .bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
