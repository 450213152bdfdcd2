//! Invites, account states (disabled, deleted), reset codes, display names and avatars
//! (SQLite). Codes are kept as their SHA-256, as tokens are. One migration of its own.

use parley_protocol::ErrorCode;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{users, SqliteStore};
use crate::{
    error::{Error, Result},
    store::{
        avatar_path, now_ms, AccountRecord, InviteRecord, NewInvite, NewToken, NewUser,
        PeopleStore, StoreFuture, UserCreation, UserRecord, DELETED_DISPLAY_NAME,
    },
};

/// The schema of this file: account states, invites and who used them, reset codes, avatars.
pub(super) const MIGRATION: &str = r#"
    ALTER TABLE users ADD COLUMN disabled_at INTEGER;
    ALTER TABLE users ADD COLUMN deleted_at INTEGER;
    CREATE TABLE invites (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        code_hash  BLOB NOT NULL UNIQUE,
        created_by INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
        revoked_at INTEGER
    );
    CREATE INDEX invites_creator ON invites(created_by);
    CREATE TABLE invite_uses (
        invite_id INTEGER NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
        user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        used_at   INTEGER NOT NULL,
        PRIMARY KEY (invite_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE reset_codes (
        user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        code_hash  BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE avatars (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        image   BLOB NOT NULL,
        tag     TEXT NOT NULL
    );
"#;

const LIVE: &str = "i.revoked_at IS NULL AND i.uses_left > 0 AND i.expires_at > ?";

fn invite_from_row(conn: &Connection, row: &rusqlite::Row<'_>) -> Result<InviteRecord> {
    let id: i64 = row.get(0)?;
    let creator: i64 = row.get(1)?;
    let created_by = users::user_by_id(conn, creator)?
        .ok_or_else(|| Error::internal("an invite's creator is gone"))?;
    let used_by = conn
        .prepare_cached("SELECT user_id FROM invite_uses WHERE invite_id = ?1 ORDER BY used_at")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(InviteRecord {
        id,
        created_by,
        created_at: row.get(2)?,
        expires_at: row.get(3)?,
        uses_left: row.get(4)?,
        revoked: row.get::<_, Option<i64>>(5)?.is_some(),
        used_by,
    })
}

const INVITE_COLUMNS: &str =
    "i.id, i.created_by, i.created_at, i.expires_at, i.uses_left, i.revoked_at";

fn invites_where(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<InviteRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INVITE_COLUMNS} FROM invites i WHERE {filter} ORDER BY i.id"
    ))?;
    let mut rows = stmt.query(args)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(invite_from_row(conn, row)?);
    }
    Ok(found)
}

fn create_invite(conn: &Connection, invite: &NewInvite) -> Result<InviteRecord> {
    let now = now_ms();
    let live: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM invites i WHERE i.created_by = ? AND {LIVE}"),
        params![invite.created_by, now],
        |r| r.get(0),
    )?;
    if live >= i64::from(invite.max_live) {
        return Err(Error::new(
            ErrorCode::LimitReached,
            format!(
                "you hold {live} live invites, the most allowed \
                 (accounts.max_live_invites_per_user); revoke one first"
            ),
        ));
    }
    conn.execute(
        "INSERT INTO invites (code_hash, created_by, created_at, expires_at, uses_left)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            invite.code_hash,
            invite.created_by,
            now,
            invite.expires_at,
            invite.uses
        ],
    )?;
    let id = conn.last_insert_rowid();
    invites_where(conn, "i.id = ?", &[&id])?
        .pop()
        .ok_or_else(|| Error::internal("a new invite vanished"))
}

/// Takes one use of the live invite whose code hashes to `hash`, for `user_id`.
fn take_invite(conn: &Connection, hash: &[u8], now: i64, user_id: i64) -> Result<()> {
    let id: Option<i64> = conn
        .prepare_cached(&format!(
            "UPDATE invites AS i SET uses_left = uses_left - 1
              WHERE i.code_hash = ? AND {LIVE} RETURNING id"
        ))?
        .query_row(params![hash, now], |r| r.get(0))
        .optional()?;
    let id = id.ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInvite,
            "this invite is unknown, used up, expired or revoked",
        )
    })?;
    conn.execute(
        "INSERT INTO invite_uses (invite_id, user_id, used_at) VALUES (?1, ?2, ?3)",
        params![id, user_id, now],
    )?;
    Ok(())
}

fn account_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        user: UserRecord {
            id: row.get(0)?,
            name: row.get(1)?,
            display_name: row.get(2)?,
            avatar: row.get(3)?,
            is_admin: row.get(4)?,
        },
        disabled: row.get::<_, Option<i64>>(5)?.is_some(),
        deleted: row.get::<_, Option<i64>>(6)?.is_some(),
        created_at: row.get(7)?,
    })
}

const ACCOUNT_SELECT: &str = "SELECT id, name, display_name, avatar, is_admin, disabled_at,
    deleted_at, created_at FROM users";

fn account(conn: &Connection, user_id: i64) -> Result<Option<AccountRecord>> {
    Ok(conn
        .prepare_cached(&format!("{ACCOUNT_SELECT} WHERE id = ?1"))?
        .query_row([user_id], account_from_row)
        .optional()?)
}

fn live_account(conn: &Connection, user_id: i64) -> Result<AccountRecord> {
    account(conn, user_id)?
        .filter(|a| !a.deleted)
        .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such user"))
}

/// Refuses to take away the last enabled admin.
fn keep_an_admin(conn: &Connection, account: &AccountRecord) -> Result<()> {
    if !account.user.is_admin || account.disabled {
        return Ok(());
    }
    let others: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled_at IS NULL
           AND deleted_at IS NULL AND id != ?1",
        [account.user.id],
        |r| r.get(0),
    )?;
    if others == 0 {
        return Err(Error::forbidden(
            "this is the workspace's last admin: make another admin first",
        ));
    }
    Ok(())
}

fn revoke_all(conn: &Connection, user_id: i64) -> Result<Vec<i64>> {
    let mut ids = conn
        .prepare_cached(
            "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL
             RETURNING id",
        )?
        .query_map(params![user_id, now_ms()], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

pub(super) fn set_disabled(conn: &Connection, user_id: i64, disabled: bool) -> Result<Vec<i64>> {
    let account = live_account(conn, user_id)?;
    if !disabled {
        conn.execute(
            "UPDATE users SET disabled_at = NULL WHERE id = ?1",
            [user_id],
        )?;
        return Ok(Vec::new());
    }
    keep_an_admin(conn, &account)?;
    conn.execute(
        "UPDATE users SET disabled_at = coalesce(disabled_at, ?2) WHERE id = ?1",
        params![user_id, now_ms()],
    )?;
    revoke_all(conn, user_id)
}

pub(super) fn delete_user(conn: &Connection, user_id: i64) -> Result<Vec<i64>> {
    let account = live_account(conn, user_id)?;
    keep_an_admin(conn, &account)?;
    let revoked = revoke_all(conn, user_id)?;
    conn.execute(
        "UPDATE users SET
            name = CASE WHEN EXISTS (SELECT 1 FROM users o
                                      WHERE o.name = 'deleted-' || ?1 AND o.id != ?1)
                   THEN 'deleted-' || ?1 || '-' || lower(hex(randomblob(4)))
                   ELSE 'deleted-' || ?1 END,
            display_name = ?2, avatar = NULL, password_hash = '', is_admin = 0,
            name_key = NULL, deleted_at = ?3
          WHERE id = ?1",
        params![user_id, DELETED_DISPLAY_NAME, now_ms()],
    )?;
    for table in ["members", "reset_codes", "avatars"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE user_id = ?1"),
            [user_id],
        )?;
    }
    conn.execute("DELETE FROM invites WHERE created_by = ?1", [user_id])?;
    // Stored frames of their messages (and of their edits) name the author as they were.
    let name: String = conn.query_row("SELECT name FROM users WHERE id = ?1", [user_id], |r| {
        r.get(0)
    })?;
    conn.execute(
        "UPDATE events SET frame = json_set(frame, '$.message.author.name', ?2,
                '$.message.author.display_name', ?3, '$.message.author.avatar', NULL)
          WHERE (channel_id, seq) IN (
                SELECT channel_id, seq FROM messages WHERE author_id = ?1
                UNION ALL
                SELECT m.channel_id, x.event_seq FROM message_edits x
                  JOIN messages m ON m.id = x.message_id WHERE m.author_id = ?1)
            AND json_extract(frame, '$.message.author.id') = ?1",
        params![user_id, name, DELETED_DISPLAY_NAME],
    )?;
    Ok(revoked)
}

fn reset_code_user(conn: &Connection, name: &str, hash: &[u8], now: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id FROM reset_codes r JOIN users u ON u.id = r.user_id
              WHERE u.name = ?1 AND r.code_hash = ?2 AND r.expires_at > ?3
                AND u.disabled_at IS NULL AND u.deleted_at IS NULL",
        )?
        .query_row(params![name, hash, now], |r| r.get(0))
        .optional()?)
}

fn reset_password(
    conn: &Connection,
    user_id: i64,
    hash: &[u8],
    password_hash: &str,
    now: i64,
) -> Result<Vec<i64>> {
    let burnt = conn.execute(
        "DELETE FROM reset_codes WHERE user_id = ?1 AND code_hash = ?2 AND expires_at > ?3",
        params![user_id, hash, now],
    )?;
    if burnt == 0 {
        return Err(crate::store::invalid_reset_code());
    }
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )?;
    revoke_all(conn, user_id)
}

fn set_display_name(
    conn: &Connection,
    user_id: i64,
    display_name: Option<&str>,
    key: Option<&str>,
) -> Result<UserCreation> {
    let account = live_account(conn, user_id)?;
    if let Some(key) = key {
        if let Some(other) = users::user_named_like(conn, key, Some(user_id))? {
            return Ok(UserCreation::LooksLike(other));
        }
    }
    users::set_display_name(conn, user_id, display_name)?;
    Ok(UserCreation::Created(UserRecord {
        display_name: display_name.map(str::to_owned),
        ..account.user
    }))
}

fn set_avatar(conn: &Connection, user_id: i64, image: Option<&[u8]>) -> Result<UserRecord> {
    let account = live_account(conn, user_id)?;
    let avatar = match image {
        Some(image) => {
            let tag = hex::encode(&Sha256::digest(image)[..8]);
            conn.execute(
                "INSERT INTO avatars (user_id, image, tag) VALUES (?1, ?2, ?3)
                 ON CONFLICT(user_id) DO UPDATE SET image = excluded.image, tag = excluded.tag",
                params![user_id, image, tag],
            )?;
            Some(avatar_path(user_id, &tag))
        }
        None => {
            conn.execute("DELETE FROM avatars WHERE user_id = ?1", [user_id])?;
            None
        }
    };
    conn.execute(
        "UPDATE users SET avatar = ?2 WHERE id = ?1",
        params![user_id, avatar],
    )?;
    Ok(UserRecord {
        avatar,
        ..account.user
    })
}

/// The admin CLI's people operations (`parley-server invite|user …`), each one transaction
/// on the CLI's own connection, beside a running server (which sees revoked tokens within
/// `server.token_check_interval` and closes their sessions).
impl super::admin::SqliteAdmin {
    fn in_transaction<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let tx = self.conn().unchecked_transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    pub fn create_invite(&self, invite: &NewInvite) -> Result<InviteRecord> {
        self.in_transaction(|tx| create_invite(tx, invite))
    }

    pub fn live_invites(&self) -> Result<Vec<InviteRecord>> {
        invites_where(self.conn(), LIVE, &[&now_ms()])
    }

    pub fn revoke_invite(&self, id: i64) -> Result<bool> {
        self.in_transaction(|tx| revoke_invite(tx, id, now_ms()))
    }

    /// The first enabled admin, who invites are made by when the CLI is given no `--by`.
    pub fn first_admin(&self) -> Result<Option<UserRecord>> {
        first_admin(self.conn())
    }

    pub fn accounts(&self, after: i64, limit: u32) -> Result<Vec<AccountRecord>> {
        accounts(self.conn(), after, limit)
    }

    pub fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<Vec<i64>> {
        self.in_transaction(|tx| set_disabled(tx, user_id, disabled))
    }

    pub fn delete_user(&self, user_id: i64) -> Result<Vec<i64>> {
        self.in_transaction(|tx| delete_user(tx, user_id))
    }

    pub fn set_reset_code(&self, user_id: i64, code_hash: &[u8], expires_at: i64) -> Result<()> {
        self.in_transaction(|tx| set_reset_code(tx, user_id, code_hash, expires_at))
    }
}

pub(super) fn revoke_invite(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    Ok(conn.execute(
        &format!("UPDATE invites AS i SET revoked_at = ?1 WHERE i.id = ?2 AND {LIVE}"),
        params![now, id, now],
    )? > 0)
}

pub(super) fn accounts(conn: &Connection, after: i64, limit: u32) -> Result<Vec<AccountRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "{ACCOUNT_SELECT} WHERE id > ?1 AND deleted_at IS NULL ORDER BY id LIMIT ?2"
        ))?
        .query_map(params![after, limit], account_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(super) fn set_reset_code(
    conn: &Connection,
    user_id: i64,
    hash: &[u8],
    expires_at: i64,
) -> Result<()> {
    live_account(conn, user_id)?;
    conn.execute(
        "INSERT INTO reset_codes (user_id, code_hash, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(user_id) DO UPDATE SET code_hash = excluded.code_hash,
                                            expires_at = excluded.expires_at",
        params![user_id, hash, expires_at],
    )?;
    Ok(())
}

/// The first enabled admin, who the admin CLI makes invites as when given no `--by`.
pub(super) fn first_admin(conn: &Connection) -> Result<Option<UserRecord>> {
    let id: Option<i64> = conn
        .query_row(
            "SELECT id FROM users WHERE is_admin = 1 AND disabled_at IS NULL
               AND deleted_at IS NULL ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => users::user_by_id(conn, id),
        None => Ok(None),
    }
}

fn nothing<T>(value: T) -> Result<(T, Vec<crate::store::Published>)> {
    Ok((value, Vec::new()))
}

impl PeopleStore for SqliteStore {
    fn create_invite(&self, invite: NewInvite) -> StoreFuture<'_, InviteRecord> {
        Box::pin(self.write(move |tx, _| nothing(create_invite(tx, &invite)?)))
    }

    fn invite(&self, id: i64) -> StoreFuture<'_, Option<InviteRecord>> {
        Box::pin(self.read(move |conn| Ok(invites_where(conn, "i.id = ?", &[&id])?.pop())))
    }

    fn live_invites(&self, creator: Option<i64>, now: i64) -> StoreFuture<'_, Vec<InviteRecord>> {
        Box::pin(self.read(move |conn| match creator {
            Some(id) => invites_where(conn, &format!("i.created_by = ? AND {LIVE}"), &[&id, &now]),
            None => invites_where(conn, LIVE, &[&now]),
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
        Box::pin(self.read(move |conn| accounts(conn, after, limit)))
    }

    fn account(&self, user_id: i64) -> StoreFuture<'_, Option<AccountRecord>> {
        Box::pin(self.read(move |conn| account(conn, user_id)))
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
        Box::pin(self.read(move |conn| reset_code_user(conn, &name, &code_hash, now)))
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
        Box::pin(self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT image, tag FROM avatars WHERE user_id = ?1")?
                .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        }))
    }
}
