use sqlx::FromRow;

use super::{with_pool, Db};
use crate::Result;

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub display_prefix: String,
    pub role: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Db {
    pub async fn insert_api_key(&self, row: &ApiKeyRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, display_prefix, role, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.key_hash)
        .bind(&row.display_prefix)
        .bind(&row.role)
        .bind(row.created_at)
        .bind(row.revoked_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// An unrevoked key by the digest of its plaintext.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, ApiKeyRow>(
            "SELECT id, name, key_hash, display_prefix, role, created_at, revoked_at
             FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, ApiKeyRow>(
            "SELECT id, name, key_hash, display_prefix, role, created_at, revoked_at
             FROM api_keys ORDER BY created_at DESC",
        )
        .fetch_all(pool)
        .await)?)
    }

    pub async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
