use super::{with_pool, Db, UserRow};
use crate::Result;

impl Db {
    pub async fn insert_session(&self, token_hash: &str, user_id: &str, now: i64, expires_at: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The user behind an unexpired session.
    pub async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<UserRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, UserRow>(
            "SELECT u.id, u.email, u.password_hash, u.role, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        let done = with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
