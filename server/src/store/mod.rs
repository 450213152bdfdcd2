//! Storage: the store traits, one per area (`traits.rs`), and their implementations: SQLite
//! (`sqlite/`, the server's store, where all SQL lives) and in memory (`memory/`). One
//! conformance suite (`conformance/`) states the traits' contract as tests and runs against
//! both. The rest of the server reaches storage only through [`Stores`].
//!
//! Writes commit before they are acknowledged, and the durable events they produce reach the
//! [`Publisher`] after the commit, in commit order, each with the seq its channel gave it inside
//! the write's transaction.

mod frames;
pub mod limits;
pub mod memory;
mod records;
mod refusals;
pub mod sqlite;
mod traits;

#[cfg(test)]
mod conformance;

use std::sync::Arc;

pub use records::*;
pub use traits::*;

pub use sqlite::{admin::AdminStore, open, open_admin, SqliteStore, WriterState};

/// The SQLite store under the name the rest of the server knew it by.
pub type Store = SqliteStore;

/// Called after each commit, for every durable event in commit order, on a thread of the
/// store's own (never an async worker), before the write is acknowledged.
pub type Publisher = Arc<dyn Fn(Published) + Send + Sync>;

/// A write (SQLite): runs inside a savepoint of the current batch transaction.
pub type WriteFn<T> = Box<
    dyn FnOnce(&rusqlite::Connection, &mut WriterState) -> crate::Result<(T, Vec<Published>)>
        + Send,
>;

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
    pub documents: Arc<dyn DocumentStore>,
    pub comments: Arc<dyn CommentStore>,
    pub control: Arc<dyn StoreControl>,
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
            documents: backend.clone(),
            comments: backend.clone(),
            control: backend,
        }
    }
}

// The SQL functions, under the names the server's callers use until they move to the traits.
pub use sqlite::attachments::{
    attachment, attachment_channels, attachment_contents, attachments_of, forget_missing_content,
    insert_attachment, thumbnail_of, thumbnail_of_content, uploaded_bytes, NewAttachment,
};
pub use sqlite::channels::{
    add_member as member_add, all as channels_all, all_members as members_all,
    by_id as channel_by_id, by_name as channel_by_name, delete as channel_delete,
    insert as channel_insert, instances as channel_instances, member_count,
    members_of as channel_members, names as channel_names, remove_member as member_remove,
    update_settings as channel_update_settings,
};
pub use sqlite::heads::{head_seq as channel_head, pruned_through as channel_pruned_through};
pub use sqlite::message_rows::{message_in, reactions_of, thread_summary};
pub use sqlite::messages::{
    append_event, append_message, count_events_between, delete_message, edit_message,
    events_between, history, prune, NewMessage,
};
pub use sqlite::reactions::{react, Reacting};
pub use sqlite::reads::{
    mark_read, mention_event, mentions_of, read_receipts_on, read_state, set_mute,
    set_read_receipts, unread_counts,
};
pub use sqlite::search::{index_pending, search as search_messages, SearchFilter};
pub use sqlite::threads::{open_thread, thread_reply};
pub use sqlite::users::{
    display_names, fill_name_keys, insert_token, insert_user, revoke_token_hash,
    revoke_user_tokens, revoked_among, set_display_name, token_by_hash, user_by_id, user_by_name,
    user_named_like, user_with_password,
};
pub use sqlite::{docs, redact};

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
