//! Users and bearer tokens (PostgreSQL). Tokens are stored only as their SHA-256 (they are 256
//! random bits, so a fast hash is enough; passwords, which people choose, get argon2id). User
//! names are compared as SQLite's `COLLATE NOCASE` compared them: `lower(name) = lower($1)`,
//! which the unique index on `lower(name)` serves.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use parley_protocol::{api::TokenScope, ErrorCode};
use postgres::{GenericClient, Row, Transaction};

use super::{is_unique_violation, PgStore};
use crate::{
    error::{Error, Result},
    store::{
        now_ms, refusals, AccountStore, NewToken, NewUser, StoreFuture, TokenRecord, UserCreation,
        UserRecord, UserRules,
    },
};

pub(super) const USER_COLUMNS: &str = "u.id, u.name, u.display_name, u.avatar, u.is_admin";

pub(super) fn user_from_row(row: &Row) -> UserRecord {
    UserRecord {
        id: row.get(0),
        name: row.get(1),
        display_name: row.get(2),
        avatar: row.get(3),
        is_admin: row.get(4),
    }
}

/// A new user. `name_key` is `display_names::name_key(name)`.
pub fn insert_user(
    tx: &mut Transaction<'_>,
    name: &str,
    name_key: &str,
    display_name: Option<&str>,
    password_hash: &str,
    is_admin: bool,
) -> Result<UserRecord> {
    let row = tx.query_opt(
        "INSERT INTO users (name, name_key, display_name, password_hash, is_admin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lower(name)) DO NOTHING RETURNING id",
        &[
            &name,
            &name_key,
            &display_name,
            &password_hash,
            &is_admin,
            &now_ms(),
        ],
    );
    let id: i64 = match row {
        Ok(Some(row)) => row.get(0),
        Ok(None) => return Err(refusals::user_exists(name)),
        Err(e) if is_unique_violation(&e) => return Err(refusals::user_exists(name)),
        Err(e) => return Err(e.into()),
    };
    Ok(UserRecord {
        id,
        name: name.to_owned(),
        display_name: display_name.map(str::to_owned),
        avatar: None,
        is_admin,
    })
}

/// The name of a user whose `name_key` is `key` (a user name that looks like it), other than
/// the user `except`.
pub fn user_named_like(
    client: &mut impl GenericClient,
    key: &str,
    except: Option<i64>,
) -> Result<Option<String>> {
    Ok(client
        .query_opt(
            "SELECT name FROM users WHERE name_key = $1 AND id IS DISTINCT FROM $2 LIMIT 1",
            &[&key, &except],
        )?
        .map(|r| r.get(0)))
}

/// Stores a new token of the user; its id.
pub fn insert_token(tx: &mut Transaction<'_>, user_id: i64, token: &NewToken) -> Result<i64> {
    let scope = token
        .scope
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::internal(format_args!("cannot store a token scope: {e}")))?;
    Ok(tx
        .query_one(
            "INSERT INTO tokens (user_id, token_hash, label, created_at, scope, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &user_id,
                &token.hash,
                &token.label,
                &now_ms(),
                &scope,
                &token.expires_at,
            ],
        )?
        .get(0))
}

pub fn create_user(
    tx: &mut Transaction<'_>,
    user: &NewUser,
    token: Option<&NewToken>,
) -> Result<UserCreation> {
    if let Some(key) = &user.display_key {
        if let Some(other) = user_named_like(tx, key, None)? {
            if !other.eq_ignore_ascii_case(&user.name) {
                return Ok(UserCreation::LooksLike(other));
            }
        }
    }
    let record = insert_user(
        tx,
        &user.name,
        &user.name_key,
        user.display_name.as_deref(),
        &user.password_hash,
        user.is_admin,
    )?;
    if let Some(token) = token {
        insert_token(tx, record.id, token)?;
    }
    Ok(UserCreation::Created(record))
}

/// A scope column read back (stored by [`insert_token`] as JSON).
pub(super) fn scope_column(row: &Row, index: usize) -> Result<Option<TokenScope>> {
    row.get::<_, Option<&str>>(index)
        .map(|text| {
            serde_json::from_str(text)
                .map_err(|e| Error::internal(format_args!("a stored token scope: {e}")))
        })
        .transpose()
}

/// Gives users stored before `name_key` existed their key; returns how many.
fn fill_name_keys(tx: &mut Transaction<'_>, key_of: &dyn Fn(&str) -> String) -> Result<usize> {
    let missing: Vec<(i64, String)> = tx
        .query("SELECT id, name FROM users WHERE name_key IS NULL", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let update = tx.prepare("UPDATE users SET name_key = $2 WHERE id = $1")?;
    for (id, name) in &missing {
        tx.execute(&update, &[id, &key_of(name)])?;
    }
    Ok(missing.len())
}

/// Every user's display name that is set: (id, user name, display name).
fn display_names(client: &mut impl GenericClient) -> Result<Vec<(i64, String, String)>> {
    Ok(client
        .query(
            "SELECT id, name, display_name FROM users WHERE display_name IS NOT NULL
             ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

pub fn set_display_name(
    tx: &mut Transaction<'_>,
    user_id: i64,
    display_name: Option<&str>,
) -> Result<()> {
    tx.execute(
        "UPDATE users SET display_name = $2 WHERE id = $1",
        &[&user_id, &display_name],
    )?;
    Ok(())
}

/// The user and their password hash, for login.
pub fn user_with_password(
    client: &mut impl GenericClient,
    name: &str,
) -> Result<Option<(UserRecord, String)>> {
    Ok(client
        .query_opt(
            &format!(
                "SELECT {USER_COLUMNS}, u.password_hash FROM users u
                  WHERE lower(u.name) = lower($1)"
            ),
            &[&name],
        )?
        .map(|row| (user_from_row(&row), row.get(5))))
}

pub fn user_by_name(client: &mut impl GenericClient, name: &str) -> Result<Option<UserRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE lower(u.name) = lower($1)"),
            &[&name],
        )?
        .map(|row| user_from_row(&row)))
}

pub fn user_by_id(client: &mut impl GenericClient, id: i64) -> Result<Option<UserRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"),
            &[&id],
        )?
        .map(|row| user_from_row(&row)))
}

/// The users of `names`, in their order (None where there is none).
fn users_by_name(
    client: &mut impl GenericClient,
    names: &[String],
) -> Result<Vec<Option<UserRecord>>> {
    let stmt = client.prepare(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE lower(u.name) = lower($1)"
    ))?;
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        found.push(
            client
                .query_opt(&stmt, &[name])?
                .map(|row| user_from_row(&row)),
        );
    }
    Ok(found)
}

/// The users of `ids` that exist, in the order of `ids`.
fn users_by_id(client: &mut impl GenericClient, ids: &[i64]) -> Result<Vec<UserRecord>> {
    let by_id: HashMap<i64, UserRecord> = client
        .query(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ANY($1)"),
            &[&ids],
        )?
        .iter()
        .map(|row| {
            let user = user_from_row(row);
            (user.id, user)
        })
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
}

/// The live (not revoked, not expired) token with this hash and its (enabled) user.
pub fn token_by_hash(
    client: &mut impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<TokenRecord>> {
    let row = client.query_opt(
        &format!(
            "SELECT {USER_COLUMNS}, t.id, t.scope, t.expires_at
               FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > $2)
               AND u.disabled_at IS NULL AND u.deleted_at IS NULL"
        ),
        &[&token_hash, &now_ms()],
    )?;
    row.map(|row| {
        Ok(TokenRecord {
            id: row.get(5),
            user: user_from_row(&row),
            scope: scope_column(&row, 6)?.map(Arc::new),
            expires_at: row.get(7),
        })
    })
    .transpose()
}

/// Revokes one token by hash; false when there was no such live token.
fn revoke_token_hash(tx: &mut Transaction<'_>, token_hash: &[u8]) -> Result<bool> {
    Ok(tx.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        &[&token_hash, &now_ms()],
    )? > 0)
}

/// Revokes every token of a user; returns how many.
fn revoke_user_tokens(tx: &mut Transaction<'_>, user_id: i64) -> Result<usize> {
    Ok(tx.execute(
        "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user_id, &now_ms()],
    )? as usize)
}

/// See `AccountStore::change_password`.
fn change_password(
    tx: &mut Transaction<'_>,
    user_id: i64,
    hash: &str,
    keep_token: Option<i64>,
) -> Result<Vec<i64>> {
    let changed = tx.execute(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&user_id, &hash],
    )?;
    if changed == 0 {
        return Err(Error::new(ErrorCode::UserNotFound, "no such user"));
    }
    let Some(keep) = keep_token else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<i64> = tx
        .query(
            "UPDATE tokens SET revoked_at = $3
              WHERE user_id = $1 AND id != $2 AND revoked_at IS NULL RETURNING id",
            &[&user_id, &keep, &now_ms()],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Of the given token ids, those that are revoked, expired (or gone), in the given order.
fn revoked_among(client: &mut impl GenericClient, ids: &[i64]) -> Result<Vec<i64>> {
    let live: HashSet<i64> = client
        .query(
            "SELECT id FROM tokens WHERE id = ANY($1)
                AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
            &[&ids, &now_ms()],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !live.contains(id))
        .collect())
}

/// Fills in missing name keys and repairs display names set before the rules: cleared when
/// nothing is left of them or when they pass for another user's name.
fn repair_users(tx: &mut Transaction<'_>, rules: UserRules) -> Result<usize> {
    fill_name_keys(tx, &rules.name_key)?;
    let mut repaired = 0;
    for (id, name, stored) in display_names(tx)? {
        let mut fixed = (rules.repaired)(&stored);
        if let Some(candidate) = &fixed {
            if user_named_like(tx, &(rules.name_key)(candidate), Some(id))?.is_some() {
                fixed = None;
            }
        }
        if fixed.as_deref() != Some(stored.as_str()) {
            tracing::warn!(user = %name, "display name repaired under the display-name rules");
            set_display_name(tx, id, fixed.as_deref())?;
            repaired += 1;
        }
    }
    Ok(repaired)
}

impl AccountStore for PgStore {
    fn token_by_hash(&self, hash: Vec<u8>) -> StoreFuture<'_, Option<TokenRecord>> {
        Box::pin(self.read_auth(move |client| token_by_hash(client, &hash)))
    }

    fn user_with_password(&self, name: String) -> StoreFuture<'_, Option<(UserRecord, String)>> {
        Box::pin(self.read(move |client| user_with_password(client, &name)))
    }

    fn user_by_name(&self, name: String) -> StoreFuture<'_, Option<UserRecord>> {
        Box::pin(self.read(move |client| user_by_name(client, &name)))
    }

    fn users_by_name(&self, names: Vec<String>) -> StoreFuture<'_, Vec<Option<UserRecord>>> {
        Box::pin(self.read(move |client| users_by_name(client, &names)))
    }

    fn users_by_id(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<UserRecord>> {
        Box::pin(self.read(move |client| users_by_id(client, &ids)))
    }

    fn create_user(&self, user: NewUser, token: Option<NewToken>) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |tx, _| Ok((create_user(tx, &user, token.as_ref())?, Vec::new()))))
    }

    fn issue_token(&self, user_id: i64, token: NewToken) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |tx, _| Ok((insert_token(tx, user_id, &token)?, Vec::new()))))
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
        Box::pin(self.read(move |client| revoked_among(client, &ids)))
    }

    fn repair_users(&self, rules: UserRules) -> StoreFuture<'_, usize> {
        Box::pin(self.write(move |tx, _| Ok((repair_users(tx, rules)?, Vec::new()))))
    }
}

/// A user as clients see them; None for no id, or a user who is gone.
pub(super) fn user_ref(
    client: &mut impl GenericClient,
    id: Option<i64>,
) -> Result<Option<parley_protocol::UserRef>> {
    let Some(id) = id else { return Ok(None) };
    Ok(client
        .query_opt(
            "SELECT id, name, display_name, avatar FROM users WHERE id = $1",
            &[&id],
        )?
        .map(|r| parley_protocol::UserRef {
            id: r.get(0),
            name: r.get(1),
            display_name: r.get(2),
            avatar: r.get(3),
        }))
}
