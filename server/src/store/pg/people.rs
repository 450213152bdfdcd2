//! Invites, account states (disabled, deleted), reset codes, display names and avatars
//! (PostgreSQL). Codes are kept as their SHA-256, as tokens are.
//!
//! What SQLite counts safely because it has one writer is counted here under row locks: a
//! user's live invites under their user row, the enabled admins under their own rows.

use parley_protocol::{ErrorCode, Event, Message};
use postgres::{GenericClient, Row, Transaction};
use sha2::{Digest, Sha256};

use super::{channels::lock_user, users, PgStore};
use crate::{
    error::{Error, Result},
    store::{
        avatar_path, frames, invalid_reset_code, now_ms, AccountRecord, InviteRecord, NewInvite,
        NewToken, NewUser, PeopleStore, Published, StoreFuture, UserCreation, UserRecord,
        DELETED_DISPLAY_NAME,
    },
};

/// The condition a live invite meets, `$n` being now.
fn live(n: usize) -> String {
    format!("i.revoked_at IS NULL AND i.uses_left > 0 AND i.expires_at > ${n}")
}

const INVITE_COLUMNS: &str =
    "i.id, i.created_by, i.created_at, i.expires_at, i.uses_left, i.revoked_at";

fn invite_from_row(client: &mut impl GenericClient, row: &Row) -> Result<InviteRecord> {
    let id: i64 = row.get(0);
    let creator: i64 = row.get(1);
    let created_by = users::user_by_id(client, creator)?
        .ok_or_else(|| Error::internal("an invite's creator is gone"))?;
    let used_by = client
        .query(
            "SELECT user_id FROM invite_uses WHERE invite_id = $1 ORDER BY used_at",
            &[&id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(InviteRecord {
        id,
        created_by,
        created_at: row.get(2),
        expires_at: row.get(3),
        uses_left: u32::try_from(row.get::<_, i64>(4)).unwrap_or(0),
        revoked: row.get::<_, Option<i64>>(5).is_some(),
        used_by,
    })
}

fn invites_where(
    client: &mut impl GenericClient,
    filter: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<InviteRecord>> {
    let rows = client.query(
        &format!("SELECT {INVITE_COLUMNS} FROM invites i WHERE {filter} ORDER BY i.id"),
        args,
    )?;
    rows.iter()
        .map(|row| invite_from_row(client, row))
        .collect()
}

/// The creator's row is locked before their live invites are counted, so that two nodes
/// cannot both make the last invite allowed.
fn create_invite(tx: &mut Transaction<'_>, invite: &NewInvite) -> Result<InviteRecord> {
    lock_user(tx, invite.created_by)?;
    let now = now_ms();
    let live: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM invites i WHERE i.created_by = $1 AND {}",
                live(2)
            ),
            &[&invite.created_by, &now],
        )?
        .get(0);
    if live >= i64::from(invite.max_live) {
        return Err(Error::new(
            ErrorCode::LimitReached,
            format!(
                "you hold {live} live invites, the most allowed \
                 (accounts.max_live_invites_per_user); revoke one first"
            ),
        ));
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO invites (code_hash, created_by, created_at, expires_at, uses_left)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &invite.code_hash,
                &invite.created_by,
                &now,
                &invite.expires_at,
                &i64::from(invite.uses),
            ],
        )?
        .get(0);
    invites_where(tx, "i.id = $1", &[&id])?
        .pop()
        .ok_or_else(|| Error::internal("a new invite vanished"))
}

/// Takes one use of the live invite whose code hashes to `hash`, for `user_id`. One statement:
/// a concurrent use of the same invite waits on its row and then re-checks that it is still
/// live, so an invite is never used more often than it allows.
fn take_invite(tx: &mut Transaction<'_>, hash: &[u8], now: i64, user_id: i64) -> Result<()> {
    let id: i64 = tx
        .query_opt(
            &format!(
                "UPDATE invites AS i SET uses_left = uses_left - 1
                  WHERE i.code_hash = $1 AND {} RETURNING id",
                live(2)
            ),
            &[&hash, &now],
        )?
        .map(|r| r.get(0))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInvite,
                "this invite is unknown, used up, expired or revoked",
            )
        })?;
    tx.execute(
        "INSERT INTO invite_uses (invite_id, user_id, used_at) VALUES ($1, $2, $3)",
        &[&id, &user_id, &now],
    )?;
    Ok(())
}

fn account_from_row(row: &Row) -> AccountRecord {
    AccountRecord {
        user: UserRecord {
            id: row.get(0),
            name: row.get(1),
            display_name: row.get(2),
            avatar: row.get(3),
            is_admin: row.get(4),
        },
        disabled: row.get::<_, Option<i64>>(5).is_some(),
        deleted: row.get::<_, Option<i64>>(6).is_some(),
        created_at: row.get(7),
    }
}

const ACCOUNT_SELECT: &str = "SELECT id, name, display_name, avatar, is_admin, disabled_at,
    deleted_at, created_at FROM users";

fn account(client: &mut impl GenericClient, user_id: i64) -> Result<Option<AccountRecord>> {
    Ok(client
        .query_opt(&format!("{ACCOUNT_SELECT} WHERE id = $1"), &[&user_id])?
        .map(|row| account_from_row(&row)))
}

/// The account, not deleted, its row locked until the commit (a concurrent change of the same
/// account on another node waits, then sees this one's outcome).
fn live_account(tx: &mut Transaction<'_>, user_id: i64) -> Result<AccountRecord> {
    lock_user(tx, user_id)?;
    account(tx, user_id)?
        .filter(|a| !a.deleted)
        .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such user"))
}

/// Locks the enabled admins' rows (in id order, so that two such writes queue rather than
/// deadlock) and returns their ids. Taken before any other user row of the write: a second
/// write taking an admin away waits here for the first one's commit, then no longer counts an
/// admin the first one disabled or deleted.
fn lock_admins(tx: &mut Transaction<'_>) -> Result<Vec<i64>> {
    Ok(tx
        .query(
            "SELECT id FROM users WHERE is_admin AND disabled_at IS NULL AND deleted_at IS NULL
              ORDER BY id FOR NO KEY UPDATE",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Refuses to take away the last enabled admin (`admins` from [`lock_admins`]).
fn keep_an_admin(admins: &[i64], account: &AccountRecord) -> Result<()> {
    if !account.user.is_admin || account.disabled {
        return Ok(());
    }
    if admins.iter().all(|id| *id == account.user.id) {
        return Err(Error::forbidden(
            "this is the workspace's last admin: make another admin first",
        ));
    }
    Ok(())
}

fn revoke_all(tx: &mut Transaction<'_>, user_id: i64) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = tx
        .query(
            "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL
             RETURNING id",
            &[&user_id, &now_ms()],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn set_disabled(tx: &mut Transaction<'_>, user_id: i64, disabled: bool) -> Result<Vec<i64>> {
    if !disabled {
        live_account(tx, user_id)?;
        tx.execute(
            "UPDATE users SET disabled_at = NULL WHERE id = $1",
            &[&user_id],
        )?;
        return Ok(Vec::new());
    }
    let admins = lock_admins(tx)?;
    let account = live_account(tx, user_id)?;
    keep_an_admin(&admins, &account)?;
    tx.execute(
        "UPDATE users SET disabled_at = coalesce(disabled_at, $2) WHERE id = $1",
        &[&user_id, &now_ms()],
    )?;
    revoke_all(tx, user_id)
}

fn delete_user(tx: &mut Transaction<'_>, user_id: i64) -> Result<Vec<i64>> {
    let admins = lock_admins(tx)?;
    let account = live_account(tx, user_id)?;
    keep_an_admin(&admins, &account)?;
    let revoked = revoke_all(tx, user_id)?;
    let mut name = format!("deleted-{user_id}");
    if users::user_by_name(tx, &name)?.is_some_and(|u| u.id != user_id) {
        name = format!(
            "deleted-{user_id}-{}",
            hex::encode(rand::random::<[u8; 4]>())
        );
    }
    tx.execute(
        "UPDATE users SET name = $2, display_name = $3, avatar = NULL, password_hash = '',
                is_admin = FALSE, name_key = NULL, deleted_at = $4
          WHERE id = $1",
        &[&user_id, &name, &DELETED_DISPLAY_NAME, &now_ms()],
    )?;
    for table in ["members", "reset_codes", "avatars"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE user_id = $1"),
            &[&user_id],
        )?;
    }
    tx.execute("DELETE FROM invites WHERE created_by = $1", &[&user_id])?;
    rename_in_frames(tx, user_id, &name)?;
    Ok(revoked)
}

/// The message an event carries, if any.
fn message_of(event: &mut Event) -> Option<&mut Message> {
    match event {
        Event::Message { message } => Some(message),
        Event::MessageEdited { message } | Event::Mention { message, .. } => Some(message.as_mut()),
        _ => None,
    }
}

/// Stored frames of the user's messages (and of their edits) name the author as they were:
/// they now name the deleted account. SQLite does this with `json_set`; here each frame is
/// rewritten through the protocol's types (`frames::rewrite`, as edits and deletes rewrite
/// frames), which serializes a frame back exactly as it was first written, apart from the
/// author. The rows are locked as they are read, so a concurrent rewrite of the same frame
/// (a moderator's delete on another node) is not lost.
fn rename_in_frames(tx: &mut Transaction<'_>, user_id: i64, name: &str) -> Result<()> {
    let rows = tx.query(
        "SELECT e.channel_id, e.seq, e.frame FROM events e
          WHERE (e.channel_id, e.seq) IN (
                SELECT channel_id, seq FROM messages WHERE author_id = $1
                UNION ALL
                SELECT m.channel_id, x.event_seq FROM message_edits x
                  JOIN messages m ON m.id = x.message_id WHERE m.author_id = $1)
          ORDER BY e.channel_id, e.seq
          FOR UPDATE OF e",
        &[&user_id],
    )?;
    let update = tx.prepare("UPDATE events SET frame = $3 WHERE channel_id = $1 AND seq = $2")?;
    for row in rows {
        let (channel_id, seq, stored): (i64, i64, &str) = (row.get(0), row.get(1), row.get(2));
        let mut theirs = false;
        let frame = frames::rewrite(stored, |event| {
            if let Some(message) = message_of(event).filter(|m| m.author.id == user_id) {
                message.author.name = name.to_owned();
                message.author.display_name = Some(DELETED_DISPLAY_NAME.to_owned());
                message.author.avatar = None;
                theirs = true;
            }
        })?;
        if theirs {
            tx.execute(&update, &[&channel_id, &seq, &frame])?;
        }
    }
    Ok(())
}

fn reset_code_user(
    client: &mut impl GenericClient,
    name: &str,
    hash: &[u8],
    now: i64,
) -> Result<Option<i64>> {
    Ok(client
        .query_opt(
            "SELECT u.id FROM reset_codes r JOIN users u ON u.id = r.user_id
              WHERE lower(u.name) = lower($1) AND r.code_hash = $2 AND r.expires_at > $3
                AND u.disabled_at IS NULL AND u.deleted_at IS NULL",
            &[&name, &hash, &now],
        )?
        .map(|r| r.get(0)))
}

/// The code is burnt by the statement that checks it: two uses of one code, on any nodes, can
/// not both succeed.
fn reset_password(
    tx: &mut Transaction<'_>,
    user_id: i64,
    hash: &[u8],
    password_hash: &str,
    now: i64,
) -> Result<Vec<i64>> {
    let burnt = tx.execute(
        "DELETE FROM reset_codes WHERE user_id = $1 AND code_hash = $2 AND expires_at > $3",
        &[&user_id, &hash, &now],
    )?;
    if burnt == 0 {
        return Err(invalid_reset_code());
    }
    tx.execute(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&user_id, &password_hash],
    )?;
    revoke_all(tx, user_id)
}

fn set_display_name(
    tx: &mut Transaction<'_>,
    user_id: i64,
    display_name: Option<&str>,
    key: Option<&str>,
) -> Result<UserCreation> {
    let account = live_account(tx, user_id)?;
    if let Some(key) = key {
        if let Some(other) = users::user_named_like(tx, key, Some(user_id))? {
            return Ok(UserCreation::LooksLike(other));
        }
    }
    users::set_display_name(tx, user_id, display_name)?;
    Ok(UserCreation::Created(UserRecord {
        display_name: display_name.map(str::to_owned),
        ..account.user
    }))
}

fn set_avatar(tx: &mut Transaction<'_>, user_id: i64, image: Option<&[u8]>) -> Result<UserRecord> {
    let account = live_account(tx, user_id)?;
    let avatar = match image {
        Some(image) => {
            let tag = hex::encode(&Sha256::digest(image)[..8]);
            tx.execute(
                "INSERT INTO avatars (user_id, image, tag) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET image = excluded.image, tag = excluded.tag",
                &[&user_id, &image, &tag],
            )?;
            Some(avatar_path(user_id, &tag))
        }
        None => {
            tx.execute("DELETE FROM avatars WHERE user_id = $1", &[&user_id])?;
            None
        }
    };
    tx.execute(
        "UPDATE users SET avatar = $2 WHERE id = $1",
        &[&user_id, &avatar],
    )?;
    Ok(UserRecord {
        avatar,
        ..account.user
    })
}

fn revoke_invite(tx: &mut Transaction<'_>, id: i64, now: i64) -> Result<bool> {
    Ok(tx.execute(
        &format!(
            "UPDATE invites AS i SET revoked_at = $1 WHERE i.id = $2 AND {}",
            live(1)
        ),
        &[&now, &id],
    )? > 0)
}

fn accounts(client: &mut impl GenericClient, after: i64, limit: u32) -> Result<Vec<AccountRecord>> {
    Ok(client
        .query(
            &format!("{ACCOUNT_SELECT} WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2"),
            &[&after, &i64::from(limit)],
        )?
        .iter()
        .map(account_from_row)
        .collect())
}

fn set_reset_code(
    tx: &mut Transaction<'_>,
    user_id: i64,
    hash: &[u8],
    expires_at: i64,
) -> Result<()> {
    live_account(tx, user_id)?;
    tx.execute(
        "INSERT INTO reset_codes (user_id, code_hash, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash,
                                             expires_at = excluded.expires_at",
        &[&user_id, &hash, &expires_at],
    )?;
    Ok(())
}

fn nothing<T>(value: T) -> Result<(T, Vec<Published>)> {
    Ok((value, Vec::new()))
}

impl PeopleStore for PgStore {
    fn create_invite(&self, invite: NewInvite) -> StoreFuture<'_, InviteRecord> {
        Box::pin(self.write(move |tx, _| nothing(create_invite(tx, &invite)?)))
    }

    fn invite(&self, id: i64) -> StoreFuture<'_, Option<InviteRecord>> {
        Box::pin(self.read(move |client| Ok(invites_where(client, "i.id = $1", &[&id])?.pop())))
    }

    fn live_invites(&self, creator: Option<i64>, now: i64) -> StoreFuture<'_, Vec<InviteRecord>> {
        Box::pin(self.read(move |client| match creator {
            Some(id) => invites_where(
                client,
                &format!("i.created_by = $1 AND {}", live(2)),
                &[&id, &now],
            ),
            None => invites_where(client, &live(1), &[&now]),
        }))
    }

    fn revoke_invite(&self, id: i64, now: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| nothing(revoke_invite(tx, id, now)?)))
    }

    fn register_with_invite(
        &self,
        code_hash: Vec<u8>,
        now: i64,
        user: NewUser,
        token: NewToken,
    ) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |tx, _| {
            let created = users::create_user(tx, &user, Some(&token))?;
            if let UserCreation::Created(record) = &created {
                // Refused: the savepoint of this write rolls the new user back too.
                take_invite(tx, &code_hash, now, record.id)?;
            }
            nothing(created)
        }))
    }

    fn accounts(&self, after: i64, limit: u32) -> StoreFuture<'_, Vec<AccountRecord>> {
        Box::pin(self.read(move |client| accounts(client, after, limit)))
    }

    fn account(&self, user_id: i64) -> StoreFuture<'_, Option<AccountRecord>> {
        Box::pin(self.read(move |client| account(client, user_id)))
    }

    fn set_disabled(&self, user_id: i64, disabled: bool) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |tx, _| nothing(set_disabled(tx, user_id, disabled)?)))
    }

    fn delete_user(&self, user_id: i64) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |tx, _| nothing(delete_user(tx, user_id)?)))
    }

    fn set_reset_code(
        &self,
        user_id: i64,
        code_hash: Vec<u8>,
        expires_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(
            self.write(move |tx, _| nothing(set_reset_code(tx, user_id, &code_hash, expires_at)?)),
        )
    }

    fn reset_code_user(
        &self,
        name: String,
        code_hash: Vec<u8>,
        now: i64,
    ) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |client| reset_code_user(client, &name, &code_hash, now)))
    }

    fn reset_password(
        &self,
        user_id: i64,
        code_hash: Vec<u8>,
        password_hash: String,
        now: i64,
    ) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |tx, _| {
            nothing(reset_password(
                tx,
                user_id,
                &code_hash,
                &password_hash,
                now,
            )?)
        }))
    }

    fn set_display_name(
        &self,
        user_id: i64,
        display_name: Option<String>,
        display_key: Option<String>,
    ) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |tx, _| {
            nothing(set_display_name(
                tx,
                user_id,
                display_name.as_deref(),
                display_key.as_deref(),
            )?)
        }))
    }

    fn set_avatar(&self, user_id: i64, image: Option<Vec<u8>>) -> StoreFuture<'_, UserRecord> {
        Box::pin(self.write(move |tx, _| nothing(set_avatar(tx, user_id, image.as_deref())?)))
    }

    fn avatar(&self, user_id: i64) -> StoreFuture<'_, Option<(Vec<u8>, String)>> {
        Box::pin(self.read(move |client| {
            Ok(client
                .query_opt(
                    "SELECT image, tag FROM avatars WHERE user_id = $1",
                    &[&user_id],
                )?
                .map(|r| (r.get(0), r.get(1))))
        }))
    }
}
