//! Chat: channels and their members, messages, reads, threads, search, the per-channel hubs
//! that fan events out, and the `/ws` session that serves the chat protocol.

pub mod channels;
pub mod hub;
mod membership;
mod reads;
mod search;
pub mod send;
mod service;
pub mod session;
mod threads;

pub use search::SearchQuery;
pub use send::validate_client_id;
pub use service::{ChannelListener, Chat};
