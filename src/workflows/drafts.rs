//! Unsaved builder edits kept on the server, one per person and template
//! (`workflow_drafts`; this module owns the table). A draft is never live:
//! saving the template makes a version and drops the draft.

use serde_json::Value;
use wire::workflows::KeptDraft;

use crate::auth::{Action as Can, Authorize, Principal};
use crate::clock::rfc3339;
use crate::store::{with_pool, with_tx, Db, Tx};
use crate::{Error, Result, Services};

/// A draft bigger than this is refused (a template's actions are far smaller).
pub const MAX_DRAFT_BYTES: usize = 512 * 1024;

/// The key of a template's drafts: its id, or `new` for one not saved yet.
pub const NEW: &str = "new";

impl Db {
    async fn upsert_draft(&self, user: &str, key: &str, base_version: i64, body: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO workflow_drafts (user_id, template_key, base_version, body, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, template_key) DO UPDATE SET
                base_version = excluded.base_version, body = excluded.body, updated_at = excluded.updated_at")
            .bind(user).bind(key).bind(base_version).bind(body).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    async fn draft(&self, user: &str, key: &str) -> Result<Option<(i64, String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT base_version, body, updated_at FROM workflow_drafts WHERE user_id = $1 AND template_key = $2")
            .bind(user).bind(key).fetch_optional(pool).await)?)
    }

    async fn delete_draft(&self, user: &str, key: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM workflow_drafts WHERE user_id = $1 AND template_key = $2")
            .bind(user).bind(key).execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

/// Drops every draft of a template being deleted, in its transaction.
pub(crate) async fn delete_drafts_of(tx: &mut Tx, template_id: &str) -> Result<()> {
    with_tx!(tx, conn => sqlx::query("DELETE FROM workflow_drafts WHERE template_key = $1")
        .bind(template_id).execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

impl Services {
    async fn draft_key(&self, template: Option<&str>) -> Result<String> {
        match template.map(str::trim).filter(|t| !t.is_empty() && *t != NEW) {
            None => Ok(NEW.to_string()),
            Some(id) => {
                self.db.template(id).await?.ok_or(Error::NotFound("workflow template"))?;
                Ok(id.to_string())
            }
        }
    }

    /// Keeps the caller's unsaved edits of a template (`None`: a new one).
    pub async fn keep_draft(
        &self,
        caller: &Principal,
        template: Option<&str>,
        base_version: i64,
        body: &Value,
    ) -> Result<KeptDraft> {
        caller.require(Can::ManageWorkflows)?;
        if !body.is_object() {
            return Err(Error::invalid("body", "a draft is a JSON object"));
        }
        if base_version < 0 {
            return Err(Error::invalid("baseVersion", "a version is 0 or more"));
        }
        let text = serde_json::to_string(body).map_err(Error::internal)?;
        if text.len() > MAX_DRAFT_BYTES {
            return Err(Error::TooLarge(format!("a draft may hold {} KB", MAX_DRAFT_BYTES / 1024)));
        }
        let key = self.draft_key(template).await?;
        let now = self.now_ms();
        self.db.upsert_draft(&caller.id, &key, base_version, &text, now).await?;
        Ok(KeptDraft { base_version, body: body.clone(), updated_at: rfc3339(now) })
    }

    /// The caller's kept edits of a template, if any.
    pub async fn kept_draft(&self, caller: &Principal, template: Option<&str>) -> Result<Option<KeptDraft>> {
        caller.require(Can::ManageWorkflows)?;
        let key = self.draft_key(template).await?;
        Ok(self.db.draft(&caller.id, &key).await?.and_then(|(base_version, body, at)| {
            Some(KeptDraft { base_version, body: serde_json::from_str(&body).ok()?, updated_at: rfc3339(at) })
        }))
    }

    /// Drops the caller's kept edits of a template (after a save, or when they discard them).
    pub async fn discard_draft(&self, caller: &Principal, template: Option<&str>) -> Result<()> {
        caller.require(Can::ManageWorkflows)?;
        let key = self.draft_key(template).await?;
        self.db.delete_draft(&caller.id, &key).await
    }
}
