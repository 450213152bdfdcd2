//! Storage: the store traits, one per area (`traits.rs`), and their implementations: SQLite
//! (`sqlite/`, the server's store, where all SQL lives) and in memory (`memory/`). One
//! conformance suite (`conformance/`) states the traits' contract as tests and runs against
//! both. The rest of the server reaches storage only through [`Stores`].
//!
//! Writes commit before they are acknowledged, and the durable events they produce reach the
//! [`Publisher`] after the commit, in commit order, each with the seq its channel gave it inside
//! the write's transaction.

mod admin;
mod claims;
mod frames;
pub mod limits;
pub mod memory;
mod people;
pub mod pg;
mod queued;
mod records;
mod refusals;
mod sqlite;
mod traits;
mod webhook_records;

#[cfg(test)]
mod conformance;

use std::sync::Arc;

pub use people::*;
pub use records::*;
pub use traits::*;
pub use webhook_records::*;

pub use admin::AdminStore;
pub use sqlite::{backup, open, SqliteStore};

/// Called after each commit, for every durable event in commit order, on a thread of the
/// store's own (never an async worker), before the write is acknowledged.
pub type Publisher = Arc<dyn Fn(Published) + Send + Sync>;

/// One store, seen per area: what the server holds. Every field is the same implementation.
#[derive(Clone)]
pub struct Stores {
    pub events: Arc<dyn EventStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub messages: Arc<dyn MessageStore>,
    pub reactions: Arc<dyn ReactionStore>,
    pub reads: Arc<dyn ReadStore>,
    pub threads: Arc<dyn ThreadStore>,
    pub search: Arc<dyn SearchStore>,
    pub attachments: Arc<dyn AttachmentStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub documents: Arc<dyn DocumentStore>,
    pub comments: Arc<dyn CommentStore>,
    pub people: Arc<dyn PeopleStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub control: Arc<dyn StoreControl>,
    /// Attachment contents kept in the database (PostgreSQL; None: files, `attachments/`).
    pub contents: Option<Arc<dyn ContentStore>>,
    /// Upload sessions kept in the database (PostgreSQL; None: in this node's memory).
    pub upload_sessions: Option<Arc<dyn UploadSessionStore>>,
}

impl Stores {
    pub fn new<B: Backend>(backend: Arc<B>) -> Self {
        Self {
            events: backend.clone(),
            channels: backend.clone(),
            messages: backend.clone(),
            reactions: backend.clone(),
            reads: backend.clone(),
            threads: backend.clone(),
            search: backend.clone(),
            attachments: backend.clone(),
            accounts: backend.clone(),
            tokens: backend.clone(),
            documents: backend.clone(),
            comments: backend.clone(),
            people: backend.clone(),
            webhooks: backend.clone(),
            control: backend,
            contents: None,
            upload_sessions: None,
        }
    }

    /// With upload sessions kept by `sessions`.
    pub fn with_upload_sessions(mut self, sessions: Arc<dyn UploadSessionStore>) -> Self {
        self.upload_sessions = Some(sessions);
        self
    }

    /// With attachment contents kept by `contents`.
    pub fn with_contents(mut self, contents: Arc<dyn ContentStore>) -> Self {
        self.contents = Some(contents);
        self
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 with milliseconds, UTC.
pub fn format_ts(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}
