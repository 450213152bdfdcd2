//! Parley's wire protocol: every frame that crosses `/ws`, as plain serde types.
//!
//! This crate does no IO and knows nothing of tokio, so the server, the client core, the desktop
//! app and third-party tools can all share it. Frames are JSON text: client → server frames are
//! [`Request`]s (an `id` plus an operation tagged by `type`); server → client frames are
//! [`ServerFrame`]s. docs/protocol.md describes the same thing for people.
//!
//! Each request is paired with the type of its reply in [`rpc`]; the bodies of the HTTP API
//! under `/api` are in [`api`]; the rules for names people type are in [`names`].
//!
//! Compatibility rules: add variants and optional fields; never reuse a retired tag or error code.

pub mod api;
mod doc;
mod error;
mod event;
pub mod names;
mod reply;
mod request;
pub mod rpc;

pub use doc::{Comment, CommentAnchor, DocInfo, DocRole, VersionInfo};
pub use error::{ErrorBody, ErrorCode};
pub use event::{
    Attachment, Event, EventFrame, Message, PresenceEntry, PresenceState, ReactionChange,
    ReactionCount, ThreadSummary, UserRef,
};
pub use reply::{
    ChannelInfo, ChannelMember, Hello, HistoryPage, Limits, PublishResult, ReadState, Reply,
    ResetReason, SearchHit, SendResult, ServerFrame, SubscribeResult, Synced,
};
pub use request::{Authentication, ChannelSettings, ChannelType, Op, PublishPolicy, Request};

/// The protocol version. A client states the version it speaks at the upgrade (`?v=` query or the
/// `Parley-Protocol` header); a mismatch is refused with HTTP 426 before any frame is exchanged.
pub const PROTOCOL_VERSION: u32 = 1;

/// The header a client may use to state its protocol version at the upgrade.
pub const PROTOCOL_HEADER: &str = "parley-protocol";

/// `/docs/{name}` upgrades: the response header that tells the client which document (its `id`)
/// the connection opened, so it can bind its replica to that identity.
pub const DOC_ID_HEADER: &str = "parley-doc-id";

/// `/docs/{name}?doc_id=N`: the query parameter with which a client states which document it
/// expects under that name. The server then never creates a document for the connection and
/// refuses it (404 `doc_not_found`) unless `name` is document `N`'s current name.
pub const DOC_ID_PARAM: &str = "doc_id";

/// WebSocket close codes Parley uses besides the standard ones (1000 normal, 1001 server going
/// away, 1002 protocol error, 1007 text frame not UTF-8, 1009 frame too big, 1011 internal error).
pub mod close_code {
    /// The connection fell too far behind (its outbound queue filled up). Reconnect and resume
    /// every channel with `since`: nothing durable was lost.
    pub const RESYNC: u16 = 4000;
    /// No pong arrived within `pong_timeout`.
    pub const PONG_TIMEOUT: u16 = 4001;
    /// The session's token was revoked (logout elsewhere, or an admin revoked it).
    pub const TOKEN_REVOKED: u16 = 4002;
    /// A connection without a token said nothing within `handshake_timeout`.
    pub const HANDSHAKE_TIMEOUT: u16 = 4003;
    /// `/docs`: the update would make the document larger than `documents.max_document_size`.
    pub const DOC_TOO_LARGE: u16 = 4004;
    /// `/docs`: the document was deleted.
    pub const DOC_DELETED: u16 = 4005;
    /// `/docs`: the frame is not a valid y-websocket message or carries an update that cannot be
    /// decoded or applied. The document and the other clients are not affected (should yrs ever
    /// panic while applying one, everyone is closed with 1011 and the document reloads).
    pub const DOC_INVALID_FRAME: u16 = 4006;
    /// `/docs`: the user's access to the document changed (a role was granted or removed, the
    /// default role changed, they left the document's channel, or the document was renamed).
    /// Reconnecting applies the new role, or is refused.
    pub const DOC_ACCESS_CHANGED: u16 = 4007;
    /// `/docs`: another node of the cluster serves the document now (this one lost its hold
    /// on it). Reconnect at once: nothing committed was lost, and the sync on the new
    /// connection sends back whatever this one had not confirmed.
    pub const DOC_MOVED: u16 = 4008;
}

/// The full-text query (SQLite FTS5) for what a person typed: every word must appear, the last
/// one may be the start of a word (results while typing). Words are split where the index
/// splits them (`e-mail` → `e` `mail`), and nothing of FTS5's own syntax gets through. None when
/// there is no word. Shared by the server's search and the client cache's.
pub fn search_terms(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let (last, rest) = words.split_last()?;
    let mut terms: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    terms.push(format!("\"{last}\"*"));
    Some(terms.join(" "))
}

/// Decodes one server text frame into the frames it carries: one, or on a batched connection
/// (`batch_ms` at connect) the JSON array of them, in order.
pub fn decode_server_frames(text: &str) -> serde_json::Result<Vec<ServerFrame>> {
    if text.trim_start().starts_with('[') {
        serde_json::from_str(text)
    } else {
        serde_json::from_str(text).map(|frame| vec![frame])
    }
}

/// Decodes one client text frame. Kept here (pure, no IO) so the fuzz target and the server
/// decode frames the same way.
pub fn decode_request(text: &str) -> Result<Request, ErrorBody> {
    match serde_json::from_str::<Request>(text) {
        Ok(req) => Ok(req),
        Err(err) => Err(classify_decode_error(text, &err)),
    }
}

/// Turns a serde failure into a stable error: `invalid_json` when the text is not JSON at all,
/// `unknown_type` when the `type` is not one we know, `invalid_request` otherwise. The request id
/// is recovered when possible so the client can match the error to its request.
fn classify_decode_error(text: &str, err: &serde_json::Error) -> ErrorBody {
    let value = match serde_json::from_str::<serde_json::Value>(text) {
        Err(_) => {
            return ErrorBody::new(
                ErrorCode::InvalidJson,
                format!("frame is not valid JSON: {err}"),
            )
        }
        Ok(value) => value,
    };
    let Some(object) = value.as_object() else {
        return ErrorBody::new(ErrorCode::InvalidRequest, "a request must be a JSON object");
    };
    let id = object.get("id").and_then(serde_json::Value::as_u64);
    let kind = object.get("type").and_then(serde_json::Value::as_str);
    let mut body = match kind {
        None => ErrorBody::new(ErrorCode::InvalidRequest, "missing string field `type`"),
        Some(kind) if !Op::is_known_type(kind) => ErrorBody::new(
            ErrorCode::UnknownType,
            format!("unknown request type `{kind}`"),
        ),
        Some(_) => ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("malformed request: {err}"),
        ),
    };
    if id.is_none() && object.contains_key("id") {
        body = ErrorBody::new(
            ErrorCode::InvalidRequest,
            "`id` must be a non-negative integer",
        );
    }
    body.request_id = id;
    body
}

#[cfg(test)]
mod tests;
