//! Users and bearer tokens (SQLite). Tokens are stored only as their SHA-256 (they are 256
//! random bits, so a fast hash is enough; passwords, which people choose, get argon2id).

use parley_protocol::UserRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::store::refusals;
pub use crate::store::{TokenRecord, UserRecord};
use crate::{
    error::Result,
    store::{now_ms, AccountStore, NewToken, NewUser, StoreFuture, UserCreation, UserRules},
};

const USER_COLUMNS: &str = "u.id, u.name, u.display_name, u.avatar, u.is_admin";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        display_name: row.get(2)?,
        avatar: row.get(3)?,
        is_admin: row.get(4)?,
    })
}

/// A new user. `name_key` is `display_names::name_key(name)`.
pub fn insert_user(
    conn: &Connection,
    name: &str,
    name_key: &str,
    display_name: Option<&str>,
    password_hash: &str,
    is_admin: bool,
) -> Result<UserRecord> {
    let inserted = conn.execute(
        "INSERT INTO users (name, name_key, display_name, password_hash, is_admin, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING",
        params![
            name,
            name_key,
            display_name,
            password_hash,
            is_admin,
            now_ms()
        ],
    )?;
    if inserted == 0 {
        return Err(refusals::user_exists(name));
    }
    Ok(UserRecord {
        id: conn.last_insert_rowid(),
        name: name.to_owned(),
        display_name: display_name.map(str::to_owned),
        avatar: None,
        is_admin,
    })
}

/// The name of a user whose `name_key` is `key` (a user name that looks like it), other than
/// the user `except`.
pub fn user_named_like(
    conn: &Connection,
    key: &str,
    except: Option<i64>,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT name FROM users WHERE name_key = ?1 AND id IS NOT ?2 LIMIT 1")?
        .query_row(params![key, except], |r| r.get(0))
        .optional()?)
}

/// Gives users stored before `name_key` existed their key; returns how many.
pub fn fill_name_keys(conn: &Connection, key_of: &dyn Fn(&str) -> String) -> Result<usize> {
    let missing: Vec<(i64, String)> = conn
        .prepare("SELECT id, name FROM users WHERE name_key IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = conn.prepare_cached("UPDATE users SET name_key = ?2 WHERE id = ?1")?;
    for (id, name) in &missing {
        update.execute(params![id, key_of(name)])?;
    }
    Ok(missing.len())
}

/// Every user's display name that is set: (id, user name, display name).
pub fn display_names(conn: &Connection) -> Result<Vec<(i64, String, String)>> {
    Ok(conn
        .prepare("SELECT id, name, display_name FROM users WHERE display_name IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn set_display_name(conn: &Connection, user_id: i64, display_name: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE users SET display_name = ?2 WHERE id = ?1",
        params![user_id, display_name],
    )?;
    Ok(())
}

/// The user and their password hash, for login.
pub fn user_with_password(conn: &Connection, name: &str) -> Result<Option<(UserRecord, String)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = ?1"
        ))?
        .query_row([name], |row| Ok((user_from_row(row)?, row.get(5)?)))
        .optional()?)
}

pub fn user_by_name(conn: &Connection, name: &str) -> Result<Option<UserRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?1"
        ))?
        .query_row([name], user_from_row)
        .optional()?)
}

pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<UserRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"
        ))?
        .query_row([id], user_from_row)
        .optional()?)
}

/// The live (not revoked) token with this hash and its user.
pub fn token_by_hash(conn: &Connection, token_hash: &[u8]) -> Result<Option<TokenRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, t.id, t.scope, t.expires_at
               FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > ?2)
               AND u.disabled_at IS NULL AND u.deleted_at IS NULL"
        ))?
        .query_row(params![token_hash, now_ms()], |row| {
            Ok(TokenRecord {
                id: row.get(5)?,
                user: user_from_row(row)?,
                scope: super::token_rows::scope_column(row, 6)?.map(std::sync::Arc::new),
                expires_at: row.get(7)?,
            })
        })
        .optional()?)
}

/// Revokes one token by hash; false when there was no such live token.
pub fn revoke_token_hash(conn: &Connection, token_hash: &[u8]) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
        params![token_hash, now_ms()],
    )? > 0)
}

/// Revokes every token of a user; returns how many.
pub fn revoke_user_tokens(conn: &Connection, user_id: i64) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, now_ms()],
    )?)
}

/// See `AccountStore::change_password`.
pub fn change_password(
    conn: &Connection,
    user_id: i64,
    hash: &str,
    keep_token: Option<i64>,
) -> Result<Vec<i64>> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, hash],
    )?;
    if changed == 0 {
        return Err(crate::error::Error::new(
            parley_protocol::ErrorCode::UserNotFound,
            "no such user",
        ));
    }
    let Some(keep) = keep_token else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "UPDATE tokens SET revoked_at = ?3
          WHERE user_id = ?1 AND id != ?2 AND revoked_at IS NULL RETURNING id",
    )?;
    let mut ids = stmt
        .query_map(params![user_id, keep, now_ms()], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Of the given token ids, those that are revoked, expired (or gone).
pub fn revoked_among(conn: &Connection, ids: &[i64]) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)
           FROM tokens WHERE id = ?1",
    )?;
    let now = now_ms();
    let mut revoked = Vec::new();
    for id in ids {
        let live: Option<bool> = stmt.query_row(params![id, now], |r| r.get(0)).optional()?;
        if live != Some(true) {
            revoked.push(*id);
        }
    }
    Ok(revoked)
}

/// Creates a user unless their display name passes for another user's user name, checked in
/// the same transaction as the insert; with a first token when `token` is given.
pub fn create_user(
    conn: &Connection,
    user: &NewUser,
    token: Option<&NewToken>,
) -> Result<UserCreation> {
    if let Some(key) = &user.display_key {
        if let Some(other) = user_named_like(conn, key, None)? {
            if !other.eq_ignore_ascii_case(&user.name) {
                return Ok(UserCreation::LooksLike(other));
            }
        }
    }
    let record = insert_user(
        conn,
        &user.name,
        &user.name_key,
        user.display_name.as_deref(),
        &user.password_hash,
        user.is_admin,
    )?;
    if let Some(token) = token {
        super::token_rows::insert(conn, record.id, token)?;
    }
    Ok(UserCreation::Created(record))
}

/// Fills in missing name keys and repairs display names set before the rules: cleared when
/// nothing is left of them or when they pass for another user's name.
pub fn repair_users(conn: &Connection, rules: UserRules) -> Result<usize> {
    fill_name_keys(conn, &rules.name_key)?;
    let mut repaired = 0;
    for (id, name, stored) in display_names(conn)? {
        let mut fixed = (rules.repaired)(&stored);
        if let Some(candidate) = &fixed {
            if user_named_like(conn, &(rules.name_key)(candidate), Some(id))?.is_some() {
                fixed = None;
            }
        }
        if fixed.as_deref() != Some(stored.as_str()) {
            tracing::warn!(user = %name, "display name repaired under the display-name rules");
            set_display_name(conn, id, fixed.as_deref())?;
            repaired += 1;
        }
    }
    Ok(repaired)
}

impl AccountStore for SqliteStore {
    fn token_by_hash(&self, hash: Vec<u8>) -> StoreFuture<'_, Option<TokenRecord>> {
        Box::pin(self.read_auth(move |conn| token_by_hash(conn, &hash)))
    }

    fn user_with_password(&self, name: String) -> StoreFuture<'_, Option<(UserRecord, String)>> {
        Box::pin(self.read(move |conn| user_with_password(conn, &name)))
    }

    fn user_by_name(&self, name: String) -> StoreFuture<'_, Option<UserRecord>> {
        Box::pin(self.read(move |conn| user_by_name(conn, &name)))
    }

    fn users_by_name(&self, names: Vec<String>) -> StoreFuture<'_, Vec<Option<UserRecord>>> {
        Box::pin(self.read(move |conn| names.iter().map(|n| user_by_name(conn, n)).collect()))
    }

    fn users_by_id(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<UserRecord>> {
        Box::pin(self.read(move |conn| {
            let mut users = Vec::with_capacity(ids.len());
            for id in ids {
                users.extend(user_by_id(conn, id)?);
            }
            Ok(users)
        }))
    }

    fn create_user(&self, user: NewUser, token: Option<NewToken>) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |tx, _| Ok((create_user(tx, &user, token.as_ref())?, Vec::new()))))
    }

    fn issue_token(&self, user_id: i64, token: NewToken) -> StoreFuture<'_, i64> {
        Box::pin(
            self.write(move |tx, _| {
                Ok((super::token_rows::insert(tx, user_id, &token)?, Vec::new()))
            }),
        )
    }

    fn revoke_token(&self, hash: Vec<u8>) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| Ok((revoke_token_hash(tx, &hash)?, Vec::new()))))
    }

    fn revoke_user_tokens(&self, user_id: i64) -> StoreFuture<'_, usize> {
        Box::pin(self.write(move |tx, _| Ok((revoke_user_tokens(tx, user_id)?, Vec::new()))))
    }

    fn change_password(
        &self,
        user_id: i64,
        hash: String,
        keep_token: Option<i64>,
    ) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(
            self.write(move |tx, _| {
                Ok((change_password(tx, user_id, &hash, keep_token)?, Vec::new()))
            }),
        )
    }

    fn revoked_among(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.read(move |conn| revoked_among(conn, &ids)))
    }

    fn repair_users(&self, rules: UserRules) -> StoreFuture<'_, usize> {
        Box::pin(self.write(move |tx, _| Ok((repair_users(tx, rules)?, Vec::new()))))
    }
}

/// A user as messages and documents name them, by id (None when there is none or it is gone).
pub(super) fn user_ref(conn: &Connection, id: Option<i64>) -> Result<Option<UserRef>> {
    let Some(id) = id else { return Ok(None) };
    Ok(conn
        .prepare_cached("SELECT id, name, display_name, avatar FROM users WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(UserRef {
                id: r.get(0)?,
                name: r.get(1)?,
                display_name: r.get(2)?,
                avatar: r.get(3)?,
            })
        })
        .optional()?)
}
