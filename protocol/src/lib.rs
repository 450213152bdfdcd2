//! Parley's wire protocol: every frame that crosses `/ws`, as plain serde types.
//!
//! This crate does no IO and knows nothing of tokio, so the server, the client core, the desktop
//! app and third-party tools can all share it. Frames are JSON text: client → server frames are
//! [`Request`]s (an `id` plus an operation tagged by `type`); server → client frames are
//! [`ServerFrame`]s. docs/protocol.md describes the same thing for people.
//!
//! Compatibility rules: add variants and optional fields; never reuse a retired tag or error code.

mod error;
mod event;
mod reply;
mod request;

pub use error::{ErrorBody, ErrorCode};
pub use event::{Event, EventFrame, Message, PresenceEntry, PresenceState, UserRef};
pub use reply::{
    ChannelInfo, Hello, HistoryPage, Limits, Reply, ResetReason, SendResult, ServerFrame,
    SubscribeResult, Synced,
};
pub use request::{Authentication, ChannelSettings, ChannelType, Op, Request};

/// The protocol version. A client states the version it speaks at the upgrade (`?v=` query or the
/// `Parley-Protocol` header); a mismatch is refused with HTTP 426 before any frame is exchanged.
pub const PROTOCOL_VERSION: u32 = 1;

/// The header a client may use to state its protocol version at the upgrade.
pub const PROTOCOL_HEADER: &str = "parley-protocol";

/// WebSocket close codes Parley uses besides the standard ones (1000 normal, 1001 going away,
/// 1007 invalid payload, 1008 policy violation, 1009 message too big, 1011 internal error).
pub mod close_code {
    /// The connection fell too far behind (its outbound queue filled up). Reconnect and resume
    /// every channel with `since`: nothing durable was lost.
    pub const RESYNC: u16 = 4000;
    /// No pong arrived within `pong_timeout`.
    pub const PONG_TIMEOUT: u16 = 4001;
    /// The session's token was revoked (logout elsewhere, or an admin revoked it).
    pub const TOKEN_REVOKED: u16 = 4002;
    /// The first frame was not `auth` within the allowed time, or authentication failed.
    pub const AUTH_FAILED: u16 = 4003;
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
    #[derive(serde::Deserialize)]
    struct Probe {
        id: Option<u64>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let probe = match serde_json::from_str::<serde_json::Value>(text) {
        Err(_) => {
            return ErrorBody::new(
                ErrorCode::InvalidJson,
                format!("frame is not valid JSON: {err}"),
            )
        }
        Ok(value) => {
            if !value.is_object() {
                return ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    "a request must be a JSON object",
                );
            }
            serde_json::from_value::<Probe>(value).unwrap_or(Probe {
                id: None,
                kind: None,
            })
        }
    };
    let mut body = match probe.kind.as_deref() {
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
    body.request_id = probe.id;
    body
}

#[cfg(test)]
mod tests;
