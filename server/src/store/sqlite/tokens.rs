//! Token lists, revocation by id, last use, the per-user token cap and bot accounts (SQLite).
//! Expired tokens count as revoked: they are never found, listed or counted.

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    token_rows::{insert, scope_column},
    users, SqliteStore,
};
use crate::{
    error::Result,
    store::{
        now_ms, refusals, Issued, NewToken, NewUser, StoreFuture, StoredToken, TokenStore,
        UserCreation, UserRecord,
    },
};

/// Migration 15: the bot flag, and a token's scope (JSON), expiry and last use.
pub(super) const MIGRATION: &str = r#"
    ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN scope TEXT;
    ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
    ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
"#;

/// The condition a live token meets (`?now` bound by the caller as the named parameter).
const LIVE: &str = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)";

pub(super) fn list(conn: &Connection, user_id: i64, limit: u32) -> Result<Vec<StoredToken>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, label, created_at, last_used_at, expires_at, scope FROM tokens
          WHERE user_id = :user AND {LIVE} ORDER BY id DESC LIMIT :limit"
    ))?;
    let rows = stmt.query_map(
        rusqlite::named_params! {":user": user_id, ":now": now_ms(), ":limit": limit},
        |r| {
            Ok(StoredToken {
                id: r.get(0)?,
                label: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                created_at: r.get(2)?,
                last_used_at: r.get(3)?,
                expires_at: r.get(4)?,
                scope: scope_column(r, 5)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn revoke_of(conn: &Connection, user_id: i64, token_id: i64) -> Result<bool> {
    let now = now_ms();
    Ok(conn.execute(
        &format!(
            "UPDATE tokens SET revoked_at = :now WHERE id = :id AND user_id = :user AND {LIVE}"
        ),
        rusqlite::named_params! {":now": now, ":id": token_id, ":user": user_id},
    )? > 0)
}

fn touch(conn: &Connection, uses: &[(i64, i64)]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE tokens SET last_used_at = ?2
          WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
    )?;
    for (id, at) in uses {
        stmt.execute(params![id, at])?;
    }
    Ok(())
}

/// See `TokenStore::issue_capped`.
pub(super) fn issue_capped(
    conn: &Connection,
    user_id: i64,
    token: &NewToken,
    cap: usize,
    evict: bool,
) -> Result<Issued> {
    let now = now_ms();
    let live: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM tokens WHERE user_id = :user AND {LIVE}"),
        rusqlite::named_params! {":user": user_id, ":now": now},
        |r| r.get(0),
    )?;
    let cap = i64::try_from(cap.max(1)).unwrap_or(i64::MAX);
    let mut evicted = Vec::new();
    if live >= cap {
        if !evict {
            return Err(refusals::too_many_tokens(cap as usize));
        }
        let mut stmt = conn.prepare_cached(&format!(
            "UPDATE tokens SET revoked_at = :now WHERE id IN (
                SELECT id FROM tokens WHERE user_id = :user AND {LIVE}
                 ORDER BY COALESCE(last_used_at, created_at), id LIMIT :n)
             RETURNING id"
        ))?;
        evicted = stmt
            .query_map(
                rusqlite::named_params! {":now": now, ":user": user_id, ":n": live - cap + 1},
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        evicted.sort_unstable();
    }
    let id = insert(conn, user_id, token)?;
    Ok(Issued { id, evicted })
}

pub(super) fn create_bot(conn: &Connection, user: &NewUser) -> Result<UserCreation> {
    let created = users::create_user(conn, user, None)?;
    if let UserCreation::Created(record) = &created {
        conn.execute("UPDATE users SET is_bot = 1 WHERE id = ?1", [record.id])?;
    }
    Ok(created)
}

fn bot_by_id(conn: &Connection, id: i64) -> Result<Option<UserRecord>> {
    let is_bot: Option<bool> = conn
        .prepare_cached("SELECT is_bot FROM users WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if is_bot != Some(true) {
        return Ok(None);
    }
    users::user_by_id(conn, id)
}

impl TokenStore for SqliteStore {
    fn list_tokens(&self, user_id: i64, limit: u32) -> StoreFuture<'_, Vec<StoredToken>> {
        Box::pin(self.read(move |conn| list(conn, user_id, limit)))
    }

    fn revoke_token_of(&self, user_id: i64, token_id: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| Ok((revoke_of(tx, user_id, token_id)?, Vec::new()))))
    }

    fn touch_tokens(&self, uses: Vec<(i64, i64)>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| Ok((touch(tx, &uses)?, Vec::new()))))
    }

    fn issue_capped(
        &self,
        user_id: i64,
        token: NewToken,
        cap: usize,
        evict: bool,
    ) -> StoreFuture<'_, Issued> {
        Box::pin(
            self.write(move |tx, _| {
                Ok((issue_capped(tx, user_id, &token, cap, evict)?, Vec::new()))
            }),
        )
    }

    fn create_bot(&self, user: NewUser) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |tx, _| Ok((create_bot(tx, &user)?, Vec::new()))))
    }

    fn bot_by_id(&self, id: i64) -> StoreFuture<'_, Option<UserRecord>> {
        Box::pin(self.read(move |conn| bot_by_id(conn, id)))
    }
}
