//! One serialized frame, shared by every connection it is sent to.

use std::sync::Arc;

use axum::extract::ws::Message;

/// One serialized frame, shared by every connection it is sent to. A thin pointer: each
/// connection's outbound queue allocates its first 32 slots up front, so the slot size is paid
/// by every idle connection (8 bytes here instead of 32 for the message itself). Text frames
/// carry the JSON protocol on `/ws`; binary ones the y-websocket protocol on `/docs`.
#[derive(Clone, Debug)]
pub struct Frame(Arc<Message>);

impl Frame {
    /// The text of a text frame ("" for a binary one).
    pub fn as_str(&self) -> &str {
        match &*self.0 {
            Message::Text(text) => text.as_str(),
            _ => "",
        }
    }

    /// Whether a batched connection may hold this frame until its window ends: events and
    /// `synced` may wait; `hello`, replies and errors are answers a client waits for, so they
    /// end the window at once (taking the events queued before them along, in order). The
    /// server's frames are serialized with their `type` tag first.
    pub fn may_wait(&self) -> bool {
        let text = self.as_str();
        text.starts_with(r#"{"type":"event""#) || text.starts_with(r#"{"type":"synced""#)
    }

    /// A binary frame.
    pub fn binary(bytes: Vec<u8>) -> Self {
        Self(Arc::new(Message::Binary(bytes.into())))
    }

    /// The WebSocket message carrying this frame (shares the bytes, copies nothing).
    pub fn message(&self) -> Message {
        (*self.0).clone()
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self(Arc::new(Message::Text(text.into())))
    }
}
