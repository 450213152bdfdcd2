//! The store as the admin subcommands use it (`parley-server user`, `token`, `bot`, `invite`,
//! `webhook`, `channel`), on either backend: SQLite through a connection of its own beside a
//! running server (`sqlite/admin.rs`), PostgreSQL through the store's own operations on a small
//! runtime of the command's own (`pg/admin.rs` for the few the traits lack). Running servers
//! see what the commands change as they see each other's writes.

use std::collections::HashMap;

use super::{
    pg::PgStore, sqlite::admin::SqliteAdmin, AccountRecord, AccountStore, ChannelRecord,
    EndpointBacklog, EndpointRecord, InviteRecord, NewChannel, NewEndpoint, NewInvite, NewToken,
    NewUser, PeopleStore, StoredToken, TokenStore, UserCreation, UserRecord, WebhookStore,
};
use crate::{
    config::{Config, StorageBackend},
    error::{Error, Result},
};

pub struct AdminStore(Inner);

enum Inner {
    Sqlite(SqliteAdmin),
    Postgres {
        store: PgStore,
        runtime: tokio::runtime::Runtime,
    },
}

/// Runs the SQLite arm or the PostgreSQL one.
macro_rules! either {
    ($self:ident, $sqlite:ident => $s:expr, $store:ident => $p:expr) => {
        match &$self.0 {
            Inner::Sqlite($sqlite) => $s,
            Inner::Postgres {
                store: $store,
                runtime,
            } => runtime.block_on($p),
        }
    };
}

impl AdminStore {
    /// The store the configuration names; a new database starts with the workspace's first
    /// channel, as the server's would.
    pub fn open(config: &Config) -> Result<Self> {
        let first_channel = config.workspace.first_channel();
        match config.storage.backend {
            StorageBackend::Sqlite => Ok(Self(Inner::Sqlite(SqliteAdmin::open(
                &config.data_dir(),
                first_channel,
            )?))),
            StorageBackend::Postgres => {
                let url = config.storage.postgres_url.as_deref().unwrap_or_default();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::internal(format_args!("cannot start a runtime: {e}")))?;
                let storage = crate::config::StorageConfig {
                    read_connections: 1,
                    auth_connections: 1,
                    ..config.storage.clone()
                };
                let (store, _writer) = super::pg::open(
                    url,
                    &storage,
                    first_channel,
                    std::sync::Arc::new(|_| {}),
                    std::sync::Arc::default(),
                )?;
                Ok(Self(Inner::Postgres { store, runtime }))
            }
        }
    }

    /// Creates a user who joins the channels everyone joins (no `member_joined` event: a
    /// running server owns the event log and sees the membership when it loads the channel).
    pub fn create_user(
        &self,
        user: &NewUser,
        name_key: fn(&str) -> String,
    ) -> Result<UserCreation> {
        either!(self, s => s.create_user(user, name_key), p => p.admin_create_user(user.clone()))
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        either!(self, s => s.user_by_name(name), p => p.user_by_name(name.to_owned()))
    }

    /// Issues a token unless the user has `cap` live ones already.
    pub fn issue_token(&self, user_id: i64, token: &NewToken, cap: usize) -> Result<i64> {
        either!(self, s => s.issue_token(user_id, token, cap), p => async {
            Ok(p.issue_capped(user_id, token.clone(), cap, false).await?.id)
        })
    }

    pub fn create_bot(&self, user: &NewUser, name_key: fn(&str) -> String) -> Result<UserCreation> {
        either!(self, s => s.create_bot(user, name_key), p => p.create_bot(user.clone()))
    }

    pub fn list_tokens(&self, user_id: i64, limit: u32) -> Result<Vec<StoredToken>> {
        either!(self, s => s.list_tokens(user_id, limit), p => p.list_tokens(user_id, limit))
    }

    pub fn revoke_token(&self, hash: &[u8]) -> Result<bool> {
        either!(self, s => s.revoke_token(hash), p => p.revoke_token(hash.to_vec()))
    }

    pub fn revoke_user_tokens(&self, user_id: i64) -> Result<usize> {
        either!(self, s => s.revoke_user_tokens(user_id), p => p.revoke_user_tokens(user_id))
    }

    /// Creates a channel with no members (`channel_exists` when the name is taken).
    pub fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRecord> {
        either!(self, s => s.create_channel(channel), p => p.admin_create_channel(channel.clone()))
    }

    pub fn webhook_endpoints(&self) -> Result<Vec<EndpointRecord>> {
        either!(self, s => s.webhook_endpoints(), p => p.webhook_endpoints())
    }

    pub fn webhook_backlog(&self) -> Result<HashMap<i64, EndpointBacklog>> {
        either!(self, s => s.webhook_backlog(), p => p.webhook_backlog())
    }

    pub fn add_webhook(&self, new: &NewEndpoint, max: usize) -> Result<EndpointRecord> {
        either!(self, s => s.add_webhook(new, max), p => p.add_endpoint(new.clone(), max))
    }

    pub fn remove_webhook(&self, id: i64) -> Result<bool> {
        either!(self, s => s.remove_webhook(id), p => p.remove_endpoint(id))
    }

    pub fn replay_webhook(&self, id: i64) -> Result<u64> {
        either!(self, s => s.replay_webhook(id), p => p.replay_dead(id))
    }

    pub fn create_invite(&self, invite: &NewInvite) -> Result<InviteRecord> {
        either!(self, s => s.create_invite(invite), p => PeopleStore::create_invite(p, invite.clone()))
    }

    pub fn live_invites(&self) -> Result<Vec<InviteRecord>> {
        either!(self, s => s.live_invites(), p => PeopleStore::live_invites(p, None, super::now_ms()))
    }

    pub fn revoke_invite(&self, id: i64) -> Result<bool> {
        either!(self, s => s.revoke_invite(id), p => PeopleStore::revoke_invite(p, id, super::now_ms()))
    }

    /// The first enabled admin, who invites are made by when the CLI is given no `--by`.
    pub fn first_admin(&self) -> Result<Option<UserRecord>> {
        either!(self, s => s.first_admin(), p => p.admin_first_admin())
    }

    pub fn accounts(&self, after: i64, limit: u32) -> Result<Vec<AccountRecord>> {
        either!(self, s => s.accounts(after, limit), p => PeopleStore::accounts(p, after, limit))
    }

    pub fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<Vec<i64>> {
        either!(self, s => s.set_disabled(user_id, disabled), p => PeopleStore::set_disabled(p, user_id, disabled))
    }

    pub fn delete_user(&self, user_id: i64) -> Result<Vec<i64>> {
        either!(self, s => s.delete_user(user_id), p => PeopleStore::delete_user(p, user_id))
    }

    pub fn set_reset_code(&self, user_id: i64, code_hash: &[u8], expires_at: i64) -> Result<()> {
        either!(self, s => s.set_reset_code(user_id, code_hash, expires_at), p => {
            PeopleStore::set_reset_code(p, user_id, code_hash.to_vec(), expires_at)
        })
    }
}

impl Drop for AdminStore {
    /// Commits what the PostgreSQL store's writer holds before the command ends.
    fn drop(&mut self) {
        if let Inner::Postgres { store, runtime } = &self.0 {
            runtime.block_on(super::StoreControl::stop(store));
        }
    }
}
