//! Stable error codes. Clients branch on the code, never on the message text.

use serde::{Deserialize, Serialize};

/// Every error Parley reports, on the WebSocket and over HTTP. The serialized names are stable:
/// new codes may be added, existing ones are never renamed or reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON.
    InvalidJson,
    /// The frame is JSON but not a well-formed request (missing or mistyped fields).
    InvalidRequest,
    /// The request `type` is not one this server knows.
    UnknownType,
    /// The operation needs an authenticated session.
    Unauthenticated,
    /// Wrong user name or password, or an unknown/revoked token.
    InvalidCredentials,
    /// The session is authenticated but may not do this.
    Forbidden,
    /// No such channel (or, for private channels one cannot see, the same answer as forbidden
    /// would leak existence, so private channels answer `forbidden` to outsiders instead).
    ChannelNotFound,
    /// A channel with this name exists already.
    ChannelExists,
    /// The channel name is not valid.
    InvalidChannelName,
    /// The channel has reached `max_participants`.
    ChannelFull,
    /// The connection has reached `channel_limit` subscriptions.
    ChannelLimit,
    /// Sending needs membership of the channel (join it first).
    NotMember,
    /// The operation needs a subscription to the channel.
    NotSubscribed,
    /// The message text is empty after trimming whitespace.
    MessageEmpty,
    /// The message text is longer than `max_message_length`.
    MessageTooLong,
    /// `client_id` is missing or not acceptable (1..=64 characters).
    InvalidClientId,
    /// Too many requests; retry after `retry_after_ms`.
    RateLimited,
    /// No such user.
    UserNotFound,
    /// A user with this name exists already.
    UserExists,
    /// The user name or password does not meet the rules.
    InvalidUser,
    /// Open registration is turned off on this server.
    RegistrationClosed,
    /// The server is at `max_connections`.
    ServerBusy,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// The browser origin is not in `allowed_origins`.
    OriginNotAllowed,
    /// Realtime is disabled on this server (`realtime.enabled = false`).
    RealtimeDisabled,
    /// The session is already authenticated.
    AlreadyAuthenticated,
    /// The server is shutting down.
    ShuttingDown,
    /// Something failed inside the server; the message says what, the log has details.
    Internal,
    /// No such document. (Outsiders of a private channel get `forbidden` for its documents.)
    DocNotFound,
    /// A document with this name exists already.
    DocExists,
    /// The document name is not valid.
    InvalidDocName,
    /// No such comment on this document.
    CommentNotFound,
    /// The comment is not acceptable (empty, too long, bad anchor, reply to a reply...).
    InvalidComment,
    /// No such named version of this document.
    VersionNotFound,
    /// No such message in this channel (or it was deleted).
    MessageNotFound,
    /// The emoji is not acceptable (empty, too long, or contains spaces or control characters).
    InvalidEmoji,
    /// The file is larger than `attachments.max_size`.
    AttachmentTooLarge,
    /// The upload would pass the user's `attachments.user_quota`.
    QuotaExceeded,
    /// No such attachment (or one this user may not download).
    AttachmentNotFound,
    /// A per-user limit on how many of something one may create or keep (channels, documents,
    /// direct messages, named versions...) is reached; the message names the setting.
    LimitReached,
    /// A search would take the server too long (e.g. a one-letter prefix over a large history);
    /// type more of it.
    QueryTooBroad,
    /// Another request is using the same upload session right now; retry after it ends.
    UploadConflict,
    /// The request's `Host` is not one this server answers to (`server.allowed_hosts`).
    HostNotAllowed,
    /// The client's address already holds as many connections as the server allows one address.
    TooManyConnections,
    /// The request's token is scoped (a bot's token) and this operation, or this channel, is
    /// outside its scope.
    TokenScope,
    /// No such live token of the signed-in user.
    TokenNotFound,
    /// Registration needs an invite, and this one is unknown, used up, expired or revoked.
    InvalidInvite,
    /// The account is disabled by a workspace admin: it cannot sign in.
    AccountDisabled,
    /// The password-reset code is unknown, used, expired, or not this user's.
    InvalidResetCode,
    /// The upload is not an image the server can decode (PNG, JPEG, GIF, WebP) within its bounds.
    InvalidImage,
    /// A custom event's name is not 1 to 64 of `a-z 0-9 _ . : -`.
    InvalidEvent,
    /// A custom event's data is larger than `realtime.max_event_size`.
    EventTooLarge,
    /// No webhook endpoint with that id.
    WebhookNotFound,
    /// `GET /api/analytics` on a server whose live analytics are off (`analytics.enabled`).
    AnalyticsDisabled,
    /// A webhook endpoint's URL, secret, event types or channel patterns are not usable.
    InvalidWebhook,
    /// `GET /` on a server whose web app was built without the browser build of the UI
    /// (`npm run build:web` in `ui/`), or whose `web.dir` holds no `index.html`.
    WebNotBuilt,
    /// A request signed in by the session cookie changes something (POST, PUT, PATCH, DELETE)
    /// without an `Origin` of this server (or of `server.cors_origins`): possible cross-site
    /// request forgery, refused.
    CsrfRejected,
}

impl ErrorCode {
    /// The stable wire name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidRequest => "invalid_request",
            Self::UnknownType => "unknown_type",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::ChannelNotFound => "channel_not_found",
            Self::ChannelExists => "channel_exists",
            Self::InvalidChannelName => "invalid_channel_name",
            Self::ChannelFull => "channel_full",
            Self::ChannelLimit => "channel_limit",
            Self::NotMember => "not_member",
            Self::NotSubscribed => "not_subscribed",
            Self::MessageEmpty => "message_empty",
            Self::MessageTooLong => "message_too_long",
            Self::InvalidClientId => "invalid_client_id",
            Self::RateLimited => "rate_limited",
            Self::UserNotFound => "user_not_found",
            Self::UserExists => "user_exists",
            Self::InvalidUser => "invalid_user",
            Self::RegistrationClosed => "registration_closed",
            Self::ServerBusy => "server_busy",
            Self::VersionMismatch => "version_mismatch",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::RealtimeDisabled => "realtime_disabled",
            Self::AlreadyAuthenticated => "already_authenticated",
            Self::ShuttingDown => "shutting_down",
            Self::Internal => "internal",
            Self::DocNotFound => "doc_not_found",
            Self::DocExists => "doc_exists",
            Self::InvalidDocName => "invalid_doc_name",
            Self::CommentNotFound => "comment_not_found",
            Self::InvalidComment => "invalid_comment",
            Self::VersionNotFound => "version_not_found",
            Self::MessageNotFound => "message_not_found",
            Self::InvalidEmoji => "invalid_emoji",
            Self::AttachmentTooLarge => "attachment_too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::AttachmentNotFound => "attachment_not_found",
            Self::LimitReached => "limit_reached",
            Self::QueryTooBroad => "query_too_broad",
            Self::UploadConflict => "upload_conflict",
            Self::HostNotAllowed => "host_not_allowed",
            Self::TooManyConnections => "too_many_connections",
            Self::TokenScope => "token_scope",
            Self::TokenNotFound => "token_not_found",
            Self::InvalidInvite => "invalid_invite",
            Self::AccountDisabled => "account_disabled",
            Self::InvalidResetCode => "invalid_reset_code",
            Self::InvalidImage => "invalid_image",
            Self::InvalidEvent => "invalid_event",
            Self::EventTooLarge => "event_too_large",
            Self::WebhookNotFound => "webhook_not_found",
            Self::AnalyticsDisabled => "analytics_disabled",
            Self::InvalidWebhook => "invalid_webhook",
            Self::WebNotBuilt => "web_not_built",
            Self::CsrfRejected => "csrf_rejected",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it travels: on the WebSocket inside an `error` frame, over HTTP as the JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: how long to wait before trying again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The id of the request this answers, when it could be read from the frame.
    #[serde(default, skip_serializing)]
    pub request_id: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
            request_id: None,
        }
    }

    pub fn rate_limited(retry_after_ms: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("too many requests; retry in {retry_after_ms} ms"),
            retry_after_ms: Some(retry_after_ms),
            request_id: None,
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}
