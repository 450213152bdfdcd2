//! Token lists, revocation by id, last use, the per-user token cap and bot accounts
//! (PostgreSQL). Expired tokens count as revoked: they are never found, listed or counted.

use postgres::{GenericClient, Transaction};

use super::{
    channels::lock_user,
    users::{self, insert_token, scope_column, USER_COLUMNS},
    PgStore,
};
use crate::{
    error::Result,
    store::{
        now_ms, refusals, Issued, NewToken, NewUser, StoreFuture, StoredToken, TokenStore,
        UserCreation, UserRecord,
    },
};

/// The condition a live token meets (`$1` is now).
const LIVE: &str = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)";

fn list(client: &mut impl GenericClient, user_id: i64, limit: u32) -> Result<Vec<StoredToken>> {
    client
        .query(
            &format!(
                "SELECT id, label, created_at, last_used_at, expires_at, scope FROM tokens
                  WHERE user_id = $2 AND {LIVE} ORDER BY id DESC LIMIT $3"
            ),
            &[&now_ms(), &user_id, &i64::from(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(StoredToken {
                id: r.get(0),
                label: r.get::<_, Option<String>>(1).unwrap_or_default(),
                created_at: r.get(2),
                last_used_at: r.get(3),
                expires_at: r.get(4),
                scope: scope_column(r, 5)?,
            })
        })
        .collect()
}

fn revoke_of(tx: &mut Transaction<'_>, user_id: i64, token_id: i64) -> Result<bool> {
    Ok(tx.execute(
        &format!("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND {LIVE}"),
        &[&now_ms(), &token_id, &user_id],
    )? > 0)
}

/// Last use only moves forward (uses from several connections arrive in any order).
fn touch(tx: &mut Transaction<'_>, uses: &[(i64, i64)]) -> Result<()> {
    let stmt = tx.prepare(
        "UPDATE tokens SET last_used_at = $2
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
    )?;
    for (id, at) in uses {
        tx.execute(&stmt, &[id, at])?;
    }
    Ok(())
}

/// See `TokenStore::issue_capped`. The user's row is locked before the live tokens are
/// counted: another node issuing to the same user waits for this write's commit and then
/// counts this token too, so the cap holds across nodes.
fn issue_capped(
    tx: &mut Transaction<'_>,
    user_id: i64,
    token: &NewToken,
    cap: usize,
    evict: bool,
) -> Result<Issued> {
    lock_user(tx, user_id)?;
    let now = now_ms();
    let live: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM tokens WHERE user_id = $2 AND {LIVE}"),
            &[&now, &user_id],
        )?
        .get(0);
    let cap = i64::try_from(cap.max(1)).unwrap_or(i64::MAX);
    let mut evicted = Vec::new();
    if live >= cap {
        if !evict {
            return Err(refusals::too_many_tokens(cap as usize));
        }
        evicted = tx
            .query(
                &format!(
                    "UPDATE tokens SET revoked_at = $1 WHERE id IN (
                        SELECT id FROM tokens WHERE user_id = $2 AND {LIVE}
                         ORDER BY COALESCE(last_used_at, created_at), id LIMIT $3)
                     RETURNING id"
                ),
                &[&now, &user_id, &(live - cap + 1)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Vec<i64>>();
        evicted.sort_unstable();
    }
    let id = insert_token(tx, user_id, token)?;
    Ok(Issued { id, evicted })
}

fn create_bot(tx: &mut Transaction<'_>, user: &NewUser) -> Result<UserCreation> {
    let created = users::create_user(tx, user, None)?;
    if let UserCreation::Created(record) = &created {
        tx.execute(
            "UPDATE users SET is_bot = TRUE WHERE id = $1",
            &[&record.id],
        )?;
    }
    Ok(created)
}

fn bot_by_id(client: &mut impl GenericClient, id: i64) -> Result<Option<UserRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 AND u.is_bot"),
            &[&id],
        )?
        .map(|row| users::user_from_row(&row)))
}

impl TokenStore for PgStore {
    fn list_tokens(&self, user_id: i64, limit: u32) -> StoreFuture<'_, Vec<StoredToken>> {
        Box::pin(self.read(move |client| list(client, user_id, limit)))
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
        Box::pin(self.read(move |client| bot_by_id(client, id)))
    }
}
