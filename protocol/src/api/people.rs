//! Invites and the people of a workspace: `POST/GET /api/invites`, `DELETE /api/invites/{id}`,
//! `GET /api/users`, the admin operations on `/api/users/{id}/…`, `POST /api/password-reset`
//! and `PATCH /api/me`. Avatars are bytes (`PUT /api/me/avatar`, `GET /api/users/{id}/avatar`)
//! and have no type here.

use serde::{Deserialize, Serialize};

use crate::UserRef;

/// `POST /api/invites`. Both optional: one use, expiring in 7 days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// How many registrations the invite admits (at least 1, at most
    /// `accounts.max_invite_uses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// How long it stays valid, as a duration (`"7d"`, `"12h"`), at most
    /// `accounts.max_invite_expiry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// The answer to `POST /api/invites` (201): the code, shown this once only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InviteCreated {
    pub code: String,
    pub id: i64,
    pub uses_left: u32,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub created_by: UserRef,
}

/// An invite as listed: never its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InviteInfo {
    pub id: i64,
    pub uses_left: u32,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub created_by: UserRef,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// `GET /api/invites`: the live invites the caller may see (admins: all; members: their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InviteList {
    pub invites: Vec<InviteInfo>,
}

/// `GET /api/users?after=ID&limit=N` (admins): one page of accounts, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsersQuery {
    /// Only users with a greater id (the last id of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// At most this many (default and most: 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// An account as admins see it. Deleted accounts are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    pub admin: bool,
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// The answer to `GET /api/users`; `next` is the `after` of the next page, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserList {
    pub users: Vec<UserInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// The answer to `POST /api/users/{id}/reset-code`: a one-time code, shown this once only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResetCode {
    pub code: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// `POST /api/password-reset` (no token): sets a new password with a reset code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PasswordReset {
    pub name: String,
    pub code: String,
    pub new_password: String,
}

/// `PATCH /api/me`: what to change of one's own profile. A missing `display_name` keeps it;
/// an empty one (after trimming) clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}
