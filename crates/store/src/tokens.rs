//! API tokens, stored only as SHA-256 hashes of their secret: the row type of
//! [`crate::TokenStorage`], and the SQLite backend's table. Changes run in the writer's
//! group commit.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::sqlite::SqliteStore;
pub use crate::storage::TokenRow;
use crate::storage::{StoreFuture, TokenStorage};

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: row.get(0)?,
        name: row.get(1)?,
        hash: row.get(2)?,
        scopes: row.get(3)?,
        models: row.get(4)?,
        created_ms: row.get(5)?,
        revoked_ms: row.get(6)?,
    })
}

const COLUMNS: &str = "id, name, hash, scopes, models, created_ms, revoked_ms";

/// Stores a new token; returns its id.
fn insert(
    conn: &Connection,
    name: &str,
    hash: &str,
    scopes: &str,
    models: Option<&str>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO tokens (name, hash, scopes, models, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, hash, scopes, models, now_ms],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The token with this hash, revoked or not.
fn find(conn: &Connection, hash: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"),
            [hash],
            row,
        )
        .optional()?)
}

/// Every token, oldest first.
fn list(conn: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM tokens ORDER BY id"))?;
    let rows = statement.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a token; `false` if there is no such token or it was already revoked.
fn revoke(conn: &Connection, id: i64, now_ms: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
        params![id, now_ms],
    )? > 0)
}

/// Tokens not revoked.
fn count_active(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM tokens WHERE revoked_ms IS NULL",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

impl TokenStorage for SqliteStore {
    fn create_token(
        &self,
        name: &str,
        hash: &str,
        scopes: &str,
        models: Option<&str>,
        now_ms: i64,
    ) -> StoreFuture<'_, i64> {
        let (name, hash, scopes) = (name.to_string(), hash.to_string(), scopes.to_string());
        let models = models.map(str::to_string);
        Box::pin(self.write(move |tx| insert(tx, &name, &hash, &scopes, models.as_deref(), now_ms)))
    }

    fn revoke_token(&self, id: i64, now_ms: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx| revoke(tx, id, now_ms)))
    }

    fn find_token(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        self.read(|conn| find(conn, hash))
    }

    fn list_tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.read(list)
    }

    fn count_active_tokens(&self) -> Result<u64, StoreError> {
        self.read(count_active)
    }
}
