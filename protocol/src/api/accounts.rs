//! Accounts: `POST /api/register`, `POST /api/login`, `POST /api/logout`, `GET /api/me`, and the
//! server check `GET /healthz`.

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
}

/// The answer to a registration (201) or a login (200): a bearer token and who it signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Session {
    pub token: String,
    pub user: UserRef,
}

/// `GET /healthz`: 200 with `status: "ok"` and the number of live sessions, or 503 with the
/// reason in `status` (the store cannot be reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Health {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
}
