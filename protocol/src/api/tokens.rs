//! Tokens and bots: `GET /api/me/tokens`, `DELETE /api/me/tokens/{id}`, `POST /api/bots` and
//! `POST /api/bots/{id}/tokens`.

use serde::{Deserialize, Serialize};

/// What a scoped token may do, in the channels of its scope (a closed set: docs/protocol.md
/// §12, "Scoped tokens").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeOp {
    /// Subscribe, read history, search, presence, read state.
    Read,
    /// Send, edit and delete its own messages, react, type, open threads.
    Send,
    /// Open the channels' documents on `/docs`.
    Docs,
    /// Publish custom events in the channels (and, for a `user_specific` channel named in the
    /// scope, to any user's instance of it).
    Publish,
}

impl ScopeOp {
    pub const ALL: [ScopeOp; 4] = [
        ScopeOp::Read,
        ScopeOp::Send,
        ScopeOp::Docs,
        ScopeOp::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Send => "send",
            Self::Docs => "docs",
            Self::Publish => "publish",
        }
    }

    /// The operation of this wire name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

/// A token's scope: the channels (by name) it may act in and what it may do there. Anything
/// else is refused with `token_scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenScope {
    pub channels: Vec<String>,
    pub operations: Vec<ScopeOp>,
}

impl TokenScope {
    /// True when the scope names `channel` and grants `op`.
    pub fn allows(&self, op: ScopeOp, channel: &str) -> bool {
        self.operations.contains(&op) && self.channels.iter().any(|c| c == channel)
    }

    /// True when the scope names `channel` (with any operation).
    pub fn names(&self, channel: &str) -> bool {
        !self.operations.is_empty() && self.channels.iter().any(|c| c == channel)
    }
}

/// One token of the signed-in user, as `GET /api/me/tokens` lists it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub label: String,
    /// RFC 3339.
    pub created_at: String,
    /// When the token was last presented, to the resolution of
    /// `accounts.token_last_used_resolution`; `null` when never since it was made.
    pub last_used_at: Option<String>,
    /// The token that made this request.
    pub current: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<TokenScope>,
}

/// `GET /api/me/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// `POST /api/bots`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBot {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A bot account (201 to `POST /api/bots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    pub id: i64,
    pub name: String,
    pub display_name: Option<String>,
    pub avatar: Option<String>,
    /// Always true.
    pub bot: bool,
}

/// `POST /api/bots/{id}/tokens`: a scoped token for a bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBotToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub channels: Vec<String>,
    pub operations: Vec<String>,
    /// A duration such as `"30d"` or `"12h"`; none: the token does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// A new token (201): the only time the token itself is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub token: String,
    pub id: i64,
    pub expires_at: Option<String>,
    pub scope: Option<TokenScope>,
}
