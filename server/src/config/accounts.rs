//! `[accounts]`: how much password hashing the server does at once, who may register, invites,
//! password-reset codes, avatars and tokens.

use std::time::Duration;

use serde::Deserialize;

use super::units::{byte_size, duration};

/// Who may create an account through `POST /api/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone who can reach the server.
    Open,
    /// Only with a valid invite code.
    #[default]
    Invite,
    /// Nobody: accounts are made with `parley-server user add`.
    Closed,
}

/// Accounts: password hashing, registration, invites, reset codes, avatars.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// Password hashes (argon2id, 19 MiB and ~50 ms of one core each) computed at once, for
    /// logins and registrations together. 0: the number of cores.
    pub hash_concurrency: usize,
    /// Logins and registrations that may wait for a hashing slot; beyond that they are refused
    /// with 503 `server_busy` and a `Retry-After`.
    pub hash_queue: usize,
    /// `open`, `invite` (the default) or `closed`.
    pub registration: Registration,
    /// Whether members (not only workspace admins) may create invites.
    pub members_can_invite: bool,
    /// The most registrations one invite may admit.
    pub max_invite_uses: u32,
    /// The longest an invite may stay valid.
    #[serde(deserialize_with = "duration")]
    pub max_invite_expiry: Duration,
    /// The most live invites (not used up, expired or revoked) one user may hold.
    pub max_live_invites_per_user: u32,
    /// How long a password-reset code stays valid.
    #[serde(deserialize_with = "duration")]
    pub reset_code_expiry: Duration,
    /// The largest avatar upload, in bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_avatar_size: u64,
    /// Live tokens one account may hold. A login past it revokes the least recently used;
    /// a token made for a bot or by the admin CLI is refused with `limit_reached`.
    pub max_tokens_per_user: usize,
    /// How finely a token's last use is recorded: at most one write per token per this long.
    #[serde(deserialize_with = "duration")]
    pub token_last_used_resolution: Duration,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            hash_concurrency: 0,
            hash_queue: 64,
            registration: Registration::Invite,
            members_can_invite: false,
            max_invite_uses: 100,
            max_invite_expiry: Duration::from_secs(30 * 86400),
            max_live_invites_per_user: 100,
            reset_code_expiry: Duration::from_secs(86400),
            max_avatar_size: 2 * 1024 * 1024,
            max_tokens_per_user: 100,
            token_last_used_resolution: Duration::from_secs(300),
        }
    }
}

impl AccountsConfig {
    /// `hash_concurrency`, with 0 resolved to the number of cores.
    pub fn hash_workers(&self) -> usize {
        match self.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        }
    }

    /// The checks `Config::load` makes of this section.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.max_invite_uses == 0 || self.max_live_invites_per_user == 0 {
            return Err(
                "accounts.max_invite_uses and max_live_invites_per_user must be at least 1".into(),
            );
        }
        if self.max_invite_expiry.is_zero() || self.reset_code_expiry.is_zero() {
            return Err(
                "accounts.max_invite_expiry and reset_code_expiry must be above zero".into(),
            );
        }
        Ok(())
    }
}

/// What a configuration that still sets the removed `server.registration` is told.
pub(super) const REGISTRATION_MOVED: &str = "server.registration was replaced by \
    accounts.registration = \"open\" | \"invite\" | \"closed\" (PARLEY_ACCOUNTS_REGISTRATION); \
    `registration = true` is now \"open\", `false` is \"closed\"";
