//! The store as the admin subcommands use it (`parley-server user`, `token`, `channel`): one
//! connection of their own, one statement at a time, beside a running server (SQLite's locking
//! keeps them safe; a running server picks their channels up from the database on demand).

use std::path::Path;

use super::{channels, users};
use crate::{
    error::Result,
    store::{ChannelRecord, NewChannel, NewToken, NewUser, UserCreation, UserRecord},
};

pub struct AdminStore {
    conn: rusqlite::Connection,
}

impl AdminStore {
    /// Opens (creating if needed) the database in `dir` and runs migrations.
    pub fn open(dir: &Path) -> Result<Self> {
        Ok(Self {
            conn: super::open_admin(dir)?,
        })
    }

    /// Creates a user, after giving users stored before look-alike keys existed their key
    /// (the server does that at start; the CLI may run before it ever did).
    pub fn create_user(
        &self,
        user: &NewUser,
        name_key: fn(&str) -> String,
    ) -> Result<UserCreation> {
        users::fill_name_keys(&self.conn, &name_key)?;
        users::create_user(&self.conn, user, None)
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        users::user_by_name(&self.conn, name)
    }

    pub fn issue_token(&self, user_id: i64, token: &NewToken) -> Result<i64> {
        users::insert_token(&self.conn, user_id, &token.hash, &token.label)
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
