//! Users and bearer tokens (PostgreSQL). Tokens are stored only as their SHA-256.
#![allow(unused_imports)] // scaffolding: the stubs below are being ported

use postgres::{GenericClient, Row, Transaction};

use super::{is_unique_violation, PgStore};
use crate::store::*;
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

impl AccountStore for PgStore {
    fn create_user(&self, user: NewUser, token: Option<NewToken>) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |tx, _| Ok((create_user(tx, &user, token.as_ref())?, Vec::new()))))
    }

    fn token_by_hash(&self, _hash: Vec<u8>) -> StoreFuture<'_, Option<TokenRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn user_with_password(&self, _name: String) -> StoreFuture<'_, Option<(UserRecord, String)>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn user_by_name(&self, _name: String) -> StoreFuture<'_, Option<UserRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn users_by_name(&self, _names: Vec<String>) -> StoreFuture<'_, Vec<Option<UserRecord>>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn users_by_id(&self, _ids: Vec<i64>) -> StoreFuture<'_, Vec<UserRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn issue_token(&self, _user_id: i64, _token: NewToken) -> StoreFuture<'_, i64> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn revoke_token(&self, _hash: Vec<u8>) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn revoke_user_tokens(&self, _user_id: i64) -> StoreFuture<'_, usize> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn change_password(
        &self,
        _user_id: i64,
        _hash: String,
        _keep_token: Option<i64>,
    ) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn revoked_among(&self, _ids: Vec<i64>) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn repair_users(&self, _rules: UserRules) -> StoreFuture<'_, usize> {
        Box::pin(async { Err(super::not_yet()) })
    }
}
