//! Chat: channels and their members, messages, reads, threads, search, the per-channel hubs
//! that fan events out, and the `/ws` session that serves the chat protocol.

pub mod channels;
mod dedup;
pub mod hub;
mod membership;
mod publish;
mod reads;
mod remote;
mod search;
pub mod send;
mod service;
pub mod session;
mod threads;

pub use publish::{validate_event_name, Publish};
pub use search::SearchQuery;
pub use send::validate_client_id;
pub use service::{ChannelListener, Chat};
