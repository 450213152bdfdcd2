//! Outbound webhooks (Standard Webhooks), managed by workspace admins: `GET|POST
//! /api/webhooks`, `DELETE /api/webhooks/{id}`, `POST /api/webhooks/{id}/replay`. Endpoints
//! declared in the configuration's `[[webhooks]]` are listed too (`source: "config"`) and are
//! changed only there.

use serde::{Deserialize, Serialize};

/// An endpoint as admins see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebhookInfo {
    pub id: i64,
    pub url: String,
    /// Event types (`message.created`, `custom.*`, `*`...).
    pub events: Vec<String>,
    /// Channel name patterns (`team:*`); empty: every channel.
    pub channels: Vec<String>,
    /// `config` (from `[[webhooks]]`) or `api`.
    pub source: String,
    /// Set when the endpoint answered 410 Gone: nothing more is sent to it.
    pub disabled: bool,
    /// Deliveries waiting (or retrying).
    pub pending: u64,
    /// Deliveries that ran out of retries (`replay` sends them again).
    pub dead: u64,
    /// Why the last delivery attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// `POST /api/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// `whsec_` and base64 of 24 to 64 bytes; made by the server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The answer to `POST /api/webhooks` (201): the endpoint and its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebhookCreated {
    pub webhook: WebhookInfo,
    pub secret: String,
}

/// `GET /api/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebhookList {
    pub webhooks: Vec<WebhookInfo>,
}

/// The answer to `POST /api/webhooks/{id}/replay`: how many dead deliveries were queued again
/// (a disabled endpoint is enabled again by a replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebhookReplayed {
    pub requeued: u64,
}

/// `POST /api/hooks` (admins): an inbound hook that posts to `channel` as the bot `bot`
/// (a bot account's id, `POST /api/bots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    pub channel: String,
    pub bot: i64,
}

/// The answer to `POST /api/hooks` (201): the hook's path (its secret in it), shown this once.
/// Revoking the hook is revoking the bot's token `id` (or disabling the bot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HookCreated {
    pub id: i64,
    pub channel: String,
    /// `/hooks/{id}/{secret}`: POST `{"text": "..."}` to it, as to a Slack incoming webhook.
    pub path: String,
}
