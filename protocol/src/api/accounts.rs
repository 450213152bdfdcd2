//! Accounts: `POST /api/register`, `POST /api/login`, `POST /api/logout`, `GET /api/me`,
//! `POST /api/me/password`, and the server checks `GET /healthz` and `GET /readyz`.

use serde::{Deserialize, Serialize};

use crate::UserRef;

/// `POST /api/register` and `POST /api/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Credentials {
    pub name: String,
    pub password: String,
    /// Registration only: the name shown to others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Login: a label for the token (e.g. the device), shown in token lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Registration only: the invite code (`inv_…`), needed when the server registers by
    /// invitation (`accounts.registration = "invite"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// The answer to a registration (201) or a login (200): a bearer token and who it signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Session {
    pub token: String,
    pub user: UserRef,
}

/// `GET /healthz` (liveness: 200, `status: "ok"`) and `GET /readyz` (readiness: 200 `ready`,
/// or 503 with the reason in `status`), with the number of live sessions when answering 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Health {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
}

/// `POST /api/me/password`: change one's own password. `sign_out_others` revokes every other
/// token of the account (its other devices and bots) and closes their connections; the token
/// making the request stays signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    #[serde(default)]
    pub sign_out_others: bool,
}

/// The answer to a password change: how many other tokens were revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PasswordChanged {
    pub signed_out: u64,
}
