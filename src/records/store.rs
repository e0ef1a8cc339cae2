//! All SQL on `records`: one row per practice record, its fields as JSON,
//! and the columns lists filter and order by.

use sqlx::FromRow;

use crate::store::{with_pool, with_tx, Db, Tx};
use crate::Result;

#[derive(Debug, Clone, FromRow)]
pub struct RecordRow {
    pub id: String,
    pub entity: String,
    pub version: i64,
    /// The fields as JSON text.
    pub data: String,
    pub client_id: Option<String>,
    pub patient_id: Option<String>,
    pub status: Option<String>,
    /// The record's own time in ms: an appointment's start, an invoice's due date.
    pub at: Option<i64>,
    pub search: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

const COLUMNS: &str =
    "id, entity, version, data, client_id, patient_id, status, at, search, created_at, updated_at, deleted_at";

/// What a list asks for, already checked.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub entity: String,
    pub client_id: Option<String>,
    pub patient_id: Option<String>,
    pub status: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Lower-cased words, each of which must appear.
    pub words: Vec<String>,
    pub include_deleted: bool,
    pub order: Order,
    /// The keyset of the last row seen: (sort value, id).
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest first.
    #[default]
    CreatedDesc,
    /// Soonest first by the record's own time.
    AtAsc,
    AtDesc,
}

pub async fn insert(tx: &mut Tx, r: &RecordRow) -> Result<()> {
    with_tx!(tx, conn => sqlx::query(&format!(
        "INSERT INTO records ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
        .bind(&r.id).bind(&r.entity).bind(r.version).bind(&r.data).bind(&r.client_id).bind(&r.patient_id)
        .bind(&r.status).bind(r.at).bind(&r.search).bind(r.created_at).bind(r.updated_at).bind(r.deleted_at)
        .execute(&mut **conn).await.map(|_| ()))?;
    Ok(())
}

/// Writes `r` over the stored row if that is still at `expected_version`
/// (the new row carries `expected_version + 1`). False when someone else
/// changed it first: nothing is written then.
pub async fn update(tx: &mut Tx, r: &RecordRow, expected_version: i64) -> Result<bool> {
    let n = with_tx!(tx, conn => sqlx::query(
        "UPDATE records SET version = $3, data = $4, client_id = $5, patient_id = $6, status = $7, at = $8,
            search = $9, updated_at = $10, deleted_at = $11
         WHERE id = $1 AND version = $2")
        .bind(&r.id).bind(expected_version).bind(r.version).bind(&r.data).bind(&r.client_id).bind(&r.patient_id)
        .bind(&r.status).bind(r.at).bind(&r.search).bind(r.updated_at).bind(r.deleted_at)
        .execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The row, read inside a transaction.
pub async fn get_in(tx: &mut Tx, id: &str) -> Result<Option<RecordRow>> {
    Ok(with_tx!(tx, conn => sqlx::query_as::<_, RecordRow>(&format!("SELECT {COLUMNS} FROM records WHERE id = $1"))
        .bind(id).fetch_optional(&mut **conn).await)?)
}

/// The row, locked until the transaction ends (to decide on what is being
/// changed; SQLite's write transaction holds the whole database already).
pub async fn lock(tx: &mut Tx, id: &str) -> Result<Option<RecordRow>> {
    let lock = match tx.backend() {
        crate::store::Backend::Postgres => " FOR UPDATE",
        crate::store::Backend::Sqlite => "",
    };
    Ok(
        with_tx!(tx, conn => sqlx::query_as::<_, RecordRow>(&format!("SELECT {COLUMNS} FROM records WHERE id = $1{lock}"))
        .bind(id).fetch_optional(&mut **conn).await)?,
    )
}

impl Db {
    pub async fn record(&self, id: &str) -> Result<Option<RecordRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, RecordRow>(&format!("SELECT {COLUMNS} FROM records WHERE id = $1"))
            .bind(id).fetch_optional(pool).await)?,
        )
    }

    /// Several rows by id (any entity), in no particular order.
    pub async fn records(&self, ids: &[&str]) -> Result<Vec<RecordRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT {COLUMNS} FROM records WHERE id IN ({})", params.join(", "));
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, RecordRow>(&sql);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?)
    }

    pub async fn list_records(&self, f: &ListFilter) -> Result<Vec<RecordRow>> {
        let mut params: Vec<Param> = Vec::new();
        // Pushes a parameter and names it: `$n` in the order of binding.
        let mut p = |v: Param| {
            params.push(v);
            format!("${}", params.len())
        };
        let mut clauses = vec![format!("entity = {}", p(Param::Text(f.entity.clone())))];
        for (col, v) in [("client_id", &f.client_id), ("patient_id", &f.patient_id), ("status", &f.status)] {
            if let Some(v) = v {
                clauses.push(format!("{col} = {}", p(Param::Text(v.clone()))));
            }
        }
        for w in &f.words {
            let pattern = format!("%{}%", w.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            clauses.push(format!("search LIKE {} ESCAPE '\\'", p(Param::Text(pattern))));
        }
        if !f.include_deleted {
            clauses.push("deleted_at IS NULL".into());
        }
        if let Some(from) = f.from {
            clauses.push(format!("at >= {}", p(Param::Num(from))));
        }
        if let Some(to) = f.to {
            clauses.push(format!("at < {}", p(Param::Num(to))));
        }
        let (key, dir, cmp) = match f.order {
            Order::CreatedDesc => ("created_at", "DESC", "<"),
            Order::AtAsc => ("COALESCE(at, 0)", "ASC", ">"),
            Order::AtDesc => ("COALESCE(at, 0)", "DESC", "<"),
        };
        if let Some((v, id)) = &f.after {
            let (a, b) = (p(Param::Num(*v)), p(Param::Text(id.clone())));
            clauses.push(format!("({key} {cmp} {a} OR ({key} = {a} AND id {cmp} {b}))"));
        }
        let limit = p(Param::Num(f.limit));
        let sql = format!(
            "SELECT {COLUMNS} FROM records WHERE {} ORDER BY {key} {dir}, id {dir} LIMIT {limit}",
            clauses.join(" AND ")
        );
        Ok(with_pool!(self, pool => {
            let mut q = sqlx::query_as::<_, RecordRow>(&sql);
            for v in &params {
                q = match v {
                    Param::Text(t) => q.bind(t),
                    Param::Num(n) => q.bind(*n),
                };
            }
            q.fetch_all(pool).await
        })?)
    }

    /// How many live records of each entity there are.
    pub async fn record_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, (String, i64)>(
            "SELECT entity, COUNT(*) FROM records WHERE deleted_at IS NULL GROUP BY entity ORDER BY entity")
            .fetch_all(pool).await)?)
    }

    /// Live records that point at `id` (a client's patients and invoices, a patient's appointments …).
    pub async fn records_of(&self, column: Relation, id: &str, limit: i64) -> Result<Vec<RecordRow>> {
        let col = match column {
            Relation::Client => "client_id",
            Relation::Patient => "patient_id",
        };
        Ok(with_pool!(self, pool => sqlx::query_as::<_, RecordRow>(&format!(
            "SELECT {COLUMNS} FROM records WHERE {col} = $1 AND deleted_at IS NULL AND id <> $1
             ORDER BY created_at DESC, id DESC LIMIT $2"))
            .bind(id).bind(limit).fetch_all(pool).await)?)
    }
}

enum Param {
    Text(String),
    Num(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Client,
    Patient,
}
