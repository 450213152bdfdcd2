//! Invites and the administration of people: the records and the store trait behind
//! `accounts::invites` and `accounts::people` (docs/protocol.md §12, "Invites" and "People").
//! Like tokens, invite and reset codes are kept only as their SHA-256.

use parley_protocol::ErrorCode;

use super::{NewToken, NewUser, StoreFuture, UserCreation, UserRecord};

/// An invite to create, made by `created_by`. The store refuses it with `limit_reached` when
/// the creator already holds `max_live` live invites.
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub code_hash: Vec<u8>,
    pub created_by: i64,
    pub uses: u32,
    pub expires_at: i64,
    pub max_live: u32,
}

/// An invite as stored (never its code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    pub id: i64,
    pub created_by: UserRecord,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: u32,
    pub revoked: bool,
    /// The ids of the users who registered with it, in order.
    pub used_by: Vec<i64>,
}

impl InviteRecord {
    /// Not revoked, not used up, not expired at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        !self.revoked && self.uses_left > 0 && self.expires_at > now
    }
}

/// An account as admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub user: UserRecord,
    pub disabled: bool,
    pub deleted: bool,
    pub created_at: i64,
}

/// What a user becomes when deleted: the name `deleted-<id>` and this display name.
pub const DELETED_DISPLAY_NAME: &str = "deleted user";

/// Invites, account states, reset codes, display names and avatars.
pub trait PeopleStore: Send + Sync {
    /// Stores a new invite (`limit_reached` past the creator's `max_live`, counted in the write).
    fn create_invite(&self, invite: NewInvite) -> StoreFuture<'_, InviteRecord>;
    fn invite(&self, id: i64) -> StoreFuture<'_, Option<InviteRecord>>;
    /// Live invites at `now`, oldest first: all, or those made by `creator`.
    fn live_invites(&self, creator: Option<i64>, now: i64) -> StoreFuture<'_, Vec<InviteRecord>>;
    /// Revokes an invite; false when there is no live one of this id.
    fn revoke_invite(&self, id: i64, now: i64) -> StoreFuture<'_, bool>;
    /// Creates the user with a first token and takes one use of the invite whose code hashes to
    /// `code_hash`, in one transaction: `invalid_invite` when it is not live at `now`.
    fn register_with_invite(
        &self,
        code_hash: Vec<u8>,
        now: i64,
        user: NewUser,
        token: NewToken,
    ) -> StoreFuture<'_, UserCreation>;
    /// Accounts that are not deleted, by id, after `after`, at most `limit`.
    fn accounts(&self, after: i64, limit: u32) -> StoreFuture<'_, Vec<AccountRecord>>;
    fn account(&self, user_id: i64) -> StoreFuture<'_, Option<AccountRecord>>;
    /// Disables (revoking every token: their ids are returned) or enables an account. Disabling
    /// the last enabled admin is `forbidden`; an unknown or deleted user is `user_not_found`.
    fn set_disabled(&self, user_id: i64, disabled: bool) -> StoreFuture<'_, Vec<i64>>;
    /// Deletes an account but keeps its messages: the row stays as `deleted-<id>` with the
    /// display name "deleted user" (in stored message frames too); tokens are revoked (their
    /// ids returned), memberships, invites, reset code and avatar removed. `forbidden` for the
    /// last enabled admin.
    fn delete_user(&self, user_id: i64) -> StoreFuture<'_, Vec<i64>>;
    /// Replaces the user's reset code.
    fn set_reset_code(
        &self,
        user_id: i64,
        code_hash: Vec<u8>,
        expires_at: i64,
    ) -> StoreFuture<'_, ()>;
    /// The user (enabled, not deleted) named `name` whose reset code hashes to `code_hash` and
    /// is live at `now`.
    fn reset_code_user(
        &self,
        name: String,
        code_hash: Vec<u8>,
        now: i64,
    ) -> StoreFuture<'_, Option<i64>>;
    /// Checks the code again, burns it, sets the password hash and revokes every token of the
    /// user (their ids returned), in one write: `invalid_reset_code` when the code is no longer
    /// live.
    fn reset_password(
        &self,
        user_id: i64,
        code_hash: Vec<u8>,
        password_hash: String,
        now: i64,
    ) -> StoreFuture<'_, Vec<i64>>;
    /// Sets (or with None clears) the display name, refused (`LooksLike`) in the write when its
    /// key is another user's name key.
    fn set_display_name(
        &self,
        user_id: i64,
        display_name: Option<String>,
        display_key: Option<String>,
    ) -> StoreFuture<'_, UserCreation>;
    /// Stores (or with None removes) the user's avatar image; returns the user as it is now.
    fn set_avatar(&self, user_id: i64, image: Option<Vec<u8>>) -> StoreFuture<'_, UserRecord>;
    /// The user's avatar image and its tag (`ETag`).
    fn avatar(&self, user_id: i64) -> StoreFuture<'_, Option<(Vec<u8>, String)>>;
}

/// The `avatar` field of a user with an avatar of this tag: the path it is served from, the
/// tag in the query so that a new avatar is a new URL (caches keep old ones for a day).
pub fn avatar_path(user_id: i64, tag: &str) -> String {
    format!("/api/users/{user_id}/avatar?v={tag}")
}

/// A reset code that is not (or no longer) good.
pub fn invalid_reset_code() -> crate::error::Error {
    crate::error::Error::new(
        ErrorCode::InvalidResetCode,
        "this reset code is unknown, used or expired",
    )
}
