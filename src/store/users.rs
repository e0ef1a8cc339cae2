use sqlx::FromRow;

use super::{with_pool, Db};
use crate::auth::Role;
use crate::Result;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Staff)
    }
}

impl Db {
    pub async fn insert_user(&self, row: &UserRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(&row.email)
        .bind(&row.password_hash)
        .bind(&row.role)
        .bind(row.created_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, UserRow>(
            "SELECT id, email, password_hash, role, created_at FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn count_users(&self) -> Result<i64> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await)?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, UserRow>(
            "SELECT id, email, password_hash, role, created_at FROM users ORDER BY email",
        )
        .fetch_all(pool)
        .await)?)
    }
}
