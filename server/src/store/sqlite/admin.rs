//! The store as the admin subcommands use it (`parley-server user`, `token`, `channel`): one
//! connection of their own, one statement at a time, beside a running server (SQLite's locking
//! keeps them safe; a running server picks their channels up from the database on demand).

use std::{collections::HashMap, path::Path};

use super::{channels, tokens, users, webhooks};
use crate::{
    error::Result,
    store::{
        ChannelRecord, EndpointBacklog, EndpointRecord, NewChannel, NewEndpoint, NewToken, NewUser,
        StoredToken, UserCreation, UserRecord,
    },
};

pub struct SqliteAdmin {
    conn: rusqlite::Connection,
}

impl SqliteAdmin {
    /// Opens (creating if needed) the database in `dir` and runs migrations; a database
    /// created here starts with `first_channel`, as the server's would.
    pub fn open(dir: &Path, first_channel: Option<&str>) -> Result<Self> {
        Ok(Self {
            conn: super::open_admin(dir, first_channel)?,
        })
    }

    /// Creates a user, after giving users stored before look-alike keys existed their key
    /// (the server does that at start; the CLI may run before it ever did). The user joins the
    /// channels everyone joins, as an account registered through the server does; no
    /// `member_joined` event is stored (a running server owns the event log), and a running
    /// server sees the membership when it next loads the channel (at its next start).
    pub fn create_user(
        &self,
        user: &NewUser,
        name_key: fn(&str) -> String,
    ) -> Result<UserCreation> {
        let tx = self.conn.unchecked_transaction()?;
        users::fill_name_keys(&tx, &name_key)?;
        let created = users::create_user(&tx, user, None)?;
        if let UserCreation::Created(record) = &created {
            join_everyone_channels(&tx, record.id)?;
        }
        tx.commit()?;
        Ok(created)
    }

    /// The connection, for the admin operations other files define (`people.rs`).
    pub(super) fn conn(&self) -> &rusqlite::Connection {
        &self.conn
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        users::user_by_name(&self.conn, name)
    }

    /// Issues a token (with its scope and expiry) unless the user has `cap` live ones already.
    pub fn issue_token(&self, user_id: i64, token: &NewToken, cap: usize) -> Result<i64> {
        let tx = self.conn.unchecked_transaction()?;
        let issued = tokens::issue_capped(&tx, user_id, token, cap, false)?;
        tx.commit()?;
        Ok(issued.id)
    }

    /// Creates a bot account (no password matches it).
    pub fn create_bot(&self, user: &NewUser, name_key: fn(&str) -> String) -> Result<UserCreation> {
        let tx = self.conn.unchecked_transaction()?;
        users::fill_name_keys(&tx, &name_key)?;
        let created = tokens::create_bot(&tx, user)?;
        tx.commit()?;
        Ok(created)
    }

    /// The user's live tokens, newest first.
    pub fn list_tokens(&self, user_id: i64, limit: u32) -> Result<Vec<StoredToken>> {
        tokens::list(&self.conn, user_id, limit)
    }

    /// Revokes a live token; false when there was none with this hash.
    pub fn revoke_token(&self, hash: &[u8]) -> Result<bool> {
        users::revoke_token_hash(&self.conn, hash)
    }

    pub fn revoke_user_tokens(&self, user_id: i64) -> Result<usize> {
        users::revoke_user_tokens(&self.conn, user_id)
    }

    /// Creates a channel with no members (`channel_exists` when the name is taken).
    pub fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRecord> {
        channels::insert(&self.conn, channel, None, None)
    }
}

/// Makes `user_id` a member of every channel everyone joins (`ChannelRecord::everyone_joins`,
/// the same test in SQL) that has room.
fn join_everyone_channels(conn: &rusqlite::Connection, user_id: i64) -> Result<usize> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO members (channel_id, user_id, role, joined_at)
         SELECT c.id, ?1, ?2, ?3 FROM channels c
          WHERE c.kind = 'public' AND c.auto_subscribe = 1 AND c.user_specific = 0
            AND c.owner_id IS NULL AND c.template_id IS NULL AND c.parent_id IS NULL
            AND c.doc_id IS NULL AND c.thread_root IS NULL
            AND (c.max_participants IS NULL
                 OR (SELECT COUNT(*) FROM members m WHERE m.channel_id = c.id)
                    < c.max_participants)",
        rusqlite::params![
            user_id,
            crate::store::MemberRole::Member.as_str(),
            crate::store::now_ms()
        ],
    )?)
}

/// The admin CLI's webhook commands (`parley-server webhook …`), beside a running server,
/// which picks the changes up within `webhook_delivery.poll_interval`.
impl SqliteAdmin {
    pub fn webhook_endpoints(&self) -> Result<Vec<EndpointRecord>> {
        webhooks::endpoints(self.conn())
    }

    pub fn webhook_backlog(&self) -> Result<HashMap<i64, EndpointBacklog>> {
        webhooks::backlog(self.conn())
    }

    pub fn add_webhook(&self, new: &NewEndpoint, max: usize) -> Result<EndpointRecord> {
        let tx = self.conn().unchecked_transaction()?;
        let record = webhooks::add(&tx, new, max)?;
        tx.commit()?;
        Ok(record)
    }

    pub fn remove_webhook(&self, id: i64) -> Result<bool> {
        let tx = self.conn().unchecked_transaction()?;
        let removed = webhooks::remove(&tx, id)?;
        tx.commit()?;
        Ok(removed)
    }

    pub fn replay_webhook(&self, id: i64) -> Result<u64> {
        let tx = self.conn().unchecked_transaction()?;
        let n = webhooks::replay(&tx, id)?;
        tx.commit()?;
        Ok(n)
    }
}
