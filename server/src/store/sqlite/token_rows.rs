//! A token's row as stored: its insert with scope (JSON) and expiry, and the scope read back.
//! Apart from `tokens.rs`, which builds on the users' rows, so that `users.rs` can use these.

use parley_protocol::api::TokenScope;
use rusqlite::{params, Connection};

use crate::{
    error::{Error, Result},
    store::{now_ms, NewToken},
};

/// A scope column read back (stored by [`insert`] as JSON).
pub(super) fn scope_column(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<TokenScope>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
    })
    .transpose()
}

pub(super) fn insert(conn: &Connection, user_id: i64, token: &NewToken) -> Result<i64> {
    let scope = token
        .scope
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal(format_args!("cannot store a token scope: {e}")))?;
    conn.execute(
        "INSERT INTO tokens (user_id, token_hash, label, created_at, scope, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user_id,
            token.hash,
            token.label,
            now_ms(),
            scope,
            token.expires_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}
